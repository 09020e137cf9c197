-- The bench projection's table; the raw asyncpg ceilings write identical rows to a copy of it.
CREATE TABLE bench_event (
    seq bigint PRIMARY KEY,
    event_id text NOT NULL,
    aggregate_id text NOT NULL,
    n bigint NOT NULL,
    label text NOT NULL
);
