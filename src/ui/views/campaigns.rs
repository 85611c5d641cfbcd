//! Campaigns with progress bars: commitments kept against commitments made, each target against
//! the commitments kept for it (a commitment counts when its words are the target's label), and
//! a small chart of the last shifts. Also a short form to create a campaign.

use std::collections::BTreeMap;

use dioxus::prelude::*;
use groundwork::model::NewCampaign;

use crate::ui::components::{ProgressBar, TextField, TrendChart, TrendPoint};
use crate::ui::worker::Request;
use crate::ui::{Nav, Services};

/// The campaign list and the new-campaign form.
#[component]
pub fn Campaigns() -> Element {
    let services = use_context::<Services>();
    let nav = use_context::<Nav>();
    let store = services.store.clone();
    let list = use_resource(move || {
        let store = store.clone();
        let _ = (nav.revision)();
        async move { store.campaigns().await }
    });
    let mut name = use_signal(String::new);
    let mut issue = use_signal(String::new);
    let mut target_label = use_signal(String::new);
    let mut target_number = use_signal(String::new);
    let mut form_gen = use_signal(|| 0u32);

    let create = use_callback(move |()| {
        let mut targets = BTreeMap::new();
        let label = target_label().trim().to_string();
        if !label.is_empty() {
            match target_number().trim().parse::<i64>() {
                Ok(n) if n >= 0 => {
                    targets.insert(label, n);
                }
                _ => {
                    nav.error("Give the target as a whole number, e.g. 50.");
                    return;
                }
            }
        }
        let issue_text = issue();
        let new = NewCampaign {
            name: name(),
            issue: (!issue_text.trim().is_empty()).then_some(issue_text),
            targets,
        };
        let store = services.store.clone();
        spawn(async move {
            match store.create(Request::AddCampaign(new)).await {
                Ok(_) => {
                    nav.say("Campaign created.");
                    for mut s in [name, issue, target_label, target_number] {
                        s.set(String::new());
                    }
                    form_gen += 1;
                }
                Err(e) => nav.error(e.to_string()),
            }
        });
    });

    rsx! {
        section { class: "campaigns", "aria-labelledby": "campaigns-title",
            h2 { id: "campaigns-title", "Campaigns" }
            match &*list.read() {
                None => rsx! { p { class: "empty", "Loading…" } },
                Some(Err(e)) => rsx! { p { class: "empty", role: "alert", "{e}" } },
                Some(Ok(l)) if l.is_empty() => rsx! { p { class: "empty", "No campaigns yet." } },
                Some(Ok(l)) => rsx! {
                    for c in l.iter() {
                        article { class: "card campaign", key: "{c.campaign.id}",
                            h3 { "{c.campaign.name}" }
                            if let Some(i) = &c.campaign.issue {
                                p { class: "muted", "Issue: {i}" }
                            }
                            ProgressBar { label: "Commitments kept", value: c.kept, max: c.made }
                            for t in c.targets.iter() {
                                ProgressBar {
                                    key: "{t.label}",
                                    label: "{t.label}: kept ({t.made} made)",
                                    value: t.kept as u64,
                                    max: t.target.max(0) as u64,
                                }
                            }
                            if !c.trend.is_empty() {
                                TrendChart {
                                    title: "Made and kept, last shifts",
                                    points: c
                                        .trend
                                        .iter()
                                        .map(|p| TrendPoint {
                                            label: format!("{} {}", p.place, p.started_at.get(..10).unwrap_or("")),
                                            made: p.made as u64,
                                            kept: p.kept as u64,
                                        })
                                        .collect::<Vec<_>>(),
                                }
                            }
                        }
                    }
                },
            }
            details { class: "new-campaign",
                summary { "New campaign" }
                // A one-item keyed list: a new key is a new, empty form.
                for n in [form_gen()] {
                div { key: "{n}",
                    TextField { id: "campaign-name", label: "Name", oninput: move |v: String| name.set(v) }
                    TextField { id: "campaign-issue", label: "Issue", oninput: move |v: String| issue.set(v) }
                    TextField { id: "target-label", label: "Target", hint: "the ask, e.g. sign the letter",
                        oninput: move |v: String| target_label.set(v) }
                    TextField { id: "target-number", label: "Target number", kind: "number",
                        oninput: move |v: String| target_number.set(v) }
                    button { r#type: "button", class: "primary", onclick: move |_| create(()), "Create campaign" }
                }
                }
            }
        }
    }
}
