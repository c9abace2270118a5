-- Listings as the vendors show them now: one row per (vendor, vendor's product id).
-- Fixes the 2020 schema: NUMERIC money, timestamptz, room for real names, constrained availability.
CREATE TABLE products (
    id             BIGSERIAL PRIMARY KEY,
    vendor         TEXT          NOT NULL
                   CHECK (vendor IN ('hookedonhallmark_com', 'ornament_shop_com', 'hallmark_ornaments_com')),
    vendor_id      VARCHAR(64)   NOT NULL,
    sku            VARCHAR(64),
    item_number    VARCHAR(32),
    condition      VARCHAR(16),
    name           VARCHAR(500)  NOT NULL,
    price          NUMERIC(10,2) CHECK (price > 0),
    brand          VARCHAR(200),
    availability   TEXT          NOT NULL CHECK (availability IN ('available', 'unavailable', 'preorder')),
    release_year   SMALLINT      CHECK (release_year BETWEEN 1973 AND 2200),
    link           TEXT          NOT NULL,
    last_synced_at TIMESTAMPTZ   NOT NULL DEFAULT now(),
    created_at     TIMESTAMPTZ   NOT NULL DEFAULT now(),
    CONSTRAINT products_vendor_listing_key UNIQUE (vendor, vendor_id)
);

-- Cross-vendor comparison joins listings of one ornament on the Hallmark item number.
CREATE INDEX products_item_number_idx ON products (item_number, condition);
CREATE INDEX products_partition_idx ON products (vendor, release_year);
