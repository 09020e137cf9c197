-- The extract jobs become a work queue: the consumer records a job ('created', or 'pending' once
-- ready); the worker's pool claims it ('running', with a lease: claimed_at, refreshed while it
-- runs, and the claim's token) and marks it 'done' or 'failed'. A running row whose lease expired
-- (its worker died) is claimed again; the partial workbook its attempt made (workbook_id, recorded
-- as soon as it exists) is deleted first.
ALTER TABLE extract_job
    ADD COLUMN status text NOT NULL DEFAULT 'created',  -- created | pending | running | done | failed
    ADD COLUMN claimed_at timestamptz,
    ADD COLUMN claim_id text,
    ADD COLUMN attempts integer NOT NULL DEFAULT 0;

UPDATE extract_job SET status = CASE state WHEN 'created' THEN 'created' WHEN 'failed' THEN 'failed' ELSE 'done' END;

CREATE INDEX extract_job_claimable ON extract_job (status, claimed_at) WHERE status IN ('pending', 'running');
