//! The store on a background thread, behind a message-shaped handle.
//!
//! The UI never touches SQLite. It sends a [`Request`] through a [`StoreHandle`] and awaits the
//! [`Reply`]; writes are followed by a [`Change`] event to every subscriber, so each screen
//! re-reads what it shows. The message types and the function that answers them live in the
//! core ([`groundwork::service`]); this module is only the thread, the channels and the draft
//! timing. [`StoreHandle::ask`] sends any request and takes the reply's payload; the typed
//! methods below are shorthands for it.
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

#[cfg(not(target_arch = "wasm32"))]
use std::collections::HashMap;
#[cfg(not(target_arch = "wasm32"))]
use std::path::Path;
#[cfg(not(target_arch = "wasm32"))]
use std::sync::mpsc;
use std::time::Duration;
#[cfg(not(target_arch = "wasm32"))]
use std::time::Instant;

use chrono::NaiveDate;
use futures_channel::mpsc as amsc;
#[cfg(not(target_arch = "wasm32"))]
use futures_channel::oneshot;
use groundwork::model::{ConversationKind, Person, PersonFile, Shift};
use groundwork::report;
#[cfg(not(target_arch = "wasm32"))]
use groundwork::service;
use groundwork::service::Unexpected;
pub use groundwork::service::{
    CampaignProgress, Change, CsvExport, DueItem, DueLists, FileChange, FollowUpItem, Integrity,
    Overview, Reply, Request, Subject, today,
};
#[cfg(not(target_arch = "wasm32"))]
use groundwork::store::Store;
use groundwork::store::{PeopleChoices, PeopleFilter, PeoplePage, RestoreTarget};

/// How long typing must pause before a draft is written.
pub const DRAFT_QUIET: Duration = Duration::from_millis(250);

/// A failure, in words for the canvasser (the core's messages say what to do next).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UiError(pub String);

impl std::fmt::Display for UiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UiError {}

impl UiError {
    /// What was asked for was erased from the team ([`groundwork::error::Error::Erased`], whose
    /// words cross from the store worker as text).
    pub fn is_erased(&self) -> bool {
        self.0
            .contains(" was erased: nothing of it is kept here, and it cannot be changed")
    }

    /// What was asked for names nothing in this notebook: an unknown id
    /// ([`groundwork::error::Error::NotFound`]) of a person or walk list, or no id at all
    /// ([`groundwork::model::ValidationError::Id`]), as an address can hold (an old link, a
    /// record not yet synced here, a link cut short).
    pub fn is_not_here(&self) -> bool {
        ["no person with id ", "no walklist with id ", "invalid id "]
            .iter()
            .any(|p| self.0.starts_with(p))
    }
}

#[cfg(test)]
mod tests {
    use super::UiError;

    /// The store's words for an id that names nothing here are recognised as such (crossing
    /// from the store worker as text), and nothing else is.
    #[test]
    fn what_names_nothing_here_is_told_from_other_failures() {
        let not_found = |kind| groundwork::error::Error::NotFound {
            kind,
            id: "0192f0c4-7b1e-7c3a-9d2e-3f4a5b6c7d8e".into(),
        };
        for e in [
            not_found("person"),
            not_found("walklist"),
            groundwork::model::ValidationError::Id("nonsense".into()).into(),
        ] {
            assert!(UiError::from(e).is_not_here());
        }
        for e in [
            not_found("commitment"),
            groundwork::error::Error::Erased { id: "x".into() },
        ] {
            assert!(!UiError::from(e).is_not_here());
        }
        assert!(!UiError("the relay said: no person with id x".into()).is_not_here());
    }
}

impl From<groundwork::error::Error> for UiError {
    fn from(e: groundwork::error::Error) -> Self {
        UiError(e.to_string())
    }
}

impl From<Unexpected> for UiError {
    fn from(e: Unexpected) -> Self {
        UiError(e.to_string())
    }
}

#[cfg(not(target_arch = "wasm32"))]
enum Message {
    Call(Box<Request>, oneshot::Sender<Result<Reply, UiError>>),
    SaveDraft(String, String),
    Subscribe(amsc::UnboundedSender<Change>),
    Pulled,
    Flush(mpsc::Sender<()>),
}

/// The store threads whose drafts [`flush_drafts_before_exit`] writes (the app's).
#[cfg(not(target_arch = "wasm32"))]
static ON_EXIT: std::sync::Mutex<Vec<mpsc::Sender<Message>>> = std::sync::Mutex::new(Vec::new());

/// Have [`flush_drafts_before_exit`] write `store`'s waiting drafts. Registered, the store's
/// thread lives as long as the process (as the app's does anyway).
#[cfg(not(target_arch = "wasm32"))]
pub fn flush_on_exit(store: &StoreHandle) {
    match ON_EXIT.lock() {
        Ok(mut stores) => stores.push(store.tx.clone()),
        Err(poisoned) => poisoned.into_inner().push(store.tx.clone()),
    }
}

/// Write every draft still waiting for typing to pause, in every store registered with
/// [`flush_on_exit`], waiting at most `wait` for each: the app calls it as its window
/// closes, so that what was typed in the last [`DRAFT_QUIET`] before closing is not lost with
/// the process.
#[cfg(not(target_arch = "wasm32"))]
pub fn flush_drafts_before_exit(wait: Duration) {
    let stores = match ON_EXIT.lock() {
        Ok(s) => s.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    };
    for tx in stores {
        let _ = StoreHandle { tx }.flush_drafts(wait);
    }
}

/// The UI's end of the store: cheap to clone. On the desktop it sends to the store's thread;
/// in the browser it posts to the store's Web Worker (`crate::browser::client`).
#[derive(Clone)]
pub struct StoreHandle {
    #[cfg(not(target_arch = "wasm32"))]
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

#[cfg(not(target_arch = "wasm32"))]
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

    /// Forget the draft under `key` (an emptied form), sent now, in order with the drafts sent
    /// before and after it: a deletion sent from a task of its own could arrive after the next
    /// keystroke's draft, and take that away.
    pub fn discard_draft(&self, key: &str) {
        let (tx, _) = oneshot::channel();
        let _ = self.tx.send(Message::Call(
            Box::new(Request::DeleteDraft(key.to_string())),
            tx,
        ));
    }

    /// Write the drafts still waiting for typing to pause, now, waiting at most `wait` for the
    /// store's thread (busy with a long request, it may not answer in time); whether it did.
    pub fn flush_drafts(&self, wait: Duration) -> bool {
        let (done_tx, done_rx) = mpsc::channel();
        self.tx.send(Message::Flush(done_tx)).is_ok() && done_rx.recv_timeout(wait).is_ok()
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
}

#[cfg(target_arch = "wasm32")]
impl StoreHandle {
    /// The handle of the store worker this page started.
    pub fn browser() -> StoreHandle {
        StoreHandle {}
    }

    /// Send a request to the store worker and wait for its reply.
    pub async fn call(&self, request: Request) -> Result<Reply, UiError> {
        crate::browser::client::call(request).await.map_err(UiError)
    }

    /// Remember `body` as the draft under `key`; the worker writes it once typing pauses.
    pub fn save_draft(&self, key: &str, body: String) {
        crate::browser::client::save_draft(key, body);
    }

    /// Forget the draft under `key`, sent now, in order with the drafts sent around it.
    pub fn discard_draft(&self, key: &str) {
        crate::browser::client::send_now(Request::DeleteDraft(key.to_string()));
    }

    /// Change events from now on.
    pub fn subscribe(&self) -> amsc::UnboundedReceiver<Change> {
        crate::browser::client::subscribe()
    }

    /// The store worker announces the changes it pulls itself.
    pub fn pulled(&self) {}
}

impl StoreHandle {
    /// Send a request and take its reply as `T`, the payload type of the expected
    /// [`Reply`] variant (`String` for an id, `()` for done, …): any request needs no wrapper
    /// of its own.
    pub async fn ask<T: TryFrom<Reply, Error = Unexpected>>(
        &self,
        request: Request,
    ) -> Result<T, UiError> {
        Ok(T::try_from(self.call(request).await?)?)
    }

    /// Canvasser, open shift, changes waiting.
    pub async fn overview(&self) -> Result<Overview, UiError> {
        self.ask(Request::Overview).await
    }

    /// People matching `query`, or the most recent.
    pub async fn people(&self, query: &str, limit: usize) -> Result<Vec<Person>, UiError> {
        let query = query.to_string();
        self.ask(Request::People { query, limit }).await
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
        self.ask(request).await
    }

    /// What people can be filtered by.
    pub async fn people_choices(&self) -> Result<PeopleChoices, UiError> {
        self.ask(Request::PeopleChoices).await
    }

    /// The Due screen's counts and first rows (`mine`: this canvasser's only).
    pub async fn due(&self, mine: bool, limits: [usize; 3]) -> Result<DueLists, UiError> {
        self.ask(Request::Due { mine, limits }).await
    }

    /// The conversation kind used most in the open shift so far.
    pub async fn usual_kind(&self) -> Result<Option<ConversationKind>, UiError> {
        self.ask(Request::UsualKind).await
    }

    /// Keep person `id`'s file loaded for writing: their conversation form has opened.
    pub async fn keep_loaded(&self, id: &str) -> Result<(), UiError> {
        self.run(Request::KeepLoaded(id.to_string())).await
    }

    /// One person's file.
    pub async fn person(&self, id: &str) -> Result<PersonFile, UiError> {
        Ok(*self
            .ask::<Box<PersonFile>>(Request::Person(id.to_string()))
            .await?)
    }

    /// Send a request whose reply is an id.
    pub async fn create(&self, request: Request) -> Result<String, UiError> {
        self.ask(request).await
    }

    /// The raw key of the encrypted notebook whose passphrase is `passphrase` (refused with
    /// words for another passphrase), for the phone's screen lock to keep.
    #[cfg(target_arch = "wasm32")]
    pub async fn raw_key(
        &self,
        passphrase: String,
    ) -> Result<groundwork::service::SecretText, UiError> {
        self.ask(Request::RawKey(groundwork::service::SecretText(passphrase)))
            .await
    }

    /// Send a request whose reply is `Reply::Done`.
    pub async fn run(&self, request: Request) -> Result<(), UiError> {
        self.ask(request).await
    }

    /// Campaigns with progress.
    pub async fn campaigns(&self) -> Result<Vec<CampaignProgress>, UiError> {
        self.ask(Request::Campaigns).await
    }

    /// Campaigns as recorded (names and targets): cheap, no progress counted.
    pub async fn campaign_list(&self) -> Result<Vec<groundwork::model::Campaign>, UiError> {
        self.ask(Request::CampaignList).await
    }

    /// The report of shift `id`, or of the open shift, or else of the most recent one.
    pub async fn shift_report(
        &self,
        id: Option<String>,
    ) -> Result<Option<report::ShiftReport>, UiError> {
        Ok(*self
            .ask::<Box<Option<report::ShiftReport>>>(Request::ShiftReport(id))
            .await?)
    }

    /// The report of the conversations held between `from` and `to`.
    pub async fn range_report(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<report::ShiftReport, UiError> {
        (*self
            .ask::<Box<Option<report::ShiftReport>>>(Request::RangeReport { from, to })
            .await?)
            .ok_or_else(|| UiError("no report".into()))
    }

    /// Shifts, latest first.
    pub async fn shifts(&self) -> Result<Vec<Shift>, UiError> {
        self.ask(Request::Shifts).await
    }

    /// Walk lists with their progress.
    pub async fn walklists(
        &self,
    ) -> Result<Vec<groundwork::store::walklists::WalkListSummary>, UiError> {
        self.ask(Request::WalkLists).await
    }

    /// Walk list `id`: its doors in walking order with their status.
    pub async fn walklist(
        &self,
        id: &str,
    ) -> Result<groundwork::store::walklists::WalkListView, UiError> {
        Ok(*self
            .ask::<Box<groundwork::store::walklists::WalkListView>>(Request::WalkList(
                id.to_string(),
            ))
            .await?)
    }

    /// How many follow-ups are due by today (`mine`: after this canvasser's conversations),
    /// and the first `limit` of them, soonest first.
    pub async fn follow_ups(
        &self,
        mine: bool,
        limit: usize,
    ) -> Result<(usize, Vec<FollowUpItem>), UiError> {
        self.ask(Request::FollowUps { mine, limit }).await
    }

    /// Refused and waiting changes pulled from the team.
    pub async fn integrity(&self) -> Result<Integrity, UiError> {
        self.ask(Request::Integrity).await
    }

    /// `what` (people, conversations or commitments) as CSV, with the name to save it under.
    pub async fn export_csv(&self, what: &str) -> Result<CsvExport, UiError> {
        self.ask(Request::ExportCsv(what.to_string())).await
    }

    /// The changes of a person's file, newest first.
    pub async fn history(&self, person_id: &str) -> Result<Vec<FileChange>, UiError> {
        self.ask(Request::History(person_id.to_string())).await
    }

    /// Who wrote each value of the fields devices wrote at once in a person's file.
    pub async fn conflict_writers(
        &self,
        person_id: &str,
    ) -> Result<Vec<groundwork::store::ConflictWriter>, UiError> {
        self.ask(Request::ConflictWriters(person_id.to_string()))
            .await
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
        self.ask(request).await
    }

    /// The keys of the drafts whose key starts with `prefix`.
    pub async fn draft_keys(&self, prefix: &str) -> Result<Vec<String>, UiError> {
        self.ask(Request::DraftKeys(prefix.to_string())).await
    }

    /// The draft under `key`.
    pub async fn draft(&self, key: &str) -> Result<Option<String>, UiError> {
        self.ask(Request::Draft(key.to_string())).await
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn stopped() -> UiError {
    UiError("the notebook stopped; close and reopen the app".into())
}

#[cfg(not(target_arch = "wasm32"))]
struct Worker {
    store: Store,
    drafts: HashMap<String, (String, Instant)>,
    subscribers: Vec<amsc::UnboundedSender<Change>>,
    revision: u64,
    /// When to checkpoint the database's write-ahead log, once the app has been idle a while
    /// after a write (so that saves do not pay for it).
    checkpoint_at: Option<Instant>,
    /// The drafts held in memory whose last write failed.
    failed: std::collections::HashSet<String>,
    /// Whether subscribers were last told that drafts wait unwritten
    /// ([`Change::drafts_unwritten`]).
    drafts_unwritten: bool,
}

/// How long after the last write the store counts as idle.
#[cfg(not(target_arch = "wasm32"))]
const IDLE: Duration = Duration::from_secs(2);

#[cfg(not(target_arch = "wasm32"))]
impl Worker {
    fn new(store: Store) -> Self {
        Worker {
            store,
            drafts: HashMap::new(),
            subscribers: Vec::new(),
            revision: 0,
            checkpoint_at: None,
            failed: std::collections::HashSet::new(),
            drafts_unwritten: false,
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
                Some(Message::Flush(done)) => {
                    self.flush_drafts(true);
                    let _ = done.send(());
                }
                Some(Message::Call(request, reply)) => {
                    // A draft the request ends is written only if the request fails.
                    let ended = request
                        .ends_draft()
                        .and_then(|k| self.drafts.remove_entry(k));
                    self.flush_drafts(true);
                    let writes = request.writes();
                    let result = service::handle(&mut self.store, *request).map_err(UiError::from);
                    if result.is_err()
                        && let Some((key, (body, _))) = ended
                    {
                        match self.store.save_draft(&key, &body) {
                            Ok(()) => {
                                self.failed.remove(&key);
                            }
                            Err(e) => {
                                eprintln!(
                                    "warning: could not save the draft {key} (will try again): {e}"
                                );
                                self.failed.insert(key.clone());
                                self.drafts
                                    .insert(key, (body, Instant::now() + DRAFT_QUIET));
                            }
                        }
                    }
                    self.tell_unwritten();
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
        self.tell(local);
    }

    fn tell(&mut self, local: bool) {
        let change = Change {
            revision: self.revision,
            local,
            drafts_unwritten: self.drafts_unwritten,
        };
        self.subscribers
            .retain(|s| s.unbounded_send(change).is_ok());
    }

    /// Subscribers hear, under the same revision, when whether drafts wait unwritten changed:
    /// a draft held in memory whose last write failed (one written since, saved with its
    /// form or discarded no longer counts).
    fn tell_unwritten(&mut self) {
        let drafts = &self.drafts;
        self.failed.retain(|k| drafts.contains_key(k));
        let now = !self.failed.is_empty();
        if now != self.drafts_unwritten {
            self.drafts_unwritten = now;
            self.tell(false);
        }
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
            let Some((body, _)) = self.drafts.remove(&key) else {
                continue;
            };
            match self.store.save_draft(&key, &body) {
                Ok(()) => {
                    self.failed.remove(&key);
                }
                Err(e) => {
                    // Kept, and tried again after another pause (the database may be busy
                    // with another connection's long write): dropped, the words were lost.
                    eprintln!("warning: could not save the draft {key} (will try again): {e}");
                    self.failed.insert(key.clone());
                    self.drafts.insert(key, (body, now + DRAFT_QUIET));
                }
            }
        }
        self.tell_unwritten();
    }
}
