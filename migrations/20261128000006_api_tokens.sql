-- API tokens live beside login sessions: the same hashing, lookup and expiry, plus a
-- name. They survive logouts and password changes until revoked. A token that never
-- expires has expires_at 9999-12-31.
ALTER TABLE sessions
    ADD COLUMN kind TEXT NOT NULL DEFAULT 'session' CHECK (kind IN ('session', 'api')),
    ADD COLUMN name TEXT;
