-- Environment lifecycle, the rest of a space's config, documents and guests.
ALTER TABLE environment
    ADD COLUMN namespaces jsonb,
    ADD COLUMN translations_path text,
    ADD COLUMN language_override text,
    ADD COLUMN updated_at timestamptz,
    ADD COLUMN deleted_at timestamptz;

CREATE INDEX api_key_environment ON api_key (environment_id);

ALTER TABLE space
    ADD COLUMN access jsonb,
    ADD COLUMN guest_authentication jsonb NOT NULL DEFAULT '["magic_link"]',
    ADD COLUMN actions jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN primary_workbook_id text,
    ADD COLUMN translations_path text,
    ADD COLUMN language_override text,
    ADD COLUMN display_order integer,
    ADD COLUMN allowed_domains jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN is_collaborative boolean NOT NULL DEFAULT false;

CREATE TABLE document (
    id text PRIMARY KEY,
    space_id text NOT NULL,
    environment_id text NOT NULL,
    title text NOT NULL,
    body text NOT NULL,
    treatments jsonb NOT NULL,
    actions jsonb NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    position bigint NOT NULL
);
CREATE INDEX document_space ON document (space_id, created_at, id);

CREATE TABLE guest (
    id text PRIMARY KEY,
    environment_id text NOT NULL,
    email text NOT NULL,
    name text NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    position bigint NOT NULL
);
CREATE INDEX guest_environment_email ON guest (environment_id, email);

-- A guest's grant on one space; the gateway's token check and GET /guests?spaceId read it.
CREATE TABLE guest_space (
    guest_id text NOT NULL REFERENCES guest (id) ON DELETE CASCADE,
    space_id text NOT NULL,
    role text NOT NULL,
    workbook_ids jsonb NOT NULL,
    PRIMARY KEY (guest_id, space_id)
);
CREATE INDEX guest_space_space ON guest_space (space_id);
