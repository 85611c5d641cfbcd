-- End-to-end encryption (issue 11): the team's keys by epoch, this device's signing and
-- exchange keys, and the keys of the team's devices as their member records said (the first
-- record seen for an actor is kept; `device_id`: its id at the relay, as it said itself;
-- `revoked`: an epoch record revoked it, and nothing it
-- writes is taken in any more). `sync_state.sealed`: the team seals what it pushes.
CREATE TABLE team_keys (
    epoch    INTEGER PRIMARY KEY CHECK (epoch >= 1),
    key      BLOB NOT NULL CHECK (length(key) = 32),
    added_at TEXT NOT NULL
);

CREATE TABLE device_key (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    signing_key  BLOB NOT NULL CHECK (length(signing_key) = 32),
    exchange_key BLOB NOT NULL CHECK (length(exchange_key) = 32),
    created_at   TEXT NOT NULL
);

CREATE TABLE members (
    actor        TEXT PRIMARY KEY,
    signing_key  BLOB NOT NULL CHECK (length(signing_key) = 32),
    exchange_key BLOB NOT NULL CHECK (length(exchange_key) = 32),
    name         TEXT NOT NULL,
    device_id    TEXT NOT NULL,
    revoked      INTEGER NOT NULL DEFAULT 0,
    seen_at      TEXT NOT NULL
);

ALTER TABLE sync_state ADD COLUMN sealed INTEGER NOT NULL DEFAULT 0;

-- Sealed changes that cannot be judged yet: their writer's member record or their key's
-- epoch record has not arrived (a relay may serve the log out of order). Tried again whenever
-- more arrives; never applied unchecked.
CREATE TABLE awaiting_key (
    blob_id      TEXT PRIMARY KEY,
    doc_id       TEXT NOT NULL,
    blob         BLOB NOT NULL,
    pusher_actor TEXT,
    pusher_name  TEXT,
    received_at  TEXT NOT NULL
);
