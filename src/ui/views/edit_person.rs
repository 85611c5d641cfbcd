//! Editing a person after they were added: every editable field of the person's declaration
//! (see [`super::person_form`]), saved as one patch holding only what changed.
//!
//! The form starts from the person as they were when it opened (kept in a hook, so a sync
//! arriving while typing does not rewrite the fields) and text is never bound back into the
//! inputs. What is typed is a draft from the first keystroke (see [`super::drafts`]): leaving
//! the form (another tab, another person) keeps it, and the form restores it when it opens
//! again; "Cancel" asks before it throws changes away.

use dioxus::prelude::*;
use groundwork::model::{Person, PersonField};

use super::drafts::{EditDraft, edit_key};
use super::person_form::{PersonFields, PersonForm, with_entries};
use crate::ui::components::Confirm;
use crate::ui::worker::Request;
use crate::ui::{Nav, Services};

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
        Some(Err(e)) => rsx! { super::LoadFailed { error: e.clone() } },
        Some(Ok(body)) => {
            let restored = body
                .as_deref()
                .and_then(|b| serde_json::from_str::<EditDraft>(b).ok())
                .map(EditDraft::upgraded);
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
                ..Default::default()
            }
        })
    });
    let before = first.before.clone();
    let start = first.form.clone();
    let start_entries = first.entries.clone();
    let form = use_signal(|| start.clone());
    let entries = use_signal(|| start_entries.clone());
    let mut saving = use_signal(|| false);
    let mut confirming = use_signal(|| false);
    let key = edit_key(&id);

    // Every change is a draft, sent as it is made (back to how the form opened too: a later
    // draft may still wait to be written); back to how the person was, there is nothing to
    // keep.
    let store = services.store.clone();
    let draft_before = before.clone();
    let draft_key = key.clone();
    let persist = use_callback(move |()| {
        let d = EditDraft {
            before: draft_before.clone(),
            form: form.peek().clone(),
            entries: entries.peek().clone(),
            tag_entry: String::new(),
        };
        if d.form == d.before && d.entries.values().all(|t| t.trim().is_empty()) {
            store.discard_draft(&draft_key);
        } else if let Ok(body) = serde_json::to_string(&d) {
            store.save_draft(&draft_key, body);
        }
    });
    let dirty_before = before.clone();
    let dirty = move || {
        *form.read() != dirty_before || entries.read().values().any(|t| !t.trim().is_empty())
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
        // A tag or language typed but not added yet is meant to be added.
        let f = with_entries(&form(), &entries());
        if groundwork::rules::is_blank(&f.text("name")) {
            nav.error("Give the person's name: it cannot be left empty.");
            return;
        }
        let patch = f.patch_from::<PersonField>(&before);
        let store = services.store.clone();
        let id = id.clone();
        let key = save_key.clone();
        saving.set(true);
        spawn(async move {
            // The edit and the draft's end in one request (one transaction): a draft left
            // behind a saved edit would restore older values the next time the form opens.
            let changed = !patch.is_empty();
            let request = if changed {
                Request::EditPersonFromDraft(id, patch, key)
            } else {
                Request::DeleteDraft(key)
            };
            match store.run(request).await {
                Ok(()) => {
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

    rsx! {
        section { class: "edit-person", "aria-labelledby": "edit-title",
            h2 { id: "edit-title", "Edit {person.name}" }
            if was_restored {
                p { class: "card restored", role: "status",
                    "A draft was restored: your unsaved changes are back."
                }
            }
            PersonFields {
                prefix: "edit",
                start: start.clone(),
                form,
                entries,
                start_entries: start_entries.clone(),
                onchange: persist,
            }
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
