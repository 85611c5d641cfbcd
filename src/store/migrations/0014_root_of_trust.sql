-- The lead's key as the team's root of trust. `sync_state.anchor`: the signing key of the
-- team's first lead, from this device's invite (or its own, when it made the team's first
-- key); NULL for a team from before, where the relay's word on roles stands.
-- `members.role`: the role a lead's signature gave the member ('lead' or 'canvasser'; NULL in
-- a team with no anchor). `refused_erasures`: erasure orders the relay handed over that no
-- lead of the team signed; the documents they named are kept, and each is checked again at
-- every sync (the record that makes its signer a lead may come later).
ALTER TABLE sync_state ADD COLUMN anchor BLOB CHECK (anchor IS NULL OR length(anchor) = 32);
ALTER TABLE members ADD COLUMN role TEXT CHECK (role IS NULL OR role IN ('lead', 'canvasser'));
CREATE TABLE refused_erasures (
    seq        INTEGER PRIMARY KEY,
    doc_id     TEXT NOT NULL,
    proof      TEXT,
    reason     TEXT NOT NULL,
    refused_at TEXT NOT NULL
);
