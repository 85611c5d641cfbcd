-- Push records (issue 11): what other devices say they pushed, so that blobs the relay withholds
-- are found out. `push_records`: the push numbers taken in from each device; `push_attested`:
-- the highest push number any record names for a device (every number up to it is expected);
-- `received_blobs`: a tag (the first 8 bytes of the relay's id, as an integer) of every blob
-- pulled in a sealed team; `blobs_expected`: blobs a record lists that have not come yet.
CREATE TABLE push_records (
    actor TEXT NOT NULL,
    n     INTEGER NOT NULL CHECK (n >= 1),
    PRIMARY KEY (actor, n)
) WITHOUT ROWID;

CREATE TABLE push_attested (
    actor TEXT PRIMARY KEY,
    n     INTEGER NOT NULL CHECK (n >= 1)
) WITHOUT ROWID;

CREATE TABLE received_blobs (
    tag INTEGER PRIMARY KEY
);

CREATE TABLE blobs_expected (
    tag    INTEGER PRIMARY KEY,
    doc_id TEXT NOT NULL,
    actor  TEXT NOT NULL
);
CREATE INDEX blobs_expected_by_doc ON blobs_expected(doc_id);
