//! The background sync worker for the app: one thread with its own connection to the store.
//!
//! It syncs when asked ([`Worker::sync_now`]), a short while after local changes
//! ([`Worker::local_change`], debounced), and periodically while joined; after every attempt it
//! publishes a [`Status`] (offline, N changes waiting, last synced at, last error, pulled changes
//! refused or waiting). It also repairs when asked ([`Worker::repair`]): the documents whose
//! pulled changes wait for changes this device never received are asked for again. The UI
//! never waits on it.

use std::path::PathBuf;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::plan::Budget;
use super::{HttpTransport, Repair, Status, SyncError, list_team, repair, sync_once};
use crate::store::Store;

/// When the worker syncs by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Wait after a local change before syncing (more changes within it wait together).
    pub debounce: Duration,
    /// Sync this often while joined, even without changes.
    pub period: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            debounce: Duration::from_secs(3),
            period: Duration::from_secs(60),
        }
    }
}

/// How often the team's device list is refreshed by syncs nobody asked for (one extra request;
/// only team leads look at it).
const DEVICES_EVERY: Duration = Duration::from_secs(600);

enum Message {
    SyncNow,
    Repair,
    LocalChange,
    Stop,
}

/// A running worker; stops when dropped.
pub struct Worker {
    tx: Sender<Message>,
    status: Arc<Mutex<Status>>,
    thread: Option<JoinHandle<()>>,
}

type Notify = Box<dyn Fn(&Status) + Send>;

impl Worker {
    /// Start a worker on the data directory `dir`. `notify` is called with every new status.
    pub fn spawn(
        dir: PathBuf,
        timing: Timing,
        notify: impl Fn(&Status) + Send + 'static,
    ) -> Result<Worker, SyncError> {
        let mut store = Store::open(&dir)?;
        let transport = HttpTransport::new()?;
        // Read before the thread starts: the app asks for the status at once, and a default
        // one would say "not joined" for a moment on a joined device.
        let first = Status::read(&store, false, &None, 0);
        let status = Arc::new(Mutex::new(first.clone()));
        let (tx, rx) = mpsc::channel();
        let shared = Arc::clone(&status);
        let notify: Notify = Box::new(notify);
        let thread = std::thread::Builder::new()
            .name("groundwork-sync".into())
            .spawn(move || {
                // The slot first: whoever is told reads the same status from it.
                let publish = |s: Status| {
                    if let Ok(mut slot) = shared.lock() {
                        *slot = s.clone();
                    }
                    notify(&s);
                };
                let mut devices = None;
                // When the device list was last asked for, and whether someone asked to sync
                // (then the list is asked for again: the team lead wants it fresh).
                let mut devices_at: Option<Instant> = None;
                // When the list was last asked for to finish a revocation.
                let mut unfinished_at: Option<Instant> = None;
                let mut asked = true;
                // Someone asked for a repair: the next attempt repairs, then syncs.
                let mut repairing = false;
                // Changes pulled since the start.
                let mut pulled = 0u64;
                let mut current = first;
                publish(current.clone());
                let mut due = current.joined.then(Instant::now);
                loop {
                    let wait = due.map_or(timing.period, |d| {
                        d.saturating_duration_since(Instant::now())
                    });
                    match rx.recv_timeout(wait) {
                        Ok(Message::SyncNow) => {
                            asked = true;
                            due = Some(Instant::now());
                        }
                        Ok(Message::Repair) => {
                            asked = true;
                            repairing = true;
                            due = Some(Instant::now());
                        }
                        Ok(Message::LocalChange) => {
                            let soon = Instant::now() + timing.debounce;
                            due = Some(due.map_or(soon, |d| d.min(soon)));
                            current = Status::read(&store, current.offline, &devices, pulled);
                            publish(current.clone());
                        }
                        Ok(Message::Stop) | Err(RecvTimeoutError::Disconnected) => return,
                        Err(RecvTimeoutError::Timeout) => due = Some(Instant::now()),
                    }
                    if due.is_some_and(|d| d <= Instant::now()) {
                        current = Status::read(&store, current.offline, &devices, pulled);
                        if !current.joined {
                            due = None;
                            repairing = false;
                            continue;
                        }
                        publish(Status {
                            syncing: true,
                            ..current.clone()
                        });
                        let outcome = if std::mem::take(&mut repairing) {
                            repair(&mut store, &transport, Repair::Waiting, Budget::default())
                        } else {
                            sync_once(&mut store, &transport, Budget::default())
                        };
                        if let Ok(report) = &outcome {
                            // An erasure changes the notebook as pulled changes do.
                            pulled += (report.pulled + report.erased) as u64;
                        }
                        let offline = outcome.as_ref().is_err_and(SyncError::is_offline);
                        let stale = devices_at.is_none_or(|t| t.elapsed() >= DEVICES_EVERY);
                        // A revocation left unfinished is finished by the listing.
                        let unfinished = super::team::list_to_finish_revocations(
                            &store,
                            unfinished_at.map(|t| t.elapsed()),
                        );
                        if outcome.is_ok() && unfinished {
                            unfinished_at = Some(Instant::now());
                        }
                        if outcome.is_ok() && (asked || stale || unfinished) {
                            devices = list_team(&mut store, &transport).ok().or(devices);
                            devices_at = Some(Instant::now());
                            asked = false;
                        }
                        current = Status::read(&store, offline, &devices, pulled);
                        publish(current.clone());
                        due = Some(Instant::now() + timing.period);
                    }
                }
            })
            .map_err(|e| SyncError::Store(e.into()))?;
        Ok(Worker {
            tx,
            status,
            thread: Some(thread),
        })
    }

    /// Sync as soon as possible.
    pub fn sync_now(&self) {
        let _ = self.tx.send(Message::SyncNow);
    }

    /// Ask the relay again for every document whose pulled changes wait for changes this
    /// device never received, then sync (as soon as possible).
    pub fn repair(&self) {
        let _ = self.tx.send(Message::Repair);
    }

    /// Tell the worker something was saved locally.
    pub fn local_change(&self) {
        let _ = self.tx.send(Message::LocalChange);
    }

    /// The latest status.
    pub fn status(&self) -> Status {
        self.status.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.tx.send(Message::Stop);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
