-- Superseded versions of records, for reads as of an earlier stream position (`asOf`) and for
-- restores. A row of `record` is the version written at its `seq`; when an update or a delete
-- replaces it, the projection copies it here in the same statement with `seq_to` = the
-- replacing event's sequence. A record's version at position N is the `record` row if its
-- seq <= N, else the history row with seq <= N < seq_to. Inserts write no history (bulk loads
-- stay one COPY); a rebuild writes the same rows.
CREATE TABLE record_history (
    sheet_id text NOT NULL,
    id text NOT NULL,
    row_no bigint NOT NULL,
    cells jsonb NOT NULL,
    metadata jsonb NOT NULL,
    valid boolean NOT NULL,
    error_fields text[] NOT NULL,
    commit_id text NOT NULL,
    seq bigint NOT NULL,
    seq_to bigint NOT NULL,
    updated_at timestamptz NOT NULL,
    config jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (sheet_id, seq_to, id)
);
CREATE INDEX record_history_record ON record_history (id, seq);
