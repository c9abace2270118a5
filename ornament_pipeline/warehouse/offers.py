"""`cross_vendor_offers`: the current offers of every ornament side by side, rebuilt in one transaction."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, text
from tabulate import tabulate

_REBUILD = """
WITH current AS (
    SELECT item_number, COALESCE(condition, '') AS condition, vendor, id AS product_id, name, price,
           availability, link,
           min(price) FILTER (WHERE availability = 'available' AND price IS NOT NULL)
               OVER (PARTITION BY item_number, COALESCE(condition, '')) AS cheapest
    FROM products
    WHERE delisted_at IS NULL AND item_number IS NOT NULL
), ranked AS (
    SELECT *, row_number() OVER (PARTITION BY item_number, condition
                                 ORDER BY (availability = 'available' AND price IS NOT NULL) DESC, price,
                                          product_id) AS rank
    FROM current
)
INSERT INTO cross_vendor_offers (item_number, condition, vendor, product_id, name, price, availability, link,
                                 cheapest_in_stock, gap_to_cheapest, refreshed_at)
SELECT item_number, condition, vendor, product_id, name, price, availability, link,
       rank = 1 AND availability = 'available' AND price IS NOT NULL, price - cheapest, now()
FROM ranked"""

_SUMMARY = """
SELECT count(*) AS ornaments, count(*) FILTER (WHERE vendors > 1) AS multi_vendor, COALESCE(sum(offers), 0) AS offers
FROM (SELECT count(DISTINCT vendor) AS vendors, count(*) AS offers FROM cross_vendor_offers
      GROUP BY item_number, condition) AS per_item"""

_LARGEST_GAPS = """
SELECT item_number, condition, min(price) AS cheapest, max(price) AS dearest, max(price) - min(price) AS gap,
       count(DISTINCT vendor) AS vendors
FROM cross_vendor_offers
WHERE availability = 'available' AND price IS NOT NULL
GROUP BY item_number, condition
HAVING count(DISTINCT vendor) > 1
ORDER BY gap DESC, item_number
LIMIT 10"""


@dataclass(frozen=True)
class OffersSummary:
    ornaments: int
    multi_vendor: int
    offers: int  # rows of the rebuilt table
    largest_gaps_markdown: str


def refresh_offers(conn: Connection) -> OffersSummary:
    """Rebuild the table from `products` (inside the caller's transaction: readers never see it half-built)."""
    conn.execute(text("LOCK TABLE cross_vendor_offers IN EXCLUSIVE MODE"))
    conn.execute(text("DELETE FROM cross_vendor_offers"))
    conn.execute(text(_REBUILD))
    ornaments, multi_vendor, offers = conn.execute(text(_SUMMARY)).one()
    gaps = conn.execute(text(_LARGEST_GAPS)).mappings().all()
    if not gaps:
        return OffersSummary(ornaments, multi_vendor, int(offers), "_no item is in stock at two vendors_")
    return OffersSummary(ornaments, multi_vendor, int(offers),
                         tabulate(gaps, headers="keys", tablefmt="pipe", disable_numparse=True))
