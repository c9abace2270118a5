"""Sensors: one turns the change stream into alerts, one requests a delivery run; each tick is short and bounded.

Neither keeps its position in the Dagster cursor: the stream cursor and the delivery state live in Postgres,
moved in the same transactions as the alerts and deliveries, so a daemon restart (or a second runner such as
`ornaments watch run`) can neither lose nor repeat anything. The Dagster cursor only mirrors the position.
Raising alerts is set-based SQL and stays in the tick; sending them waits on receivers, so it is a run's work.
"""

import dagster as dg

from ornament_pipeline.auditor.alerts import raise_alerts
from ornament_pipeline.auditor.delivery import channels_for, next_due_in
from ornament_pipeline.auditor.jobs import JOB_NAME as DELIVERY_JOB
from ornament_pipeline.auditor.jobs import deliver_alerts
from ornament_pipeline.auditor.resources import AuditorResource
from ornament_pipeline.pipeline.resources import WarehouseResource
from ornament_pipeline.pipeline.sensors import in_flight_run

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


@dg.sensor(job=deliver_alerts, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Requests a deliver_alerts run when a delivery is due and none is running; sends nothing "
                       "itself.")
def auditor_deliveries(context: dg.SensorEvaluationContext,
                       warehouse: WarehouseResource) -> dg.RunRequest | dg.SkipReason:
    due = next_due_in(warehouse.engine())
    if due is None:
        return dg.SkipReason("no delivery pending")
    if due > 0:
        return dg.SkipReason(f"next delivery due in {due:.0f} s")
    running = in_flight_run(context.instance, DELIVERY_JOB)
    if running is not None:
        return dg.SkipReason(f"deliveries due; run {running.dagster_run.run_id} is "
                             f"{running.dagster_run.status.value}")
    context.log.info("deliveries due: requesting a %s run", DELIVERY_JOB)
    # No run key: the in-flight check keeps it to one delivery run at a time, and each is wanted.
    return dg.RunRequest()
