"""`scrapes`, `scrape_listings`, `scrape_rejects`: observations staged in Postgres, then applied in order.

A scrape is recorded in one transaction (its listings staged with COPY, listings that do not fit the schema set
aside with their reason). Applying is a second transaction per partition that takes every pending scrape of
that partition, oldest observation first, and merges each into `products`, `price_history` and `change_events`
together. A run killed between the two leaves the scrape pending; the next merge of the partition applies it
before anything newer, so no observation is lost and none is applied out of order. Steps hand each other
nothing but the database.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Collection, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, text

from ornament_pipeline.listing import Listing
from ornament_pipeline.warehouse.history import HistorySnapshot, snapshot
from ornament_pipeline.warehouse.locks import lock_partition
from ornament_pipeline.warehouse.products import ProductsMerge, listing_problem, merge_scrape, stale_scrape

_STAGE_COLUMNS = ("scrape_id", "ordinal", "vendor_id", "sku", "item_number", "condition", "name", "price", "brand",
                  "availability", "availability_text", "release_year", "link", "detail_read")

_INSERT_SCRAPE = """
INSERT INTO scrapes (vendor, partition_year, scope, observed_at, complete, status, year_url, pages_visited,
                     failed_pages, run_id)
VALUES (:vendor, :year, :scope, :observed_at, :complete, :status, :year_url, :pages_visited,
        CAST(:failed_pages AS jsonb), :run_id)
RETURNING id"""

_INSERT_REJECT = """
INSERT INTO scrape_rejects (scrape_id, kind, vendor_id, reason, listing)
VALUES (:scrape_id, :kind, :vendor_id, :reason, CAST(:listing AS jsonb))"""

_PENDING = """
SELECT id, scope, observed_at, complete, status FROM scrapes
WHERE vendor = :vendor AND partition_year IS NOT DISTINCT FROM CAST(:year AS smallint) AND applied_at IS NULL
ORDER BY observed_at, id
FOR UPDATE"""

# The partition's watermark: the latest observation applied to it. An older pending one is stale and not applied.
_WATERMARK = """
SELECT observed_at, tracked_fields FROM partition_watermarks
WHERE vendor = :vendor AND partition_year IS NOT DISTINCT FROM CAST(:year AS smallint)"""

# A scrape applied: the partition's watermark advanced (unless the scrape was stale), the scrape marked applied with
# what its merge did, and its staged listings deleted, in one statement.
_FINISH_SCRAPE = """
WITH advanced AS (
    INSERT INTO partition_watermarks AS w (vendor, partition_year, observed_at, confirmed_at, tracked_fields)
    SELECT CAST(:vendor AS text), CAST(:year AS smallint), CAST(:observed_at AS timestamptz),
           CASE WHEN :confirmed THEN CAST(:observed_at AS timestamptz) END, CAST(:tracked AS text[])
    WHERE :advance
    ON CONFLICT ON CONSTRAINT partition_watermarks_key DO UPDATE
    SET observed_at = EXCLUDED.observed_at, confirmed_at = COALESCE(EXCLUDED.confirmed_at, w.confirmed_at),
        tracked_fields = EXCLUDED.tracked_fields
), applied AS (
    UPDATE scrapes SET applied_at = now(), merge_summary = CAST(:summary AS jsonb) WHERE id = :scrape_id
)
DELETE FROM scrape_listings WHERE scrape_id = :scrape_id"""


@dataclass(frozen=True)
class Reject:
    vendor_id: str | None
    link: str | None
    reason: str
    kind: str = "unfit"  # or "unidentified": first seen, product page unread, held back

    def __str__(self) -> str:
        return f"{self.vendor_id or '(no id)'} {self.link or ''}: {self.reason}".replace("  ", " ")


@dataclass(frozen=True)
class RecordedScrape:
    scrape_id: int
    staged: int
    rejects: list[Reject] = field(default_factory=list)  # values that do not fit the schema
    held_back: list[Reject] = field(default_factory=list)  # first seen, product page unread


@dataclass(frozen=True)
class AppliedScrape:
    scrape_id: int
    observed_at: datetime
    complete: bool
    status: str
    products: ProductsMerge
    history: HistorySnapshot

    @property
    def rows_written(self) -> dict[str, int]:
        """Rows this observation inserted or updated in the record (a resync of an unchanged site: all 0)."""
        return {"products": self.products.rows_written, **self.history.rows_written}


def _jsonable(value: Any) -> Any:
    """A rejected value as it was, in a form JSONB accepts (NUL and lone surrogates shown escaped)."""
    if isinstance(value, str):
        return value.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, Decimal):
        return str(value)
    return value if isinstance(value, int | float | bool | type(None)) else repr(value)


def _usable_id(item: Listing) -> str | None:
    vendor_id = item.vendor_id
    if isinstance(vendor_id, str) and vendor_id.strip() and "\x00" not in vendor_id:
        try:
            vendor_id.encode("utf-8")
        except UnicodeEncodeError:
            return None
        return vendor_id
    return None


def _csv(scrape_id: int, listings: Iterable[Listing], detail_read: Collection[str]) -> io.StringIO:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for ordinal, item in enumerate(listings):
        writer.writerow([
            scrape_id, ordinal, item.vendor_id, item.sku, item.item_number, item.condition, item.name, item.price,
            item.brand, item.availability, item.availability_text, item.release_year, item.link,
            item.vendor_id in detail_read,
        ])
    buffer.seek(0)
    return buffer


def record_scrape(
    conn: Connection,
    *,
    vendor: str,
    year: int | None,
    scope: str,
    observed_at: datetime,
    complete: bool,
    status: str,
    listings: Sequence[Listing],
    detail_read: Collection[str] = frozenset(),
    held_back: Sequence[tuple[Listing, str]] = (),
    failed_pages: Sequence[dict[str, Any]] = (),
    pages_visited: int = 0,
    year_url: str | None = None,
    run_id: str | None = None,
) -> RecordedScrape:
    """Stage one observation (inside the caller's transaction).

    Listings that do not fit the schema are set aside with their reason; `held_back` are first-seen listings whose
    product page could not be read, kept aside (with the reason) until a later scrape can read it."""
    scrape_id = conn.execute(text(_INSERT_SCRAPE), {
        "vendor": vendor, "year": year, "scope": scope, "observed_at": observed_at, "complete": complete,
        "status": status, "year_url": year_url, "pages_visited": pages_visited,
        "failed_pages": json.dumps(list(failed_pages)), "run_id": run_id,
    }).scalar_one()
    good: list[Listing] = []
    rejects: list[Reject] = []
    aside: list[Reject] = []

    def set_aside(item: Listing, reason: str, kind: str, into: list[Reject]) -> None:
        reject = Reject(_usable_id(item), item.link if isinstance(item.link, str) else None, reason, kind)
        into.append(reject)
        conn.execute(text(_INSERT_REJECT), {
            "scrape_id": scrape_id, "kind": kind, "vendor_id": reject.vendor_id, "reason": reason,
            "listing": json.dumps({k: _jsonable(v) for k, v in asdict(item).items()}),
        })

    for item in listings:
        problem = listing_problem(item)
        if problem is None:
            good.append(item)
        else:
            set_aside(item, problem, "unfit", rejects)
    for item, reason in held_back:
        set_aside(item, reason, "unidentified", aside)
    raw = conn.connection.dbapi_connection
    assert raw is not None, "a connection in a transaction has its DBAPI connection"
    cursor = raw.cursor()
    cursor.copy_expert(f"COPY scrape_listings ({', '.join(_STAGE_COLUMNS)}) FROM STDIN WITH (FORMAT csv)",
                       _csv(scrape_id, good, detail_read))
    return RecordedScrape(scrape_id, len(good), rejects, aside)


def apply_pending(conn: Connection, vendor: str, year: int | None, tracked: Sequence[str]) -> list[AppliedScrape]:
    """Apply every pending scrape of one partition, oldest observation first, inside the caller's transaction.

    Holds the partition lock, so two merges of one partition never interleave; each scrape's products merge,
    history versions, change events and the partition's watermark commit together with the scrape marked
    applied. A scrape older than the watermark (it started before a newer one was applied) is marked applied
    without writing anything, its listings counted stale.
    """
    lock_partition(conn, vendor, year)
    partition = {"vendor": vendor, "year": year}
    stored = conn.execute(text(_WATERMARK), partition).one_or_none()
    watermark, tracked_before = (stored.observed_at, stored.tracked_fields) if stored else (None, None)
    applied = []
    for row in conn.execute(text(_PENDING), partition).all():
        stale = False
        if watermark is not None and row.observed_at < watermark:
            stale, merged, versions = True, stale_scrape(conn, row.id, vendor, year, watermark), HistorySnapshot()
        else:
            merged = merge_scrape(conn, row.id, vendor, year, row.observed_at, row.complete, row.scope)
            # Only rows this merge wrote can differ from their current version, unless what is tracked changed:
            # then the whole partition is compared (a product-page scrape compares the listings it saw).
            whole_partition = row.scope == "partition" and tracked_before != list(tracked)
            versions = HistorySnapshot() if not (whole_partition or merged.touched_ids) else snapshot(
                conn, tracked, vendor, year, observed_at=row.observed_at,
                product_ids=None if whole_partition else merged.touched_ids)
            if row.scope == "partition":
                tracked_before = list(tracked)  # every row of the partition now agrees with its current version
            watermark = row.observed_at
        result = AppliedScrape(row.id, row.observed_at, row.complete, row.status, merged, versions)
        summary = {**asdict(merged), "touched_ids": len(merged.touched_ids), "history": asdict(versions),
                   "rows_written": result.rows_written}
        conn.execute(text(_FINISH_SCRAPE), {
            **partition, "scrape_id": row.id, "summary": json.dumps(summary), "advance": not stale,
            "observed_at": row.observed_at, "tracked": tracked_before,
            "confirmed": row.scope == "partition" and merged.confirmed_partition})
        applied.append(result)
    return applied


def merge_observation(conn: Connection, vendor: str, year: int | None, listings: Sequence[Listing],
                      observed_at: datetime, *, complete: bool, tracked: Sequence[str],
                      detail_read: Collection[str] = frozenset(), scope: str = "partition") -> AppliedScrape:
    """Record one observation and apply it (with anything older still pending) in the caller's transaction:
    what a scrape and the merge do together, for loaders, tests and benchmarks."""
    recorded = record_scrape(conn, vendor=vendor, year=year, scope=scope, observed_at=observed_at,
                             complete=complete, status="complete" if complete else "incomplete",
                             listings=listings, detail_read=detail_read)
    return next(a for a in apply_pending(conn, vendor, year, tracked) if a.scrape_id == recorded.scrape_id)
