//! The Walk screen: a walk list's doors in walking order, the door to knock next at the top
//! with one big button per outcome, and progress above it. A tap records the outcome and the
//! next unknocked door takes its place. Several doors can be ticked and marked "not home" in
//! one go; any door of the list can be opened in the top card. "Answered" asks who answered
//! (the list's residents, people of the notebook at that address, or a new name) and opens the
//! record form for them: a person already in the notebook at the door's address (by name) is
//! not added again; a new one takes the door's address.

use std::collections::BTreeSet;

use dioxus::prelude::*;
use groundwork::model::{NewPerson, Outcome, PersonField};
use groundwork::store::walklists::DoorView;

use crate::ui::components::{ProgressBar, TextField};
use crate::ui::worker::Request;
use crate::ui::{Nav, Screen, Services};

/// How long after a mark the next door's buttons take no tap: the second tap of a double tap
/// lands there (a slow one some 300 ms after the first), and would mark a door not knocked.
/// Walking to the next door takes longer; a row of doors is ticked and marked in one tap.
const SETTLE_MS: f64 = 700.0;

/// A moment on a monotonic clock (the page's `performance.now()` in the browser).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Moment(
    #[cfg(not(target_arch = "wasm32"))] std::time::Instant,
    #[cfg(target_arch = "wasm32")] f64,
);

impl Moment {
    fn now() -> Moment {
        #[cfg(not(target_arch = "wasm32"))]
        return Moment(std::time::Instant::now());
        #[cfg(target_arch = "wasm32")]
        return Moment(performance_now());
    }

    fn elapsed_ms(&self) -> f64 {
        #[cfg(not(target_arch = "wasm32"))]
        return self.0.elapsed().as_secs_f64() * 1000.0;
        #[cfg(target_arch = "wasm32")]
        return performance_now() - self.0;
    }
}

#[cfg(target_arch = "wasm32")]
fn performance_now() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map_or_else(js_sys::Date::now, |p| p.now())
}

/// The outcome buttons of the top card, in the order a canvasser reaches for them.
const OUTCOMES: [(Outcome, &str); 7] = [
    (Outcome::NotHome, "Not home"),
    (Outcome::Answered, "Answered"),
    (Outcome::Refused, "Refused"),
    (Outcome::ComeBack, "Come back later"),
    (Outcome::Moved, "Moved away"),
    (Outcome::NoAccess, "No access"),
    (Outcome::DoNotKnock, "Do not knock"),
];

/// How an outcome reads on a door's line.
fn outcome_text(o: Outcome) -> &'static str {
    OUTCOMES
        .iter()
        .find(|(x, _)| *x == o)
        .map_or("", |(_, t)| t)
}

/// The Walk screen for walk list `id`.
#[component]
pub fn Walk(
    id: String,
    /// On a team lead's device (or in a notebook that has joined no team), the lead's panel:
    /// the list can be deleted.
    #[props(default)]
    lead: Option<crate::ui::sync::TeamPanel>,
    /// The notebook has joined no team: erasing is from this notebook alone.
    #[props(default)]
    alone: bool,
) -> Element {
    let services = use_context::<Services>();
    let nav = use_context::<Nav>();
    // Once the list is deleted, go to the Shift screen.
    let erasure = super::use_erasure(lead.as_ref(), move || nav.close(Screen::Shift));
    let store = services.store.clone();
    let list_id = id.clone();
    let view = use_resource(move || {
        let store = store.clone();
        let id = list_id.clone();
        let _ = (nav.revision)();
        async move { store.walklist(&id).await }
    });
    // The door opened in the top card (none: the next one to knock).
    let mut opened = use_signal(|| None::<String>);
    let mut ticked = use_signal(BTreeSet::<String>::new);
    // The door just marked "answered": who answered is asked next.
    let mut answered = use_signal(|| None::<DoorView>);
    let mut busy = use_signal(|| false);
    // When the last mark was done and the next door took its place under the same buttons.
    let mut marked_at = use_signal(|| None::<Moment>);

    // A second tap of a double tap, before the buttons are drawn disabled; or just after a
    // mark with them, on the same buttons now of the next door, which nobody has knocked
    // yet: not taken.
    let taking_taps =
        move || !*busy.peek() && !marked_at.peek().is_some_and(|t| t.elapsed_ms() < SETTLE_MS);

    let mut come_back = use_signal(String::new);
    let marked_list = id.clone();
    // `top`: marked with the top card's buttons, where the next door then takes its place.
    let mark = use_callback(move |(doors, outcome, top): (Vec<String>, Outcome, bool)| {
        if *busy.peek() {
            return;
        }
        let store = services.store.clone();
        let mark_list = marked_list.clone();
        // Said after a single mark, so that a tap on the wrong door is seen at once (the next
        // door takes its place under the same buttons).
        let address = match (&*view.peek(), doors.as_slice()) {
            (Some(Ok(v)), [one]) => v
                .doors
                .iter()
                .find(|d| &d.door.id == one)
                .map(|d| d.door.address.clone()),
            _ => None,
        };
        // A time to come back, when one was given with "Come back then".
        let when = (outcome == Outcome::ComeBack && !come_back().trim().is_empty())
            .then(|| super::record_form::from_local_input(&come_back()));
        busy.set(true);
        spawn(async move {
            let n = doors.len();
            let request = Request::MarkDoors {
                list: mark_list.clone(),
                doors,
                outcome,
                come_back_at: when,
            };
            match store.run(request).await {
                Ok(()) => {
                    if n > 1 {
                        nav.say(format!(
                            "{n} doors marked {}.",
                            outcome_text(outcome).to_lowercase()
                        ));
                    } else if let Some(address) = address.filter(|_| outcome != Outcome::Answered) {
                        nav.say(format!(
                            "{address}: {}. Wrong door? Open it in the list below to mark it again.",
                            outcome_text(outcome).to_lowercase()
                        ));
                    }
                    opened.set(None);
                    ticked.set(BTreeSet::new());
                    come_back.set(String::new());
                    if top {
                        marked_at.set(Some(Moment::now()));
                    }
                }
                Err(e) => nav.error(e.to_string()),
            }
            busy.set(false);
        });
    });

    let body = match &*view.read() {
        None => rsx! { p { class: "empty", "Loading…" } },
        Some(Err(e)) => rsx! { super::LoadFailed { error: e.clone(), back: Screen::Shift } },
        Some(Ok(v)) => {
            let current_id = opened().or_else(|| v.next.clone());
            let current = current_id
                .as_ref()
                .and_then(|id| v.doors.iter().find(|d| &d.door.id == id))
                .cloned();
            let p = v.progress;
            let doors = v.doors.clone();
            let ticked_now = ticked();
            rsx! {
                h2 { id: "walk-title", "{v.list.name}" }
                ProgressBar { label: "Doors knocked", value: p.knocked as u64, max: (p.total - p.do_not_knock) as u64 }
                p { class: "muted", id: "walk-progress",
                    "{p.answered} answered · {conversations(p.conversations)} · {p.to_knock} to knock"
                    if p.do_not_knock > 0 { " · {p.do_not_knock} not to knock" }
                }
                if let Some(d) = answered() {
                    WhoAnswered { door: d, ondone: move |_| answered.set(None) }
                } else if let Some(d) = current {
                    section { class: "card door-card", "aria-labelledby": "door-title",
                        h3 { id: "door-title", "{d.door.address}" }
                        if !d.residents.is_empty() {
                            p { class: "residents",
                                {d.residents.iter().map(|r| r.name.clone()).collect::<Vec<_>>().join(", ")}
                            }
                        }
                        if d.do_not_knock {
                            p { class: "dnk", role: "note", "Do not knock: asked not to be called on." }
                        }
                        if let Some(s) = d.status {
                            p { class: "muted", "Last: {outcome_text(s)}"
                                if let Some(t) = &d.come_back_at { ", come back {super::show_time(t)}" }
                            }
                        }
                        div { class: "outcomes", role: "group", "aria-label": "What happened at {d.door.address}",
                            for (outcome, text) in OUTCOMES {
                                button {
                                    key: "{text}",
                                    r#type: "button",
                                    id: "outcome-{outcome}",
                                    class: if outcome == Outcome::Answered { "primary outcome" } else { "outcome" },
                                    disabled: busy(),
                                    onclick: {
                                        let d = d.clone();
                                        move |_| {
                                            if !taking_taps() {
                                                return;
                                            }
                                            if outcome == Outcome::Answered {
                                                answered.set(Some(d.clone()));
                                            }
                                            mark((vec![d.door.id.clone()], outcome, true));
                                        }
                                    },
                                    "{text}"
                                }
                            }
                        }
                        details { class: "come-back-at",
                            summary { "Come back at a set time…" }
                            TextField { id: "come-back-time", label: "When to come back", kind: "datetime-local",
                                oninput: move |v: String| come_back.set(v) }
                            button {
                                r#type: "button",
                                class: "secondary",
                                id: "come-back-save",
                                disabled: busy(),
                                onclick: {
                                    let id = d.door.id.clone();
                                    move |_| {
                                        if come_back().trim().is_empty() {
                                            nav.error("Give the day and time to come back.");
                                            return;
                                        }
                                        mark((vec![id.clone()], Outcome::ComeBack, true));
                                    }
                                },
                                "Come back then"
                            }
                        }
                    }
                } else {
                    p { class: "card done", role: "status", "Every door on this list has been knocked." }
                }
                if !ticked_now.is_empty() {
                    button {
                        r#type: "button",
                        class: "primary",
                        id: "mark-ticked",
                        disabled: busy(),
                        onclick: move |_| mark((ticked().into_iter().collect(), Outcome::NotHome, false)),
                        "Not home: {ticked_now.len()} ticked doors"
                    }
                }
                h3 { id: "doors-title", "Doors in walking order" }
                ul { class: "doors", "aria-labelledby": "doors-title",
                    for d in doors {
                        DoorLine {
                            key: "{d.door.id}",
                            ticked: ticked_now.contains(&d.door.id),
                            current: current_id.as_deref() == Some(d.door.id.as_str()),
                            door: d.clone(),
                            ontick: move |(id, on): (String, bool)| {
                                let mut t = ticked();
                                if on { t.insert(id); } else { t.remove(&id); }
                                ticked.set(t);
                            },
                            onopen: move |id: String| {
                                answered.set(None);
                                opened.set(Some(id));
                            },
                        }
                    }
                }
                if let Some(panel) = lead.clone() {
                    super::EraseSection {
                        what: super::Erasable::WalkList,
                        alone,
                        id: v.list.id.clone(),
                        name: v.list.name.clone(),
                        panel,
                        asked: erasure,
                    }
                }
            }
        }
    };
    rsx! {
        section { class: "walk", "aria-labelledby": "walk-title",
            {body}
        }
    }
}

/// One door in the list: a tick box (for marking several "not home"), its address and status;
/// tapping the address opens it in the top card.
#[component]
fn DoorLine(
    door: DoorView,
    ticked: bool,
    current: bool,
    ontick: EventHandler<(String, bool)>,
    onopen: EventHandler<String>,
) -> Element {
    let id = door.door.id.clone();
    let status = if door.do_not_knock {
        "Do not knock".to_string()
    } else {
        door.status.map_or_else(
            || "Not knocked".to_string(),
            |s| outcome_text(s).to_string(),
        )
    };
    let tick_id = format!("tick-{id}");
    let open_id = id.clone();
    let where_ = match (door.entrance.as_str(), door.floor) {
        ("", None) => String::new(),
        ("", Some(f)) => floor_text(f),
        (e, None) => e.to_string(),
        (e, Some(f)) => format!("{e}, {}", floor_text(f)),
    };
    rsx! {
        li { class: if current { "door current" } else { "door" },
            input {
                r#type: "checkbox",
                id: "{tick_id}",
                checked: ticked,
                disabled: door.do_not_knock,
                "aria-label": "Tick {door.door.address} to mark it with others",
                onchange: move |e: FormEvent| ontick.call((id.clone(), e.checked())),
            }
            button {
                r#type: "button",
                class: "door-open",
                "aria-current": if current { "true" },
                onclick: move |_| onopen.call(open_id.clone()),
                span { class: "door-address", "{door.door.address}" }
                if !where_.is_empty() {
                    span { class: "muted door-where", "{where_}" }
                }
                span { class: if door.status.is_some() || door.do_not_knock { "door-status marked" } else { "door-status" }, "{status}" }
            }
        }
    }
}

fn floor_text(f: i64) -> String {
    match f {
        0 => "ground floor".to_string(),
        -1 => "basement".to_string(),
        n => format!("floor {n}"),
    }
}

/// After "answered": who answered (one of the list's residents, or a name typed), then the
/// record form for them, their address taken from the door.
#[component]
fn WhoAnswered(door: DoorView, ondone: EventHandler<()>) -> Element {
    let services = use_context::<Services>();
    let nav = use_context::<Nav>();
    let mut typed = use_signal(String::new);
    // The walk list: a conversation recorded from here returns to its next door.
    let list = door.door.walklist_id.clone();
    // A person being added: a second tap (the store worker busy with a sync, say) adds no
    // second person.
    let mut adding = use_signal(|| false);
    // The residents' buttons take the outcome buttons' places: the second tap of a double tap
    // on "Answered" would choose one. They take no tap for a moment.
    let shown_at = use_hook(Moment::now);
    let address = door.door.address.clone();
    let area = door.door.street.clone();
    // People already in the notebook at this address: answering again opens their file's
    // record form, not a second person of the same name.
    let store = services.store.clone();
    let at = address.clone();
    let known = use_resource(move || {
        let store = store.clone();
        let at = at.clone();
        async move {
            store.people(&at, 50).await.map(|people| {
                people
                    .into_iter()
                    .filter(|p| p.address.as_deref() == Some(at.as_str()))
                    .collect::<Vec<_>>()
            })
        }
    });
    let known_now: Vec<groundwork::model::Person> = match &*known.read() {
        Some(Ok(p)) => p.clone(),
        _ => Vec::new(),
    };
    let here = known_now.clone();
    let record = use_callback(move |name: String| {
        if *adding.peek() {
            return;
        }
        if name.trim().is_empty() {
            nav.error("Give the name of who answered (or skip).");
            return;
        }
        let same = |p: &&groundwork::model::Person| {
            p.name
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_lowercase()
                == name
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
                    .to_lowercase()
        };
        if let Some(p) = here.iter().find(same) {
            ondone.call(());
            let mut back = nav.after_record;
            back.set(Some((p.id.clone(), Screen::Walk(list.clone()))));
            nav.go(Screen::Record(p.id.clone()));
            return;
        }
        let mut new = NewPerson::named(name).put(PersonField::Address, address.clone());
        if let Some(a) = &area {
            new = new.put(PersonField::Area, a.clone());
        }
        let store = services.store.clone();
        let list = list.clone();
        adding.set(true);
        spawn(async move {
            match store.create(Request::AddPerson(new)).await {
                Ok(id) => {
                    ondone.call(());
                    let mut back = nav.after_record;
                    back.set(Some((id.clone(), Screen::Walk(list))));
                    nav.go(Screen::Record(id));
                }
                Err(e) => {
                    nav.error(e.to_string());
                    adding.set(false);
                }
            }
        });
    });
    // The notebook's people at this address, then the list's residents not among them.
    let mut names: Vec<String> = known_now.iter().map(|p| p.name.clone()).collect();
    for r in &door.residents {
        if !names.iter().any(|n| n.eq_ignore_ascii_case(&r.name)) {
            names.push(r.name.clone());
        }
    }
    rsx! {
        section { class: "card door-card", "aria-labelledby": "answered-title",
            h3 { id: "answered-title", "Who answered at {door.door.address}?" }
            div { class: "outcomes", role: "group", "aria-label": "Residents",
                for name in names {
                    button {
                        key: "{name}",
                        r#type: "button",
                        class: "outcome",
                        "data-resident": "{name}",
                        disabled: adding(),
                        onclick: {
                            let name = name.clone();
                            move |_| {
                                if shown_at.elapsed_ms() >= SETTLE_MS {
                                    record(name.clone());
                                }
                            }
                        },
                        "{name}"
                    }
                }
            }
            TextField { id: "answered-name", label: "Someone else: their name", oninput: move |v: String| typed.set(v) }
            button { r#type: "button", class: "primary", id: "answered-record", disabled: adding(), onclick: move |_| record(typed()), "Record the conversation" }
            button { r#type: "button", class: "secondary", id: "answered-skip", onclick: move |_| ondone.call(()), "Skip: next door" }
        }
    }
}

/// "1 conversation", "3 conversations".
fn conversations(n: usize) -> String {
    if n == 1 {
        "1 conversation".to_string()
    } else {
        format!("{n} conversations")
    }
}
