//! The store worker: the notebook in a dedicated Web Worker.
//!
//! On start it takes the notebook's Web Lock (so a second tab is told, instead of failing on
//! the file), installs the OPFS SyncAccessHandle-pool VFS as SQLite's default, opens the same
//! `Store` as the desktop (migrations, documents, projections, full-text index, drafts,
//! outbox) and says `Ready`. Then:
//!
//! - each `Call` is answered with `service::handle`, after writing any draft still waiting;
//!   a write is followed by a `Change` to the page and nudges sync;
//! - drafts are written once typing pauses for [`DRAFT_QUIET`], and the search index catches
//!   up with a save, and the log is checkpointed, [`QUIET`] after it;
//! - sync runs here, over `fetch`: a few seconds after local changes, every minute, when the
//!   browser says it is back online, and on "Sync now"; its status goes to the page after
//!   every attempt, and changes it pulled in are announced like local ones, so the open
//!   screen re-reads them.
//!
//! Everything runs on the worker's one thread. The store is borrowed for one request, one
//! draft or one step of a sync at a time, never across a wait on the network.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use futures_channel::mpsc as amsc;
use futures_util::StreamExt;
use futures_util::future::{Either, select};
use groundwork::service::{self, Change, Request};
use groundwork::store::Store;
use groundwork::sync::fetch::{sleep, transport};
use groundwork::sync::plan::Budget;
use groundwork::sync::team;
use groundwork::sync::{Repair, Status, SyncError, engine};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use super::messages::{FromStore, Refusal, ToStore};
use crate::ui::sync::{SyncCommand, SyncStatus, TeamPanel, from_worker};
use crate::ui::worker::DRAFT_QUIET;

/// How early a draft's timer may fire and still write it (timers and clocks round).
const DRAFT_EARLY_MS: f64 = 25.0;

/// How long after a save the search index catches up with it and the log is checkpointed
/// (`Store::checkpoint`): after the screens the save changed have asked for what they show.
const QUIET: std::time::Duration = std::time::Duration::from_secs(2);

/// The name of the notebook's Web Lock.
const LOCK: &str = "groundwork-notebook";
/// The database file in the pool.
const DB_DIR: &str = "/";
/// Wait after a local change before syncing (more changes within it go together).
const DEBOUNCE: Duration = Duration::from_secs(3);
/// Sync this often while joined.
const PERIOD: Duration = Duration::from_secs(60);
/// The team's device list is refreshed at most this often by syncs nobody asked for.
const DEVICES_EVERY_MS: f64 = 600_000.0;

/// Why sync should run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wake {
    Local,
    Now,
    Repair,
}

struct Worker {
    scope: web_sys::DedicatedWorkerGlobalScope,
    store: Rc<RefCell<Store>>,
    /// Drafts waiting for typing to pause: key → (text, when to write, in ms since the epoch).
    drafts: RefCell<HashMap<String, (String, f64)>>,
    /// The highest [`ToStore::SaveDraft`] `seq` received, and the highest told to the page as
    /// kept ([`FromStore::DraftsKept`]).
    drafts_seen: Cell<u64>,
    drafts_told: Cell<u64>,
    /// A request that ends a draft failed since the last [`FromStore::DraftsKept`]: the page
    /// keeps that draft until it hears again, even if no new `seq` came.
    drafts_owed: Cell<bool>,
    /// The drafts held in memory whose last write failed.
    failed: RefCell<std::collections::HashSet<String>>,
    /// Whether the page was last told that drafts wait unwritten.
    drafts_unwritten: Cell<bool>,
    revision: Cell<u64>,
    /// Saves answered so far: [`Store::checkpoint`] waits for [`QUIET`] after the last one,
    /// so a run of taps checkpoints once.
    saves: Cell<u64>,
    wake: amsc::UnboundedSender<Wake>,
    /// The last status sent to the page.
    status: RefCell<SyncStatus>,
}

thread_local! {
    /// The pool's handle: the VFS lives as long as it does.
    static POOL: RefCell<Option<sqlite_wasm_vfs::sahpool::OpfsSAHPoolUtil>> =
        const { RefCell::new(None) };
}

/// Start the store worker in `scope`.
pub fn start(scope: web_sys::DedicatedWorkerGlobalScope) {
    wasm_bindgen_futures::spawn_local(async move {
        match open().await {
            Ok(store) => serve(scope, store),
            Err(refusal) => post(&scope, &FromStore::Ready(Err(refusal))),
        }
    });
}

fn post(scope: &web_sys::DedicatedWorkerGlobalScope, message: &FromStore) {
    match serde_json::to_string(message) {
        Ok(text) => {
            if let Err(e) = scope.post_message(&JsValue::from_str(&text)) {
                super::log(&format!("store worker: could not post to the page: {e:?}"));
            }
        }
        Err(e) => super::log(&format!("store worker: could not encode a message: {e}")),
    }
}

/// How long the worker keeps asking for the notebook's lock and files before it says another
/// tab has them: a reload (the Update bar's too) starts this worker while the old page's may
/// still be ending, holding both for a moment, and the refusal stays until the next reload.
const OPEN_PATIENCE_MS: f64 = 3_000.0;

/// The wait between two asks.
const OPEN_RETRY: Duration = Duration::from_millis(250);

/// Take the lock, install the VFS, open the notebook.
async fn open() -> Result<Store, Refusal> {
    let since = |started: f64| js_sys::Date::now() - started;
    let started = js_sys::Date::now();
    while !take_lock().await? {
        if since(started) >= OPEN_PATIENCE_MS {
            return Err(Refusal::OpenElsewhere);
        }
        sleep(OPEN_RETRY).await;
    }
    let config = sqlite_wasm_vfs::sahpool::OpfsSAHPoolCfg::default();
    let started = js_sys::Date::now();
    let pool = loop {
        use sqlite_wasm_vfs::sahpool::OpfsSAHError;
        match sqlite_wasm_vfs::sahpool::install::<sqlite_wasm_rs::WasmOsCallback>(&config, true)
            .await
        {
            Ok(pool) => break pool,
            // Another worker holds the files: asked again a moment later, and past the
            // patience, that worker's tab has the notebook.
            Err(OpfsSAHError::Opfs {
                operation: "acquire sync access handle",
                ..
            }) => {
                if since(started) >= OPEN_PATIENCE_MS {
                    return Err(Refusal::OpenElsewhere);
                }
                sleep(OPEN_RETRY).await;
            }
            Err(e) => return Err(Refusal::NoStorage(e.to_string())),
        }
    };
    POOL.with(|p| *p.borrow_mut() = Some(pool));
    // The store's first open wraps SQLite's default VFS, the pool installed just above, in the
    // layer that gathers the log's writes (`store/gather.rs`): nothing may open a database
    // before this point.
    match Store::open(std::path::Path::new(DB_DIR)) {
        Err(groundwork::error::Error::Locked { .. }) => unlock().await,
        opened => opened.map_err(|e| Refusal::Failed(e.to_string())),
    }
}

/// The notebook is encrypted at rest: ask the page for its passphrase (the lock screen) until
/// one opens it. Only [`ToStore::Unlock`] is read meanwhile; the page sends nothing else
/// before the worker is ready.
async fn unlock() -> Result<Store, Refusal> {
    let scope: web_sys::DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    let (tx, mut typed) = amsc::unbounded::<groundwork::service::SecretText>();
    let on_message =
        Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |event: web_sys::MessageEvent| {
            let text = event.data().as_string().unwrap_or_default();
            if let Ok(ToStore::Unlock(secret)) = serde_json::from_str::<ToStore>(&text) {
                let _ = tx.unbounded_send(secret);
            }
        });
    scope.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    post(&scope, &FromStore::Locked { wrong: false });
    let opened = loop {
        let Some(secret) = typed.next().await else {
            break Err(Refusal::Failed("the lock screen went away".into()));
        };
        let passphrase = groundwork::store::at_rest::Passphrase::new(secret.0);
        match Store::open_with(std::path::Path::new(DB_DIR), Some(&passphrase)) {
            Err(groundwork::error::Error::WrongPassphrase { .. }) => {
                post(&scope, &FromStore::Locked { wrong: true });
            }
            opened => break opened.map_err(|e| Refusal::Failed(e.to_string())),
        }
    };
    // `serve` listens from here on.
    scope.set_onmessage(None);
    drop(on_message);
    opened
}

/// Ask for the notebook's Web Lock without waiting for it: true when this worker holds it
/// (until it ends), false when another tab does. A browser without Web Locks cannot tell;
/// the pool's exclusive file handles then refuse the second tab instead.
async fn take_lock() -> Result<bool, Refusal> {
    let global = js_sys::global();
    let locks = js_sys::Reflect::get(&global, &"navigator".into())
        .and_then(|n| js_sys::Reflect::get(&n, &"locks".into()))
        .ok()
        .filter(|l| !l.is_undefined() && !l.is_null());
    let Some(locks) = locks else {
        return Ok(true);
    };
    let (tx, rx) = futures_channel::oneshot::channel::<bool>();
    let tx = Rc::new(RefCell::new(Some(tx)));
    // Called with the lock, or null when another holder has it. Returning a promise that
    // never settles keeps the lock for the worker's lifetime.
    let answer = Rc::clone(&tx);
    let granted = Closure::<dyn FnMut(JsValue) -> JsValue>::new(move |lock: JsValue| {
        let held = !lock.is_null();
        if let Some(tx) = answer.borrow_mut().take() {
            let _ = tx.send(held);
        }
        if held {
            js_sys::Promise::new(&mut |_, _| {}).into()
        } else {
            JsValue::UNDEFINED
        }
    });
    let options = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&options, &"ifAvailable".into(), &JsValue::TRUE);
    let request = js_sys::Reflect::get(&locks, &"request".into())
        .ok()
        .and_then(|f| f.dyn_into::<js_sys::Function>().ok());
    let Some(request) = request else {
        return Ok(true);
    };
    let asked = request
        .call3(
            &locks,
            &LOCK.into(),
            &options,
            granted.as_ref().unchecked_ref(),
        )
        .map_err(|e| Refusal::Failed(format!("{e:?}")))?;
    granted.forget();
    // A request the browser refuses (site storage blocked, an opaque origin) never calls
    // `granted`: without this the worker waited for ever and the page said "Opening your
    // notebook…" for good. Dropping the sender ends the wait with the refusal below.
    let refused = Rc::new(RefCell::new(None::<String>));
    if let Ok(promise) = asked.dyn_into::<js_sys::Promise>() {
        let why = Rc::clone(&refused);
        let on_refusal = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
            *why.borrow_mut() = Some(format!("{e:?}"));
            drop(tx.borrow_mut().take());
        });
        let _ = promise.catch(&on_refusal);
        on_refusal.forget();
    }
    rx.await.map_err(|_| {
        Refusal::NoStorage(refused.borrow_mut().take().map_or_else(
            || "the browser did not answer the notebook's lock request".into(),
            |e| format!("the browser refused the notebook's lock ({e})"),
        ))
    })
}

/// Answer the page from now on, and sync.
fn serve(scope: web_sys::DedicatedWorkerGlobalScope, store: Store) {
    let (wake, wakes) = amsc::unbounded();
    let worker = Rc::new(Worker {
        scope: scope.clone(),
        store: Rc::new(RefCell::new(store)),
        drafts: RefCell::new(HashMap::new()),
        drafts_seen: Cell::new(0),
        drafts_told: Cell::new(0),
        drafts_owed: Cell::new(false),
        failed: RefCell::new(std::collections::HashSet::new()),
        drafts_unwritten: Cell::new(false),
        revision: Cell::new(0),
        saves: Cell::new(0),
        wake,
        status: RefCell::new(SyncStatus::default()),
    });
    let on_message = {
        let worker = Rc::clone(&worker);
        Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |event: web_sys::MessageEvent| {
            let text = event.data().as_string().unwrap_or_default();
            match serde_json::from_str::<ToStore>(&text) {
                Ok(message) => worker.receive(message),
                Err(e) => super::log(&format!("store worker: unreadable message: {e}")),
            }
        })
    };
    scope.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    on_message.forget();
    let on_online = {
        let worker = Rc::clone(&worker);
        Closure::<dyn FnMut()>::new(move || {
            let _ = worker.wake.unbounded_send(Wake::Now);
        })
    };
    let _ = scope.add_event_listener_with_callback("online", on_online.as_ref().unchecked_ref());
    on_online.forget();
    expose_for_tests(&scope);
    // `groundworkScrubPending()`: whether a truncating checkpoint is still owed after an
    // erasure (the erased person's pages may still be in the log file), for the tests.
    let scrub = {
        let worker = Rc::clone(&worker);
        Closure::<dyn Fn() -> bool>::new(move || {
            worker
                .store
                .try_borrow()
                .map_or(true, |s| s.scrub_pending().unwrap_or(true))
        })
    };
    let _ = js_sys::Reflect::set(&scope, &"groundworkScrubPending".into(), scrub.as_ref());
    scrub.forget();
    worker.publish_status(false, &None, 0);
    // Before the page is told it is open: the page takes back a sealed copy of drafts then.
    worker.tell_copy_key();
    post(&scope, &FromStore::Ready(Ok(())));
    wasm_bindgen_futures::spawn_local(sync_loop(worker, wakes));
}

/// `groundworkMemoryBytes()` in the worker's global scope: the wasm's memory in bytes, for the
/// benchmarks (DevTools cannot see inside the wasm's memory); `groundworkOpenedElsewhere()` and
/// `groundworkReadElsewhere()`.
fn expose_for_tests(scope: &web_sys::DedicatedWorkerGlobalScope) {
    super::expose_memory(scope);
    // `groundworkOpenedElsewhere()`: pulled blobs opened and checked before their page was
    // judged (by the helper workers and this one together), for the tests;
    // `groundworkReadElsewhere()`: snapshots taken in as read there, their documents not
    // loaded here.
    let opened =
        Closure::<dyn Fn() -> f64>::new(|| groundwork::store::worked_ahead().elsewhere as f64);
    let _ = js_sys::Reflect::set(scope, &"groundworkOpenedElsewhere".into(), opened.as_ref());
    opened.forget();
    let read =
        Closure::<dyn Fn() -> f64>::new(|| groundwork::store::worked_ahead().read_elsewhere as f64);
    let _ = js_sys::Reflect::set(scope, &"groundworkReadElsewhere".into(), read.as_ref());
    read.forget();
}

impl Worker {
    fn post(&self, message: &FromStore) {
        post(&self.scope, message);
    }

    fn receive(self: &Rc<Self>, message: ToStore) {
        // No notebook any more (a passphrase change could not open it again; the page was told
        // it stopped): a request is answered why, and nothing else is done or acknowledged.
        if let Err(e) = self.store.borrow().check_open() {
            if let ToStore::Call { id, .. } = message {
                self.post(&FromStore::Reply {
                    id,
                    result: Err(e.to_string()),
                });
            }
            return;
        }
        match message {
            ToStore::Call { id, request } => self.call(id, request),
            ToStore::SaveDraft { key, body, seq } => {
                self.drafts_seen.set(self.drafts_seen.get().max(seq));
                self.save_draft(key, body)
            }
            ToStore::Sync(command) => self.command(command),
            ToStore::Online => {
                let _ = self.wake.unbounded_send(Wake::Now);
            }
            ToStore::Flush => self.flush_drafts(true),
            // Open already (a second tap on the lock screen's button): nothing to do.
            ToStore::Unlock(_) => {}
        }
    }

    /// Give the page the key sealing its copy of drafts, if the notebook is encrypted. Without
    /// it (a notebook that cannot write the key), the page keeps no copy.
    fn tell_copy_key(&self) {
        let key = self.store.try_borrow().ok().map(|s| s.page_copy_key());
        match key {
            Some(Ok(Some(key))) => self.post(&FromStore::CopyKey(
                groundwork::crypto::text::base64url(&key),
            )),
            Some(Ok(None)) => {}
            Some(Err(e)) => {
                super::log(&format!(
                    "worker: no key for the page's copy of drafts: {e}"
                ));
                self.post(&FromStore::CopyKey(String::new()));
            }
            None => {}
        }
    }

    fn call(self: &Rc<Self>, id: u64, request: Request) {
        // A draft the request ends (saved, discarded) is written only if the request fails:
        // a save is then one transaction, not three.
        let ends_draft = request.ends_draft().is_some();
        let ended = request
            .ends_draft()
            .and_then(|k| self.drafts.borrow_mut().remove_entry(k));
        self.flush_drafts(true);
        let writes = request.writes();
        let encrypting = matches!(
            request,
            Request::EncryptAtRest(_) | Request::ChangePassphrase { .. }
        );
        let decrypting = matches!(request, Request::DecryptAtRest(_));
        let result =
            service::handle(&mut self.store.borrow_mut(), request).map_err(|e| e.to_string());
        if self.store.borrow().is_closed() {
            // A passphrase change failed and the notebook could not be opened again: the page
            // hears why, then that the notebook stopped, as after a failure of this worker
            // (every request then fails at once, the app says to reload, and the page keeps
            // its own copy of drafts, none of which is acknowledged from here on).
            let why = result.as_ref().err().cloned().unwrap_or_default();
            self.post(&FromStore::Reply { id, result });
            self.post(&FromStore::Ready(Err(Refusal::Failed(why))));
            return;
        }
        let ok = result.is_ok();
        if decrypting && ok {
            self.post(&FromStore::Decrypted);
        }
        if encrypting && ok {
            // The page seals its copy of drafts from its next write on (under a new key after
            // a passphrase change).
            self.tell_copy_key();
        }
        if !ok && ends_draft {
            self.drafts_owed.set(true);
        }
        if !ok && let Some((key, (body, _))) = ended {
            // Kept in memory and tried again (as the desktop does) if it cannot be written,
            // unless the form sent a newer one meanwhile: with the notebook full, this text is
            // nowhere else.
            let due = self.clock() + DRAFT_QUIET.as_millis() as f64;
            self.write_draft(key, body, due);
        }
        self.tell_unwritten();
        self.post(&FromStore::Reply { id, result });
        self.tell_drafts_kept();
        if writes && ok {
            // Once the screens the save changed have been redrawn: the search index's rows it
            // left behind (a search before then catches up first), and the log copied into
            // the database, so that a later save rarely does it (`Store::checkpoint`).
            let save = self.saves.get() + 1;
            self.saves.set(save);
            let worker = Rc::clone(self);
            wasm_bindgen_futures::spawn_local(async move {
                sleep(QUIET).await;
                if worker.saves.get() != save {
                    return; // a later save's own wait does it
                }
                if let Err(e) = worker.store.borrow().checkpoint() {
                    super::log(&format!("store worker: idle work failed: {e}"));
                }
            });
            self.announce(true);
            // The badge counts what waits for the relay: one more now.
            self.recount_pending();
            let _ = self.wake.unbounded_send(Wake::Local);
        }
    }

    /// Count again the changes waiting for the relay, for the badge, and say so if the count
    /// moved: after a save (one more) and after an erasure (its changes went with it; in a
    /// notebook of no team no sync round would count them again).
    fn recount_pending(&self) {
        let pending = self.store.borrow().pending_changes().ok();
        let now = self.status.borrow().clone();
        if pending.is_some() && pending != now.pending {
            self.set_status(SyncStatus { pending, ..now });
        }
    }

    /// Tell the page the notebook changed.
    fn announce(&self, local: bool) {
        self.revision.set(self.revision.get() + 1);
        self.tell(local);
    }

    fn tell(&self, local: bool) {
        self.post(&FromStore::Change(Change {
            revision: self.revision.get(),
            local,
            drafts_unwritten: self.drafts_unwritten.get(),
        }));
    }

    /// The page hears, under the same revision, when whether drafts wait unwritten changed
    /// ([`Change::drafts_unwritten`]): a draft held in memory whose last write failed (one
    /// written since, saved with its form or discarded no longer counts).
    fn tell_unwritten(&self) {
        let now = {
            let drafts = self.drafts.borrow();
            let mut failed = self.failed.borrow_mut();
            failed.retain(|k| drafts.contains_key(k));
            !failed.is_empty()
        };
        if now != self.drafts_unwritten.get() {
            self.drafts_unwritten.set(now);
            self.tell(false);
        }
    }

    /// Milliseconds on the worker's monotonic clock (`performance.now()`): drafts are timed by
    /// it, as the timers that write them are, so that a wall clock stepped back (network time)
    /// or coarsened cannot leave a draft unwritten after its timer fired.
    fn clock(&self) -> f64 {
        self.scope
            .performance()
            .map_or_else(js_sys::Date::now, |p| p.now())
    }

    fn save_draft(self: &Rc<Self>, key: String, body: String) {
        let due = self.clock() + DRAFT_QUIET.as_millis() as f64;
        self.drafts.borrow_mut().insert(key, (body, due));
        let worker = Rc::clone(self);
        wasm_bindgen_futures::spawn_local(async move {
            sleep(DRAFT_QUIET).await;
            worker.flush_drafts(false);
        });
    }

    /// Write the draft `key`; one that cannot be written is kept in memory (due at `due`,
    /// unless a newer one for `key` is there already) and counted as unwritten.
    fn write_draft(&self, key: String, body: String, due: f64) {
        let written = self.store.borrow_mut().save_draft(&key, &body);
        match written {
            Ok(()) => {
                self.failed.borrow_mut().remove(&key);
            }
            Err(e) => {
                super::log(&format!(
                    "store worker: could not save the draft {key} (kept, to try again): {e}"
                ));
                self.failed.borrow_mut().insert(key.clone());
                self.drafts.borrow_mut().entry(key).or_insert((body, due));
            }
        }
    }

    /// Write the drafts whose typing has paused (or all of them).
    fn flush_drafts(&self, all: bool) {
        // A timer may fire a little before its time as the clock reads it (rounding).
        let now = self.clock() + DRAFT_EARLY_MS;
        let due: Vec<(String, String)> = {
            let mut drafts = self.drafts.borrow_mut();
            let keys: Vec<String> = drafts
                .iter()
                .filter(|(_, (_, at))| all || *at <= now)
                .map(|(k, _)| k.clone())
                .collect();
            keys.into_iter()
                .filter_map(|k| drafts.remove(&k).map(|(body, _)| (k, body)))
                .collect()
        };
        for (key, body) in due {
            // Kept in memory if it cannot be written: tried again at the next request,
            // keystroke or page hide.
            self.write_draft(key, body, now);
        }
        self.tell_unwritten();
        self.tell_drafts_kept();
    }

    /// Tell the page every document erased here, so that its copy of drafts keeps nothing
    /// about them (`crate::ui::unsaved`).
    fn tell_erased(&self) {
        let ids = self
            .store
            .borrow()
            .erasures()
            .map(|all| all.into_iter().map(|e| e.doc_id).collect::<Vec<String>>());
        match ids {
            Ok(ids) => self.post(&FromStore::Erased(ids)),
            Err(e) => super::log(&format!("store worker: could not list the erasures: {e}")),
        }
    }

    /// With no draft left waiting, every draft the page sent so far is in the notebook: say so,
    /// and the page drops the copy it keeps in case this worker is ended first. Said again
    /// after a request that ends a draft failed (the page waits to hear it then), even with no
    /// new `seq`.
    fn tell_drafts_kept(&self) {
        if self.store.try_borrow().is_ok_and(|s| s.is_closed()) {
            return; // no notebook keeps them
        }
        let seen = self.drafts_seen.get();
        if (self.drafts_owed.get() || seen > self.drafts_told.get())
            && self.drafts.borrow().is_empty()
        {
            self.drafts_told.set(seen);
            self.drafts_owed.set(false);
            self.post(&FromStore::DraftsKept(seen));
        }
    }

    fn command(self: &Rc<Self>, command: SyncCommand) {
        match command {
            SyncCommand::Team(action) => {
                let now = self.status.borrow().clone();
                if now.team.busy {
                    return;
                }
                self.set_status(SyncStatus {
                    team: TeamPanel {
                        busy: true,
                        ..now.team.clone()
                    },
                    ..now
                });
                let worker = Rc::clone(self);
                wasm_bindgen_futures::spawn_local(async move {
                    let erasing = action.erases();
                    let outcome = team::act(&worker.store, &transport(), action).await;
                    let offline = outcome.as_ref().is_err_and(SyncError::is_offline);
                    let reply = outcome.map_err(|e| e.to_string());
                    let erased = erasing && reply.is_ok();
                    let now = worker.status.borrow().clone();
                    worker.set_status(SyncStatus {
                        team: now.team.after(reply),
                        ..now
                    });
                    if erased {
                        worker.recount_pending();
                        worker.announce(false);
                        worker.tell_erased();
                    }
                    // The relay could not be reached: a sync now finds the device offline, so
                    // the badge says so beside the action's failure (not the last "Synced").
                    if offline {
                        let _ = worker.wake.unbounded_send(Wake::Now);
                    }
                });
            }
            SyncCommand::SyncNow => {
                let _ = self.wake.unbounded_send(Wake::Now);
            }
            SyncCommand::Repair => {
                let _ = self.wake.unbounded_send(Wake::Repair);
            }
            SyncCommand::Join {
                relay,
                invite,
                device_name,
            } => {
                if self.status.borrow().joining {
                    return;
                }
                let now = self.status.borrow().clone();
                self.set_status(SyncStatus {
                    joining: true,
                    ..now
                });
                let worker = Rc::clone(self);
                wasm_bindgen_futures::spawn_local(async move {
                    let transport = transport();
                    let outcome =
                        engine::join(&worker.store, &transport, &relay, &invite, &device_name)
                            .await;
                    let now = worker.status.borrow().clone();
                    match outcome {
                        Ok(report) => {
                            worker.set_status(SyncStatus {
                                joining: false,
                                rejoined: report.renewed.as_ref().map(|r| r.rewritten.len()),
                                joined: Some(report.relay),
                                last_error: None,
                                unreachable: false,
                                syncing: true,
                                ..now
                            });
                            worker.announce(false);
                            let _ = worker.wake.unbounded_send(Wake::Now);
                        }
                        Err(e) => worker.set_status(SyncStatus {
                            joining: false,
                            unreachable: e.is_offline(),
                            last_error: Some(e.to_string()),
                            syncing: false,
                            ..now
                        }),
                    }
                });
            }
        }
    }

    fn set_status(&self, status: SyncStatus) {
        *self.status.borrow_mut() = status.clone();
        self.post(&FromStore::Sync(Box::new(status)));
    }

    /// Read the status from the store and send it.
    fn publish_status(
        &self,
        offline: bool,
        devices: &Option<Vec<groundwork::sync::TeamDevice>>,
        pulled: u64,
    ) {
        let status = Status::read(&self.store.borrow(), offline, devices, pulled);
        let (joining, team, rejoined, failed_join) = {
            let now = self.status.borrow();
            // Why the last join failed is not in the store (nothing was joined): it stays
            // until the device joins or tries again, not until the next write wakes this.
            let failed_join = (now.joined.is_none() && now.last_error.is_some())
                .then(|| (now.last_error.clone(), now.unreachable));
            (now.joining, now.team.clone(), now.rejoined, failed_join)
        };
        let mut fresh = from_worker(&status);
        if let Some((last_error, unreachable)) = failed_join
            && fresh.joined.is_none()
        {
            fresh.last_error = last_error;
            fresh.unreachable = unreachable;
        }
        self.set_status(SyncStatus {
            joining,
            team,
            rejoined,
            ..fresh
        });
    }
}

/// Sync whenever woken, and every [`PERIOD`] while joined.
async fn sync_loop(worker: Rc<Worker>, mut wakes: amsc::UnboundedReceiver<Wake>) {
    let transport = transport();
    let mut devices: Option<Vec<groundwork::sync::TeamDevice>> = None;
    let mut devices_at: Option<f64> = None;
    // When the list was last asked for to finish a revocation.
    let mut unfinished_at: Option<f64> = None;
    let mut pulled = 0u64;
    let mut offline = false;
    let mut wake = Some(Wake::Now);
    loop {
        let mut why = match wake.take() {
            Some(w) => w,
            None => match select(wakes.next(), Box::pin(sleep(PERIOD))).await {
                Either::Left((Some(w), _)) => w,
                Either::Left((None, _)) => return,
                Either::Right(_) => Wake::Now,
            },
        };
        if why == Wake::Local {
            // More changes within the debounce go together; a command cuts it short.
            let mut quiet = Box::pin(sleep(DEBOUNCE));
            loop {
                match select(wakes.next(), quiet).await {
                    Either::Left((Some(Wake::Local), rest)) => quiet = rest,
                    Either::Left((Some(other), _)) => {
                        why = other;
                        break;
                    }
                    Either::Left((None, _)) => return,
                    Either::Right(_) => break,
                }
            }
        }
        while let Ok(more) = wakes.try_recv() {
            if more == Wake::Repair || why == Wake::Local {
                why = more;
            }
        }
        // No notebook any more (a passphrase change could not open it again): nothing to sync.
        if worker.store.borrow().is_closed() {
            return;
        }
        let joined = worker
            .store
            .borrow()
            .sync_state()
            .map(|s| s.link.is_some())
            .unwrap_or(false);
        if !joined {
            worker.publish_status(offline, &devices, pulled);
            continue;
        }
        let now = worker.status.borrow().clone();
        worker.set_status(SyncStatus {
            syncing: true,
            ..now
        });
        let outcome = match why {
            Wake::Repair => {
                engine::repair(
                    &worker.store,
                    &transport,
                    Repair::Waiting,
                    Budget::default(),
                )
                .await
            }
            _ => {
                // A long pull (a first sync) shows its records as each page is stored.
                let shown = Rc::clone(&worker);
                let mut on_page = move |changes: usize| {
                    if changes > 0 {
                        shown.announce(false);
                    }
                };
                engine::sync_pages_with(
                    &worker.store,
                    &transport,
                    Budget::default(),
                    &mut on_page,
                    &super::helpers::WorkerHelpers,
                )
                .await
            }
        };
        match &outcome {
            Ok(report) => {
                offline = false;
                // An erasure changes the notebook as pulled changes do: the open screen re-reads.
                let moved = (report.pulled + report.erased) as u64;
                if moved > 0 {
                    pulled += moved;
                    worker.announce(false);
                }
                if report.erased > 0 {
                    worker.tell_erased();
                }
                let now = js_sys::Date::now();
                // A revocation left unfinished is finished by the listing, after any sync.
                let unfinished = groundwork::sync::team::list_to_finish_revocations(
                    &worker.store.borrow(),
                    unfinished_at.map(|at| Duration::from_millis((now - at).max(0.0) as u64)),
                );
                if unfinished {
                    unfinished_at = Some(now);
                }
                if unfinished
                    || (why != Wake::Local
                        && devices_at.is_none_or(|at| now - at > DEVICES_EVERY_MS))
                {
                    devices = engine::team_devices(&worker.store, &transport)
                        .await
                        .ok()
                        .or(devices);
                    devices_at = Some(now);
                }
            }
            Err(e) => offline = e.is_offline(),
        }
        worker.publish_status(offline, &devices, pulled);
    }
}
