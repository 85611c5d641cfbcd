//! A question asked before something cannot be taken back ("Discard this draft?"), with the
//! answer that does it and the answer that keeps things as they are. The screen decides when
//! it shows and what each answer does.

use dioxus::prelude::*;

/// The question, a "yes" button (drawn as the warning) and a "no" button.
#[component]
pub fn Confirm(
    /// Prefix of the element ids: `{id}-yes`, `{id}-no`, `{id}-text`.
    id: String,
    /// The question, in words.
    question: String,
    /// The words of the button that does it.
    yes: String,
    /// The words of the button that keeps things as they are.
    no: String,
    /// "Yes" was tapped.
    onyes: EventHandler<()>,
    /// "No" was tapped.
    onno: EventHandler<()>,
) -> Element {
    rsx! {
        div { class: "confirm", role: "group", "aria-labelledby": "{id}-text",
            p { id: "{id}-text", "{question}" }
            div { class: "confirm-actions",
                button {
                    r#type: "button",
                    class: "secondary",
                    id: "{id}-no",
                    // The question appears where the tapped button was: put focus on the
                    // safe answer, for screen readers and keyboards.
                    onmounted: move |e: MountedEvent| async move {
                        let _ = e.set_focus(true).await;
                    },
                    onclick: move |_| onno.call(()),
                    "{no}"
                }
                button {
                    r#type: "button",
                    class: "danger",
                    id: "{id}-yes",
                    onclick: move |_| onyes.call(()),
                    "{yes}"
                }
            }
        }
    }
}
