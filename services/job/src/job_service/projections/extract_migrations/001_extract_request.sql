-- The file:extract process manager: which uploaded files it asked an extract job for.
CREATE TABLE extract_request (
    file_id text PRIMARY KEY,
    job_id text NOT NULL,
    position bigint NOT NULL
);
