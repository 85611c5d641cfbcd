-- Compaction (issue 13). `doc_blobs`: the blobs of the team's log whose content this device
-- holds, by document: pulled and taken in, pushed by this device and acknowledged, or stood
-- for by a snapshot it took in. A lead's device compacts a document once the blobs no snapshot
-- stands for yet carry enough changes, and its snapshot names every tag listed here for the
-- document, so that the relay can skip them for devices that get the snapshot.
CREATE TABLE doc_blobs (
    tag     INTEGER PRIMARY KEY,
    doc_id  TEXT NOT NULL,
    changes INTEGER NOT NULL,
    covered INTEGER NOT NULL DEFAULT 0 CHECK (covered IN (0, 1))
);
CREATE INDEX doc_blobs_by_doc ON doc_blobs(doc_id);

-- Snapshots this lead's device made: pushed with the next sync (sealed then), announced to
-- the relay once it acknowledged them (`blob_id` set), deleted once announced.
CREATE TABLE snapshots_out (
    doc_id  TEXT PRIMARY KEY,
    content BLOB NOT NULL,
    blob_id TEXT,
    made_at TEXT NOT NULL
);

-- A sealed blob kept until its writer's key comes remembers whether the relay placed it as a
-- lead's snapshot.
ALTER TABLE awaiting_key ADD COLUMN snapshot INTEGER NOT NULL DEFAULT 0 CHECK (snapshot IN (0, 1));
