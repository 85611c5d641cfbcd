//! The first start: who is canvassing. Asks the canvasser's name once (it is recorded on each
//! conversation and shift, so the team lead's report can say who held them); skipping is fine,
//! and records made without a name say "no name given" in reports. Settings changes it later.

use dioxus::prelude::*;

use crate::ui::components::TextField;
use crate::ui::worker::Request;
use crate::ui::{Nav, Services};

/// The question, shown in place of the screens until it is answered or skipped.
#[component]
pub fn Welcome() -> Element {
    let services = use_context::<Services>();
    let nav = use_context::<Nav>();
    let mut name = use_signal(String::new);

    let store = services.store.clone();
    let save = move || {
        let n = name();
        if n.trim().is_empty() {
            nav.error("Type your name, or tap “Skip for now”.");
            return;
        }
        let store = store.clone();
        spawn(async move {
            match store.run(Request::SetName(n.trim().to_string())).await {
                Ok(()) => nav.say(format!("Welcome, {}.", n.trim())),
                Err(e) => nav.error(e.to_string()),
            }
        });
    };
    let store = services.store.clone();
    let skip = move |_| {
        let store = store.clone();
        spawn(async move {
            match store.run(Request::SkipName).await {
                Ok(()) => nav.say("No name for now: you can add yours in Settings."),
                Err(e) => nav.error(e.to_string()),
            }
        });
    };
    let on_enter = save.clone();

    rsx! {
        section { class: "welcome", "aria-labelledby": "welcome-title",
            h2 { id: "welcome-title", "Who is canvassing?" }
            p {
                "Your name goes on the conversations you record, so your team's reports can say who held them. "
                "It stays on this device until you join a team."
            }
            TextField { id: "welcome-name", label: "Your name", autocomplete: "name",
                oninput: move |v: String| name.set(v), onenter: move |_| on_enter() }
            button { r#type: "button", class: "primary", id: "save-name", onclick: move |_| save(), "Save my name" }
            button { r#type: "button", class: "secondary", id: "skip-name", onclick: skip, "Skip for now" }
            p { class: "muted",
                "Skipped, your conversations show “no name given” in reports. You can add your name later in Settings."
            }
        }
    }
}
