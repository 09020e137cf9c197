-- Every service keeps its own directory of spaces (it never reads the space service's tables):
-- enough to refuse work in an unknown, archived or deleted space, and to scope by environment.
CREATE TABLE known_space (
    id text PRIMARY KEY,
    environment_id text NOT NULL,
    name text NOT NULL,
    archived boolean NOT NULL DEFAULT false,
    deleted boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL,
    position bigint NOT NULL
);
CREATE INDEX known_space_environment ON known_space (environment_id);
