-- The scheduler's next planned start of each task, written as it plans: a planned start
-- that lies in the past when the server starts was missed (task `catch_up`). Not part
-- of the settings (nor their tag): the scheduler's bookkeeping.
ALTER TABLE sync_tasks ADD COLUMN planned_start TIMESTAMPTZ;
