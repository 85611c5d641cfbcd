//! The sync badge: where changes stand, and a "Sync now" button. Always on screen.

use dioxus::prelude::*;

/// The status words and the button.
#[component]
pub fn SyncBadge(
    /// What to say ("Not joined · 3 changes waiting").
    text: String,
    /// Something went wrong: draw the badge as a warning.
    #[props(default)]
    warning: bool,
    /// Changes from other devices were refused: show a small mark saying so.
    #[props(default)]
    refused: u64,
    /// "Sync now" was tapped.
    onsync: EventHandler<()>,
) -> Element {
    rsx! {
        div { class: if warning { "sync-badge warning" } else { "sync-badge" },
            span { class: "sync-text", role: "status", "aria-live": "polite", "{text}" }
            if refused > 0 {
                span {
                    class: "sync-refused",
                    role: "img",
                    "aria-label": "{refused} refused changes: see Settings",
                    title: "{refused} refused changes: see Settings",
                    "⚠ {refused}"
                }
            }
            button {
                r#type: "button",
                class: "sync-now",
                onclick: move |_| onsync.call(()),
                "Sync now"
            }
        }
    }
}
