//! Joining from a join link (`https://RELAY/#join=CODE`, the phone web app): the relay is the
//! one that served the app and the code came in the link, so the canvasser only confirms,
//! with their name. The name is recorded as the canvasser's and names the device ("Sam's
//! phone"). Shown instead of the screens until the device has joined or the canvasser says
//! "Not now" (Settings can join later).

use dioxus::prelude::*;

use super::super::components::TextField;
use super::super::sync::{SyncCommand, SyncStatus};
use super::super::worker::Request;
use super::super::{Nav, Services};

/// The join link's confirmation. `ondone` is called on "Not now".
#[component]
pub fn JoinLink(
    relay: String,
    invite: String,
    status: SyncStatus,
    ondone: EventHandler<()>,
) -> Element {
    let services = use_context::<Services>();
    let nav = use_context::<Nav>();
    let ov = (nav.overview)();
    let mut name = use_signal(|| ov.canvasser.clone().unwrap_or_default());
    let mut asked = use_signal(|| false);

    let store = services.store.clone();
    let sync = services.sync.clone();
    let target = relay.clone();
    let join = move || {
        let n = name().trim().to_string();
        if n.is_empty() {
            nav.error("Type your name: your team sees it on what you record.");
            return;
        }
        let store = store.clone();
        let sync = sync.clone();
        let (relay, invite) = (target.clone(), invite.clone());
        spawn(async move {
            if let Err(e) = store.run(Request::SetName(n.clone())).await {
                nav.error(e.to_string());
                return;
            }
            match sync.command(SyncCommand::Join {
                relay,
                invite,
                device_name: format!("{n}'s phone"),
            }) {
                Ok(()) => asked.set(true),
                Err(e) => nav.error(e),
            }
        });
    };
    let on_enter = join.clone();

    rsx! {
        section { class: "welcome join-link", "aria-labelledby": "join-link-title",
            h2 { id: "join-link-title", "Join your team" }
            p { "You opened an invite to the team that syncs at {relay}." }
            p { class: "muted",
                "Your name goes on the conversations you record. Everything you write stays on this phone, "
                "and goes to your team whenever there is a signal."
            }
            TextField { id: "join-link-name", label: "Your name", autocomplete: "name",
                initial: ov.canvasser.clone().unwrap_or_default(),
                oninput: move |v: String| name.set(v), onenter: move |_| on_enter() }
            button { r#type: "button", class: "primary", id: "join-link-join",
                disabled: status.joining, onclick: move |_| join(), "Join team" }
            button { r#type: "button", class: "secondary", id: "join-link-later",
                onclick: move |_| ondone.call(()), "Not now" }
            div { id: "join-link-outcome", role: "status", "aria-live": "polite",
                if status.joining {
                    p { class: "joining", "Joining… waiting for the relay to answer." }
                } else if asked() {
                    if let Some(e) = &status.last_error {
                        p { class: "dnc", "Could not join: {e}" }
                    }
                }
            }
        }
    }
}
