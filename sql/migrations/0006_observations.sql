-- A record that stays true (see README "Database schema"): scrapes are observations, staged in Postgres and
-- applied to products, history and change events in one transaction each, in observation order.

-- Stock wording the scraper could not read is 'unknown', with the words kept; never a guessed 'unavailable'.
ALTER TABLE products DROP CONSTRAINT products_availability_check;
ALTER TABLE products ADD CONSTRAINT products_availability_check
    CHECK (availability IN ('available', 'unavailable', 'preorder', 'unknown'));
ALTER TABLE products ADD COLUMN availability_text TEXT;
ALTER TABLE price_history ADD COLUMN availability_text TEXT;

-- A listing that gains its identity (item number from its product page) after it was first stored.
ALTER TABLE change_events DROP CONSTRAINT change_events_kind_check;
ALTER TABLE change_events ADD CONSTRAINT change_events_kind_check
    CHECK (kind IN ('new', 'changed', 'delisted', 'relisted', 'identified'));

-- One observation of a vendor-year (its listing pages, scope 'partition') or of some product pages (scope
-- 'products'). Written by the scrape, applied later by the merge: a run killed in between leaves it pending,
-- and the next merge of that partition applies every pending observation oldest first, so none is lost.
CREATE TABLE scrapes (
    id             BIGSERIAL PRIMARY KEY,
    vendor         TEXT        NOT NULL
                   CHECK (vendor IN ('hookedonhallmark_com', 'ornament_shop_com', 'hallmark_ornaments_com')),
    partition_year SMALLINT,
    scope          TEXT        NOT NULL CHECK (scope IN ('partition', 'products')),
    observed_at    TIMESTAMPTZ NOT NULL,
    complete       BOOLEAN     NOT NULL,          -- every page read: only then may unseen listings be delisted
    status         TEXT        NOT NULL,
    year_url       TEXT,
    pages_visited  INTEGER     NOT NULL DEFAULT 0,
    failed_pages   JSONB       NOT NULL DEFAULT '[]',
    run_id         TEXT,
    recorded_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    applied_at     TIMESTAMPTZ,
    merge_summary  JSONB
);
CREATE INDEX scrapes_pending_idx ON scrapes (vendor, partition_year, observed_at, id) WHERE applied_at IS NULL;
CREATE INDEX scrapes_partition_idx ON scrapes (vendor, partition_year, id);

-- The listings of a pending scrape (deleted when it is applied: products and history then hold them).
CREATE TABLE scrape_listings (
    scrape_id         BIGINT        NOT NULL REFERENCES scrapes (id) ON DELETE CASCADE,
    ordinal           INTEGER       NOT NULL,  -- order seen: the first of duplicate vendor ids wins
    vendor_id         VARCHAR(64)   NOT NULL,
    sku               VARCHAR(64),
    item_number       VARCHAR(32),
    condition         VARCHAR(16),
    name              VARCHAR(500)  NOT NULL,
    price             NUMERIC(10,2) CHECK (price > 0),
    brand             VARCHAR(200),
    availability      TEXT          NOT NULL CHECK (availability IN ('available', 'unavailable', 'preorder', 'unknown')),
    availability_text TEXT,
    release_year      SMALLINT      CHECK (release_year BETWEEN 1973 AND 2200),
    link              TEXT          NOT NULL,
    detail_read       BOOLEAN       NOT NULL,
    PRIMARY KEY (scrape_id, ordinal)
);

-- Listings a scrape saw but did not store, kept with the reason: 'unfit', a value that does not fit the schema;
-- 'unidentified', a first-seen listing whose product page (SKU, item number, condition) could not be read, held
-- back until it can. Both are reported by checks of their partition and never delisted for being absent.
CREATE TABLE scrape_rejects (
    id        BIGSERIAL PRIMARY KEY,
    scrape_id BIGINT NOT NULL REFERENCES scrapes (id) ON DELETE CASCADE,
    kind      TEXT   NOT NULL CHECK (kind IN ('unfit', 'unidentified')),
    vendor_id TEXT,      -- NULL when the id itself was unusable (then the scrape cannot delist)
    reason    TEXT   NOT NULL,
    listing   JSONB  NOT NULL
);
CREATE INDEX scrape_rejects_scrape_idx ON scrape_rejects (scrape_id);
