-- Where a listing was last seen, and whether it is still listed.
ALTER TABLE products
    ADD COLUMN partition_year SMALLINT,          -- the year page it was listed under (the partition that owns it)
    ADD COLUMN delisted_at    TIMESTAMPTZ,       -- set when a complete scrape of its partition no longer shows it
    ADD COLUMN detail_read_at TIMESTAMPTZ;       -- when its product page was last read (new listings get one read)
CREATE INDEX products_owner_idx ON products (vendor, partition_year);

-- SCD type 2, check strategy (as dbt snapshots): one version per observed change of the tracked fields.
-- Every version keeps all trackable fields, so switching a field on later needs no rewrite of history.
CREATE TABLE price_history (
    id           BIGSERIAL PRIMARY KEY,
    product_id   BIGINT        NOT NULL REFERENCES products (id),
    price        NUMERIC(10,2),
    availability TEXT          NOT NULL,
    name         VARCHAR(500)  NOT NULL,
    sku          VARCHAR(64),
    condition    VARCHAR(16),
    item_number  VARCHAR(32),
    link         TEXT          NOT NULL,
    is_delisted  BOOLEAN       NOT NULL DEFAULT false,
    valid_from   TIMESTAMPTZ   NOT NULL,
    valid_to     TIMESTAMPTZ,
    CHECK (valid_to IS NULL OR valid_to >= valid_from)
);
-- At most one current version per listing, enforced by the database.
CREATE UNIQUE INDEX price_history_one_current_idx ON price_history (product_id) WHERE valid_to IS NULL;
CREATE INDEX price_history_product_idx ON price_history (product_id, valid_from);

-- The auditor's outbox: one event per new version, written in the same transaction, read by cursor (id).
CREATE TABLE change_events (
    id             BIGSERIAL PRIMARY KEY,
    product_id     BIGINT      NOT NULL REFERENCES products (id),
    history_id     BIGINT      NOT NULL REFERENCES price_history (id),
    kind           TEXT        NOT NULL CHECK (kind IN ('new', 'changed', 'delisted', 'relisted')),
    changed_fields TEXT[]      NOT NULL DEFAULT '{}',
    old_values     JSONB,
    new_values     JSONB       NOT NULL,
    occurred_at    TIMESTAMPTZ NOT NULL,
    recorded_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX change_events_product_idx ON change_events (product_id);

-- Live listeners: LISTEN change_events; the payload is the event id (delivered on commit).
CREATE FUNCTION notify_change_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('change_events', NEW.id::text);
    RETURN NULL;
END;
$$;
CREATE TRIGGER change_events_notify AFTER INSERT ON change_events
    FOR EACH ROW EXECUTE FUNCTION notify_change_event();
