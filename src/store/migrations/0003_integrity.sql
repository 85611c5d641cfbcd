-- Schema 3: pulled changes are judged one by one (src/store/intake.rs).

-- A pulled change that could not be applied or would damage its document: kept with the
-- reason and the device that pushed it, reported, never applied.
CREATE TABLE quarantine (
    blob_id      TEXT PRIMARY KEY,   -- SHA-256 of the bytes (the relay's id)
    doc_id       TEXT NOT NULL,
    change_hash  TEXT,               -- the Automerge hash, when the bytes are a change
    pusher_actor TEXT,               -- hex actor of the device that pushed it, per the relay
    pusher_name  TEXT,
    reason       TEXT NOT NULL,
    bytes        BLOB NOT NULL,
    received_at  TEXT NOT NULL
);
CREATE INDEX quarantine_by_hash ON quarantine(change_hash);

-- A pulled change whose dependencies have not arrived: tried again when more of its document
-- arrives, or after a repair.
CREATE TABLE waiting (
    change_hash  TEXT PRIMARY KEY,
    doc_id       TEXT NOT NULL,
    blob_id      TEXT NOT NULL,
    pusher_actor TEXT,
    pusher_name  TEXT,
    bytes        BLOB NOT NULL,
    received_at  TEXT NOT NULL
);
CREATE INDEX waiting_by_doc ON waiting(doc_id);

-- The devices seen writing, by actor (hex): who changed what, in a person file's history.
CREATE TABLE writers (
    actor   TEXT PRIMARY KEY,
    name    TEXT NOT NULL,
    seen_at TEXT NOT NULL
);

-- When a document was last asked for again, so that automatic repairs are not repeated on
-- every sync.
CREATE TABLE repairs (
    doc_id   TEXT PRIMARY KEY,
    asked_at TEXT NOT NULL
);
