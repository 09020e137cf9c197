-- A space's `file:deleted` events by file id: a limited guest's own upload stops counting as its
-- own once deleted, so the feed looks for one per upload in each of that guest's reads (queries.own).
CREATE INDEX event_of_deleted_file ON event (space_id, (body->'context'->>'fileId'))
    WHERE topic = 'file:deleted';
