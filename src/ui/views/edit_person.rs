//! Editing a person after they were added: details, tags, consent per channel and
//! do-not-contact, saved as one [`PersonPatch`] holding only what changed.
//!
//! The form starts from the person as they were when it opened (kept in a hook, so a sync
//! arriving while typing does not rewrite the fields) and text is never bound back into the
//! inputs.

use dioxus::prelude::*;
use groundwork::model::{ConsentChannel, Person, PersonPatch, normalise_tag};

use crate::ui::components::{ConsentChips, TextField, toggle_consent};
use crate::ui::worker::Request;
use crate::ui::{Nav, Services};

/// What the form holds while it is open.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PersonForm {
    /// Name.
    pub name: String,
    /// Phone, email, address, area, workplace, role, notes (empty = none).
    pub phone: String,
    /// Email.
    pub email: String,
    /// Address.
    pub address: String,
    /// Area.
    pub area: String,
    /// Workplace.
    pub workplace: String,
    /// Role.
    pub role: String,
    /// Notes.
    pub notes: String,
    /// Tags, in the order shown.
    pub tags: Vec<String>,
    /// Channels consented to.
    pub consent: Vec<ConsentChannel>,
    /// Asked not to be contacted.
    pub do_not_contact: bool,
}

impl PersonForm {
    /// The form filled in from `p`.
    pub fn of(p: &Person) -> PersonForm {
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        PersonForm {
            name: p.name.clone(),
            phone: text(&p.phone),
            email: text(&p.email),
            address: text(&p.address),
            area: text(&p.area),
            workplace: text(&p.workplace),
            role: text(&p.role),
            notes: text(&p.notes),
            tags: p.tags.clone(),
            consent: ConsentChannel::ALL
                .iter()
                .copied()
                .filter(|c| p.consent.contains_key(c.as_str()))
                .collect(),
            do_not_contact: p.do_not_contact,
        }
    }

    /// The patch that turns `before` into this form: only the fields that changed.
    pub fn patch_from(&self, before: &PersonForm) -> PersonPatch {
        let changed = |now: &String, was: &String| (now.trim() != was.trim()).then(|| now.clone());
        PersonPatch {
            name: changed(&self.name, &before.name),
            phone: changed(&self.phone, &before.phone),
            email: changed(&self.email, &before.email),
            address: changed(&self.address, &before.address),
            area: changed(&self.area, &before.area),
            workplace: changed(&self.workplace, &before.workplace),
            role: changed(&self.role, &before.role),
            notes: changed(&self.notes, &before.notes),
            add_tags: self
                .tags
                .iter()
                .filter(|t| !before.tags.contains(t))
                .cloned()
                .collect(),
            remove_tags: before
                .tags
                .iter()
                .filter(|t| !self.tags.contains(t))
                .cloned()
                .collect(),
            grant_consent: self
                .consent
                .iter()
                .copied()
                .filter(|c| !before.consent.contains(c))
                .collect(),
            withdraw_consent: before
                .consent
                .iter()
                .copied()
                .filter(|c| !self.consent.contains(c))
                .collect(),
            do_not_contact: (self.do_not_contact != before.do_not_contact)
                .then_some(self.do_not_contact),
        }
    }
}

/// The edit form for `person`; `onclose` is called after saving or on "Cancel".
#[component]
pub fn EditPerson(person: Person, onclose: EventHandler<()>) -> Element {
    let services = use_context::<Services>();
    let nav = use_context::<Nav>();
    let id = person.id.clone();
    // The person as the form opened: the fields start from it, and the patch is against it.
    let before = use_hook(|| PersonForm::of(&person));
    let start = before.clone();
    let mut form = use_signal(|| before.clone());
    let mut tag_entry = use_signal(String::new);
    // A new number is a new, empty tag field (see `TextField`).
    let mut tag_field = use_signal(|| 0u32);
    let mut saving = use_signal(|| false);

    let mut add_tag = move || {
        if let Some(t) = normalise_tag(&tag_entry()) {
            let mut f = form.write();
            if !f.tags.contains(&t) {
                f.tags.push(t);
            }
        }
        tag_entry.set(String::new());
        tag_field += 1;
    };
    let save = move |_| {
        let mut f = form();
        // A tag typed but not added yet is meant to be added.
        if let Some(t) = normalise_tag(&tag_entry())
            && !f.tags.contains(&t)
        {
            f.tags.push(t);
        }
        if f.name.trim().is_empty() {
            nav.error("Give the person's name: it cannot be left empty.");
            return;
        }
        let patch = f.patch_from(&before);
        if patch == PersonPatch::default() {
            onclose.call(());
            nav.say("Nothing changed.");
            return;
        }
        let store = services.store.clone();
        let id = id.clone();
        saving.set(true);
        spawn(async move {
            match store.run(Request::EditPerson(id, patch)).await {
                Ok(()) => {
                    onclose.call(());
                    nav.say("Details saved.");
                }
                Err(e) => nav.error(e.to_string()),
            }
            saving.set(false);
        });
    };

    let f = form();
    let consent = f.consent.clone();
    let text_fields: [(&str, &str, &str, String); 6] = [
        ("edit-phone", "Phone", "tel", start.phone.clone()),
        ("edit-email", "Email", "email", start.email.clone()),
        ("edit-area", "Area or street", "text", start.area.clone()),
        ("edit-address", "Address", "text", start.address.clone()),
        (
            "edit-workplace",
            "Workplace",
            "text",
            start.workplace.clone(),
        ),
        ("edit-role", "Role at work", "text", start.role.clone()),
    ];

    rsx! {
        section { class: "edit-person", "aria-labelledby": "edit-title",
            h2 { id: "edit-title", "Edit {person.name}" }
            TextField { id: "edit-name", label: "Name", initial: start.name.clone(),
                oninput: move |v: String| form.write().name = v }
            for (fid, label, kind, initial) in text_fields {
                TextField {
                    key: "{fid}",
                    id: "{fid}",
                    label: "{label}",
                    kind: "{kind}",
                    initial,
                    oninput: move |v: String| {
                        let mut f = form.write();
                        match fid {
                            "edit-phone" => f.phone = v,
                            "edit-email" => f.email = v,
                            "edit-area" => f.area = v,
                            "edit-address" => f.address = v,
                            "edit-workplace" => f.workplace = v,
                            _ => f.role = v,
                        }
                    },
                }
            }
            fieldset { class: "tags-entry",
                legend { "Tags" }
                if f.tags.is_empty() {
                    p { class: "muted", "No tags." }
                } else {
                    ul { class: "list added",
                        for t in f.tags.clone() {
                            li { key: "{t}", class: "added-item",
                                span { "{t}" }
                                button {
                                    r#type: "button",
                                    class: "secondary",
                                    "aria-label": "Remove tag: {t}",
                                    onclick: {
                                        let t = t.clone();
                                        move |_| form.write().tags.retain(|x| *x != t)
                                    },
                                    "Remove"
                                }
                            }
                        }
                    }
                }
                div { class: "entry-row",
                    for n in [tag_field()] {
                        TextField {
                            key: "{n}",
                            id: "tag-entry",
                            label: "Add a tag",
                            oninput: move |v: String| tag_entry.set(v),
                            onenter: move |_| add_tag(),
                        }
                    }
                    button { r#type: "button", class: "secondary", id: "add-tag", onclick: move |_| add_tag(), "Add tag" }
                }
            }
            ConsentChips {
                selected: consent,
                ontoggle: move |c| toggle_consent(&mut form.write().consent, c),
            }
            label { class: "check", r#for: "edit-dnc",
                input {
                    id: "edit-dnc",
                    r#type: "checkbox",
                    checked: f.do_not_contact,
                    onchange: move |e| form.write().do_not_contact = e.checked(),
                }
                span { "Asked not to be contacted at all" }
            }
            TextField { id: "edit-notes", label: "Notes", multiline: true, initial: start.notes.clone(),
                oninput: move |v: String| form.write().notes = v }
            div { class: "edit-actions",
                button {
                    r#type: "button",
                    class: "secondary",
                    id: "cancel-edit",
                    onclick: move |_| onclose.call(()),
                    "Cancel"
                }
                button {
                    r#type: "button",
                    class: "primary",
                    id: "save-person",
                    disabled: saving(),
                    onclick: save,
                    "Save changes"
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn someone() -> Person {
        Person {
            id: "0192f0c4-7b1e-7c3a-9d2e-3f4a5b6c7d8e".into(),
            name: "Amina Yusuf".into(),
            phone: Some("07700 900123".into()),
            email: None,
            address: None,
            area: Some("Elm Road".into()),
            workplace: None,
            role: None,
            notes: None,
            tags: vec!["cleaner".into(), "tenant".into()],
            consent: [("sms".to_string(), "2026-03-01T00:00:00.000Z".to_string())].into(),
            do_not_contact: false,
            created_at: String::new(),
            updated_at: String::new(),
            conflicts: Default::default(),
        }
    }

    #[test]
    fn an_untouched_form_changes_nothing() {
        let f = PersonForm::of(&someone());
        assert_eq!(f.patch_from(&f), PersonPatch::default());
    }

    #[test]
    fn the_patch_holds_only_what_changed() {
        let before = PersonForm::of(&someone());
        let mut f = before.clone();
        f.phone = "07700 900999".into();
        f.area = String::new();
        f.tags.retain(|t| t != "tenant");
        f.tags.push("rep".into());
        f.consent = vec![ConsentChannel::Phone];
        f.do_not_contact = true;
        let p = f.patch_from(&before);
        assert_eq!(p.phone.as_deref(), Some("07700 900999"));
        assert_eq!(p.area.as_deref(), Some(""), "an emptied field is cleared");
        assert_eq!(p.name, None);
        assert_eq!(p.email, None);
        assert_eq!(p.add_tags, vec!["rep"]);
        assert_eq!(p.remove_tags, vec!["tenant"]);
        assert_eq!(p.grant_consent, vec![ConsentChannel::Phone]);
        assert_eq!(p.withdraw_consent, vec![ConsentChannel::Sms]);
        assert_eq!(p.do_not_contact, Some(true));
    }
}
