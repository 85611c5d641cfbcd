//! Commitments due and overdue, each marked kept or broken with one tap.

use chrono::Duration;
use dioxus::prelude::*;

use super::person::CommitmentRow;
use crate::ui::worker::{DueCommitment, today};
use crate::ui::{Nav, Screen, Services};

/// How many open commitments the screen lists.
const LIMIT: usize = 200;

/// The due list.
#[component]
pub fn Due() -> Element {
    let services = use_context::<Services>();
    let nav = use_context::<Nav>();
    let list = use_resource(move || {
        let store = services.store.clone();
        let _ = (nav.revision)();
        async move { store.open_commitments(LIMIT).await }
    });
    let list = list.read();
    let all = match &*list {
        None => return rsx! { p { class: "empty", "Loading…" } },
        Some(Err(e)) => return rsx! { p { class: "empty", role: "alert", "{e}" } },
        Some(Ok(l)) => l.clone(),
    };
    let today = today();
    let week = today + Duration::days(7);
    let (overdue, rest): (Vec<DueCommitment>, Vec<DueCommitment>) = all
        .into_iter()
        .partition(|c| c.commitment.due.is_some_and(|d| d < today));
    let (soon, later): (Vec<DueCommitment>, Vec<DueCommitment>) = rest
        .into_iter()
        .partition(|c| c.commitment.due.is_some_and(|d| d <= week));
    rsx! {
        section { class: "due", "aria-labelledby": "due-title",
            h2 { id: "due-title", "Commitments" }
            Group { title: "Overdue", id: "overdue", items: overdue }
            Group { title: "Due this week", id: "soon", items: soon }
            Group { title: "Later or no date", id: "later", items: later }
            FollowUps {}
        }
    }
}

/// People to call back: their follow-up date has come and nobody has spoken to them since.
#[component]
fn FollowUps() -> Element {
    let services = use_context::<Services>();
    let nav = use_context::<Nav>();
    let list = use_resource(move || {
        let store = services.store.clone();
        let _ = (nav.revision)();
        async move { store.follow_ups().await }
    });
    let items = match &*list.read() {
        Some(Ok(l)) => l.clone(),
        _ => Vec::new(),
    };
    rsx! {
        section { "aria-labelledby": "follow-ups-title",
            h3 { id: "follow-ups-title", "Follow-ups due ({items.len()})" }
            if items.is_empty() {
                p { class: "muted", "None." }
            }
            ul { class: "list",
                for f in items {
                    li { key: "{f.person_id}",
                        button {
                            r#type: "button",
                            class: "linkish",
                            onclick: {
                                let id = f.person_id.clone();
                                move |_| nav.go(Screen::Person(id.clone()))
                            },
                            "{f.name}"
                        }
                        span { class: if f.overdue { "overdue" } else { "muted" },
                            " · due {f.due}"
                        }
                        span { class: "muted", " · last spoke: {f.last_spoken_by}" }
                        if let Some(phone) = &f.phone {
                            " · "
                            a { href: "tel:{phone}", "{phone}" }
                        }
                    }
                }
            }
        }
    }
}

#[component]
fn Group(title: String, id: String, items: Vec<DueCommitment>) -> Element {
    rsx! {
        section { "aria-labelledby": "{id}-title",
            h3 { id: "{id}-title", "{title} ({items.len()})" }
            if items.is_empty() {
                p { class: "muted", "None." }
            }
            ul { class: "list",
                for c in items {
                    CommitmentRow {
                        key: "{c.commitment.id}",
                        who: Some((c.commitment.person_id.clone(), c.person_name.clone())),
                        commitment: c.commitment,
                    }
                }
            }
        }
    }
}
