//! A person's history: every change to their file, newest first, with when, which device and
//! what it did in words, and a way to put the file (or one conversation or commitment) back to
//! how it was before any change. A restore asks for confirmation first, then writes the old
//! state as a new change that reaches every device, and shows the file.

use dioxus::dioxus_core::spawn_forever;
use dioxus::prelude::*;
use groundwork::docs::history::Edit;
use groundwork::store::RestoreTarget;

use super::kind_label;
use super::{show_date, show_time};
use crate::ui::worker::{FileChange, Subject};
use crate::ui::{Nav, Services, use_on_screen};

/// A restore the user tapped and has not confirmed yet.
#[derive(Debug, Clone, PartialEq)]
struct Pending {
    /// The change whose effect is undone.
    before: String,
    /// What is put back.
    target: RestoreTarget,
    /// What is put back, in words ("the doorstep conversation of Tue 3 Mar").
    what: String,
}

/// A restore offered on a change: what it puts back, and the button's words.
#[derive(Debug, Clone, PartialEq)]
pub struct Offer {
    /// The whole file or one record.
    pub target: RestoreTarget,
    /// The button's words.
    pub label: String,
    /// What is put back, in words.
    pub what: String,
    /// Unique within the change (for keys and tests).
    pub key: String,
}

/// A local calendar day from an RFC 3339 time: "Tue 3 Mar".
fn show_day(t: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(t)
        .map(|t| show_date(t.with_timezone(&chrono::Local).date_naive()))
        .unwrap_or_else(|_| t.to_string())
}

/// A conversation or commitment in words, with the article that fits: `the` or `a` for a
/// conversation ("the doorstep conversation of Tue 3 Mar"), none for a commitment
/// ("commitment “sign the letter”").
fn subject_words(record: &str, subject: Option<&Subject>, definite: bool) -> String {
    let article = if definite { "the" } else { "a" };
    match (record, subject) {
        ("conversation", Some(Subject::Conversation { kind, at })) => format!(
            "{article} {} conversation of {}",
            kind_label(kind).to_lowercase(),
            show_day(at)
        ),
        ("commitment", Some(Subject::Commitment { what })) => format!("commitment “{what}”"),
        (record, _) => format!("{article} {record}"),
    }
}

/// A field's name in words.
fn field_words(field: &str) -> String {
    match field {
        "do_not_contact" => "do not contact".to_string(),
        "follow_up" => "follow-up date".to_string(),
        "due" => "due date".to_string(),
        "what" => "words".to_string(),
        "status_at" => "status date".to_string(),
        other => other.trim_end_matches("_id").replace('_', " "),
    }
}

/// What one edit did, in words: "deleted the doorstep conversation of Tue 3 Mar", "set phone",
/// "added commitment “sign the letter”".
pub fn edit_words(edit: &Edit, subject: Option<&Subject>) -> String {
    let field = edit.field.as_deref();
    match (edit.record.as_str(), edit.action.as_str(), field) {
        ("document", "added", _) => "created the file".to_string(),
        ("document", "deleted", Some("conversations")) => "deleted every conversation".to_string(),
        ("document", "deleted", Some("commitments")) => "deleted every commitment".to_string(),
        ("document", "deleted", Some("person")) => "deleted the person's details".to_string(),
        ("document", "set", Some(list @ ("conversations" | "commitments"))) => {
            format!("replaced every {}", &list[..list.len() - 1])
        }
        ("document", "set", Some("person")) => "replaced the person's details".to_string(),
        ("document", action, Some(f)) => format!("{action} the file's {}", field_words(f)),
        ("person", action, Some(f)) => format!("{action} {}", field_words(f)),
        (record @ ("conversation" | "commitment"), action, field) => {
            let definite = action != "added";
            let what = subject_words(record, subject, definite);
            match (action, field) {
                ("added" | "deleted", _) => format!("{action} {what}"),
                (action, Some(f)) => format!("{action} {} of {what}", field_words(f)),
                (_, None) => format!("changed {what}"),
            }
        }
        (record, action, _) => format!("{action} {record}"),
    }
}

/// What a change did, one line per edit, in words; the date of a status change is part of
/// the status change.
pub fn change_words(change: &FileChange) -> Vec<String> {
    let status_set = |id: &Option<String>| {
        change
            .edits
            .iter()
            .any(|(e, _)| &e.id == id && e.field.as_deref() == Some("status"))
    };
    let mut out: Vec<String> = Vec::new();
    for (e, s) in &change.edits {
        if e.field.as_deref() == Some("status_at") && status_set(&e.id) {
            continue;
        }
        let words = edit_words(e, s.as_ref());
        if !out.contains(&words) {
            out.push(words);
        }
    }
    out
}

/// The restores a change offers: the whole file as it was before it (unless it created the
/// file), and each conversation or commitment it deleted or changed.
pub fn offers(change: &FileChange) -> Vec<Offer> {
    let created = change
        .edits
        .iter()
        .any(|(e, _)| e.record == "document" && e.action == "added");
    let mut out = Vec::new();
    if created {
        return out;
    }
    out.push(Offer {
        target: RestoreTarget::File,
        label: "Restore to before this".to_string(),
        what: "the whole file".to_string(),
        key: "file".to_string(),
    });
    let restorable = |e: &Edit| {
        (e.record == "conversation" || e.record == "commitment")
            && e.action != "added"
            && e.id.is_some()
    };
    let mut records: Vec<(&Edit, Option<&Subject>)> = Vec::new();
    for (e, s) in &change.edits {
        if restorable(e) && !records.iter().any(|(r, _)| r.id == e.id) {
            records.push((e, s.as_ref()));
        }
    }
    for (e, s) in &records {
        let Some(id) = e.id.clone() else { continue };
        let what = subject_words(&e.record, *s, true);
        let alone = records.iter().filter(|(r, _)| r.record == e.record).count() == 1;
        let label = match (alone, s) {
            (true, _) => format!("Restore this {}", e.record),
            (false, Some(_)) => format!("Restore {what}"),
            // Unnamed and not alone: the id tells the buttons apart.
            (false, None) => format!("Restore {what} {}…", id.chars().take(8).collect::<String>()),
        };
        let target = if e.record == "conversation" {
            RestoreTarget::Conversation(id.clone())
        } else {
            RestoreTarget::Commitment(id.clone())
        };
        out.push(Offer {
            target,
            label,
            what,
            key: id,
        });
    }
    out
}

/// When a change was made, in words: a device that sets no time on its changes leaves the
/// Unix epoch, which would read as 1 January 1970.
fn when_words(at: &str) -> String {
    if at.is_empty() || at.starts_with("1970-01-01T00:00:00") {
        "Time not recorded".to_string()
    } else {
        show_time(at)
    }
}

/// " on Tue 3 Mar 07:15" for a sentence, or nothing when no time was recorded.
fn on_words(at: &str) -> String {
    match when_words(at) {
        w if w == show_time(at) => format!(" on {w}"),
        _ => String::new(),
    }
}

/// Which device made a change, in words.
fn device_words(c: &FileChange) -> String {
    match &c.device {
        Some(d) => d.clone(),
        None => {
            let short: String = c.actor.chars().take(8).collect();
            format!("an unknown device ({short}…)")
        }
    }
}

/// The history of person `person_id` (named `name`); `onclose` goes back to the file (also
/// after a restore).
#[component]
pub fn History(person_id: String, name: String, onclose: EventHandler<()>) -> Element {
    let services = use_context::<Services>();
    let nav = use_context::<Nav>();
    let pid = person_id.clone();
    let changes = use_resource(move || {
        let store = services.store.clone();
        let id = pid.clone();
        let _ = (nav.revision)();
        async move { store.history(&id).await }
    });
    let mut pending = use_signal(|| None::<Pending>);
    let mut busy = use_signal(|| false);
    let on_screen = use_on_screen();

    let store = use_context::<Services>().store;
    let pid = person_id.clone();
    let confirm = move |_: MouseEvent| {
        let Some(p) = pending() else { return };
        busy.set(true);
        let store = store.clone();
        let pid = pid.clone();
        // The file re-reads when the change arrives, maybe before the reply: the task must
        // outlive this view, so it belongs to the root scope.
        spawn_forever(async move {
            let outcome = store.restore(&pid, &p.before, p.target.clone()).await;
            // The person's file may have been left meanwhile: then there is nothing to close.
            // Closed first: the file's screen takes the history's place, and a new screen
            // starts without a notice.
            if on_screen.still() {
                busy.set(false);
                pending.set(None);
                onclose.call(());
            }
            match outcome {
                Ok(true) => nav.say(format!("Restored {}.", p.what)),
                Ok(false) => nav.say(format!(
                    "Nothing to restore: {} is already as it was.",
                    p.what
                )),
                Err(e) => nav.error(e.to_string()),
            }
        });
    };

    let list = changes.read();
    let body = match &*list {
        None => rsx! { p { class: "empty", "Loading…" } },
        Some(Err(e)) => rsx! { super::LoadFailed { error: e.clone() } },
        Some(Ok(list)) => {
            let list = list.clone();
            rsx! {
                p { class: "muted",
                    "{changes_count(list.len())}, newest first. A restore puts back what was there before a change, as a new change that reaches every device; nothing is deleted."
                }
                ol { class: "list history",
                    for c in list {
                        li { class: "card history-change", key: "{c.change}", "data-change": "{c.change}",
                            p { class: "history-head",
                                strong { "{when_words(&c.at)}" }
                                " · {device_words(&c)}"
                            }
                            ul { class: "history-edits",
                                if c.edits.is_empty() {
                                    li { class: "muted", "changed nothing that the app shows" }
                                }
                                for (i, words) in change_words(&c).into_iter().enumerate() {
                                    li { key: "{i}", "{words}" }
                                }
                            }
                            div { class: "history-actions",
                                for offer in offers(&c) {
                                    button {
                                        key: "{offer.key}",
                                        r#type: "button",
                                        class: "secondary",
                                        "data-restore": "{c.change}/{offer.key}",
                                        // Every change may offer "Restore to before this": a
                                        // screen reader's list of buttons tells them apart.
                                        "aria-label": "{offer.label} (the change of {when_words(&c.at)} by {device_words(&c)})",
                                        disabled: busy(),
                                        onclick: {
                                            let before = c.change.clone();
                                            let offer = offer.clone();
                                            move |_| pending.set(Some(Pending {
                                                before: before.clone(),
                                                target: offer.target.clone(),
                                                what: offer.what.clone(),
                                            }))
                                        },
                                        "{offer.label}"
                                    }
                                }
                            }
                            if let Some(p) = pending().filter(|p| p.before == c.change) {
                                div { class: "confirm-restore", role: "group", "aria-labelledby": "confirm-text",
                                    p { id: "confirm-text",
                                        "Put back {p.what} as it was before this change by {device_words(&c)}{on_words(&c.at)}?"
                                    }
                                    div { class: "edit-actions",
                                        button {
                                            r#type: "button",
                                            class: "primary",
                                            id: "confirm-restore",
                                            disabled: busy(),
                                            // The question appears below the tapped button:
                                            // move focus to its answer, for screen readers.
                                            onmounted: move |e: MountedEvent| async move {
                                                let _ = e.set_focus(true).await;
                                            },
                                            onclick: confirm.clone(),
                                            "Yes, restore"
                                        }
                                        button {
                                            r#type: "button",
                                            class: "secondary",
                                            id: "cancel-restore",
                                            onclick: move |_| pending.set(None),
                                            "Cancel"
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };

    rsx! {
        section { class: "history-view", "aria-labelledby": "history-title",
            h2 { id: "history-title", "History of {name}" }
            button {
                r#type: "button",
                class: "secondary",
                id: "close-history",
                onclick: move |_| onclose.call(()),
                "Back to the file"
            }
            {body}
        }
    }
}

/// "1 change", "12 changes".
fn changes_count(n: usize) -> String {
    groundwork::words::count(n, "change")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edit(record: &str, id: Option<&str>, action: &str, field: Option<&str>) -> Edit {
        Edit {
            record: record.into(),
            id: id.map(Into::into),
            action: action.into(),
            field: field.map(Into::into),
        }
    }

    #[test]
    fn edits_read_as_words() {
        let conv = Subject::Conversation {
            kind: "doorstep".into(),
            at: "2026-03-03T10:00:00Z".into(),
        };
        let sign = Subject::Commitment {
            what: "sign the letter".into(),
        };
        let cases = [
            (
                edit("document", None, "added", None),
                None,
                "created the file",
            ),
            (
                edit("person", None, "set", Some("phone")),
                None,
                "set phone",
            ),
            (
                edit("person", None, "cleared", Some("do_not_contact")),
                None,
                "cleared do not contact",
            ),
            (
                edit("conversation", Some("c"), "deleted", None),
                Some(&conv),
                "deleted the doorstep conversation of Tue 3 Mar",
            ),
            (
                edit("conversation", Some("c"), "added", None),
                Some(&conv),
                "added a doorstep conversation of Tue 3 Mar",
            ),
            (
                edit("commitment", Some("k"), "added", None),
                Some(&sign),
                "added commitment “sign the letter”",
            ),
            (
                edit("commitment", Some("k"), "set", Some("status")),
                Some(&sign),
                "set status of commitment “sign the letter”",
            ),
            (
                edit("conversation", Some("c"), "deleted", None),
                None,
                "deleted the conversation",
            ),
            (
                edit("document", None, "deleted", Some("conversations")),
                None,
                "deleted every conversation",
            ),
        ];
        // The day as shown: "Tue 3 Mar" in 2026, with its year in later years.
        let day = show_day("2026-03-03T10:00:00Z");
        assert!(day.starts_with("Tue 3 Mar"), "{day}");
        for (e, s, words) in cases {
            assert_eq!(edit_words(&e, s), words.replace("Tue 3 Mar", &day));
        }
    }

    #[test]
    fn restores_are_offered_for_what_a_change_removed_or_changed() {
        let change = |edits: Vec<Edit>| FileChange {
            change: "h".into(),
            at: String::new(),
            device: None,
            actor: "abcdef0123".into(),
            edits: edits.into_iter().map(|e| (e, None)).collect(),
        };
        let first = change(vec![edit("document", None, "added", None)]);
        assert!(offers(&first).is_empty(), "nothing was there before");
        let wipe = change(vec![
            edit("conversation", Some("c1"), "deleted", None),
            edit("conversation", Some("c2"), "deleted", None),
            edit("commitment", Some("k1"), "set", Some("what")),
            edit("commitment", Some("k2"), "added", None),
        ]);
        let labels: Vec<String> = offers(&wipe).into_iter().map(|o| o.label).collect();
        assert_eq!(
            labels,
            [
                "Restore to before this",
                "Restore the conversation c1…",
                "Restore the conversation c2…",
                "Restore this commitment",
            ]
        );
        assert_eq!(device_words(&wipe), "an unknown device (abcdef01…)");
        let kept = change(vec![
            edit("commitment", Some("k1"), "set", Some("status")),
            edit("commitment", Some("k1"), "set", Some("status_at")),
            edit("commitment", Some("k2"), "set", Some("status_at")),
        ]);
        assert_eq!(
            change_words(&kept),
            [
                "set status of the commitment",
                "set status date of the commitment"
            ]
        );
        assert_eq!(when_words("1970-01-01T00:00:00.000Z"), "Time not recorded");
    }
}
