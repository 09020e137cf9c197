-- A guest's grants as ActorRoles (GET /v1/guests/{id}/roles) carry when they were made and last changed.
ALTER TABLE guest_space
    ADD COLUMN created_at timestamptz,
    ADD COLUMN updated_at timestamptz;

UPDATE guest_space gs SET created_at = g.created_at, updated_at = g.updated_at FROM guest g WHERE g.id = gs.guest_id;

ALTER TABLE guest_space
    ALTER COLUMN created_at SET NOT NULL,
    ALTER COLUMN updated_at SET NOT NULL;
