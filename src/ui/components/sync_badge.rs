//! The sync badge: where changes stand, why when something went wrong (one tap on the words),
//! and "Sync now", or "Join a team" while this device has not joined one. Always on screen.

use dioxus::prelude::*;

/// The status words, the reason behind them, and the button.
#[component]
pub fn SyncBadge(
    /// What to say ("Not joined · 3 changes waiting").
    text: String,
    /// Why, when something went wrong: the words open to show it.
    #[props(default)]
    reason: Option<String>,
    /// Something went wrong that needs someone to act: draw the badge as a warning.
    #[props(default)]
    warning: bool,
    /// Changes from other devices were refused: show a small mark saying so.
    #[props(default)]
    refused: u64,
    /// This device has joined a team: offer "Sync now" (otherwise "Join a team").
    #[props(default)]
    joined: bool,
    /// "Sync now" was tapped.
    onsync: EventHandler<()>,
    /// "Join a team" was tapped.
    onjoin: EventHandler<()>,
) -> Element {
    rsx! {
        div { class: if warning { "sync-badge warning" } else { "sync-badge" },
            div { class: "sync-state", role: "status", "aria-live": "polite",
                match reason {
                    Some(why) => rsx! {
                        details { class: "sync-details",
                            summary { class: "sync-text", id: "sync-text", "{text}" }
                            p { class: "sync-reason", id: "sync-reason", "{why}" }
                        }
                    },
                    None => rsx! { span { class: "sync-text", id: "sync-text", "{text}" } },
                }
            }
            if refused > 0 {
                span {
                    class: "sync-refused",
                    role: "img",
                    "aria-label": "{refused} refused changes: see Settings",
                    title: "{refused} refused changes: see Settings",
                    "⚠ {refused}"
                }
            }
            if joined {
                button {
                    r#type: "button",
                    class: "sync-now",
                    onclick: move |_| onsync.call(()),
                    "Sync now"
                }
            } else {
                button {
                    r#type: "button",
                    class: "sync-now",
                    id: "badge-join",
                    onclick: move |_| onjoin.call(()),
                    "Join a team"
                }
            }
        }
    }
}
