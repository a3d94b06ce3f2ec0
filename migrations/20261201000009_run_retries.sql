-- A retry is a run of its own that points at the first run of its chain (task `retry`).
-- When old runs are pruned, a retry outlives the run it points at: the link goes.
ALTER TABLE runs ADD COLUMN retry_of BIGINT REFERENCES runs (id) ON DELETE SET NULL;
