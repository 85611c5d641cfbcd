//! The page: starts the store worker and, beside it, the app (`ui::App`).
//!
//! The worker is the same wasm, started from the module script the page loaded
//! ([`super::client`] talks to it); the app shows "Opening the notebook…" until its first
//! replies. If the notebook cannot open here (another tab has it, no OPFS), the app is hidden
//! and the page says why in words: an app that could not keep anything is never shown.
//!
//! The page also reads the join link (`#join=CODE`): the code goes to the app, which offers to
//! join the relay that served it, and leaves the address bar at once, so it is neither kept
//! in the history nor sent anywhere.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::{Either, select};
use groundwork::sync::fetch::sleep;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use super::client::{WorkerSync, ready, spawn_worker};
use super::messages::Refusal;
use super::screen_lock;
use crate::ui::worker::StoreHandle;
use crate::ui::{Host, Services};

/// How long the app waits for the browser to answer whether it will keep the notebook.
const PERSIST_WAIT: Duration = Duration::from_millis(1500);

/// Start the page: the store worker, then the app.
pub fn start() {
    let host = read_host();
    if let Err(e) = spawn_worker() {
        show_refusal(&Refusal::Failed(e));
        return;
    }
    // The app starts while the worker opens the notebook (its first requests wait in the
    // queue), so the two wasm instances start side by side. It waits at most a moment for the
    // browser's answer to "keep this notebook": Firefox asks the user in a pop-up and answers
    // only when they do, which left the app on "Opening your notebook…" until then. Past the
    // moment it starts with what the browser has promised so far (asking that never prompts),
    // and the request goes on beside it.
    wasm_bindgen_futures::spawn_local(async move {
        let asked = Box::pin(persist());
        let answer = match select(asked, Box::pin(sleep(PERSIST_WAIT))).await {
            Either::Left((answer, _)) => answer,
            Either::Right((_, asked)) => {
                wasm_bindgen_futures::spawn_local(async move {
                    let _ = asked.await;
                });
                persisted().await
            }
        };
        let host = Host {
            persisted: answer,
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
    // A lock screen waiting on a passphrase the notebook then failed to open with for another
    // reason gives way to the reason.
    if let Some(form) = document.get_element_by_id("unlock") {
        form.remove();
    }
    if let (Some(body), Ok(p)) = (document.body(), document.create_element("p")) {
        p.set_id("cannot-open");
        p.set_class_name("cannot-open");
        let _ = p.set_attribute("role", "alert");
        p.set_text_content(Some(&refusal.to_string()));
        let _ = body.append_child(&p);
    }
}

/// The lock screen's form: static text, no user content. The passphrase field asks browsers
/// and password managers not to offer to save it (`autocomplete="off"` and the managers' own
/// signs, as `ui::components::field` does): it is never written down (README, "Encryption at
/// rest"); a browser's own manager may offer all the same.
const LOCK_FORM: &str = r#"<h2 id="unlock-title">This notebook is locked</h2>
<p>It is encrypted on this phone. Type its passphrase to open it.</p>
<label for="unlock-passphrase">Passphrase</label>
<input id="unlock-passphrase" name="passphrase" type="password" autocomplete="off" data-1p-ignore="true" data-lpignore="true" data-bwignore="true" data-form-type="other" required>
<p id="unlock-note" role="alert"></p>
<button type="submit" id="unlock-open" class="primary">Open notebook</button>
<p class="muted">A forgotten passphrase cannot be recovered. Records already synced are safe with the team: a lead can invite this phone again into a new notebook.</p>"#;

/// Show the lock screen of a notebook encrypted at rest in place of the app (hidden until the
/// passphrase opens it); `wrong`: the passphrase last typed did not.
pub(super) fn show_lock(wrong: bool) {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    if let Some(main) = document.get_element_by_id("main") {
        let _ = main.set_attribute("hidden", "");
    }
    if document.get_element_by_id("unlock").is_none() {
        let (Some(body), Ok(form)) = (document.body(), document.create_element("form")) else {
            return;
        };
        form.set_id("unlock");
        form.set_class_name("card unlock");
        let _ = form.set_attribute("aria-labelledby", "unlock-title");
        form.set_inner_html(LOCK_FORM);
        let on_submit = Closure::<dyn FnMut(web_sys::Event)>::new(|event: web_sys::Event| {
            event.prevent_default();
            let Some(document) = web_sys::window().and_then(|w| w.document()) else {
                return;
            };
            let Some(input) = document.get_element_by_id("unlock-passphrase") else {
                return;
            };
            let typed = js_sys::Reflect::get(&input, &"value".into())
                .ok()
                .and_then(|v| v.as_string())
                .unwrap_or_default();
            if typed.is_empty() {
                return;
            }
            let _ = js_sys::Reflect::set(&input, &"value".into(), &"".into());
            enable_lock_buttons(&document, false);
            set_lock_note(&document, "Opening the notebook…");
            screen_lock::set_trying(false);
            super::client::unlock(typed);
        });
        let _ = form.add_event_listener_with_callback("submit", on_submit.as_ref().unchecked_ref());
        on_submit.forget();
        let _ = body.insert_before(&form, body.first_child().as_ref());
    }
    enable_lock_buttons(&document, true);
    let mut note = if wrong {
        "That passphrase does not open this notebook. Check it and try again."
    } else {
        ""
    };
    // The screen lock's copy of the notebook's key no longer opens it (the passphrase was
    // changed since): it is forgotten, and the passphrase typed.
    if wrong && screen_lock::take_trying() {
        screen_lock::forget();
        note = "What the screen lock kept no longer opens this notebook (its passphrase was \
                changed since). Type the passphrase; the screen lock can be set up again in \
                Settings.";
    }
    set_lock_note(&document, note);
    let by_screen_lock = screen_lock::enrolled() && screen_lock_button(&document).is_some();
    if !by_screen_lock && let Some(button) = document.get_element_by_id("unlock-screen-lock") {
        button.remove();
    }
    // With the screen lock set up, its button has the focus (no keyboard pops up), unless a
    // typed passphrase was just refused: then the field, to type it again.
    let focused = if by_screen_lock && !wrong {
        "unlock-screen-lock"
    } else {
        "unlock-passphrase"
    };
    if let Some(element) = document.get_element_by_id(focused)
        && let Ok(focus) = js_sys::Reflect::get(&element, &"focus".into())
        && let Ok(focus) = focus.dyn_into::<js_sys::Function>()
    {
        let _ = focus.call0(&element);
    }
}

/// The lock screen's "Open with the screen lock" button, added before the passphrase field if
/// it is not there yet.
fn screen_lock_button(document: &web_sys::Document) -> Option<web_sys::Element> {
    if let Some(button) = document.get_element_by_id("unlock-screen-lock") {
        return Some(button);
    }
    let form = document.get_element_by_id("unlock")?;
    let label = form.query_selector("label").ok().flatten()?;
    let button = document.create_element("button").ok()?;
    button.set_id("unlock-screen-lock");
    button.set_class_name("primary");
    let _ = button.set_attribute("type", "button");
    button.set_text_content(Some("Open with the screen lock"));
    let on_click = Closure::<dyn FnMut(web_sys::Event)>::new(|_: web_sys::Event| {
        let Some(document) = web_sys::window().and_then(|w| w.document()) else {
            return;
        };
        enable_lock_buttons(&document, false);
        set_lock_note(&document, "Waiting for the phone's screen lock…");
        wasm_bindgen_futures::spawn_local(async move {
            match screen_lock::notebook_key().await {
                Ok(key) => {
                    set_lock_note(&document, "Opening the notebook…");
                    screen_lock::set_trying(true);
                    super::client::unlock(key);
                }
                Err(why) => {
                    set_lock_note(&document, &why);
                    enable_lock_buttons(&document, true);
                    if !screen_lock::enrolled()
                        && let Some(button) = document.get_element_by_id("unlock-screen-lock")
                    {
                        button.remove();
                    }
                }
            }
        });
    });
    let _ = button.add_event_listener_with_callback("click", on_click.as_ref().unchecked_ref());
    on_click.forget();
    form.insert_before(&button, Some(&label)).ok()?;
    Some(button)
}

/// The lock screen's buttons usable (or not, while the notebook is being opened).
fn enable_lock_buttons(document: &web_sys::Document, enabled: bool) {
    for id in ["unlock-open", "unlock-screen-lock"] {
        if let Some(button) = document.get_element_by_id(id) {
            let _ = if enabled {
                button.remove_attribute("disabled")
            } else {
                button.set_attribute("disabled", "")
            };
        }
    }
}

fn set_lock_note(document: &web_sys::Document, text: &str) {
    if let Some(note) = document.get_element_by_id("unlock-note") {
        note.set_text_content(Some(text));
    }
}

/// The notebook opened: the lock screen (if it was shown) gives way to the app.
pub(super) fn hide_lock() {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    screen_lock::set_trying(false);
    if let Some(form) = document.get_element_by_id("unlock") {
        form.remove();
        if let Some(main) = document.get_element_by_id("main") {
            let _ = main.remove_attribute("hidden");
        }
    }
}

/// Say, above the app, that the notebook's worker stopped after opening: the app stays, with
/// whatever is typed in its forms, but nothing more is kept until the page is reloaded.
pub(super) fn show_stopped() {
    super::log("groundwork: the notebook's worker stopped");
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    if document.get_element_by_id("notebook-stopped").is_some() {
        return;
    }
    if let (Some(body), Ok(p)) = (document.body(), document.create_element("p")) {
        p.set_id("notebook-stopped");
        p.set_class_name("cannot-open");
        let _ = p.set_attribute("role", "alert");
        p.set_text_content(Some(
            "The notebook stopped working: nothing more can be saved. Reload the page; what \
             you typed in a form comes back as its draft.",
        ));
        let _ = body.insert_before(&p, body.first_child().as_ref());
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
        exports: None,
    }
}

/// Ask the browser to keep the notebook when storage runs low (a browser may ask the user
/// first); what it answered.
async fn persist() -> Option<bool> {
    let storage = web_sys::window()?.navigator().storage();
    let promise = storage.persist().ok()?;
    JsFuture::from(promise).await.ok()?.as_bool()
}

/// Whether the browser has promised to keep the notebook (never asks the user).
pub async fn persisted() -> Option<bool> {
    let storage = web_sys::window()?.navigator().storage();
    let promise = storage.persisted().ok()?;
    JsFuture::from(promise).await.ok()?.as_bool()
}
