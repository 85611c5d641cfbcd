-- A revoked device's cut-off by push records (issue 11). `listed_blobs`: the push that listed
-- each blob (its tag as in `received_blobs`); `members.cutoff`: for a revoked device, the last
-- of its pushes the revoking lead had taken in: what it pushed up to there is taken in wherever
-- the relay puts it in the log (NULL: an epoch record from before cut-offs; the log's order
-- decides).
CREATE TABLE listed_blobs (
    tag   INTEGER PRIMARY KEY,
    actor TEXT NOT NULL,
    n     INTEGER NOT NULL
);

ALTER TABLE members ADD COLUMN cutoff INTEGER;
