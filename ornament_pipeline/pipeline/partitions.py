"""Vendor x year: the unit of scraping, merging, retrying and backfilling."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg

from ornament_pipeline.vendors import FIRST_YEAR, VENDOR_KEYS

CURRENT_YEAR = datetime.now(UTC).year
YEARS = [str(year) for year in range(FIRST_YEAR, CURRENT_YEAR + 1)]

# A ranged run (a backfill under the sync's BackfillPolicy, a schedule's run per vendor) names its first and last
# vendor-year with these tags instead of one partition.
RANGE_START_TAG, RANGE_END_TAG = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"
# One scheduled run per vendor at a time (dagster.yaml); a ranged run has no dagster/partition/vendor tag.
VENDOR_RUN_TAG = "ornaments/vendor"

vendor_year_partitions = dg.MultiPartitionsDefinition(
    {"vendor": dg.StaticPartitionsDefinition(list(VENDOR_KEYS)), "year": dg.StaticPartitionsDefinition(YEARS)}
)


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
