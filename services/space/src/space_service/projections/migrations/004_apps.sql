-- Apps of an environment, their stored constraints (latest version) and every constraint version.
CREATE TABLE app (
    id text PRIMARY KEY,
    environment_id text NOT NULL,
    name text NOT NULL,
    namespace text NOT NULL,
    type text NOT NULL,
    entity text NOT NULL,
    entity_plural text NOT NULL,
    icon text,
    metadata jsonb,
    environment_filters jsonb,
    blueprint jsonb,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    activated_at timestamptz,
    deleted_at timestamptz,
    position bigint NOT NULL
);
CREATE INDEX app_environment ON app (environment_id, created_at);

CREATE TABLE app_constraint (
    id text PRIMARY KEY,
    app_id text NOT NULL,
    validator text NOT NULL,
    version integer NOT NULL,
    description text,
    function text,
    options jsonb,
    label text,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    position bigint NOT NULL
);
CREATE INDEX app_constraint_app ON app_constraint (app_id, created_at);

CREATE TABLE app_constraint_version (
    constraint_id text NOT NULL,
    version integer NOT NULL,
    app_id text NOT NULL,
    validator text NOT NULL,
    description text,
    function text,
    options jsonb,
    label text,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (constraint_id, version)
);
