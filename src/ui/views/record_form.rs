//! Forms generated from a record kind's declaration (see `groundwork::fields`): what a form
//! holds ([`FormValues`], field name → value, also the body of a draft), the patch it makes,
//! and [`RecordFields`], which lays out one input per editable field in declaration order:
//! text boxes, text areas for notes and stories, a date box (emptied, the date is cleared),
//! a date-and-time box for when something happened, chips for a choice or a level, chips for
//! consent, a list with an entry box for each set (tags, languages, issues), a check box for
//! flags. The person's details, a conversation and a commitment are all edited through it.

use std::collections::BTreeMap;

use chrono::{Local, NaiveDateTime, TimeZone, Utc};
use dioxus::prelude::*;
use groundwork::fields::{FieldName, Patch, Record, Spec, Type, Value};
use groundwork::model::ConsentChannel;
use serde::{Deserialize, Serialize};

use super::{LADDER, kind_label};
use crate::ui::components::{Chip, Chips, ConsentChips, TextField, toggle_consent};

/// One field's value in a form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FormValue {
    /// A check box.
    Flag(bool),
    /// A text box, as typed (times as the local `YYYY-MM-DDTHH:MM` of a date-and-time box).
    Text(String),
    /// Set members or consent channels, in the order shown.
    List(Vec<String>),
}

fn is_blank(v: &FormValue) -> bool {
    match v {
        FormValue::Flag(b) => !b,
        FormValue::Text(s) => s.is_empty(),
        FormValue::List(l) => l.is_empty(),
    }
}

/// What a form holds: field name → value, with empty values left out (so two forms are equal
/// when they say the same).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(
    from = "BTreeMap<String, FormValue>",
    into = "BTreeMap<String, FormValue>"
)]
pub struct FormValues(BTreeMap<String, FormValue>);

impl From<BTreeMap<String, FormValue>> for FormValues {
    fn from(raw: BTreeMap<String, FormValue>) -> Self {
        let mut f = FormValues::default();
        for (k, v) in raw {
            f.set(&k, v);
        }
        f
    }
}

impl From<FormValues> for BTreeMap<String, FormValue> {
    fn from(f: FormValues) -> Self {
        f.0
    }
}

/// A stored time as a date-and-time box shows it (local time, to the minute).
pub fn local_input(t: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(t)
        .map(|t| t.with_timezone(&Local).format("%Y-%m-%dT%H:%M").to_string())
        .unwrap_or_default()
}

/// What a date-and-time box holds as the RFC 3339 time the store takes (its text unchanged
/// when it is not a local date and time: the store then says what is wrong).
pub fn from_local_input(s: &str) -> String {
    NaiveDateTime::parse_from_str(s.trim(), "%Y-%m-%dT%H:%M")
        .ok()
        .and_then(|n| Local.from_local_datetime(&n).earliest())
        .map(|t| groundwork::model::format_time(t.with_timezone(&Utc)))
        .unwrap_or_else(|| s.to_string())
}

impl FormValues {
    /// The form filled in from `r`'s editable fields.
    pub fn of<R: Record>(r: &R) -> FormValues {
        let mut f = FormValues::default();
        for field in editable::<R::Field>() {
            let spec = field.spec();
            let v = match r.value(field) {
                Value::Text(s) if spec.ty == Type::Time => FormValue::Text(local_input(&s)),
                Value::Text(s) => FormValue::Text(s),
                Value::Set(v) => FormValue::List(v),
                Value::Map(m) => FormValue::List(
                    ConsentChannel::NAMES
                        .iter()
                        .filter(|c| m.contains_key(**c))
                        .map(|c| c.to_string())
                        .collect(),
                ),
                Value::Flag(b) => FormValue::Flag(b),
                Value::Number(n) => FormValue::Text(n.to_string()),
                Value::Counts(m) => FormValue::List(m.into_keys().collect()),
                Value::Empty => continue,
            };
            f.set(spec.name, v);
        }
        f
    }

    /// Set field `name`'s value (an empty one is left out).
    pub fn set(&mut self, name: &str, v: FormValue) {
        if is_blank(&v) {
            self.0.remove(name);
        } else {
            self.0.insert(name.to_string(), v);
        }
    }

    /// The text of field `name` (empty when none).
    pub fn text(&self, name: &str) -> String {
        match self.0.get(name) {
            Some(FormValue::Text(s)) => s.clone(),
            _ => String::new(),
        }
    }

    /// The members of field `name` (none when empty).
    pub fn list(&self, name: &str) -> Vec<String> {
        match self.0.get(name) {
            Some(FormValue::List(l)) => l.clone(),
            _ => Vec::new(),
        }
    }

    /// Whether field `name`'s box is ticked.
    pub fn flag(&self, name: &str) -> bool {
        matches!(self.0.get(name), Some(FormValue::Flag(true)))
    }

    /// Add `member` to set `name` (once).
    pub fn add_member(&mut self, name: &str, member: String) {
        let mut l = self.list(name);
        if !l.contains(&member) {
            l.push(member);
        }
        self.set(name, FormValue::List(l));
    }

    /// Take `member` out of set `name`.
    pub fn remove_member(&mut self, name: &str, member: &str) {
        let mut l = self.list(name);
        l.retain(|m| m != member);
        self.set(name, FormValue::List(l));
    }

    /// The patch that turns `before` into this form: only the fields that changed.
    pub fn patch_from<F: FieldName>(&self, before: &FormValues) -> Patch<F> {
        let mut p = Patch::new();
        for field in editable::<F>() {
            let name = field.name();
            match field.spec().ty {
                Type::Set | Type::Consent => {
                    let (now, was) = (self.list(name), before.list(name));
                    let added: Vec<String> =
                        now.iter().filter(|m| !was.contains(m)).cloned().collect();
                    let gone: Vec<String> =
                        was.iter().filter(|m| !now.contains(m)).cloned().collect();
                    p = p.add(field, added).remove(field, gone);
                }
                Type::Flag => {
                    if self.flag(name) != before.flag(name) {
                        p = p.put(field, self.flag(name));
                    }
                }
                ty => {
                    let (now, was) = (self.text(name), before.text(name));
                    if now.trim() != was.trim() {
                        let now = if ty == Type::Time && !now.trim().is_empty() {
                            from_local_input(&now)
                        } else {
                            now
                        };
                        p = p.put(field, now);
                    }
                }
            }
        }
        p
    }

    /// The form with every set entry typed but not added yet, added (what the user meant).
    pub fn with_entries<F: FieldName>(&self, entries: &BTreeMap<String, String>) -> FormValues {
        let mut f = self.clone();
        for field in editable::<F>().filter(|f| f.spec().ty == Type::Set) {
            let spec = field.spec();
            let flag = spec.flag.unwrap_or(spec.name);
            if let Some(m) = entries
                .get(flag)
                .and_then(|t| groundwork::model::normalise_tag(t))
            {
                f.add_member(spec.name, m);
            }
        }
        f
    }
}

/// The editable fields of a record kind, in declaration order.
pub fn editable<F: FieldName>() -> impl Iterator<Item = F> {
    F::ALL.iter().copied().filter(|f| f.spec().edit)
}

/// The declarations of the editable fields of a record kind, for [`RecordFields`].
pub fn editable_specs<F: FieldName>() -> Vec<&'static Spec> {
    editable::<F>().map(|f| f.spec()).collect()
}

/// "a" or "an" before `word` (by its first letter: "an issue", "a tag").
fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

/// The input type of a text field.
fn input_kind(ty: Type) -> &'static str {
    match ty {
        Type::Phone => "tel",
        Type::Email => "email",
        Type::Date => "date",
        Type::Time => "datetime-local",
        _ => "text",
    }
}

/// The chips of a choice or a level, with the words shown on each.
fn chips_of(spec: &Spec) -> Vec<Chip> {
    match spec.ty {
        Type::Choice(names) => names
            .iter()
            .map(|n| Chip {
                value: n.to_string(),
                text: if spec.name == "kind" {
                    kind_label(n).to_string()
                } else {
                    n.to_string()
                },
            })
            .collect(),
        _ => LADDER
            .iter()
            .map(|(n, text)| Chip {
                value: n.to_string(),
                text: text.to_string(),
            })
            .collect(),
    }
}

/// One input per field in `fields` (editable declarations, see [`editable_specs`]). `prefix`
/// starts each box's id (`edit-phone`, `conv-notes`); a set's entry box is
/// `{prefix}-{flag}-entry` with an `{prefix}-add-{flag}` button. `start` fills the
/// boxes once; every change goes to `form` and then `onchange`. What is typed in a set's entry
/// box but not added yet is in `entries` (flag → text).
#[component]
pub fn RecordFields(
    prefix: String,
    fields: Vec<&'static Spec>,
    start: FormValues,
    form: Signal<FormValues>,
    entries: Signal<BTreeMap<String, String>>,
    start_entries: BTreeMap<String, String>,
    onchange: Callback<()>,
) -> Element {
    // A new number per set is a new, empty entry box (see `TextField`).
    let mut fresh = use_signal(BTreeMap::<&'static str, u32>::new);
    let mut edit = move |f: &dyn Fn(&mut FormValues)| {
        f(&mut form.write());
        onchange.call(());
    };
    let mut add_member = move |spec: &'static Spec| {
        let flag = spec.flag.unwrap_or(spec.name);
        let typed = entries.read().get(flag).cloned().unwrap_or_default();
        if let Some(m) = groundwork::model::normalise_tag(&typed) {
            form.write().add_member(spec.name, m);
        }
        entries.write().remove(flag);
        *fresh.write().entry(flag).or_default() += 1;
        onchange.call(());
    };
    let current = form();
    rsx! {
        for spec in fields {
            {
                let name = spec.name;
                let flag = spec.flag.unwrap_or(spec.name);
                let id = format!("{prefix}-{flag}");
                match spec.ty {
                    Type::Consent => {
                        let selected: Vec<ConsentChannel> = current
                            .list(name)
                            .iter()
                            .filter_map(|c| c.parse().ok())
                            .collect();
                        rsx! {
                            ConsentChips {
                                key: "{name}",
                                selected,
                                ontoggle: move |c| edit(&|f| {
                                    let mut l: Vec<ConsentChannel> = f
                                        .list(name)
                                        .iter()
                                        .filter_map(|c| c.parse().ok())
                                        .collect();
                                    toggle_consent(&mut l, c);
                                    f.set(name, FormValue::List(l.iter().map(|c| c.as_str().to_string()).collect()));
                                }),
                            }
                        }
                    }
                    Type::Flag => rsx! {
                        label { key: "{name}", class: "check", r#for: "{id}",
                            input {
                                id: "{id}",
                                r#type: "checkbox",
                                checked: current.flag(name),
                                onchange: move |e| edit(&|f| f.set(name, FormValue::Flag(e.checked()))),
                            }
                            span { "{spec.label}" }
                        }
                    },
                    Type::Choice(_) | Type::Number => {
                        let selected = current.text(name);
                        rsx! {
                            div { key: "{name}", id: "{id}",
                                Chips {
                                    label: "{spec.label}",
                                    chips: chips_of(spec),
                                    selected: vec![selected.clone()],
                                    ontoggle: move |v: String| edit(&|f| {
                                        // Tapping the chosen level again takes it back; a
                                        // choice that must be made stays made.
                                        let off = f.text(name) == v && !spec.required;
                                        f.set(name, FormValue::Text(if off { String::new() } else { v.clone() }));
                                    }),
                                }
                            }
                        }
                    }
                    Type::Set => {
                        let members = current.list(name);
                        let n = fresh.read().get(flag).copied().unwrap_or(0);
                        let initial = if n == 0 {
                            start_entries.get(flag).cloned().unwrap_or_default()
                        } else {
                            String::new()
                        };
                        rsx! {
                            fieldset { key: "{name}", class: "tags-entry",
                                legend { "{spec.label}" }
                                if members.is_empty() {
                                    p { class: "muted", "None yet." }
                                } else {
                                    ul { class: "list added",
                                        for m in members {
                                            li { key: "{m}", class: "added-item",
                                                span { "{m}" }
                                                button {
                                                    r#type: "button",
                                                    class: "secondary",
                                                    "aria-label": "Remove {flag}: {m}",
                                                    onclick: {
                                                        let m = m.clone();
                                                        move |_| edit(&|f| f.remove_member(name, &m))
                                                    },
                                                    "Remove"
                                                }
                                            }
                                        }
                                    }
                                }
                                div { class: "entry-row",
                                    for k in [n] {
                                        TextField {
                                            key: "{k}",
                                            id: "{prefix}-{flag}-entry",
                                            label: "Add {article(flag)} {flag}",
                                            initial: initial.clone(),
                                            oninput: move |v: String| {
                                                entries.write().insert(flag.to_string(), v);
                                                onchange.call(());
                                            },
                                            onenter: move |_| add_member(spec),
                                        }
                                    }
                                    button {
                                        r#type: "button",
                                        class: "secondary",
                                        id: "{prefix}-add-{flag}",
                                        onclick: move |_| add_member(spec),
                                        "Add {flag}"
                                    }
                                }
                            }
                        }
                    }
                    ty => {
                        let hint = match ty {
                            Type::Date if !spec.required => Some("Empty it to clear the date.".to_string()),
                            _ => None,
                        };
                        rsx! {
                            TextField {
                                key: "{name}",
                                id,
                                label: "{spec.label}",
                                kind: input_kind(ty),
                                multiline: ty == Type::Note,
                                hint,
                                initial: start.text(name),
                                oninput: move |v: String| edit(&|f| f.set(name, FormValue::Text(v.clone()))),
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use groundwork::fields::Change;
    use groundwork::model::{Conversation, ConversationField};

    fn conversation() -> Conversation {
        let mut c = Conversation::blank();
        c.id = "0192f0c4-7b1e-7c3a-9d2e-3f4a5b6c7d8e".into();
        c.at = "2026-03-14T07:15:00.000Z".into();
        c.canvasser = "Sam".into();
        c.follow_up = groundwork::model::parse_date("2026-03-16").ok();
        c.engagement = groundwork::model::Engagement::try_from(3).ok();
        c.issues = vec!["rent".into()];
        c
    }

    #[test]
    fn a_conversation_form_changes_only_what_was_changed_and_clears_dates() {
        let before = FormValues::of(&conversation());
        assert!(before.patch_from::<ConversationField>(&before).is_empty());
        let mut f = before.clone();
        f.set("follow_up", FormValue::Text(String::new()));
        f.set("engagement", FormValue::Text("5".into()));
        f.add_member("issues", "damp".into());
        let p = f.patch_from::<ConversationField>(&before);
        assert_eq!(
            p.put_of(ConversationField::FollowUp),
            Some(&Value::from(""))
        );
        assert_eq!(
            p.put_of(ConversationField::Engagement),
            Some(&Value::from("5"))
        );
        assert!(
            p.changes
                .contains(&(ConversationField::Issues, Change::Add(vec!["damp".into()])))
        );
        let checked = p.checked().unwrap();
        assert_eq!(
            checked.put_of(ConversationField::FollowUp),
            Some(&Value::Empty)
        );
        assert_eq!(
            checked.put_of(ConversationField::Engagement),
            Some(&Value::Number(5))
        );
    }

    #[test]
    fn when_it_happened_is_edited_in_local_time_and_stored_in_utc() {
        let c = conversation();
        let before = FormValues::of(&c);
        let local = before.text("at");
        assert_eq!(local.len(), 16, "{local}");
        assert_eq!(
            from_local_input(&local),
            c.at,
            "an untouched time goes back unchanged"
        );
        let mut f = before.clone();
        f.set("at", FormValue::Text("2026-03-14T05:00".into()));
        let p = f.patch_from::<ConversationField>(&before);
        let Some(Value::Text(at)) = p.put_of(ConversationField::At) else {
            panic!("no time put: {p:?}");
        };
        let back = chrono::DateTime::parse_from_rfc3339(at).unwrap();
        assert_eq!(
            back.with_timezone(&Local)
                .format("%Y-%m-%dT%H:%M")
                .to_string(),
            "2026-03-14T05:00"
        );
    }
}
