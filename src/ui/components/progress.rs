//! A labelled progress bar ("letters signed: 12 of 50").

use dioxus::prelude::*;

/// A bar filled `value / max`, with the numbers in words beside it.
#[component]
pub fn ProgressBar(
    /// What is counted.
    label: String,
    /// How many so far.
    value: u64,
    /// The target.
    max: u64,
) -> Element {
    let pct = value
        .saturating_mul(100)
        .checked_div(max)
        .unwrap_or(0)
        .min(100);
    rsx! {
        div { class: "progress",
            div { class: "progress-text",
                span { "{label}" }
                span { class: "progress-count", "{value} of {max}" }
            }
            div {
                class: "progress-track",
                role: "progressbar",
                "aria-label": "{label}",
                "aria-valuemin": "0",
                "aria-valuemax": "{max}",
                "aria-valuenow": "{value.min(max)}",
                div { class: "progress-fill", style: "width: {pct}%" }
            }
        }
    }
}
