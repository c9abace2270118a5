"""Vendor x year: the unit of scraping, merging, retrying and backfilling."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg

from ornament_pipeline.vendors import FIRST_YEAR, VENDOR_KEYS

CURRENT_YEAR = datetime.now(UTC).year
YEARS = [str(year) for year in range(FIRST_YEAR, CURRENT_YEAR + 1)]

vendor_year_partitions = dg.MultiPartitionsDefinition(
    {"vendor": dg.StaticPartitionsDefinition(list(VENDOR_KEYS)), "year": dg.StaticPartitionsDefinition(YEARS)}
)


def partition_key(vendor: str, year: int | str) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({"vendor": vendor, "year": str(year)})


def split_key(key: str) -> tuple[str, int]:
    """("hookedonhallmark_com", 1998) from the key `hookedonhallmark_com|1998`."""
    keys = vendor_year_partitions.get_partition_key_from_str(key).keys_by_dimension
    return keys["vendor"], int(keys["year"])
