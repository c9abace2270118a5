"""End to end: Dagster webserver + daemon on Postgres storage, a backfill of one vendor launched through GraphQL."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from ornament_pipeline.cli.dev import write_instance_yaml
from ornament_pipeline.db.engine import sqlalchemy_url
from ornament_pipeline.db.migrations import ensure_database
from ornament_pipeline.pipeline.launch import Dagster
from ornament_pipeline.pipeline.partitions import RANGE_END_TAG, RANGE_START_TAG, calendar_years, partition_key
from ornament_pipeline.replica.testing import ReplicaHandle
from ornament_pipeline_tests.conftest import drop_database
from ornament_pipeline_tests.pipeline.conftest import write_config
from ornament_pipeline_tests.pipeline.deployment import running_dagster
from ornament_pipeline_tests.pipeline.test_partitions import FIELDS, stored, truth

pytestmark = pytest.mark.browser
VENDOR = "hallmark_ornaments_com"


@pytest.fixture
def dagster(tmp_path: Path, replica: ReplicaHandle, migrated_db_url: str, redis_url: str) -> Iterator[Dagster]:
    storage_url = migrated_db_url.rsplit("/", 1)[0] + f"/{migrated_db_url.rsplit('/', 1)[1]}_dagster"
    ensure_database(storage_url)
    home = tmp_path / "dagster_home"
    home.mkdir()
    write_instance_yaml(home)  # the project's dagster.yaml on Postgres storage, as `ornaments dev` writes it
    config = write_config(tmp_path / "e2e.json", replica, migrated_db_url, redis_url=redis_url)
    env = {**os.environ, "DAGSTER_HOME": str(home), "DAGSTER_PG_URL": storage_url, "CONFIG_PATH": str(config),
           "DATABASE_URL": migrated_db_url, "SE_OFFLINE": "true"}
    try:
        with running_dagster(tmp_path, env) as client:
            yield client
    finally:
        create_engine(sqlalchemy_url(storage_url)).dispose()
        drop_database(storage_url.rsplit("/", 1)[1])


@pytest.mark.timeout(1500)
def test_backfill_of_one_vendor_through_graphql(dagster: Dagster, replica: ReplicaHandle, migrated_db_url: str,
                                                tmp_path: Path) -> None:
    # What `ornaments sync --vendor` and POST /syncs backfill: every year of the vendor, as one ranged run (the
    # sync's BackfillPolicy): one process and one browser for all 54 vendor-years.
    # The deployment started with no year partitions: the year_partitions sensor added them (running_dagster waits).
    partitions = dagster.sync_partitions(VENDOR, None)
    assert partitions == [str(partition_key(VENDOR, year)) for year in calendar_years()]
    years = [year for year in calendar_years() if replica.truth(VENDOR, int(year))]
    backfill_id = dagster.backfill(partitions, title=f"sync {VENDOR}")
    deadline = time.monotonic() + 900
    while (status := dagster.backfill_status(backfill_id))["status"] in ("REQUESTED", "CANCELING", "FAILING"):
        if time.monotonic() > deadline:
            log = (tmp_path / "daemon.log").read_text()[-3000:]
            pytest.fail(f"backfill did not finish: {status['status']}\n{log}")
        time.sleep(3)
    assert status["status"] in ("COMPLETED", "COMPLETED_SUCCESS"), status["status"]
    runs = status["runs"]
    assert len(runs) == 1 and runs[0]["status"] == "SUCCESS", runs
    tags = {tag["key"]: tag["value"] for tag in runs[0]["tags"]}
    assert (tags[RANGE_START_TAG], tags[RANGE_END_TAG]) == (partitions[0], partitions[-1])
    counts = {tuple(s["assetKey"]["path"]): s for s in status["assetBackfillData"]["assetBackfillStatuses"]}
    for asset in ("vendor_listings", "products", "price_history"):
        assert counts[(asset,)]["numPartitionsMaterialized"] == len(partitions), counts[(asset,)]
        assert counts[(asset,)]["numPartitionsFailed"] == 0
    for year in years:
        assert stored(migrated_db_url, VENDOR, int(year)) == truth(replica, VENDOR, int(year)), year
    with create_engine(sqlalchemy_url(migrated_db_url)).connect() as conn:
        total = conn.execute(text("SELECT count(*) FROM products WHERE vendor = :v"), {"v": VENDOR}).scalar_one()
    assert total == sum(len(replica.truth(VENDOR, int(year))) for year in years) and len(FIELDS) == 11

    # Sync by id, from the command line: two products re-read from their pages after the site moved on.
    replica.set_day(6)
    day6 = {item.vendor_id: item for item in replica.truth(VENDOR)}
    with create_engine(sqlalchemy_url(migrated_db_url)).connect() as conn:
        picked = conn.execute(text("SELECT id, vendor_id FROM products WHERE vendor = :v AND vendor_id = ANY(:ids)"
                                   " ORDER BY id LIMIT 2"), {"v": VENDOR, "ids": list(day6)}).all()
    command = [str(Path(sys.executable).with_name("ornaments")), "sync", "--dagster-url", dagster.url]
    for product_id, _ in picked:
        command += ["--id", str(product_id)]
    launched = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert launched.returncode == 0, launched.stderr
    run_id = launched.stdout.split()[1]
    deadline = time.monotonic() + 300
    while (run_status := dagster.run_status(run_id)) not in ("SUCCESS", "FAILURE", "CANCELED"):
        assert time.monotonic() < deadline, run_status
        time.sleep(2)
    assert run_status == "SUCCESS"
    with create_engine(sqlalchemy_url(migrated_db_url)).connect() as conn:
        rows = conn.execute(text("SELECT vendor_id, price, availability FROM products WHERE id = ANY(:ids)"),
                            {"ids": [p for p, _ in picked]}).all()
    assert {(r.vendor_id, r.price, r.availability) for r in rows} == {
        (vid, day6[vid].price, day6[vid].availability) for _, vid in picked}
