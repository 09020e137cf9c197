-- Sheets a bulk write is under way into (a restore re-creating their records, in chunks seconds
-- apart): the sheet indexer leaves their spaces alone until `until`, which each chunk moves on
-- and the end of the write removes (a crashed writer's hold runs out). Not a projection of
-- events: a rebuilt schema starts it empty.
CREATE TABLE bulk_write (
    sheet_id text PRIMARY KEY,
    until timestamptz NOT NULL
);
