-- Collectors: their own keys, watches and alert destinations (docs/api.md "Collectors", docs/auditor.md).
-- Depends on 0004 (auditor) and 0005 (api_keys) only.

-- Who owns watches and destinations. Several keys may belong to one collector (a new key after a revoked one
-- keeps the collector's watches).
CREATE TABLE collectors (
    id         BIGSERIAL PRIMARY KEY,
    name       VARCHAR(100) NOT NULL,
    created_at TIMESTAMPTZ  NOT NULL DEFAULT now(),
    CONSTRAINT collectors_name_key UNIQUE (name)
);

-- A `collector` key belongs to exactly one collector; `read` and `admin` keys to none.
ALTER TABLE api_keys DROP CONSTRAINT api_keys_scope_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_scope_check CHECK (scope IN ('read', 'admin', 'collector'));
ALTER TABLE api_keys ADD COLUMN collector_id BIGINT REFERENCES collectors (id);
ALTER TABLE api_keys ADD CONSTRAINT api_keys_collector_check CHECK ((scope = 'collector') = (collector_id IS NOT NULL));

-- A watch's owner; NULL: the operator's (made with an admin key or `ornaments watch add`), alerted at the
-- configured webhook as before.
ALTER TABLE watches ADD COLUMN collector_id BIGINT REFERENCES collectors (id);
CREATE INDEX watches_collector_idx ON watches (collector_id, id);

-- Webhook URLs a collector registered. The secret signs every POST to it (HMAC-SHA256, as the configured
-- webhook's); it is kept in clear because signing needs it, and shown to the collector once, at creation.
-- Alerts go to a destination only once a signed test delivery was answered 2xx (`verified_at`).
CREATE TABLE alert_destinations (
    id                   BIGSERIAL PRIMARY KEY,
    collector_id         BIGINT       NOT NULL REFERENCES collectors (id),
    url                  VARCHAR(2000) NOT NULL CHECK (url ~ '^https?://'),
    secret               TEXT         NOT NULL,
    label                VARCHAR(200),
    created_at           TIMESTAMPTZ  NOT NULL DEFAULT now(),
    verified_at          TIMESTAMPTZ,             -- NULL: not (yet) verified, never used
    last_checked_at      TIMESTAMPTZ,             -- the last test delivery
    last_check_status    INTEGER,                 -- its HTTP status, NULL when none arrived
    last_check_error     TEXT,                    -- NULL when it was answered 2xx
    deleted_at           TIMESTAMPTZ              -- removed by its owner or an admin: kept for its deliveries
);
CREATE INDEX alert_destinations_collector_idx ON alert_destinations (collector_id, id) WHERE deleted_at IS NULL;
-- One destination per URL and collector: the same URL twice would get every alert twice.
CREATE UNIQUE INDEX alert_destinations_collector_url_key ON alert_destinations (collector_id, url)
    WHERE deleted_at IS NULL;

-- A webhook delivery goes to the configured webhook (destination_id NULL) or to one destination: one delivery
-- per alert, channel and destination, so an alert reaches each verified destination of its owner once.
ALTER TABLE alert_deliveries ADD COLUMN destination_id BIGINT REFERENCES alert_destinations (id);
ALTER TABLE alert_deliveries DROP CONSTRAINT alert_deliveries_alert_channel_key;
ALTER TABLE alert_deliveries ADD CONSTRAINT alert_deliveries_alert_target_key
    UNIQUE NULLS NOT DISTINCT (alert_id, channel, destination_id);
ALTER TABLE alert_deliveries ADD CONSTRAINT alert_deliveries_destination_check
    CHECK (destination_id IS NULL OR channel = 'webhook');
CREATE INDEX alert_deliveries_destination_idx ON alert_deliveries (destination_id) WHERE destination_id IS NOT NULL;
