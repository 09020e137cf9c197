-- Deleted records, so `sinceCommitId` reads return deletions too: written by the projection in
-- the transaction that deletes the row (RecordsDeleted), `seq` = that event's stream sequence,
-- `deleted_at` = its time (a rebuild writes the same rows). Kept for the sheet's lifetime.
CREATE TABLE record_tombstone (
    sheet_id text NOT NULL,
    id text NOT NULL,
    seq bigint NOT NULL,
    commit_id text NOT NULL,
    deleted_at timestamptz NOT NULL,
    PRIMARY KEY (sheet_id, id)
);
CREATE INDEX record_tombstone_seq ON record_tombstone (sheet_id, seq);
