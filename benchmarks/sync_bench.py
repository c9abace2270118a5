"""A first sync and a no-change daily resync of the full replica, through the real assets and browsers.

    python benchmarks/sync_bench.py [--years 2018-2020 | --years all] [--pool 2] [--admin-url postgresql://...]

Reports per pass: partitions, listing pages visited, product pages read, product pages per listing
(target on a no-change day: under 2%), and wall time. The replica serves from a thread of this process.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import uuid
from pathlib import Path

import dagster as dg
from sqlalchemy.engine import make_url

from ornament_pipeline.db.migrations import drop_database, migrate
from ornament_pipeline.pipeline.assets import SYNC_ASSETS
from ornament_pipeline.pipeline.partitions import calendar_years, partition_key
from ornament_pipeline.pipeline.resources import ScraperResource, SettingsResource, WarehouseResource
from ornament_pipeline.replica.testing import running_replica
from ornament_pipeline.vendors import VENDOR_KEYS
from ornament_pipeline_tests.conftest import pipeline_instance
from ornament_pipeline_tests.pipeline.test_partitions import materialized


def parse_years(text: str) -> list[int]:
    if text == "all":
        return [int(y) for y in calendar_years()]
    first, _, last = text.partition("-")
    return list(range(int(first), int(last or first) + 1))


def one_pass(resources: dict, partitions: list[tuple[str, int]]) -> dict[str, float]:
    totals = {"listings": 0, "pages": 0, "product_pages": 0, "failed_runs": 0}
    instance = pipeline_instance()
    start = time.perf_counter()
    for vendor, year in partitions:
        result = dg.materialize(SYNC_ASSETS, partition_key=partition_key(vendor, year),
                                resources=resources, instance=instance, raise_on_error=False)
        if not result.success:
            totals["failed_runs"] += 1
            continue
        scraped = materialized(result, "vendor_listings").metadata
        totals["listings"] += scraped["listings"].value
        totals["pages"] += scraped["pages_visited"].value
        totals["product_pages"] += scraped["product_pages_read"].value
    totals["seconds"] = time.perf_counter() - start
    return totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--years", default="2018-2020")
    parser.add_argument("--pool", type=int, default=2)
    parser.add_argument("--static-pages", choices=("fetch", "navigate"), default="fetch",
                        help="vendors.<v>.static_pages: read server-rendered pages by in-page fetch or navigation")
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    name = f"ornaments_bench_sync_{uuid.uuid4().hex[:6]}"
    url = make_url(args.admin_url).set(database=name).render_as_string(hide_password=False)
    partitions = [(vendor, year) for year in parse_years(args.years) for vendor in VENDOR_KEYS]
    migrate(url)
    try:
        with running_replica(size="full", day=0) as replica, tempfile.TemporaryDirectory() as tmp:
            config = Path(tmp) / "bench.json"
            fast = {"min_delay_seconds": 0.0, "max_concurrency": args.pool}
            config.write_text(json.dumps({
                "vendors": {v: {"base_url": replica.base_urls[v], "politeness": fast,
                                 "static_pages": args.static_pages} for v in VENDOR_KEYS},
                "database": {"url": url}, "selenium": {"pool_size": args.pool}}))
            settings = SettingsResource(config_path=str(config))
            resources = {"settings": settings, "warehouse": WarehouseResource(settings=settings),
                         "scraper": ScraperResource(settings=settings)}
            first = one_pass(resources, partitions)
            again = one_pass(resources, partitions)  # same replica day: nothing changed
        print(f"partitions={len(partitions)} years={args.years} browsers={args.pool} static_pages={args.static_pages}")
        for label, t in (("first sync", first), ("no-change resync", again)):
            per_listing = t["product_pages"] / t["listings"] if t["listings"] else 0.0
            print(f"{label:17s} listings={t['listings']:,} listing_pages={t['pages']:,} "
                  f"product_pages={t['product_pages']:,} ({per_listing:.1%} of listings) "
                  f"failed_runs={t['failed_runs']} wall={t['seconds']:.1f}s "
                  f"({t['listings'] / t['seconds']:.0f} listings/s)")
    finally:
        drop_database(url)


if __name__ == "__main__":
    main()
