-- user_version 20
-- index blobs_expected_by_doc
CREATE INDEX blobs_expected_by_doc ON blobs_expected(doc_id);

-- index commitments_by_campaign
CREATE INDEX commitments_by_campaign ON commitments (campaign_id);

-- index commitments_by_person
CREATE INDEX commitments_by_person ON commitments (person_id);

-- index commitments_by_status_due
CREATE INDEX commitments_by_status_due ON commitments (status, due);

-- index conversations_by_follow_up
CREATE INDEX conversations_by_follow_up ON conversations (follow_up);

-- index conversations_by_shift
CREATE INDEX conversations_by_shift ON conversations (shift_id);

-- index conversations_latest
CREATE INDEX conversations_latest ON conversations (person_id, at, id, engagement, follow_up);

-- index doc_blobs_by_doc
CREATE INDEX doc_blobs_by_doc ON doc_blobs(doc_id);

-- index door_visits_by_door
CREATE INDEX door_visits_by_door ON door_visits (door_id, at, id);

-- index door_visits_by_list
CREATE INDEX door_visits_by_list ON door_visits (walklist_id);

-- index door_visits_by_shift
CREATE INDEX door_visits_by_shift ON door_visits (shift_id);

-- index doors_by_key
CREATE INDEX doors_by_key ON doors (key);

-- index doors_by_list
CREATE INDEX doors_by_list ON doors (walklist_id);

-- index erased_by_seq
CREATE UNIQUE INDEX erased_by_seq ON erased (seq) WHERE seq IS NOT NULL;

-- index people_by_area
CREATE INDEX people_by_area ON people (area COLLATE NOCASE);

-- index people_recent
CREATE INDEX people_recent ON people (updated_at DESC, id);

-- index quarantine_by_hash
CREATE INDEX quarantine_by_hash ON quarantine(change_hash);

-- index waiting_by_doc
CREATE INDEX waiting_by_doc ON waiting(doc_id);

-- table awaiting_key
CREATE TABLE awaiting_key (
    blob_id      TEXT PRIMARY KEY,
    doc_id       TEXT NOT NULL,
    blob         BLOB NOT NULL,
    pusher_actor TEXT,
    pusher_name  TEXT,
    received_at  TEXT NOT NULL
, snapshot INTEGER NOT NULL DEFAULT 0 CHECK (snapshot IN (0, 1)));

-- table blobs_expected
CREATE TABLE blobs_expected (
    tag    INTEGER PRIMARY KEY,
    doc_id TEXT NOT NULL,
    actor  TEXT NOT NULL
);

-- table campaigns
CREATE TABLE campaigns (
    id         TEXT PRIMARY KEY NOT NULL,
    name       TEXT NOT NULL,
    issue      TEXT,
    targets    TEXT NOT NULL,         -- JSON object label -> number
    created_at TEXT NOT NULL,
    conflicts  TEXT NOT NULL
);

-- table commitments
CREATE TABLE "commitments" (
    id              TEXT NOT NULL,
    person_id       TEXT NOT NULL,
    conversation_id TEXT,
    campaign_id     TEXT,
    what            TEXT NOT NULL,
    due             TEXT,
    status          TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    status_at       TEXT NOT NULL,
    conflicts       TEXT NOT NULL,
    target          TEXT,
    PRIMARY KEY (id, person_id)
);

-- table conversations
CREATE TABLE "conversations" (
    id         TEXT NOT NULL,
    person_id  TEXT NOT NULL,
    at         TEXT NOT NULL,
    kind       TEXT NOT NULL,
    canvasser  TEXT NOT NULL,
    shift_id   TEXT,
    issues     TEXT NOT NULL,         -- JSON array
    story      TEXT,
    notes      TEXT,
    engagement INTEGER,
    follow_up  TEXT,
    created_at TEXT NOT NULL,
    conflicts  TEXT NOT NULL,
    PRIMARY KEY (id, person_id)
);

-- table cutoff_records
CREATE TABLE cutoff_records (
    actor  TEXT NOT NULL,
    record BLOB NOT NULL,
    PRIMARY KEY (actor, record)
) WITHOUT ROWID;

-- table device_key
CREATE TABLE device_key (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    signing_key  BLOB NOT NULL CHECK (length(signing_key) = 32),
    exchange_key BLOB NOT NULL CHECK (length(exchange_key) = 32),
    created_at   TEXT NOT NULL
);

-- table doc_blobs
CREATE TABLE doc_blobs (
    tag     INTEGER PRIMARY KEY,
    doc_id  TEXT NOT NULL,
    changes INTEGER NOT NULL,
    covered INTEGER NOT NULL DEFAULT 0 CHECK (covered IN (0, 1))
);

-- table doc_keys
CREATE TABLE doc_keys (
    depth  INTEGER NOT NULL,
    prefix INTEGER NOT NULL,
    key    BLOB NOT NULL,
    PRIMARY KEY (depth, prefix)
) WITHOUT ROWID;

-- table documents
CREATE TABLE documents (
    doc_id     TEXT PRIMARY KEY NOT NULL,
    kind       TEXT,                  -- person | campaign | shift; NULL until known
    snapshot   BLOB NOT NULL,
    updated_at TEXT NOT NULL
);

-- table door_visits
CREATE TABLE "door_visits" (
    id           TEXT NOT NULL,
    walklist_id  TEXT NOT NULL,
    door_id      TEXT NOT NULL,
    outcome      TEXT NOT NULL,
    at           TEXT NOT NULL,
    canvasser    TEXT NOT NULL,
    shift_id     TEXT,
    come_back_at TEXT,
    note         TEXT,
    conflicts    TEXT NOT NULL,
    PRIMARY KEY (id, walklist_id)
);

-- table doors
CREATE TABLE "doors" (
    id          TEXT NOT NULL,
    walklist_id TEXT NOT NULL,
    address     TEXT NOT NULL,
    number      TEXT,
    street      TEXT,
    flat        TEXT,
    town        TEXT,
    postcode    TEXT,
    key         TEXT NOT NULL,
    conflicts   TEXT NOT NULL,
    residents   TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (id, walklist_id)
);

-- table drafts
CREATE TABLE drafts (
    key        TEXT PRIMARY KEY NOT NULL,
    body       TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- table erased
CREATE TABLE erased (
    doc_id    TEXT PRIMARY KEY NOT NULL,
    seq       INTEGER,
    erased_at TEXT NOT NULL,
    confirmed INTEGER,
    devices   INTEGER
);

-- table listed_by
CREATE TABLE listed_by (
    actor  TEXT NOT NULL,
    tag    INTEGER NOT NULL,
    record BLOB NOT NULL,
    rest   INTEGER,
    n      INTEGER NOT NULL,
    PRIMARY KEY (actor, tag, record)
) WITHOUT ROWID;

-- table members
CREATE TABLE members (
    actor        TEXT PRIMARY KEY,
    signing_key  BLOB NOT NULL CHECK (length(signing_key) = 32),
    exchange_key BLOB NOT NULL CHECK (length(exchange_key) = 32),
    name         TEXT NOT NULL,
    device_id    TEXT NOT NULL,
    revoked      INTEGER NOT NULL DEFAULT 0,
    seen_at      TEXT NOT NULL
, cutoff INTEGER, role TEXT CHECK (role IS NULL OR role IN ('lead', 'canvasser')), invite_key TEXT);

-- table meta
CREATE TABLE meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);

-- table outbox
CREATE TABLE outbox (
    seq         INTEGER PRIMARY KEY,
    doc_id      TEXT NOT NULL,
    change_hash TEXT NOT NULL UNIQUE,
    bytes       BLOB NOT NULL,
    created_at  TEXT NOT NULL
);

-- table people
CREATE TABLE people (
    id             TEXT PRIMARY KEY NOT NULL,
    name           TEXT NOT NULL,
    phone          TEXT,
    email          TEXT,
    address        TEXT,
    area           TEXT,
    workplace      TEXT,
    role           TEXT,
    notes          TEXT,
    tags           TEXT NOT NULL,     -- JSON array
    consent        TEXT NOT NULL,     -- JSON object channel -> given_at
    do_not_contact INTEGER NOT NULL,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    conflicts      TEXT NOT NULL      -- JSON object field -> [values]
, languages TEXT NOT NULL DEFAULT '[]');

-- table people_fts
CREATE VIRTUAL TABLE people_fts USING fts5 (
    name, contact, place, work, issues, said,
    content = '',
    contentless_delete = 1,
    tokenize = 'unicode61 remove_diacritics 2'
);

-- table people_fts_config
CREATE TABLE 'people_fts_config'(k PRIMARY KEY, v) WITHOUT ROWID;

-- table people_fts_data
CREATE TABLE 'people_fts_data'(id INTEGER PRIMARY KEY, block BLOB);

-- table people_fts_docsize
CREATE TABLE 'people_fts_docsize'(id INTEGER PRIMARY KEY, sz BLOB, origin INTEGER);

-- table people_fts_idx
CREATE TABLE 'people_fts_idx'(segid, term, pgno, PRIMARY KEY(segid, term)) WITHOUT ROWID;

-- table push_attested
CREATE TABLE push_attested (
    actor TEXT PRIMARY KEY,
    n     INTEGER NOT NULL CHECK (n >= 1)
) WITHOUT ROWID;

-- table push_record_ids
CREATE TABLE push_record_ids (
    actor  TEXT NOT NULL,
    record BLOB NOT NULL,
    n      INTEGER NOT NULL,
    PRIMARY KEY (actor, record)
) WITHOUT ROWID;

-- table push_records
CREATE TABLE push_records (
    actor TEXT NOT NULL,
    n     INTEGER NOT NULL CHECK (n >= 1),
    PRIMARY KEY (actor, n)
) WITHOUT ROWID;

-- table quarantine
CREATE TABLE quarantine (
    blob_id      TEXT PRIMARY KEY,   -- SHA-256 of the bytes (the relay's id)
    doc_id       TEXT NOT NULL,
    change_hash  TEXT,               -- the Automerge hash, when the bytes are a change
    pusher_actor TEXT,               -- hex actor of the device that pushed it, per the relay
    pusher_name  TEXT,
    reason       TEXT NOT NULL,
    bytes        BLOB NOT NULL,
    received_at  TEXT NOT NULL
, for_room INTEGER NOT NULL DEFAULT 0);

-- table received_blobs
CREATE TABLE received_blobs (
    tag INTEGER PRIMARY KEY
);

-- table refused_erasures
CREATE TABLE refused_erasures (
    seq        INTEGER PRIMARY KEY,
    doc_id     TEXT NOT NULL,
    proof      TEXT,
    reason     TEXT NOT NULL,
    refused_at TEXT NOT NULL
);

-- table repairs
CREATE TABLE repairs (
    doc_id   TEXT PRIMARY KEY,
    asked_at TEXT NOT NULL
);

-- table revoked_unknown
CREATE TABLE revoked_unknown (
    actor  TEXT PRIMARY KEY,
    cutoff INTEGER
);

-- table search_stale
CREATE TABLE search_stale (
    doc_id TEXT PRIMARY KEY NOT NULL
) WITHOUT ROWID;

-- table shifts
CREATE TABLE shifts (
    id          TEXT PRIMARY KEY NOT NULL,
    campaign_id TEXT,
    place       TEXT NOT NULL,
    canvasser   TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    ended_at    TEXT,
    conflicts   TEXT NOT NULL
, walklist_id TEXT);

-- table snapshots_out
CREATE TABLE snapshots_out (
    doc_id  TEXT PRIMARY KEY,
    content BLOB NOT NULL,
    blob_id TEXT,
    made_at TEXT NOT NULL
);

-- table sync_state
CREATE TABLE sync_state (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    cursor       INTEGER NOT NULL DEFAULT 0,
    last_sync_at TEXT,
    last_error   TEXT
, relay_url TEXT, team_id TEXT, relay_device_id TEXT, token TEXT, role TEXT, erasures_applied INTEGER NOT NULL DEFAULT 0, erasures_confirmed INTEGER NOT NULL DEFAULT 0, sealed INTEGER NOT NULL DEFAULT 0, anchor BLOB CHECK (anchor IS NULL OR length(anchor) = 32));

-- table team_keys
CREATE TABLE "team_keys" (
    epoch    INTEGER NOT NULL CHECK (epoch >= 1),
    key      BLOB NOT NULL CHECK (length(key) = 32),
    added_at TEXT NOT NULL,
    PRIMARY KEY (epoch, key)
);

-- table waiting
CREATE TABLE waiting (
    change_hash  TEXT PRIMARY KEY,
    doc_id       TEXT NOT NULL,
    blob_id      TEXT NOT NULL,
    pusher_actor TEXT,
    pusher_name  TEXT,
    bytes        BLOB NOT NULL,
    received_at  TEXT NOT NULL
);

-- table walklists
CREATE TABLE walklists (
    id         TEXT PRIMARY KEY NOT NULL,
    name       TEXT NOT NULL,
    source     TEXT,
    created_at TEXT NOT NULL,
    conflicts  TEXT NOT NULL
);

-- table writers
CREATE TABLE writers (
    actor   TEXT PRIMARY KEY,
    name    TEXT NOT NULL,
    seen_at TEXT NOT NULL
);
