-- Erasure: a deleted space's extract requests go with it (SpaceDeleted), found by their space.
ALTER TABLE extract_request ADD COLUMN space_id text;
CREATE INDEX extract_request_space ON extract_request (space_id);
