//! A labelled text field that never loses a keystroke.
//!
//! The field's text is not bound to a signal: the browser owns it while the user types, and
//! the component reports every change through `oninput`. The first value is given once as
//! `initial` (the DOM's `defaultValue`), so re-rendering never rewrites what is being typed.

use dioxus::prelude::*;

/// A label and a single-line input or a multi-line text area.
#[component]
pub fn TextField(
    /// The element id (also what the label points at).
    id: String,
    /// The words of the label.
    label: String,
    /// The text to start with.
    #[props(default)]
    initial: String,
    /// A text area instead of one line.
    #[props(default)]
    multiline: bool,
    /// The input type (`text`, `tel`, `email`, `date`, `search`, …).
    #[props(default = "text".to_string())]
    kind: String,
    /// A hint under the label.
    #[props(default)]
    hint: Option<String>,
    /// Autocomplete hint for the browser. A password field (`kind: "password"`: the
    /// notebook's passphrase, the only secret typed in the app) keeps the default, `off`, and
    /// is marked for password managers to leave alone: the passphrase is never written down
    /// (README, "Encryption at rest"), and a saved one would open the notebook for whoever
    /// gets into the password manager.
    #[props(default = "off".to_string())]
    autocomplete: String,
    /// The text changed.
    oninput: EventHandler<String>,
    /// Enter was pressed in a single-line field.
    #[props(default)]
    onenter: Option<EventHandler<()>>,
) -> Element {
    let hint_id = format!("{id}-hint");
    let secret = kind == "password";
    rsx! {
        div { class: "field",
            label { r#for: "{id}", "{label}" }
            if let Some(h) = &hint {
                p { class: "hint", id: "{hint_id}", "{h}" }
            }
            if multiline {
                textarea {
                    id: "{id}",
                    rows: "4",
                    initial_value: "{initial}",
                    "aria-describedby": if hint.is_some() { hint_id.clone() },
                    oninput: move |e| oninput.call(e.value()),
                }
            } else {
                input {
                    id: "{id}",
                    r#type: "{kind}",
                    autocomplete: "{autocomplete}",
                    // Password managers' own signs for "not a login" (1Password, LastPass,
                    // Bitwarden, Dashlane); browsers' managers may still offer to save.
                    "data-1p-ignore": if secret { "true" },
                    "data-lpignore": if secret { "true" },
                    "data-bwignore": if secret { "true" },
                    "data-form-type": if secret { "other" },
                    initial_value: "{initial}",
                    "aria-describedby": if hint.is_some() { hint_id.clone() },
                    oninput: move |e| oninput.call(e.value()),
                    onkeydown: move |e| {
                        if e.key() == Key::Enter
                            && let Some(h) = onenter
                        {
                            e.prevent_default();
                            h.call(());
                        }
                    },
                }
            }
        }
    }
}
