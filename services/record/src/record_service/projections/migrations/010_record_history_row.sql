-- The versions of a range of a sheet's rows as of a position: a restore reads the versions it
-- re-creates or reverts (its chunks are in row order) with one range scan of this index, where
-- a probe per id (`record_history_record`) would read its index and heap pages at random.
-- `seq_to` in the key skips the versions replaced before the position without reading them.
CREATE INDEX record_history_row ON record_history (sheet_id, row_no, seq_to);
