//! The one message type between an app and its notebook: [`Request`], [`Reply`] and the
//! [`Change`] event, and [`handle`], which answers a request from a [`Store`].
//!
//! An app never touches SQLite itself. It sends a [`Request`] to whatever holds the store (the
//! desktop app's store thread, a browser's Web Worker) and gets a [`Reply`] back; after a
//! request that [`writes`](Request::writes), the holder tells every screen with a [`Change`]
//! so each re-reads what it shows. All three are plain serde values, so they cross a channel
//! or `postMessage` alike; nothing here knows about a window.
//!
//! Adding a request is one [`Request`] variant and one arm in [`handle`] (plus one line in
//! [`Request::writes`] if it changes the notebook). Replies come in a few shapes; a caller
//! takes the shape it expects with `TryFrom` (each payload type names its reply variant), so
//! there is no typed wrapper per request:
//!
//! ```no_run
//! use groundwork::model::NewPerson;
//! use groundwork::service::{Request, handle};
//! use groundwork::store::Store;
//!
//! let mut store = Store::open(std::path::Path::new("/tmp/groundwork-service"))?;
//! let id: String = handle(&mut store, Request::AddPerson(NewPerson::named("Amina Yusuf")))?
//!     .try_into()?;
//! let file: Box<groundwork::model::PersonFile> =
//!     handle(&mut store, Request::Person(id))?.try_into()?;
//! assert_eq!(file.person.name, "Amina Yusuf");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::HashMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::contact::{self, ContactLinks};
use crate::docs::history::Edit;
use crate::error::Error;
use crate::model::{
    Campaign, CampaignPatch, Commitment, CommitmentPatch, CommitmentStatus, ConversationKind,
    ConversationPatch, NewCampaign, NewCommitment, NewConversation, NewPerson, Person, PersonFile,
    PersonPatch, Shift,
};
use crate::report;
use crate::store::{
    DueCounts, DueFilter, DueWhen, PeopleChoices, PeopleFilter, PeoplePage, RestoreTarget, Store,
};

/// What the UI asks of the store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Request {
    /// Canvasser name, open shift, changes waiting.
    Overview,
    /// People matching `query` (best first), or the most recent when it is blank.
    People {
        /// What was typed in the search box.
        query: String,
        /// At most this many.
        limit: usize,
    },
    /// A page of the people matching a search and filters, with how many match.
    PeoplePage {
        /// The search box and filters.
        filter: PeopleFilter,
        /// Skip this many.
        offset: usize,
        /// At most this many.
        limit: usize,
    },
    /// The areas, tags and issues to filter people by.
    PeopleChoices,
    /// The Due screen: counts of open commitments by part and a page of each.
    Due {
        /// Only those made in conversations held by this device's canvasser.
        mine: bool,
        /// How many of each part to list (overdue, this week, later).
        limits: [usize; 3],
    },
    /// The conversation kind used most in the open shift so far.
    UsualKind,
    /// Keep a person's file loaded for writing: their conversation form is open
    /// ([`Store::keep_loaded`]).
    KeepLoaded(String),
    /// One person's whole file.
    Person(String),
    /// Add a person.
    AddPerson(NewPerson),
    /// Add a person typed in the draft `1`, forgetting the draft in the same transaction.
    AddPersonFromDraft(NewPerson, String),
    /// [`Request::AddPersonFromDraft`] made at most once for the form's `save_key` (a form
    /// saved again after a reload brought its draft back adds nobody).
    AddPersonOnce {
        /// The person.
        person: NewPerson,
        /// The draft the form was saved under.
        draft_key: String,
        /// The form's own key.
        save_key: String,
    },
    /// Change a person (also how a conflict is settled: write the chosen value).
    EditPerson(String, PersonPatch),
    /// Change person `0` as typed in the draft `2`, forgetting the draft in the same
    /// transaction (a draft left behind a saved edit would later restore values older than
    /// the file's).
    EditPersonFromDraft(String, PersonPatch, String),
    /// Change a conversation (also how a conflict on one of its fields is settled).
    EditConversation {
        /// The person whose file it is in (an id may be in several: a copy).
        person: String,
        /// The conversation.
        id: String,
        /// What to change.
        patch: ConversationPatch,
        /// The correction's draft, forgotten in the same transaction (none: a conflict
        /// settled with one tap).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        draft_key: Option<String>,
    },
    /// Change a commitment (also how a conflict on one of its fields is settled).
    EditCommitment {
        /// The person whose file it is in (an id may be in several: a copy).
        person: String,
        /// The commitment.
        id: String,
        /// What to change.
        patch: CommitmentPatch,
        /// The correction's draft, forgotten in the same transaction.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        draft_key: Option<String>,
    },
    /// Record a conversation with its commitments, then drop the draft under `draft_key`.
    RecordConversation {
        /// The conversation.
        conversation: NewConversation,
        /// Commitments made in it.
        commitments: Vec<NewCommitment>,
        /// The draft the form was saved under.
        draft_key: String,
        /// The form's own key: the same form saved twice records once.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        save_key: Option<String>,
    },
    /// Mark a commitment.
    SetCommitment {
        /// The person whose file it is in (an id may be in several: a copy).
        person: String,
        /// The commitment.
        id: String,
        /// Its new status.
        status: CommitmentStatus,
    },
    /// Campaigns with their progress.
    Campaigns,
    /// Campaigns as recorded (names and targets, no progress): what a commitment can be
    /// moved to.
    CampaignList,
    /// The report of a shift; without an id, of this device's open shift or else the latest.
    ShiftReport(Option<String>),
    /// The report of the conversations held between two days (both included).
    RangeReport {
        /// First day.
        from: NaiveDate,
        /// Last day.
        to: NaiveDate,
    },
    /// Shifts, latest first.
    Shifts,
    /// People whose follow-up is due by today: how many, and the first of them.
    FollowUps {
        /// Only after conversations held by this device's canvasser.
        mine: bool,
        /// At most this many.
        limit: usize,
    },
    /// Create a campaign.
    AddCampaign(NewCampaign),
    /// Change a campaign's name, issue or targets.
    EditCampaign(String, CampaignPatch),
    /// Start a shift at `place`.
    StartShift {
        /// Place or area (with a walk list, empty: the list's name).
        place: String,
        /// The campaign it serves.
        campaign_id: Option<String>,
        /// The walk list it works through.
        #[serde(default)]
        walklist_id: Option<String>,
    },
    /// Walk lists with their progress.
    WalkLists,
    /// A walk list's doors in walking order, with their status.
    WalkList(String),
    /// Mark doors with one outcome.
    MarkDoors {
        /// The walk list they are on (an id may be on several: a copy).
        list: String,
        /// The doors.
        doors: Vec<String>,
        /// What happened.
        outcome: crate::model::Outcome,
        /// For "come back later": when (RFC 3339).
        #[serde(default)]
        come_back_at: Option<String>,
    },
    /// End this device's open shift.
    EndShift,
    /// Set the canvasser name of this device.
    SetName(String),
    /// Someone else now uses this device: their name, and the earlier names forgotten (Due's
    /// "Mine" is theirs alone; see `Store::hand_over`).
    HandOver(String),
    /// The canvasser chose not to give a name at first start.
    SkipName,
    /// The draft saved under a key.
    Draft(String),
    /// Save a draft now (the app's store thread instead holds drafts until typing pauses).
    SaveDraft {
        /// Which form, and which record it is for.
        key: String,
        /// The form's contents.
        body: String,
    },
    /// Forget a draft.
    DeleteDraft(String),
    /// The keys of the drafts whose key starts with this prefix.
    DraftKeys(String),
    /// Pulled changes that were refused, and documents with changes waiting.
    Integrity,
    /// Every change of a person's file, newest first.
    History(String),
    /// Who wrote each value of the fields devices wrote at once in a person's file.
    ConflictWriters(String),
    /// Put a person's file, or one of its records, back to how it was before a change.
    Restore {
        /// The person.
        person_id: String,
        /// The change (hash, from [`Request::History`]) whose effect is undone.
        before: String,
        /// The whole file or one record.
        target: RestoreTarget,
    },
    /// Encrypt this notebook at rest under a passphrase, while it stays open (the phone web
    /// app's Settings; see [`Store::encrypt_in_place`]). The desktop app refuses it: its
    /// notebook is encrypted by `groundwork notebook encrypt` with the app closed.
    EncryptAtRest(SecretText),
    /// Change the passphrase of this notebook, encrypted at rest, while it stays open (the
    /// phone web app's Settings; see [`Store::change_passphrase`]). The desktop app refuses
    /// it, as it refuses [`Request::EncryptAtRest`]: `groundwork notebook change-passphrase`
    /// does it with the app closed.
    ChangePassphrase {
        /// The passphrase the notebook opens with now.
        current: SecretText,
        /// The one it is to open with from now on.
        new: SecretText,
    },
    /// Decrypt this notebook, encrypted at rest, while it stays open, given the passphrase it
    /// opens with (the phone web app's Settings; see [`Store::decrypt_in_place`]). The desktop
    /// app refuses it, as it refuses [`Request::EncryptAtRest`]: `groundwork notebook decrypt`
    /// does it with the app closed.
    DecryptAtRest(SecretText),
    /// The raw key of the notebook, encrypted at rest, given its passphrase (the phone's
    /// Settings ask it for the phone's screen lock to keep; see [`Store::raw_key`]). Answered
    /// [`Reply::Secret`], or refused with words saying why (a wrong passphrase).
    RawKey(SecretText),
    /// An export as CSV, as `groundwork export --format csv` writes it (people who asked not
    /// to be contacted left out of `people`): `people`, `conversations` or `commitments`.
    ExportCsv(String),
}

/// A passphrase on its way from a form to the store: never shown by `Debug` (requests are
/// logged by name, but a `{:?}` of one must not print it either).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecretText(pub String);

impl std::fmt::Debug for SecretText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretText(…)")
    }
}

/// An export's CSV text and the name to save it under (`people-2026-03-14.csv`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CsvExport {
    /// The file's name.
    pub name: String,
    /// Its text.
    pub text: String,
}

impl Request {
    /// The draft this request ends (saved as a record, or discarded): a draft of it still
    /// waiting to be written need not be.
    pub fn ends_draft(&self) -> Option<&str> {
        match self {
            Request::RecordConversation { draft_key, .. } => Some(draft_key),
            Request::AddPersonFromDraft(_, key) => Some(key),
            Request::AddPersonOnce { draft_key, .. } => Some(draft_key),
            Request::EditPersonFromDraft(_, _, key) => Some(key),
            Request::EditConversation {
                draft_key: Some(key),
                ..
            }
            | Request::EditCommitment {
                draft_key: Some(key),
                ..
            } => Some(key),
            Request::DeleteDraft(key) => Some(key),
            _ => None,
        }
    }

    /// Whether answering it changes the notebook (so screens should re-read). Drafts do not
    /// count: they are the form's own business.
    pub fn writes(&self) -> bool {
        matches!(
            self,
            Request::AddPerson(_)
                | Request::AddPersonFromDraft(..)
                | Request::AddPersonOnce { .. }
                | Request::EditPerson(..)
                | Request::EditPersonFromDraft(..)
                | Request::EditConversation { .. }
                | Request::EditCommitment { .. }
                | Request::RecordConversation { .. }
                | Request::SetCommitment { .. }
                | Request::AddCampaign(_)
                | Request::EditCampaign(..)
                | Request::StartShift { .. }
                | Request::MarkDoors { .. }
                | Request::EndShift
                | Request::SetName(_)
                | Request::HandOver(_)
                | Request::SkipName
                | Request::Restore { .. }
                | Request::EncryptAtRest(_)
                | Request::ChangePassphrase { .. }
                | Request::DecryptAtRest(_)
        )
    }
}

/// A reply of another shape than the caller expected (a bug, not a user's mistake).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the notebook answered out of turn (expected {expected}, got {got})")]
pub struct Unexpected {
    /// The reply variant the caller wanted.
    pub expected: &'static str,
    /// The reply variant it got.
    pub got: &'static str,
}

/// Declares [`Reply`], one variant per shape of answer, and `TryFrom<Reply>` for each
/// variant's payload type (so every payload type names exactly one variant).
macro_rules! replies {
    ($( $(#[$meta:meta])* $variant:ident($ty:ty), )+) => {
        /// What the store answers.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        pub enum Reply {
            $( $(#[$meta])* $variant($ty), )+
        }

        impl Reply {
            /// The variant's name, for messages.
            pub fn name(&self) -> &'static str {
                match self {
                    $( Reply::$variant(_) => stringify!($variant), )+
                }
            }
        }

        $(
            impl TryFrom<Reply> for $ty {
                type Error = Unexpected;

                fn try_from(reply: Reply) -> Result<Self, Unexpected> {
                    match reply {
                        Reply::$variant(value) => Ok(value),
                        other => Err(Unexpected {
                            expected: stringify!($variant),
                            got: other.name(),
                        }),
                    }
                }
            }
        )+
    };
}

replies! {
    /// For [`Request::Overview`].
    Overview(Overview),
    /// A list of people.
    People(Vec<Person>),
    /// A page of people.
    PeoplePage(PeoplePage),
    /// What people can be filtered by.
    PeopleChoices(PeopleChoices),
    /// The Due screen's counts and lists.
    Due(DueLists),
    /// A conversation kind, if there is one.
    Kind(Option<ConversationKind>),
    /// A person's file.
    Person(Box<PersonFile>),
    /// The id of what was created.
    Id(String),
    /// Done, nothing to report.
    Done(()),
    /// A secret (never shown by `Debug`): the notebook's raw key, for [`Request::RawKey`].
    Secret(SecretText),
    /// Campaigns with progress.
    Campaigns(Vec<CampaignProgress>),
    /// Campaigns as recorded.
    CampaignList(Vec<Campaign>),
    /// A shift report, when there is a shift.
    ShiftReport(Box<Option<report::ShiftReport>>),
    /// Shifts, latest first.
    Shifts(Vec<Shift>),
    /// Walk lists with their progress.
    WalkLists(Vec<crate::store::walklists::WalkListSummary>),
    /// One walk list.
    WalkList(Box<crate::store::walklists::WalkListView>),
    /// Follow-ups due: how many, and the first of them.
    FollowUps((usize, Vec<FollowUpItem>)),
    /// A draft's text.
    Draft(Option<String>),
    /// Draft keys, for [`Request::DraftKeys`].
    DraftKeys(Vec<String>),
    /// For [`Request::Integrity`].
    Integrity(Integrity),
    /// For [`Request::History`].
    History(Vec<FileChange>),
    /// For [`Request::ConflictWriters`].
    ConflictWriters(Vec<crate::store::ConflictWriter>),
    /// For [`Request::Restore`]: whether anything had to change.
    Restored(bool),
    /// For [`Request::ExportCsv`].
    Csv(CsvExport),
}

/// What this device refused or is still waiting for, of the changes pulled from the team.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Integrity {
    /// Refused changes, newest first.
    pub refused: Vec<RefusedChange>,
    /// Documents with changes waiting for changes this device has not received.
    pub waiting: Vec<WaitingDoc>,
}

/// A pulled change that was refused and kept in quarantine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusedChange {
    /// The document it was filed under.
    pub doc_id: String,
    /// The person's name, when the document is a person this device has.
    pub person: Option<String>,
    /// The device that pushed it, when the relay said.
    pub pushed_by: Option<String>,
    /// Why it was refused.
    pub reason: String,
    /// When it arrived (RFC 3339).
    pub received_at: String,
    /// The relay's id for it (unique).
    pub blob_id: String,
}

/// A document with pulled changes waiting for their dependencies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitingDoc {
    /// The document.
    pub doc_id: String,
    /// The person's name, when the document is a person this device has.
    pub person: Option<String>,
    /// How many changes wait.
    pub count: usize,
}

/// One change of a person's file, with the records it touched as they read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileChange {
    /// The change's hash (what a restore names).
    pub change: String,
    /// When it was made (RFC 3339, the writing device's clock).
    pub at: String,
    /// The writing device's name, when known.
    pub device: Option<String>,
    /// The writing device's actor id (hex).
    pub actor: String,
    /// What it did, each edit with the record it touched (when it could be read).
    pub edits: Vec<(Edit, Option<Subject>)>,
}

/// A conversation or commitment, as much as is needed to name it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Subject {
    /// A conversation: its kind and when it was held.
    Conversation {
        /// The kind (`doorstep`, …).
        kind: String,
        /// When (RFC 3339).
        at: String,
    },
    /// A commitment: what was promised.
    Commitment {
        /// Its words.
        what: String,
    },
}

/// The store changed; screens re-read what they show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// Counts changes since the worker started.
    pub revision: u64,
    /// Written here (there is something new to send), rather than pulled from the team by
    /// sync.
    pub local: bool,
    /// What was typed could not be written as a draft at the last try (a full disk, the
    /// notebook held by another program): it is kept in memory and tried again, but closing
    /// the app now would lose it. A change saying only this keeps the revision it had.
    #[serde(default)]
    pub drafts_unwritten: bool,
}

/// The header facts.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Overview {
    /// The canvasser's name, if one was given.
    pub canvasser: Option<String>,
    /// Whether the canvasser's name has been asked for (given or skipped). `None` until the
    /// store has answered, so the first start's question never flashes on an older notebook.
    pub name_asked: Option<bool>,
    /// This device's name at the team's relay, once joined.
    pub device_name: Option<String>,
    /// This device's open shift.
    pub shift: Option<Shift>,
    /// Local changes waiting for a relay.
    pub pending: u64,
    /// Whether the notebook is encrypted on this device (SQLCipher; see `store::at_rest`).
    #[serde(default)]
    pub encrypted_at_rest: bool,
}

/// An open commitment, who made it, and how they may be contacted about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DueItem {
    /// The commitment.
    pub commitment: Commitment,
    /// The person's name.
    pub person_name: String,
    /// Call or text links their consent allows.
    pub links: ContactLinks,
}

/// A person to call back, and how they may be contacted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FollowUpItem {
    /// Who.
    pub person_id: String,
    /// Their name.
    pub name: String,
    /// When the follow-up is due.
    pub due: NaiveDate,
    /// Due before today.
    pub overdue: bool,
    /// Who spoke to them last, as shown.
    pub last_spoken_by: String,
    /// Call or text links their consent allows.
    pub links: ContactLinks,
}

/// What the Due screen shows: whole counts, and the first rows of each part.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DueLists {
    /// How many open commitments each part holds.
    pub counts: DueCounts,
    /// The first rows of each part, soonest due first, in [`DueWhen::ALL`] order.
    pub parts: Vec<(DueWhen, Vec<DueItem>)>,
}

/// A campaign and how its commitments stand.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CampaignProgress {
    /// The campaign.
    pub campaign: Campaign,
    /// Commitments made towards it.
    pub made: u64,
    /// Of those, kept.
    pub kept: u64,
    /// Each target with the commitments made and kept for it.
    pub targets: Vec<report::TargetProgress>,
    /// The campaign's last shifts, oldest first.
    pub trend: Vec<report::ShiftPoint>,
}

/// Answer one request from `s`. Requests that [`write`](Request::writes) are saved before
/// this returns; `RecordConversation` also forgets its form's draft.
pub fn handle(s: &mut Store, request: Request) -> Result<Reply, Error> {
    // A store left with no notebook (a passphrase change that could not open it again) says
    // so, whatever is asked, rather than answer from a database with nothing in it.
    s.check_open()?;
    Ok(match request {
        Request::Overview => Reply::Overview(overview(s)?),
        Request::People { query, limit } => Reply::People(if query.trim().is_empty() {
            s.list_people(limit)?
        } else {
            s.search(&query, limit)?
        }),
        Request::PeoplePage {
            filter,
            offset,
            limit,
        } => Reply::PeoplePage(s.people_page(&filter, offset, limit)?),
        Request::PeopleChoices => Reply::PeopleChoices(s.people_choices()?),
        Request::Due { mine, limits } => Reply::Due(due(s, mine, limits)?),
        Request::UsualKind => Reply::Kind(s.usual_kind()?),
        Request::KeepLoaded(id) => {
            s.keep_loaded(&id)?;
            Reply::Done(())
        }
        Request::Person(id) => Reply::Person(Box::new(s.person(&id)?)),
        Request::AddPerson(new) => Reply::Id(s.add_person(new)?),
        Request::AddPersonFromDraft(new, draft_key) => {
            Reply::Id(s.add_person_from_draft(new, &draft_key)?)
        }
        Request::AddPersonOnce {
            person,
            draft_key,
            save_key,
        } => Reply::Id(s.add_person_once(person, &draft_key, Some(&save_key))?),
        Request::EditPerson(id, patch) => {
            s.edit_person(&id, patch)?;
            Reply::Done(())
        }
        Request::EditPersonFromDraft(id, patch, draft_key) => {
            s.edit_person_from_draft(&id, patch, &draft_key)?;
            Reply::Done(())
        }
        Request::EditConversation {
            person,
            id,
            patch,
            draft_key,
        } => {
            s.edit_conversation_from_draft(&person, &id, patch, draft_key.as_deref())?;
            Reply::Done(())
        }
        Request::EditCommitment {
            person,
            id,
            patch,
            draft_key,
        } => {
            s.edit_commitment_from_draft(&person, &id, patch, draft_key.as_deref())?;
            Reply::Done(())
        }
        Request::EditCampaign(id, patch) => {
            s.edit_campaign(&id, patch)?;
            Reply::Done(())
        }
        Request::RecordConversation {
            conversation,
            commitments,
            draft_key,
            save_key,
        } => {
            let (id, _) = s.record_conversation_once(
                conversation,
                commitments,
                &draft_key,
                save_key.as_deref(),
            )?;
            Reply::Id(id)
        }
        Request::SetCommitment { person, id, status } => {
            s.set_commitment_status_of(&person, &id, status)?;
            Reply::Done(())
        }
        Request::Campaigns => Reply::Campaigns(campaigns(s)?),
        Request::CampaignList => Reply::CampaignList(s.campaigns()?),
        Request::ShiftReport(id) => Reply::ShiftReport(Box::new(shift_report(s, id)?)),
        Request::RangeReport { from, to } => {
            let scope = report::Scope::Dates { from, to };
            Reply::ShiftReport(Box::new(Some(report::shift_report(
                s,
                &scope,
                today(),
                None,
            )?)))
        }
        Request::Shifts => {
            let list = report::shifts_latest_first(s)?;
            Reply::Shifts(list)
        }
        Request::FollowUps { mine, limit } => {
            let (n, items) = follow_ups(s, mine, limit)?;
            Reply::FollowUps((n, items))
        }
        Request::AddCampaign(new) => Reply::Id(s.add_campaign(new)?),
        Request::StartShift {
            place,
            campaign_id,
            walklist_id,
        } => Reply::Id(s.start_shift_on(
            &place,
            campaign_id.as_deref(),
            None,
            walklist_id.as_deref(),
        )?),
        Request::WalkLists => Reply::WalkLists(s.walklists()?),
        Request::WalkList(id) => Reply::WalkList(Box::new(s.walklist(&id)?)),
        Request::MarkDoors {
            list,
            doors,
            outcome,
            come_back_at,
        } => {
            let mark = crate::store::walklists::Mark {
                outcome,
                note: None,
                at: None,
                come_back_at: come_back_at
                    .as_deref()
                    .map(crate::model::parse_time)
                    .transpose()?,
            };
            s.mark_doors_on(&list, &doors, &mark)?;
            Reply::Done(())
        }
        Request::EndShift => Reply::Id(s.end_shift(None)?),
        Request::SetName(name) => {
            s.set_canvasser_name(&name)?;
            Reply::Done(())
        }
        Request::HandOver(name) => {
            s.hand_over(&name)?;
            Reply::Done(())
        }
        Request::SkipName => {
            s.skip_canvasser_name()?;
            Reply::Done(())
        }
        Request::EncryptAtRest(secret) => {
            let passphrase = crate::store::at_rest::Passphrase::new(secret.0);
            // The desktop's sync thread opens the notebook's file by its own name; only the
            // phone's worker, the notebook's one connection, can move it to another file.
            if cfg!(target_arch = "wasm32") {
                s.encrypt_in_place(&passphrase)?;
            } else {
                drop(passphrase);
                return Err(Error::EncryptWithAppClosed);
            }
            Reply::Done(())
        }
        Request::ChangePassphrase { current, new } => {
            let current = crate::store::at_rest::Passphrase::new(current.0);
            let new = crate::store::at_rest::Passphrase::new(new.0);
            // As for encrypting: the desktop's sync thread has the notebook open by its own
            // connection, under the key it was given.
            if cfg!(target_arch = "wasm32") {
                s.change_passphrase(&current, &new)?;
            } else {
                return Err(Error::ChangePassphraseWithAppClosed);
            }
            Reply::Done(())
        }
        Request::DecryptAtRest(current) => {
            let current = crate::store::at_rest::Passphrase::new(current.0);
            // As for encrypting: the desktop's sync thread has the notebook open by its own
            // connection, under the key it was given.
            if cfg!(target_arch = "wasm32") {
                s.decrypt_in_place(&current)?;
            } else {
                return Err(Error::DecryptWithAppClosed);
            }
            Reply::Done(())
        }
        Request::RawKey(typed) => {
            let key = s.raw_key(&crate::store::at_rest::Passphrase::new(typed.0))?;
            Reply::Secret(SecretText(key.expose().to_string()))
        }
        Request::Draft(key) => Reply::Draft(s.draft(&key)?),
        Request::SaveDraft { key, body } => {
            s.save_draft(&key, &body)?;
            Reply::Done(())
        }
        Request::DraftKeys(prefix) => Reply::DraftKeys(s.draft_keys(&prefix)?),
        Request::DeleteDraft(key) => {
            s.delete_draft(&key)?;
            Reply::Done(())
        }
        Request::Integrity => Reply::Integrity(integrity(s)?),
        Request::History(id) => Reply::History(history(s, &id)?),
        Request::ConflictWriters(id) => Reply::ConflictWriters(s.conflict_writers(&id)?),
        Request::Restore {
            person_id,
            before,
            target,
        } => Reply::Restored(s.restore(&person_id, &before, &target)?),
        Request::ExportCsv(what) => Reply::Csv(export_csv(s, &what)?),
    })
}

/// Export `what` as CSV (the app offers people, conversations and commitments).
fn export_csv(s: &Store, what: &str) -> Result<CsvExport, Error> {
    use crate::export::{Format, Options, What};
    let chosen: What = what.parse()?;
    if !matches!(
        chosen,
        What::People | What::Conversations | What::Commitments
    ) {
        return Err(Error::Invalid(crate::model::ValidationError::Choice {
            what: "export",
            value: what.to_string(),
            allowed: "people, conversations, commitments",
        }));
    }
    let mut text = Vec::new();
    crate::export::write_with(s, chosen, Format::Csv, Options::default(), &mut text)?;
    let day = chrono::Local::now().date_naive();
    Ok(CsvExport {
        name: format!("{}-{day}.csv", what.trim().to_lowercase()),
        text: String::from_utf8_lossy(&text).into_owned(),
    })
}

/// At most this many refused changes are listed (the count is always whole).
const REFUSED_SHOWN: usize = 200;

fn integrity(s: &Store) -> Result<Integrity, Error> {
    let mut names: HashMap<String, Option<String>> = HashMap::new();
    let mut name_of = |doc_id: &str| {
        names
            .entry(doc_id.to_string())
            .or_insert_with(|| s.person(doc_id).ok().map(|f| f.person.name))
            .clone()
    };
    let quarantined = s.quarantined()?;
    let refused = quarantined
        .into_iter()
        .take(REFUSED_SHOWN)
        .map(|q| RefusedChange {
            person: name_of(&q.doc_id),
            doc_id: q.doc_id,
            pushed_by: q.pushed_by,
            reason: q.reason,
            received_at: q.received_at,
            blob_id: q.blob_id,
        })
        .collect();
    let waiting = s
        .waiting_docs()?
        .into_iter()
        .map(|(doc_id, count)| WaitingDoc {
            person: name_of(&doc_id),
            doc_id,
            count,
        })
        .collect();
    Ok(Integrity { refused, waiting })
}

/// The subjects (conversations and commitments) of a person file, by id.
fn subjects_of(file: &crate::model::PersonFile, into: &mut HashMap<String, Subject>) {
    for c in &file.conversations {
        into.entry(c.id.clone())
            .or_insert_with(|| Subject::Conversation {
                kind: c.kind.as_str().to_string(),
                at: c.at.clone(),
            });
    }
    for c in &file.commitments {
        into.entry(c.id.clone())
            .or_insert_with(|| Subject::Commitment {
                what: c.what.clone(),
            });
    }
}

fn history(s: &Store, person_id: &str) -> Result<Vec<FileChange>, Error> {
    let entries = s.history(person_id)?;
    let mut subjects = HashMap::new();
    subjects_of(&s.person(person_id)?, &mut subjects);
    // Records no longer in the file are read from the file as it stood around the change that
    // touched them (only when needed: most history entries name records still there).
    let mut doc: Option<automerge::AutoCommit> = None;
    let mut out = Vec::with_capacity(entries.len());
    for e in entries {
        let missing = e
            .edits
            .iter()
            .any(|ed| ed.id.as_ref().is_some_and(|id| !subjects.contains_key(id)));
        if missing {
            if doc.is_none() {
                doc = s
                    .document_bytes(person_id)?
                    .and_then(|b| automerge::AutoCommit::load(&b).ok());
            }
            if let Some(d) = doc.as_mut()
                && let Ok(hash) = e.change.parse::<automerge::ChangeHash>()
            {
                let deps = d.get_change_by_hash(&hash).map(|c| c.deps().to_vec());
                for heads in [vec![hash]].into_iter().chain(deps) {
                    if let Ok(then) = d.fork_at(&heads)
                        && let Ok(file) = crate::docs::person::read(&then, person_id)
                    {
                        subjects_of(&file, &mut subjects);
                    }
                }
            }
        }
        let edits = e
            .edits
            .into_iter()
            .map(|ed| {
                let subject = ed.id.as_ref().and_then(|id| subjects.get(id).cloned());
                (ed, subject)
            })
            .collect();
        out.push(FileChange {
            change: e.change,
            at: e.at,
            device: e.device,
            actor: e.actor,
            edits,
        });
    }
    out.reverse();
    Ok(out)
}

fn overview(s: &Store) -> Result<Overview, Error> {
    let mut shift = match s.current_shift()? {
        Some(id) => s.shifts()?.into_iter().find(|sh| sh.id == id),
        None => None,
    };
    // A walk list deleted (a lead's erasure) while its shift is open: the shift goes on, with
    // no walk to open.
    if let Some(sh) = shift.as_mut()
        && let Some(list) = sh.walklist_id.as_deref()
        && s.is_erased(list)?
    {
        sh.walklist_id = None;
    }
    Ok(Overview {
        canvasser: s.given_canvasser_name()?,
        name_asked: Some(s.canvasser_name_asked()?),
        device_name: s.device_name()?,
        shift,
        pending: s.pending_changes()?,
        encrypted_at_rest: s.encrypted_at_rest(),
    })
}

fn follow_ups(s: &Store, mine: bool, limit: usize) -> Result<(usize, Vec<FollowUpItem>), Error> {
    let today = today();
    let mine = if mine {
        Some(s.my_canvasser_names()?)
    } else {
        None
    };
    let (n, rows) = s.follow_ups_page(today, mine.as_deref(), 0, limit)?;
    let items = rows
        .into_iter()
        .map(|f| FollowUpItem {
            links: contact::links(&f.person),
            person_id: f.person.id,
            name: f.person.name,
            overdue: f.due < today,
            due: f.due,
            last_spoken_by: crate::store::show_canvasser(&f.canvasser).to_string(),
        })
        .collect();
    Ok((n, items))
}

fn due(s: &Store, mine: bool, limits: [usize; 3]) -> Result<DueLists, Error> {
    let filter = DueFilter {
        today: today(),
        canvassers: if mine {
            Some(s.my_canvasser_names()?)
        } else {
            None
        },
    };
    let counts = s.due_counts(&filter)?;
    let mut parts = Vec::with_capacity(DueWhen::ALL.len());
    for (when, limit) in DueWhen::ALL.into_iter().zip(limits) {
        let items = s
            .due_page(&filter, when, 0, limit)?
            .into_iter()
            .map(|(commitment, person)| DueItem {
                commitment,
                links: contact::links(&person),
                person_name: person.name,
            })
            .collect();
        parts.push((when, items));
    }
    Ok(DueLists { counts, parts })
}

fn campaigns(s: &Store) -> Result<Vec<CampaignProgress>, Error> {
    Ok(report::campaign_reports(s)?
        .into_iter()
        .map(|r| {
            let counts = r
                .targets
                .iter()
                .map(|t| (t.made, t.kept))
                .chain(r.other_asks.iter().map(|a| (a.made, a.kept)));
            let (made, kept) =
                counts.fold((0u64, 0u64), |(m, k), (a, b)| (m + a as u64, k + b as u64));
            CampaignProgress {
                campaign: r.campaign,
                made,
                kept,
                targets: r.targets,
                trend: r.trend,
            }
        })
        .collect())
}

fn shift_report(s: &Store, id: Option<String>) -> Result<Option<report::ShiftReport>, Error> {
    let latest = match id {
        Some(id) => Some(id),
        None => report::default_shift(s)?,
    };
    match latest {
        Some(id) => Ok(Some(report::shift_report(
            s,
            &report::Scope::Shift(id),
            today(),
            None,
        )?)),
        None => Ok(None),
    }
}

/// Today's date on this device.
pub fn today() -> NaiveDate {
    chrono::Local::now().date_naive()
}
