//! The local store: one SQLite file per data directory.
//!
//! It holds the Automerge documents ([`crate::docs`]), the outbox of local changes a relay has
//! not acknowledged, the sync cursor, drafts, and projection tables rebuilt from each document
//! whenever it changes (with a full-text index for search).
//!
//! Every user action is one SQLite transaction: the document change, its bytes in the outbox,
//! and the projections commit together or not at all. The database runs in WAL mode with
//! `synchronous = FULL`, so an acknowledged write survives a killed process and a power cut.
//!
//! Writes go through a [`Writer`]; [`Store`] offers one-action-one-transaction wrappers and
//! [`Store::batch`] for many actions in one transaction (demo data, applying a sync page).

mod documents;
pub mod intake;
mod migrations;
mod project;
mod queries;
mod writer;

use std::fs;
use std::path::{Path, PathBuf};

use automerge::ActorId;
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior};

pub use documents::MergeReport;
pub use intake::{Incoming, IntakeReport, Pusher, Quarantined};
pub use migrations::LATEST as SCHEMA_VERSION;
pub use queries::CommitmentFilter;
pub use writer::{RestoreTarget, Writer, default_follow_up};

use crate::error::{Error, Result};
use crate::ids::{self, Source};
use crate::model::{
    Campaign, Commitment, CommitmentPatch, CommitmentStatus, Conversation, ConversationPatch,
    NewCampaign, NewCommitment, NewConversation, NewPerson, Person, PersonFile, PersonPatch, Shift,
};

/// The database file inside a data directory.
pub const DB_FILE: &str = "groundwork.sqlite3";

/// SQLite `application_id` marking a database as Groundwork's ("GRND").
const APPLICATION_ID: i64 = 0x4752_4E44;

/// A local change waiting for a relay to acknowledge it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxItem {
    /// Position in the outbox (oldest first).
    pub seq: i64,
    /// The document the change belongs to.
    pub doc_id: String,
    /// The change's Automerge hash (hex).
    pub change_hash: String,
    /// The change's bytes.
    pub bytes: Vec<u8>,
}

/// Where this device syncs, as recorded by `join`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayLink {
    /// The relay's base URL.
    pub relay_url: String,
    /// The team this device joined.
    pub team_id: String,
    /// This device's id at the relay.
    pub relay_device_id: String,
    /// The bearer token (secret).
    pub token: String,
}

/// This device's sync bookkeeping.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncState {
    /// The relay link, once joined.
    pub link: Option<RelayLink>,
    /// The position in the team's log up to which changes are applied here.
    pub cursor: u64,
    /// When the last sync completed.
    pub last_sync_at: Option<String>,
    /// The last sync error, cleared by a successful sync.
    pub last_error: Option<String>,
}

/// An open data directory.
pub struct Store {
    conn: Connection,
    dir: PathBuf,
    actor: ActorId,
    device_id: String,
    source: Source,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("dir", &self.dir)
            .field("device_id", &self.device_id)
            .finish_non_exhaustive()
    }
}

/// Files a data directory may hold besides the database.
fn is_ours(name: &str) -> bool {
    name.starts_with(DB_FILE)
}

fn check_dir(dir: &Path) -> Result<()> {
    let io = |source| Error::DataDir {
        path: dir.to_path_buf(),
        source,
    };
    match fs::metadata(dir) {
        Ok(m) if !m.is_dir() => {
            return Err(io(std::io::Error::new(
                std::io::ErrorKind::NotADirectory,
                "it is a file, not a directory",
            )));
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            fs::create_dir_all(dir).map_err(io)?;
        }
        Err(e) => return Err(io(e)),
    }
    if dir.join(DB_FILE).exists() {
        return Ok(());
    }
    let foreign = fs::read_dir(dir)
        .map_err(io)?
        .filter_map(|e| e.ok())
        .any(|e| !is_ours(&e.file_name().to_string_lossy()));
    if foreign {
        return Err(Error::NotOurDataDir {
            path: dir.to_path_buf(),
        });
    }
    Ok(())
}

/// Make the data directory readable by its owner only (0700), and the database with its
/// `-wal` and `-shm` companions 0600: they hold everyone's records and the relay token.
///
/// A new database file is created here with mode 0600 before SQLite opens it, because SQLite
/// gives the `-wal` and `-shm` files it creates later the mode of the database file. A
/// directory or files created by an older version (which left them to the umask, usually
/// 0755/0644) are tightened here when they are opened.
#[cfg(unix)]
fn restrict_to_owner(dir: &Path) -> Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let fail = |what: &Path, e: std::io::Error| Error::DataDir {
        path: dir.to_path_buf(),
        source: std::io::Error::new(
            e.kind(),
            format!(
                "cannot make {} readable by you only ({e}); make sure you own it, or run chmod go-rwx on it",
                what.display()
            ),
        ),
    };
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(|e| fail(dir, e))?;
    let db = dir.join(DB_FILE);
    fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&db)
        .map_err(|e| fail(&db, e))?;
    for suffix in ["", "-wal", "-shm"] {
        let file = dir.join(format!("{DB_FILE}{suffix}"));
        match fs::set_permissions(&file, fs::Permissions::from_mode(0o600)) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            other => other.map_err(|e| fail(&file, e))?,
        }
    }
    Ok(())
}

/// Elsewhere the platform's own permissions apply.
#[cfg(not(unix))]
fn restrict_to_owner(_dir: &Path) -> Result<()> {
    Ok(())
}

fn open_connection(dir: &Path) -> Result<Connection> {
    let path = dir.join(DB_FILE);
    let conn = Connection::open_with_flags(
        &path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| Error::DataDir {
        path: dir.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    })?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    // Is it ours? A new file has no tables and application_id 0.
    let app_id: i64 = conn
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .map_err(|_| Error::NotOurDataDir {
            path: dir.to_path_buf(),
        })?;
    let tables: i64 = conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))?;
    if app_id != APPLICATION_ID && !(app_id == 0 && tables == 0) {
        return Err(Error::NotOurDataDir {
            path: dir.to_path_buf(),
        });
    }
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(|e| Error::DataDir {
            path: dir.to_path_buf(),
            source: std::io::Error::other(e.to_string()),
        })?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(Error::DataDir {
            path: dir.to_path_buf(),
            source: std::io::Error::other(format!(
                "could not switch the database to WAL (got {mode})"
            )),
        });
    }
    // 8 MiB of page cache: a write touches pages all over the projection indexes.
    conn.execute_batch(
        "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA cache_size = -8192;",
    )?;

    if app_id == 0 {
        conn.pragma_update(None, "application_id", APPLICATION_ID)?;
    }
    Ok(conn)
}

impl Store {
    /// Open (creating if needed) the data directory `dir`.
    ///
    /// Refuses a directory that holds files Groundwork did not write, a database of another
    /// application, and a database written by a newer Groundwork.
    pub fn open(dir: &Path) -> Result<Store> {
        check_dir(dir)?;
        restrict_to_owner(dir)?;
        let mut conn = open_connection(dir)?;
        migrations::migrate(&mut conn)?;
        let device_id = match meta_get(&conn, "device_id")? {
            Some(id) => id,
            None => {
                let id = ids::new_device_id().to_string();
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('device_id', ?1)",
                    [&id],
                )?;
                id
            }
        };
        let actor = actor_for(&device_id);
        Ok(Store {
            conn,
            dir: dir.to_path_buf(),
            actor,
            device_id,
            source: Source::System,
        })
    }

    /// Use `source` for times and ids from now on (demo data and tests).
    pub fn set_source(&mut self, source: Source) {
        self.source = source;
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// This device's id (also the Automerge actor id of every change made here).
    pub fn device_id(&self) -> &str {
        &self.device_id
    }

    /// The SQLite connection, for read-only queries by other layers (reports, benchmarks).
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Run `f` with a [`Writer`] inside one transaction: all of its writes land, or none.
    pub fn batch<T>(&mut self, f: impl FnOnce(&mut Writer<'_>) -> Result<T>) -> Result<T> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut w = Writer::new(&tx, &self.actor, &mut self.source);
        let out = f(&mut w)?;
        tx.commit()?;
        Ok(out)
    }

    /// Add a person; returns their id.
    pub fn add_person(&mut self, new: NewPerson) -> Result<String> {
        self.batch(|w| w.add_person(new))
    }

    /// Edit a person's details.
    pub fn edit_person(&mut self, id: &str, patch: PersonPatch) -> Result<()> {
        self.batch(|w| w.edit_person(id, patch))
    }

    /// Change a conversation's fields; writing a field settles any conflict on it.
    pub fn edit_conversation(&mut self, id: &str, patch: ConversationPatch) -> Result<()> {
        self.batch(|w| w.edit_conversation(id, patch))
    }

    /// Change a commitment's words or due date; writing a field settles any conflict on it.
    pub fn edit_commitment(&mut self, id: &str, patch: CommitmentPatch) -> Result<()> {
        self.batch(|w| w.edit_commitment(id, patch))
    }

    /// Record a conversation and the commitments made in it; returns the conversation's id and
    /// the commitments' ids.
    pub fn record_conversation(
        &mut self,
        new: NewConversation,
        commitments: Vec<NewCommitment>,
    ) -> Result<(String, Vec<String>)> {
        self.batch(|w| w.record_conversation(new, commitments))
    }

    /// Add a commitment to a person (optionally tied to one of their conversations).
    pub fn add_commitment(
        &mut self,
        person_id: &str,
        conversation_id: Option<&str>,
        new: NewCommitment,
    ) -> Result<String> {
        self.batch(|w| w.add_commitment(person_id, conversation_id, new))
    }

    /// Mark a commitment open, kept, broken or cancelled.
    pub fn set_commitment_status(&mut self, id: &str, status: CommitmentStatus) -> Result<()> {
        self.batch(|w| w.set_commitment_status(id, status))
    }

    /// Create a campaign; returns its id.
    pub fn add_campaign(&mut self, new: NewCampaign) -> Result<String> {
        self.batch(|w| w.add_campaign(new))
    }

    /// Start a shift on this device; returns its id.
    pub fn start_shift(
        &mut self,
        place: &str,
        campaign_id: Option<&str>,
        canvasser: Option<&str>,
    ) -> Result<String> {
        self.batch(|w| w.start_shift(place, campaign_id, canvasser))
    }

    /// End a shift (default: this device's open shift); returns its id.
    pub fn end_shift(&mut self, id: Option<&str>) -> Result<String> {
        self.batch(|w| w.end_shift(id))
    }

    /// Merge change bytes received from elsewhere into document `doc_id`.
    pub fn apply_remote(&mut self, doc_id: &str, changes: &[Vec<u8>]) -> Result<MergeReport> {
        self.batch(|w| w.apply_remote(doc_id, changes))
    }

    /// A person with their conversations and commitments.
    pub fn person(&self, id: &str) -> Result<PersonFile> {
        queries::person_file(&self.conn, id)
    }

    /// People, most recently changed first.
    pub fn list_people(&self, limit: usize) -> Result<Vec<Person>> {
        queries::recent_people(&self.conn, limit)
    }

    /// People matching `query` (names, contact details, places, workplaces, issues, notes,
    /// stories), best match first. Each word of the query matches as a prefix.
    pub fn search(&self, query: &str, limit: usize) -> Result<Vec<Person>> {
        queries::search(&self.conn, query, limit)
    }

    /// Commitments matching `filter`, soonest due first.
    pub fn commitments(&self, filter: &CommitmentFilter) -> Result<Vec<Commitment>> {
        queries::commitments(&self.conn, filter)
    }

    /// Commitments matching `filter`, soonest due first, each with its person's name.
    pub fn commitments_with_names(
        &self,
        filter: &CommitmentFilter,
    ) -> Result<Vec<(Commitment, String)>> {
        queries::commitments_with_names(&self.conn, filter)
    }

    /// Every commitment, by id.
    pub fn commitments_by_id(&self) -> Result<Vec<Commitment>> {
        queries::all_commitments(&self.conn)
    }

    /// Every person, by id.
    pub fn all_people(&self) -> Result<Vec<Person>> {
        queries::all_people(&self.conn)
    }

    /// Every conversation, by id.
    pub fn all_conversations(&self) -> Result<Vec<Conversation>> {
        queries::all_conversations(&self.conn)
    }

    /// Every campaign, by id.
    pub fn campaigns(&self) -> Result<Vec<Campaign>> {
        queries::campaigns(&self.conn)
    }

    /// Every shift, by id.
    pub fn shifts(&self) -> Result<Vec<Shift>> {
        queries::shifts(&self.conn)
    }

    /// This device's open shift, if any.
    pub fn current_shift(&self) -> Result<Option<String>> {
        meta_get(&self.conn, "current_shift")
    }

    /// The name this device records as canvasser.
    pub fn canvasser_name(&self) -> Result<String> {
        Ok(meta_get(&self.conn, "device_name")?.unwrap_or_else(|| DEFAULT_CANVASSER.to_string()))
    }

    /// Set the name this device records as canvasser.
    pub fn set_canvasser_name(&mut self, name: &str) -> Result<()> {
        let name = crate::model::required("name", name)?;
        meta_set(&self.conn, "device_name", &name)
    }

    /// Save the text of a draft under `key` (replacing what was there).
    pub fn save_draft(&self, key: &str, body: &str) -> Result<()> {
        self.conn.execute(
            "INSERT INTO drafts (key, body, updated_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (key) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at",
            (key, body, crate::model::format_time(chrono::Utc::now())),
        )?;
        Ok(())
    }

    /// The draft saved under `key`, if any.
    pub fn draft(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row("SELECT body FROM drafts WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()?)
    }

    /// The keys of the drafts whose key starts with `prefix`, in key order.
    pub fn draft_keys(&self, prefix: &str) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare("SELECT key FROM drafts WHERE substr(key, 1, length(?1)) = ?1 ORDER BY key")?;
        let keys = stmt
            .query_map([prefix], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<String>>>()?;
        Ok(keys)
    }

    /// Forget the draft under `key`.
    pub fn delete_draft(&self, key: &str) -> Result<()> {
        self.conn
            .execute("DELETE FROM drafts WHERE key = ?1", [key])?;
        Ok(())
    }

    /// How many local changes wait for a relay.
    pub fn pending_changes(&self) -> Result<u64> {
        Ok(self
            .conn
            .query_row("SELECT count(*) FROM outbox", [], |r| r.get::<_, i64>(0))?
            as u64)
    }

    /// The oldest `limit` changes waiting for a relay.
    pub fn outbox(&self, limit: usize) -> Result<Vec<OutboxItem>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, doc_id, change_hash, bytes FROM outbox ORDER BY seq LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit as i64], |r| {
            Ok(OutboxItem {
                seq: r.get(0)?,
                doc_id: r.get(1)?,
                change_hash: r.get(2)?,
                bytes: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Drop acknowledged changes from the outbox.
    pub fn acknowledge(&mut self, change_hashes: &[String]) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached("DELETE FROM outbox WHERE change_hash = ?1")?;
            for h in change_hashes {
                stmt.execute([h])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// This device's sync bookkeeping.
    pub fn sync_state(&self) -> Result<SyncState> {
        Ok(self.conn.query_row(
            "SELECT cursor, last_sync_at, last_error, relay_url, team_id, relay_device_id, token
             FROM sync_state WHERE id = 1",
            [],
            |r| {
                let link = match (r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?) {
                    (Some(relay_url), Some(team_id), Some(relay_device_id), Some(token)) => {
                        Some(RelayLink {
                            relay_url,
                            team_id,
                            relay_device_id,
                            token,
                        })
                    }
                    _ => None,
                };
                Ok(SyncState {
                    link,
                    cursor: r.get::<_, i64>(0)?.max(0) as u64,
                    last_sync_at: r.get(1)?,
                    last_error: r.get(2)?,
                })
            },
        )?)
    }

    /// Record the relay this device joined. Joining another team starts its log from the
    /// beginning; what this device holds stays and is sent there too.
    pub fn set_relay_link(&mut self, link: &RelayLink) -> Result<()> {
        self.conn.execute(
            "UPDATE sync_state SET relay_url = ?1, team_id = ?2, relay_device_id = ?3, token = ?4,
                 cursor = CASE WHEN team_id IS ?2 THEN cursor ELSE 0 END, last_error = NULL
             WHERE id = 1",
            (
                &link.relay_url,
                &link.team_id,
                &link.relay_device_id,
                &link.token,
            ),
        )?;
        Ok(())
    }

    /// Record the outcome of a sync attempt: success clears the error and stamps the time.
    pub fn record_sync_outcome(&self, error: Option<&str>) -> Result<()> {
        match error {
            None => self.conn.execute(
                "UPDATE sync_state SET last_sync_at = ?1, last_error = NULL WHERE id = 1",
                [crate::model::format_time(chrono::Utc::now())],
            )?,
            Some(e) => self
                .conn
                .execute("UPDATE sync_state SET last_error = ?1 WHERE id = 1", [e])?,
        };
        Ok(())
    }

    /// Copy what the write-ahead log holds into the database file, without waiting for readers.
    ///
    /// SQLite does this by itself inside a write once the log passes 1,000 pages, which makes
    /// that one save slow; the app calls this when it is idle (between conversations) so that
    /// saves rarely pay for it.
    pub fn checkpoint(&self) -> Result<()> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// The history of a person file, oldest change first, with device names where known.
    pub fn history(&self, person_id: &str) -> Result<Vec<crate::docs::history::HistoryEntry>> {
        let id = crate::ids::parse_id(person_id)?;
        let mut doc = match documents::load(&self.conn, &id, &self.actor)? {
            Some(l) if l.kind == Some(crate::docs::DocKind::Person) => l.doc,
            _ => {
                return Err(Error::NotFound { kind: "person", id });
            }
        };
        let names = self.writer_names()?;
        crate::docs::history::history(&mut doc, &|actor| names.get(actor).cloned())
    }

    /// Put a person file (or one record of it) back to how it was before a change; see
    /// [`Writer::restore`]. Returns whether anything changed.
    pub fn restore(&mut self, person_id: &str, before: &str, what: &RestoreTarget) -> Result<bool> {
        self.batch(|w| w.restore(person_id, before, what))
    }

    /// Every pulled change that was refused, newest first.
    pub fn quarantined(&self) -> Result<Vec<Quarantined>> {
        intake::quarantined(&self.conn)
    }

    /// The documents with pulled changes waiting for their dependencies, with how many wait.
    pub fn waiting_docs(&self) -> Result<Vec<(String, usize)>> {
        intake::waiting_docs(&self.conn)
    }

    /// The documents whose waiting changes should be asked for again: waiting since before
    /// `waiting_before` and not asked for since `asked_before`.
    pub fn docs_to_repair(&self, waiting_before: &str, asked_before: &str) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT w.doc_id FROM waiting w LEFT JOIN repairs r ON r.doc_id = w.doc_id
             GROUP BY w.doc_id
             HAVING min(w.received_at) < ?1 AND (max(r.asked_at) IS NULL OR max(r.asked_at) < ?2)
             ORDER BY min(w.rowid)",
        )?;
        let rows = stmt.query_map([waiting_before, asked_before], |r| r.get(0))?;
        Ok(rows.collect::<std::result::Result<Vec<String>, _>>()?)
    }

    /// Note that `doc_id` was asked for again now.
    pub fn mark_repaired(&self, doc_id: &str) -> Result<()> {
        self.conn.execute(
            "INSERT INTO repairs (doc_id, asked_at) VALUES (?1, ?2)
             ON CONFLICT (doc_id) DO UPDATE SET asked_at = excluded.asked_at",
            (doc_id, crate::model::format_time(chrono::Utc::now())),
        )?;
        Ok(())
    }

    /// Set the sync cursor back to the start of the team's log, so that the next sync pulls
    /// everything again (duplicates are no-ops; what was missing arrives).
    pub fn rewind_cursor(&self) -> Result<()> {
        self.conn
            .execute("UPDATE sync_state SET cursor = 0 WHERE id = 1", [])?;
        Ok(())
    }

    /// The names of the devices seen writing, by actor id (hex); this device included.
    pub fn writer_names(&self) -> Result<std::collections::HashMap<String, String>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT actor, name FROM writers")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        let mut names =
            rows.collect::<std::result::Result<std::collections::HashMap<String, String>, _>>()?;
        names.insert(self.actor.to_hex_string(), self.canvasser_name()?);
        Ok(names)
    }

    /// This device's Automerge actor id as bytes (what it declares to the relay).
    pub fn actor_bytes(&self) -> Vec<u8> {
        self.actor.to_bytes().to_vec()
    }

    /// The saved bytes of a stored document, for tests and tools.
    pub fn document_bytes(&self, doc_id: &str) -> Result<Option<Vec<u8>>> {
        documents::raw_bytes(&self.conn, doc_id)
    }
}

/// What a device records as canvasser until it is given a name.
pub const DEFAULT_CANVASSER: &str = "unnamed canvasser";

/// The Automerge actor of a device: the 16 bytes of its UUID.
fn actor_for(device_id: &str) -> ActorId {
    match uuid::Uuid::parse_str(device_id) {
        Ok(u) => ActorId::from(u.as_bytes().to_vec()),
        Err(_) => ActorId::from(device_id.as_bytes().to_vec()),
    }
}

pub(crate) fn meta_get(conn: &Connection, key: &str) -> Result<Option<String>> {
    Ok(conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()?)
}

pub(crate) fn meta_set(conn: &Connection, key: &str, value: &str) -> Result<()> {
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [key, value],
    )?;
    Ok(())
}

pub(crate) fn meta_delete(conn: &Connection, key: &str) -> Result<()> {
    conn.execute("DELETE FROM meta WHERE key = ?1", [key])?;
    Ok(())
}

#[cfg(test)]
mod tests;

#[cfg(all(test, unix))]
mod permission_tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    /// The permission bits, in octal as `ls` and `chmod` show them.
    fn mode(path: &Path) -> String {
        let mode = fs::metadata(path).expect("exists").permissions().mode();
        format!("{:o}", mode & 0o777)
    }

    fn check_modes(dir: &Path) {
        assert_eq!(mode(dir), "700", "the data directory");
        for suffix in ["", "-wal", "-shm"] {
            let file = dir.join(format!("{DB_FILE}{suffix}"));
            assert_eq!(mode(&file), "600", "{}", file.display());
        }
    }

    fn write_someone(store: &mut Store) {
        store
            .add_person(NewPerson {
                name: "Ada".into(),
                ..Default::default()
            })
            .expect("add");
    }

    #[test]
    fn the_data_directory_and_database_are_readable_by_the_user_only() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let dir = tmp.path().join("notebook");
        let mut store = Store::open(&dir).expect("open");
        write_someone(&mut store);
        // The WAL and shared-memory files exist while the store is open.
        check_modes(&dir);
    }

    #[test]
    fn a_notebook_left_open_to_others_is_tightened_when_opened() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let dir = tmp.path().join("notebook");
        let mut store = Store::open(&dir).expect("open");
        write_someone(&mut store);
        // As an older version left them: the umask's 0755 and 0644.
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).expect("chmod");
        for suffix in ["", "-wal", "-shm"] {
            let file = dir.join(format!("{DB_FILE}{suffix}"));
            fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).expect("chmod");
        }
        drop(store);
        let mut store = Store::open(&dir).expect("reopen");
        write_someone(&mut store);
        check_modes(&dir);
    }
}
