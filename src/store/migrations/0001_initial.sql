-- Groundwork local store, schema 1.
-- Never edit a migration once it has shipped: add a new numbered file instead.

-- Settings of this device and data directory: device_id, device_name, current_shift.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);

-- One Automerge document per person, campaign and shift, saved whole (compressed) after
-- every change: at these sizes saving is cheaper than loading a snapshot plus changes.
CREATE TABLE documents (
    doc_id     TEXT PRIMARY KEY NOT NULL,
    kind       TEXT,                  -- person | campaign | shift; NULL until known
    snapshot   BLOB NOT NULL,
    updated_at TEXT NOT NULL
);

-- Local changes a relay has not acknowledged yet, oldest first.
CREATE TABLE outbox (
    seq         INTEGER PRIMARY KEY,
    doc_id      TEXT NOT NULL,
    change_hash TEXT NOT NULL UNIQUE,
    bytes       BLOB NOT NULL,
    created_at  TEXT NOT NULL
);

-- Where this device stands with its relay (one row).
CREATE TABLE sync_state (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    cursor       INTEGER NOT NULL DEFAULT 0,
    last_sync_at TEXT,
    last_error   TEXT
);
INSERT INTO sync_state (id, cursor) VALUES (1, 0);

-- Text being typed and not yet saved as a record (never synced).
CREATE TABLE drafts (
    key        TEXT PRIMARY KEY NOT NULL,
    body       TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- Projections: rebuilt from a document whenever it changes. Never written otherwise.
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
);
CREATE INDEX people_recent ON people (updated_at DESC, id);

CREATE TABLE conversations (
    id         TEXT PRIMARY KEY NOT NULL,
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
    conflicts  TEXT NOT NULL
);
CREATE INDEX conversations_by_person ON conversations (person_id, at);
CREATE INDEX conversations_by_shift ON conversations (shift_id);
CREATE INDEX conversations_by_follow_up ON conversations (follow_up);

CREATE TABLE commitments (
    id              TEXT PRIMARY KEY NOT NULL,
    person_id       TEXT NOT NULL,
    conversation_id TEXT,
    campaign_id     TEXT,
    what            TEXT NOT NULL,
    due             TEXT,
    status          TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    status_at       TEXT NOT NULL,
    conflicts       TEXT NOT NULL
);
CREATE INDEX commitments_by_person ON commitments (person_id);
CREATE INDEX commitments_by_status_due ON commitments (status, due);
CREATE INDEX commitments_by_campaign ON commitments (campaign_id);

CREATE TABLE campaigns (
    id         TEXT PRIMARY KEY NOT NULL,
    name       TEXT NOT NULL,
    issue      TEXT,
    targets    TEXT NOT NULL,         -- JSON object label -> number
    created_at TEXT NOT NULL,
    conflicts  TEXT NOT NULL
);

CREATE TABLE shifts (
    id          TEXT PRIMARY KEY NOT NULL,
    campaign_id TEXT,
    place       TEXT NOT NULL,
    canvasser   TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    ended_at    TEXT,
    conflicts   TEXT NOT NULL
);

-- Full-text search over people and what was said with them; rowid = people.rowid.
-- Contentless: the text lives in the projections only, the index holds tokens.
CREATE VIRTUAL TABLE people_fts USING fts5 (
    name, contact, place, work, issues, said,
    content = '',
    contentless_delete = 1,
    tokenize = 'unicode61 remove_diacritics 2'
);
