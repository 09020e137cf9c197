-- Secrets: the value only as its AES-GCM ciphertext (opened by the service for a secret key).
CREATE TABLE secret (
    id text PRIMARY KEY,
    environment_id text NOT NULL,
    space_id text,
    actor_id text,
    name text NOT NULL,
    ciphertext text NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    position bigint NOT NULL
);
CREATE INDEX secret_environment ON secret (environment_id, name);
