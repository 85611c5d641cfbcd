//! The PostgreSQL store: `sync-server serve --database-url postgres://…`, for relays that hold
//! many teams, several relay processes on one database.
//!
//! It keeps every promise of [`super::Store`] that the SQLite store keeps; what differs is how.
//!
//! # Ordering: each team's writers are serialised by the team's row
//!
//! SQLite has one writer; PostgreSQL has many, in many processes. Each team's log stays gapless
//! for readers because every transaction that changes a team's log first locks the team's row:
//!
//! | transaction | lock on `teams` row | waits for |
//! |---|---|---|
//! | a push (and its page), an erasure, an enrolment, an invite, a lead's or the operator's device action | `FOR NO KEY UPDATE` | the same team's other writers and compactions |
//! | a pull-only sync (its page and its record) | `FOR KEY SHARE` | the same team's compactions only |
//! | a compaction | `FOR UPDATE` | everything above, of the same team |
//!
//! A push locks its device's row as well, after the team's (see `Tx::syncing_device`): what
//! it reads of the device after waiting is as a revocation that held the team left it.
//!
//! A push reads the head and appends at `head + 1, …` holding its team's lock, so positions are
//! committed in increasing order: a page bounded by the head read at its start holds every
//! blob up to there (`seq <= head` in the page's query: under READ COMMITTED a later statement
//! may see a later push, whose blobs the next page serves). Teams never wait on each other: the
//! locks are rows, one per team (the SQLite store, with one writer, queues every push instead).
//!
//! A placement decides which devices need a covered blob from where their last syncs were
//! (`devices.cursor` and `reach`); because a compaction waits for every sync of its team in
//! flight and they wait for it, no sync reads a page before a placement and records it after.
//! (The SQLite store gets the same by reading such a page again.) Every commit here is durable
//! (`synchronous_commit` as the server sets it, on by default), pull-only records included, so a
//! relay process that starts does not forget the devices' reaches as the SQLite one must.
//!
//! # Connections
//!
//! A small pool ([`PostgresStore::open`]'s `pool_size`) of blocking clients, each with its own
//! cache of prepared statements. A transaction that PostgreSQL breaks off to resolve a deadlock
//! (or a serialization failure) is run again, up to three times; any other failure is
//! [`StoreError::Backend`], and a connection that broke is dropped from the pool. No TLS: reach
//! the database over a Unix socket or a private network (see README).
//!
//! # Round trips
//!
//! A relay on another machine than its database pays a network's round trip for every
//! statement, so their number does not grow with what a sync carries: a push's blobs are
//! appended by one statement (`Tx::append`), and a page is read by queries that each bring
//! many blobs with a running byte count (`Tx::fill`). A push sync is seven round trips: the
//! token, `BEGIN`, the device with its team's lock, the append, the page, the sync's record,
//! `COMMIT` (one more at a device's first sync, to record its actor).
//!
//! # Keyed by team
//!
//! The tables that grow with a team's work (`blobs`, `covered_needs`, `erasures`) have
//! `team_pk` first in every key and index, and every statement on them names the team, so they
//! can be distributed by team (Citus: `create_distributed_table(…, 'team_pk')`) without
//! change (not tried: whether Citus runs a push's append, one statement that writes `blobs` and
//! `teams` through common table expressions, as it is); `teams`, `devices` and `invites` are small, looked up by token or code, and would be
//! reference tables.
//!
//! # Erasure
//!
//! Erasing a document deletes its rows in one transaction, as in SQLite. PostgreSQL has no
//! `secure_delete`: the deleted tuples stay in the table's files until vacuum reclaims their
//! space and new rows overwrite it, and in the write-ahead log until it is recycled. What they
//! hold is ciphertext the relay cannot read (teams are end-to-end encrypted); an operator who
//! needs the bytes gone sooner runs `VACUUM (FULL) blobs` (see README).

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::sync::{Condvar, Mutex, MutexGuard};

use groundwork_protocol::compact::tag;
use groundwork_protocol::id::parse_blob_id;
use groundwork_protocol::team::{INVITE_KEY_PART_SECS, MAX_WAITING_KEY_PARTS};
use groundwork_protocol::{
    CANCELLED_INVITE_GRACE_SECS, CompactItem, CompactResponse, Erasure, ErasureList, Role,
};
use postgres::error::SqlState;
use postgres::types::ToSql;
use postgres::{Client, Config, IsolationLevel, NoTls, Row, Statement, Transaction};

use super::shared::{
    BLOB_ROW_BYTES, Pager, blob_id, check_cursor, erasure, merge_proofs, to_i64, to_u64,
};
use super::{
    DeviceAuth, DeviceInfo, Enrolled, InviteCancel, InviteInfo, InviteMade, InvitesOf, NewBlob,
    NewDevice, NewInvite, StoreError, StoredBlob, SyncPage, invite_id_of_stored,
};
use crate::secrets::SecretHash;

/// Connections kept open by default.
pub const DEFAULT_POOL_SIZE: usize = 8;
/// How many times a transaction PostgreSQL broke off (deadlock, serialization) is run again.
const RETRIES: usize = 3;
/// Blobs a page's first query asks for; each further query of the same page asks for twice as
/// many as the one before, up to [`MAX_PAGE_ROWS`].
const FIRST_PAGE_ROWS: i64 = 256;
/// Most blobs one query of a page asks for.
const MAX_PAGE_ROWS: i64 = 16_384;
/// The advisory lock that serialises relays migrating the same database at once.
const MIGRATION_LOCK: i64 = 0x4752_4f55_4e44; // "GROUND"

/// The query of one part of a page ([`Tx::fill`]): the blobs `$filter` selects (`b`, joined
/// with their pusher `d`), in log order, at most `$limit` of them, each with its length and
/// the page's bytes up to it; those that start past `$budget` bytes left out, but for the
/// first two. Bytes are counted as [`Pager`] counts them (a document id's UTF-8 bytes, whatever
/// the database's encoding): counted larger here, a blob the page has room for would be left
/// out and the page end early as if the log did.
macro_rules! page_query {
    ($filter:literal, limit $limit:literal, budget $budget:literal) => {
        concat!(
            "SELECT seq, doc_id, len, blob, actor, name, id, placed FROM (
                 SELECT b.seq, b.doc_id, octet_length(b.blob)::BIGINT AS len, b.blob,
                        d.actor, d.name, b.id, b.placed, row_number() OVER w AS n,
                        sum(octet_length(b.blob) + octet_length(convert_to(b.doc_id, 'UTF8')))
                            OVER w AS upto
                 FROM blobs b JOIN devices d ON d.pk = b.device_pk
                 WHERE ",
            $filter,
            "
                 WINDOW w AS (ORDER BY b.seq ROWS UNBOUNDED PRECEDING)
                 ORDER BY b.seq LIMIT ",
            $limit,
            ") page
             WHERE n <= 2 OR upto - len - octet_length(convert_to(doc_id, 'UTF8')) <= ",
            $budget,
            "
             ORDER BY seq"
        )
    };
}

/// The schema, one migration per entry; `relay_schema.version` counts those applied.
const MIGRATIONS: &[&str] = &[
    r"
CREATE TABLE teams (
    pk           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    name         TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    head_seq     BIGINT NOT NULL DEFAULT 0,
    stored_bytes BIGINT NOT NULL DEFAULT 0,
    erasure_seq  BIGINT NOT NULL DEFAULT 0,
    sealed       BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE TABLE devices (
    pk            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
    team_pk       BIGINT NOT NULL REFERENCES teams(pk),
    name          TEXT NOT NULL,
    token_hash    BYTEA NOT NULL UNIQUE,
    enrolled_at   BIGINT NOT NULL,
    last_sync_at  BIGINT,
    revoked_at    BIGINT,
    actor         BYTEA,
    role          TEXT NOT NULL DEFAULT 'canvasser' CHECK (role IN ('lead', 'canvasser')),
    erasures_seen BIGINT NOT NULL DEFAULT 0,
    cursor        BIGINT NOT NULL DEFAULT 0,
    reach         BIGINT
);
CREATE INDEX devices_by_team ON devices(team_pk);
-- No two active devices of a team write as the same Automerge actor.
CREATE UNIQUE INDEX devices_by_actor ON devices(team_pk, actor)
    WHERE actor IS NOT NULL AND revoked_at IS NULL;
CREATE TABLE invites (
    hash        BYTEA PRIMARY KEY,
    team_pk     BIGINT NOT NULL REFERENCES teams(pk),
    uses_left   BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    role        TEXT NOT NULL DEFAULT 'canvasser' CHECK (role IN ('lead', 'canvasser')),
    created_by  BIGINT REFERENCES devices(pk),
    sealed_keys TEXT
);
CREATE INDEX invites_by_team ON invites(team_pk);
CREATE INDEX invites_by_creator ON invites(created_by) WHERE created_by IS NOT NULL;
CREATE TABLE blobs (
    team_pk      BIGINT NOT NULL REFERENCES teams(pk),
    seq          BIGINT NOT NULL,
    id           BYTEA NOT NULL,
    doc_id       TEXT NOT NULL,
    device_pk    BIGINT NOT NULL REFERENCES devices(pk),
    created_at   BIGINT NOT NULL,
    blob         BYTEA NOT NULL,
    covered_from BIGINT,
    placed       BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (team_pk, seq),
    UNIQUE (team_pk, id)
);
-- Ciphertext does not compress: store it out of line without trying.
ALTER TABLE blobs ALTER COLUMN blob SET STORAGE EXTERNAL;
CREATE INDEX blobs_by_doc ON blobs(team_pk, doc_id, seq);
CREATE INDEX blobs_covered ON blobs(team_pk, seq) WHERE covered_from IS NOT NULL;
CREATE TABLE erasures (
    team_pk   BIGINT NOT NULL REFERENCES teams(pk),
    seq       BIGINT NOT NULL,
    doc_id    TEXT NOT NULL,
    erased_at BIGINT NOT NULL,
    erased_by BIGINT NOT NULL REFERENCES devices(pk),
    PRIMARY KEY (team_pk, seq),
    UNIQUE (team_pk, doc_id)
);
CREATE TABLE covered_needs (
    team_pk   BIGINT NOT NULL REFERENCES teams(pk),
    seq       BIGINT NOT NULL,
    device_pk BIGINT NOT NULL REFERENCES devices(pk),
    PRIMARY KEY (team_pk, seq, device_pk)
);
CREATE INDEX covered_needs_by_device ON covered_needs(team_pk, device_pk, seq);
",
    r"
-- The lead's signed erasure order (opaque text its device made), handed to every device with
-- the order.
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
ALTER TABLE devices ADD COLUMN enrol_invite BYTEA;
ALTER TABLE devices ADD COLUMN enrol_sealed BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX devices_enrolling ON devices(enrol_invite) WHERE enrol_invite IS NOT NULL;
",
    r"
-- Bytes each device's blobs take of its team's count (the same measure as teams.stored_bytes):
-- a canvasser's device may fill at most its share of the team's quota.
ALTER TABLE devices ADD COLUMN stored_bytes BIGINT NOT NULL DEFAULT 0;
UPDATE devices SET stored_bytes = counted.bytes
FROM (SELECT device_pk, SUM(octet_length(blob) + octet_length(doc_id) + 128) AS bytes
      FROM blobs GROUP BY device_pk) AS counted
WHERE devices.pk = counted.device_pk;
",
    r"
-- Parts of an invite's sealed keys too long for one request, each left by a lead's device
-- before the invite that names them: joined into that invite's sealed_keys then (and deleted
-- here), or forgotten an hour after they came, or when their device is revoked.
CREATE TABLE invite_key_parts (
    team_pk    BIGINT NOT NULL REFERENCES teams(pk),
    id         TEXT NOT NULL,
    created_by BIGINT NOT NULL REFERENCES devices(pk),
    created_at BIGINT NOT NULL,
    keys       TEXT NOT NULL,
    PRIMARY KEY (team_pk, id)
);
CREATE INDEX invite_key_parts_by_creator ON invite_key_parts(created_by);
",
];

/// A PostgreSQL failure with its whole message (the client's own `Display` says only "db
/// error"; the server's message, detail and code are in its source) and its SQLSTATE code.
#[derive(Debug)]
struct PgError {
    message: String,
    code: Option<SqlState>,
}

impl std::fmt::Display for PgError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for PgError {}

/// The client's message followed by its sources'.
fn pg_message(e: &postgres::Error) -> String {
    let mut message = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    message
}

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        StoreError::Backend(Box::new(PgError {
            message: pg_message(&e),
            code: e.code().cloned(),
        }))
    }
}

/// A role as stored.
fn role_of(text: &str) -> Result<Role, StoreError> {
    Role::parse(text).ok_or_else(|| StoreError::Backend(format!("unknown role {text:?}").into()))
}

fn device_row(r: &Row) -> Result<DeviceInfo, StoreError> {
    Ok(DeviceInfo {
        device_id: r.try_get(0)?,
        name: r.try_get(1)?,
        enrolled_at: r.try_get(2)?,
        last_sync_at: r.try_get(3)?,
        revoked_at: r.try_get(4)?,
        actor: r.try_get(5)?,
        role: role_of(r.try_get(6)?)?,
        stored_bytes: to_u64(r.try_get(7)?),
    })
}

/// Whether PostgreSQL broke the transaction off and running it again may succeed.
fn retryable(e: &StoreError) -> bool {
    let StoreError::Backend(source) = e else {
        return false;
    };
    source
        .downcast_ref::<PgError>()
        .and_then(|e| e.code.as_ref())
        .is_some_and(|c| {
            *c == SqlState::T_R_DEADLOCK_DETECTED || *c == SqlState::T_R_SERIALIZATION_FAILURE
        })
}

/// A unique-index violation on the devices' actors is [`StoreError::ActorTaken`].
fn actor_error(e: postgres::Error, actor: &[u8]) -> StoreError {
    match e.as_db_error() {
        Some(db) if db.constraint() == Some("devices_by_actor") => {
            StoreError::ActorTaken(actor.iter().map(|b| format!("{b:02x}")).collect())
        }
        _ => e.into(),
    }
}

/// One pooled connection and the statements prepared on it.
struct Conn {
    client: Client,
    statements: HashMap<&'static str, Statement>,
}

/// How a transaction locks its team's row (see the module documentation; a pull-only sync
/// locks it `FOR KEY SHARE` in [`Tx::syncing_device`]).
#[derive(Clone, Copy)]
enum TeamLock {
    /// Anything that writes the team's log or devices: waits for the team's other writers.
    Write,
    /// A compaction: waits for everything of the team.
    Exclusive,
}

/// What [`Tx::append`] did.
struct Appended {
    /// Blobs appended.
    inserted: usize,
    /// The team's head after them.
    head: i64,
    /// The team's stored bytes after them (`None`: nothing appended).
    stored_bytes: Option<u64>,
    /// The pushing device's stored bytes after them (`None`: nothing appended).
    device_bytes: Option<u64>,
    /// The pushed documents that were erased, in the order pushed (nothing appended then).
    erased: Vec<String>,
}

/// A transaction with the connection's statement cache.
struct Tx<'a> {
    tx: Transaction<'a>,
    statements: &'a mut HashMap<&'static str, Statement>,
}

type Params<'p> = &'p [&'p (dyn ToSql + Sync)];

/// `sql` prepared once per connection: from `statements`, or by `prepare` and kept there.
fn cached(
    statements: &mut HashMap<&'static str, Statement>,
    sql: &'static str,
    prepare: impl FnOnce(&str) -> Result<Statement, postgres::Error>,
) -> Result<Statement, StoreError> {
    if let Some(s) = statements.get(sql) {
        return Ok(s.clone());
    }
    let s = prepare(sql)?;
    statements.insert(sql, s.clone());
    Ok(s)
}

impl Tx<'_> {
    fn statement(&mut self, sql: &'static str) -> Result<Statement, StoreError> {
        cached(self.statements, sql, |sql| self.tx.prepare(sql))
    }

    fn query(&mut self, sql: &'static str, params: Params<'_>) -> Result<Vec<Row>, StoreError> {
        let s = self.statement(sql)?;
        Ok(self.tx.query(&s, params)?)
    }

    fn opt(&mut self, sql: &'static str, params: Params<'_>) -> Result<Option<Row>, StoreError> {
        let s = self.statement(sql)?;
        Ok(self.tx.query_opt(&s, params)?)
    }

    fn one(&mut self, sql: &'static str, params: Params<'_>) -> Result<Row, StoreError> {
        let s = self.statement(sql)?;
        Ok(self.tx.query_one(&s, params)?)
    }

    fn exec(&mut self, sql: &'static str, params: Params<'_>) -> Result<u64, StoreError> {
        let s = self.statement(sql)?;
        Ok(self.tx.execute(&s, params)?)
    }

    /// Locks the team's row; returns its `(head_seq, erasure_seq)`.
    fn lock_team(&mut self, team_pk: i64, lock: TeamLock) -> Result<(i64, i64), StoreError> {
        let sql = match lock {
            TeamLock::Write => {
                "SELECT head_seq, erasure_seq FROM teams WHERE pk = $1 FOR NO KEY UPDATE"
            }
            TeamLock::Exclusive => {
                "SELECT head_seq, erasure_seq FROM teams WHERE pk = $1 FOR UPDATE"
            }
        };
        let row = self.one(sql, &[&team_pk])?;
        Ok((row.try_get(0)?, row.try_get(1)?))
    }

    /// Fills a page after `after` with the rows `(seq, doc_id, length, blob, actor, name, id,
    /// placed)` that `fetch(tx, after, budget, rows)` gives: in log order from the first blob
    /// after `after`, at most `rows` of them, each one whose page so far (the blobs before it in
    /// the answer) is within `budget` bytes, and the first two whatever their size. So one round
    /// trip brings what fits and the blob that ends the page ([`Pager`] decides, as for SQLite);
    /// another is needed only when `rows` blobs all fit.
    fn fill(
        &mut self,
        mut pager: Pager,
        after: u64,
        mut fetch: impl FnMut(&mut Self, i64, i64, i64) -> Result<Vec<Row>, StoreError>,
    ) -> Result<SyncPage, StoreError> {
        let mut after = to_i64(after);
        let mut rows_wanted = FIRST_PAGE_ROWS;
        loop {
            let rows = fetch(self, after, to_i64(pager.remaining()), rows_wanted)?;
            // Without a cut every blob the query looked at is in the answer: fewer than asked
            // for means the log (up to the head) ends here.
            let ended = i64::try_from(rows.len()).unwrap_or(i64::MAX) < rows_wanted;
            for row in rows {
                let doc_id: String = row.try_get(1)?;
                if !pager.room_for(row.try_get(2)?, &doc_id) {
                    return Ok(pager.finish());
                }
                let actor: Option<Vec<u8>> = row.try_get(4)?;
                after = row.try_get(0)?;
                pager.push(StoredBlob {
                    seq: to_u64(after),
                    id: blob_id(row.try_get(6)?)?,
                    doc_id,
                    blob: row.try_get(3)?,
                    pusher_actor: actor.unwrap_or_default(),
                    pusher_name: row.try_get(5)?,
                    snapshot: row.try_get(7)?,
                });
            }
            if ended {
                return Ok(pager.finish());
            }
            rows_wanted = (rows_wanted * 2).min(MAX_PAGE_ROWS);
        }
    }

    fn team_pk(&mut self, team_id: &str) -> Result<i64, StoreError> {
        self.opt("SELECT pk FROM teams WHERE id = $1", &[&team_id])?
            .map(|r| r.try_get(0))
            .transpose()?
            .ok_or_else(|| StoreError::UnknownTeam(team_id.to_owned()))
    }

    /// `(device_pk, team_pk, revoked)` of a device.
    fn device_keys(&mut self, device_id: &str) -> Result<(i64, i64, bool), StoreError> {
        let row = self
            .opt(
                "SELECT pk, team_pk, revoked_at IS NOT NULL FROM devices WHERE id = $1",
                &[&device_id],
            )?
            .ok_or_else(|| StoreError::UnknownDevice(device_id.to_owned()))?;
        Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?))
    }

    /// The keys of a device that may still act: a revoked one is [`StoreError::DeviceRevoked`].
    fn active_device(&mut self, device_id: &str) -> Result<(i64, i64), StoreError> {
        match self.device_keys(device_id)? {
            (_, _, true) => Err(StoreError::DeviceRevoked(device_id.to_owned())),
            (device_pk, team_pk, false) => Ok((device_pk, team_pk)),
        }
    }

    /// Locks the team of `lead` (for writing) and checks that it is an active lead; returns
    /// `(lead_pk, team_pk)`.
    fn acting_lead(&mut self, lead: &DeviceAuth, lock: TeamLock) -> Result<(i64, i64), StoreError> {
        let (_, team_pk, _) = self.device_keys(&lead.device_id)?;
        self.lock_team(team_pk, lock)?;
        // Read again under the team's lock: a revocation or a demotion may just have committed.
        self.active_lead(lead)
    }

    /// `(lead_pk, team_pk)` of `lead`, which must be an active lead (no lock taken).
    fn active_lead(&mut self, lead: &DeviceAuth) -> Result<(i64, i64), StoreError> {
        let row = self.one(
            "SELECT pk, team_pk, revoked_at IS NOT NULL, role FROM devices WHERE id = $1",
            &[&lead.device_id],
        )?;
        if row.try_get::<_, bool>(2)? {
            return Err(StoreError::DeviceRevoked(lead.device_id.clone()));
        }
        if role_of(row.try_get(3)?)? != Role::Lead {
            return Err(StoreError::NotLead(lead.device_id.clone()));
        }
        Ok((row.try_get(0)?, row.try_get(1)?))
    }

    /// `(device_pk, revoked, role)` of the device `device_id` of the team `team_pk`; a device of
    /// another team is as unknown as one that does not exist.
    fn team_device(
        &mut self,
        team_pk: i64,
        device_id: &str,
    ) -> Result<(i64, bool, Role), StoreError> {
        let row = self
            .opt(
                "SELECT pk, revoked_at IS NOT NULL, role FROM devices
                 WHERE id = $1 AND team_pk = $2",
                &[&device_id, &team_pk],
            )?
            .ok_or_else(|| StoreError::NotInTeam(device_id.to_owned()))?;
        Ok((row.try_get(0)?, row.try_get(1)?, role_of(row.try_get(2)?)?))
    }

    fn device_info(&mut self, device_pk: i64) -> Result<DeviceInfo, StoreError> {
        let row = self.one(
            "SELECT id, name, enrolled_at, last_sync_at, revoked_at, actor, role,
                    stored_bytes
             FROM devices WHERE pk = $1",
            &[&device_pk],
        )?;
        device_row(&row)
    }

    /// The erasure orders each active device of the team has carried out, in increasing order.
    fn confirmations(&mut self, team_pk: i64) -> Result<Vec<i64>, StoreError> {
        self.query(
            "SELECT erasures_seen FROM devices WHERE team_pk = $1 AND revoked_at IS NULL
             ORDER BY erasures_seen",
            &[&team_pk],
        )?
        .iter()
        .map(|r| Ok(r.try_get(0)?))
        .collect()
    }

    /// The erased documents among `doc_ids` in the team, each once, in the order given: one
    /// round trip however many there are.
    fn erased_in<'a>(
        &mut self,
        team_pk: i64,
        doc_ids: impl IntoIterator<Item = &'a str>,
    ) -> Result<Vec<String>, StoreError> {
        let mut given = Vec::new();
        let mut seen = HashSet::new();
        for doc_id in doc_ids {
            if seen.insert(doc_id) {
                given.push(doc_id);
            }
        }
        if given.is_empty() {
            return Ok(Vec::new());
        }
        let erased: HashSet<String> = self
            .query(
                "SELECT doc_id FROM erasures WHERE team_pk = $1 AND doc_id = ANY($2)",
                &[&team_pk, &given],
            )?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
        Ok(given
            .into_iter()
            .filter(|d| erased.contains(*d))
            .map(str::to_owned)
            .collect())
    }

    /// Stores an invite to the team `team_pk` (whose row the caller locked), made by
    /// `created_by` (`None`: the operator); returns whether the team is sealed. Refused when
    /// the team's unused invites would then hold more than `keys_limit` bytes of sealed keys
    /// ([`super::invite_keys_limit`]; the caller forgot expired invites' keys first), or when
    /// the team already has `rows_limit` invites ([`super::team_rows_limit`]; invites long
    /// expired are forgotten first).
    fn insert_invite(
        &mut self,
        team_pk: i64,
        invite: &NewInvite,
        created_by: Option<i64>,
        now: i64,
        (keys_limit, rows_limit): (Option<u64>, Option<u64>),
    ) -> Result<bool, StoreError> {
        if let Some(limit) = rows_limit {
            self.exec(
                "DELETE FROM invites
                 WHERE team_pk = $1 AND expires_at <= $2
                   AND NOT EXISTS (SELECT 1 FROM devices WHERE enrol_invite = invites.hash)",
                &[&team_pk, &now.saturating_sub(super::DEAD_INVITE_KEPT_SECS)],
            )?;
            let held: i64 = self
                .one(
                    "SELECT count(*) FROM invites WHERE team_pk = $1",
                    &[&team_pk],
                )?
                .try_get(0)?;
            if to_u64(held) >= limit {
                return Err(StoreError::TooManyInvites { limit });
            }
        }
        if let (Some(keys), Some(limit)) = (&invite.sealed_keys, keys_limit) {
            let held = self.invite_keys_held(team_pk)?;
            if held.saturating_add(keys.len() as u64) > limit {
                return Err(StoreError::InviteKeysFull { limit });
            }
        }
        self.exec(
            "INSERT INTO invites
                 (hash, team_pk, uses_left, expires_at, created_at, role, created_by, sealed_keys)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[
                &&invite.code_hash[..],
                &team_pk,
                &i64::from(invite.uses),
                &invite.expires_at,
                &now,
                &invite.role.as_str(),
                &created_by,
                &invite.sealed_keys,
            ],
        )?;
        if invite.sealed_keys.is_some() {
            self.exec("UPDATE teams SET sealed = TRUE WHERE pk = $1", &[&team_pk])?;
        }
        Ok(self
            .one("SELECT sealed FROM teams WHERE pk = $1", &[&team_pk])?
            .try_get(0)?)
    }

    /// Forgets the sealed keys of the team's expired invites, and its parts of invites' keys
    /// that waited longer than [`INVITE_KEY_PART_SECS`].
    fn forget_expired_keys(&mut self, team_pk: i64, now: i64) -> Result<(), StoreError> {
        self.exec(
            "UPDATE invites SET sealed_keys = NULL
             WHERE team_pk = $1 AND expires_at <= $2 AND sealed_keys IS NOT NULL",
            &[&team_pk, &now],
        )?;
        self.exec(
            "DELETE FROM invite_key_parts WHERE team_pk = $1 AND created_at <= $2",
            &[&team_pk, &now.saturating_sub(INVITE_KEY_PART_SECS)],
        )?;
        Ok(())
    }

    /// Bytes of sealed keys the team's invites and its waiting parts of invites' keys hold.
    fn invite_keys_held(&mut self, team_pk: i64) -> Result<u64, StoreError> {
        let held: i64 = self
            .one(
                "SELECT ((SELECT COALESCE(SUM(octet_length(sealed_keys)), 0) FROM invites
                          WHERE team_pk = $1 AND sealed_keys IS NOT NULL)
                       + (SELECT COALESCE(SUM(octet_length(keys)), 0) FROM invite_key_parts
                          WHERE team_pk = $1))::BIGINT",
                &[&team_pk],
            )?
            .try_get(0)?;
        Ok(to_u64(held))
    }

    /// `invite` with its keys whole: the parts it names ([`NewInvite::key_parts`], which the
    /// lead `lead_pk` of the team `team_pk` left) joined in order before its own, and deleted;
    /// `invite` itself when it names none.
    fn join_key_parts<'i>(
        &mut self,
        team_pk: i64,
        lead_pk: i64,
        invite: &'i NewInvite,
    ) -> Result<Cow<'i, NewInvite>, StoreError> {
        if invite.key_parts.is_empty() {
            return Ok(Cow::Borrowed(invite));
        }
        let mut joined = String::new();
        for part in &invite.key_parts {
            let row = self
                .opt(
                    "DELETE FROM invite_key_parts
                     WHERE team_pk = $1 AND id = $2 AND created_by = $3
                     RETURNING keys",
                    &[&team_pk, part, &lead_pk],
                )?
                .ok_or_else(|| StoreError::UnknownKeyPart { part: part.clone() })?;
            let keys: &str = row.try_get(0)?;
            joined.push_str(keys);
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

    /// Keeps a part of an invite's keys for the lead `lead_pk` of the team `team_pk` (whose
    /// row the caller locked), within the team's bounds (see
    /// [`super::Store::keep_invite_keys`]; the caller forgot expired keys first).
    fn insert_key_part(
        &mut self,
        (team_pk, lead_pk): (i64, i64),
        part: &str,
        keys: &str,
        now: i64,
        keys_limit: Option<u64>,
    ) -> Result<(), StoreError> {
        let waiting: i64 = self
            .one(
                "SELECT count(*) FROM invite_key_parts WHERE team_pk = $1",
                &[&team_pk],
            )?
            .try_get(0)?;
        if to_u64(waiting) >= MAX_WAITING_KEY_PARTS as u64 {
            return Err(StoreError::TooManyKeyParts {
                limit: MAX_WAITING_KEY_PARTS,
            });
        }
        if let Some(limit) = keys_limit
            && self
                .invite_keys_held(team_pk)?
                .saturating_add(keys.len() as u64)
                > limit
        {
            return Err(StoreError::InviteKeysFull { limit });
        }
        self.exec(
            "INSERT INTO invite_key_parts (team_pk, id, created_by, created_at, keys)
             VALUES ($1, $2, $3, $4, $5)",
            &[&team_pk, &part, &lead_pk, &now, &keys],
        )?;
        Ok(())
    }

    /// Revokes the device (an earlier revocation keeps its time), drops its needs of covered
    /// blobs, and deletes the invites it made that could still enrol a device; returns how many.
    fn revoke(
        &mut self,
        team_pk: i64,
        device_pk: i64,
        device_id: &str,
        now: i64,
    ) -> Result<u64, StoreError> {
        self.exec(
            "UPDATE devices SET revoked_at = COALESCE(revoked_at, $1) WHERE pk = $2",
            &[&now, &device_pk],
        )?;
        // A revoked device cannot ask for its enrolment again.
        self.end_enrolment(device_pk)?;
        self.exec(
            "DELETE FROM covered_needs WHERE team_pk = $1 AND device_pk = $2",
            &[&team_pk, &device_pk],
        )?;
        let cancelled = self.exec(
            "DELETE FROM invites WHERE created_by = $1 AND uses_left > 0",
            &[&device_pk],
        )?;
        // Its used-up invites may still hold keys for a device that may ask for its enrolment
        // again: forgotten too (such a device is now refused, as for an unknown invite).
        self.exec(
            "UPDATE invites SET sealed_keys = NULL WHERE created_by = $1 AND sealed_keys IS NOT NULL",
            &[&device_pk],
        )?;
        // And the parts of invites' keys it left that no invite took yet.
        self.exec(
            "DELETE FROM invite_key_parts WHERE team_pk = $1 AND created_by = $2",
            &[&team_pk, &device_pk],
        )?;
        if cancelled > 0 {
            tracing::info!(
                device_id,
                invites = cancelled,
                "revoking a device cancelled the invites it made"
            );
        }
        Ok(cancelled)
    }

    /// The device `device_pk` can no longer ask for its enrolment again (it used its token, or
    /// was revoked): its invite, once its uses are spent and no other device could ask,
    /// forgets the sealed keys it kept.
    fn end_enrolment(&mut self, device_pk: i64) -> Result<(), StoreError> {
        let invite: Option<Vec<u8>> = self
            .one(
                "SELECT enrol_invite FROM devices WHERE pk = $1",
                &[&device_pk],
            )?
            .try_get(0)?;
        let Some(invite) = invite else {
            return Ok(());
        };
        self.exec(
            "UPDATE devices SET enrol_invite = NULL WHERE pk = $1",
            &[&device_pk],
        )?;
        self.exec(
            "UPDATE invites SET sealed_keys = NULL
             WHERE hash = $1 AND uses_left <= 0 AND sealed_keys IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM devices
                               WHERE enrol_invite = $1 AND revoked_at IS NULL)",
            &[&invite],
        )?;
        Ok(())
    }

    /// The device holding the token `token_hash`, as an enrolment asked again reads it.
    fn token_holder(
        &mut self,
        token_hash: &SecretHash,
    ) -> Result<Option<super::shared::TokenHolder>, StoreError> {
        self.opt(
            "SELECT d.id, t.id, d.role, d.enrol_sealed, d.enrol_invite, d.revoked_at IS NOT NULL
             FROM devices d JOIN teams t ON t.pk = d.team_pk WHERE d.token_hash = $1",
            &[&&token_hash[..]],
        )?
        .map(|r| {
            Ok(super::shared::TokenHolder {
                device_id: r.try_get(0)?,
                team_id: r.try_get(1)?,
                role: role_of(r.try_get(2)?)?,
                sealed: r.try_get(3)?,
                invite_hash: r.try_get(4)?,
                revoked: r.try_get(5)?,
            })
        })
        .transpose()
    }

    /// [`StoreError::ActorTaken`] if a device of the team other than `device_pk` holds or held
    /// `actor`, revoked or not. The unique index `devices_by_actor` covers only active devices;
    /// a revoked device's actor must not pass to another either (every device refuses what is
    /// written as it after its revocation, and the relay vouches for who pushed each change).
    fn check_actor_free(
        &mut self,
        team_pk: i64,
        device_pk: Option<i64>,
        actor: &[u8],
    ) -> Result<(), StoreError> {
        let held: bool = self
            .one(
                "SELECT EXISTS (SELECT 1 FROM devices
                     WHERE team_pk = $1 AND actor = $2 AND pk IS DISTINCT FROM $3)",
                &[&team_pk, &actor, &device_pk],
            )?
            .try_get(0)?;
        if held {
            return Err(StoreError::ActorTaken(
                actor.iter().map(|b| format!("{b:02x}")).collect(),
            ));
        }
        Ok(())
    }

    /// Records the actor `device_pk` (of team `team_pk`) declares, or checks it against
    /// `known`, the one it declared before.
    ///
    /// `known` was read at the start of the sync, and another sync of the same device may
    /// record an actor meanwhile (a pull-only sync does not wait for a push, nor a push for a
    /// pull-only sync): the update is made only while the row holds no other actor, which the
    /// statement checks again once the other sync's lock on the row is released (READ
    /// COMMITTED re-evaluates its `WHERE` on the row's newest version).
    fn claim_actor(
        &mut self,
        (team_pk, device_pk): (i64, i64),
        device_id: &str,
        actor: &[u8],
        known: Option<&[u8]>,
    ) -> Result<(), StoreError> {
        if actor.is_empty() {
            return Ok(());
        }
        match known {
            Some(k) if k == actor => Ok(()),
            Some(_) => Err(StoreError::ActorChanged(device_id.to_owned())),
            None => {
                self.check_actor_free(team_pk, Some(device_pk), actor)?;
                let s = self.statement(
                    "UPDATE devices SET actor = $1
                     WHERE pk = $2 AND (actor IS NULL OR actor = $1)",
                )?;
                let updated = self
                    .tx
                    .execute(&s, &[&actor, &device_pk])
                    .map_err(|e| actor_error(e, actor))?;
                if updated == 0 {
                    // Another sync of this device recorded another actor since `known` was
                    // read: the first one recorded stays.
                    return Err(StoreError::ActorChanged(device_id.to_owned()));
                }
                Ok(())
            }
        }
    }

    /// A syncing device, found in one round trip with its team's row locked (a pull-only sync
    /// `FOR KEY SHARE`, a push `FOR NO KEY UPDATE`): a revoked one is
    /// [`StoreError::DeviceRevoked`].
    ///
    /// A push locks the device's row too, after the team's. A push that waited for the team's
    /// lock may have waited behind a revocation of this very device (a lead's or the
    /// operator's, which holds the team's row and updates the device's): PostgreSQL then reads
    /// again the rows the statement locks, and only those, so the device's `revoked_at` and
    /// `actor` are as the revocation left them, not as they were before the wait. A pull-only
    /// sync does not wait for a revocation (`FOR KEY SHARE` lets it by): it is served as of
    /// before it.
    fn syncing_device(&mut self, device_id: &str, pushing: bool) -> Result<Syncing, StoreError> {
        let sql = if pushing {
            "SELECT d.pk, d.team_pk, d.revoked_at IS NOT NULL, d.actor, t.head_seq, t.erasure_seq
             FROM devices d JOIN teams t ON t.pk = d.team_pk WHERE d.id = $1
             FOR NO KEY UPDATE OF t, d"
        } else {
            "SELECT d.pk, d.team_pk, d.revoked_at IS NOT NULL, d.actor, t.head_seq, t.erasure_seq
             FROM devices d JOIN teams t ON t.pk = d.team_pk WHERE d.id = $1
             FOR KEY SHARE OF t"
        };
        let row = self
            .opt(sql, &[&device_id])?
            .ok_or_else(|| StoreError::UnknownDevice(device_id.to_owned()))?;
        if row.try_get::<_, bool>(2)? {
            return Err(StoreError::DeviceRevoked(device_id.to_owned()));
        }
        Ok(Syncing {
            device_pk: row.try_get(0)?,
            team_pk: row.try_get(1)?,
            actor: row.try_get(3)?,
            heads: (row.try_get(4)?, row.try_get(5)?),
        })
    }

    /// Appends the blobs of `push` not yet in the team's log after `head` (the head read holding
    /// the team's lock), in the order given (a blob given twice once), and moves the team's
    /// head and stored bytes: one statement, one round trip, however many blobs. Appends
    /// nothing when `check_erasures` and a document pushed was erased (listed in the answer).
    fn append(
        &mut self,
        (team_pk, device_pk): (i64, i64),
        head: i64,
        push: &[NewBlob<'_>],
        check_erasures: bool,
        now: i64,
    ) -> Result<Appended, StoreError> {
        let ids: Vec<&[u8]> = push.iter().map(|b| &b.id[..]).collect();
        let docs: Vec<&str> = push.iter().map(|b| b.doc_id).collect();
        let blobs: Vec<&[u8]> = push.iter().map(|b| b.blob).collect();
        // Every statement after the lock sees every push of the team committed before it, and
        // none can commit meanwhile: the blobs already there are known, and positions follow
        // the head without a gap.
        let row = self.one(
            "WITH erased AS (
                 SELECT doc_id FROM erasures WHERE $7 AND team_pk = $1 AND doc_id = ANY($4)),
             given AS (
                 SELECT DISTINCT ON (u.id) u.id, u.doc_id, u.blob, u.ord
                 FROM unnest($3::BYTEA[], $4::TEXT[], $5::BYTEA[])
                     WITH ORDINALITY AS u(id, doc_id, blob, ord)
                 ORDER BY u.id, u.ord),
             fresh AS (
                 SELECT g.id, g.doc_id, g.blob, row_number() OVER (ORDER BY g.ord) AS n
                 FROM given g
                 WHERE NOT EXISTS (SELECT 1 FROM erased)
                     AND NOT EXISTS (SELECT 1 FROM blobs b WHERE b.team_pk = $1 AND b.id = g.id)),
             added AS (
                 INSERT INTO blobs (team_pk, seq, id, doc_id, device_pk, created_at, blob)
                 SELECT $1, $2 + f.n, f.id, f.doc_id, $6, $8, f.blob FROM fresh f
                 ON CONFLICT (team_pk, id) DO NOTHING
                 RETURNING seq, octet_length(blob) + octet_length(doc_id) + $9::BIGINT AS size),
             grown AS (
                 UPDATE teams SET head_seq = (SELECT max(seq) FROM added),
                     stored_bytes = stored_bytes + (SELECT sum(size) FROM added)
                 WHERE pk = $1 AND EXISTS (SELECT 1 FROM added)
                 RETURNING head_seq, stored_bytes),
             owned AS (
                 UPDATE devices SET stored_bytes = stored_bytes + (SELECT sum(size) FROM added)
                 WHERE pk = $6 AND EXISTS (SELECT 1 FROM added)
                 RETURNING stored_bytes)
             SELECT (SELECT count(*) FROM added), (SELECT head_seq FROM grown),
                 (SELECT stored_bytes FROM grown), ARRAY(SELECT doc_id FROM erased),
                 (SELECT stored_bytes FROM owned)",
            &[
                &team_pk,
                &head,
                &ids,
                &docs,
                &blobs,
                &device_pk,
                &check_erasures,
                &now,
                &BLOB_ROW_BYTES,
            ],
        )?;
        let erased: HashSet<String> = row.try_get::<_, Vec<String>>(3)?.into_iter().collect();
        let mut listed = HashSet::new();
        Ok(Appended {
            inserted: usize::try_from(row.try_get::<_, i64>(0)?).unwrap_or(0),
            head: row.try_get::<_, Option<i64>>(1)?.unwrap_or(head),
            stored_bytes: row.try_get::<_, Option<i64>>(2)?.map(to_u64),
            device_bytes: row.try_get::<_, Option<i64>>(4)?.map(to_u64),
            // In the order pushed, each once.
            erased: docs
                .into_iter()
                .filter(|d| erased.contains(*d) && listed.insert(*d))
                .map(str::to_owned)
                .collect(),
        })
    }

    /// The page of other devices' blobs after `since` up to the team's `head` (a covered blob
    /// only if the device still needs it), with the erasure head.
    fn pull(
        &mut self,
        team_pk: i64,
        device_pk: i64,
        (head, erasure_head): (i64, i64),
        since: u64,
        max_bytes: u64,
    ) -> Result<SyncPage, StoreError> {
        check_cursor(since, head)?;
        let pager = Pager::new(since, to_u64(head).max(since), max_bytes);
        let mut page = self.fill(pager, since, |tx, after, budget, rows| {
            tx.query(
                page_query!(
                    "b.team_pk = $1 AND b.seq > $2 AND b.seq <= $3 AND b.device_pk <> $4
                     AND (b.covered_from IS NULL OR EXISTS (SELECT 1 FROM covered_needs n
                         WHERE n.team_pk = b.team_pk AND n.seq = b.seq AND n.device_pk = $4))",
                    limit "$6",
                    budget "$5"
                ),
                &[&team_pk, &after, &head, &device_pk, &budget, &rows],
            )
        })?;
        page.erasure_head = to_u64(erasure_head);
        Ok(page)
    }

    /// Records a sync (see the SQLite store's "Compaction"): its time, its `since` and the
    /// cursor answered, and forgets the covered blobs it needed up to `since`.
    fn record_sync(
        &mut self,
        team_pk: i64,
        device_pk: i64,
        since: u64,
        answered: u64,
        now: i64,
    ) -> Result<(), StoreError> {
        // One round trip: the update runs to completion whether or not the delete reads it.
        self.exec(
            "WITH recorded AS (
                 UPDATE devices SET last_sync_at = $1, cursor = $2, reach = $3 WHERE pk = $4)
             DELETE FROM covered_needs WHERE team_pk = $5 AND device_pk = $4 AND seq <= $2",
            &[
                &now,
                &to_i64(since),
                &to_i64(answered),
                &device_pk,
                &team_pk,
            ],
        )?;
        Ok(())
    }

    /// Places the snapshot of `item` (see [`super::Store::compact`]); the team is locked.
    fn place_snapshot(
        &mut self,
        team_pk: i64,
        lead_pk: i64,
        item: &CompactItem,
    ) -> Result<Placement, StoreError> {
        let Some(id) = parse_blob_id(&item.snapshot) else {
            return Ok(Placement::Unknown);
        };
        let Some(row) = self.opt(
            "SELECT seq, covered_from IS NOT NULL, placed FROM blobs
             WHERE team_pk = $1 AND id = $2 AND doc_id = $3 AND device_pk = $4",
            &[&team_pk, &&id[..], &item.doc_id, &lead_pk],
        )?
        else {
            return Ok(Placement::Unknown);
        };
        let s: i64 = row.try_get(0)?;
        if row.try_get::<_, bool>(1)? || row.try_get::<_, bool>(2)? {
            return Ok(Placement::Nothing);
        }
        let tags: HashSet<u64> = item.covers.iter().copied().collect();
        let mut found: Vec<Covered> = Vec::new();
        for row in self.query(
            "SELECT seq, id, covered_from IS NOT NULL, device_pk,
                    (octet_length(blob) + octet_length(doc_id))::BIGINT + $4::BIGINT
             FROM blobs WHERE team_pk = $1 AND doc_id = $2 AND seq < $3 ORDER BY seq",
            &[&team_pk, &item.doc_id, &s, &BLOB_ROW_BYTES],
        )? {
            if tags.contains(&tag(&blob_id(row.try_get(1)?)?)) {
                found.push(Covered {
                    seq: row.try_get(0)?,
                    already: row.try_get(2)?,
                    pusher: row.try_get(3)?,
                    bytes: row.try_get(4)?,
                });
            }
        }
        let Some(earliest) = found.first() else {
            // Every blob it names is gone: behind a placed snapshot of its document, it stands
            // for nothing stored, and what it holds is in the log already (see the SQLite
            // store's `superseded`); otherwise it may be all the log holds of its document.
            let behind_one: bool = self
                .one(
                    "SELECT EXISTS (SELECT 1 FROM blobs
                                    WHERE team_pk = $1 AND doc_id = $2 AND placed AND seq < $3)",
                    &[&team_pk, &item.doc_id, &s],
                )?
                .try_get(0)?;
            if !behind_one {
                return Ok(Placement::Nothing);
            }
            let freed: i64 = self
                .one(
                    "DELETE FROM blobs WHERE team_pk = $1 AND seq = $2
                     RETURNING (octet_length(blob) + octet_length(doc_id))::BIGINT + $3::BIGINT",
                    &[&team_pk, &s, &BLOB_ROW_BYTES],
                )?
                .try_get(0)?;
            self.exec(
                "UPDATE devices SET stored_bytes = GREATEST(stored_bytes - $1, 0) WHERE pk = $2",
                &[&freed, &lead_pk],
            )?;
            return Ok(Placement::Superseded { freed });
        };
        let f = earliest.seq;
        self.exec(
            "DELETE FROM covered_needs WHERE team_pk = $1 AND seq = $2",
            &[&team_pk, &f],
        )?;
        self.exec(
            "DELETE FROM blobs WHERE team_pk = $1 AND seq = $2",
            &[&team_pk, &f],
        )?;
        self.exec(
            "UPDATE devices SET stored_bytes = GREATEST(stored_bytes - $1, 0) WHERE pk = $2",
            &[&earliest.bytes, &earliest.pusher],
        )?;
        self.exec(
            "UPDATE blobs SET seq = $1, placed = TRUE WHERE team_pk = $2 AND seq = $3",
            &[&f, &team_pk, &s],
        )?;
        for blob in &found[1..] {
            if !blob.already {
                self.exec(
                    "UPDATE blobs SET covered_from = $1 WHERE team_pk = $2 AND seq = $3",
                    &[&f, &team_pk, &blob.seq],
                )?;
                self.exec(
                    "INSERT INTO covered_needs (team_pk, seq, device_pk)
                     SELECT $1, $2, pk FROM devices
                     WHERE team_pk = $1 AND revoked_at IS NULL AND pk <> $3 AND pk <> $4
                         AND cursor < $2 AND (reach IS NULL OR reach >= $5)
                     ON CONFLICT DO NOTHING",
                    &[&team_pk, &blob.seq, &blob.pusher, &lead_pk, &f],
                )?;
            }
        }
        let newly = found.iter().filter(|b| !b.already).count();
        Ok(Placement::Placed {
            newly: u64::try_from(newly).unwrap_or(u64::MAX),
            freed: earliest.bytes,
        })
    }

    /// Deletes the team's covered blobs no active device needs; returns how many, and their
    /// bytes.
    fn prune_covered(&mut self, team_pk: i64) -> Result<(u64, i64), StoreError> {
        self.exec(
            "DELETE FROM covered_needs WHERE team_pk = $1 AND device_pk IN
                 (SELECT pk FROM devices WHERE team_pk = $1 AND revoked_at IS NOT NULL)",
            &[&team_pk],
        )?;
        let row = self.one(
            "WITH gone AS (
                 DELETE FROM blobs b WHERE team_pk = $1 AND covered_from IS NOT NULL
                     AND NOT EXISTS (SELECT 1 FROM covered_needs n
                                     WHERE n.team_pk = b.team_pk AND n.seq = b.seq)
                 RETURNING device_pk,
                     octet_length(blob) + octet_length(doc_id) + $2::BIGINT AS bytes),
             uncharged AS (
                 UPDATE devices d SET stored_bytes = GREATEST(d.stored_bytes - g.bytes, 0)
                 FROM (SELECT device_pk, SUM(bytes)::BIGINT AS bytes
                       FROM gone GROUP BY device_pk) g
                 WHERE d.pk = g.device_pk)
             SELECT count(*), COALESCE(SUM(bytes), 0)::BIGINT FROM gone",
            &[&team_pk, &BLOB_ROW_BYTES],
        )?;
        Ok((to_u64(row.try_get(0)?), row.try_get(1)?))
    }
}

/// A syncing device with its team's row locked.
struct Syncing {
    device_pk: i64,
    team_pk: i64,
    /// The actor it declared, if it has.
    actor: Option<Vec<u8>>,
    /// The team's `(head_seq, erasure_seq)`.
    heads: (i64, i64),
}

/// What placing one snapshot did.
enum Placement {
    Unknown,
    Nothing,
    /// Stands for nothing stored: deleted (as on SQLite, `superseded` there).
    Superseded {
        freed: i64,
    },
    Placed {
        newly: u64,
        freed: i64,
    },
}

/// A blob the snapshot being placed stands for.
struct Covered {
    seq: i64,
    already: bool,
    pusher: i64,
    bytes: i64,
}

/// The connections, opened as needed up to the pool's size.
struct Pool {
    config: Config,
    size: usize,
    state: Mutex<PoolState>,
    returned: Condvar,
}

struct PoolState {
    idle: Vec<Conn>,
    open: usize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Pool {
    fn connect(config: &Config) -> Result<Conn, StoreError> {
        let client = config.connect(NoTls).map_err(|e| {
            StoreError::Backend(format!("cannot connect to PostgreSQL: {}", pg_message(&e)).into())
        })?;
        Ok(Conn {
            client,
            statements: HashMap::new(),
        })
    }

    /// A connection: an idle one, a new one while fewer than `size` are open, or the next one
    /// returned.
    fn get(&self) -> Result<Conn, StoreError> {
        let mut state = lock(&self.state);
        loop {
            if let Some(conn) = state.idle.pop() {
                return Ok(conn);
            }
            if state.open < self.size {
                state.open += 1;
                drop(state);
                return Self::connect(&self.config).inspect_err(|_| {
                    lock(&self.state).open -= 1;
                    self.returned.notify_one();
                });
            }
            state = self
                .returned
                .wait(state)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }

    /// Gives a connection back; a broken one is closed and the next caller opens another.
    fn put(&self, conn: Conn) {
        let mut state = lock(&self.state);
        if conn.client.is_closed() {
            state.open -= 1;
        } else {
            state.idle.push(conn);
        }
        drop(state);
        self.returned.notify_one();
    }
}

/// The PostgreSQL implementation of [`super::Store`].
pub struct PostgresStore {
    pool: Pool,
    /// Most bytes one team may store.
    max_team_bytes: Option<u64>,
    /// Where it connects, without the password, for logs.
    described: String,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("database", &self.described)
            .finish_non_exhaustive()
    }
}

/// `host:port/dbname`, without user or password.
fn describe(config: &Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|h| match h {
            postgres::config::Host::Tcp(name) => name.clone(),
            #[cfg(unix)]
            postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .collect();
    let ports: Vec<String> = config.get_ports().iter().map(u16::to_string).collect();
    format!(
        "postgresql {} port {} database {}",
        if hosts.is_empty() {
            "localhost".to_owned()
        } else {
            hosts.join(",")
        },
        if ports.is_empty() {
            "5432".to_owned()
        } else {
            ports.join(",")
        },
        config.get_dbname().unwrap_or("(the user's)")
    )
}

fn migrate(conn: &mut Conn) -> Result<(), StoreError> {
    let mut tx = conn.client.transaction()?;
    // Relays started together on a new database take turns.
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS relay_schema (version BIGINT NOT NULL)")?;
    let version: i64 = match tx.query_opt("SELECT version FROM relay_schema", &[])? {
        Some(row) => row.try_get(0)?,
        None => {
            tx.execute("INSERT INTO relay_schema (version) VALUES (0)", &[])?;
            0
        }
    };
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
        tx.batch_execute(sql)?;
        let version = i64::try_from(i + 1).unwrap_or(i64::MAX);
        tx.execute("UPDATE relay_schema SET version = $1", &[&version])?;
    }
    tx.commit()?;
    Ok(())
}

impl PostgresStore {
    /// Connects to the database at `url` (a `postgres://…` URL or `key=value` settings, as
    /// libpq takes them; no TLS), brings its schema up to date, and keeps up to `pool_size`
    /// connections.
    pub fn open(url: &str, pool_size: usize) -> Result<Self, StoreError> {
        let config = Config::from_str(url).map_err(|e| {
            StoreError::Backend(
                format!(
                    "the database URL is not valid ({e}); write postgres://USER@HOST/DBNAME or \
                     host=/var/run/postgresql dbname=DBNAME"
                )
                .into(),
            )
        })?;
        if config.get_ssl_mode() == postgres::config::SslMode::Require {
            return Err(StoreError::Backend(
                "the relay does not speak TLS to PostgreSQL: drop sslmode=require and connect \
                 over a Unix socket or a private network (see README, \"PostgreSQL\")"
                    .into(),
            ));
        }
        let described = describe(&config);
        let mut first = Pool::connect(&config)?;
        migrate(&mut first)?;
        let pool = Pool {
            config,
            size: pool_size.max(1),
            state: Mutex::new(PoolState {
                idle: vec![first],
                open: 1,
            }),
            returned: Condvar::new(),
        };
        Ok(Self {
            pool,
            max_team_bytes: None,
            described,
        })
    }

    /// Where it connects (host, port and database; never the password).
    pub fn describe(&self) -> &str {
        &self.described
    }

    /// Refuses pushes that would take a team over `bytes` of blobs, document ids and their
    /// rows (`shared::BLOB_ROW_BYTES` each).
    pub fn with_max_team_bytes(mut self, bytes: u64) -> Self {
        self.max_team_bytes = Some(bytes);
        self
    }

    /// Runs the one read-only statement `sql` on its own, outside any transaction (a single
    /// statement reads one snapshot), and returns its row if any.
    fn single(&self, sql: &'static str, params: Params<'_>) -> Result<Option<Row>, StoreError> {
        let mut conn = self.pool.get()?;
        let result = (|| {
            let Conn { client, statements } = &mut conn;
            let statement = cached(statements, sql, |sql| client.prepare(sql))?;
            Ok(client.query_opt(&statement, params)?)
        })();
        self.pool.put(conn);
        result
    }

    /// Runs `f` in one transaction (read-only at one snapshot when `read_only`), and again when
    /// PostgreSQL broke it off to resolve a deadlock.
    fn run<T>(
        &self,
        read_only: bool,
        mut f: impl FnMut(&mut Tx<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.pool.get()?;
        let mut tries = 0;
        let result = loop {
            tries += 1;
            let attempt = (|| {
                let Conn { client, statements } = &mut conn;
                let tx = if read_only {
                    client
                        .build_transaction()
                        .isolation_level(IsolationLevel::RepeatableRead)
                        .read_only(true)
                        .start()?
                } else {
                    client.transaction()?
                };
                let mut tx = Tx { tx, statements };
                let value = f(&mut tx)?;
                tx.tx.commit()?;
                Ok(value)
            })();
            match attempt {
                Err(e) if retryable(&e) && tries < RETRIES => {
                    tracing::debug!(error = %e, "transaction broken off; running it again");
                }
                other => break other,
            }
        };
        self.pool.put(conn);
        result
    }
}

impl super::Store for PostgresStore {
    fn create_team(&self, name: &str, now: i64) -> Result<String, StoreError> {
        let id = uuid::Uuid::new_v4().to_string();
        self.run(false, |tx| {
            tx.exec(
                "INSERT INTO teams (id, name, created_at) VALUES ($1, $2, $3)",
                &[&id, &name, &now],
            )
        })?;
        Ok(id)
    }

    fn create_invite(
        &self,
        team_id: &str,
        invite: &NewInvite,
        now: i64,
    ) -> Result<bool, StoreError> {
        let limits = (
            super::invite_keys_limit(self.max_team_bytes),
            super::team_rows_limit(self.max_team_bytes),
        );
        self.run(false, |tx| {
            let team_pk = tx.team_pk(team_id)?;
            tx.lock_team(team_pk, TeamLock::Write)?;
            tx.forget_expired_keys(team_pk, now)?;
            tx.insert_invite(team_pk, invite, None, now, limits)
        })
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
        self.run(false, |tx| {
            let (lead_pk, team_pk) = tx.acting_lead(lead, TeamLock::Write)?;
            tx.forget_expired_keys(team_pk, now)?;
            let found = tx
                .opt(
                    "SELECT team_pk, created_by, role, uses_left, expires_at
                     FROM invites WHERE hash = $1",
                    &[&&invite.code_hash[..]],
                )?
                .map(|r| -> Result<_, StoreError> {
                    Ok(super::shared::StoredInvite {
                        team_pk: r.try_get(0)?,
                        created_by: r.try_get(1)?,
                        role: role_of(r.try_get(2)?)?,
                        uses_left: r.try_get(3)?,
                        expires_at: r.try_get(4)?,
                    })
                })
                .transpose()?;
            let ids = (team_pk, lead_pk);
            if let Some(again) = super::shared::invite_asked_again(found, ids, invite.role, now)? {
                return Ok(again);
            }
            let whole = tx.join_key_parts(team_pk, lead_pk, invite)?;
            tx.insert_invite(team_pk, &whole, Some(lead_pk), now, limits)?;
            Ok(InviteMade::New)
        })
    }

    fn open_invites(&self, of: InvitesOf<'_>, now: i64) -> Result<Vec<InviteInfo>, StoreError> {
        // A listing takes no lock on the team: it must not wait behind its pushes.
        self.run(true, |tx| {
            let team_pk = match of {
                InvitesOf::Lead(lead) => tx.active_lead(lead)?.1,
                InvitesOf::Team(team_id) => tx.team_pk(team_id)?,
            };
            tx.query(
                "SELECT substring(i.hash FROM 1 FOR 8), i.role, i.uses_left, i.created_at,
                        i.expires_at, d.id, i.sealed_keys IS NOT NULL
                 FROM invites i LEFT JOIN devices d ON d.pk = i.created_by
                 WHERE i.team_pk = $1 AND i.uses_left > 0 AND i.expires_at > $2
                 ORDER BY i.created_at, i.hash",
                &[&team_pk, &now],
            )?
            .iter()
            .map(|r| {
                Ok(InviteInfo {
                    id: invite_id_of_stored(r.try_get::<_, &[u8]>(0)?),
                    role: role_of(r.try_get(1)?)?,
                    uses_left: r.try_get(2)?,
                    created_at: r.try_get(3)?,
                    expires_at: r.try_get(4)?,
                    made_by: r.try_get(5)?,
                    carries_keys: r.try_get(6)?,
                })
            })
            .collect()
        })
    }

    fn cancel_invite(
        &self,
        of: InvitesOf<'_>,
        id: [u8; 8],
        now: i64,
    ) -> Result<InviteCancel, StoreError> {
        let id_bytes = &id[..];
        let grace_end = now.saturating_add(CANCELLED_INVITE_GRACE_SECS);
        self.run(false, |tx| {
            let team_pk = match of {
                InvitesOf::Lead(lead) => tx.acting_lead(lead, TeamLock::Write)?.1,
                InvitesOf::Team(team_id) => {
                    let team_pk = tx.team_pk(team_id)?;
                    tx.lock_team(team_pk, TeamLock::Write)?;
                    team_pk
                }
            };
            tx.forget_expired_keys(team_pk, now)?;
            let row = tx.one(
                "SELECT count(*), coalesce(bool_or(uses_left > 0 AND expires_at > $3), false),
                        coalesce(sum(CASE WHEN expires_at > $3
                                     THEN (SELECT count(*) FROM devices d
                                           WHERE d.enrol_invite = invites.hash
                                             AND d.revoked_at IS NULL)
                                     ELSE 0 END), 0)::BIGINT
                 FROM invites WHERE team_pk = $1 AND substring(hash FROM 1 FOR 8) = $2",
                &[&team_pk, &id_bytes, &now],
            )?;
            if row.try_get::<_, i64>(0)? == 0 {
                return Err(StoreError::NoSuchInvite(
                    groundwork_protocol::invite_id_of_hash(&id),
                ));
            }
            // As on SQLite: devices that may still ask for their enrolment again keep what they
            // would be answered for a grace period, then the invite has expired.
            tx.exec(
                "UPDATE invites SET uses_left = 0,
                     expires_at = LEAST(expires_at,
                         CASE WHEN EXISTS (SELECT 1 FROM devices d
                                           WHERE d.enrol_invite = invites.hash
                                             AND d.revoked_at IS NULL)
                              THEN $4::BIGINT ELSE $3::BIGINT END)
                 WHERE team_pk = $1 AND substring(hash FROM 1 FOR 8) = $2
                   AND (uses_left > 0 OR EXISTS (SELECT 1 FROM devices d
                                                 WHERE d.enrol_invite = invites.hash
                                                   AND d.revoked_at IS NULL))",
                &[&team_pk, &id_bytes, &now, &grace_end],
            )?;
            tx.exec(
                "UPDATE invites SET sealed_keys = NULL
                 WHERE team_pk = $1 AND substring(hash FROM 1 FOR 8) = $2
                   AND sealed_keys IS NOT NULL
                   AND NOT EXISTS (SELECT 1 FROM devices d WHERE d.enrol_invite = invites.hash
                                   AND d.revoked_at IS NULL)",
                &[&team_pk, &id_bytes],
            )?;
            Ok(InviteCancel {
                was_open: row.try_get(1)?,
                joining: u32::try_from(row.try_get::<_, i64>(2)?).unwrap_or(u32::MAX),
            })
        })
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
        self.run(false, |tx| {
            let (lead_pk, team_pk) = tx.acting_lead(lead, TeamLock::Write)?;
            tx.forget_expired_keys(team_pk, now)?;
            if let Some(row) = tx.opt(
                "SELECT created_at, keys = $4 FROM invite_key_parts
                 WHERE team_pk = $1 AND id = $2 AND created_by = $3",
                &[&team_pk, &part, &lead_pk, &keys],
            )? {
                if !row.try_get::<_, bool>(1)? {
                    return Err(StoreError::KeyPartTaken);
                }
                return Ok((row.try_get(0)?, true));
            }
            if first {
                tx.exec(
                    "DELETE FROM invite_key_parts WHERE team_pk = $1 AND created_by = $2",
                    &[&team_pk, &lead_pk],
                )?;
            }
            tx.insert_key_part((team_pk, lead_pk), part, keys, now, limit)?;
            Ok((now, false))
        })
    }

    fn enrol(&self, device: &NewDevice, now: i64) -> Result<Enrolled, StoreError> {
        let hash = &device.invite_hash[..];
        self.run(false, |tx| {
            let Some(row) = tx.opt("SELECT team_pk FROM invites WHERE hash = $1", &[&hash])? else {
                return Ok(Err(StoreError::UnknownInvite));
            };
            let team_pk: i64 = row.try_get(0)?;
            // Every change to a team's invites is made holding the team's row: read it again.
            tx.lock_team(team_pk, TeamLock::Write)?;
            // Expired invites' keys stay forgotten even if this enrolment is refused.
            tx.forget_expired_keys(team_pk, now)?;
            let Some(r) = tx.opt(
                "SELECT i.team_pk, t.id, i.uses_left, i.expires_at, i.role, t.erasure_seq,
                        c.revoked_at IS NOT NULL, i.sealed_keys, t.sealed, t.head_seq,
                        EXISTS (SELECT 1 FROM devices l WHERE l.team_pk = t.pk
                                AND l.role = 'lead' AND l.revoked_at IS NULL)
                 FROM invites i JOIN teams t ON t.pk = i.team_pk
                 LEFT JOIN devices c ON c.pk = i.created_by
                 WHERE i.hash = $1",
                &[&hash],
            )?
            else {
                return Ok(Err(StoreError::UnknownInvite));
            };
            let invite = InviteRow {
                team_pk: r.try_get(0)?,
                team_id: r.try_get(1)?,
                uses_left: r.try_get(2)?,
                expires_at: r.try_get(3)?,
                role: role_of(r.try_get(4)?)?,
                erasure_head: r.try_get(5)?,
                maker_revoked: r.try_get::<_, Option<bool>>(6)?.unwrap_or(false),
                sealed_keys: r.try_get(7)?,
                team_sealed: r.try_get(8)?,
                team_head: r.try_get(9)?,
                team_has_lead: r.try_get(10)?,
            };
            let holder = if device.chosen_token {
                tx.token_holder(&device.token_hash)?
            } else {
                None
            };
            if let Some(holder) = holder {
                // Asked again: answered from what was stored, nothing written (the expired
                // keys' forgetting still commits).
                let sealed_keys: Option<String> = tx
                    .one("SELECT sealed_keys FROM invites WHERE hash = $1", &[&hash])?
                    .try_get(0)?;
                let again = super::shared::InviteNow {
                    maker_revoked: invite.maker_revoked,
                    expires_at: invite.expires_at,
                    sealed_keys,
                    team_head: invite.team_head,
                };
                return Ok(super::shared::enrolment_again(
                    holder,
                    &device.invite_hash,
                    &again,
                    now,
                ));
            }
            let mut refused = refusal(device, &invite, now);
            if refused.is_none()
                && let Some(actor) = &device.actor
            {
                refused = tx.check_actor_free(invite.team_pk, None, actor).err();
            }
            match refused {
                // A refusal still commits the forgotten keys; the invite keeps its uses.
                Some(refused) => Ok(Err(refused)),
                None => enrol_into(tx, device, invite, now).map(Ok),
            }
        })?
    }

    fn authenticate(&self, token_hash: &SecretHash) -> Result<Option<DeviceAuth>, StoreError> {
        let token = &token_hash[..];
        // Every request of a device starts here: one statement, one round trip, where a
        // transaction of its own would take three.
        self.single(
            "SELECT d.id, t.id, d.revoked_at IS NOT NULL, d.role, t.erasure_seq,
                    d.enrol_invite IS NOT NULL
             FROM devices d JOIN teams t ON t.pk = d.team_pk WHERE d.token_hash = $1",
            &[&token],
        )?
        .map(|r| {
            Ok(DeviceAuth {
                device_id: r.try_get(0)?,
                team_id: r.try_get(1)?,
                revoked: r.try_get(2)?,
                role: role_of(r.try_get(3)?)?,
                erasure_head: to_u64(r.try_get(4)?),
                first_use: r.try_get(5)?,
            })
        })
        .transpose()
    }

    fn token_used(&self, device: &DeviceAuth) -> Result<(), StoreError> {
        self.run(false, |tx| {
            let Some(row) = tx.opt(
                "SELECT pk, team_pk FROM devices WHERE id = $1",
                &[&device.device_id],
            )?
            else {
                return Ok(());
            };
            let (pk, team_pk): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
            // Every change to a team's invites is made holding the team's row.
            tx.lock_team(team_pk, TeamLock::Write)?;
            tx.end_enrolment(pk)
        })
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
        let limit = self.max_team_bytes;
        self.run(false, |tx| {
            // A pull-only sync waits for no push, only for a compaction of the team.
            let Syncing {
                device_pk,
                team_pk,
                actor: known,
                heads,
            } = tx.syncing_device(&device.device_id, !push.is_empty())?;
            if push.is_empty() {
                tx.claim_actor(
                    (team_pk, device_pk),
                    &device.device_id,
                    actor,
                    known.as_deref(),
                )?;
                let page = tx.pull(team_pk, device_pk, heads, since, max_bytes)?;
                tx.record_sync(team_pk, device_pk, since, page.cursor, now)?;
                return Ok(page);
            }
            let (head, erasure_head) = heads;
            let appended = tx.append((team_pk, device_pk), head, push, erasure_head > 0, now)?;
            // Refusals in the order the checks were always made; each rolls the append back.
            if !appended.erased.is_empty() {
                return Err(StoreError::Erased(appended.erased));
            }
            tx.claim_actor(
                (team_pk, device_pk),
                &device.device_id,
                actor,
                known.as_deref(),
            )?;
            check_cursor(since, head)?;
            if let (Some(share), Some(stored)) = (
                super::device_share(limit, device.role),
                appended.device_bytes,
            ) && stored > share
            {
                return Err(StoreError::DeviceFull { share });
            }
            if let (Some(limit), Some(stored)) = (limit, appended.stored_bytes)
                && stored > limit
            {
                return Err(StoreError::TeamFull { limit });
            }
            let (head, inserted) = (appended.head, appended.inserted);
            let mut page = tx.pull(team_pk, device_pk, (head, erasure_head), since, max_bytes)?;
            tx.record_sync(team_pk, device_pk, since, page.cursor, now)?;
            page.inserted = inserted;
            Ok(page)
        })
    }

    fn erased_among(
        &self,
        device: &DeviceAuth,
        doc_ids: &[&str],
    ) -> Result<Vec<String>, StoreError> {
        self.run(true, |tx| {
            let (_, team_pk) = tx.active_device(&device.device_id)?;
            tx.erased_in(team_pk, doc_ids.iter().copied())
        })
    }

    fn doc_changes(
        &self,
        device: &DeviceAuth,
        doc_id: &str,
        after: u64,
        max_bytes: u64,
    ) -> Result<SyncPage, StoreError> {
        self.run(true, |tx| {
            let (_, team_pk) = tx.active_device(&device.device_id)?;
            let row = tx.one(
                "SELECT head_seq, erasure_seq FROM teams WHERE pk = $1",
                &[&team_pk],
            )?;
            let (head, erasure_head): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
            let erased = tx.erased_in(team_pk, [doc_id])?;
            if !erased.is_empty() {
                return Err(StoreError::Erased(erased));
            }
            check_cursor(after, head)?;
            let pager = Pager::new(after, to_u64(head), max_bytes);
            let mut page = tx.fill(pager, after, |tx, after, budget, rows| {
                tx.query(
                    page_query!(
                        "b.team_pk = $1 AND b.doc_id = $2 AND b.seq > $3",
                        limit "$5",
                        budget "$4"
                    ),
                    &[&team_pk, &doc_id, &after, &budget, &rows],
                )
            })?;
            page.erasure_head = to_u64(erasure_head);
            Ok(page)
        })
    }

    fn list_devices(&self, team_id: &str) -> Result<Vec<DeviceInfo>, StoreError> {
        self.run(true, |tx| {
            let team_pk = tx.team_pk(team_id)?;
            tx.query(
                "SELECT id, name, enrolled_at, last_sync_at, revoked_at, actor, role,
                        stored_bytes
                 FROM devices WHERE team_pk = $1 ORDER BY pk",
                &[&team_pk],
            )?
            .iter()
            .map(device_row)
            .collect()
        })
    }

    fn revoke_device(&self, device_id: &str, now: i64) -> Result<u64, StoreError> {
        self.run(false, |tx| {
            let (device_pk, team_pk, _) = tx.device_keys(device_id)?;
            tx.lock_team(team_pk, TeamLock::Write)?;
            tx.revoke(team_pk, device_pk, device_id, now)
        })
    }

    fn promote_device(&self, device_id: &str) -> Result<(), StoreError> {
        self.run(false, |tx| {
            let (_, team_pk, _) = tx.device_keys(device_id)?;
            tx.lock_team(team_pk, TeamLock::Write)?;
            let (device_pk, _, revoked) = tx.device_keys(device_id)?;
            if revoked {
                return Err(StoreError::PromoteRevoked(device_id.to_owned()));
            }
            tx.exec(
                "UPDATE devices SET role = $1 WHERE pk = $2",
                &[&Role::Lead.as_str(), &device_pk],
            )?;
            Ok(())
        })
    }

    fn revoke_team_device(
        &self,
        lead: &DeviceAuth,
        device_id: &str,
        now: i64,
    ) -> Result<DeviceInfo, StoreError> {
        self.run(false, |tx| {
            let (_, team_pk) = tx.acting_lead(lead, TeamLock::Write)?;
            let (device_pk, revoked, role) = tx.team_device(team_pk, device_id)?;
            if !revoked && role == Role::Lead {
                let other_leads: i64 = tx
                    .one(
                        "SELECT count(*) FROM devices
                         WHERE team_pk = $1 AND role = $2 AND revoked_at IS NULL AND pk <> $3",
                        &[&team_pk, &Role::Lead.as_str(), &device_pk],
                    )?
                    .try_get(0)?;
                if other_leads == 0 {
                    return Err(StoreError::LastLead(device_id.to_owned()));
                }
            }
            tx.revoke(team_pk, device_pk, device_id, now)?;
            tx.device_info(device_pk)
        })
    }

    fn promote_team_device(
        &self,
        lead: &DeviceAuth,
        device_id: &str,
    ) -> Result<DeviceInfo, StoreError> {
        self.run(false, |tx| {
            let (_, team_pk) = tx.acting_lead(lead, TeamLock::Write)?;
            let (device_pk, revoked, _) = tx.team_device(team_pk, device_id)?;
            if revoked {
                return Err(StoreError::PromoteRevoked(device_id.to_owned()));
            }
            tx.exec(
                "UPDATE devices SET role = $1 WHERE pk = $2",
                &[&Role::Lead.as_str(), &device_pk],
            )?;
            tx.device_info(device_pk)
        })
    }

    fn erase(
        &self,
        lead: &DeviceAuth,
        doc_id: &str,
        proof: Option<&str>,
        now: i64,
    ) -> Result<Erasure, StoreError> {
        let rows_limit = super::team_rows_limit(self.max_team_bytes);
        self.run(false, |tx| {
            let (lead_pk, team_pk) = tx.acting_lead(lead, TeamLock::Write)?;
            // An order given again keeps the newest proof of each lead device that gave one.
            let existing = tx.opt(
                "SELECT seq, erased_at, proof FROM erasures WHERE team_pk = $1 AND doc_id = $2",
                &[&team_pk, &doc_id],
            )?;
            let (seq, erased_at, proof): (i64, i64, Option<String>) = match existing {
                Some(row) => {
                    let (seq, at, kept): (i64, i64, Option<String>) =
                        (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
                    let merged = merge_proofs(kept.as_deref(), proof, lead_pk);
                    if merged != kept {
                        tx.exec(
                            "UPDATE erasures SET proof = $3 WHERE team_pk = $1 AND seq = $2",
                            &[&team_pk, &seq, &merged],
                        )?;
                    }
                    (seq, at, merged)
                }
                None => {
                    if let Some(limit) = rows_limit {
                        let orders: i64 = tx
                            .one(
                                "SELECT count(*) FROM erasures WHERE team_pk = $1",
                                &[&team_pk],
                            )?
                            .try_get(0)?;
                        if to_u64(orders) >= limit {
                            return Err(StoreError::TooManyErasures { limit });
                        }
                    }
                    tx.exec(
                        "DELETE FROM covered_needs WHERE team_pk = $1 AND seq IN
                             (SELECT seq FROM blobs WHERE team_pk = $1 AND doc_id = $2)",
                        &[&team_pk, &doc_id],
                    )?;
                    let gone = tx.one(
                        "WITH gone AS (
                             DELETE FROM blobs WHERE team_pk = $1 AND doc_id = $2
                             RETURNING device_pk,
                                 octet_length(blob) + octet_length(doc_id) + $3::BIGINT AS bytes),
                         uncharged AS (
                             UPDATE devices d
                             SET stored_bytes = GREATEST(d.stored_bytes - g.bytes, 0)
                             FROM (SELECT device_pk, SUM(bytes)::BIGINT AS bytes
                                   FROM gone GROUP BY device_pk) g
                             WHERE d.pk = g.device_pk)
                         SELECT count(*), COALESCE(SUM(bytes), 0)::BIGINT FROM gone",
                        &[&team_pk, &doc_id, &BLOB_ROW_BYTES],
                    )?;
                    let (deleted, freed): (i64, i64) = (gone.try_get(0)?, gone.try_get(1)?);
                    let seq: i64 = tx
                        .one(
                            "UPDATE teams SET erasure_seq = erasure_seq + 1,
                                 stored_bytes = GREATEST(stored_bytes - $1, 0)
                             WHERE pk = $2 RETURNING erasure_seq",
                            &[&freed, &team_pk],
                        )?
                        .try_get(0)?;
                    let proof = merge_proofs(None, proof, lead_pk);
                    tx.exec(
                        "INSERT INTO erasures (team_pk, seq, doc_id, erased_at, erased_by, proof)
                         VALUES ($1, $2, $3, $4, $5, $6)",
                        &[&team_pk, &seq, &doc_id, &now, &lead_pk, &proof],
                    )?;
                    tx.exec(
                        "UPDATE devices SET erasures_seen = $1::BIGINT
                         WHERE pk = $2 AND erasures_seen = $1::BIGINT - 1",
                        &[&seq, &lead_pk],
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
            let seen = tx.confirmations(team_pk)?;
            Ok(erasure(seq, doc_id.to_owned(), erased_at, proof, &seen))
        })
    }

    fn erasures(
        &self,
        device: &DeviceAuth,
        after: u64,
        limit: usize,
    ) -> Result<ErasureList, StoreError> {
        self.run(true, |tx| {
            let (_, team_pk) = tx.active_device(&device.device_id)?;
            let head: i64 = tx
                .one("SELECT erasure_seq FROM teams WHERE pk = $1", &[&team_pk])?
                .try_get(0)?;
            let seen = tx.confirmations(team_pk)?;
            let fetch = i64::try_from(limit).unwrap_or(i64::MAX).saturating_add(1);
            let mut orders = tx
                .query(
                    "SELECT seq, doc_id, erased_at, proof FROM erasures
                     WHERE team_pk = $1 AND seq > $2 ORDER BY seq LIMIT $3",
                    &[&team_pk, &to_i64(after), &fetch],
                )?
                .iter()
                .map(|r| {
                    Ok(erasure(
                        r.try_get(0)?,
                        r.try_get(1)?,
                        r.try_get(2)?,
                        r.try_get(3)?,
                        &seen,
                    ))
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
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
        self.run(false, |tx| {
            let (device_pk, team_pk) = tx.active_device(&device.device_id)?;
            let head: i64 = tx
                .one("SELECT erasure_seq FROM teams WHERE pk = $1", &[&team_pk])?
                .try_get(0)?;
            let head = to_u64(head);
            if up_to > head {
                return Err(StoreError::ErasuresAhead { up_to, head });
            }
            tx.exec(
                "UPDATE devices SET erasures_seen = GREATEST(erasures_seen, $1) WHERE pk = $2",
                &[&to_i64(up_to), &device_pk],
            )?;
            Ok(head)
        })
    }

    fn compact(
        &self,
        lead: &DeviceAuth,
        items: &[CompactItem],
        _now: i64,
    ) -> Result<CompactResponse, StoreError> {
        let (done, freed) = self.run(false, |tx| {
            let (lead_pk, team_pk) = tx.acting_lead(lead, TeamLock::Exclusive)?;
            let mut done = CompactResponse::default();
            let mut freed: i64 = 0;
            for item in items {
                match tx.place_snapshot(team_pk, lead_pk, item)? {
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
            let (pruned, pruned_bytes) = tx.prune_covered(team_pk)?;
            done.dropped += pruned;
            freed = freed.saturating_add(pruned_bytes);
            if freed > 0 {
                tx.exec(
                    "UPDATE teams SET stored_bytes = GREATEST(stored_bytes - $1, 0) WHERE pk = $2",
                    &[&freed, &team_pk],
                )?;
            }
            Ok((done, freed))
        })?;
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

/// An invite as enrolment reads it, with its team.
struct InviteRow {
    team_pk: i64,
    team_id: String,
    uses_left: i64,
    expires_at: i64,
    role: Role,
    erasure_head: i64,
    maker_revoked: bool,
    sealed_keys: Option<String>,
    team_sealed: bool,
    team_head: i64,
    /// Whether the team has an active lead.
    team_has_lead: bool,
}

/// Why the invite cannot enrol this device, if it cannot (in [`super::Store::enrol`]'s order).
fn refusal(device: &NewDevice, invite: &InviteRow, now: i64) -> Option<StoreError> {
    if invite.maker_revoked {
        return Some(StoreError::UnknownInvite);
    }
    if invite.uses_left <= 0 {
        return Some(StoreError::InviteUsedUp);
    }
    if invite.expires_at <= now {
        return Some(StoreError::InviteExpired);
    }
    if invite.sealed_keys.is_some() && !device.sealing {
        return Some(StoreError::NeedsSealing);
    }
    if invite.sealed_keys.is_some() && device.lacks_secret {
        return Some(StoreError::MissingSecret);
    }
    if invite.sealed_keys.is_none() && invite.team_sealed {
        return Some(StoreError::NeedsKey);
    }
    if invite.sealed_keys.is_none()
        && invite.team_head == 0
        && invite.role == Role::Canvasser
        && !invite.team_has_lead
    {
        // The team waits for its lead: a sealing device would make the team's key (only a
        // lead's device may be its root of trust), and one that does not seal would store the
        // team's first change in the clear, after which no lead could seal it.
        return Some(StoreError::NoLeadYet);
    }
    None
}

/// Whether the enrolling device makes the team's key (and seals the team): a lead's sealing
/// device, enrolling with an invite without keys into a team that never stored a change.
fn makes_key(device: &NewDevice, invite: &InviteRow) -> bool {
    invite.sealed_keys.is_none()
        && !invite.team_sealed
        && device.sealing
        && invite.team_head == 0
        && invite.role == Role::Lead
}

/// The enrolment's writes once [`refusal`] found nothing to refuse (the team is locked).
fn enrol_into(
    tx: &mut Tx<'_>,
    device: &NewDevice,
    invite: InviteRow,
    now: i64,
) -> Result<Enrolled, StoreError> {
    let sealed = if invite.sealed_keys.is_some() {
        true
    } else if makes_key(device, &invite) {
        tx.exec(
            "UPDATE teams SET sealed = TRUE WHERE pk = $1",
            &[&invite.team_pk],
        )?;
        true
    } else {
        // A team from before encryption, a device that does not seal, or a canvasser's device
        // in a team whose lead's app does not seal.
        false
    };
    // The last use forgets the keys: the relay keeps no copy of what it handed out. Unless a
    // device that may ask for its enrolment again (this one, or one before it whose answer may
    // have been lost) would need them.
    tx.exec(
        "UPDATE invites SET uses_left = uses_left - 1,
             sealed_keys = CASE
                 WHEN uses_left <= 1 AND NOT $2
                      AND NOT EXISTS (SELECT 1 FROM devices
                                      WHERE enrol_invite = $1 AND revoked_at IS NULL)
                 THEN NULL ELSE sealed_keys END
         WHERE hash = $1",
        &[&&device.invite_hash[..], &device.chosen_token],
    )?;
    let enrol_invite = device.chosen_token.then_some(&device.invite_hash[..]);
    let s = tx.statement(
        "INSERT INTO devices
             (id, team_pk, name, token_hash, enrolled_at, actor, role, erasures_seen,
              enrol_invite, enrol_sealed)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )?;
    tx.tx
        .execute(
            &s,
            &[
                &device.device_id,
                &invite.team_pk,
                &device.name,
                &&device.token_hash[..],
                &now,
                &device.actor,
                &invite.role.as_str(),
                &invite.erasure_head,
                &enrol_invite,
                &sealed,
            ],
        )
        .map_err(|e| match &device.actor {
            Some(actor) => actor_error(e, actor),
            None => e.into(),
        })?;
    Ok(Enrolled {
        again: false,
        device_id: device.device_id.clone(),
        team_id: invite.team_id,
        role: invite.role,
        sealed,
        sealed_keys: invite.sealed_keys,
    })
}
