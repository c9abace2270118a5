"""What a by-vendor backfill costs through the daemon, next to the same partitions materialized in-process.

    python benchmarks/backfill_bench.py [--vendor hallmark_ornaments_com] [--years 1973-2026]
                                        [--admin-url postgresql://postgres@127.0.0.1:5432/postgres]

One replica (small catalogue, day 0) serves both sides:
  A: `dg.materialize(SYNC_ASSETS, partition_key=...)` of each vendor-year, one after another in this process
     (shared resources, ephemeral instance): the "no launch" baseline, on a fresh warehouse.
  A2: the same partitions as one in-process ranged run (range tags), on a third fresh warehouse: B's own work.
  B: the same partitions as a user launches them (GraphQL `launchPartitionBackfill` on a webserver, executed
     by `dagster-daemon` on Postgres storage, as many runs as the assets' BackfillPolicy makes), on a second
     fresh warehouse.
Wall B runs from the launch to the backfill's COMPLETED status; "B to data" to the end of its last run (what the
daemon adds after that is its 30 s loop noticing). The benchmark fails if two runs of the vendor overlapped, a run
failed, a partition is not materialized, or the two warehouses hold different products. It prints the table and
the median per-run breakdown of B's overhead read from the runs' event logs. Every process it starts runs in its own
process group and is stopped; every database it creates is dropped.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import dagster as dg
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from ornament_pipeline.cli.dev import write_instance_yaml
from ornament_pipeline.db.engine import sqlalchemy_url
from ornament_pipeline.db.migrations import drop_database, ensure_database, migrate
from ornament_pipeline.pipeline.assets import SYNC_ASSETS
from ornament_pipeline.pipeline.launch import Dagster
from ornament_pipeline.pipeline.partitions import RANGE_END_TAG, RANGE_START_TAG, calendar_years, partition_key
from ornament_pipeline.pipeline.resources import ScraperResource, SettingsResource, WarehouseResource
from ornament_pipeline.replica.testing import ReplicaHandle, running_replica
from ornament_pipeline.vendors import FIRST_YEAR, VENDOR_KEYS
from ornament_pipeline_tests.conftest import pipeline_instance
from ornament_pipeline_tests.pipeline.conftest import write_config
from ornament_pipeline_tests.pipeline.deployment import running_dagster

# Columns that differ between two warehouses holding the same products (surrogate keys, wall-clock times).
VOLATILE = {"id"}
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}  # side A's event log stays off the screen


def parse_years(spec: str) -> list[int]:
    first, _, last = spec.partition("-")
    return list(range(int(first), int(last or first) + 1))


def products(url: str, vendor: str) -> set[tuple]:
    """The vendor's products, every column but keys and timestamps, as a set of rows."""
    engine = create_engine(sqlalchemy_url(url))
    try:
        with engine.connect() as conn:
            columns = [name for name, kind in conn.execute(text(
                "SELECT column_name, data_type FROM information_schema.columns"
                " WHERE table_schema = 'public' AND table_name = 'products' ORDER BY ordinal_position"))
                if name not in VOLATILE and not kind.startswith("timestamp")]
            # Column names come from the catalogue, not from input; the vendor is bound.
            rows = conn.execute(text(f"SELECT {', '.join(columns)} FROM products WHERE vendor = :v"), {"v": vendor})
            return {tuple(row) for row in rows}
    finally:
        engine.dispose()


def side_a(config: Path, keys: list[dg.MultiPartitionKey]) -> float:
    settings = SettingsResource(config_path=str(config))
    resources = {"settings": settings, "warehouse": WarehouseResource(settings=settings),
                 "scraper": ScraperResource(settings=settings)}
    instance = pipeline_instance()
    start = time.perf_counter()
    for key in keys:
        result = dg.materialize(SYNC_ASSETS, partition_key=key, resources=resources, instance=instance,
                                raise_on_error=False, run_config=QUIET)
        if not result.success:
            raise SystemExit(f"side A: in-process materialization of {key} failed")
    return time.perf_counter() - start


def side_a_ranged(config: Path, keys: list[dg.MultiPartitionKey]) -> float:
    """The same partitions as one in-process ranged run (what a backfill's run executes, minus the launching)."""
    settings = SettingsResource(config_path=str(config))
    resources = {"settings": settings, "warehouse": WarehouseResource(settings=settings),
                 "scraper": ScraperResource(settings=settings)}
    start = time.perf_counter()
    result = dg.materialize(SYNC_ASSETS, resources=resources, instance=pipeline_instance(),
                            raise_on_error=False, run_config=QUIET,
                            tags={RANGE_START_TAG: str(keys[0]), RANGE_END_TAG: str(keys[-1])})
    if not result.success:
        raise SystemExit("side A2: the in-process ranged run failed")
    return time.perf_counter() - start


def side_b(dagster: Dagster, partitions: list[str], vendor: str, tmp: Path) -> tuple[float, list[dict]]:
    start = time.time()
    backfill_id = dagster.backfill(partitions, title=f"bench sync {vendor}")
    deadline = time.monotonic() + 1800
    while (status := dagster.backfill_status(backfill_id))["status"] in ("REQUESTED", "CANCELING", "FAILING"):
        if time.monotonic() > deadline:
            raise SystemExit(f"backfill did not finish: {status['status']}\n"
                             + (tmp / "daemon.log").read_text()[-3000:])
        time.sleep(0.5)
    wall = time.time() - start
    runs = status["runs"]
    if status["status"] not in ("COMPLETED", "COMPLETED_SUCCESS") or {r["status"] for r in runs} != {"SUCCESS"}:
        raise SystemExit(f"backfill ended {status['status']}: runs {[r['status'] for r in runs]}")
    for counts in status["assetBackfillData"]["assetBackfillStatuses"]:
        if counts["numPartitionsMaterialized"] != len(partitions) or counts["numPartitionsFailed"]:
            raise SystemExit(f"backfill did not materialize every partition: {counts}")
    spans = sorted((r["startTime"], r["endTime"]) for r in runs)
    overlaps = [(a, b) for a, b in zip(spans, spans[1:], strict=False) if a[1] > b[0]]
    if overlaps:
        raise SystemExit(f"two runs of {vendor} overlapped: {overlaps}")
    return wall, [{**r, "launched": start} for r in sorted(runs, key=lambda r: r["startTime"])]


def run_marks(instance: dg.DagsterInstance, run: dict, previous_end: float) -> dict[str, float]:
    """Seconds between the events that mark one run's phases (from its event log on Postgres storage)."""
    events = [e for e in instance.all_logs(run["runId"]) if e.dagster_event is not None]

    def at(kind: str, message: str = "") -> list[float]:
        found = [e.timestamp for e in events if e.dagster_event_type.value == kind
                 and (e.dagster_event.message or e.user_message).startswith(message)]
        if not found:
            raise SystemExit(f"run {run['runId']}: no {kind} {message} event in its log:\n"
                             + "\n".join(f"{e.dagster_event_type.value} {e.dagster_event.message}" for e in events))
        return found

    steps = {e.step_key: e.timestamp for e in events if e.dagster_event_type.value == "STEP_START"}
    ends = {e.step_key: e.timestamp for e in events if e.dagster_event_type.value == "STEP_SUCCESS"}
    process_up = at("ENGINE_EVENT", "Started process for run")[0]
    marks = {
        # Dagster 1.13 logs no RUN_DEQUEUED: the queue daemon's pick-up shows as RUN_STARTING.
        "previous run end (or launch) -> starting (queue)": at("PIPELINE_STARTING")[0] - previous_end,
        "starting -> run process up (spawn, imports)": process_up - at("PIPELINE_STARTING")[0],
        "process up -> run start (code load, plan)": at("PIPELINE_START")[0] - process_up,
        "run start -> first step (resource init)": min(steps.values()) - at("PIPELINE_START")[0],
        "last step -> run success": at("PIPELINE_SUCCESS")[0] - max(ends.values()),
        "run success -> process exit": at("ENGINE_EVENT")[-1] - at("PIPELINE_SUCCESS")[0],
    }
    for step, started in steps.items():
        marks[f"step {step}"] = ends[step] - started
    marks["steps total"] = sum(ends[s] - steps[s] for s in steps)
    return marks


def breakdown(runs: list[dict]) -> dict[str, list[float]]:
    """Every run's phase durations, by phase."""
    phases: dict[str, list[float]] = {}
    instance = dg.DagsterInstance.get()  # DAGSTER_HOME / DAGSTER_PG_URL of side B
    previous_end = runs[0]["launched"]
    for run in runs:
        for name, seconds in run_marks(instance, run, previous_end).items():
            phases.setdefault(name, []).append(seconds)
        previous_end = run["endTime"]
    return phases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vendor", default="hallmark_ornaments_com", choices=VENDOR_KEYS)
    parser.add_argument("--years", default=f"{FIRST_YEAR}-{calendar_years()[-1]}")
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    keys = [partition_key(args.vendor, year) for year in parse_years(args.years)]
    tag = uuid.uuid4().hex[:6]
    urls = {side: make_url(args.admin_url).set(database=f"ornaments_bench_backfill_{tag}_{side}")
            .render_as_string(hide_password=False) for side in ("a", "a2", "b", "dagster")}
    try:
        for side in ("a", "a2", "b"):
            migrate(urls[side])
        ensure_database(urls["dagster"])
        with running_replica(size="small", day=0) as replica, tempfile.TemporaryDirectory() as tmpdir:
            tmp = Path(tmpdir)
            wall_a = side_a(write_config(tmp / "a.json", replica, urls["a"]), keys)
            wall_a2 = side_a_ranged(write_config(tmp / "a2.json", replica, urls["a2"]), keys)
            wall_b, runs, phases = run_side_b(replica, urls, keys, args.vendor, tmp)
        same = products(urls["a"], args.vendor) == products(urls["b"], args.vendor) == products(
            urls["a2"], args.vendor)
        count = len(products(urls["a"], args.vendor))
    finally:
        for url in urls.values():
            create_engine(sqlalchemy_url(url)).dispose()
            drop_database(url)
    report(args, keys, wall_a, wall_a2, wall_b, runs, phases, count)
    if not same:
        raise SystemExit("the two warehouses hold different products")


def run_side_b(replica: ReplicaHandle, urls: dict[str, str], keys: list[dg.MultiPartitionKey], vendor: str,
               tmp: Path) -> tuple[float, list[dict], dict[str, list[float]]]:
    home = tmp / "dagster_home"
    home.mkdir()
    write_instance_yaml(home)  # the project's dagster.yaml on Postgres storage, as `ornaments dev` writes it
    config = write_config(tmp / "b.json", replica, urls["b"])
    env = {"DAGSTER_HOME": str(home), "DAGSTER_PG_URL": urls["dagster"], "CONFIG_PATH": str(config),
           "DATABASE_URL": urls["b"], "SE_OFFLINE": "true"}
    os.environ.update(env)  # this process reads side B's event logs afterwards
    with running_dagster(tmp, {**os.environ, **env}, startup_seconds=180) as dagster:
        wall, runs = side_b(dagster, [str(k) for k in keys], vendor, tmp)
    return wall, runs, breakdown(runs)


def report(args: argparse.Namespace, keys: list, wall_a: float, wall_a2: float, wall_b: float, runs: list[dict],
           phases: dict[str, list[float]], count: int) -> None:
    first_start = runs[0]["startTime"] - runs[0]["launched"]
    to_data = max(r["endTime"] for r in runs) - runs[0]["launched"]
    tail = wall_b - to_data
    print(f"vendor={args.vendor} years={args.years} products={count} (same in both warehouses)")
    print("| partitions | runs | wall A in-process | wall B daemon (to COMPLETED) | B/A | B to data | (B to data)/A |"
          " overhead per run (B-A)/runs |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(f"| {len(keys)} | {len(runs)} | {wall_a:.1f} s | {wall_b:.1f} s | {wall_b / wall_a:.2f} | {to_data:.1f} s |"
          f" {to_data / wall_a:.2f} | {(wall_b - wall_a) / len(runs):.2f} s |")
    print(f"\nA2, the same partitions as one in-process ranged run: {wall_a2:.1f} s; B/A2 {wall_b / wall_a2:.2f},"
          f" (B to data)/A2 {to_data / wall_a2:.2f}: what launching through the daemon adds to the run's own work")
    print(f"\nB: launch -> first run started {first_start:.1f} s; last run ended -> backfill COMPLETED {tail:.1f} s"
          " (the backfill daemon looks every 30 s)")
    print("\nOne run of B, median over its runs (seconds):")
    for name, values in phases.items():
        print(f"  {name:48s} {statistics.median(values):6.2f}   (min {min(values):.2f}, max {max(values):.2f})")


if __name__ == "__main__":
    main()
