-- Erasure: the sheets of a deleted space whose rows are still being removed. The records
-- projection adds them on SpaceDeleted (its sheet and workbook rows go at once); the purger
-- (`erasure.SheetPurger`) deletes their records, history, claims and commits in small batches,
-- then the sheet's row here.
CREATE TABLE erased_sheet (
    sheet_id text PRIMARY KEY,
    space_id text NOT NULL
);
