//! Joining a team and syncing: the small I/O part around [`super::plan`].

use groundwork_protocol::{DocChangesRequest, EnrolRequest, SyncResponse};
use serde::Serialize;

use super::plan::{self, Budget};
use super::{SyncError, Transport};
use crate::error::Error;
use crate::store::{Incoming, Pusher, RelayLink, Store};

/// Documents asked for again by one automatic repair, at most.
const AUTO_REPAIR_DOCS: usize = 20;
/// A document is asked for again automatically at most this often.
const AUTO_REPAIR_EVERY: chrono::Duration = chrono::Duration::hours(1);

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
    /// Pulled changes refused as corrupt, damaging or written as another device, and kept in
    /// quarantine (the rest were applied).
    pub rejected: usize,
    /// Pulled changes still waiting for changes they depend on (all documents).
    pub waiting: usize,
    /// Documents asked for again because their changes kept waiting.
    pub repaired: usize,
    /// Round trips made.
    pub round_trips: usize,
}

/// Enrol this device with `invite` at `relay` under `name`, and remember the link. `name` names
/// the device ("Sam's phone"), not its canvasser: the name recorded on conversations and shifts
/// is set apart ([`Store::set_canvasser_name`]).
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
            actor: Some(crate::store::intake::hex(&store.actor_bytes())),
        },
    )?;
    store.set_relay_link(&RelayLink {
        relay_url: relay.clone(),
        team_id: answer.team_id.clone(),
        relay_device_id: answer.device_id.clone(),
        token: answer.token,
    })?;
    store.set_device_name(&name)?;
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

/// What to ask the relay for again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Repair {
    /// These documents' changes.
    Docs(Vec<String>),
    /// Every document with changes waiting for their dependencies.
    Waiting,
    /// The team's whole log, from the start (for a device that lost changes to an older
    /// version of the app).
    Everything,
}

/// Ask the relay for documents' changes again, take them in, then sync. Returns the sync's
/// report with `repaired` set.
pub fn repair(
    store: &mut Store,
    transport: &dyn Transport,
    what: Repair,
    budget: Budget,
) -> Result<SyncReport, SyncError> {
    let link = store.sync_state()?.link.ok_or(SyncError::NotJoined)?;
    let result = (|| {
        let docs = match what {
            Repair::Docs(docs) => docs,
            Repair::Waiting => store.waiting_docs()?.into_iter().map(|(d, _)| d).collect(),
            Repair::Everything => {
                store.rewind_cursor()?;
                Vec::new()
            }
        };
        let mut report = SyncReport::default();
        for doc in &docs {
            repair_doc(store, transport, &link, doc, budget, &mut report)?;
        }
        let synced = run(store, transport, budget)?;
        Ok(SyncReport {
            pulled: report.pulled + synced.pulled,
            rejected: report.rejected + synced.rejected,
            round_trips: report.round_trips + synced.round_trips,
            repaired: report.repaired + synced.repaired,
            ..synced
        })
    })();
    let error = result.as_ref().err().map(ToString::to_string);
    store.record_sync_outcome(error.as_deref())?;
    result
}

/// Pull every change of `doc_id` again and take them in.
fn repair_doc(
    store: &mut Store,
    transport: &dyn Transport,
    link: &RelayLink,
    doc_id: &str,
    budget: Budget,
    report: &mut SyncReport,
) -> Result<(), SyncError> {
    let mut after = 0;
    loop {
        let request = DocChangesRequest {
            doc_id: doc_id.to_string(),
            after,
            max_bytes: Some(budget.pull_bytes),
        };
        let response = transport.doc_changes(&link.relay_url, &link.token, &request)?;
        report.round_trips += 1;
        report.pulled += response.changes.len();
        let intake = take_in(store, &response, None)?;
        report.rejected += intake;
        if !response.more || response.cursor <= after {
            break;
        }
        after = response.cursor;
    }
    store.batch(|w| w.retry_waiting(doc_id))?;
    store.mark_repaired(doc_id)?;
    report.repaired += 1;
    Ok(())
}

/// Take in the changes of a relay answer, with the cursor to store alongside (if any);
/// returns how many were quarantined.
fn take_in(
    store: &mut Store,
    response: &SyncResponse,
    cursor: Option<u64>,
) -> Result<usize, Error> {
    let pushers: Vec<Pusher> = response
        .pushers
        .iter()
        .map(|p| Pusher {
            actor: p.actor.clone(),
            name: p.name.clone(),
        })
        .collect();
    let incoming: Vec<Incoming<'_>> = response
        .changes
        .iter()
        .map(|c| Incoming {
            doc_id: &c.doc_id,
            blob: &c.blob,
            pusher: pushers.get(c.pusher),
        })
        .collect();
    store.batch(|w| {
        let r = w.take_in(&incoming)?;
        if let Some(cursor) = cursor {
            w.advance_cursor(cursor)?;
        }
        Ok(r.quarantined)
    })
}

fn run(
    store: &mut Store,
    transport: &dyn Transport,
    budget: Budget,
) -> Result<SyncReport, SyncError> {
    let state = store.sync_state()?;
    let link = state.link.ok_or(SyncError::NotJoined)?;
    let started = chrono::Utc::now();
    let mut cursor = state.cursor;
    let mut report = SyncReport::default();
    let actor = store.actor_bytes();
    loop {
        // Enough outbox rows to fill the push budget (rows are at most a few KiB).
        let outbox = store.outbox(budget.push_bytes / 256 + 1)?;
        let planned = plan::next_request(&outbox, cursor, budget, &actor);
        let response = transport.sync(&link.relay_url, &link.token, &planned.request)?;
        report.round_trips += 1;
        let absorb = plan::absorb(&planned, response)?;
        report.pulled += absorb.changes.len();
        let answer = SyncResponse {
            accepted: Vec::new(),
            pushers: absorb.pushers,
            changes: absorb.changes,
            cursor: absorb.cursor,
            more: false,
        };
        report.rejected += take_in(store, &answer, Some(absorb.cursor))?;
        store.acknowledge(&absorb.acknowledged)?;
        report.pushed += absorb.acknowledged.len();
        cursor = absorb.cursor;
        if !absorb.again {
            break;
        }
    }
    // Changes that still wait after a whole pull may depend on changes this device never
    // received (an older version dropped some): ask for their documents again, now and then.
    let stamp = |t: chrono::DateTime<chrono::Utc>| crate::model::format_time(t);
    let due = store.docs_to_repair(&stamp(started), &stamp(started - AUTO_REPAIR_EVERY))?;
    for doc in due.iter().take(AUTO_REPAIR_DOCS) {
        repair_doc(store, transport, &link, doc, budget, &mut report)?;
    }
    report.waiting = store.waiting_docs()?.iter().map(|(_, n)| n).sum();
    Ok(report)
}
