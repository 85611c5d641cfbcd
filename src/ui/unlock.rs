//! The desktop's lock screen: a notebook encrypted at rest whose key is neither in
//! `GROUNDWORK_PASSPHRASE` nor in the desktop's key store asks for its passphrase before the
//! app opens on it. The passphrase is kept for this process only (the store thread and the
//! sync thread open the notebook with it), never written anywhere.

use std::path::PathBuf;

use dioxus::prelude::*;
use groundwork::store::at_rest::{self, Passphrase};

use super::worker::StoreHandle;
use super::{App, Services};

/// What the lock screen opens: provided as root context by the desktop launcher.
#[derive(Clone)]
pub struct Locked {
    /// The notebook's data directory.
    pub dir: PathBuf,
    /// The app's services on the opened store (`Services::connected` in the app).
    pub connect: fn(StoreHandle, &std::path::Path) -> Services,
}

/// The services once the notebook is open (none while it is locked).
#[derive(Clone, Copy)]
struct Opened(Signal<Option<Services>>);

/// Open the store in `dir` with `passphrase` and connect the app's services to it, on a
/// thread of its own (the key derivation takes a moment, and the sync engine's HTTP client is
/// made outside the UI's async runtime), remembering the passphrase for this process when it
/// opens the notebook.
async fn open(
    dir: PathBuf,
    passphrase: Passphrase,
    connect: fn(StoreHandle, &std::path::Path) -> Services,
) -> Result<Services, String> {
    let (tx, rx) = futures_channel::oneshot::channel();
    std::thread::spawn(move || {
        at_rest::remember(Some(passphrase));
        let opened = StoreHandle::start(&dir).map_err(|e| e.0);
        if opened.is_err() {
            at_rest::remember(None);
        }
        let _ = tx.send(opened.map(|store| connect(store, &dir)));
    });
    rx.await
        .map_err(|_| "the notebook could not be opened: try again".to_string())?
}

/// The root of the desktop app on a locked notebook: the passphrase form, then the app.
#[component]
pub fn LockScreen() -> Element {
    let locked = use_context::<Locked>();
    // The desktop smoke test drives this screen from outside: it is told where it is.
    let testing = try_use_context::<super::self_test::SelfTestMode>().is_some();
    use_hook(|| {
        if testing {
            println!("lock screen shown");
        }
    });
    let opened = use_context_provider(|| Opened(Signal::new(None)));
    let mut typed = use_signal(String::new);
    let mut error = use_signal(|| None::<String>);
    let mut busy = use_signal(|| false);
    if opened.0.read().is_some() {
        return rsx! { Unlocked {} };
    }
    let dir = use_signal(|| locked.dir.clone());
    let connect = locked.connect;
    let mut submit = move || {
        if busy() || typed.read().is_empty() {
            return;
        }
        let passphrase = Passphrase::new(typed());
        busy.set(true);
        error.set(None);
        spawn(async move {
            match open(dir(), passphrase, connect).await {
                Ok(services) => {
                    let mut slot = opened.0;
                    slot.set(Some(services));
                }
                Err(e) => {
                    if testing {
                        println!("lock screen refused");
                    }
                    error.set(Some(e));
                }
            }
            busy.set(false);
        });
    };
    rsx! {
        main { class: "unlock",
            h1 { "Groundwork" }
            p { id: "unlock-why",
                "This notebook is encrypted on this device. Type its passphrase to open it."
            }
            div { class: "field",
                label { r#for: "passphrase", "Passphrase" }
                input {
                    id: "passphrase",
                    r#type: "password",
                    autofocus: true,
                    // Never written down (README, "Encryption at rest"): no password
                    // manager is asked to keep it (`components::field`).
                    autocomplete: "off",
                    "data-1p-ignore": "true",
                    "data-lpignore": "true",
                    "data-bwignore": "true",
                    "data-form-type": "other",
                    "aria-describedby": "unlock-why",
                    oninput: move |e| typed.set(e.value()),
                    onkeydown: move |e| {
                        if e.key() == Key::Enter {
                            submit();
                        }
                    },
                }
            }
            button {
                r#type: "button",
                class: "primary",
                id: "unlock",
                disabled: busy(),
                onclick: move |_| submit(),
                if busy() { "Opening…" } else { "Open the notebook" }
            }
            if let Some(e) = error() {
                p { class: "error", role: "alert", id: "unlock-error", "{e}" }
            }
            p { class: "muted",
                "A forgotten passphrase cannot be recovered: what this device synced is still with your team."
            }
        }
    }
}

/// The app, on the services the lock screen opened.
#[component]
fn Unlocked() -> Element {
    let opened = use_context::<Opened>();
    let services = opened.0.peek().clone();
    match services {
        Some(services) => rsx! { Provide { services: ServicesProp(services) } },
        None => rsx! {},
    }
}

/// Services as a prop (compared by identity: they are provided once).
#[derive(Clone)]
struct ServicesProp(Services);

impl PartialEq for ServicesProp {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

#[component]
fn Provide(services: ServicesProp) -> Element {
    use_context_provider(|| services.0.clone());
    rsx! { App {} }
}
