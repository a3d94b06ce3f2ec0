-- Cloud credentials. All attributes of a credential are one AES-256-GCM ciphertext
-- (see server/src/crypto.rs) bound to the row's id; nothing secret is stored in clear.
CREATE TABLE cloud_credentials (
    id                    BIGSERIAL PRIMARY KEY,
    name                  TEXT NOT NULL UNIQUE,
    provider              TEXT NOT NULL,
    attributes_sealed     BYTEA NOT NULL,
    created_at            TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at            TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- The last verification: when, whether it worked and rclone's reason if not
    -- (already stripped of secrets).
    verified_at           TIMESTAMPTZ,
    verify_ok             BOOLEAN,
    verify_reason         TEXT
);
