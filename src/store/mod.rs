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

mod ahead;
pub mod at_rest;
pub mod bundle;
mod columns;
pub mod compaction;
mod documents;
pub mod drafts;
pub mod elsewhere;
mod erasure;
mod files;
mod gather;
mod identity;
pub mod intake;
mod keys;
mod keys_cache;
mod meta;
mod migrations;
mod opening;
mod project;
mod queries;
mod refused;
mod room;
mod sequence;
mod sync_state;
mod trust;
pub mod walklists;
mod withheld;
mod writer;

use std::path::{Path, PathBuf};

use automerge::ActorId;
use rusqlite::{Connection, TransactionBehavior};

pub use ahead::{WorkedAhead, worked_ahead};
pub use bundle::Outgoing;
pub use documents::MergeReport;
pub use erasure::{ErasureProgress, ErasureRecord, SignAgain};
pub use files::DB_FILE;
pub use identity::Renewed;
pub use intake::{Incoming, IntakeReport, Pusher, Quarantined};
pub use keys::{JoinTrust, Joining, Rotation};
pub(crate) use meta::{meta_delete, meta_get, meta_set};
pub use migrations::LATEST as SCHEMA_VERSION;
pub use queries::{
    CommitmentFilter, DueCounts, DueFilter, DueWhen, FollowUpDue, PeopleChoices, PeopleFilter,
    PeoplePage,
};
pub use sync_state::{OutboxItem, PendingJoin, RelayLink, SyncState};
pub use trust::RefusedErasure;
pub use withheld::{SealedRecord, Withheld};
pub use writer::{RestoreTarget, Writer, default_follow_up};

/// A person file as it read after one change of it ([`Store::person_versions`]).
#[derive(Debug, Clone, serde::Serialize)]
pub struct PersonVersion {
    /// The change (hash).
    pub change: String,
    /// When it was made, by its writer's clock.
    pub at: String,
    /// The file after it.
    pub file: crate::model::PersonFile,
}

/// Bytes of a person's document held and not taken in ([`Store::held_not_taken_in`]).
#[derive(Debug, Clone, serde::Serialize)]
pub struct HeldBlob {
    /// `waiting` (a change waiting for the changes it builds on), `quarantine` (refused) or
    /// `awaiting_key` (sealed, waiting for its writer's key).
    pub kind: &'static str,
    /// The change's hash, or the blob's id.
    pub id: String,
    /// The device that pushed it, as the relay named it.
    pub pushed_by: Option<String>,
    /// When it arrived here.
    pub received_at: String,
    /// Why it was refused (quarantine).
    pub reason: Option<String>,
    /// Its bytes as they came, base64url (a change; or sealed, which nobody can read without
    /// the team's keys); empty for a change refused for want of room to wait, whose bytes are
    /// not kept (its document is asked for again).
    pub bytes: String,
}

use crate::error::{Error, Result};
use crate::ids::{self, Source};
use crate::model::{
    Campaign, CampaignPatch, Commitment, CommitmentPatch, CommitmentStatus, Conversation,
    ConversationPatch, NewCampaign, NewCommitment, NewConversation, NewPerson, Person, PersonFile,
    PersonPatch, Shift,
};

/// An open data directory.
pub struct Store {
    conn: Connection,
    dir: PathBuf,
    actor: ActorId,
    device_id: String,
    source: Source,
    /// The documents written last, kept loaded (see `documents::Kept`).
    kept: documents::KeptDocs,
    /// The team's keys as last read (see `keys_cache`).
    keys: keys_cache::KeysCache,
    /// The passphrase the notebook was opened with: encrypted at rest. Kept to check the one
    /// typed to change it ([`Store::change_passphrase`]; SQLCipher keeps the key derived from
    /// it for as long as the connection is open anyway).
    key: Option<at_rest::Passphrase>,
    /// The key sealing the page's copy of drafts could not be deleted after a passphrase
    /// change ([`Store::change_passphrase`]): it is deleted before it is given again, and not
    /// given while it cannot be (the old passphrase and a copy of the notebook taken before
    /// the change would open copies sealed under it).
    copy_key_stale: std::cell::Cell<bool>,
    /// Why this store holds no notebook any more: a passphrase change failed and the notebook
    /// could not be opened again ([`Store::change_passphrase`]). Every request is then
    /// answered [`Error::NotebookClosed`].
    closed: Option<String>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("dir", &self.dir)
            .field("device_id", &self.device_id)
            .finish_non_exhaustive()
    }
}

/// The key, in `meta`, of the key sealing the phone page's copy of drafts.
const PAGE_COPY_KEY: &str = "page_copy_key";

impl Store {
    /// Open (creating if needed) the data directory `dir`.
    ///
    /// Refuses a directory that holds files Groundwork did not write, a database of another
    /// application, and a database written by a newer Groundwork.
    ///
    /// In a browser (wasm32) `dir` names the directory in the store worker's OPFS pool, which
    /// holds nothing else; the checks of a directory on disk do not apply.
    ///
    /// A notebook encrypted at rest opens with the passphrase in `GROUNDWORK_PASSPHRASE` or the
    /// key store's (see [`at_rest`]); a new notebook is made encrypted when a passphrase is
    /// set there.
    pub fn open(dir: &Path) -> Result<Store> {
        Store::open_with(dir, None)
    }

    /// Open as [`Store::open`] does, with `passphrase` for a notebook encrypted at rest (or to
    /// make a new one encrypted); without one, the passphrase is looked for as `open` does. A
    /// plain notebook opens plain whatever is given: [`Store::encrypt_at_rest`] encrypts it.
    pub fn open_with(dir: &Path, given: Option<&at_rest::Passphrase>) -> Result<Store> {
        #[cfg(not(target_arch = "wasm32"))]
        let passphrase = {
            files::check_dir(dir)?;
            let new = std::fs::metadata(dir.join(files::DB_FILE))
                .map(|m| m.len() == 0)
                .unwrap_or(true);
            let encrypted = at_rest::is_encrypted(dir)?;
            files::restrict_to_owner(dir)?;
            if new || encrypted {
                // A new notebook has no key in the key store yet: only a passphrase given or
                // set in the environment makes it encrypted.
                let found = given.cloned().or_else(|| match encrypted {
                    true => at_rest::Passphrase::find(dir),
                    false => at_rest::Passphrase::from_env(),
                });
                match found {
                    None if encrypted => {
                        return Err(Error::Locked {
                            path: dir.to_path_buf(),
                        });
                    }
                    Some(p) if new => {
                        p.check_strength()?;
                        Some(p)
                    }
                    found => found,
                }
            } else {
                None
            }
        };
        // In the browser an encrypted notebook is a file of its own, opened only with the
        // passphrase typed at the start (`at_rest::in_place`).
        #[cfg(target_arch = "wasm32")]
        let passphrase = match at_rest::in_place::settle(dir)? {
            true => Some(given.cloned().ok_or_else(|| Error::Locked {
                path: dir.to_path_buf(),
            })?),
            false => None,
        };
        let file = files::notebook_file(passphrase.is_some());
        let mut conn = files::open_connection(dir, file, passphrase.as_ref())?;
        // Opened, so no encryption or decryption is running on it: a copy one left when it was
        // cut short goes (a decryption's holds the notebook's words in the clear).
        #[cfg(not(target_arch = "wasm32"))]
        at_rest::remove_copies(dir)?;
        migrations::migrate(&mut conn)?;
        project::prepare_search(&conn)?;
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
            kept: documents::KeptDocs::default(),
            keys: keys_cache::KeysCache::default(),
            key: passphrase,
            copy_key_stale: std::cell::Cell::new(false),
            closed: None,
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

    /// This device's id (also the Automerge actor id of every change made here), as it was
    /// when this store last wrote.
    pub fn device_id(&self) -> &str {
        &self.device_id
    }

    /// The SQLite connection, for read-only queries by other layers (reports, benchmarks).
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Run `f` with a [`Writer`] inside one transaction: all of its writes land, or none.
    pub fn batch<T>(&mut self, f: impl FnOnce(&mut Writer<'_>) -> Result<T>) -> Result<T> {
        self.check_open()?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Read under the write lock: a join by another store on this directory either
        // committed before (and is taken up) or waits for this write.
        follow_identity(&tx, &mut self.device_id, &mut self.actor, &mut self.kept)?;
        let mut w = Writer::new(
            &tx,
            &self.actor,
            &mut self.source,
            &mut self.kept,
            &self.keys,
        );
        let out = f(&mut w)?;
        project::flush_search(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// Add a person; returns their id.
    pub fn add_person(&mut self, new: NewPerson) -> Result<String> {
        self.batch(|w| w.add_person(new))
    }

    /// Add a person and forget the draft they were typed in, in one transaction (as
    /// [`Store::record_conversation_from_draft`]): a page reloaded between the two could
    /// otherwise offer the draft again, and saving it would add the person twice.
    pub fn add_person_from_draft(&mut self, new: NewPerson, draft_key: &str) -> Result<String> {
        self.add_person_once(new, draft_key, None)
    }

    /// [`Store::add_person_from_draft`], made at most once for the form's `save_key` (when it
    /// has one): saved again (its draft brought back after a reload just after the save), it
    /// adds nobody and returns the person added the first time.
    pub fn add_person_once(
        &mut self,
        new: NewPerson,
        draft_key: &str,
        save_key: Option<&str>,
    ) -> Result<String> {
        self.batch(|w| {
            let earlier = match save_key {
                Some(k) => w.saved_as(k)?,
                None => None,
            };
            let id = match earlier {
                Some(id) => id,
                None => w.add_person(new)?,
            };
            if let Some(k) = save_key {
                w.saved(k, &id)?;
            }
            w.delete_draft(draft_key)?;
            Ok(id)
        })
    }

    /// Edit a person's details.
    pub fn edit_person(&mut self, id: &str, patch: PersonPatch) -> Result<()> {
        self.batch(|w| w.edit_person(id, patch))
    }

    /// Edit a person's details as typed in the draft `draft_key`, and forget the draft in the
    /// same transaction: both happen, or neither.
    pub fn edit_person_from_draft(
        &mut self,
        id: &str,
        patch: PersonPatch,
        draft_key: &str,
    ) -> Result<()> {
        self.batch(|w| {
            w.edit_person(id, patch)?;
            w.delete_draft(draft_key)
        })
    }

    /// Change a conversation's fields; writing a field settles any conflict on it. An id held
    /// by several people's files (a copy) is refused as ambiguous: see
    /// [`Store::edit_conversation_of`].
    pub fn edit_conversation(&mut self, id: &str, patch: ConversationPatch) -> Result<()> {
        self.batch(|w| w.edit_conversation(None, id, patch))
    }

    /// [`Store::edit_conversation`] of the conversation in person `person_id`'s file.
    pub fn edit_conversation_of(
        &mut self,
        person_id: &str,
        id: &str,
        patch: ConversationPatch,
    ) -> Result<()> {
        self.batch(|w| w.edit_conversation(Some(person_id), id, patch))
    }

    /// Change a commitment's words or due date; writing a field settles any conflict on it. An
    /// id held by several people's files is refused as ambiguous: see
    /// [`Store::edit_commitment_of`].
    pub fn edit_commitment(&mut self, id: &str, patch: CommitmentPatch) -> Result<()> {
        self.batch(|w| w.edit_commitment(None, id, patch))
    }

    /// [`Store::edit_commitment`] of the commitment in person `person_id`'s file.
    pub fn edit_commitment_of(
        &mut self,
        person_id: &str,
        id: &str,
        patch: CommitmentPatch,
    ) -> Result<()> {
        self.batch(|w| w.edit_commitment(Some(person_id), id, patch))
    }

    /// [`Store::edit_conversation_of`], forgetting the correction's draft `draft_key` (if any)
    /// in the same transaction: a draft left behind a saved correction would later restore
    /// values older than the file's.
    pub fn edit_conversation_from_draft(
        &mut self,
        person_id: &str,
        id: &str,
        patch: ConversationPatch,
        draft_key: Option<&str>,
    ) -> Result<()> {
        self.batch(|w| {
            w.edit_conversation(Some(person_id), id, patch)?;
            draft_key.map_or(Ok(()), |k| w.delete_draft(k))
        })
    }

    /// [`Store::edit_commitment_of`], forgetting the correction's draft `draft_key` (if any) in
    /// the same transaction.
    pub fn edit_commitment_from_draft(
        &mut self,
        person_id: &str,
        id: &str,
        patch: CommitmentPatch,
        draft_key: Option<&str>,
    ) -> Result<()> {
        self.batch(|w| {
            w.edit_commitment(Some(person_id), id, patch)?;
            draft_key.map_or(Ok(()), |k| w.delete_draft(k))
        })
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

    /// Record a conversation and forget the draft it was typed in, in one transaction: the
    /// draft goes exactly when the conversation is stored (and stays if it cannot be), and a
    /// save costs one commit, not two.
    pub fn record_conversation_from_draft(
        &mut self,
        new: NewConversation,
        commitments: Vec<NewCommitment>,
        draft_key: &str,
    ) -> Result<(String, Vec<String>)> {
        self.record_conversation_once(new, commitments, draft_key, None)
    }

    /// [`Store::record_conversation_from_draft`], made at most once for the form's `save_key`
    /// (when it has one): saved again (its draft brought back after a reload just after the
    /// save), it records nothing and returns the conversation recorded the first time (with no
    /// commitment ids: they were made then).
    pub fn record_conversation_once(
        &mut self,
        new: NewConversation,
        commitments: Vec<NewCommitment>,
        draft_key: &str,
        save_key: Option<&str>,
    ) -> Result<(String, Vec<String>)> {
        self.batch(|w| {
            let earlier = match save_key {
                Some(k) => w.saved_as(k)?,
                None => None,
            };
            let out = match earlier {
                Some(id) => (id, Vec::new()),
                None => w.record_conversation(new, commitments)?,
            };
            if let Some(k) = save_key {
                w.saved(k, &out.0)?;
            }
            w.delete_draft(draft_key)?;
            Ok(out)
        })
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

    /// Mark a commitment open, kept, broken or cancelled. An id held by several people's files
    /// is refused as ambiguous: see [`Store::set_commitment_status_of`].
    pub fn set_commitment_status(&mut self, id: &str, status: CommitmentStatus) -> Result<()> {
        self.batch(|w| w.set_commitment_status(None, id, status))
    }

    /// [`Store::set_commitment_status`] of the commitment in person `person_id`'s file.
    pub fn set_commitment_status_of(
        &mut self,
        person_id: &str,
        id: &str,
        status: CommitmentStatus,
    ) -> Result<()> {
        self.batch(|w| w.set_commitment_status(Some(person_id), id, status))
    }

    /// Create a campaign; returns its id.
    pub fn add_campaign(&mut self, new: NewCampaign) -> Result<String> {
        self.batch(|w| w.add_campaign(new))
    }

    /// Change a campaign's name, issue or targets.
    pub fn edit_campaign(&mut self, id: &str, patch: CampaignPatch) -> Result<()> {
        self.batch(|w| w.edit_campaign(id, patch))
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

    /// Start a shift working through walk list `walklist_id`; returns its id.
    pub fn start_shift_on(
        &mut self,
        place: &str,
        campaign_id: Option<&str>,
        canvasser: Option<&str>,
        walklist_id: Option<&str>,
    ) -> Result<String> {
        self.batch(|w| w.start_shift_on(place, campaign_id, canvasser, walklist_id))
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
        self.erased_if_gone(queries::person_file(&self.conn, id))
    }

    /// `read`, unless it found nothing under an id that was erased (a screen left open on it):
    /// then say so, not "no such …".
    fn erased_if_gone<T>(&self, read: Result<T>) -> Result<T> {
        match read {
            Err(Error::NotFound { id, .. }) if self.is_erased(&id)? => Err(Error::Erased { id }),
            other => other,
        }
    }

    /// One conversation (`Error::Ambiguous` for an id several people's files hold: see
    /// [`Store::conversation_of`]).
    pub fn conversation(&self, id: &str) -> Result<Conversation> {
        queries::conversation(&self.conn, id, None)
    }

    /// One conversation, of person `person`'s file when given: needed only where a device of
    /// the team copied it into another file under the same id (`Error::Ambiguous` without).
    pub fn conversation_of(&self, id: &str, person: Option<&str>) -> Result<Conversation> {
        queries::conversation(&self.conn, id, person)
    }

    /// One commitment (`Error::Ambiguous` for an id several people's files hold: see
    /// [`Store::commitment_of`]).
    pub fn commitment(&self, id: &str) -> Result<Commitment> {
        queries::commitment(&self.conn, id, None)
    }

    /// One commitment, of person `person`'s file when given (see [`Store::conversation_of`]).
    pub fn commitment_of(&self, id: &str, person: Option<&str>) -> Result<Commitment> {
        queries::commitment(&self.conn, id, person)
    }

    /// People, most recently changed first.
    pub fn list_people(&self, limit: usize) -> Result<Vec<Person>> {
        queries::recent_people(&self.conn, limit)
    }

    /// People matching `query` (names, contact details, places, workplaces, issues, notes,
    /// stories), best match first. Each word of the query matches as a prefix.
    pub fn search(&self, query: &str, limit: usize) -> Result<Vec<Person>> {
        self.catch_up_search()?;
        queries::search(&self.conn, query, limit)
    }

    /// Write the search-index rows that saves left out of date (see
    /// `project::person_written` and `project::person_made`), in a transaction of their own; returns how many. Searches
    /// do it first, and [`Store::checkpoint`] (the app's idle work) does it too.
    pub fn catch_up_search(&self) -> Result<usize> {
        let stale: bool = self
            .conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM search_stale)")?
            .query_row([], |r| r.get(0))?;
        if !stale {
            return Ok(0);
        }
        let tx = rusqlite::Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
        let n = project::catch_up_search(&tx, &self.actor)?;
        tx.commit()?;
        Ok(n)
    }

    /// The people matching `filter` (search box and filters combined) from the `offset`th
    /// on, at most `limit`, with how many match and how many the notebook holds.
    pub fn people_page(
        &self,
        filter: &PeopleFilter,
        offset: usize,
        limit: usize,
    ) -> Result<PeoplePage> {
        if !filter.query.trim().is_empty() {
            self.catch_up_search()?;
        }
        queries::people_page(&self.conn, filter, offset, limit)
    }

    /// The areas, tags and issues the People screen's filters offer.
    pub fn people_choices(&self) -> Result<PeopleChoices> {
        queries::people_choices(&self.conn)
    }

    /// How many open commitments are overdue, due this week, and due later (or undated).
    pub fn due_counts(&self, filter: &DueFilter) -> Result<DueCounts> {
        queries::due_counts(&self.conn, filter)
    }

    /// One page of the open commitments due `when`, soonest first, each with its person.
    pub fn due_page(
        &self,
        filter: &DueFilter,
        when: DueWhen,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<(Commitment, Person)>> {
        queries::due_page(&self.conn, filter, when, offset, limit)
    }

    /// How many people have a follow-up due on or before `by` (their latest conversation asks
    /// for one; with `canvassers`, only where it was held under one of their names, spaces
    /// around and capitals aside), and a page of them from the `offset`th on, soonest due first.
    pub fn follow_ups_page(
        &self,
        by: chrono::NaiveDate,
        canvassers: Option<&[String]>,
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<FollowUpDue>)> {
        queries::follow_ups_page(&self.conn, by, canvassers, offset, limit)
    }

    /// Load person file `id` to be kept loaded for the next write to it, unless it already is
    /// (see `documents::Kept`): the form for a conversation with the person asks for this as
    /// it opens, so that saving the conversation does not pay for loading the file (about
    /// 15 % of a save, BENCHMARKS.md). Nothing is written; a person who is not here is "not found".
    pub fn keep_loaded(&mut self, id: &str) -> Result<()> {
        let id = crate::ids::parse_id(id)?;
        self.refresh_identity()?;
        let not_found = || Error::NotFound {
            kind: "person",
            id: id.clone(),
        };
        // One read: the document kept is made from exactly the bytes it is kept as.
        let person = Some(crate::docs::DocKind::Person);
        let saved = match documents::stored(&self.conn, &id)? {
            Some((kind, saved)) if kind == person => saved,
            _ => return Err(not_found()),
        };
        if !self.kept.holds(&id, crate::docs::DocKind::Person, &saved) {
            let doc = documents::from_bytes(&id, &saved, &self.actor)?;
            self.kept.put(documents::Kept {
                doc_id: id,
                kind: crate::docs::DocKind::Person,
                doc,
                saved,
            });
        }
        Ok(())
    }

    /// The conversation kind used most in this device's open shift so far, if one is open
    /// and has conversations.
    pub fn usual_kind(&self) -> Result<Option<crate::model::ConversationKind>> {
        match self.current_shift()? {
            Some(shift) => queries::usual_kind(&self.conn, &shift),
            None => Ok(None),
        }
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

    /// Campaign `id`.
    pub fn campaign(&self, id: &str) -> Result<Campaign> {
        queries::campaign(&self.conn, id)
    }

    /// Every campaign, by id.
    pub fn campaigns(&self) -> Result<Vec<Campaign>> {
        queries::campaigns(&self.conn)
    }

    /// Import a street list into the walk list called `name` (made when there is none);
    /// importing the same file again adds nothing.
    pub fn import_walklist(
        &mut self,
        name: &str,
        source: Option<&str>,
        imported: &crate::walk::import::Imported,
    ) -> Result<walklists::ImportReport> {
        self.batch(|w| w.import_walklist(name, source, imported))
    }

    /// Mark doors with one outcome; returns the visits recorded. A door id several lists hold
    /// (a copy) is refused as ambiguous: see [`Store::mark_doors_on`].
    pub fn mark_doors(
        &mut self,
        door_ids: &[String],
        mark: &walklists::Mark,
    ) -> Result<Vec<crate::model::Visit>> {
        self.batch(|w| w.mark_doors(None, door_ids, mark))
    }

    /// [`Store::mark_doors`] of doors on walk list `list`.
    pub fn mark_doors_on(
        &mut self,
        list: &str,
        door_ids: &[String],
        mark: &walklists::Mark,
    ) -> Result<Vec<crate::model::Visit>> {
        self.batch(|w| w.mark_doors(Some(list), door_ids, mark))
    }

    /// Walk list `id`: its doors in walking order with their status, and its progress.
    /// A list a lead deleted (an erasure) is said to be erased, not unknown.
    pub fn walklist(&self, id: &str) -> Result<walklists::WalkListView> {
        self.erased_if_gone(walklists::walklist(&self.conn, id))
    }

    /// Every door visit of every walk list, by id.
    pub fn door_visits(&self) -> Result<Vec<crate::model::Visit>> {
        walklists::all_visits(&self.conn)
    }

    /// Every door of every walk list with its status, by list then walking order.
    pub fn all_doors(&self) -> Result<Vec<walklists::DoorView>> {
        let mut out = Vec::new();
        for list in self.walklists()? {
            out.extend(walklists::walklist(&self.conn, &list.list.id)?.doors);
        }
        Ok(out)
    }

    /// Every walk list with its progress, by name.
    pub fn walklists(&self) -> Result<Vec<walklists::WalkListSummary>> {
        walklists::walklists(&self.conn)
    }

    /// Every shift, by id.
    pub fn shifts(&self) -> Result<Vec<Shift>> {
        queries::shifts(&self.conn)
    }

    /// This device's open shift, if any.
    pub fn current_shift(&self) -> Result<Option<String>> {
        meta_get(&self.conn, "current_shift")
    }

    /// The name this device records as canvasser: the one given, or [`DEFAULT_CANVASSER`].
    pub fn canvasser_name(&self) -> Result<String> {
        Ok(self
            .given_canvasser_name()?
            .unwrap_or_else(|| DEFAULT_CANVASSER.to_string()))
    }

    /// The canvasser's name, if one was given on this device.
    pub fn given_canvasser_name(&self) -> Result<Option<String>> {
        meta_get(&self.conn, CANVASSER_KEY)
    }

    /// Set the name this device records as canvasser (the person holding it, not the device:
    /// see [`Store::set_device_name`]).
    /// The name given before, when it differs, is kept among [`Store::my_canvasser_names`]: the
    /// conversations held under it stay this device's (Due's "Mine"); so is
    /// [`DEFAULT_CANVASSER`] when no name was given before (what was recorded then is held
    /// under it).
    pub fn set_canvasser_name(&mut self, name: &str) -> Result<()> {
        let name = crate::model::required("name", name)?;
        let before = self
            .given_canvasser_name()?
            .unwrap_or_else(|| DEFAULT_CANVASSER.to_string());
        let tx = self.conn.unchecked_transaction()?;
        if !same_canvasser(&before, &name) {
            let mut earlier = self.earlier_canvasser_names()?;
            earlier.retain(|e| !same_canvasser(e, &before) && !same_canvasser(e, &name));
            earlier.insert(0, before);
            earlier.truncate(EARLIER_NAMES_KEPT);
            meta_set(&tx, EARLIER_NAMES_KEY, &serde_json::to_string(&earlier)?)?;
        }
        meta_set(&tx, CANVASSER_KEY, &name)?;
        meta_set(&tx, NAME_ASKED_KEY, "1")?;
        tx.commit()?;
        Ok(())
    }

    /// Someone else now uses this device (a phone handed to the next canvasser): `name` is
    /// recorded as canvasser from now on and the names given before are forgotten, so that Due's
    /// "Mine" is what the new canvasser holds, not the last holder's. Nothing recorded changes.
    pub fn hand_over(&mut self, name: &str) -> Result<()> {
        let name = crate::model::required("name", name)?;
        let tx = self.conn.unchecked_transaction()?;
        tx.execute("DELETE FROM meta WHERE key = ?1", [EARLIER_NAMES_KEY])?;
        meta_set(&tx, CANVASSER_KEY, &name)?;
        meta_set(&tx, NAME_ASKED_KEY, "1")?;
        tx.commit()?;
        Ok(())
    }

    /// Every name this device's canvasser has recorded under: the name now (or
    /// [`DEFAULT_CANVASSER`] before one is given), then the names given before it, latest first.
    /// Due's "Mine" is the conversations held under any of them.
    pub fn my_canvasser_names(&self) -> Result<Vec<String>> {
        let mut names = vec![self.canvasser_name()?];
        names.extend(self.earlier_canvasser_names()?);
        Ok(names)
    }

    /// The names given before the one now, latest first (an unreadable list is none).
    fn earlier_canvasser_names(&self) -> Result<Vec<String>> {
        Ok(meta_get(&self.conn, EARLIER_NAMES_KEY)?
            .and_then(|j| serde_json::from_str(&j).ok())
            .unwrap_or_default())
    }

    /// The canvasser chose not to give a name when asked (the app asks once, at first start).
    pub fn skip_canvasser_name(&mut self) -> Result<()> {
        meta_set(&self.conn, NAME_ASKED_KEY, "1")
    }

    /// Whether the canvasser's name has been asked for (given or skipped): the app asks at
    /// first start only.
    pub fn canvasser_name_asked(&self) -> Result<bool> {
        Ok(meta_get(&self.conn, NAME_ASKED_KEY)?.is_some()
            || self.given_canvasser_name()?.is_some())
    }

    /// This device's name as the team's relay knows it ("Sam's phone"), once it has joined.
    pub fn device_name(&self) -> Result<Option<String>> {
        meta_get(&self.conn, DEVICE_KEY)
    }

    /// Name this device (joining a team does); the canvasser's name is not changed.
    pub fn set_device_name(&mut self, name: &str) -> Result<()> {
        let name = crate::model::required("device name", name)?;
        meta_set(&self.conn, DEVICE_KEY, &name)
    }

    /// Encrypt this notebook at rest with `passphrase` (see [`at_rest`]); the store is closed,
    /// and opens again with the passphrase. A notebook encrypted already is refused.
    pub fn encrypt_at_rest(self, passphrase: &at_rest::Passphrase) -> Result<()> {
        if self.key.is_some() {
            return Err(Error::AlreadyEncrypted {
                path: self.dir.clone(),
            });
        }
        at_rest::encrypt(self.conn, &self.dir, passphrase)
    }

    /// Decrypt this notebook, encrypted at rest, back into a plain file (see
    /// [`at_rest`]'s `decrypt`); the store is closed, and opens again with no passphrase. A
    /// plain notebook is refused.
    pub fn decrypt_at_rest(self) -> Result<()> {
        if self.key.is_none() {
            return Err(Error::NotEncrypted {
                path: self.dir.clone(),
            });
        }
        // The search rows waiting in this connection's memory are written first: they would
        // go with it.
        self.catch_up_search()?;
        at_rest::decrypt(self.conn, &self.dir)
    }

    /// Encrypt this notebook at rest with `passphrase` while it stays open, as the phone web
    /// app does (its one connection lives as long as the app; see [`at_rest::in_place`]): the
    /// notebook is copied into an encrypted file, which this store uses from then on, and the
    /// plain file is deleted. A failure leaves the plain notebook in use, as it was.
    pub fn encrypt_in_place(&mut self, passphrase: &at_rest::Passphrase) -> Result<()> {
        if self.key.is_some() {
            return Err(Error::AlreadyEncrypted {
                path: self.dir.clone(),
            });
        }
        // The search rows waiting in this connection's memory are written first: they would
        // go with it.
        self.catch_up_search()?;
        let sealed = at_rest::in_place::seal(&self.conn, &self.dir, passphrase)?;
        // Nothing that can fail between the mark (in `seal`) and the swap.
        let plain = std::mem::replace(&mut self.conn, sealed);
        self.key = Some(passphrase.clone());
        drop(plain);
        // A key of the page's copies left from an earlier encryption (kept in the clear since
        // it was decrypted) is not used again: a new one is made when the page asks.
        let _ = meta_delete(&self.conn, PAGE_COPY_KEY);
        // The notebook is encrypted from here whatever follows: plain files left by a failure
        // now go at the next start (`at_rest::in_place::settle`), before anything opens the
        // notebook, so the request succeeds (failing it would tell the user the passphrase did
        // not take, and the lock screen would then ask for it).
        let _ = at_rest::in_place::remove_plain(&self.dir);
        Ok(())
    }

    /// That this notebook is encrypted at rest and `current` is the passphrase it opens with
    /// (`NotEncrypted`, `WrongCurrentPassphrase`), before a change to its encryption.
    fn check_current(&self, current: &at_rest::Passphrase) -> Result<()> {
        let Some(key) = &self.key else {
            return Err(Error::NotEncrypted {
                path: self.dir.clone(),
            });
        };
        if !at_rest::is_current(&self.conn, key, current)? {
            return Err(Error::WrongCurrentPassphrase);
        }
        Ok(())
    }

    /// Decrypt this notebook, encrypted at rest, while it stays open, as the phone web app does
    /// (see [`at_rest::in_place`]'s `open_up`), `current` being the passphrase it opens with:
    /// the notebook is copied into a plain file, which this store uses from then on, and the
    /// encrypted files are deleted. A failure leaves the encrypted notebook in use, as it was.
    pub fn decrypt_in_place(&mut self, current: &at_rest::Passphrase) -> Result<()> {
        self.check_current(current)?;
        // The search rows waiting in this connection's memory are written first: they would
        // go with it.
        self.catch_up_search()?;
        let plain = at_rest::in_place::open_up(&self.conn, &self.dir)?;
        // Nothing that can fail between the mark (in `open_up`) and the swap.
        let sealed = std::mem::replace(&mut self.conn, plain);
        self.key = None;
        drop(sealed);
        // The key of the page's sealed copies came along in the clear: it must not seal the
        // copies of a notebook encrypted again (someone may have copied the storage meanwhile).
        let _ = meta_delete(&self.conn, PAGE_COPY_KEY);
        // The notebook is in the clear from here whatever follows: encrypted files left by a
        // failure go at the next start (`at_rest::in_place::settle`).
        let _ = at_rest::in_place::remove_sealed(&self.dir);
        Ok(())
    }

    /// The raw key of this notebook, encrypted at rest, if `typed` is its passphrase (for the
    /// phone's screen lock to keep: opening with it skips the passphrase's derivation; see
    /// `at_rest::raw_key`): `NotEncrypted` for a plain notebook, `WrongCurrentPassphrase` for
    /// another passphrase.
    pub fn raw_key(&self, typed: &at_rest::Passphrase) -> Result<at_rest::Passphrase> {
        let Some(key) = &self.key else {
            return Err(Error::NotEncrypted {
                path: self.dir.clone(),
            });
        };
        at_rest::current_raw_key(&self.conn, key, typed)?.ok_or(Error::WrongCurrentPassphrase)
    }

    /// Change the passphrase of this notebook, encrypted at rest, from `current` (which must be
    /// the one it was opened with) to `new`, while it stays open (see `at_rest::change_key`:
    /// every page is encrypted again in place, in one transaction). Nothing else may have the
    /// notebook open. A failure, or a crash on the way, leaves the notebook under `current`.
    pub fn change_passphrase(
        &mut self,
        current: &at_rest::Passphrase,
        new: &at_rest::Passphrase,
    ) -> Result<()> {
        self.check_current(current)?;
        new.check_strength()?;
        if new.same_as(current) {
            return Err(Error::SamePassphrase);
        }
        // The search rows waiting in this connection's memory are written first: a failure
        // below closes it.
        self.catch_up_search()?;
        let changed = at_rest::change_key(&self.conn, &self.dir, new);
        if let Err(e) = changed {
            // Refused before the rekey began: the connection is as it was.
            if matches!(e, Error::NotebookBusy { .. }) {
                return Err(e);
            }
            let dir = self.dir.clone();
            let file = files::notebook_file(true);
            self.open_again(e, current, new, |key| {
                files::open_connection(&dir, file, Some(key))
            })?;
        }
        self.key = Some(new.clone());
        // Copies sealed from now on are sealed under a new key (the page's copy is sealed
        // again under it: `FromStore::CopyKey`), so that the old passphrase and a copy of the
        // notebook taken before do not open them. The change has taken effect whatever follows
        // (as after encrypting or decrypting in place): an old key that cannot be deleted now
        // (a full phone) does not fail it, which would tell the user the passphrase the
        // notebook now opens with was refused; it is deleted before a key is given again, and
        // none is given until it is (`page_copy_key`).
        if meta_delete(&self.conn, PAGE_COPY_KEY).is_err() {
            self.copy_key_stale.set(true);
        }
        Ok(())
    }

    /// After a rekey that failed (`failed`; see [`Store::change_passphrase`]): SQLCipher would
    /// go on writing under the new key after a rekey that failed (and was rolled back), so the
    /// connection is closed and the notebook opened again (`open`: its file opened under a
    /// key) under the key that opens it: `current`, and then `failed` is the answer, or `new`
    /// (the change landed after all: what failed came after its commit), and then the change is
    /// done. Should it open under neither (a storage error), the store holds no notebook from
    /// then on and every request is answered [`Error::NotebookClosed`], rather than run on a
    /// database with nothing in it.
    fn open_again(
        &mut self,
        failed: Error,
        current: &at_rest::Passphrase,
        new: &at_rest::Passphrase,
        open: impl Fn(&at_rest::Passphrase) -> Result<Connection>,
    ) -> Result<()> {
        // Closed before anything else can fail: nothing is written on the failed connection.
        self.closed = Some(failed.to_string());
        if let Ok(nothing) = Connection::open_in_memory() {
            drop(std::mem::replace(&mut self.conn, nothing));
        }
        let reopened = match open(current) {
            Ok(conn) => Ok((conn, current)),
            Err(Error::WrongPassphrase { .. }) => open(new).map(|conn| (conn, new)),
            Err(other) => Err(other),
        }
        .and_then(|(conn, key)| {
            project::prepare_search(&conn)?;
            Ok((conn, key))
        });
        match reopened {
            Ok((conn, key)) => {
                self.conn = conn;
                self.key = Some(key.clone());
                self.closed = None;
                if key.same_as(new) {
                    Ok(())
                } else {
                    Err(failed)
                }
            }
            Err(again) => {
                self.closed = Some(format!("{failed}; then: {again}"));
                self.check_open()
            }
        }
    }

    /// [`Error::NotebookClosed`] once this store holds no notebook (a passphrase change failed
    /// and the notebook could not be opened again: [`Store::change_passphrase`]); every request
    /// asks first (`service::handle`).
    pub fn check_open(&self) -> Result<()> {
        match &self.closed {
            Some(why) => Err(Error::NotebookClosed { why: why.clone() }),
            None => Ok(()),
        }
    }

    /// Whether this store holds no notebook any more ([`Store::check_open`]).
    pub fn is_closed(&self) -> bool {
        self.closed.is_some()
    }

    /// The key sealing the phone page's own copy of drafts ([`crate::crypto::local_copy`]) while
    /// this notebook is encrypted at rest: made at the first asking and kept in the notebook
    /// (so encrypted with it). None for a notebook in the clear, whose drafts' copy is too.
    pub fn page_copy_key(&self) -> Result<Option<[u8; 32]>> {
        self.check_open()?;
        if self.key.is_none() {
            return Ok(None);
        }
        if self.copy_key_stale.get() {
            // The key from before the last passphrase change, which its deletion left: none is
            // given until it goes (the page then keeps no copy).
            meta_delete(&self.conn, PAGE_COPY_KEY).map_err(|e| Error::DataDir {
                path: self.dir.clone(),
                source: std::io::Error::other(format!(
                    "the key of the page's copy of drafts could not be renewed after the passphrase change ({e}); the page keeps no copy of drafts until it is"
                )),
            })?;
            self.copy_key_stale.set(false);
        }
        if let Some(hex) = meta_get(&self.conn, PAGE_COPY_KEY)? {
            // A key that does not read is not replaced: copies sealed under it would be lost.
            return intake::unhex_strict(&hex)
                .and_then(|bytes| <[u8; 32]>::try_from(bytes.as_slice()).ok())
                .map(Some)
                .ok_or_else(|| Error::DataDir {
                    path: self.dir.clone(),
                    source: std::io::Error::other(
                        "the key of the page's copy of drafts does not read",
                    ),
                });
        }
        let key = crate::crypto::random::<32>().map_err(Error::from)?;
        meta_set(&self.conn, PAGE_COPY_KEY, &intake::hex(&key))?;
        Ok(Some(key))
    }

    /// Whether this notebook is encrypted at rest: it was opened with a key.
    pub fn encrypted_at_rest(&self) -> bool {
        self.key.is_some()
    }

    /// Catch the search index up with the last saves ([`Store::catch_up_search`]), forget the
    /// notes of forms saved long ago ([`Store::prune_saved_notes`]), then copy what the
    /// write-ahead log holds into the database file, without waiting for readers.
    ///
    /// SQLite does this by itself inside a write once the log passes 1,000 pages, which makes
    /// that one save slow; the app calls this when it is idle (between conversations) so that
    /// saves rarely pay for it.
    ///
    /// After an erasure whose checkpoint could not finish, this one truncates the log instead
    /// ([`Store::scrub`]).
    pub fn checkpoint(&self) -> Result<()> {
        self.check_open()?;
        self.catch_up_search()?;
        self.prune_saved_notes()?;
        if self.scrub_pending()? {
            return self.scrub();
        }
        self.conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// Person `person_id`'s id as stored and their document, loaded (not found unless it is a
    /// person's).
    fn person_document(&self, person_id: &str) -> Result<(String, automerge::AutoCommit)> {
        let id = crate::ids::parse_id(person_id)?;
        match documents::load(&self.conn, &id, &self.actor)? {
            Some(l) if l.kind == Some(crate::docs::DocKind::Person) => Ok((id, l.doc)),
            _ => Err(Error::NotFound { kind: "person", id }),
        }
    }

    /// The history of a person file, oldest change first, with device names where known.
    pub fn history(&self, person_id: &str) -> Result<Vec<crate::docs::history::HistoryEntry>> {
        let (_, mut doc) = self.person_document(person_id)?;
        let names = self.writer_names()?;
        crate::docs::history::history(&mut doc, &|actor| names.get(actor).cloned())
    }

    /// Who wrote each value of the fields that devices wrote at once in person `person_id`'s
    /// file (the values as text, the devices by name where this notebook knows it), so that
    /// whoever settles a conflict sees whose word each value is.
    pub fn conflict_writers(&self, person_id: &str) -> Result<Vec<ConflictWriter>> {
        let (id, doc) = self.person_document(person_id)?;
        let names = self.writer_names()?;
        Ok(crate::docs::person::conflict_writers(&doc, &id)?
            .into_iter()
            .map(|w| ConflictWriter {
                record: w.record,
                field: w.field,
                value: w.value.to_text(),
                device: names.get(&w.actor).cloned(),
            })
            .collect())
    }

    /// The person file as it read after each change of it, oldest first (for a subject access
    /// request: every value it ever held, which the history's edits name without).
    pub fn person_versions(&self, person_id: &str) -> Result<Vec<PersonVersion>> {
        let (id, mut doc) = self.person_document(person_id)?;
        let changes: Vec<(automerge::ChangeHash, i64)> = doc
            .get_changes(&[])
            .iter()
            .map(|c| (c.hash(), c.timestamp()))
            .collect();
        let mut out = Vec::with_capacity(changes.len());
        for (hash, at) in changes {
            let fork = doc.fork_at(&[hash]).map_err(|e| Error::BadDocument {
                doc_id: id.clone(),
                reason: e.to_string(),
            })?;
            // A change that left the file unreadable as a person (refused ones never get here)
            // has no version of its own.
            if let Ok(file) = crate::docs::person::read(&fork, &id) {
                out.push(PersonVersion {
                    change: hash.to_string(),
                    at: chrono::DateTime::from_timestamp_millis(at)
                        .map(crate::model::format_time)
                        .unwrap_or_default(),
                    file,
                });
            }
        }
        Ok(out)
    }

    /// What this notebook holds of a person's document and has not taken in: changes waiting
    /// for others, refused ones, and sealed ones waiting for a key (their bytes as they came,
    /// where kept: refusals keep them only up to a bound, 16 MiB in all).
    pub fn held_not_taken_in(&self, person_id: &str) -> Result<Vec<HeldBlob>> {
        let id = crate::ids::parse_id(person_id)?;
        let mut out = Vec::new();
        // Under any spelling of the id, as erasure deletes them.
        for (kind, columns) in [
            (
                "waiting",
                "change_hash, pusher_name, received_at, NULL, bytes",
            ),
            (
                "quarantine",
                "blob_id, pusher_name, received_at, reason, bytes",
            ),
            (
                "awaiting_key",
                "blob_id, pusher_name, received_at, NULL, blob",
            ),
        ] {
            let rows = erasure::rows_of_any_spelling(&self.conn, kind, &id)?;
            let sql = format!(
                "SELECT {columns} FROM {kind}
                 WHERE rowid IN (SELECT value FROM json_each(?1)) ORDER BY received_at"
            );
            let mut stmt = self.conn.prepare(&sql)?;
            let rows = stmt.query_map([&rows], |r| {
                Ok(HeldBlob {
                    kind,
                    id: r.get(0)?,
                    pushed_by: r.get(1)?,
                    received_at: r.get(2)?,
                    reason: r.get(3)?,
                    bytes: crate::crypto::text::base64url(&r.get::<_, Vec<u8>>(4)?),
                })
            })?;
            for row in rows {
                out.push(row?);
            }
        }
        Ok(out)
    }

    /// Put a person file (or one record of it) back to how it was before a change; see
    /// [`Writer::restore`]. Returns whether anything changed.
    pub fn restore(&mut self, person_id: &str, before: &str, what: &RestoreTarget) -> Result<bool> {
        self.batch(|w| w.restore(person_id, before, what))
    }

    /// This device's Automerge actor id as bytes (what it declares to the relay), as the data
    /// directory records it now: another store open on it may have joined a team again since
    /// this one was opened (`identity`).
    pub fn actor_bytes(&self) -> Vec<u8> {
        match meta_get(&self.conn, "device_id") {
            Ok(Some(id)) if id != self.device_id => actor_for(&id).to_bytes().to_vec(),
            _ => self.actor.to_bytes().to_vec(),
        }
    }

    /// Take up the device id the data directory records, if another store open on it changed
    /// it (joining a team again): every write is made as the notebook's current identity.
    pub(crate) fn refresh_identity(&mut self) -> Result<()> {
        follow_identity(
            &self.conn,
            &mut self.device_id,
            &mut self.actor,
            &mut self.kept,
        )
    }

    /// The saved bytes of a stored document, for tests and tools.
    pub fn document_bytes(&self, doc_id: &str) -> Result<Option<Vec<u8>>> {
        documents::raw_bytes(&self.conn, doc_id)
    }
}

/// What a device records as canvasser until it is given a name (the stored value, unchanged
/// since the first version). Never shown as such: reports and screens say
/// [`NO_NAME_GIVEN`] instead (see [`show_canvasser`]).
pub const DEFAULT_CANVASSER: &str = "unnamed canvasser";

/// How a record made without a canvasser's name is shown.
pub const NO_NAME_GIVEN: &str = "no name given";

/// A recorded canvasser's name as reports and screens show it: [`NO_NAME_GIVEN`] for a record
/// made before any name was given.
pub fn show_canvasser(recorded: &str) -> &str {
    match recorded.trim() {
        "" | DEFAULT_CANVASSER => NO_NAME_GIVEN,
        name => name,
    }
}

/// The `meta` key of the canvasser's name. Its name is historical: before devices were named
/// apart from their canvasser, this key held the one name of both, and that name is the
/// canvasser's in the records written since.
pub(crate) const CANVASSER_KEY: &str = "device_name";
/// The `meta` key of the canvasser's names given before the one now (a JSON array).
const EARLIER_NAMES_KEY: &str = "canvasser_names_before";
/// How many earlier names are kept.
const EARLIER_NAMES_KEPT: usize = 20;

/// Whether two recorded canvasser names are one: spaces around and capitals aside ("sam " is
/// "Sam"), exactly as Due's "Mine" matches them in SQL (`queries::held_by!`: SQLite's `trim`
/// takes spaces only and its `lower` folds ASCII letters only, so "JOSÉ" is not "José" there,
/// nor here: a rename between them keeps the earlier name).
pub fn same_canvasser(a: &str, b: &str) -> bool {
    a.trim_matches(' ')
        .eq_ignore_ascii_case(b.trim_matches(' '))
}

/// The `meta` key of this device's name at the relay (set by joining).
const DEVICE_KEY: &str = "relay_device_name";
/// The `meta` key saying the canvasser's name was asked for (given or skipped).
const NAME_ASKED_KEY: &str = "canvasser_name_asked";

/// Take up the device id `conn`'s data directory records when it is not `device_id` (another
/// store on it joined a team again, `identity`): its actor, and no document kept loaded as
/// the old one.
fn follow_identity(
    conn: &Connection,
    device_id: &mut String,
    actor: &mut ActorId,
    kept: &mut documents::KeptDocs,
) -> Result<()> {
    if let Some(id) = meta_get(conn, "device_id")?
        && id != *device_id
    {
        *actor = actor_for(&id);
        *device_id = id;
        kept.clear();
    }
    Ok(())
}

/// One value of a field that devices wrote at once, and the device that wrote it
/// ([`Store::conflict_writers`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ConflictWriter {
    /// The conversation's or commitment's id; `None` for the person's own details.
    pub record: Option<String>,
    /// The field.
    pub field: String,
    /// The value, as text.
    pub value: String,
    /// The device's name, where this notebook knows it.
    pub device: Option<String>,
}

/// The Automerge actor of a device: the 16 bytes of its UUID.
pub(crate) fn actor_for(device_id: &str) -> ActorId {
    match uuid::Uuid::parse_str(device_id) {
        Ok(u) => ActorId::from(u.as_bytes().to_vec()),
        Err(_) => ActorId::from(device_id.as_bytes().to_vec()),
    }
}

#[cfg(test)]
mod tests;
