"""`products`: the latest state of every listing, merged set-based from one partition's scrape.

The merge stages the scrape with COPY, upserts it in one statement, and marks unseen listings delisted
only when the scrape was complete and the partition did not shrink suspiciously.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, text

from ornament_pipeline.listing import Listing
from ornament_pipeline.warehouse.locks import lock_partition

# A complete scrape that sees fewer than this share of the listed products is not trusted to delist.
MIN_SHARE_BEFORE_DELISTING = 0.7

_STAGE = """
CREATE TEMP TABLE stage_listings (
    vendor_id VARCHAR(64) NOT NULL, sku VARCHAR(64), item_number VARCHAR(32), condition VARCHAR(16),
    name VARCHAR(500) NOT NULL, price NUMERIC(10,2), brand VARCHAR(200), availability TEXT NOT NULL,
    release_year SMALLINT, link TEXT NOT NULL, detail_read BOOLEAN NOT NULL
) ON COMMIT DROP"""
_STAGE_COLUMNS = ("vendor_id", "sku", "item_number", "condition", "name", "price", "brand", "availability",
                  "release_year", "link", "detail_read")

_UPSERT = """
INSERT INTO products AS p (vendor, vendor_id, sku, item_number, condition, name, price, brand, availability,
                           release_year, link, partition_year, last_synced_at, detail_read_at, delisted_at)
SELECT DISTINCT ON (vendor_id)
       :vendor, vendor_id, sku, item_number, condition, name, price, brand, availability,
       release_year, link, :year, :observed_at, CASE WHEN detail_read THEN :observed_at END, NULL
FROM stage_listings
ORDER BY vendor_id
ON CONFLICT (vendor, vendor_id) DO UPDATE SET
    name = EXCLUDED.name, price = EXCLUDED.price, availability = EXCLUDED.availability, link = EXCLUDED.link,
    sku = COALESCE(EXCLUDED.sku, p.sku),
    item_number = COALESCE(EXCLUDED.item_number, p.item_number),
    condition = COALESCE(EXCLUDED.condition, p.condition),
    brand = COALESCE(EXCLUDED.brand, p.brand),
    release_year = COALESCE(EXCLUDED.release_year, p.release_year),
    partition_year = COALESCE(EXCLUDED.partition_year, p.partition_year),
    last_synced_at = EXCLUDED.last_synced_at,
    detail_read_at = COALESCE(EXCLUDED.detail_read_at, p.detail_read_at),
    delisted_at = NULL
WHERE p.last_synced_at <= EXCLUDED.last_synced_at  -- an older observation never overwrites a newer one
RETURNING (xmax = 0) AS inserted"""

_LISTED_IN_PARTITION = """
SELECT count(*) FROM products WHERE vendor = :vendor AND partition_year = :year AND delisted_at IS NULL"""

_DELIST_UNSEEN = """
UPDATE products p SET delisted_at = :observed_at
WHERE p.vendor = :vendor AND p.partition_year = :year AND p.delisted_at IS NULL
  AND p.last_synced_at < :observed_at
  AND NOT EXISTS (SELECT 1 FROM stage_listings s WHERE s.vendor_id = p.vendor_id)"""


@dataclass(frozen=True)
class ProductsMerge:
    """What one partition's merge did, for materialization metadata and checks."""

    seen: int
    new: int
    updated: int
    delisted: int
    listed_before: int
    delisting_skipped: str | None  # why unseen listings were not delisted, if they were not

    @property
    def suspicious_drop(self) -> bool:
        return self.delisting_skipped is not None and self.delisting_skipped.startswith("listing count fell")


def _csv_rows(listings: Iterable[Listing], detail_read: set[str]) -> io.StringIO:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for item in listings:
        writer.writerow([
            item.vendor_id, item.sku, item.item_number, item.condition, item.name, item.price, item.brand,
            item.availability, item.release_year, item.link, item.vendor_id in detail_read,
        ])
    buffer.seek(0)
    return buffer


def stage_listings(conn: Connection, listings: Iterable[Listing], detail_read: set[str] = frozenset()) -> None:
    """Load listings into the transaction's `stage_listings` temp table with COPY (None -> NULL)."""
    conn.execute(text("DROP TABLE IF EXISTS stage_listings"))
    conn.execute(text(_STAGE))
    cursor = conn.connection.dbapi_connection.cursor()
    cursor.copy_expert(
        f"COPY stage_listings ({', '.join(_STAGE_COLUMNS)}) FROM STDIN WITH (FORMAT csv)",
        _csv_rows(listings, detail_read),
    )


def merge_partition(
    conn: Connection,
    vendor: str,
    year: int,
    listings: Sequence[Listing],
    observed_at: datetime,
    complete: bool,
    detail_read: set[str] = frozenset(),
) -> ProductsMerge:
    """Upsert one vendor-year's listings, inside the caller's transaction, holding the partition lock.

    Unseen listings are delisted only when `complete` (every page scraped) and the scrape saw at least
    `MIN_SHARE_BEFORE_DELISTING` of the listings that were listed before.
    """
    lock_partition(conn, vendor, year)
    params = {"vendor": vendor, "year": year, "observed_at": observed_at}
    listed_before = conn.execute(text(_LISTED_IN_PARTITION), params).scalar_one()
    stage_listings(conn, listings, detail_read)
    inserted = list(conn.execute(text(_UPSERT), params).scalars())
    skipped = None
    if not complete:
        skipped = "some pages failed, so unseen listings keep their current version"
    elif listed_before and len(listings) < MIN_SHARE_BEFORE_DELISTING * listed_before:
        skipped = f"listing count fell from {listed_before} to {len(listings)} (over 30%); not delisting"
    delisted = 0 if skipped else conn.execute(text(_DELIST_UNSEEN), params).rowcount
    return ProductsMerge(
        seen=len({item.vendor_id for item in listings}),
        new=sum(inserted),
        updated=len(inserted) - sum(inserted),
        delisted=delisted,
        listed_before=listed_before,
        delisting_skipped=skipped,
    )


def known_vendor_ids(conn: Connection, vendor: str, vendor_ids: Sequence[str]) -> set[str]:
    """Which of these listings already have their product page read (the rest need one read)."""
    rows = conn.execute(
        text("SELECT vendor_id FROM products WHERE vendor = :vendor AND vendor_id = ANY(:ids)"
             " AND detail_read_at IS NOT NULL"),
        {"vendor": vendor, "ids": list(vendor_ids)},
    )
    return set(rows.scalars())
