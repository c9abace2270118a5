"""One Hallmark item number across vendors: the offers `cross_vendor_offers` holds and the fair prices of
`market_prices`, both as their assets last built them (the ranking itself is the view `offer_ranking`)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, text

from ornament_pipeline.server.queries.rows import fetch_dicts

# A deal: in stock and at least `deal_share` under the fair price of its condition.
_OFFERS = """
SELECT o.product_id, o.vendor, o.condition, o.name, o.price, o.availability, o.link, o.cheapest_in_stock,
       o.cheapest_in_condition, o.gap_to_cheapest, o.gap_in_condition, o.price - m.fair_price AS gap_to_fair_price,
       (o.availability = 'available' AND o.price IS NOT NULL AND m.fair_price IS NOT NULL
        AND o.price <= m.fair_price * (1 - :deal_share)) AS deal,
       o.refreshed_at
FROM cross_vendor_offers o
LEFT JOIN market_prices m ON m.item_number = o.item_number AND m.condition = o.condition
WHERE o.item_number = :item_number
ORDER BY o.price NULLS LAST, o.vendor, o.product_id"""

_MARKET = """
SELECT condition, fair_price, observations, vendors, listings, window_from, window_to, refreshed_at
FROM market_prices
WHERE item_number = :item_number"""

_KNOWN = "SELECT 1 FROM products WHERE item_number = :item_number LIMIT 1"


def ornament_report(conn: Connection, item_number: str, deal_share: Decimal) -> dict[str, Any] | None:
    """The `GET /ornaments/{item_number}` body; None when no listing ever carried this item number."""
    offers = fetch_dicts(conn, _OFFERS, {"item_number": item_number, "deal_share": deal_share})
    markets = {row.pop("condition"): row for row in fetch_dicts(conn, _MARKET, {"item_number": item_number})}
    if not offers and not markets and conn.execute(text(_KNOWN), {"item_number": item_number}).first() is None:
        return None
    refreshed = {offer.pop("refreshed_at") for offer in offers}
    conditions = []
    for condition in sorted({o["condition"] for o in offers} | set(markets)):
        of_condition = [o for o in offers if o["condition"] == condition]
        conditions.append({
            "condition": condition,
            "market": markets.get(condition),
            "cheapest_in_stock": next((o for o in of_condition if o["cheapest_in_condition"]), None),
            "offers": of_condition,
        })
    return {
        "item_number": item_number,
        "offers_refreshed_at": min(refreshed) if refreshed else None,
        "deal_share": deal_share,
        "cheapest_in_stock": next((o for o in offers if o["cheapest_in_stock"]), None),
        "offers": offers,
        "conditions": conditions,
    }
