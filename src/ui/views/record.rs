//! Recording a conversation: kind as large chips, issues as chips with free entry, story,
//! notes, the engagement ladder, commitments added inline (each with its own due date, the
//! follow-up date to start with, and, on a campaign's shift, the target it counts towards:
//! the campaign's targets are offered as one-tap asks), a follow-up date (48 hours later by
//! default; emptied, none), and one tap to save.
//!
//! The form is a draft from the first keystroke: every change is sent to the store worker,
//! which writes it once typing pauses, so it is there again after the app is killed. Saving
//! records the conversation and drops the draft in one request; "Discard draft" asks first.
//! A form opened on a waiting draft says so.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use dioxus::prelude::*;
use groundwork::model::{
    ConversationKind, Engagement, NewCommitment, NewConversation, Shift, normalise_tag, parse_date,
};
use serde::{Deserialize, Serialize};

use super::{LADDER, kind_label};
use crate::ui::components::{Chip, Chips, Confirm, TextField};
use crate::ui::worker::{Request, UiError};
use crate::ui::{Nav, Screen, Services};

/// Issues offered as chips before any are typed.
const COMMON_ISSUES: &[&str] = &[
    "living wage",
    "housing",
    "heating",
    "repairs",
    "hours",
    "transport",
    "childcare",
    "safety",
];

/// Everything typed into the form so far; stored as JSON under [`draft_key`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ConversationDraft {
    /// Conversation kind (`doorstep`, …).
    pub kind: String,
    /// Issues chosen or typed.
    pub issues: Vec<String>,
    /// Their story.
    pub story: String,
    /// Notes.
    pub notes: String,
    /// 1–5.
    pub engagement: Option<u8>,
    /// YYYY-MM-DD.
    pub follow_up: String,
    /// Commitments added.
    pub commitments: Vec<Ask>,
    /// A commitment being typed, not yet added.
    pub commitment_entry: String,
    /// An issue being typed, not yet added.
    pub issue_entry: String,
    /// When the form was opened (RFC 3339): the conversation's time, however late it is saved.
    pub started_at: Option<String>,
    /// The shift open when the form was opened: the conversation belongs to it, and its
    /// commitments to its campaign ([`Self::campaign_id`]), even when saved after the shift
    /// ended or under another. `None` in drafts of earlier versions and in forms opened with no
    /// shift open: then the shift open at the save, if any.
    pub shift_id: Option<String>,
    /// That shift's campaign.
    pub campaign_id: Option<String>,
    /// The walk list whose door's "Answered" opened the form: saved, it goes back to the
    /// walk's next door, even after a reload forgot where the form came from.
    pub walk: Option<String>,
    /// The form's own key: saved twice (its draft brought back after a reload in the moment
    /// after the save), it records one conversation. `None` in drafts of earlier versions
    /// (given one when restored).
    pub save_key: Option<String>,
}

/// A commitment added in the form: its words, its own due date and the campaign target it
/// counts towards.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(from = "AskOnDisk")]
pub struct Ask {
    /// What they will do.
    pub what: String,
    /// Its due date as typed: `None` follows the conversation's follow-up date, empty is no
    /// date.
    pub due: Option<String>,
    /// The target of the shift's campaign it counts towards, chosen (not guessed).
    pub target: Option<String>,
}

/// An added commitment as drafts keep it: drafts of the previous version kept only the words.
#[derive(Deserialize)]
#[serde(untagged)]
enum AskOnDisk {
    Words(String),
    Full {
        what: String,
        #[serde(default)]
        due: Option<String>,
        #[serde(default)]
        target: Option<String>,
    },
}

impl From<AskOnDisk> for Ask {
    fn from(a: AskOnDisk) -> Ask {
        match a {
            AskOnDisk::Words(what) => Ask {
                what,
                ..Default::default()
            },
            AskOnDisk::Full { what, due, target } => Ask { what, due, target },
        }
    }
}

impl Ask {
    /// An ask with these words, due with the follow-up, counting towards no target.
    pub fn words(what: impl Into<String>) -> Ask {
        Ask {
            what: what.into(),
            ..Default::default()
        }
    }
}

impl ConversationDraft {
    /// A fresh form: doorstep, follow-up 48 hours from now, no shift open.
    #[cfg(test)]
    pub fn fresh() -> Self {
        Self::fresh_of(None, None)
    }

    /// A fresh form of `kind` (the open shift's usual kind), else doorstep, opened now during
    /// `shift` (the one open, if any).
    pub fn fresh_of(kind: Option<ConversationKind>, shift: Option<&Shift>) -> Self {
        let now = Utc::now();
        ConversationDraft {
            kind: kind
                .unwrap_or(ConversationKind::Doorstep)
                .as_str()
                .to_string(),
            follow_up: groundwork::store::default_follow_up(now).to_string(),
            started_at: Some(now.to_rfc3339_opts(SecondsFormat::Secs, true)),
            shift_id: shift.map(|s| s.id.clone()),
            campaign_id: shift.and_then(|s| s.campaign_id.clone()),
            save_key: Some(groundwork::ids::new_save_key()),
            ..Default::default()
        }
    }

    /// The campaign its commitments count towards: the one of the shift it was opened in, or
    /// else `open_now`'s (the campaign of the shift open at the save).
    pub fn campaign(&self, open_now: Option<String>) -> Option<String> {
        match self.shift_id {
            Some(_) => self.campaign_id.clone(),
            None => open_now,
        }
    }

    /// Whether nothing is typed or chosen in it (its kind and follow-up date aside, which a
    /// fresh form fills in).
    pub fn is_blank(&self) -> bool {
        self.issues.is_empty()
            && self.commitments.is_empty()
            && self.engagement.is_none()
            && [
                &self.story,
                &self.notes,
                &self.commitment_entry,
                &self.issue_entry,
            ]
            .iter()
            .all(|t| t.trim().is_empty())
    }

    /// The conversation and commitments to record, or what to correct first; `open_now` is
    /// the campaign of the shift open at the save (see [`Self::campaign`]).
    pub fn to_records(
        &self,
        person_id: &str,
        open_now: Option<String>,
    ) -> Result<(NewConversation, Vec<NewCommitment>), UiError> {
        let campaign_id = self.campaign(open_now);
        // A stamp that does not read (an edited file) leaves the time to the save.
        let at = self
            .started_at
            .as_deref()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc));
        let kind: ConversationKind = self
            .kind
            .parse()
            .map_err(|e: groundwork::model::ValidationError| UiError(e.to_string()))?;
        let follow_up: Option<NaiveDate> = if self.follow_up.trim().is_empty() {
            None
        } else {
            Some(parse_date(&self.follow_up).map_err(|e| UiError(e.to_string()))?)
        };
        let engagement = self
            .engagement
            .map(|e| Engagement::try_from(i64::from(e)))
            .transpose()
            .map_err(|e| UiError(e.to_string()))?;
        let text = |s: &str| (!s.trim().is_empty()).then(|| s.to_string());
        let mut issues = self.issues.clone();
        if let Some(t) = normalise_tag(&self.issue_entry)
            && !issues.contains(&t)
        {
            issues.push(t);
        }
        let mut asks = self.commitments.clone();
        if !self.commitment_entry.trim().is_empty() {
            asks.push(Ask::words(self.commitment_entry.clone()));
        }
        let commitments = asks
            .into_iter()
            .map(|a| {
                let due = match a.due.as_deref().map(str::trim) {
                    None => follow_up,
                    Some("") => None,
                    Some(d) => {
                        Some(parse_date(d).map_err(|e| UiError(format!("{}: {e}", a.what)))?)
                    }
                };
                Ok(NewCommitment {
                    what: a.what,
                    due,
                    campaign_id: campaign_id.clone(),
                    // A target belongs to the shift's campaign: without one, none.
                    target: a.target.filter(|_| campaign_id.is_some()),
                })
            })
            .collect::<Result<Vec<_>, UiError>>()?;
        Ok((
            NewConversation {
                person_id: person_id.to_string(),
                kind,
                at,
                canvasser: None,
                shift_id: self.shift_id.clone(),
                issues,
                story: text(&self.story),
                notes: text(&self.notes),
                engagement,
                // The box starts on the default: emptied, it means no follow-up.
                follow_up: Some(follow_up),
            },
            commitments,
        ))
    }
}

/// Enter in the commitment box, handled in the page itself: the text is taken and the box
/// emptied at the moment of the key, so what is typed next (however fast) starts the next
/// commitment in the same, still focused box. The text goes to the app through the script's
/// channel; an `input` event tells the form the box is empty. Installed once per form (a new
/// form replaces the listener of the last); the field's own Enter handler is the fallback
/// where scripts do not run (component tests).
const COMMITMENT_ENTER: &str = r#"
if (window.__groundworkCommitmentEnter) {
  document.removeEventListener('keydown', window.__groundworkCommitmentEnter, true);
}
const onKey = (e) => {
  const box = e.target;
  if (e.key !== 'Enter' || e.isComposing || !box || box.id !== 'commitment-entry') return;
  e.preventDefault();
  e.stopPropagation();
  const text = box.value;
  if (text.trim() === '') return;
  box.value = '';
  box.dispatchEvent(new Event('input', { bubbles: true }));
  dioxus.send(text);
};
window.__groundworkCommitmentEnter = onKey;
document.addEventListener('keydown', onKey, true);
await new Promise(() => {});
"#;

/// The draft key of a conversation with `person_id`.
pub fn draft_key(person_id: &str) -> String {
    super::drafts::conversation_key(person_id)
}

/// Loads the draft (or starts one) and the person's name, then shows the form.
#[component]
pub fn Record(person_id: String) -> Element {
    let services = use_context::<Services>();
    let nav = use_context::<Nav>();
    let pid = person_id.clone();
    let keep_store = services.store.clone();
    let gone_store = services.store.clone();
    // Read once: the form owns its text from here on.
    let loaded = use_resource(move || {
        let store = services.store.clone();
        let pid = pid.clone();
        async move {
            let name = store.person(&pid).await?.person.name;
            let restored = store
                .draft(&draft_key(&pid))
                .await?
                .and_then(|body| serde_json::from_str::<ConversationDraft>(&body).ok());
            let usual = match restored {
                Some(_) => None,
                None => store.usual_kind().await?,
            };
            Ok::<_, UiError>((name, restored, usual))
        }
    });
    // A lead's erasure of the person synced in while the form is open: the person is read
    // again at each later change to the notebook (not at the first, which `loaded` read), and
    // once erased the form, its name and its text give way to the screen that says so and
    // leads back to People, as their file does. A save refused for the erasure reads again
    // too (see the save).
    let gone_pid = person_id.clone();
    let opened_at = use_hook(|| *nav.revision.peek());
    let erased = use_resource(move || {
        let store = gone_store.clone();
        let id = gone_pid.clone();
        let now = (nav.revision)();
        async move {
            if now == opened_at {
                return None;
            }
            match store.person(&id).await {
                Err(e) if e.is_erased() => Some(e),
                _ => None,
            }
        }
    });
    // While the conversation is typed, the person's file waits loaded for the save. Asked for
    // once the form is shown, so that the form's own reads do not queue behind it in the
    // phone's store worker; only a little time is at stake, so whether it worked does not
    // matter.
    let keep_id = person_id.clone();
    let mut asked = use_signal(|| false);
    use_effect(move || {
        if matches!(&*loaded.read(), Some(Ok(_))) && !*asked.peek() {
            asked.set(true);
            let store = keep_store.clone();
            let id = keep_id.clone();
            spawn(async move {
                let _ = store.keep_loaded(&id).await;
            });
        }
    });
    if let Some(Some(e)) = &*erased.read() {
        return rsx! { super::LoadFailed { error: e.clone() } };
    }
    match &*loaded.read() {
        None => rsx! { p { class: "empty", "Loading…" } },
        Some(Err(e)) => rsx! { super::LoadFailed { error: e.clone() } },
        Some(Ok((name, restored, usual))) => {
            let mut initial = restored.clone().unwrap_or_else(|| {
                ConversationDraft::fresh_of(*usual, nav.overview.peek().shift.as_ref())
            });
            initial
                .save_key
                .get_or_insert_with(groundwork::ids::new_save_key);
            // Opened from a walk's door now: the draft remembers it, for the save.
            if let Some((_, Screen::Walk(list))) = nav
                .after_record
                .peek()
                .as_ref()
                .filter(|(p, _)| *p == person_id)
            {
                initial.walk = Some(list.clone());
            }
            rsx! {
                RecordForm {
                    person_id: person_id.clone(),
                    name: name.clone(),
                    restored: restored.is_some(),
                    initial,
                }
            }
        }
    }
}

#[component]
fn RecordForm(
    person_id: String,
    name: String,
    restored: bool,
    initial: ConversationDraft,
) -> Element {
    let services = use_context::<Services>();
    let nav = use_context::<Nav>();
    let start = initial.clone();
    let mut draft = use_signal(move || start);
    let mut saving = use_signal(|| false);
    let mut confirming = use_signal(|| false);
    // Bumped to empty the entry fields (a new element) after an item is added.
    let mut commitment_field = use_signal(|| 0u32);
    let mut issue_field = use_signal(|| 0u32);
    let key = draft_key(&person_id);
    let campaign_store = services.store.clone();
    // The campaigns as recorded (their targets), not their progress: counting progress reads
    // every conversation, which in the phone's store worker held up the save behind it.
    let campaigns = use_resource(move || {
        let store = campaign_store.clone();
        let _ = (nav.revision)();
        async move { store.campaign_list().await }
    });

    // Every change to the form is a draft, sent to the store worker as it is made (not later,
    // so leaving at once keeps the last keystroke); the worker writes it when typing pauses.
    // Emptied, there is nothing to keep (and a draft still waiting goes too), whether the form
    // started fresh or from a draft.
    let store = services.store.clone();
    let persist = use_callback(move |()| {
        let d = draft.peek();
        if d.is_blank() {
            store.discard_draft(&key);
        } else if let Ok(body) = serde_json::to_string(&*d) {
            store.save_draft(&key, body);
        }
    });
    let mut update = move |f: &dyn Fn(&mut ConversationDraft)| {
        f(&mut draft.write());
        persist(());
    };
    let mut add_commitment = move || {
        if !draft.peek().commitment_entry.trim().is_empty() {
            update(&|d| {
                let due = Some(d.follow_up.clone());
                d.commitments.push(Ask {
                    due,
                    ..Ask::words(d.commitment_entry.trim())
                });
                d.commitment_entry.clear();
            });
            commitment_field += 1;
        }
    };
    // Commitments added with Enter by the page script (see `COMMITMENT_ENTER`). The box was
    // emptied in the page, and its `input` event empties `commitment_entry`.
    use_future(move || async move {
        let mut script = document::eval(COMMITMENT_ENTER);
        while let Ok(text) = script.recv::<String>().await {
            let what = text.trim().to_string();
            if !what.is_empty() {
                update(&|d| {
                    let due = Some(d.follow_up.clone());
                    d.commitments.push(Ask {
                        due,
                        ..Ask::words(what.clone())
                    });
                });
            }
        }
    });
    let mut add_issue = move || {
        if normalise_tag(&draft.peek().issue_entry).is_some() {
            update(&|d| {
                if let Some(t) = normalise_tag(&d.issue_entry)
                    && !d.issues.contains(&t)
                {
                    d.issues.push(t);
                }
                d.issue_entry.clear();
            });
            issue_field += 1;
        }
    };

    let discard_store = services.store.clone();
    let discard_pid = person_id.clone();
    let pid = person_id.clone();
    let save = move |_| {
        if saving() {
            return;
        }
        let mut open_now = (nav.overview)().shift.and_then(|s| s.campaign_id);
        let mut d = draft.peek().clone();
        // A campaign deleted since the form opened (a lead's deletion synced in: the list
        // below is read again at every change to the notebook) counts as none, so that the
        // conversation is not refused for it. Not read again here: a read before the save
        // would write the waiting draft first, a transaction more on every save (measured:
        // 5 ms more from tap to shown on the phone).
        if let Some(Ok(list)) = &*campaigns.peek() {
            let gone = |id: &Option<String>| {
                id.as_ref()
                    .is_some_and(|c| !list.iter().any(|x| &x.id == c))
            };
            if gone(&d.campaign_id) {
                d.campaign_id = None;
            }
            if gone(&open_now) {
                open_now = None;
            }
        }
        let (conversation, commitments) = match d.to_records(&pid, open_now) {
            Ok(r) => r,
            Err(e) => {
                nav.error(e.to_string());
                return;
            }
        };
        let from_walk = d.walk.clone();
        let save_key = d.save_key.clone();
        saving.set(true);
        let store = services.store.clone();
        let pid = pid.clone();
        let draft_key = draft_key(&pid);
        spawn(async move {
            let request = Request::RecordConversation {
                conversation,
                commitments,
                draft_key,
                save_key,
            };
            match store.create(request).await {
                Ok(_) => {
                    // Opened from a walk: back to its next door, where the canvasser is (the
                    // draft says so too, after a reload forgot where the form came from).
                    let back = nav
                        .after_record
                        .peek()
                        .clone()
                        .filter(|(p, _)| *p == pid)
                        .map(|(_, screen)| screen)
                        .or(from_walk.map(Screen::Walk));
                    match back {
                        Some(walk) => {
                            nav.close(walk);
                            nav.say("Conversation saved. On to the next door.");
                        }
                        None => {
                            nav.close(Screen::Person(pid));
                            nav.say("Conversation saved.");
                        }
                    }
                }
                // The person was erased meanwhile: the screen says so (read again), rather
                // than an error over a form that can never be saved.
                Err(e) if e.is_erased() => {
                    let mut revision = nav.revision;
                    revision += 1;
                }
                Err(e) => nav.error(e.to_string()),
            }
            saving.set(false);
        });
    };

    let d = draft();
    // The targets of the campaign of the shift the form was opened in (else of the one open
    // now), offered as asks.
    let shift_campaign = d.campaign((nav.overview)().shift.and_then(|s| s.campaign_id));
    let targets: Vec<String> = match &*campaigns.read() {
        Some(Ok(list)) => list
            .iter()
            .find(|c| Some(&c.id) == shift_campaign.as_ref())
            .map(|c| c.targets.keys().cloned().collect())
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    let kinds: Vec<Chip> = ConversationKind::ALL
        .iter()
        .map(|k| Chip {
            value: k.as_str().to_string(),
            text: kind_label(k.as_str()).to_string(),
        })
        .collect();
    let mut issue_chips: Vec<Chip> = COMMON_ISSUES.iter().map(|i| Chip::plain(i)).collect();
    for i in &d.issues {
        if !COMMON_ISSUES.contains(&i.as_str()) {
            issue_chips.push(Chip::plain(i));
        }
    }
    let ladder: Vec<Chip> = LADDER
        .iter()
        .map(|(n, t)| Chip {
            value: n.to_string(),
            text: t.to_string(),
        })
        .collect();
    let engagement: Vec<String> = d.engagement.iter().map(|e| e.to_string()).collect();

    rsx! {
        section { class: "record", "aria-labelledby": "record-title",
            h2 { id: "record-title", "Conversation with {name}" }
            if restored {
                p { class: "card restored", role: "status",
                    "A draft was restored: carry on where you left off."
                }
            }
            p { class: "muted", "Saved as you type: you can leave and come back." }
            Chips {
                label: "Kind",
                chips: kinds,
                selected: vec![d.kind.clone()],
                ontoggle: move |v: String| update(&|d| d.kind = v.clone()),
            }
            Chips {
                label: "Issues that matter to them",
                chips: issue_chips,
                selected: d.issues.clone(),
                ontoggle: move |v: String| update(&|d| {
                    if let Some(i) = d.issues.iter().position(|x| *x == v) {
                        d.issues.remove(i);
                    } else {
                        d.issues.push(v.clone());
                    }
                }),
            }
            div { class: "entry-row",
                // A one-item keyed list: a new key is a new, empty input.
                for n in [issue_field()] {
                    TextField {
                        key: "{n}",
                        id: "issue-entry",
                        label: "Another issue",
                        initial: if n == 0 { initial.issue_entry.clone() } else { String::new() },
                        oninput: move |v: String| update(&|d| d.issue_entry = v.clone()),
                        onenter: move |_| add_issue(),
                    }
                }
                button { r#type: "button", class: "secondary", onclick: move |_| add_issue(), "Add issue" }
            }
            TextField {
                id: "story",
                label: "Their story, in their words",
                multiline: true,
                initial: initial.story.clone(),
                oninput: move |v: String| update(&|d| d.story = v.clone()),
            }
            Chips {
                label: "How engaged",
                chips: ladder,
                selected: engagement,
                ontoggle: move |v: String| update(&|d| {
                    let n = v.parse().ok();
                    d.engagement = if d.engagement == n { None } else { n };
                }),
            }
            fieldset { class: "commitments-entry",
                legend { "Commitments" }
                if !d.commitments.is_empty() {
                    ul { class: "list added",
                        for (i, c) in d.commitments.iter().cloned().enumerate() {
                            li { key: "{i}-{c.what}", class: "added-item ask",
                                span { "{c.what}" }
                                button {
                                    r#type: "button",
                                    class: "secondary",
                                    "aria-label": "Remove commitment: {c.what}",
                                    onclick: move |_| update(&|d| { if i < d.commitments.len() { d.commitments.remove(i); } }),
                                    "Remove"
                                }
                                div { class: "ask-details",
                                    TextField {
                                        id: "commitment-due-{i}",
                                        label: "Due",
                                        kind: "date",
                                        initial: c.due.clone().unwrap_or_else(|| d.follow_up.clone()),
                                        oninput: move |v: String| update(&|d| {
                                            if let Some(a) = d.commitments.get_mut(i) {
                                                a.due = Some(v.clone());
                                            }
                                        }),
                                    }
                                    if !targets.is_empty() {
                                        div { class: "field",
                                            label { r#for: "commitment-target-{i}", "Counts towards" }
                                            select {
                                                id: "commitment-target-{i}",
                                                onchange: move |e| update(&|d| {
                                                    if let Some(a) = d.commitments.get_mut(i) {
                                                        let v = e.value();
                                                        a.target = (!v.is_empty()).then_some(v);
                                                    }
                                                }),
                                                option { value: "", selected: c.target.is_none(), "No target (a free ask)" }
                                                // Chosen, then dropped from the campaign (a lead's edit synced in):
                                                // shown, so that what the save will be refused for can be seen and changed.
                                                if let Some(gone) = c.target.clone().filter(|t| !targets.contains(t)) {
                                                    option { value: "{gone}", selected: true, "{gone} (no longer a target)" }
                                                }
                                                for t in targets.clone() {
                                                    option { key: "{t}", value: "{t}", selected: c.target.as_deref() == Some(t.as_str()), "{t}" }
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                if !targets.is_empty() {
                    Chips {
                        label: "Asks for this campaign's targets (what you type below, or the target itself)",
                        chips: targets.iter().map(|t| Chip { value: t.clone(), text: format!("+ {t}") }).collect::<Vec<_>>(),
                        selected: Vec::<String>::new(),
                        ontoggle: move |t: String| {
                            update(&|d| {
                                let typed = d.commitment_entry.trim().to_string();
                                let what = if typed.is_empty() { t.clone() } else { typed };
                                let due = Some(d.follow_up.clone());
                                d.commitments.push(Ask { what, due, target: Some(t.clone()) });
                                d.commitment_entry.clear();
                            });
                            commitment_field += 1;
                        },
                    }
                }
                div { class: "entry-row",
                    for n in [commitment_field()] {
                        TextField {
                            key: "{n}",
                            id: "commitment-entry",
                            label: "They will…",
                            hint: "e.g. sign the letter; due by the follow-up date",
                            initial: if n == 0 { initial.commitment_entry.clone() } else { String::new() },
                            oninput: move |v: String| update(&|d| d.commitment_entry = v.clone()),
                            onenter: move |_| add_commitment(),
                        }
                    }
                    button { r#type: "button", class: "secondary", id: "add-commitment", onclick: move |_| add_commitment(), "Add commitment" }
                }
            }
            TextField {
                id: "notes",
                label: "Notes",
                multiline: true,
                initial: initial.notes.clone(),
                oninput: move |v: String| update(&|d| d.notes = v.clone()),
            }
            TextField {
                id: "follow-up",
                label: "Follow up on",
                kind: "date",
                initial: initial.follow_up.clone(),
                oninput: move |v: String| update(&|d| d.follow_up = v.clone()),
            }
            div { class: "save-bar",
                button {
                    r#type: "button",
                    class: "primary",
                    id: "save-conversation",
                    disabled: saving(),
                    onclick: save,
                    if saving() { "Saving…" } else { "Save conversation" }
                }
            }
            // Below the save bar, not in it: the bar that stays on screen holds one button.
            div { class: "discard-row",
                if confirming() {
                    Confirm {
                        id: "discard-conversation",
                        question: "Discard this draft? What you typed for {name} will be gone.",
                        yes: "Discard draft",
                        no: "Keep it",
                        onyes: move |_| {
                            let store = discard_store.clone();
                            let pid = discard_pid.clone();
                            spawn(async move {
                                match store.run(Request::DeleteDraft(draft_key(&pid))).await {
                                    Ok(()) => {
                                        nav.close(Screen::Person(pid));
                                        nav.say("Draft discarded.");
                                    }
                                    Err(e) => nav.error(e.to_string()),
                                }
                            });
                        },
                        onno: move |_| confirming.set(false),
                    }
                } else {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_draft_becomes_records_with_pending_entries_included() {
        let d = ConversationDraft {
            kind: "breakfast-meeting".into(),
            issues: vec!["living wage".into()],
            story: "Two jobs".into(),
            engagement: Some(3),
            follow_up: "2026-03-20".into(),
            commitments: vec![Ask::words("sign the letter")],
            commitment_entry: "bring two colleagues".into(),
            issue_entry: "  Night Shifts ".into(),
            ..Default::default()
        };
        let (c, cs) = d.to_records("p", Some("camp".into())).unwrap();
        assert_eq!(c.kind, ConversationKind::BreakfastMeeting);
        assert_eq!(c.issues, vec!["living wage", "night shifts"]);
        assert_eq!(c.story.as_deref(), Some("Two jobs"));
        assert_eq!(c.notes, None);
        assert_eq!(cs.len(), 2);
        assert_eq!(cs[1].what, "bring two colleagues");
        assert_eq!(cs[0].due, NaiveDate::from_ymd_opt(2026, 3, 20));
        assert_eq!(cs[0].campaign_id.as_deref(), Some("camp"));
        let bad = ConversationDraft {
            follow_up: "tomorrow".into(),
            ..ConversationDraft::fresh()
        };
        assert!(bad.to_records("p", None).is_err());
    }

    #[test]
    fn each_ask_has_its_own_date_and_target_and_an_emptied_follow_up_is_none() {
        let d = ConversationDraft {
            follow_up: String::new(),
            commitments: vec![
                Ask {
                    what: "sign the letter".into(),
                    due: Some("2026-03-21".into()),
                    target: Some("letters signed".into()),
                },
                Ask {
                    what: "come on Friday".into(),
                    due: Some(String::new()),
                    target: None,
                },
            ],
            ..ConversationDraft::fresh()
        };
        let (c, cs) = d.to_records("p", Some("camp".into())).unwrap();
        assert_eq!(
            c.follow_up,
            Some(None),
            "an emptied follow-up is none, not the default"
        );
        assert_eq!(cs[0].due, NaiveDate::from_ymd_opt(2026, 3, 21));
        assert_eq!(cs[0].target.as_deref(), Some("letters signed"));
        assert_eq!(cs[1].due, None);
        // Without the shift's campaign there is no target to count towards.
        let (_, cs) = d.to_records("p", None).unwrap();
        assert_eq!(cs[0].target, None);
    }

    #[test]
    fn a_draft_keeps_the_shift_and_campaign_it_was_begun_in_and_its_time() {
        let shift = Shift {
            id: "shift-1".into(),
            campaign_id: Some("camp".into()),
            place: "Elm Road".into(),
            canvasser: "Sam".into(),
            started_at: "2026-03-14T05:00:00Z".into(),
            ended_at: None,
            walklist_id: None,
            conflicts: Default::default(),
        };
        let d = ConversationDraft {
            commitments: vec![Ask::words("sign the letter")],
            started_at: Some("2026-03-14T05:10:00Z".into()),
            ..ConversationDraft::fresh_of(None, Some(&shift))
        };
        // Saved under another shift of another campaign: still the first one's.
        let (c, cs) = d.to_records("p", Some("other".into())).unwrap();
        assert_eq!(c.shift_id.as_deref(), Some("shift-1"));
        assert_eq!(
            c.at.map(|t| t.to_rfc3339()),
            Some("2026-03-14T05:10:00+00:00".into())
        );
        assert_eq!(cs[0].campaign_id.as_deref(), Some("camp"));
        // Begun with no shift open: the shift open at the save, at the save's time.
        let outside = ConversationDraft {
            started_at: Some("not a time".into()),
            ..ConversationDraft::fresh()
        };
        let (c, cs) = ConversationDraft {
            commitments: vec![Ask::words("come on Friday")],
            ..outside
        }
        .to_records("p", Some("other".into()))
        .unwrap();
        assert_eq!((c.shift_id, c.at), (None, None));
        assert_eq!(cs[0].campaign_id.as_deref(), Some("other"));
    }

    #[test]
    fn a_draft_of_the_previous_version_keeps_its_commitments() {
        let old =
            r#"{"kind":"doorstep","commitments":["sign the letter"],"follow_up":"2026-03-20"}"#;
        let d: ConversationDraft = serde_json::from_str(old).unwrap();
        assert_eq!(d.commitments, vec![Ask::words("sign the letter")]);
        let (_, cs) = d.to_records("p", None).unwrap();
        assert_eq!(
            cs[0].due,
            NaiveDate::from_ymd_opt(2026, 3, 20),
            "due with the follow-up"
        );
    }

    #[test]
    fn fresh_drafts_follow_up_two_days_later() {
        let d = ConversationDraft::fresh();
        let f = parse_date(&d.follow_up).unwrap();
        let today = chrono::Local::now().date_naive();
        assert!((f - today).num_days() >= 1 && (f - today).num_days() <= 3);
        let round: ConversationDraft =
            serde_json::from_str(&serde_json::to_string(&d).unwrap()).unwrap();
        assert_eq!(round, d);
    }
}
