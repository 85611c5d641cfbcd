//! Commitments due and overdue, each marked kept or broken with one tap: whole counts (made
//! in SQL, however many there are), the soonest first a page at a time, the canvasser's own
//! or everyone's, and a call or text link where the person agreed to be contacted that way.

use dioxus::prelude::*;
use groundwork::contact::ContactLinks;
use groundwork::store::DueWhen;

use super::person::CommitmentRow;
use super::{show_count, show_date};
use crate::ui::components::{Chip, Chips};
use crate::ui::lists::{KeptLists, PAGE};
use crate::ui::worker::DueItem;
use crate::ui::{Nav, Screen, Services};

/// The heading and element id of a part of the screen.
fn part(when: DueWhen) -> (&'static str, &'static str) {
    match when {
        DueWhen::Overdue => ("Overdue", "overdue"),
        DueWhen::ThisWeek => ("Due this week", "soon"),
        DueWhen::Later => ("Later or no date", "later"),
    }
}

/// The due list.
#[component]
pub fn Due() -> Element {
    let services = use_context::<Services>();
    let nav = use_context::<Nav>();
    // Kept while the app is open: back from a person's file finds "Mine" still chosen.
    let KeptLists {
        mut mine,
        due_limits: mut limits,
        ..
    } = use_context::<KeptLists>();
    let lists = use_resource(move || {
        let store = services.store.clone();
        let _ = (nav.revision)();
        let (m, l) = (mine(), limits());
        async move { store.due(m, l).await }
    });
    let whose = vec![
        Chip {
            value: "mine".into(),
            text: "Mine".into(),
        },
        Chip {
            value: "everyone".into(),
            text: "Everyone".into(),
        },
    ];
    let selected = vec![if mine() { "mine" } else { "everyone" }.to_string()];
    let body = match &*lists.read() {
        None => rsx! { p { class: "empty", "Loading…" } },
        Some(Err(e)) => rsx! { p { class: "empty", role: "alert", "{e}" } },
        Some(Ok(d)) => {
            let d = d.clone();
            rsx! {
                for (i, (when, items)) in d.parts.into_iter().enumerate() {
                    Group {
                        key: "{part(when).1}",
                        when,
                        count: d.counts.of(when),
                        items,
                        onmore: move |_| limits.with_mut(|l| l[i] += PAGE),
                    }
                }
            }
        }
    };
    rsx! {
        section { class: "due", "aria-labelledby": "due-title",
            h2 { id: "due-title", "Commitments" }
            Chips {
                label: "Whose commitments",
                chips: whose,
                selected,
                ontoggle: move |v: String| {
                    mine.set(v == "mine");
                    limits.set([PAGE; 3]);
                },
            }
            if mine() {
                p { class: "muted", id: "due-mine-note",
                    match (nav.overview)().canvasser {
                        Some(name) => rsx! { "Only those from conversations held by {name}, or under a name given before on this device." },
                        None => rsx! { "Only those from conversations recorded here before a name was given." },
                    }
                }
            }
            {body}
            FollowUps { mine: mine() }
        }
    }
}

/// One part of the screen: its whole count, its first rows, and "Show more".
#[component]
fn Group(when: DueWhen, count: usize, items: Vec<DueItem>, onmore: EventHandler<()>) -> Element {
    let (title, id) = part(when);
    let shown = items.len();
    let left = count.saturating_sub(shown);
    rsx! {
        section { "aria-labelledby": "{id}-title",
            h3 { id: "{id}-title", "{title} ({show_count(count)})" }
            if items.is_empty() {
                p { class: "muted", "None." }
            }
            ul { class: "list due-list", id: "{id}-list",
                for c in items {
                    li { key: "{c.commitment.person_id}-{c.commitment.id}", class: "due-item",
                        ul { class: "list",
                            CommitmentRow {
                                who: Some((c.commitment.person_id.clone(), c.person_name.clone())),
                                commitment: c.commitment,
                            }
                        }
                        ContactLine { name: c.person_name, links: c.links }
                    }
                }
            }
            if left > 0 {
                p { class: "muted shown-of", "Showing {show_count(shown)} of {show_count(count)}." }
                button {
                    r#type: "button",
                    class: "secondary show-more",
                    id: "{id}-more",
                    onclick: move |_| onmore.call(()),
                    "Show {left.min(PAGE)} more"
                }
            }
        }
    }
}

/// Call and text links for a person, only those their consent allows (none at all for someone
/// who asked not to be contacted).
#[component]
fn ContactLine(name: String, links: ContactLinks) -> Element {
    let phone = links.phone.clone().unwrap_or_default();
    if links.call.is_none() && links.text.is_none() {
        return rsx! {};
    }
    rsx! {
        p { class: "contact-links",
            if let Some(href) = links.call {
                a { class: "contact-link", href: "{href}", "aria-label": "Call {name} on {phone}", "Call" }
            }
            if let Some(href) = links.text {
                a { class: "contact-link", href: "{href}", "aria-label": "Text {name} on {phone}", "Text" }
            }
            span { class: "muted", "{phone}" }
        }
    }
}

/// People to call back: their follow-up date has come and nobody has spoken to them since.
#[component]
fn FollowUps(mine: bool) -> Element {
    let services = use_context::<Services>();
    let nav = use_context::<Nav>();
    let mut limit = use_context::<KeptLists>().follow_ups_limit;
    let list = use_resource(use_reactive!(|mine| {
        let store = services.store.clone();
        let _ = (nav.revision)();
        let n = limit();
        async move { store.follow_ups(mine, n).await }
    }));
    // Loading and failing are said as such, not as "none due".
    let (count, items, state) = match &*list.read() {
        Some(Ok(l)) => (l.0, l.1.clone(), None),
        Some(Err(e)) => (0, Vec::new(), Some(e.to_string())),
        None => (0, Vec::new(), Some("Loading…".to_string())),
    };
    let failed = matches!(&*list.read(), Some(Err(_)));
    let shown = items.len();
    rsx! {
        section { "aria-labelledby": "follow-ups-title",
            if state.is_none() {
                h3 { id: "follow-ups-title", "Follow-ups due ({show_count(count)})" }
            } else {
                h3 { id: "follow-ups-title", "Follow-ups due" }
            }
            match state {
                Some(words) => rsx! {
                    p { class: if failed { "empty error" } else { "muted" }, role: if failed { "alert" } else { "status" }, "{words}" }
                },
                None if items.is_empty() => rsx! { p { class: "muted", "None." } },
                None => rsx! {},
            }
            ul { class: "list", id: "follow-ups-list",
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
                            " · due {show_date(f.due)}"
                        }
                        span { class: "muted", " · last spoke: {f.last_spoken_by}" }
                        ContactLine { name: f.name.clone(), links: f.links }
                    }
                }
            }
            if count > shown {
                p { class: "muted shown-of", "Showing {show_count(shown)} of {show_count(count)}." }
                button {
                    r#type: "button",
                    class: "secondary show-more",
                    id: "follow-ups-more",
                    onclick: move |_| limit += PAGE,
                    "Show {(count - shown).min(PAGE)} more"
                }
            }
        }
    }
}
