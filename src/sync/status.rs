//! What a sync engine reports for the app's badge and settings: [`Status`], read from the
//! store after each attempt. Shared by the desktop's sync thread and the browser's store
//! worker.

use serde::{Deserialize, Serialize};

use crate::store::Store;

/// What the app shows in its sync badge.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// Whether this device has joined a team.
    pub joined: bool,
    /// The relay, once joined.
    pub relay: Option<String>,
    /// This device's id at the relay, once joined (what the team's device list calls it).
    #[serde(default)]
    pub device_id: Option<String>,
    /// Local changes waiting for the relay.
    pub pending: u64,
    /// When the last sync completed.
    pub last_synced_at: Option<String>,
    /// The last error, cleared by a successful sync.
    pub last_error: Option<String>,
    /// True when the last attempt could not reach the relay.
    pub offline: bool,
    /// True while a sync runs.
    pub syncing: bool,
    /// The team's devices with their last sync, as the relay said after a successful sync
    /// (for the team lead's shift report): asked for on the first sync, on "sync now", and at
    /// most every ten minutes otherwise.
    pub team_devices: Option<Vec<crate::sync::TeamDevice>>,
    /// Pulled changes refused (corrupt, damaging, or written as another device) and kept in
    /// quarantine.
    pub quarantined: u64,
    /// Pulled changes waiting for changes they depend on.
    pub waiting: u64,
    /// Changes pulled from the team since the worker started (it grows after every sync that
    /// took something in: a screen showing the notebook re-reads it then).
    pub pulled: u64,
    /// This device's role in its team as the relay last said: `lead` or `canvasser`.
    #[serde(default)]
    pub role: Option<String>,
    /// On a lead's device: the team's erasures not yet confirmed by every device, as the relay
    /// last counted.
    #[serde(default)]
    pub erasures_waiting: Vec<crate::store::ErasureRecord>,
    /// The team's notebook is end-to-end encrypted (the relay stores only sealed changes).
    #[serde(default)]
    pub sealed: bool,
    /// Each document has its own key too, so that an erasure reaches copies of the relay taken
    /// before it (a team made since; see `crypto::doc_keys`).
    #[serde(default)]
    pub document_keys: bool,
    /// About how many more erasures the team's invites have room for (each erasure grows the
    /// keys an invite carries); `None` in a team without document keys.
    #[serde(default)]
    pub invite_room: Option<u64>,
    /// Blobs and pushes other devices' push records say the relay holds and it has not served
    /// this device ([`crate::store::Withheld`]).
    #[serde(default)]
    pub withheld: u64,
    /// Erasure orders the relay handed over that no lead of the team signed: not carried out
    /// ([`crate::store::RefusedErasure`]).
    #[serde(default)]
    pub erasures_refused: u64,
    /// The relay names this device a lead, but no lead of the team signed it as one: the other
    /// devices would not follow its lead's acts (see `crypto::trust`).
    #[serde(default)]
    pub unsigned_lead: bool,
    /// Revocations by this lead whose erasures wait to be signed again (the relay went away
    /// after it revoked the device): the next listing of the team's devices finishes them.
    #[serde(default)]
    pub revocations_unfinished: u64,
}

impl Status {
    /// The status as the store says it now: `offline` after an attempt that could not reach
    /// the relay, the team's devices last heard of, and the changes pulled so far.
    pub fn read(
        store: &Store,
        offline: bool,
        devices: &Option<Vec<crate::sync::TeamDevice>>,
        pulled: u64,
    ) -> Status {
        let pending = store.pending_changes().unwrap_or(0);
        let quarantined = store.quarantined().map_or(0, |q| q.len() as u64);
        let waiting = store
            .waiting_docs()
            .map_or(0, |w| w.iter().map(|(_, n)| *n as u64).sum());
        let ring = store.keyring().ok();
        match store.sync_state() {
            Ok(s) => Status {
                joined: s.link.is_some(),
                device_id: s.link.as_ref().map(|l| l.relay_device_id.clone()),
                relay: s.link.map(|l| l.relay_url),
                pending,
                last_synced_at: s.last_sync_at,
                last_error: s.last_error,
                offline,
                syncing: false,
                team_devices: devices.clone(),
                quarantined,
                waiting,
                pulled,
                role: store.role().ok().flatten(),
                erasures_waiting: match store.role() {
                    Ok(Some(r)) if r == "lead" => store.erasures_waiting().unwrap_or_default(),
                    _ => Vec::new(),
                },
                sealed: store.sealed().unwrap_or(false),
                document_keys: ring.as_ref().is_some_and(|k| k.doc_keys().is_some()),
                invite_room: ring
                    .as_ref()
                    .and_then(|k| k.invite_room(groundwork_protocol::team::MAX_INVITE_KEYS_LEN)),
                withheld: store.withheld().map_or(0, |w| (w.blobs + w.pushes) as u64),
                erasures_refused: store.refused_erasures().map_or(0, |r| r.len() as u64),
                unsigned_lead: store.role().ok().flatten().as_deref() == Some("lead")
                    && !store.may_sign_as_lead().unwrap_or(true),
                revocations_unfinished: super::team::revocations_unfinished(store),
            },
            Err(e) => Status {
                pending,
                quarantined,
                waiting,
                pulled,
                last_error: Some(e.to_string()),
                ..Status::default()
            },
        }
    }
}
