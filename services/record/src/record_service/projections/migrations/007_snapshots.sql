-- Sheet snapshots (SnapshotCreated/SnapshotDeleted, aggregate `snapshot`). A snapshot is the
-- sheet's state at stream position `seq` (its SnapshotCreated): the records are not copied, they
-- are read as of `seq` from `record` + `record_history` (migration 008), exactly as an `asOf`
-- read. `config` is the sheet's config when the snapshot was taken (copied from `sheet` in the
-- projection transaction). Rows go when the snapshot, its sheet, its workbook or its space is
-- deleted; a rebuild writes the same rows (created_at = the event's time).
CREATE TABLE snapshot (
    id text PRIMARY KEY,
    sheet_id text NOT NULL,
    workbook_id text NOT NULL,
    space_id text NOT NULL,
    environment_id text NOT NULL,
    label text,
    thread_id text,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL,
    seq bigint NOT NULL,
    config jsonb NOT NULL
);
CREATE INDEX snapshot_sheet ON snapshot (sheet_id, seq);
CREATE INDEX snapshot_space ON snapshot (space_id);
