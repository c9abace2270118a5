"""`products`: the latest state of every listing, merged set-based from one staged scrape (`scrape_listings`).

Every write is ordered by observation time: a scrape older than the last one applied to its partition (the
partition's watermark, `partition_watermarks`) is not applied at all, and a row is never written by an observation
older than the one that last wrote it (`written_at`) or than its own partition's watermark, so an older scrape
that commits late never overwrites a newer one. A stored row is written only when a value changes. Unseen listings are marked delisted only when the scrape was complete, every
listing it saw could be identified, and the partition did not shrink suspiciously.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Connection, text

from ornament_pipeline.listing import AVAILABILITIES, MAX_PRICE, Listing

# A complete scrape that sees fewer than this share of the listed products is not trusted to delist.
MIN_SHARE_BEFORE_DELISTING = 0.7

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


_LISTED_IN_PARTITION = """
SELECT count(*) FROM products WHERE vendor = :vendor AND partition_year = :year AND delisted_at IS NULL"""

# A stored listing that an observation newer than this one already wrote, or that belongs to another partition
# whose watermark is newer (a listing that moved year pages): this observation must not overwrite it. The
# observation's own partition watermark is checked before the merge starts (scrapes.apply_pending).
_WRITTEN_BY_NEWER = """
p.vendor = :vendor AND p.vendor_id = s.vendor_id
AND (p.written_at > :observed_at
     OR (p.partition_year IS DISTINCT FROM CAST(:year AS smallint)
         AND EXISTS (SELECT 1 FROM partition_watermarks w
                     WHERE w.vendor = p.vendor AND w.partition_year IS NOT DISTINCT FROM p.partition_year
                       AND w.observed_at > :observed_at)))"""

_STALE_LISTINGS = f"""
SELECT count(DISTINCT s.vendor_id) FROM scrape_listings s
WHERE s.scrape_id = :scrape_id AND EXISTS (SELECT 1 FROM products p WHERE {_WRITTEN_BY_NEWER})"""

# The first occurrence of a vendor id in the scrape wins (ordinal), so the outcome never depends on plan order. A
# stored row is written only when one of its values would change, so a resync of an unchanged site writes none.
_UPSERT = f"""
INSERT INTO products AS p (vendor, vendor_id, sku, item_number, condition, name, price, brand, availability,
                           availability_text, release_year, link, partition_year, written_at, detail_read_at,
                           delisted_at)
SELECT DISTINCT ON (vendor_id)
       :vendor, vendor_id, sku, item_number, condition, name, price, brand, availability, availability_text,
       release_year, link, CAST(:year AS smallint), :observed_at, CASE WHEN detail_read THEN :observed_at END, NULL
FROM scrape_listings s
WHERE scrape_id = :scrape_id AND NOT EXISTS (SELECT 1 FROM products p WHERE {_WRITTEN_BY_NEWER})
ORDER BY vendor_id, ordinal
ON CONFLICT (vendor, vendor_id) DO UPDATE SET
    name = EXCLUDED.name, price = EXCLUDED.price, availability = EXCLUDED.availability,
    availability_text = EXCLUDED.availability_text, link = EXCLUDED.link,
    sku = COALESCE(EXCLUDED.sku, p.sku),
    item_number = COALESCE(EXCLUDED.item_number, p.item_number),
    condition = COALESCE(EXCLUDED.condition, p.condition),
    brand = COALESCE(EXCLUDED.brand, p.brand),
    release_year = COALESCE(EXCLUDED.release_year, p.release_year),
    partition_year = COALESCE(EXCLUDED.partition_year, p.partition_year),
    written_at = EXCLUDED.written_at,
    detail_read_at = COALESCE(EXCLUDED.detail_read_at, p.detail_read_at),
    delisted_at = NULL
WHERE (p.name, p.price, p.availability, p.availability_text, p.link, p.sku, p.item_number, p.condition, p.brand,
       p.release_year, p.partition_year, p.detail_read_at, p.delisted_at)
      IS DISTINCT FROM
      (EXCLUDED.name, EXCLUDED.price, EXCLUDED.availability, EXCLUDED.availability_text, EXCLUDED.link,
       COALESCE(EXCLUDED.sku, p.sku), COALESCE(EXCLUDED.item_number, p.item_number),
       COALESCE(EXCLUDED.condition, p.condition), COALESCE(EXCLUDED.brand, p.brand),
       COALESCE(EXCLUDED.release_year, p.release_year), COALESCE(EXCLUDED.partition_year, p.partition_year),
       COALESCE(EXCLUDED.detail_read_at, p.detail_read_at), NULL::timestamptz)
RETURNING id, (xmax = 0) AS inserted"""

# The stored listings a product-page scrape saw and may write: the history compares exactly these.
_SEEN_IDS = f"""
SELECT p.id FROM products p JOIN scrape_listings s ON s.scrape_id = :scrape_id AND p.vendor = :vendor
                                                  AND p.vendor_id = s.vendor_id
WHERE NOT ({_WRITTEN_BY_NEWER})"""

# Rejected listings with a usable id were seen: they are not delisted for being absent from the merge.
_DELIST_UNSEEN = """
UPDATE products p SET delisted_at = :observed_at, written_at = :observed_at
WHERE p.vendor = :vendor AND p.partition_year = :year AND p.delisted_at IS NULL
  AND p.written_at < :observed_at
  AND NOT EXISTS (SELECT 1 FROM scrape_listings s WHERE s.scrape_id = :scrape_id AND s.vendor_id = p.vendor_id)
  AND NOT EXISTS (SELECT 1 FROM scrape_rejects r WHERE r.scrape_id = :scrape_id AND r.vendor_id = p.vendor_id)
RETURNING id"""

_SEEN = """
SELECT (SELECT count(DISTINCT vendor_id) FROM scrape_listings WHERE scrape_id = :scrape_id)
     + (SELECT count(DISTINCT vendor_id) FROM scrape_rejects WHERE scrape_id = :scrape_id),
       EXISTS (SELECT 1 FROM scrape_rejects WHERE scrape_id = :scrape_id AND vendor_id IS NULL),
       (SELECT count(DISTINCT vendor_id) FROM scrape_listings WHERE scrape_id = :scrape_id)"""


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


def _counts(conn: Connection, params: dict[str, object], vendor: str,
            year: int | None) -> tuple[int, bool, int, int]:
    """Listed before the merge; whether a reject had no usable id; listings seen (staged and rejected); staged."""
    listed_before = listed_in_partition(conn, vendor, year) if year is not None else 0
    seen, unidentified, staged = conn.execute(text(_SEEN), params).one()
    return listed_before, unidentified, seen, staged


def merge_scrape(conn: Connection, scrape_id: int, vendor: str, year: int | None, observed_at: datetime,
                 complete: bool, scope: str) -> ProductsMerge:
    """Upsert one staged scrape into `products` inside the caller's transaction (which holds the partition lock and
    has checked that no newer observation of the partition was applied).

    A partition scrape that is complete may delist what it did not see; a product-page scrape never delists.
    """
    params = {"vendor": vendor, "year": year, "observed_at": observed_at, "scrape_id": scrape_id}
    listed_before, unidentified, seen, staged = _counts(conn, params, vendor, year)
    stale = conn.execute(text(_STALE_LISTINGS), params).scalar_one()
    upserted = conn.execute(text(_UPSERT), params).all()
    skipped = None
    if scope != "partition":
        skipped = "a product-page sync never delists"
    elif not complete:
        skipped = "some pages failed, so unseen listings keep their current version"
    elif unidentified:
        skipped = "a rejected listing had no usable id, so unseen listings keep their current version"
    elif listed_before and seen < MIN_SHARE_BEFORE_DELISTING * listed_before:
        skipped = f"listing count fell from {listed_before} to {seen} (over 30%); not delisting"
    delisted_ids = [] if skipped else list(conn.execute(text(_DELIST_UNSEEN), params).scalars())
    inserted = sum(1 for row in upserted if row.inserted)
    touched = {row.id for row in upserted} | set(delisted_ids)
    if scope == "products":
        touched |= set(conn.execute(text(_SEEN_IDS), params).scalars())
    return ProductsMerge(
        seen=seen,
        new=inserted,
        updated=len(upserted) - inserted,
        stale=stale,
        delisted=len(delisted_ids),
        listed_before=listed_before,
        delisting_skipped=skipped,
        touched_ids=tuple(sorted(touched)),
        unchanged=staged - stale - len(upserted),
    )


def stale_scrape(conn: Connection, scrape_id: int, vendor: str, year: int | None,
                 watermark: datetime) -> ProductsMerge:
    """What a scrape older than its partition's watermark would have merged: nothing, every listing stale."""
    params = {"vendor": vendor, "year": year, "scrape_id": scrape_id}
    listed_before, _, seen, staged = _counts(conn, params, vendor, year)
    return ProductsMerge(
        seen=seen, new=0, updated=0, stale=staged, delisted=0, listed_before=listed_before,
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

