//! Compaction through a real relay: a lead's device publishes snapshots that stand for a
//! document's blobs, a new device gets the snapshots instead of the history and ends exactly
//! where the others are, and nothing written meanwhile or afterwards is lost.

use std::cell::RefCell;

use groundwork::store::Store;
use groundwork::sync::{self, plan::Budget, team};
use groundwork_protocol::{InviteRequest, Role};
use proptest::prelude::*;

use super::sync::{Device, TestRelay, transport};

/// A team with a lead and a canvasser; the canvasser writes `people` people, each in four
/// steps synced apart (four blobs, four changes), and the lead pulls them.
fn team_with_history(relay: &TestRelay, people: usize) -> (String, Device, Device, Vec<String>) {
    let (team, lead_invite) = relay.team(1);
    let lead = Device::joined(&relay.url, &lead_invite, "Lead's laptop");
    let mut canvasser = Device::joined(&relay.url, &relay.invite(&team, 1), "Sam's phone");
    let ids = write_history(&mut canvasser, people);
    (team, lead, canvasser, ids)
}

/// `canvasser` writes `people` people, each in four steps synced apart; returns their ids.
fn write_history(canvasser: &mut Device, people: usize) -> Vec<String> {
    let ids: Vec<String> = (0..people)
        .map(|i| canvasser.person(&format!("Person {i}")))
        .collect();
    canvasser.sync();
    for step in 0..3 {
        for id in &ids {
            canvasser.converse(id, &format!("step {step} of {id}"), &[]);
        }
        canvasser.sync();
    }
    ids
}

/// Blobs of `doc` this device took in as changes (not through a snapshot).
fn change_blobs(store: &Store, doc: &str) -> usize {
    store.change_blobs_of(doc).unwrap()
}

#[test]
fn a_new_device_gets_snapshots_instead_of_history_and_ends_the_same() {
    let relay = TestRelay::start();
    let (team, mut lead, mut canvasser, ids) = team_with_history(&relay, 3);
    let report = lead.sync();
    assert_eq!(report.compacted, 3, "{report:?}");
    for id in &ids {
        // The canvasser's four blobs are stood for by the lead's snapshot (those no device
        // can need any more are gone).
        let stored = relay.blobs_of(id).len();
        assert!((1..=5).contains(&stored), "{id}: {stored}");
        assert_eq!(relay.covered_of(id), stored - 1, "{id}");
    }
    // A canvasser's device makes none.
    assert_eq!(canvasser.store.make_snapshots(100).unwrap(), 0);

    let mut fresh = Device::joined(&relay.url, &relay.invite(&team, 1), "New phone");
    let report = fresh.sync();
    assert_eq!(report.rejected, 0, "{report:?}");
    assert_eq!(report.withheld, 0, "{report:?}");
    for id in &ids {
        assert_eq!(change_blobs(&fresh.store, id), 0, "{id} came as history");
        assert_eq!(fresh.store.person(id).unwrap().conversations.len(), 3);
    }
    canvasser.sync();
    assert_eq!(fresh.exports(), lead.exports());
    assert_eq!(fresh.exports(), canvasser.exports());
    // What is written after the snapshot comes on top of it, everywhere.
    canvasser.converse(&ids[0], "after the snapshot", &["come to the meeting"]);
    canvasser.sync();
    fresh.sync();
    lead.sync();
    assert_eq!(fresh.store.person(&ids[0]).unwrap().conversations.len(), 4);
    assert_eq!(fresh.exports(), lead.exports());
    assert_eq!(fresh.exports(), canvasser.exports());
    assert_eq!(fresh.store.withheld().unwrap().blobs, 0);
}

/// How many blobs of `doc` the relay stores, covered or not, asked by `device` as a repair asks
/// (`doc-changes`): the same on either of the relay's stores.
fn stored_blobs(device: &Device, doc: &str) -> usize {
    let link = device.store.sync_state().unwrap().link.unwrap();
    let request = groundwork_protocol::DocChangesRequest {
        doc_id: doc.into(),
        after: 0,
        max_bytes: None,
    };
    let answer =
        sync::block_on(transport().doc_changes(&link.relay_url, &link.token, &request)).unwrap();
    assert!(!answer.more);
    answer.changes.len()
}

/// A lead promoted after another had compacted the team's records makes snapshots of them
/// again (its device never learns that they were compacted: it held their blobs, so it was
/// never served the first lead's snapshots). The relay keeps none of those that stand for
/// nothing it still stores, so no device downloads them; everyone ends the same.
#[test]
fn a_second_leads_snapshots_of_records_already_compacted_are_not_kept() {
    let relay = TestRelay::start();
    let (team, mut lead, mut canvasser, ids) = team_with_history(&relay, 3);
    assert_eq!(lead.sync().compacted, 3);
    canvasser.sync();
    // A fourth record, compacted once the others' history is gone: the lead's compaction drops
    // the first three's covered blobs, which no device needs any more.
    let fourth = write_history(&mut canvasser, 1);
    assert_eq!(lead.sync().compacted, 1);
    canvasser.sync();
    let stored: Vec<usize> = ids.iter().map(|id| stored_blobs(&lead, id)).collect();
    assert_eq!(stored, [1, 1, 1], "only the lead's snapshots are left");
    let share = |lead: &mut Device, of: &str| {
        let nb = RefCell::new(&mut lead.store);
        sync::block_on(team::devices(&nb, &transport()))
            .unwrap()
            .into_iter()
            .find(|d| d.device_id == of)
            .unwrap()
            .stored_bytes
    };
    let before = share(&mut lead, &canvasser.relay_device_id());
    {
        let nb = RefCell::new(&mut lead.store);
        sync::block_on(team::promote(
            &nb,
            &transport(),
            &canvasser.relay_device_id(),
        ))
        .unwrap();
    }
    canvasser.sync();
    let report = canvasser.sync();
    assert!(report.rejected == 0, "{report:?}");
    let after: Vec<usize> = ids.iter().map(|id| stored_blobs(&lead, id)).collect();
    assert_eq!(
        after, stored,
        "the second lead's snapshots of the same records"
    );
    // Its share of the team's storage grew by its push's signed record alone (a few hundred
    // bytes, the same on either store): the four snapshots the relay deleted are no longer
    // counted (kept, the share grew by 3.5 KB).
    let grown = share(&mut lead, &canvasser.relay_device_id()) - before;
    assert!(grown < 1024, "{grown} bytes more");
    let mut fresh = Device::joined(&relay.url, &relay.invite(&team, 1), "New phone");
    let report = fresh.sync();
    assert_eq!((report.rejected, report.withheld), (0, 0), "{report:?}");
    lead.sync();
    assert_eq!(fresh.exports(), lead.exports());
    assert_eq!(fresh.exports(), canvasser.exports());
    assert!(fresh.store.person(&fourth[0]).is_ok());
}

/// A relay that names the canvasser as the device that pushed the lead's snapshots (in a team
/// whose lead's key is its root of trust, the snapshots' signatures and their maker's role say
/// who made them): the snapshots are taken in all the same, and nothing is refused.
#[test]
fn a_relay_naming_another_pusher_for_a_leads_snapshot_is_not_believed() {
    let relay = TestRelay::start();
    let (team, mut lead, canvasser, ids) = team_with_history(&relay, 2);
    assert_eq!(lead.sync().compacted, 2);
    relay.tamper(&format!(
        "UPDATE blobs SET device_pk = (SELECT pk FROM devices WHERE id = '{}')
         WHERE device_pk = (SELECT pk FROM devices WHERE id = '{}')
           AND doc_id IN ('{}', '{}')",
        canvasser.relay_device_id(),
        lead.relay_device_id(),
        ids[0],
        ids[1]
    ));
    let mut fresh = Device::joined(&relay.url, &relay.invite(&team, 1), "New phone");
    let report = fresh.sync();
    assert_eq!((report.rejected, report.withheld), (0, 0), "{report:?}");
    assert!(fresh.store.quarantined().unwrap().is_empty());
    for id in &ids {
        assert_eq!(change_blobs(&fresh.store, id), 0, "{id} came as history");
        assert_eq!(fresh.store.person(id).unwrap().conversations.len(), 3);
    }
    assert_eq!(fresh.exports(), lead.exports());
}

#[test]
fn a_change_made_while_the_lead_compacts_is_not_lost() {
    let relay = TestRelay::start();
    let (team, mut lead, mut canvasser, ids) = team_with_history(&relay, 2);
    // The lead makes its snapshots from what it holds...
    let pulled = lead.sync();
    assert_eq!(pulled.compacted, 2);
    canvasser.converse(&ids[1], "one more step", &[]);
    canvasser.sync();
    // ...takes in one more change (too few to compact by itself)...
    assert_eq!(lead.sync().compacted, 0);
    // ...and compacts while the canvasser writes: a change pushed between the snapshot and
    // its push is not in it, and must not be covered.
    assert_eq!(lead.store.make_snapshots_after(100, 1).unwrap(), 1);
    canvasser.converse(&ids[1], "written while the lead compacts", &[]);
    canvasser.sync();
    let report = lead.sync();
    assert_eq!(report.compacted, 1, "{report:?}");

    let mut fresh = Device::joined(&relay.url, &relay.invite(&team, 1), "New phone");
    let report = fresh.sync();
    assert_eq!((report.rejected, report.withheld), (0, 0), "{report:?}");
    let person = fresh.store.person(&ids[1]).unwrap();
    assert_eq!(person.conversations.len(), 3 + 1 + 1);
    assert!(
        person
            .conversations
            .iter()
            .any(|c| c.story.as_deref() == Some("written while the lead compacts"))
    );
    canvasser.sync();
    lead.sync();
    assert_eq!(fresh.exports(), lead.exports());
    assert_eq!(fresh.exports(), canvasser.exports());
}

#[test]
fn a_damaged_snapshot_is_refused_reported_and_hides_nothing_else() {
    let relay = TestRelay::start();
    let (team, mut lead, _canvasser, ids) = team_with_history(&relay, 2);
    assert_eq!(lead.sync().compacted, 2);
    // The relay's disk damages one snapshot (the blob of the document the relay now serves
    // first).
    let snapshot = relay.blobs_of(&ids[0])[0].clone();
    relay.flip_byte_of(&snapshot, 20);
    let mut fresh = Device::joined(&relay.url, &relay.invite(&team, 1), "New phone");
    let report = fresh.sync();
    // Refused and said so: the blobs it stood for, which push records list, are missing and
    // counted as withheld (never silent). The other person arrives whole.
    assert_eq!(report.rejected, 1, "{report:?}");
    assert!(report.withheld >= 1, "{report:?}");
    assert!(fresh.store.person(&ids[0]).is_err());
    assert_eq!(fresh.store.person(&ids[1]).unwrap().conversations.len(), 3);
    assert_eq!(
        fresh.store.person(&ids[1]).unwrap(),
        lead.store.person(&ids[1]).unwrap()
    );
}

#[test]
fn a_canvassers_snapshot_is_never_placed_nor_taken_in() {
    let relay = TestRelay::start();
    let (team, _lead, mut canvasser, ids) = team_with_history(&relay, 1);
    // A canvasser's device that believes it leads (buggy or hostile) makes a snapshot and
    // pushes it: the relay stores it as an ordinary blob and refuses to place it.
    canvasser.store.set_role("lead").unwrap();
    canvasser
        .store
        .connection()
        .execute(
            "UPDATE members SET role = 'lead' WHERE actor = ?1",
            [groundwork::store::intake::hex(
                &canvasser.store.actor_bytes(),
            )],
        )
        .unwrap();
    assert_eq!(canvasser.store.make_snapshots(100).unwrap(), 1);
    let report = canvasser.sync();
    assert_eq!(report.compacted, 0, "{report:?}");
    assert_eq!(relay.blobs_of(&ids[0]).len(), 5);
    assert_eq!(relay.covered_of(&ids[0]), 0);
    // Other devices get the history, and ignore the snapshot.
    let mut fresh = Device::joined(&relay.url, &relay.invite(&team, 1), "New phone");
    let report = fresh.sync();
    assert_eq!((report.rejected, report.withheld), (0, 0), "{report:?}");
    assert_eq!(change_blobs(&fresh.store, &ids[0]), 4);
    assert_eq!(fresh.store.compaction_counts().unwrap().0, 0);
    assert_eq!(fresh.exports(), canvasser.exports());
}

#[test]
fn a_revoked_leads_snapshots_made_before_still_count() {
    let relay = TestRelay::start();
    let (team_id, leads) = relay.team(2);
    let mut a = Device::joined(&relay.url, &leads, "Lead A");
    let mut b = Device::joined(&relay.url, &leads, "Lead B");
    let mut canvasser = Device::joined(&relay.url, &relay.invite(&team_id, 1), "Sam's phone");
    let id = canvasser.person("Rosa");
    canvasser.sync();
    for step in 0..3 {
        canvasser.converse(&id, &format!("step {step}"), &[]);
        canvasser.sync();
    }
    assert_eq!(a.sync().compacted, 1);
    b.sync();
    // A's laptop is lost: B revokes it and the key is rotated. Its snapshot was pushed before
    // the cut-off, so it still stands for the blobs it covers (which are gone from the relay).
    let a_id = a.relay_device_id();
    let revoked = {
        let nb = RefCell::new(&mut b.store);
        sync::block_on(team::revoke(&nb, &transport(), &a_id)).unwrap()
    };
    assert!(revoked.rotation.is_some());
    let invite = {
        let request = InviteRequest {
            uses: 1,
            expires_in_secs: 3600,
            role: Role::Canvasser,
            sealed_keys: None,
            key_parts: Vec::new(),
            request: None,
        };
        let nb = RefCell::new(&mut b.store);
        sync::block_on(team::invite(&nb, &transport(), &request))
            .unwrap()
            .0
            .code
    };
    let mut fresh = Device::joined(&relay.url, &invite, "New phone");
    let report = fresh.sync();
    assert_eq!((report.rejected, report.withheld), (0, 0), "{report:?}");
    assert_eq!(change_blobs(&fresh.store, &id), 0);
    assert_eq!(fresh.store.person(&id).unwrap().conversations.len(), 3);
    canvasser.sync();
    assert_eq!(fresh.exports(), canvasser.exports());
}

#[test]
fn a_lead_who_joined_after_the_history_has_its_snapshots_taken_in_however_many() {
    let relay = TestRelay::start();
    let (team, leads) = relay.team(2);
    let _first_lead = Device::joined(&relay.url, &leads, "Lead A");
    let mut canvasser = Device::joined(&relay.url, &relay.invite(&team, 1), "Sam's phone");
    let ids = write_history(&mut canvasser, 8);
    // A second lead joins now: its member record is at the end of the log, and the snapshots
    // it makes are served where the history they stand for was, before that record.
    let mut late = Device::joined(&relay.url, &leads, "Lead B");
    let report = late.sync();
    assert_eq!(report.compacted, ids.len(), "{report:?}");

    // A new device that keeps at most three blobs waiting for a key, pulling a page of a few
    // snapshots at a time: every snapshot is taken in, none refused for want of room.
    let mut fresh = Device::joined(&relay.url, &relay.invite(&team, 1), "New phone");
    fresh.store.set_max_awaiting(3).unwrap();
    let budget = Budget {
        push_bytes: 1 << 20,
        pull_bytes: 1500,
    };
    let report = sync::sync_once(&mut fresh.store, &transport(), budget).unwrap();
    assert_eq!((report.rejected, report.withheld), (0, 0), "{report:?}");
    assert!(fresh.store.quarantined().unwrap().is_empty());
    for id in &ids {
        assert_eq!(change_blobs(&fresh.store, id), 0, "{id} came as history");
        assert_eq!(fresh.store.person(id).unwrap().conversations.len(), 3);
    }
    canvasser.sync();
    assert_eq!(fresh.exports(), canvasser.exports());
}

/// A member pushes blobs under a key number no team has (they wait for a key for ever on
/// every device that pulls them) ahead of a late-joined lead's snapshots, which wait for that
/// lead's member record at the end of the log. The junk once filled the room for waiting
/// blobs, and the honest snapshots were refused for good; now the device keeping the most
/// blobs waiting gives up its oldest for another's.
#[test]
fn a_member_filling_the_room_for_blobs_waiting_for_a_key_cannot_crowd_out_honest_ones() {
    use groundwork::crypto::keys::{DeviceKey, TeamKey};
    let relay = TestRelay::start();
    let (team, leads) = relay.team(2);
    let _first_lead = Device::joined(&relay.url, &leads, "Lead A");
    let mut evil = Device::joined(&relay.url, &relay.invite(&team, 1), "Evil phone");
    evil.sync();
    let junk_key = TeamKey::generate(999).unwrap();
    let junk_signer = DeviceKey::generate().unwrap();
    let junk_docs = groundwork::crypto::doc_keys::DocKeys::generate().unwrap();
    for i in 0..12 {
        let doc = uuid::Uuid::now_v7().to_string();
        let blob = groundwork::crypto::seal::seal(
            &team,
            &doc,
            &junk_key,
            junk_docs.key_for(&doc).as_ref(),
            &junk_signer,
            format!("junk {i}").as_bytes(),
        )
        .unwrap();
        relay.inject(&evil.relay_device_id(), &doc, &blob);
    }
    let mut canvasser = Device::joined(&relay.url, &relay.invite(&team, 1), "Sam's phone");
    let ids = write_history(&mut canvasser, 6);
    let mut late = Device::joined(&relay.url, &leads, "Lead B");
    let report = late.sync();
    assert_eq!(report.compacted, ids.len(), "{report:?}");

    let mut fresh = Device::joined(&relay.url, &relay.invite(&team, 1), "New phone");
    fresh.store.set_max_awaiting(4).unwrap();
    let budget = Budget {
        push_bytes: 1 << 20,
        pull_bytes: 1500,
    };
    let report = sync::sync_once(&mut fresh.store, &transport(), budget).unwrap();
    for id in &ids {
        assert_eq!(
            fresh.store.person(id).map(|p| p.conversations.len()).ok(),
            Some(3),
            "{id}: {report:?}, refused: {:?}",
            fresh.store.quarantined().unwrap()
        );
    }
    let evil_actor = groundwork::store::intake::hex(&evil.store.actor_bytes());
    let refused = fresh.store.quarantined().unwrap();
    assert!(
        refused
            .iter()
            .all(|q| q.pusher_actor.as_deref() == Some(evil_actor.as_str())),
        "only the junk is refused: {refused:?}"
    );
    assert!(fresh.store.awaiting_key_changes().unwrap() <= 4);
    canvasser.sync();
    assert_eq!(fresh.exports(), canvasser.exports());
}

/// A step of the property test below.
#[derive(Debug, Clone)]
enum Step {
    /// Canvasser `0` or `1` writes a conversation with person `1` (adding people as needed).
    Write(usize, usize),
    /// Device `0` (the lead), `1` or `2` syncs.
    Sync(usize),
    /// The lead compacts whatever has a change not yet stood for, and syncs.
    Compact,
    /// A new device joins and syncs, in pages of about this many bytes.
    Join(u64),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0usize..2, 0usize..4).prop_map(|(d, p)| Step::Write(d, p)),
        3 => (0usize..3).prop_map(Step::Sync),
        2 => Just(Step::Compact),
        1 => prop_oneof![Just(200u64), Just(2_000), Just(1 << 20)].prop_map(Step::Join),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Whatever the order of writes, syncs, compactions and new devices, and however a new
    /// device's first sync is paged, every device ends with the same notebook, and nothing is
    /// refused, withheld or left waiting.
    #[test]
    fn compaction_never_loses_or_duplicates_work(steps in proptest::collection::vec(step(), 4..24)) {
        let relay = TestRelay::start();
        let (team, lead_invite) = relay.team(1);
        let mut devices = vec![
            Device::joined(&relay.url, &lead_invite, "Lead"),
            Device::joined(&relay.url, &relay.invite(&team, 1), "Canvasser A"),
            Device::joined(&relay.url, &relay.invite(&team, 1), "Canvasser B"),
        ];
        let mut people: Vec<String> = Vec::new();
        let mut written = 0usize;
        for s in &steps {
            match s {
                Step::Write(d, p) => {
                    let d = &mut devices[1 + d];
                    if *p >= people.len() {
                        people.push(d.person(&format!("Person {}", people.len())));
                    } else {
                        // A person another canvasser added arrives before it is written to.
                        d.sync();
                        if d.store.person(&people[*p]).is_err() {
                            continue;
                        }
                        d.converse(&people[*p], &format!("visit {written}"), &["come along"]);
                        written += 1;
                    }
                }
                Step::Sync(d) => {
                    let r = devices[*d].sync();
                    prop_assert_eq!((r.rejected, r.withheld), (0, 0), "{:?}", r);
                }
                Step::Compact => {
                    devices[0].sync();
                    devices[0].store.make_snapshots_after(100, 1).unwrap();
                    devices[0].sync();
                }
                Step::Join(page) => {
                    let mut d = Device::joined(&relay.url, &relay.invite(&team, 1), "New");
                    let budget = Budget { push_bytes: 1 << 20, pull_bytes: *page };
                    let r = sync::sync_once(&mut d.store, &transport(), budget).unwrap();
                    prop_assert_eq!((r.rejected, r.withheld), (0, 0), "{:?}", r);
                    devices.push(d);
                }
            }
        }
        for _ in 0..2 {
            for d in devices.iter_mut() {
                let r = d.sync();
                prop_assert_eq!((r.rejected, r.withheld), (0, 0), "{:?}", r);
            }
        }
        let first = devices[0].exports();
        for d in &devices[1..] {
            prop_assert_eq!(&d.exports(), &first);
        }
        for d in &devices {
            prop_assert_eq!(d.store.waiting_docs().unwrap().len(), 0);
        }
    }
}

/// A new device with no room for blobs waiting for a key refuses a late-joined lead's
/// snapshots (they wait for that lead's member record, at the end of the log). Such a refusal
/// says nothing against the blob: served again (the sync's end asks for the documents whose
/// history other devices' push records list and this device lacks), the snapshots are judged
/// again, and taken in. They were refused for good before: the refusal was remembered like a
/// judgement, and a snapshot served again was skipped as one already judged.
#[test]
fn snapshots_refused_for_want_of_room_are_taken_in_when_served_again() {
    let relay = TestRelay::start();
    let (team, leads) = relay.team(2);
    let _first_lead = Device::joined(&relay.url, &leads, "Lead A");
    let mut canvasser = Device::joined(&relay.url, &relay.invite(&team, 1), "Sam's phone");
    let ids = write_history(&mut canvasser, 4);
    let mut late = Device::joined(&relay.url, &leads, "Lead B");
    let report = late.sync();
    assert_eq!(report.compacted, ids.len(), "{report:?}");

    let mut fresh = Device::joined(&relay.url, &relay.invite(&team, 1), "New phone");
    fresh.store.set_max_awaiting(0).unwrap();
    let report = fresh.sync();
    // Refused while the lead's record had not come; asked for again at the end of the sync
    // (when it had), and taken in.
    assert_eq!(report.rejected, ids.len(), "{report:?}");
    assert!(report.repaired >= ids.len(), "{report:?}");
    for id in &ids {
        assert_eq!(
            fresh.store.person(id).map(|p| p.conversations.len()).ok(),
            Some(3),
            "{id}: {report:?}"
        );
    }
    assert!(
        fresh.store.quarantined().unwrap().is_empty(),
        "{:?}",
        fresh.store.quarantined().unwrap()
    );
    assert_eq!(fresh.store.withheld().unwrap().blobs, 0);
    canvasser.sync();
    assert_eq!(fresh.exports(), canvasser.exports());
}
