"""`cross_vendor_offers`: the current offers of every ornament side by side, rebuilt in one transaction.

The ranking (one cheapest offer in stock per item number and condition, one per item number) is the view
`offer_ranking` and the rebuild the function `rebuild_cross_vendor_offers()`, both in migration
0009_market.sql: the asset, the API and the page read what they build, and nothing else ranks offers."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, text
from tabulate import tabulate

_SUMMARY = """
SELECT count(*) AS ornaments, count(*) FILTER (WHERE vendors > 1) AS multi_vendor, COALESCE(sum(offers), 0) AS offers
FROM (SELECT count(DISTINCT vendor) AS vendors, count(*) AS offers FROM cross_vendor_offers
      GROUP BY item_number, condition) AS per_item"""

_LARGEST_GAPS = """
SELECT item_number, condition, min(price) AS cheapest, max(price) AS dearest, max(gap_in_condition) AS gap,
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
    conn.execute(text("SELECT rebuild_cross_vendor_offers()"))
    ornaments, multi_vendor, offers = conn.execute(text(_SUMMARY)).one()
    gaps = conn.execute(text(_LARGEST_GAPS)).mappings().all()
    if not gaps:
        return OffersSummary(ornaments, multi_vendor, int(offers), "_no item is in stock at two vendors_")
    return OffersSummary(ornaments, multi_vendor, int(offers),
                         tabulate(gaps, headers="keys", tablefmt="pipe", disable_numparse=True))
