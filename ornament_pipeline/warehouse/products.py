"""`products`: the latest state of every listing, merged set-based from one staged scrape (`scrape_listings`).

Every write is ordered by observation time: a scrape older than the last one applied to its partition (the
partition's watermark, `partition_watermarks`) is not applied at all, and a row is never written by an observation
older than the one that last wrote it (`written_at`) or than its own partition's watermark, so an older scrape
that commits late never overwrites a newer one. A stored row is written only when a value changes, so a resync of
an unchanged site writes no row. Unseen listings are marked delisted only when the scrape was complete, every
listing it saw could be identified, and the partition did not shrink suspiciously.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Connection, text

from ornament_pipeline.listing import AVAILABILITIES, MAX_PRICE, Listing
from ornament_pipeline.warehouse.locks import lock_partition

# A complete scrape that sees fewer than this share of the listed products is not trusted to delist.
MIN_SHARE_BEFORE_DELISTING = 0.7
# When a listing was last seen as it is (the API's `last_synced_at`; the fair price's end of a current version). A
# merge writes a row only when it changes, so the row's `written_at` alone is the last change; a listed product was
# also seen by the last complete scrape of its partition that delisted what it did not see
# (`partition_watermarks.confirmed_at`). A delisted one was last seen before its delisting, its last write.
# Both read `products p` joined to `partition_watermarks w` by WATERMARK_JOIN.
LAST_SEEN = "CASE WHEN p.delisted_at IS NULL THEN GREATEST(p.written_at, w.confirmed_at) ELSE p.written_at END"
WATERMARK_JOIN = "LEFT JOIN partition_watermarks w ON w.vendor = p.vendor AND w.partition_year = p.partition_year"

# The column limits of `products` (ornament_pipeline/sql/migrations/0001_products.sql); a test holds them to the schema.
TEXT_LIMITS = {"vendor_id": 64, "sku": 64, "item_number": 32, "condition": 16, "name": 500, "brand": 200}
YEAR_RANGE = (1973, 2200)


def listing_problem(item: Listing) -> str | None:
    """Why this listing cannot be stored as it is (None when it fits the schema exactly, nothing rounded or cut).

    Checked before anything is staged, so one bad listing is set aside with its reason and the rest merges.
    """
    for name in ("vendor_id", "name", "link", "sku", "item_number", "condition", "brand", "availability_text"):
        value = getattr(item, name)
        if value is None:
            continue
        if not isinstance(value, str):
            return f"{name} is not text ({type(value).__name__} {value!r:.40})"
        if "\x00" in value:
            return f"{name} contains a NUL character"
        if not value.isascii():  # ASCII (most values) always encodes: skip building the bytes
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return f"{name} is not valid Unicode text"
        limit = TEXT_LIMITS.get(name)
        if limit is not None and len(value) > limit:
            return f"{name} is {len(value)} characters, over the column's {limit}"
    if not item.vendor_id or not item.vendor_id.strip():
        return "no vendor id"
    if not item.name or not item.name.strip():
        return "empty name"
    if not item.link or not item.link.startswith(("http://", "https://")):
        return f"link {item.link!r:.80} is not an http(s) address"
    if item.availability not in AVAILABILITIES:
        return f"availability {item.availability!r} is not one of {', '.join(AVAILABILITIES)}"
    if item.price is not None:
        price = item.price
        if not isinstance(price, Decimal) or not price.is_finite():
            return f"price {price!r} is not a finite decimal amount"
        if price <= 0 or price > MAX_PRICE:
            return f"price {price} is outside 0.01 .. {MAX_PRICE}"
        exponent = price.as_tuple().exponent
        if isinstance(exponent, int) and exponent < -2 and price != price.quantize(Decimal("0.01")):
            return f"price {price} has more than two decimals"
    if item.release_year is not None and (
        isinstance(item.release_year, bool) or not isinstance(item.release_year, int)
        or not YEAR_RANGE[0] <= item.release_year <= YEAR_RANGE[1]
    ):
        return f"release year {item.release_year!r} is outside {YEAR_RANGE[0]} .. {YEAR_RANGE[1]}"
    return None


# Counts the delisting decision needs (a NULL year matches no partition: a product-page sync lists nothing).
_LISTED_IN_PARTITION = """
SELECT count(*) FROM products WHERE vendor = :vendor AND partition_year = :year AND delisted_at IS NULL"""
_REJECTED_IDS = "SELECT count(DISTINCT vendor_id) FROM scrape_rejects WHERE scrape_id = :scrape_id"
_REJECTED_WITHOUT_ID = "SELECT 1 FROM scrape_rejects WHERE scrape_id = :scrape_id AND vendor_id IS NULL"

# What a staged listing `{s}` writes into its stored row: the listing's values, keeping what the listing page does not
# show (SKU, item number, condition, brand, year: from the product page) when it shows none. A stored row is written
# only when one of these would change it, so a resync of an unchanged site writes no row.
_WRITTEN_COLUMNS = ("name", "price", "availability", "availability_text", "link", "sku", "item_number", "condition",
                    "brand", "release_year", "partition_year", "detail_read_at", "delisted_at")
_KEPT_WHEN_UNSEEN = ("sku", "item_number", "condition", "brand", "release_year", "partition_year", "detail_read_at")


def _written_value(column: str, source: str, stored: str = "p.{}") -> str:
    if column == "delisted_at":
        return "NULL::timestamptz"  # seen: listed
    kept = stored.format(column)
    return f"COALESCE({source}.{column}, {kept})" if column in _KEPT_WHEN_UNSEEN else f"{source}.{column}"


def _assignments(source: str) -> str:
    return ", ".join([*(f"{c} = {_written_value(c, source)}" for c in _WRITTEN_COLUMNS),
                      f"written_at = {source}.written_at"])


def _changes(source: str, stored: str = "p.{}") -> str:
    return (f"({', '.join(stored.format(c) for c in _WRITTEN_COLUMNS)}) IS DISTINCT FROM"
            f" ({', '.join(_written_value(c, source, stored) for c in _WRITTEN_COLUMNS)})")


_STORED_COLUMNS = ("id", "written_at", *_WRITTEN_COLUMNS)
# The partition a stored row belongs to, as a number (`stored_owner`): its year, or 0 for listings of no known year.
NO_YEAR_OWNER = 0

# One statement per scrape. Each staged listing (the first occurrence of a vendor id wins, by ordinal, so the
# outcome never depends on plan order) is matched with its stored row by one index lookup, whatever the planner
# believes about the tables' sizes (a join it may plan as a nested loop over the partition's rows, from statistics
# of nearly empty tables, is quadratic). A stored row of another partition (a listing that moved year pages, or one
# a product-page sync sees) is written only while this transaction also holds that partition's lock (`:locked`,
# owners as `stored_owner` numbers): merges of two partitions that share a listing then serialise, so the older one sees
# the newer one's watermark and never overwrites what the newer one saw; a row not yet covered is left `deferred`
# and its owner reported, for merge_scrape to lock and merge again. A listing is stale when its stored row was
# written by a newer observation, or belongs to another partition whose watermark is newer; the observation's own
# partition watermark was checked before (scrapes.apply_pending). Stored rows are updated only where a value
# changes (an UPDATE, not ON CONFLICT, which would lock every unchanged row it meets); new listings are inserted.
# The counts the delisting decision needs are read in the same statement, so they see the partition as it was.
_MERGE_LISTINGS = f"""
WITH staged AS (
    SELECT DISTINCT ON (s.vendor_id)
           s.vendor_id, s.sku, s.item_number, s.condition, s.name, s.price, s.brand, s.availability,
           s.availability_text, s.release_year, s.link, CAST(:year AS smallint) AS partition_year,
           CAST(:observed_at AS timestamptz) AS written_at,
           CASE WHEN s.detail_read THEN CAST(:observed_at AS timestamptz) END AS detail_read_at
    FROM scrape_listings s
    WHERE s.scrape_id = :scrape_id
    ORDER BY s.vendor_id, s.ordinal
), matched AS (
    SELECT s.*, {", ".join(f"p.{c} AS stored_{c}" for c in _STORED_COLUMNS)},
           COALESCE(p.partition_year, {NO_YEAR_OWNER}) AS stored_owner
    FROM staged s
    -- LIMIT keeps the lookup from being flattened into a join that scans the vendor's products.
    LEFT JOIN LATERAL (SELECT {", ".join(f"p.{c}" for c in _STORED_COLUMNS)} FROM products p
                       WHERE p.vendor = :vendor AND p.vendor_id = s.vendor_id LIMIT 1) p ON true
), judged AS (
    SELECT m.*,
           m.stored_id IS NOT NULL AND m.stored_partition_year IS DISTINCT FROM CAST(:year AS smallint)
               AND NOT m.stored_owner = ANY(CAST(:locked AS smallint[])) AS deferred,
           m.stored_id IS NOT NULL AND (
               m.stored_written_at > :observed_at
               OR CASE WHEN m.stored_partition_year IS DISTINCT FROM CAST(:year AS smallint) THEN EXISTS (
                       SELECT 1 FROM partition_watermarks w
                       WHERE w.vendor = :vendor AND w.partition_year IS NOT DISTINCT FROM m.stored_partition_year
                         AND w.observed_at > :observed_at) ELSE false END) AS stale,
           m.stored_id IS NOT NULL AND {_changes("m", "m.stored_{}")} AS changed
    FROM matched m
), updated AS (
    UPDATE products p SET {_assignments("s")}
    FROM judged s
    WHERE s.changed AND NOT s.stale AND NOT s.deferred AND p.id = s.stored_id
      -- rechecked on the row as it is when locked (a product-page sync may have written it meanwhile)
      AND p.written_at <= s.written_at AND {_changes("s")}
    RETURNING p.id
), inserted AS (  -- ON CONFLICT: a merge of another partition may insert the same listing meanwhile
    INSERT INTO products AS p (vendor, vendor_id, {", ".join(_WRITTEN_COLUMNS)}, written_at)
    SELECT :vendor, vendor_id, {", ".join("NULL" if c == "delisted_at" else c for c in _WRITTEN_COLUMNS)}, written_at
    FROM judged WHERE stored_id IS NULL
    ON CONFLICT (vendor, vendor_id) DO UPDATE SET {_assignments("EXCLUDED")}
    WHERE p.written_at <= EXCLUDED.written_at AND {_changes("EXCLUDED")}
    RETURNING id, (xmax = 0) AS inserted
)
SELECT (SELECT count(*) FROM judged) AS staged,
       (SELECT count(*) FROM judged WHERE stale AND NOT deferred) AS stale,
       (SELECT COALESCE(array_agg(DISTINCT stored_owner), '{{}}') FROM judged WHERE deferred) AS unlocked_owners,
       (SELECT COALESCE(array_agg(stored_id), '{{}}') FROM judged
        WHERE NOT stale AND NOT deferred AND stored_id IS NOT NULL) AS seen_ids,
       (SELECT COALESCE(array_agg(id), '{{}}') FROM (SELECT id FROM updated UNION ALL SELECT id FROM inserted) w)
           AS written_ids,
       (SELECT count(*) FROM inserted WHERE inserted) AS inserted,
       ({_LISTED_IN_PARTITION}) AS listed_before,
       ({_REJECTED_IDS}) AS rejected_ids,
       EXISTS ({_REJECTED_WITHOUT_ID}) AS unidentified"""

# Rejected listings with a usable id were seen: they are not delisted for being absent from the merge. NOT IN
# over the scrape's ids is a hashed anti-join whatever the planner believes about the staged table's size (no
# index on vendor_id there: a NOT EXISTS planned as a nested loop was quadratic in the partition's size).
_DELIST_UNSEEN = """
UPDATE products p SET delisted_at = :observed_at, written_at = :observed_at
WHERE p.vendor = :vendor AND p.partition_year = :year AND p.delisted_at IS NULL
  AND p.written_at < :observed_at
  AND p.vendor_id NOT IN (SELECT vendor_id FROM scrape_listings WHERE scrape_id = :scrape_id)
  AND p.vendor_id NOT IN (SELECT vendor_id FROM scrape_rejects WHERE scrape_id = :scrape_id AND vendor_id IS NOT NULL)
RETURNING id"""

# What a scrape that is not merged saw: its distinct staged and rejected ids, and the partition's listed count.
_COUNTS_UNMERGED = f"""
SELECT (SELECT count(DISTINCT vendor_id) FROM scrape_listings WHERE scrape_id = :scrape_id) AS staged,
       ({_REJECTED_IDS}) AS rejected_ids, ({_LISTED_IN_PARTITION}) AS listed_before"""


@dataclass(frozen=True)
class ProductsMerge:
    """What one scrape's merge did, for materialization metadata and checks."""

    seen: int
    new: int
    updated: int  # stored listings whose values changed (the only stored rows written, with the delisted)
    stale: int  # listings the scrape saw that a newer observation had already written
    delisted: int
    listed_before: int
    delisting_skipped: str | None  # why unseen listings were not delisted, if they were not
    touched_ids: tuple[int, ...] = ()
    unchanged: int = 0  # stored listings seen as they were: not written

    @property
    def suspicious_drop(self) -> bool:
        return self.delisting_skipped is not None and self.delisting_skipped.startswith("listing count fell")

    @property
    def confirmed_partition(self) -> bool:
        """True when every listed product of the partition was seen (the unseen ones were delisted)."""
        return self.delisting_skipped is None

    @property
    def rows_written(self) -> int:
        """`products` rows inserted or updated."""
        return self.new + self.updated + self.delisted


def merge_scrape(conn: Connection, scrape_id: int, vendor: str, year: int | None, observed_at: datetime,
                 complete: bool, scope: str) -> ProductsMerge:
    """Upsert one staged scrape into `products` inside the caller's transaction (which holds the partition lock and
    has checked that no newer observation of the partition was applied).

    A partition scrape that is complete may delist what it did not see; a product-page scrape never delists.
    """
    params = {"vendor": vendor, "year": year, "observed_at": observed_at, "scrape_id": scrape_id}
    locked: list[int] = []
    merged = first = conn.execute(text(_MERGE_LISTINGS), {**params, "locked": locked}).one()
    written, inserted = set(merged.written_ids), merged.inserted
    while merged.unlocked_owners:  # listings stored under partitions this transaction does not hold yet
        for owner in sorted(merged.unlocked_owners):  # one order everywhere, so two merges rarely deadlock
            lock_partition(conn, vendor, None if owner == NO_YEAR_OWNER else owner)
        locked = sorted({*locked, *merged.unlocked_owners})
        merged = conn.execute(text(_MERGE_LISTINGS), {**params, "locked": locked}).one()
        written, inserted = written | set(merged.written_ids), inserted + merged.inserted
    listed_before, seen = first.listed_before, merged.staged + merged.rejected_ids  # listed before the first write
    skipped = None
    if scope != "partition":
        skipped = "a product-page sync never delists"
    elif not complete:
        skipped = "some pages failed, so unseen listings keep their current version"
    elif merged.unidentified:
        skipped = "a rejected listing had no usable id, so unseen listings keep their current version"
    elif listed_before and seen < MIN_SHARE_BEFORE_DELISTING * listed_before:
        skipped = f"listing count fell from {listed_before} to {seen} (over 30%); not delisting"
    delisted_ids = [] if skipped else list(conn.execute(text(_DELIST_UNSEEN), params).scalars())
    # A product-page scrape's history compares every stored listing it saw; a partition's compares the partition.
    touched = written | set(delisted_ids) | (set(merged.seen_ids) if scope == "products" else set())
    return ProductsMerge(
        seen=seen,
        new=inserted,
        updated=len(written) - inserted,
        stale=merged.stale,
        delisted=len(delisted_ids),
        listed_before=listed_before,
        delisting_skipped=skipped,
        touched_ids=tuple(sorted(touched)),
        unchanged=merged.staged - merged.stale - len(written),
    )


def stale_scrape(conn: Connection, scrape_id: int, vendor: str, year: int | None,
                 watermark: datetime) -> ProductsMerge:
    """What a scrape older than its partition's watermark would have merged: nothing, every listing stale."""
    counts = conn.execute(text(_COUNTS_UNMERGED), {"vendor": vendor, "year": year, "scrape_id": scrape_id}).one()
    return ProductsMerge(
        seen=counts.staged + counts.rejected_ids, new=0, updated=0, stale=counts.staged, delisted=0,
        listed_before=counts.listed_before,
        delisting_skipped=f"an observation of {watermark.isoformat()} was already applied; this older one is not",
    )


def listed_in_partition(conn: Connection, vendor: str, year: int) -> int:
    """How many listings of the vendor-year are currently listed (not delisted)."""
    return conn.execute(text(_LISTED_IN_PARTITION), {"vendor": vendor, "year": year}).scalar_one()


def stored_listings(conn: Connection, vendor: str, vendor_ids: Sequence[str]) -> dict[str, bool]:
    """Which of these listings are stored, each with whether its product page was read (else it needs one read)."""
    rows = conn.execute(
        text("SELECT vendor_id, detail_read_at IS NOT NULL FROM products WHERE vendor = :vendor"
             " AND vendor_id = ANY(:ids)"),
        {"vendor": vendor, "ids": list(vendor_ids)},
    )
    return {vendor_id: read for vendor_id, read in rows}

