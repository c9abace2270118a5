"""`deliver_alerts`: a short run that delivers the due alerts (webhook and log), requested by a sensor.

Delivery waits on receivers, so it is run work, not sensor-tick work (Dagster ends a tick after 60 s)."""

import dagster as dg

from ornament_pipeline.auditor.delivery import deliver_due
from ornament_pipeline.auditor.resources import AuditorResource
from ornament_pipeline.pipeline.resources import WarehouseResource

JOB_NAME = "deliver_alerts"


@dg.op(description="Delivers due alerts with a few threads for at most the resource's budget; failures are "
                   "rescheduled with backoff in Postgres, never waited for.")
def deliver_due_alerts(context: dg.OpExecutionContext, warehouse: WarehouseResource,
                       auditor: AuditorResource) -> dict[str, int]:
    report = deliver_due(warehouse.engine(), auditor.webhook(), auditor.policy(),
                         budget_seconds=auditor.delivery_budget_seconds, workers=auditor.delivery_workers)
    for error in report.errors[:3]:
        context.log.warning("delivery failed: %s", error)
    context.log.info("delivered %d; %d failed attempt(s) rescheduled; %d given up", report.delivered,
                     report.failed_attempts, report.gave_up)
    return {"delivered": report.delivered, "failed_attempts": report.failed_attempts, "gave_up": report.gave_up}


@dg.job(name=JOB_NAME, description="Delivers the alerts that are due (requested by the auditor_deliveries sensor).")
def deliver_alerts() -> None:
    deliver_due_alerts()
