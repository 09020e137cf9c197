-- errorsByField as maintained counters: counts never walk the invalid rows.
CREATE TABLE field_errors (
    sheet_id text NOT NULL,
    field text NOT NULL,
    errors bigint NOT NULL,
    PRIMARY KEY (sheet_id, field)
);
