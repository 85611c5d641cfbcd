//! The person form, generated from the declaration of a person's fields (see
//! `groundwork::fields`): what the form holds ([`PersonForm`], also the body of its draft),
//! the patch it makes, and [`PersonFields`], which lays out one input per editable field in
//! declaration order — text boxes, a text area for notes, chips for consent, a list with an
//! entry box for each set (tags, languages), a check box for flags. Add person and Edit
//! details both use it, so a field declared once appears in both.

use std::collections::BTreeMap;

use dioxus::prelude::*;
use groundwork::fields::{FieldName, Record, Type, Value};
use groundwork::model::{ConsentChannel, NewPerson, Person, PersonField, PersonPatch};
use serde::{Deserialize, Serialize};

use crate::ui::components::{ConsentChips, TextField, toggle_consent};

/// One field's value in the form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FormValue {
    /// A check box.
    Flag(bool),
    /// A text box, as typed.
    Text(String),
    /// Set members or consent channels, in the order shown.
    List(Vec<String>),
}

/// What the form holds: field name → value, with empty values left out (so two forms are
/// equal when they say the same). Drafts written by earlier versions, with one key per field,
/// read back as the same form.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(
    from = "BTreeMap<String, FormValue>",
    into = "BTreeMap<String, FormValue>"
)]
pub struct PersonForm(BTreeMap<&'static str, FormValue>);

impl From<BTreeMap<String, FormValue>> for PersonForm {
    fn from(raw: BTreeMap<String, FormValue>) -> Self {
        let mut f = PersonForm::default();
        for (k, v) in raw {
            if let Some(field) = PersonField::named(&k) {
                f.set(field, v);
            }
        }
        f
    }
}

impl From<PersonForm> for BTreeMap<String, FormValue> {
    fn from(f: PersonForm) -> Self {
        f.0.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }
}

fn is_blank(v: &FormValue) -> bool {
    match v {
        FormValue::Flag(b) => !b,
        FormValue::Text(s) => s.is_empty(),
        FormValue::List(l) => l.is_empty(),
    }
}

impl PersonForm {
    /// The form filled in from `p`.
    pub fn of(p: &Person) -> PersonForm {
        let mut f = PersonForm::default();
        for field in editable() {
            let v = match p.value(field) {
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
                Value::Empty => continue,
            };
            f.set(field, v);
        }
        f
    }

    /// Set `field`'s value (an empty one is left out).
    pub fn set(&mut self, field: PersonField, v: FormValue) {
        if is_blank(&v) {
            self.0.remove(field.name());
        } else {
            self.0.insert(field.name(), v);
        }
    }

    /// The text of `field` (empty when none).
    pub fn text(&self, field: PersonField) -> String {
        match self.0.get(field.name()) {
            Some(FormValue::Text(s)) => s.clone(),
            _ => String::new(),
        }
    }

    /// The members of `field` (none when empty).
    pub fn list(&self, field: PersonField) -> Vec<String> {
        match self.0.get(field.name()) {
            Some(FormValue::List(l)) => l.clone(),
            _ => Vec::new(),
        }
    }

    /// Whether `field`'s box is ticked.
    pub fn flag(&self, field: PersonField) -> bool {
        matches!(self.0.get(field.name()), Some(FormValue::Flag(true)))
    }

    /// Add `member` to set `field` (once).
    pub fn add_member(&mut self, field: PersonField, member: String) {
        let mut l = self.list(field);
        if !l.contains(&member) {
            l.push(member);
        }
        self.set(field, FormValue::List(l));
    }

    /// Take `member` out of set `field`.
    pub fn remove_member(&mut self, field: PersonField, member: &str) {
        let mut l = self.list(field);
        l.retain(|m| m != member);
        self.set(field, FormValue::List(l));
    }

    /// The patch that turns `before` into this form: only the fields that changed.
    pub fn patch_from(&self, before: &PersonForm) -> PersonPatch {
        let mut p = PersonPatch::new();
        for field in editable() {
            match field.spec().ty {
                Type::Set | Type::Consent => {
                    let (now, was) = (self.list(field), before.list(field));
                    let added: Vec<String> =
                        now.iter().filter(|m| !was.contains(m)).cloned().collect();
                    let gone: Vec<String> =
                        was.iter().filter(|m| !now.contains(m)).cloned().collect();
                    p = p.add(field, added).remove(field, gone);
                }
                Type::Flag => {
                    if self.flag(field) != before.flag(field) {
                        p = p.put(field, self.flag(field));
                    }
                }
                _ => {
                    let (now, was) = (self.text(field), before.text(field));
                    if now.trim() != was.trim() {
                        p = p.put(field, now);
                    }
                }
            }
        }
        p
    }

    /// The new person this form describes: blank fields are left out.
    pub fn new_person(&self) -> NewPerson {
        self.patch_from(&PersonForm::default())
    }
}

/// The fields a person's form shows, in declaration order.
pub fn editable() -> impl Iterator<Item = PersonField> {
    PersonField::ALL.iter().copied().filter(|f| f.spec().edit)
}

/// The input type of a text field.
fn input_kind(ty: Type) -> &'static str {
    match ty {
        Type::Phone => "tel",
        Type::Email => "email",
        Type::Date => "date",
        _ => "text",
    }
}

/// One input per editable field of a person, from the declaration. `prefix` starts each
/// text box's id (`person-phone`, `edit-phone`); a set's entry box is `{flag}-entry` with an
/// `add-{flag}` button (`tag-entry`, `add-tag`, `language-entry`, `add-language`).
/// `start` fills the boxes once; every change goes to `form` and then `onchange`. What is
/// typed in a set's entry box but not added yet is in `entries` (flag → text).
#[component]
pub fn PersonFields(
    prefix: String,
    start: PersonForm,
    form: Signal<PersonForm>,
    entries: Signal<BTreeMap<String, String>>,
    start_entries: BTreeMap<String, String>,
    onchange: Callback<()>,
) -> Element {
    // A new number per set is a new, empty entry box (see `TextField`).
    let mut fresh = use_signal(BTreeMap::<&'static str, u32>::new);
    let mut edit = move |f: &dyn Fn(&mut PersonForm)| {
        f(&mut form.write());
        onchange.call(());
    };
    let mut add_member = move |field: PersonField| {
        let flag = field.spec().flag.unwrap_or(field.name());
        let typed = entries.read().get(flag).cloned().unwrap_or_default();
        if let Some(m) = groundwork::model::normalise_tag(&typed) {
            form.write().add_member(field, m);
        }
        entries.write().remove(flag);
        *fresh.write().entry(flag).or_default() += 1;
        onchange.call(());
    };
    let current = form();
    rsx! {
        for field in editable() {
            {
                let spec = field.spec();
                let flag = spec.flag.unwrap_or(spec.name);
                match spec.ty {
                    Type::Consent => {
                        let selected: Vec<ConsentChannel> = current
                            .list(field)
                            .iter()
                            .filter_map(|c| c.parse().ok())
                            .collect();
                        rsx! {
                            ConsentChips {
                                key: "{spec.name}",
                                selected,
                                ontoggle: move |c| edit(&|f| {
                                    let mut l: Vec<ConsentChannel> = f
                                        .list(field)
                                        .iter()
                                        .filter_map(|c| c.parse().ok())
                                        .collect();
                                    toggle_consent(&mut l, c);
                                    f.set(field, FormValue::List(l.iter().map(|c| c.as_str().to_string()).collect()));
                                }),
                            }
                        }
                    }
                    Type::Flag => {
                        let id = format!("{prefix}-{flag}");
                        rsx! {
                            label { key: "{spec.name}", class: "check", r#for: "{id}",
                                input {
                                    id: "{id}",
                                    r#type: "checkbox",
                                    checked: current.flag(field),
                                    onchange: move |e| edit(&|f| f.set(field, FormValue::Flag(e.checked()))),
                                }
                                span { "{spec.label}" }
                            }
                        }
                    }
                    Type::Set => {
                        let members = current.list(field);
                        let n = fresh.read().get(flag).copied().unwrap_or(0);
                        let initial = if n == 0 {
                            start_entries.get(flag).cloned().unwrap_or_default()
                        } else {
                            String::new()
                        };
                        rsx! {
                            fieldset { key: "{spec.name}", class: "tags-entry",
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
                                                        move |_| edit(&|f| f.remove_member(field, &m))
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
                                            id: "{flag}-entry",
                                            label: "Add a {flag}",
                                            initial: initial.clone(),
                                            oninput: move |v: String| {
                                                entries.write().insert(flag.to_string(), v);
                                                onchange.call(());
                                            },
                                            onenter: move |_| add_member(field),
                                        }
                                    }
                                    button {
                                        r#type: "button",
                                        class: "secondary",
                                        id: "add-{flag}",
                                        onclick: move |_| add_member(field),
                                        "Add {flag}"
                                    }
                                }
                            }
                        }
                    }
                    ty => {
                        let id = format!("{prefix}-{flag}");
                        rsx! {
                            TextField {
                                key: "{spec.name}",
                                id,
                                label: "{spec.label}",
                                kind: input_kind(ty),
                                multiline: ty == Type::Note,
                                initial: start.text(field),
                                oninput: move |v: String| edit(&|f| f.set(field, FormValue::Text(v.clone()))),
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The form with every set entry still typed but not added, added (what the user meant).
pub fn with_entries(form: &PersonForm, entries: &BTreeMap<String, String>) -> PersonForm {
    let mut f = form.clone();
    for field in editable().filter(|f| f.spec().ty == Type::Set) {
        let flag = field.spec().flag.unwrap_or(field.name());
        if let Some(m) = entries
            .get(flag)
            .and_then(|t| groundwork::model::normalise_tag(t))
        {
            f.add_member(field, m);
        }
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use groundwork::fields::Change;

    fn someone() -> Person {
        let mut p = Person::blank();
        p.id = "0192f0c4-7b1e-7c3a-9d2e-3f4a5b6c7d8e".into();
        p.name = "Amina Yusuf".into();
        p.phone = Some("07700 900123".into());
        p.area = Some("Elm Road".into());
        p.tags = vec!["cleaner".into(), "tenant".into()];
        p.languages = vec!["urdu".into()];
        p.consent = [("sms".to_string(), "2026-03-01T00:00:00.000Z".to_string())].into();
        p
    }

    #[test]
    fn an_untouched_form_changes_nothing() {
        let f = PersonForm::of(&someone());
        assert!(f.patch_from(&f).is_empty());
    }

    #[test]
    fn the_patch_holds_only_what_changed() {
        let before = PersonForm::of(&someone());
        let mut f = before.clone();
        f.set(PersonField::Phone, FormValue::Text("07700 900999".into()));
        f.set(PersonField::Area, FormValue::Text(String::new()));
        f.remove_member(PersonField::Tags, "tenant");
        f.add_member(PersonField::Tags, "rep".into());
        f.add_member(PersonField::Languages, "polish".into());
        f.set(PersonField::Consent, FormValue::List(vec!["phone".into()]));
        f.set(PersonField::DoNotContact, FormValue::Flag(true));
        let p = f.patch_from(&before);
        assert_eq!(
            p.put_of(PersonField::Phone),
            Some(&Value::from("07700 900999"))
        );
        assert_eq!(
            p.put_of(PersonField::Area),
            Some(&Value::from("")),
            "an emptied field is cleared"
        );
        assert_eq!(p.put_of(PersonField::Name), None);
        let changes: Vec<(PersonField, Change)> = p.changes.clone();
        assert!(changes.contains(&(PersonField::Tags, Change::Add(vec!["rep".into()]))));
        assert!(changes.contains(&(PersonField::Tags, Change::Remove(vec!["tenant".into()]))));
        assert!(changes.contains(&(PersonField::Languages, Change::Add(vec!["polish".into()]))));
        assert!(changes.contains(&(PersonField::Consent, Change::Add(vec!["phone".into()]))));
        assert!(changes.contains(&(PersonField::Consent, Change::Remove(vec!["sms".into()]))));
        assert_eq!(
            p.put_of(PersonField::DoNotContact),
            Some(&Value::Flag(true))
        );
    }

    #[test]
    fn a_draft_from_the_previous_version_reads_back() {
        let old = r#"{"name":"Amina","phone":"","email":"","address":"","area":"Elm Road",
            "workplace":"","role":"","notes":"line one\nline two","tags":["tenant"],
            "consent":["sms"],"do_not_contact":false}"#;
        let f: PersonForm = serde_json::from_str(old).unwrap();
        assert_eq!(f.text(PersonField::Name), "Amina");
        assert_eq!(f.text(PersonField::Notes), "line one\nline two");
        assert_eq!(f.list(PersonField::Tags), vec!["tenant"]);
        assert_eq!(f.list(PersonField::Consent), vec!["sms"]);
        let back: PersonForm = serde_json::from_str(&serde_json::to_string(&f).unwrap()).unwrap();
        assert_eq!(back, f);
    }

    #[test]
    fn blank_fields_of_a_new_person_are_left_out() {
        let mut f = PersonForm::default();
        f.set(PersonField::Name, FormValue::Text("Joe".into()));
        f.set(PersonField::Phone, FormValue::Text("  ".into()));
        f.set(PersonField::Area, FormValue::Text("Elm Road".into()));
        let p = f.new_person().checked().unwrap();
        assert_eq!(p.put_of(PersonField::Phone), None);
        assert_eq!(p.put_of(PersonField::Area), Some(&Value::from("Elm Road")));
    }
}
