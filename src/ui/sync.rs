//! Sync as the app sees it: a status to show and commands to send.
//!
//! The sync engine (a background worker talking to the relay) lives in the core library
//! (`groundwork::sync::worker`); on the desktop `RelaySync` (`super::relay_sync`) puts it
//! behind [`SyncEngine`]: status updates become a stream, joining runs on its own thread, and
//! every local write nudges the worker. In the browser the store worker syncs, and the page's
//! `WorkerSync` (`crate::browser::client`) relays its status and commands.
//! [`NotConnected`] stands in when the worker cannot start (and in component tests): it keeps
//! everything on this device and says so when asked to join or sync.

use std::sync::Arc;

use futures_channel::mpsc as amsc;
use groundwork::sync::Status as WorkerStatus;
use groundwork::sync::team::{ErasureOutcome, InviteShown, RevocationShown, TeamAction, TeamReply};
use serde::{Deserialize, Serialize};

#[cfg(not(target_arch = "wasm32"))]
pub use super::relay_sync::connect;

/// What the sync badge and the settings screen show.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SyncStatus {
    /// The relay this device joined, if any.
    pub joined: Option<String>,
    /// This device's id at the relay, once joined.
    pub device_id: Option<String>,
    /// Whether the relay answered last time it was tried.
    pub online: bool,
    /// The last attempt (to sync or to join) could not reach the relay at all: no connection,
    /// no name lookup, no answer in time. The badge then says "Offline", and `last_error` says
    /// why.
    pub unreachable: bool,
    /// A join is under way (from the tap on "Join team" until the relay answers or fails).
    pub joining: bool,
    /// Local changes waiting for the relay, when the engine knows (otherwise the store's count
    /// is shown).
    pub pending: Option<u64>,
    /// When the last sync completed (RFC 3339).
    pub last_synced: Option<String>,
    /// The last error, in words that say what to do.
    pub last_error: Option<String>,
    /// A sync is running now.
    pub syncing: bool,
    /// The team's devices and their last sync, after a successful sync.
    pub team_devices: Option<Vec<groundwork::report::DeviceSync>>,
    /// Changes pulled from other devices and refused (kept in quarantine, never applied).
    pub quarantined: u64,
    /// Changes pulled from other devices that wait for changes this device has not received.
    pub waiting: u64,
    /// Changes pulled from other devices since the engine started: when it grows, the
    /// notebook changed under the open screen, which re-reads it.
    pub pulled: u64,
    /// This device's role in its team (`lead` or `canvasser`), once the relay has said.
    pub role: Option<String>,
    /// The team lead's panel.
    pub team: TeamPanel,
    /// On a lead's device: erasures not yet confirmed by every device.
    pub erasures_waiting: Vec<groundwork::store::ErasureRecord>,
    /// The team's notebook is end-to-end encrypted.
    pub sealed: bool,
    /// Each of its documents has its own key too: an erasure reaches old copies of the relay.
    pub document_keys: bool,
    /// About how many more erasures the team's invites have room for.
    pub invite_room: Option<u64>,
    /// What other devices say the relay holds and it has not served this device.
    pub withheld: u64,
    /// Erasure orders from the relay that no team lead signed (the records are kept).
    pub erasures_refused: u64,
    /// A lead at the relay that no team lead signed as one.
    pub unsigned_lead: bool,
    /// Revocations whose erasures wait to be signed again (at the next sync).
    pub revocations_unfinished: u64,
    /// Right after this notebook joined its team again (under a new identity): how many of
    /// its documents had changes never sent, now written again under the new identity.
    pub rejoined: Option<usize>,
}

impl SyncStatus {
    /// The relay refused this device for good (revoked, or no longer known to it): only a new
    /// invite joins it again, under a new identity, with what it holds unsent.
    pub fn needs_new_invite(&self) -> bool {
        self.joined.is_some()
            && self.last_error.as_deref().is_some_and(|e| {
                e == groundwork::sync::SyncError::Revoked.to_string()
                    || e.starts_with(UNKNOWN_DEVICE)
            })
    }
}

/// How [`groundwork::sync::SyncError::UnknownDevice`] begins.
const UNKNOWN_DEVICE: &str = "the relay does not recognise this device";

/// What the app asks of the sync engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SyncCommand {
    /// Join a team on a relay with an invite code, under a device (canvasser) name.
    Join {
        /// The relay's address, e.g. `https://relay.example.org`.
        relay: String,
        /// The invite code from the team lead.
        invite: String,
        /// The name this device records as canvasser.
        device_name: String,
    },
    /// Sync now instead of waiting for the next automatic sync.
    SyncNow,
    /// Ask the relay again for the documents whose pulled changes wait, then sync.
    Repair,
    /// A team lead's action (invite, the devices, revoke, promote, erase a person); its outcome
    /// arrives in [`SyncStatus::team`].
    Team(TeamAction),
}

/// What the team lead's panel shows: the last invite made, the devices, the last outcome.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TeamPanel {
    /// An action is under way.
    pub busy: bool,
    /// The invite made last, to show and share.
    pub invite: Option<InviteShown>,
    /// The team's devices, as the relay last listed them.
    pub devices: Option<Vec<groundwork::sync::TeamDevice>>,
    /// The team's open invites, as the relay last listed them.
    #[serde(default)]
    pub invites: Option<Vec<groundwork_protocol::OpenInvite>>,
    /// The invite cancelled last, as the relay answered.
    #[serde(default)]
    pub cancelled: Option<groundwork_protocol::InviteCancelled>,
    /// The person erased last.
    pub erased: Option<ErasureOutcome>,
    /// The device revoked last, and what its revocation did.
    pub revoked: Option<RevocationShown>,
    /// Why the last action failed, in words that say what to do.
    pub error: Option<String>,
}

impl TeamPanel {
    /// The panel after `reply` (or its failure).
    pub fn after(&self, reply: Result<TeamReply, String>) -> TeamPanel {
        let mut next = TeamPanel {
            busy: false,
            error: None,
            ..self.clone()
        };
        // What a cancellation did was said; the next action's outcome replaces it.
        next.cancelled = None;
        match reply {
            Ok(TeamReply::Invite(i)) => {
                // A list of open invites shown before would now lack this one.
                next.invites = None;
                next.invite = Some(i);
            }
            Ok(TeamReply::Invites(list)) => next.invites = Some(list),
            Ok(TeamReply::InviteCancelled { outcome, invites }) => {
                // The invite made last, if that is the one, is no longer to be sent.
                if next.invite.as_ref().is_some_and(|i| i.id == outcome.id) {
                    next.invite = None;
                }
                next.invites = invites.or_else(|| {
                    next.invites.take().map(|mut list| {
                        list.retain(|i| i.id != outcome.id);
                        list
                    })
                });
                next.cancelled = Some(outcome);
            }
            Ok(TeamReply::Devices(d)) => {
                // What a revocation did was said; what it left to do shows as long as it waits
                // (`SyncStatus::revocations_unfinished`).
                next.revoked = None;
                next.devices = Some(d);
            }
            Ok(TeamReply::Revoked {
                revocation,
                devices,
            }) => {
                next.revoked = Some(revocation);
                next.devices = devices.or(next.devices);
                // A revoked lead's open invites went with it.
                next.invites = None;
            }
            Ok(TeamReply::Erased(e)) => next.erased = Some(e),
            Err(e) => next.error = Some(e),
        }
        next
    }
}

/// The app's view of a sync engine. Commands answer at once; their outcome arrives as status.
pub trait SyncEngine: Send + Sync + 'static {
    /// The status now.
    fn status(&self) -> SyncStatus;
    /// Every later status.
    fn watch(&self) -> amsc::UnboundedReceiver<SyncStatus>;
    /// Start a command; an error says why it cannot start.
    fn command(&self, command: SyncCommand) -> Result<(), String>;
    /// Something was saved on this device (so there is something to send).
    fn local_change(&self) {}
}

/// A shared engine, as put in the app's context.
pub type SharedSync = Arc<dyn SyncEngine>;

/// The stand-in until the sync engine is connected: offline, never joined.
#[derive(Debug, Default)]
#[cfg_attr(target_arch = "wasm32", allow(dead_code))]
pub struct NotConnected;

/// What [`NotConnected`] answers to a command.
#[cfg_attr(target_arch = "wasm32", allow(dead_code))]
pub const NOT_CONNECTED: &str =
    "sync is not connected in this build yet: everything you record stays on this device";

impl SyncEngine for NotConnected {
    fn status(&self) -> SyncStatus {
        SyncStatus::default()
    }

    fn watch(&self) -> amsc::UnboundedReceiver<SyncStatus> {
        // The sender is dropped at once: no status will ever follow.
        amsc::unbounded().1
    }

    fn command(&self, _command: SyncCommand) -> Result<(), String> {
        Err(NOT_CONNECTED.to_string())
    }
}

/// The app's view of the worker's status.
pub fn from_worker(s: &WorkerStatus) -> SyncStatus {
    SyncStatus {
        joined: s
            .joined
            .then(|| s.relay.clone().unwrap_or_else(|| "the team's relay".into())),
        device_id: s.device_id.clone(),
        online: s.joined && !s.offline,
        unreachable: s.offline,
        joining: false,
        pending: Some(s.pending),
        last_synced: s.last_synced_at.clone(),
        last_error: s.last_error.clone(),
        syncing: s.syncing,
        team_devices: s
            .team_devices
            .clone()
            .map(groundwork::report::DeviceSync::from_team),
        quarantined: s.quarantined,
        waiting: s.waiting,
        pulled: s.pulled,
        role: s.role.clone(),
        team: TeamPanel::default(),
        erasures_waiting: s.erasures_waiting.clone(),
        sealed: s.sealed,
        document_keys: s.document_keys,
        invite_room: s.invite_room,
        withheld: s.withheld,
        erasures_refused: s.erasures_refused,
        unsigned_lead: s.unsigned_lead,
        revocations_unfinished: s.revocations_unfinished,
        rejoined: None,
    }
}

/// The badge's words for a status and the store's count of changes waiting.
///
/// "Offline" when the relay could not be reached at all (that is no failure: everything stays
/// here and goes later); "Sync failed" only when the relay answered with a refusal or a fault;
/// "Not joined" (with the reason) when a join was refused. The reason is [`badge_reason`].
pub fn badge_text(status: &SyncStatus, store_pending: u64) -> String {
    let pending = status.pending.unwrap_or(store_pending);
    let waiting = match pending {
        0 => "all saved here".to_string(),
        n => groundwork::words::plural(n, "change waiting", "changes waiting"),
    };
    if status.joining {
        return format!("Joining… · {waiting}");
    }
    if status.syncing {
        return format!("Syncing… {waiting}");
    }
    if status.last_error.is_some() {
        return match (status.unreachable, &status.joined) {
            (true, _) => format!("Offline · {waiting}"),
            (false, None) => format!("Not joined · {waiting}"),
            (false, Some(_)) => format!("Sync failed · {waiting}"),
        };
    }
    match (&status.joined, status.online, &status.last_synced) {
        (None, _, _) => format!("Not joined · {waiting}"),
        (Some(_), false, _) => format!("Offline · {waiting}"),
        (Some(_), true, Some(at)) => format!("Synced {} · {waiting}", short_time(at)),
        (Some(_), true, None) => format!("Online · {waiting}"),
    }
}

/// Why the badge says what it says, when something went wrong: shown one tap away from it.
pub fn badge_reason(status: &SyncStatus) -> Option<String> {
    if status.joining || status.syncing {
        return None;
    }
    let e = status.last_error.as_deref()?;
    let mut reason = String::new();
    if status.unreachable {
        reason.push_str("The relay cannot be reached from here just now. ");
    } else if status.joined.is_none() {
        reason.push_str("Could not join: ");
    }
    // The core's messages start in lower case, to follow a colon; a sentence starts here.
    let mut chars = e.chars();
    if let Some(first) = chars.next() {
        if reason.is_empty() || reason.ends_with(". ") {
            reason.extend(first.to_uppercase());
        } else {
            reason.push(first);
        }
        reason.push_str(chars.as_str());
    }
    if !reason.ends_with('.') {
        reason.push('.');
    }
    Some(reason)
}

/// `HH:MM` in local time from an RFC 3339 time, or the text as given.
pub fn short_time(rfc3339: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| t.with_timezone(&chrono::Local).format("%H:%M").to_string())
        .unwrap_or_else(|_| rfc3339.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::relay_sync::RelaySync;
    use groundwork::sync::SyncError;

    #[test]
    fn the_panels_open_invites_follow_what_the_lead_does() {
        use groundwork::sync::team::{InviteShown, RevocationShown, TeamReply};
        use groundwork_protocol::{InviteCancelled, OpenInvite, Role};
        let open = |id: &str| OpenInvite {
            id: id.into(),
            role: Role::Canvasser,
            uses_left: 1,
            created_at: 0,
            expires_at: 1,
            made_by: None,
            carries_keys: true,
        };
        let shown = |id: &str| InviteShown {
            id: id.into(),
            code: format!("code-{id}"),
            link: format!("https://relay/#join=code-{id}"),
            lead: false,
            expires_at: String::new(),
        };
        let listed = TeamPanel::default().after(Ok(TeamReply::Invites(vec![open("a"), open("b")])));
        // A new invite: the list shown before lacks it, so it goes until asked for again.
        let made = listed.after(Ok(TeamReply::Invite(shown("c"))));
        assert_eq!(made.invites, None);
        // Cancelling the one just made takes its link off the screen; the relay's list after
        // it is shown, or else the list without it.
        let relisted = made.after(Ok(TeamReply::Invites(vec![open("a"), open("c")])));
        let outcome = |id: &str| InviteCancelled {
            id: id.into(),
            cancelled: true,
            joining: 0,
        };
        let cancelled = relisted.after(Ok(TeamReply::InviteCancelled {
            outcome: outcome("c"),
            invites: None,
        }));
        assert_eq!(cancelled.invite, None);
        assert_eq!(cancelled.invites, Some(vec![open("a")]));
        assert_eq!(cancelled.cancelled, Some(outcome("c")));
        let other = relisted.after(Ok(TeamReply::InviteCancelled {
            outcome: outcome("a"),
            invites: Some(vec![open("c")]),
        }));
        assert_eq!(
            other.invite,
            Some(shown("c")),
            "another invite's link stays"
        );
        assert_eq!(other.invites, Some(vec![open("c")]));
        // The outcome is said once; a revocation (whose lead's invites go with it) drops the list.
        let revoked = other.after(Ok(TeamReply::Revoked {
            revocation: RevocationShown {
                name: "x".into(),
                key_changed: false,
                erasures_signed_again: 0,
                erasures_not_signed: None,
            },
            devices: None,
        }));
        assert_eq!((revoked.cancelled, revoked.invites), (None, None));
    }

    #[test]
    fn badge_says_where_changes_are() {
        let s = SyncStatus::default();
        assert_eq!(badge_text(&s, 0), "Not joined · all saved here");
        assert_eq!(badge_text(&s, 3), "Not joined · 3 changes waiting");
        let joined = SyncStatus {
            joined: Some("https://relay".into()),
            ..Default::default()
        };
        assert_eq!(badge_text(&joined, 1), "Offline · 1 change waiting");
        let failed = SyncStatus {
            last_error: Some("x".into()),
            pending: Some(2),
            ..joined.clone()
        };
        assert_eq!(badge_text(&failed, 9), "Sync failed · 2 changes waiting");
        assert!(NotConnected.command(SyncCommand::SyncNow).is_err());
    }

    #[test]
    fn an_unreachable_relay_is_offline_with_the_reason_one_tap_away() {
        let refused_connection = SyncError::Unreachable {
            relay: "https://relay.example.org".into(),
            reason: "no connection".into(),
        };
        let s = SyncStatus {
            joined: Some("https://relay.example.org".into()),
            unreachable: true,
            last_error: Some(refused_connection.to_string()),
            pending: Some(1),
            ..Default::default()
        };
        assert_eq!(badge_text(&s, 0), "Offline · 1 change waiting");
        let reason = badge_reason(&s).unwrap();
        assert!(
            reason.starts_with("The relay cannot be reached from here just now. Cannot reach"),
            "{reason}"
        );
        assert!(reason.contains("no connection"), "{reason}");
        // The worker's own status says the same.
        let w = WorkerStatus {
            joined: true,
            offline: true,
            last_error: Some(refused_connection.to_string()),
            ..Default::default()
        };
        assert_eq!(badge_text(&from_worker(&w), 0), "Offline · all saved here");
        // A join that cannot reach the relay is offline too.
        let join = SyncStatus {
            joined: None,
            ..s.clone()
        };
        assert_eq!(badge_text(&join, 0), "Offline · 1 change waiting");
    }

    #[test]
    fn a_refusal_keeps_an_honest_message() {
        let token = SyncError::UnknownDevice("unknown token".into());
        let s = SyncStatus {
            joined: Some("https://relay.example.org".into()),
            online: true,
            last_error: Some(token.to_string()),
            ..Default::default()
        };
        assert_eq!(badge_text(&s, 0), "Sync failed · all saved here");
        let reason = badge_reason(&s).unwrap();
        assert!(
            reason.starts_with("The relay does not recognise"),
            "{reason}"
        );
        let invite = SyncStatus {
            joined: None,
            last_error: Some(SyncError::InviteRefused("expired".into()).to_string()),
            ..Default::default()
        };
        assert_eq!(badge_text(&invite, 0), "Not joined · all saved here");
        assert_eq!(
            badge_reason(&invite).unwrap(),
            "Could not join: the relay refused the invite: expired; ask your team lead for a new invite."
        );
        assert_eq!(badge_reason(&SyncStatus::default()), None);
        let joining = SyncStatus {
            joining: true,
            ..invite
        };
        assert_eq!(badge_text(&joining, 0), "Joining… · all saved here");
        assert_eq!(badge_reason(&joining), None);
    }

    #[test]
    fn worker_status_maps_to_the_badge() {
        let w = WorkerStatus {
            joined: true,
            relay: Some("https://relay.example.org".into()),
            device_id: Some("d7".into()),
            pending: 4,
            last_synced_at: None,
            last_error: None,
            offline: true,
            syncing: false,
            team_devices: Some(vec![groundwork::sync::TeamDevice {
                device_id: "d1".into(),
                name: "Sam's phone".into(),
                last_sync_at: Some(0),
                revoked: false,
                actor: None,
                role: groundwork_protocol::Role::Canvasser,
                enrolled_at: 0,
                stored_bytes: 0,
            }]),
            quarantined: 2,
            waiting: 1,
            pulled: 7,
            role: Some("lead".into()),
            erasures_waiting: Vec::new(),
            sealed: true,
            document_keys: true,
            invite_room: Some(40),
            withheld: 3,
            erasures_refused: 1,
            unsigned_lead: true,
            revocations_unfinished: 1,
        };
        let s = from_worker(&w);
        assert_eq!(s.revocations_unfinished, 1);
        assert!(s.sealed && s.document_keys);
        assert_eq!(s.invite_room, Some(40));
        assert_eq!(s.withheld, 3);
        assert_eq!(s.erasures_refused, 1);
        assert_eq!(s.device_id.as_deref(), Some("d7"));
        assert!(s.unsigned_lead);
        let devices = s.team_devices.clone().unwrap();
        assert_eq!(devices[0].name, "Sam's phone");
        assert_eq!(
            devices[0].last_sync.as_deref(),
            Some("1970-01-01T00:00:00.000Z")
        );
        assert_eq!(s.joined.as_deref(), Some("https://relay.example.org"));
        assert_eq!(badge_text(&s, 0), "Offline · 4 changes waiting");
        assert_eq!((s.quarantined, s.waiting, s.pulled), (2, 1, 7));
        assert_eq!(s.role.as_deref(), Some("lead"));
        let s = from_worker(&WorkerStatus::default());
        assert_eq!(s.joined, None);
        assert_eq!(badge_text(&s, 0), "Not joined · all saved here");
    }

    #[test]
    fn a_fresh_notebook_is_not_joined_and_sync_now_says_to_join() {
        let dir = tempfile::tempdir().unwrap();
        let engine = RelaySync::start(&dir.path().join("n")).unwrap();
        assert_eq!(engine.status().joined, None);
        let err = engine.command(SyncCommand::SyncNow).unwrap_err();
        assert!(err.contains("join a team first"), "{err}");
        let err = engine.command(SyncCommand::Repair).unwrap_err();
        assert!(err.contains("join a team first"), "{err}");
    }

    #[test]
    fn joining_ends_when_the_join_does() {
        let dir = tempfile::tempdir().unwrap();
        let engine = RelaySync::start(&dir.path().join("n")).unwrap();
        let mut updates = engine.watch();
        // Nothing listens on port 1: the join fails at once, as an unreachable relay.
        engine
            .command(SyncCommand::Join {
                relay: "http://127.0.0.1:1".into(),
                invite: "abc".into(),
                device_name: "Sam's phone".into(),
            })
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let mut saw_joining = false;
        let last = loop {
            assert!(std::time::Instant::now() < deadline, "the join never ended");
            match updates.try_recv() {
                Ok(s) => {
                    saw_joining |= s.joining;
                    if !s.joining && s.last_error.is_some() {
                        break s;
                    }
                }
                _ => std::thread::sleep(std::time::Duration::from_millis(20)),
            }
        };
        assert!(saw_joining);
        assert!(!engine.status().joining);
        assert!(last.unreachable, "{last:?}");
        assert_eq!(badge_text(&last, 0), "Offline · all saved here");
    }
}
