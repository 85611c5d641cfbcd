-- Schema 18: rows of records held inside another document (a person's conversations and
-- commitments, a walk list's doors and visits) are keyed by that document and their id.
--
-- Ids are made by the writing device, so a buggy or hostile member can write into person B a
-- record under the id of one of A's. Keyed by id alone, only one of the two could have a row:
-- where B's copy was projected first (a new device taking B's file before A's), A's record was
-- missing from every list and report. Keyed by owner and id, each file has its own rows.
-- Projection rows are derived data: they are copied here as they are.

CREATE TABLE conversations_new (
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
INSERT INTO conversations_new (rowid, id, person_id, at, kind, canvasser, shift_id, issues,
                               story, notes, engagement, follow_up, created_at, conflicts)
    SELECT rowid, id, person_id, at, kind, canvasser, shift_id, issues,
           story, notes, engagement, follow_up, created_at, conflicts FROM conversations;
DROP TABLE conversations;
ALTER TABLE conversations_new RENAME TO conversations;
CREATE INDEX conversations_by_shift ON conversations (shift_id);
CREATE INDEX conversations_by_follow_up ON conversations (follow_up);
CREATE INDEX conversations_latest ON conversations (person_id, at, id, engagement, follow_up);

CREATE TABLE commitments_new (
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
INSERT INTO commitments_new (rowid, id, person_id, conversation_id, campaign_id, what, due,
                             status, created_at, status_at, conflicts, target)
    SELECT rowid, id, person_id, conversation_id, campaign_id, what, due,
           status, created_at, status_at, conflicts, target FROM commitments;
DROP TABLE commitments;
ALTER TABLE commitments_new RENAME TO commitments;
CREATE INDEX commitments_by_person ON commitments (person_id);
CREATE INDEX commitments_by_status_due ON commitments (status, due);
CREATE INDEX commitments_by_campaign ON commitments (campaign_id);

CREATE TABLE doors_new (
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
INSERT INTO doors_new (rowid, id, walklist_id, address, number, street, flat, town, postcode,
                       key, conflicts, residents)
    SELECT rowid, id, walklist_id, address, number, street, flat, town, postcode,
           key, conflicts, residents FROM doors;
DROP TABLE doors;
ALTER TABLE doors_new RENAME TO doors;
CREATE INDEX doors_by_list ON doors (walklist_id);
CREATE INDEX doors_by_key ON doors (key);

CREATE TABLE door_visits_new (
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
INSERT INTO door_visits_new (rowid, id, walklist_id, door_id, outcome, at, canvasser,
                             shift_id, come_back_at, note, conflicts)
    SELECT rowid, id, walklist_id, door_id, outcome, at, canvasser,
           shift_id, come_back_at, note, conflicts FROM door_visits;
DROP TABLE door_visits;
ALTER TABLE door_visits_new RENAME TO door_visits;
CREATE INDEX door_visits_by_list ON door_visits (walklist_id);
CREATE INDEX door_visits_by_door ON door_visits (door_id, at, id);
CREATE INDEX door_visits_by_shift ON door_visits (shift_id);
