-- The space:configure process manager: which spaces it asked a configure job for.
CREATE TABLE configure_request (
    space_id text PRIMARY KEY,
    job_id text NOT NULL,
    position bigint NOT NULL
);
