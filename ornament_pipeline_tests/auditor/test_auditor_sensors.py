"""The auditor's Dagster sensors: alerts are raised in the tick (SQL), deliveries are sent by a run, never a tick."""

import threading
import time

import dagster as dg
from sqlalchemy import Engine

from ornament_pipeline.auditor.jobs import deliver_alerts
from ornament_pipeline.auditor.resources import AuditorResource
from ornament_pipeline.auditor.sensors import auditor_alerts, auditor_deliveries
from ornament_pipeline.auditor.watches import add_watch
from ornament_pipeline.pipeline.resources import SettingsResource, WarehouseResource
from ornament_pipeline_tests.auditor.conftest import SECRET, SHOP, T0, listing, rows, sync
from ornament_pipeline_tests.auditor.receiver import Receiver
from ornament_pipeline_tests.conftest import pipeline_instance


def test_delivery_sensor_requests_a_run_and_sends_nothing_itself(migrated_db_url: str, engine: Engine,
                                                                  receiver: Receiver) -> None:
    """Old behaviour: the tick POSTed to the webhook itself (for up to 20 s plus a webhook deadline)."""
    add_watch(engine, "QX6001", kinds="new_listing", label="mine")
    sync(engine, SHOP, [listing(1, price="19.50")], T0)
    warehouse = WarehouseResource(settings=SettingsResource(), database_url=migrated_db_url)
    resources = {"warehouse": warehouse,
                 "auditor": AuditorResource(webhook_url=receiver.url, webhook_secret=SECRET, timeout_seconds=2)}
    instance = pipeline_instance()
    receiver.hold = threading.Event()   # a receiver that never answers: a tick that sent would hang here

    def tick(sensor: dg.SensorDefinition) -> dg.RunRequest | dg.SkipReason:
        with dg.build_sensor_context(instance=instance, resources=resources) as context:
            started = time.monotonic()
            result = sensor(context)
            assert time.monotonic() - started < 1
        return result

    assert "no delivery pending" in tick(auditor_deliveries).skip_message
    assert "raised 1 alert(s)" in tick(auditor_alerts).skip_message
    assert "raised 0 alert(s)" in tick(auditor_alerts).skip_message   # raised once, however often it ticks
    request = tick(auditor_deliveries)
    assert isinstance(request, dg.RunRequest)
    assert receiver.received == []   # the tick sent nothing
    assert rows(engine, "SELECT channel, status FROM alert_deliveries ORDER BY channel") == [
        ("log", "pending"), ("webhook", "pending")]

    # While a delivery run is queued or running, no second one is requested.
    running = instance.create_run_for_job(deliver_alerts, status=dg.DagsterRunStatus.STARTED)
    assert f"run {running.run_id} is STARTED" in tick(auditor_deliveries).skip_message
    instance.report_run_failed(running)

    receiver.hold = None
    result = deliver_alerts.execute_in_process(instance=instance, resources=resources)
    assert result.output_for_node("deliver_due_alerts") == {"delivered": 2, "failed_attempts": 0, "gave_up": 0}
    assert len(receiver.accepted) == 1
    assert "no delivery pending" in tick(auditor_deliveries).skip_message
