-- Runs of tasks, and their logs. The log store is its own table, written in batches;
-- run records hold only the state and the final stats.
CREATE TABLE runs (
    id           BIGSERIAL PRIMARY KEY,
    task_id      BIGINT NOT NULL REFERENCES sync_tasks(id) ON DELETE CASCADE,
    state        TEXT NOT NULL,
    dry_run      BOOLEAN NOT NULL DEFAULT false,
    queued_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    started_at   TIMESTAMPTZ,
    finished_at  TIMESTAMPTZ,
    exit_code    INTEGER,
    error        TEXT,
    stats        TEXT
);

CREATE INDEX runs_task_id ON runs(task_id, id DESC);
-- At most one queued or running run per task.
CREATE UNIQUE INDEX runs_one_active_per_task ON runs(task_id) WHERE state IN ('QUEUED', 'RUNNING');

CREATE TABLE run_logs (
    run_id   BIGINT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    seq      BIGINT NOT NULL,
    at       TIMESTAMPTZ NOT NULL,
    level    TEXT NOT NULL,
    source   TEXT NOT NULL,
    message  TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);
