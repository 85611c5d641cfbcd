//! Starting and ending a shift: where, for which campaign, on which walk list; the shift groups
//! the conversations recorded and the doors marked while it is open. The walk lists, each
//! opening its Walk screen. Below, the report of the open or latest shift (after a sync it
//! covers the whole team's conversations in it).

use dioxus::prelude::*;
use groundwork::words::{count, plural};

use groundwork::report;

use super::record::ConversationDraft;
use super::show_time;
use crate::ui::components::{Chip, Chips, TextField};
use crate::ui::worker::Request;
use crate::ui::{Nav, Screen, Services};

/// The shift screen. `devices` is the team's devices with their last sync, when the relay has
/// told (after a successful sync).
#[component]
pub fn ShiftView(
    devices: Option<Vec<report::DeviceSync>>,
    /// This device is a team lead's.
    #[props(default)]
    lead: bool,
) -> Element {
    let services = use_context::<Services>();
    let nav = use_context::<Nav>();
    let store = services.store.clone();
    let campaigns = use_resource(move || {
        let store = store.clone();
        let _ = (nav.revision)();
        // Names only: progress would read every conversation at each change.
        async move { store.campaign_list().await }
    });
    let mut chosen = use_signal(|| None::<String>);
    let mut from = use_signal(String::new);
    let mut to = use_signal(String::new);
    // A date range, once both days are given and valid, replaces the shift's report.
    let mut range = use_signal(|| None::<(chrono::NaiveDate, chrono::NaiveDate)>);
    let store = services.store.clone();
    let last = use_resource(move || {
        let store = store.clone();
        let _ = (nav.revision)();
        let id = chosen();
        let dates = range();
        async move {
            match dates {
                Some((f, t)) => store.range_report(f, t).await.map(Some),
                None => store.shift_report(id).await,
            }
        }
    });
    let store = services.store.clone();
    let recent = use_resource(move || {
        let store = store.clone();
        let _ = (nav.revision)();
        async move { store.shifts().await }
    });
    let store = services.store.clone();
    let walklists = use_resource(move || {
        let store = store.clone();
        let _ = (nav.revision)();
        async move { store.walklists().await }
    });
    let mut place = use_signal(String::new);
    let mut campaign = use_signal(|| None::<String>);
    let mut walklist = use_signal(|| None::<String>);
    let mut busy = use_signal(|| false);
    let ov = (nav.overview)();

    let store = services.store.clone();
    let start = move |_| {
        let p = place();
        if p.trim().is_empty() && walklist().is_none() {
            nav.error(
                "Say where the shift is, e.g. “Elm Road odd numbers”, or choose a walk list.",
            );
            return;
        }
        let store = store.clone();
        busy.set(true);
        spawn(async move {
            let r = store
                .create(Request::StartShift {
                    place: p,
                    campaign_id: campaign(),
                    walklist_id: walklist(),
                })
                .await;
            match r {
                Ok(_) => {
                    // A shift on a walk list starts at its first door; another at People.
                    match walklist() {
                        Some(id) => nav.go(Screen::Walk(id)),
                        None => nav.go(Screen::People),
                    }
                    nav.say("Shift started.");
                }
                Err(e) => nav.error(e.to_string()),
            }
            busy.set(false);
        });
    };
    let end = move |_| {
        let store = services.store.clone();
        let ended = nav.overview.peek().shift.as_ref().map(|s| s.id.clone());
        busy.set(true);
        spawn(async move {
            match store.create(Request::EndShift).await {
                Ok(_) => {
                    // Conversations begun in the shift and not yet saved still count towards
                    // it once saved (their drafts name it): say so, lest they be forgotten.
                    let mut waiting = 0;
                    let keys = store.draft_keys(super::drafts::CONVERSATION_PREFIX).await;
                    for key in keys.unwrap_or_default() {
                        let begun_in = store
                            .draft(&key)
                            .await
                            .ok()
                            .flatten()
                            .and_then(|b| serde_json::from_str::<ConversationDraft>(&b).ok())
                            .and_then(|d| d.shift_id);
                        if begun_in.is_some() && begun_in == ended {
                            waiting += 1;
                        }
                    }
                    nav.say(match waiting {
                        0 => "Shift ended. Well done.".to_string(),
                        1 => "Shift ended. One conversation is not saved yet: it counts towards \
                              this shift once saved (People marks who it is with)."
                            .to_string(),
                        n => format!(
                            "Shift ended. {n} conversations are not saved yet: they count towards \
                             this shift once saved (People marks who they are with)."
                        ),
                    });
                }
                Err(e) => nav.error(e.to_string()),
            }
            busy.set(false);
        });
    };

    let lists: Vec<groundwork::store::walklists::WalkListSummary> = match &*walklists.read() {
        Some(Ok(l)) => l.clone(),
        _ => Vec::new(),
    };
    let list_chips: Vec<Chip> = lists
        .iter()
        .map(|l| Chip {
            value: l.list.id.clone(),
            text: l.list.name.clone(),
        })
        .collect();
    let chips: Vec<Chip> = match &*campaigns.read() {
        Some(Ok(l)) => l
            .iter()
            .map(|c| Chip {
                value: c.id.clone(),
                text: c.name.clone(),
            })
            .collect(),
        _ => Vec::new(),
    };

    rsx! {
        section { class: "shift", "aria-labelledby": "shift-title",
            h2 { id: "shift-title", "Shift" }
            match &ov.canvasser {
                Some(n) => rsx! { p { class: "muted", "Canvassing as {n}" } },
                None => rsx! { p { class: "muted", "Canvassing with no name given: add yours in Settings." } },
            }
            if let Some(s) = ov.shift {
                div { class: "card",
                    p { strong { "{s.place}" } }
                    p { class: "muted", "Started {show_time(&s.started_at)}" }
                }
                if let Some(id) = s.walklist_id.clone() {
                    button { r#type: "button", class: "primary", id: "open-walk",
                        onclick: move |_| nav.go(Screen::Walk(id.clone())), "Walk list: next door" }
                }
                button { r#type: "button", class: "primary", id: "end-shift", disabled: busy(), onclick: end, "End shift" }
            } else {
                TextField {
                    id: "shift-place",
                    label: "Where",
                    hint: "e.g. Uni staff canteen breakfast, Elm Road odd numbers",
                    oninput: move |v: String| place.set(v),
                }
                if !chips.is_empty() {
                    Chips {
                        label: "Campaign",
                        chips,
                        selected: campaign().into_iter().collect::<Vec<_>>(),
                        ontoggle: move |v: String| {
                            let now = if campaign() == Some(v.clone()) { None } else { Some(v) };
                            campaign.set(now);
                        },
                    }
                }
                if !list_chips.is_empty() {
                    Chips {
                        label: "Walk list",
                        chips: list_chips,
                        selected: walklist().into_iter().collect::<Vec<_>>(),
                        ontoggle: move |v: String| {
                            let now = if walklist() == Some(v.clone()) { None } else { Some(v) };
                            walklist.set(now);
                        },
                    }
                }
                button { r#type: "button", class: "primary", id: "start-shift", disabled: busy(), onclick: start, "Start shift" }
            }
            if !lists.is_empty() {
                h3 { id: "walklists-title", "Walk lists" }
                ul { class: "list", "aria-labelledby": "walklists-title",
                    for l in lists.iter() {
                        li { key: "{l.list.id}",
                            button { r#type: "button", class: "secondary walklist-open",
                                onclick: {
                                    let id = l.list.id.clone();
                                    move |_| nav.go(Screen::Walk(id.clone()))
                                },
                                "{l.list.name}: {l.progress.knocked} of {l.progress.total} knocked"
                            }
                        }
                    }
                }
            }
            if let Some(Ok(list)) = &*recent.read()
                && list.len() > 1
            {
                Chips {
                    label: "Report for",
                    chips: list
                        .iter()
                        .take(6)
                        .map(|sh| Chip {
                            value: sh.id.clone(),
                            text: format!("{} · {}", sh.place, show_time(&sh.started_at)),
                        })
                        .collect::<Vec<_>>(),
                    selected: chosen().into_iter().collect::<Vec<_>>(),
                    ontoggle: move |v: String| {
                        let now = if chosen() == Some(v.clone()) { None } else { Some(v) };
                        range.set(None);
                        chosen.set(now);
                    },
                }
            }
            details { class: "report-range",
                summary { "Report for other days" }
                TextField { id: "report-from", label: "From", kind: "date", oninput: move |v: String| from.set(v) }
                TextField { id: "report-to", label: "To", kind: "date", oninput: move |v: String| to.set(v) }
                button {
                    r#type: "button",
                    id: "report-range",
                    onclick: move |_| {
                        match (groundwork::model::parse_date(&from()), groundwork::model::parse_date(&to())) {
                            (Ok(f), Ok(t)) if f <= t => range.set(Some((f, t))),
                            _ => nav.error("Give both days, the first on or before the last."),
                        }
                    },
                    "Show report"
                }
            }
            match &*last.read() {
                Some(Ok(Some(r))) => rsx! { ShiftReportCard { report: r.clone(), devices: devices.clone(), lead } },
                // A report that could not be made says why, not nothing.
                Some(Err(e)) => rsx! { p { class: "empty error", role: "alert", id: "report-error", "The report could not be made: {e}" } },
                _ => rsx! {},
            }
            super::export::ExportCard {}
        }
    }
}

/// Devices with their last sync, one a line.
#[component]
fn LastSyncs(list: Vec<report::DeviceSync>) -> Element {
    rsx! {
        ul { class: "list",
            for d in list {
                li { key: "{d.name}",
                    strong { "{d.name}" }
                    " · last sync: "
                    {d.last_sync.as_deref().map(show_time).unwrap_or_else(|| "never".to_string())}
                }
            }
        }
    }
}

/// What the shift produced: the team's numbers, then each canvasser's.
#[component]
fn ShiftReportCard(
    report: report::ShiftReport,
    devices: Option<Vec<report::DeviceSync>>,
    /// This device is a team lead's (only a lead's device is told the team's devices).
    lead: bool,
) -> Element {
    let t = &report.team;
    // While the shift is open (or the last day is not over) no device has synced since its
    // end: each device's last sync is listed instead.
    let open = report.open;
    let stale = devices.map(|d| {
        if open {
            d
        } else {
            report::stale_devices(&d, report.until.as_deref())
        }
    });
    let ended_words = if report.shift.is_some() {
        "the shift ended"
    } else {
        "the last day ended"
    };
    let kinds = t
        .by_kind
        .iter()
        .map(|(k, n)| format!("{} {n}", k.replace('-', " ")))
        .collect::<Vec<_>>()
        .join(", ");
    let issues = t
        .issues
        .iter()
        .take(5)
        .map(|i| format!("{} ({})", i.issue, i.people))
        .collect::<Vec<_>>()
        .join(", ");
    rsx! {
        section { class: "card shift-report", "aria-labelledby": "shift-report-title",
            h3 { id: "shift-report-title", "Report: {report.scope}" }
            dl { class: "facts",
                dt { "Conversations" }
                dd { "{t.conversations}" if !kinds.is_empty() { " ({kinds})" } }
                dt { "People met" }
                dd { "{t.people_met} ({t.new_people} new, {t.returning_people} returning)" }
                if let (Some(b), Some(a)) = (t.engagement.before, t.engagement.after) {
                    dt { "Engagement" }
                    dd { "{b:.1} → {a:.1} for {t.engagement.people} returning" }
                }
                dt { "Commitments" }
                dd { "{t.commitments_made} made, {t.commitments_kept} kept, {t.commitments_broken} broken" }
                dt { "Top issues" }
                dd { if issues.is_empty() { "none yet" } else { "{issues}" } }
                dt { "Follow-ups due" }
                dd { "{t.follow_ups_due}" }
                if t.doors.visits > 0 {
                    dt { "Doors" }
                    dd { {door_line(&t.doors)} }
                }
            }
            match stale {
                None if !lead => rsx! { p { class: "muted", "Devices: which of the team's devices have synced is shown on a team lead's device." } },
                None => rsx! { p { class: "muted", "Devices: shown after a sync with the team's relay." } },
                Some(list) if open => rsx! {
                    h4 { id: "report-still-open",
                        if report.shift.is_some() { "Still open: each device's last sync" } else { "The last day is not over: each device's last sync" }
                    }
                    p { class: "muted", "What was recorded after a device's last sync is not in this report yet." }
                    LastSyncs { list }
                },
                Some(list) if list.is_empty() => rsx! { p { class: "muted", "Every device has synced since {ended_words}." } },
                Some(list) => rsx! {
                    h4 { "Not synced since {ended_words}" }
                    LastSyncs { list }
                },
            }
            if report.canvassers.len() > 1 {
                h4 { "By canvasser" }
                ul { class: "list",
                    for (name, c) in report.canvassers.iter() {
                        li { key: "{name}",
                            strong { "{name}" }
                            " · {canvasser_line(c)}"
                        }
                    }
                }
            }
        }
    }
}

/// One canvasser's numbers in words: "1 conversation, 1 person, 2 commitments (1 kept)".
fn canvasser_line(t: &report::Tally) -> String {
    let doors = if t.doors.visits > 0 {
        format!("; doors: {}", door_line(&t.doors))
    } else {
        String::new()
    };
    format!(
        "{}, {}, {} ({} kept){doors}",
        count(t.conversations, "conversation"),
        plural(t.people_met as u64, "person", "people"),
        count(t.commitments_made, "commitment"),
        t.commitments_kept
    )
}

/// Door figures in words: "12 knocked, 4 answered (33%)".
fn door_line(d: &report::DoorTally) -> String {
    let rate = d
        .contact_rate
        .map(|r| format!(" ({:.0}%)", r * 100.0))
        .unwrap_or_default();
    format!("{} knocked, {} answered{rate}", d.knocked, d.answered)
}
