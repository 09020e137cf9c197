-- Environments, API keys and spaces as the gateway and the API read them.
CREATE TABLE environment (
    id text PRIMARY KEY,
    name text NOT NULL,
    is_prod boolean NOT NULL,
    guest_authentication jsonb NOT NULL,
    metadata jsonb NOT NULL,
    created_at timestamptz NOT NULL
);

CREATE TABLE api_key (
    key_hash text PRIMARY KEY,
    key_id text NOT NULL UNIQUE,
    environment_id text NOT NULL REFERENCES environment (id),
    kind text NOT NULL,
    hint text NOT NULL,
    revoked boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL
);

CREATE TABLE space (
    id text PRIMARY KEY,
    environment_id text NOT NULL,
    name text NOT NULL,
    namespace text,
    labels jsonb NOT NULL,
    metadata jsonb NOT NULL,
    settings jsonb NOT NULL,
    auto_configure boolean NOT NULL,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    archived_at timestamptz,
    deleted_at timestamptz,
    last_activity_at timestamptz,
    workbooks_count integer NOT NULL DEFAULT 0,
    files_count integer NOT NULL DEFAULT 0,
    position bigint NOT NULL
);

-- Listing an environment's live spaces newest first is the common page; keyset on (created_at, id).
CREATE INDEX space_env_created ON space (environment_id, created_at DESC, id DESC) WHERE deleted_at IS NULL;
