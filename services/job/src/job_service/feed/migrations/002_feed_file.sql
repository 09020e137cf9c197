-- A space's file events by file id: who uploaded each file and the workbook it was last linked
-- to, which decide whether a guest limited to some workbooks sees its events (queries.visible).
CREATE INDEX event_of_file ON event (space_id, (body->'context'->>'fileId'), position)
    WHERE topic IN ('file:created', 'file:updated');
