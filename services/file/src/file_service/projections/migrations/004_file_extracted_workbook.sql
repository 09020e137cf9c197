-- The workbook the built-in extractor made from the file (its FileUpdated from the extractor's
-- actor), apart from `workbook_id`, which a PATCH may change: an uploading guest limited to some
-- workbooks may also use this one (`ListUploadedWorkbooks`).
ALTER TABLE file ADD COLUMN extracted_workbook_id text;
CREATE INDEX file_uploader ON file (space_id, created_by) WHERE NOT deleted AND extracted_workbook_id IS NOT NULL;
