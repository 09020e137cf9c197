-- The spaces the history saw, and their environment (the gateway checks it).
CREATE TABLE space (
    space_id text PRIMARY KEY,
    environment_id text NOT NULL
);

-- One row per version (one write): a records commit, or one command's append of other events.
CREATE TABLE version (
    id text PRIMARY KEY,
    space_id text NOT NULL,
    first_seq bigint NOT NULL,
    last_seq bigint NOT NULL,
    created_at timestamptz NOT NULL,
    actor text NOT NULL,
    sheet_id text,
    workbook_id text,
    kind text NOT NULL,
    events jsonb NOT NULL,
    records integer NOT NULL DEFAULT 0,
    topics text[] NOT NULL DEFAULT '{}'
);
CREATE INDEX version_by_space ON version (space_id, last_seq);
CREATE INDEX version_by_sheet ON version (sheet_id, last_seq) WHERE sheet_id IS NOT NULL;

-- The last version of other events: the next event joins it when it is of the same append.
CREATE TABLE tail (
    one integer PRIMARY KEY CHECK (one = 1),
    version_id text NOT NULL,
    group_key text NOT NULL,
    last_seq bigint NOT NULL
);

-- One narrow row per record per insert / update event (COPY): where a cell's values are.
CREATE TABLE record_change (
    record_id text NOT NULL,
    seq bigint NOT NULL,
    commit_id text NOT NULL
);
CREATE INDEX record_change_by_record ON record_change (record_id, seq);

-- The feed's lookup facts (job_service.feed.lookups): the projection translates each event as
-- the feed does, for its Flatfile topics.
CREATE TABLE lookup (
    kind text NOT NULL,
    key text NOT NULL,
    info json NOT NULL,
    PRIMARY KEY (kind, key)
);
