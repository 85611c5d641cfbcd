-- Two leads revoking devices at the same moment each make a key for the same epoch; every
-- device keeps both (each lead wrapped its key for every member it knew), so what either
-- lead's side seals opens everywhere. A key is now one of an epoch's keys, not the epoch's.
CREATE TABLE team_keys_new (
    epoch    INTEGER NOT NULL CHECK (epoch >= 1),
    key      BLOB NOT NULL CHECK (length(key) = 32),
    added_at TEXT NOT NULL,
    PRIMARY KEY (epoch, key)
);
INSERT INTO team_keys_new (epoch, key, added_at) SELECT epoch, key, added_at FROM team_keys;
DROP TABLE team_keys;
ALTER TABLE team_keys_new RENAME TO team_keys;
