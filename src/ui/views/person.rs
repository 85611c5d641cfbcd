//! A person's file: details, consent, every conversation, open and past commitments, drafts
//! waiting (a conversation or changes to the details not saved yet, one tap to carry on),
//! conflicting values side by side with a way to pick one, and the file's history (see
//! [`super::history`]).

use dioxus::dioxus_core::spawn_forever;
use dioxus::prelude::*;
use groundwork::fields::{FieldName, Record, Spec, Type, Value};
use groundwork::model::{
    Commitment, CommitmentField, CommitmentPatch, CommitmentStatus, ConversationPatch, PersonField,
    PersonFile as File, PersonPatch, parse_date,
};
use groundwork::store::ConflictWriter;

use super::drafts::{conversation_key, corrections_waiting, edit_key};
use super::edit_person::EditPerson;
use super::edit_record::{CampaignChoice, EditCommitment, EditConversation, LostCorrection};
use super::history::History;
use super::{kind_label, show_date, show_time};
use crate::ui::worker::{Request, today};
use crate::ui::{Nav, Screen, Services};

/// How a stored value of a field declared as `spec` reads in the app.
pub fn shown(spec: &Spec, v: &Value) -> String {
    match (spec.ty, v) {
        (_, Value::Empty) => "(empty)".to_string(),
        (Type::Choice(_), Value::Text(k)) if spec.name == "kind" => kind_label(k).to_string(),
        (Type::Number, Value::Number(n)) if spec.name == "engagement" => format!("{n} of 5"),
        (Type::Date, Value::Text(d)) => parse_date(d).map(show_date).unwrap_or_else(|_| d.clone()),
        (Type::Time, Value::Text(t)) => show_time(t),
        _ => v.to_text(),
    }
}

/// The conflicts of one declared record: each field people can see, its values as shown,
/// each with the request that settles the field on it (`settle` makes the request from the
/// patch; `None` for fields settled another way). `key` prefixes each conflict's key,
/// `label` says whose field it is.
fn record_conflicts<R: Record>(
    r: &R,
    (key, record): (&str, Option<&str>),
    writers: &[ConflictWriter],
    label: impl Fn(&Spec) -> String,
    settle: impl Fn(R::Field, &Value) -> Option<Request>,
) -> Vec<Conflict> {
    // Which device wrote value `v` of `field` (its name, or "another device").
    let who = |field: &str, v: &Value| {
        let text = v.to_text();
        writers
            .iter()
            .find(|w| w.record.as_deref() == record && w.field == field && w.value == text)
            .map(|w| {
                w.device
                    .clone()
                    .unwrap_or_else(|| "another device".to_string())
            })
    };
    r.conflicts()
        .iter()
        .filter(|(f, _)| f.spec().edit || f.spec().ty != Type::Time)
        .map(|(f, vals)| Conflict {
            key: format!("{key}-{}", f.name()),
            label: label(f.spec()),
            values: vals
                .iter()
                .map(|v| ConflictValue {
                    shown: shown(f.spec(), v),
                    who: who(f.name(), v),
                    settle: settle(*f, &settled(f.spec(), v)),
                })
                .collect(),
            both: both(f.spec(), vals).and_then(|v| settle(*f, &v)),
        })
        .collect()
}

/// For a note (a story, notes) two devices wrote differently, both texts one after the other
/// (each once, in the order shown), so that neither device's words are lost by choosing.
fn both(spec: &Spec, vals: &[Value]) -> Option<Value> {
    if spec.ty != Type::Note {
        return None;
    }
    let mut texts: Vec<&str> = Vec::new();
    for v in vals {
        if let Value::Text(t) = v
            && !t.trim().is_empty()
            && !texts.contains(&t.as_str())
        {
            texts.push(t);
        }
    }
    (texts.len() > 1).then(|| Value::Text(texts.join("\n\n")))
}

/// The value that settles a conflict on `v`: a one-line field's value written before lines
/// were refused there (a name with a line break) is written as one line, so that it can still
/// be chosen.
fn settled(spec: &Spec, v: &Value) -> Value {
    match (spec.ty, v) {
        (Type::Text, Value::Text(s)) => Value::Text(groundwork::rules::as_one_line(s)),
        _ => v.clone(),
    }
}

/// A tap on a conflict's button: `request` sent (it settles the field), or why it failed said;
/// from a task that outlives the file's redraw when the settled value syncs in.
fn settling(
    store: crate::ui::worker::StoreHandle,
    nav: Nav,
    request: Option<Request>,
) -> impl FnMut(MouseEvent) + 'static {
    move |_| {
        let store = store.clone();
        let request = request.clone();
        spawn_forever(async move {
            if let Some(request) = request
                && let Err(e) = store.run(request).await
            {
                nav.error(e.to_string());
            }
        });
    }
}

/// One field with concurrent values, each with the write that picks it.
#[derive(Debug, Clone)]
struct Conflict {
    /// Unique on the page.
    key: String,
    /// What the field is, in words ("Notes of the doorstep conversation on Tue 3 Mar").
    label: String,
    /// Each value.
    values: Vec<ConflictValue>,
    /// For a note, the request that keeps both texts.
    both: Option<Request>,
}

/// One of a conflict's values.
#[derive(Debug, Clone)]
struct ConflictValue {
    /// As shown.
    shown: String,
    /// The device that wrote it, when known.
    who: Option<String>,
    /// The request that settles the field on it.
    settle: Option<Request>,
}

/// Every conflict in the person file, with a way to settle each field people edit and the
/// device that wrote each value (`writers`).
fn conflicts_of(f: &File, writers: &[ConflictWriter]) -> Vec<Conflict> {
    let p = &f.person;
    let mut out = record_conflicts(
        p,
        ("person", None),
        writers,
        |spec| spec.label.to_string(),
        |field, v| {
            let patch = PersonPatch::new().put(field, v.clone());
            Some(Request::EditPerson(p.id.clone(), patch))
        },
    );
    for c in &f.conversations {
        let whose = format!(
            "{} conversation on {}",
            kind_label(c.kind.as_str()).to_lowercase(),
            show_time(&c.at)
        );
        out.extend(record_conflicts(
            c,
            (&c.id, Some(&c.id)),
            writers,
            |spec| format!("{} of the {whose}", spec.label),
            |field, v| {
                field.spec().edit.then(|| {
                    let patch = ConversationPatch::new().put(field, v.clone());
                    Request::EditConversation {
                        person: c.person_id.clone(),
                        id: c.id.clone(),
                        patch,
                        draft_key: None,
                    }
                })
            },
        ));
    }
    for c in &f.commitments {
        out.extend(record_conflicts(
            c,
            (&c.id, Some(&c.id)),
            writers,
            |spec| format!("{} “{}”", spec.label, c.what),
            |field, v| match (field, v) {
                (CommitmentField::Status, Value::Text(s)) => s
                    .parse::<CommitmentStatus>()
                    .ok()
                    .map(|s| Request::SetCommitment {
                        person: c.person_id.clone(),
                        id: c.id.clone(),
                        status: s,
                    }),
                _ => field.spec().edit.then(|| {
                    let patch = CommitmentPatch::new().put(field, v.clone());
                    Request::EditCommitment {
                        person: c.person_id.clone(),
                        id: c.id.clone(),
                        patch,
                        draft_key: None,
                    }
                }),
            },
        ));
    }
    out
}

/// What a person's screen shows: the file, its Edit form, or its history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FileShows {
    /// The file.
    #[default]
    File,
    /// "Edit details".
    Edit,
    /// "Show history".
    History,
}

/// The person's file.
#[component]
pub fn PersonFile(
    id: String,
    /// On a team lead's device (or in a notebook that has joined no team), the lead's panel:
    /// the file offers to erase the person.
    #[props(default)]
    lead: Option<crate::ui::sync::TeamPanel>,
    /// The notebook has joined no team: erasing is from this notebook alone.
    #[props(default)]
    alone: bool,
    /// The file itself, its Edit form or its history (each a screen of its own, so that
    /// back leaves the form or the history for the file).
    #[props(default)]
    show: FileShows,
) -> Element {
    let services = use_context::<Services>();
    let nav = use_context::<Nav>();
    // Once erased, leave their (now empty) file.
    let erasure = super::use_erasure(lead.as_ref(), move || nav.close(Screen::People));
    let pid = id.clone();
    let file = use_resource(move || {
        let store = services.store.clone();
        let id = pid.clone();
        let _ = (nav.revision)();
        async move { store.person(&id).await }
    });
    // Who wrote each conflicting value, asked only when the file has conflicts.
    let wid = id.clone();
    let writers_store = use_context::<Services>().store;
    let writers = use_resource(move || {
        let store = writers_store.clone();
        let id = wid.clone();
        let any = match &*file.read() {
            Some(Ok(f)) => {
                !f.person.conflicts().is_empty()
                    || f.conversations.iter().any(|c| !c.conflicts().is_empty())
                    || f.commitments.iter().any(|c| !c.conflicts().is_empty())
            }
            _ => false,
        };
        async move {
            if any {
                store.conflict_writers(&id).await
            } else {
                Ok(Vec::new())
            }
        }
    });
    // Unsaved drafts of this person's conversation and details, shown with a way back to them.
    let did = id.clone();
    let draft_store = use_context::<Services>().store;
    let drafts = use_resource(move || {
        let store = draft_store.clone();
        let id = did.clone();
        let _ = (nav.revision)();
        async move {
            let conversation = store.draft(&conversation_key(&id)).await?.is_some();
            let details = store.draft(&edit_key(&id)).await?.is_some();
            let prefix = groundwork::store::drafts::person_draft_prefix(&id);
            let corrections = corrections_waiting(&store.draft_keys(&prefix).await?, &id);
            Ok::<_, crate::ui::worker::UiError>((conversation, details, corrections))
        }
    });
    // The campaigns a commitment can be moved to, with their targets.
    let campaign_store = use_context::<Services>().store;
    let campaigns = use_resource(move || {
        let store = campaign_store.clone();
        let _ = (nav.revision)();
        async move { store.campaign_list().await }
    });
    let campaigns: Vec<CampaignChoice> = match &*campaigns.read() {
        Some(Ok(list)) => list
            .iter()
            .map(|c| CampaignChoice {
                id: c.id.clone(),
                name: c.name.clone(),
                targets: c.targets.keys().cloned().collect(),
            })
            .collect(),
        _ => Vec::new(),
    };
    let services = use_context::<Services>();
    // The conversation being corrected, if any.
    let mut correcting = use_signal(|| None::<String>);
    let file = file.read();
    let f = match &*file {
        None => return rsx! { p { class: "empty", "Loading…" } },
        Some(Err(e)) => return rsx! { super::LoadFailed { error: e.clone() } },
        Some(Ok(f)) => f.clone(),
    };
    // Closing the form or the history shows the file in their place.
    let back_to_file = {
        let id = id.clone();
        move |_| nav.close(Screen::Person(id.clone()))
    };
    match show {
        FileShows::Edit => {
            return rsx! {
                EditPerson { person: f.person.clone(), onclose: back_to_file }
            };
        }
        FileShows::History => {
            return rsx! {
                History {
                    person_id: id.clone(),
                    name: f.person.name.clone(),
                    onclose: back_to_file,
                }
            };
        }
        FileShows::File => {}
    }
    let p = &f.person;
    // Every declared detail with a value, in declaration order (the name is the heading;
    // tags, consent and do-not-contact have lines of their own below).
    let details: Vec<(&str, String)> = PersonField::ALL
        .iter()
        .filter(|f| {
            let spec = f.spec();
            spec.edit
                && !matches!(**f, PersonField::Name | PersonField::Tags)
                && !matches!(spec.ty, Type::Consent | Type::Flag)
        })
        .map(|f| (f.spec().label, p.value(*f).to_text()))
        .filter(|(_, v)| !v.is_empty())
        .collect();
    let writers_now = match &*writers.read() {
        Some(Ok(w)) => w.clone(),
        _ => Vec::new(),
    };
    let conflicts = conflicts_of(&f, &writers_now);
    let (open, past): (Vec<Commitment>, Vec<Commitment>) = f
        .commitments
        .iter()
        .cloned()
        .partition(|c| c.status == CommitmentStatus::Open);
    let consent: Vec<String> = p.consent.keys().cloned().collect();
    let rid = id.clone();
    let cid = id.clone();
    let (conversation_draft, details_draft, corrections) = drafts
        .read()
        .as_ref()
        .and_then(|r| r.as_ref().ok().cloned())
        .unwrap_or_default();
    // Corrections drafted for records the file no longer holds (an earlier version restored).
    let mut lost: Vec<String> = corrections
        .iter()
        .filter(|r| {
            !f.conversations.iter().any(|c| &c.id == *r)
                && !f.commitments.iter().any(|c| &c.id == *r)
        })
        .cloned()
        .collect();
    lost.sort();
    let lost_person = id.clone();

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
            if conversation_draft {
                p { class: "card draft-waiting", id: "conversation-draft",
                    "Unsaved conversation draft. "
                    button {
                        r#type: "button",
                        class: "linkish",
                        id: "continue-conversation",
                        onclick: move |_| nav.go(Screen::Record(cid.clone())),
                        "Continue it"
                    }
                }
            }
            if details_draft {
                p { class: "card draft-waiting", id: "details-draft",
                    "Unsaved changes to the details. "
                    button {
                        r#type: "button",
                        class: "linkish",
                        id: "continue-edit",
                        onclick: {
                            let id = id.clone();
                            move |_| nav.go(Screen::EditPerson(id.clone()))
                        },
                        "Continue editing"
                    }
                }
            }
            for record in lost {
                LostCorrection { key: "{record}", person_id: lost_person.clone(), record_id: record.clone() }
            }
            if !conflicts.is_empty() {
                section { class: "conflicts", "aria-labelledby": "conflicts-title",
                    h3 { id: "conflicts-title", "Two devices disagree" }
                    for conflict in conflicts {
                        div { class: "conflict card", key: "{conflict.key}",
                            p { class: "conflict-label", "{conflict.label}: pick the right one" }
                            div { class: "conflict-values",
                                for (i, ConflictValue { shown: v, who, settle: request }) in conflict.values.into_iter().enumerate() {
                                    div { class: "conflict-value", key: "{i}",
                                        p { class: "as-typed", "{v}" }
                                        if let Some(who) = who {
                                            p { class: "muted conflict-who", "from {who}" }
                                        }
                                        button {
                                            r#type: "button",
                                            class: "secondary",
                                            disabled: request.is_none(),
                                            // The visible words first, so a voice command that says them finds the button.
                                            "aria-label": "Use this: “{v}” for {conflict.label}",
                                            onclick: settling(services.store.clone(), nav, request),
                                            "Use this"
                                        }
                                    }
                                }
                            }
                            if conflict.both.is_some() {
                                button {
                                    r#type: "button",
                                    class: "secondary keep-both",
                                    "aria-label": "Keep both, one after the other, for {conflict.label}",
                                    onclick: settling(services.store.clone(), nav, conflict.both.clone()),
                                    "Keep both"
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
                        div { key: "{k}", dt { "{k}" } dd { class: "as-typed", "{v}" } }
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
                button {
                    r#type: "button",
                    class: "secondary",
                    id: "edit-person",
                    onclick: {
                        let id = id.clone();
                        move |_| nav.go(Screen::EditPerson(id.clone()))
                    },
                    "Edit details"
                }
            }
            section { "aria-labelledby": "open-title",
                h3 { id: "open-title", "Open commitments" }
                if open.is_empty() {
                    p { class: "muted", "None." }
                }
                ul { class: "list",
                    for c in open {
                        CommitmentRow { key: "{c.id}", correction_waiting: corrections.contains(&c.id), commitment: c, who: None, campaigns: Some(campaigns.clone()) }
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
                        if correcting().as_deref() == Some(c.id.as_str()) {
                            li { key: "{c.id}",
                                EditConversation {
                                    conversation: c.clone(),
                                    onclose: move |_| correcting.set(None),
                                }
                            }
                        } else {
                        li { class: "card conversation", key: "{c.id}",
                            p { class: "conv-head",
                                strong { "{kind_label(c.kind.as_str())}" }
                                " · {show_time(&c.at)} · {groundwork::store::show_canvasser(&c.canvasser)}"
                            }
                            if !c.issues.is_empty() {
                                p { class: "issues", "Issues: {c.issues.join(\", \")}" }
                            }
                            if let Some(s) = &c.story {
                                p { class: "story as-typed", "{s}" }
                            }
                            if let Some(n) = &c.notes {
                                p { class: "notes as-typed", "{n}" }
                            }
                            p { class: "muted",
                                if let Some(e) = c.engagement { "Engagement {e.get()} of 5. " }
                                if let Some(d) = c.follow_up { "Follow up {show_date(d)}." }
                            }
                            button {
                                r#type: "button",
                                class: "linkish",
                                "data-correct": "{c.id}",
                                "aria-label": "Correct the {kind_label(c.kind.as_str()).to_lowercase()} conversation of {show_time(&c.at)}",
                                onclick: {
                                    let id = c.id.clone();
                                    move |_| correcting.set(Some(id.clone()))
                                },
                                if corrections.contains(&c.id) { "Correct (unsaved correction waiting)" } else { "Correct" }
                            }
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
                            CommitmentRow { key: "{c.id}", correction_waiting: corrections.contains(&c.id), commitment: c, who: None, campaigns: Some(campaigns.clone()) }
                        }
                    }
                }
            }
            section { "aria-labelledby": "file-history-title",
                h3 { id: "file-history-title", "History" }
                p { class: "muted", "Every change to this file, which device made it, and a way to undo it." }
                button {
                    r#type: "button",
                    class: "secondary",
                    id: "show-history",
                    onclick: {
                        let id = id.clone();
                        move |_| nav.go(Screen::History(id.clone()))
                    },
                    "Show history"
                }
            }
            if let Some(panel) = lead {
                super::EraseSection {
                    what: super::Erasable::Person,
                    alone,
                    id: id.clone(),
                    name: p.name.clone(),
                    panel,
                    asked: erasure,
                }
            }
        }
    }
}

/// A commitment with one-tap "Kept" and "Broken" while it is open. Given `campaigns` (on the
/// person's file), it can also be corrected (words, date, campaign, target), called off while
/// open, and put back to open once marked (a mis-tapped Kept or Broken).
#[component]
pub fn CommitmentRow(
    commitment: Commitment,
    who: Option<(String, String)>,
    #[props(default)] campaigns: Option<Vec<CampaignChoice>>,
    /// A correction of it was drafted and not saved.
    #[props(default)]
    correction_waiting: bool,
) -> Element {
    let services = use_context::<Services>();
    let nav = use_context::<Nav>();
    let mut correcting = use_signal(|| false);
    let c = commitment;
    if correcting()
        && let Some(campaigns) = campaigns.clone()
    {
        return rsx! {
            li { "data-id": "{c.id}",
                EditCommitment { commitment: c.clone(), campaigns, onclose: move |_| correcting.set(false) }
            }
        };
    }
    let overdue = c.status == CommitmentStatus::Open && c.due.is_some_and(|d| d < today());
    // The row disappears when the change arrives, maybe before the reply: the task must
    // outlive it, so it belongs to the root scope.
    let person = c.person_id.clone();
    // What it was before, for "Undo", and its words, so that a mis-tap on a list whose row
    // goes away is seen and undone at once.
    let (was, what) = (c.status, c.what.clone());
    let mark = use_callback(move |(id, status): (String, CommitmentStatus)| {
        let store = services.store.clone();
        let person = person.clone();
        let what = what.clone();
        spawn_forever(async move {
            let undo = Request::SetCommitment {
                person: person.clone(),
                id: id.clone(),
                status: was,
            };
            match store
                .run(Request::SetCommitment { person, id, status })
                .await
            {
                Ok(()) => nav.say_undoable(format!("Marked {status}: {what}."), undo),
                Err(e) => nav.error(e.to_string()),
            }
        });
    });
    let (id1, id2, id3, id4) = (c.id.clone(), c.id.clone(), c.id.clone(), c.id.clone());
    let correctable = campaigns.is_some();
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
                if let Some(t) = &c.target { " · counts towards “{t}”" }
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
                    if correctable {
                        button {
                            r#type: "button",
                            class: "linkish",
                            "aria-label": "Call off: {c.what}",
                            onclick: move |_| mark((id3.clone(), CommitmentStatus::Cancelled)),
                            "Call off"
                        }
                    }
                }
            } else if correctable {
                div { class: "commitment-actions",
                    button {
                        r#type: "button",
                        class: "secondary",
                        "aria-label": "Back to open: {c.what}",
                        onclick: move |_| mark((id4.clone(), CommitmentStatus::Open)),
                        "Back to open"
                    }
                }
            }
            if correctable {
                button {
                    r#type: "button",
                    class: "linkish",
                    "aria-label": "Correct: {c.what}",
                    onclick: move |_| correcting.set(true),
                    if correction_waiting { "Correct (unsaved correction waiting)" } else { "Correct" }
                }
            }
        }
    }
}
