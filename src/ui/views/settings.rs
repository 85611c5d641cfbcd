//! Settings: this device's canvasser name, joining a team on a relay, and sync.

use dioxus::prelude::*;

use crate::ui::components::TextField;
use crate::ui::sync::{SyncCommand, SyncStatus, badge_text, short_time};
use crate::ui::worker::Request;
use crate::ui::{Nav, Services};

/// The settings screen; `status` is the sync engine's latest.
#[component]
pub fn Settings(status: SyncStatus) -> Element {
    let services = use_context::<Services>();
    let nav = use_context::<Nav>();
    let ov = (nav.overview)();
    let mut name = use_signal(|| ov.canvasser.clone());
    let mut relay = use_signal(String::new);
    let mut invite = use_signal(String::new);
    let mut device = use_signal(|| ov.canvasser.clone());

    let store = services.store.clone();
    let save_name = move |_| {
        let store = store.clone();
        let n = name();
        spawn(async move {
            match store.run(Request::SetName(n)).await {
                Ok(()) => nav.say("Name saved."),
                Err(e) => nav.error(e.to_string()),
            }
        });
    };
    let store = services.store.clone();
    let sync = services.sync.clone();
    let join = move |_| {
        let (r, i, d) = (relay(), invite(), device());
        if r.trim().is_empty() || i.trim().is_empty() || d.trim().is_empty() {
            nav.error("Fill in the relay address, the invite code and this device's name.");
            return;
        }
        let store = store.clone();
        let sync = sync.clone();
        spawn(async move {
            // The name is this device's either way, joined or not.
            if let Err(e) = store.run(Request::SetName(d.clone())).await {
                nav.error(e.to_string());
                return;
            }
            match sync.command(SyncCommand::Join {
                relay: r.trim().to_string(),
                invite: i.trim().to_string(),
                device_name: d,
            }) {
                Ok(()) => nav.say("Joining…"),
                Err(e) => nav.error(e),
            }
        });
    };
    let sync = services.sync.clone();
    let sync_now = move |_| {
        if let Err(e) = sync.command(SyncCommand::SyncNow) {
            nav.error(e);
        }
    };

    rsx! {
        section { class: "settings", "aria-labelledby": "settings-title",
            h2 { id: "settings-title", "Settings" }
            section { class: "card", "aria-labelledby": "name-title",
                h3 { id: "name-title", "Your name" }
                p { class: "muted", "Recorded as canvasser: {ov.canvasser}" }
                TextField { id: "canvasser-name", label: "Canvasser name", initial: ov.canvasser.clone(),
                    oninput: move |v: String| name.set(v) }
                button { r#type: "button", class: "secondary", onclick: save_name, "Save name" }
            }
            section { class: "card", "aria-labelledby": "join-title",
                h3 { id: "join-title", "Join a team" }
                if let Some(r) = &status.joined {
                    p { "This device syncs with {r}." }
                } else {
                    p { class: "muted", "Everything works without joining; join to share with your team." }
                }
                TextField { id: "relay", label: "Relay address", kind: "url", hint: "From your team lead, e.g. https://relay.example.org",
                    oninput: move |v: String| relay.set(v) }
                TextField { id: "invite", label: "Invite code", oninput: move |v: String| invite.set(v) }
                TextField { id: "device-name", label: "Your name on this device", initial: ov.canvasser.clone(),
                    oninput: move |v: String| device.set(v) }
                button { r#type: "button", class: "primary", id: "join", onclick: join, "Join team" }
            }
            section { class: "card", "aria-labelledby": "sync-title",
                h3 { id: "sync-title", "Sync" }
                p { "{badge_text(&status, ov.pending)}" }
                if let Some(at) = &status.last_synced {
                    p { class: "muted", "Last synced {short_time(at)}" }
                }
                if let Some(e) = &status.last_error {
                    p { class: "dnc", "Last error: {e}" }
                }
                button { r#type: "button", class: "secondary", onclick: sync_now, "Sync now" }
            }
        }
    }
}
