-- One row per space ever created: its counters, folded from every domain event (counting.py).
CREATE TABLE space (
    space_id text PRIMARY KEY,
    environment_id text NOT NULL,
    app_id text,
    created_at timestamptz NOT NULL,
    deleted boolean NOT NULL DEFAULT false,
    events bigint NOT NULL DEFAULT 0,
    guests integer NOT NULL DEFAULT 0,
    files integer NOT NULL DEFAULT 0,
    files_created integer NOT NULL DEFAULT 0,
    records_created bigint NOT NULL DEFAULT 0,
    records_updated bigint NOT NULL DEFAULT 0,
    records_deleted bigint NOT NULL DEFAULT 0,
    first_submit_at timestamptz,
    last_activity_at timestamptz
);
CREATE INDEX space_by_environment ON space (environment_id, app_id) WHERE NOT deleted;

-- The live sheets of each space: their record service counts are its valid / error counts.
CREATE TABLE sheet (
    sheet_id text PRIMARY KEY,
    workbook_id text NOT NULL,
    space_id text NOT NULL
);
CREATE INDEX sheet_by_space ON sheet (space_id);
CREATE INDEX sheet_by_workbook ON sheet (workbook_id);

-- The feed's lookup facts (job_service.feed.lookups), kept here too: the projection translates
-- each event as the feed does, so its counts are the feed's, and a rebuild replays them alike.
CREATE TABLE lookup (
    kind text NOT NULL,
    key text NOT NULL,
    info json NOT NULL,
    PRIMARY KEY (kind, key)
);
