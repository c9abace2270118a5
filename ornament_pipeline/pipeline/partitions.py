"""Vendor x year: the unit of scraping, merging, retrying and backfilling.

Years are discovered, not frozen at import: the year dimension is Dagster's dynamic partitions `years`, kept in
the instance. The sensor `year_partitions` adds every calendar year from 1973 to the current one (so a code server
that runs over New Year gets the new year) and every year a vendor's year index showed (a reading of
`discover_year_links`); nothing ever removes one.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import dagster as dg

from ornament_pipeline.vendors import FIRST_YEAR, VENDOR_KEYS

YEAR_PARTITIONS = "years"  # the dynamic partitions of the year dimension

# A ranged run (a backfill under the sync's BackfillPolicy, a schedule's run per vendor) names its first and last
# vendor-year with these tags instead of one partition.
RANGE_START_TAG, RANGE_END_TAG = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"
# One scheduled run per vendor at a time (dagster.yaml); a ranged run has no dagster/partition/vendor tag.
VENDOR_RUN_TAG = "ornaments/vendor"

vendor_year_partitions = dg.MultiPartitionsDefinition(
    {"vendor": dg.StaticPartitionsDefinition(list(VENDOR_KEYS)),
     "year": dg.DynamicPartitionsDefinition(name=YEAR_PARTITIONS)}
)


def calendar_years(now: datetime | None = None) -> list[str]:
    """1973 to the current year (UTC): the years that exist whatever a vendor shows."""
    return [str(year) for year in range(FIRST_YEAR, (now or datetime.now(UTC)).year + 1)]


def plausible_year(year: int) -> bool:
    """A year a Keepsake listing can carry: 1973 (the first) to next year (next year's ornaments come out in
    summer). A year index showing another is misread: reported, never made a partition."""
    return FIRST_YEAR <= year <= datetime.now(UTC).year + 1


def known_years(instance: dg.DagsterInstance) -> list[str]:
    """The year partitions the instance holds, in the order they were added (the order of Dagster's ranges)."""
    return list(instance.get_dynamic_partitions(YEAR_PARTITIONS))


def missing_years(instance: dg.DagsterInstance, wanted: Iterable[int | str]) -> list[str]:
    """The years of `wanted` the instance lacks, oldest first (added in that order, they keep ranges in order)."""
    have = set(known_years(instance))
    return sorted({str(year) for year in wanted} - have, key=int)


def add_years(instance: dg.DagsterInstance, years: Iterable[int | str] | None = None) -> list[str]:
    """Add these years (default: the calendar's) where missing; returns those added. For `ornaments dev`, tests and
    benchmarks; a deployment's sensor does it with a dynamic-partitions request."""
    added = missing_years(instance, calendar_years() if years is None else years)
    if added:
        instance.add_dynamic_partitions(YEAR_PARTITIONS, added)
    return added


def partition_key(vendor: str, year: int | str) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({"vendor": vendor, "year": str(year)})


def range_tags(vendor: str, first_year: int | str, last_year: int | str) -> dict[str, str]:
    """The tags of one run over a vendor's years first..last (a contiguous range of the partitions)."""
    return {RANGE_START_TAG: str(partition_key(vendor, first_year)),
            RANGE_END_TAG: str(partition_key(vendor, last_year)), VENDOR_RUN_TAG: vendor}


def split_key(key: str) -> tuple[str, int]:
    """("hookedonhallmark_com", 1998) from the key `hookedonhallmark_com|1998`."""
    keys = vendor_year_partitions.get_partition_key_from_str(key).keys_by_dimension
    return keys["vendor"], int(keys["year"])


def partition_evaluation(check: dg.AssetCheckResult, partition: str) -> dg.AssetCheckEvaluation:
    """A check result as an event of one partition: how a ranged run or a sensor reports a partitioned check."""
    return dg.AssetCheckEvaluation(
        asset_key=dg.AssetKey(check.asset_key.path if check.asset_key else []), check_name=str(check.check_name),
        passed=check.passed, metadata=check.metadata, severity=check.severity, description=check.description,
        partition=partition)
