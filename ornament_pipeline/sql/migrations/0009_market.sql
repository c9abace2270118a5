-- The cross-vendor ranking, defined once (the `cross_vendor_offers` asset, the API and the page all read what
-- it builds), and the fair price of each ornament from every vendor's history.

-- One cheapest offer in stock per item number and condition, and one per item number over every condition
-- (ties go to the lower product id); gaps are measured against them.
CREATE VIEW offer_ranking AS
WITH current AS (
    SELECT item_number, COALESCE(condition, '') AS condition, vendor, id AS product_id, name, price,
           availability, link, (availability = 'available' AND price IS NOT NULL) AS in_stock
    FROM products
    WHERE delisted_at IS NULL AND item_number IS NOT NULL
), ranked AS (
    SELECT *,
           row_number() OVER (PARTITION BY item_number ORDER BY in_stock DESC, price, product_id) AS item_rank,
           row_number() OVER (PARTITION BY item_number, condition
                              ORDER BY in_stock DESC, price, product_id) AS condition_rank,
           min(price) FILTER (WHERE in_stock) OVER (PARTITION BY item_number) AS item_cheapest,
           min(price) FILTER (WHERE in_stock) OVER (PARTITION BY item_number, condition) AS condition_cheapest
    FROM current
)
SELECT item_number, condition, vendor, product_id, name, price, availability, link,
       in_stock AND item_rank = 1 AS cheapest_in_stock,
       in_stock AND condition_rank = 1 AS cheapest_in_condition,
       price - item_cheapest AS gap_to_cheapest,
       price - condition_cheapest AS gap_in_condition
FROM ranked;

-- cheapest_in_stock and gap_to_cheapest now mean the cheapest of the item in any condition (one per item); the
-- per-condition ones get their own columns.
ALTER TABLE cross_vendor_offers
    ADD COLUMN cheapest_in_condition BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN gap_in_condition      NUMERIC(10,2);   -- this price minus the cheapest in stock, same condition
COMMENT ON COLUMN cross_vendor_offers.gap_to_cheapest IS
    'this price minus the cheapest in-stock price of the item in any condition';

-- The rebuild, here once: the asset calls it, and so does this migration, so that rows ranked the old way are
-- never served under the new meaning and the table is filled before the asset's first run.
CREATE FUNCTION rebuild_cross_vendor_offers() RETURNS bigint LANGUAGE sql AS $$
    DELETE FROM cross_vendor_offers;
    WITH inserted AS (
        INSERT INTO cross_vendor_offers (item_number, condition, vendor, product_id, name, price, availability,
                                         link, cheapest_in_stock, cheapest_in_condition, gap_to_cheapest,
                                         gap_in_condition, refreshed_at)
        SELECT item_number, condition, vendor, product_id, name, price, availability, link, cheapest_in_stock,
               cheapest_in_condition, gap_to_cheapest, gap_in_condition, now()
        FROM offer_ranking
        RETURNING 1
    )
    SELECT count(*) FROM inserted;
$$;
SELECT rebuild_cross_vendor_offers();

-- The fair price per item number and condition (warehouse/market.py builds it; docs/api.md says what it means).
CREATE TABLE market_prices (
    item_number  VARCHAR(32)   NOT NULL,
    condition    VARCHAR(16)   NOT NULL,   -- '' when the SKU carried no condition code
    fair_price   NUMERIC(10,2) NOT NULL,   -- time-weighted median of in-stock prices over the window
    observations INTEGER       NOT NULL,   -- price-history versions (a price held in stock) behind it
    vendors      INTEGER       NOT NULL,
    listings     INTEGER       NOT NULL,
    window_from  TIMESTAMPTZ   NOT NULL,
    window_to    TIMESTAMPTZ   NOT NULL,
    refreshed_at TIMESTAMPTZ   NOT NULL,
    PRIMARY KEY (item_number, condition)
);
