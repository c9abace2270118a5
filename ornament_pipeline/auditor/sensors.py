"""Sensors: one turns the change stream into alerts, one delivers them; each tick is short and bounded.

Neither keeps its position in the Dagster cursor: the stream cursor and the delivery state live in Postgres,
moved in the same transactions as the alerts and deliveries, so a daemon restart (or a second runner such as
`ornaments watch run`) can neither lose nor repeat anything. The Dagster cursor only mirrors the position.
"""

import dagster as dg

from ornament_pipeline.auditor.alerts import raise_alerts
from ornament_pipeline.auditor.delivery import channels_for, deliver_due
from ornament_pipeline.auditor.resources import AuditorResource
from ornament_pipeline.pipeline.resources import WarehouseResource

# Per tick at most this many batches of events (5000 each), so a backlog is worked off over several ticks.
MAX_BATCHES_PER_TICK = 20


@dg.sensor(minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Reads new change events by cursor and raises alerts for watches (set-based, one "
                       "transaction per batch together with the cursor).")
def auditor_alerts(context: dg.SensorEvaluationContext, warehouse: WarehouseResource,
                   auditor: AuditorResource) -> dg.SkipReason:
    result = raise_alerts(warehouse.engine(), channels_for(auditor.webhook()), max_batches=MAX_BATCHES_PER_TICK)
    if result.cursor:
        context.update_cursor(result.cursor)
    kinds = ", ".join(f"{kind}={n}" for kind, n in sorted(result.alerts.items())) or "none"
    return dg.SkipReason(f"read {result.events} change event(s); raised {result.alert_count} alert(s) ({kinds});"
                         f" stream position {result.cursor}")


@dg.sensor(minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Delivers due alerts (webhook and log); failures are rescheduled with backoff in Postgres, "
                       "never waited for.")
def auditor_deliveries(context: dg.SensorEvaluationContext, warehouse: WarehouseResource,
                       auditor: AuditorResource) -> dg.SkipReason:
    report = deliver_due(warehouse.engine(), auditor.webhook(), auditor.policy(),
                         budget_seconds=auditor.delivery_budget_seconds, workers=auditor.delivery_workers)
    for error in report.errors[:3]:
        context.log.warning("delivery failed: %s", error)
    return dg.SkipReason(f"delivered {report.delivered}; {report.failed_attempts} failed attempt(s) rescheduled;"
                         f" {report.gave_up} given up")
