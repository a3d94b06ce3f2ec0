-- A run's log lines go with the run, as before, but no longer through a foreign key:
-- its check ran once per inserted line (a lookup and a row lock on `runs`) and was two
-- thirds of the database's work while a fast child logged. Lines are written only by
-- the runner, for the run it started; a statement trigger deletes them with their runs
-- (also when a task's deletion cascades to its runs).
ALTER TABLE run_logs DROP CONSTRAINT run_logs_run_id_fkey;

CREATE FUNCTION delete_logs_of_deleted_runs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM run_logs WHERE run_id IN (SELECT id FROM gone);
    RETURN NULL;
END
$$;

CREATE TRIGGER runs_take_their_logs AFTER DELETE ON runs
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION delete_logs_of_deleted_runs();

-- Lines whose run is already gone (none should exist; the key kept them out).
DELETE FROM run_logs l WHERE NOT EXISTS (SELECT 1 FROM runs r WHERE r.id = l.run_id);
