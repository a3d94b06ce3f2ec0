-- The server-wide notification default, applied to tasks that list no targets of their
-- own: one row at most.
CREATE TABLE notify_default (
    only_row BOOLEAN PRIMARY KEY DEFAULT true CHECK (only_row),
    targets BIGINT[] NOT NULL DEFAULT '{}',
    notify_on TEXT NOT NULL DEFAULT 'failure'
);

-- Set when the provider refused the credential's OAuth login (an expired or revoked
-- refresh token): rclone's reason, already stripped of secrets. Cleared by a new login,
-- an update or a verification that works.
ALTER TABLE cloud_credentials ADD COLUMN needs_reconnect TEXT;
