-- Erasure (SpaceDeleted): a map job is its space's, and so is what its imports taught.
ALTER TABLE map_job ADD COLUMN space_id text;
CREATE INDEX map_job_by_space ON map_job (space_id);
-- One row per space that taught a mapping (the planner takes the newest of them), so a deleted
-- space's rows go and what other spaces taught stays. Rows learned before this knew no space:
-- they may be a deleted space's, so they go (the next imports teach them again).
DELETE FROM remembered_mapping;
ALTER TABLE remembered_mapping ADD COLUMN space_id text NOT NULL;
ALTER TABLE remembered_mapping DROP CONSTRAINT remembered_mapping_pkey;
ALTER TABLE remembered_mapping ADD PRIMARY KEY (environment_id, destination_slug, source_name, space_id);
CREATE INDEX remembered_mapping_by_space ON remembered_mapping (space_id);
