-- Spaces of an app: the app they belong to, whether they are its template, and what they were
-- copied from (a template space, or an app whose blueprint was copied).
ALTER TABLE space ADD COLUMN app_id text;
ALTER TABLE space ADD COLUMN is_app_template boolean NOT NULL DEFAULT false;
ALTER TABLE space ADD COLUMN template_id text;
CREATE INDEX space_app ON space (environment_id, app_id, created_at) WHERE app_id IS NOT NULL;
