//! The person form: the generated form (see [`super::record_form`]) over every editable field
//! of a person's declaration, for Add person and Edit details alike, so a field declared once
//! appears in both. What the form holds is also the body of its draft (field name → value,
//! so drafts of the previous version, with one key per field, read back).

use std::collections::BTreeMap;

use dioxus::prelude::*;
use groundwork::model::{NewPerson, PersonField};

pub use super::record_form::FormValues as PersonForm;
use super::record_form::{RecordFields, editable_specs};

/// The new person a form describes: blank fields are left out.
pub fn new_person(f: &PersonForm) -> NewPerson {
    f.patch_from::<PersonField>(&PersonForm::default())
}

/// The form with a tag or language typed but not added yet, added.
pub fn with_entries(f: &PersonForm, entries: &BTreeMap<String, String>) -> PersonForm {
    f.with_entries::<PersonField>(entries)
}

/// One input per editable field of a person (see [`RecordFields`]; ids `person-…` in Add
/// person, `edit-…` in Edit details, sets as `edit-tag-entry`/`edit-add-tag`).
#[component]
pub fn PersonFields(
    prefix: String,
    start: PersonForm,
    form: Signal<PersonForm>,
    entries: Signal<BTreeMap<String, String>>,
    start_entries: BTreeMap<String, String>,
    onchange: Callback<()>,
) -> Element {
    rsx! {
        RecordFields {
            prefix,
            fields: editable_specs::<PersonField>(),
            start,
            form,
            entries,
            start_entries,
            onchange,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::views::record_form::FormValue;
    use groundwork::fields::{Change, Record, Value};
    use groundwork::model::Person;

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
        assert!(f.patch_from::<PersonField>(&f).is_empty());
    }

    #[test]
    fn the_patch_holds_only_what_changed() {
        let before = PersonForm::of(&someone());
        let mut f = before.clone();
        f.set("phone", FormValue::Text("07700 900999".into()));
        f.set("area", FormValue::Text(String::new()));
        f.remove_member("tags", "tenant");
        f.add_member("tags", "rep".into());
        f.add_member("languages", "polish".into());
        f.set("consent", FormValue::List(vec!["phone".into()]));
        f.set("do_not_contact", FormValue::Flag(true));
        let p = f.patch_from::<PersonField>(&before);
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
        let has = |c: (PersonField, Change)| p.changes.contains(&c);
        assert!(has((PersonField::Tags, Change::Add(vec!["rep".into()]))));
        assert!(has((
            PersonField::Tags,
            Change::Remove(vec!["tenant".into()])
        )));
        assert!(has((
            PersonField::Languages,
            Change::Add(vec!["polish".into()])
        )));
        assert!(has((
            PersonField::Consent,
            Change::Add(vec!["phone".into()])
        )));
        assert!(has((
            PersonField::Consent,
            Change::Remove(vec!["sms".into()])
        )));
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
        assert_eq!(f.text("name"), "Amina");
        assert_eq!(f.text("notes"), "line one\nline two");
        assert_eq!(f.list("tags"), vec!["tenant"]);
        assert_eq!(f.list("consent"), vec!["sms"]);
        let back: PersonForm = serde_json::from_str(&serde_json::to_string(&f).unwrap()).unwrap();
        assert_eq!(back, f);
    }

    #[test]
    fn blank_fields_of_a_new_person_are_left_out() {
        let mut f = PersonForm::default();
        f.set("name", FormValue::Text("Joe".into()));
        f.set("phone", FormValue::Text("  ".into()));
        f.set("area", FormValue::Text("Elm Road".into()));
        let p = new_person(&f).checked().unwrap();
        assert_eq!(p.put_of(PersonField::Phone), None);
        assert_eq!(p.put_of(PersonField::Area), Some(&Value::from("Elm Road")));
    }
}
