//! Joining a team and syncing: the small I/O part around [`super::plan`].
//!
//! The functions here are `async` over any [`Wire`] and reach the store through a
//! [`Notebook`], borrowing it only between awaits: in the browser's store worker the UI's
//! requests are answered while a sync waits on the network. The command line and the desktop
//! app call the blocking forms in [`super`] (`sync::sync_once`, …).

use groundwork_protocol::{
    DocChangesRequest, EnrolRequest, PushItem, SyncResponse, TOKEN_PREFIX, normalise_invite,
};
use serde::Serialize;

use super::pace;
use super::plan::{self, Budget};
use super::relay::{News, Relay, Wire};
use super::{Helpers, NoHelpers, Notebook, SyncError, team};
use crate::crypto::CryptoError;
use crate::crypto::doc_keys::DocKeys;
use crate::crypto::keys::{InviteContents, InviteSecret, Keyring, TeamKey, open_invite};
use crate::error::Error;
use crate::store::compaction::{MAX_SNAPSHOTS_PER_SYNC, SNAPSHOT_MARK};
use crate::store::elsewhere::DoneElsewhere;
use crate::store::{Incoming, JoinTrust, Joining, PendingJoin, Pusher, RelayLink, Store};

/// Documents asked for again by one automatic repair, at most.
const AUTO_REPAIR_DOCS: usize = 20;
/// Member records asked for by one sync, at most (see [`fetch_awaited_members`]).
const MEMBERS_ASKED_PER_SYNC: usize = 20;
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
    /// What the device may do in the team: `lead` or `canvasser`.
    pub role: &'static str,
    /// For a notebook that had joined before: what taking its new identity did (the documents
    /// whose unsent changes were written again, the unsent records dropped).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub renewed: Option<crate::store::Renewed>,
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
    /// People (documents) erased from this device by the team's erasure orders.
    pub erased: usize,
    /// Blobs and whole pushes that other devices' push records say the relay holds and it has
    /// not served this device, even when their documents were asked for again: a relay
    /// withholding the team's work (`status` lists them).
    pub withheld: usize,
    /// Documents this lead's device compacted: snapshots pushed and announced to the relay.
    pub compacted: usize,
}

/// Enrol this device with `invite` at `relay` under `name`, and remember the link. Called again
/// with the same invite after its answer never came, it asks again as the same enrolment (the
/// relay answers it again without using the invite again). `name` names
/// the device ("Sam's phone"), not its canvasser: the name recorded on conversations and shifts
/// is set apart ([`Store::set_canvasser_name`]).
pub async fn join<W: Wire>(
    store: &impl Notebook,
    transport: &Relay<W>,
    relay: &str,
    invite: &str,
    name: &str,
) -> Result<JoinReport, SyncError> {
    let name = crate::model::required("device name", name).map_err(Error::from)?;
    // A whole join link pasted where the code goes: the link names its relay too.
    let linked = super::team::split_join_link(invite);
    let (relay, invite) = match &linked {
        Some((Some(relay), code)) => (relay.as_str(), code.as_str()),
        Some((None, code)) => (relay, code.as_str()),
        None => (relay, invite),
    };
    let relay = relay.trim().trim_end_matches('/').to_string();
    // An invite from a lead's app is `CODE.SECRET`: the code goes to the relay, the secret
    // (which opens the team's keys the relay hands over) never does.
    let (invite, secret) = match invite.trim().split_once('.') {
        Some((code, secret)) => (
            code,
            Some(InviteSecret::parse(secret).map_err(Error::from)?),
        ),
        None => (invite.trim(), None),
    };
    let Asking {
        renew,
        token,
        repeat,
    } = asking(store, &relay, invite)?;
    let actor = match &renew {
        Some(id) => crate::store::actor_for(id).to_hex_string(),
        None => store.with(|s| crate::store::intake::hex(&s.actor_bytes())),
    };
    let answer = match transport
        .enrol(
            &relay,
            &EnrolRequest {
                invite: invite.to_string(),
                device_name: name.clone(),
                actor: Some(actor),
                sealing: true,
                token: Some(token),
                holds_secret: Some(secret.is_some()),
            },
        )
        .await
    {
        Ok(answer) => answer,
        Err(e) => {
            // A refusal ends the join, and the next attempt asks afresh (a refused repeat, the
            // invite expired meanwhile say, may have had its first asking enrolled). Anything
            // else (no answer, the relay failing, an answer that cannot be read) may have
            // enrolled it all the same: the join is kept, the same invite asks again as the
            // same enrolment, and any other join replacing it takes a new identity.
            if matches!(e, SyncError::InviteRefused(_) | SyncError::Refused { .. }) {
                store.with(|s| s.drop_pending_join(repeat))?;
            }
            return Err(match e {
                SyncError::Unreachable { relay, reason } => {
                    SyncError::JoinUnreachable { relay, reason }
                }
                e => e,
            });
        }
    };
    // From here the relay holds this identity for the team: if the join fails now, the same
    // invite (a whole link, say) asks again as the same enrolment, and any other join must
    // come with a new identity.
    joined_with(store, relay, name, renew, secret, answer).await
}

/// What a join asks the relay with: the identity (`renew`: a new device id, or `None` for the
/// notebook's own), the token, and whether it is the same join asked again.
struct Asking {
    renew: Option<String>,
    token: String,
    repeat: bool,
}

/// A join asked for before with this invite whose answer never came is asked again as it was
/// (the same token and identity): the relay answers it again without using the invite again.
/// Otherwise a new token, and the request kept (committed) before it goes.
fn asking(store: &impl Notebook, relay: &str, invite: &str) -> Result<Asking, SyncError> {
    let pending = store.with(|s| s.pending_join())?;
    if let Some(p) = &pending
        && p.relay == relay
        && normalise_invite(&p.invite) == normalise_invite(invite)
    {
        return Ok(Asking {
            renew: p.renew.clone(),
            token: p.token.clone(),
            repeat: true,
        });
    }
    // A notebook that has joined before (this team or another) joins with a new identity: a
    // revoked one would otherwise have everything it writes refused, and the relay enrols an
    // actor once per team (see `store::identity`). So does one whose own identity another join
    // asked with and never took in: the relay may hold it (the app was closed before it heard,
    // or the answer was lost).
    let renew = store
        .with(|s| {
            Ok::<_, Error>(
                s.sync_state()?.link.is_some()
                    || s.identity_spent()?
                    || pending.as_ref().is_some_and(|p| p.renew.is_none()),
            )
        })?
        .then(|| crate::ids::new_device_id().to_string());
    let token = format!(
        "{TOKEN_PREFIX}{}",
        groundwork_protocol::id::hex(&crate::crypto::random::<32>().map_err(Error::from)?)
    );
    store.with(|s| {
        s.set_pending_join(&PendingJoin {
            relay: relay.to_string(),
            invite: invite.to_string(),
            token: token.clone(),
            renew: renew.clone(),
        })
    })?;
    Ok(Asking {
        renew,
        token,
        repeat: false,
    })
}

/// The rest of [`join`], once the relay enrolled this device with `answer`.
async fn joined_with(
    store: &impl Notebook,
    relay: String,
    name: String,
    renew: Option<String>,
    secret: Option<InviteSecret>,
    answer: groundwork_protocol::EnrolResponse,
) -> Result<JoinReport, SyncError> {
    let mut opened = None;
    let keys = match (answer.sealed, &answer.sealed_keys, &secret) {
        (true, Some(sealed), Some(secret)) => {
            let contents = open_invite(secret, &answer.team_id, sealed).map_err(Error::from)?;
            let keys = contents.keys.clone();
            opened = Some(contents);
            keys
        }
        (true, Some(_), None) => return Err(Error::from(CryptoError::Invite).into()),
        // An invite that carries a key belongs to an encrypted team: a relay that answers
        // "not encrypted" or leaves the keys out is not believed (it would have this device
        // send in the clear, or make a key of its own).
        (_, _, Some(_)) => {
            return Err(Error::from(CryptoError::Key(
                "the relay answered this invite without the team's keys, which it must hand over: do not use this relay, and tell your team lead".into(),
            ))
            .into());
        }
        (false, _, None) => Keyring::default(),
        // The first device of a new team makes its key, and the tree of its documents' own
        // keys that erasure cuts.
        (true, None, None) => Keyring::new([TeamKey::generate(1).map_err(Error::from)?])
            .with_doc_keys(DocKeys::generate().map_err(Error::from)?),
    };
    // A team whose documents have their own keys never hands out an invite without them: one
    // that does (an older app's, or forged) would leave this device unable to read or write.
    let had_tree = store.with(|s| {
        Ok::<_, Error>(
            s.sync_state()?
                .link
                .is_some_and(|l| l.team_id == answer.team_id)
                && s.keyring()?.doc_keys().is_some(),
        )
    })?;
    if had_tree && answer.sealed && keys.doc_keys().is_none() {
        return Err(Error::from(CryptoError::Key(
            "this invite does not carry the team's document keys, which this device already holds: ask a team lead for an invite from an up-to-date app".into(),
        ))
        .into());
    }
    let trust = match (&opened, &secret) {
        (
            Some(InviteContents {
                anchor: Some(anchor),
                anchor_actor: Some(anchor_actor),
                cert: Some(cert),
                ..
            }),
            Some(secret),
        ) => JoinTrust::Invite {
            team: &answer.team_id,
            anchor,
            anchor_actor,
            secret,
            cert,
        },
        // An older lead's invite: the relay's word on roles stands in that team.
        (Some(_), _) => JoinTrust::Relay,
        // This device made the team's first key: its signing key is the team's anchor.
        (None, _) if answer.sealed => JoinTrust::Root,
        (None, _) => JoinTrust::Relay,
    };
    let link = RelayLink {
        relay_url: relay.clone(),
        team_id: answer.team_id.clone(),
        relay_device_id: answer.device_id.clone(),
        token: answer.token,
    };
    let renewed = store.with(|s| {
        s.adopt_team_keys(Joining {
            sealed: answer.sealed,
            keys: &keys,
            device_name: &name,
            trust,
            link: &link,
            role: answer.role.as_str(),
            renew: renew.as_deref(),
        })
    })?;
    Ok(JoinReport {
        relay,
        team_id: answer.team_id,
        device_id: answer.device_id,
        device_name: name,
        role: answer.role.as_str(),
        renewed,
    })
}

/// The devices of this device's team with their last sync, as the relay knows them (a lead;
/// see [`super::team::devices`]).
pub async fn team_devices<W: Wire>(
    store: &impl Notebook,
    transport: &Relay<W>,
) -> Result<Vec<super::TeamDevice>, SyncError> {
    super::team::devices(store, transport).await
}

/// Push everything waiting and pull everything new, as many round trips as that takes.
/// The outcome (time or error) is recorded in the store for `status`.
pub async fn sync_once<W: Wire>(
    store: &impl Notebook,
    transport: &Relay<W>,
    budget: Budget,
) -> Result<SyncReport, SyncError> {
    sync_pages(store, transport, budget, &mut |_| {}).await
}

/// [`sync_once`], calling `on_page` with the number of changes each pulled page brought, once
/// that page is stored: an app shows a first sync's records as they arrive.
pub async fn sync_pages<W: Wire>(
    store: &impl Notebook,
    transport: &Relay<W>,
    budget: Budget,
    on_page: &mut dyn FnMut(usize),
) -> Result<SyncReport, SyncError> {
    sync_pages_with(store, transport, budget, on_page, &NoHelpers).await
}

/// [`sync_pages`], with each pulled page's blobs opened and checked by `helpers` (and this
/// worker) before the page is taken in: the phone's store worker, which has no threads.
pub async fn sync_pages_with<W: Wire>(
    store: &impl Notebook,
    transport: &Relay<W>,
    budget: Budget,
    on_page: &mut dyn FnMut(usize),
    helpers: &impl Helpers,
) -> Result<SyncReport, SyncError> {
    let (kept, this_run) = resume_pace(store, transport)?;
    let result = run(store, transport, budget, on_page, helpers).await;
    store.with(|s| s.sync_ended(&this_run))?;
    let error = result.as_ref().err().map(ToString::to_string);
    store.with(|s| s.record_sync_outcome(error.as_deref()))?;
    keep_pace(store, transport, kept)?;
    result
}

/// Start from what the last sync learnt of the link (`sync::pace`), so that a phone on a weak
/// signal does not spend a request's whole patience on a page too large for it first.
/// Returns what was kept, and this sync's token for its note (`Store::sync_starts`).
///
/// The last sync never ended (the note it leaves while it runs is still there): its process was
/// ended during a request, perhaps one too large for the link to finish in the time the app
/// was given. It counts as a request that timed out: this one asks for a quarter as much
/// (`Pace::after_unfinished`).
fn resume_pace<W: Wire>(
    store: &impl Notebook,
    transport: &Relay<W>,
) -> Result<(Option<u64>, String), SyncError> {
    let mut kept = store.with(|s| s.link_pace())?;
    let this_run = uuid::Uuid::new_v4().to_string();
    if store.with(|s| s.sync_starts(&this_run))? {
        let smaller = super::pace::Pace::after_unfinished(kept);
        store.with(|s| s.set_link_pace(smaller))?;
        kept = Some(smaller);
    }
    if let Some(allowance) = kept {
        transport.resume_pace(allowance);
    }
    Ok((kept, this_run))
}

/// Keep what this sync learnt of the link for the next one (written only if it differs from
/// what was `kept`).
fn keep_pace<W: Wire>(
    store: &impl Notebook,
    transport: &Relay<W>,
    kept: Option<u64>,
) -> Result<(), SyncError> {
    match transport.learnt_pace() {
        Some(learnt) if kept != Some(learnt) => store.with(|s| s.set_link_pace(learnt))?,
        _ => {}
    }
    Ok(())
}

/// What to ask the relay for again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Repair {
    /// These documents' changes.
    Docs(Vec<String>),
    /// Every document with changes waiting for their dependencies, or refused for want of
    /// room to wait.
    Waiting,
    /// The team's whole log, from the start (for a device that lost changes to an older
    /// version of the app).
    Everything,
}

/// Ask the relay for documents' changes again, take them in, then sync. Returns the sync's
/// report with `repaired` set.
pub async fn repair<W: Wire>(
    store: &impl Notebook,
    transport: &Relay<W>,
    what: Repair,
    budget: Budget,
) -> Result<SyncReport, SyncError> {
    let link = store
        .with(|s| s.sync_state())?
        .link
        .ok_or(SyncError::NotJoined)?;
    let (kept, this_run) = resume_pace(store, transport)?;
    let result = async {
        let docs = match what {
            Repair::Docs(docs) => docs,
            Repair::Waiting => store.with(|s| {
                let mut docs: Vec<String> = s.waiting_docs()?.into_iter().map(|(d, _)| d).collect();
                let mut seen: std::collections::HashSet<String> = docs.iter().cloned().collect();
                for d in s.refused_for_room_docs()? {
                    if seen.insert(d.clone()) {
                        docs.push(d);
                    }
                }
                Ok::<_, Error>(docs)
            })?,
            Repair::Everything => {
                store.with(|s| s.rewind_cursor())?;
                Vec::new()
            }
        };
        let mut report = SyncReport::default();
        for doc in &docs {
            repair_doc(store, transport, &link, doc, budget, &mut report).await?;
        }
        let synced = run(store, transport, budget, &mut |_| {}, &NoHelpers).await?;
        Ok(SyncReport {
            pulled: report.pulled + synced.pulled,
            rejected: report.rejected + synced.rejected,
            round_trips: report.round_trips + synced.round_trips,
            repaired: report.repaired + synced.repaired,
            ..synced
        })
    }
    .await;
    store.with(|s| s.sync_ended(&this_run))?;
    let error = result.as_ref().err().map(ToString::to_string);
    store.with(|s| s.record_sync_outcome(error.as_deref()))?;
    keep_pace(store, transport, kept)?;
    result
}

/// Pull every change of `doc_id` again and take them in.
async fn repair_doc<W: Wire>(
    store: &impl Notebook,
    transport: &Relay<W>,
    link: &RelayLink,
    doc_id: &str,
    budget: Budget,
    report: &mut SyncReport,
) -> Result<(), SyncError> {
    pull_doc(store, transport, link, doc_id, budget, report).await?;
    store.with(|s| {
        s.batch(|w| w.retry_waiting(doc_id))?;
        s.mark_repaired(doc_id)
    })?;
    report.repaired += 1;
    Ok(())
}

/// Ask the relay for the member records of devices whose blobs wait here for their signing
/// key, once a sync each (`asked`). A lead who joined after the team's history was written
/// has its member record at the end of the log, but its snapshots are served where that
/// history was: without this, every snapshot a new device pulls waits for the record, and
/// past the waiting queue's bound honest snapshots would be refused.
async fn fetch_awaited_members<W: Wire>(
    store: &impl Notebook,
    transport: &Relay<W>,
    link: &RelayLink,
    budget: Budget,
    asked: &mut std::collections::HashSet<String>,
    report: &mut SyncReport,
) -> Result<(), SyncError> {
    let awaited = store.with(|s| s.awaited_members())?;
    for actor in awaited {
        // The pushers are what the relay says: a hostile one could name thousands.
        if asked.len() >= MEMBERS_ASKED_PER_SYNC {
            break;
        }
        if asked.insert(actor.clone()) {
            let doc_id = crate::crypto::keys::member_doc_id(&actor);
            pull_doc(store, transport, link, &doc_id, budget, report).await?;
        }
    }
    Ok(())
}

/// Pull every change of `doc_id` and take them in (the log's cursor stays where it is).
async fn pull_doc<W: Wire>(
    store: &impl Notebook,
    transport: &Relay<W>,
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
            max_bytes: Some(transport.paced(budget).pull_bytes),
        };
        let answer = transport
            .doc_changes(&link.relay_url, &link.token, &request)
            .await;
        let response = match answer {
            Ok(r) => r,
            // Too large a page for the link as it is: ask again for a smaller one.
            Err(SyncError::TooSlow { .. }) => {
                report.round_trips += 1;
                continue;
            }
            // Erased meanwhile: carry out the order; there is nothing to pull.
            Err(SyncError::Erased(named)) => {
                report.erased += team::after_refusal(store, transport, link, &named).await?;
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        report.round_trips += 1;
        let (received, rejected) = store.with(|s| take_in(s, link, &response, None, None))?;
        report.pulled += received;
        report.rejected += rejected;
        if !response.more || response.cursor <= after {
            break;
        }
        after = response.cursor;
    }
    Ok(())
}

/// Take in the changes of a relay answer, with the cursor to store alongside (if any);
/// returns how many changes it brought and how many were quarantined.
fn take_in(
    store: &mut Store,
    link: &RelayLink,
    response: &SyncResponse,
    cursor: Option<u64>,
    elsewhere: Option<DoneElsewhere>,
) -> Result<(usize, usize), SyncError> {
    // The relay's word on who pushed what, as long as an honest relay's can be (it takes no
    // longer actors or names): a hostile one's longer ones are not copied into every row of
    // what waits or is refused here.
    let pushers: Vec<Pusher> = response
        .pushers
        .iter()
        .map(|p| Pusher {
            actor: if p.actor.len() <= groundwork_protocol::MAX_ACTOR_LEN {
                p.actor.clone()
            } else {
                Vec::new()
            },
            name: p
                .name
                .chars()
                .take(groundwork_protocol::MAX_DEVICE_NAME_LEN)
                .collect(),
        })
        .collect();
    let incoming: Vec<Incoming<'_>> = response
        .changes
        .iter()
        .map(|c| Incoming {
            doc_id: &c.doc_id,
            blob: &c.blob,
            pusher: pushers.get(c.pusher),
            snapshot: c.snapshot,
        })
        .collect();
    // Checked in the page's own transaction: the page and its cursor are stored only if the
    // notebook is still joined where they came from.
    let taken = store.batch(|w| {
        if !w.still_linked_to(link)? {
            return Ok(None);
        }
        let r = w.take_in_with(&incoming, elsewhere)?;
        if let Some(cursor) = cursor {
            w.advance_cursor(cursor)?;
        }
        Ok(Some((r.received, r.quarantined)))
    })?;
    taken.ok_or(SyncError::JoinedAgain)
}

/// The blobs of a relay answer opened and checked by `helpers` (and this worker), for
/// [`take_in`]: `None` when there are no helpers or the page is not worth it.
async fn opened_elsewhere(
    store: &impl Notebook,
    helpers: &impl Helpers,
    response: &SyncResponse,
) -> Result<Option<DoneElsewhere>, SyncError> {
    // Helpers are asked for (and started, the first time) only for a page worth it.
    if !crate::store::elsewhere::worth_cutting(response.changes.len()) {
        return Ok(None);
    }
    let parts = helpers.parts();
    if parts < 2 {
        return Ok(None);
    }
    let jobs = store.with(|s| {
        let incoming: Vec<Incoming<'_>> = response
            .changes
            .iter()
            .map(|c| Incoming::unvouched(&c.doc_id, &c.blob, c.snapshot))
            .collect();
        s.jobs_elsewhere(&incoming, parts)
    })?;
    let Some(mut jobs) = jobs else {
        return Ok(None);
    };
    let answers = helpers.work(std::mem::take(&mut jobs.jobs)).await;
    Ok(Some(jobs.answered(answers)))
}

async fn run<W: Wire>(
    store: &impl Notebook,
    transport: &Relay<W>,
    budget: Budget,
    on_page: &mut dyn FnMut(usize),
    helpers: &impl Helpers,
) -> Result<SyncReport, SyncError> {
    let state = store.with(|s| s.sync_state())?;
    let link = state.link.ok_or(SyncError::NotJoined)?;
    let started = chrono::Utc::now();
    let mut report = SyncReport::default();
    let Reached {
        cursor,
        news,
        push_refused,
    } = rounds(
        store,
        transport,
        &link,
        state.cursor,
        budget,
        on_page,
        &mut report,
        helpers,
    )
    .await?;
    report.erased += team::follow_up(store, transport, &link, news).await?;
    // What was pulled is kept; the sync still fails, saying why this device's changes wait.
    // A lead's snapshots already at the relay are placed all the same: placing takes no room,
    // and the changes they stand for are then dropped, which makes some.
    if let Some(refused) = push_refused {
        announce(store, transport, &link).await?;
        return Err(refused);
    }
    compact(
        store,
        transport,
        &link,
        cursor,
        budget,
        on_page,
        &mut report,
        helpers,
    )
    .await?;
    // Changes that still wait after a whole pull may depend on changes this device never
    // received (an older version dropped some): ask for their documents again, now and then.
    let stamp = |t: chrono::DateTime<chrono::Utc>| crate::model::format_time(t);
    let due =
        store.with(|s| s.docs_to_repair(&stamp(started), &stamp(started - AUTO_REPAIR_EVERY)))?;
    for doc in due.iter().take(AUTO_REPAIR_DOCS) {
        // An id the relay would refuse (a member's push record may name one; records are
        // checked for them since, not those taken in before) is not asked after: asking would
        // fail every sync. Nor does one document the relay refuses stop the sync.
        let refused = !groundwork_protocol::valid_doc_id(doc)
            || match repair_doc(store, transport, &link, doc, budget, &mut report).await {
                Ok(()) => false,
                Err(SyncError::Refused { status: 400, .. }) => true,
                Err(e) => return Err(e),
            };
        if refused {
            store.with(|s| s.mark_repaired(doc))?;
        }
    }
    report.waiting = store
        .with(|s| s.waiting_docs())?
        .iter()
        .map(|(_, n)| n)
        .sum();
    let withheld = store.with(|s| s.withheld())?;
    report.withheld = withheld.blobs + withheld.pushes;
    Ok(report)
}

/// Where [`rounds`] left off.
struct Reached {
    /// The cursor reached.
    cursor: u64,
    /// What the relay's last answer said about the team.
    news: News,
    /// The relay's refusal to store this device's push for want of room (507: the device's
    /// share of its team's storage, or the team's, is full); the rounds then pulled without
    /// pushing, so that the others' work still arrives.
    push_refused: Option<SyncError>,
}

/// Push what waits and pull what is new, round trip after round trip, from `cursor`.
#[allow(clippy::too_many_arguments)]
async fn rounds<W: Wire>(
    store: &impl Notebook,
    transport: &Relay<W>,
    link: &RelayLink,
    mut cursor: u64,
    budget: Budget,
    on_page: &mut dyn FnMut(usize),
    report: &mut SyncReport,
    helpers: &impl Helpers,
) -> Result<Reached, SyncError> {
    let actor = store.with(|s| s.actor_bytes());
    let mut news: News;
    let mut erase_rounds = 0;
    let mut members_asked = std::collections::HashSet::new();
    let mut push_refused = None;
    // Enough outbox rows to fill the push budget (rows are at most a few KiB).
    let full_rows = budget.push_bytes / 256 + 1;
    // A push the relay refuses for want of room stores nothing of it. So after such a
    // refusal a push is halved until one fits (one row refused: the rounds only pull), and
    // a sync after a sync that was refused starts from one row and doubles while they are
    // taken: as much as there is room for goes, without sending everything waiting again
    // and again (on a phone's data plan).
    let was_refused = store.with(|s| s.push_refused())?;
    let mut rows = if was_refused { 1 } else { full_rows };
    let mut refused_for_room = false;
    loop {
        // A join meanwhile (another window or process on this notebook) changed the identity
        // or the link: nothing of the new identity goes with the old link.
        let joined_again = store.with(|s| {
            Ok::<_, Error>(s.actor_bytes() != actor || s.sync_state()?.link.as_ref() != Some(link))
        })?;
        if joined_again {
            return Err(SyncError::JoinedAgain);
        }
        // No more than the link has shown it carries in time (`sync::pace`).
        let round = transport.paced(budget);
        let round_rows = rows.min(round.push_bytes / 256 + 1);
        let (outbox, read, snapshots_left) = store.with(|s| {
            if push_refused.is_some() {
                return Ok((Vec::new(), 0, false));
            }
            let items = s.outbox(round_rows)?;
            let read = items.len();
            // A document's changes in blobs no larger than the link carries in time.
            let mut out = s.sealed_for_push_within(items, round.push_bytes)?;
            if rows < full_rows {
                // Feeling for room: the changes alone.
                return Ok((out, read, false));
            }
            // A lead's snapshots go after the changes, in what room the budget leaves.
            let used: usize = out.iter().map(|o| o.bytes.len()).sum();
            // On a slow link, not one the link would not carry within a request's patience
            // (four times the allowance, which is a quarter's worth): it waits for a better
            // link rather than time out at the head of every request, the pull with it.
            let room = round.push_bytes.saturating_sub(used);
            let slow = round.push_bytes < budget.push_bytes;
            let most = slow.then_some(round.push_bytes.saturating_mul(4));
            let (snapshots, left) = s.snapshots_within(room, most)?;
            out.extend(snapshots);
            Ok::<_, Error>((out, read, left))
        })?;
        let mut planned = plan::next_request(&outbox, cursor, round, &actor);
        if round.pull_bytes < budget.pull_bytes {
            // On a slow link the page shares the allowance with the push.
            let pushed: u64 = planned
                .request
                .push
                .iter()
                .map(|p| p.blob.len() as u64)
                .sum();
            let page = round.pull_bytes.saturating_sub(pushed);
            planned.request.max_bytes = Some(page.max(pace::FLOOR.min(round.pull_bytes)));
        }
        // Small changes (sealed and compressed ones are often under 256 bytes) can fill the
        // rows read before the byte budget: whatever the outbox holds beyond them goes next.
        planned.left_behind |= read == round_rows || snapshots_left;
        // In a sealed team a push ends with this device's signed record of what it carries,
        // so that other devices find out if the relay withholds any of it.
        let record = store.with(|s| {
            let carried: Vec<(&str, &[u8], bool)> = planned
                .request
                .push
                .iter()
                .map(|p| {
                    let snapshot = planned
                        .carried
                        .get(&p.id)
                        .is_some_and(|c| c.iter().any(|h| h.starts_with(SNAPSHOT_MARK)));
                    (p.doc_id.as_str(), p.blob.as_slice(), snapshot)
                })
                .collect();
            s.push_record(&carried)
        })?;
        let record = record.map(|r| {
            let item = PushItem::new(r.doc_id, r.bytes);
            let id = item.id;
            planned.carried.insert(id, Vec::new());
            planned.request.push.push(item);
            (id, r.n)
        });
        let answer = transport
            .sync(&link.relay_url, &link.token, &planned.request)
            .await;
        report.round_trips += 1;
        let response = match answer {
            Ok((response, said)) => {
                news = said;
                response
            }
            // No answer in time, and a smaller request may fit: push and pull less (a push
            // the relay stored before the answer was lost may be stored again in other
            // bundles; devices take each change in once).
            Err(SyncError::TooSlow { .. }) => continue,
            // The push holds changes to people erased from the team (this device was offline
            // when they were erased): erase them here, then push the rest.
            Err(SyncError::Erased(named)) if erase_rounds < 3 => {
                erase_rounds += 1;
                report.erased += team::after_refusal(store, transport, link, &named).await?;
                continue;
            }
            // No room for this device's push: nothing of it was stored, and its changes stay
            // in the outbox. The others' work still comes: the rest of the rounds only pull.
            Err(e @ SyncError::RelayFailed { status: 507, .. })
                if push_refused.is_none() && !planned.request.push.is_empty() =>
            {
                if !refused_for_room {
                    store.with(|s| s.set_push_refused(true))?;
                }
                refused_for_room = true;
                if read > 1 {
                    rows = read / 2;
                } else {
                    push_refused = Some(e);
                }
                continue;
            }
            Err(e) => return Err(e),
        };
        if rows < full_rows && !response.accepted.is_empty() {
            rows = rows.saturating_mul(2).min(full_rows);
        }
        let record_sent = record
            .filter(|(id, _)| response.accepted.contains(id))
            .map(|(_, n)| n);
        // What the relay stored, by document: blobs a later snapshot stands for, and this
        // device's snapshots, to announce.
        let stored: Vec<(String, groundwork_protocol::BlobId, Vec<String>)> = planned
            .request
            .push
            .iter()
            .filter(|p| response.accepted.contains(&p.id))
            .filter_map(|p| {
                let carried = planned.carried.get(&p.id)?;
                Some((p.doc_id.clone(), p.id, carried.clone()))
            })
            .collect();
        let absorb = plan::absorb(&planned, response)?;
        // Key records (devices' keys, key rotations) are bookkeeping, not notebook changes.
        let is_record = crate::crypto::is_key_record;
        let acknowledged: std::collections::HashSet<&str> =
            absorb.acknowledged.iter().map(String::as_str).collect();
        report.pushed += outbox
            .iter()
            .filter(|o| !is_record(&o.doc_id))
            .flat_map(|o| &o.change_hashes)
            .filter(|h| !h.starts_with(SNAPSHOT_MARK) && acknowledged.contains(h.as_str()))
            .count();
        let answer = SyncResponse {
            accepted: Vec::new(),
            pushers: absorb.pushers,
            changes: absorb.changes,
            cursor: absorb.cursor,
            more: false,
        };
        let elsewhere = opened_elsewhere(store, helpers, &answer).await?;
        let (received, rejected) = store.with(|s| {
            let taken = take_in(s, link, &answer, Some(absorb.cursor), elsewhere)?;
            s.acknowledge(&absorb.acknowledged)?;
            s.note_pushed(&stored)?;
            if let Some(n) = record_sent {
                s.push_record_sent(n)?;
            }
            Ok::<_, SyncError>(taken)
        })?;
        report.pulled += received;
        report.rejected += rejected;
        on_page(received);
        cursor = absorb.cursor;
        fetch_awaited_members(store, transport, link, budget, &mut members_asked, report).await?;
        if !absorb.again {
            break;
        }
    }
    if was_refused && !refused_for_room {
        store.with(|s| s.set_push_refused(false))?;
    }
    Ok(Reached {
        cursor,
        news,
        push_refused,
    })
}

/// A lead's compaction, after the sync proper: announce the snapshots the relay stored, make new
/// ones for the documents worth it, push them and announce them too. Compaction never fails a
/// sync: what could not be done is tried again at the next one.
#[allow(clippy::too_many_arguments)]
async fn compact<W: Wire>(
    store: &impl Notebook,
    transport: &Relay<W>,
    link: &RelayLink,
    cursor: u64,
    budget: Budget,
    on_page: &mut dyn FnMut(usize),
    report: &mut SyncReport,
    helpers: &impl Helpers,
) -> Result<(), SyncError> {
    report.compacted += announce(store, transport, link).await?;
    let mut cursor = cursor;
    let mut made = 0;
    // In batches, each pushed and announced before the next is made: the store is free for
    // the app's own requests between them (a phone's store worker does one thing at a time).
    while made < MAX_SNAPSHOTS_PER_SYNC {
        let batch = store.with(|s| s.make_snapshots(SNAPSHOTS_PER_BATCH))?;
        if batch == 0 {
            break;
        }
        made += batch;
        let reached = rounds(
            store, transport, link, cursor, budget, on_page, report, helpers,
        )
        .await?;
        if let Some(refused) = reached.push_refused {
            return Err(refused);
        }
        cursor = reached.cursor;
        report.compacted += announce(store, transport, link).await?;
    }
    Ok(())
}

/// Snapshots made at a time (a few tens of milliseconds of the store's time natively).
const SNAPSHOTS_PER_BATCH: usize = 250;

/// Most covered tags announced in one request (the relay takes bodies of up to 4 MiB, about
/// 200,000 tags).
const ANNOUNCE_TAGS: usize = 50_000;

/// Tell the relay what the snapshots it stored stand for; returns how many were announced.
async fn announce<W: Wire>(
    store: &impl Notebook,
    transport: &Relay<W>,
    link: &RelayLink,
) -> Result<usize, SyncError> {
    let mut items = store.with(|s| s.snapshots_to_announce())?;
    for item in &mut items {
        // The relay covers what is named and serves the rest as before: naming fewer is safe.
        item.covers.truncate(groundwork_protocol::MAX_COVERED);
    }
    let mut announced = 0;
    let mut rest = items.as_slice();
    while !rest.is_empty() {
        let mut n = 0;
        let mut tags = 0;
        while n < rest.len()
            && n < groundwork_protocol::MAX_COMPACT_ITEMS
            && (n == 0 || tags + rest[n].covers.len() <= ANNOUNCE_TAGS)
        {
            tags += rest[n].covers.len();
            n += 1;
        }
        let (chunk, after) = rest.split_at(n);
        rest = after;
        let request = groundwork_protocol::CompactRequest {
            items: chunk.to_vec(),
        };
        let docs: Vec<String> = chunk.iter().map(|i| i.doc_id.clone()).collect();
        match transport
            .compact(&link.relay_url, &link.token, &request)
            .await
        {
            Ok(_) => announced += docs.len(),
            // No longer a lead, or an announcement the relay will never take: the snapshots
            // stay on the relay as ordinary blobs, and nothing is lost.
            Err(SyncError::LeadOnly(_) | SyncError::Refused { .. }) => {}
            Err(e @ (SyncError::Revoked | SyncError::UnknownDevice(_))) => return Err(e),
            // Anything else is tried again at the next sync.
            Err(_) => return Ok(announced),
        }
        store.with(|s| s.snapshots_announced(&docs))?;
    }
    Ok(announced)
}
