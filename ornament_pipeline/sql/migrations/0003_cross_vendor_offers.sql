-- Every vendor's current offer per Hallmark item number and condition, with the cheapest one in stock marked.
CREATE TABLE cross_vendor_offers (
    item_number       VARCHAR(32)   NOT NULL,
    condition         VARCHAR(16)   NOT NULL,   -- '' when the SKU carried no condition code
    vendor            TEXT          NOT NULL,
    product_id        BIGINT        NOT NULL REFERENCES products (id),
    name              VARCHAR(500)  NOT NULL,
    price             NUMERIC(10,2),
    availability      TEXT          NOT NULL,
    link              TEXT          NOT NULL,
    cheapest_in_stock BOOLEAN       NOT NULL,
    gap_to_cheapest   NUMERIC(10,2),            -- this price minus the cheapest in-stock price of the same item
    refreshed_at      TIMESTAMPTZ   NOT NULL,
    PRIMARY KEY (item_number, condition, product_id)
);
CREATE INDEX cross_vendor_offers_vendor_idx ON cross_vendor_offers (vendor);
