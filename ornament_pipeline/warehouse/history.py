"""`price_history` and `change_events`: SCD type 2 snapshots of `products`, check strategy.

Like a dbt snapshot of `products` with `strategy='check'` and `hard_deletes='new_record'`: a product whose
tracked fields differ (`IS DISTINCT FROM`) from its current version, or whose listed/delisted state flipped,
gets its current version closed at the observation time and a new one opened, and one change event is written
in the same transaction (the auditor's outbox; a trigger NOTIFYs listeners on commit).

The identity fields (SKU, item number, condition) are compared too, whatever is tracked: the current version
always agrees with `products` on who the listing is. A listing first stored without its item number (its
product page failed) gets an `identified` version and event once the item number is known, so watches by item
number see it exactly once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, text

from ornament_pipeline.config import TRACKABLE_FIELDS

# One statement: the products in scope that differ from their current version (or have none) get it closed and a
# new one opened, each with its change event. No step joins two intermediate results (a join the planner may run as
# a nested loop over both, from statistics of nearly empty tables, is quadratic): each new version's id is drawn
# up front, and a version is opened from the row its closing returns, so the closing has happened by then and the
# one-current-version index holds at every row (were it ever otherwise, the insert would fail on that index, never
# store two current versions).
_SNAPSHOT = """
WITH changes AS MATERIALIZED (
    SELECT p.id AS product_id, p.price, p.availability, p.availability_text, p.name, p.sku, p.condition,
           p.item_number, p.link, p.delisted_at IS NOT NULL AS is_delisted,
           CAST(:observed_at AS timestamptz) AS observed_at,  -- the observation being applied
           h.id AS current_id, h.valid_from AS current_from, h.is_delisted AS current_delisted,
           {current_columns},
           nextval('price_history_id_seq') AS version_id
    FROM products p
    LEFT JOIN price_history h ON h.product_id = p.id AND h.valid_to IS NULL
    WHERE {scope}
      AND (h.id IS NULL
           OR (CAST(:observed_at AS timestamptz) > h.valid_from  -- else the current version is as new as this
               AND ((p.delisted_at IS NOT NULL) IS DISTINCT FROM h.is_delisted OR {any_tracked_change})))
), closed AS (
    UPDATE price_history h SET valid_to = c.observed_at
    FROM changes c WHERE h.id = c.current_id
    RETURNING c.*
), versions AS (
    SELECT * FROM changes WHERE current_id IS NULL
    UNION ALL
    SELECT * FROM closed
), opened AS (
    INSERT INTO price_history (id, product_id, price, availability, availability_text, name, sku, condition,
                               item_number, link, is_delisted, valid_from)
    SELECT version_id, product_id, price, availability, availability_text, name, sku, condition, item_number, link,
           is_delisted, observed_at
    FROM versions
)
INSERT INTO change_events (product_id, history_id, kind, changed_fields, old_values, new_values, occurred_at)
SELECT s.product_id, s.version_id,
       CASE WHEN s.current_id IS NULL THEN 'new'
            WHEN s.is_delisted AND NOT s.current_delisted THEN 'delisted'
            WHEN s.current_delisted AND NOT s.is_delisted THEN 'relisted'
            WHEN s.current_item_number IS NULL AND s.item_number IS NOT NULL THEN 'identified'
            ELSE 'changed' END,
       CASE WHEN s.current_id IS NULL THEN '{{}}'::text[] ELSE array_remove(ARRAY[{changed_fields}], NULL) END,
       CASE WHEN s.current_id IS NULL THEN NULL ELSE jsonb_build_object({old_values}) END,
       jsonb_build_object({new_values}),
       s.observed_at
FROM versions s
ORDER BY s.product_id  -- events of one observation in a fixed order: listing by listing
RETURNING kind"""


# Compared on every snapshot, tracked or not: who the listing is.
IDENTITY_FIELDS = ("sku", "item_number", "condition")
EVENT_KINDS = ("new", "changed", "delisted", "relisted", "identified")


@dataclass(frozen=True)
class HistorySnapshot:
    new: int = 0
    changed: int = 0
    delisted: int = 0
    relisted: int = 0
    identified: int = 0

    @property
    def versions(self) -> int:
        return self.new + self.changed + self.delisted + self.relisted + self.identified

    @property
    def rows_written(self) -> dict[str, int]:
        """Rows this snapshot inserted or updated: a version per change (closing the previous one unless new), and
        its change event."""
        return {"price_history": 2 * self.versions - self.new, "change_events": self.versions}

    def __add__(self, other: HistorySnapshot) -> HistorySnapshot:
        return HistorySnapshot(*(getattr(self, k) + getattr(other, k) for k in EVENT_KINDS))


def _sql_parts(tracked: Sequence[str]) -> dict[str, str]:
    # Field names are identifiers from a fixed whitelist, never user text, so they may be spliced in.
    unknown = set(tracked) - set(TRACKABLE_FIELDS)
    if unknown or not tracked:
        raise ValueError(f"tracked fields must be a non-empty subset of {TRACKABLE_FIELDS}, got {tracked}")
    compared = [*tracked, *(f for f in IDENTITY_FIELDS if f not in tracked)]
    return {
        "current_columns": ", ".join(f"h.{f} AS current_{f}" for f in TRACKABLE_FIELDS),
        "any_tracked_change": " OR ".join(f"p.{f} IS DISTINCT FROM h.{f}" for f in compared),
        "changed_fields": ", ".join(
            f"CASE WHEN s.{f} IS DISTINCT FROM s.current_{f} THEN '{f}' END" for f in compared
        ),
        "old_values": ", ".join(
            [f"'{f}', s.current_{f}" for f in TRACKABLE_FIELDS] + ["'is_delisted', s.current_delisted"]
        ),
        "new_values": ", ".join([f"'{f}', s.{f}" for f in TRACKABLE_FIELDS] + ["'is_delisted', s.is_delisted"]),
    }


def snapshot(
    conn: Connection,
    tracked: Sequence[str],
    vendor: str,
    year: int | None = None,
    product_ids: Sequence[int] | None = None,
    *,
    observed_at: datetime,
) -> HistorySnapshot:
    """Record new versions for one partition (vendor + year) or for given products of one vendor, as seen by the
    observation of `observed_at` (the one just merged into `products`): changes open versions from then.

    Runs inside `scrapes.apply_pending`'s transaction, which holds the partition lock, so the versions commit with
    their events and the products merge they record.
    """
    parts = _sql_parts(tracked)
    params: dict[str, object]
    if product_ids is not None:
        scope, params = "p.vendor = :vendor AND p.id = ANY(:ids)", {"vendor": vendor, "ids": list(product_ids)}
    else:
        scope, params = "p.vendor = :vendor AND p.partition_year = :year", {"vendor": vendor, "year": year}
    params["observed_at"] = observed_at
    kinds = list(conn.execute(text(_SNAPSHOT.format(scope=scope, **parts)), params).scalars())
    return HistorySnapshot(*(kinds.count(k) for k in EVENT_KINDS))
