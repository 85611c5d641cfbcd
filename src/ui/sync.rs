//! Sync as the app sees it: a status to show and commands to send.
//!
//! The sync engine (a background worker talking to the relay) lives in the core library
//! (`groundwork::sync::worker`); [`RelaySync`] puts it behind [`SyncEngine`]: status updates
//! become a stream, joining runs on its own thread, and every local write nudges the worker.
//! [`NotConnected`] stands in when the worker cannot start (and in component tests): it keeps
//! everything on this device and says so when asked to join or sync.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use futures_channel::mpsc as amsc;
use groundwork::store::Store;
use groundwork::sync::HttpTransport;
use groundwork::sync::worker::{Status as WorkerStatus, Timing, Worker};

/// What the sync badge and the settings screen show.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SyncStatus {
    /// The relay this device joined, if any.
    pub joined: Option<String>,
    /// Whether the relay answered last time it was tried.
    pub online: bool,
    /// Local changes waiting for the relay, when the engine knows (otherwise the store's count
    /// is shown).
    pub pending: Option<u64>,
    /// When the last sync completed (RFC 3339).
    pub last_synced: Option<String>,
    /// The last error, in words that say what to do.
    pub last_error: Option<String>,
    /// A sync is running now.
    pub syncing: bool,
    /// The team's devices and their last sync, after a successful sync.
    pub team_devices: Option<Vec<groundwork::report::DeviceSync>>,
    /// Changes pulled from other devices and refused (kept in quarantine, never applied).
    pub quarantined: u64,
    /// Changes pulled from other devices that wait for changes this device has not received.
    pub waiting: u64,
}

/// What the app asks of the sync engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncCommand {
    /// Join a team on a relay with an invite code, under a device (canvasser) name.
    Join {
        /// The relay's address, e.g. `https://relay.example.org`.
        relay: String,
        /// The invite code from the team lead.
        invite: String,
        /// The name this device records as canvasser.
        device_name: String,
    },
    /// Sync now instead of waiting for the next automatic sync.
    SyncNow,
    /// Ask the relay again for the documents whose pulled changes wait, then sync.
    Repair,
}

/// The app's view of a sync engine. Commands answer at once; their outcome arrives as status.
pub trait SyncEngine: Send + Sync + 'static {
    /// The status now.
    fn status(&self) -> SyncStatus;
    /// Every later status.
    fn watch(&self) -> amsc::UnboundedReceiver<SyncStatus>;
    /// Start a command; an error says why it cannot start.
    fn command(&self, command: SyncCommand) -> Result<(), String>;
    /// Something was saved on this device (so there is something to send).
    fn local_change(&self) {}
}

/// A shared engine, as put in the app's context.
pub type SharedSync = Arc<dyn SyncEngine>;

/// The stand-in until the sync engine is connected: offline, never joined.
#[derive(Debug, Default)]
pub struct NotConnected;

/// What [`NotConnected`] answers to a command.
pub const NOT_CONNECTED: &str =
    "sync is not connected in this build yet: everything you record stays on this device";

impl SyncEngine for NotConnected {
    fn status(&self) -> SyncStatus {
        SyncStatus::default()
    }

    fn watch(&self) -> amsc::UnboundedReceiver<SyncStatus> {
        // The sender is dropped at once: no status will ever follow.
        amsc::unbounded().1
    }

    fn command(&self, _command: SyncCommand) -> Result<(), String> {
        Err(NOT_CONNECTED.to_string())
    }
}

/// The core's background sync worker behind [`SyncEngine`].
pub struct RelaySync {
    dir: PathBuf,
    worker: Arc<Worker>,
    subscribers: Subscribers,
}

type Subscribers = Arc<Mutex<Vec<amsc::UnboundedSender<SyncStatus>>>>;

fn publish(subscribers: &Subscribers, status: &SyncStatus) {
    if let Ok(mut subs) = subscribers.lock() {
        subs.retain(|s| s.unbounded_send(status.clone()).is_ok());
    }
}

/// The app's view of the worker's status.
pub fn from_worker(s: &WorkerStatus) -> SyncStatus {
    SyncStatus {
        joined: s
            .joined
            .then(|| s.relay.clone().unwrap_or_else(|| "the team's relay".into())),
        online: s.joined && !s.offline,
        pending: Some(s.pending),
        last_synced: s.last_synced_at.clone(),
        last_error: s.last_error.clone(),
        syncing: s.syncing,
        team_devices: s
            .team_devices
            .clone()
            .map(groundwork::report::DeviceSync::from_team),
        quarantined: s.quarantined,
        waiting: s.waiting,
    }
}

impl RelaySync {
    /// Start the sync worker on the data directory `dir`.
    pub fn start(dir: &Path) -> Result<RelaySync, String> {
        let subscribers: Subscribers = Arc::default();
        let subs = Arc::clone(&subscribers);
        let worker = Worker::spawn(dir.to_path_buf(), Timing::default(), move |s| {
            publish(&subs, &from_worker(s))
        })
        .map_err(|e| e.to_string())?;
        Ok(RelaySync {
            dir: dir.to_path_buf(),
            worker: Arc::new(worker),
            subscribers,
        })
    }
}

impl SyncEngine for RelaySync {
    fn status(&self) -> SyncStatus {
        from_worker(&self.worker.status())
    }

    fn watch(&self) -> amsc::UnboundedReceiver<SyncStatus> {
        let (tx, rx) = amsc::unbounded();
        let _ = tx.unbounded_send(self.status());
        if let Ok(mut subs) = self.subscribers.lock() {
            subs.push(tx);
        }
        rx
    }

    fn command(&self, command: SyncCommand) -> Result<(), String> {
        match command {
            SyncCommand::SyncNow | SyncCommand::Repair => {
                if !self.worker.status().joined {
                    return Err("join a team first: Settings → Join a team".into());
                }
                if command == SyncCommand::Repair {
                    self.worker.repair();
                } else {
                    self.worker.sync_now();
                }
                Ok(())
            }
            SyncCommand::Join {
                relay,
                invite,
                device_name,
            } => {
                let (dir, worker, subs) = (
                    self.dir.clone(),
                    Arc::clone(&self.worker),
                    Arc::clone(&self.subscribers),
                );
                publish(
                    &subs,
                    &SyncStatus {
                        syncing: true,
                        ..self.status()
                    },
                );
                // Joining talks to the relay: never on the UI's thread.
                std::thread::Builder::new()
                    .name("groundwork-join".into())
                    .spawn(move || {
                        let outcome =
                            Store::open(&dir)
                                .map_err(|e| e.to_string())
                                .and_then(|mut store| {
                                    let transport =
                                        HttpTransport::new().map_err(|e| e.to_string())?;
                                    groundwork::sync::join(
                                        &mut store,
                                        &transport,
                                        &relay,
                                        &invite,
                                        &device_name,
                                    )
                                    .map_err(|e| e.to_string())
                                });
                        match outcome {
                            Ok(_) => worker.sync_now(),
                            Err(e) => publish(
                                &subs,
                                &SyncStatus {
                                    last_error: Some(e),
                                    syncing: false,
                                    ..from_worker(&worker.status())
                                },
                            ),
                        }
                    })
                    .map(|_| ())
                    .map_err(|e| format!("could not start joining: {e}"))
            }
        }
    }

    fn local_change(&self) {
        self.worker.local_change();
    }
}

/// The sync engine for the notebook in `dir`: the core's worker, or [`NotConnected`] (with a
/// warning) if it cannot start.
pub fn connect(dir: &Path) -> SharedSync {
    match RelaySync::start(dir) {
        Ok(s) => Arc::new(s),
        Err(e) => {
            eprintln!("warning: sync is off: {e}");
            Arc::new(NotConnected)
        }
    }
}

/// The badge's words for a status and the store's count of changes waiting.
pub fn badge_text(status: &SyncStatus, store_pending: u64) -> String {
    let pending = status.pending.unwrap_or(store_pending);
    let waiting = match pending {
        0 => "all saved here".to_string(),
        1 => "1 change waiting".to_string(),
        n => format!("{n} changes waiting"),
    };
    if status.syncing {
        return format!("Syncing… {waiting}");
    }
    if status.last_error.is_some() {
        return format!("Sync failed · {waiting}");
    }
    match (&status.joined, status.online, &status.last_synced) {
        (None, _, _) => format!("Not joined · {waiting}"),
        (Some(_), false, _) => format!("Offline · {waiting}"),
        (Some(_), true, Some(at)) => format!("Synced {} · {waiting}", short_time(at)),
        (Some(_), true, None) => format!("Online · {waiting}"),
    }
}

/// `HH:MM` in local time from an RFC 3339 time, or the text as given.
pub fn short_time(rfc3339: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| t.with_timezone(&chrono::Local).format("%H:%M").to_string())
        .unwrap_or_else(|_| rfc3339.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn badge_says_where_changes_are() {
        let s = SyncStatus::default();
        assert_eq!(badge_text(&s, 0), "Not joined · all saved here");
        assert_eq!(badge_text(&s, 3), "Not joined · 3 changes waiting");
        let joined = SyncStatus {
            joined: Some("https://relay".into()),
            ..Default::default()
        };
        assert_eq!(badge_text(&joined, 1), "Offline · 1 change waiting");
        let failed = SyncStatus {
            last_error: Some("x".into()),
            pending: Some(2),
            ..joined.clone()
        };
        assert_eq!(badge_text(&failed, 9), "Sync failed · 2 changes waiting");
        assert!(NotConnected.command(SyncCommand::SyncNow).is_err());
    }

    #[test]
    fn worker_status_maps_to_the_badge() {
        let w = WorkerStatus {
            joined: true,
            relay: Some("https://relay.example.org".into()),
            pending: 4,
            last_synced_at: None,
            last_error: None,
            offline: true,
            syncing: false,
            team_devices: Some(vec![groundwork::sync::TeamDevice {
                device_id: "d1".into(),
                name: "Sam's phone".into(),
                last_sync_at: Some(0),
                revoked: false,
                actor: None,
            }]),
            quarantined: 2,
            waiting: 1,
        };
        let s = from_worker(&w);
        let devices = s.team_devices.clone().unwrap();
        assert_eq!(devices[0].name, "Sam's phone");
        assert_eq!(
            devices[0].last_sync.as_deref(),
            Some("1970-01-01T00:00:00.000Z")
        );
        assert_eq!(s.joined.as_deref(), Some("https://relay.example.org"));
        assert_eq!(badge_text(&s, 0), "Offline · 4 changes waiting");
        assert_eq!((s.quarantined, s.waiting), (2, 1));
        let s = from_worker(&WorkerStatus::default());
        assert_eq!(s.joined, None);
        assert_eq!(badge_text(&s, 0), "Not joined · all saved here");
    }

    #[test]
    fn a_fresh_notebook_is_not_joined_and_sync_now_says_to_join() {
        let dir = tempfile::tempdir().unwrap();
        let engine = RelaySync::start(&dir.path().join("n")).unwrap();
        assert_eq!(engine.status().joined, None);
        let err = engine.command(SyncCommand::SyncNow).unwrap_err();
        assert!(err.contains("join a team first"), "{err}");
        let err = engine.command(SyncCommand::Repair).unwrap_err();
        assert!(err.contains("join a team first"), "{err}");
    }
}
