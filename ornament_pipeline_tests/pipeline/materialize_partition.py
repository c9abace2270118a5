"""`python -m ornament_pipeline_tests.pipeline.materialize_partition CONFIG VENDOR YEAR [VENDOR YEAR ...]`:
partitions materialized one after another in a process of their own, so a test or benchmark can kill it at a
chosen moment.

Each partition prints one JSON line to stdout when it starts (`{"event": "start", ...}`) and one when it
ends (`{"event": "end", "partition", "success", "checks": {name: passed}, "exit"}`), flushed at once, so a
caller that kills the process still knows which partitions finished. Exit code (the worst partition's):
0 = every run succeeded and every asset check passed; 3 = the runs succeeded but a check did not pass
(e.g. `scrape_complete`: pages failed after retries); 1 = a run failed.
"""

from __future__ import annotations

import json
import sys
import time

import dagster as dg

from ornament_pipeline.pipeline.assets import SYNC_ASSETS
from ornament_pipeline.pipeline.partitions import partition_key
from ornament_pipeline.pipeline.resources import ScraperResource, SettingsResource, WarehouseResource
from ornament_pipeline_tests.conftest import pipeline_instance

EXIT_OK, EXIT_FAILED, EXIT_CHECK_FAILED = 0, 1, 3
_SEVERITY = {EXIT_OK: 0, EXIT_CHECK_FAILED: 1, EXIT_FAILED: 2}


def _emit(record: dict) -> None:
    print(json.dumps(record, default=str), flush=True)


def materialize_one(settings: SettingsResource, instance: dg.DagsterInstance, vendor: str, year: str) -> int:
    """Materialize one vendor-year, print its summary line, and return its exit code."""
    key = partition_key(vendor, year)
    _emit({"event": "start", "partition": key, "vendor": vendor, "year": int(year)})
    started = time.monotonic()
    result = dg.materialize(
        SYNC_ASSETS, partition_key=key,
        resources={"settings": settings, "warehouse": WarehouseResource(settings=settings),
                   "scraper": ScraperResource(settings=settings)},
        instance=instance, raise_on_error=False)
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    code = EXIT_FAILED if not result.success else EXIT_OK if all(checks.values()) else EXIT_CHECK_FAILED
    _emit({"event": "end", "partition": key, "vendor": vendor, "year": int(year), "success": result.success,
           "checks": checks, "exit": code, "seconds": round(time.monotonic() - started, 2)})
    return code


def main(argv: list[str]) -> int:
    if len(argv) < 3 or len(argv) % 2 != 1:
        print(__doc__, file=sys.stderr)
        return 2
    config, pairs = argv[0], argv[1:]
    settings = SettingsResource(config_path=config)
    instance = pipeline_instance()
    codes = [materialize_one(settings, instance, vendor, year)
             for vendor, year in zip(pairs[::2], pairs[1::2], strict=True)]
    return max(codes, key=_SEVERITY.__getitem__)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
