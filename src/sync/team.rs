//! A team's roles and erasure orders, as a device takes part in them: the lead's actions
//! (invite, see the devices, revoke, promote, erase a person) and every device's part in an
//! erasure (carry out the team's orders, confirm them to the relay).
//!
//! The relay decides who may do what: a canvasser's attempt at a lead's action is refused
//! there (403), and reaches the user as [`SyncError::LeadOnly`] with the relay's words. The
//! device keeps the role the relay last named (every answer carries it) for `status` and to
//! leave out what only a lead may ask.
//!
//! An erasure: the lead's device asks the relay to erase the person's file; the relay deletes
//! its changes and numbers the order; every device (the lead's first) fetches the orders after
//! the last one it carried out, erases each document ([`Store::erase_document`](crate::store::Store::erase_document)), makes sure
//! the bytes are gone from its files ([`Store::scrub`](crate::store::Store::scrub)) and confirms. A sync that learns of a
//! new order (the `x-groundwork-erasures` header), or whose push the relay refuses because it
//! holds changes to an erased person (410), does this before going on.

use groundwork_protocol::team::{MAX_INVITE_KEY_PARTS, MAX_SEALED_KEYS_LEN};
use groundwork_protocol::{
    InviteCancelled, InviteRequest, InviteResponse, OpenInvite, Role, TeamDevice,
};
use serde::Serialize;

use super::relay::{News, Relay, Wire};
use super::{Notebook, SyncError};
use crate::crypto::CryptoError;
use crate::crypto::keys::{InviteSecret, seal_invite, seal_invite_v1};
use crate::crypto::trust::{TrustedRole, certify_invite};
use crate::docs::DocKind;
use crate::error::Error;
use crate::store::{ErasureRecord, RelayLink, Rotation};

/// What `person erase` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ErasureOutcome {
    /// The erased person.
    pub erased: String,
    /// The team's order number (none for a notebook that syncs with no team).
    pub order: Option<u64>,
    /// Devices of the team that have carried it out so far (this one included).
    pub confirmed: Option<u32>,
    /// Active devices of the team.
    pub devices: Option<u32>,
}

fn link_of(store: &impl Notebook) -> Result<RelayLink, SyncError> {
    store
        .with(|s| s.sync_state())?
        .link
        .ok_or(SyncError::NotJoined)
}

/// Record what an answer's headers said of the team: the device's role.
fn remember(store: &impl Notebook, news: News) -> Result<(), SyncError> {
    if let Some(role) = news.role {
        store.with(|s| s.set_role(role.as_str()))?;
    }
    Ok(())
}

/// Whether this device should catch up with the team's erasure orders: the relay numbers more
/// orders than were carried out here, or some were carried out and not yet confirmed.
fn behind(store: &impl Notebook, news: News) -> Result<bool, SyncError> {
    let mut progress = store.with(|s| s.erasure_progress())?;
    if news.erasures.is_some_and(|head| head < progress.applied) {
        // The relay's orders end before the last one carried out here: it was restored from a
        // backup or replaced. Go through its orders from the start (erased ids stay erased).
        store.with(|s| s.reset_erasure_progress())?;
        progress = store.with(|s| s.erasure_progress())?;
    }
    Ok(news.erasures.is_some_and(|head| head > progress.applied)
        || progress.applied > progress.confirmed)
}

/// After a sync: carry out the team's new erasure orders if there are any ([`catch_up`]);
/// otherwise, on a lead's device with orders still waiting for devices, ask how many have
/// confirmed them now. Returns how many documents held here were erased.
pub(crate) async fn follow_up<W: Wire>(
    store: &impl Notebook,
    transport: &Relay<W>,
    link: &RelayLink,
    news: News,
) -> Result<usize, SyncError> {
    remember(store, news)?;
    // Promotions this lead signed before the promoted device's member record came.
    store.with(|s| s.sign_pending_promotions())?;
    // A device holding refused orders has confirmed only up to the first of them, so it is
    // always behind: `catch_up` checks them again at every sync.
    if behind(store, news)? {
        catch_up(store, transport, link).await
    } else {
        refresh_counts(store, transport, link).await?;
        Ok(0)
    }
}

/// After the relay refused a push holding changes to `named` (410): carry out the team's
/// orders, then erase here any of those documents whose changes still wait to be pushed (the
/// relay says they are erased; without this a relay restored from a backup, with fewer orders,
/// would refuse every push again). Returns how many documents held here were erased.
pub(crate) async fn after_refusal<W: Wire>(
    store: &impl Notebook,
    transport: &Relay<W>,
    link: &RelayLink,
    named: &[String],
) -> Result<usize, SyncError> {
    let mut erased = catch_up(store, transport, link).await?;
    // In a team whose lead's key is its root of trust, only a lead's signed order erases
    // (carried out above); the relay's refusal alone does not.
    let named = if store.with(|s| s.has_anchor())? {
        &[][..]
    } else {
        named
    };
    for doc in named {
        if store.with(|s| s.has_pending(doc))? && store.with(|s| s.erase_document(doc, None))? {
            erased += 1;
        }
    }
    if erased > 0 {
        store.with(|s| s.scrub())?;
    }
    Ok(erased)
}

/// Carry out the team's erasure orders after the last one carried out here, confirm them to the
/// relay, and (on a lead's device) refresh the count of devices that confirmed each order still
/// waiting. Returns how many documents held here were erased.
pub(crate) async fn catch_up<W: Wire>(
    store: &impl Notebook,
    transport: &Relay<W>,
    link: &RelayLink,
) -> Result<usize, SyncError> {
    let progress = store.with(|s| s.erasure_progress())?;
    let mut after = progress.applied;
    let mut erased = 0;
    loop {
        let list = transport
            .erasures(&link.relay_url, &link.token, after)
            .await?;
        let mut last = after;
        for order in &list.erasures {
            if order.seq <= last {
                return Err(SyncError::BadAnswer(format!(
                    "erasure orders out of order ({} after {last})",
                    order.seq
                )));
            }
            last = order.seq;
            // An id that is not a Groundwork id names nothing this device can hold.
            if let Ok(id) = crate::ids::parse_id(&order.doc_id) {
                // In a team whose lead's key is its root of trust, an order no lead signed is
                // the relay's alone: the document stays, and the refusal is remembered (and
                // checked again at the next sync: the record making its signer a lead may
                // come later).
                let verdict = store.with(|s| s.check_erase_order(&id, order.proof.as_deref()))?;
                match verdict {
                    Ok(()) => {
                        if store.with(|s| s.erase_document(&id, Some(order.seq)))? {
                            erased += 1;
                        }
                    }
                    Err(reason) => store.with(|s| {
                        s.refuse_erasure(order.seq, &id, order.proof.as_deref(), &reason)
                    })?,
                }
                store.with(|s| s.set_erasure_count(order.seq, order.confirmed, order.devices))?;
            }
        }
        store.with(|s| s.set_erasures_applied(last))?;
        let done = !list.more || last == after;
        after = last;
        if done {
            break;
        }
    }
    refresh_refused_proofs(store, transport, link).await?;
    erased += recheck_refused(store)?;
    // An order for a document never held here still cut its key out of the tree: the log is
    // truncated for that too.
    if erased > 0 || store.with(|s| s.scrub_pending())? {
        store.with(|s| s.scrub())?;
    }
    // Confirmed only up to the first order still refused here: the lead must not see a device
    // as done while it keeps the person.
    let first_refused = store.with(|s| s.refused_erasures())?.first().map(|r| r.seq);
    let confirm_to = first_refused.map_or(after, |seq| after.min(seq.saturating_sub(1)));
    if confirm_to > progress.confirmed {
        transport
            .confirm_erasures(&link.relay_url, &link.token, confirm_to)
            .await?;
        store.with(|s| s.set_erasures_confirmed(confirm_to))?;
    }
    refresh_counts(store, transport, link).await?;
    Ok(erased)
}

/// Ask the relay again for the orders refused here: a lead may have given one again with a
/// good proof (the relay keeps the newest).
async fn refresh_refused_proofs<W: Wire>(
    store: &impl Notebook,
    transport: &Relay<W>,
    link: &RelayLink,
) -> Result<(), SyncError> {
    let refused = store.with(|s| s.refused_erasures())?;
    let Some(first) = refused.first().map(|r| r.seq) else {
        return Ok(());
    };
    let last = refused.iter().map(|r| r.seq).max().unwrap_or(first);
    let mut after = first.saturating_sub(1);
    loop {
        let list = transport
            .erasures(&link.relay_url, &link.token, after)
            .await?;
        for order in &list.erasures {
            if let Some(r) = refused.iter().find(|r| r.seq == order.seq)
                && r.doc_id == order.doc_id
                && r.proof != order.proof
            {
                store.with(|s| s.update_refused_proof(order.seq, order.proof.as_deref()))?;
            }
        }
        let next = list.erasures.last().map_or(after, |o| o.seq);
        if !list.more || next <= after || next >= last {
            return Ok(());
        }
        after = next;
    }
}

/// Check again the erasure orders refused here: one whose signer is now known as a lead is
/// carried out. Returns how many documents held here were erased.
fn recheck_refused(store: &impl Notebook) -> Result<usize, SyncError> {
    let mut erased = 0;
    for refused in store.with(|s| s.refused_erasures())? {
        let verdict =
            store.with(|s| s.check_erase_order(&refused.doc_id, refused.proof.as_deref()))?;
        if verdict.is_ok() {
            if store.with(|s| s.erase_document(&refused.doc_id, Some(refused.seq)))? {
                erased += 1;
            }
            store.with(|s| s.forget_refused_erasure(refused.seq))?;
        }
    }
    Ok(erased)
}

/// On a lead's device: ask the relay again how many devices confirmed each order still waiting.
async fn refresh_counts<W: Wire>(
    store: &impl Notebook,
    transport: &Relay<W>,
    link: &RelayLink,
) -> Result<(), SyncError> {
    if store.with(|s| s.role())?.as_deref() != Some(Role::Lead.as_str()) {
        return Ok(());
    }
    let waiting = store.with(|s| s.erasures_waiting())?;
    let Some(first) = waiting.iter().filter_map(|e| e.seq).min() else {
        return Ok(());
    };
    let list = transport
        .erasures(&link.relay_url, &link.token, first.saturating_sub(1))
        .await?;
    for order in &list.erasures {
        store.with(|s| s.set_erasure_count(order.seq, order.confirmed, order.devices))?;
    }
    Ok(())
}

/// Erase the person `id` from the team and from every device (a lead), starting with this one;
/// in a notebook that syncs with no team, from this notebook.
pub async fn erase_person<W: Wire>(
    store: &impl Notebook,
    transport: &Relay<W>,
    id: &str,
) -> Result<ErasureOutcome, SyncError> {
    erase_document(store, transport, id, DocKind::Person).await
}

/// Delete the campaign `id` from the team and every device (a lead), as an erasure: the
/// commitments that counted towards it stay with their people.
pub async fn delete_campaign<W: Wire>(
    store: &impl Notebook,
    transport: &Relay<W>,
    id: &str,
) -> Result<ErasureOutcome, SyncError> {
    erase_document(store, transport, id, DocKind::Campaign).await
}

/// Delete the walk list `id` from the team and every device (a lead), as an erasure: its
/// doors and their visits go (register data is kept no longer than needed); conversations
/// recorded at its doors stay with their people.
pub async fn delete_walklist<W: Wire>(
    store: &impl Notebook,
    transport: &Relay<W>,
    id: &str,
) -> Result<ErasureOutcome, SyncError> {
    erase_document(store, transport, id, DocKind::WalkList).await
}

/// Erase the document `id` of `kind` from the team and every device (a lead): a person, a
/// campaign or a walk list.
pub async fn erase_document<W: Wire>(
    store: &impl Notebook,
    transport: &Relay<W>,
    id: &str,
    kind: DocKind,
) -> Result<ErasureOutcome, SyncError> {
    let link = store.with(|s| s.sync_state())?.link;
    let what = match kind {
        DocKind::Campaign => "delete a campaign from the team",
        DocKind::WalkList => "delete a walk list from the team",
        DocKind::Person | DocKind::Shift => "erase a person from the team",
    };
    let found = match store.with(|s| s.held(id, kind)) {
        // Written on another device and not yet here (a person a canvasser met today, whose
        // erasure they asked for): a sync brings it, then it is erased everywhere. Only a lead
        // asks; a sync that fails says why, rather than "no person with id …".
        Err(Error::NotFound { .. }) if link.is_some() => {
            require_signed_lead(store, what)?;
            let synced =
                super::engine::sync_once(store, transport, super::plan::Budget::default()).await;
            match (store.with(|s| s.held(id, kind)), synced) {
                (Err(Error::NotFound { .. }), Err(e)) => return Err(e),
                (found, _) => found,
            }
        }
        other => other,
    };
    let id = match found {
        Ok(id) => id,
        // Erased here already: the order is sent again (the relay answers the order it has, or
        // numbers a new one when it was restored from a backup taken before the erasure).
        Err(Error::Erased { id }) if link.is_some() => id,
        Err(e) => return Err(e.into()),
    };
    let Some(link) = link else {
        store.with(|s| s.erase_locally(&id, kind))?;
        return Ok(ErasureOutcome {
            erased: id,
            order: None,
            confirmed: None,
            devices: None,
        });
    };
    require_signed_lead(store, what)?;
    let proof = store.with(|s| s.erase_proof(&id))?;
    let order = transport
        .erase(&link.relay_url, &link.token, &id, proof)
        .await?;
    // The order reached the relay: from here the document is erased, on this device now or at
    // its next sync.
    catch_up(store, transport, &link).await?;
    let record: Option<ErasureRecord> = store
        .with(|s| s.erasures())?
        .into_iter()
        .find(|e| e.doc_id == id);
    Ok(ErasureOutcome {
        erased: id,
        order: Some(order.seq),
        confirmed: record
            .as_ref()
            .and_then(|r| r.confirmed)
            .or(Some(order.confirmed)),
        devices: record
            .as_ref()
            .and_then(|r| r.devices)
            .or(Some(order.devices)),
    })
}

/// The longest sealed keys relays from before 2026-12-06 take in an invite (4 MiB): past
/// them, a refusal may be an older relay's.
const LONGEST_KEYS_BEFORE: usize = 4 * 1024 * 1024;

/// A new invite to this device's team (a lead). A sealed team's keys longer than one request
/// carries ([`MAX_SEALED_KEYS_LEN`]) go to the relay in parts first.
pub async fn invite<W: Wire>(
    store: &impl Notebook,
    transport: &Relay<W>,
    request: &InviteRequest,
) -> Result<(InviteResponse, String), SyncError> {
    invite_in_parts_of(store, transport, request, MAX_SEALED_KEYS_LEN).await
}

/// [`invite`], with keys longer than `part_len` bytes sent in parts of at most that, and at
/// most [`MAX_INVITE_KEY_PARTS`] and one of them (tests make small teams' invites in several
/// parts this way, or too large for an invite; at most [`MAX_SEALED_KEYS_LEN`] is used, which
/// makes [`groundwork_protocol::team::MAX_INVITE_KEYS_LEN`] the longest keys).
pub async fn invite_in_parts_of<W: Wire>(
    store: &impl Notebook,
    transport: &Relay<W>,
    request: &InviteRequest,
    part_len: usize,
) -> Result<(InviteResponse, String), SyncError> {
    let part_len = part_len.clamp(1, MAX_SEALED_KEYS_LEN);
    let link = link_of(store)?;
    // A sealed team's invite carries its keys, sealed under a secret that stays in the code
    // and the link's fragment: the relay holds only what it cannot open.
    let mut request = request.clone();
    request.key_parts.clear();
    let mut keys_len = 0;
    require_signed_lead(store, "invite devices")?;
    // The request's id, new for each invite (its secret and keys are new too), so that the
    // request asked again after an answer lost on the way is the same invite to the relay,
    // not a second one (whose code nobody ever sees), and its parts of keys, taken by the
    // first, are not asked for twice.
    let id = crate::crypto::random::<16>().map_err(Error::from)?;
    request.request = Some(groundwork_protocol::id::hex(&id));
    // The invite carries the tree of documents' keys as this device holds it: every erasure
    // the team has ordered is carried out first, so that none of their keys goes with it.
    catch_up(store, transport, &link).await?;
    let secret = if store.with(|s| s.sealed())? {
        let secret = InviteSecret::generate().map_err(Error::from)?;
        let keys = store.with(|s| s.keyring())?;
        // With the team's anchor, the invite carries it and this lead's certificate, so that
        // every device can tell the new one was let in by a lead.
        request.sealed_keys = Some(
            match store.with(|s| s.invite_trust())? {
                Some((anchor, anchor_actor, by, device)) => {
                    let role = TrustedRole::from(request.role);
                    let cert =
                        certify_invite(&link.team_id, &secret, role, request.uses, &by, &device);
                    seal_invite(
                        &secret,
                        &link.team_id,
                        &keys,
                        (&anchor, &anchor_actor),
                        &cert,
                    )
                }
                None => seal_invite_v1(&secret, &link.team_id, &keys),
            }
            .map_err(Error::from)?,
        );
        // Each erasure grows the tree of documents' keys an invite carries; past what a relay
        // takes, say so here rather than pass on the relay's refusal.
        let most = part_len.saturating_mul(MAX_INVITE_KEY_PARTS + 1);
        if let Some(sealed) = &request.sealed_keys
            && sealed.len() > most
        {
            return Err(Error::from(CryptoError::Key(format!(
                "this team's keys have grown too large for an invite ({} KiB, at most {} KiB: every erasure adds about 1.1 KiB); devices already in the team keep working, and new devices need a new team",
                sealed.len() / 1024,
                most / 1024
            )))
            .into());
        }
        keys_len = request.sealed_keys.as_ref().map_or(0, String::len);
        if let Some(sealed) = request.sealed_keys.take() {
            request.sealed_keys =
                Some(send_in_parts(transport, &link, &mut request, sealed, part_len).await?);
        }
        Some(secret)
    } else {
        None
    };
    let big = request
        .sealed_keys
        .as_ref()
        .is_some_and(|k| k.len() > LONGEST_KEYS_BEFORE);
    let mut invite = match transport
        .invite(&link.relay_url, &link.token, &request)
        .await
    {
        Err(e) if big => return Err(too_big_for_relay(e, keys_len)),
        other => other?,
    };
    if invite.id.is_empty() {
        // A relay from before cancelling: the same id, worked out from the code.
        invite.id = groundwork_protocol::invite_id(&invite.code);
    }
    if let Some(secret) = secret {
        invite.code = format!("{}.{}", invite.code, secret.to_text());
    }
    let join_link = format!(
        "{}/#join={}",
        link.relay_url.trim_end_matches('/'),
        invite.code
    );
    Ok((invite, join_link))
}

/// Leaves all but the last `part_len` bytes of `sealed` with the relay in parts, naming them in
/// `request`'s [`InviteRequest::key_parts`]; returns the last part, which goes with the invite.
async fn send_in_parts<W: Wire>(
    transport: &Relay<W>,
    link: &RelayLink,
    request: &mut InviteRequest,
    sealed: String,
    part_len: usize,
) -> Result<String, SyncError> {
    if sealed.len() <= part_len {
        return Ok(sealed);
    }
    // Base64url text (what sealing makes): every byte is a character, so any cut is between two.
    if !sealed.is_ascii() {
        return Err(Error::from(CryptoError::Key(
            "the invite's sealed keys are not base64url text: this is a bug in the app".into(),
        ))
        .into());
    }
    let mut parts: Vec<&str> = sealed
        .as_bytes()
        .chunks(part_len)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect();
    let last = parts.pop().unwrap_or_default().to_owned();
    for (i, part) in parts.into_iter().enumerate() {
        let id = crate::crypto::random::<16>().map_err(Error::from)?;
        let id = groundwork_protocol::id::hex(&id);
        let kept = match transport
            .invite_keys_part(&link.relay_url, &link.token, part, i == 0, &id)
            .await
        {
            Err(SyncError::Refused {
                status: 404 | 405, ..
            }) => {
                return Err(SyncError::Refused {
                    status: 404,
                    message: format!(
                        "this team's keys have grown to {} KiB, more than one request carries, \
                         and this relay is from before invites carried their keys in parts: \
                         whoever runs the relay can update it; devices already in the team \
                         keep working",
                        sealed.len() / 1024
                    ),
                });
            }
            Err(e) if part.len() > LONGEST_KEYS_BEFORE => {
                return Err(too_big_for_relay(e, sealed.len()));
            }
            other => other?,
        };
        request.key_parts.push(kept.part);
    }
    Ok(last)
}

/// `error`, from a request carrying more than [`LONGEST_KEYS_BEFORE`] of an invite's keys
/// (`keys_len` bytes in all), with what may be its cause: a relay that takes less in one
/// request, an older one or one whose `max_body_bytes` is lower.
fn too_big_for_relay(error: SyncError, keys_len: usize) -> SyncError {
    match error {
        // An older relay's refusal of long keys names them; other 400s (a part the relay no
        // longer has, say) are their own.
        SyncError::Refused { status, message }
            if status == 413 || (status == 400 && message.contains("sealed_keys")) =>
        {
            SyncError::Refused {
                status,
                message: format!(
                    "this team's keys have grown to {} KiB, more than this relay takes in a \
                     request ({message}): whoever runs the relay can update it, or raise its \
                     max_body_bytes to 8 MiB; devices already in the team keep working",
                    keys_len / 1024
                ),
            }
        }
        // A relay that refuses a body too large for it answers before reading it and closes
        // the connection, which can break the upload before its answer is read: the lead is
        // told what may be the cause too, not only that the relay could not be reached.
        SyncError::Unreachable { relay, reason } => SyncError::Unreachable {
            relay,
            reason: format!(
                "{reason}; this team's keys have grown to {} KiB, which may be more than this \
                 relay takes in a request (a relay from before 2026-12-07 does not take them in \
                 parts, and one whose max_body_bytes is under 8 MiB refuses them): whoever runs \
                 the relay can update it, or raise its max_body_bytes to 8 MiB",
                keys_len / 1024
            ),
        },
        other => other,
    }
}

/// The relay and the code of a join link (`https://RELAY/#join=CODE`, as [`invite`] makes
/// them); `None` for anything else, such as a bare code. A link's fragment alone
/// (`#join=CODE`) names no relay: its code, with `None` for the relay.
pub fn split_join_link(invite: &str) -> Option<(Option<String>, String)> {
    let (base, code) = invite.trim().split_once("#join=")?;
    let base = base.trim().trim_end_matches('/');
    Some((
        (!base.is_empty()).then(|| base.to_string()),
        code.trim().to_string(),
    ))
}

/// Whether the relay last named this device a canvasser (it then does not ask for a lead's
/// action: the relay would refuse it).
fn named_canvasser(store: &impl Notebook) -> Result<bool, SyncError> {
    Ok(store.with(|s| s.role())?.as_deref() == Some(Role::Canvasser.as_str()))
}

/// The open invites of this device's team (a lead), as the relay lists them: uses left, not
/// expired, not cancelled. A device the relay last named a canvasser does not ask.
pub async fn open_invites<W: Wire>(
    store: &impl Notebook,
    transport: &Relay<W>,
) -> Result<Vec<OpenInvite>, SyncError> {
    let link = link_of(store)?;
    if named_canvasser(store)? {
        return Err(lead_only("see the team's invites"));
    }
    transport
        .open_invites(&link.relay_url, &link.token)
        .await
        .map_err(relay_without_invite_lists)
}

/// A relay from before invite lists answers their routes 404 or 405: said so.
fn relay_without_invite_lists(e: SyncError) -> SyncError {
    match e {
        SyncError::Refused { status, message } if status == 404 || status == 405 => {
            SyncError::Refused {
                status,
                message: format!(
                    "this relay does not list or cancel invites yet ({message}): whoever runs it \
                     can update it; until then an invite ends when it is used up or expires, or \
                     when the lead who made it is revoked"
                ),
            }
        }
        other => other,
    }
}

/// The id of the invite `which` names: its id as [`open_invites`] lists it, its code (with or
/// without the secret after the dot) or its join link, which must be `relay`'s.
pub fn invite_id_in(which: &str, relay: &str) -> Result<String, SyncError> {
    let unusable = |why: &'static str| -> SyncError {
        Error::Invalid(crate::model::ValidationError::Unusable {
            what: "invite",
            value: which.trim().to_string(),
            why,
        })
        .into()
    };
    if let Some((Some(base), _)) = split_join_link(which)
        && base != relay.trim().trim_end_matches('/')
    {
        return Err(unusable(
            "the join link is another relay's: no invite of this team can be in it",
        ));
    }
    groundwork_protocol::invite_id_named(which).ok_or_else(|| {
        unusable(
            "give the invite's id (16 hexadecimal digits, from `groundwork team invites`), its \
             code or its join link",
        )
    })
}

/// Cancel the invite `which` names (its id, code or join link; a lead): nobody joins with it
/// from then on, and the relay forgets the team's keys it carried (after a grace period for
/// devices that joined with it just before: [`InviteCancelled::joining`]). Whether it was still
/// open (`cancelled: false`: used up, expired or cancelled before).
pub async fn cancel_invite<W: Wire>(
    store: &impl Notebook,
    transport: &Relay<W>,
    which: &str,
) -> Result<InviteCancelled, SyncError> {
    let link = link_of(store)?;
    let id = invite_id_in(which, &link.relay_url)?;
    if named_canvasser(store)? {
        return Err(lead_only("cancel the team's invites"));
    }
    transport
        .cancel_invite(&link.relay_url, &link.token, &id)
        .await
        .map_err(|e| match e {
            // A 404 for an unknown invite is this relay's own answer; only an unknown route (a
            // relay from before invite lists) says "no such endpoint".
            SyncError::Refused {
                status: 404,
                ref message,
            } if !message.contains("no such endpoint") => e,
            other => relay_without_invite_lists(other),
        })
}

/// The devices of this device's team with their last sync and role, as the relay knows them
/// (a lead). A device the relay last named a canvasser does not ask.
pub async fn devices<W: Wire>(
    store: &impl Notebook,
    transport: &Relay<W>,
) -> Result<Vec<TeamDevice>, SyncError> {
    let link = link_of(store)?;
    if named_canvasser(store)? {
        // No longer a lead: what its revocations left to sign, it cannot sign.
        store.with(|s| s.forget_orders_to_sign_again())?;
        return Err(lead_only("see the team's devices"));
    }
    let list = transport.devices(&link.relay_url, &link.token).await?;
    rotate_for_revoked(store, transport, &list).await?;
    sign_again_after_revocations(store, transport, &link, &list).await?;
    Ok(list)
}

/// The revocations this process is carrying out now (devices' ids at the relay): a listing
/// of the team meanwhile (the app's engine lists it after its syncs) leaves them to
/// [`revoke`], which rotates the key and signs their erasures itself.
static UNDER_WAY: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// How old a note of a revocation whose device the relay does not list as revoked must be
/// before a listing drops it: older than any revocation's request, retries included, in
/// another process sharing the notebook (the command line beside the app).
const NOTE_OUTLIVES_ITS_REQUEST_SECS: i64 = 15 * 60;

/// Marks a revocation under way in this process for its life ([`UNDER_WAY`]).
struct Revoking(String);

impl Revoking {
    fn start(device_id: &str) -> Revoking {
        under_way().push(device_id.to_string());
        Revoking(device_id.to_string())
    }
}

impl Drop for Revoking {
    fn drop(&mut self) {
        let mut list = under_way();
        if let Some(i) = list.iter().position(|d| *d == self.0) {
            list.swap_remove(i);
        }
    }
}

fn under_way() -> std::sync::MutexGuard<'static, Vec<String>> {
    UNDER_WAY
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// How often, at most, an engine lists the team after a sync while a revocation is left
/// unfinished (each listing pages through the team's erasure orders to sign them again).
pub const UNFINISHED_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// Whether an engine should list the team after a sync to finish a revocation: one is left
/// unfinished ([`revocations_unfinished`]) and the last listing for it was `since` ago (none
/// yet: `None`), at least [`UNFINISHED_EVERY`].
pub fn list_to_finish_revocations(
    store: &crate::store::Store,
    since: Option<std::time::Duration>,
) -> bool {
    since.is_none_or(|t| t >= UNFINISHED_EVERY) && revocations_unfinished(store) > 0
}

/// The revocations left unfinished here: done at the relay, with their erasures to sign
/// again or the key's rotation waiting for the next listing of the team's devices. None on a
/// device that is no lead, none that this process is carrying out now, and none whose request
/// got no answer (the lead was told it was not done; a listing drops its note in time).
pub fn revocations_unfinished(store: &crate::store::Store) -> u64 {
    if store.role().ok().flatten().as_deref() != Some(Role::Lead.as_str()) {
        return 0;
    }
    let busy = under_way().clone();
    store.orders_to_sign_again().map_or(0, |notes| {
        notes
            .iter()
            .filter(|n| n.revoked && !busy.contains(&n.device_id))
            .count() as u64
    })
}

/// Finish the revocations whose erasures this lead had still to sign again (the relay went
/// away, or the app was killed, after the relay revoked the device: see [`revoke`]), now that
/// `list` says which devices the relay revoked. A noted device the relay did not revoke (the
/// request never reached it, or it refused) has nothing to sign, and its note goes once it is
/// older than any request ([`NOTE_OUTLIVES_ITS_REQUEST_SECS`]: a younger one may be another
/// process's request on its way). One whose signing fails again, or whose key rotation is
/// still owed, stays noted for the next listing; the listing itself stands. Revocations this
/// process is carrying out are left to [`revoke`].
async fn sign_again_after_revocations<W: Wire>(
    store: &impl Notebook,
    transport: &Relay<W>,
    link: &RelayLink,
    list: &[TeamDevice],
) -> Result<(), SyncError> {
    let now = chrono::Utc::now().timestamp();
    for note in store.with(|s| s.orders_to_sign_again())? {
        let device_id = note.device_id;
        if under_way().contains(&device_id) {
            continue;
        }
        let Some(device) = list.iter().find(|d| d.device_id == device_id && d.revoked) else {
            // Not revoked: the request never reached the relay, or it refused. A young note
            // may be another process's request still on its way.
            if now - note.at > NOTE_OUTLIVES_ITS_REQUEST_SECS {
                store.with(|s| s.orders_signed_again(&device_id))?;
            }
            continue;
        };
        if !note.revoked {
            store.with(|s| s.note_device_revoked(&device_id))?;
        }
        let carried_out = note.docs;
        let mut revoked = store.with(|s| s.member_actors(&device_id))?;
        if let Some(actor) = &device.actor
            && !revoked.contains(actor)
            && store.with(|s| s.is_member(actor))?
        {
            revoked.push(actor.clone());
        }
        let carried_out = carried_out.into_iter().collect();
        // Failing again, the note stays for the next listing; so it does while the key's
        // rotation away from the device still waits (the listing before this one could not
        // pull what the device had pushed).
        let rotation_owed = store.with(|s| s.sealed())?
            && store.with(|s| s.may_sign_as_lead())?
            && !store
                .with(|s| s.unrevoked_member_actors(&device_id))?
                .is_empty();
        if sign_orders_again(store, transport, link, &revoked, &carried_out)
            .await
            .is_ok()
            && !rotation_owed
        {
            store.with(|s| s.orders_signed_again(&device_id))?;
        }
    }
    Ok(())
}

/// In an encrypted team, a device revoked at the relay by someone who holds no key (the
/// operator's `sync-server device revoke`) still holds the team's key: the first lead's device
/// that sees it revoked in the team's list rotates the key, as its own `team revoke` would have
/// (pulling first, so that the cut-off covers what the device pushed before). Nothing to do
/// when every revoked device's keys are already revoked here.
async fn rotate_for_revoked<W: Wire>(
    store: &impl Notebook,
    transport: &Relay<W>,
    list: &[TeamDevice],
) -> Result<Option<Rotation>, SyncError> {
    if !store.with(|s| s.sealed())? || !store.with(|s| s.may_sign_as_lead())? {
        return Ok(None);
    }
    // A revocation this process is carrying out rotates the key itself.
    let busy = under_way().clone();
    let revoked: Vec<&str> = list
        .iter()
        .filter(|d| d.revoked && !busy.contains(&d.device_id))
        .map(|d| d.device_id.as_str())
        .collect();
    let unrevoked = |s: &mut crate::store::Store| -> Result<Vec<String>, Error> {
        let mut actors = Vec::new();
        for device in &revoked {
            actors.extend(s.unrevoked_member_actors(device)?);
        }
        Ok(actors)
    };
    if store.with(|s| unrevoked(s))?.is_empty() {
        return Ok(None);
    }
    // Asked again after the pull: a rotation made meanwhile needs no other.
    Ok(rotate_after_pull(store, transport, |s| {
        let actors = unrevoked(s)?;
        Ok((!actors.is_empty()).then_some(actors))
    })
    .await?
    .map(|(rotation, _)| rotation))
}

/// Rotate the team's key away from the devices `revoked` names (actors, hex; asked once the
/// pull is done), after pulling everything the relay took from them: the rotation's cut-off
/// (each device's last push taken in here) then covers all of it. `None` when the pull fails
/// (offline, refused): the rotation waits for the next listing of the team's devices after a
/// sync ([`rotate_for_revoked`]), since a cut-off short of what a device pushed would have the
/// team refuse its honest work, and strand the documents it touched on that phone should it
/// join again. Otherwise the rotation, and whether its record reached the relay now.
async fn rotate_after_pull<W: Wire>(
    store: &impl Notebook,
    transport: &Relay<W>,
    revoked: impl FnOnce(&mut crate::store::Store) -> Result<Option<Vec<String>>, Error>,
) -> Result<Option<(Rotation, bool)>, SyncError> {
    let budget = super::plan::Budget::default();
    if super::engine::sync_once(store, transport, budget)
        .await
        .is_err()
    {
        return Ok(None);
    }
    // `None`: nothing to rotate any more (another rotation meanwhile).
    let Some(actors) = store.with(revoked)? else {
        return Ok(None);
    };
    let rotation = store.with(|s| s.rotate_team_key(&actors))?;
    let sent = super::engine::sync_once(store, transport, budget)
        .await
        .is_ok();
    Ok(Some((rotation, sent)))
}

/// What revoking a device did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Revoked {
    /// The device, as the relay now lists it.
    #[serde(flatten)]
    pub device: TeamDevice,
    /// For an end-to-end encrypted team: the new key's epoch and how many devices it was
    /// wrapped for (this one included).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotation: Option<Rotation>,
    /// Whether the new key's record reached the relay now (otherwise at the next sync).
    pub rotation_sent: bool,
    /// Whether the rotation waits because this device could not first pull what the revoked
    /// device had pushed: the next listing of the team's devices after a sync rotates.
    pub rotation_waits: bool,
    /// Erasure orders the revoked device had signed as a lead, carried out here before the
    /// revocation, that this lead signed again (other devices refuse what a revoked device
    /// signs, and would have kept those people).
    pub erasures_signed_again: usize,
    /// Why signing them again stopped short, if it did (the revocation itself is done; the
    /// next listing of the team's devices signs them, [`devices`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub erasures_not_signed: Option<String>,
}

/// The erasure orders signed by `revoked` (actors, hex) that this device had carried out
/// before it asked the relay to revoke them (`carried_out`, the documents erased here then):
/// this lead signs them again and gives them to the relay, which keeps the proof beside the
/// order (devices that refused the order check it again at their next sync). What a lead
/// ordered before its revocation stands; nothing its key signs after gains a lead's word, not
/// even an order a relay slips in while this device takes in the team's orders before it
/// rotates the key (it is carried out here, its signer not yet revoked here, but it is not
/// among `carried_out`). Returns how many were signed again.
async fn sign_orders_again<W: Wire>(
    store: &impl Notebook,
    transport: &Relay<W>,
    link: &RelayLink,
    revoked: &[String],
    carried_out: &std::collections::HashSet<String>,
) -> Result<usize, SyncError> {
    if revoked.is_empty()
        || !store.with(|s| s.has_anchor())?
        || !store.with(|s| s.may_sign_as_lead())?
    {
        return Ok(0);
    }
    // A proof the relay keeps for the order names a revoked device. Whatever else it keeps
    // (another lead's proof, or junk a relay added) does not matter: one more proof of this
    // lead's costs nothing, and a relay cannot stop it by adding one.
    let signed_by_revoked = |proof: Option<&str>| {
        proof.unwrap_or_default().split_whitespace().any(|p| {
            crate::crypto::trust::parse_erase_proof(p)
                .is_some_and(|(by, _)| revoked.iter().any(|r| r.eq_ignore_ascii_case(by)))
        })
    };
    let (mut after, mut signed) = (0, 0);
    loop {
        let list = transport
            .erasures(&link.relay_url, &link.token, after)
            .await?;
        for order in &list.erasures {
            if signed_by_revoked(order.proof.as_deref()) && carried_out.contains(&order.doc_id) {
                let proof = store.with(|s| s.erase_proof(&order.doc_id))?;
                transport
                    .erase(&link.relay_url, &link.token, &order.doc_id, proof)
                    .await?;
                signed += 1;
            }
        }
        let next = list.erasures.last().map_or(after, |o| o.seq);
        if !list.more || next <= after {
            return Ok(signed);
        }
        after = next;
    }
}

/// Revoke a device of this device's team (a lead): the relay refuses its token from now on;
/// in an end-to-end encrypted team the key is rotated too (see [`crate::crypto::epoch`]) and
/// the record of the new key is sent at once.
pub async fn revoke<W: Wire>(
    store: &impl Notebook,
    transport: &Relay<W>,
    device_id: &str,
) -> Result<Revoked, SyncError> {
    let link = link_of(store)?;
    let _revoking = Revoking::start(device_id.trim());
    // The team's orders up to now first (the device is still a lead to every device, so its
    // orders so far are taken, as anyone's sync now would); offline, the request below fails
    // anyway. What was erased here before the revocation is what is signed again below, and
    // nothing that comes after the request (a relay could slip an order signed with a lost
    // phone's key in before this device rotates the key, and this device would take it then).
    let _ = super::engine::sync_once(store, transport, super::plan::Budget::default()).await;
    let carried_out: Vec<String> = store
        .with(|s| s.erasures())?
        .into_iter()
        .map(|e| e.doc_id)
        .collect();
    // Noted first: should the relay go away (or the app be killed) between the revocation
    // and the signing, the next listing of the team's devices signs them ([`devices`]). A
    // revocation asked again after a lost answer keeps the first request's note.
    let (note, noted_now) =
        store.with(|s| s.note_orders_to_sign_again(device_id.trim(), &carried_out))?;
    let carried_out: std::collections::HashSet<String> = note.docs.into_iter().collect();
    let device = match transport
        .revoke(&link.relay_url, &link.token, device_id.trim())
        .await
    {
        Ok(device) => {
            store.with(|s| s.note_device_revoked(device_id.trim()))?;
            device
        }
        // The relay said no: nothing was revoked, nothing is to be signed.
        Err(
            refused @ (SyncError::Refused { .. }
            | SyncError::LeadOnly(_)
            | SyncError::UnsignedLead(_)
            | SyncError::UnknownDevice(_)
            | SyncError::Revoked),
        ) => {
            // This request's note goes; an earlier request's (whose answer was lost, and which
            // the relay may have carried out) is the listing's to judge.
            if noted_now {
                store.with(|s| s.orders_signed_again(device_id.trim()))?;
            }
            return Err(refused);
        }
        // No answer, or one that says nothing: the relay may have revoked it, which the next
        // listing tells.
        Err(e) => return Err(e),
    };
    // In an encrypted team the key is always rotated. Which keys were the revoked device's
    // comes from its own member record (sealed and signed, naming its relay id), not from the
    // relay's list; a device whose record never arrived here gets no wrapped key anyway.
    // Only a device a lead's signature made a lead rotates the key (the others would not take
    // its record in): a lead's device that is signed as one does, when it next lists the team.
    let rotates = store.with(|s| s.sealed())? && store.with(|s| s.may_sign_as_lead())?;
    let mut revoked = store.with(|s| s.member_actors(device_id.trim()))?;
    if let Some(actor) = &device.actor
        && !revoked.contains(actor)
        && store.with(|s| s.is_member(actor))?
    {
        revoked.push(actor.clone());
    }
    let outcome = if rotates {
        // The device the lead asked for, not whatever id the relay's answer names; and the
        // actor the relay lists for it, in case that device's record named another id.
        let relay_actor = device.actor.clone();
        rotate_after_pull(store, transport, |s| {
            let mut revoked = s.member_actors(device_id.trim())?;
            if let Some(actor) = relay_actor
                && !revoked.contains(&actor)
                && s.is_member(&actor)?
            {
                revoked.push(actor);
            }
            Ok(Some(revoked))
        })
        .await?
    } else {
        None
    };
    // A lead's erasures stand after its revocation (a lost phone's lead ordered them while
    // trusted): this lead signs them again.
    let (erasures_signed_again, erasures_not_signed) =
        match sign_orders_again(store, transport, &link, &revoked, &carried_out).await {
            Ok(n) => {
                // A rotation that waits keeps the note: the listing that rotates the key
                // comes with it (the orders' proofs given again cost nothing).
                if !(rotates && outcome.is_none()) {
                    store.with(|s| s.orders_signed_again(device_id.trim()))?;
                }
                (n, None)
            }
            Err(e) => (0, Some(e.to_string())),
        };
    Ok(Revoked {
        device,
        rotation_sent: outcome.as_ref().is_some_and(|(_, sent)| *sent),
        rotation_waits: rotates && outcome.is_none(),
        rotation: outcome.map(|(rotation, _)| rotation),
        erasures_signed_again,
        erasures_not_signed,
    })
}

/// Make a device of this device's team a lead (a lead).
pub async fn promote<W: Wire>(
    store: &impl Notebook,
    transport: &Relay<W>,
    device_id: &str,
) -> Result<TeamDevice, SyncError> {
    let link = link_of(store)?;
    require_signed_lead(store, "promote a device")?;
    let device = transport
        .promote(&link.relay_url, &link.token, device_id.trim())
        .await?;
    // This lead's signed word goes to the team at once, so that the other devices take the new
    // lead's acts (its invites, rotations and erasures) from now on. The device's keys come
    // from its own member record (pulled first), not the relay's word; a record not here yet
    // is signed when it comes (after a later sync). Offline now: at the next sync.
    let budget = super::plan::Budget::default();
    let _ = super::engine::sync_once(store, transport, budget).await;
    // The device the lead asked for, not whatever id the relay's answer names.
    if store.with(|s| s.promote_device(device_id.trim(), device.actor.as_deref()))? {
        let _ = super::engine::sync_once(store, transport, budget).await;
    }
    Ok(device)
}

/// Refuse a lead's act `what` on a device that may not sign it for the team: a canvasser's
/// ([`lead_only`]), or one the relay names a lead that no lead of the team signed as one
/// (promoted by the relay's operator alone), whose acts the other devices would not follow.
fn require_signed_lead(store: &impl Notebook, what: &str) -> Result<(), SyncError> {
    if store.with(|s| s.may_sign_as_lead())? {
        return Ok(());
    }
    if store.with(|s| s.role())?.as_deref() != Some(Role::Lead.as_str()) {
        return Err(lead_only(what));
    }
    Err(SyncError::UnsignedLead(format!(
        "this device cannot {what}: the relay names it a lead, but no team lead's device has signed it as one, so the other devices would not follow it; ask a lead to promote it from their app or with `groundwork team promote`"
    )))
}

/// The refusal of a lead's action on a device the relay last named a canvasser.
pub fn lead_only(what: &str) -> SyncError {
    SyncError::LeadOnly(format!(
        "only a team lead can {what}: this device is a canvasser's; ask your team lead"
    ))
}

/// A lead's action, as an app asks its sync engine for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub enum TeamAction {
    /// A new single-use invite, valid for a day.
    Invite {
        /// Devices that join with it are leads.
        lead: bool,
    },
    /// The team's devices.
    Devices,
    /// The team's open invites.
    Invites,
    /// Cancel one of the team's invites.
    CancelInvite {
        /// Its id, as the list of open invites gives it.
        id: String,
    },
    /// Revoke a device.
    Revoke {
        /// The device's id.
        device_id: String,
    },
    /// Make a device a lead.
    Promote {
        /// The device's id.
        device_id: String,
    },
    /// Erase a person from the team.
    Erase {
        /// The person's id.
        person_id: String,
    },
    /// Delete a campaign from the team (an erasure, as for a person).
    DeleteCampaign {
        /// The campaign's id.
        campaign_id: String,
    },
    /// Delete a walk list, its doors and their visits from the team (an erasure).
    DeleteWalkList {
        /// The walk list's id.
        walklist_id: String,
    },
}

impl TeamAction {
    /// Whether the action erases a document (a person, a campaign, a walk list): what the
    /// device holds changes with it.
    pub fn erases(&self) -> bool {
        matches!(
            self,
            TeamAction::Erase { .. }
                | TeamAction::DeleteCampaign { .. }
                | TeamAction::DeleteWalkList { .. }
        )
    }
}

/// An invite as an app shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct InviteShown {
    /// Its id ([`groundwork_protocol::invite_id`]).
    #[serde(default)]
    pub id: String,
    /// The code.
    pub code: String,
    /// The join link (`https://RELAY/#join=CODE`).
    pub link: String,
    /// Whether it makes leads.
    pub lead: bool,
    /// When it stops working (RFC 3339).
    pub expires_at: String,
}

/// A revocation as an app shows it: what became of the team's key and of the erasures the
/// revoked device had ordered as a lead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct RevocationShown {
    /// The revoked device's name.
    pub name: String,
    /// The team's key was changed (an encrypted team).
    pub key_changed: bool,
    /// Erasures the revoked device ordered as a lead that this lead signed again.
    pub erasures_signed_again: usize,
    /// Why signing them again stopped short, if it did (they are signed at the next listing
    /// of the team's devices).
    pub erasures_not_signed: Option<String>,
}

/// What a [`TeamAction`] gave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub enum TeamReply {
    /// A new invite.
    Invite(InviteShown),
    /// The team's devices (after a promotion too).
    Devices(Vec<TeamDevice>),
    /// The team's open invites.
    Invites(Vec<OpenInvite>),
    /// An invite cancelled, and the team's open invites after it.
    InviteCancelled {
        /// What the relay said of it.
        outcome: InviteCancelled,
        /// The open invites after it, unless the relay could not list them then.
        invites: Option<Vec<OpenInvite>>,
    },
    /// A device revoked, and the team's devices after it.
    Revoked {
        /// What the revocation did.
        revocation: RevocationShown,
        /// The team's devices after it, unless the relay could not list them then.
        devices: Option<Vec<TeamDevice>>,
    },
    /// A person erased, or a campaign or walk list deleted.
    Erased(ErasureOutcome),
}

/// How long an invite made from the app stays valid.
pub const APP_INVITE_SECS: u64 = 24 * 3600;

/// Carry out a lead's action asked for in an app. With no answer from the relay it is not
/// done, and the error says so (the generic one says changes go later, which an action does
/// not).
pub async fn act<W: Wire>(
    store: &impl Notebook,
    transport: &Relay<W>,
    action: TeamAction,
) -> Result<TeamReply, SyncError> {
    let what = match &action {
        TeamAction::Invite { .. } => "Making an invite",
        TeamAction::Devices => "Listing the team's devices",
        TeamAction::Invites => "Listing the team's invites",
        TeamAction::CancelInvite { .. } => "Cancelling an invite",
        TeamAction::Revoke { .. } => "Revoking a device",
        TeamAction::Promote { .. } => "Making a device a lead",
        TeamAction::Erase { .. } => "Erasing a person",
        TeamAction::DeleteCampaign { .. } => "Deleting a campaign",
        TeamAction::DeleteWalkList { .. } => "Deleting a walk list",
    };
    act_now(store, transport, action)
        .await
        .map_err(|e| not_done(e, what))
}

/// A lead's `action` ("Deleting a campaign") that got no answer from the relay is not done:
/// the error says so, where the generic one says changes go later (an action does not). Other
/// errors pass unchanged. For the app's actions and the command line's alike.
pub fn not_done(e: SyncError, action: &'static str) -> SyncError {
    match e {
        SyncError::Unreachable { relay, reason } => SyncError::ActionUnreachable {
            relay,
            reason,
            action,
        },
        SyncError::TooSlow { relay } => SyncError::ActionUnreachable {
            relay,
            reason: "no answer in time".into(),
            action,
        },
        other => other,
    }
}

/// [`act`] itself.
async fn act_now<W: Wire>(
    store: &impl Notebook,
    transport: &Relay<W>,
    action: TeamAction,
) -> Result<TeamReply, SyncError> {
    match action {
        TeamAction::Invite { lead } => {
            let request = InviteRequest {
                uses: 1,
                expires_in_secs: APP_INVITE_SECS,
                role: if lead { Role::Lead } else { Role::Canvasser },
                sealed_keys: None,
                key_parts: Vec::new(),
                request: None,
            };
            let (invite, link) = invite(store, transport, &request).await?;
            Ok(TeamReply::Invite(InviteShown {
                id: invite.id,
                code: invite.code,
                link,
                lead,
                expires_at: chrono::DateTime::from_timestamp(invite.expires_at, 0)
                    .map(crate::model::format_time)
                    .unwrap_or_default(),
            }))
        }
        TeamAction::Devices => Ok(TeamReply::Devices(devices(store, transport).await?)),
        TeamAction::Invites => Ok(TeamReply::Invites(open_invites(store, transport).await?)),
        TeamAction::CancelInvite { id } => {
            let outcome = cancel_invite(store, transport, &id).await?;
            // Cancelled whatever the listing after it does (as after a revocation).
            Ok(TeamReply::InviteCancelled {
                outcome,
                invites: open_invites(store, transport).await.ok(),
            })
        }
        TeamAction::Revoke { device_id } => {
            let revoked = revoke(store, transport, &device_id).await?;
            let revocation = RevocationShown {
                name: revoked.device.name.clone(),
                key_changed: revoked.rotation.is_some(),
                erasures_signed_again: revoked.erasures_signed_again,
                erasures_not_signed: revoked.erasures_not_signed,
            };
            // The revocation is done whatever the listing after it does (the link may have
            // gone with the relay's answer): the panel keeps the list it had then.
            Ok(TeamReply::Revoked {
                revocation,
                devices: devices(store, transport).await.ok(),
            })
        }
        TeamAction::Promote { device_id } => {
            promote(store, transport, &device_id).await?;
            Ok(TeamReply::Devices(devices(store, transport).await?))
        }
        TeamAction::Erase { person_id } => Ok(TeamReply::Erased(
            erase_person(store, transport, &person_id).await?,
        )),
        TeamAction::DeleteCampaign { campaign_id } => Ok(TeamReply::Erased(
            delete_campaign(store, transport, &campaign_id).await?,
        )),
        TeamAction::DeleteWalkList { walklist_id } => Ok(TeamReply::Erased(
            delete_walklist(store, transport, &walklist_id).await?,
        )),
    }
}

#[cfg(test)]
mod link_tests {
    use super::{invite_id_in, split_join_link};

    #[test]
    fn a_relay_without_invite_lists_is_named_as_the_cause() {
        use super::{SyncError, relay_without_invite_lists};
        let refused = |status| SyncError::Refused {
            status,
            message: "no such endpoint".into(),
        };
        for status in [404, 405] {
            let said = relay_without_invite_lists(refused(status)).to_string();
            assert!(
                said.contains("does not list or cancel invites yet"),
                "{said}"
            );
        }
        let other = relay_without_invite_lists(refused(403)).to_string();
        assert!(!other.contains("invites yet"), "{other}");
    }

    #[test]
    fn an_invite_is_named_only_in_this_teams_relays_links() {
        let relay = "https://relay.example.org";
        let code = "abcd-efgh-ijkl-mnop-qrst-uvwx-yz23-4567";
        let id = groundwork_protocol::invite_id(code);
        let named = |which: &str| invite_id_in(which, relay).map_err(|e| e.to_string());
        assert_eq!(
            named(&format!("{relay}/#join={code}.S3cr3t")),
            Ok(id.clone())
        );
        assert_eq!(named(&id.to_uppercase()), Ok(id));
        let other = named(&format!("https://elsewhere.example/#join={code}"));
        assert!(
            other.as_ref().is_err_and(|e| e.contains("another relay")),
            "{other:?}"
        );
        let junk = named("cancel");
        assert!(
            junk.as_ref()
                .is_err_and(|e| e.contains("its code or its join link")),
            "{junk:?}"
        );
    }

    #[test]
    fn a_join_link_gives_its_relay_and_code_and_a_bare_code_is_no_link() {
        let link = |relay: &str, code: &str| Some((Some(relay.to_string()), code.to_string()));
        assert_eq!(
            split_join_link("https://relay.example.org/#join=abcd-efgh.S3cr3t"),
            link("https://relay.example.org", "abcd-efgh.S3cr3t")
        );
        assert_eq!(
            split_join_link("  https://example.org/relay/#join= abcd \n"),
            link("https://example.org/relay", "abcd")
        );
        assert_eq!(
            split_join_link("#join=abcd"),
            Some((None, "abcd".to_string()))
        );
        assert_eq!(split_join_link("abcd-efgh.S3cr3t"), None);
    }
}
