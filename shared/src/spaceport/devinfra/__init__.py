"""Local infrastructure for development and tests: NATS, Postgres and S3 without Docker."""
