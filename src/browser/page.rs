//! The page: starts the store worker and, beside it, the app (`ui::App`).
//!
//! The worker is the same wasm, started from the module script the page loaded. Requests get
//! an id and wait on a oneshot for the reply with that id; change events and sync status go
//! to every subscriber. Until the worker says it is ready nothing is posted (a worker drops
//! messages that arrive before it listens), so early requests wait in a queue; the app shows
//! "Opening the notebook…" meanwhile. If the notebook cannot open here (another tab has it, no
//! OPFS), the app is hidden and the page says why in words: an app that could not keep
//! anything is never shown.
//!
//! The page also reads the join link (`#join=CODE`): the code goes to the app, which offers to
//! join the relay that served it, and leaves the address bar at once, so it is neither kept
//! in the history nor sent anywhere.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use futures_channel::{mpsc as amsc, oneshot};
use groundwork::service::{Change, Reply, Request};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use super::messages::{FromStore, Refusal, ToStore};
use crate::ui::sync::{SyncCommand, SyncEngine, SyncStatus};
use crate::ui::worker::StoreHandle;
use crate::ui::{Host, Services};

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
}

thread_local! {
    static CLIENT: RefCell<Client> = RefCell::new(Client::default());
}

/// Start the page: the store worker, then the app.
pub fn start() {
    let host = read_host();
    if let Err(e) = spawn_worker() {
        show_refusal(&Refusal::Failed(e));
        return;
    }
    // The app starts while the worker opens the notebook (its first requests wait in the
    // queue), so the two wasm instances start side by side.
    wasm_bindgen_futures::spawn_local(async move {
        let host = Host {
            persisted: persist().await,
            ..host
        };
        launch(host);
    });
    wasm_bindgen_futures::spawn_local(async move {
        if let Err(refusal) = ready().await {
            show_refusal(&refusal);
        }
    });
}

fn launch(host: Host) {
    // The shell's "Opening your notebook…" gives way to the app.
    if let Some(main) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id("main"))
    {
        main.set_inner_html("");
    }
    if let Some(head) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.head())
        && let Some(document) = web_sys::window().and_then(|w| w.document())
        && let Ok(style) = document.create_element("style")
    {
        style.set_text_content(Some(&crate::ui::style()));
        let _ = head.append_child(&style);
    }
    let services = Services {
        store: StoreHandle::browser(),
        sync: Arc::new(WorkerSync),
        host,
    };
    dioxus::LaunchBuilder::web()
        .with_context(services)
        .launch(crate::ui::App);
}

/// Put `refusal` in place of the app (which is hidden: it could not keep anything).
fn show_refusal(refusal: &Refusal) {
    super::log(&format!("groundwork: {refusal}"));
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    if let Some(main) = document.get_element_by_id("main") {
        let _ = main.set_attribute("hidden", "");
    }
    if let (Some(body), Ok(p)) = (document.body(), document.create_element("p")) {
        p.set_id("cannot-open");
        p.set_class_name("cannot-open");
        let _ = p.set_attribute("role", "alert");
        p.set_text_content(Some(&refusal.to_string()));
        let _ = body.append_child(&p);
    }
}

/// The relay that served this page, and the invite of a join link (taken out of the address).
fn read_host() -> Host {
    let Some(window) = web_sys::window() else {
        return Host::default();
    };
    let location = window.location();
    let relay = location.origin().ok();
    let hash = location.hash().unwrap_or_default();
    let invite = hash
        .trim_start_matches('#')
        .split('&')
        .find_map(|part| part.strip_prefix("join="))
        .map(|code| {
            js_sys::decode_uri_component(code)
                .ok()
                .and_then(|c| c.as_string())
                .unwrap_or_else(|| code.to_string())
        })
        .filter(|code| !code.trim().is_empty());
    if invite.is_some()
        && let Ok(history) = window.history()
    {
        let path = location.pathname().unwrap_or_else(|_| "/".into());
        let _ = history.replace_state_with_url(&JsValue::NULL, "", Some(&path));
    }
    Host {
        relay,
        invite,
        persisted: None,
    }
}

/// Ask the browser to keep the notebook when storage runs low; what it answered.
async fn persist() -> Option<bool> {
    let storage = web_sys::window()?.navigator().storage();
    let promise = storage.persist().ok()?;
    JsFuture::from(promise).await.ok()?.as_bool()
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

fn spawn_worker() -> Result<(), String> {
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
    Ok(())
}

/// A page being hidden (another app, the lock button, closing the tab) may never run again:
/// the worker writes the drafts typed in the last moments at once. The network coming back
/// starts a sync.
fn listen_to_the_page() {
    let Some(window) = web_sys::window() else {
        return;
    };
    // Writing the drafts early when the page comes back costs nothing.
    let on_hide = Closure::<dyn FnMut()>::new(|| send(ToStore::Flush));
    if let Some(document) = window.document() {
        let _ = document
            .add_event_listener_with_callback("visibilitychange", on_hide.as_ref().unchecked_ref());
    }
    let _ = window.add_event_listener_with_callback("pagehide", on_hide.as_ref().unchecked_ref());
    on_hide.forget();
    let on_online = Closure::<dyn FnMut()>::new(|| send(ToStore::Online));
    let _ = window.add_event_listener_with_callback("online", on_online.as_ref().unchecked_ref());
    on_online.forget();
}

fn receive(message: FromStore) {
    match message {
        FromStore::Ready(outcome) => {
            let (waiters, queue, pending) = CLIENT.with(|c| {
                let mut c = c.borrow_mut();
                if c.ready.is_some() && outcome.is_err() {
                    // The worker failed after opening: every waiting request fails.
                    return (Vec::new(), Vec::new(), std::mem::take(&mut c.pending));
                }
                c.ready = Some(outcome.clone());
                (
                    std::mem::take(&mut c.ready_waiters),
                    std::mem::take(&mut c.queue),
                    HashMap::new(),
                )
            });
            for tx in waiters {
                let _ = tx.send(outcome.clone());
            }
            for (_, tx) in pending {
                let _ = tx.send(Err("the notebook stopped; reload the page".into()));
            }
            for message in queue {
                send(message);
            }
        }
        FromStore::Reply { id, result } => {
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
            c.sync = status.clone();
            c.sync_watchers
                .retain(|s| s.unbounded_send(status.clone()).is_ok());
        }),
    }
}

/// Post to the worker now, or once it is ready.
fn send(message: ToStore) {
    CLIENT.with(|c| {
        let mut c = c.borrow_mut();
        if !matches!(c.ready, Some(Ok(()))) {
            c.queue.push(message);
            return;
        }
        let Some(worker) = &c.worker else { return };
        match serde_json::to_string(&message) {
            Ok(text) => {
                if let Err(e) = worker.post_message(&JsValue::from_str(&text)) {
                    super::log(&format!("page: could not post to the notebook: {e:?}"));
                }
            }
            Err(e) => super::log(&format!("page: could not encode a request: {e}")),
        }
    });
}

async fn ready() -> Result<(), Refusal> {
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
    let (tx, rx) = oneshot::channel();
    let id = CLIENT.with(|c| {
        let mut c = c.borrow_mut();
        c.next += 1;
        let id = c.next;
        c.pending.insert(id, tx);
        id
    });
    send(ToStore::Call { id, request });
    rx.await
        .unwrap_or_else(|_| Err("the notebook stopped; reload the page".into()))
}

/// Send a draft's latest text (written by the worker once typing pauses).
pub fn save_draft(key: &str, body: String) {
    send(ToStore::SaveDraft {
        key: key.to_string(),
        body,
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
            SyncCommand::SyncNow | SyncCommand::Repair if status.joined.is_none() => {
                return Err("join a team first: Settings → Join a team".into());
            }
            SyncCommand::Join { .. } if status.joining => {
                return Err("already joining: wait for the relay to answer".into());
            }
            _ => {}
        }
        send(ToStore::Sync(command));
        Ok(())
    }
}
