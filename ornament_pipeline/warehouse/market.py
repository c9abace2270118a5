"""`market_prices`: a fair price per Hallmark item number and condition, from every vendor's price history.

The fair price is the time-weighted median of in-stock prices over the last `WINDOW_DAYS` days: each
price-history version counts for as long as it was the listing's in-stock price inside the window. Weighted by
time rather than per observation because how often a vendor is scraped is our schedule, not the market: a
vendor scraped hourly would otherwise outvote one scraped weekly, and an SCD2 version is one row however
many scrapes saw it. A current version counts up to the listing's last observation (`products.LAST_SEEN`),
not to now: what came after was not seen. It is the lower weighted median: the lowest price at which half
the in-stock time is reached. docs/api.md ("What the fair price means") says this for collectors.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, text

from ornament_pipeline.warehouse.products import LAST_SEEN, WATERMARK_JOIN

WINDOW_DAYS = 90

_REBUILD = f"""
WITH bounds AS (
    SELECT COALESCE(CAST(:as_of AS timestamptz), now()) AS window_to,
           COALESCE(CAST(:as_of AS timestamptz), now()) - make_interval(days => :window_days) AS window_from
), spans AS (
    SELECT COALESCE(h.item_number, p.item_number) AS item_number,
           COALESCE(h.condition, p.condition, '') AS condition, p.vendor, h.product_id, h.price,
           GREATEST(h.valid_from, b.window_from) AS span_from,
           LEAST(COALESCE(h.valid_to, {LAST_SEEN}), b.window_to) AS span_to
    FROM price_history h
    JOIN products p ON p.id = h.product_id
    {WATERMARK_JOIN}
    CROSS JOIN bounds b
    WHERE h.availability = 'available' AND h.price IS NOT NULL AND NOT h.is_delisted
      AND COALESCE(h.item_number, p.item_number) IS NOT NULL
), weighted AS (
    SELECT *, span_to - span_from AS held,
           sum(span_to - span_from) OVER (PARTITION BY item_number, condition ORDER BY price, product_id, span_from
                                          ROWS UNBOUNDED PRECEDING) AS running,
           sum(span_to - span_from) OVER (PARTITION BY item_number, condition) AS total
    FROM spans
    WHERE span_to > span_from
)
INSERT INTO market_prices (item_number, condition, fair_price, observations, vendors, listings, window_from,
                           window_to, refreshed_at)
SELECT w.item_number, w.condition, min(w.price) FILTER (WHERE w.running * 2 >= w.total), count(*),
       count(DISTINCT w.vendor), count(DISTINCT w.product_id), b.window_from, b.window_to, now()
FROM weighted w CROSS JOIN bounds b
GROUP BY w.item_number, w.condition, b.window_from, b.window_to"""

_SUMMARY = """
SELECT count(*) AS ornaments, count(*) FILTER (WHERE vendors > 1) AS multi_vendor,
       COALESCE(sum(observations), 0) AS observations
FROM market_prices"""


@dataclass(frozen=True)
class MarketSummary:
    ornaments: int  # item number x condition pairs with a fair price
    multi_vendor: int  # of those, priced from more than one vendor
    observations: int


def refresh_market(conn: Connection, as_of: datetime | None = None) -> MarketSummary:
    """Rebuild `market_prices` for the window ending at `as_of` (default now), inside the caller's transaction:
    readers see the previous table until it commits."""
    conn.execute(text("LOCK TABLE market_prices IN EXCLUSIVE MODE"))
    conn.execute(text("DELETE FROM market_prices"))
    conn.execute(text(_REBUILD), {"as_of": as_of, "window_days": WINDOW_DAYS})
    ornaments, multi_vendor, observations = conn.execute(text(_SUMMARY)).one()
    return MarketSummary(ornaments, multi_vendor, int(observations))
