//! A person's file: details, consent, every conversation, open and past commitments, and
//! conflicting values side by side with a way to pick one.

use dioxus::dioxus_core::spawn_forever;
use dioxus::prelude::*;
use groundwork::model::{Commitment, CommitmentStatus, PersonPatch};

use super::{show_date, show_time};
use crate::ui::worker::{Request, today};
use crate::ui::{Nav, Screen, Services};

/// The person fields a conflict can be settled on from here, with their labels.
const FIELDS: &[(&str, &str)] = &[
    ("name", "Name"),
    ("phone", "Phone"),
    ("email", "Email"),
    ("address", "Address"),
    ("area", "Area"),
    ("workplace", "Workplace"),
    ("role", "Role"),
    ("notes", "Notes"),
];

/// The patch that writes `value` into `field` (settling a conflict on it).
pub fn patch_for(field: &str, value: &str) -> Option<PersonPatch> {
    let mut p = PersonPatch::default();
    let v = Some(value.to_string());
    match field {
        "name" => p.name = v,
        "phone" => p.phone = v,
        "email" => p.email = v,
        "address" => p.address = v,
        "area" => p.area = v,
        "workplace" => p.workplace = v,
        "role" => p.role = v,
        "notes" => p.notes = v,
        _ => return None,
    }
    Some(p)
}

fn value_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "(empty)".to_string(),
        other => other.to_string(),
    }
}

/// The person's file.
#[component]
pub fn PersonFile(id: String) -> Element {
    let services = use_context::<Services>();
    let nav = use_context::<Nav>();
    let pid = id.clone();
    let file = use_resource(move || {
        let store = services.store.clone();
        let id = pid.clone();
        let _ = (nav.revision)();
        async move { store.person(&id).await }
    });
    let services = use_context::<Services>();
    let file = file.read();
    let f = match &*file {
        None => return rsx! { p { class: "empty", "Loading…" } },
        Some(Err(e)) => return rsx! { p { class: "empty", role: "alert", "{e}" } },
        Some(Ok(f)) => f.clone(),
    };
    let p = &f.person;
    let details: Vec<(&str, String)> = [
        ("Phone", &p.phone),
        ("Email", &p.email),
        ("Address", &p.address),
        ("Area", &p.area),
        ("Workplace", &p.workplace),
        ("Role", &p.role),
        ("Notes", &p.notes),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.clone().map(|v| (k, v)))
    .collect();
    let conflicts: Vec<(String, &str, Vec<String>)> = FIELDS
        .iter()
        .filter_map(|(field, label)| {
            p.conflicts.get(*field).map(|vals| {
                (
                    field.to_string(),
                    *label,
                    vals.iter().map(value_text).collect(),
                )
            })
        })
        .collect();
    let (open, past): (Vec<Commitment>, Vec<Commitment>) = f
        .commitments
        .iter()
        .cloned()
        .partition(|c| c.status == CommitmentStatus::Open);
    let consent: Vec<String> = p.consent.keys().cloned().collect();
    let rid = id.clone();

    rsx! {
        article { class: "person-file", "aria-labelledby": "person-title",
            h2 { id: "person-title", "{p.name}" }
            button {
                r#type: "button",
                class: "primary",
                id: "record-conversation",
                onclick: move |_| nav.go(Screen::Record(rid.clone())),
                "Record a conversation"
            }
            if !conflicts.is_empty() {
                section { class: "conflicts", "aria-labelledby": "conflicts-title",
                    h3 { id: "conflicts-title", "Two devices disagree" }
                    for (field, label, values) in conflicts {
                        div { class: "conflict card", key: "{field}",
                            p { class: "conflict-label", "{label}: pick the right one" }
                            div { class: "conflict-values",
                                for (i, v) in values.into_iter().enumerate() {
                                    div { class: "conflict-value", key: "{i}",
                                        p { "{v}" }
                                        button {
                                            r#type: "button",
                                            class: "secondary",
                                            "aria-label": "Use “{v}” as the {label}",
                                            onclick: {
                                                let store = services.store.clone();
                                                let field = field.clone();
                                                let id = id.clone();
                                                move |_| {
                                                    let store = store.clone();
                                                    let patch = patch_for(&field, &v);
                                                    let id = id.clone();
                                                    spawn_forever(async move {
                                                        if let Some(patch) = patch
                                                            && let Err(e) = store.run(Request::EditPerson(id, patch)).await
                                                        {
                                                            nav.error(e.to_string());
                                                        }
                                                    });
                                                }
                                            },
                                            "Use this"
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            section { class: "card details", "aria-label": "Details",
                if details.is_empty() {
                    p { class: "muted", "No contact details yet." }
                }
                dl {
                    for (k, v) in details {
                        div { key: "{k}", dt { "{k}" } dd { "{v}" } }
                    }
                }
                if !p.tags.is_empty() {
                    p { class: "muted", "Tags: {p.tags.join(\", \")}" }
                }
                if p.do_not_contact {
                    p { class: "dnc", "Asked not to be contacted" }
                } else if consent.is_empty() {
                    p { class: "muted", "No consent to contact recorded" }
                } else {
                    p { "May be contacted by: {consent.join(\", \")}" }
                }
            }
            section { "aria-labelledby": "open-title",
                h3 { id: "open-title", "Open commitments" }
                if open.is_empty() {
                    p { class: "muted", "None." }
                }
                ul { class: "list",
                    for c in open {
                        CommitmentRow { key: "{c.id}", commitment: c, who: None }
                    }
                }
            }
            section { "aria-labelledby": "conv-title",
                h3 { id: "conv-title", "Conversations" }
                if f.conversations.is_empty() {
                    p { class: "muted", "None yet." }
                }
                ol { class: "list conversations",
                    for c in f.conversations.iter().rev() {
                        li { class: "card conversation", key: "{c.id}",
                            p { class: "conv-head",
                                strong { "{kind_label(c.kind.as_str())}" }
                                " · {show_time(&c.at)} · {c.canvasser}"
                            }
                            if !c.issues.is_empty() {
                                p { class: "issues", "Issues: {c.issues.join(\", \")}" }
                            }
                            if let Some(s) = &c.story {
                                p { class: "story", "{s}" }
                            }
                            if let Some(n) = &c.notes {
                                p { class: "notes", "{n}" }
                            }
                            p { class: "muted",
                                if let Some(e) = c.engagement { "Engagement {e.get()} of 5. " }
                                if let Some(d) = c.follow_up { "Follow up {show_date(d)}." }
                            }
                        }
                    }
                }
            }
            if !past.is_empty() {
                section { "aria-labelledby": "past-title",
                    h3 { id: "past-title", "Past commitments" }
                    ul { class: "list",
                        for c in past {
                            CommitmentRow { key: "{c.id}", commitment: c, who: None }
                        }
                    }
                }
            }
        }
    }
}

/// The words for a conversation kind.
pub fn kind_label(kind: &str) -> &'static str {
    match kind {
        "doorstep" => "Doorstep",
        "breakfast-meeting" => "Breakfast meeting",
        "one-to-one" => "One-to-one",
        "phone" => "Phone",
        "workplace-visit" => "Workplace visit",
        "event" => "Event",
        _ => "Conversation",
    }
}

/// A commitment with one-tap "Kept" and "Broken" while it is open.
#[component]
pub fn CommitmentRow(commitment: Commitment, who: Option<(String, String)>) -> Element {
    let services = use_context::<Services>();
    let nav = use_context::<Nav>();
    let c = commitment;
    let overdue = c.status == CommitmentStatus::Open && c.due.is_some_and(|d| d < today());
    // The row disappears when the change arrives, maybe before the reply: the task must
    // outlive it, so it belongs to the root scope.
    let mark = use_callback(move |(id, status): (String, CommitmentStatus)| {
        let store = services.store.clone();
        spawn_forever(async move {
            match store.run(Request::SetCommitment(id, status)).await {
                Ok(()) => nav.say(format!("Marked {status}.")),
                Err(e) => nav.error(e.to_string()),
            }
        });
    });
    let (id1, id2) = (c.id.clone(), c.id.clone());
    rsx! {
        li { class: if overdue { "card commitment overdue" } else { "card commitment" }, "data-id": "{c.id}",
            p { class: "what", "{c.what}" }
            p { class: "muted",
                if let Some((pid, name)) = who.clone() {
                    button {
                        r#type: "button",
                        class: "linkish",
                        onclick: move |_| nav.go(Screen::Person(pid.clone())),
                        "{name}"
                    }
                    " · "
                }
                match c.due {
                    Some(d) if overdue => rsx! { strong { "Overdue since {show_date(d)}" } },
                    Some(d) => rsx! { "Due {show_date(d)}" },
                    None => rsx! { "No date" },
                }
                if c.status != CommitmentStatus::Open { " · {c.status}" }
            }
            if c.status == CommitmentStatus::Open {
                div { class: "commitment-actions",
                    button {
                        r#type: "button",
                        class: "secondary kept",
                        "aria-label": "Kept: {c.what}",
                        onclick: move |_| mark((id1.clone(), CommitmentStatus::Kept)),
                        "Kept"
                    }
                    button {
                        r#type: "button",
                        class: "secondary broken",
                        "aria-label": "Broken: {c.what}",
                        onclick: move |_| mark((id2.clone(), CommitmentStatus::Broken)),
                        "Broken"
                    }
                }
            }
        }
    }
}
