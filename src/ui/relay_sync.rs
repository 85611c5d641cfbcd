//! The desktop's sync engine: the core's background sync thread behind [`SyncEngine`].

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use futures_channel::mpsc as amsc;
use groundwork::store::Store;
use groundwork::sync::team::{self, TeamAction};
use groundwork::sync::worker::{Timing, Worker};
use groundwork::sync::{HttpTransport, SyncError};

use super::sync::{
    NotConnected, SharedSync, SyncCommand, SyncEngine, SyncStatus, TeamPanel, from_worker,
};

/// The core's background sync worker behind [`SyncEngine`].
pub struct RelaySync {
    dir: PathBuf,
    worker: Arc<Worker>,
    subscribers: Subscribers,
    /// A join is under way: every status published meanwhile says so.
    joining: Arc<AtomicBool>,
    /// The team lead's panel, carried on every status.
    team: Arc<Mutex<TeamPanel>>,
    /// What the last join said about joining again, carried on every status.
    rejoined: Arc<Mutex<Option<usize>>>,
}

fn rejoined(r: &Mutex<Option<usize>>) -> Option<usize> {
    r.lock().map(|r| *r).unwrap_or_default()
}

fn panel(team: &Mutex<TeamPanel>) -> TeamPanel {
    team.lock().map(|p| p.clone()).unwrap_or_default()
}

type Subscribers = Arc<Mutex<Vec<amsc::UnboundedSender<SyncStatus>>>>;

fn publish(subscribers: &Subscribers, status: &SyncStatus) {
    if let Ok(mut subs) = subscribers.lock() {
        subs.retain(|s| s.unbounded_send(status.clone()).is_ok());
    }
}

impl RelaySync {
    /// Start the sync worker on the data directory `dir`.
    pub fn start(dir: &Path) -> Result<RelaySync, String> {
        let subscribers: Subscribers = Arc::default();
        let joining = Arc::new(AtomicBool::new(false));
        let team: Arc<Mutex<TeamPanel>> = Arc::default();
        let again: Arc<Mutex<Option<usize>>> = Arc::default();
        let (subs, flag, shown, told) = (
            Arc::clone(&subscribers),
            Arc::clone(&joining),
            Arc::clone(&team),
            Arc::clone(&again),
        );
        let worker = Worker::spawn(dir.to_path_buf(), Timing::default(), move |s| {
            publish(
                &subs,
                &SyncStatus {
                    joining: flag.load(Ordering::SeqCst),
                    team: panel(&shown),
                    rejoined: rejoined(&told),
                    ..from_worker(s)
                },
            )
        })
        .map_err(|e| e.to_string())?;
        Ok(RelaySync {
            dir: dir.to_path_buf(),
            worker: Arc::new(worker),
            subscribers,
            joining,
            team,
            rejoined: again,
        })
    }

    /// Carry out a team lead's action on a thread of its own (it talks to the relay), showing
    /// the panel busy meanwhile and its outcome after.
    fn team_action(&self, action: TeamAction) -> Result<(), String> {
        if let Ok(mut p) = self.team.lock() {
            if p.busy {
                return Err("wait for the relay to answer the last request".into());
            }
            p.busy = true;
        }
        publish(&self.subscribers, &self.status());
        let (dir, worker, subs, joining, team, again) = (
            self.dir.clone(),
            Arc::clone(&self.worker),
            Arc::clone(&self.subscribers),
            Arc::clone(&self.joining),
            Arc::clone(&self.team),
            Arc::clone(&self.rejoined),
        );
        let started = std::thread::Builder::new()
            .name("groundwork-team".into())
            .spawn(move || {
                let erasing = action.erases();
                let outcome = Store::open(&dir)
                    .map_err(SyncError::from)
                    .and_then(|mut store| {
                        let transport = HttpTransport::new()?;
                        let nb = RefCell::new(&mut store);
                        groundwork::sync::block_on(team::act(&nb, &transport, action))
                    });
                let offline = outcome.as_ref().is_err_and(SyncError::is_offline);
                let reply = outcome.map_err(|e| e.to_string());
                let erased = erasing && reply.is_ok();
                if let Ok(mut p) = team.lock() {
                    *p = p.after(reply);
                }
                publish(
                    &subs,
                    &SyncStatus {
                        joining: joining.load(Ordering::SeqCst),
                        team: panel(&team),
                        rejoined: rejoined(&again),
                        ..from_worker(&worker.status())
                    },
                );
                // An erasure took its changes out of the outbox: the worker counts again (with
                // no team, nothing else would until the next save), and its status, the last,
                // carries the panel as it is now.
                if erased {
                    worker.local_change();
                }
                // The relay could not be reached: the engine tries a sync now, so the badge
                // says the device is offline (it said the last sync's "Synced" beside the
                // action's "cannot reach the relay") and goes back to syncing on its own.
                if offline {
                    worker.sync_now();
                }
            });
        started.map(|_| ()).map_err(|e| {
            if let Ok(mut p) = self.team.lock() {
                p.busy = false;
            }
            format!("could not reach the relay: {e}")
        })
    }
}

impl SyncEngine for RelaySync {
    fn status(&self) -> SyncStatus {
        SyncStatus {
            joining: self.joining.load(Ordering::SeqCst),
            team: panel(&self.team),
            rejoined: rejoined(&self.rejoined),
            ..from_worker(&self.worker.status())
        }
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
            SyncCommand::Team(action) => {
                // An erasure in a notebook of no team erases from the notebook alone
                // (`team::act` with no relay link); every other action needs the team.
                if !self.worker.status().joined && !action.erases() {
                    return Err("join a team first: Settings → Join a team".into());
                }
                self.team_action(action)
            }
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
                if self.joining.swap(true, Ordering::SeqCst) {
                    return Err("already joining: wait for the relay to answer".into());
                }
                let (dir, worker, subs, joining, again) = (
                    self.dir.clone(),
                    Arc::clone(&self.worker),
                    Arc::clone(&self.subscribers),
                    Arc::clone(&self.joining),
                    Arc::clone(&self.rejoined),
                );
                publish(&subs, &self.status());
                // Joining talks to the relay: never on the UI's thread.
                let started = std::thread::Builder::new()
                    .name("groundwork-join".into())
                    .spawn(move || {
                        let outcome =
                            Store::open(&dir)
                                .map_err(SyncError::from)
                                .and_then(|mut store| {
                                    let transport = HttpTransport::new()?;
                                    groundwork::sync::join(
                                        &mut store,
                                        &transport,
                                        &relay,
                                        &invite,
                                        &device_name,
                                    )
                                });
                        // The join has ended, either way: say so before anything else.
                        joining.store(false, Ordering::SeqCst);
                        let now = from_worker(&worker.status());
                        match outcome {
                            Ok(report) => {
                                let told = report.renewed.as_ref().map(|r| r.rewritten.len());
                                if let Ok(mut r) = again.lock() {
                                    *r = told;
                                }
                                publish(
                                    &subs,
                                    &SyncStatus {
                                        rejoined: told,
                                        joined: Some(report.relay),
                                        last_error: None,
                                        unreachable: false,
                                        syncing: true,
                                        ..now
                                    },
                                );
                                worker.sync_now();
                            }
                            Err(e) => publish(
                                &subs,
                                &SyncStatus {
                                    unreachable: e.is_offline(),
                                    last_error: Some(e.to_string()),
                                    syncing: false,
                                    ..now
                                },
                            ),
                        }
                    });
                started.map(|_| ()).map_err(|e| {
                    self.joining.store(false, Ordering::SeqCst);
                    publish(&self.subscribers, &self.status());
                    format!("could not start joining: {e}")
                })
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    /// The desktop's engine on a notebook that has joined no team: an erasure goes through
    /// (`team::act` erases from the notebook alone) and its outcome reaches the app, with the
    /// badge's count of changes waiting taken down by the person's (no sync round would count
    /// them again); the other lead actions still ask to join a team first.
    #[test]
    fn a_notebook_of_no_team_erases_through_the_engine_and_other_team_actions_wait_for_a_team() {
        let dir = tempfile::tempdir().unwrap();
        let id = Store::open(dir.path())
            .unwrap()
            .add_person(groundwork::model::NewPerson::named("Rosa Kowalski"))
            .unwrap();
        let sync = RelaySync::start(dir.path()).unwrap();
        assert_eq!(sync.status().pending, Some(1), "the new person waits");
        let refused = sync.command(SyncCommand::Team(TeamAction::Invite { lead: false }));
        assert!(
            refused
                .as_ref()
                .is_err_and(|e| e.contains("join a team first")),
            "{refused:?}"
        );
        let mut heard = sync.watch();
        sync.command(SyncCommand::Team(TeamAction::Erase {
            person_id: id.clone(),
        }))
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        let outcome = loop {
            match heard.try_recv() {
                Ok(s) => match s.team.erased {
                    Some(outcome) => break outcome,
                    None => assert!(s.team.error.is_none(), "{:?}", s.team.error),
                },
                Err(e) if e.is_closed() => panic!("the engine stopped"),
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
            assert!(Instant::now() < deadline, "no outcome in 20 s");
        };
        assert_eq!(outcome.erased, id);
        assert_eq!(outcome.order, None, "no team, no order");
        let deadline = Instant::now() + Duration::from_secs(20);
        while sync.status().pending != Some(0) {
            while heard.try_recv().is_ok() {}
            assert!(
                Instant::now() < deadline,
                "the badge still counts the erased person's change: {:?}",
                sync.status().pending
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(matches!(
            Store::open(dir.path()).unwrap().person(&id),
            Err(groundwork::error::Error::Erased { .. })
        ));
    }

    /// Waits up to 20 s for a status of `sync` that `done` accepts, and returns it.
    fn wait_for(sync: &RelaySync, what: &str, done: impl Fn(&SyncStatus) -> bool) -> SyncStatus {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let now = sync.status();
            if done(&now) {
                return now;
            }
            assert!(Instant::now() < deadline, "{what} in 20 s: {now:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A relay of one team (its folder and itself), its first lead's notebook joined to it (its
    /// folder), and that notebook's engine, started.
    fn a_leads_engine() -> (
        tempfile::TempDir,
        sync_server::embedded::EmbeddedRelay,
        tempfile::TempDir,
        RelaySync,
    ) {
        let relay_dir = tempfile::tempdir().unwrap();
        let relay = sync_server::embedded::EmbeddedRelay::start(relay_dir.path()).unwrap();
        let (_, invite) = relay.team("Team", 1).unwrap();
        let dir = tempfile::tempdir().unwrap();
        {
            let mut store = Store::open(dir.path()).unwrap();
            let transport = HttpTransport::new().unwrap();
            groundwork::sync::join(&mut store, &transport, relay.url(), &invite, "Lead").unwrap();
        }
        let sync = RelaySync::start(dir.path()).unwrap();
        (relay_dir, relay, dir, sync)
    }

    /// A lead's action that cannot reach the relay leaves the badge saying the device is
    /// offline, not the last sync's "Synced" beside the action's "cannot reach the relay": the
    /// engine tries a sync at once (its next would be a minute away).
    #[test]
    fn a_team_action_that_cannot_reach_the_relay_has_the_badge_say_offline() {
        let (_relay_dir, relay, _dir, sync) = a_leads_engine();
        wait_for(&sync, "no sync", |s| {
            s.last_synced.is_some() && !s.syncing && s.last_error.is_none()
        });
        drop(relay);
        sync.command(SyncCommand::Team(TeamAction::Invite { lead: false }))
            .unwrap();
        let failed = wait_for(&sync, "no answer to the invite", |s| !s.team.busy);
        assert!(
            failed
                .team
                .error
                .as_deref()
                .is_some_and(|e| e.contains("reach")),
            "{:?}",
            failed.team
        );
        let offline = wait_for(&sync, "the badge does not say offline", |s| {
            s.unreachable && !s.syncing
        });
        assert!(offline.last_error.is_some(), "{offline:?}");
    }

    /// A revocation left unfinished (its erasures to sign again) is finished by the engine's
    /// next sync, which lists the team for it though the list is not due yet; the status says
    /// it waits until then. Here the noted device was never revoked, so the listing drops it.
    #[test]
    fn a_revocation_left_unfinished_is_finished_at_the_next_sync() {
        let (_relay_dir, _relay, dir, sync) = a_leads_engine();
        let first = wait_for(&sync, "no sync", |s| {
            s.last_synced.is_some() && !s.syncing && s.last_error.is_none()
        });
        // A note of a revocation the relay carried out (so the engine lists the team for it),
        // of long ago (a younger note of a device not listed as revoked may be another
        // process's request on its way), for a device the relay does not list as revoked.
        let store = Store::open(dir.path()).unwrap();
        store
            .note_orders_to_sign_again("a-device-never-revoked", &[])
            .unwrap();
        store
            .connection()
            .execute(
                "UPDATE meta SET value = json_set(value, '$.at', 0, '$.revoked', json('true'))
                 WHERE key LIKE 'sign-again:%'",
                [],
            )
            .unwrap();
        drop(store);
        // A sync nobody asked for (a save's: "Sync now" would list the team anyway).
        sync.local_change();
        let next = wait_for(&sync, "no second sync", |s| {
            s.last_synced.is_some() && s.last_synced != first.last_synced && !s.syncing
        });
        assert_eq!(next.revocations_unfinished, 0, "{next:?}");
        let store = Store::open(dir.path()).unwrap();
        assert!(store.orders_to_sign_again().unwrap().is_empty());
    }
}
