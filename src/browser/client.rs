//! The page's end of the store worker: starting it, posting requests and waiting for their
//! replies, change events and sync status to subscribers, and the sync engine the app sees
//! ([`WorkerSync`]). `ui::worker::StoreHandle` calls [`call`], [`save_draft`] and
//! [`subscribe`] here on wasm32; nothing here knows the UI's screens.
//!
//! Requests get an id and wait on a oneshot for the reply with that id. Until the worker says
//! it is ready nothing is posted (a worker drops messages that arrive before it listens), so
//! early requests wait in a queue.

use std::cell::RefCell;
use std::collections::HashMap;

use futures_channel::{mpsc as amsc, oneshot};
use groundwork::service::{Change, Reply, Request, SecretText};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use super::messages::{FromStore, Refusal, ToStore};
use crate::ui::sync::{SyncCommand, SyncEngine, SyncStatus};
use crate::ui::unsaved::{self, Storage, Unsaved};
use groundwork::crypto::local_copy;

/// Where the page keeps its copy of drafts not yet written (`crate::ui::unsaved`).
const UNSAVED_KEY: &str = "groundwork-unsaved-drafts";

#[derive(Default)]
struct Client {
    worker: Option<web_sys::Worker>,
    ready: Option<Result<(), Refusal>>,
    ready_waiters: Vec<oneshot::Sender<Result<(), Refusal>>>,
    /// Posted before the worker was ready.
    queue: Vec<ToStore>,
    pending: HashMap<u64, oneshot::Sender<Result<Reply, String>>>,
    next: u64,
    changes: Vec<amsc::UnboundedSender<Change>>,
    sync: SyncStatus,
    sync_watchers: Vec<amsc::UnboundedSender<SyncStatus>>,
    /// Drafts sent and not yet confirmed kept, copied to the page's storage when it is hidden.
    unsaved: Unsaved,
    /// The worker opened the notebook for this page (the only page that may write the copy).
    opened: bool,
    /// The notebook is encrypted at rest: the key sealing the copy (`None` inside: encrypted
    /// but no key could be had, so no copy is kept). Outside `Some`: a notebook in the clear.
    copy_key: Option<Option<[u8; 32]>>,
}

thread_local! {
    static CLIENT: RefCell<Client> = RefCell::new(Client::default());
}

/// The module script this page started from: the worker runs the same one.
fn script_url() -> Result<String, String> {
    let document = web_sys::window()
        .and_then(|w| w.document())
        .ok_or("no document")?;
    document
        .query_selector("script[type=module][src]")
        .ok()
        .flatten()
        .and_then(|e| e.get_attribute("src"))
        .ok_or_else(|| "the page has no module script to start the notebook from".into())
}

/// Start the store worker on the script this page started from.
pub fn spawn_worker() -> Result<(), String> {
    let options = web_sys::WorkerOptions::new();
    options.set_type(web_sys::WorkerType::Module);
    options.set_name("groundwork-store");
    let worker = web_sys::Worker::new_with_options(&script_url()?, &options)
        .map_err(|e| format!("the browser would not start the notebook's worker: {e:?}"))?;
    let on_message =
        Closure::<dyn FnMut(web_sys::MessageEvent)>::new(|event: web_sys::MessageEvent| {
            let text = event.data().as_string().unwrap_or_default();
            match serde_json::from_str::<FromStore>(&text) {
                Ok(message) => receive(message),
                Err(e) => super::log(&format!("page: unreadable message from the notebook: {e}")),
            }
        });
    worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    on_message.forget();
    let on_error = Closure::<dyn FnMut(web_sys::Event)>::new(|_event: web_sys::Event| {
        receive(FromStore::Ready(Err(Refusal::Failed(
            "the notebook's worker stopped".into(),
        ))));
    });
    worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    on_error.forget();
    CLIENT.with(|c| c.borrow_mut().worker = Some(worker));
    listen_to_the_page();
    take_back_unsaved();
    Ok(())
}

/// The page's storage (`localStorage`), if this browser gives the page one.
pub(super) fn page_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

/// Drafts a page copied before it went (`crate::ui::unsaved`) go to the worker: at the start,
/// before any request of this page (a form reopened by a reload reads its draft); the copy
/// stays until the worker says they are kept, and is this page's to keep in step from now on.
/// Called again once the notebook is open, for a copy written meanwhile by a page that was
/// closing: what differs from what this page took back, on keys it has not typed itself.
///
/// A sealed copy (the notebook is encrypted at rest) waits, untouched, until the worker has
/// opened the notebook and given the key; one the key does not open is removed.
fn take_back_unsaved() {
    let Some(stored) = page_storage().and_then(|s| s.get_item(UNSAVED_KEY).ok().flatten()) else {
        return;
    };
    let (key, plain) = CLIENT.with(|c| {
        let c = c.borrow();
        (c.copy_key.flatten(), c.copy_key.is_none())
    });
    let text = match local_copy::open(key.as_ref(), &stored) {
        local_copy::Copy::Text(text) => text,
        // A sealed copy of a notebook open in the clear (decrypted as the page that wrote it
        // closed): nothing can open it any more.
        local_copy::Copy::Locked if plain && CLIENT.with(|c| c.borrow().opened) => {
            super::log(
                "page: a sealed copy of drafts no key opens now (the notebook was decrypted); removed",
            );
            if let Some(storage) = page_storage() {
                let _ = storage.remove_item(UNSAVED_KEY);
            }
            return;
        }
        local_copy::Copy::Locked => return,
        local_copy::Copy::Damaged => {
            super::log("page: the copy of drafts left by a page does not open; removed");
            if let Some(storage) = page_storage() {
                let _ = storage.remove_item(UNSAVED_KEY);
            }
            return;
        }
    };
    CLIENT.with(|c| c.borrow_mut().unsaved.found_stored());
    let drafts: Vec<_> = unsaved::read_copy(&text)
        .into_iter()
        .filter(|(key, body)| CLIENT.with(|c| c.borrow().unsaved.wants_back(key, body.as_deref())))
        .collect();
    if drafts.is_empty() {
        return;
    }
    for (key, body) in drafts {
        match body {
            Some(body) => save_draft(&key, body),
            None => send_now(Request::DeleteDraft(key.clone())),
        }
        CLIENT.with(|c| c.borrow_mut().unsaved.mark_taken_back(&key));
    }
    send(ToStore::Flush);
}

/// Write the page's copy of the drafts not yet confirmed, or remove it when there are none.
/// `hiding`: the page is being hidden, so a copy is written even if none was before.
fn store_unsaved(c: &mut Client, hiding: bool) {
    if !c.opened {
        return; // a page refused the notebook leaves the copy to the page that has it
    }
    // Encrypted and no key to seal a copy with: none is written, and this page's older one
    // goes (`Unsaved::to_store_without_key`).
    let no_key = matches!(c.copy_key, Some(None));
    if no_key && hiding {
        super::log("page: the notebook gave no key to seal a copy of the drafts");
    }
    let todo = match no_key {
        true => c.unsaved.to_store_without_key(hiding),
        false => c.unsaved.to_store(hiding),
    };
    let Some(todo) = todo else {
        return;
    };
    let Some(storage) = page_storage() else {
        if hiding {
            super::log("page: this browser gives the page no storage for a copy of the drafts");
        }
        return;
    };
    let written = match (&todo, c.copy_key) {
        (Storage::Write(copy), None) => storage.set_item(UNSAVED_KEY, copy),
        // An encrypted notebook's drafts are not left in the page's storage in the clear.
        (Storage::Write(copy), Some(Some(key))) => seal_copy(&key, copy)
            .and_then(|sealed| {
                storage
                    .set_item(UNSAVED_KEY, &sealed)
                    .map_err(|e| format!("{e:?}"))
            })
            .map_err(|e| JsValue::from_str(&e)),
        // Encrypted and no key: never written in the clear (`to_store_without_key` says to
        // remove this page's copy, or nothing).
        (Storage::Write(_), Some(None)) | (Storage::Remove, _) => storage.remove_item(UNSAVED_KEY),
    };
    match written {
        Ok(()) => c.unsaved.stored_as(&todo),
        // A full or refused storage: the worker's own flush is the only chance left. An older
        // copy must not stay behind to be taken back over newer drafts.
        Err(e) => {
            super::log(&format!("page: could not keep a copy of the drafts: {e:?}"));
            if storage.remove_item(UNSAVED_KEY).is_ok() {
                c.unsaved.stored_as(&Storage::Remove);
            }
        }
    }
}

/// `copy` sealed under the notebook's page-copy key, with a fresh nonce.
fn seal_copy(key: &[u8; 32], copy: &str) -> Result<String, String> {
    let nonce = groundwork::crypto::random::<16>().map_err(|e| e.to_string())?;
    local_copy::seal(key, nonce, copy).map_err(|e| e.to_string())
}

/// A page being hidden (another app, the lock button, closing the tab) may never run again:
/// the worker writes the drafts typed in the last moments at once. The network coming back
/// starts a sync. A join link opened in the open tab starts the page again, which reads it.
fn listen_to_the_page() {
    let Some(window) = web_sys::window() else {
        return;
    };
    // Writing the drafts early when the page comes back costs nothing. The copy goes first:
    // the worker may be busy (a sync) and ended with the page before it reads the flush.
    let on_hide = Closure::<dyn FnMut()>::new(|| {
        CLIENT.with(|c| store_unsaved(&mut c.borrow_mut(), true));
        send(ToStore::Flush)
    });
    if let Some(document) = window.document() {
        let _ = document
            .add_event_listener_with_callback("visibilitychange", on_hide.as_ref().unchecked_ref());
    }
    let _ = window.add_event_listener_with_callback("pagehide", on_hide.as_ref().unchecked_ref());
    on_hide.forget();
    let on_online = Closure::<dyn FnMut()>::new(|| send(ToStore::Online));
    let _ = window.add_event_listener_with_callback("online", on_online.as_ref().unchecked_ref());
    on_online.forget();
    // A join link opened in a tab where the app is already open changes only the address's
    // fragment, and the page reads a link as it starts: it starts again (what was typed is
    // kept, as on any reload: `pagehide` above).
    let on_link = Closure::<dyn FnMut()>::new(|| {
        if let Some(window) = web_sys::window()
            && window
                .location()
                .hash()
                .is_ok_and(|hash| hash.contains("join="))
        {
            let _ = window.location().reload();
        }
    });
    let _ = window.add_event_listener_with_callback("hashchange", on_link.as_ref().unchecked_ref());
    on_link.forget();
}

fn receive(message: FromStore) {
    match message {
        FromStore::Locked { wrong } => super::page::show_lock(wrong),
        FromStore::Ready(Err(refusal))
            if CLIENT.with(|c| matches!(c.borrow().ready, Some(Ok(())))) =>
        {
            stopped(refusal)
        }
        FromStore::CopyKey(text) => {
            // An empty text (or anything not a key): the notebook is encrypted and no key
            // could be had.
            let key = groundwork::crypto::text::from_base64url(&text)
                .and_then(|bytes| <[u8; 32]>::try_from(bytes.as_slice()).ok());
            CLIENT.with(|c| {
                let mut c = c.borrow_mut();
                let before = c.copy_key.flatten();
                c.copy_key = Some(key);
                // Without a key, the copy this page keeps in step (written in the clear before
                // the notebook was encrypted, or sealed under the key before a passphrase
                // change) goes now rather than stay, older, in the clear or under that key.
                if key.is_none() {
                    store_unsaved(&mut c, false);
                }
                // With one, it is written again under it.
                if c.opened
                    && let Some(key) = key
                    && let Some(storage) = page_storage()
                    && let Ok(Some(stored)) = storage.get_item(UNSAVED_KEY)
                    && let local_copy::Copy::Text(copy) = local_copy::open(before.as_ref(), &stored)
                {
                    match seal_copy(&key, &copy) {
                        Ok(sealed) => {
                            let _ = storage.set_item(UNSAVED_KEY, &sealed);
                        }
                        Err(e) => {
                            super::log(&format!("page: the copy of drafts stays as it was: {e}"))
                        }
                    }
                }
            });
        }
        FromStore::Decrypted => CLIENT.with(|c| {
            // The screen lock's copy is of a key the notebook no longer has (forgotten here,
            // not by Settings alone: the tap's answer may come after Settings was left).
            super::screen_lock::forget();
            let mut c = c.borrow_mut();
            let before = c.copy_key.flatten();
            c.copy_key = None;
            // The copy this page keeps in step, sealed under the key the notebook no longer
            // has, is written again in the clear, as a plain notebook's copy is.
            if let Some(storage) = page_storage()
                && let Ok(Some(stored)) = storage.get_item(UNSAVED_KEY)
                && let local_copy::Copy::Text(copy) = local_copy::open(before.as_ref(), &stored)
            {
                let _ = storage.set_item(UNSAVED_KEY, &copy);
            }
        }),
        FromStore::Ready(outcome) => {
            let (waiters, queue, pending) = CLIENT.with(|c| {
                let mut c = c.borrow_mut();
                if c.ready.is_none() {
                    c.ready = Some(outcome.clone());
                    c.opened = outcome.is_ok();
                }
                let waiters = std::mem::take(&mut c.ready_waiters);
                if outcome.is_err() {
                    // It could not open (or failed again): the requests made meanwhile fail,
                    // not wait for ever.
                    c.queue.clear();
                    return (waiters, Vec::new(), std::mem::take(&mut c.pending));
                }
                (waiters, std::mem::take(&mut c.queue), HashMap::new())
            });
            for tx in waiters {
                let _ = tx.send(outcome.clone());
            }
            for (_, tx) in pending {
                let _ = tx.send(Err(STOPPED.into()));
            }
            for message in queue {
                send(message);
            }
            if outcome.is_ok() && CLIENT.with(|c| c.borrow().opened) {
                super::page::hide_lock();
                take_back_unsaved();
            }
        }
        FromStore::Reply { id, result } => {
            CLIENT.with(|c| {
                let mut c = c.borrow_mut();
                c.unsaved.answered(id, result.is_ok());
                store_unsaved(&mut c, false);
            });
            if let Some(tx) = CLIENT.with(|c| c.borrow_mut().pending.remove(&id)) {
                let _ = tx.send(result);
            }
        }
        FromStore::Change(change) => CLIENT.with(|c| {
            c.borrow_mut()
                .changes
                .retain(|s| s.unbounded_send(change).is_ok())
        }),
        FromStore::Sync(status) => CLIENT.with(|c| {
            let mut c = c.borrow_mut();
            c.sync = (*status).clone();
            c.sync_watchers
                .retain(|s| s.unbounded_send((*status).clone()).is_ok());
        }),
        FromStore::Erased(ids) => CLIENT.with(|c| {
            let mut c = c.borrow_mut();
            if c.unsaved.forget_erased(&ids) {
                store_unsaved(&mut c, false);
            }
        }),
        FromStore::DraftsKept(seq) => CLIENT.with(|c| {
            let mut c = c.borrow_mut();
            c.unsaved.kept(seq);
            store_unsaved(&mut c, false);
        }),
    }
}

/// What a request gets once the store worker has stopped.
const STOPPED: &str = "the notebook stopped; reload the page";

/// The store worker stopped after opening the notebook (a trap, an uncaught error): it will
/// answer nothing more. Every request waiting fails, every later one fails at once instead of
/// waiting for ever, and the page says so above the app, which stays: what is typed in its
/// forms is still on screen to copy (nothing more can be kept until the page is reloaded).
fn stopped(refusal: Refusal) {
    let pending = CLIENT.with(|c| {
        let mut c = c.borrow_mut();
        c.ready = Some(Err(refusal.clone()));
        c.queue.clear();
        std::mem::take(&mut c.pending)
    });
    for (_, tx) in pending {
        let _ = tx.send(Err(STOPPED.into()));
    }
    super::page::show_stopped();
}

/// Post to the worker now, or once it is ready (nothing, once it has stopped).
fn send(message: ToStore) {
    CLIENT.with(|c| {
        let mut c = c.borrow_mut();
        match c.ready {
            Some(Ok(())) => {}
            None => {
                c.queue.push(message);
                return;
            }
            Some(Err(_)) => return,
        }
        if let Some(worker) = &c.worker {
            post_to(worker, &message);
        }
    });
}

/// Post `message` to the worker now.
fn post_to(worker: &web_sys::Worker, message: &ToStore) {
    match serde_json::to_string(message) {
        Ok(text) => {
            if let Err(e) = worker.post_message(&JsValue::from_str(&text)) {
                super::log(&format!("page: could not post to the notebook: {e:?}"));
            }
        }
        // (Never the message itself in the log: it may hold a passphrase.)
        Err(e) => super::log(&format!("page: could not encode a request: {e}")),
    }
}

/// Give the worker the passphrase typed on the lock screen (posted at once: the worker waits
/// for it before it is ready, and nothing else is posted to it until then).
pub fn unlock(passphrase: String) {
    let message = ToStore::Unlock(SecretText(passphrase));
    CLIENT.with(|c| {
        if let Some(worker) = &c.borrow().worker {
            post_to(worker, &message);
        }
    });
}

/// Wait until the worker has opened the notebook, or says why it cannot.
pub async fn ready() -> Result<(), Refusal> {
    let waiter = CLIENT.with(|c| {
        let mut c = c.borrow_mut();
        if let Some(r) = &c.ready {
            return Err(r.clone());
        }
        let (tx, rx) = oneshot::channel();
        c.ready_waiters.push(tx);
        Ok(rx)
    });
    match waiter {
        Err(r) => r,
        Ok(rx) => rx
            .await
            .unwrap_or_else(|_| Err(Refusal::Failed("the notebook's worker stopped".into()))),
    }
}

/// Send `request` to the store worker and wait for its reply.
pub async fn call(request: Request) -> Result<Reply, String> {
    match post_call(request) {
        Some(rx) => rx.await.unwrap_or_else(|_| Err(STOPPED.into())),
        None => Err(STOPPED.into()),
    }
}

/// Send `request` now, not waiting for its reply: in order with what is sent before and after.
pub fn send_now(request: Request) {
    let _ = post_call(request);
}

/// Post `request` to the worker; its reply comes on the receiver (none: the worker stopped).
fn post_call(request: Request) -> Option<oneshot::Receiver<Result<Reply, String>>> {
    let (tx, rx) = oneshot::channel();
    let id = CLIENT.with(|c| {
        let mut c = c.borrow_mut();
        c.next += 1;
        let id = c.next;
        if let Some(key) = request.ends_draft() {
            // A discard the stopped worker cannot take is kept as one (never answered): the
            // copy a reload takes back deletes the draft rather than bring the text back.
            let discard = matches!(request, Request::DeleteDraft(_));
            c.unsaved.ending(key, id, discard);
            store_unsaved(&mut c, false);
        }
        if let Some(Err(_)) = c.ready {
            return None;
        }
        c.pending.insert(id, tx);
        Some(id)
    })?;
    send(ToStore::Call { id, request });
    Some(rx)
}

/// Send a draft's latest text (written by the worker once typing pauses).
pub fn save_draft(key: &str, body: String) {
    let seq = CLIENT.with(|c| {
        let mut c = c.borrow_mut();
        let seq = c.unsaved.sent(key, &body);
        store_unsaved(&mut c, false);
        seq
    });
    send(ToStore::SaveDraft {
        key: key.to_string(),
        body,
        seq,
    });
}

/// Change events from now on.
pub fn subscribe() -> amsc::UnboundedReceiver<Change> {
    let (tx, rx) = amsc::unbounded();
    CLIENT.with(|c| c.borrow_mut().changes.push(tx));
    rx
}

/// Sync as the page sees it: the store worker syncs; this relays its status and commands.
#[derive(Debug, Default)]
pub struct WorkerSync;

impl SyncEngine for WorkerSync {
    fn status(&self) -> SyncStatus {
        CLIENT.with(|c| c.borrow().sync.clone())
    }

    fn watch(&self) -> amsc::UnboundedReceiver<SyncStatus> {
        let (tx, rx) = amsc::unbounded();
        CLIENT.with(|c| {
            let mut c = c.borrow_mut();
            let _ = tx.unbounded_send(c.sync.clone());
            c.sync_watchers.push(tx);
        });
        rx
    }

    fn command(&self, command: SyncCommand) -> Result<(), String> {
        let status = self.status();
        match &command {
            // An erasure in a notebook of no team erases from the notebook alone (`team::act`
            // with no relay link); every other action needs the team.
            SyncCommand::Team(action) if status.joined.is_none() && !action.erases() => {
                return Err("join a team first: Settings → Join a team".into());
            }
            SyncCommand::SyncNow | SyncCommand::Repair if status.joined.is_none() => {
                return Err("join a team first: Settings → Join a team".into());
            }
            SyncCommand::Join { .. } if status.joining => {
                return Err("already joining: wait for the relay to answer".into());
            }
            SyncCommand::Team(_) if status.team.busy => {
                return Err("wait for the relay to answer the last request".into());
            }
            _ => {}
        }
        send(ToStore::Sync(command));
        Ok(())
    }
}
