-- API keys for the HTTP API. Only a SHA-256 hash of each key is stored; the key itself is shown once.
-- A key reads `orn_<prefix>_<secret>`: the prefix finds the row, the hash is compared in constant time.
CREATE TABLE api_keys (
    id           BIGSERIAL PRIMARY KEY,
    name         VARCHAR(100) NOT NULL,
    scope        TEXT         NOT NULL CHECK (scope IN ('read', 'admin')),
    prefix       VARCHAR(16)  NOT NULL,
    key_hash     CHAR(64)     NOT NULL,             -- hex SHA-256 of the whole key
    created_at   TIMESTAMPTZ  NOT NULL DEFAULT now(),
    revoked_at   TIMESTAMPTZ,                       -- NULL = active
    last_used_at TIMESTAMPTZ,
    CONSTRAINT api_keys_name_key UNIQUE (name),
    CONSTRAINT api_keys_prefix_key UNIQUE (prefix)
);
