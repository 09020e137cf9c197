-- Data retention policies (at most one per environment and type) and what the sweeper asks.
CREATE TABLE data_retention_policy (
    id text PRIMARY KEY,
    environment_id text NOT NULL,
    type text NOT NULL,
    period integer NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX data_retention_policy_env ON data_retention_policy (environment_id, created_at);
