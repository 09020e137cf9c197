-- The workbook:map worker: the map jobs it has seen (from JobCreated) and what became of them.
CREATE TABLE map_job (
    job_id text PRIMARY KEY,
    environment_id text NOT NULL,
    source text NOT NULL,
    destination text,
    source_sheet_id text,
    destination_sheet_id text,
    state text NOT NULL DEFAULT 'created',  -- created | complete | failed
    position bigint NOT NULL
);
