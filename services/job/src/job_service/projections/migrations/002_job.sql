-- Jobs (Flatfile's /v1/jobs) as the API reads them, plus `deadline` for the timeout sweeper.
CREATE TABLE job (
    id text PRIMARY KEY,
    environment_id text NOT NULL,
    space_id text,
    type text NOT NULL,
    operation text NOT NULL,
    source text NOT NULL,
    destination text,
    status text NOT NULL,
    progress integer NOT NULL DEFAULT 0,
    info text,
    mode text,
    trigger text NOT NULL,
    config jsonb,
    input jsonb,
    subject jsonb,
    managed boolean NOT NULL DEFAULT false,
    file_id text,
    workbook_id text,
    sheet_id text,
    document_id text,
    parent_id text,
    predecessor_ids jsonb NOT NULL DEFAULT '[]',
    part integer,
    part_data jsonb,
    part_execution text,
    metadata jsonb NOT NULL DEFAULT '{}',
    outcome jsonb,
    action jsonb,
    timeout_seconds double precision,
    created_by text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    started_at timestamptz,
    finished_at timestamptz,
    outcome_acknowledged_at timestamptz,
    estimated_completion_at timestamptz,
    -- last activity + timeout while ready or executing; NULL otherwise (the sweeper's index)
    deadline timestamptz,
    deleted boolean NOT NULL DEFAULT false,
    position bigint NOT NULL
);
CREATE INDEX job_environment ON job (environment_id, created_at, id);
CREATE INDEX job_space ON job (space_id, created_at, id);
CREATE INDEX job_parent ON job (parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX job_deadline ON job (deadline) WHERE deadline IS NOT NULL;
