"""Cross-vendor offers of one Hallmark item number, computed live from `products`.

Live rather than from `cross_vendor_offers` (rebuilt by a Dagster asset after syncs) so the API never lags
the products it also serves; the ranking is the same as `ornament_pipeline/warehouse/offers.py`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text

from ornament_pipeline.server.queries.rows import fetch_dicts

_OFFERS = """
WITH current AS (
    SELECT id AS product_id, vendor, COALESCE(condition, '') AS condition, name, price, availability, link,
           min(price) FILTER (WHERE availability = 'available' AND price IS NOT NULL)
               OVER (PARTITION BY COALESCE(condition, '')) AS cheapest
    FROM products
    WHERE item_number = :item_number AND delisted_at IS NULL
), ranked AS (
    SELECT *, row_number() OVER (PARTITION BY condition
                                 ORDER BY (availability = 'available' AND price IS NOT NULL) DESC, price,
                                          product_id) AS rank
    FROM current
)
SELECT product_id, vendor, condition, name, price, availability, link,
       (rank = 1 AND availability = 'available' AND price IS NOT NULL) AS cheapest_in_stock,
       price - cheapest AS gap_to_cheapest
FROM ranked
ORDER BY price NULLS LAST, vendor, product_id"""


def ornament_offers(conn: Connection, item_number: str) -> list[dict[str, Any]] | None:
    """Current offers, cheapest first; None when no listing ever carried this item number."""
    rows = fetch_dicts(conn, _OFFERS, {"item_number": item_number})
    if rows:
        return rows
    known = conn.execute(text("SELECT 1 FROM products WHERE item_number = :item_number LIMIT 1"),
                         {"item_number": item_number}).first()
    return [] if known else None


def cheapest_in_stock(offers: list[dict[str, Any]]) -> dict[str, Any] | None:
    in_stock = [o for o in offers if o["availability"] == "available" and o["price"] is not None]
    return min(in_stock, key=lambda o: (o["price"], o["product_id"])) if in_stock else None
