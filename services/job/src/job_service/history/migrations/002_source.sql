-- Provenance of a records commit (CommitCreated.source): the extraction or mapping job, the
-- file, the source sheet and the destination -> source field keys of a mapping.
ALTER TABLE version ADD COLUMN source jsonb;
