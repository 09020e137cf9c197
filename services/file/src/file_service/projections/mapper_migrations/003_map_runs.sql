-- How many times each map job ran: page idempotency keys of a later run (a retried job, after its
-- failed run's pages were reverted) differ from the earlier run's.
ALTER TABLE map_job ADD COLUMN runs integer NOT NULL DEFAULT 0;
