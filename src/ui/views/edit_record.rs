//! Correcting a saved conversation or commitment on the person's file, through the forms
//! generated from their declarations (see [`super::record_form`]): a conversation's every
//! field (when it happened, kind, canvasser, issues, engagement, follow-up, story, notes), a
//! commitment's words, due date, campaign and target. Saving sends only what changed; an
//! emptied date is cleared; "Cancel" asks first when something was changed.

use std::collections::BTreeMap;

use dioxus::dioxus_core::spawn_forever;
use dioxus::prelude::*;
use groundwork::fields::{FieldName, Patch, Value};
use groundwork::model::{Commitment, CommitmentField, Conversation, ConversationField};

use super::record_form::{FormValues, RecordFields, editable_specs};
use crate::ui::components::Confirm;
use crate::ui::worker::Request;
use crate::ui::{Nav, OnScreen, Services, use_on_screen};

/// Send `request` (a correction) and close the form, or say what went wrong; `form` is the
/// form's own [`OnScreen`].
fn save(
    services: &Services,
    nav: Nav,
    request: Option<Request>,
    onclose: EventHandler<()>,
    form: OnScreen,
) {
    let Some(request) = request else {
        onclose.call(());
        nav.say("Nothing changed.");
        return;
    };
    let store = services.store.clone();
    // The form closes when the change arrives: the task must outlive it.
    spawn_forever(async move {
        match store.run(request).await {
            Ok(()) => {
                // The person's file may have been left meanwhile: then there is no form to
                // close.
                if form.still() {
                    onclose.call(());
                }
                nav.say("Correction saved.");
            }
            Err(e) => nav.error(e.to_string()),
        }
    });
}

/// The buttons under a correction form, with the question "Cancel" asks when something was
/// changed.
#[component]
fn Actions(
    id: String,
    what: String,
    dirty: bool,
    onsave: EventHandler<()>,
    onclose: EventHandler<()>,
) -> Element {
    let mut confirming = use_signal(|| false);
    rsx! {
        if confirming() {
            Confirm {
                id: "discard-{id}",
                question: "Throw away your changes to this {what}?",
                yes: "Discard changes",
                no: "Keep editing",
                onyes: move |_| onclose.call(()),
                onno: move |_| confirming.set(false),
            }
        }
        div { class: "edit-actions",
            button {
                r#type: "button",
                class: "secondary",
                id: "cancel-{id}",
                onclick: move |_| if dirty { confirming.set(true) } else { onclose.call(()) },
                "Cancel"
            }
            button {
                r#type: "button",
                class: "primary",
                id: "save-{id}",
                onclick: move |_| onsave.call(()),
                "Save correction"
            }
        }
    }
}

/// The correction form of `conversation`.
#[component]
pub fn EditConversation(conversation: Conversation, onclose: EventHandler<()>) -> Element {
    let services = use_context::<Services>();
    let nav = use_context::<Nav>();
    let on_screen = use_on_screen();
    let before = use_hook(|| FormValues::of(&conversation));
    let start = before.clone();
    let form = use_signal(|| start.clone());
    let entries = use_signal(BTreeMap::<String, String>::new);
    let id = conversation.id.clone();
    let person = conversation.person_id.clone();
    let dirty_before = before.clone();
    let dirty =
        *form.read() != dirty_before || entries.read().values().any(|t| !t.trim().is_empty());
    let onsave = move |()| {
        let f = form().with_entries::<ConversationField>(&entries());
        let patch: Patch<ConversationField> = f.patch_from(&before);
        let request = (!patch.is_empty()).then(|| Request::EditConversation {
            person: person.clone(),
            id: id.clone(),
            patch,
        });
        save(&services, nav, request, onclose, on_screen);
    };
    rsx! {
        section { class: "card edit-record", "aria-labelledby": "edit-conv-title",
            h3 { id: "edit-conv-title", "Correct this conversation" }
            RecordFields {
                prefix: "conv",
                fields: editable_specs::<ConversationField>(),
                start,
                form,
                entries,
                start_entries: BTreeMap::new(),
                onchange: move |()| {},
            }
            Actions { id: "conversation", what: "conversation", dirty, onsave, onclose }
        }
    }
}

/// A campaign the commitment can count towards, with its target labels.
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignChoice {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Target labels.
    pub targets: Vec<String>,
}

/// The correction form of `commitment`: words and due date from the declaration; campaign
/// and target chosen from `campaigns`.
#[component]
pub fn EditCommitment(
    commitment: Commitment,
    campaigns: Vec<CampaignChoice>,
    onclose: EventHandler<()>,
) -> Element {
    let services = use_context::<Services>();
    let nav = use_context::<Nav>();
    let on_screen = use_on_screen();
    let before = use_hook(|| FormValues::of(&commitment));
    let start = before.clone();
    let form = use_signal(|| start.clone());
    let entries = use_signal(BTreeMap::<String, String>::new);
    let mut campaign = use_signal(|| commitment.campaign_id.clone().unwrap_or_default());
    let mut target = use_signal(|| commitment.target.clone().unwrap_or_default());
    let id = commitment.id.clone();
    let person = commitment.person_id.clone();
    let was_campaign = commitment.campaign_id.clone().unwrap_or_default();
    let was_target = commitment.target.clone().unwrap_or_default();
    let dirty = *form.read() != before || campaign() != was_campaign || target() != was_target;
    let specs = editable_specs::<CommitmentField>()
        .into_iter()
        .filter(|s| {
            ![CommitmentField::CampaignId, CommitmentField::Target]
                .iter()
                .any(|f| f.name() == s.name)
        })
        .collect::<Vec<_>>();
    let targets: Vec<String> = campaigns
        .iter()
        .find(|c| c.id == campaign())
        .map(|c| c.targets.clone())
        .unwrap_or_default();
    let onsave = move |()| {
        let mut patch: Patch<CommitmentField> = form().patch_from(&before);
        if campaign() != was_campaign {
            patch = patch.put(CommitmentField::CampaignId, campaign());
        }
        if target() != was_target || campaign() != was_campaign {
            patch = patch.put(CommitmentField::Target, Value::from(target()));
        }
        let request = (!patch.is_empty()).then(|| Request::EditCommitment {
            person: person.clone(),
            id: id.clone(),
            patch,
        });
        save(&services, nav, request, onclose, on_screen);
    };
    rsx! {
        section { class: "card edit-record", "aria-labelledby": "edit-com-title",
            h3 { id: "edit-com-title", "Correct this commitment" }
            RecordFields {
                prefix: "com",
                fields: specs,
                start,
                form,
                entries,
                start_entries: BTreeMap::new(),
                onchange: move |()| {},
            }
            div { class: "field",
                label { r#for: "com-campaign", "Campaign" }
                select {
                    id: "com-campaign",
                    onchange: move |e| {
                        campaign.set(e.value());
                        target.set(String::new());
                    },
                    option { value: "", selected: campaign().is_empty(), "No campaign" }
                    for c in campaigns.clone() {
                        option { key: "{c.id}", value: "{c.id}", selected: campaign() == c.id, "{c.name}" }
                    }
                }
            }
            if !campaign().is_empty() {
                div { class: "field",
                    label { r#for: "com-target", "Counts towards" }
                    select {
                        id: "com-target",
                        onchange: move |e| target.set(e.value()),
                        option { value: "", selected: target().is_empty(), "No target (a free ask)" }
                        for t in targets {
                            option { key: "{t}", value: "{t}", selected: target() == t, "{t}" }
                        }
                    }
                }
            }
            Actions { id: "commitment", what: "commitment", dirty, onsave, onclose }
        }
    }
}
