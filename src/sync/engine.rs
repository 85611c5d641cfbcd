//! Joining a team and syncing: the small I/O part around [`super::plan`].

use groundwork_protocol::EnrolRequest;
use serde::Serialize;

use super::plan::{self, Budget};
use super::{SyncError, Transport};
use crate::error::Error;
use crate::store::{RelayLink, Store};

/// What `join` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JoinReport {
    /// The relay.
    pub relay: String,
    /// The team joined.
    pub team_id: String,
    /// This device's id at the relay.
    pub device_id: String,
    /// The device name given.
    pub device_name: String,
}

/// What a sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SyncReport {
    /// Local changes the relay acknowledged.
    pub pushed: usize,
    /// Changes pulled from the team (including ones this device already had).
    pub pulled: usize,
    /// Pulled changes refused as corrupt or damaging (the rest were applied).
    pub rejected: usize,
    /// Round trips made.
    pub round_trips: usize,
}

/// Enrol this device with `invite` at `relay` under `name`, and remember the link. Also sets
/// the canvasser name of this device to `name`.
pub fn join(
    store: &mut Store,
    transport: &dyn Transport,
    relay: &str,
    invite: &str,
    name: &str,
) -> Result<JoinReport, SyncError> {
    let name = crate::model::required("device name", name).map_err(Error::from)?;
    let relay = relay.trim().trim_end_matches('/').to_string();
    let answer = transport.enrol(
        &relay,
        &EnrolRequest {
            invite: invite.trim().to_string(),
            device_name: name.clone(),
        },
    )?;
    store.set_relay_link(&RelayLink {
        relay_url: relay.clone(),
        team_id: answer.team_id.clone(),
        relay_device_id: answer.device_id.clone(),
        token: answer.token,
    })?;
    store.set_canvasser_name(&name)?;
    Ok(JoinReport {
        relay,
        team_id: answer.team_id,
        device_id: answer.device_id,
        device_name: name,
    })
}

/// The devices of this device's team with their last sync, as the relay knows them.
pub fn team_devices(
    store: &Store,
    transport: &dyn Transport,
) -> Result<Vec<super::TeamDevice>, SyncError> {
    let link = store.sync_state()?.link.ok_or(SyncError::NotJoined)?;
    transport.devices(&link.relay_url, &link.token)
}

/// Push everything waiting and pull everything new, as many round trips as that takes.
/// The outcome (time or error) is recorded in the store for `status`.
pub fn sync_once(
    store: &mut Store,
    transport: &dyn Transport,
    budget: Budget,
) -> Result<SyncReport, SyncError> {
    let result = run(store, transport, budget);
    let error = result.as_ref().err().map(ToString::to_string);
    store.record_sync_outcome(error.as_deref())?;
    result
}

fn run(
    store: &mut Store,
    transport: &dyn Transport,
    budget: Budget,
) -> Result<SyncReport, SyncError> {
    let state = store.sync_state()?;
    let link = state.link.ok_or(SyncError::NotJoined)?;
    let mut cursor = state.cursor;
    let mut report = SyncReport::default();
    loop {
        // Enough outbox rows to fill the push budget (rows are at most a few KiB).
        let outbox = store.outbox(budget.push_bytes / 256 + 1)?;
        let planned = plan::next_request(&outbox, cursor, budget);
        let response = transport.sync(&link.relay_url, &link.token, &planned.request)?;
        report.round_trips += 1;
        let absorb = plan::absorb(&planned, response)?;
        report.pulled += absorb.apply.iter().map(|(_, b)| b.len()).sum::<usize>();
        let rejected = store.batch(|w| {
            let mut rejected = 0;
            for (doc, blobs) in &absorb.apply {
                match w.apply_remote(doc, blobs) {
                    Ok(_) => {}
                    Err(
                        Error::CorruptChange { .. } | Error::BadDocument { .. } | Error::Invalid(_),
                    ) => {
                        rejected += blobs.len();
                    }
                    Err(e) => return Err(e),
                }
            }
            w.advance_cursor(absorb.cursor)?;
            Ok(rejected)
        })?;
        report.rejected += rejected;
        store.acknowledge(&absorb.acknowledged)?;
        report.pushed += absorb.acknowledged.len();
        cursor = absorb.cursor;
        if !absorb.again {
            return Ok(report);
        }
    }
}
