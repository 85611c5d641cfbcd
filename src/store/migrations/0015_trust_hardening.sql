-- The root of trust, hardened after a review. `members.invite_key`: the invite key whose
-- certificate let the member in (an invite admits at most the devices its certificate says,
-- counted by it). `revoked_unknown`: devices an epoch record revoked before their member record
-- came here (a relay serving the log out of order); the record, when it comes, is taken in as
-- revoked.
ALTER TABLE members ADD COLUMN invite_key TEXT;
CREATE TABLE revoked_unknown (
    actor  TEXT PRIMARY KEY,
    cutoff INTEGER
);
