-- Mappings learned from completed workbook:map jobs: a source column name (normalised key or
-- label) -> the destination field it went to, per environment and destination sheet slug; the
-- next plan into a sheet of that slug starts from them.
CREATE TABLE remembered_mapping (
    environment_id text NOT NULL,
    destination_slug text NOT NULL,
    source_name text NOT NULL,
    destination_key text NOT NULL,
    used_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (environment_id, destination_slug, source_name)
);
