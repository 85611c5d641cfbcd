//! The team lead's card in Settings: invite a canvasser (or a second lead) with a join link to
//! send or show, see and cancel the team's open invites, see the team's devices, revoke a lost
//! phone, make a device a lead; and the section that erases a person, a campaign or a walk list
//! from the whole team. Shown only on a lead's device (the erasing section also in a notebook
//! that has joined no team, where it erases from the notebook alone); the relay refuses these
//! to a canvasser anyway.

use dioxus::prelude::*;

use groundwork::sync::team::TeamAction;
use groundwork_protocol::Role;

use super::show_time;
use crate::ui::components::{Confirm, QrImage};
use crate::ui::sync::{SyncCommand, TeamPanel};
use crate::ui::{Nav, Services};

/// The lead's card; `panel` is the sync engine's latest [`TeamPanel`].
#[component]
pub fn TeamCard(
    panel: TeamPanel,
    /// Erasures not yet confirmed by every device, as the relay last counted.
    #[props(default)]
    erasures: Vec<groundwork::store::ErasureRecord>,
    /// This device's id at the relay: marked in the list, and its revocation asked with a
    /// warning.
    #[props(default)]
    this_device: Option<String>,
    /// Revocations whose erasures wait to be signed again.
    #[props(default)]
    revocations_unfinished: u64,
) -> Element {
    let services = use_context::<Services>();
    let nav = use_context::<Nav>();
    let mut as_lead = use_signal(|| false);
    // The device whose revocation waits for a "yes".
    let mut revoking = use_signal(|| None::<String>);
    // The invite whose cancellation waits for a "yes".
    let mut cancelling = use_signal(|| None::<String>);
    let act = use_callback(move |action: TeamAction| {
        if let Err(e) = services.sync.command(SyncCommand::Team(action)) {
            nav.error(e);
        }
    });
    let busy = panel.busy;
    let shared = panel
        .devices
        .as_deref()
        .map(shared_names)
        .unwrap_or_default();

    rsx! {
        section { class: "card team", "aria-labelledby": "team-title",
            h3 { id: "team-title", "Your team" }
            p { class: "muted", "As a team lead you can invite people to the team, and revoke a lost phone." }
            label { class: "check",
                input { r#type: "checkbox", id: "invite-lead", checked: as_lead(),
                    onchange: move |e: FormEvent| as_lead.set(e.checked()) }
                " The invite makes a team lead (for a second lead)"
            }
            button { r#type: "button", class: "primary", id: "team-invite", disabled: busy,
                onclick: move |_| act.call(TeamAction::Invite { lead: as_lead() }),
                "Create an invite"
            }
            if let Some(invite) = &panel.invite {
                div { id: "team-invite-made", role: "status", "aria-live": "polite",
                    p {
                        if invite.lead { "A team lead's invite" } else { "A canvasser's invite" }
                        ", for one phone, until {show_time(&invite.expires_at)}. Send them this link, or let them type the code:"
                    }
                    p { class: "invite-link",
                        a { id: "team-invite-link", href: "{invite.link}", "{invite.link}" }
                    }
                    p { "Code: " code { id: "team-invite-code", "{invite.code}" } }
                    p { class: "muted", "Or let them scan this with their phone's camera:" }
                    QrImage { id: "team-invite-qr", text: invite.link.clone(), label: "QR code of the join link" }
                }
            }
            if let Some(c) = &panel.cancelled {
                div { id: "team-invite-cancelled", role: "status", "aria-live": "polite",
                    if c.cancelled {
                        p { "The invite is cancelled: nobody can join with its link or code any more." }
                    } else {
                        p { "That invite was already used up, expired or cancelled: nobody can join with it." }
                    }
                    if c.joining > 0 {
                        p { class: "dnc", id: "team-invite-joining", role: "note",
                            {joining_note(c.joining)}
                        }
                    }
                }
            }
            h4 { id: "team-invites-title", "Open invites" }
            button { r#type: "button", class: "secondary", id: "team-invites", disabled: busy,
                onclick: move |_| act.call(TeamAction::Invites),
                if panel.invites.is_some() { "Refresh the invites" } else { "Show the open invites" }
            }
            if let Some(invites) = &panel.invites {
                if invites.is_empty() {
                    p { class: "muted", id: "team-invites-none",
                        "No invite is open: nobody can join the team with a link sent before."
                    }
                } else {
                    p { class: "muted",
                        "Sent a link to the wrong people? Cancel its invite: nobody can join with it any more."
                    }
                    ul { class: "list team-invites", "aria-labelledby": "team-invites-title",
                        for i in invites.iter().cloned() {
                            li { key: "{i.id}", class: "team-invite", "data-invite": "{i.id}",
                                p {
                                    strong { if i.role == Role::Lead { "A team lead's invite" } else { "A canvasser's invite" } }
                                    " · {uses_left(i.uses_left)} · until {show_unix(i.expires_at)}"
                                }
                                p { class: "muted",
                                    "Made {show_unix(i.created_at)} "
                                    "{made_by(i.made_by.as_deref(), panel.devices.as_deref(), this_device.as_deref())}"
                                }
                                if cancelling().as_deref() == Some(i.id.as_str()) {
                                    Confirm {
                                        id: "cancel-invite-confirm",
                                        question: "Cancel this invite? Nobody will be able to join with its link or code. \
                                                   A device that already joined with it stays: revoke it under Devices if it should not be there.".to_string(),
                                        yes: "Cancel invite",
                                        no: "Keep it",
                                        onyes: {
                                            let id = i.id.clone();
                                            move |_| {
                                                cancelling.set(None);
                                                act.call(TeamAction::CancelInvite { id: id.clone() });
                                            }
                                        },
                                        onno: move |_| cancelling.set(None),
                                    }
                                } else {
                                    div { class: "device-actions",
                                        button { r#type: "button", class: "danger", disabled: busy,
                                            "data-cancel": "{i.id}",
                                            "aria-label": "Cancel the invite made {show_unix(i.created_at)}",
                                            onclick: {
                                                let id = i.id.clone();
                                                move |_| cancelling.set(Some(id.clone()))
                                            },
                                            "Cancel invite"
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            h4 { id: "team-devices-title", "Devices" }
            button { r#type: "button", class: "secondary", id: "team-devices", disabled: busy,
                onclick: move |_| act.call(TeamAction::Devices),
                if panel.devices.is_some() { "Refresh the list" } else { "Show the team's devices" }
            }
            if let Some(devices) = &panel.devices {
                if !shared.is_empty() {
                    p { class: "dnc", id: "team-devices-same-name", role: "note",
                        "Some devices share a name (marked below with the start of their id): \
                         tell them apart by when they joined before you revoke one."
                    }
                }
                ul { class: "list team-devices", "aria-labelledby": "team-devices-title",
                    for d in devices.iter().cloned() {
                        li { key: "{d.device_id}", class: "team-device", "data-device": "{d.device_id}",
                            p { class: "device-name",
                                strong { "{d.name}" }
                                if shared.contains(&same_name(&d.name)) {
                                    " (id {short_id(&d.device_id)})"
                                }
                                if this_device.as_deref() == Some(d.device_id.as_str()) { " (this device)" }
                                " · "
                                if d.role == Role::Lead { "team lead" } else { "canvasser" }
                                if d.revoked { " · revoked" }
                            }
                            p { class: "muted",
                                match d.last_sync_at.and_then(|t| chrono::DateTime::from_timestamp(t, 0)) {
                                    Some(t) => rsx! { "Last synced {show_time(&groundwork::model::format_time(t))}" },
                                    None => rsx! { "Never synced" },
                                }
                                if let Some(t) = joined(&d) {
                                    " · joined {t}"
                                }
                                if d.stored_bytes > 0 {
                                    " · {on_the_relay(d.stored_bytes)} on the relay"
                                }
                            }
                            if !d.revoked {
                                if revoking().as_deref() == Some(d.device_id.as_str()) {
                                    Confirm {
                                        id: "revoke-confirm",
                                        question: if this_device.as_deref() == Some(d.device_id.as_str()) {
                                            format!(
                                                "Revoke {}, the device in your hand? It will not sync again, and \
                                                 only another lead's invite can bring it back into the team.",
                                                d.name
                                            )
                                        } else {
                                            format!(
                                                "Revoke {}{}? It will not sync again. What is already on it stays there.",
                                                d.name,
                                                joined(&d).map(|t| format!(" (joined {t})")).unwrap_or_default()
                                            )
                                        },
                                        yes: "Revoke",
                                        no: "Keep it",
                                        onyes: {
                                            let id = d.device_id.clone();
                                            move |_| {
                                                revoking.set(None);
                                                act.call(TeamAction::Revoke { device_id: id.clone() });
                                            }
                                        },
                                        onno: move |_| revoking.set(None),
                                    }
                                } else {
                                    div { class: "device-actions",
                                        button { r#type: "button", class: "danger", disabled: busy,
                                            "aria-label": "Revoke {d.name}",
                                            onclick: {
                                                let id = d.device_id.clone();
                                                move |_| revoking.set(Some(id.clone()))
                                            },
                                            "Revoke"
                                        }
                                        if d.role != Role::Lead {
                                            button { r#type: "button", class: "secondary", disabled: busy,
                                                "aria-label": "Make {d.name} a team lead",
                                                onclick: {
                                                    let id = d.device_id.clone();
                                                    move |_| act.call(TeamAction::Promote { device_id: id.clone() })
                                                },
                                                "Make lead"
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            if let Some(r) = &panel.revoked {
                div { id: "team-revoked", role: "status", "aria-live": "polite",
                    p { "{r.name} is revoked: the relay no longer takes it. What is already on it stays there." }
                    if r.key_changed {
                        p { "The team's key was changed: nothing written from now on can be read with what is on it." }
                    }
                    match r.erasures_signed_again {
                        0 => rsx! {},
                        1 => rsx! { p { "An erasure it ordered as a lead is signed again by you, so that it stands on every device." } },
                        n => rsx! { p { "{n} erasures it ordered as a lead are signed again by you, so that they stand on every device." } },
                    }
                }
            }
            // What a revocation left to do, as long as it waits (the summary above is of the
            // moment it was done).
            if revocations_unfinished > 0 {
                p { class: "dnc", id: "team-revocations-unfinished", role: "alert",
                    match panel.revoked.as_ref().and_then(|r| r.erasures_not_signed.as_ref().map(|why| (r, why))) {
                        Some((r, why)) => rsx! {
                            "The erasures {r.name} ordered as a lead are not yet all signed again ({why}). \
                             Until they are, a device that had not carried them out keeps what they erased. "
                        },
                        None => rsx! { "A revocation is not finished: the team's new key, or the erasures the revoked device ordered as a lead, wait for the relay. " },
                    }
                    "This device finishes it at its next sync that reaches the relay."
                }
            }
            if !erasures.is_empty() {
                h4 { id: "team-erasures-title", "Erasures not yet done everywhere" }
                ul { class: "list", id: "team-erasures", "aria-labelledby": "team-erasures-title",
                    for e in erasures.iter() {
                        li { key: "{e.doc_id}",
                            match (e.confirmed, e.devices) {
                                (Some(c), Some(d)) => rsx! { "Erased {show_time(&e.erased_at)}: {c} of {d} devices have erased it so far." },
                                _ => rsx! { "Erased {show_time(&e.erased_at)}: waiting for the relay's count." },
                            }
                        }
                    }
                }
                p { class: "muted", "Each device erases it at its next sync. A revoked device is not counted: what it held stays on it." }
            }
            if busy {
                p { class: "muted", role: "status", "Waiting for the relay…" }
            }
            if let Some(e) = &panel.error {
                p { class: "dnc", id: "team-error", role: "alert", "{e}" }
            }
        }
    }
}

/// A device's name as the lead would read it ([`groundwork_protocol::names::name_as_read`]).
fn same_name(name: &str) -> String {
    groundwork_protocol::names::name_as_read(name)
}

/// The names (as [`same_name`] has them) that more than one of `devices` goes by: a device
/// could take another's name to have the lead revoke the wrong phone, or two phones were
/// simply named alike.
fn shared_names(devices: &[groundwork::sync::TeamDevice]) -> std::collections::HashSet<String> {
    let mut seen = std::collections::HashSet::new();
    devices
        .iter()
        .map(|d| same_name(&d.name))
        .filter(|n| !seen.insert(n.clone()))
        .collect()
}

/// The start of a device's id, enough to tell two devices of one name apart.
fn short_id(device_id: &str) -> String {
    device_id.chars().take(8).collect()
}

/// When a device joined the team, as the app shows times (none from a relay that does not say).
fn joined(d: &groundwork::sync::TeamDevice) -> Option<String> {
    (d.enrolled_at > 0)
        .then(|| chrono::DateTime::from_timestamp(d.enrolled_at, 0))
        .flatten()
        .map(|t| show_time(&groundwork::model::format_time(t)))
}

/// A time the relay gave (Unix seconds), as the app shows times.
fn show_unix(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|t| show_time(&groundwork::model::format_time(t)))
        .unwrap_or_default()
}

/// What the lead is told of devices that joined with an invite just before it was cancelled.
fn joining_note(n: u32) -> String {
    let (who, it) = if n == 1 {
        (
            "A device joined with it just before and has".to_string(),
            "it",
        )
    } else {
        (
            format!("{n} devices joined with it just before and have"),
            "them",
        )
    };
    let minutes = groundwork_protocol::CANCELLED_INVITE_GRACE_SECS / 60;
    format!(
        "{who} not synced yet. If you do not know {it}, revoke {it} under Devices: until then \
         {it} can still finish joining for the next {minutes} minutes."
    )
}

/// "1 use left", "3 uses left".
fn uses_left(n: u32) -> String {
    if n == 1 {
        "1 use left".into()
    } else {
        format!("{n} uses left")
    }
}

/// Who made an invite, as far as the listed `devices` tell: its maker's name, "this device",
/// or the relay's operator (an invite with no maker).
fn made_by(
    maker: Option<&str>,
    devices: Option<&[groundwork::sync::TeamDevice]>,
    this_device: Option<&str>,
) -> String {
    let Some(maker) = maker else {
        return "by the relay's operator".into();
    };
    if this_device == Some(maker) {
        return "on this device".into();
    }
    match devices.and_then(|list| list.iter().find(|d| d.device_id == maker)) {
        Some(d) => format!("by {}", d.name),
        None => format!("by device {}", short_id(maker)),
    }
}

/// What a lead's [`EraseSection`] erases: a person, a campaign or a walk list. Each is an
/// erasure order to the team (the relay deletes its blobs and refuses them ever after; every
/// device deletes it at its next sync); the words and where the app goes after differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Erasable {
    /// A person's file (their right to be forgotten): the app goes back to People.
    Person,
    /// A campaign, from its Edit form: commitments made towards it stay with their people.
    Campaign,
    /// A walk list, from its Walk screen: its doors and their marks go; the app goes to Shift.
    WalkList,
}

impl Erasable {
    /// The action that erases the document `id`.
    fn action(self, id: String) -> TeamAction {
        match self {
            Erasable::Person => TeamAction::Erase { person_id: id },
            Erasable::Campaign => TeamAction::DeleteCampaign { campaign_id: id },
            Erasable::WalkList => TeamAction::DeleteWalkList { walklist_id: id },
        }
    }

    /// The prefix of the section's element ids: `erase` (`erase-person`, `erase-confirm`) or
    /// `delete` (`delete-campaign`, `delete-walklist`, `delete-confirm`).
    fn verb(self) -> &'static str {
        match self {
            Erasable::Person => "erase",
            Erasable::Campaign | Erasable::WalkList => "delete",
        }
    }

    /// The id of the button that asks.
    fn button_id(self) -> &'static str {
        match self {
            Erasable::Person => "erase-person",
            Erasable::Campaign => "delete-campaign",
            Erasable::WalkList => "delete-walklist",
        }
    }

    /// What erasing `name` does, said before the button; `alone`: the notebook has joined no
    /// team.
    fn explained(self, name: &str, alone: bool) -> String {
        match (self, alone) {
            (Erasable::Person, false) => format!(
                "If {name} asks to be forgotten, erase them: every device of the team and the relay delete their file, history included. It cannot be undone."
            ),
            (Erasable::Person, true) => format!(
                "If {name} asks to be forgotten, erase them: their file goes from this notebook, history included. It cannot be undone."
            ),
            (Erasable::Campaign, false) => format!(
                "Deleting {name} removes it from every device of the team and from the relay. Commitments made towards it stay with their people, counted towards no campaign. It cannot be undone."
            ),
            (Erasable::Campaign, true) => format!(
                "Deleting {name} removes it from this notebook. Commitments made towards it stay with their people, counted towards no campaign. It cannot be undone."
            ),
            (Erasable::WalkList, false) => format!(
                "When the walk is done, delete {name}: register data is kept no longer than needed. Every device of the team and the relay delete the list, its doors and what was marked at them; conversations recorded at its doors stay with their people. It cannot be undone."
            ),
            (Erasable::WalkList, true) => format!(
                "When the walk is done, delete {name}: register data is kept no longer than needed. The list, its doors and what was marked at them go from this notebook; conversations recorded at its doors stay with their people. It cannot be undone."
            ),
        }
    }

    /// The question asked before erasing `name`.
    fn question(self, name: &str, alone: bool) -> String {
        let whence = if alone {
            "this notebook"
        } else {
            "every device of the team"
        };
        match self {
            Erasable::Person => format!(
                "Erase {name} from {whence}? Everything recorded about them goes, and cannot be brought back."
            ),
            Erasable::Campaign => {
                format!("Delete the campaign {name} from {whence}? It cannot be brought back.")
            }
            Erasable::WalkList => format!(
                "Delete the walk list {name}, its doors and their marks, from {whence}? It cannot be brought back."
            ),
        }
    }

    /// What is said once `name` is erased here.
    fn done(self, name: &str, alone: bool) -> String {
        match (self, alone) {
            (Erasable::Person, false) => format!(
                "{name} was erased from this device and the relay; the team's other devices erase them at their next sync."
            ),
            (Erasable::Person, true) => format!("{name} was erased from this notebook."),
            (Erasable::Campaign | Erasable::WalkList, false) => format!(
                "{name} was deleted from this device and the relay; the team's other devices delete it at their next sync."
            ),
            (Erasable::Campaign | Erasable::WalkList, true) => {
                format!("{name} was deleted from this notebook.")
            }
        }
    }
}

/// An erasure a screen asked for: the document's id, and what to say once it is done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asked {
    /// The document's id.
    pub id: String,
    /// What the app says once it is erased here.
    said: String,
    /// Its name, to say which one was not done.
    name: String,
    /// How many busy statuses the root had heard when it was asked ([`LeftErasure`]): an error
    /// the panel shows after a later one is this erasure's, not one left from an earlier
    /// action.
    asked_at: u64,
}

impl Asked {
    /// Where this erasure stands by the lead's panel `panel`, with `busy_heard` busy statuses
    /// heard so far.
    fn outcome(&self, panel: &TeamPanel, busy_heard: u64) -> Outcome {
        if panel.erased.as_ref().is_some_and(|e| e.erased == self.id) {
            Outcome::Done
        } else if !panel.busy
            && busy_heard > self.asked_at
            && let Some(e) = &panel.error
        {
            Outcome::Failed(format!("{}: {e}", self.name))
        } else {
            Outcome::Waiting
        }
    }
}

/// Where an erasure stands, as the lead's panel says.
enum Outcome {
    /// Done on this device.
    Done,
    /// Not done, in words naming it.
    Failed(String),
    /// Under way, or not yet as far as the panel has said.
    Waiting,
}

/// The root's part in erasures asked for on screens: it counts the lead's panel's busy
/// statuses as it hears them (a screen may see two statuses at once, busy then done, and miss
/// the first), and says the outcome of an erasure asked for on a screen the lead left before
/// the relay answered, since no screen is left to.
#[derive(Clone, Copy)]
pub struct LeftErasure {
    /// The erasure handed over, if one is.
    asked: Signal<Option<Asked>>,
    /// How many statuses with the panel busy the root has heard.
    busy_heard: Signal<u64>,
    /// The panel as the root heard it last.
    last: Signal<TeamPanel>,
}

impl LeftErasure {
    /// The root's, made once.
    pub fn new(
        asked: Signal<Option<Asked>>,
        busy_heard: Signal<u64>,
        last: Signal<TeamPanel>,
    ) -> Self {
        LeftErasure {
            asked,
            busy_heard,
            last,
        }
    }

    fn busy_heard(self) -> u64 {
        self.busy_heard.try_peek().map_or(0, |n| *n)
    }

    /// A screen left with its erasure `asked` still open hands it over. Its outcome may have
    /// come already, before the screen acted on it: done is said now; failed was shown on the
    /// screen that asked.
    fn hand_over(mut self, nav: Nav, asked: Asked) {
        let last = self.last.try_peek().map(|p| p.clone()).unwrap_or_default();
        match asked.outcome(&last, self.busy_heard()) {
            Outcome::Done => nav.say(asked.said),
            Outcome::Failed(_) => {}
            Outcome::Waiting => self.asked.set(Some(asked)),
        }
    }

    /// The root's part, at each status from the engine (before the screens see it): count a
    /// busy panel; once the panel says the erasure handed over is done, say so; if it went
    /// idle with an error after being busy with it, say that, naming what was not done.
    pub fn heard(mut self, nav: Nav, panel: &TeamPanel) {
        if panel.busy {
            *self.busy_heard.write() += 1;
        }
        self.last.set(panel.clone());
        let Some(asked) = self.asked.peek().clone() else {
            return;
        };
        match asked.outcome(panel, self.busy_heard()) {
            Outcome::Done => {
                self.asked.set(None);
                nav.say(asked.said);
            }
            Outcome::Failed(words) => {
                self.asked.set(None);
                nav.error(words);
            }
            Outcome::Waiting => {}
        }
    }
}

/// For a screen that offers an [`EraseSection`]: the erasure it asked for (given to the
/// section), and `then` run once the lead's panel (`lead`) says it is done on this device, when
/// the app also says so. The screen holds this rather than the section, because the document's
/// re-read may already have failed and taken the section off the screen by then. One that
/// failed is forgotten (the section shows why). A screen left before the answer hands its
/// erasure to the root ([`LeftErasure`]), which says the outcome.
pub fn use_erasure(
    lead: Option<&TeamPanel>,
    mut then: impl FnMut() + 'static,
) -> Signal<Option<Asked>> {
    let nav = use_context::<Nav>();
    let mut asked = use_signal(|| None::<Asked>);
    let left = try_use_context::<LeftErasure>();
    use_drop(move || {
        if let (Some(left), Ok(waiting)) = (left, asked.try_peek())
            && let Some(a) = waiting.clone()
        {
            left.hand_over(nav, a);
        }
    });
    let panel = lead.cloned().unwrap_or_default();
    use_effect(use_reactive!(|panel| {
        let Some(a) = asked() else { return };
        match a.outcome(&panel, left.map_or(0, LeftErasure::busy_heard)) {
            Outcome::Done => {
                asked.set(None);
                then();
                nav.say(a.said);
            }
            Outcome::Failed(_) => asked.set(None),
            Outcome::Waiting => {}
        }
    }));
    asked
}

/// On a lead's device, at the end of a person's file, a campaign's Edit form or a walk list:
/// erase it from every device of the team and from the relay, after a question that says it
/// cannot be undone; in a notebook that has joined no team (`alone`), from this notebook.
/// `asked` is the screen's [`use_erasure`], which acts once it is done.
#[component]
pub fn EraseSection(
    what: Erasable,
    id: String,
    name: String,
    panel: TeamPanel,
    asked: Signal<Option<Asked>>,
    #[props(default)] alone: bool,
) -> Element {
    let services = use_context::<Services>();
    let nav = use_context::<Nav>();
    let mut asking = use_signal(|| false);
    let left = try_use_context::<LeftErasure>();
    // This section asked for an erasure: the panel's next error is about it (not an invite or
    // a revocation from Settings, shown everywhere until then).
    let mut tried = use_signal(|| false);
    let verb = what.verb();
    let title = if what == Erasable::Person {
        "Erase"
    } else {
        "Delete"
    };
    rsx! {
        section { class: "erase", "aria-labelledby": "{verb}-title",
            h3 { id: "{verb}-title", "{title}" }
            p { class: "muted", {what.explained(&name, alone)} }
            if asking() {
                Confirm {
                    id: "{verb}-confirm",
                    question: what.question(&name, alone),
                    yes: if what == Erasable::Person { "Erase for good" } else { "Delete for good" },
                    no: "Keep",
                    onyes: {
                        let (id, name) = (id.clone(), name.clone());
                        move |_| {
                            asking.set(false);
                            tried.set(true);
                            let mut asked = asked;
                            asked.set(Some(Asked {
                                id: id.clone(),
                                said: what.done(&name, alone),
                                name: name.clone(),
                                asked_at: left.map_or(0, LeftErasure::busy_heard),
                            }));
                            if let Err(e) = services.sync.command(SyncCommand::Team(what.action(id.clone()))) {
                                nav.error(e);
                            }
                        }
                    },
                    onno: move |_| asking.set(false),
                }
            } else {
                button { r#type: "button", class: "danger", id: what.button_id(), disabled: panel.busy,
                    onclick: move |_| asking.set(true),
                    "{title} {name}…"
                }
            }
            if panel.busy {
                p { class: "muted", role: "status",
                    if alone { "Erasing…" } else { "Waiting for the relay…" }
                }
            }
            if let Some(e) = panel.error.as_ref().filter(|_| tried()) {
                p { class: "dnc", id: "{verb}-error", role: "alert", "{e}" }
            }
        }
    }
}

/// What a device's changes take of the team's storage on the relay, for people: "12 KB",
/// "3.1 MB", "1.2 GB" (a canvasser's device may fill half of the team's quota: a lead seeing
/// one device hold far more than the others can ask why).
fn on_the_relay(bytes: u64) -> String {
    const KB: u64 = 1_000;
    match bytes {
        b if b < KB * KB => format!("{} KB", b.div_ceil(KB)),
        b if b < KB * KB * KB => format!("{:.1} MB", b as f64 / (KB * KB) as f64),
        b => format!("{:.1} GB", b as f64 / (KB * KB * KB) as f64),
    }
}

#[cfg(test)]
mod tests {
    use super::on_the_relay;

    #[test]
    fn shares_read_in_kb_mb_and_gb() {
        assert_eq!(on_the_relay(1), "1 KB");
        assert_eq!(on_the_relay(12_300), "13 KB");
        assert_eq!(on_the_relay(3_149_000), "3.1 MB");
        assert_eq!(on_the_relay(1_250_000_000), "1.2 GB");
    }
}
