"""The record stays true through faults and kills, judged against the replica's truth (real browser, Postgres)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
import redis
from sqlalchemy import create_engine, text

from ornament_pipeline.auditor.alerts import raise_alerts
from ornament_pipeline.db.engine import sqlalchemy_url
from ornament_pipeline.integrations.year_links_cache import cache_key
from ornament_pipeline.pipeline.resources import ScraperResource, SettingsResource, WarehouseResource
from ornament_pipeline.replica.testing import ReplicaHandle
from ornament_pipeline_tests.conftest import pipeline_instance
from ornament_pipeline_tests.pipeline.conftest import write_config
from ornament_pipeline_tests.pipeline.test_crash_safety import SNAPSHOT_STATEMENT, wait_for_blocked
from ornament_pipeline_tests.pipeline.test_partitions import materialize, materialized, stored, truth

pytestmark = pytest.mark.browser
SHOP, HOH = "ornament_shop_com", "hookedonhallmark_com"


def rows(url: str, sql: str, **params: object) -> list[tuple]:
    with create_engine(sqlalchemy_url(url)).connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql), params)]


def checks(result: dg.ExecuteInJobResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {c.check_name: c for c in result.get_asset_check_evaluations()}


def test_identity_learned_later_reaches_history_the_stream_and_alerts_once(
        replica: ReplicaHandle, resources: dict, migrated_db_url: str) -> None:
    """Product pages fail on the first run (no price on them): the first-seen listings are not stored without SKU,
    item number and condition, but held back and named. Once the pages read, every current version carries the
    identity, and a watch on an item number raises its new-listing alert exactly once."""
    expected = truth(replica, SHOP, 2020)
    item = next(row[3] for row in expected.values() if row[3])
    engine = create_engine(sqlalchemy_url(migrated_db_url))
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO watches (item_number, kinds) VALUES (:item, ARRAY['new_listing'])"),
                     {"item": item})
    instance = pipeline_instance()
    replica.set_faults(f"{SHOP}:noprice=1")
    first = materialize(resources, SHOP, 2020, instance)
    assert first.success
    assert rows(migrated_db_url, "SELECT count(*) FROM products WHERE item_number IS NOT NULL") == [(0,)]
    raise_alerts(engine, ["log"])

    replica.set_faults("")
    second = materialize(resources, SHOP, 2020, instance)
    assert second.success
    assert stored(migrated_db_url, SHOP, 2020) == expected
    disagreeing = rows(migrated_db_url, """
        SELECT p.vendor_id FROM products p JOIN price_history h ON h.product_id = p.id AND h.valid_to IS NULL
        WHERE (h.sku, h.item_number, h.condition, h.price, h.availability)
              IS DISTINCT FROM (p.sku, p.item_number, p.condition, p.price, p.availability)""")
    assert disagreeing == []
    raise_alerts(engine, ["log"])
    materialize(resources, SHOP, 2020, instance)
    raise_alerts(engine, ["log"])
    alerts = rows(migrated_db_url, "SELECT a.kind, p.item_number FROM alerts a JOIN products p ON p.id = a.product_id")
    listings_of_item = sum(1 for row in expected.values() if row[3] == item)
    assert alerts == [("new_listing", item)] * listings_of_item

    first_checks, second_checks = checks(first), checks(second)
    assert not first_checks["scrape_complete"].passed  # the unread product pages are named there
    assert first_checks["scrape_complete"].metadata["failed_pages"].value == len(expected)
    held = materialized(first, "vendor_listings").metadata["held_back_without_product_page"]
    assert held.value == len(expected)
    assert rows(migrated_db_url, "SELECT count(*) FROM scrape_rejects WHERE kind = 'unidentified'") == [
        (len(expected),)]
    assert second_checks["product_pages_read"].passed and second_checks["current_version_matches_products"].passed
    assert rows(migrated_db_url, "SELECT kind, count(*) FROM change_events GROUP BY kind ORDER BY kind") == [
        ("new", len(expected))]
    assert rows(migrated_db_url, "SELECT count(*) FROM change_events WHERE new_values->>'item_number' IS NULL"
                ) == [(sum(1 for row in expected.values() if not row[3]),)]


def state_by_day(replica: ReplicaHandle, days: list[int]) -> dict[str, list[tuple]]:
    """Each listing's (price, availability) over the given days, consecutive repeats dropped."""
    sequences: dict[str, list[tuple]] = {}
    for day in days:
        replica.set_day(day)
        for vendor_id, row in truth(replica, HOH, 2020).items():
            state = (row[6], row[7])
            seq = sequences.setdefault(vendor_id, [])
            if not seq or seq[-1] != state:
                seq.append(state)
    return sequences


def test_a_run_killed_inside_the_merge_loses_no_observation(replica: ReplicaHandle, resources: dict,
                                                            pipeline_config: Path, migrated_db_url: str,
                                                            tmp_path: Path) -> None:
    """Day 2 is scraped and its run killed while the history is written; the site moves to day 4 before the rerun.
    The history must hold day 2's prices and stock too, as an uninterrupted run on each day would."""
    expected = state_by_day(replica, [0, 2, 4])
    assert any(len(seq) == 3 for seq in expected.values()), "the replica should move something on both days"
    replica.set_day(0)
    day0 = truth(replica, HOH, 2020)
    instance = pipeline_instance()
    assert materialize(resources, HOH, 2020, instance).success

    replica.set_day(2)
    day2 = truth(replica, HOH, 2020)
    changed = sorted(vid for vid in day0.keys() & day2.keys() if day0[vid][6:8] != day2[vid][6:8])
    engine = create_engine(sqlalchemy_url(migrated_db_url))
    blocker = engine.connect()
    transaction = blocker.begin()
    blocker.execute(text("SELECT h.id FROM price_history h JOIN products p ON p.id = h.product_id"
                         " WHERE p.vendor = :v AND p.vendor_id = :vid AND h.valid_to IS NULL FOR UPDATE OF h"),
                    {"v": HOH, "vid": changed[0]})
    proc = subprocess.Popen(
        [sys.executable, "-m", "ornament_pipeline_tests.pipeline.materialize_partition", str(pipeline_config),
         HOH, "2020"], start_new_session=True, stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "run.log", "w"), env={**os.environ, "SE_OFFLINE": "true"})  # noqa: SIM115
    try:
        wait_for_blocked(migrated_db_url, SNAPSHOT_STATEMENT, proc)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        transaction.rollback()
        blocker.close()

    replica.set_day(4)
    assert materialize(resources, HOH, 2020, instance).success
    history: dict[str, list[tuple]] = {}
    for vendor_id, price, availability in rows(migrated_db_url, """
            SELECT p.vendor_id, h.price, h.availability FROM price_history h JOIN products p ON p.id = h.product_id
            WHERE NOT h.is_delisted ORDER BY p.vendor_id, h.valid_from, h.id"""):
        history.setdefault(vendor_id, []).append((price, availability))
    assert history == expected


def test_a_year_missing_from_a_cached_index_fails_and_delists_nothing(
        replica: ReplicaHandle, migrated_db_url: str, redis_url: str, tmp_path: Path) -> None:
    """A year index once cut short and cached must not turn a stored year into "no page for this year"."""
    config = write_config(tmp_path / "cached.json", replica, migrated_db_url, redis_url)
    settings = SettingsResource(config_path=str(config))
    resources = {"settings": settings, "warehouse": WarehouseResource(settings=settings),
                 "scraper": ScraperResource(settings=settings)}
    instance = pipeline_instance()
    assert materialize(resources, HOH, 2020, instance).success
    listed = stored(migrated_db_url, HOH, 2020)
    client = redis.Redis.from_url(redis_url)
    key = cache_key(HOH, replica.base_urls[HOH])
    links = json.loads(client.get(key))
    client.set(key, json.dumps({y: u for y, u in links.items() if y != "2020"}))  # a short index, cached

    result = materialize(resources, HOH, 2020, instance)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "missing from the vendor's year index" in str(failure.event_specific_data)
    assert stored(migrated_db_url, HOH, 2020) == listed
    assert rows(migrated_db_url, "SELECT count(*) FROM change_events WHERE kind = 'delisted'") == [(0,)]
