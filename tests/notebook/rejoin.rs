//! A notebook that joins its team again (revoked and found, or given a second invite) through a
//! real relay: it takes a new identity, what it wrote and never sent reaches the team written
//! again under it, and what it writes afterwards is heard by every device.

use groundwork::model::{PersonField, PersonPatch};
use groundwork::store::intake::hex;
use groundwork::sync::{self, SyncError};
use groundwork_protocol::Role;

use super::erasure::through_the_relay::revoke_device as revoke;
use super::sync::{Device, TestRelay, transport};
use super::trust::{invite_by, quarantine_reasons as quarantined};

/// A team with its lead's device and a canvasser's ("B"), both synced.
fn team() -> (TestRelay, Device, Device) {
    let relay = TestRelay::start();
    let (team_id, lead_invite) = relay.lead_team();
    let mut lead = Device::joined(&relay.url, &lead_invite, "Lead's phone");
    let mut b = Device::joined(&relay.url, &relay.invite(&team_id, 1), "B's phone");
    b.sync();
    lead.sync();
    (relay, lead, b)
}

#[test]
fn a_revoked_notebook_that_joins_again_is_heard_with_what_it_wrote_offline() {
    let (relay, mut lead, mut b) = team();
    let pat = b.person("Pat");
    b.converse(&pat, "rent up again", &["come on Tuesday"]);
    b.sync();
    lead.sync();
    let old_actor = hex(&b.store.actor_bytes());

    // Offline, B edits Pat and meets Quinn; meanwhile the lead revokes B (reported lost).
    b.store
        .edit_person(
            &pat,
            PersonPatch::new().put(PersonField::Notes, "works nights"),
        )
        .unwrap();
    let quinn = b.person("Quinn");
    b.converse(&quinn, "heating broken", &["bring two neighbours"]);
    revoke(&mut lead, &b);
    let refused = sync::sync_once(&mut b.store, &transport(), Default::default());
    assert!(matches!(refused, Err(SyncError::Revoked)), "{refused:?}");

    // The phone is found: B joins again with a new invite and goes on writing.
    let invite = invite_by(&mut lead, Role::Canvasser, 1);
    let joined = sync::join(&mut b.store, &transport(), &relay.url, &invite, "B's phone").unwrap();
    assert_ne!(hex(&b.store.actor_bytes()), old_actor, "a new identity");
    let renewed = joined.renewed.expect("a notebook joining again is renewed");
    let mut rewritten = renewed.rewritten.clone();
    rewritten.sort();
    let mut expected = vec![pat.clone(), quinn.clone()];
    expected.sort();
    assert_eq!(rewritten, expected);
    let riley = b.person("Riley");
    b.sync();
    assert_eq!(b.store.pending_changes().unwrap(), 0);
    lead.sync();

    assert_eq!(quarantined(&lead), Vec::<String>::new());
    let pat_file = lead.store.person(&pat).unwrap();
    assert_eq!(pat_file.person.notes.as_deref(), Some("works nights"));
    assert_eq!(pat_file.conversations.len(), 1);
    let quinn_file = lead.store.person(&quinn).unwrap();
    assert_eq!(quinn_file.conversations.len(), 1);
    assert_eq!(quinn_file.commitments[0].what, "bring two neighbours");
    assert_eq!(lead.store.person(&riley).unwrap().person.name, "Riley");
    // The old actor stays revoked: nothing is heard as it.
    let revoked: bool = lead
        .store
        .connection()
        .query_row(
            "SELECT revoked FROM members WHERE actor = ?1",
            [&old_actor],
            |r| r.get(0),
        )
        .unwrap();
    assert!(revoked);

    // B holds what the team holds (none of its unsent changes left behind), and so does a
    // device let in afterwards, with nothing waiting or refused.
    b.sync();
    assert_eq!(b.exports(), lead.exports());
    let mut c = Device::joined(
        &relay.url,
        &invite_by(&mut lead, Role::Canvasser, 1),
        "C's phone",
    );
    c.sync();
    assert_eq!(c.exports(), lead.exports());
    assert_eq!(quarantined(&c), Vec::<String>::new());
    assert!(c.store.waiting_docs().unwrap().is_empty());
    assert!(b.store.waiting_docs().unwrap().is_empty());
    // Its old pushes, which the others' records count, are not taken for withheld ones.
    assert!(
        !b.store.withheld().unwrap().any(),
        "{:?}",
        b.store.withheld()
    );
}

#[test]
fn a_store_opened_before_the_notebook_joined_again_writes_and_syncs_as_its_new_identity() {
    let (relay, mut lead, mut b) = team();
    let pat = b.person("Pat");
    b.sync();
    lead.sync();
    // The app keeps the notebook open (its window, its sync worker) while a join runs on
    // another connection.
    let mut window = groundwork::store::Store::open(&b.dir()).unwrap();
    revoke(&mut lead, &b);
    let invite = invite_by(&mut lead, Role::Canvasser, 1);
    sync::join(&mut b.store, &transport(), &relay.url, &invite, "B's phone").unwrap();
    window
        .edit_person(
            &pat,
            PersonPatch::new().put(PersonField::Notes, "typed in the window"),
        )
        .unwrap();
    assert_eq!(window.actor_bytes(), b.store.actor_bytes());
    let report = sync::sync_once(&mut window, &transport(), Default::default());
    assert!(report.is_ok(), "{report:?}");
    lead.sync();
    assert_eq!(quarantined(&lead), Vec::<String>::new());
    assert_eq!(
        lead.store.person(&pat).unwrap().person.notes.as_deref(),
        Some("typed in the window")
    );
}

#[test]
fn a_notebook_given_a_second_invite_joins_again_beside_its_old_self() {
    let (relay, mut lead, mut b) = team();
    let pat = b.person("Pat");
    b.sync();
    // Not revoked: the relay would not enrol the same actor twice in a team.
    b.store
        .edit_person(
            &pat,
            PersonPatch::new().put(PersonField::Notes, "before joining again"),
        )
        .unwrap();
    let invite = invite_by(&mut lead, Role::Canvasser, 1);
    sync::join(&mut b.store, &transport(), &relay.url, &invite, "B again").unwrap();
    b.store
        .edit_person(&pat, PersonPatch::new().put(PersonField::Area, "Leith"))
        .unwrap();
    b.sync();
    lead.sync();
    assert_eq!(quarantined(&lead), Vec::<String>::new());
    let file = lead.store.person(&pat).unwrap();
    assert_eq!(file.person.notes.as_deref(), Some("before joining again"));
    assert_eq!(file.person.area.as_deref(), Some("Leith"));
    b.sync();
    assert_eq!(b.exports(), lead.exports());
    assert!(
        !lead.store.withheld().unwrap().any(),
        "{:?}",
        lead.store.withheld().unwrap()
    );
}

/// A join link with one character of its secret changed: the relay enrols the device (it never
/// sees the secret), then the team's keys do not open. Joining again with the whole link asks
/// again as the same enrolment (the same token and identity) and works: the team has one
/// device for the phone. (It was refused for good once: "another device of this team already
/// writes with this notebook's identity"; then it took a new identity and left a second device
/// behind at the relay.)
#[test]
fn a_join_that_fails_after_the_relay_enrolled_the_device_can_be_tried_again() {
    let relay = TestRelay::start();
    let (_, invite) = relay.team(3);
    let mut lead = Device::joined(&relay.url, &invite, "Lead's laptop");
    let someone = lead.person("Someone Known");
    lead.sync();
    let (code, secret) = invite.split_once('.').unwrap();
    let mut damaged: Vec<char> = secret.chars().collect();
    let at = damaged.len() / 2;
    let other = if damaged[at].eq_ignore_ascii_case(&'a') {
        'b'
    } else {
        'a'
    };
    damaged[at] = if damaged[at].is_ascii_uppercase() {
        other.to_ascii_uppercase()
    } else {
        other
    };
    let damaged = format!("{code}.{}", damaged.into_iter().collect::<String>());
    let mut phone = Device::new();
    let offline = phone.person("Written before joining");
    let err = sync::join(
        &mut phone.store,
        &transport(),
        &relay.url,
        &damaged,
        "Phone",
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("link") || err.to_string().contains("invite"),
        "{err}"
    );
    assert!(phone.store.sync_state().unwrap().link.is_none());
    sync::join(&mut phone.store, &transport(), &relay.url, &invite, "Phone").unwrap();
    heard_both_ways(&mut lead, &mut phone, &someone, &offline);
    assert_eq!(device_names(&lead), ["Lead's laptop", "Phone"]);
}

/// Only the first part of a lead's invite code pasted (the part before the dot): the relay
/// refuses it, keeping the invite's use, so the whole code then joins, from this phone or
/// another, and no device is left behind. (The relay enrolled the half and spent the invite:
/// "already used" for the whole code, and a device in the team that never synced.)
#[test]
fn half_of_an_invite_code_spends_nothing_and_the_whole_code_then_joins() {
    let relay = TestRelay::start();
    let (mut lead, someone) = lead_with_someone(&relay);
    let link = invite_by(&mut lead, Role::Canvasser, 1);
    let (code, _) = link.split_once('.').unwrap();
    let mut first = Device::new();
    let err = sync::join(&mut first.store, &transport(), &relay.url, code, "Half").unwrap_err();
    assert!(
        err.to_string().contains("first part of the invite"),
        "{err}"
    );
    assert!(first.store.sync_state().unwrap().link.is_none());
    let mut phone = Device::new();
    let offline = phone.person("Written before joining");
    sync::join(&mut phone.store, &transport(), &relay.url, &link, "Phone").unwrap();
    heard_both_ways(&mut lead, &mut phone, &someone, &offline);
    assert_eq!(device_names(&lead), ["Lead's laptop", "Phone"]);
}

/// A team's lead, who has synced someone a phone must see once it joins.
fn lead_with_someone(relay: &TestRelay) -> (Device, String) {
    let (_, invite) = relay.team(1);
    let mut lead = Device::joined(&relay.url, &invite, "Lead's laptop");
    let someone = lead.person("Someone Known");
    lead.sync();
    (lead, someone)
}

/// The phone, joined, syncs and has `someone` from the lead; the lead, synced, has `offline`,
/// which the phone wrote before it joined.
fn heard_both_ways(lead: &mut Device, phone: &mut Device, someone: &str, offline: &str) {
    phone.sync();
    assert_eq!(
        phone.store.person(someone).unwrap().person.name,
        "Someone Known"
    );
    lead.sync();
    assert_eq!(
        lead.store.person(offline).unwrap().person.name,
        "Written before joining"
    );
    // Whatever identity the phone joined with, the relay holds every push its records list.
    assert!(
        !lead.store.withheld().unwrap().any(),
        "the lead counts pushes withheld: {:?}",
        lead.store.withheld().unwrap()
    );
}

/// A wire that carries the enrolment to the relay and loses its answer on the way back.
struct LosesTheEnrolmentsAnswer(groundwork::sync::http::ReqwestWire);

impl groundwork::sync::Wire for LosesTheEnrolmentsAnswer {
    async fn exchange(
        &self,
        request: &groundwork::sync::relay::Exchange,
    ) -> Result<groundwork::sync::relay::Answer, groundwork::sync::relay::NoAnswer> {
        let answer = self.0.exchange(request).await;
        if request.url.ends_with("/v1/enrol") {
            return Err("connection reset".into());
        }
        answer
    }

    async fn pause(&self, _wait: std::time::Duration) {}
}

/// Joins `phone` through a wire that loses the relay's answer: refused as unreachable.
fn join_losing_the_answer(phone: &mut Device, relay: &str, invite: &str) {
    let lossy = groundwork::sync::Relay::over(
        LosesTheEnrolmentsAnswer(groundwork::sync::http::ReqwestWire::new().unwrap()),
        1,
        std::time::Duration::ZERO,
    );
    let nb = std::cell::RefCell::new(&mut phone.store);
    let err = sync::block_on(sync::engine::join(&nb, &lossy, relay, invite, "Phone")).unwrap_err();
    assert!(matches!(err, SyncError::JoinUnreachable { .. }), "{err}");
}

/// The names of the team's devices, as its lead sees them.
fn device_names(lead: &Device) -> Vec<String> {
    let mut names: Vec<String> = sync::team_devices(&lead.store, &transport())
        .unwrap()
        .into_iter()
        .map(|d| d.name)
        .collect();
    names.sort();
    names
}

/// The relay enrols the device and its answer is lost, twice, on a single-use invite from the
/// lead's app: the notebook kept the token it chose and the identity it asked with, asks again
/// as the same enrolment, and the relay answers it again. The invite is not spent by the lost
/// answers (it was: "already been used"), and the team has one device for the phone.
#[test]
fn a_join_whose_answer_was_lost_is_asked_again_without_spending_the_invite() {
    let relay = TestRelay::start();
    let (mut lead, someone) = lead_with_someone(&relay);
    let link = invite_by(&mut lead, Role::Canvasser, 1);
    let mut phone = Device::new();
    let offline = phone.person("Written before joining");
    join_losing_the_answer(&mut phone, &relay.url, &link);
    let pending = phone.store.pending_join().unwrap().expect("kept");
    join_losing_the_answer(&mut phone, &relay.url, &link);
    assert_eq!(
        phone.store.pending_join().unwrap(),
        Some(pending),
        "asked again as the same enrolment"
    );
    // Typed again with other spacing and case: the same invite to the relay.
    let (code, secret) = link.split_once('.').unwrap();
    let retyped = format!(" {}.{secret}", code.to_uppercase());
    sync::join(
        &mut phone.store,
        &transport(),
        &relay.url,
        &retyped,
        "Phone",
    )
    .unwrap();
    assert_eq!(phone.store.pending_join().unwrap(), None, "taken in");
    heard_both_ways(&mut lead, &mut phone, &someone, &offline);
    assert_eq!(device_names(&lead), ["Lead's laptop", "Phone"]);
}

/// A join at a mistyped relay address (no answer), then at the right one: the notebook joins
/// with a new identity (the unanswered join might have reached a relay), and no device of the
/// team, the phone's or one that joins later, counts a push of its unused identity as withheld
/// (its first push record listed one as held: every device counted it withheld, for good).
#[test]
fn a_join_at_a_mistyped_address_then_the_right_one_leaves_nothing_counted_withheld() {
    let relay = TestRelay::start();
    let (mut lead, someone) = lead_with_someone(&relay);
    let link = invite_by(&mut lead, Role::Canvasser, 1);
    let mut phone = Device::new();
    let offline = phone.person("Written before joining");
    let nowhere = groundwork::sync::Relay::over(
        groundwork::sync::http::ReqwestWire::new().unwrap(),
        1,
        std::time::Duration::ZERO,
    );
    let nb = std::cell::RefCell::new(&mut phone.store);
    let err = sync::block_on(sync::engine::join(
        &nb,
        &nowhere,
        "http://127.0.0.1:1",
        &link,
        "Phone",
    ))
    .unwrap_err();
    assert!(err.is_offline(), "{err}");
    assert!(
        err.to_string().contains("check its address"),
        "a join's words: {err}"
    );
    sync::join(&mut phone.store, &transport(), &relay.url, &link, "Phone").unwrap();
    heard_both_ways(&mut lead, &mut phone, &someone, &offline);
    phone.sync();
    assert!(!phone.store.withheld().unwrap().any());
    let later = invite_by(&mut lead, Role::Canvasser, 1);
    let mut newcomer = Device::joined(&relay.url, &later, "Newcomer");
    newcomer.sync();
    assert!(
        !newcomer.store.withheld().unwrap().any(),
        "{:?}",
        newcomer.store.withheld().unwrap()
    );
}

/// After a lost answer the notebook may join with another invite instead: it asks afresh,
/// with a new identity (the relay holds the first one for the team), and works.
#[test]
fn a_join_whose_answer_was_lost_can_be_made_with_another_invite() {
    let relay = TestRelay::start();
    let (mut lead, someone) = lead_with_someone(&relay);
    let first = invite_by(&mut lead, Role::Canvasser, 1);
    let second = invite_by(&mut lead, Role::Canvasser, 1);
    let mut phone = Device::new();
    let offline = phone.person("Written before joining");
    join_losing_the_answer(&mut phone, &relay.url, &first);
    let report = sync::join(&mut phone.store, &transport(), &relay.url, &second, "Phone").unwrap();
    assert!(report.renewed.is_some(), "a new identity: {report:?}");
    heard_both_ways(&mut lead, &mut phone, &someone, &offline);
}

/// The app was closed after the relay enrolled the notebook and before it heard the answer, so
/// nothing marked its identity as spent: a join with another invite takes a new identity, and
/// works (it was refused for good: "another device of this team already writes with this
/// notebook's identity"), even after a join with a mistyped code in between (which replaced
/// the unanswered join's record, and was refused).
#[test]
fn a_join_cut_off_after_the_relay_enrolled_the_notebook_leaves_it_free_to_join_with_another_invite()
{
    let relay = TestRelay::start();
    let (mut lead, someone) = lead_with_someone(&relay);
    let first = invite_by(&mut lead, Role::Canvasser, 1);
    let second = invite_by(&mut lead, Role::Canvasser, 1);
    let mut phone = Device::new();
    let offline = phone.person("Written before joining");
    // What the cut-off join kept, then sent: the relay enrolled the notebook's own identity.
    let (code, _) = first.split_once('.').unwrap();
    let token = format!("gwt_{}", "5a".repeat(32));
    phone
        .store
        .set_pending_join(&groundwork::store::PendingJoin {
            relay: relay.url.clone(),
            invite: code.to_string(),
            token: token.clone(),
            renew: None,
        })
        .unwrap();
    sync::block_on(transport().enrol(
        &relay.url,
        &groundwork_protocol::EnrolRequest {
            invite: code.to_string(),
            device_name: "Phone".into(),
            actor: Some(hex(&phone.store.actor_bytes())),
            sealing: true,
            token: Some(token),
            holds_secret: None,
        },
    ))
    .unwrap();
    let typo = sync::join(
        &mut phone.store,
        &transport(),
        &relay.url,
        "aaaa-bbbb-cccc-dddd-eeee-ffff-gggg-hhhh",
        "Phone",
    )
    .unwrap_err();
    assert!(matches!(typo, SyncError::InviteRefused(_)), "{typo}");
    let report = sync::join(&mut phone.store, &transport(), &relay.url, &second, "Phone").unwrap();
    assert!(report.renewed.is_some(), "a new identity: {report:?}");
    heard_both_ways(&mut lead, &mut phone, &someone, &offline);
}

/// The join link a lead sends (`https://RELAY/#join=CODE.SECRET`), pasted whole where the app
/// asks for the invite code, joins at the relay it names (the relay's field may be left empty):
/// the code was taken with the link's host and path in it, and the secret refused.
#[test]
fn a_join_link_pasted_where_the_code_goes_joins_at_the_relay_it_names() {
    let (_relay, mut lead, _b) = team();
    let pat = lead.person("Pat");
    lead.sync();
    let request = groundwork_protocol::InviteRequest {
        uses: 1,
        expires_in_secs: 3600,
        role: Role::Canvasser,
        sealed_keys: None,
        key_parts: Vec::new(),
        request: None,
    };
    let nb = std::cell::RefCell::new(&mut lead.store);
    let (_, link) = sync::block_on(sync::team::invite(&nb, &transport(), &request)).unwrap();
    assert!(link.contains("#join=") && link.contains('.'), "{link}");
    let mut phone = Device::joined("", &format!("  {link}\n"), "Phone");
    phone.sync();
    assert_eq!(phone.store.person(&pat).unwrap().person.name, "Pat");
}
