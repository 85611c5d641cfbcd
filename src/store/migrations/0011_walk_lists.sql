-- Walk lists (issue 12): the projections of walk list documents. `doors.residents` is the
-- list's residents at the door as JSON ([{name, elector_number}]); a door's status is its
-- latest visit (by `at`, then id), read from `door_visits`; `doors.key` is the address as a
-- re-import and a do-not-knock match it. A shift can take a walk list.
CREATE TABLE walklists (
    id         TEXT PRIMARY KEY NOT NULL,
    name       TEXT NOT NULL,
    source     TEXT,
    created_at TEXT NOT NULL,
    conflicts  TEXT NOT NULL
);

CREATE TABLE doors (
    id          TEXT PRIMARY KEY NOT NULL,
    walklist_id TEXT NOT NULL,
    address     TEXT NOT NULL,
    number      TEXT,
    street      TEXT,
    flat        TEXT,
    town        TEXT,
    postcode    TEXT,
    key         TEXT NOT NULL,
    conflicts   TEXT NOT NULL,
    residents   TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX doors_by_list ON doors (walklist_id);
CREATE INDEX doors_by_key ON doors (key);

CREATE TABLE door_visits (
    id           TEXT PRIMARY KEY NOT NULL,
    walklist_id  TEXT NOT NULL,
    door_id      TEXT NOT NULL,
    outcome      TEXT NOT NULL,
    at           TEXT NOT NULL,
    canvasser    TEXT NOT NULL,
    shift_id     TEXT,
    come_back_at TEXT,
    note         TEXT,
    conflicts    TEXT NOT NULL
);
CREATE INDEX door_visits_by_list ON door_visits (walklist_id);
CREATE INDEX door_visits_by_door ON door_visits (door_id, at, id);
CREATE INDEX door_visits_by_shift ON door_visits (shift_id);

ALTER TABLE shifts ADD COLUMN walklist_id TEXT;
