-- Notification targets: kind and name in clear, the settings (URLs with keys, tokens,
-- passwords) sealed whole under the secret seed, bound to the row's id.
CREATE TABLE notify_targets (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    settings_sealed BYTEA,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Every attempt to deliver a message, so a broken setting shows.
CREATE TABLE notify_deliveries (
    id BIGSERIAL PRIMARY KEY,
    target_id BIGINT NOT NULL REFERENCES notify_targets (id) ON DELETE CASCADE,
    run_id BIGINT,
    at TIMESTAMPTZ NOT NULL DEFAULT now(),
    ok BOOLEAN NOT NULL,
    status INTEGER,
    error TEXT
);
CREATE INDEX notify_deliveries_by_target ON notify_deliveries (target_id, id DESC);
