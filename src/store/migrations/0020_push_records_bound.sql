-- Schema 20: a revoked device's blobs are judged by the push records its revocation bound
-- (issue 11, a review of 2026-12-08). Before, a cut-off was a push number only, and a listing
-- was keyed by an 8-byte tag alone: a revoked phone (with a relay in league) could sign a new
-- record under an old number, or a blob whose tag matched one it pushed before, and have a
-- change written after its revocation taken in.
--
-- `listed_by`: each listing of a blob by a push record: the device (`actor`) whose record it
-- is, the blob's tag, `rest` (the blob id's next 8 bytes, from records that carry them; NULL
-- from older apps' records and from listings taken before this schema), the push number and
-- `record` (the first 16 bytes of the record's own blob id; empty for listings taken before
-- this schema). `push_record_ids`: the records taken in, by their blob ids, so that a lead
-- revoking a device can name the ones it had. `cutoff_records`: for a revoked device, the
-- records its revocation named (none: the cut-off's number alone decides, as before).
CREATE TABLE listed_by (
    actor  TEXT NOT NULL,
    tag    INTEGER NOT NULL,
    record BLOB NOT NULL,
    rest   INTEGER,
    n      INTEGER NOT NULL,
    PRIMARY KEY (actor, tag, record)
) WITHOUT ROWID;

INSERT INTO listed_by (actor, tag, record, rest, n)
    SELECT actor, tag, X'', NULL, n FROM listed_blobs;
DROP TABLE listed_blobs;

CREATE TABLE push_record_ids (
    actor  TEXT NOT NULL,
    record BLOB NOT NULL,
    n      INTEGER NOT NULL,
    PRIMARY KEY (actor, record)
) WITHOUT ROWID;

CREATE TABLE cutoff_records (
    actor  TEXT NOT NULL,
    record BLOB NOT NULL,
    PRIMARY KEY (actor, record)
) WITHOUT ROWID;
