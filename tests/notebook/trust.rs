//! The lead's key as the team's root of trust, through a real relay: a device no lead let in,
//! a key rotation by a canvasser and an erasure order no lead signed are not followed, whatever
//! the relay says; a lead promoted by a lead is followed in each of them; a team from before
//! keeps the relay's word.

use std::cell::RefCell;

use groundwork::crypto::keys::{InviteSecret, seal_invite, seal_invite_v1};
use groundwork::crypto::trust::{TrustedRole, certify_invite, erase_proof};
use groundwork::model::{PersonField, PersonPatch};
use groundwork::store::intake::hex;
use groundwork::sync::{self, SyncError, team};
use groundwork_protocol::Role;

use super::erasure::through_the_relay::erase;
use super::sync::{Device, TestRelay, transport};

fn actor(d: &Device) -> String {
    hex(&d.store.actor_bytes())
}

fn promote(by: &mut Device, device_id: &str) {
    let nb = RefCell::new(&mut by.store);
    sync::block_on(team::promote(&nb, &transport(), device_id)).unwrap();
}

/// An invite made by `lead`'s device (as its app or `team invite` does) for `uses` devices of
/// `role`: its code, secret included.
pub(crate) fn invite_by(lead: &mut Device, role: Role, uses: u32) -> String {
    let request = groundwork_protocol::InviteRequest {
        uses,
        expires_in_secs: 3600,
        role,
        sealed_keys: None,
        key_parts: Vec::new(),
        request: None,
    };
    let nb = RefCell::new(&mut lead.store);
    sync::block_on(team::invite(&nb, &transport(), &request))
        .unwrap()
        .0
        .code
}

/// Every refusal in `d`'s quarantine, as `doc: reason`.
pub(crate) fn quarantine_reasons(d: &Device) -> Vec<String> {
    d.store
        .quarantined()
        .unwrap()
        .into_iter()
        .map(|q| format!("{}: {}", q.doc_id, q.reason))
        .collect()
}

/// An erasure order for `doc` with `proof`, written into the relay's database by hand (as a
/// hostile relay, or one holding a lost phone's key, could), the team's next order.
fn plant_order(relay: &TestRelay, team_id: &str, doc: &str, proof: &str) {
    relay.tamper(&format!(
        "UPDATE teams SET erasure_seq = erasure_seq + 1 WHERE id = '{team_id}';
         INSERT INTO erasures (team_pk, seq, doc_id, erased_at, erased_by, proof)
         SELECT t.pk, t.erasure_seq, '{doc}', 0, d.pk, '{proof}'
         FROM teams t JOIN devices d ON d.team_pk = t.pk
         WHERE t.id = '{team_id}' LIMIT 1;"
    ));
}

/// A team with its lead and two canvassers, all synced.
fn team_of_three(relay: &TestRelay) -> (String, Device, Device, Device) {
    let (team_id, lead_invite) = relay.lead_team();
    let mut lead = Device::joined(&relay.url, &lead_invite, "Lead's phone");
    let mut c = Device::joined(&relay.url, &relay.invite(&team_id, 1), "C's phone");
    let mut d = Device::joined(&relay.url, &relay.invite(&team_id, 1), "D's phone");
    for dev in [&mut lead, &mut c, &mut d] {
        dev.sync();
    }
    lead.sync();
    (team_id, lead, c, d)
}

#[test]
fn a_device_no_lead_let_in_is_not_taken_for_a_member_whatever_its_invite_carried() {
    let relay = TestRelay::start();
    let (team_id, mut lead, mut c, _d) = team_of_three(&relay);
    assert_eq!(
        lead.store.trusted_role(&actor(&c)).unwrap(),
        Some(TrustedRole::Canvasser)
    );
    assert_eq!(
        c.store.trusted_role(&actor(&lead)).unwrap(),
        Some(TrustedRole::Lead)
    );
    // A canvasser hands the team's keys on in an invite of the old form (no certificate), as a
    // leaked key and a relay's help would allow: the device joins and writes.
    let keys = c.store.keyring().unwrap();
    let secret = InviteSecret::generate().unwrap();
    let sealed = seal_invite_v1(&secret, &team_id, &keys).unwrap();
    let invite = relay.invite_carrying(&team_id, Role::Canvasser, &sealed, &secret.to_text());
    let mut stranger = Device::joined(&relay.url, &invite, "Stranger's phone");
    let forged = stranger.person("Written by a device nobody let in");
    stranger.sync();
    // A canvasser certifies an invite itself, carrying the real anchor: it signs as no lead.
    let secret = InviteSecret::generate().unwrap();
    let anchor = relay.anchor_of(&team_id).public();
    let cert = certify_invite(
        &team_id,
        &secret,
        TrustedRole::Lead,
        1,
        &actor(&c),
        &c.store.device_key().unwrap(),
    );
    let anchor_actor = hex(&anchor);
    let sealed = seal_invite(&secret, &team_id, &keys, (&anchor, &anchor_actor), &cert).unwrap();
    let invite = relay.invite_carrying(&team_id, Role::Lead, &sealed, &secret.to_text());
    let mut self_made = Device::joined(&relay.url, &invite, "Self-made lead's phone");
    let also_forged = self_made.person("Written by a lead no lead made");
    self_made.sync();

    let report = lead.sync();
    // Neither device's work is taken in; the first is refused with the reason, the second
    // waits (a lead record naming its certifier could still come) and is never applied.
    for id in [&forged, &also_forged] {
        assert!(lead.store.person(id).is_err(), "{report:?}");
    }
    let reasons = quarantine_reasons(&lead);
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("let in by no team lead's invite")),
        "{reasons:?}"
    );
    assert!(lead.store.awaiting_key_changes().unwrap() >= 1);
    assert_eq!(lead.store.trusted_role(&actor(&stranger)).unwrap(), None);
    assert_eq!(lead.store.trusted_role(&actor(&self_made)).unwrap(), None);
    // A key rotation would not wrap the new key for either of them: the lead knows three
    // members (itself, C, D).
    assert_eq!(lead.store.known_members().unwrap(), 3);
    // Honest work beside them still goes through.
    let honest = c.person("Written by a canvasser a lead let in");
    c.sync();
    lead.sync();
    assert!(lead.store.person(&honest).is_ok());
}

#[test]
fn a_canvassers_key_rotation_is_not_followed() {
    let relay = TestRelay::start();
    let (_team_id, mut lead, mut c, mut d) = team_of_three(&relay);
    // C revokes the lead on its own: a new key, wrapped for D and itself, and a record saying
    // the lead's later writes are not to be taken in.
    let lead_actor = actor(&lead);
    c.store.rotate_team_key(&[lead_actor]).unwrap();
    c.sync();
    let d_report = d.sync();
    // D keeps the team's first key and goes on taking the lead's work in.
    assert_eq!(
        d.store.keyring().unwrap().current().unwrap().epoch(),
        1,
        "{d_report:?}"
    );
    let after = lead.person("Written by the lead after C's rotation");
    lead.sync();
    d.sync();
    assert!(d.store.person(&after).is_ok());
    // What C seals with its own key does not open on D: it is never applied.
    let cs = c.person("Sealed under C's own key");
    c.sync();
    d.sync();
    assert!(d.store.person(&cs).is_err());
    // A lead's rotation is followed.
    let nb = RefCell::new(&mut lead.store);
    let c_id = c.relay_device_id();
    sync::block_on(team::revoke(&nb, &transport(), &c_id)).unwrap();
    d.sync();
    assert_eq!(d.store.keyring().unwrap().current().unwrap().epoch(), 2);
}

#[test]
fn an_erase_order_signed_by_no_lead_is_refused_and_the_person_kept() {
    let relay = TestRelay::start();
    let (team_id, mut lead, mut c, mut d) = team_of_three(&relay);
    let p = lead.person("Kept unless a lead erases them");
    lead.sync();
    d.sync();
    c.sync();
    assert!(d.store.person(&p).is_ok());
    // The operator makes C a lead at the relay alone: C's app refuses to sign for the team.
    relay.operator_promote(&c.relay_device_id());
    c.sync();
    assert_eq!(c.store.role().unwrap().as_deref(), Some("lead"));
    match erase(&mut c, &p) {
        Err(SyncError::UnsignedLead(m)) => assert!(m.contains("groundwork team promote"), "{m}"),
        other => panic!("{other:?}"),
    }
    // C signs an order itself and hands it to the relay (which checks roles only by its own
    // word): the relay deletes the person's blobs, D keeps the person and says why.
    let link = c.store.sync_state().unwrap().link.unwrap();
    let proof = erase_proof(&team_id, &p, &actor(&c), &c.store.device_key().unwrap());
    sync::block_on(transport().erase(&link.relay_url, &link.token, &p, Some(proof))).unwrap();
    d.sync();
    assert!(d.store.person(&p).is_ok());
    let refused = d.store.refused_erasures().unwrap();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(
        refused[0].reason.contains("not a team lead"),
        "{}",
        refused[0].reason
    );
    assert!(!d.store.is_erased(&p).unwrap());
    // An order with no proof at all (the relay's alone) is refused the same way, even on a
    // device holding unsent edits to the person: its other work still goes, the edits wait.
    let q = lead.person("Also kept");
    lead.sync();
    d.sync();
    d.store
        .edit_person(
            &q,
            PersonPatch::new().put(PersonField::Name, "Also kept, renamed"),
        )
        .unwrap();
    let other = d.person("Written beside the refused order");
    sync::block_on(transport().erase(&link.relay_url, &link.token, &q, None)).unwrap();
    let report = d.sync();
    assert!(d.store.person(&q).is_ok(), "{report:?}");
    lead.sync();
    assert!(lead.store.person(&other).is_ok());
    assert!(
        d.store.has_pending(&q).unwrap(),
        "the edit is kept, not sent"
    );
    // The relay does not count D as having carried either order out.
    let orders = sync::block_on(transport().erasures(&link.relay_url, &link.token, 0)).unwrap();
    assert!(
        orders.erasures.iter().all(|o| o.confirmed < o.devices),
        "{orders:?}"
    );
    assert!(
        d.store.refused_erasures().unwrap()[1]
            .reason
            .contains("no team lead signed it")
    );
    // A new device: the relay no longer serves the person's blobs, and the other devices'
    // records say it holds them: the gap is reported, not excused as an erasure.
    let mut e = Device::joined(&relay.url, &relay.invite(&team_id, 1), "E's phone");
    let report = e.sync();
    assert!(e.store.person(&p).is_err());
    assert!(report.withheld > 0, "{report:?}");
}

#[test]
fn a_lead_promoted_by_a_lead_is_followed_in_invites_erasures_and_rotations() {
    let relay = TestRelay::start();
    let (_team_id, mut lead, mut c, mut d) = team_of_three(&relay);
    let p = lead.person("Erased by the second lead");
    lead.sync();
    promote(&mut lead, &c.relay_device_id());
    c.sync();
    d.sync();
    assert_eq!(
        d.store.trusted_role(&actor(&c)).unwrap(),
        Some(TrustedRole::Lead)
    );
    // C's erasure is carried out on D.
    erase(&mut c, &p).unwrap();
    d.sync();
    assert!(d.store.person(&p).is_err());
    assert!(d.store.refused_erasures().unwrap().is_empty());
    // A device C invites is taken for a member by D.
    let code = invite_by(&mut c, Role::Canvasser, 1);
    let mut e = Device::joined(&relay.url, &code, "E's phone");
    let from_e = e.person("Written by C's invitee");
    e.sync();
    d.sync();
    assert!(d.store.person(&from_e).is_ok());
    assert_eq!(
        d.store.trusted_role(&actor(&e)).unwrap(),
        Some(TrustedRole::Canvasser)
    );
    // C's rotation (revoking E) is followed by D.
    let nb = RefCell::new(&mut c.store);
    sync::block_on(team::revoke(&nb, &transport(), &e.relay_device_id())).unwrap();
    d.sync();
    assert_eq!(d.store.keyring().unwrap().current().unwrap().epoch(), 2);
    let _ = lead;
}

/// A second lead's erasure stands after that lead's phone is revoked: a device that still held
/// the person when the revocation came erases them at its next sync (it refuses what a revoked
/// device signs, so the revoking lead signs the order again). It kept the person, for good.
#[test]
fn a_revoked_leads_erasures_still_reach_a_device_that_had_not_synced() {
    let relay = TestRelay::start();
    let (team_id, mut lead, mut c, mut d) = team_of_three(&relay);
    let p = d.person("Erased by the second lead, whose phone is then lost");
    let q = d.person("Kept: the lost phone's order for them comes after");
    second_lead_erases(&mut lead, &mut c, &mut d, &p);
    // C's phone is lost before D syncs again; the first lead revokes it.
    let revoked = {
        let nb = RefCell::new(&mut lead.store);
        sync::block_on(team::revoke(&nb, &transport(), &c.relay_device_id())).unwrap()
    };
    assert_eq!(revoked.erasures_signed_again, 1, "{revoked:?}");
    assert_eq!(revoked.erasures_not_signed, None);
    d.sync();
    assert!(d.store.person(&p).is_err(), "D still holds the person");
    assert!(
        d.store.refused_erasures().unwrap().is_empty(),
        "{:?}",
        d.store.refused_erasures()
    );
    // Whoever holds the lost phone, with the relay's help, orders another erasure: no lead
    // carries it out, so the same revocation again signs only the first order again.
    let proof = erase_proof(&team_id, &q, &actor(&c), &c.store.device_key().unwrap());
    plant_order(&relay, &team_id, &q, &proof);
    lead.sync();
    let again = {
        let nb = RefCell::new(&mut lead.store);
        sync::block_on(team::revoke(&nb, &transport(), &c.relay_device_id())).unwrap()
    };
    assert_eq!(again.erasures_signed_again, 1, "{again:?}");
    d.sync();
    assert!(
        d.store.person(&q).is_ok(),
        "the lost phone's later order was followed"
    );
    assert!(lead.store.person(&q).is_ok());
}

/// A link that carries requests to the relay until the relay has answered a revocation, and
/// none after (the relay went away, or the signal did, the moment the lead's revocation
/// was done).
struct CutAfterRevoking {
    wire: sync::http::ReqwestWire,
    cut: std::cell::Cell<bool>,
}

impl sync::Wire for CutAfterRevoking {
    async fn exchange(
        &self,
        request: &sync::relay::Exchange,
    ) -> Result<sync::relay::Answer, sync::relay::NoAnswer> {
        if self.cut.get() {
            return Err(sync::relay::NoAnswer::Failed("connection refused".into()));
        }
        let answer = self.wire.exchange(request).await;
        if request.url.ends_with(groundwork_protocol::REVOKE_PATH) && answer.is_ok() {
            self.cut.set(true);
        }
        answer
    }

    async fn pause(&self, _wait: std::time::Duration) {}
}

/// A link to the relay that goes the moment the relay has answered a revocation.
fn link_cut_after_revoking() -> sync::Relay<CutAfterRevoking> {
    sync::Relay::over(
        CutAfterRevoking {
            wire: sync::http::ReqwestWire::new().unwrap(),
            cut: std::cell::Cell::new(false),
        },
        2,
        std::time::Duration::ZERO,
    )
}

/// Every device takes in what D wrote, `lead` makes C a lead, and C erases `p`.
fn second_lead_erases(lead: &mut Device, c: &mut Device, d: &mut Device, p: &str) {
    d.sync();
    lead.sync();
    c.sync();
    promote(lead, &c.relay_device_id());
    c.sync();
    erase(c, p).unwrap();
}

#[test]
fn a_revocation_cut_off_before_its_erasures_are_signed_again_signs_them_at_the_next_listing() {
    let relay = TestRelay::start();
    let (_team_id, mut lead, mut c, mut d) = team_of_three(&relay);
    let p = d.person("Erased by the second lead, whose phone is then lost");
    second_lead_erases(&mut lead, &mut c, &mut d, &p);
    // The relay revokes C's phone, then the lead's link goes: neither the key's rotation nor
    // the signing can happen now.
    let cut = link_cut_after_revoking();
    let revoked = {
        let nb = RefCell::new(&mut lead.store);
        sync::block_on(team::revoke(&nb, &cut, &c.relay_device_id())).unwrap()
    };
    assert!(revoked.device.revoked);
    assert!(revoked.rotation_waits, "{revoked:?}");
    assert_eq!(revoked.erasures_signed_again, 0);
    assert!(revoked.erasures_not_signed.is_some(), "{revoked:?}");
    assert_eq!(lead.store.orders_to_sign_again().unwrap().len(), 1);
    // Back online: the lead's next listing of the team (the app lists it after its syncs)
    // rotates the key away from C's phone, which D then learns, and signs the order again,
    // which D carries out (without the signing, D refuses the order of a revoked device).
    lead.sync();
    {
        let nb = RefCell::new(&mut lead.store);
        sync::block_on(team::devices(&nb, &transport())).unwrap();
    }
    assert!(lead.store.orders_to_sign_again().unwrap().is_empty());
    d.sync();
    assert!(d.store.person(&p).is_err(), "D still holds the person");
    assert!(
        d.store.refused_erasures().unwrap().is_empty(),
        "{:?}",
        d.store.refused_erasures()
    );
}

/// The revocation asked again after its answer was lost keeps what the first request noted:
/// an order a relay slipped in meanwhile with the lost phone's key (carried out here, since
/// this device had not yet rotated the key away from it) is not signed again.
#[test]
fn a_revocation_asked_again_signs_only_what_was_erased_before_the_first_request() {
    let relay = TestRelay::start();
    let (team_id, mut lead, mut c, mut d) = team_of_three(&relay);
    let p = d.person("Erased by the second lead before its phone was lost");
    let q = d.person("Ordered erased with the lost phone's key afterwards");
    second_lead_erases(&mut lead, &mut c, &mut d, &p);
    let cut = link_cut_after_revoking();
    {
        let nb = RefCell::new(&mut lead.store);
        sync::block_on(team::revoke(&nb, &cut, &c.relay_device_id())).unwrap();
    }
    // The relay slips in an order signed with the lost phone's key; the lead, whose key has
    // not rotated yet, takes it in and carries it out.
    let proof = erase_proof(&team_id, &q, &actor(&c), &c.store.device_key().unwrap());
    plant_order(&relay, &team_id, &q, &proof);
    lead.sync();
    assert!(
        lead.store.person(&q).is_err(),
        "the lead followed the order"
    );
    // The revocation asked again: the first order is signed again, the slipped-in one not.
    let again = {
        let nb = RefCell::new(&mut lead.store);
        sync::block_on(team::revoke(&nb, &transport(), &c.relay_device_id())).unwrap()
    };
    assert_eq!(again.erasures_signed_again, 1, "{again:?}");
    assert!(lead.store.orders_to_sign_again().unwrap().is_empty());
    d.sync();
    assert!(d.store.person(&p).is_err(), "D still holds the person");
    assert!(
        d.store.person(&q).is_ok(),
        "the order given after the revocation was followed"
    );
}

/// A revocation that got no answer leaves its note until a listing says what the relay did:
/// the device was not revoked (the request never arrived), so the note goes.
#[test]
fn a_revocation_that_never_reached_the_relay_leaves_nothing_once_the_team_is_listed() {
    let relay = TestRelay::start();
    let (_team_id, mut lead, c, _d) = team_of_three(&relay);
    let nowhere = sync::Relay::over(
        CutAfterRevoking {
            wire: sync::http::ReqwestWire::new().unwrap(),
            cut: std::cell::Cell::new(true),
        },
        1,
        std::time::Duration::ZERO,
    );
    let failed = {
        let nb = RefCell::new(&mut lead.store);
        sync::block_on(team::revoke(&nb, &nowhere, &c.relay_device_id()))
    };
    assert!(
        matches!(failed, Err(SyncError::Unreachable { .. })),
        "{failed:?}"
    );
    assert_eq!(lead.store.orders_to_sign_again().unwrap().len(), 1);
    let list = |lead: &mut Device| {
        let nb = RefCell::new(&mut lead.store);
        sync::block_on(team::devices(&nb, &transport())).unwrap()
    };
    assert!(list(&mut lead).iter().all(|d| !d.revoked));
    // A young note stays (it may be another process's request still on its way, the command
    // line's beside the app); one older than any request goes.
    assert_eq!(lead.store.orders_to_sign_again().unwrap().len(), 1);
    lead.store
        .connection()
        .execute(
            "UPDATE meta SET value = json_set(value, '$.at', 0) WHERE key LIKE 'sign-again:%'",
            [],
        )
        .unwrap();
    list(&mut lead);
    assert!(lead.store.orders_to_sign_again().unwrap().is_empty());
}

#[test]
fn a_revocation_the_relay_refused_leaves_nothing_to_sign_again() {
    let relay = TestRelay::start();
    let (_team_id, mut lead, _c, _d) = team_of_three(&relay);
    let refused = {
        let nb = RefCell::new(&mut lead.store);
        sync::block_on(team::revoke(&nb, &transport(), "no-such-device"))
    };
    assert!(refused.is_err(), "{refused:?}");
    assert!(lead.store.orders_to_sign_again().unwrap().is_empty());
}

#[test]
fn an_order_refused_while_its_signer_was_unknown_as_a_lead_is_carried_out_once_known() {
    let relay = TestRelay::start();
    let (_team_id, mut lead, mut c, mut d) = team_of_three(&relay);
    let p = lead.person("Erased by a lead D learns of late");
    lead.sync();
    d.sync();
    promote(&mut lead, &c.relay_device_id());
    c.sync();
    // The relay withholds the lead's record of the promotion from D for a while.
    let record_doc = format!("lead-{}", actor(&c));
    let record = relay.blobs_of(&record_doc);
    assert_eq!(record.len(), 1);
    relay.tamper(&format!("DELETE FROM blobs WHERE doc_id = '{record_doc}'"));
    erase(&mut c, &p).unwrap();
    d.sync();
    assert!(d.store.person(&p).is_ok());
    assert_eq!(d.store.refused_erasures().unwrap().len(), 1);
    // Served at last: D takes the record in, checks the order again and carries it out.
    relay.inject(&lead.relay_device_id(), &record_doc, &record[0]);
    d.sync();
    assert!(d.store.person(&p).is_err());
    assert!(d.store.refused_erasures().unwrap().is_empty());
}

#[test]
fn a_team_from_before_the_root_of_trust_keeps_the_relays_word() {
    let relay = TestRelay::start();
    let (team_id, invite) = relay.team_without_anchor(1);
    let mut lead = Device::joined(&relay.url, &invite, "Lead's phone");
    let mut c = Device::joined(&relay.url, &relay.invite(&team_id, 1), "C's phone");
    lead.sync();
    c.sync();
    assert!(!c.store.has_anchor().unwrap());
    let p = c.person("Erased by an operator-made lead");
    c.sync();
    lead.sync();
    // The operator promotes the lead's device's peer; its orders are followed (the relay
    // decides roles in such a team, as before).
    relay.operator_promote(&c.relay_device_id());
    c.sync();
    erase(&mut c, &p).unwrap();
    lead.sync();
    assert!(lead.store.person(&p).is_err());
}

#[test]
fn a_promotion_of_a_device_whose_record_had_not_come_is_signed_when_it_comes() {
    let relay = TestRelay::start();
    let (team_id, mut lead, _c, mut d) = team_of_three(&relay);
    // E joins and has not synced: the lead knows no keys of it when it promotes it.
    let mut e = Device::joined(&relay.url, &relay.invite(&team_id, 1), "E's phone");
    promote(&mut lead, &e.relay_device_id());
    e.sync();
    d.sync();
    assert_eq!(
        d.store.trusted_role(&actor(&e)).unwrap(),
        Some(TrustedRole::Canvasser),
        "nothing signed yet"
    );
    // The lead's next syncs take E's record in, sign the promotion and send it.
    lead.sync();
    lead.sync();
    d.sync();
    assert_eq!(
        d.store.trusted_role(&actor(&e)).unwrap(),
        Some(TrustedRole::Lead)
    );
    e.sync();
    assert!(e.store.may_sign_as_lead().unwrap());
}

#[test]
fn an_invite_lets_in_no_more_devices_than_it_was_made_for() {
    let relay = TestRelay::start();
    let (team_id, mut lead, _c, _d) = team_of_three(&relay);
    // One certificate for one device, handed to the relay twice (a used link and a relay's
    // help): the first device to join is a member, the second is not.
    let keys = lead.store.keyring().unwrap();
    let anchor = relay.anchor_of(&team_id);
    let secret = InviteSecret::generate().unwrap();
    let by = hex(&anchor.public());
    let cert = certify_invite(&team_id, &secret, TrustedRole::Canvasser, 1, &by, &anchor);
    let sealed = seal_invite(&secret, &team_id, &keys, (&anchor.public(), &by), &cert).unwrap();
    let mut first = Device::joined(
        &relay.url,
        &relay.invite_carrying(&team_id, Role::Canvasser, &sealed, &secret.to_text()),
        "First",
    );
    let mut second = Device::joined(
        &relay.url,
        &relay.invite_carrying(&team_id, Role::Canvasser, &sealed, &secret.to_text()),
        "Second",
    );
    let a = first.person("From the invite's one device");
    let b = second.person("From a device too many");
    first.sync();
    second.sync();
    lead.sync();
    assert!(lead.store.person(&a).is_ok());
    assert!(lead.store.person(&b).is_err());
    let reasons = quarantine_reasons(&lead);
    assert!(
        reasons.iter().any(|r| r.contains("made for 1 device(s)")),
        "{reasons:?}"
    );
}

#[test]
fn the_first_leads_key_signs_nothing_once_its_device_is_revoked() {
    let relay = TestRelay::start();
    // The first lead joins with the operator's invite: its own key is the team's anchor.
    let (team_id, first_invite) = relay.operator_team();
    let mut first = Device::joined(&relay.url, &first_invite, "First lead's phone");
    first.sync();
    let code = invite_by(&mut first, Role::Lead, 1);
    let mut second = Device::joined(&relay.url, &code, "Second lead's phone");
    let code = invite_by(&mut first, Role::Canvasser, 1);
    let mut d = Device::joined(&relay.url, &code, "D's phone");
    for dev in [&mut second, &mut d, &mut first] {
        dev.sync();
    }
    second.sync();
    d.sync();
    let p = second.person("Kept after the first lead's phone is lost");
    second.sync();
    d.sync();
    // The first lead's phone is lost; the second lead revokes it.
    let old_keys = first.store.keyring().unwrap();
    let anchor_key = first.store.device_key().unwrap();
    let first_actor = actor(&first);
    {
        let nb = RefCell::new(&mut second.store);
        sync::block_on(team::revoke(&nb, &transport(), &first.relay_device_id())).unwrap();
    }
    d.sync();
    assert_eq!(d.store.keyring().unwrap().current().unwrap().epoch(), 2);
    // Whoever holds the phone, with the relay's help: an erasure order signed with the
    // anchor's key is refused, and so is a device let in by a certificate it signs.
    let proof = erase_proof(&team_id, &p, &first_actor, &anchor_key);
    plant_order(&relay, &team_id, &p, &proof);
    d.sync();
    assert!(d.store.person(&p).is_ok());
    let refused = d.store.refused_erasures().unwrap();
    assert!(
        refused.iter().any(|r| r.reason.contains("revoked")),
        "{refused:?}"
    );
    let secret = InviteSecret::generate().unwrap();
    let cert = certify_invite(
        &team_id,
        &secret,
        TrustedRole::Lead,
        1,
        &first_actor,
        &anchor_key,
    );
    let sealed = seal_invite(
        &secret,
        &team_id,
        &old_keys,
        (&anchor_key.public(), &first_actor),
        &cert,
    )
    .unwrap();
    let mut planted = Device::joined(
        &relay.url,
        &relay.invite_carrying(&team_id, Role::Lead, &sealed, &secret.to_text()),
        "Planted",
    );
    let planted_person = planted.person("Written by a device the lost phone let in");
    planted.sync();
    d.sync();
    assert!(d.store.person(&planted_person).is_err());
    assert_eq!(d.store.trusted_role(&actor(&planted)).unwrap(), None);
}

#[test]
fn a_junk_proof_given_after_a_leads_cannot_undo_the_order() {
    let relay = TestRelay::start();
    let (team_id, mut lead, mut c, mut d) = team_of_three(&relay);
    let p = lead.person("Erased by the lead");
    lead.sync();
    d.sync();
    erase(&mut lead, &p).unwrap();
    // C, a lead at the relay alone, gives the same order again with its own proof before D
    // has synced: the relay keeps both, and D carries the order out on the lead's.
    relay.operator_promote(&c.relay_device_id());
    c.sync();
    let link = c.store.sync_state().unwrap().link.unwrap();
    let junk = erase_proof(&team_id, &p, &actor(&c), &c.store.device_key().unwrap());
    let order =
        sync::block_on(transport().erase(&link.relay_url, &link.token, &p, Some(junk))).unwrap();
    assert_eq!(order.proof.unwrap().split(' ').count(), 2);
    d.sync();
    assert!(d.store.person(&p).is_err());
    assert!(d.store.refused_erasures().unwrap().is_empty());
}

#[test]
fn the_first_leads_key_under_another_device_is_not_the_first_lead() {
    let relay = TestRelay::start();
    let (team_id, first_invite) = relay.operator_team();
    let mut first = Device::joined(&relay.url, &first_invite, "First lead's phone");
    first.sync();
    let code = invite_by(&mut first, Role::Canvasser, 2);
    // Whoever holds the first lead's keys (a stolen phone) joins as a new device with them.
    let mut impostor = Device::new();
    let stolen = first.store.device_key().unwrap();
    impostor
        .store
        .connection()
        .execute(
            "INSERT INTO device_key (id, signing_key, exchange_key, created_at)
             VALUES (1, ?1, ?2, '2026-12-03T00:00:00.000Z')",
            (
                stolen.secret().as_slice(),
                stolen.exchange_secret().as_slice(),
            ),
        )
        .unwrap();
    sync::join(
        &mut impostor.store,
        &transport(),
        &relay.url,
        &code,
        "Impostor",
    )
    .unwrap();
    let forged = impostor.person("Written under the first lead's key");
    impostor.sync();
    // A new device from whom the relay withholds the real first lead's record.
    relay.tamper(&format!(
        "DELETE FROM blobs WHERE doc_id = 'member-{}'",
        actor(&first)
    ));
    let mut fresh = Device::joined(&relay.url, &code, "Fresh phone");
    fresh.sync();
    assert!(fresh.store.person(&forged).is_err());
    assert_eq!(fresh.store.trusted_role(&actor(&impostor)).unwrap(), None);
    let reasons = quarantine_reasons(&fresh);
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("first lead's key, which belongs to another device")),
        "{reasons:?}"
    );
    let _ = team_id;
}
