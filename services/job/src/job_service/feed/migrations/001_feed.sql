-- One row per Flatfile event, in feed order (position = stream sequence * 1024 + ordinal).
CREATE TABLE event (
    id text PRIMARY KEY,
    position bigint NOT NULL UNIQUE,
    environment_id text NOT NULL,
    space_id text,
    domain text NOT NULL,
    topic text NOT NULL,
    body json NOT NULL,  -- the Flatfile event as listed, without the acknowledgement
    created_at timestamptz NOT NULL,
    acknowledged_at timestamptz,
    acknowledged_by text
);
CREATE INDEX event_by_environment ON event (environment_id, position);
CREATE INDEX event_by_space ON event (space_id, position) WHERE space_id IS NOT NULL;

-- Facts a context needs that later events do not carry: a sheet's slug, a workbook's namespace, ...
CREATE TABLE lookup (
    kind text NOT NULL,
    key text NOT NULL,
    info json NOT NULL,
    PRIMARY KEY (kind, key)
);
