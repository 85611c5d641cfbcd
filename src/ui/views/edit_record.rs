//! Correcting a saved conversation or commitment on the person's file, through the forms
//! generated from their declarations (see [`super::record_form`]): a conversation's every
//! field (when it happened, kind, canvasser, issues, engagement, follow-up, story, notes), a
//! commitment's words, due date, campaign and target. Saving sends only what changed; an
//! emptied date is cleared; "Cancel" asks first when something was changed. What is typed is
//! a draft from the first change ([`CorrectionDraft`], under [`super::drafts::correction_key`]):
//! leaving the file, a sync that redraws it, or the app killed, and the correction is there
//! again when "Correct" is tapped on the same record. A correction whose record has left the
//! file (another device deleted it) is shown apart, to copy or discard ([`LostCorrection`]).

use std::collections::BTreeMap;

use dioxus::dioxus_core::spawn_forever;
use dioxus::prelude::*;
use groundwork::fields::{FieldName, Patch, Value};
use groundwork::model::{Commitment, CommitmentField, Conversation, ConversationField};
use serde::{Deserialize, Serialize};

use super::drafts::correction_key;
use super::record_form::{FormValue, FormValues, RecordFields, editable_specs};
use crate::ui::components::Confirm;
use crate::ui::worker::{Request, StoreHandle, UiError};
use crate::ui::{Nav, OnScreen, Services, use_on_screen};

/// What is kept of a correction not yet saved.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CorrectionDraft {
    /// The record as the form first opened: the correction is what differs from it, so that
    /// a value synced in meanwhile is not overwritten by a field the user did not touch.
    pub before: FormValues,
    /// The form as the user left it.
    pub form: FormValues,
    /// What was typed in a set's entry box but not added, by the set's flag.
    pub entries: BTreeMap<String, String>,
    /// A commitment's campaign and target as chosen (empty: none), and as they were.
    pub campaign: Option<(String, String)>,
    /// Those of the commitment as the form first opened.
    pub was_campaign: Option<(String, String)>,
}

impl CorrectionDraft {
    /// A correction not begun: the record's values, as they are, both before and in the form.
    fn fresh(before: FormValues) -> Self {
        CorrectionDraft {
            form: before.clone(),
            before,
            ..Default::default()
        }
    }

    /// Whether it holds no change at all (then there is nothing to keep).
    fn is_unchanged(&self) -> bool {
        self.form == self.before
            && self.entries.values().all(|t| t.trim().is_empty())
            && self.campaign == self.was_campaign
    }
}

/// Keeps `draft` under `key`, or drops the draft when it holds no change.
fn keep(store: &StoreHandle, key: &str, draft: &CorrectionDraft) {
    if draft.is_unchanged() {
        store.discard_draft(key);
    } else if let Ok(body) = serde_json::to_string(draft) {
        store.save_draft(key, body);
    }
}

/// Forgets the correction drafted under `key`; the person's file reads again which
/// corrections wait.
fn forget(store: &StoreHandle, nav: Nav, key: &str) {
    store.discard_draft(key);
    let mut revision = nav.revision;
    revision += 1;
}

/// A correction form's state: the draft it starts from (the one restored, else `fresh()`) and
/// its fields' signals.
struct Correction {
    first: CorrectionDraft,
    form: Signal<FormValues>,
    entries: Signal<BTreeMap<String, String>>,
}

fn use_correction(
    restored: Option<CorrectionDraft>,
    fresh: impl FnOnce() -> CorrectionDraft,
) -> Correction {
    let first = use_hook(|| restored.unwrap_or_else(fresh));
    let form = use_signal(|| first.form.clone());
    let entries = use_signal(|| first.entries.clone());
    Correction {
        first,
        form,
        entries,
    }
}

/// "Cancel" of a correction form: its draft forgotten, then the form closed.
fn closing(
    store: StoreHandle,
    nav: Nav,
    key: String,
    onclose: EventHandler<()>,
) -> impl FnMut(()) + Clone + 'static {
    move |()| {
        forget(&store, nav, &key);
        onclose.call(());
    }
}

/// The correction drafted under `key`, if any, read once as the form opens.
fn use_restored(key: String) -> Resource<Result<Option<CorrectionDraft>, UiError>> {
    let store = use_context::<Services>().store;
    use_resource(move || {
        let store = store.clone();
        let key = key.clone();
        async move {
            Ok(store
                .draft(&key)
                .await?
                .and_then(|b| serde_json::from_str::<CorrectionDraft>(&b).ok()))
        }
    })
}

/// Send `request` (a correction) and close the form, or say what went wrong; `form` is the
/// form's own [`OnScreen`].
fn save(
    services: &Services,
    nav: Nav,
    request: Option<Request>,
    (onclose, draft_key): (EventHandler<()>, String),
    form: OnScreen,
) {
    let Some(request) = request else {
        forget(&services.store, nav, &draft_key);
        onclose.call(());
        nav.say("Nothing changed.");
        return;
    };
    let store = services.store.clone();
    // The form closes when the change arrives: the task must outlive it.
    spawn_forever(async move {
        match store.run(request).await {
            Ok(()) => {
                // The request forgot the draft in the same transaction as the correction.
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

/// What people call the conversation's or commitment's field `name` (or set flag).
fn label_of(name: &str) -> String {
    editable_specs::<ConversationField>()
        .into_iter()
        .chain(editable_specs::<CommitmentField>())
        .find(|s| s.name == name || s.flag == Some(name))
        .map_or_else(|| name.to_string(), |s| s.label.to_string())
}

/// What a correction changed, as typed: each field whose value differs from the record as the
/// form first opened, by what people call it, with the text (or list) typed for it.
fn typed_changes(draft: &CorrectionDraft) -> Vec<(String, String)> {
    let before: BTreeMap<String, FormValue> = draft.before.clone().into();
    let form: BTreeMap<String, FormValue> = draft.form.clone().into();
    let mut out: Vec<(String, String)> = form
        .into_iter()
        .filter(|(name, v)| before.get(name) != Some(v))
        .filter_map(|(name, v)| match v {
            FormValue::Text(t) if !t.trim().is_empty() => Some((label_of(&name), t)),
            FormValue::List(l) if !l.is_empty() => Some((label_of(&name), l.join(", "))),
            _ => None,
        })
        .collect();
    out.extend(
        draft
            .entries
            .iter()
            .filter(|(_, t)| !t.trim().is_empty())
            .map(|(flag, t)| (label_of(flag), t.clone())),
    );
    out
}

/// A correction drafted for a record that is no longer in the person's file (another device
/// deleted it): what was typed, to copy elsewhere, and a way to let it go, so that the file
/// and the People list stop saying a correction waits.
#[component]
pub fn LostCorrection(person_id: String, record_id: String) -> Element {
    let nav = use_context::<Nav>();
    let store = use_context::<Services>().store;
    let key = correction_key(&person_id, &record_id);
    let restored = use_restored(key.clone());
    let mut confirming = use_signal(|| false);
    let typed = match &*restored.read() {
        Some(Ok(Some(d))) => typed_changes(d),
        _ => Vec::new(),
    };
    rsx! {
        div { class: "card draft-waiting lost-correction", "data-lost-correction": "{record_id}",
            p {
                "An unsaved correction of a conversation or commitment that another device has \
                 since removed from this file (its history below can put it back). What was typed:"
            }
            if typed.is_empty() {
                p { class: "muted", "(no text: only choices were changed)" }
            }
            dl {
                for (name, text) in typed {
                    div { key: "{name}", dt { "{name}" } dd { class: "as-typed", "{text}" } }
                }
            }
            if confirming() {
                Confirm {
                    id: "lost-correction",
                    question: "Discard this correction? What was typed will be gone.",
                    yes: "Discard correction",
                    no: "Keep it",
                    onyes: move |_| {
                        forget(&store, nav, &key);
                        confirming.set(false);
                        nav.say("Correction discarded.");
                    },
                    onno: move |_| confirming.set(false),
                }
            } else {
                button {
                    r#type: "button",
                    class: "linkish",
                    "data-discard-lost": "{record_id}",
                    onclick: move |_| confirming.set(true),
                    "Discard it"
                }
            }
        }
    }
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

/// The correction form of `conversation`, restoring a correction drafted before.
#[component]
pub fn EditConversation(conversation: Conversation, onclose: EventHandler<()>) -> Element {
    let key = correction_key(&conversation.person_id, &conversation.id);
    let restored = use_restored(key.clone());
    match &*restored.read() {
        None => rsx! { p { class: "muted", "Loading…" } },
        Some(r) => rsx! {
            ConversationCorrection {
                conversation: conversation.clone(),
                restored: r.clone().ok().flatten(),
                draft_key: key.clone(),
                onclose,
            }
        },
    }
}

#[component]
fn ConversationCorrection(
    conversation: Conversation,
    restored: Option<CorrectionDraft>,
    draft_key: String,
    onclose: EventHandler<()>,
) -> Element {
    let services = use_context::<Services>();
    let nav = use_context::<Nav>();
    let on_screen = use_on_screen();
    let was_restored = restored.is_some();
    let Correction {
        first,
        form,
        entries,
    } = use_correction(restored, || {
        CorrectionDraft::fresh(FormValues::of(&conversation))
    });
    let before = first.before.clone();
    let start = first.form.clone();
    let start_entries = first.entries.clone();
    let id = conversation.id.clone();
    let person = conversation.person_id.clone();
    let dirty_before = before.clone();
    let dirty =
        *form.read() != dirty_before || entries.read().values().any(|t| !t.trim().is_empty());
    let store = services.store.clone();
    let keep_key = draft_key.clone();
    let draft_before = before.clone();
    let onchange = use_callback(move |()| {
        let draft = CorrectionDraft {
            before: draft_before.clone(),
            form: form.peek().clone(),
            entries: entries.peek().clone(),
            ..Default::default()
        };
        keep(&store, &keep_key, &draft);
    });
    let onclose_discarding = closing(services.store.clone(), nav, draft_key.clone(), onclose);
    let save_key = draft_key.clone();
    let onsave = move |()| {
        let f = form().with_entries::<ConversationField>(&entries());
        let patch: Patch<ConversationField> = f.patch_from(&before);
        let request = (!patch.is_empty()).then(|| Request::EditConversation {
            person: person.clone(),
            id: id.clone(),
            patch,
            draft_key: Some(save_key.clone()),
        });
        save(
            &services,
            nav,
            request,
            (onclose, save_key.clone()),
            on_screen,
        );
    };

    rsx! {
        section { class: "card edit-record", "aria-labelledby": "edit-conv-title",
            h3 { id: "edit-conv-title", "Correct this conversation" }
            if was_restored {
                p { class: "card restored", role: "status", "A draft was restored: your unsaved correction is back." }
            }
            RecordFields {
                prefix: "conv",
                fields: editable_specs::<ConversationField>(),
                start,
                form,
                entries,
                start_entries,
                onchange,
            }
            Actions { id: "conversation", what: "conversation", dirty, onsave, onclose: onclose_discarding }
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
/// and target chosen from `campaigns`. Restores a correction drafted before.
#[component]
pub fn EditCommitment(
    commitment: Commitment,
    campaigns: Vec<CampaignChoice>,
    onclose: EventHandler<()>,
) -> Element {
    let key = correction_key(&commitment.person_id, &commitment.id);
    let restored = use_restored(key.clone());
    match &*restored.read() {
        None => rsx! { p { class: "muted", "Loading…" } },
        Some(r) => rsx! {
            CommitmentCorrection {
                commitment: commitment.clone(),
                campaigns: campaigns.clone(),
                restored: r.clone().ok().flatten(),
                draft_key: key.clone(),
                onclose,
            }
        },
    }
}

#[component]
fn CommitmentCorrection(
    commitment: Commitment,
    campaigns: Vec<CampaignChoice>,
    restored: Option<CorrectionDraft>,
    draft_key: String,
    onclose: EventHandler<()>,
) -> Element {
    let services = use_context::<Services>();
    let nav = use_context::<Nav>();
    let on_screen = use_on_screen();
    let was_restored = restored.is_some();
    let Correction {
        first,
        form,
        entries,
    } = use_correction(restored, || {
        let chosen = (
            commitment.campaign_id.clone().unwrap_or_default(),
            commitment.target.clone().unwrap_or_default(),
        );
        CorrectionDraft {
            campaign: Some(chosen.clone()),
            was_campaign: Some(chosen),
            ..CorrectionDraft::fresh(FormValues::of(&commitment))
        }
    });
    let before = first.before.clone();
    let start = first.form.clone();
    let start_entries = first.entries.clone();
    let (chosen_campaign, chosen_target) = first.campaign.clone().unwrap_or_default();
    let (was_campaign, was_target) = first.was_campaign.clone().unwrap_or_default();
    let mut campaign = use_signal(|| chosen_campaign);
    let mut target = use_signal(|| chosen_target);
    let id = commitment.id.clone();
    let person = commitment.person_id.clone();
    let dirty = *form.read() != before || campaign() != was_campaign || target() != was_target;
    let store = services.store.clone();
    let keep_key = draft_key.clone();
    let draft_before = before.clone();
    let was = first.was_campaign.clone();
    let onchange = use_callback(move |()| {
        let draft = CorrectionDraft {
            before: draft_before.clone(),
            form: form.peek().clone(),
            entries: entries.peek().clone(),
            campaign: Some((campaign.peek().clone(), target.peek().clone())),
            was_campaign: was.clone(),
        };
        keep(&store, &keep_key, &draft);
    });
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
    let onclose_discarding = closing(services.store.clone(), nav, draft_key.clone(), onclose);
    let save_key = draft_key.clone();
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
            draft_key: Some(save_key.clone()),
        });
        save(
            &services,
            nav,
            request,
            (onclose, save_key.clone()),
            on_screen,
        );
    };

    rsx! {
        section { class: "card edit-record", "aria-labelledby": "edit-com-title",
            h3 { id: "edit-com-title", "Correct this commitment" }
            if was_restored {
                p { class: "card restored", role: "status", "A draft was restored: your unsaved correction is back." }
            }
            RecordFields {
                prefix: "com",
                fields: specs,
                start,
                form,
                entries,
                start_entries,
                onchange,
            }
            div { class: "field",
                label { r#for: "com-campaign", "Campaign" }
                select {
                    id: "com-campaign",
                    onchange: move |e| {
                        campaign.set(e.value());
                        target.set(String::new());
                        onchange.call(());
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
                        onchange: move |e| {
                            target.set(e.value());
                            onchange.call(());
                        },
                        option { value: "", selected: target().is_empty(), "No target (a free ask)" }
                        for t in targets {
                            option { key: "{t}", value: "{t}", selected: target() == t, "{t}" }
                        }
                    }
                }
            }
            Actions { id: "commitment", what: "commitment", dirty, onsave, onclose: onclose_discarding }
        }
    }
}
