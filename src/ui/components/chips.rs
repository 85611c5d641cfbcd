//! A group of large toggle chips (conversation kind, issues, engagement, campaign).

use dioxus::prelude::*;

/// One chip: the value reported when tapped, and the words shown.
#[derive(Debug, Clone, PartialEq)]
pub struct Chip {
    /// Reported to `ontoggle`.
    pub value: String,
    /// Shown on the chip.
    pub text: String,
}

impl Chip {
    /// A chip whose value and words are the same.
    pub fn plain(text: &str) -> Chip {
        Chip {
            value: text.to_string(),
            text: text.to_string(),
        }
    }
}

/// A labelled group of chips; `selected` are drawn pressed (`aria-pressed`).
#[component]
pub fn Chips(
    /// The group's name, read by screen readers and shown above.
    label: String,
    /// The chips.
    chips: Vec<Chip>,
    /// Values drawn pressed.
    selected: Vec<String>,
    /// A chip was tapped.
    ontoggle: EventHandler<String>,
) -> Element {
    rsx! {
        fieldset { class: "chips",
            legend { "{label}" }
            div { class: "chip-row",
                for chip in chips {
                    button {
                        key: "{chip.value}",
                        r#type: "button",
                        class: "chip",
                        "data-value": "{chip.value}",
                        "aria-pressed": if selected.contains(&chip.value) { "true" } else { "false" },
                        onclick: {
                            let v = chip.value.clone();
                            move |_| ontoggle.call(v.clone())
                        },
                        "{chip.text}"
                    }
                }
            }
        }
    }
}
