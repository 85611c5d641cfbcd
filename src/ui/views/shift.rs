//! Starting and ending a shift: where, for which campaign; the shift groups the conversations
//! recorded while it is open. Below, the report of the open or latest shift (after a sync it
//! covers the whole team's conversations in it).

use dioxus::prelude::*;

use groundwork::report;

use super::show_time;
use crate::ui::components::{Chip, Chips, TextField};
use crate::ui::worker::Request;
use crate::ui::{Nav, Screen, Services};

/// The shift screen.
#[component]
pub fn ShiftView() -> Element {
    let services = use_context::<Services>();
    let nav = use_context::<Nav>();
    let store = services.store.clone();
    let campaigns = use_resource(move || {
        let store = store.clone();
        let _ = (nav.revision)();
        async move { store.campaigns().await }
    });
    let store = services.store.clone();
    let last = use_resource(move || {
        let store = store.clone();
        let _ = (nav.revision)();
        async move { store.last_shift_report().await }
    });
    let mut place = use_signal(String::new);
    let mut campaign = use_signal(|| None::<String>);
    let mut busy = use_signal(|| false);
    let ov = (nav.overview)();

    let store = services.store.clone();
    let start = move |_| {
        let p = place();
        if p.trim().is_empty() {
            nav.error("Say where the shift is, e.g. “Elm Road odd numbers”.");
            return;
        }
        let store = store.clone();
        busy.set(true);
        spawn(async move {
            let r = store
                .create(Request::StartShift {
                    place: p,
                    campaign_id: campaign(),
                })
                .await;
            match r {
                Ok(_) => {
                    nav.go(Screen::People);
                    nav.say("Shift started.");
                }
                Err(e) => nav.error(e.to_string()),
            }
            busy.set(false);
        });
    };
    let end = move |_| {
        let store = services.store.clone();
        busy.set(true);
        spawn(async move {
            match store.create(Request::EndShift).await {
                Ok(_) => nav.say("Shift ended. Well done."),
                Err(e) => nav.error(e.to_string()),
            }
            busy.set(false);
        });
    };

    let chips: Vec<Chip> = match &*campaigns.read() {
        Some(Ok(l)) => l
            .iter()
            .map(|c| Chip {
                value: c.campaign.id.clone(),
                text: c.campaign.name.clone(),
            })
            .collect(),
        _ => Vec::new(),
    };

    rsx! {
        section { class: "shift", "aria-labelledby": "shift-title",
            h2 { id: "shift-title", "Shift" }
            p { class: "muted", "Canvassing as {ov.canvasser}" }
            if let Some(s) = ov.shift {
                div { class: "card",
                    p { strong { "{s.place}" } }
                    p { class: "muted", "Started {show_time(&s.started_at)}" }
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
                button { r#type: "button", class: "primary", id: "start-shift", disabled: busy(), onclick: start, "Start shift" }
            }
            if let Some(Ok(Some(r))) = &*last.read() {
                ShiftReportCard { report: r.clone() }
            }
        }
    }
}

/// What the shift produced: the team's numbers, then each canvasser's.
#[component]
fn ShiftReportCard(report: report::ShiftReport) -> Element {
    let t = &report.team;
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
            }
            if report.canvassers.len() > 1 {
                h4 { "By canvasser" }
                ul { class: "list",
                    for (name, c) in report.canvassers.iter() {
                        li { key: "{name}",
                            strong { "{name}" }
                            " · {c.conversations} conversations, {c.people_met} people, {c.commitments_made} commitments ({c.commitments_kept} kept)"
                        }
                    }
                }
            }
        }
    }
}
