//! People: search as you type (recent first when the box is empty), filters by area, tag,
//! issue, engagement and follow-up due that combine with the search, the notebook's total and
//! how many match, a page at a time with "Show more", a mark on people who have an unsaved
//! draft, and adding a person (kept as a draft until saved).

use std::collections::BTreeMap;

use dioxus::prelude::*;
use groundwork::model::{Engagement, Person};
use groundwork::store::{PeopleChoices, PeopleFilter};

use super::drafts::{NEW_PERSON_KEY, people_with_drafts};
use super::person_form::{PersonFields, PersonForm, new_person, with_entries};
use super::{LADDER, show_count};
use crate::ui::components::{Confirm, TextField};
use crate::ui::lists::{KeptLists, PAGE};
use crate::ui::worker::{Request, today};
use crate::ui::{Nav, Screen, Services};

/// The people list with its search box and filters.
#[component]
pub fn People() -> Element {
    let services = use_context::<Services>();
    let nav = use_context::<Nav>();
    // Kept while the app is open: back from a file finds the list as it was left.
    let KeptLists {
        mut query,
        mut filter,
        mut follow_up_due,
        mut limit,
        ..
    } = use_context::<KeptLists>();
    let choice_store = services.store.clone();
    let people = use_resource(move || {
        let store = services.store.clone();
        let mut f = filter();
        f.query = query();
        f.follow_up_by = follow_up_due().then(today);
        let n = limit();
        let _ = (nav.revision)();
        async move {
            let page = store.people_page(f, 0, n).await?;
            let keys = store.draft_keys("").await?;
            Ok::<_, crate::ui::worker::UiError>((page, keys))
        }
    });
    // The filter panel's choices read every person and every conversation (about 30 ms at
    // 10,000 people natively, more in the phone's worker), and the list asks again after every
    // change: so only once the panel has been opened on this visit, or a filter is on.
    let mut panel_opened = use_signal(|| false);
    // Once a filter was used, the panel stays open while this list is shown, even when its
    // last filter goes back to "Any" (it closed under the thumb, which was choosing another).
    let mut filters_used = use_signal(|| false);
    let choices = use_resource(move || {
        let store = choice_store.clone();
        let _ = (nav.revision)();
        // Any filter on opens the panel, "Follow-up due" too (kept when the list is shown again).
        let wanted =
            panel_opened() || filters_used() || filter.read().any_filter() || follow_up_due();
        async move {
            if wanted {
                store.people_choices().await
            } else {
                Ok(PeopleChoices::default())
            }
        }
    });
    let shift_open = (nav.overview)().shift.is_some();
    let q = query();
    let filtering = filter.read().any_filter() || follow_up_due();
    let new_person_waiting = matches!(
        &*people.read(),
        Some(Ok((_, keys))) if keys.iter().any(|k| k == NEW_PERSON_KEY)
    );
    let choices = match &*choices.read() {
        Some(Ok(c)) => c.clone(),
        _ => PeopleChoices::default(),
    };
    let on = [
        filter.read().area.is_some(),
        filter.read().tag.is_some(),
        filter.read().issue.is_some(),
        filter.read().engagement.is_some(),
        follow_up_due(),
    ]
    .into_iter()
    .filter(|b| *b)
    .count();
    let mut set = move |f: &dyn Fn(&mut PeopleFilter)| {
        f(&mut filter.write());
        limit.set(PAGE);
        filters_used.set(true);
    };

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
                initial: query.peek().clone(),
                oninput: move |v: String| {
                    query.set(v);
                    limit.set(PAGE);
                },
            }
            details { class: "people-filters", open: on > 0 || filters_used(),
                summary { id: "people-filters-toggle",
                    onclick: move |_| panel_opened.set(true),
                    if on == 0 { "Filters" } else { "Filters ({on} on)" }
                }
                div { class: "filter-grid",
                    Choice {
                        id: "filter-area",
                        label: "Area",
                        options: choices.areas.iter().map(|a| (a.clone(), a.clone())).collect::<Vec<_>>(),
                        selected: filter.read().area.clone(),
                        onchange: move |v: Option<String>| set(&|f| f.area = v.clone()),
                    }
                    Choice {
                        id: "filter-tag",
                        label: "Tag",
                        options: choices.tags.iter().map(|a| (a.clone(), a.clone())).collect::<Vec<_>>(),
                        selected: filter.read().tag.clone(),
                        onchange: move |v: Option<String>| set(&|f| f.tag = v.clone()),
                    }
                    Choice {
                        id: "filter-issue",
                        label: "Issue raised",
                        options: choices.issues.iter().map(|a| (a.clone(), a.clone())).collect::<Vec<_>>(),
                        selected: filter.read().issue.clone(),
                        onchange: move |v: Option<String>| set(&|f| f.issue = v.clone()),
                    }
                    Choice {
                        id: "filter-engagement",
                        label: "Engagement (latest)",
                        options: LADDER.iter().map(|(n, t)| (n.to_string(), t.to_string())).collect::<Vec<_>>(),
                        selected: filter.read().engagement.map(|e| e.get().to_string()),
                        onchange: move |v: Option<String>| {
                            let level = v.and_then(|v| v.parse::<Engagement>().ok());
                            set(&|f| f.engagement = level);
                        },
                    }
                }
                div { class: "filter-actions",
                    button {
                        r#type: "button",
                        class: "chip",
                        id: "filter-follow-up",
                        "aria-pressed": if follow_up_due() { "true" } else { "false" },
                        onclick: move |_| {
                            follow_up_due.toggle();
                            limit.set(PAGE);
                            filters_used.set(true);
                        },
                        "Follow-up due"
                    }
                    if on > 0 {
                        button {
                            r#type: "button",
                            class: "secondary",
                            id: "clear-filters",
                            onclick: move |_| {
                                filter.set(PeopleFilter::default());
                                follow_up_due.set(false);
                                limit.set(PAGE);
                            },
                            "Clear filters"
                        }
                    }
                }
            }
            match &*people.read() {
                None => rsx! { p { class: "empty", "Loading…" } },
                Some(Err(e)) => rsx! { p { class: "empty", role: "alert", "{e}" } },
                Some(Ok((page, keys))) => {
                    let drafts = people_with_drafts(keys);
                    let shown = page.people.len();
                    let left = page.matching.saturating_sub(shown);
                    let total = show_count(page.total);
                    let matching = show_count(page.matching);
                    let whole = if page.total == 1 { "1 person".to_string() } else { format!("{total} people") };
                    rsx! {
                        p { class: "muted people-count", id: "people-count", role: "status",
                            if q.trim().is_empty() && !filtering {
                                "{whole} in this notebook."
                            } else {
                                "{matching} of {total} match."
                            }
                        }
                        if page.people.is_empty() {
                            p { class: "empty",
                                if page.total == 0 { "Nobody recorded yet. Add the first person." }
                                else if q.trim().is_empty() { "Nobody matches these filters." }
                                else { "Nobody matches “{q}”." }
                            }
                        } else {
                            ul { class: "list people-list", "aria-label": if q.trim().is_empty() && !filtering { "Recent people" } else { "Search results" },
                                for p in page.people.iter() {
                                    PersonRow { key: "{p.id}", person: p.clone(), draft: drafts.contains(&p.id) }
                                }
                            }
                        }
                        if left > 0 {
                            p { class: "muted shown-of", "Showing {show_count(shown)} of {matching}." }
                            button {
                                r#type: "button",
                                class: "secondary show-more",
                                id: "people-more",
                                onclick: move |_| limit += PAGE,
                                "Show {left.min(PAGE)} more"
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A labelled drop-down of `options` (value, words), with "Any" for no filter.
#[component]
fn Choice(
    id: String,
    label: String,
    options: Vec<(String, String)>,
    selected: Option<String>,
    onchange: EventHandler<Option<String>>,
) -> Element {
    let current = selected.clone().unwrap_or_default();
    // A value chosen earlier that no one has any more (the list keeps its filters: the last
    // person of that area erased or moved meanwhile) is still shown as chosen, not as "Any".
    let mut options = options;
    if let Some(s) = &selected
        && !options.iter().any(|(v, _)| v == s)
    {
        options.insert(0, (s.clone(), s.clone()));
    }
    rsx! {
        div { class: "field filter",
            label { r#for: "{id}", "{label}" }
            select {
                id: "{id}",
                value: "{current}",
                onchange: move |e| {
                    let v = e.value();
                    onchange.call((!v.is_empty()).then_some(v));
                },
                option { value: "", selected: selected.is_none(), "Any" }
                for (value, words) in options {
                    option { key: "{value}", value: "{value}", selected: Some(&value) == selected.as_ref(), "{words}" }
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
            let restored = body.as_deref().and_then(AddDraft::read);
            rsx! { AddPersonForm { restored } }
        }
    }
}

/// What is kept of a person being added: the form, and what was typed in a set's entry box
/// (a tag, a language) and not added yet.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct AddDraft {
    /// The form as the user left it.
    pub form: PersonForm,
    /// The entry boxes' text, by the set's flag (`tag`).
    #[serde(default)]
    pub entries: BTreeMap<String, String>,
    /// The form's own key: saved twice (its draft brought back after a reload in the moment
    /// after the save), it adds one person. `None` in drafts of earlier versions.
    #[serde(default)]
    pub save_key: Option<String>,
}

impl AddDraft {
    /// A kept draft: this form, or the form alone as drafts of the previous version kept it.
    fn read(body: &str) -> Option<AddDraft> {
        serde_json::from_str::<AddDraft>(body).ok().or_else(|| {
            serde_json::from_str::<PersonForm>(body)
                .ok()
                .map(|form| AddDraft {
                    form,
                    ..Default::default()
                })
        })
    }
}

#[component]
fn AddPersonForm(restored: Option<AddDraft>) -> Element {
    let services = use_context::<Services>();
    let nav = use_context::<Nav>();
    let kept = use_context::<KeptLists>();
    let was_restored = restored.is_some();
    let first = use_hook(|| {
        let mut first = restored.clone().unwrap_or_default();
        first
            .save_key
            .get_or_insert_with(groundwork::ids::new_save_key);
        first
    });
    let save_key = first.save_key.clone().unwrap_or_default();
    let draft_save_key = save_key.clone();
    let start = first.form.clone();
    let start_entries = first.entries.clone();
    let form = use_signal(|| first.form.clone());
    let entries = use_signal(|| first.entries.clone());
    let mut saving = use_signal(|| false);
    let mut confirming = use_signal(|| false);

    // Every change is a draft, sent as it is made; an emptied form leaves none (and a draft
    // still waiting to be written goes with it).
    let store = services.store.clone();
    let persist = use_callback(move |()| {
        let draft = AddDraft {
            form: form.peek().clone(),
            entries: entries.peek().clone(),
            save_key: Some(draft_save_key.clone()),
        };
        if draft.form == PersonForm::default()
            && draft.entries.values().all(|t| t.trim().is_empty())
        {
            store.discard_draft(NEW_PERSON_KEY);
        } else if let Ok(body) = serde_json::to_string(&draft) {
            store.save_draft(NEW_PERSON_KEY, body);
        }
    });

    let save_store = services.store.clone();
    let save = move |_| {
        // A second tap of a double tap, before the button is drawn disabled.
        if *saving.peek() {
            return;
        }
        let store = save_store.clone();
        let f = with_entries(&form(), &entries());
        let new = new_person(&f);
        if groundwork::rules::is_blank(&f.text("name")) {
            nav.error("Give the person's name (the other details can wait).");
            // Where the name goes, for the keyboard and the screen reader.
            let _ = document::eval(
                "document.getElementById('person-name')?.focus({ preventScroll: false })",
            );
            return;
        }
        saving.set(true);
        let save_key = save_key.clone();
        spawn(async move {
            // The draft goes in the same transaction as the person: never one without the other.
            let request = Request::AddPersonOnce {
                person: new,
                draft_key: NEW_PERSON_KEY.to_string(),
                save_key,
            };
            match store.create(request).await {
                Ok(id) => {
                    // Back from their file shows the list with them in it, not a search
                    // or a filter they may not match.
                    kept.everyone();
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
                    nav.close(Screen::People);
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
                start_entries,
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
