-- A tag over each task's settings, made with a key derived from the secret seed (which
-- never reaches the database): a row edited in the database, say a pre-script put in
-- by someone who can write to it but is not an admin, fails the check and never runs.
ALTER TABLE sync_tasks ADD COLUMN settings_tag BYTEA;
