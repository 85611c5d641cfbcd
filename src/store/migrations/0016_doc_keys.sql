-- Each document's own key (see src/crypto/doc_keys.rs): the nodes of the team's tree this
-- device holds. A team made since erasure reaches the relay's backups has at least one row
-- (the root, until an erasure cuts it); a team from before has none. `prefix` is the path's
-- 64-bit number stored as a signed integer.
CREATE TABLE doc_keys (
    depth  INTEGER NOT NULL,
    prefix INTEGER NOT NULL,
    key    BLOB NOT NULL,
    PRIMARY KEY (depth, prefix)
) WITHOUT ROWID;
