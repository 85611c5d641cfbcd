//! The store on a background thread, behind a message-shaped handle.
//!
//! The UI never touches SQLite. It sends a [`Request`] through a [`StoreHandle`] and awaits the
//! [`Reply`]; writes are followed by a [`Change`] event to every subscriber, so each screen
//! re-reads what it shows. Requests, replies and events are plain values moved over channels,
//! the same shape a web build would post to a Web Worker holding the store.
//!
//! Drafts are the exception to request/reply: [`StoreHandle::save_draft`] is fire-and-forget,
//! sent on every keystroke, and the worker writes each draft once typing pauses for
//! [`DRAFT_QUIET`] (and before answering any other request, and before it stops), so a draft
//! costs one small write per pause rather than one per key.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let store = StoreHandle::start(std::path::Path::new("/tmp/notebook"))?;
//! let recent = store.people("", 50).await?;
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use futures_channel::{mpsc as amsc, oneshot};
use groundwork::contact::{self, ContactLinks};
use groundwork::docs::history::Edit;
use groundwork::model::ConversationKind;
use groundwork::model::{
    Campaign, CampaignPatch, Commitment, CommitmentPatch, CommitmentStatus, ConversationPatch,
    NewCampaign, NewCommitment, NewConversation, NewPerson, Person, PersonFile, PersonPatch, Shift,
};
use groundwork::report;
use groundwork::store::{
    DueCounts, DueFilter, DueWhen, PeopleChoices, PeopleFilter, PeoplePage, RestoreTarget, Store,
};

/// How long typing must pause before a draft is written.
pub const DRAFT_QUIET: Duration = Duration::from_millis(250);

/// What the UI asks of the store.
#[derive(Debug, Clone)]
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
    /// One person's whole file.
    Person(String),
    /// Add a person.
    AddPerson(NewPerson),
    /// Change a person (also how a conflict is settled: write the chosen value).
    EditPerson(String, PersonPatch),
    /// Change a conversation (also how a conflict on one of its fields is settled).
    EditConversation(String, ConversationPatch),
    /// Change a commitment (also how a conflict on one of its fields is settled).
    EditCommitment(String, CommitmentPatch),
    /// Record a conversation with its commitments, then drop the draft under `draft_key`.
    RecordConversation {
        /// The conversation.
        conversation: NewConversation,
        /// Commitments made in it.
        commitments: Vec<NewCommitment>,
        /// The draft the form was saved under.
        draft_key: String,
    },
    /// Mark a commitment.
    SetCommitment(String, CommitmentStatus),
    /// Campaigns with their progress.
    Campaigns,
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
        /// Place or area.
        place: String,
        /// The campaign it serves.
        campaign_id: Option<String>,
    },
    /// End this device's open shift.
    EndShift,
    /// Set the canvasser name of this device.
    SetName(String),
    /// The canvasser chose not to give a name at first start.
    SkipName,
    /// The draft saved under a key.
    Draft(String),
    /// Forget a draft.
    DeleteDraft(String),
    /// The keys of the drafts whose key starts with this prefix.
    DraftKeys(String),
    /// Pulled changes that were refused, and documents with changes waiting.
    Integrity,
    /// Every change of a person's file, newest first.
    History(String),
    /// Put a person's file, or one of its records, back to how it was before a change.
    Restore {
        /// The person.
        person_id: String,
        /// The change (hash, from [`Request::History`]) whose effect is undone.
        before: String,
        /// The whole file or one record.
        target: RestoreTarget,
    },
}

/// What the store answers.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
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
    Done,
    /// Campaigns with progress.
    Campaigns(Vec<CampaignProgress>),
    /// A shift report, when there is a shift.
    ShiftReport(Box<Option<report::ShiftReport>>),
    /// Shifts, latest first.
    Shifts(Vec<Shift>),
    /// Follow-ups due: how many, and the first of them.
    FollowUps(usize, Vec<FollowUpItem>),
    /// A draft's text.
    Draft(Option<String>),
    /// Draft keys, for [`Request::DraftKeys`].
    DraftKeys(Vec<String>),
    /// For [`Request::Integrity`].
    Integrity(Integrity),
    /// For [`Request::History`].
    History(Vec<FileChange>),
    /// For [`Request::Restore`]: whether anything had to change.
    Restored(bool),
}

/// What this device refused or is still waiting for, of the changes pulled from the team.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Integrity {
    /// Refused changes, newest first.
    pub refused: Vec<RefusedChange>,
    /// Documents with changes waiting for changes this device has not received.
    pub waiting: Vec<WaitingDoc>,
}

/// A pulled change that was refused and kept in quarantine.
#[derive(Debug, Clone, PartialEq, Eq)]
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitingDoc {
    /// The document.
    pub doc_id: String,
    /// The person's name, when the document is a person this device has.
    pub person: Option<String>,
    /// How many changes wait.
    pub count: usize,
}

/// One change of a person's file, with the records it touched as they read.
#[derive(Debug, Clone, PartialEq, Eq)]
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
#[derive(Debug, Clone, PartialEq, Eq)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    /// Counts changes since the worker started.
    pub revision: u64,
    /// Written here (there is something new to send), rather than pulled from the team by
    /// sync (see [`StoreHandle::pulled`]).
    pub local: bool,
}

/// The header facts.
#[derive(Debug, Clone, PartialEq, Default)]
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
}

/// An open commitment, who made it, and how they may be contacted about it.
#[derive(Debug, Clone, PartialEq)]
pub struct DueItem {
    /// The commitment.
    pub commitment: Commitment,
    /// The person's name.
    pub person_name: String,
    /// Call or text links their consent allows.
    pub links: ContactLinks,
}

/// A person to call back, and how they may be contacted.
#[derive(Debug, Clone, PartialEq)]
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
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DueLists {
    /// How many open commitments each part holds.
    pub counts: DueCounts,
    /// The first rows of each part, soonest due first, in [`DueWhen::ALL`] order.
    pub parts: Vec<(DueWhen, Vec<DueItem>)>,
}

/// A campaign and how its commitments stand.
#[derive(Debug, Clone, PartialEq)]
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

/// A failure, in words for the canvasser (the core's messages say what to do next).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UiError(pub String);

impl std::fmt::Display for UiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UiError {}

impl From<groundwork::error::Error> for UiError {
    fn from(e: groundwork::error::Error) -> Self {
        UiError(e.to_string())
    }
}

enum Message {
    Call(Box<Request>, oneshot::Sender<Result<Reply, UiError>>),
    SaveDraft(String, String),
    Subscribe(amsc::UnboundedSender<Change>),
    Pulled,
}

/// The UI's end of the store: cheap to clone, usable from any thread.
#[derive(Clone)]
pub struct StoreHandle {
    tx: mpsc::Sender<Message>,
}

impl std::fmt::Debug for StoreHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreHandle")
    }
}

impl PartialEq for StoreHandle {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl StoreHandle {
    /// Open the store in `dir` on a new thread. Fails if the store cannot be opened.
    pub fn start(dir: &Path) -> Result<StoreHandle, UiError> {
        let (tx, rx) = mpsc::channel();
        let (ready_tx, ready_rx) = mpsc::channel();
        let dir = dir.to_path_buf();
        std::thread::Builder::new()
            .name("groundwork-store".into())
            .spawn(move || match Store::open(&dir) {
                Ok(store) => {
                    let _ = ready_tx.send(Ok(()));
                    Worker::new(store).run(rx);
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(UiError::from(e)));
                }
            })
            .map_err(|e| UiError(format!("could not start the store thread: {e}")))?;
        ready_rx
            .recv()
            .map_err(|_| UiError("the store thread stopped while opening".into()))??;
        Ok(StoreHandle { tx })
    }

    /// Send a request and wait for its reply without blocking the caller's thread.
    pub async fn call(&self, request: Request) -> Result<Reply, UiError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Message::Call(Box::new(request), tx))
            .map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())?
    }

    /// Remember `body` as the draft under `key`; written once typing pauses.
    pub fn save_draft(&self, key: &str, body: String) {
        let _ = self.tx.send(Message::SaveDraft(key.to_string(), body));
    }

    /// Change events from now on.
    pub fn subscribe(&self) -> amsc::UnboundedReceiver<Change> {
        let (tx, rx) = amsc::unbounded();
        let _ = self.tx.send(Message::Subscribe(tx));
        rx
    }

    /// Sync took in changes from the team (written to the notebook through its own
    /// connection): subscribers hear of it as a change, after the writes queued before it.
    pub fn pulled(&self) {
        let _ = self.tx.send(Message::Pulled);
    }

    /// Canvasser, open shift, changes waiting.
    pub async fn overview(&self) -> Result<Overview, UiError> {
        match self.call(Request::Overview).await? {
            Reply::Overview(o) => Ok(o),
            other => Err(unexpected(other)),
        }
    }

    /// People matching `query`, or the most recent.
    pub async fn people(&self, query: &str, limit: usize) -> Result<Vec<Person>, UiError> {
        let query = query.to_string();
        match self.call(Request::People { query, limit }).await? {
            Reply::People(p) => Ok(p),
            other => Err(unexpected(other)),
        }
    }

    /// A page of the people matching `filter`, with counts.
    pub async fn people_page(
        &self,
        filter: PeopleFilter,
        offset: usize,
        limit: usize,
    ) -> Result<PeoplePage, UiError> {
        let request = Request::PeoplePage {
            filter,
            offset,
            limit,
        };
        match self.call(request).await? {
            Reply::PeoplePage(p) => Ok(p),
            other => Err(unexpected(other)),
        }
    }

    /// What people can be filtered by.
    pub async fn people_choices(&self) -> Result<PeopleChoices, UiError> {
        match self.call(Request::PeopleChoices).await? {
            Reply::PeopleChoices(c) => Ok(c),
            other => Err(unexpected(other)),
        }
    }

    /// The Due screen's counts and first rows (`mine`: this canvasser's only).
    pub async fn due(&self, mine: bool, limits: [usize; 3]) -> Result<DueLists, UiError> {
        match self.call(Request::Due { mine, limits }).await? {
            Reply::Due(d) => Ok(d),
            other => Err(unexpected(other)),
        }
    }

    /// The conversation kind used most in the open shift so far.
    pub async fn usual_kind(&self) -> Result<Option<ConversationKind>, UiError> {
        match self.call(Request::UsualKind).await? {
            Reply::Kind(k) => Ok(k),
            other => Err(unexpected(other)),
        }
    }

    /// One person's file.
    pub async fn person(&self, id: &str) -> Result<PersonFile, UiError> {
        match self.call(Request::Person(id.to_string())).await? {
            Reply::Person(p) => Ok(*p),
            other => Err(unexpected(other)),
        }
    }

    /// Send a request whose reply is an id.
    pub async fn create(&self, request: Request) -> Result<String, UiError> {
        match self.call(request).await? {
            Reply::Id(id) => Ok(id),
            other => Err(unexpected(other)),
        }
    }

    /// Send a request whose reply is [`Reply::Done`].
    pub async fn run(&self, request: Request) -> Result<(), UiError> {
        match self.call(request).await? {
            Reply::Done => Ok(()),
            other => Err(unexpected(other)),
        }
    }

    /// Campaigns with progress.
    pub async fn campaigns(&self) -> Result<Vec<CampaignProgress>, UiError> {
        match self.call(Request::Campaigns).await? {
            Reply::Campaigns(c) => Ok(c),
            other => Err(unexpected(other)),
        }
    }

    /// The report of shift `id`, or of the open shift, or else of the most recent one.
    pub async fn shift_report(
        &self,
        id: Option<String>,
    ) -> Result<Option<report::ShiftReport>, UiError> {
        match self.call(Request::ShiftReport(id)).await? {
            Reply::ShiftReport(r) => Ok(*r),
            other => Err(unexpected(other)),
        }
    }

    /// The report of the conversations held between `from` and `to`.
    pub async fn range_report(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<report::ShiftReport, UiError> {
        match self.call(Request::RangeReport { from, to }).await? {
            Reply::ShiftReport(r) => (*r).ok_or_else(|| UiError("no report".into())),
            other => Err(unexpected(other)),
        }
    }

    /// Shifts, latest first.
    pub async fn shifts(&self) -> Result<Vec<Shift>, UiError> {
        match self.call(Request::Shifts).await? {
            Reply::Shifts(s) => Ok(s),
            other => Err(unexpected(other)),
        }
    }

    /// How many follow-ups are due by today (`mine`: after this canvasser's conversations),
    /// and the first `limit` of them, soonest first.
    pub async fn follow_ups(
        &self,
        mine: bool,
        limit: usize,
    ) -> Result<(usize, Vec<FollowUpItem>), UiError> {
        match self.call(Request::FollowUps { mine, limit }).await? {
            Reply::FollowUps(n, f) => Ok((n, f)),
            other => Err(unexpected(other)),
        }
    }

    /// Refused and waiting changes pulled from the team.
    pub async fn integrity(&self) -> Result<Integrity, UiError> {
        match self.call(Request::Integrity).await? {
            Reply::Integrity(i) => Ok(i),
            other => Err(unexpected(other)),
        }
    }

    /// The changes of a person's file, newest first.
    pub async fn history(&self, person_id: &str) -> Result<Vec<FileChange>, UiError> {
        match self.call(Request::History(person_id.to_string())).await? {
            Reply::History(h) => Ok(h),
            other => Err(unexpected(other)),
        }
    }

    /// Restore a person's file or a record of it to before change `before`; whether anything
    /// changed.
    pub async fn restore(
        &self,
        person_id: &str,
        before: &str,
        target: RestoreTarget,
    ) -> Result<bool, UiError> {
        let request = Request::Restore {
            person_id: person_id.to_string(),
            before: before.to_string(),
            target,
        };
        match self.call(request).await? {
            Reply::Restored(changed) => Ok(changed),
            other => Err(unexpected(other)),
        }
    }

    /// The keys of the drafts whose key starts with `prefix`.
    pub async fn draft_keys(&self, prefix: &str) -> Result<Vec<String>, UiError> {
        match self.call(Request::DraftKeys(prefix.to_string())).await? {
            Reply::DraftKeys(k) => Ok(k),
            other => Err(unexpected(other)),
        }
    }

    /// The draft under `key`.
    pub async fn draft(&self, key: &str) -> Result<Option<String>, UiError> {
        match self.call(Request::Draft(key.to_string())).await? {
            Reply::Draft(d) => Ok(d),
            other => Err(unexpected(other)),
        }
    }
}

fn stopped() -> UiError {
    UiError("the notebook stopped; close and reopen the app".into())
}

fn unexpected(reply: Reply) -> UiError {
    UiError(format!("the notebook answered out of turn ({reply:?})"))
}

struct Worker {
    store: Store,
    drafts: HashMap<String, (String, Instant)>,
    subscribers: Vec<amsc::UnboundedSender<Change>>,
    revision: u64,
    /// When to checkpoint the database's write-ahead log, once the app has been idle a while
    /// after a write (so that saves do not pay for it).
    checkpoint_at: Option<Instant>,
}

/// How long after the last write the store counts as idle.
const IDLE: Duration = Duration::from_secs(2);

impl Worker {
    fn new(store: Store) -> Self {
        Worker {
            store,
            drafts: HashMap::new(),
            subscribers: Vec::new(),
            revision: 0,
            checkpoint_at: None,
        }
    }

    fn run(mut self, rx: mpsc::Receiver<Message>) {
        loop {
            let wake = self
                .drafts
                .values()
                .map(|(_, due)| *due)
                .chain(self.checkpoint_at)
                .min();
            let next = match wake {
                Some(due) => match rx.recv_timeout(due.saturating_duration_since(Instant::now())) {
                    Ok(m) => Some(m),
                    Err(mpsc::RecvTimeoutError::Timeout) => None,
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                },
                None => match rx.recv() {
                    Ok(m) => Some(m),
                    Err(_) => break,
                },
            };
            match next {
                None => {
                    self.flush_drafts(false);
                    if self.checkpoint_at.is_some_and(|t| t <= Instant::now()) {
                        self.checkpoint_at = None;
                        // A failed checkpoint is retried by SQLite at a later write.
                        let _ = self.store.checkpoint();
                    }
                }
                Some(Message::SaveDraft(key, body)) => {
                    self.drafts
                        .insert(key, (body, Instant::now() + DRAFT_QUIET));
                }
                Some(Message::Subscribe(tx)) => self.subscribers.push(tx),
                Some(Message::Pulled) => self.announce(false),
                Some(Message::Call(request, reply)) => {
                    self.flush_drafts(true);
                    let writes = is_write(&request);
                    let result = self.handle(*request);
                    let _ = reply.send(result);
                    if writes {
                        self.checkpoint_at = Some(Instant::now() + IDLE);
                        self.announce(true);
                    }
                }
            }
        }
        self.flush_drafts(true);
    }

    /// Tell every subscriber the store changed.
    fn announce(&mut self, local: bool) {
        self.revision += 1;
        let change = Change {
            revision: self.revision,
            local,
        };
        self.subscribers
            .retain(|s| s.unbounded_send(change).is_ok());
    }

    fn flush_drafts(&mut self, all: bool) {
        let now = Instant::now();
        let due: Vec<String> = self
            .drafts
            .iter()
            .filter(|(_, (_, at))| all || *at <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for key in due {
            if let Some((body, _)) = self.drafts.remove(&key)
                && let Err(e) = self.store.save_draft(&key, &body)
            {
                eprintln!("warning: could not save the draft {key}: {e}");
            }
        }
    }

    fn handle(&mut self, request: Request) -> Result<Reply, UiError> {
        let s = &mut self.store;
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
            Request::Person(id) => Reply::Person(Box::new(s.person(&id)?)),
            Request::AddPerson(new) => Reply::Id(s.add_person(new)?),
            Request::EditPerson(id, patch) => {
                s.edit_person(&id, patch)?;
                Reply::Done
            }
            Request::EditConversation(id, patch) => {
                s.edit_conversation(&id, patch)?;
                Reply::Done
            }
            Request::EditCommitment(id, patch) => {
                s.edit_commitment(&id, patch)?;
                Reply::Done
            }
            Request::EditCampaign(id, patch) => {
                s.edit_campaign(&id, patch)?;
                Reply::Done
            }
            Request::RecordConversation {
                conversation,
                commitments,
                draft_key,
            } => {
                let (id, _) = s.record_conversation(conversation, commitments)?;
                self.drafts.remove(&draft_key);
                s.delete_draft(&draft_key)?;
                Reply::Id(id)
            }
            Request::SetCommitment(id, status) => {
                s.set_commitment_status(&id, status)?;
                Reply::Done
            }
            Request::Campaigns => Reply::Campaigns(campaigns(s)?),
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
                Reply::FollowUps(n, items)
            }
            Request::AddCampaign(new) => Reply::Id(s.add_campaign(new)?),
            Request::StartShift { place, campaign_id } => {
                Reply::Id(s.start_shift(&place, campaign_id.as_deref(), None)?)
            }
            Request::EndShift => Reply::Id(s.end_shift(None)?),
            Request::SetName(name) => {
                s.set_canvasser_name(&name)?;
                Reply::Done
            }
            Request::SkipName => {
                s.skip_canvasser_name()?;
                Reply::Done
            }
            Request::Draft(key) => Reply::Draft(s.draft(&key)?),
            Request::DraftKeys(prefix) => Reply::DraftKeys(s.draft_keys(&prefix)?),
            Request::DeleteDraft(key) => {
                self.drafts.remove(&key);
                s.delete_draft(&key)?;
                Reply::Done
            }
            Request::Integrity => Reply::Integrity(integrity(s)?),
            Request::History(id) => Reply::History(history(s, &id)?),
            Request::Restore {
                person_id,
                before,
                target,
            } => Reply::Restored(s.restore(&person_id, &before, &target)?),
        })
    }
}

fn is_write(r: &Request) -> bool {
    matches!(
        r,
        Request::AddPerson(_)
            | Request::EditPerson(..)
            | Request::EditConversation(..)
            | Request::EditCommitment(..)
            | Request::RecordConversation { .. }
            | Request::SetCommitment(..)
            | Request::AddCampaign(_)
            | Request::EditCampaign(..)
            | Request::StartShift { .. }
            | Request::EndShift
            | Request::SetName(_)
            | Request::SkipName
            | Request::Restore { .. }
    )
}

/// At most this many refused changes are listed (the count is always whole).
const REFUSED_SHOWN: usize = 200;

fn integrity(s: &Store) -> Result<Integrity, UiError> {
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
fn subjects_of(file: &groundwork::model::PersonFile, into: &mut HashMap<String, Subject>) {
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

fn history(s: &Store, person_id: &str) -> Result<Vec<FileChange>, UiError> {
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
                        && let Ok(file) = groundwork::docs::person::read(&then, person_id)
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

fn overview(s: &Store) -> Result<Overview, UiError> {
    let shift = match s.current_shift()? {
        Some(id) => s.shifts()?.into_iter().find(|sh| sh.id == id),
        None => None,
    };
    Ok(Overview {
        canvasser: s.given_canvasser_name()?,
        name_asked: Some(s.canvasser_name_asked()?),
        device_name: s.device_name()?,
        shift,
        pending: s.pending_changes()?,
    })
}

fn follow_ups(s: &Store, mine: bool, limit: usize) -> Result<(usize, Vec<FollowUpItem>), UiError> {
    let today = today();
    let canvasser = if mine {
        Some(s.canvasser_name()?)
    } else {
        None
    };
    let (n, rows) = s.follow_ups_page(today, canvasser.as_deref(), 0, limit)?;
    let items = rows
        .into_iter()
        .map(|f| FollowUpItem {
            links: contact::links(&f.person),
            person_id: f.person.id,
            name: f.person.name,
            overdue: f.due < today,
            due: f.due,
            last_spoken_by: groundwork::store::show_canvasser(&f.canvasser).to_string(),
        })
        .collect();
    Ok((n, items))
}

fn due(s: &Store, mine: bool, limits: [usize; 3]) -> Result<DueLists, UiError> {
    let filter = DueFilter {
        today: today(),
        canvasser: if mine {
            Some(s.canvasser_name()?)
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

fn campaigns(s: &Store) -> Result<Vec<CampaignProgress>, UiError> {
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

fn shift_report(s: &Store, id: Option<String>) -> Result<Option<report::ShiftReport>, UiError> {
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
