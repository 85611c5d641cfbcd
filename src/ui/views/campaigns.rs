//! Campaigns with progress bars: commitments kept against commitments made, each target against
//! the commitments kept for it, with what it counts and why (given the target when it was
//! recorded or corrected, or, given none, its words are the target's label), and a small chart
//! of the last shifts. A campaign's name, issue and targets are corrected in place (and, on a
//! team lead's device, the campaign deleted from the team); a new campaign can have several
//! targets.

use std::collections::BTreeMap;

use dioxus::prelude::*;
use groundwork::model::{Campaign, CampaignPatch, NewCampaign};
use groundwork::report::CountedBy;

use crate::ui::components::{Confirm, ProgressBar, TextField, TrendChart, TrendPoint};
use crate::ui::worker::Request;
use crate::ui::{Nav, Services};

/// The campaign list and the new-campaign form. On a team lead's device (`lead`, the lead's
/// panel) a campaign's Edit form also deletes it from the team.
#[component]
pub fn Campaigns(
    /// On a team lead's device (or in a notebook that has joined no team), the lead's panel.
    #[props(default)]
    lead: Option<crate::ui::sync::TeamPanel>,
    /// The notebook has joined no team: erasing is from this notebook alone.
    #[props(default)]
    alone: bool,
) -> Element {
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
    let rows = use_signal(|| vec![TargetRow::default()]);
    let mut form_gen = use_signal(|| 0u32);
    let mut editing = use_signal(|| None::<String>);
    // The name of the campaign open in its Edit form, as it was when the form opened.
    let mut editing_name = use_signal(String::new);
    // Deleted from its Edit form here: the form closes (and the app says so).
    let erasure = super::use_erasure(lead.as_ref(), move || editing.set(None));
    // The campaign open in its Edit form went from the notebook for another reason (a lead
    // deleted it on another device, or the command line did): the form closes, and saying so
    // keeps what was typed from vanishing without a word.
    let erased_here = lead
        .as_ref()
        .and_then(|p| p.erased.as_ref())
        .map(|e| e.erased.clone());
    use_effect(use_reactive!(|(erased_here, alone)| {
        let Some(open) = editing() else { return };
        let gone = match &*list.read() {
            Some(Ok(l)) => !l.iter().any(|c| c.campaign.id == open),
            _ => false,
        };
        let ours = erased_here.as_deref() == Some(open.as_str())
            || erasure.peek().as_ref().is_some_and(|a| a.id == open);
        if gone && !ours {
            editing.set(None);
            let name = editing_name.peek().clone();
            nav.error(if alone {
                format!("The campaign {name} was deleted from this notebook while you edited it: your changes to it were not saved.")
            } else {
                format!("The campaign {name} was deleted by a team lead while you edited it: your changes to it were not saved.")
            });
        }
    }));
    // A campaign being created: a second tap makes no second campaign.
    let mut creating = use_signal(|| false);

    let create = use_callback(move |()| {
        if *creating.peek() {
            return;
        }
        let targets = match targets_of(&rows()) {
            Ok(t) => t,
            Err(e) => {
                nav.error(e);
                return;
            }
        };
        let issue_text = issue();
        let new = NewCampaign {
            name: name(),
            issue: (!issue_text.trim().is_empty()).then_some(issue_text),
            targets,
        };
        let store = services.store.clone();
        creating.set(true);
        spawn(async move {
            match store.create(Request::AddCampaign(new)).await {
                Ok(_) => {
                    nav.say("Campaign created.");
                    for mut s in [name, issue] {
                        s.set(String::new());
                    }
                    let mut rows = rows;
                    rows.set(vec![TargetRow::default()]);
                    form_gen += 1;
                }
                Err(e) => nav.error(e.to_string()),
            }
            creating.set(false);
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
                        if editing().as_deref() == Some(c.campaign.id.as_str()) {
                            EditCampaign {
                                key: "{c.campaign.id}",
                                campaign: c.campaign.clone(),
                                given: c.targets.iter().map(|t| {
                                    let chosen = t.commitments.iter().filter(|k| k.why == CountedBy::Chosen).count();
                                    (t.label.clone(), chosen)
                                }).collect::<BTreeMap<String, usize>>(),
                                onclose: move |_| editing.set(None),
                                lead: lead.clone(),
                                alone,
                                erasure,
                            }
                        } else {
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
                                if !t.commitments.is_empty() {
                                    details { class: "counted", key: "{t.label}-counted",
                                        summary { "What counts towards {t.label} ({t.commitments.len()})" }
                                        ul { class: "list",
                                            for k in t.commitments.iter() {
                                                li { key: "{k.person_id}-{k.commitment_id}",
                                                    "“{k.what}”"
                                                    if k.kept { " · kept" } else { " · not kept yet" }
                                                    span { class: "muted",
                                                        match k.why {
                                                            CountedBy::Chosen => " · given this target",
                                                            CountedBy::SameWords => " · its words are the target's",
                                                        }
                                                    }
                                                }
                                            }
                                        }
                                    }
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
                            button {
                                r#type: "button",
                                class: "secondary",
                                "aria-label": "Edit campaign {c.campaign.name}",
                                onclick: {
                                    let (id, name) = (c.campaign.id.clone(), c.campaign.name.clone());
                                    move |_| {
                                        editing_name.set(name.clone());
                                        editing.set(Some(id.clone()));
                                    }
                                },
                                "Edit"
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
                    TargetsEditor { prefix: "new", rows }
                    button { r#type: "button", class: "primary", id: "create-campaign", disabled: creating(), onclick: move |_| create(()), "Create campaign" }
                }
                }
            }
        }
    }
}

/// One target row of a form: its label and number as typed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TargetRow {
    /// The label, e.g. "letters signed".
    pub label: String,
    /// The number, as typed.
    pub number: String,
}

/// The targets the rows describe (rows without a label are left out), or what to correct.
pub fn targets_of(rows: &[TargetRow]) -> Result<BTreeMap<String, i64>, String> {
    let mut out = BTreeMap::new();
    for r in rows {
        let label = r.label.trim();
        if label.is_empty() {
            continue;
        }
        if out
            .keys()
            .any(|l: &String| l.to_lowercase() == label.to_lowercase())
        {
            return Err(format!(
                "The target “{label}” is there twice: give each target its own words."
            ));
        }
        match r.number.trim().parse::<i64>() {
            Ok(n) if n >= 1 => {
                out.insert(label.to_string(), n);
            }
            _ => {
                return Err(format!(
                    "Give the target “{label}” a whole number from 1, e.g. 50."
                ));
            }
        }
    }
    Ok(out)
}

/// The target rows of a form, each a label and a number, with "Add a target" and "Remove".
#[component]
fn TargetsEditor(prefix: String, rows: Signal<Vec<TargetRow>>) -> Element {
    let mut rows = rows;
    let start = use_hook(|| rows.peek().clone());
    // Rows are never reordered: a row's index is its identity, and its boxes keep what was
    // typed (they are not bound back).
    let shown = rows.read().len();
    rsx! {
        fieldset { class: "targets-entry",
            legend { "Targets" }
            for i in 0..shown {
                div { key: "{i}", class: "target-row",
                    TextField {
                        id: "{prefix}-target-label-{i}",
                        label: "Target {i + 1}",
                        hint: if i == 0 { Some("what it counts, e.g. letters signed".to_string()) } else { None },
                        initial: start.get(i).map(|r| r.label.clone()).unwrap_or_default(),
                        oninput: move |v: String| {
                            if let Some(r) = rows.write().get_mut(i) {
                                r.label = v;
                            }
                        },
                    }
                    TextField {
                        id: "{prefix}-target-number-{i}",
                        label: "Number aimed for",
                        kind: "number",
                        initial: start.get(i).map(|r| r.number.clone()).unwrap_or_default(),
                        oninput: move |v: String| {
                            if let Some(r) = rows.write().get_mut(i) {
                                r.number = v;
                            }
                        },
                    }
                }
            }
            button {
                r#type: "button",
                class: "secondary",
                id: "{prefix}-add-target",
                onclick: move |_| rows.write().push(TargetRow::default()),
                "Add a target"
            }
        }
    }
}

/// A campaign's name, issue and targets, corrected in place. A target whose label is emptied
/// is dropped; a changed number is set. `given`: how many commitments were given each target;
/// a target renamed or dropped counts them no more, so saving asks first.
#[component]
fn EditCampaign(
    campaign: Campaign,
    given: BTreeMap<String, usize>,
    onclose: EventHandler<()>,
    /// On a team lead's device (or in a notebook that has joined no team), the lead's panel:
    /// the form ends with deleting the campaign.
    lead: Option<crate::ui::sync::TeamPanel>,
    /// The notebook has joined no team.
    alone: bool,
    /// The list's [`super::use_erasure`], which closes the form once the campaign is deleted.
    erasure: Signal<Option<super::Asked>>,
) -> Element {
    let services = use_context::<Services>();
    let nav = use_context::<Nav>();
    // What saving would stop counting, asked about before saving.
    let mut asking = use_signal(|| None::<String>);
    let mut name = use_signal(|| campaign.name.clone());
    let mut issue = use_signal(|| campaign.issue.clone().unwrap_or_default());
    let rows = use_signal(|| {
        campaign
            .targets
            .iter()
            .map(|(l, n)| TargetRow {
                label: l.clone(),
                number: n.to_string(),
            })
            .collect::<Vec<_>>()
    });
    let was = campaign.clone();
    let save = use_callback(move |confirmed: bool| {
        let campaign = &was;
        let targets = match targets_of(&rows()) {
            Ok(t) => t,
            Err(e) => {
                nav.error(e);
                return;
            }
        };
        let uncounted: Vec<String> = campaign
            .targets
            .keys()
            .filter(|l| !targets.contains_key(*l))
            .filter_map(|l| {
                let n = given.get(l).copied().unwrap_or(0);
                (n > 0).then(|| format!("“{l}” ({n})"))
            })
            .collect();
        if !uncounted.is_empty() && !confirmed {
            asking.set(Some(format!(
                "Commitments were given {} as their target: renamed or removed, it counts them no more (they show under other asks; each can be given the new target with Correct on its person's file). Save anyway?",
                uncounted.join(" and ")
            )));
            return;
        }
        asking.set(None);
        let patch = CampaignPatch {
            name: Some(name()).filter(|n| *n != campaign.name),
            issue: Some(issue()).filter(|i| i.trim() != campaign.issue.as_deref().unwrap_or("")),
            set_targets: targets
                .iter()
                .filter(|(l, n)| campaign.targets.get(*l) != Some(n))
                .map(|(l, n)| (l.clone(), *n))
                .collect(),
            drop_targets: campaign
                .targets
                .keys()
                .filter(|l| !targets.contains_key(*l))
                .cloned()
                .collect(),
        };
        let store = services.store.clone();
        let id = campaign.id.clone();
        spawn(async move {
            match store.run(Request::EditCampaign(id, patch)).await {
                Ok(()) => {
                    onclose.call(());
                    nav.say("Campaign saved.");
                }
                Err(e) => nav.error(e.to_string()),
            }
        });
    });
    rsx! {
        section { class: "card campaign edit-campaign", "aria-labelledby": "edit-campaign-title",
            h3 { id: "edit-campaign-title", "Edit {campaign.name}" }
            TextField { id: "edit-campaign-name", label: "Name", initial: campaign.name.clone(),
                oninput: move |v: String| name.set(v) }
            TextField { id: "edit-campaign-issue", label: "Issue", initial: campaign.issue.clone().unwrap_or_default(),
                oninput: move |v: String| issue.set(v) }
            TargetsEditor { prefix: "edit", rows }
            p { class: "muted", "Empty a target's name to drop it." }
            if let Some(question) = asking() {
                Confirm {
                    id: "campaign-uncount",
                    question,
                    yes: "Save anyway",
                    no: "Keep editing",
                    onyes: move |_| save.call(true),
                    onno: move |_| asking.set(None),
                }
            }
            div { class: "edit-actions",
                button { r#type: "button", class: "secondary", id: "cancel-campaign", onclick: move |_| onclose.call(()), "Cancel" }
                button { r#type: "button", class: "primary", id: "save-campaign", onclick: move |_| save.call(false), "Save campaign" }
            }
            if let Some(panel) = lead {
                super::EraseSection {
                    what: super::Erasable::Campaign,
                    alone,
                    id: campaign.id.clone(),
                    name: campaign.name.clone(),
                    panel,
                    asked: erasure,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_rows_need_a_whole_number_and_blank_rows_are_left_out() {
        let row = |l: &str, n: &str| TargetRow {
            label: l.into(),
            number: n.into(),
        };
        assert_eq!(
            targets_of(&[
                row("letters signed", "50"),
                row(" ", ""),
                row("at the delivery", "100")
            ]),
            Ok([
                ("letters signed".to_string(), 50),
                ("at the delivery".to_string(), 100)
            ]
            .into())
        );
        assert!(targets_of(&[row("letters signed", "lots")]).is_err());
        assert!(targets_of(&[row("letters signed", "-1")]).is_err());
        assert!(targets_of(&[row("letters signed", "0")]).is_err());
        // Twice, or twice but for capitals: which one an edit changed would be anyone's guess.
        for twice in [
            [row("pledges", "10"), row("pledges", "20")],
            [row("letters signed", "50"), row("Letters Signed", "20")],
        ] {
            assert!(
                targets_of(&twice).unwrap_err().contains("is there twice"),
                "{twice:?}"
            );
        }
    }
}
