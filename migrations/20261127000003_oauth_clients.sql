-- Per-provider OAuth app settings set by the administrator. The client secret is
-- sealed like credentials (bound to the provider name).
CREATE TABLE oauth_clients (
    provider              TEXT PRIMARY KEY,
    client_id             TEXT NOT NULL DEFAULT '',
    client_secret_sealed  BYTEA,
    auth_url              TEXT NOT NULL DEFAULT '',
    token_url             TEXT NOT NULL DEFAULT '',
    scopes                TEXT NOT NULL DEFAULT '',
    updated_at            TIMESTAMPTZ NOT NULL DEFAULT now()
);
