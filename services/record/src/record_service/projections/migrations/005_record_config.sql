-- Flatfile's record `config` ({readonly, fields: {key: {readonly}}, markedForDeletion}), as written
-- with POST (`__c`) and PUT (`config`); '{}' when the record has none. A bulk COPY that leaves
-- the column out (no record of the batch has a config) takes the default.
ALTER TABLE record ADD COLUMN config jsonb NOT NULL DEFAULT '{}';
