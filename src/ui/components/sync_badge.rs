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
    /// "Sync now" was tapped.
    onsync: EventHandler<()>,
) -> Element {
    rsx! {
        div { class: if warning { "sync-badge warning" } else { "sync-badge" },
            span { class: "sync-text", role: "status", "aria-live": "polite", "{text}" }
            button {
                r#type: "button",
                class: "sync-now",
                onclick: move |_| onsync.call(()),
                "Sync now"
            }
        }
    }
}
