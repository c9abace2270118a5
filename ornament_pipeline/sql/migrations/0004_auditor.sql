-- The auditor: watches, alerts raised from the change stream, and their delivery (docs/auditor.md).

-- Reading the outbox by `id` alone can lose events: ids are handed out at INSERT, not at COMMIT, so a long
-- merge may commit ids 1..900 after a short one committed 901..910 and a reader already moved past 910.
-- Each event therefore records the id of the transaction that wrote it; a reader consumes only events of
-- transactions older than every transaction still running (pg_snapshot_xmin), in (txid, id) order. That set
-- never grows behind the cursor, so nothing is skipped. The default fills it in; the writer needs no change.
ALTER TABLE change_events ADD COLUMN txid xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX change_events_stream_idx ON change_events (txid, id);

-- The all-time low of an item looks up earlier prices of the same item number and condition.
CREATE INDEX price_history_item_idx ON price_history (item_number, condition, valid_from) WHERE price IS NOT NULL;

-- What a collector watches: one Hallmark item number, optionally one condition and/or one vendor.
CREATE TABLE watches (
    id           BIGSERIAL PRIMARY KEY,
    item_number  VARCHAR(32)   NOT NULL,
    condition    VARCHAR(16),                  -- NULL = any condition
    vendor       TEXT                          -- NULL = any vendor
                 CHECK (vendor IN ('hookedonhallmark_com', 'ornament_shop_com', 'hallmark_ornaments_com')),
    max_price    NUMERIC(10,2) CHECK (max_price > 0),                          -- target price (a ceiling)
    drop_percent NUMERIC(5,2)  CHECK (drop_percent > 0 AND drop_percent <= 100),
    kinds        TEXT[]        NOT NULL
                 DEFAULT ARRAY['price_drop', 'back_in_stock', 'new_listing', 'all_time_low']
                 CHECK (cardinality(kinds) > 0
                        AND kinds <@ ARRAY['price_drop', 'back_in_stock', 'new_listing', 'all_time_low']),
    label        VARCHAR(200),
    created_at   TIMESTAMPTZ   NOT NULL DEFAULT now()
);
CREATE INDEX watches_item_number_idx ON watches (item_number);

-- Where a reader of the change stream stands: the last (txid, id) it turned into alerts. Moved in the same
-- transaction as the alerts it produced, so a crash either keeps both or neither.
CREATE TABLE auditor_cursors (
    name          TEXT        PRIMARY KEY,
    last_txid     xid8        NOT NULL DEFAULT '0',
    last_event_id BIGINT      NOT NULL DEFAULT 0,
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- Start at the end of the stream as it is now: events from before the auditor existed raise no alerts.
INSERT INTO auditor_cursors (name, last_txid, last_event_id)
SELECT 'alerts', pg_current_xact_id(), COALESCE(max(id), 0) FROM change_events;

-- One alert per (watch, event, kind): the idempotency key is unique, and travels with every delivery.
CREATE TABLE alerts (
    id              BIGSERIAL PRIMARY KEY,
    idempotency_key TEXT        NOT NULL,
    watch_id        BIGINT      REFERENCES watches (id) ON DELETE SET NULL,  -- removing a watch keeps its alerts
    event_id        BIGINT      NOT NULL REFERENCES change_events (id),
    product_id      BIGINT      NOT NULL REFERENCES products (id),
    kind            TEXT        NOT NULL
                    CHECK (kind IN ('price_drop', 'back_in_stock', 'new_listing', 'all_time_low')),
    payload         JSONB       NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT alerts_idempotency_key_key UNIQUE (idempotency_key)
);
CREATE INDEX alerts_watch_idx ON alerts (watch_id);
CREATE INDEX alerts_event_idx ON alerts (event_id);

-- One delivery per alert and channel, with its retry state. `delivered` is final: it is never sent again.
CREATE TABLE alert_deliveries (
    id              BIGSERIAL PRIMARY KEY,
    alert_id        BIGINT      NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    channel         TEXT        NOT NULL CHECK (channel IN ('webhook', 'log')),
    status          TEXT        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER     NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_error      TEXT,
    delivered_at    TIMESTAMPTZ,
    CONSTRAINT alert_deliveries_alert_channel_key UNIQUE (alert_id, channel)
);
-- A worker's claim walks this in order (per channel) and stops at the first row it can lock.
CREATE INDEX alert_deliveries_due_idx ON alert_deliveries (channel, next_attempt_at, id) WHERE status = 'pending';

-- Every finished attempt (an attempt cut short by a crash leaves no row: its delivery stays pending).
CREATE TABLE delivery_attempts (
    id          BIGSERIAL PRIMARY KEY,
    delivery_id BIGINT      NOT NULL REFERENCES alert_deliveries (id) ON DELETE CASCADE,
    attempt     INTEGER     NOT NULL,
    started_at  TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ NOT NULL,
    status_code INTEGER,
    error       TEXT
);
CREATE INDEX delivery_attempts_delivery_idx ON delivery_attempts (delivery_id);
