-- Workbooks and their sheets as the API reads them (schema `workbook_catalog`).
CREATE TABLE workbook (
    id text PRIMARY KEY,
    space_id text NOT NULL,
    environment_id text NOT NULL,
    name text NOT NULL,
    namespace text,
    labels jsonb NOT NULL,
    metadata jsonb NOT NULL,
    settings jsonb NOT NULL,
    actions jsonb NOT NULL,
    treatments jsonb NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    deleted_at timestamptz,
    position bigint NOT NULL
);
-- Lists are per environment, usually per space, oldest first.
CREATE INDEX workbook_env_space ON workbook (environment_id, space_id, created_at, id) WHERE deleted_at IS NULL;

CREATE TABLE sheet (
    id text PRIMARY KEY,
    workbook_id text NOT NULL,
    space_id text NOT NULL,
    environment_id text NOT NULL,
    ordinal integer NOT NULL,
    name text NOT NULL,
    slug text NOT NULL,
    config jsonb NOT NULL,
    locked_by text,
    locked_at timestamptz,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    deleted_at timestamptz,
    position bigint NOT NULL
);
CREATE INDEX sheet_workbook ON sheet (workbook_id, ordinal) WHERE deleted_at IS NULL;
