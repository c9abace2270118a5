"""Replica days through the real assets (headless Chromium), the auditor's sensors and delivery run to a webhook."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import dagster as dg
import pytest
from sqlalchemy import Engine

from ornament_pipeline.auditor.jobs import deliver_alerts
from ornament_pipeline.auditor.resources import AuditorResource
from ornament_pipeline.auditor.sensors import auditor_alerts, auditor_deliveries
from ornament_pipeline.auditor.watches import add_watch
from ornament_pipeline.pipeline.assets import SYNC_ASSETS
from ornament_pipeline.pipeline.partitions import partition_key
from ornament_pipeline.pipeline.resources import ScraperResource, SettingsResource, WarehouseResource
from ornament_pipeline.replica.testing import running_replica
from ornament_pipeline_tests.auditor.conftest import SECRET, rows
from ornament_pipeline_tests.auditor.receiver import Receiver
from ornament_pipeline_tests.auditor.test_replica_days import Oracle
from ornament_pipeline_tests.conftest import pipeline_instance
from ornament_pipeline_tests.pipeline.conftest import write_config

pytestmark = pytest.mark.browser

PARTITIONS = [("ornament_shop_com", 2020), ("hallmark_ornaments_com", 2020)]   # two vendors: all-time lows
DAYS = (0, 50)


def test_scraped_days_raise_the_expected_alerts_through_the_sensors(
        tmp_path: Path, migrated_db_url: str, engine: Engine, receiver: Receiver) -> None:
    with running_replica(size="small", day=DAYS[0]) as replica:
        settings = SettingsResource(config_path=str(write_config(tmp_path / "c.json", replica, migrated_db_url)))
        resources = {"settings": settings, "warehouse": WarehouseResource(settings=settings),
                     "scraper": ScraperResource(settings=settings)}
        auditor = {"warehouse": resources["warehouse"],
                   "auditor": AuditorResource(webhook_url=receiver.url, webhook_secret=SECRET)}
        items = sorted({x.item_number for v, y in PARTITIONS for x in replica.truth(v, y) if x.item_number})
        for item in items:
            add_watch(engine, item)
        oracle, last_event_of_day, instance = Oracle(set(items)), {}, pipeline_instance()
        for day in DAYS:
            replica.set_day(day)
            for vendor, year in PARTITIONS:
                result = dg.materialize(SYNC_ASSETS, resources=resources,
                                        partition_key=partition_key(vendor, year), instance=instance)
                assert result.success, (day, vendor)
                oracle.partition(day, vendor, year, replica.truth(vendor, year))
            last_event_of_day[day] = rows(engine, "SELECT max(id) FROM change_events")[0][0]
            with dg.build_sensor_context(resources=auditor) as context:
                assert "raised" in auditor_alerts(context).skip_message
            with dg.build_sensor_context(resources=auditor, instance=instance) as context:
                assert isinstance(auditor_deliveries(context), dg.RunRequest)
            delivered = deliver_alerts.execute_in_process(resources=auditor, instance=instance)
            assert delivered.output_for_node("deliver_due_alerts")["failed_attempts"] == 0

    def day_of(event_id: int) -> int:
        return next(day for day in DAYS if event_id <= last_event_of_day[day])

    events = Counter((vendor, vid, day_of(eid), kind) for vendor, vid, eid, kind in rows(
        engine, "SELECT p.vendor, p.vendor_id, e.id, e.kind FROM change_events e JOIN products p"
                " ON p.id = e.product_id"))
    assert events == oracle.events
    alerts = Counter((vendor, vid, day_of(eid), kind) for vendor, vid, eid, kind in rows(
        engine, "SELECT p.vendor, p.vendor_id, a.event_id, a.kind FROM alerts a JOIN products p"
                " ON p.id = a.product_id"))
    assert alerts == oracle.alerts and sum(alerts.values()) > len(items)
    keys = [key for (key,) in rows(engine, "SELECT idempotency_key FROM alerts")]
    assert Counter(receiver.keys("accepted")) == Counter(keys)
