-- POST /v1/commits/{id}/complete (CommitCompleted): when and by whom; NULL while open.
ALTER TABLE record_commit
    ADD COLUMN completed_at timestamptz,
    ADD COLUMN completed_by text;
