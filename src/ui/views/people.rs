//! People: search as you type (recent first when the box is empty), and adding a person.

use dioxus::prelude::*;
use groundwork::model::{NewPerson, Person};

use crate::ui::components::{ConsentChips, TextField, toggle_consent};
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
        async move { store.people(&q, LIST_LIMIT).await }
    });
    let shift_open = (nav.overview)().shift.is_some();
    let q = query();

    rsx! {
        section { class: "people", "aria-labelledby": "people-title",
            div { class: "people-head",
                h2 { id: "people-title", "People" }
                button {
                    r#type: "button",
                    class: "secondary",
                    onclick: move |_| nav.go(Screen::AddPerson),
                    "+ Add person"
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
                Some(Ok(list)) if list.is_empty() => rsx! {
                    p { class: "empty",
                        if q.trim().is_empty() { "Nobody recorded yet. Add the first person." }
                        else { "Nobody matches “{q}”." }
                    }
                },
                Some(Ok(list)) => rsx! {
                    ul { class: "list people-list", "aria-label": if q.trim().is_empty() { "Recent people" } else { "Search results" },
                        for p in list.iter() {
                            PersonRow { key: "{p.id}", person: p.clone() }
                        }
                    }
                },
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

#[component]
fn PersonRow(person: Person) -> Element {
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
            }
        }
    }
}

/// The form for a new person. Only the name is required.
#[component]
pub fn AddPerson() -> Element {
    let services = use_context::<Services>();
    let nav = use_context::<Nav>();
    let mut form = use_signal(NewPerson::default);
    let mut saving = use_signal(|| false);

    let save = move |_| {
        let store = services.store.clone();
        let new = form();
        if new.name.trim().is_empty() {
            nav.error("Give the person's name (the other details can wait).");
            return;
        }
        saving.set(true);
        spawn(async move {
            match store.create(Request::AddPerson(new)).await {
                Ok(id) => {
                    nav.go(Screen::Person(id));
                    nav.say("Person added.");
                }
                Err(e) => nav.error(e.to_string()),
            }
            saving.set(false);
        });
    };
    let consent = form.read().consent.clone();

    rsx! {
        section { class: "add-person", "aria-labelledby": "add-title",
            h2 { id: "add-title", "Add a person" }
            TextField { id: "person-name", label: "Name", autocomplete: "off",
                oninput: move |v: String| form.write().name = v }
            TextField { id: "person-phone", label: "Phone", kind: "tel",
                oninput: move |v: String| form.write().phone = Some(v) }
            TextField { id: "person-email", label: "Email", kind: "email",
                oninput: move |v: String| form.write().email = Some(v) }
            TextField { id: "person-area", label: "Area or street",
                oninput: move |v: String| form.write().area = Some(v) }
            TextField { id: "person-address", label: "Address",
                oninput: move |v: String| form.write().address = Some(v) }
            TextField { id: "person-workplace", label: "Workplace",
                oninput: move |v: String| form.write().workplace = Some(v) }
            TextField { id: "person-role", label: "Role at work",
                oninput: move |v: String| form.write().role = Some(v) }
            ConsentChips {
                selected: consent,
                ontoggle: move |c| toggle_consent(&mut form.write().consent, c),
            }
            TextField { id: "person-notes", label: "Notes", multiline: true,
                oninput: move |v: String| form.write().notes = Some(v) }
            button {
                r#type: "button",
                class: "primary",
                disabled: saving(),
                onclick: save,
                "Save person"
            }
        }
    }
}
