-- Records flagged `unique-constraint`: the value each one wants but another record holds, so that
-- when the holder is deleted or changes value the first waiter (by row_no) is re-validated in the
-- same commit. Only duplicates have rows here; inserts of unique values never touch it.
CREATE TABLE unique_waiter (
    sheet_id text NOT NULL,
    name text NOT NULL,
    value text NOT NULL,
    record_id text NOT NULL,
    PRIMARY KEY (sheet_id, name, value, record_id)
);
CREATE INDEX unique_waiter_record ON unique_waiter (record_id);
