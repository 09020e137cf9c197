-- The file:extract worker: the extract jobs it has seen (from JobCreated) and what became of them.
CREATE TABLE extract_job (
    job_id text PRIMARY KEY,
    file_id text NOT NULL,
    environment_id text NOT NULL,
    space_id text,
    state text NOT NULL DEFAULT 'created',  -- created | skipped | complete | failed
    workbook_id text,
    message text,
    position bigint NOT NULL
);
