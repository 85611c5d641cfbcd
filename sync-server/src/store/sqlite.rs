//! The SQLite store: one file, `relay.sqlite3`, in the data directory.
//!
//! # Ordering: writers are serialised, so a reader never skips a late row
//!
//! Each team's log is numbered by `teams.head_seq`. A push runs in one `BEGIN IMMEDIATE`
//! transaction that reads the head, appends the new blobs at `head + 1, head + 2, …`, stores the
//! new head and commits. Writers are serialised twice over: in this process by a mutex around the
//! write connection (so they queue without SQLite's sleeping busy handler), and across processes
//! by SQLite's single write lock (operator commands, with a busy timeout). So sequence numbers are
//! committed in increasing order: a reader's snapshot that contains row `n` contains every row
//! before it, and a cursor can never move past a row that commits later. The alternative, serving
//! only up to a "safe watermark" below the oldest open writer, is needed only when writers run in
//! parallel; one SQLite file has one writer anyway. (A PostgreSQL backend gets the same guarantee
//! by locking the team's row, `SELECT … FOR UPDATE`, for the length of the push transaction.)
//!
//! # Durability, and group commit
//!
//! WAL journal with `synchronous = FULL` on the connection that stores blobs: a push is
//! acknowledged only after its commit reached the disk. Pushes are committed in groups: a push
//! joins a queue, and whichever waiting push finds no group being written takes the writers'
//! mutex and then the queue's front (every push that arrived while the previous group was
//! committing, up to `GROUP_BYTES` of blobs beyond the first), writes each push inside its own
//! savepoint of one transaction (a refused push, over its team's quota or holding an erased
//! document, rolls back alone), commits once, and hands each push its own answer. So one flush
//! of the WAL acknowledges many pushes, and the queue keeps pushes first come, first served, as
//! the HTTP layer's turns did (a large push still arrives in parts of at most 256 KiB, one part
//! queued at a time: another team's push waits for at most one group). Pull-only syncs read from a pool of reader
//! connections (WAL readers never block the writer) and then record the device's sync time and
//! position on a second write connection with `synchronous = NORMAL`: losing that record to a
//! power cut is harmless (a relay that starts again does not trust the positions: see
//! "Compaction"), and skipping the flush keeps pulls cheap.
//!
//! # Erasure
//!
//! A lead's erasure order deletes every blob of one document of its team and keeps a tombstone
//! (`erasures`: the document id, the order's number from `teams.erasure_seq`, when, and by which
//! device), in one transaction that also takes the blobs' bytes off the team's storage count.
//! Every transaction that would store a push first looks its documents up among the tombstones,
//! so no change of an erased document is stored again. So that the deleted bytes leave the files
//! and not only the tables, every connection runs with `secure_delete = ON` (SQLite overwrites
//! deleted content and freed pages with zeros instead of leaving them in free space), and after
//! an erasure the WAL is checkpointed and truncated (`wal_checkpoint(TRUNCATE)`): the zeroed
//! pages replace the old ones in `relay.sqlite3`, and the old page images leave `-wal`.
//!
//! That checkpoint must not stall the other teams. It runs after the erasure's transaction
//! committed and the writers' mutex was released, on a connection of its own whose busy timeout
//! is zero: a try gives up at once when a writer, or a reader still using the WAL, is in the
//! way, instead of holding SQLite's write lock while it waits for them. The erasure
//! retries for up to `CHECKPOINT_PATIENCE` (2 s) between tries holding no lock; if the WAL still
//! could not be emptied (a long `sqlite3 .backup`, say), the checkpoint is *owed*: a warning is
//! logged and it is tried again after every durable push commits, and at the next erasure,
//! until it succeeds (while nothing is owed, a push only reads a flag; a relay starts with one
//! owed, in case it stopped before one succeeded). Erasing a document erased before orders
//! nothing new and checkpoints only when one is owed. Every connection sets
//! `journal_size_limit`, so that a WAL reused after a checkpoint is cut back to
//! `WAL_SIZE_LIMIT` (1 MiB) rather than staying as large as it once grew, stale frames included.
//! Copies made outside the database file (backups, the disk's own remapping of blocks) are out
//! of the relay's reach.
//!
//! Each device keeps `erasures_seen`, the last order it carried out (a new device starts at the
//! team's head: it never held what was erased before it joined); an order's confirmation count
//! is the number of the team's active devices that have reached it.
//!
//! # Sealed keys
//!
//! An invite a lead's app made may carry the team's keys sealed for it (`invites.sealed_keys`,
//! opaque to the relay). The relay keeps no copy longer than the invite can be used: the
//! invite's last use sets them to NULL in the enrolment's transaction, revoking its maker deletes
//! the invite, and every invite creation or enrolment into a team first sets the keys of the
//! team's expired invites to NULL. `secure_delete` overwrites the old row, and the WAL is then
//! emptied as after an erasure (the same owed-checkpoint machinery), so that the keys leave
//! `relay.sqlite3-wal` too. A team is sealed (`teams.sealed`) from the first invite carrying keys,
//! or from the enrolment of its first sealing device with a lead's invite while it had never
//! stored a change (with a canvasser's invite, while the team has no lead, such a device is
//! refused: a canvasser's device must not be the team's root of trust).
//!
//! Keys longer than one request come in parts first (`invite_key_parts`, each its lead's, of its
//! team): the invite's transaction takes the parts it names (deleting them) and stores the
//! joined text; a part no invite takes is deleted once its hour is up (at the team's next
//! invite, part or enrolment), when its lead starts another invite's parts, or when its lead
//! is revoked, and the WAL is emptied after each of these as for expired keys.
//!
//! # Compaction
//!
//! A lead's device pushes a *snapshot* (one blob standing for many of a document's blobs, opaque
//! like any other) and then names, by their tags, the blobs it covers ([`super::Store::compact`]).
//! The relay decides, when it places the snapshot, which devices still need each covered blob,
//! and serves a covered blob to those devices only:
//!
//! - **Placing.** The snapshot (at `s`) moves to the position `f` of the earliest blob it covers,
//!   and that blob is deleted (its bytes leave the team's count): its content is in the snapshot.
//!   A device whose next `since` is before `f` gets the snapshot; one at `f` or later holds that
//!   blob (it read past `f`, pushed it, or holds what stood for it). `blobs.placed` marks a
//!   placed snapshot: it never moves again (moved back, it would pass the devices between its
//!   new and its old position, and they would get neither it nor what it stands for), and a
//!   covered snapshot is never placed. The earliest blob may itself be an earlier snapshot.
//! - **Needs.** Every other covered blob `b` that no earlier placement covered gets
//!   `blobs.covered_from = f` (the marker: covered, and by a snapshot placed where) and one
//!   `covered_needs` row per active device that may still need it: every active device but `b`'s
//!   pusher and the snapshot's maker (they hold it) whose next `since` may lie in `[f, b)`, i.e.
//!   `cursor < b` and (`reach` unknown or `reach >= f`). Such a device read past `f` without the
//!   snapshot and has not read `b`. A blob an earlier placement covered keeps the needs it has
//!   and gets no new ones: a device that was not among them then got that snapshot (or a later
//!   one standing where it stood) or holds the blob. Deciding conservatively costs bytes only.
//! - **Pulls.** A sync serves a covered blob only to a device with a `covered_needs` row for it.
//!   So a new device, paging from 0, gets each snapshot once and no blob it covers, whatever the
//!   page size; a device past `f` gets what it lacks and not the snapshot. The repair route
//!   (`doc_changes`) serves every stored blob of its document, covered or not: a device that
//!   refused a damaged snapshot gets whatever history is still stored.
//! - **Forgetting.** A device sends a `since` only once it has committed everything up to
//!   there, so every sync (pull-only or pushing, with the statement that records where it is)
//!   deletes its rows up to its `since`. Revoking a device deletes its rows (pruning deletes any
//!   left of a revoked device too). A compaction request (one with no items included) then
//!   deletes every covered blob of the team that no row names (with `secure_delete`, like any
//!   delete; its bytes leave the team's count). Erasure deletes a document's rows with its
//!   blobs, snapshots included.
//!
//! Where a device's next sync starts: `devices.cursor` is the `since` of its last sync and
//! `devices.reach` the cursor answered to it; its next `since` is one of the two (the answer's,
//! once it committed the page; its own, if the answer was lost). Two things keep that record
//! honest for placement:
//!
//! - A pull-only sync records on the relaxed connection, which a power cut may roll back after
//!   the answer was sent (the record then says the device is further back than it is, and a
//!   placement would leave it no row for a blob it lacks). So every `open` forgets the reaches
//!   (`reach` NULL: the next `since` is anywhere from `cursor` on), until each device syncs
//!   again. A device that never synced has no reach either: an app that joins again may start
//!   from the position it had.
//! - A pull-only sync reads its page on a reader connection and records afterwards. A placement
//!   committed in between decided on the previous record, and the page (read before it) may
//!   hold the deleted blob and lack the snapshot: the sync (a counter of placements in the store
//!   tells) reads its page again holding the writers' mutex, where no placement can come
//!   between the read and its record. Pruning alone needs no second read: it deletes only blobs
//!   no device is served.
//!
//! Compaction changes no `head_seq`, and a blob pushed after the snapshot is never covered.
//!
//! # Room for what comes next
//!
//! Blobs carry their writing device so that revocation cut-offs can be added as new tables and
//! migrations (`PRAGMA user_version` counts them).

use std::borrow::Cow;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use groundwork_protocol::compact::tag;
use groundwork_protocol::id::parse_blob_id;
use groundwork_protocol::team::{INVITE_KEY_PART_SECS, MAX_WAITING_KEY_PARTS};
use groundwork_protocol::{
    CANCELLED_INVITE_GRACE_SECS, CompactItem, CompactResponse, Erasure, ErasureList, Role,
};
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ValueRef};
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};

use super::shared::{BLOB_ROW_BYTES, Pager, blob_id, check_cursor, erasure, to_i64, to_u64};
use super::{
    DeviceAuth, DeviceInfo, Enrolled, InviteCancel, InviteInfo, InviteMade, InvitesOf, NewBlob,
    NewDevice, NewInvite, StoreError, StoredBlob, SyncPage, invite_id_of_stored,
};
use crate::secrets::SecretHash;

/// File name of the database inside the data directory.
pub const DB_FILE: &str = "relay.sqlite3";
/// How long a connection waits for another process's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Reader connections kept open.
const READERS: usize = 4;
/// How long an erasure keeps trying to empty the WAL while readers hold older snapshots (each
/// try gives up at once; no lock is held between tries).
const CHECKPOINT_PATIENCE: Duration = Duration::from_secs(2);
/// The pause between those tries.
const CHECKPOINT_RETRY: Duration = Duration::from_millis(20);
/// `journal_size_limit`: a WAL reused after a checkpoint is cut back to this many bytes.
const WAL_SIZE_LIMIT: i64 = 1 << 20;
/// Blob bytes a group commit takes beyond its first push (see "Durability, and group commit").
const GROUP_BYTES: usize = 256 * 1024;

const MIGRATIONS: &[&str] = &[
    r"
CREATE TABLE teams (
    pk         INTEGER PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    head_seq   INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE invites (
    hash       BLOB PRIMARY KEY,
    team_pk    INTEGER NOT NULL REFERENCES teams(pk),
    uses_left  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE devices (
    pk           INTEGER PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    team_pk      INTEGER NOT NULL REFERENCES teams(pk),
    name         TEXT NOT NULL,
    token_hash   BLOB NOT NULL UNIQUE,
    enrolled_at  INTEGER NOT NULL,
    last_sync_at INTEGER,
    revoked_at   INTEGER
);
CREATE INDEX devices_by_team ON devices(team_pk);
CREATE TABLE blobs (
    team_pk    INTEGER NOT NULL REFERENCES teams(pk),
    seq        INTEGER NOT NULL,
    id         BLOB NOT NULL,
    doc_id     TEXT NOT NULL,
    device_pk  INTEGER NOT NULL REFERENCES devices(pk),
    created_at INTEGER NOT NULL,
    blob       BLOB NOT NULL,
    PRIMARY KEY (team_pk, seq)
);
CREATE UNIQUE INDEX blobs_by_id ON blobs(team_pk, id);
",
    r"
-- Each device declares the Automerge actor id its changes carry; no two active devices of a
-- team may declare the same one, so no device can write as another.
ALTER TABLE devices ADD COLUMN actor BLOB;
CREATE UNIQUE INDEX devices_by_actor ON devices(team_pk, actor)
    WHERE actor IS NOT NULL AND revoked_at IS NULL;
-- One document's changes, for devices repairing it.
CREATE INDEX blobs_by_doc ON blobs(team_pk, doc_id, seq);
",
    r"
-- Bytes each team stores (blobs and document ids), for the per-team quota.
ALTER TABLE teams ADD COLUMN stored_bytes INTEGER NOT NULL DEFAULT 0;
UPDATE teams SET stored_bytes = COALESCE(
    (SELECT SUM(length(blob) + length(CAST(doc_id AS BLOB))) FROM blobs WHERE team_pk = teams.pk),
    0);
",
    r"
-- Team roles. Devices enrolled before roles existed are canvassers (the operator promotes one:
-- `device promote`); an invite gives its role to the devices that enrol with it.
ALTER TABLE devices ADD COLUMN role TEXT NOT NULL DEFAULT 'canvasser'
    CHECK (role IN ('lead', 'canvasser'));
ALTER TABLE invites ADD COLUMN role TEXT NOT NULL DEFAULT 'canvasser'
    CHECK (role IN ('lead', 'canvasser'));
-- Erasure orders: one tombstone per erased document, numbered per team by teams.erasure_seq;
-- each device's erasures_seen is the last order it carried out.
ALTER TABLE teams ADD COLUMN erasure_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN erasures_seen INTEGER NOT NULL DEFAULT 0;
CREATE TABLE erasures (
    team_pk   INTEGER NOT NULL REFERENCES teams(pk),
    seq       INTEGER NOT NULL,
    doc_id    TEXT NOT NULL,
    erased_at INTEGER NOT NULL,
    erased_by INTEGER NOT NULL REFERENCES devices(pk),
    PRIMARY KEY (team_pk, seq),
    UNIQUE (team_pk, doc_id)
);
",
    r"
-- Who made each invite: the lead's device, or NULL for the operator's. Revoking a device deletes
-- the invites it made that still have uses left, and enrolment refuses an invite whose maker is
-- revoked.
ALTER TABLE invites ADD COLUMN created_by INTEGER REFERENCES devices(pk);
CREATE INDEX invites_by_creator ON invites(created_by) WHERE created_by IS NOT NULL;
",
    r"
-- End-to-end encryption. An invite a lead's app made may carry the team's keys, sealed by that
-- device for the invite (opaque base64url text; the relay cannot open it); it is set to NULL when
-- the invite is used up or expires, and goes with the invite when its maker is revoked. A team is
-- sealed once such an invite is made, or once its first sealing device enrolled into it while it
-- had never stored a change: from then on only invites carrying keys enrol devices.
ALTER TABLE invites ADD COLUMN sealed_keys TEXT;
ALTER TABLE teams ADD COLUMN sealed INTEGER NOT NULL DEFAULT 0 CHECK (sealed IN (0, 1));
",
    r"
-- Compaction. placed: the blob is a lead's snapshot, moved to the position of the earliest
-- blob it stands for (that blob was deleted). covered_from: NULL, or the position of the first
-- snapshot placed that stands for the blob: the blob is covered, and a sync serves it only to
-- the devices covered_needs lists for it. cursor: the `since` of the device's last sync; reach:
-- the cursor answered to it (NULL: unknown); its next sync starts at one of the two.
ALTER TABLE blobs ADD COLUMN covered_from INTEGER;
ALTER TABLE blobs ADD COLUMN placed INTEGER NOT NULL DEFAULT 0 CHECK (placed IN (0, 1));
ALTER TABLE devices ADD COLUMN cursor INTEGER NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN reach INTEGER;
CREATE INDEX blobs_covered ON blobs(team_pk, seq) WHERE covered_from IS NOT NULL;
-- The devices that still need a covered blob, decided when it was covered: those whose next
-- sync could start between the snapshot's position and the blob's. A row goes once its device
-- syncs from the blob's position or later, or is revoked; a covered blob without rows is
-- deleted.
CREATE TABLE covered_needs (
    team_pk   INTEGER NOT NULL REFERENCES teams(pk),
    seq       INTEGER NOT NULL,
    device_pk INTEGER NOT NULL REFERENCES devices(pk),
    PRIMARY KEY (team_pk, seq, device_pk)
) WITHOUT ROWID;
CREATE INDEX covered_needs_by_device ON covered_needs(device_pk, seq);
",
    r"
-- The lead's signed erasure order (opaque text its device made), handed to every device with
-- the order: devices of a team whose lead's key is its root of trust carry out no order
-- without one.
ALTER TABLE erasures ADD COLUMN proof TEXT;
",
    r"
-- Each stored blob costs its team's count its row too (`shared::BLOB_ROW_BYTES`, 128), not only
-- its bytes and its document id's.
UPDATE teams SET stored_bytes = stored_bytes
    + 128 * (SELECT count(*) FROM blobs WHERE blobs.team_pk = teams.pk);
",
    r"
-- A device that chose its own token may ask for the same enrolment again until it first uses
-- the token (its answer may have been lost on the way): enrol_invite is its invite's hash until
-- then, enrol_sealed what the answer said of sealing. An invite whose uses are spent keeps its
-- sealed keys while such a device may still ask, and at most until it expires.
ALTER TABLE devices ADD COLUMN enrol_invite BLOB;
ALTER TABLE devices ADD COLUMN enrol_sealed INTEGER NOT NULL DEFAULT 0
    CHECK (enrol_sealed IN (0, 1));
CREATE INDEX devices_enrolling ON devices(enrol_invite) WHERE enrol_invite IS NOT NULL;
",
    r"
-- Bytes each device's blobs take of its team's count (the same measure as teams.stored_bytes):
-- a canvasser's device may fill at most its share of the team's quota.
ALTER TABLE devices ADD COLUMN stored_bytes INTEGER NOT NULL DEFAULT 0;
UPDATE devices SET stored_bytes = counted.bytes
FROM (SELECT device_pk, SUM(length(blob) + length(CAST(doc_id AS BLOB)) + 128) AS bytes
      FROM blobs GROUP BY device_pk) AS counted
WHERE devices.pk = counted.device_pk;
",
    r"
-- A team's invites, counted at each new one (a team keeps a bounded number) and forgotten 30
-- days after they expire; the expired ones' keys are looked for at every enrolment.
CREATE INDEX invites_by_team ON invites(team_pk, expires_at);
",
    r"
-- Parts of an invite's sealed keys too long for one request, each left by a lead's device
-- before the invite that names them: joined into that invite's sealed_keys then (and deleted
-- here), or forgotten an hour after they came, or when their device is revoked.
CREATE TABLE invite_key_parts (
    team_pk    INTEGER NOT NULL REFERENCES teams(pk),
    id         TEXT NOT NULL,
    created_by INTEGER NOT NULL REFERENCES devices(pk),
    created_at INTEGER NOT NULL,
    keys       TEXT NOT NULL,
    PRIMARY KEY (team_pk, id)
) WITHOUT ROWID;
CREATE INDEX invite_key_parts_by_creator ON invite_key_parts(created_by);
",
];

/// An invite as enrolment reads it, with its team.
struct InviteRow {
    team_pk: i64,
    team_id: String,
    uses_left: i64,
    expires_at: i64,
    role: Role,
    /// The team's last erasure order.
    erasure_head: i64,
    maker_revoked: bool,
    sealed_keys: Option<String>,
    team_sealed: bool,
    /// The team's `head_seq`: how many blobs it ever stored.
    team_head: i64,
    /// Whether the team has an active lead.
    team_has_lead: bool,
}

/// The columns [`device_row`] reads, in its order.
const DEVICE_COLUMNS: &str =
    "id, name, enrolled_at, last_sync_at, revoked_at, actor, role, stored_bytes";

/// A role as stored: `lead` or `canvasser`.
struct StoredRole(Role);

impl FromSql for StoredRole {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let text = value.as_str()?;
        Role::parse(text)
            .map(StoredRole)
            .ok_or_else(|| FromSqlError::Other(format!("unknown role {text:?}").into()))
    }
}

/// A device row of [`DEVICE_COLUMNS`].
fn device_row(r: &Row<'_>) -> rusqlite::Result<DeviceInfo> {
    Ok(DeviceInfo {
        device_id: r.get(0)?,
        name: r.get(1)?,
        enrolled_at: r.get(2)?,
        last_sync_at: r.get(3)?,
        revoked_at: r.get(4)?,
        actor: r.get(5)?,
        role: r.get::<_, StoredRole>(6)?.0,
        stored_bytes: to_u64(r.get(7)?),
    })
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Backend(Box::new(e))
    }
}

/// The two write connections; whoever holds the mutex is the only writer in this process.
struct Writers {
    /// `synchronous = FULL`: for anything that must survive a power cut.
    durable: Connection,
    /// `synchronous = NORMAL`: for what a pull-only sync records (see "Durability").
    relaxed: Connection,
}

/// The connection that empties the WAL after erasures, outside the writers' mutex.
struct Checkpointer {
    /// `synchronous = FULL`, busy timeout zero: a checkpoint never waits on anyone.
    conn: Connection,
}

/// The SQLite implementation of [`super::Store`].
pub struct SqliteStore {
    path: PathBuf,
    /// Most bytes one team may store (see [`SqliteStore::with_max_team_bytes`]).
    max_team_bytes: Option<u64>,
    writers: Mutex<Writers>,
    readers: Mutex<Vec<Connection>>,
    reader_returned: Condvar,
    checkpointer: Mutex<Checkpointer>,
    /// Whether the WAL may still hold page images an erasure overwrote: a checkpoint is owed.
    checkpoint_owed: AtomicBool,
    /// Compactions that placed a snapshot, counted under the writers' mutex after their commit:
    /// a pull-only sync whose read overlapped one reads again (see "Compaction" above).
    compactions: AtomicU64,
    /// Pushes waiting to be committed in a group, and the answers of those committed.
    group: Mutex<Group>,
    /// A group was committed: its pushes' answers are in `group`.
    group_done: Condvar,
    /// Commits of push groups (tests and logs: how well pushes group).
    group_commits: AtomicU64,
    /// Tests: runs once between a pull-only sync's read and its record.
    #[cfg(test)]
    after_pull_read: Mutex<Option<PullHook>>,
    /// Tests: runs before each push of a group is written (it may panic).
    #[cfg(test)]
    before_push: Mutex<Option<PushHook>>,
}

/// What a test runs between a pull-only sync's read and its record.
#[cfg(test)]
type PullHook = Box<dyn FnOnce(&SqliteStore) + Send>;

/// What a test runs before each push of a group is written.
#[cfg(test)]
type PushHook = Box<dyn Fn(&PushJob) + Send>;

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic cannot leave a transaction half-applied (it rolls back on drop), so a poisoned
    // lock still guards a consistent connection.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn open_connection(path: &Path, synchronous: &str) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", synchronous)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Deleted content is overwritten, not left in free space: erasure must reach the file.
    conn.pragma_update(None, "secure_delete", "ON")?;
    // A WAL reused after a checkpoint is cut back instead of keeping its old size (and frames).
    conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT)?;
    Ok(conn)
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let applied = usize::try_from(version).unwrap_or(usize::MAX);
    if applied > MIGRATIONS.len() {
        return Err(StoreError::Backend(
            format!(
                "the database is at schema version {version}, newer than this relay knows \
                 ({}); run a newer sync-server",
                MIGRATIONS.len()
            )
            .into(),
        ));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
        tx.execute_batch(sql)?;
        tx.pragma_update(
            None,
            "user_version",
            i64::try_from(i + 1).unwrap_or(i64::MAX),
        )?;
    }
    tx.commit()?;
    Ok(())
}

/// A unique-index violation on the devices' actors is [`StoreError::ActorTaken`].
fn actor_error(e: rusqlite::Error, actor: &[u8]) -> StoreError {
    match &e {
        rusqlite::Error::SqliteFailure(f, _)
            if f.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            StoreError::ActorTaken(actor.iter().map(|b| format!("{b:02x}")).collect())
        }
        _ => e.into(),
    }
}

/// [`StoreError::ActorTaken`] if a device of the team other than `device_pk` holds or held
/// `actor`, revoked or not. The unique index `devices_by_actor` covers only active devices; a
/// revoked device's actor must not pass to another either (every device refuses what is written
/// as it after its revocation, and the relay vouches for who pushed each change).
fn check_actor_free(
    conn: &Connection,
    team_pk: i64,
    device_pk: Option<i64>,
    actor: &[u8],
) -> Result<(), StoreError> {
    let held: bool = conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM devices
                 WHERE team_pk = ?1 AND actor = ?2 AND pk IS NOT ?3)",
        )?
        .query_row(params![team_pk, actor, device_pk], |r| r.get(0))?;
    if held {
        return Err(StoreError::ActorTaken(
            actor.iter().map(|b| format!("{b:02x}")).collect(),
        ));
    }
    Ok(())
}

/// The last position of a team's log and the number of its last erasure order.
fn team_heads(conn: &Connection, team_pk: i64) -> Result<(i64, i64), StoreError> {
    Ok(conn
        .prepare_cached("SELECT head_seq, erasure_seq FROM teams WHERE pk = ?1")?
        .query_row([team_pk], |r| Ok((r.get(0)?, r.get(1)?)))?)
}

/// The erased documents among `doc_ids` in the team, each once, in the order given.
fn erased_in<'a>(
    conn: &Connection,
    team_pk: i64,
    doc_ids: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<String>, StoreError> {
    let mut seen = std::collections::HashSet::new();
    let mut erased = Vec::new();
    let mut lookup =
        conn.prepare_cached("SELECT 1 FROM erasures WHERE team_pk = ?1 AND doc_id = ?2")?;
    for doc_id in doc_ids {
        if seen.insert(doc_id) && lookup.exists(params![team_pk, doc_id])? {
            erased.push(doc_id.to_owned());
        }
    }
    Ok(erased)
}

/// Stores an invite to the team `team_pk`, made by the device `created_by` (`None`: the
/// operator); an invite carrying sealed keys seals the team. Returns whether the team is sealed.
/// Refused when the team's unused invites would then hold more than `keys_limit` bytes of
/// sealed keys ([`super::invite_keys_limit`]; the caller forgot expired invites' keys first),
/// or when the team already has `rows_limit` invites ([`super::team_rows_limit`]; invites
/// long expired are forgotten first).
fn insert_invite(
    conn: &Connection,
    team_pk: i64,
    invite: &NewInvite,
    created_by: Option<i64>,
    now: i64,
    (keys_limit, rows_limit): (Option<u64>, Option<u64>),
) -> Result<bool, StoreError> {
    if let Some(limit) = rows_limit {
        conn.prepare_cached(
            "DELETE FROM invites
             WHERE team_pk = ?1 AND expires_at <= ?2
               AND NOT EXISTS (SELECT 1 FROM devices WHERE enrol_invite = invites.hash)",
        )?
        .execute(params![
            team_pk,
            now.saturating_sub(super::DEAD_INVITE_KEPT_SECS)
        ])?;
        let held: i64 = conn
            .prepare_cached("SELECT count(*) FROM invites WHERE team_pk = ?1")?
            .query_row([team_pk], |r| r.get(0))?;
        if to_u64(held) >= limit {
            return Err(StoreError::TooManyInvites { limit });
        }
    }
    if let (Some(keys), Some(limit)) = (&invite.sealed_keys, keys_limit) {
        let held = invite_keys_held(conn, team_pk)?;
        if held.saturating_add(keys.len() as u64) > limit {
            return Err(StoreError::InviteKeysFull { limit });
        }
    }
    conn.execute(
        "INSERT INTO invites
             (hash, team_pk, uses_left, expires_at, created_at, role, created_by, sealed_keys)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            &invite.code_hash[..],
            team_pk,
            invite.uses,
            invite.expires_at,
            now,
            invite.role.as_str(),
            created_by,
            invite.sealed_keys
        ],
    )?;
    if invite.sealed_keys.is_some() {
        conn.execute("UPDATE teams SET sealed = 1 WHERE pk = ?1", [team_pk])?;
    }
    Ok(conn
        .prepare_cached("SELECT sealed FROM teams WHERE pk = ?1")?
        .query_row([team_pk], |r| r.get(0))?)
}

/// Forgets the sealed keys of the team's expired invites, and its parts of invites' keys that
/// waited longer than [`INVITE_KEY_PART_SECS`]; returns how many invites and parts held some.
fn forget_expired_keys(conn: &Connection, team_pk: i64, now: i64) -> Result<usize, StoreError> {
    let invites = conn
        .prepare_cached(
            "UPDATE invites SET sealed_keys = NULL
             WHERE team_pk = ?1 AND expires_at <= ?2 AND sealed_keys IS NOT NULL",
        )?
        .execute(params![team_pk, now])?;
    let parts = conn
        .prepare_cached("DELETE FROM invite_key_parts WHERE team_pk = ?1 AND created_at <= ?2")?
        .execute(params![team_pk, now.saturating_sub(INVITE_KEY_PART_SECS)])?;
    Ok(invites + parts)
}

/// Bytes of sealed keys the team's invites and its waiting parts of invites' keys hold.
fn invite_keys_held(conn: &Connection, team_pk: i64) -> Result<u64, StoreError> {
    let held: i64 = conn
        .prepare_cached(
            "SELECT (SELECT COALESCE(SUM(octet_length(sealed_keys)), 0) FROM invites
                     WHERE team_pk = ?1 AND sealed_keys IS NOT NULL)
                  + (SELECT COALESCE(SUM(octet_length(keys)), 0) FROM invite_key_parts
                     WHERE team_pk = ?1)",
        )?
        .query_row([team_pk], |r| r.get(0))?;
    Ok(to_u64(held))
}

/// `invite` with its keys whole: the parts it names ([`NewInvite::key_parts`], which the lead
/// `lead_pk` of the team `team_pk` left) joined in order before its own, and deleted; `invite`
/// itself when it names none.
fn join_key_parts<'i>(
    conn: &Connection,
    team_pk: i64,
    lead_pk: i64,
    invite: &'i NewInvite,
) -> Result<Cow<'i, NewInvite>, StoreError> {
    if invite.key_parts.is_empty() {
        return Ok(Cow::Borrowed(invite));
    }
    let mut joined = String::new();
    for part in &invite.key_parts {
        let keys: String = conn
            .prepare_cached(
                "DELETE FROM invite_key_parts WHERE team_pk = ?1 AND id = ?2 AND created_by = ?3
                 RETURNING keys",
            )?
            .query_row(params![team_pk, part, lead_pk], |r| r.get(0))
            .optional()?
            .ok_or_else(|| StoreError::UnknownKeyPart { part: part.clone() })?;
        joined.push_str(&keys);
    }
    joined.push_str(invite.sealed_keys.as_deref().unwrap_or_default());
    Ok(Cow::Owned(NewInvite {
        code_hash: invite.code_hash,
        uses: invite.uses,
        expires_at: invite.expires_at,
        role: invite.role,
        sealed_keys: Some(joined),
        key_parts: Vec::new(),
    }))
}

/// Keeps a part of an invite's keys for the lead `lead_pk` of the team `team_pk`, within the
/// team's bounds (see [`super::Store::keep_invite_keys`]; the caller forgot expired keys first).
fn insert_key_part(
    conn: &Connection,
    (team_pk, lead_pk): (i64, i64),
    part: &str,
    keys: &str,
    now: i64,
    keys_limit: Option<u64>,
) -> Result<(), StoreError> {
    let waiting: i64 = conn
        .prepare_cached("SELECT count(*) FROM invite_key_parts WHERE team_pk = ?1")?
        .query_row([team_pk], |r| r.get(0))?;
    if to_u64(waiting) >= MAX_WAITING_KEY_PARTS as u64 {
        return Err(StoreError::TooManyKeyParts {
            limit: MAX_WAITING_KEY_PARTS,
        });
    }
    if let Some(limit) = keys_limit
        && invite_keys_held(conn, team_pk)?.saturating_add(keys.len() as u64) > limit
    {
        return Err(StoreError::InviteKeysFull { limit });
    }
    conn.prepare_cached(
        "INSERT INTO invite_key_parts (team_pk, id, created_by, created_at, keys)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![team_pk, part, lead_pk, now, keys])?;
    Ok(())
}

/// The device holding the token `token_hash`, as an enrolment asked again reads it.
fn token_holder(
    conn: &Connection,
    token_hash: &SecretHash,
) -> Result<Option<super::shared::TokenHolder>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT d.id, t.id, d.role, d.enrol_sealed, d.enrol_invite, d.revoked_at IS NOT NULL
             FROM devices d JOIN teams t ON t.pk = d.team_pk WHERE d.token_hash = ?1",
        )?
        .query_row([&token_hash[..]], |r| {
            Ok(super::shared::TokenHolder {
                device_id: r.get(0)?,
                team_id: r.get(1)?,
                role: r.get::<_, StoredRole>(2)?.0,
                sealed: r.get(3)?,
                invite_hash: r.get(4)?,
                revoked: r.get(5)?,
            })
        })
        .optional()?)
}

/// What revoking a device cancelled.
struct Cancelled {
    /// Invites deleted.
    invites: usize,
    /// How many of them carried sealed keys.
    with_keys: usize,
}

/// Revokes the device `device_pk` (an earlier revocation keeps its time) and deletes the
/// invites it made that could still enrol a device, so that a lost or removed lead's invites
/// cannot bring anyone (itself included) back, and the relay keeps none of the keys they
/// carried. Its needs of covered blobs go too.
fn revoke(
    conn: &Connection,
    device_pk: i64,
    device_id: &str,
    now: i64,
) -> Result<Cancelled, StoreError> {
    conn.execute(
        "UPDATE devices SET revoked_at = COALESCE(revoked_at, ?1) WHERE pk = ?2",
        params![now, device_pk],
    )?;
    // A revoked device cannot ask for its enrolment again.
    let kept_for_it = end_enrolment(conn, device_pk)?;
    // It will never sync again: the covered blobs only it needed go at the next compaction.
    conn.execute(
        "DELETE FROM covered_needs WHERE device_pk = ?1",
        [device_pk],
    )?;
    // Counts the expired invites that still held keys too.
    let with_keys: i64 = conn.query_row(
        "SELECT count(*) FROM invites
         WHERE created_by = ?1 AND uses_left > 0 AND sealed_keys IS NOT NULL",
        [device_pk],
        |r| r.get(0),
    )?;
    let cancelled = conn.execute(
        "DELETE FROM invites WHERE created_by = ?1 AND uses_left > 0",
        [device_pk],
    )?;
    // Its used-up invites may still hold keys for a device that may ask for its enrolment
    // again: forgotten too (such a device is now refused, as for an unknown invite).
    let spent_with_keys = conn.execute(
        "UPDATE invites SET sealed_keys = NULL WHERE created_by = ?1 AND sealed_keys IS NOT NULL",
        [device_pk],
    )?;
    // And the parts of invites' keys it left that no invite took yet.
    let parts = conn.execute(
        "DELETE FROM invite_key_parts
         WHERE team_pk = (SELECT team_pk FROM devices WHERE pk = ?1) AND created_by = ?1",
        [device_pk],
    )?;
    if cancelled > 0 {
        tracing::info!(
            device_id,
            invites = cancelled,
            "revoking a device cancelled the invites it made"
        );
    }
    Ok(Cancelled {
        invites: cancelled,
        with_keys: usize::try_from(with_keys)
            .unwrap_or(usize::MAX)
            .saturating_add(kept_for_it)
            .saturating_add(spent_with_keys)
            .saturating_add(parts),
    })
}

/// The device `device_pk` can no longer ask for its enrolment again (it used its token, or was
/// revoked): its invite, once its uses are spent and no other device could ask, forgets the
/// sealed keys it kept. Returns how many invites forgot keys (0 or 1).
fn end_enrolment(conn: &Connection, device_pk: i64) -> Result<usize, StoreError> {
    let invite: Option<Vec<u8>> = conn
        .prepare_cached("SELECT enrol_invite FROM devices WHERE pk = ?1")?
        .query_row([device_pk], |r| r.get(0))
        .optional()?
        .flatten();
    let Some(invite) = invite else {
        return Ok(0);
    };
    conn.prepare_cached("UPDATE devices SET enrol_invite = NULL WHERE pk = ?1")?
        .execute([device_pk])?;
    Ok(conn
        .prepare_cached(
            "UPDATE invites SET sealed_keys = NULL
             WHERE hash = ?1 AND uses_left <= 0 AND sealed_keys IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM devices
                               WHERE enrol_invite = ?1 AND revoked_at IS NULL)",
        )?
        .execute([&invite])?)
}

/// The pk of the team whose invites `of` names (a lead's, which must be an active lead).
fn team_of(conn: &Connection, of: InvitesOf<'_>) -> Result<i64, StoreError> {
    match of {
        InvitesOf::Lead(lead) => Ok(acting_lead(conn, lead)?.1),
        InvitesOf::Team(team_id) => SqliteStore::team_pk(conn, team_id),
    }
}

/// `(device_pk, team_pk)` of `lead`, which must be an active lead.
fn acting_lead(conn: &Connection, lead: &DeviceAuth) -> Result<(i64, i64), StoreError> {
    let (pk, team_pk, revoked, role): (i64, i64, bool, StoredRole) = conn
        .prepare_cached(
            "SELECT pk, team_pk, revoked_at IS NOT NULL, role FROM devices WHERE id = ?1",
        )?
        .query_row([&lead.device_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .optional()?
        .ok_or_else(|| StoreError::UnknownDevice(lead.device_id.clone()))?;
    if revoked {
        return Err(StoreError::DeviceRevoked(lead.device_id.clone()));
    }
    if role.0 != Role::Lead {
        return Err(StoreError::NotLead(lead.device_id.clone()));
    }
    Ok((pk, team_pk))
}

/// `(device_pk, revoked, role)` of the device `device_id` of the team `team_pk`; a device of
/// another team is as unknown as one that does not exist.
fn team_device(
    conn: &Connection,
    team_pk: i64,
    device_id: &str,
) -> Result<(i64, bool, Role), StoreError> {
    let found: Option<(i64, bool, StoredRole)> = conn
        .prepare_cached(
            "SELECT pk, revoked_at IS NOT NULL, role FROM devices WHERE id = ?1 AND team_pk = ?2",
        )?
        .query_row(params![device_id, team_pk], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    found
        .map(|(pk, revoked, role)| (pk, revoked, role.0))
        .ok_or_else(|| StoreError::NotInTeam(device_id.to_owned()))
}

/// The device `device_pk` as the operator and the leads see it.
fn device_info(conn: &Connection, device_pk: i64) -> Result<DeviceInfo, StoreError> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {DEVICE_COLUMNS} FROM devices WHERE pk = ?1"
        ))?
        .query_row([device_pk], device_row)?)
}

/// The erasure orders each active device of the team has carried out, in increasing order.
fn confirmations(conn: &Connection, team_pk: i64) -> Result<Vec<i64>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT erasures_seen FROM devices WHERE team_pk = ?1 AND revoked_at IS NULL
         ORDER BY erasures_seen",
    )?;
    let seen = stmt
        .query_map([team_pk], |r| r.get(0))?
        .collect::<Result<Vec<i64>, _>>()?;
    Ok(seen)
}

/// Records a sync of `device_pk` (see "Compaction" above): its time, the `since` it read from
/// and the cursor answered (its next sync starts at one of the two), and forgets the covered
/// blobs it needed up to `since`: a device sends a `since` only once it committed every change
/// up to there, so it holds them. Run it in the transaction (or right after the read, holding
/// the writers' mutex) of the page it records.
fn record_sync(
    conn: &Connection,
    device_pk: i64,
    since: u64,
    answered: u64,
    now: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE devices SET last_sync_at = ?1, cursor = ?2, reach = ?3 WHERE pk = ?4",
    )?
    .execute(params![now, to_i64(since), to_i64(answered), device_pk])?;
    conn.prepare_cached("DELETE FROM covered_needs WHERE device_pk = ?1 AND seq <= ?2")?
        .execute(params![device_pk, to_i64(since)])?;
    Ok(())
}

/// What placing one snapshot did.
enum Placement {
    /// No blob of the document pushed by the lead has this id.
    Unknown,
    /// Nothing to do: the snapshot is covered or placed already, or names nothing stored before
    /// it and no placed snapshot of its document is before it.
    Nothing,
    /// Every blob it names is gone, and a placed snapshot of its document is before it (another
    /// lead's, which covered those blobs before they were dropped): it stands for nothing
    /// stored and was deleted (`freed` bytes).
    Superseded { freed: i64 },
    /// Placed, taking the position of a blob that was deleted (`freed` bytes); `newly` blobs
    /// (that one included) were not covered before.
    Placed { newly: u64, freed: i64 },
}

/// A blob the snapshot being placed stands for.
struct Covered {
    seq: i64,
    /// It was covered by an earlier placement.
    already: bool,
    /// The device that pushed it.
    pusher: i64,
    /// Its bytes, as the team's count has them.
    bytes: i64,
}

/// Places the snapshot of `item` for the lead `lead_pk` (see [`super::Store::compact`] and
/// "Compaction" above).
/// Deletes the lead's snapshot at `seq`, which stands for nothing stored (see
/// [`Placement::Superseded`]). What it holds is in the log already: the placed snapshot before
/// it, and the blobs pushed since, its maker's included (a lead's device compacts only
/// documents with nothing waiting to be pushed). Served, it would only be
/// downloaded, opened and set aside by every device that syncs after (devices take in only
/// placed snapshots): a lead promoted after another compacted the team's records made one for
/// each of them, as large as the first lead's.
fn superseded(
    conn: &Connection,
    team_pk: i64,
    seq: i64,
    lead_pk: i64,
) -> Result<Placement, StoreError> {
    let freed: i64 = conn
        .prepare_cached(
            "SELECT length(blob) + length(CAST(doc_id AS BLOB)) + ?3 FROM blobs
             WHERE team_pk = ?1 AND seq = ?2",
        )?
        .query_row(params![team_pk, seq, BLOB_ROW_BYTES], |r| r.get(0))?;
    conn.prepare_cached("DELETE FROM blobs WHERE team_pk = ?1 AND seq = ?2")?
        .execute(params![team_pk, seq])?;
    conn.prepare_cached(
        "UPDATE devices SET stored_bytes = max(stored_bytes - ?1, 0) WHERE pk = ?2",
    )?
    .execute(params![freed, lead_pk])?;
    Ok(Placement::Superseded { freed })
}

fn place_snapshot(
    conn: &Connection,
    team_pk: i64,
    lead_pk: i64,
    item: &CompactItem,
) -> Result<Placement, StoreError> {
    let Some(id) = parse_blob_id(&item.snapshot) else {
        return Ok(Placement::Unknown);
    };
    let snapshot: Option<(i64, bool, bool)> = conn
        .prepare_cached(
            "SELECT seq, covered_from IS NOT NULL, placed FROM blobs
             WHERE team_pk = ?1 AND id = ?2 AND doc_id = ?3 AND device_pk = ?4",
        )?
        .query_row(params![team_pk, &id[..], item.doc_id, lead_pk], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    let Some((s, covered, placed)) = snapshot else {
        return Ok(Placement::Unknown);
    };
    if covered || placed {
        // Moved again, it would leave the devices that were between its new and its old
        // position without it, and without what it stands for.
        return Ok(Placement::Nothing);
    }
    let tags: HashSet<u64> = item.covers.iter().copied().collect();
    // In log order.
    let mut found: Vec<Covered> = Vec::new();
    {
        let mut stmt = conn.prepare_cached(
            "SELECT seq, id, covered_from IS NOT NULL, device_pk,
                    length(blob) + length(CAST(doc_id AS BLOB)) + ?4
             FROM blobs WHERE team_pk = ?1 AND doc_id = ?2 AND seq < ?3 ORDER BY seq",
        )?;
        let mut rows = stmt.query(params![team_pk, item.doc_id, s, BLOB_ROW_BYTES])?;
        while let Some(row) = rows.next()? {
            if tags.contains(&tag(&blob_id(row.get(1)?)?)) {
                found.push(Covered {
                    seq: row.get(0)?,
                    already: row.get(2)?,
                    pusher: row.get(3)?,
                    bytes: row.get(4)?,
                });
            }
        }
    }
    let Some(earliest) = found.first() else {
        // Naming nothing stored, behind a placed snapshot of the same document: another lead's
        // compaction stood for those blobs. Otherwise it may be all the log holds of its
        // document, and stays.
        let behind_one: bool = conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM blobs
                                WHERE team_pk = ?1 AND doc_id = ?2 AND placed AND seq < ?3)",
            )?
            .query_row(params![team_pk, item.doc_id, s], |r| r.get(0))?;
        if behind_one {
            return superseded(conn, team_pk, s, lead_pk);
        }
        return Ok(Placement::Nothing);
    };
    let f = earliest.seq;
    // The earliest covered blob goes: a device before `f` gets the snapshot instead, one at
    // `f` or later holds it (or what stands for it) already.
    conn.prepare_cached("DELETE FROM covered_needs WHERE team_pk = ?1 AND seq = ?2")?
        .execute(params![team_pk, f])?;
    conn.prepare_cached("DELETE FROM blobs WHERE team_pk = ?1 AND seq = ?2")?
        .execute(params![team_pk, f])?;
    conn.prepare_cached(
        "UPDATE devices SET stored_bytes = max(stored_bytes - ?1, 0) WHERE pk = ?2",
    )?
    .execute(params![earliest.bytes, earliest.pusher])?;
    conn.prepare_cached("UPDATE blobs SET seq = ?1, placed = 1 WHERE team_pk = ?2 AND seq = ?3")?
        .execute(params![f, team_pk, s])?;
    let mut mark =
        conn.prepare_cached("UPDATE blobs SET covered_from = ?1 WHERE team_pk = ?2 AND seq = ?3")?;
    // Every active device but the blob's pusher and the snapshot's maker (they hold it) whose
    // next `since`, somewhere from its recorded cursor to its reach, may lie in [f, seq).
    let mut needs = conn.prepare_cached(
        "INSERT OR IGNORE INTO covered_needs (team_pk, seq, device_pk)
         SELECT ?1, ?2, pk FROM devices
         WHERE team_pk = ?1 AND revoked_at IS NULL AND pk <> ?3 AND pk <> ?4
             AND cursor < ?2 AND (reach IS NULL OR reach >= ?5)",
    )?;
    for blob in &found[1..] {
        // A blob covered before keeps the devices that needed it then: every other device got
        // that snapshot, or holds the blob.
        if !blob.already {
            mark.execute(params![f, team_pk, blob.seq])?;
            needs.execute(params![team_pk, blob.seq, blob.pusher, lead_pk, f])?;
        }
    }
    let newly = found.iter().filter(|b| !b.already).count();
    Ok(Placement::Placed {
        newly: u64::try_from(newly).unwrap_or(u64::MAX),
        freed: earliest.bytes,
    })
}

/// Deletes the team's covered blobs that no active device needs any more (see "Compaction"
/// above), the needs of revoked devices first; returns how many, and their bytes.
fn prune_covered(conn: &Connection, team_pk: i64) -> Result<(u64, i64), StoreError> {
    conn.prepare_cached(
        "DELETE FROM covered_needs WHERE team_pk = ?1 AND device_pk IN
             (SELECT pk FROM devices WHERE team_pk = ?1 AND revoked_at IS NOT NULL)",
    )?
    .execute([team_pk])?;
    let (dropped, freed): (i64, i64) = conn
        .prepare_cached(
            "SELECT count(*), COALESCE(SUM(length(blob) + length(CAST(doc_id AS BLOB)) + ?2), 0)
             FROM blobs b WHERE team_pk = ?1 AND covered_from IS NOT NULL AND NOT EXISTS
                 (SELECT 1 FROM covered_needs n WHERE n.team_pk = b.team_pk AND n.seq = b.seq)",
        )?
        .query_row([team_pk, BLOB_ROW_BYTES], |r| Ok((r.get(0)?, r.get(1)?)))?;
    if dropped > 0 {
        conn.prepare_cached(
            "UPDATE devices SET stored_bytes = max(stored_bytes - gone.bytes, 0)
             FROM (SELECT device_pk,
                          SUM(length(blob) + length(CAST(doc_id AS BLOB)) + ?2) AS bytes
                   FROM blobs b WHERE team_pk = ?1 AND covered_from IS NOT NULL AND NOT EXISTS
                       (SELECT 1 FROM covered_needs n
                        WHERE n.team_pk = b.team_pk AND n.seq = b.seq)
                   GROUP BY device_pk) AS gone
             WHERE devices.pk = gone.device_pk",
        )?
        .execute([team_pk, BLOB_ROW_BYTES])?;
        conn.prepare_cached(
            "DELETE FROM blobs WHERE team_pk = ?1 AND covered_from IS NOT NULL AND NOT EXISTS
                 (SELECT 1 FROM covered_needs n
                  WHERE n.team_pk = blobs.team_pk AND n.seq = blobs.seq)",
        )?
        .execute([team_pk])?;
    }
    Ok((to_u64(dropped), freed))
}

/// One try at moving the WAL's pages into the database file and emptying it
/// (`wal_checkpoint(TRUNCATE)`), so that what an erasure overwrote leaves `-wal` too. On the
/// checkpointer's connection (busy timeout zero) it gives up at once when a writer holds the
/// write lock or a reader still uses the WAL: it never waits for them, so it makes nobody wait
/// long. Whether the WAL was emptied.
fn truncate_wal(conn: &Connection) -> Result<bool, rusqlite::Error> {
    let (busy, frames, done) = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, i64>(2)?,
        ))
    })?;
    if busy != 0 {
        tracing::debug!(
            frames,
            checkpointed = done,
            "the WAL could not be emptied yet (a writer, or a reader of an older snapshot)"
        );
    }
    Ok(busy == 0)
}

impl SqliteStore {
    /// Opens (creating if needed) the database in `data_dir` and brings its schema up to date.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        super::files::secure_dir(data_dir).map_err(|e| {
            StoreError::Backend(
                format!("cannot create data directory {}: {e}", data_dir.display()).into(),
            )
        })?;
        let path = data_dir.join(DB_FILE);
        super::files::secure_db_files(&path).map_err(|e| {
            StoreError::Backend(format!("cannot secure {}: {e}", path.display()).into())
        })?;
        let mut durable = open_connection(&path, "FULL")?;
        migrate(&mut durable)?;
        // A power cut may have rolled back the positions last recorded on the relaxed connection,
        // after their answers were sent: until each device syncs again, its reach is unknown (a
        // placement then keeps every covered blob after its cursor for it).
        durable.execute(
            "UPDATE devices SET reach = NULL WHERE reach IS NOT NULL",
            [],
        )?;
        let relaxed = open_connection(&path, "NORMAL")?;
        let readers = (0..READERS)
            .map(|_| open_connection(&path, "NORMAL"))
            .collect::<Result<Vec<_>, _>>()?;
        let checkpointer = open_connection(&path, "FULL")?;
        checkpointer.busy_timeout(Duration::ZERO)?;
        // The -wal and -shm files exist now: make sure they are owner-only too.
        super::files::secure_db_files(&path).map_err(|e| {
            StoreError::Backend(format!("cannot secure {}: {e}", path.display()).into())
        })?;
        Ok(Self {
            path,
            max_team_bytes: None,
            writers: Mutex::new(Writers { durable, relaxed }),
            readers: Mutex::new(readers),
            reader_returned: Condvar::new(),
            checkpointer: Mutex::new(Checkpointer { conn: checkpointer }),
            // The relay may have stopped before the checkpoint an erasure owed succeeded.
            checkpoint_owed: AtomicBool::new(true),
            compactions: AtomicU64::new(0),
            group: Mutex::new(Group::default()),
            group_done: Condvar::new(),
            group_commits: AtomicU64::new(0),
            #[cfg(test)]
            after_pull_read: Mutex::new(None),
            #[cfg(test)]
            before_push: Mutex::new(None),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Refuses pushes that would take a team over `bytes` of blobs, document ids and their
    /// rows (`shared::BLOB_ROW_BYTES` each).
    pub fn with_max_team_bytes(mut self, bytes: u64) -> Self {
        self.max_team_bytes = Some(bytes);
        self
    }

    /// Adds `added` bytes to the team's count, failing (and so rolling the push back) if that
    /// goes over the quota.
    fn charge_team(&self, conn: &Connection, team_pk: i64, added: u64) -> Result<(), StoreError> {
        let stored: i64 = conn
            .prepare_cached(
                "UPDATE teams SET stored_bytes = stored_bytes + ?1 WHERE pk = ?2
                 RETURNING stored_bytes",
            )?
            .query_row(params![to_i64(added), team_pk], |r| r.get(0))?;
        match self.max_team_bytes {
            Some(limit) if to_u64(stored) > limit => Err(StoreError::TeamFull { limit }),
            _ => Ok(()),
        }
    }

    /// Adds `added` bytes to the device's own count, failing (and so rolling the push back) if
    /// that goes over its share of the team's quota ([`super::device_share`]).
    fn charge_device(
        &self,
        conn: &Connection,
        device_pk: i64,
        role: Role,
        added: u64,
    ) -> Result<(), StoreError> {
        let stored: i64 = conn
            .prepare_cached(
                "UPDATE devices SET stored_bytes = stored_bytes + ?1 WHERE pk = ?2
                 RETURNING stored_bytes",
            )?
            .query_row(params![to_i64(added), device_pk], |r| r.get(0))?;
        match super::device_share(self.max_team_bytes, role) {
            Some(share) if to_u64(stored) > share => Err(StoreError::DeviceFull { share }),
            _ => Ok(()),
        }
    }

    /// One try at emptying the WAL; whether it did. While it has not, a checkpoint is owed.
    /// Holds only the checkpointer's mutex, never the writers'.
    fn empty_wal(&self) -> bool {
        let checkpointer = lock(&self.checkpointer);
        // Cleared before the try: an erasure that commits during it sets it again.
        self.checkpoint_owed.store(false, Ordering::SeqCst);
        let emptied = truncate_wal(&checkpointer.conn).unwrap_or_else(|e| {
            if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy) {
                tracing::debug!(error = %e, "the WAL could not be emptied yet");
            } else {
                tracing::warn!(error = %e, "a checkpoint to empty the WAL failed");
            }
            false
        });
        if !emptied {
            self.checkpoint_owed.store(true, Ordering::SeqCst);
        }
        emptied
    }

    /// After an erasure, or after sealed keys were forgotten, when a checkpoint is owed: tries
    /// to empty the WAL for up to `CHECKPOINT_PATIENCE` (2 s), holding no lock between tries,
    /// and warns when it could not. `after` names what was deleted, for the warning.
    fn empty_wal_patiently(&self, after: &'static str) {
        if !self.checkpoint_owed.load(Ordering::SeqCst) {
            return;
        }
        let deadline = Instant::now() + CHECKPOINT_PATIENCE;
        while !self.empty_wal() {
            if Instant::now() >= deadline {
                tracing::warn!(
                    after,
                    "the WAL could not be emptied (a reader holds an older snapshot): what was \
                     deleted stays in relay.sqlite3-wal until a later checkpoint; the relay \
                     tries again after each push"
                );
                return;
            }
            std::thread::sleep(CHECKPOINT_RETRY);
        }
    }

    /// Runs `f` in a durable transaction of `lead`, which must be an active lead (`f` gets
    /// `(lead_pk, team_pk)`): [`SqliteStore::with_invites`].
    fn with_invites_of<T>(
        &self,
        lead: &DeviceAuth,
        now: i64,
        f: impl FnOnce(&Connection, (i64, i64)) -> Result<(usize, T), StoreError>,
    ) -> Result<T, StoreError> {
        self.with_invites(now, |tx| acting_lead(tx, lead).map(|ids| (ids, ids.1)), f)
    }

    /// Runs `f` in a durable transaction on a team's invites: `resolve` finds who acts and the
    /// team (`(who, team_pk)`; `f` gets `who`), then the team's expired keys are forgotten, then
    /// `f` runs; after the commit the WAL is emptied of what was forgotten, there and by `f`
    /// (the count it returns with its answer).
    fn with_invites<W, T>(
        &self,
        now: i64,
        resolve: impl FnOnce(&Connection) -> Result<(W, i64), StoreError>,
        f: impl FnOnce(&Connection, W) -> Result<(usize, T), StoreError>,
    ) -> Result<T, StoreError> {
        let mut writers = lock(&self.writers);
        let tx = writers
            .durable
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let (who, team_pk) = resolve(&tx)?;
        let expired = forget_expired_keys(&tx, team_pk, now)?;
        let (forgotten, answer) = f(&tx, who)?;
        tx.commit()?;
        drop(writers);
        self.empty_wal_of_keys(expired + forgotten);
        Ok(answer)
    }

    /// After a transaction that forgot `forgotten` invites' sealed keys (none: nothing to do):
    /// their old copies leave the WAL as an erasure's do.
    fn empty_wal_of_keys(&self, forgotten: usize) {
        if forgotten > 0 {
            self.checkpoint_owed.store(true, Ordering::SeqCst);
            self.empty_wal_patiently("forgetting an invite's sealed keys");
        }
    }

    /// After a durable commit: one try at a checkpoint an erasure still owes (nothing when none
    /// is owed).
    fn empty_owed_wal(&self) {
        if self.checkpoint_owed.load(Ordering::SeqCst) && self.empty_wal() {
            tracing::info!("the checkpoint an erasure owed succeeded: the WAL is empty");
        }
    }

    /// The erasure's transaction (see [`super::Store::erase`]): the order, and whether it is new
    /// (`false`: the document was erased before, nothing was deleted now).
    fn order_erasure(
        &self,
        lead: &DeviceAuth,
        doc_id: &str,
        proof: Option<&str>,
        now: i64,
    ) -> Result<(Erasure, bool), StoreError> {
        let mut writers = lock(&self.writers);
        let tx = writers
            .durable
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let (lead_pk, team_pk) = acting_lead(&tx, lead)?;
        // An order given again keeps the newest proof of each lead device that gave one.
        let existing: Option<(i64, i64, Option<String>)> = tx
            .query_row(
                "SELECT seq, erased_at, proof FROM erasures WHERE team_pk = ?1 AND doc_id = ?2",
                params![team_pk, doc_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let existing = match existing {
            Some((seq, at, kept)) => {
                let merged = super::shared::merge_proofs(kept.as_deref(), proof, lead_pk);
                if merged != kept {
                    tx.execute(
                        "UPDATE erasures SET proof = ?3 WHERE team_pk = ?1 AND seq = ?2",
                        params![team_pk, seq, merged],
                    )?;
                }
                Some((seq, at, merged))
            }
            None => None,
        };
        let (seq, erased_at, proof) = match existing.clone() {
            Some(order) => order,
            None => {
                if let Some(limit) = super::team_rows_limit(self.max_team_bytes) {
                    let orders: i64 = tx
                        .prepare_cached("SELECT count(*) FROM erasures WHERE team_pk = ?1")?
                        .query_row([team_pk], |r| r.get(0))?;
                    if to_u64(orders) >= limit {
                        return Err(StoreError::TooManyErasures { limit });
                    }
                }
                let freed: i64 = tx.query_row(
                    "SELECT COALESCE(SUM(length(blob) + length(CAST(doc_id AS BLOB)) + ?3), 0)
                     FROM blobs WHERE team_pk = ?1 AND doc_id = ?2",
                    params![team_pk, doc_id, BLOB_ROW_BYTES],
                    |r| r.get(0),
                )?;
                tx.execute(
                    "UPDATE devices SET stored_bytes = max(stored_bytes - gone.bytes, 0)
                     FROM (SELECT device_pk,
                                  SUM(length(blob) + length(CAST(doc_id AS BLOB)) + ?3) AS bytes
                           FROM blobs WHERE team_pk = ?1 AND doc_id = ?2
                           GROUP BY device_pk) AS gone
                     WHERE devices.pk = gone.device_pk",
                    params![team_pk, doc_id, BLOB_ROW_BYTES],
                )?;
                tx.execute(
                    "DELETE FROM covered_needs WHERE team_pk = ?1 AND seq IN
                         (SELECT seq FROM blobs WHERE team_pk = ?1 AND doc_id = ?2)",
                    params![team_pk, doc_id],
                )?;
                let deleted = tx.execute(
                    "DELETE FROM blobs WHERE team_pk = ?1 AND doc_id = ?2",
                    params![team_pk, doc_id],
                )?;
                let seq: i64 = tx.query_row(
                    "UPDATE teams SET erasure_seq = erasure_seq + 1,
                         stored_bytes = max(stored_bytes - ?1, 0)
                     WHERE pk = ?2 RETURNING erasure_seq",
                    params![freed, team_pk],
                    |r| r.get(0),
                )?;
                let proof = super::shared::merge_proofs(None, proof, lead_pk);
                tx.execute(
                    "INSERT INTO erasures (team_pk, seq, doc_id, erased_at, erased_by, proof)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![team_pk, seq, doc_id, now, lead_pk, proof],
                )?;
                // The lead erases the document itself right after; it has carried out this
                // order only if it had carried out every earlier one (another lead's, say).
                tx.execute(
                    "UPDATE devices SET erasures_seen = ?1 WHERE pk = ?2 AND erasures_seen = ?1 - 1",
                    params![seq, lead_pk],
                )?;
                tracing::info!(
                    team_id = %lead.team_id,
                    device_id = %lead.device_id,
                    seq,
                    deleted,
                    freed,
                    "document erased"
                );
                (seq, now, proof)
            }
        };
        let seen = confirmations(&tx, team_pk)?;
        tx.commit()?;
        Ok((
            erasure(seq, doc_id.to_owned(), erased_at, proof, &seen),
            existing.is_none(),
        ))
    }

    /// The enrolment's checks and writes once its invite was found, in the enrolment's
    /// transaction (see [`super::Store::enrol`] for the order of the sealing decision). A refusal
    /// has written nothing. Returns the enrolment and whether this last use forgot the invite's
    /// sealed keys.
    fn enrol_into(
        tx: &Connection,
        device: &NewDevice,
        invite: InviteRow,
        now: i64,
    ) -> Result<(Enrolled, bool), StoreError> {
        // Revoking a device deletes its invites; this refuses any that escaped (belt and
        // braces), with the answer an unknown code gets.
        if invite.maker_revoked {
            return Err(StoreError::UnknownInvite);
        }
        if invite.uses_left <= 0 {
            return Err(StoreError::InviteUsedUp);
        }
        if invite.expires_at <= now {
            return Err(StoreError::InviteExpired);
        }
        // Whether the device makes the team's key (and seals the team).
        let mut makes_key = false;
        let sealed = if invite.sealed_keys.is_some() {
            if !device.sealing {
                // An app from before end-to-end encryption would push in the clear.
                return Err(StoreError::NeedsSealing);
            }
            if device.lacks_secret {
                // It could not open them: the invite keeps its use for the whole code.
                return Err(StoreError::MissingSecret);
            }
            // A lead's app sealed the team's keys for this invite: the device opens them.
            true
        } else if invite.team_sealed {
            // Without the keys the device could read nothing and would push in the clear.
            return Err(StoreError::NeedsKey);
        } else if invite.role == Role::Canvasser && invite.team_head == 0 && !invite.team_has_lead {
            // A team that never stored a change, and has no lead yet, waits for its lead: a
            // canvasser's device that seals would make the team's key (its maker is the team's
            // root of trust), and one that does not would store the team's first change in the
            // clear, after which no lead could seal the team.
            return Err(StoreError::NoLeadYet);
        } else if device.sealing && invite.team_head == 0 {
            // The team never stored a change: `head_seq` numbers every blob ever stored and an
            // erasure never lowers it, so a team whose blobs were all erased is not empty. No
            // one's data predates the key this device makes. Only a lead's device makes it; a
            // canvasser's comes after a lead whose app does not seal, and the team stays clear.
            makes_key = invite.role == Role::Lead;
            makes_key
        } else {
            false
        };
        if let Some(actor) = &device.actor {
            check_actor_free(tx, invite.team_pk, None, actor)?;
        }
        if makes_key {
            // From now on the team is sealed, and a device racing this one (after this
            // transaction) gets `NeedsKey`.
            tx.execute(
                "UPDATE teams SET sealed = 1 WHERE pk = ?1",
                [invite.team_pk],
            )?;
        }
        // The last use forgets the keys: the relay keeps no copy of what it handed out. Unless
        // a device that may ask for its enrolment again (this one, or one before it whose
        // answer may have been lost) would need them.
        let may_ask_again = device.chosen_token
            || tx
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM devices
                                    WHERE enrol_invite = ?1 AND revoked_at IS NULL)",
                )?
                .query_row([&device.invite_hash[..]], |r| r.get::<_, bool>(0))?;
        let last_use_forgot_keys =
            invite.uses_left == 1 && invite.sealed_keys.is_some() && !may_ask_again;
        tx.execute(
            "UPDATE invites SET uses_left = uses_left - 1,
                 sealed_keys = CASE WHEN uses_left <= 1 AND NOT ?2 THEN NULL ELSE sealed_keys END
             WHERE hash = ?1",
            params![&device.invite_hash[..], may_ask_again],
        )?;
        // The new device never held what was erased before it joined.
        tx.execute(
            "INSERT INTO devices
                 (id, team_pk, name, token_hash, enrolled_at, actor, role, erasures_seen,
                  enrol_invite, enrol_sealed)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                device.device_id,
                invite.team_pk,
                device.name,
                &device.token_hash[..],
                now,
                device.actor,
                invite.role.as_str(),
                invite.erasure_head,
                device.chosen_token.then_some(&device.invite_hash[..]),
                sealed,
            ],
        )
        .map_err(|e| match &device.actor {
            Some(actor) => actor_error(e, actor),
            None => e.into(),
        })?;
        Ok((
            Enrolled {
                again: false,
                device_id: device.device_id.clone(),
                team_id: invite.team_id,
                role: invite.role,
                sealed,
                sealed_keys: invite.sealed_keys,
            },
            last_use_forgot_keys,
        ))
    }

    fn with_reader<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = {
            let mut pool = lock(&self.readers);
            loop {
                if let Some(conn) = pool.pop() {
                    break conn;
                }
                pool = self
                    .reader_returned
                    .wait(pool)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
            }
        };
        let result = f(&mut conn);
        lock(&self.readers).push(conn);
        self.reader_returned.notify_one();
        result
    }

    fn team_pk(conn: &Connection, team_id: &str) -> Result<i64, StoreError> {
        conn.query_row("SELECT pk FROM teams WHERE id = ?1", [team_id], |r| {
            r.get(0)
        })
        .optional()?
        .ok_or_else(|| StoreError::UnknownTeam(team_id.to_owned()))
    }

    /// `(device_pk, team_pk, revoked)` of a device.
    fn device_keys(conn: &Connection, device_id: &str) -> Result<(i64, i64, bool), StoreError> {
        conn.prepare_cached(
            "SELECT pk, team_pk, revoked_at IS NOT NULL FROM devices WHERE id = ?1",
        )?
        .query_row([device_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?
        .ok_or_else(|| StoreError::UnknownDevice(device_id.to_owned()))
    }

    /// The keys of a device that may still act: a revoked one is [`StoreError::DeviceRevoked`].
    fn active_device(conn: &Connection, device_id: &str) -> Result<(i64, i64), StoreError> {
        match Self::device_keys(conn, device_id)? {
            (_, _, true) => Err(StoreError::DeviceRevoked(device_id.to_owned())),
            (device_pk, team_pk, false) => Ok((device_pk, team_pk)),
        }
    }

    /// Records the actor `device_pk` declares, or checks it against the one it declared before.
    fn claim_actor(
        conn: &Connection,
        device_pk: i64,
        device_id: &str,
        actor: &[u8],
    ) -> Result<(), StoreError> {
        if actor.is_empty() {
            return Ok(());
        }
        let (known, team_pk): (Option<Vec<u8>>, i64) = conn
            .prepare_cached("SELECT actor, team_pk FROM devices WHERE pk = ?1")?
            .query_row([device_pk], |r| Ok((r.get(0)?, r.get(1)?)))?;
        match known {
            Some(k) if k == actor => Ok(()),
            Some(_) => Err(StoreError::ActorChanged(device_id.to_owned())),
            None => {
                check_actor_free(conn, team_pk, Some(device_pk), actor)?;
                conn.prepare_cached("UPDATE devices SET actor = ?1 WHERE pk = ?2")?
                    .execute(params![actor, device_pk])
                    .map(|_| ())
                    .map_err(|e| actor_error(e, actor))
            }
        }
    }

    /// Whether `device_pk` must still record the actor it declares.
    fn actor_unclaimed(
        conn: &Connection,
        device_pk: i64,
        actor: &[u8],
    ) -> Result<bool, StoreError> {
        if actor.is_empty() {
            return Ok(false);
        }
        let known: Option<Vec<u8>> = conn
            .prepare_cached("SELECT actor FROM devices WHERE pk = ?1")?
            .query_row([device_pk], |r| r.get(0))?;
        Ok(known.as_deref() != Some(actor))
    }

    /// Reads the page of other devices' blobs after `since` (a covered blob only if the device
    /// still needs it: see "Compaction" above), and the team's erasure head.
    fn pull(
        conn: &Connection,
        team_pk: i64,
        device_pk: i64,
        since: u64,
        max_bytes: u64,
    ) -> Result<SyncPage, StoreError> {
        let (head, erasure_head) = team_heads(conn, team_pk)?;
        check_cursor(since, head)?;
        let mut stmt = conn.prepare_cached(
            "SELECT b.seq, b.doc_id, length(b.blob), b.blob, d.actor, d.name, b.id, b.placed
             FROM blobs b JOIN devices d ON d.pk = b.device_pk
             WHERE b.team_pk = ?1 AND b.seq > ?2 AND b.device_pk <> ?3
                 AND (b.covered_from IS NULL OR EXISTS (SELECT 1 FROM covered_needs n
                     WHERE n.team_pk = b.team_pk AND n.seq = b.seq AND n.device_pk = ?3))
             ORDER BY b.seq",
        )?;
        let rows = stmt.query(params![team_pk, to_i64(since), device_pk])?;
        let mut page = Self::page(rows, since, to_u64(head).max(since), max_bytes)?;
        page.erasure_head = to_u64(erasure_head);
        Ok(page)
    }

    /// Reads rows `(seq, doc_id, length, blob, actor, name, id, placed)` into a page of about
    /// `max_bytes` (at least one row); `cursor` is the page's cursor when every row fits.
    fn page(
        mut rows: rusqlite::Rows<'_>,
        since: u64,
        cursor: u64,
        max_bytes: u64,
    ) -> Result<SyncPage, StoreError> {
        let mut pager = Pager::new(since, cursor, max_bytes);
        while let Some(row) = rows.next()? {
            let seq: i64 = row.get(0)?;
            let doc_id: String = row.get(1)?;
            if !pager.room_for(row.get(2)?, &doc_id) {
                break;
            }
            let actor: Option<Vec<u8>> = row.get(4)?;
            pager.push(StoredBlob {
                seq: to_u64(seq),
                id: blob_id(row.get(6)?)?,
                doc_id,
                blob: row.get(3)?,
                pusher_actor: actor.unwrap_or_default(),
                pusher_name: row.get(5)?,
                snapshot: row.get(7)?,
            });
        }
        Ok(pager.finish())
    }
}

/// A push waiting for its group (see "Durability, and group commit"), its blobs owned: the
/// group is written by whichever thread leads it.
struct PushJob {
    device: DeviceAuth,
    actor: Vec<u8>,
    since: u64,
    /// `(id, doc_id, blob)` of each pushed blob.
    blobs: Vec<([u8; 32], String, Vec<u8>)>,
    max_bytes: u64,
    now: i64,
}

/// The queue of pushes and the answers of committed groups, by ticket.
#[derive(Default)]
struct Group {
    next_ticket: u64,
    waiting: std::collections::VecDeque<(u64, PushJob)>,
    answers: std::collections::HashMap<u64, Result<SyncPage, StoreError>>,
    /// A thread is writing a group now.
    leading: bool,
}

/// Each push's answer by ticket.
type Answers = Vec<(u64, Result<SyncPage, StoreError>)>;

/// Ends a thread's lead of a group, also if writing it panicked: the pushes it held get an
/// error rather than waiting for ever, and another thread may lead.
struct Lead<'a> {
    store: &'a SqliteStore,
    tickets: Vec<u64>,
    /// The pushes' answers, set only once their group's transaction committed (or failed as a
    /// whole): a push stored in its savepoint is not stored until then, and a panic before
    /// then rolls the group back, every push of it answered with an error.
    answers: Answers,
}

impl Drop for Lead<'_> {
    fn drop(&mut self) {
        let mut group = lock(&self.store.group);
        let answered: HashSet<u64> = self.answers.iter().map(|(t, _)| *t).collect();
        for t in &self.tickets {
            if !answered.contains(t) {
                group.answers.insert(
                    *t,
                    Err(StoreError::Backend(
                        "the group of pushes this one was written in failed".into(),
                    )),
                );
            }
        }
        group.answers.extend(self.answers.drain(..));
        group.leading = false;
        drop(group);
        self.store.group_done.notify_all();
    }
}

impl SqliteStore {
    /// Writes `job` in a group commit and returns its answer (see "Durability, and group
    /// commit").
    fn push_in_group(&self, job: PushJob) -> Result<SyncPage, StoreError> {
        let mut group = lock(&self.group);
        let ticket = group.next_ticket;
        group.next_ticket += 1;
        group.waiting.push_back((ticket, job));
        loop {
            if let Some(answer) = group.answers.remove(&ticket) {
                return answer;
            }
            if group.leading {
                group = self
                    .group_done
                    .wait(group)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                continue;
            }
            group.leading = true;
            drop(group);
            self.lead_group();
            group = lock(&self.group);
        }
    }

    /// Takes the writers' mutex, then the queue's front, and commits it as one transaction.
    fn lead_group(&self) {
        let mut writers = lock(&self.writers);
        // Whoever arrived while the writers' mutex was busy joins this group.
        let jobs: Vec<(u64, PushJob)> = {
            let mut group = lock(&self.group);
            let mut taken = Vec::new();
            let mut bytes = 0usize;
            while let Some((_, job)) = group.waiting.front() {
                let size: usize = job.blobs.iter().map(|(_, _, b)| b.len()).sum();
                if !taken.is_empty() && bytes + size > GROUP_BYTES {
                    break;
                }
                bytes += size;
                taken.extend(group.waiting.pop_front());
            }
            taken
        };
        let mut lead = Lead {
            store: self,
            tickets: jobs.iter().map(|(t, _)| *t).collect(),
            answers: Vec::with_capacity(jobs.len()),
        };
        if jobs.is_empty() {
            return;
        }
        let committed = (|| -> Result<Answers, StoreError> {
            let mut answers = Vec::with_capacity(jobs.len());
            let mut tx = writers
                .durable
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            for (ticket, job) in &jobs {
                let push: Vec<NewBlob<'_>> = job
                    .blobs
                    .iter()
                    .map(|(id, doc_id, blob)| NewBlob {
                        id: *id,
                        doc_id,
                        blob,
                    })
                    .collect();
                #[cfg(test)]
                if let Some(hook) = &*lock(&self.before_push) {
                    hook(job);
                }
                let sp = tx.savepoint()?;
                let answer = self.push_in(&sp, job, &push);
                if answer.is_ok() {
                    sp.commit()?;
                }
                // (Dropped without commit, the savepoint rolls this push back alone.)
                answers.push((*ticket, answer));
            }
            tx.commit()?;
            Ok(answers)
        })();
        match committed {
            // Only now is a push that succeeded in its savepoint stored: its answer goes out.
            Ok(answers) => {
                lead.answers = answers;
                self.group_commits.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                // Nothing of the group was stored: every push of it fails with the reason.
                let message = e.to_string();
                lead.answers = jobs
                    .iter()
                    .map(|(t, _)| (*t, Err(StoreError::Backend(message.clone().into()))))
                    .collect();
            }
        }
        drop(writers);
        self.empty_owed_wal();
        drop(lead);
    }

    /// One push of a group, inside its savepoint: stores the new blobs, reads the page, records
    /// the sync.
    fn push_in(
        &self,
        tx: &Connection,
        job: &PushJob,
        push: &[NewBlob<'_>],
    ) -> Result<SyncPage, StoreError> {
        let (device, actor, since, max_bytes, now) = (
            &job.device,
            &job.actor[..],
            job.since,
            job.max_bytes,
            job.now,
        );
        let (device_pk, team_pk) = Self::active_device(tx, &device.device_id)?;
        let (mut head, erasure_head) = team_heads(tx, team_pk)?;
        if erasure_head > 0 {
            let erased = erased_in(tx, team_pk, push.iter().map(|b| b.doc_id))?;
            if !erased.is_empty() {
                return Err(StoreError::Erased(erased));
            }
        }
        Self::claim_actor(tx, device_pk, &device.device_id, actor)?;
        check_cursor(since, head)?;
        let mut inserted = 0;
        let mut added_bytes = 0u64;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO blobs (team_pk, seq, id, doc_id, device_pk, created_at, blob)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (team_pk, id) DO NOTHING",
            )?;
            for item in push {
                let changed = insert.execute(params![
                    team_pk,
                    head + 1,
                    &item.id[..],
                    item.doc_id,
                    device_pk,
                    now,
                    item.blob
                ])?;
                if changed == 1 {
                    head += 1;
                    inserted += 1;
                    added_bytes +=
                        (item.blob.len() + item.doc_id.len()) as u64 + BLOB_ROW_BYTES as u64;
                }
            }
        }
        if inserted > 0 {
            tx.prepare_cached("UPDATE teams SET head_seq = ?1 WHERE pk = ?2")?
                .execute(params![head, team_pk])?;
            self.charge_device(tx, device_pk, device.role, added_bytes)?;
            self.charge_team(tx, team_pk, added_bytes)?;
        }
        let mut page = Self::pull(tx, team_pk, device_pk, since, max_bytes)?;
        record_sync(tx, device_pk, since, page.cursor, now)?;
        page.inserted = inserted;
        Ok(page)
    }
}

impl super::Store for SqliteStore {
    fn create_team(&self, name: &str, now: i64) -> Result<String, StoreError> {
        let id = uuid::Uuid::new_v4().to_string();
        let writers = lock(&self.writers);
        writers.durable.execute(
            "INSERT INTO teams (id, name, created_at) VALUES (?1, ?2, ?3)",
            params![id, name, now],
        )?;
        Ok(id)
    }

    fn create_invite(
        &self,
        team_id: &str,
        invite: &NewInvite,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut writers = lock(&self.writers);
        let tx = writers
            .durable
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let team_pk = Self::team_pk(&tx, team_id)?;
        let forgotten = forget_expired_keys(&tx, team_pk, now)?;
        let limits = (
            super::invite_keys_limit(self.max_team_bytes),
            super::team_rows_limit(self.max_team_bytes),
        );
        let sealed = insert_invite(&tx, team_pk, invite, None, now, limits)?;
        tx.commit()?;
        drop(writers);
        self.empty_wal_of_keys(forgotten);
        Ok(sealed)
    }

    fn lead_invite(
        &self,
        lead: &DeviceAuth,
        invite: &NewInvite,
        now: i64,
    ) -> Result<InviteMade, StoreError> {
        let limits = (
            super::invite_keys_limit(self.max_team_bytes),
            super::team_rows_limit(self.max_team_bytes),
        );
        self.with_invites_of(lead, now, |tx, (lead_pk, team_pk)| {
            let found = tx
                .prepare_cached(
                    "SELECT team_pk, created_by, role, uses_left, expires_at
                     FROM invites WHERE hash = ?1",
                )?
                .query_row([&invite.code_hash[..]], |r| {
                    Ok(super::shared::StoredInvite {
                        team_pk: r.get(0)?,
                        created_by: r.get(1)?,
                        role: r.get::<_, StoredRole>(2)?.0,
                        uses_left: r.get(3)?,
                        expires_at: r.get(4)?,
                    })
                })
                .optional()?;
            let ids = (team_pk, lead_pk);
            if let Some(again) = super::shared::invite_asked_again(found, ids, invite.role, now)? {
                return Ok((0, again));
            }
            let whole = join_key_parts(tx, team_pk, lead_pk, invite)?;
            insert_invite(tx, team_pk, &whole, Some(lead_pk), now, limits)?;
            Ok((0, InviteMade::New))
        })
    }

    fn open_invites(&self, of: InvitesOf<'_>, now: i64) -> Result<Vec<InviteInfo>, StoreError> {
        self.with_reader(|conn| {
            let team_pk = team_of(conn, of)?;
            let mut stmt = conn.prepare_cached(
                "SELECT substr(i.hash, 1, 8), i.role, i.uses_left, i.created_at, i.expires_at,
                        d.id, i.sealed_keys IS NOT NULL
                 FROM invites i LEFT JOIN devices d ON d.pk = i.created_by
                 WHERE i.team_pk = ?1 AND i.uses_left > 0 AND i.expires_at > ?2
                 ORDER BY i.created_at, i.hash",
            )?;
            let rows = stmt.query_map(params![team_pk, now], |r| {
                Ok(InviteInfo {
                    id: invite_id_of_stored(&r.get::<_, Vec<u8>>(0)?),
                    role: r.get::<_, StoredRole>(1)?.0,
                    uses_left: r.get(2)?,
                    created_at: r.get(3)?,
                    expires_at: r.get(4)?,
                    made_by: r.get(5)?,
                    carries_keys: r.get(6)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    fn cancel_invite(
        &self,
        of: InvitesOf<'_>,
        id: [u8; 8],
        now: i64,
    ) -> Result<InviteCancel, StoreError> {
        self.with_invites(
            now,
            |tx| team_of(tx, of).map(|pk| (pk, pk)),
            |tx, team_pk| {
                let (found, was_open, joining): (i64, bool, i64) = tx
                    .prepare_cached(
                        "SELECT count(*), coalesce(max(uses_left > 0 AND expires_at > ?3), 0),
                            coalesce(sum(CASE WHEN expires_at > ?3
                                         THEN (SELECT count(*) FROM devices d
                                               WHERE d.enrol_invite = invites.hash
                                                 AND d.revoked_at IS NULL)
                                         ELSE 0 END), 0)
                     FROM invites WHERE team_pk = ?1 AND substr(hash, 1, 8) = ?2",
                    )?
                    .query_row(params![team_pk, &id[..], now], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                    })?;
                if found == 0 {
                    return Err(StoreError::NoSuchInvite(
                        groundwork_protocol::invite_id_of_hash(&id),
                    ));
                }
                // A device that enrolled with it and may ask for its answer again (a canvasser
                // mid-join whose answer was lost) keeps that for a grace period, after which the
                // invite has expired and its keys go as any expired invite's; otherwise the invite
                // ends now, keys and all.
                tx.prepare_cached(
                    "UPDATE invites SET uses_left = 0,
                     expires_at = min(expires_at,
                         CASE WHEN EXISTS (SELECT 1 FROM devices d
                                           WHERE d.enrol_invite = invites.hash
                                             AND d.revoked_at IS NULL)
                              THEN ?4 ELSE ?3 END)
                 WHERE team_pk = ?1 AND substr(hash, 1, 8) = ?2
                   AND (uses_left > 0 OR EXISTS (SELECT 1 FROM devices d
                                                 WHERE d.enrol_invite = invites.hash
                                                   AND d.revoked_at IS NULL))",
                )?
                .execute(params![
                    team_pk,
                    &id[..],
                    now,
                    now.saturating_add(CANCELLED_INVITE_GRACE_SECS)
                ])?;
                let forgotten = tx
                    .prepare_cached(
                        "UPDATE invites SET sealed_keys = NULL
                     WHERE team_pk = ?1 AND substr(hash, 1, 8) = ?2 AND sealed_keys IS NOT NULL
                       AND NOT EXISTS (SELECT 1 FROM devices d WHERE d.enrol_invite = invites.hash
                                       AND d.revoked_at IS NULL)",
                    )?
                    .execute(params![team_pk, &id[..]])?;
                Ok((
                    forgotten,
                    InviteCancel {
                        was_open,
                        joining: u32::try_from(joining).unwrap_or(u32::MAX),
                    },
                ))
            },
        )
    }

    fn keep_invite_keys(
        &self,
        lead: &DeviceAuth,
        part: &str,
        keys: &str,
        first: bool,
        now: i64,
    ) -> Result<(i64, bool), StoreError> {
        let limit = super::invite_keys_limit(self.max_team_bytes);
        self.with_invites_of(lead, now, |tx, (lead_pk, team_pk)| {
            let kept: Option<(i64, bool)> = tx
                .prepare_cached(
                    "SELECT created_at, keys = ?4 FROM invite_key_parts
                     WHERE team_pk = ?1 AND id = ?2 AND created_by = ?3",
                )?
                .query_row(params![team_pk, part, lead_pk, keys], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?;
            match kept {
                Some((kept_at, true)) => return Ok((0, (kept_at, true))),
                Some((_, false)) => return Err(StoreError::KeyPartTaken),
                None => {}
            }
            let forgotten = if first {
                tx.prepare_cached(
                    "DELETE FROM invite_key_parts WHERE team_pk = ?1 AND created_by = ?2",
                )?
                .execute(params![team_pk, lead_pk])?
            } else {
                0
            };
            insert_key_part(tx, (team_pk, lead_pk), part, keys, now, limit)?;
            Ok((forgotten, (now, false)))
        })
    }

    fn enrol(&self, device: &NewDevice, now: i64) -> Result<Enrolled, StoreError> {
        let mut writers = lock(&self.writers);
        let mut tx = writers
            .durable
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let Some(invite) = tx
            .query_row(
                "SELECT i.team_pk, t.id, i.uses_left, i.expires_at, i.role, t.erasure_seq,
                        c.revoked_at IS NOT NULL, i.sealed_keys, t.sealed, t.head_seq,
                        EXISTS (SELECT 1 FROM devices l WHERE l.team_pk = t.pk
                                AND l.role = 'lead' AND l.revoked_at IS NULL)
                 FROM invites i JOIN teams t ON t.pk = i.team_pk
                 LEFT JOIN devices c ON c.pk = i.created_by
                 WHERE i.hash = ?1",
                [&device.invite_hash[..]],
                |r| {
                    Ok(InviteRow {
                        team_pk: r.get(0)?,
                        team_id: r.get(1)?,
                        uses_left: r.get(2)?,
                        expires_at: r.get(3)?,
                        role: r.get::<_, StoredRole>(4)?.0,
                        erasure_head: r.get(5)?,
                        maker_revoked: r.get(6)?,
                        sealed_keys: r.get(7)?,
                        team_sealed: r.get(8)?,
                        team_head: r.get(9)?,
                        team_has_lead: r.get(10)?,
                    })
                },
            )
            .optional()?
        else {
            return Err(StoreError::UnknownInvite);
        };
        let forgotten = forget_expired_keys(&tx, invite.team_pk, now)?;
        // What the enrolment writes is undone alone when it fails, whatever the error: the
        // expired invites' keys stay forgotten (below), nothing else of a failed enrolment.
        let enrolment = tx.savepoint()?;
        let holder = if device.chosen_token {
            token_holder(&enrolment, &device.token_hash)?
        } else {
            None
        };
        let decided = match holder {
            // Asked again: answered from what was stored, nothing written.
            Some(holder) => super::shared::enrolment_again(
                holder,
                &device.invite_hash,
                &super::shared::InviteNow {
                    maker_revoked: invite.maker_revoked,
                    expires_at: invite.expires_at,
                    // Read after the expired keys were forgotten.
                    sealed_keys: enrolment
                        .prepare_cached("SELECT sealed_keys FROM invites WHERE hash = ?1")?
                        .query_row([&device.invite_hash[..]], |r| r.get(0))?,
                    team_head: invite.team_head,
                },
                now,
            )
            .map(|enrolled| (enrolled, false)),
            None => Self::enrol_into(&enrolment, device, invite, now),
        };
        match decided {
            Ok((enrolled, last_use_forgot_keys)) => {
                enrolment.commit()?;
                tx.commit()?;
                drop(writers);
                self.empty_wal_of_keys(forgotten + usize::from(last_use_forgot_keys));
                Ok(enrolled)
            }
            Err(refused) => {
                // A refusal, or a failure after the enrolment wrote (the team sealed, the
                // invite's use taken, its keys forgotten, the device added): all of that is
                // rolled back, and only the expired invites' keys stay forgotten (the invite
                // keeps its uses).
                enrolment.finish()?;
                if forgotten > 0 {
                    tx.commit()?;
                    drop(writers);
                    self.empty_wal_of_keys(forgotten);
                }
                Err(refused)
            }
        }
    }

    fn authenticate(&self, token_hash: &SecretHash) -> Result<Option<DeviceAuth>, StoreError> {
        self.with_reader(|conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT d.id, t.id, d.revoked_at IS NOT NULL, d.role, t.erasure_seq,
                            d.enrol_invite IS NOT NULL
                     FROM devices d JOIN teams t ON t.pk = d.team_pk WHERE d.token_hash = ?1",
                )?
                .query_row([&token_hash[..]], |r| {
                    Ok(DeviceAuth {
                        device_id: r.get(0)?,
                        team_id: r.get(1)?,
                        revoked: r.get(2)?,
                        role: r.get::<_, StoredRole>(3)?.0,
                        erasure_head: to_u64(r.get(4)?),
                        first_use: r.get(5)?,
                    })
                })
                .optional()?)
        })
    }

    fn token_used(&self, device: &DeviceAuth) -> Result<(), StoreError> {
        let mut writers = lock(&self.writers);
        let tx = writers
            .durable
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let pk: Option<i64> = tx
            .prepare_cached("SELECT pk FROM devices WHERE id = ?1")?
            .query_row([&device.device_id], |r| r.get(0))
            .optional()?;
        let forgotten = match pk {
            Some(pk) => end_enrolment(&tx, pk)?,
            None => 0,
        };
        tx.commit()?;
        drop(writers);
        self.empty_wal_of_keys(forgotten);
        Ok(())
    }

    fn sync(
        &self,
        device: &DeviceAuth,
        actor: &[u8],
        since: u64,
        push: &[NewBlob<'_>],
        max_bytes: u64,
        now: i64,
    ) -> Result<SyncPage, StoreError> {
        if push.is_empty() {
            // Pull only: a read snapshot, then record the sync without waiting for a flush.
            let compactions = self.compactions.load(Ordering::SeqCst);
            let (page, device_pk, team_pk, unclaimed) = self.with_reader(|conn| {
                let tx = conn.transaction()?;
                let (device_pk, team_pk) = Self::active_device(&tx, &device.device_id)?;
                let unclaimed = Self::actor_unclaimed(&tx, device_pk, actor)?;
                let page = Self::pull(&tx, team_pk, device_pk, since, max_bytes)?;
                tx.commit()?;
                Ok((page, device_pk, team_pk, unclaimed))
            })?;
            #[cfg(test)]
            if let Some(then) = lock(&self.after_pull_read).take() {
                then(self);
            }
            let mut writers = lock(&self.writers);
            if unclaimed {
                // Once per device: record (or check) its actor durably.
                Self::claim_actor(&writers.durable, device_pk, &device.device_id, actor)?;
            }
            let tx = writers
                .relaxed
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            let page = if self.compactions.load(Ordering::SeqCst) == compactions {
                page
            } else {
                // A snapshot was placed while the page was read, on what the device's previous
                // sync recorded: read again, where no placement can come between the read and
                // its record.
                Self::pull(&tx, team_pk, device_pk, since, max_bytes)?
            };
            record_sync(&tx, device_pk, since, page.cursor, now)?;
            tx.commit()?;
            return Ok(page);
        }

        self.push_in_group(PushJob {
            device: device.clone(),
            actor: actor.to_vec(),
            since,
            blobs: push
                .iter()
                .map(|b| (b.id, b.doc_id.to_owned(), b.blob.to_vec()))
                .collect(),
            max_bytes,
            now,
        })
    }

    fn list_devices(&self, team_id: &str) -> Result<Vec<DeviceInfo>, StoreError> {
        self.with_reader(|conn| {
            let team_pk = Self::team_pk(conn, team_id)?;
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {DEVICE_COLUMNS} FROM devices WHERE team_pk = ?1 ORDER BY pk"
            ))?;
            let rows = stmt.query_map([team_pk], device_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    fn doc_changes(
        &self,
        device: &DeviceAuth,
        doc_id: &str,
        after: u64,
        max_bytes: u64,
    ) -> Result<SyncPage, StoreError> {
        self.with_reader(|conn| {
            let tx = conn.transaction()?;
            let (_, team_pk) = Self::active_device(&tx, &device.device_id)?;
            let (head, erasure_head) = team_heads(&tx, team_pk)?;
            let erased = erased_in(&tx, team_pk, [doc_id])?;
            if !erased.is_empty() {
                return Err(StoreError::Erased(erased));
            }
            check_cursor(after, head)?;
            let mut page = {
                let mut stmt = tx.prepare_cached(
                    "SELECT b.seq, b.doc_id, length(b.blob), b.blob, d.actor, d.name, b.id,
                            b.placed
                     FROM blobs b JOIN devices d ON d.pk = b.device_pk
                     WHERE b.team_pk = ?1 AND b.doc_id = ?2 AND b.seq > ?3 ORDER BY b.seq",
                )?;
                let rows = stmt.query(params![team_pk, doc_id, to_i64(after)])?;
                Self::page(rows, after, to_u64(head), max_bytes)?
            };
            page.erasure_head = to_u64(erasure_head);
            tx.commit()?;
            Ok(page)
        })
    }

    fn revoke_device(&self, device_id: &str, now: i64) -> Result<u64, StoreError> {
        let mut writers = lock(&self.writers);
        let tx = writers
            .durable
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let (device_pk, _, _) = Self::device_keys(&tx, device_id)?;
        let cancelled = revoke(&tx, device_pk, device_id, now)?;
        tx.commit()?;
        drop(writers);
        self.empty_wal_of_keys(cancelled.with_keys);
        Ok(cancelled.invites as u64)
    }

    fn erased_among(
        &self,
        device: &DeviceAuth,
        doc_ids: &[&str],
    ) -> Result<Vec<String>, StoreError> {
        self.with_reader(|conn| {
            let tx = conn.transaction()?;
            let (_, team_pk) = Self::active_device(&tx, &device.device_id)?;
            let erased = erased_in(&tx, team_pk, doc_ids.iter().copied())?;
            tx.commit()?;
            Ok(erased)
        })
    }

    fn promote_device(&self, device_id: &str) -> Result<(), StoreError> {
        let mut writers = lock(&self.writers);
        let tx = writers
            .durable
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let (device_pk, _, revoked) = Self::device_keys(&tx, device_id)?;
        if revoked {
            return Err(StoreError::PromoteRevoked(device_id.to_owned()));
        }
        tx.execute(
            "UPDATE devices SET role = ?1 WHERE pk = ?2",
            params![Role::Lead.as_str(), device_pk],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn revoke_team_device(
        &self,
        lead: &DeviceAuth,
        device_id: &str,
        now: i64,
    ) -> Result<DeviceInfo, StoreError> {
        let mut writers = lock(&self.writers);
        let tx = writers
            .durable
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let (_, team_pk) = acting_lead(&tx, lead)?;
        let (device_pk, revoked, role) = team_device(&tx, team_pk, device_id)?;
        if !revoked && role == Role::Lead {
            let other_leads: i64 = tx.query_row(
                "SELECT count(*) FROM devices
                 WHERE team_pk = ?1 AND role = ?2 AND revoked_at IS NULL AND pk <> ?3",
                params![team_pk, Role::Lead.as_str(), device_pk],
                |r| r.get(0),
            )?;
            if other_leads == 0 {
                return Err(StoreError::LastLead(device_id.to_owned()));
            }
        }
        let cancelled = revoke(&tx, device_pk, device_id, now)?;
        let info = device_info(&tx, device_pk)?;
        tx.commit()?;
        drop(writers);
        self.empty_wal_of_keys(cancelled.with_keys);
        Ok(info)
    }

    fn promote_team_device(
        &self,
        lead: &DeviceAuth,
        device_id: &str,
    ) -> Result<DeviceInfo, StoreError> {
        let mut writers = lock(&self.writers);
        let tx = writers
            .durable
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let (_, team_pk) = acting_lead(&tx, lead)?;
        let (device_pk, revoked, _) = team_device(&tx, team_pk, device_id)?;
        if revoked {
            return Err(StoreError::PromoteRevoked(device_id.to_owned()));
        }
        tx.execute(
            "UPDATE devices SET role = ?1 WHERE pk = ?2",
            params![Role::Lead.as_str(), device_pk],
        )?;
        let info = device_info(&tx, device_pk)?;
        tx.commit()?;
        Ok(info)
    }

    fn erase(
        &self,
        lead: &DeviceAuth,
        doc_id: &str,
        proof: Option<&str>,
        now: i64,
    ) -> Result<Erasure, StoreError> {
        let (order, new) = self.order_erasure(lead, doc_id, proof, now)?;
        // The writers' mutex is released: the checkpoint makes no other team wait. An order
        // given before deleted nothing now; it checkpoints only if an earlier one is still owed.
        if new {
            self.checkpoint_owed.store(true, Ordering::SeqCst);
        }
        self.empty_wal_patiently("an erasure");
        Ok(order)
    }

    fn erasures(
        &self,
        device: &DeviceAuth,
        after: u64,
        limit: usize,
    ) -> Result<ErasureList, StoreError> {
        self.with_reader(|conn| {
            let tx = conn.transaction()?;
            let (_, team_pk) = Self::active_device(&tx, &device.device_id)?;
            let (_, head) = team_heads(&tx, team_pk)?;
            let seen = confirmations(&tx, team_pk)?;
            let mut orders = {
                let mut stmt = tx.prepare_cached(
                    "SELECT seq, doc_id, erased_at, proof FROM erasures
                     WHERE team_pk = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
                )?;
                let fetch = i64::try_from(limit).unwrap_or(i64::MAX).saturating_add(1);
                stmt.query_map(params![team_pk, to_i64(after), fetch], |r| {
                    Ok(erasure(r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, &seen))
                })?
                .collect::<Result<Vec<_>, _>>()?
            };
            tx.commit()?;
            let more = orders.len() > limit;
            orders.truncate(limit);
            Ok(ErasureList {
                erasures: orders,
                head: to_u64(head),
                more,
            })
        })
    }

    fn confirm_erasures(&self, device: &DeviceAuth, up_to: u64) -> Result<u64, StoreError> {
        let mut writers = lock(&self.writers);
        let tx = writers
            .durable
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let (device_pk, team_pk) = Self::active_device(&tx, &device.device_id)?;
        let (_, head) = team_heads(&tx, team_pk)?;
        let head = to_u64(head);
        if up_to > head {
            return Err(StoreError::ErasuresAhead { up_to, head });
        }
        tx.execute(
            "UPDATE devices SET erasures_seen = max(erasures_seen, ?1) WHERE pk = ?2",
            params![to_i64(up_to), device_pk],
        )?;
        tx.commit()?;
        Ok(head)
    }

    fn compact(
        &self,
        lead: &DeviceAuth,
        items: &[CompactItem],
        _now: i64,
    ) -> Result<CompactResponse, StoreError> {
        let mut writers = lock(&self.writers);
        let tx = writers
            .durable
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let (lead_pk, team_pk) = acting_lead(&tx, lead)?;
        let mut done = CompactResponse::default();
        let mut freed: i64 = 0;
        for item in items {
            match place_snapshot(&tx, team_pk, lead_pk, item)? {
                Placement::Unknown => done.unknown += 1,
                Placement::Nothing => {}
                Placement::Superseded { freed: taken } => {
                    done.dropped += 1;
                    freed = freed.saturating_add(taken);
                }
                Placement::Placed {
                    newly,
                    freed: taken,
                } => {
                    done.placed += 1;
                    done.covered += newly;
                    done.dropped += 1;
                    freed = freed.saturating_add(taken);
                }
            }
        }
        let (pruned, pruned_bytes) = prune_covered(&tx, team_pk)?;
        done.dropped += pruned;
        freed = freed.saturating_add(pruned_bytes);
        if freed > 0 {
            tx.execute(
                "UPDATE teams SET stored_bytes = max(stored_bytes - ?1, 0) WHERE pk = ?2",
                params![freed, team_pk],
            )?;
        }
        tx.commit()?;
        if done.placed > 0 {
            // Still under the writers' mutex: a pull-only sync records only after checking it.
            // (Pruning alone changes no page: it deletes only blobs no device is served.)
            self.compactions.fetch_add(1, Ordering::SeqCst);
        }
        drop(writers);
        tracing::info!(
            team_id = %lead.team_id,
            device_id = %lead.device_id,
            items = items.len(),
            placed = done.placed,
            covered = done.covered,
            dropped = done.dropped,
            freed,
            unknown = done.unknown,
            "compaction"
        );
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Arc;

    use super::*;
    use crate::secrets::{hash_invite, hash_token};
    use crate::store::Store;

    /// A store with a team and devices enrolled with the given roles; returns their `DeviceAuth`.
    fn team(store: &SqliteStore, roles: &[Role]) -> Vec<DeviceAuth> {
        let team_id = store.create_team("Team", 1).expect("team");
        roles
            .iter()
            .enumerate()
            .map(|(i, &role)| {
                let code = format!("invite-{i}");
                let invite = NewInvite {
                    code_hash: hash_invite(&code),
                    uses: 1,
                    expires_at: i64::MAX,
                    role,
                    sealed_keys: None,
                    key_parts: Vec::new(),
                };
                store.create_invite(&team_id, &invite, 1).expect("invite");
                let token = format!("token-{i}");
                let device = NewDevice {
                    invite_hash: hash_invite(&code),
                    device_id: format!("device-{i}"),
                    name: format!("Device {i}"),
                    token_hash: hash_token(&token),
                    actor: None,
                    sealing: false,
                    chosen_token: false,
                    lacks_secret: false,
                };
                assert_eq!(store.enrol(&device, 1).expect("enrols").role, role);
                store
                    .authenticate(&hash_token(&token))
                    .expect("reads")
                    .expect("known")
            })
            .collect()
    }

    /// A push of a group that panics (a bug) rolls the whole group back: the pushes written
    /// before it in the group, whose savepoints succeeded, are answered with an error, not
    /// with pages saying their blobs were stored (their devices would drop them from their
    /// outboxes). And the next push is written as usual.
    #[test]
    fn a_group_that_panicked_answers_none_of_its_pushes_as_stored() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(SqliteStore::open(dir.path()).expect("open"));
        let devices = team(&store, &[Role::Lead, Role::Canvasser, Role::Canvasser]);
        *lock(&store.before_push) = Some(Box::new(|job: &PushJob| {
            if job.blobs.iter().any(|(_, doc_id, _)| doc_id == "doc-2") {
                panic!("a bug while writing the third push");
            }
        }));

        // While the writers are busy, three pushes queue in a known order: the first to come
        // leads the group and writes all three.
        let writers = lock(&store.writers);
        let handles: Vec<_> = (0..3)
            .map(|i| {
                let (pushing, device) = (Arc::clone(&store), devices[i].clone());
                let handle = std::thread::spawn(move || {
                    let doc = format!("doc-{i}");
                    let bytes = format!("change {i}").into_bytes();
                    let blob = NewBlob {
                        id: groundwork_protocol::blob_digest(&bytes),
                        doc_id: &doc,
                        blob: &bytes,
                    };
                    pushing.sync(&device, &[], 0, &[blob], 1 << 20, 5)
                });
                while lock(&store.group).waiting.len() < i + 1 {
                    std::thread::sleep(Duration::from_millis(5));
                }
                handle
            })
            .collect();
        drop(writers);
        let answers: Vec<_> = handles.into_iter().map(|h| h.join()).collect();

        assert!(answers[0].is_err(), "the leader's thread panicked");
        for (i, answer) in answers.iter().enumerate().skip(1) {
            let answer = answer.as_ref().expect("a waiting push's thread returns");
            assert!(
                matches!(answer, Err(StoreError::Backend(_))),
                "push {i} of the group that panicked is answered with an error: {answer:?}"
            );
        }
        let page = store
            .sync(&devices[0], &[], 0, &[], 1 << 20, 6)
            .expect("pull");
        assert!(page.changes.is_empty(), "nothing of the group was stored");

        // The store goes on: the next push is written and answered.
        *lock(&store.before_push) = None;
        let bytes = b"after".to_vec();
        let blob = NewBlob {
            id: groundwork_protocol::blob_digest(&bytes),
            doc_id: "doc-after",
            blob: &bytes,
        };
        let page = store
            .sync(&devices[1], &[], 0, &[blob], 1 << 20, 7)
            .expect("stored");
        assert_eq!(page.inserted, 1);
    }

    /// Pushes that wait while a group is being written are committed together, in one
    /// transaction and one flush, each answered with its own page; one refused in the group
    /// (a change of an erased document, a team over its quota) rolls back alone.
    #[test]
    fn pushes_waiting_together_commit_as_one_group_and_a_refusal_stays_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(SqliteStore::open(dir.path()).expect("open"));
        let mut roles = vec![Role::Lead];
        roles.extend([Role::Canvasser; 9]);
        let devices = team(&store, &roles);
        store.erase(&devices[0], "erased", None, 2).expect("erase");
        let commits = store.group_commits.load(Ordering::SeqCst);

        // While the writers are busy, every push queues.
        let writers = lock(&store.writers);
        let handles: Vec<_> = (1..=9)
            .map(|i| {
                let (store, device) = (Arc::clone(&store), devices[i].clone());
                std::thread::spawn(move || {
                    let doc = if i == 9 {
                        "erased".to_owned()
                    } else {
                        format!("doc-{i}")
                    };
                    let bytes = format!("change {i}").into_bytes();
                    let blob = NewBlob {
                        id: groundwork_protocol::blob_digest(&bytes),
                        doc_id: &doc,
                        blob: &bytes,
                    };
                    store.sync(&device, &[], 0, &[blob], 1 << 20, 5)
                })
            })
            .collect();
        while lock(&store.group).waiting.len() < 9 {
            std::thread::sleep(Duration::from_millis(5));
        }
        drop(writers);
        let answers: Vec<_> = handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect();

        assert_eq!(
            store.group_commits.load(Ordering::SeqCst) - commits,
            1,
            "one commit for the nine pushes"
        );
        // In the group, each push's page is read after the pushes queued before it: its cursor
        // is its own position, and it holds the pushes before it.
        let mut order = vec![String::new(); 8];
        for (i, answer) in answers.iter().enumerate().take(8) {
            let page = answer.as_ref().expect("stored");
            assert_eq!(page.inserted, 1, "push {} stored", i + 1);
            let seqs: Vec<u64> = page.changes.iter().map(|c| c.seq).collect();
            assert_eq!(seqs, (1..page.cursor).collect::<Vec<_>>(), "push {}", i + 1);
            let at = usize::try_from(page.cursor).expect("small") - 1;
            assert!(order[at].is_empty(), "two pushes at one position");
            order[at] = format!("doc-{}", i + 1);
        }
        assert!(
            matches!(&answers[8], Err(StoreError::Erased(docs)) if docs == &["erased"]),
            "{:?}",
            answers[8]
        );
        let page = store
            .sync(&devices[0], &[], 0, &[], 1 << 20, 6)
            .expect("pull");
        let stored: Vec<String> = page.changes.iter().map(|c| c.doc_id.clone()).collect();
        assert_eq!(
            stored, order,
            "the eight pushes stored where their answers said, the refused one not at all"
        );
        assert_eq!(page.cursor, 8);

        // A team over its quota is refused alone too, in a group of its own here (the lead's
        // push: a canvasser's share, half of no bytes, would be full first).
        drop(store);
        let store = SqliteStore::open(dir.path())
            .expect("open")
            .with_max_team_bytes(0);
        let big = b"too big".to_vec();
        let refused = store.sync(
            &devices[0],
            &[],
            8,
            &[NewBlob {
                id: groundwork_protocol::blob_digest(&big),
                doc_id: "doc-big",
                blob: &big,
            }],
            0,
            7,
        );
        assert!(
            matches!(refused, Err(StoreError::TeamFull { limit: 0 })),
            "{refused:?}"
        );
        let page = store
            .sync(&devices[1], &[], 8, &[], 1 << 20, 8)
            .expect("pull");
        assert!(
            page.changes.is_empty(),
            "nothing of the refused push stored"
        );
    }

    /// A device with the token `token`, enrolling with the invite `code`.
    fn joining(code: &str, token: &str) -> NewDevice {
        NewDevice {
            invite_hash: hash_invite(code),
            device_id: token.to_owned(),
            name: token.to_owned(),
            token_hash: hash_token(token),
            actor: None,
            sealing: false,
            chosen_token: false,
            lacks_secret: false,
        }
    }

    fn invite(code: &str, uses: u32, role: Role) -> NewInvite {
        NewInvite {
            code_hash: hash_invite(code),
            uses,
            expires_at: i64::MAX,
            role,
            sealed_keys: None,
            key_parts: Vec::new(),
        }
    }

    /// The invites of the database, by maker's device id (`None`: the operator's), in order.
    fn invite_makers(store: &SqliteStore) -> Vec<(Option<String>, i64)> {
        let writers = lock(&store.writers);
        let mut stmt = writers
            .durable
            .prepare(
                "SELECT d.id, i.uses_left FROM invites i LEFT JOIN devices d ON d.pk = i.created_by
                 ORDER BY i.created_at, d.id",
            )
            .expect("prepare");
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows")
    }

    #[test]
    fn revoking_a_device_cancels_its_invites() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(dir.path()).expect("open");
        let devices = team(&store, &[Role::Lead, Role::Lead]);
        let (a, b) = (&devices[0], &devices[1]);
        store
            .lead_invite(a, &invite("from-a", 1000, Role::Lead), 10)
            .expect("a's lead invite");
        store
            .lead_invite(a, &invite("from-a-used", 1, Role::Canvasser), 11)
            .expect("a's used-up invite");
        store
            .lead_invite(b, &invite("from-b", 2, Role::Canvasser), 12)
            .expect("b's invite");
        store
            .create_invite(&a.team_id, &invite("operator", 2, Role::Lead), 13)
            .expect("the operator's invite");
        store
            .enrol(&joining("from-a-used", "joined-with-a"), 14)
            .expect("enrols");

        // Belt and braces: an invite whose maker is revoked enrols nobody, even if it is
        // still there, with the answer an unknown code gets.
        let by_hand = |revoked_at: Option<i64>| {
            lock(&store.writers)
                .durable
                .execute(
                    "UPDATE devices SET revoked_at = ?1 WHERE id = ?2",
                    params![revoked_at, a.device_id],
                )
                .expect("by hand")
        };
        by_hand(Some(15));
        assert!(matches!(
            store.enrol(&joining("from-a", "thief"), 16),
            Err(StoreError::UnknownInvite)
        ));
        by_hand(None);
        assert_eq!(
            store
                .enrol(&joining("from-a", "second-lead"), 17)
                .expect("enrols while a is active")
                .role,
            Role::Lead
        );

        // b revokes a: a's invite with uses left goes, in the same transaction.
        let revoked = store
            .revoke_team_device(b, &a.device_id, 18)
            .expect("revoke");
        assert_eq!(revoked.revoked_at, Some(18));
        assert_eq!(
            invite_makers(&store),
            vec![
                (None, 0),
                (None, 0),
                (Some("device-0".to_owned()), 0),
                (Some("device-1".to_owned()), 2),
                (None, 2),
            ],
            "the operator's used-up invites, a's used-up one, b's and the operator's"
        );
        for code in ["from-a", "from-a-used"] {
            assert!(matches!(
                store.enrol(&joining(code, "thief"), 19),
                Err(StoreError::UnknownInvite)
            ));
        }
        store
            .enrol(&joining("from-b", "b-invited"), 20)
            .expect("b's invite still works");
        store
            .enrol(&joining("operator", "operator-invited"), 21)
            .expect("the operator's invite still works");

        // The operator's revocation cancels too; again, nothing more, and the time stays.
        assert_eq!(store.revoke_device(&b.device_id, 22).expect("revoke"), 1);
        assert!(matches!(
            store.enrol(&joining("from-b", "late"), 23),
            Err(StoreError::UnknownInvite)
        ));
        assert_eq!(store.revoke_device(&b.device_id, 24).expect("again"), 0);
        let list = store.list_devices(&a.team_id).expect("list");
        assert_eq!(list[1].revoked_at, Some(22));
        assert!(matches!(
            store.revoke_device("nope", 25),
            Err(StoreError::UnknownDevice(_))
        ));
    }

    /// Each invite's code hash prefix and sealed keys, with the team's sealed flag.
    fn stored_keys(store: &SqliteStore, code: &str) -> Option<Option<String>> {
        lock(&store.writers)
            .durable
            .query_row(
                "SELECT sealed_keys FROM invites WHERE hash = ?1",
                [&hash_invite(code)[..]],
                |r| r.get(0),
            )
            .optional()
            .expect("reads")
    }

    fn uses_left(store: &SqliteStore, code: &str) -> i64 {
        lock(&store.writers)
            .durable
            .query_row(
                "SELECT uses_left FROM invites WHERE hash = ?1",
                [&hash_invite(code)[..]],
                |r| r.get(0),
            )
            .expect("reads")
    }

    fn sealing(code: &str, token: &str) -> NewDevice {
        NewDevice {
            sealing: true,
            ..joining(code, token)
        }
    }

    fn with_keys(invite: NewInvite, keys: &str) -> NewInvite {
        NewInvite {
            sealed_keys: Some(keys.to_owned()),
            ..invite
        }
    }

    fn auth(store: &SqliteStore, token: &str) -> DeviceAuth {
        store
            .authenticate(&hash_token(token))
            .expect("reads")
            .expect("known")
    }

    #[test]
    fn enrolment_decides_whether_the_team_is_sealed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(dir.path()).expect("open");
        let team_id = store.create_team("Team", 1).expect("team");
        let sealed = store
            .create_invite(&team_id, &invite("first", 3, Role::Lead), 1)
            .expect("invite");
        assert!(!sealed, "a new team is not sealed");

        // A device that does not seal changes nothing, even in an empty team.
        let plain = store.enrol(&joining("first", "plain"), 2).expect("enrols");
        assert_eq!((plain.sealed, plain.sealed_keys), (false, None));
        // The first sealing device of a team that never stored a change makes the key.
        let maker = store.enrol(&sealing("first", "maker"), 3).expect("enrols");
        assert_eq!((maker.sealed, maker.sealed_keys), (true, None));
        // From then on an invite without keys enrols nobody, and keeps its uses.
        assert_eq!(uses_left(&store, "first"), 1);
        for device in [sealing("first", "late"), joining("first", "old-app")] {
            assert!(matches!(store.enrol(&device, 4), Err(StoreError::NeedsKey)));
        }
        assert_eq!(uses_left(&store, "first"), 1, "the refusals used nothing");
        let sealed = store
            .create_invite(&team_id, &invite("operator", 1, Role::Canvasser), 5)
            .expect("invite");
        assert!(sealed, "the operator is told the team is sealed");
        assert!(matches!(
            store.enrol(&sealing("operator", "late"), 6),
            Err(StoreError::NeedsKey)
        ));

        // A lead's invite with keys hands them to each device; its last use forgets them.
        let lead = auth(&store, "maker");
        store
            .lead_invite(
                &lead,
                &with_keys(invite("keyed", 2, Role::Canvasser), "S3aled_k-ys"),
                7,
            )
            .expect("lead invite");
        for (token, left) in [("one", Some("S3aled_k-ys")), ("two", None)] {
            let joined = store.enrol(&sealing("keyed", token), 8).expect("enrols");
            assert_eq!(joined.sealed_keys.as_deref(), Some("S3aled_k-ys"));
            assert!(joined.sealed);
            assert_eq!(stored_keys(&store, "keyed"), Some(left.map(str::to_owned)));
        }
        // A device that does not seal would push in the clear: refused, the invite kept.
        store
            .lead_invite(&lead, &with_keys(invite("keyed-2", 1, Role::Lead), "K"), 9)
            .expect("lead invite");
        assert!(matches!(
            store.enrol(&joining("keyed-2", "three"), 10),
            Err(StoreError::NeedsSealing)
        ));
        let new = store
            .enrol(&sealing("keyed-2", "four"), 11)
            .expect("enrols");
        assert_eq!((new.sealed, new.sealed_keys.as_deref()), (true, Some("K")));
    }

    /// An enrolment that fails after it started writing (here a trigger standing for a full
    /// disk or a broken file, raised by the device's row) leaves nothing of it behind: the
    /// team is not sealed and the invite keeps its use. The expired invites' keys it forgot on
    /// the way stay forgotten.
    #[test]
    fn an_enrolment_failing_part_way_writes_nothing_but_forgetting_expired_keys() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(dir.path()).expect("open");
        let team_id = store.create_team("Team", 1).expect("team");
        store
            .create_invite(&team_id, &invite("first", 2, Role::Lead), 1)
            .expect("invite");
        store
            .create_invite(&team_id, &invite("old", 1, Role::Canvasser), 1)
            .expect("invite");
        {
            let writers = lock(&store.writers);
            // An invite whose keys are held past its expiry, forgotten by the team's next
            // enrolment.
            writers
                .durable
                .execute(
                    "UPDATE invites SET sealed_keys = 'K', expires_at = 5 WHERE hash = ?1",
                    [&hash_invite("old")[..]],
                )
                .expect("expire the old invite");
            writers
                .durable
                .execute_batch(
                    "CREATE TRIGGER failing BEFORE INSERT ON devices WHEN NEW.name = 'doomed'
                     BEGIN SELECT RAISE(ABORT, 'the disk failed'); END",
                )
                .expect("trigger");
        }
        let team_sealed = || -> bool {
            lock(&store.writers)
                .durable
                .query_row("SELECT sealed FROM teams WHERE id = ?1", [&team_id], |r| {
                    r.get(0)
                })
                .expect("reads")
        };

        // The first sealing lead of an empty team seals it and takes a use, then fails.
        let failed = store.enrol(&sealing("first", "doomed"), 10);
        assert!(
            matches!(failed, Err(StoreError::Backend(_))),
            "a storage failure: {failed:?}"
        );
        assert_eq!(uses_left(&store, "first"), 2, "the invite keeps its use");
        assert!(
            !team_sealed(),
            "the team is not sealed by a device that never joined"
        );
        assert_eq!(
            stored_keys(&store, "old"),
            Some(None),
            "the expired invite's keys stay forgotten"
        );

        // The next device joins as if the failed one had never tried.
        let maker = store.enrol(&sealing("first", "maker"), 11).expect("enrols");
        assert_eq!((maker.sealed, maker.sealed_keys), (true, None));
        assert_eq!(uses_left(&store, "first"), 1);
        assert!(team_sealed());
    }

    #[test]
    fn a_team_that_stored_changes_is_not_sealed_by_a_sealing_device() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(dir.path()).expect("open");
        let devices = team(&store, &[Role::Lead]);
        let lead = &devices[0];
        let blob = NewBlob {
            id: [7; 32],
            doc_id: "doc",
            blob: b"plain",
        };
        store
            .sync(lead, b"actor", 0, &[blob], 1000, 2)
            .expect("stored");
        store.erase(lead, "doc", None, 3).expect("erased");
        store
            .create_invite(&lead.team_id, &invite("after", 1, Role::Canvasser), 4)
            .expect("invite");
        let joined = store.enrol(&sealing("after", "new"), 5).expect("enrols");
        assert_eq!(
            (joined.sealed, joined.sealed_keys),
            (false, None),
            "a team whose changes were all erased is not empty"
        );
    }

    /// A team keeps at most [`super::super::team_rows_limit`] erasure orders; an order given
    /// again is no new one. (Its invites, bounded the same way: the relay suite's
    /// `enrolment::a_team_keeps_a_bounded_number_of_invites_and_forgets_long_expired_ones`, on
    /// SQLite and on PostgreSQL.)
    #[test]
    fn a_team_keeps_a_bounded_number_of_erasure_orders() {
        let dir = tempfile::tempdir().expect("tempdir");
        // A quota of 128 KiB: 64 erasure orders a team (the least there is).
        let store = SqliteStore::open(dir.path())
            .expect("open")
            .with_max_team_bytes(128 << 10);
        let lead = &team(&store, &[Role::Lead])[0];
        // Erasure orders: 64, then no more; an order given again is still answered.
        for i in 1..=64 {
            store
                .erase(lead, &format!("doc-{i}"), None, 20)
                .expect("erased");
        }
        assert!(matches!(
            store.erase(lead, "doc-65", None, 21),
            Err(StoreError::TooManyErasures { limit: 64 })
        ));
        assert_eq!(store.erase(lead, "doc-2", None, 22).expect("again").seq, 2);
        let orders = store.erasures(lead, 0, 100).expect("orders");
        assert_eq!(orders.erasures.len(), 64, "no more orders kept");
    }

    #[test]
    fn parts_of_invites_keys_wait_an_hour_for_their_invite() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(dir.path()).expect("open");
        let devices = team(&store, &[Role::Lead]);
        let lead = &devices[0];
        let kept = 1_000;
        store
            .keep_invite_keys(lead, "early", "EARLY", false, kept)
            .expect("kept");
        store
            .keep_invite_keys(lead, "late", "LATE", false, kept + 10)
            .expect("kept");
        let naming = |code: &str, part: &str| NewInvite {
            key_parts: vec![part.to_owned()],
            ..with_keys(invite(code, 1, Role::Canvasser), "LAST")
        };
        // An hour on, the first part is forgotten and the invite naming it is not made.
        let late = kept + INVITE_KEY_PART_SECS;
        assert!(matches!(
            store.lead_invite(lead, &naming("too late", "early"), late),
            Err(StoreError::UnknownKeyPart { part }) if part == "early"
        ));
        assert_eq!(stored_keys(&store, "too late"), None);
        // The second has ten seconds left.
        store
            .lead_invite(lead, &naming("in time", "late"), late)
            .expect("in time");
        assert_eq!(
            stored_keys(&store, "in time"),
            Some(Some("LATELAST".to_owned()))
        );
    }

    #[test]
    fn keys_are_forgotten_when_invites_expire_or_their_maker_is_revoked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(dir.path()).expect("open");
        let devices = team(&store, &[Role::Lead, Role::Lead]);
        let (a, b) = (&devices[0], &devices[1]);
        let expiring = NewInvite {
            expires_at: 100,
            ..with_keys(invite("expiring", 1, Role::Canvasser), "EXP")
        };
        store.lead_invite(a, &expiring, 10).expect("invite");
        store
            .lead_invite(
                a,
                &with_keys(invite("a-later", 5, Role::Canvasser), "AAA"),
                11,
            )
            .expect("invite");
        store
            .lead_invite(
                b,
                &with_keys(invite("b-later", 5, Role::Canvasser), "BBB"),
                12,
            )
            .expect("invite");
        // Any invite to the team after the expiry forgets the expired invite's keys.
        assert!(
            store
                .create_invite(&a.team_id, &invite("operator", 1, Role::Canvasser), 200)
                .expect("invite")
        );
        assert_eq!(stored_keys(&store, "expiring"), Some(None));
        assert_eq!(stored_keys(&store, "a-later"), Some(Some("AAA".to_owned())));
        assert!(matches!(
            store.enrol(&sealing("expiring", "late"), 201),
            Err(StoreError::InviteExpired)
        ));
        // Revoking a deletes its invite, keys and all; b's stays.
        store
            .revoke_team_device(b, &a.device_id, 202)
            .expect("revoke");
        assert_eq!(stored_keys(&store, "a-later"), None);
        assert_eq!(stored_keys(&store, "b-later"), Some(Some("BBB".to_owned())));
        // So does the operator's revocation.
        assert_eq!(store.revoke_device(&b.device_id, 203).expect("revoke"), 1);
        assert_eq!(stored_keys(&store, "b-later"), None);
    }

    #[test]
    fn orders_page_and_count_what_each_device_carried_out() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(dir.path()).expect("open");
        let devices = team(&store, &[Role::Lead, Role::Lead, Role::Canvasser]);
        let (a, b, c) = (&devices[0], &devices[1], &devices[2]);
        // Lead a orders the first erasure and carries it out at once.
        assert_eq!(store.erase(a, "x", None, 10).expect("erase").confirmed, 1);
        // Lead b has not carried out order 1: its own order 2 does not count it either.
        let second = store.erase(b, "y", None, 11).expect("erase");
        assert_eq!((second.seq, second.confirmed, second.devices), (2, 0, 3));
        let third = store.erase(a, "z", None, 12).expect("erase");
        assert_eq!(
            (third.seq, third.confirmed),
            (3, 0),
            "a has not carried out 2"
        );
        assert!(matches!(
            store.erase(c, "w", None, 13),
            Err(StoreError::NotLead(_))
        ));

        let page = store.erasures(c, 0, 2).expect("list");
        assert_eq!((page.head, page.more), (3, true));
        let seqs: Vec<u64> = page.erasures.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, vec![1, 2]);
        assert_eq!(page.erasures[0].confirmed, 1);
        let rest = store.erasures(c, 2, 2).expect("list");
        assert_eq!((rest.erasures.len(), rest.more), (1, false));
        assert_eq!(rest.erasures[0].doc_id, "z");

        assert_eq!(store.confirm_erasures(b, 3).expect("confirm"), 3);
        assert!(matches!(
            store.confirm_erasures(b, 4),
            Err(StoreError::ErasuresAhead { up_to: 4, head: 3 })
        ));
        let all = store.erasures(a, 0, 10).expect("list");
        let confirmed: Vec<u32> = all.erasures.iter().map(|e| e.confirmed).collect();
        assert_eq!(confirmed, vec![2, 1, 1]);
        // The tombstones refuse the documents' changes; the others pass.
        let blob = NewBlob {
            id: [1; 32],
            doc_id: "y",
            blob: b"late",
        };
        assert!(matches!(
            store.sync(c, &[], 0, std::slice::from_ref(&blob), 1000, 20),
            Err(StoreError::Erased(docs)) if docs == ["y"]
        ));
        assert_eq!(
            store.erased_among(c, &["q", "x", "q", "x"]).expect("reads"),
            vec!["x".to_owned()]
        );
        let fine = NewBlob {
            doc_id: "q",
            ..blob
        };
        let page = store.sync(c, &[], 0, &[fine], 1000, 20).expect("stored");
        assert_eq!((page.inserted, page.erasure_head), (1, 3));
    }

    // Compaction.

    /// A change to push: its id, document and bytes; `name` for readable assertions.
    #[derive(Debug, Clone)]
    struct Change {
        name: &'static str,
        id: [u8; 32],
        doc: &'static str,
        bytes: Vec<u8>,
    }

    /// Its bytes are `"<name> of <doc>"`: 8 bytes with the document id for a two-letter name.
    fn change(name: &'static str, doc: &'static str) -> Change {
        let bytes = format!("{name} of {doc}").into_bytes();
        Change {
            name,
            id: groundwork_protocol::blob_digest(&bytes),
            doc,
            bytes,
        }
    }

    /// `device` pushes `c` (reading as little as a sync can: its next sync starts at 0, or at the
    /// first change of another device).
    fn push(store: &SqliteStore, device: &DeviceAuth, c: &Change) {
        let blob = NewBlob {
            id: c.id,
            doc_id: c.doc,
            blob: &c.bytes,
        };
        let page = store.sync(device, &[], 0, &[blob], 0, 5).expect("pushed");
        assert_eq!(page.inserted, 1, "{} is new", c.name);
    }

    /// A compaction item: `snapshot` of its document, covering `covers` and the raw `tags`.
    fn compact_item(snapshot: &Change, covers: &[&Change], tags: &[u64]) -> CompactItem {
        CompactItem {
            doc_id: snapshot.doc.to_owned(),
            snapshot: groundwork_protocol::id::hex(&snapshot.id),
            covers: covers
                .iter()
                .map(|c| tag(&c.id))
                .chain(tags.iter().copied())
                .collect(),
        }
    }

    /// A team, its devices and the changes they pushed, as [`logged`] makes them.
    struct Compacted {
        store: SqliteStore,
        _dir: tempfile::TempDir,
        /// lead, a, b (canvassers that push), n and e (canvassers that only read).
        lead: DeviceAuth,
        a: DeviceAuth,
        b: DeviceAuth,
        n: DeviceAuth,
        e: DeviceAuth,
        changes: Vec<Change>,
    }

    impl Compacted {
        fn named(&self, name: &str) -> &Change {
            self.changes
                .iter()
                .find(|c| c.name == name)
                .expect("a change of the fixture")
        }

        fn name_of(&self, id: &[u8; 32]) -> &'static str {
            self.changes
                .iter()
                .find(|c| &c.id == id)
                .map_or("?", |c| c.name)
        }

        /// The fixture's name of a device.
        fn who(&self, device_id: &str) -> String {
            [
                (&self.lead, "lead"),
                (&self.a, "a"),
                (&self.b, "b"),
                (&self.n, "n"),
                (&self.e, "e"),
            ]
            .into_iter()
            .find(|(d, _)| d.device_id == device_id)
            .map_or_else(|| device_id.to_owned(), |(_, name)| name.to_owned())
        }

        /// `(seq, name)` of a page.
        fn seqs(&self, page: &SyncPage) -> Vec<(u64, &'static str)> {
            page.changes
                .iter()
                .map(|c| (c.seq, self.name_of(&c.id)))
                .collect()
        }

        /// The names of a page's changes served as snapshots.
        fn snapshots(&self, page: &SyncPage) -> Vec<&'static str> {
            page.changes
                .iter()
                .filter(|c| c.snapshot)
                .map(|c| self.name_of(&c.id))
                .collect()
        }

        /// `device` pulls from `since`: `(seq, name)` of the page, its cursor and `more`.
        fn pull(
            &self,
            device: &DeviceAuth,
            since: u64,
            max_bytes: u64,
        ) -> (Vec<(u64, &'static str)>, u64, bool) {
            let page = self
                .store
                .sync(device, &[], since, &[], max_bytes, 50)
                .expect("pulls");
            for c in page.changes.iter().filter(|c| c.snapshot) {
                let name = self.name_of(&c.id);
                assert!(name.starts_with('s'), "{name} is served as a snapshot");
            }
            (self.seqs(&page), page.cursor, page.more)
        }

        /// `device` syncs from the head: it holds the whole log, its next sync starts there.
        fn read_all(&self, device: &DeviceAuth) {
            let head = self.head();
            let (_, cursor, more) = self.pull(device, head, 1 << 20);
            assert_eq!((cursor, more), (head, false));
        }

        fn head(&self) -> u64 {
            to_u64(
                team_heads(&lock(&self.store.writers).durable, 1)
                    .expect("heads")
                    .0,
            )
        }

        /// The team's blobs: `(seq, name, covered_from, placed)`.
        fn rows(&self) -> Vec<(i64, &'static str, Option<i64>, bool)> {
            let writers = lock(&self.store.writers);
            let mut stmt = writers
                .durable
                .prepare("SELECT seq, id, covered_from, placed FROM blobs ORDER BY seq")
                .expect("prepare");
            stmt.query_map([], |r| {
                let id: Vec<u8> = r.get(1)?;
                Ok((r.get(0)?, id, r.get(2)?, r.get(3)?))
            })
            .expect("query")
            .map(|row| {
                let (seq, id, from, placed) = row.expect("row");
                let id: [u8; 32] = id.try_into().expect("32 bytes");
                (seq, self.name_of(&id), from, placed)
            })
            .collect()
        }

        /// Who still needs which covered blob: `(seq, device)`, in order.
        fn needs(&self) -> Vec<(i64, String)> {
            let rows: Vec<(i64, String)> = {
                let writers = lock(&self.store.writers);
                let mut stmt = writers
                    .durable
                    .prepare(
                        "SELECT n.seq, d.id FROM covered_needs n JOIN devices d ON d.pk = n.device_pk
                         ORDER BY n.seq, n.device_pk",
                    )
                    .expect("prepare");
                stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                    .expect("query")
                    .collect::<Result<_, _>>()
                    .expect("rows")
            };
            rows.into_iter()
                .map(|(seq, id)| (seq, self.who(&id)))
                .collect()
        }

        /// `(cursor, reach)` recorded for `device`.
        fn recorded(&self, device: &DeviceAuth) -> (i64, Option<i64>) {
            lock(&self.store.writers)
                .durable
                .query_row(
                    "SELECT cursor, reach FROM devices WHERE id = ?1",
                    [&device.device_id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .expect("reads")
        }

        /// The team's byte count, and the bytes its blobs really take.
        fn bytes(&self) -> (i64, i64) {
            lock(&self.store.writers)
                .durable
                .query_row(
                    "SELECT stored_bytes, (SELECT COALESCE(SUM(length(blob)
                         + length(CAST(doc_id AS BLOB)) + 128), 0) FROM blobs)
                     FROM teams",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .expect("reads")
        }

        /// What the team's count holds for the change `name`.
        fn size(&self, name: &str) -> i64 {
            let c = self.named(name);
            i64::try_from(c.bytes.len() + c.doc.len()).expect("small") + BLOB_ROW_BYTES
        }

        fn compact(&self, items: &[CompactItem]) -> CompactResponse {
            self.store.compact(&self.lead, items, 60).expect("compacts")
        }

        fn prune(&self) -> CompactResponse {
            self.compact(&[])
        }

        /// A canvasser enrolled now, whose device id is `name`.
        fn newcomer(&self, name: &str) -> DeviceAuth {
            let code = format!("invite-{name}");
            self.store
                .create_invite(&self.lead.team_id, &invite(&code, 1, Role::Canvasser), 61)
                .expect("invite");
            self.store.enrol(&joining(&code, name), 61).expect("enrols");
            self.store
                .authenticate(&hash_token(name))
                .expect("reads")
                .expect("known")
        }
    }

    /// A team (a lead, canvassers a and b that push, n and e that only read) whose log is:
    ///
    /// ```text
    /// 1 c1 (doc C, b)  2 a1 (a)  3 b1 (doc B, b)  4 a2 (a)  5 a3 (b)  6 ax (a)  7 b2 (doc B, a)
    /// 8 s1 (the lead's snapshot of doc A)  9 a4 (a: after the snapshot)
    /// ```
    ///
    /// Each push read one change at most, so the devices' next syncs start at: the lead 0 or 1,
    /// a 0 or 1, b 0 or 2; n and e never synced (anywhere).
    fn logged() -> Compacted {
        let mut log = devices_only();
        log.changes = vec![
            change("c1", "C"),
            change("a1", "A"),
            change("b1", "B"),
            change("a2", "A"),
            change("a3", "A"),
            change("ax", "A"),
            change("b2", "B"),
            change("s1", "A"),
            change("a4", "A"),
        ];
        for (c, by) in log.changes.iter().zip([
            &log.b, &log.a, &log.b, &log.a, &log.b, &log.a, &log.a, &log.lead, &log.a,
        ]) {
            push(&log.store, by, c);
        }
        log
    }

    /// s1 covering a1, a2, a3, and listing a4 (after it), b1 (another document) and a tag of
    /// nothing.
    fn s1_item(log: &Compacted) -> CompactItem {
        compact_item(
            log.named("s1"),
            &[
                log.named("a1"),
                log.named("a2"),
                log.named("a3"),
                log.named("a4"),
                log.named("b1"),
            ],
            &[0xdead_beef],
        )
    }

    /// [`logged`], then s1 placed: at 2, where a1 was (a1 deleted); a2 and a3 covered, needed
    /// by b (it may start at 2), n and e (they may start anywhere).
    fn compacted() -> Compacted {
        let log = logged();
        let done = log.compact(&[s1_item(&log)]);
        assert_eq!((done.placed, done.dropped), (1, 1));
        log
    }

    /// The team of [`logged`], with nothing pushed yet.
    fn devices_only() -> Compacted {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(dir.path()).expect("open");
        let devices = team(
            &store,
            &[
                Role::Lead,
                Role::Canvasser,
                Role::Canvasser,
                Role::Canvasser,
                Role::Canvasser,
            ],
        );
        let [lead, a, b, n, e] = <[DeviceAuth; 5]>::try_from(devices).expect("five devices");
        Compacted {
            store,
            _dir: dir,
            lead,
            a,
            b,
            n,
            e,
            changes: Vec::new(),
        }
    }

    fn needs(list: &[(i64, &str)]) -> Vec<(i64, String)> {
        list.iter()
            .map(|&(seq, who)| (seq, who.to_owned()))
            .collect()
    }

    #[test]
    fn a_snapshot_takes_the_place_of_the_earliest_blob_it_covers_which_goes() {
        let log = logged();
        let (before, _) = log.bytes();
        let done = log.compact(&[s1_item(&log)]);
        assert_eq!(
            done,
            CompactResponse {
                placed: 1,
                covered: 3,
                dropped: 1,
                unknown: 0
            },
            "a1, a2 and a3 covered, a1 deleted at once"
        );
        assert_eq!(
            log.rows(),
            vec![
                (1, "c1", None, false),
                (2, "s1", None, true),
                (3, "b1", None, false),
                (4, "a2", Some(2), false),
                (5, "a3", Some(2), false),
                (6, "ax", None, false),
                (7, "b2", None, false),
                (9, "a4", None, false),
            ],
            "s1 where a1 was; a4 (after the snapshot), ax and b1 are not covered"
        );
        let (after, real) = log.bytes();
        assert_eq!(after, before - log.size("a1"));
        assert_eq!(after, real);
        // b may start at 2 (it holds a1, not a2; a3 is its own); n and e may start anywhere.
        // a starts at 0 or 1 and gets s1; the lead made it.
        assert_eq!(
            log.needs(),
            needs(&[(4, "b"), (4, "n"), (4, "e"), (5, "n"), (5, "e")])
        );
        assert_eq!(log.head(), 9, "the head did not move");
        // a gets the snapshot (its own blobs stay out), and no covered blob.
        assert_eq!(
            log.pull(&log.a, 1, 1 << 20),
            (vec![(2, "s1"), (3, "b1")], 9, false)
        );
        // b, from 2, gets a2 and not the snapshot.
        assert_eq!(
            log.pull(&log.b, 2, 1 << 20).0,
            vec![(4, "a2"), (6, "ax"), (7, "b2"), (9, "a4")]
        );
    }

    #[test]
    fn a_new_device_gets_each_snapshot_once_and_no_covered_blob() {
        let log = compacted();
        // A second document compacted too: sb (pushed at 10) stands for b1 and b2, where b1 was.
        let sb = change("sb", "B");
        push(&log.store, &log.lead, &sb);
        let mut changes = log.changes.clone();
        changes.push(sb.clone());
        let log = Compacted { changes, ..log };
        let done = log.compact(&[compact_item(&sb, &[log.named("b1"), log.named("b2")], &[])]);
        assert_eq!((done.placed, done.covered), (1, 2));
        let contents: HashMap<&str, Vec<&str>> =
            HashMap::from([("s1", vec!["a1", "a2", "a3"]), ("sb", vec!["b1", "b2"])]);
        let everything: HashSet<&str> = log.changes.iter().map(|c| c.name).collect();
        for (i, max_bytes) in [0, 1, 8, 12, 16, 24, 25, 40, 1 << 20]
            .into_iter()
            .enumerate()
        {
            let fresh = log.newcomer(&format!("fresh-{i}"));
            let mut since = 0;
            let mut served = Vec::new();
            let mut snapshots = Vec::new();
            loop {
                let page = log
                    .store
                    .sync(&fresh, &[], since, &[], max_bytes, 70)
                    .expect("pulls");
                assert!(
                    page.changes
                        .iter()
                        .all(|c| c.seq > since && c.seq <= page.cursor)
                );
                served.extend(log.seqs(&page));
                snapshots.extend(log.snapshots(&page));
                since = page.cursor;
                if !page.more {
                    break;
                }
            }
            assert_eq!(since, 10, "the last cursor is the head");
            assert_eq!(
                served,
                [(1, "c1"), (2, "s1"), (3, "sb"), (6, "ax"), (9, "a4")],
                "pages of {max_bytes} bytes: each snapshot once, no covered blob"
            );
            assert_eq!(snapshots, ["s1", "sb"]);
            let mut held: HashSet<&str> = HashSet::new();
            for &(_, name) in &served {
                held.insert(name);
                held.extend(contents.get(name).into_iter().flatten());
            }
            assert_eq!(held, everything, "pages of {max_bytes} bytes");
        }
    }

    #[test]
    fn a_device_past_the_covered_blobs_gets_nothing_again() {
        let log = logged();
        // b has read up to 7 (past a1, a2 and a3, before s1 at 8), and then s1 from there: it
        // starts at 7 or 8. n and e have read the whole log. a starts at 0 or 1.
        assert_eq!(
            log.pull(&log.b, 0, 32),
            (vec![(2, "a1"), (4, "a2"), (6, "ax"), (7, "b2")], 7, true)
        );
        assert_eq!(log.pull(&log.b, 7, 0), (vec![(8, "s1")], 8, true));
        log.read_all(&log.n);
        log.read_all(&log.e);
        let done = log.compact(&[s1_item(&log)]);
        assert_eq!(
            done,
            CompactResponse {
                placed: 1,
                covered: 3,
                dropped: 3,
                unknown: 0
            },
            "no device needs a2 or a3: they go at once, with a1"
        );
        assert!(log.needs().is_empty());
        // Nothing again: not the snapshot (now at 2), not a1, not a covered blob.
        assert_eq!(log.pull(&log.b, 7, 1 << 20).0, [(9, "a4")]);
        assert_eq!(log.pull(&log.b, 8, 1 << 20).0, [(9, "a4")]);
        assert_eq!(log.pull(&log.b, 9, 1 << 20), (vec![], 9, false));
        assert_eq!(log.pull(&log.n, 9, 1 << 20), (vec![], 9, false));
        // a, before the snapshot, gets it (a3 is in it; a1 and a2 are its own).
        assert_eq!(log.pull(&log.a, 1, 1 << 20).0, [(2, "s1"), (3, "b1")]);
        let (counted, real) = log.bytes();
        assert_eq!(counted, real);
    }

    #[test]
    fn a_device_inside_the_covered_range_gets_what_it_lacks_then_they_go() {
        let log = logged();
        // n has read c1, a1 and b1: it starts at 3 (or 0, had it lost the answer). Everyone
        // else has read the whole log.
        assert_eq!(
            log.pull(&log.n, 0, 24),
            (vec![(1, "c1"), (2, "a1"), (3, "b1")], 3, true)
        );
        for device in [&log.lead, &log.a, &log.b, &log.e] {
            log.read_all(device);
        }
        let done = log.compact(&[s1_item(&log)]);
        assert_eq!((done.placed, done.covered, done.dropped), (1, 3, 1));
        assert_eq!(log.needs(), needs(&[(4, "n"), (5, "n")]));
        // From 3: the covered blobs after its cursor, and not the snapshot.
        let page = log
            .store
            .sync(&log.n, &[], 3, &[], 1 << 20, 62)
            .expect("pulls");
        assert_eq!(
            log.seqs(&page),
            [(4, "a2"), (5, "a3"), (6, "ax"), (7, "b2"), (9, "a4")]
        );
        assert!(log.snapshots(&page).is_empty());
        // n may not have kept that answer: a2 and a3 stay.
        assert_eq!(log.prune().dropped, 0);
        assert_eq!(log.needs(), needs(&[(4, "n"), (5, "n")]));
        // n syncs from 9: it holds them, and they go at the next compaction.
        assert_eq!(log.pull(&log.n, 9, 1 << 20), (vec![], 9, false));
        assert!(log.needs().is_empty());
        let (before, _) = log.bytes();
        assert_eq!(
            log.prune(),
            CompactResponse {
                dropped: 2,
                ..CompactResponse::default()
            }
        );
        let (after, real) = log.bytes();
        assert_eq!(after, before - log.size("a2") - log.size("a3"));
        assert_eq!(after, real);
        assert_eq!(
            log.rows(),
            vec![
                (1, "c1", None, false),
                (2, "s1", None, true),
                (3, "b1", None, false),
                (6, "ax", None, false),
                (7, "b2", None, false),
                (9, "a4", None, false),
            ]
        );
        // Reading from the start still gets everything: the snapshot stands for what went.
        let fresh = log.newcomer("fresh");
        assert_eq!(
            log.pull(&fresh, 0, 1 << 20).0,
            [
                (1, "c1"),
                (2, "s1"),
                (3, "b1"),
                (6, "ax"),
                (7, "b2"),
                (9, "a4")
            ]
        );
    }

    #[test]
    fn a_revoked_device_needs_nothing() {
        let log = logged();
        for device in [&log.lead, &log.a, &log.b, &log.n] {
            log.read_all(device);
        }
        // e never synced: it may start anywhere, so it needs a2 and a3.
        let done = log.compact(&[s1_item(&log)]);
        assert_eq!(done.dropped, 1);
        assert_eq!(log.needs(), needs(&[(4, "e"), (5, "e")]));
        assert_eq!(log.prune().dropped, 0);
        log.store
            .revoke_device(&log.e.device_id, 63)
            .expect("revokes");
        assert!(log.needs().is_empty(), "its needs went with it");
        assert_eq!(log.prune().dropped, 2);
        let (counted, real) = log.bytes();
        assert_eq!(counted, real);
    }

    #[test]
    fn doc_changes_serves_every_stored_blob_of_the_document() {
        let log = compacted();
        let head = 9;
        let doc = |doc_id: &str, after| {
            let page = log
                .store
                .doc_changes(&log.a, doc_id, after, 1 << 20)
                .expect("reads");
            (
                log.seqs(&page),
                log.snapshots(&page),
                page.cursor,
                page.more,
            )
        };
        // The snapshot and what it covers, the caller's own blobs included: a device that
        // refused a snapshot gets whatever history is still stored.
        assert_eq!(
            doc("A", 0),
            (
                vec![(2, "s1"), (4, "a2"), (5, "a3"), (6, "ax"), (9, "a4")],
                vec!["s1"],
                head,
                false
            )
        );
        assert_eq!(doc("A", 3).0, [(4, "a2"), (5, "a3"), (6, "ax"), (9, "a4")]);
        assert_eq!(doc("B", 0).0, [(3, "b1"), (7, "b2")]);
        // Once the covered blobs went, the snapshot stands for them.
        for device in [&log.lead, &log.a, &log.b, &log.n, &log.e] {
            log.read_all(device);
        }
        assert_eq!(log.prune().dropped, 2);
        assert_eq!(doc("A", 0).0, [(2, "s1"), (6, "ax"), (9, "a4")]);
    }

    #[test]
    fn syncs_record_where_the_device_starts_next_and_drop_what_it_holds() {
        let log = compacted();
        assert_eq!(log.recorded(&log.e), (0, None), "never synced");
        log.pull(&log.n, 3, 1);
        assert_eq!(
            log.recorded(&log.n),
            (3, Some(4)),
            "a pull: since and the page's cursor"
        );
        assert_eq!(
            log.needs(),
            needs(&[(4, "b"), (4, "n"), (4, "e"), (5, "n"), (5, "e")]),
            "n may not have kept the page with a2"
        );
        log.pull(&log.n, 4, 1);
        assert_eq!(log.recorded(&log.n), (4, Some(5)));
        assert_eq!(
            log.needs(),
            needs(&[(4, "b"), (4, "e"), (5, "n"), (5, "e")]),
            "n holds a2"
        );
        log.pull(&log.n, 0, 1 << 20);
        assert_eq!(log.recorded(&log.n), (0, Some(9)), "a device may go back");
        // A push records the same way, and drops b's need of a2.
        let a5 = change("a5", "A");
        let blob = NewBlob {
            id: a5.id,
            doc_id: a5.doc,
            blob: &a5.bytes,
        };
        let page = log
            .store
            .sync(&log.b, &[], 5, &[blob], 0, 64)
            .expect("pushes");
        assert_eq!((page.inserted, page.cursor), (1, 6));
        assert_eq!(log.recorded(&log.b), (5, Some(6)));
        assert_eq!(log.needs(), needs(&[(4, "e"), (5, "n"), (5, "e")]));
        assert!(matches!(
            log.store.sync(&log.n, &[], 11, &[], 10, 1),
            Err(StoreError::CursorAhead { .. })
        ));
        assert_eq!(
            log.recorded(&log.n),
            (0, Some(9)),
            "a refused sync records nothing"
        );
    }

    #[test]
    fn compaction_is_a_leads_and_only_of_its_own_snapshots() {
        let log = compacted();
        let rows = log.rows();
        let (bytes, _) = log.bytes();
        let s1 = log.named("s1");
        let ax = log.named("ax");
        let b2 = log.named("b2");
        let a2 = log.named("a2");
        // A canvasser's announcement changes nothing.
        assert!(matches!(
            log.store.compact(&log.a, &[compact_item(ax, &[a2], &[])], 20),
            Err(StoreError::NotLead(id)) if id == log.a.device_id
        ));
        // Another device's blob, a snapshot under another document, an id of nothing, a bad
        // id: unknown. The snapshot again (placed already) and a snapshot covering nothing
        // before it: nothing to do.
        let mut other_doc = compact_item(s1, &[a2], &[]);
        other_doc.doc_id = "B".to_owned();
        let mut bad_id = compact_item(s1, &[a2], &[]);
        bad_id.snapshot = "S1".repeat(32);
        let nothing = change("nothing", "A");
        let lonely = change("lonely", "D");
        push(&log.store, &log.lead, &lonely);
        let rows_after_push = {
            let mut r = rows.clone();
            r.push((10, "?", None, false));
            r
        };
        let done = log.compact(&[
            compact_item(ax, &[a2], &[]),
            compact_item(b2, &[log.named("b1")], &[]),
            other_doc,
            compact_item(&nothing, &[a2], &[]),
            bad_id,
            compact_item(s1, &[log.named("c1"), a2, log.named("a1")], &[]),
            compact_item(&lonely, &[a2, s1], &[tag(&lonely.id)]),
        ]);
        assert_eq!(
            done,
            CompactResponse {
                unknown: 5,
                ..CompactResponse::default()
            }
        );
        assert_eq!(log.rows(), rows_after_push, "nothing moved or was marked");
        assert_eq!(
            log.bytes().0,
            bytes + (lonely.bytes.len() + 1) as i64 + BLOB_ROW_BYTES
        );
        // A revoked lead is refused as revoked.
        log.store
            .promote_device(&log.b.device_id)
            .expect("b becomes a lead");
        log.store
            .revoke_team_device(&log.b, &log.lead.device_id, 30)
            .expect("b revokes the lead");
        assert!(matches!(
            log.store.compact(&log.lead, &[], 31),
            Err(StoreError::DeviceRevoked(_))
        ));
    }

    /// A snapshot that stands for nothing stored any more (every blob it names was covered by
    /// another lead's snapshot and dropped: a lead promoted after the first had compacted the
    /// team's records makes one for each) goes, rather than be served to every device that
    /// syncs after, which would open it and set it aside.
    #[test]
    fn a_snapshot_of_blobs_already_dropped_is_deleted() {
        let log = compacted();
        for device in [&log.a, &log.b, &log.n, &log.e] {
            log.read_all(device);
        }
        log.prune();
        let names = |log: &Compacted| log.rows().iter().map(|r| r.1).collect::<Vec<_>>();
        assert!(!names(&log).contains(&"a2") && !names(&log).contains(&"a3"));
        let late = change("s3", "A");
        push(&log.store, &log.lead, &late);
        let mut changes = log.changes.clone();
        changes.push(late.clone());
        let log = Compacted { changes, ..log };
        assert!(names(&log).contains(&"s3"));
        let (before, counted) = log.bytes();
        assert_eq!(before, counted);
        let gone: Vec<&Change> = log
            .changes
            .iter()
            .filter(|c| c.name == "a2" || c.name == "a3")
            .collect();
        let done = log.compact(&[compact_item(&late, &gone, &[])]);
        assert_eq!(
            done,
            CompactResponse {
                placed: 0,
                covered: 0,
                dropped: 1,
                unknown: 0
            }
        );
        assert!(!names(&log).contains(&"s3"), "{:?}", log.rows());
        let (after, counted) = log.bytes();
        assert_eq!(after, counted, "the team's count follows");
        assert!(after < before);
        // A new device gets the first snapshot and what it does not stand for, once.
        let fresh = log.newcomer("fresh");
        let (page, _, more) = log.pull(&fresh, 0, 1 << 20);
        assert!(!more);
        assert!(page.iter().all(|&(_, name)| name != "s3"), "{page:?}");
        // Announced again: nothing more to do, and nothing else goes.
        let rows = log.rows();
        assert_eq!(log.compact(&[compact_item(&late, &gone, &[])]).unknown, 1);
        assert_eq!(log.rows(), rows);
    }

    #[test]
    fn compacting_again_covers_the_previous_snapshot() {
        let log = compacted();
        // n reads to 5 (s1, and a2 and a3 too: its start was unknown), then one more: it starts
        // at 5 or 6.
        assert_eq!(
            log.pull(&log.n, 0, 40),
            (
                vec![(1, "c1"), (2, "s1"), (3, "b1"), (4, "a2"), (5, "a3")],
                5,
                true
            )
        );
        assert_eq!(log.pull(&log.n, 5, 0), (vec![(6, "ax")], 6, true));
        let a5 = change("a5", "A");
        let s2 = change("s2", "A");
        push(&log.store, &log.a, &a5);
        push(&log.store, &log.lead, &s2);
        let mut changes = log.changes.clone();
        changes.extend([a5.clone(), s2.clone()]);
        let log = Compacted { changes, ..log };
        log.read_all(&log.b);
        log.read_all(&log.e);
        // s2 stands for every change of A (a1 is gone: its tag matches nothing). A blob pushed
        // after s2 would not be covered: see the fixture's a4 and s1.
        let doc_a: Vec<&Change> = log
            .changes
            .iter()
            .filter(|c| c.doc == "A" && c.name != "s2")
            .collect();
        let done = log.compact(&[compact_item(&s2, &doc_a, &[])]);
        assert_eq!(
            done,
            CompactResponse {
                placed: 1,
                covered: 4,
                dropped: 3,
                unknown: 0
            },
            "s1, ax, a4 and a5 newly covered (a2 and a3 were); s1 goes (s2 takes its place), \
             and a2 and a3 (no one needs them now)"
        );
        assert_eq!(
            log.rows(),
            vec![
                (1, "c1", None, false),
                (2, "s2", None, true),
                (3, "b1", None, false),
                (6, "ax", Some(2), false),
                (7, "b2", None, false),
                (9, "a4", Some(2), false),
                (10, "a5", Some(2), false),
            ]
        );
        assert_eq!(log.needs(), needs(&[(6, "n"), (9, "n"), (10, "n")]));
        // A new device: every change once, or in the snapshot it got.
        let fresh = log.newcomer("fresh");
        let (page, _, more) = log.pull(&fresh, 0, 1 << 20);
        assert!(!more);
        assert_eq!(page, [(1, "c1"), (2, "s2"), (3, "b1"), (7, "b2")]);
        let mut held: HashSet<&str> = page.iter().map(|&(_, name)| name).collect();
        held.extend(doc_a.iter().map(|c| c.name));
        let everything: HashSet<&str> = log.changes.iter().map(|c| c.name).collect();
        assert_eq!(held, everything);
        // n, past s2's position, gets what it lacks and not s2.
        assert_eq!(
            log.pull(&log.n, 5, 1 << 20).0,
            [(6, "ax"), (7, "b2"), (9, "a4"), (10, "a5")]
        );
        assert_eq!(
            log.pull(&log.n, 6, 1 << 20).0,
            [(7, "b2"), (9, "a4"), (10, "a5")]
        );
        // The placed snapshot never moves again; s1 is gone. n holds ax now: it goes.
        let again = log.compact(&[
            compact_item(&s2, &[log.named("c1")], &[]),
            compact_item(log.named("s1"), &[log.named("a2")], &[]),
        ]);
        assert_eq!(
            again,
            CompactResponse {
                dropped: 1,
                unknown: 1,
                ..CompactResponse::default()
            }
        );
        assert_eq!(log.needs(), needs(&[(9, "n"), (10, "n")]));
        let (counted, real) = log.bytes();
        assert_eq!(counted, real);
    }

    #[test]
    fn an_already_covered_blob_keeps_its_needs_and_a_placed_snapshot_stays() {
        let mut log = devices_only();
        log.changes = ["d0", "d1", "d2", "sd1", "d3", "sd2", "d4", "sd3"]
            .map(|name| change(name, "D"))
            .to_vec();
        let pushed = |log: &Compacted, name: &str| {
            let by = if name.starts_with('s') {
                &log.lead
            } else {
                &log.a
            };
            push(&log.store, by, log.named(name));
        };
        for name in ["d0", "d1", "d2", "sd1"] {
            pushed(&log, name);
        }
        // n read d0 and d1 (it starts at 0 or 2), e read d0 (at 0 or 1), b everything.
        assert_eq!(
            log.pull(&log.n, 0, 16),
            (vec![(1, "d0"), (2, "d1")], 2, true)
        );
        assert_eq!(log.pull(&log.e, 0, 0), (vec![(1, "d0")], 1, true));
        log.read_all(&log.b);
        // sd1 stands for d1 and d2: at 2, d1 gone, d2 needed by n (e gets sd1).
        let first = compact_item(log.named("sd1"), &[log.named("d1"), log.named("d2")], &[]);
        let done = log.compact(&[first]);
        assert_eq!((done.placed, done.covered, done.dropped), (1, 2, 1));
        assert_eq!(log.needs(), needs(&[(3, "n")]));

        // sd2 stands for d0, d2 (covered already) and d3: at 1, d0 gone. d2 keeps its needs
        // and gets no new one (e, which could start at 1, gets sd1 at 2); d3 is needed by n
        // and e, which may start past 1.
        for name in ["d3", "sd2"] {
            pushed(&log, name);
        }
        log.read_all(&log.b);
        let second = compact_item(
            log.named("sd2"),
            &[log.named("d0"), log.named("d2"), log.named("d3")],
            &[],
        );
        let done = log.compact(&[second]);
        assert_eq!(
            done,
            CompactResponse {
                placed: 1,
                covered: 2,
                dropped: 1,
                unknown: 0
            },
            "d0 and d3 newly covered, d0 deleted"
        );
        let rows = vec![
            (1, "sd2", None, true),
            (2, "sd1", None, true),
            (3, "d2", Some(2), false),
            (5, "d3", Some(1), false),
        ];
        assert_eq!(log.rows(), rows);
        assert_eq!(log.needs(), needs(&[(3, "n"), (5, "n"), (5, "e")]));
        // Named again, with a blob before it, a placed snapshot does not move.
        let again = compact_item(log.named("sd1"), &[log.named("d0")], &[]);
        assert_eq!(log.compact(&[again]), CompactResponse::default());
        assert_eq!(log.rows(), rows);
        let fresh = log.newcomer("fresh");
        assert_eq!(log.pull(&fresh, 0, 1 << 20).0, [(1, "sd2"), (2, "sd1")]);
        assert_eq!(log.pull(&log.e, 1, 1 << 20).0, [(2, "sd1"), (5, "d3")]);
        assert_eq!(
            log.pull(&log.e, 0, 1 << 20).0,
            [(1, "sd2"), (2, "sd1"), (5, "d3")]
        );

        // sd3 stands for d2 (still needed by n) and d4: at 3, d2 gone with n's need. n, which
        // starts at 2, gets sd3 instead; e and the new device read up to 6 (they may start
        // there, past 3): they need d4.
        for name in ["d4", "sd3"] {
            pushed(&log, name);
        }
        log.read_all(&log.b);
        let third = compact_item(log.named("sd3"), &[log.named("d2"), log.named("d4")], &[]);
        let done = log.compact(&[third]);
        assert_eq!((done.placed, done.covered, done.dropped), (1, 1, 1));
        assert_eq!(
            log.rows(),
            vec![
                (1, "sd2", None, true),
                (2, "sd1", None, true),
                (3, "sd3", None, true),
                (5, "d3", Some(1), false),
                (7, "d4", Some(3), false),
            ]
        );
        assert_eq!(
            log.needs(),
            needs(&[(5, "n"), (5, "e"), (7, "e"), (7, "fresh")])
        );
        assert_eq!(log.pull(&log.n, 2, 1 << 20).0, [(3, "sd3"), (5, "d3")]);
        assert_eq!(log.pull(&log.e, 6, 1 << 20).0, [(7, "d4")]);
        let (counted, real) = log.bytes();
        assert_eq!(counted, real);
    }

    #[test]
    fn erasing_a_compacted_document_deletes_its_snapshot_and_needs() {
        let log = compacted();
        log.store.erase(&log.lead, "A", None, 65).expect("erases");
        assert_eq!(
            log.rows(),
            vec![
                (1, "c1", None, false),
                (3, "b1", None, false),
                (7, "b2", None, false),
            ]
        );
        assert!(log.needs().is_empty());
        let (counted, real) = log.bytes();
        assert_eq!(counted, real);
        assert_eq!(
            log.compact(&[s1_item(&log)]),
            CompactResponse {
                unknown: 1,
                ..CompactResponse::default()
            },
            "the snapshot is gone with its document"
        );
    }

    #[test]
    fn a_restarted_relay_keeps_covered_blobs_for_devices_it_lost_track_of() {
        let log = logged();
        for device in [&log.lead, &log.b, &log.n, &log.e] {
            log.read_all(device);
        }
        // a reads b1 (at 3: past a1, before a3) and keeps it: it starts at 3. A power cut
        // then rolls back that record (written without a flush): the relay's file says a
        // starts at 0 or 1, where it would get s1 and need nothing.
        assert_eq!(log.pull(&log.a, 1, 8), (vec![(3, "b1")], 3, true));
        lock(&log.store.writers)
            .durable
            .execute(
                "UPDATE devices SET cursor = 0, reach = 1 WHERE id = ?1",
                [&log.a.device_id],
            )
            .expect("by hand");
        // The relay starts again: it no longer trusts where a device reaches.
        let store = SqliteStore::open(log._dir.path()).expect("reopens");
        let log = Compacted { store, ..log };
        assert_eq!(log.recorded(&log.a), (0, None));
        let done = log.compact(&[s1_item(&log)]);
        assert_eq!(
            (done.placed, done.covered, done.dropped),
            (1, 3, 2),
            "a1 and a2 go (a2 is a's own), a3 stays"
        );
        assert_eq!(log.needs(), needs(&[(5, "a")]));
        assert_eq!(log.pull(&log.a, 3, 1 << 20).0, [(5, "a3")]);
        assert_eq!(log.pull(&log.a, 9, 1 << 20), (vec![], 9, false));
        assert_eq!(log.prune().dropped, 1);
    }

    #[test]
    fn a_pull_that_overlaps_a_placement_reads_again() {
        let log = logged();
        for device in [&log.lead, &log.a, &log.b, &log.e] {
            log.read_all(device);
        }
        // n read one change: it starts at 0 or 1 and gets s1, so the placement leaves it no
        // need of a2 or a3.
        assert_eq!(log.pull(&log.n, 0, 0), (vec![(1, "c1")], 1, true));
        let item = s1_item(&log);
        let lead = log.lead.clone();
        let done = Arc::new(Mutex::new(None));
        let record = Arc::clone(&done);
        *lock(&log.store.after_pull_read) = Some(Box::new(move |store: &SqliteStore| {
            *lock(&record) = Some(store.compact(&lead, &[item], 21).expect("compacts"));
        }));
        // n's pull read [a1, b1, a2] before the placement: answered, n would go on from 4
        // and never get a3 (nor s1). It reads again.
        let (page, cursor, more) = log.pull(&log.n, 1, 30);
        assert_eq!(
            lock(&done).take().map(|d| (d.placed, d.dropped)),
            Some((1, 3))
        );
        assert_eq!(page, vec![(2, "s1"), (3, "b1"), (6, "ax")]);
        assert_eq!((cursor, more), (6, true));
        assert_eq!(log.recorded(&log.n), (1, Some(6)));
        assert_eq!(log.pull(&log.n, 6, 1 << 20).0, [(7, "b2"), (9, "a4")]);
    }
}
