"""What the per-partition asset checks ask of the warehouse: invariants the schema alone cannot enforce.

Each query returns the offending listings of one vendor-year (at most `limit`), so a check names them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, text

from ornament_pipeline.warehouse.history import IDENTITY_FIELDS

# Listed products of the partition whose current version is missing or says something else than `products`
# about who the listing is, what it costs, its stock, or whether it is listed.
_VERSION_DISAGREES = """
SELECT p.vendor_id, CASE WHEN h.id IS NULL THEN 'no current version'
                         ELSE 'differs on ' || array_to_string(array_remove(ARRAY[{differs}], NULL), ', ') END AS detail
FROM products p
LEFT JOIN price_history h ON h.product_id = p.id AND h.valid_to IS NULL
WHERE p.vendor = :vendor AND p.partition_year = :year
  AND (h.id IS NULL OR {any_differs})
ORDER BY p.vendor_id
LIMIT :limit"""

# Every version of the partition's listings has exactly one change event, and every event one version.
_EVENTS_NOT_VERSIONS = """
SELECT p.vendor_id, h.id AS history_id, count(e.id) AS events
FROM products p
JOIN price_history h ON h.product_id = p.id
LEFT JOIN change_events e ON e.history_id = h.id
WHERE p.vendor = :vendor AND p.partition_year = :year
GROUP BY p.vendor_id, h.id
HAVING count(e.id) <> 1
ORDER BY p.vendor_id, h.id
LIMIT :limit"""

_WITHOUT_PRODUCT_PAGE = """
SELECT vendor_id, link FROM products
WHERE vendor = :vendor AND partition_year = :year AND delisted_at IS NULL AND detail_read_at IS NULL
ORDER BY vendor_id
LIMIT :limit"""

_COUNT_WITHOUT_PRODUCT_PAGE = """
SELECT count(*) FROM products
WHERE vendor = :vendor AND partition_year = :year AND delisted_at IS NULL AND detail_read_at IS NULL"""


@dataclass(frozen=True)
class Finding:
    vendor_id: str
    detail: str

    def __str__(self) -> str:
        return f"{self.vendor_id}: {self.detail}"


def versions_disagreeing(conn: Connection, vendor: str, year: int, tracked: Sequence[str],
                         limit: int = 50) -> list[Finding]:
    fields = [*dict.fromkeys([*IDENTITY_FIELDS, *tracked])]
    differs = ", ".join(f"CASE WHEN h.{f} IS DISTINCT FROM p.{f} THEN '{f}' END" for f in fields)
    differs += ", CASE WHEN h.is_delisted <> (p.delisted_at IS NOT NULL) THEN 'listed/delisted' END"
    any_differs = " OR ".join([*(f"h.{f} IS DISTINCT FROM p.{f}" for f in fields),
                               "h.is_delisted <> (p.delisted_at IS NOT NULL)"])
    rows = conn.execute(text(_VERSION_DISAGREES.format(differs=differs, any_differs=any_differs)),
                        {"vendor": vendor, "year": year, "limit": limit})
    return [Finding(r.vendor_id, r.detail) for r in rows]


def versions_without_one_event(conn: Connection, vendor: str, year: int, limit: int = 50) -> list[Finding]:
    rows = conn.execute(text(_EVENTS_NOT_VERSIONS), {"vendor": vendor, "year": year, "limit": limit})
    return [Finding(r.vendor_id, f"version {r.history_id} has {r.events} change events") for r in rows]


def listings_without_product_page(conn: Connection, vendor: str, year: int,
                                  limit: int = 50) -> tuple[int, list[Finding]]:
    params = {"vendor": vendor, "year": year, "limit": limit}
    count = conn.execute(text(_COUNT_WITHOUT_PRODUCT_PAGE), params).scalar_one()
    return count, [Finding(r.vendor_id, r.link) for r in conn.execute(text(_WITHOUT_PRODUCT_PAGE), params)]



@dataclass(frozen=True)
class Column:
    name: str
    type: str
    nullable: bool


def columns_of(conn: Connection, table: str) -> list[Column]:
    """The table's columns as the database has them (the schema the catalog shows is the real one)."""
    rows = conn.execute(text(
        "SELECT column_name, data_type, character_maximum_length, numeric_precision, numeric_scale, is_nullable"
        " FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = :table"
        " ORDER BY ordinal_position"), {"table": table})
    columns = []
    for name, data_type, length, precision, scale, nullable in rows:
        shown = data_type
        if length:
            shown = f"{data_type}({length})"
        elif data_type == "numeric" and precision:
            shown = f"numeric({precision},{scale})"
        columns.append(Column(name, shown, nullable == "YES"))
    return columns


_PARTITION_ROWS = {
    "products": "SELECT count(*) FROM products WHERE vendor = :vendor AND partition_year = :year",
    "price_history": "SELECT count(*) FROM price_history h JOIN products p ON p.id = h.product_id"
                     " WHERE p.vendor = :vendor AND p.partition_year = :year",
}


def partition_rows(conn: Connection, table: str, vendor: str, year: int) -> int:
    """Rows of `products` or `price_history` that belong to one vendor-year."""
    return conn.execute(text(_PARTITION_ROWS[table]), {"vendor": vendor, "year": year}).scalar_one()

