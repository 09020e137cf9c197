-- `space:restore` jobs seen by the restore worker (`entrypoints/restorer.py`, schema `record_restore`):
-- remembered from JobCreated so JobReady can run them; `state` once a run finished.
CREATE TABLE restore_job (
    job_id text PRIMARY KEY,
    environment_id text NOT NULL,
    space_id text NOT NULL,
    config jsonb NOT NULL,
    actor text NOT NULL,
    state text,
    position bigint NOT NULL
);
