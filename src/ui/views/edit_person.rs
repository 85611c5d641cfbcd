//! Editing a person after they were added: details, tags, consent per channel and
//! do-not-contact, saved as one [`PersonPatch`] holding only what changed.
//!
//! The form starts from the person as they were when it opened (kept in a hook, so a sync
//! arriving while typing does not rewrite the fields) and text is never bound back into the
//! inputs. What is typed is a draft from the first keystroke (see [`super::drafts`]): leaving
//! the form (another tab, another person) keeps it, and the form restores it when it opens
//! again; "Cancel" asks before it throws changes away.

use dioxus::prelude::*;
use groundwork::model::{ConsentChannel, Person, PersonPatch, normalise_tag};

use serde::{Deserialize, Serialize};

use super::drafts::{EditDraft, edit_key};
use crate::ui::components::{Confirm, ConsentChips, TextField, toggle_consent};
use crate::ui::worker::Request;
use crate::ui::{Nav, Services};

/// What the form holds while it is open (also the body of its draft, see [`super::drafts`]).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
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
    #[serde(with = "super::drafts::channels")]
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

/// The edit form for `person`; `onclose` is called after saving, or on "Cancel" (which asks
/// first when something was changed). An unsaved edit is kept as a draft and restored here.
#[component]
pub fn EditPerson(person: Person, onclose: EventHandler<()>) -> Element {
    let services = use_context::<Services>();
    let pid = person.id.clone();
    // Read once: the form owns its text from here on.
    let loaded = use_resource(move || {
        let store = services.store.clone();
        let key = edit_key(&pid);
        async move { store.draft(&key).await }
    });
    match &*loaded.read() {
        None => rsx! { p { class: "empty", "Loading…" } },
        Some(Err(e)) => rsx! { p { class: "empty", role: "alert", "{e}" } },
        Some(Ok(body)) => {
            let restored = body
                .as_deref()
                .and_then(|b| serde_json::from_str::<EditDraft>(b).ok());
            rsx! { EditForm { person: person.clone(), restored, onclose } }
        }
    }
}

#[component]
fn EditForm(person: Person, restored: Option<EditDraft>, onclose: EventHandler<()>) -> Element {
    let services = use_context::<Services>();
    let nav = use_context::<Nav>();
    let id = person.id.clone();
    let was_restored = restored.is_some();
    // The draft as the form opened: the person as they were (or as they were when the draft
    // was started), and the fields as the user left them.
    let first = use_hook(|| {
        restored.clone().unwrap_or_else(|| {
            let before = PersonForm::of(&person);
            EditDraft {
                form: before.clone(),
                before,
                tag_entry: String::new(),
            }
        })
    });
    let before = first.before.clone();
    let start = first.form.clone();
    let start_tag = first.tag_entry.clone();
    let mut form = use_signal(|| start.clone());
    let mut tag_entry = use_signal(|| start_tag.clone());
    // A new number is a new, empty tag field (see `TextField`).
    let mut tag_field = use_signal(|| 0u32);
    let mut saving = use_signal(|| false);
    let mut confirming = use_signal(|| false);
    let key = edit_key(&id);

    // Every change is a draft, sent as it is made; back to how the person was, there is
    // nothing to keep.
    let store = services.store.clone();
    let draft_before = before.clone();
    let draft_key = key.clone();
    let persist = use_callback(move |()| {
        let d = EditDraft {
            before: draft_before.clone(),
            form: form.peek().clone(),
            tag_entry: tag_entry.peek().clone(),
        };
        if d == first {
            return;
        }
        if d.form == d.before && d.tag_entry.trim().is_empty() {
            let store = store.clone();
            let key = draft_key.clone();
            spawn(async move {
                let _ = store.run(Request::DeleteDraft(key)).await;
            });
        } else if let Ok(body) = serde_json::to_string(&d) {
            store.save_draft(&draft_key, body);
        }
    });
    let mut edit = move |f: &dyn Fn(&mut PersonForm)| {
        f(&mut form.write());
        persist(());
    };
    let dirty_before = before.clone();
    let dirty = move || *form.read() != dirty_before || !tag_entry.read().trim().is_empty();

    let mut add_tag = move || {
        if let Some(t) = normalise_tag(&tag_entry()) {
            let mut f = form.write();
            if !f.tags.contains(&t) {
                f.tags.push(t);
            }
        }
        tag_entry.set(String::new());
        tag_field += 1;
        persist(());
    };
    let discard_store = services.store.clone();
    let discard_key = key.clone();
    let discard = use_callback(move |()| {
        let store = discard_store.clone();
        let key = discard_key.clone();
        spawn(async move {
            match store.run(Request::DeleteDraft(key)).await {
                Ok(()) => {
                    onclose.call(());
                    nav.say("Changes discarded.");
                }
                Err(e) => nav.error(e.to_string()),
            }
        });
    });

    let save_key = key.clone();
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
        let store = services.store.clone();
        let id = id.clone();
        let key = save_key.clone();
        saving.set(true);
        spawn(async move {
            let saved = if patch == PersonPatch::default() {
                Ok(false)
            } else {
                store
                    .run(Request::EditPerson(id, patch))
                    .await
                    .map(|()| true)
            };
            match saved {
                Ok(changed) => {
                    if let Err(e) = store.run(Request::DeleteDraft(key)).await {
                        nav.error(e.to_string());
                    }
                    onclose.call(());
                    nav.say(if changed {
                        "Details saved."
                    } else {
                        "Nothing changed."
                    });
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
            if was_restored {
                p { class: "card restored", role: "status",
                    "A draft was restored: your unsaved changes are back."
                }
            }
            TextField { id: "edit-name", label: "Name", initial: start.name.clone(),
                oninput: move |v: String| edit(&|f| f.name = v.clone()) }
            for (fid, label, kind, initial) in text_fields {
                TextField {
                    key: "{fid}",
                    id: "{fid}",
                    label: "{label}",
                    kind: "{kind}",
                    initial,
                    oninput: move |v: String| edit(&|f| {
                        let v = v.clone();
                        match fid {
                            "edit-phone" => f.phone = v,
                            "edit-email" => f.email = v,
                            "edit-area" => f.area = v,
                            "edit-address" => f.address = v,
                            "edit-workplace" => f.workplace = v,
                            _ => f.role = v,
                        }
                    }),
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
                                        move |_| edit(&|f| f.tags.retain(|x| *x != t))
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
                            initial: if n == 0 { start_tag.clone() } else { String::new() },
                            oninput: move |v: String| {
                                tag_entry.set(v);
                                persist(());
                            },
                            onenter: move |_| add_tag(),
                        }
                    }
                    button { r#type: "button", class: "secondary", id: "add-tag", onclick: move |_| add_tag(), "Add tag" }
                }
            }
            ConsentChips {
                selected: consent,
                ontoggle: move |c| edit(&|f| toggle_consent(&mut f.consent, c)),
            }
            label { class: "check", r#for: "edit-dnc",
                input {
                    id: "edit-dnc",
                    r#type: "checkbox",
                    checked: f.do_not_contact,
                    onchange: move |e| edit(&|f| f.do_not_contact = e.checked()),
                }
                span { "Asked not to be contacted at all" }
            }
            TextField { id: "edit-notes", label: "Notes", multiline: true, initial: start.notes.clone(),
                oninput: move |v: String| edit(&|f| f.notes = v.clone()) }
            if confirming() {
                Confirm {
                    id: "discard-edit",
                    question: "Discard your unsaved changes to {person.name}'s details?",
                    yes: "Discard changes",
                    no: "Keep editing",
                    onyes: discard,
                    onno: move |_| confirming.set(false),
                }
            }
            div { class: "edit-actions",
                button {
                    r#type: "button",
                    class: "secondary",
                    id: "cancel-edit",
                    onclick: move |_| {
                        if dirty() {
                            confirming.set(true);
                        } else {
                            discard(());
                        }
                    },
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
