-- People whose search-index row a local write left out of date (see
-- src/store/project.rs, `person_written`): the index catches up before the next search and
-- when the app is idle, so that saving a conversation does not wait for it.
CREATE TABLE search_stale (
    doc_id TEXT PRIMARY KEY NOT NULL
) WITHOUT ROWID;

-- Every query by person and time is served by conversations_latest, whose columns begin
-- with this index's: it only cost a page written at each new conversation.
DROP INDEX IF EXISTS conversations_by_person;
