-- Cloud sync tasks. `settings` is the task's JSON without secrets; the crypt password
-- and salt are sealed in `encryption_sealed` (bound to the row's id). A credential in
-- use by a task cannot be deleted.
CREATE TABLE sync_tasks (
    id                 BIGSERIAL PRIMARY KEY,
    description        TEXT NOT NULL,
    credential_id      BIGINT NOT NULL REFERENCES cloud_credentials(id) ON DELETE RESTRICT,
    enabled            BOOLEAN NOT NULL,
    settings           TEXT NOT NULL,
    encryption_sealed  BYTEA,
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at         TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX sync_tasks_credential_id ON sync_tasks(credential_id);
