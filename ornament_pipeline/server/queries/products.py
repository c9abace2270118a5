"""`products` and `price_history`: search with keyset pagination, one product, its versions, counts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Connection

from ornament_pipeline.server.cursors import bad_cursor, decode_cursor, encode_cursor
from ornament_pipeline.server.queries.rows import fetch_dicts, fetch_one
from ornament_pipeline.warehouse.products import LAST_SEEN, WATERMARK_JOIN

# When the listing was last seen as it is (docs/api.md, `last_synced_at`): warehouse/products.LAST_SEEN says how.
PRODUCTS_FROM = f"products p {WATERMARK_JOIN}"
PRODUCT_COLUMNS = (
    "p.id, p.vendor, p.vendor_id, p.sku, p.item_number, p.condition, p.name, p.price, p.brand, p.availability,"
    f" p.release_year, p.link, (p.delisted_at IS NULL) AS listed, p.delisted_at, {LAST_SEEN} AS last_synced_at,"
    " p.created_at"
)


@dataclass(frozen=True)
class SortKey:
    """A whitelisted sort: the column or expression (of this module, never user text) and its value type."""

    column: str
    nullable: bool
    parse: Callable[[Any], Any]


# A cursor's values are checked to be what this API could have written (a forger's value must be a 422, not a
# Postgres error): money as products.price holds it, NUMERIC(10,2); ints in the column's range; text that
# UTF-8 can carry; timestamps that Postgres accepts once normalised to UTC (it refuses offsets beyond 15:59).
MAX_PRICE_DIGITS = 8  # NUMERIC(10,2): at most 8 digits before the point


def _decimal(value: Any) -> Decimal:
    if not isinstance(value, str):
        raise ValueError(value)
    parsed = Decimal(value)
    # Checked on the tuple, before any arithmetic: "1e999999999" must not be expanded.
    if not parsed.is_finite() or parsed.as_tuple().exponent < -2 or parsed.adjusted() >= MAX_PRICE_DIGITS:  # type: ignore[operator]
        raise ValueError(value)
    return parsed


def _int(value: Any, bits: int = 64) -> int:
    bound = 2 ** (bits - 1)
    if not isinstance(value, int) or isinstance(value, bool) or not -bound <= value < bound:
        raise ValueError(value)
    return value


def _int32(value: Any) -> int:
    return _int(value, 32)


def _str(value: Any) -> str:
    if not isinstance(value, str) or "\x00" in value:
        raise ValueError(value)
    value.encode("utf-8")  # a lone surrogate ("\ud800") raises UnicodeEncodeError, a ValueError
    return value


def _timestamp(value: Any) -> datetime:
    parsed = datetime.fromisoformat(_str(value))
    if parsed.tzinfo is None:
        raise ValueError(value)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+23:59 is a day before year 1
        raise ValueError(value) from None


SORTS: dict[str, SortKey] = {
    "name": SortKey("p.name", False, _str),
    "price": SortKey("p.price", True, _decimal),
    "release_year": SortKey("p.release_year", True, _int32),
    "updated": SortKey(LAST_SEEN, False, _timestamp),
    "id": SortKey("p.id", False, _int),
}


@dataclass(frozen=True)
class ProductFilters:
    vendor: str | None = None
    year: int | None = None
    availability: str | None = None
    q: str | None = None
    item_number: str | None = None
    condition: str | None = None
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    include_delisted: bool = False


def like_pattern(text_value: str) -> str:
    """`%text%` with LIKE's own metacharacters escaped, so user text matches literally."""
    escaped = text_value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _where(filters: ProductFilters) -> tuple[list[str], dict[str, Any]]:
    clauses: list[str] = []
    params: dict[str, Any] = {}
    simple = (("vendor", "p.vendor"), ("year", "p.release_year"), ("availability", "p.availability"),
              ("item_number", "p.item_number"), ("condition", "p.condition"))
    for name, column in simple:
        value = getattr(filters, name)
        if value is not None:
            clauses.append(f"{column} = :{name}")
            params[name] = value
    if filters.q:
        clauses.append("(p.name ILIKE :q ESCAPE '\\' OR p.sku ILIKE :q ESCAPE '\\')")
        params["q"] = like_pattern(filters.q)
    if filters.min_price is not None:
        clauses.append("p.price >= :min_price")
        params["min_price"] = filters.min_price
    if filters.max_price is not None:
        clauses.append("p.price <= :max_price")
        params["max_price"] = filters.max_price
    if not filters.include_delisted:
        clauses.append("p.delisted_at IS NULL")
    return clauses, params


def _key_expressions(sort: SortKey, order: str) -> list[str]:
    """Sort key columns, all non-null, so a row comparison pages correctly; NULL values sort last either way."""
    if not sort.nullable:
        return [sort.column, "p.id"] if sort.column != "p.id" else ["p.id"]
    flag = f"({sort.column} IS NULL)" if order == "asc" else f"({sort.column} IS NOT NULL)"
    return [flag, f"COALESCE({sort.column}, 0)", "p.id"]


def _cursor_params(sort: SortKey, key: list[Any], width: int) -> list[Any]:
    if len(key) != width:
        raise bad_cursor("not a cursor returned by this API")
    try:
        if width == 1:
            return [_int(key[0])]
        if width == 2:
            return [sort.parse(key[0]), _int(key[1])]
        if not isinstance(key[0], bool):
            raise ValueError(key[0])
        return [key[0], sort.parse(key[1]), _int(key[2])]
    except (ValueError, TypeError, InvalidOperation, OverflowError):
        raise bad_cursor("not a cursor returned by this API") from None


def search_products(
    conn: Connection, filters: ProductFilters, sort: str, order: str, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of products and the cursor of the next page (None on the last)."""
    sort_key = SORTS[sort]
    clauses, params = _where(filters)
    keys = _key_expressions(sort_key, order)
    direction = "ASC" if order == "asc" else "DESC"
    if cursor:
        values = _cursor_params(sort_key, decode_cursor(cursor, sort, order), len(keys))
        names = [f"c{i}" for i in range(len(keys))]
        comparison = ">" if order == "asc" else "<"
        clauses.append(f"({', '.join(keys)}) {comparison} ({', '.join(':' + n for n in names)})")
        params.update(zip(names, values, strict=True))
    key_select = ", ".join(f"{expr} AS k{i}" for i, expr in enumerate(keys))
    sql = (f"SELECT {PRODUCT_COLUMNS}, {key_select} FROM {PRODUCTS_FROM}"
           f"{' WHERE ' + ' AND '.join(clauses) if clauses else ''}"
           f" ORDER BY {', '.join(f'{expr} {direction}' for expr in keys)} LIMIT :limit")
    params["limit"] = limit + 1
    rows = fetch_dicts(conn, sql, params)
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor(sort, order, [last[f"k{i}"] for i in range(len(keys))])
    for row in rows:
        for i in range(len(keys)):
            row.pop(f"k{i}")
    return rows, next_cursor


def get_product(conn: Connection, product_id: int) -> dict[str, Any] | None:
    return fetch_one(conn, f"SELECT {PRODUCT_COLUMNS} FROM {PRODUCTS_FROM} WHERE p.id = :id", {"id": product_id})


_HISTORY = """
SELECT id, price, availability, name, sku, condition, item_number, link, is_delisted, valid_from, valid_to
FROM price_history
WHERE product_id = :product_id {after}
ORDER BY valid_from, id
LIMIT :limit"""


def product_history(
    conn: Connection, product_id: int, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """Versions oldest first, paged by (valid_from, id)."""
    params: dict[str, Any] = {"product_id": product_id, "limit": limit + 1}
    after = ""
    if cursor:
        key = decode_cursor(cursor, "valid_from", "asc")
        if len(key) != 2:
            raise bad_cursor("not a cursor returned by this API")
        try:
            params["c0"], params["c1"] = _timestamp(key[0]), _int(key[1])
        except (ValueError, TypeError, OverflowError):
            raise bad_cursor("not a cursor returned by this API") from None
        after = "AND (valid_from, id) > (:c0, :c1)"
    rows = fetch_dicts(conn, _HISTORY.format(after=after), params)
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor("valid_from", "asc", [rows[-1]["valid_from"].isoformat(), rows[-1]["id"]])
    return rows, next_cursor


_VENDOR_COUNTS = """
SELECT vendor, count(*) AS products, count(*) FILTER (WHERE delisted_at IS NULL) AS listed,
       count(*) FILTER (WHERE delisted_at IS NULL AND availability = 'available') AS available
FROM products GROUP BY vendor"""

_YEAR_COUNTS = """
SELECT release_year AS year, count(*) AS products, count(*) FILTER (WHERE delisted_at IS NULL) AS listed,
       count(*) FILTER (WHERE delisted_at IS NULL AND availability = 'available') AS available
FROM products
WHERE CAST(:vendor AS text) IS NULL OR vendor = :vendor
GROUP BY release_year ORDER BY release_year NULLS LAST"""


def vendor_counts(conn: Connection) -> dict[str, dict[str, Any]]:
    return {row["vendor"]: row for row in fetch_dicts(conn, _VENDOR_COUNTS)}


def year_counts(conn: Connection, vendor: str | None) -> list[dict[str, Any]]:
    return fetch_dicts(conn, _YEAR_COUNTS, {"vendor": vendor})
