-- Erasure finds a deleted space's record changes by their versions' position ranges: a BRIN
-- index on the append-ordered seq costs the COPY next to nothing.
CREATE INDEX record_change_by_seq ON record_change USING brin (seq);
