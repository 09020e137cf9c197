-- Saved views of sheets (schema `workbook_catalog`). A view is read only while its sheet and
-- workbook are live (the queries join them), so deleting a sheet needs no change here.
CREATE TABLE saved_view (
    id text PRIMARY KEY,
    sheet_id text NOT NULL,
    workbook_id text NOT NULL,
    space_id text NOT NULL,
    environment_id text NOT NULL,
    name text NOT NULL,
    config jsonb NOT NULL,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    deleted_at timestamptz,
    position bigint NOT NULL
);
-- Lists are per sheet, oldest first.
CREATE INDEX saved_view_sheet ON saved_view (sheet_id, created_at, id) WHERE deleted_at IS NULL;
