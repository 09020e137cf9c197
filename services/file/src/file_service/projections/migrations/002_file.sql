-- Files (Flatfile's /v1/files) as the API reads them, with where their bytes are in S3.
CREATE TABLE file (
    id text PRIMARY KEY,
    environment_id text NOT NULL,
    space_id text NOT NULL,
    name text NOT NULL,
    mode text NOT NULL,
    status text NOT NULL,
    encoding text,
    size bigint NOT NULL,
    mimetype text NOT NULL,
    object_key text NOT NULL,
    description text,
    workbook_id text,
    sheet_id text,
    actions jsonb NOT NULL DEFAULT '[]',
    origin text,
    created_by text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    deleted boolean NOT NULL DEFAULT false,
    position bigint NOT NULL
);
CREATE INDEX file_space ON file (space_id, mode, created_at, id) WHERE NOT deleted;
CREATE INDEX file_environment ON file (environment_id, mode, created_at, id) WHERE NOT deleted;
