-- The record service's read model (schema `records`). See services/record/README.md "Storage".

-- Sheets as folded from workbook events, plus what the command side decides against:
-- `version` is the stream sequence of the sheet's last records event (optimistic concurrency),
-- counters are maintained in the projection transaction (counts never scan records).
CREATE TABLE workbook (
    id text PRIMARY KEY,
    space_id text NOT NULL,
    environment_id text NOT NULL,
    deleted boolean NOT NULL DEFAULT false
);

CREATE TABLE sheet (
    id text PRIMARY KEY,
    workbook_id text NOT NULL,
    space_id text NOT NULL,
    environment_id text NOT NULL,
    slug text NOT NULL,
    config jsonb NOT NULL,
    config_seq bigint NOT NULL,
    deleted boolean NOT NULL DEFAULT false,
    version bigint NOT NULL DEFAULT 0,
    total bigint NOT NULL DEFAULT 0,
    valid bigint NOT NULL DEFAULT 0,
    next_row bigint NOT NULL DEFAULT 0,
    deleted_rows bigint NOT NULL DEFAULT 0
);
CREATE INDEX sheet_workbook ON sheet (workbook_id);

-- One row per live record. row_no is the sheet's insertion order (dense until the first delete),
-- the keyset every page walks; `cells` is the wire form {key: {value, valid, messages, updatedAt}}.
CREATE TABLE record (
    sheet_id text NOT NULL,
    row_no bigint NOT NULL,
    id text NOT NULL,
    cells jsonb NOT NULL,
    metadata jsonb NOT NULL,
    valid boolean NOT NULL,
    error_fields text[] NOT NULL,
    commit_id text NOT NULL,
    seq bigint NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (sheet_id, row_no)
);
CREATE UNIQUE INDEX record_id ON record (id);
-- filter=error and the error count walk only invalid rows.
CREATE INDEX record_invalid ON record (sheet_id, row_no) WHERE NOT valid;
-- sinceCommitId: records changed at or after a stream position.
CREATE INDEX record_seq ON record (sheet_id, seq);

-- Unique values held per sheet and unique key (a field key or `constraint:<name>`).
CREATE TABLE unique_claim (
    sheet_id text NOT NULL,
    name text NOT NULL,
    value text NOT NULL,
    record_id text NOT NULL,
    PRIMARY KEY (sheet_id, name, value)
);
CREATE INDEX unique_claim_record ON unique_claim (record_id);

-- Commits: id <-> stream positions [first_seq, last_seq] of the events of one write.
CREATE TABLE record_commit (
    id text PRIMARY KEY,
    sheet_id text NOT NULL,
    kind text NOT NULL,
    first_seq bigint NOT NULL,
    last_seq bigint NOT NULL,
    record_count integer NOT NULL,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL,
    idempotency_key text
);
CREATE INDEX record_commit_sheet ON record_commit (sheet_id, last_seq);
CREATE UNIQUE INDEX record_commit_idempotency ON record_commit (sheet_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
