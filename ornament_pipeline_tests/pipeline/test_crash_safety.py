"""Killed in the middle of its merge, a run leaves nothing half-written, and running it again gives what an
uninterrupted run gives. The kill lands inside the transaction: the test holds a row lock the merge needs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from ornament_pipeline.db.engine import sqlalchemy_url
from ornament_pipeline.replica.testing import ReplicaHandle
from ornament_pipeline.warehouse.history import _SNAPSHOT
from ornament_pipeline.warehouse.products import _MERGE_LISTINGS
from ornament_pipeline_tests.conftest import pipeline_instance
from ornament_pipeline_tests.pipeline.test_partitions import materialize, stored, truth

pytestmark = pytest.mark.browser
VENDOR, YEAR = "hookedonhallmark_com", 2020


def history(url: str) -> list[tuple]:
    """The history without its timestamps (those are observation times, different in every run)."""
    with create_engine(sqlalchemy_url(url)).connect() as conn:
        return [tuple(r) for r in conn.execute(text(
            "SELECT p.vendor_id, h.price, h.availability, h.is_delisted, h.valid_to IS NULL, e.kind"
            " FROM price_history h JOIN products p ON p.id = h.product_id"
            " JOIN change_events e ON e.history_id = h.id ORDER BY p.vendor_id, h.id"))]


def wait_for_blocked(url: str, statement: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    engine = create_engine(sqlalchemy_url(url))
    deadline = time.monotonic() + timeout
    with engine.connect() as conn:
        while time.monotonic() < deadline:
            blocked = conn.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND wait_event_type = 'Lock' AND query LIKE :q"), {"q": f"%{statement}%"}).scalar_one()
            conn.rollback()  # pg_stat_activity is a snapshot per transaction: take a fresh one each time
            if blocked:
                return
            assert proc.poll() is None, "the run ended before reaching the merge"
            time.sleep(0.2)
    pytest.fail(f"no run blocked on {statement!r}")


# The products merge and the history snapshot are one statement each; pg_stat_activity shows a statement's first
# 1024 bytes, so each is recognised by its opening.
MERGE_STATEMENT, SNAPSHOT_STATEMENT = (" ".join(statement.split()[:3]) for statement in (_MERGE_LISTINGS, _SNAPSHOT))


@pytest.mark.parametrize(("phase", "locked_table", "statement"), [
    ("products merge", "products", MERGE_STATEMENT),
    ("history snapshot", "price_history", SNAPSHOT_STATEMENT),
])
def test_run_killed_mid_merge_then_rerun(replica: ReplicaHandle, resources: dict, pipeline_config: Path,
                                         migrated_db_url: str, phase: str, locked_table: str,
                                         statement: str, tmp_path: Path) -> None:
    instance = pipeline_instance()
    assert materialize(resources, VENDOR, YEAR, instance).success
    day0 = truth(replica, VENDOR, YEAR)
    replica.set_day(6)
    day6 = truth(replica, VENDOR, YEAR)
    changed = sorted(vid for vid, row in day0.items() if vid in day6 and row[6:8] != day6[vid][6:8])
    assert changed, "the replica should have moved a price or stock by day 6"
    products_before, history_before = stored(migrated_db_url, VENDOR, YEAR), history(migrated_db_url)

    engine = create_engine(sqlalchemy_url(migrated_db_url))
    blocker = engine.connect()
    transaction = blocker.begin()
    lock_sql = {"products": "SELECT id FROM products WHERE vendor = :v AND vendor_id = :vid FOR UPDATE",
                "price_history": "SELECT h.id FROM price_history h JOIN products p ON p.id = h.product_id"
                                 " WHERE p.vendor = :v AND p.vendor_id = :vid AND h.valid_to IS NULL FOR UPDATE OF h"}
    blocker.execute(text(lock_sql[locked_table]), {"v": VENDOR, "vid": changed[0]})
    proc = subprocess.Popen(
        [sys.executable, "-m", "ornament_pipeline_tests.pipeline.materialize_partition", str(pipeline_config),
         VENDOR, str(YEAR)], start_new_session=True, stdout=subprocess.DEVNULL, stderr=open(tmp_path / "run.log", "w"),  # noqa: SIM115
        env={**os.environ, "SE_OFFLINE": "true"})
    try:
        wait_for_blocked(migrated_db_url, statement, proc)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        transaction.rollback()
        blocker.close()

    # The killed transaction is rolled back once Postgres notices its client is gone.
    with engine.connect() as conn:
        deadline = time.monotonic() + 30
        while conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                                " AND pid <> pg_backend_pid() AND state <> 'idle'")).scalar_one():
            conn.rollback()
            assert time.monotonic() < deadline, "the killed run's transaction is still open"
            time.sleep(0.2)
    if phase == "products merge":
        assert stored(migrated_db_url, VENDOR, YEAR) == products_before
    assert history(migrated_db_url) == history_before  # no half-written version, no orphan event

    assert materialize(resources, VENDOR, YEAR, instance).success
    assert stored(migrated_db_url, VENDOR, YEAR) == day6
    after = history(migrated_db_url)
    with engine.connect() as conn:
        events = conn.execute(text(
            "SELECT p.vendor_id, e.kind FROM change_events e JOIN products p ON p.id = e.product_id"
            " WHERE e.id > :last ORDER BY e.id"), {"last": len(history_before)}).all()
    moved = set(changed) | (day0.keys() - day6.keys())
    assert sorted(vid for vid, kind in events if kind != "new") == sorted(moved)  # one version each, not two
    assert {vid for vid, kind in events if kind == "new"} == day6.keys() - day0.keys()
    assert len(after) == len(history_before) + len(events)
