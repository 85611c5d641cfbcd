//! People: search as you type (recent first when the box is empty), with a mark on people
//! who have an unsaved draft, and adding a person (kept as a draft until saved).

use std::collections::BTreeMap;

use dioxus::prelude::*;
use groundwork::model::Person;

use super::drafts::{NEW_PERSON_KEY, people_with_drafts};
use super::person_form::{PersonFields, PersonForm, new_person, with_entries};
use crate::ui::components::{Confirm, TextField};
use crate::ui::worker::Request;
use crate::ui::{Nav, Screen, Services};

/// How many people the list shows.
const LIST_LIMIT: usize = 50;

/// The people list with its search box.
#[component]
pub fn People() -> Element {
    let services = use_context::<Services>();
    let nav = use_context::<Nav>();
    let mut query = use_signal(String::new);
    let people = use_resource(move || {
        let store = services.store.clone();
        let q = query();
        let _ = (nav.revision)();
        async move {
            let people = store.people(&q, LIST_LIMIT).await?;
            let keys = store.draft_keys("").await?;
            Ok::<_, crate::ui::worker::UiError>((people, keys))
        }
    });
    let shift_open = (nav.overview)().shift.is_some();
    let q = query();
    let new_person_waiting = matches!(
        &*people.read(),
        Some(Ok((_, keys))) if keys.iter().any(|k| k == NEW_PERSON_KEY)
    );

    rsx! {
        section { class: "people", "aria-labelledby": "people-title",
            div { class: "people-head",
                h2 { id: "people-title", "People" }
                button {
                    r#type: "button",
                    class: "secondary",
                    id: "add-person",
                    onclick: move |_| nav.go(Screen::AddPerson),
                    "+ Add person"
                }
            }
            if new_person_waiting {
                p { class: "card draft-waiting",
                    "A person you started adding is not saved yet. "
                    button {
                        r#type: "button",
                        class: "linkish",
                        id: "continue-new-person",
                        onclick: move |_| nav.go(Screen::AddPerson),
                        "Continue adding"
                    }
                }
            }
            if !shift_open {
                p { class: "card muted",
                    "No shift is open. "
                    button {
                        r#type: "button",
                        class: "linkish",
                        onclick: move |_| nav.go(Screen::Shift),
                        "Start a shift"
                    }
                    " to group today's conversations."
                }
            }
            TextField {
                id: "search",
                label: "Search people",
                kind: "search",
                hint: "Name, place, phone, workplace or issue",
                oninput: move |v: String| query.set(v),
            }
            match &*people.read() {
                None => rsx! { p { class: "empty", "Loading…" } },
                Some(Err(e)) => rsx! { p { class: "empty", role: "alert", "{e}" } },
                Some(Ok((list, _))) if list.is_empty() => rsx! {
                    p { class: "empty",
                        if q.trim().is_empty() { "Nobody recorded yet. Add the first person." }
                        else { "Nobody matches “{q}”." }
                    }
                },
                Some(Ok((list, keys))) => {
                    let drafts = people_with_drafts(keys);
                    rsx! {
                        ul { class: "list people-list", "aria-label": if q.trim().is_empty() { "Recent people" } else { "Search results" },
                            for p in list.iter() {
                                PersonRow { key: "{p.id}", person: p.clone(), draft: drafts.contains(&p.id) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Where to find a person: area, workplace or address.
fn whereabouts(p: &Person) -> String {
    [&p.area, &p.workplace, &p.address]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(" · ")
}

/// A person in the list; `draft`: an unsaved conversation or edit of theirs is waiting.
#[component]
fn PersonRow(person: Person, draft: bool) -> Element {
    let nav = use_context::<Nav>();
    let place = whereabouts(&person);
    let id = person.id.clone();
    rsx! {
        li {
            button {
                r#type: "button",
                class: "person-row",
                "data-id": "{person.id}",
                onclick: move |_| nav.go(Screen::Person(id.clone())),
                span { class: "person-name", "{person.name}" }
                if !place.is_empty() {
                    span { class: "person-place", "{place}" }
                }
                if draft {
                    span { class: "draft-mark", "Unsaved draft" }
                }
            }
        }
    }
}

/// The form for a new person. Only the name is required. What is typed is a draft from the
/// first keystroke, restored when the form opens again.
#[component]
pub fn AddPerson() -> Element {
    let services = use_context::<Services>();
    // Read once: the form owns its text from here on.
    let loaded = use_resource(move || {
        let store = services.store.clone();
        async move { store.draft(NEW_PERSON_KEY).await }
    });
    match &*loaded.read() {
        None => rsx! { p { class: "empty", "Loading…" } },
        Some(Err(e)) => rsx! { p { class: "empty", role: "alert", "{e}" } },
        Some(Ok(body)) => {
            let restored = body
                .as_deref()
                .and_then(|b| serde_json::from_str::<PersonForm>(b).ok());
            rsx! { AddPersonForm { restored } }
        }
    }
}

#[component]
fn AddPersonForm(restored: Option<PersonForm>) -> Element {
    let services = use_context::<Services>();
    let nav = use_context::<Nav>();
    let was_restored = restored.is_some();
    let first = use_hook(|| restored.clone().unwrap_or_default());
    let start = first.clone();
    let form = use_signal(|| start.clone());
    let entries = use_signal(BTreeMap::<String, String>::new);
    let mut saving = use_signal(|| false);
    let mut confirming = use_signal(|| false);

    // Every change is a draft, sent as it is made; an emptied form leaves none.
    let store = services.store.clone();
    let persist = use_callback(move |()| {
        let f = form.peek().clone();
        if f == first {
            return;
        }
        if f == PersonForm::default() {
            let store = store.clone();
            spawn(async move {
                let _ = store
                    .run(Request::DeleteDraft(NEW_PERSON_KEY.to_string()))
                    .await;
            });
        } else if let Ok(body) = serde_json::to_string(&f) {
            store.save_draft(NEW_PERSON_KEY, body);
        }
    });

    let save_store = services.store.clone();
    let save = move |_| {
        let store = save_store.clone();
        let f = with_entries(&form(), &entries());
        let new = new_person(&f);
        if f.text("name").trim().is_empty() {
            nav.error("Give the person's name (the other details can wait).");
            return;
        }
        saving.set(true);
        spawn(async move {
            match store.create(Request::AddPerson(new)).await {
                Ok(id) => {
                    if let Err(e) = store
                        .run(Request::DeleteDraft(NEW_PERSON_KEY.to_string()))
                        .await
                    {
                        nav.error(e.to_string());
                    }
                    nav.replace(Screen::Person(id));
                    nav.say("Person added.");
                }
                Err(e) => nav.error(e.to_string()),
            }
            saving.set(false);
        });
    };
    let discard = move |()| {
        let store = services.store.clone();
        spawn(async move {
            match store
                .run(Request::DeleteDraft(NEW_PERSON_KEY.to_string()))
                .await
            {
                Ok(()) => {
                    nav.replace(Screen::People);
                    nav.say("Draft discarded.");
                }
                Err(e) => nav.error(e.to_string()),
            }
        });
    };
    let has_text = *form.read() != PersonForm::default()
        || entries.read().values().any(|t| !t.trim().is_empty());

    rsx! {
        section { class: "add-person", "aria-labelledby": "add-title",
            h2 { id: "add-title", "Add a person" }
            if was_restored {
                p { class: "card restored", role: "status",
                    "A draft was restored: carry on where you left off."
                }
            }
            PersonFields {
                prefix: "person",
                start: start.clone(),
                form,
                entries,
                start_entries: BTreeMap::new(),
                onchange: persist,
            }
            button {
                r#type: "button",
                class: "primary",
                id: "save-new-person",
                disabled: saving(),
                onclick: save,
                "Save person"
            }
            if confirming() {
                Confirm {
                    id: "discard-person",
                    question: "Discard this unsaved person? What you typed will be gone.",
                    yes: "Discard draft",
                    no: "Keep it",
                    onyes: discard,
                    onno: move |_| confirming.set(false),
                }
            } else if has_text {
                button {
                    r#type: "button",
                    class: "linkish",
                    id: "discard-draft",
                    onclick: move |_| confirming.set(true),
                    "Discard draft"
                }
            }
        }
    }
}
