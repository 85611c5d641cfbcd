-- Schema 7: team roles and erasure (issue 11).

-- This device's role in its team as the relay last said (lead | canvasser; NULL: not known yet),
-- and how far it has gone through the team's erasure orders: carried out here, and confirmed to
-- the relay.
ALTER TABLE sync_state ADD COLUMN role TEXT;
ALTER TABLE sync_state ADD COLUMN erasures_applied INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sync_state ADD COLUMN erasures_confirmed INTEGER NOT NULL DEFAULT 0;

-- Documents erased from this notebook (a person erased by a team lead, or from a notebook that
-- syncs with no one): the id only, so that nothing of them is ever taken in again. `seq` is the
-- team's erasure order (NULL for an erasure made without a team); `confirmed` and `devices` are
-- the relay's count of devices that have carried it out, as last asked.
CREATE TABLE erased (
    doc_id    TEXT PRIMARY KEY NOT NULL,
    seq       INTEGER,
    erased_at TEXT NOT NULL,
    confirmed INTEGER,
    devices   INTEGER
);
CREATE UNIQUE INDEX erased_by_seq ON erased (seq) WHERE seq IS NOT NULL;

-- Deleting a person removes its words from the search index itself, not only a delete marker
-- that leaves them in the file until the next merge.
INSERT INTO people_fts (people_fts, rank) VALUES ('secure-delete', 1);
