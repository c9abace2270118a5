"""Scraping throughput through a local Selenium Grid with one node, then with two, in one run.

    python benchmarks/grid_bench.py [--years 1990,2005,2020] [--size full] [--rounds 2] [--admin-url postgresql://...]

One replica serves both sides. Each side starts its own Grid (`ornament_pipeline.grid.LocalGrid`, nodes from
`config/grid-node.toml`: two sessions each) and an empty warehouse, and syncs the same vendor-years: the real
assets (`SYNC_ASSETS` via `dg.materialize`: listing pages, the product page of every first-seen listing, the
merge), with `SELENIUM_REMOTE_URL` naming the Grid. The parallelism is Dagster's: one process per vendor, each
running its vendor's partitions one after another, as `dagster.yaml`'s limit of one run per vendor lets the
daemon run them; inside a run the live politeness shape holds (one page of a site at a time, one browser
session per run, `selenium.pool_size` 1), but without the pause between pages (`min_delay_seconds` 0), so the
browsers, not the politeness delay, set the pace. Three vendors want three sessions: one node has two slots,
two nodes have four.

Sides run in the order 1 2, 2 1, ... (`--rounds` pairs), since the machine's other load drifts. Prints
pages/s per side (listing pages + product pages, from the runs' metadata; the year-index reads are not
counted) and the ratio of the medians, with how busy the machine's CPUs were and how much CPU this
benchmark's own processes got (a ratio near 1 with the CPUs at 100% is bound by the local CPU, not by the
Grid). Exits non-zero when any run failed or any partition's stored listings differ from the
replica's truth.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import psutil
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from ornament_pipeline.db.engine import sqlalchemy_url
from ornament_pipeline.db.migrations import drop_database, migrate
from ornament_pipeline.grid import LocalGrid
from ornament_pipeline.replica.testing import ReplicaHandle, running_replica
from ornament_pipeline.vendors import VENDOR_KEYS
from ornament_pipeline_tests.conftest import pipeline_instance
from ornament_pipeline_tests.integrations.test_grid import SessionWatch
from ornament_pipeline_tests.pipeline.test_partitions import stored, truth

# The live sites' politeness (config/default.json) minus the pause between pages.
POLITENESS = {"obey_robots_txt": True, "min_delay_seconds": 0.0, "max_concurrency": 1, "max_retries": 3}


@dataclass
class VendorRun:
    """One vendor's partitions as its worker process ran them (wall-clock times, comparable across processes)."""

    vendor: str
    started: float
    finished: float
    listing_pages: int
    product_pages: int
    listings: int
    failed: list[str]


def warm_up() -> int:
    """Import what a run imports, before the clock starts (a worker process pays it once)."""
    from ornament_pipeline.pipeline import assets  # noqa: F401

    return os.getpid()


def run_vendor(config: str, remote_url: str, vendor: str, years: list[int]) -> VendorRun:
    """Materialize `vendor`'s partitions one after another in this process, as one-run-per-vendor does."""
    os.environ["SELENIUM_REMOTE_URL"] = remote_url
    import dagster as dg

    from ornament_pipeline.pipeline.assets import SYNC_ASSETS
    from ornament_pipeline.pipeline.partitions import partition_key
    from ornament_pipeline.pipeline.resources import ScraperResource, SettingsResource, WarehouseResource

    settings = SettingsResource(config_path=config)
    resources = {"settings": settings, "warehouse": WarehouseResource(settings=settings),
                 "scraper": ScraperResource(settings=settings)}
    assert settings.get().selenium.remote_url == remote_url, "the runs would not use the Grid"
    instance = pipeline_instance()
    run = VendorRun(vendor, time.time(), 0.0, 0, 0, 0, [])
    for year in years:
        result = dg.materialize(SYNC_ASSETS, partition_key=partition_key(vendor, year), resources=resources,
                                instance=instance, raise_on_error=False)
        if not result.success:
            run.failed.append(f"{vendor} {year}: run failed")
            continue
        scraped = result.asset_materializations_for_node("vendor_listings")[0].metadata
        run.listing_pages += int(scraped["pages_visited"].value)  # type: ignore[arg-type]
        run.product_pages += int(scraped["product_pages_read"].value)  # type: ignore[arg-type]
        run.listings += int(scraped["listings"].value)  # type: ignore[arg-type]
        if scraped["pages_failed"].value or scraped["product_pages_failed"].value:
            run.failed.append(f"{vendor} {year}: {scraped['status'].value}, "
                              f"{scraped['product_pages_failed'].value} product pages failed")
    run.finished = time.time()
    return run


def machine_busy_seconds() -> float:
    """CPU seconds all of the machine's CPUs have been busy since boot (every process, other users' too)."""
    times = psutil.cpu_times()
    return float(times.user + times.nice + times.system + getattr(times, "irq", 0.0) + getattr(times, "softirq", 0.0)
                 + getattr(times, "steal", 0.0))


def own_cpu_seconds() -> float:
    """CPU seconds used by this process and its descendants (Grid nodes, their chromedrivers and Chromiums,
    the worker processes), counting children that have exited and been waited for."""
    total = 0.0
    for process in [psutil.Process(), *psutil.Process().children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


@dataclass
class Side:
    """One Grid size's sync of every vendor's partitions, and what the machine did meanwhile."""

    nodes: int
    runs: list[VendorRun]
    wall: float  # from handing the runs to the workers until the last finished
    machine_cpu: float  # CPU seconds the whole machine was busy during the side (other helpers too)
    own_cpu: float  # CPU seconds of this benchmark's processes (Grid, browsers, runs) during the side
    load: float  # the 1-minute load average at the end of the side
    peak_sessions: int
    nodes_used: int
    mismatches: list[str]

    @property
    def pages(self) -> int:
        return sum(run.listing_pages + run.product_pages for run in self.runs)


def one_side(nodes: int, replica: ReplicaHandle, years: list[int], admin_url: str, tmp: Path) -> Side:
    """A fresh warehouse and a Grid of `nodes` nodes; every vendor's partitions synced through it, checked."""
    url = make_url(admin_url).set(database=f"ornaments_bench_grid_{uuid.uuid4().hex[:6]}_{nodes}") \
        .render_as_string(hide_password=False)
    tmp.mkdir(parents=True)
    config = tmp / f"side{nodes}.json"
    config.write_text(json.dumps({
        "vendors": {v: {"base_url": replica.base_urls[v], "politeness": POLITENESS} for v in VENDOR_KEYS},
        "database": {"url": url}, "redis": {"url": None}, "selenium": {"pool_size": 1}}))
    migrate(url)
    try:
        with LocalGrid(tmp / f"grid{nodes}", nodes=nodes) as grid:
            workers = {v: ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) for v in VENDOR_KEYS}
            try:
                for executor in workers.values():
                    executor.submit(warm_up).result()
                peak = 0
                with SessionWatch(grid) as watch:
                    started, machine, own = time.monotonic(), machine_busy_seconds(), own_cpu_seconds()
                    futures = [executor.submit(run_vendor, str(config), grid.url, v, years)
                               for v, executor in workers.items()]
                    while not all(future.done() for future in futures):
                        peak = max(peak, sum(len(ids) for ids in watch.current.values()))
                        time.sleep(0.25)
                    machine, own = machine_busy_seconds() - machine, own_cpu_seconds() - own
                    wall = time.monotonic() - started
                    load = os.getloadavg()[0]
                    runs = [future.result() for future in futures]
            finally:
                for executor in workers.values():
                    executor.shutdown()
        mismatches = [f"{v} {y}: stored listings differ from the truth" for v in VENDOR_KEYS for y in years
                      if stored(url, v, y) != truth(replica, v, y)]
        if not any(truth(replica, v, y) for v in VENDOR_KEYS for y in years):
            mismatches.append("the replica lists nothing for these years: nothing was compared")
    finally:
        create_engine(sqlalchemy_url(url)).dispose()
        drop_database(url)
    return Side(nodes, runs, wall, machine, own, load, peak, len(watch.nodes_used()), mismatches)


def report(sides: list[Side], args: argparse.Namespace) -> None:
    cores = psutil.cpu_count() or 1
    print(f"replica={args.size} years={args.years} rounds={args.rounds}; {len(VENDOR_KEYS)} vendors, one process "
          f"each; pool_size=1, max_concurrency=1, min_delay_seconds=0; {cores} CPUs")
    print("| nodes | pages (listing + product) | wall | pages/s | machine CPU busy | this benchmark's CPU "
          "| load avg | peak sessions | nodes used |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for side in sides:
        listing = sum(run.listing_pages for run in side.runs)
        print(f"| {side.nodes} | {side.pages} ({listing} + {side.pages - listing}) | {side.wall:.1f} s"
              f" | {side.pages / side.wall:.2f} | {side.machine_cpu / (side.wall * cores):.0%}"
              f" | {side.own_cpu:.0f} s = {side.own_cpu / side.wall:.2f} cores, {side.own_cpu / side.pages * 1000:.0f}"
              f" ms/page | {side.load:.1f} | {side.peak_sessions} | {side.nodes_used} |")
    for side in sides:
        print(f"  {side.nodes} node(s): " + "; ".join(
            f"{run.vendor} {run.listing_pages + run.product_pages} pages in {run.finished - run.started:.1f} s"
            for run in side.runs))
    rate = {nodes: statistics.median(side.pages / side.wall for side in sides if side.nodes == nodes)
            for nodes in (1, 2)}
    print(f"median pages/s: 1 node {rate[1]:.2f}, 2 nodes {rate[2]:.2f}; ratio 2 nodes / 1 node: "
          f"{rate[2] / rate[1]:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--years", default="1990,2005,2020", help="comma-separated release years")
    parser.add_argument("--size", default="full", choices=("small", "full"), help="replica catalogue size")
    parser.add_argument("--rounds", type=int, default=2,
                        help="pairs of sides, in the order 1 2, 2 1, 1 2... (the machine's other load drifts)")
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    years = [int(year) for year in args.years.split(",")]
    order = [nodes for round_ in range(args.rounds) for nodes in ((1, 2) if round_ % 2 == 0 else (2, 1))]
    with running_replica(size=args.size, day=0) as replica, tempfile.TemporaryDirectory() as tmpdir:
        sides = [one_side(nodes, replica, years, args.admin_url, Path(tmpdir) / str(index))
                 for index, nodes in enumerate(order)]
    report(sides, args)
    problems = [problem for side in sides for run in side.runs for problem in run.failed]
    problems += [f"{side.nodes} node(s): {problem}" for side in sides for problem in side.mismatches]
    if problems:
        raise SystemExit("FAILED:\n  " + "\n  ".join(problems))
    print("every partition's stored listings equal the replica's truth, on every side")


if __name__ == "__main__":
    main()
