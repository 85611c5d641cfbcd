//! One bad member of a team cannot hide, destroy or forge anyone's work: garbage and
//! schema-breaking changes mixed with honest ones, forged actors, a wipe restored from history,
//! repairs of documents whose changes wait, and a property test with a malicious device.
//! Real devices, a real relay on 127.0.0.1:0, real HTTP.

use std::collections::BTreeSet;
use std::time::Duration;

use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, ObjType, ROOT, ReadDoc};
use groundwork::model::{PersonField, PersonPatch};
use groundwork::store::{OutboxItem, RestoreTarget};
use groundwork::sync::plan::Budget;
use groundwork::sync::{self, HttpTransport, Repair, SyncError};
use groundwork_protocol::{PushItem, SyncRequest};
use proptest::prelude::*;

use super::sync::{Device, TestRelay};

fn transport() -> HttpTransport {
    HttpTransport::with_retries(3, Duration::from_millis(20)).unwrap()
}

/// A member of the team that pushes whatever it likes, under its own token and actor.
struct Evil {
    device: Device,
}

impl Evil {
    fn joined(relay: &str, invite: &str) -> Self {
        let mut device = Device::joined(relay, invite, "Evil phone");
        // Its member record (its signing key) reaches the team like any device's.
        device.sync();
        Evil { device }
    }

    /// Push raw blobs for documents, declaring `actor` (its own unless testing the relay).
    fn push_as(&self, actor: Vec<u8>, items: Vec<(String, Vec<u8>)>) -> Result<(), SyncError> {
        let link = self.device.store.sync_state().unwrap().link.unwrap();
        // Sealed with the team's key and signed by this device, as a team member can: each
        // alone (an honest push seals a document's changes together).
        let items: Vec<_> = items
            .into_iter()
            .flat_map(|(doc_id, bytes)| {
                self.device
                    .store
                    .sealed_for_push(vec![OutboxItem {
                        seq: 0,
                        doc_id,
                        change_hash: String::new(),
                        bytes,
                    }])
                    .unwrap()
            })
            .collect();
        let request = SyncRequest {
            since: 0,
            push: items
                .into_iter()
                .map(|i| PushItem::new(i.doc_id, i.bytes))
                .collect(),
            max_bytes: Some(1),
            actor,
        };
        sync::block_on(transport().sync(&link.relay_url, &link.token, &request)).map(|_| ())
    }

    /// Push `items` sealed as an honest push seals them: a document's changes together.
    fn push_together(&self, items: Vec<(String, Vec<u8>)>) {
        let sealed = self
            .device
            .store
            .sealed_for_push(
                items
                    .into_iter()
                    .map(|(doc_id, bytes)| OutboxItem {
                        seq: 0,
                        doc_id,
                        change_hash: String::new(),
                        bytes,
                    })
                    .collect(),
            )
            .unwrap();
        assert_eq!(sealed.len(), 1, "one document, one blob");
        self.device.push_sealed(sealed);
    }

    fn push(&self, items: Vec<(String, Vec<u8>)>) {
        self.push_as(self.device.store.actor_bytes(), items)
            .unwrap();
    }

    /// The document `doc_id` as this device holds it, writing as `actor`.
    fn doc_as(&self, doc_id: &str, actor: &[u8]) -> AutoCommit {
        let bytes = self.device.store.document_bytes(doc_id).unwrap().unwrap();
        AutoCommit::load(&bytes)
            .unwrap()
            .with_actor(ActorId::from(actor))
    }

    /// One change to `doc_id`, made by `edit` as `actor`.
    fn change_as(
        &self,
        doc_id: &str,
        actor: &[u8],
        edit: impl FnOnce(&mut AutoCommit),
    ) -> (String, Vec<u8>) {
        let mut doc = self.doc_as(doc_id, actor);
        edit(&mut doc);
        // An edit that changed nothing makes no change: send garbage instead.
        let change = match doc.commit() {
            Some(_) => doc.get_last_local_change().unwrap().raw_bytes().to_vec(),
            None => b"an edit that changed nothing".to_vec(),
        };
        (doc_id.to_string(), change)
    }

    fn change(&self, doc_id: &str, edit: impl FnOnce(&mut AutoCommit)) -> (String, Vec<u8>) {
        let actor = self.device.store.actor_bytes();
        self.change_as(doc_id, &actor, edit)
    }
}

fn map(doc: &AutoCommit, key: &str) -> automerge::ObjId {
    match doc.get(ROOT, key).unwrap() {
        Some((automerge::Value::Object(ObjType::Map), id)) => id,
        other => panic!("{key} is not a map: {other:?}"),
    }
}

/// Every kind of change a bad device could send about `doc_id`, none of which may land.
fn bad_changes(evil: &Evil, doc_id: &str, other_id: &str) -> Vec<(String, Vec<u8>)> {
    vec![
        (doc_id.to_string(), b"not an automerge change".to_vec()),
        (doc_id.to_string(), Vec::new()),
        evil.change(doc_id, |d| d.put(ROOT, "type", "campaign").unwrap()),
        evil.change(doc_id, |d| d.put(ROOT, "id", other_id).unwrap()),
        evil.change(doc_id, |d| {
            let p = map(d, "person");
            d.put(&p, "name", 42_i64).unwrap();
        }),
        evil.change(doc_id, |d| d.delete(ROOT, "conversations").unwrap()),
        evil.change(doc_id, |d| {
            d.put_object(ROOT, "conversations", ObjType::Map).unwrap();
        }),
        evil.change(doc_id, |d| {
            for key in ["type", "id", "person", "commitments"] {
                d.delete(ROOT, key).unwrap();
            }
        }),
        evil.change(doc_id, |d| {
            let convs = map(d, "conversations");
            let first: Vec<String> = d.keys(&convs).collect();
            if let Some(c) = first.first() {
                let c = match d.get(&convs, c.as_str()).unwrap() {
                    Some((_, id)) => id,
                    None => return,
                };
                d.delete(&c, "at").unwrap();
            }
        }),
    ]
}

#[test]
fn garbage_and_schema_breaking_changes_never_hide_honest_work() {
    let relay = TestRelay::start();
    let (_, invite) = relay.team(5);
    let mut a = Device::joined(&relay.url, &invite, "Sam's phone");
    let mut evil = Evil::joined(&relay.url, &invite);

    let people: Vec<String> = (0..3).map(|i| a.person(&format!("Person {i}"))).collect();
    for p in &people {
        a.converse(p, "first visit", &["sign the letter"]);
    }
    a.sync();
    evil.device.sync();
    // Bad changes about every person, pushed between honest ones.
    // Sealed, the same bytes filed under two documents are two blobs (the document is bound
    // into each); the relay stores each once.
    let mut distinct = BTreeSet::new();
    for (i, p) in people.iter().enumerate() {
        let items = bad_changes(&evil, p, &people[(i + 1) % people.len()]);
        distinct.extend(items.iter().cloned());
        evil.push(items);
    }
    let bad = distinct.len();
    for p in &people {
        a.converse(p, "second visit", &[]);
    }
    a.sync();
    let late = a.person("Added after the attack");
    a.sync();

    // A device that was there all along, in one page, and one that joins afterwards.
    let mut b = Device::joined(&relay.url, &invite, "Joy's phone");
    let r = b.sync();
    assert_eq!(r.rejected, bad, "every bad change is refused and counted");
    let mut c = Device::joined(&relay.url, &invite, "Late phone");
    let small = Budget {
        push_bytes: 1 << 20,
        pull_bytes: 300,
    };
    sync::sync_once(&mut c.store, &transport(), small).unwrap();
    a.sync();
    evil.device.sync();

    let expected = a.exports();
    for d in [&b, &c] {
        assert_eq!(d.exports(), expected);
        for p in &people {
            let file = d.store.person(p).unwrap();
            assert_eq!(file.conversations.len(), 2, "both visits of {p}");
            assert_eq!(file.commitments.len(), 1);
            assert!(file.person.name.starts_with("Person "));
        }
        assert!(d.store.person(&late).is_ok());
        let q = d.store.quarantined().unwrap();
        assert_eq!(q.len(), bad);
        assert!(
            q.iter()
                .all(|x| x.pushed_by.as_deref() == Some("Evil phone"))
        );
        assert!(q.iter().all(|x| people.contains(&x.doc_id)));
        assert!(d.store.waiting_docs().unwrap().is_empty());
    }
    // The honest author refused them too, and its own work is intact.
    assert_eq!(a.store.quarantined().unwrap().len(), bad);
    // `status` reports them with the document and the device.
    let dir = c.store.dir().to_path_buf();
    let status: serde_json::Value = serde_json::from_str(&super::ok(&dir, &["status"])).unwrap();
    assert_eq!(status["quarantined_changes"], bad);
    assert_eq!(status["quarantine"][0]["pushed_by"], "Evil phone");
    assert!(status["quarantine"].as_array().unwrap().iter().any(|q| {
        q["reason"]
            .as_str()
            .unwrap()
            .contains("not an Automerge change")
    }));
}

#[test]
fn a_bad_change_sealed_among_good_ones_does_not_take_them_with_it() {
    let relay = TestRelay::start();
    let (_, invite) = relay.team(3);
    let mut a = Device::joined(&relay.url, &invite, "Sam's phone");
    let mut evil = Evil::joined(&relay.url, &invite);
    let p = a.person("Person");
    a.sync();
    evil.device.sync();
    // One blob for the document: a good edit, a schema-breaking one, another good edit, one
    // after the other (each depends on the one before).
    let mut doc = evil.doc_as(&p, &evil.device.store.actor_bytes());
    let mut step = |edit: &dyn Fn(&mut AutoCommit)| {
        edit(&mut doc);
        doc.commit().unwrap();
        (
            p.clone(),
            doc.get_last_local_change().unwrap().raw_bytes().to_vec(),
        )
    };
    let good = step(&|d| {
        let person = map(d, "person");
        d.put(&person, "notes", "met at the gate").unwrap();
    });
    let bad = step(&|d| d.put(ROOT, "type", "campaign").unwrap());
    let also_good = step(&|d| {
        let person = map(d, "person");
        d.put(&person, "area", "Elm Road").unwrap();
    });
    evil.push_together(vec![good, bad, also_good]);
    let mut b = Device::joined(&relay.url, &invite, "Joy's phone");
    let r = b.sync();
    // The person, the good edit in; the bad one refused, and the edit built on it with it.
    assert_eq!((r.rejected, r.pulled), (2, 4), "{r:?}");
    let person = b.store.person(&p).unwrap().person;
    assert_eq!(person.notes.as_deref(), Some("met at the gate"));
    assert_eq!(person.area, None);
    a.sync();
    assert_eq!(a.exports(), b.exports());
    assert_eq!(a.store.quarantined().unwrap().len(), 2);
}

#[test]
fn no_device_can_write_as_another() {
    let relay = TestRelay::start();
    let (_, invite) = relay.team(4);
    let mut victim = Device::joined(&relay.url, &invite, "Victim phone");
    let mut b = Device::joined(&relay.url, &invite, "Joy's phone");
    let mut evil = Evil::joined(&relay.url, &invite);
    let p = victim.person("Amina Yusuf");
    victim.sync();
    evil.device.sync();

    // The relay will not let a device declare another's actor.
    let stolen = victim.store.actor_bytes();
    let err = evil.push_as(stolen.clone(), vec![]).unwrap_err();
    assert!(
        matches!(err, SyncError::Refused { status: 409, .. }),
        "{err}"
    );
    // A change written under the victim's actor, with its next sequence number, pushed by evil.
    let forged = evil.change_as(&p, &stolen, |d| {
        let person = map(d, "person");
        d.put(&person, "notes", "forged words").unwrap();
    });
    evil.push(vec![forged]);
    // The victim's own next change has the same sequence number.
    victim
        .store
        .edit_person(
            &p,
            groundwork::model::PersonPatch::new().put(PersonField::Notes, "what the victim wrote"),
        )
        .unwrap();
    victim.sync();
    b.sync();
    let mut late = Device::joined(&relay.url, &invite, "Late phone");
    late.sync();
    for d in [&victim, &b, &late] {
        let file = d.store.person(&p).unwrap();
        assert_eq!(
            file.person.notes.as_deref(),
            Some("what the victim wrote"),
            "the victim's real edit lands everywhere"
        );
        let q = d.store.quarantined().unwrap();
        assert_eq!(q.len(), 1);
        assert!(
            q[0].reason.contains("no device may write as another"),
            "{}",
            q[0].reason
        );
        assert_eq!(q[0].pushed_by.as_deref(), Some("Evil phone"));
    }
    assert_eq!(b.exports(), victim.exports());
    assert_eq!(late.exports(), victim.exports());
}

#[test]
fn a_wiped_file_is_restored_from_history_on_every_device() {
    let relay = TestRelay::start();
    let (_, invite) = relay.team(4);
    let mut lead = Device::joined(&relay.url, &invite, "Lead's phone");
    let mut a = Device::joined(&relay.url, &invite, "Sam's phone");
    let mut evil = Evil::joined(&relay.url, &invite);
    let p = a.person("Chen Wei");
    let c1 = a.converse(&p, "the heating broke", &["come to the meeting"]);
    let c2 = a.converse(&p, "landlord ignores letters", &[]);
    a.sync();
    evil.device.sync();
    // A legal change: delete every conversation and commitment, and rename the person.
    let wipe = evil.change(&p, |d| {
        for list in ["conversations", "commitments"] {
            let m = map(d, list);
            let keys: Vec<String> = d.keys(&m).collect();
            for k in keys {
                d.delete(&m, k.as_str()).unwrap();
            }
        }
        let person = map(d, "person");
        d.put(&person, "name", "nobody").unwrap();
    });
    evil.push(vec![wipe]);
    lead.sync();
    a.sync();
    assert!(lead.store.person(&p).unwrap().conversations.is_empty());

    // The history shows who did it, when, and what.
    let history = lead.store.history(&p).unwrap();
    let culprit = history
        .iter()
        .find(|h| h.device.as_deref() == Some("Evil phone"))
        .expect("the wipe is in the history");
    let deleted: BTreeSet<String> = culprit
        .edits
        .iter()
        .filter(|e| e.action == "deleted")
        .filter_map(|e| e.id.clone())
        .collect();
    assert!(
        deleted.contains(&c1) && deleted.contains(&c2),
        "{culprit:?}"
    );
    assert!(
        history
            .iter()
            .any(|h| h.device.as_deref() == Some("Sam's phone")),
        "the honest changes are named too"
    );
    // One conversation first (through the command line), then the whole file.
    let dir = lead.store.dir().to_path_buf();
    let out = super::ok(
        &dir,
        &[
            "person",
            "restore",
            &p,
            "--before",
            &culprit.change,
            "--conversation",
            &c1,
        ],
    );
    assert!(out.contains("\"restored\": true"), "{out}");
    lead.store = groundwork::store::Store::open(&dir).unwrap();
    assert_eq!(lead.store.person(&p).unwrap().conversations.len(), 1);
    assert!(
        lead.store
            .restore(&p, &culprit.change, &RestoreTarget::File)
            .unwrap()
    );
    // Restoring again changes nothing.
    assert!(
        !lead
            .store
            .restore(&p, &culprit.change, &RestoreTarget::File)
            .unwrap()
    );
    lead.sync();
    a.sync();
    evil.device.sync();
    let late = {
        let mut d = Device::joined(&relay.url, &invite, "Late phone");
        d.sync();
        d
    };
    for d in [&lead, &a, &evil.device, &late] {
        let file = d.store.person(&p).unwrap();
        assert_eq!(file.person.name, "Chen Wei");
        assert_eq!(file.conversations.len(), 2);
        assert_eq!(file.commitments.len(), 1);
        assert_eq!(
            file.conversations[0].story.as_deref(),
            Some("the heating broke")
        );
    }
    assert_eq!(a.exports(), lead.exports());
    // A change that is not in the file is a clear error.
    let err = lead
        .store
        .restore(&p, &"0".repeat(64), &RestoreTarget::File)
        .unwrap_err();
    assert!(err.to_string().contains("person history"), "{err}");
}

#[test]
fn changes_waiting_for_lost_dependencies_are_repaired() {
    let relay = TestRelay::start();
    let (_, invite) = relay.team(3);
    let mut a = Device::joined(&relay.url, &invite, "Sam's phone");
    a.sync();
    let mut devices: Vec<Device> = (0..2)
        .map(|i| {
            let mut d = Device::joined(&relay.url, &invite, &format!("phone {i}"));
            // Its signing key goes out, and it takes in Sam's.
            d.sync();
            d
        })
        .collect();
    let p = a.person("Kofi Boateng");
    a.sync();
    // Two devices that skipped the person's first change, as an older version could after a
    // refused page: their cursors start past it.
    let past = a.store.sync_state().unwrap().cursor;
    for d in &devices {
        d.store
            .connection()
            .execute(
                "UPDATE sync_state SET cursor = ?1 WHERE id = 1",
                [past as i64],
            )
            .unwrap();
    }
    a.converse(&p, "wants a union rep", &[]);
    a.sync();
    for d in devices.iter_mut() {
        let r = d.sync();
        assert_eq!(r.waiting, 1, "the conversation waits for the person");
        assert!(d.store.person(&p).is_err());
    }
    let dir = devices[0].store.dir().to_path_buf();
    let status: serde_json::Value = serde_json::from_str(&super::ok(&dir, &["status"])).unwrap();
    assert_eq!(status["waiting_changes"], 1);
    assert_eq!(status["waiting_documents"][0], p.as_str());

    // Asked for by hand...
    let out: serde_json::Value =
        serde_json::from_str(&super::ok(&dir, &["sync", "--repair"])).unwrap();
    assert_eq!(out["repaired"], 1);
    assert_eq!(out["waiting"], 0);
    let store = groundwork::store::Store::open(&dir).unwrap();
    assert_eq!(store.person(&p).unwrap().conversations.len(), 1);
    // ... and by itself on the next sync, when the changes keep waiting.
    let r = devices[1].sync();
    assert_eq!((r.repaired, r.waiting), (1, 0));
    assert_eq!(devices[1].exports(), a.exports());
    // A whole re-pull is harmless.
    let r = sync::repair(
        &mut devices[1].store,
        &transport(),
        Repair::Everything,
        Budget::default(),
    )
    .unwrap();
    assert_eq!(r.rejected, 0);
    assert_eq!(devices[1].exports(), a.exports());
}

/// What a malicious member does in the property test.
#[derive(Debug, Clone)]
enum Attack {
    Garbage,
    Break(usize, usize),
    Forge(usize, usize),
}

#[derive(Debug, Clone)]
enum Step {
    Add(usize),
    Converse(usize, usize),
    Rename(usize, usize, u8),
    Sync(usize),
    Attack(Attack),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        2 => (0..3usize).prop_map(Step::Add),
        2 => (0..3usize, any::<usize>()).prop_map(|(d, p)| Step::Converse(d, p)),
        1 => (0..3usize, any::<usize>(), any::<u8>()).prop_map(|(d, p, n)| Step::Rename(d, p, n)),
        3 => (0..3usize).prop_map(Step::Sync),
        1 => Just(Step::Attack(Attack::Garbage)),
        3 => (any::<usize>(), any::<usize>()).prop_map(|(p, k)| Step::Attack(Attack::Break(p, k))),
        3 => (any::<usize>(), 0..3usize).prop_map(|(p, d)| Step::Attack(Attack::Forge(p, d))),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn honest_devices_converge_on_all_honest_work_despite_a_malicious_one(
        steps in prop::collection::vec(step(), 1..30)
    ) {
        let relay = TestRelay::start();
        let (_, invite) = relay.team(4);
        let mut honest: Vec<Device> = (0..3)
            .map(|i| Device::joined(&relay.url, &invite, &format!("honest {i}")))
            .collect();
        let mut evil = Evil::joined(&relay.url, &invite);
        let mut people: BTreeSet<String> = BTreeSet::new();
        let mut conversations: BTreeSet<String> = BTreeSet::new();
        let mut n = 0;
        for s in steps {
            match s {
                Step::Add(d) => {
                    n += 1;
                    people.insert(honest[d].person(&format!("P{n}")));
                }
                Step::Converse(d, p) => {
                    let list = honest[d].store.all_people().unwrap();
                    if let Some(p) = list.get(p % list.len().max(1)) {
                        conversations.insert(honest[d].converse(&p.id, "said", &["ask"]));
                    }
                }
                Step::Rename(d, p, name) => {
                    let list = honest[d].store.all_people().unwrap();
                    if let Some(p) = list.get(p % list.len().max(1)) {
                        honest[d].store.edit_person(&p.id, groundwork::model::PersonPatch::new().put(PersonField::Name, format!("R{name}"))).unwrap();
                    }
                }
                Step::Sync(d) => { honest[d].sync(); }
                Step::Attack(attack) => {
                    evil.device.sync();
                    let known = evil.device.store.all_people().unwrap();
                    let Some(target) = known.first().map(|p| p.id.clone()) else {
                        evil.push(vec![(uuid_like(n), b"garbage".to_vec())]);
                        continue;
                    };
                    let item = match attack {
                        Attack::Garbage => (target, vec![0x85, 0x6f, 0x4a, 0x83, 1, 2, 3]),
                        Attack::Break(p, k) => {
                            let doc = known[p % known.len()].id.clone();
                            let other = known[(p + 1) % known.len()].id.clone();
                            let mut all = bad_changes(&evil, &doc, &other);
                            all.remove(k % all.len())
                        }
                        Attack::Forge(p, d) => {
                            let doc = known[p % known.len()].id.clone();
                            let victim = honest[d].store.actor_bytes();
                            evil.change_as(&doc, &victim, |doc| {
                                let person = map(doc, "person");
                                doc.put(&person, "name", "forged").unwrap();
                            })
                        }
                    };
                    evil.push(vec![item]);
                }
            }
        }
        for _ in 0..2 {
            for d in honest.iter_mut() {
                d.sync();
            }
        }
        let expected = honest[0].exports();
        for d in &honest[1..] {
            prop_assert_eq!(d.exports(), expected.clone());
        }
        for d in &honest {
            let have: BTreeSet<String> = d.store.all_people().unwrap().into_iter().map(|p| p.id).collect();
            prop_assert!(people.is_subset(&have));
            let said: BTreeSet<String> = d.store.all_conversations().unwrap().into_iter().map(|c| c.id).collect();
            prop_assert!(conversations.is_subset(&said));
            prop_assert!(d.store.all_people().unwrap().iter().all(|p| p.name != "forged"));
            prop_assert_eq!(d.store.pending_changes().unwrap(), 0);
            prop_assert!(d.store.waiting_docs().unwrap().is_empty());
        }
    }
}

fn uuid_like(n: usize) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

#[test]
fn a_notebook_from_before_these_checks_opens_and_syncs() {
    let relay = TestRelay::start();
    // A team from before end-to-end encryption too: its devices sync in the clear.
    let (_, invite) = relay.clear_team(2);
    let mut a = Device::joined(&relay.url, &invite, "Sam's phone");
    assert!(!a.store.sealed().unwrap());
    let p = a.person("Written before the upgrade");
    // Take the notebook back to schema 2 (no quarantine, waiting, writers, repairs or erased
    // tables, no languages, target or role columns, no filter indexes, no walk lists).
    a.store
        .connection()
        .execute_batch(
            "DROP TABLE quarantine; DROP TABLE waiting; DROP TABLE writers; DROP TABLE repairs;
             ALTER TABLE people DROP COLUMN languages; ALTER TABLE commitments DROP COLUMN target;
             DROP INDEX people_by_area; DROP INDEX conversations_latest;
             DROP TABLE erased; ALTER TABLE sync_state DROP COLUMN role;
             ALTER TABLE sync_state DROP COLUMN erasures_applied;
             ALTER TABLE sync_state DROP COLUMN erasures_confirmed;
             DROP TABLE team_keys; DROP TABLE device_key; DROP TABLE members;
             DROP TABLE awaiting_key;
             ALTER TABLE sync_state DROP COLUMN sealed;
             DROP TABLE push_records; DROP TABLE push_attested; DROP TABLE received_blobs;
             DROP TABLE blobs_expected; DROP TABLE listed_by; DROP TABLE push_record_ids;
             DROP TABLE cutoff_records;
             DROP TABLE walklists; DROP TABLE doors; DROP TABLE door_visits;
             ALTER TABLE shifts DROP COLUMN walklist_id;
             DROP TABLE doc_blobs; DROP TABLE snapshots_out;
             ALTER TABLE sync_state DROP COLUMN anchor; DROP TABLE refused_erasures;
             DROP TABLE revoked_unknown; DROP TABLE doc_keys; DROP TABLE search_stale;
             CREATE INDEX conversations_by_person ON conversations (person_id, at);
             PRAGMA user_version = 2;",
        )
        .unwrap();
    let dir = a.store.dir().to_path_buf();
    a.store = groundwork::store::Store::open(&dir).unwrap();
    assert_eq!(a.sync().pushed, 1);
    let mut b = Device::joined(&relay.url, &invite, "Joy's phone");
    b.sync();
    assert_eq!(
        b.store.person(&p).unwrap().person.name,
        "Written before the upgrade"
    );
    assert!(a.store.quarantined().unwrap().is_empty());
}

/// A notebook written by the previous release (commit 63332c5, schema 3), kept as it was: a
/// person, a campaign with the target "letters signed", a shift, a breakfast meeting and three
/// commitments, one of them "Letters signed" for the campaign.
const PREVIOUS_RELEASE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/notebook-schema-3/groundwork.sqlite3"
);

#[test]
fn a_notebook_written_by_the_previous_release_opens_syncs_and_takes_the_new_fields() {
    use groundwork::model::{CommitmentField, CommitmentPatch};
    use groundwork::report::CountedBy;
    let dir = tempfile::tempdir().unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    std::fs::copy(PREVIOUS_RELEASE, dir.path().join("groundwork.sqlite3")).unwrap();
    let mut a = groundwork::store::Store::open(dir.path()).unwrap();
    let people = a.all_people().unwrap();
    assert_eq!(people.len(), 1);
    let p = people[0].id.clone();
    let file = a.person(&p).unwrap();
    assert_eq!(file.person.name, "Marta Nowak");
    assert!(file.person.languages.is_empty());
    assert_eq!(file.conversations.len(), 1);
    assert_eq!(file.commitments.len(), 3);
    assert!(file.commitments.iter().all(|c| c.target.is_none()));
    // The commitment whose words are the target's label keeps counting.
    let campaign = a.campaigns().unwrap()[0].id.clone();
    let report = groundwork::report::campaign_report(&a, &campaign).unwrap();
    assert_eq!(report.targets[0].made, 1);
    assert_eq!(report.targets[0].commitments[0].why, CountedBy::SameWords);
    // It joins a team and sends everything it holds; a new device gets all of it.
    let relay = TestRelay::start();
    let (_, invite) = relay.team(2);
    sync::join(
        &mut a,
        &super::sync::transport(),
        &relay.url,
        &invite,
        "Sam's phone",
    )
    .unwrap();
    let pending = a.pending_changes().unwrap();
    assert!(pending >= 6, "{pending} changes waiting");
    let sent = sync::sync_once(&mut a, &super::sync::transport(), Budget::default()).unwrap();
    assert_eq!(sent.pushed as u64, pending);
    let mut b = Device::joined(&relay.url, &invite, "Joy's phone");
    b.sync();
    assert_eq!(b.store.person(&p).unwrap(), a.person(&p).unwrap());
    // What only this version knows travels back to the upgraded notebook.
    let ask = file
        .commitments
        .iter()
        .find(|c| c.what == "bring two colleagues")
        .unwrap();
    b.store
        .edit_person(
            &p,
            PersonPatch::new().add(PersonField::Languages, ["Polish"]),
        )
        .unwrap();
    b.store
        .edit_commitment(
            &ask.id,
            CommitmentPatch::new().put(CommitmentField::Target, "letters signed"),
        )
        .unwrap();
    b.sync();
    sync::sync_once(&mut a, &super::sync::transport(), Budget::default()).unwrap();
    let file = a.person(&p).unwrap();
    assert_eq!(file.person.languages, vec!["polish"]);
    let report = groundwork::report::campaign_report(&a, &campaign).unwrap();
    assert_eq!(report.targets[0].made, 2, "one by its words, one chosen");
    assert!(a.quarantined().unwrap().is_empty());
}

#[test]
fn the_app_sync_worker_counts_refused_and_waiting_changes_and_repairs_when_asked() {
    use groundwork::store::{Incoming, Pusher};
    use groundwork::sync::Status;
    use groundwork::sync::worker::{Timing, Worker};
    use std::sync::mpsc;

    let relay = TestRelay::start();
    let (_, invite) = relay.team(3);
    let mut a = Device::joined(&relay.url, &invite, "Sam's phone");
    a.sync();
    let mut d = Device::joined(&relay.url, &invite, "phone 0");
    d.sync();
    let p = a.person("Kofi Boateng");
    a.sync();
    // A device that skipped the person's first change: the conversation will wait for it.
    let past = a.store.sync_state().unwrap().cursor;
    d.store
        .connection()
        .execute(
            "UPDATE sync_state SET cursor = ?1 WHERE id = 1",
            [past as i64],
        )
        .unwrap();
    a.converse(&p, "wants a union rep", &[]);
    a.sync();
    assert_eq!(d.sync().waiting, 1);
    let pusher = Pusher {
        actor: vec![9; 16],
        name: "Evil phone".into(),
    };
    d.store
        .batch(|w| {
            w.take_in(&[Incoming {
                doc_id: &p,
                blob: b"not a change",
                pusher: Some(&pusher),
                snapshot: false,
            }])
        })
        .unwrap();
    // Asked for just now: syncs leave the document alone for an hour; a repair asks again.
    d.store.mark_repaired(&p).unwrap();

    let (tx, rx) = mpsc::channel::<Status>();
    let timing = Timing {
        debounce: Duration::from_millis(100),
        period: Duration::from_secs(3600),
    };
    let worker = Worker::spawn(d.store.dir().to_path_buf(), timing, move |s| {
        let _ = tx.send(s.clone());
    })
    .unwrap();
    let wait_for = |pred: &dyn Fn(&Status) -> bool| {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while std::time::Instant::now() < deadline {
            if let Ok(s) = rx.recv_timeout(Duration::from_millis(200))
                && pred(&s)
            {
                return s;
            }
        }
        panic!("status never came");
    };
    // The sync at start, then "sync now": the counts, and the change still waits.
    wait_for(&|s| s.syncing);
    let s = wait_for(&|s| !s.syncing);
    assert_eq!((s.quarantined, s.waiting), (1, 1), "{s:?}");
    worker.sync_now();
    wait_for(&|s| s.syncing);
    let s = wait_for(&|s| !s.syncing);
    assert_eq!(
        (s.quarantined, s.waiting, s.last_error.as_deref()),
        (1, 1, None)
    );
    // A repair brings what it waited for.
    worker.repair();
    wait_for(&|s| s.syncing);
    let s = wait_for(&|s| !s.syncing);
    assert_eq!(
        (s.quarantined, s.waiting, s.last_error.as_deref()),
        (1, 0, None)
    );
    assert_eq!(d.store.person(&p).unwrap().conversations.len(), 1);
}

/// A member deletes a door of a list while a canvasser, offline, marks it: each change was
/// sound as its writer saw the list, and the list they made together held a visit to no door.
/// Read as damage, that list stopped every later sync of every device (the projection failed
/// inside the page's transaction, whichever came first). No device deletes doors or visits, so
/// a change that does is refused wherever it arrives, and the canvasser's visit is kept.
#[test]
fn a_door_deleted_while_it_was_marked_offline_does_not_stop_the_sync() {
    use groundwork::model::Outcome;
    use groundwork::store::walklists::Mark;
    let relay = TestRelay::start();
    let (_, invite) = relay.team(4);
    let mut lead = Device::joined(&relay.url, &invite, "Lead's laptop");
    let mut canvasser = Device::joined(&relay.url, &invite, "Canvasser's phone");
    let mut evil = Evil::joined(&relay.url, &invite);
    let rows = groundwork::walk::import::read(
        "Elector No,Name,House No,Street,Postcode\nE1,Ann Ray,1,Elm Road,LS1 2AB\nE2,Bo Li,2,Elm Road,LS1 2AB\n"
            .as_bytes(),
        &[],
    )
    .unwrap();
    let list = lead
        .store
        .import_walklist("Elm Road", None, &rows)
        .unwrap()
        .id;
    lead.sync();
    canvasser.sync();
    evil.device.sync();
    let door = lead.store.walklist(&list).unwrap().doors[0].door.id.clone();
    let answered = Mark {
        outcome: Outcome::Answered,
        note: None,
        at: None,
        come_back_at: None,
    };
    // Offline, the canvasser marks the door; meanwhile the member deletes it.
    canvasser
        .store
        .mark_doors_on(&list, std::slice::from_ref(&door), &answered)
        .unwrap();
    let deletion = evil.change(&list, |d| {
        let doors = map(d, "doors");
        d.delete(&doors, door.as_str()).unwrap();
    });
    evil.push(vec![deletion]);
    lead.sync();
    canvasser.sync();
    lead.sync();
    let mut late = Device::joined(&relay.url, &invite, "Late phone");
    late.sync();
    for d in [&lead, &canvasser, &late] {
        let visits = d.store.door_visits().unwrap();
        assert_eq!(visits.len(), 1, "the visit is kept");
        assert_eq!(visits[0].door_id, door);
        assert_eq!(d.store.walklist(&list).unwrap().doors.len(), 2);
        let q = d.store.quarantined().unwrap();
        assert_eq!(q.len(), 1, "{q:?}");
        assert!(q[0].reason.contains("deletes door"), "{q:?}");
    }
    assert_eq!(late.exports(), lead.exports());
    // A visit to a door the list never had is refused too (reports count visits).
    evil.device.sync();
    let invented = evil.change(&list, |d| {
        let visits = map(d, "visits");
        let v = d
            .put_object(
                &visits,
                "01a245ab-0000-7000-8000-000000000001",
                ObjType::Map,
            )
            .unwrap();
        for (k, value) in [
            ("door_id", "01a245ab-0000-7000-8000-00000000dead"),
            ("outcome", "answered"),
            ("at", "2026-12-05T10:00:00.000Z"),
            ("canvasser", "Nobody"),
        ] {
            d.put(&v, k, value).unwrap();
        }
    });
    evil.push(vec![invented]);
    late.sync();
    assert_eq!(late.store.door_visits().unwrap().len(), 1);
    let q = late.store.quarantined().unwrap();
    assert_eq!(q.len(), 2, "{q:?}");
    assert!(
        q.iter()
            .any(|x| x.reason.contains("which the list does not have")),
        "{q:?}"
    );
}

/// `change` (raw bytes) with its number among its writer's changes set to `seq`.
fn renumbered(change: &[u8], seq: u64) -> Vec<u8> {
    let mut expanded = automerge::Change::from_bytes(change.to_vec())
        .unwrap()
        .decode();
    expanded.seq = seq;
    expanded.hash = None;
    automerge::Change::from(expanded).raw_bytes().to_vec()
}

/// Automerge 0.12 panics applying a change numbered past its writer's next (a member's first
/// change to a file numbered 2): the panic inside the sync stopped it on every retry, on every
/// device. Now it is refused and listed, and the sync goes on; so is a second change under a
/// number already held (a member forking its own history), which Automerge refused with an
/// error of its own.
#[test]
fn changes_numbered_out_of_their_writers_turn_are_refused_and_the_sync_goes_on() {
    let relay = TestRelay::start();
    let (_, invite) = relay.team(3);
    let mut honest = Device::joined(&relay.url, &invite, "Honest phone");
    let mut evil = Evil::joined(&relay.url, &invite);
    let a = honest.person("Amina Yusuf");
    let b = honest.person("Bola Ade");
    honest.sync();
    evil.device.sync();
    let mut late = Device::joined(&relay.url, &invite, "Late phone");
    late.sync();

    // A first change to A numbered 2.
    let (_, first) = evil.change(&a, |d| {
        let person = map(d, "person");
        d.put(&person, "notes", "skipped ahead").unwrap();
    });
    let skipped = renumbered(&first, 2);
    // Two different first changes to B by the same writer: the second forks its history.
    let (_, one) = evil.change(&b, |d| {
        let person = map(d, "person");
        d.put(&person, "notes", "one").unwrap();
    });
    let (_, other) = evil.change(&b, |d| {
        let person = map(d, "person");
        d.put(&person, "notes", "the other").unwrap();
    });
    evil.push(vec![(a.clone(), skipped)]);
    evil.push(vec![(b.clone(), one)]);
    evil.push(vec![(b.clone(), other)]);
    honest.converse(&a, "the heating is broken", &[]);
    honest.sync();
    for d in [&mut honest, &mut late] {
        d.sync();
        d.sync();
        let q = d.store.quarantined().unwrap();
        assert_eq!(q.len(), 2, "{q:?}");
        assert!(q.iter().all(|x| x.reason.contains("numbered")), "{q:?}");
        assert_eq!(d.store.person(&a).unwrap().conversations.len(), 1);
        assert_eq!(d.store.person(&a).unwrap().person.notes, None);
        // One of B's two is taken in (the one served first), never both.
        let notes = d.store.person(&b).unwrap().person.notes;
        assert!(
            matches!(notes.as_deref(), Some("one") | Some("the other")),
            "{notes:?}"
        );
    }
}

/// Copy the object `from` of `src` into `dst` under `key` of map `to` (maps, lists, text and
/// scalars).
fn copy_into(
    src: &AutoCommit,
    from: &automerge::ObjId,
    dst: &mut AutoCommit,
    to: &automerge::ObjId,
    key: &str,
) {
    let kind = src.object_type(from).unwrap();
    let made = dst.put_object(to, key, kind).unwrap();
    copy_fields(src, from, dst, &made);
}

fn copy_fields(
    src: &AutoCommit,
    from: &automerge::ObjId,
    dst: &mut AutoCommit,
    to: &automerge::ObjId,
) {
    match src.object_type(from).unwrap() {
        ObjType::Map | ObjType::Table => {
            for k in src.keys(from).collect::<Vec<_>>() {
                match src.get(from, &k).unwrap().unwrap() {
                    (automerge::Value::Object(_), id) => copy_into(src, &id, dst, to, &k),
                    (automerge::Value::Scalar(v), _) => dst.put(to, &k, v.into_owned()).unwrap(),
                }
            }
        }
        ObjType::List => {
            for i in 0..src.length(from) {
                match src.get(from, i).unwrap().unwrap() {
                    (automerge::Value::Object(kind), id) => {
                        let made = dst.insert_object(to, i, kind).unwrap();
                        copy_fields(src, &id, dst, &made);
                    }
                    (automerge::Value::Scalar(v), _) => dst.insert(to, i, v.into_owned()).unwrap(),
                }
            }
        }
        ObjType::Text => {
            let text = src.text(from).unwrap();
            dst.splice_text(to, 0, 0, &text).unwrap();
        }
    }
}

/// A team of `uses` devices: an honest one with people A (a conversation and a commitment)
/// and B, and a member's change that copies A's two records into B under the same ids.
struct Copied {
    relay: TestRelay,
    invite: String,
    honest: Device,
    evil: Evil,
    a: String,
    b: String,
    conversation: String,
    commitment: String,
    copy: (String, Vec<u8>),
}

fn copied_records(uses: u32) -> Copied {
    let relay = TestRelay::start();
    let (_, invite) = relay.team(uses);
    let mut honest = Device::joined(&relay.url, &invite, "Honest phone");
    let mut evil = Evil::joined(&relay.url, &invite);
    let a = honest.person("Amina Yusuf");
    let b = honest.person("Bola Ade");
    honest.converse(&a, "the heating is broken", &["come to the meeting"]);
    honest.sync();
    evil.device.sync();
    let a_file = honest.store.person(&a).unwrap();
    let conversation = a_file.conversations[0].id.clone();
    let commitment = a_file.commitments[0].id.clone();
    let a_doc = evil.doc_as(&a, &evil.device.store.actor_bytes());
    let copy = evil.change(&b, |d| {
        for (list, id) in [
            ("conversations", &conversation),
            ("commitments", &commitment),
        ] {
            let from_list = map(&a_doc, list);
            let (_, from) = a_doc.get(&from_list, id.as_str()).unwrap().unwrap();
            let to_list = map(d, list);
            copy_into(&a_doc, &from, d, &to_list, id);
        }
    });
    Copied {
        relay,
        invite,
        honest,
        evil,
        a,
        b,
        conversation,
        commitment,
        copy,
    }
}

/// A member writes into person B a copy of A's conversation and commitment, under the same
/// ids, then deletes the copies. A's rows were moved to B by the copy (lists, follow-ups and
/// reports lost them from A) and deleted with it; now neither happens, on any device.
#[test]
fn a_record_copied_into_another_person_under_the_same_id_does_not_move_or_delete_the_original() {
    let Copied {
        relay,
        invite,
        mut honest,
        evil,
        a,
        b,
        conversation,
        commitment,
        copy,
    } = copied_records(4);
    evil.push(vec![copy]);
    let mut late = Device::joined(&relay.url, &invite, "Late phone");
    for d in [&mut honest, &mut late] {
        d.sync();
        let rows: Vec<(String, String)> = d
            .store
            .connection()
            .prepare("SELECT id, person_id FROM conversations UNION ALL SELECT id, person_id FROM commitments")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        assert!(
            rows.contains(&(conversation.clone(), a.clone())),
            "{rows:?}"
        );
        assert!(rows.contains(&(commitment.clone(), a.clone())), "{rows:?}");
    }
    // The copies deleted again: A's rows stay.
    let gone = evil.change(&b, |d| {
        for (list, id) in [
            ("conversations", &conversation),
            ("commitments", &commitment),
        ] {
            let to_list = map(d, list);
            d.delete(&to_list, id.as_str()).unwrap();
        }
    });
    evil.push(vec![gone]);
    for d in [&mut honest, &mut late] {
        d.sync();
        let file = d.store.person(&a).unwrap();
        assert_eq!(file.conversations.len(), 1);
        let rows: i64 = d
            .store
            .connection()
            .query_row(
                "SELECT (SELECT count(*) FROM conversations WHERE id = ?1 AND person_id = ?3)
                      + (SELECT count(*) FROM commitments WHERE id = ?2 AND person_id = ?3)",
                [&conversation, &commitment, &a],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(rows, 2, "A's rows are still there");
    }
}

/// Every change of `doc_id` as `d` holds it, oldest first.
fn changes_of(d: &Device, doc_id: &str) -> Vec<Vec<u8>> {
    let mut doc = AutoCommit::load(&d.store.document_bytes(doc_id).unwrap().unwrap()).unwrap();
    doc.get_changes(&[])
        .into_iter()
        .map(|c| c.raw_bytes().to_vec())
        .collect()
}

/// The copy taken in before the original: a hostile relay can serve B's copy before A's own
/// changes (or a device repairing A asks for them again later). Keyed by id alone, A's records
/// then had no rows on that device: missing from A's file, lists, follow-ups and reports. Keyed
/// by person and id, both files have theirs; an edit by id alone is refused as ambiguous, and
/// one naming A's file reaches A's record only.
#[test]
fn a_record_copied_into_another_person_and_taken_in_first_does_not_hide_the_original() {
    let Copied {
        relay: _relay,
        honest,
        a,
        b,
        commitment,
        copy: (_, copy),
        ..
    } = copied_records(3);

    // A device given B (with the copy) first, then A.
    let dir = tempfile::tempdir().unwrap();
    let mut late = groundwork::store::Store::open(dir.path()).unwrap();
    let mut b_changes = changes_of(&honest, &b);
    b_changes.push(copy);
    late.apply_remote(&b, &b_changes).unwrap();
    late.apply_remote(&a, &changes_of(&honest, &a)).unwrap();
    let file = late.person(&a).unwrap();
    assert_eq!(file.conversations.len(), 1, "{file:?}");
    assert_eq!(file.commitments.len(), 1, "{file:?}");
    assert_eq!(late.person(&b).unwrap().commitments.len(), 1);
    // By id alone, which file is meant cannot be told: refused, saying which files hold it
    // (cancelling the bogus copy must not cancel the original, nor the other way round).
    use groundwork::model::CommitmentStatus;
    let err = late
        .set_commitment_status(&commitment, CommitmentStatus::Cancelled)
        .unwrap_err();
    assert!(
        matches!(&err, groundwork::error::Error::Ambiguous { owners, .. }
            if owners.contains(&a) && owners.contains(&b)),
        "{err}"
    );
    assert!(err.to_string().contains("--person"), "{err}");
    assert!(late.commitment(&commitment).is_err());
    // Named by its person (as the app does, from the file on screen): that file's only.
    late.set_commitment_status_of(&b, &commitment, CommitmentStatus::Cancelled)
        .unwrap();
    late.set_commitment_status_of(&a, &commitment, CommitmentStatus::Kept)
        .unwrap();
    assert_eq!(
        late.person(&a).unwrap().commitments[0].status,
        CommitmentStatus::Kept
    );
    assert_eq!(
        late.person(&b).unwrap().commitments[0].status,
        CommitmentStatus::Cancelled
    );
    assert_eq!(
        late.commitment_of(&commitment, Some(&a)).unwrap().status,
        CommitmentStatus::Kept
    );
}

/// A member's copy of an earlier conversation of A's into B, moved into A's later shift, does
/// not change what the reports say of A: keyed by id alone, the copy in the later shift's
/// report made A's earlier conversation part of that report (A counted new, their engagement
/// not compared, the earlier conversation's commitment counted as made in that shift), and in
/// the campaign's trend it moved that commitment to the later shift.
#[test]
fn a_conversation_copied_into_another_person_does_not_change_the_reports_of_the_original() {
    use groundwork::model::{ConversationKind, NewCampaign, NewCommitment, NewConversation};
    use groundwork::report::{self, Scope};
    let relay = TestRelay::start();
    let (_, invite) = relay.team(3);
    let mut honest = Device::joined(&relay.url, &invite, "Honest phone");
    let mut evil = Evil::joined(&relay.url, &invite);
    let campaign = honest
        .store
        .add_campaign(NewCampaign {
            name: "Living wage".into(),
            issue: None,
            targets: [("sign the letter".to_string(), 2)].into(),
        })
        .unwrap();
    let first = honest
        .store
        .start_shift("Canteen", Some(&campaign), Some("Sam"))
        .unwrap();
    honest.store.end_shift(Some(&first)).unwrap();
    let second = honest
        .store
        .start_shift("Depot", Some(&campaign), Some("Sam"))
        .unwrap();
    let a = honest.person("Amina Yusuf");
    let b = honest.person("Bola Ade");
    let talk = |shift: &str, day: &str, engagement: i64, asks: Vec<NewCommitment>| {
        (
            NewConversation {
                person_id: a.clone(),
                kind: ConversationKind::Doorstep,
                at: Some(
                    chrono::DateTime::parse_from_rfc3339(day)
                        .unwrap()
                        .with_timezone(&chrono::Utc),
                ),
                canvasser: Some("Sam".into()),
                shift_id: Some(shift.to_string()),
                issues: vec!["pay".into()],
                story: None,
                notes: None,
                engagement: engagement.try_into().ok(),
                follow_up: None,
            },
            asks,
        )
    };
    let sign = NewCommitment {
        what: "sign the letter".into(),
        due: None,
        campaign_id: Some(campaign.clone()),
        target: None,
    };
    let (c, asks) = talk(&first, "2026-03-01T09:00:00Z", 2, vec![sign]);
    let earlier = honest.store.record_conversation(c, asks).unwrap().0;
    let (c, asks) = talk(&second, "2026-03-08T09:00:00Z", 4, vec![]);
    honest.store.record_conversation(c, asks).unwrap();
    honest.sync();
    evil.device.sync();

    let reports = |d: &Device| {
        let day = chrono::NaiveDate::from_ymd_opt(2026, 3, 9).unwrap();
        let shift = report::shift_report(&d.store, &Scope::Shift(second.clone()), day, None)
            .unwrap()
            .team;
        let trend = report::campaign_report(&d.store, &campaign).unwrap().trend;
        let made: Vec<(String, usize)> = trend.into_iter().map(|p| (p.shift_id, p.made)).collect();
        (
            (shift.new_people, shift.returning_people),
            (shift.engagement.people, shift.engagement.rose),
            shift.commitments_made,
            made,
        )
    };
    let before = reports(&honest);
    assert_eq!(
        before,
        (
            (0, 1),
            (1, 1),
            0,
            vec![(first.clone(), 1), (second.clone(), 0)]
        )
    );

    // The copy: A's earlier conversation in B's file, under its id, in the later shift.
    let a_doc = evil.doc_as(&a, &evil.device.store.actor_bytes());
    let copy = evil.change(&b, |d| {
        let from_list = map(&a_doc, "conversations");
        let (_, from) = a_doc.get(&from_list, earlier.as_str()).unwrap().unwrap();
        let to_list = map(d, "conversations");
        copy_into(&a_doc, &from, d, &to_list, &earlier);
        let (_, made) = d.get(&to_list, earlier.as_str()).unwrap().unwrap();
        d.put(&made, "shift_id", second.as_str()).unwrap();
    });
    evil.push(vec![copy]);
    honest.sync();
    assert_eq!(honest.store.person(&b).unwrap().conversations.len(), 1);
    // B is in the later shift's report now (met there, new), as B's file says; A is as before.
    let ((new, returning), engagement, made, trend) = reports(&honest);
    assert_eq!(
        ((new, returning), engagement, made, trend),
        ((1, 1), before.1, before.2, before.3.clone())
    );
}

/// The same for a walk list: a member copies a door of list A into a list of its own under the
/// same id. Both lists keep their door; a mark by the door's id alone is refused as ambiguous
/// (a do-not-knock on the copy must not reach the original), and a mark naming its list lands
/// on that list only.
#[test]
fn a_door_copied_into_another_list_is_marked_only_where_the_canvasser_meant() {
    use groundwork::model::Outcome;
    use groundwork::store::walklists::Mark;
    let relay = TestRelay::start();
    let (_, invite) = relay.team(3);
    let mut honest = Device::joined(&relay.url, &invite, "Honest phone");
    let mut evil = Evil::joined(&relay.url, &invite);
    let csv = |street: &str| {
        groundwork::walk::import::read(
            format!("Elector No,Name,House No,Street,Postcode\nE1,Ann Ray,1,{street},LS1 2AB\n")
                .as_bytes(),
            &[],
        )
        .unwrap()
    };
    let a = honest
        .store
        .import_walklist("Elm Road", None, &csv("Elm Road"))
        .unwrap()
        .id;
    honest.sync();
    let b = evil
        .device
        .store
        .import_walklist("Oak Road", None, &csv("Oak Road"))
        .unwrap()
        .id;
    evil.device.sync();
    let door = honest.store.walklist(&a).unwrap().doors[0].door.id.clone();
    let a_doc = evil.doc_as(&a, &evil.device.store.actor_bytes());
    let (_, copy) = evil.change(&b, |d| {
        let from_doors = map(&a_doc, "doors");
        let (_, from) = a_doc.get(&from_doors, door.as_str()).unwrap().unwrap();
        let to_doors = map(d, "doors");
        copy_into(&a_doc, &from, d, &to_doors, &door);
    });

    // A device given B (with the copy) first, then A.
    let dir = tempfile::tempdir().unwrap();
    let mut late = groundwork::store::Store::open(dir.path()).unwrap();
    let mut b_changes = changes_of(&evil.device, &b);
    b_changes.push(copy);
    late.apply_remote(&b, &b_changes).unwrap();
    late.apply_remote(&a, &changes_of(&honest, &a)).unwrap();
    for list in [&a, &b] {
        let view = late.walklist(list).unwrap();
        assert!(view.doors.iter().any(|d| d.door.id == door), "{list}");
    }
    let knock = Mark {
        outcome: Outcome::DoNotKnock,
        note: None,
        at: None,
        come_back_at: None,
    };
    let err = late
        .mark_doors(std::slice::from_ref(&door), &knock)
        .unwrap_err();
    assert!(
        matches!(&err, groundwork::error::Error::Ambiguous { owners, .. }
            if owners.contains(&a) && owners.contains(&b)),
        "{err}"
    );
    assert!(err.to_string().contains("--list"), "{err}");
    let visits = late
        .mark_doors_on(&b, std::slice::from_ref(&door), &knock)
        .unwrap();
    assert_eq!(visits.len(), 1);
    assert_eq!(visits[0].walklist_id, b);
    assert!(
        late.door_visits()
            .unwrap()
            .iter()
            .all(|v| v.walklist_id == b),
        "the original list got no mark"
    );
    // Knocked on both lists, the two doors count as two in the reports (by id alone, one).
    let answered = Mark {
        outcome: Outcome::Answered,
        ..knock
    };
    for list in [&a, &b] {
        late.mark_doors_on(list, std::slice::from_ref(&door), &answered)
            .unwrap();
    }
    let today = chrono::Utc::now().date_naive();
    let scope = groundwork::report::Scope::Dates {
        from: today - chrono::Duration::days(1),
        to: today + chrono::Duration::days(1),
    };
    let doors = groundwork::report::shift_report(&late, &scope, today, None)
        .unwrap()
        .team
        .doors;
    assert_eq!((doors.visits, doors.knocked, doors.answered), (3, 2, 2));
}

/// A member's schema-breaking changes, refused where each is judged (not where it is opened),
/// cannot grow a device's list of refusals past its bound; the honest work around them
/// arrives, and another device's refusal still takes a listing.
#[test]
fn judged_refusals_are_listed_up_to_a_bound_shared_between_pushers() {
    let relay = TestRelay::start();
    let (_, invite) = relay.team(5);
    let mut a = Device::joined(&relay.url, &invite, "Sam's phone");
    let mut evil = Evil::joined(&relay.url, &invite);
    let mut b = Device::joined(&relay.url, &invite, "Joy's phone");
    b.sync();
    b.store.set_max_refused(3).unwrap();
    let p = a.person("Pat");
    a.sync();
    evil.device.sync();
    let numbers: Vec<(String, Vec<u8>)> = (0..8_i64)
        .map(|i| {
            evil.change(&p, |d| {
                let person = map(d, "person");
                d.put(&person, "name", i).unwrap();
            })
        })
        .collect();
    evil.push(numbers);
    a.converse(&p, "a visit after the junk", &[]);
    a.sync();
    let report = b.sync();
    assert_eq!(report.rejected, 8, "{report:?}");
    let listed = |b: &Device| b.store.quarantined().unwrap();
    assert_eq!(listed(&b).len(), 3, "{:?}", listed(&b));
    assert!(
        listed(&b)
            .iter()
            .all(|q| q.pushed_by.as_deref() == Some("Evil phone"))
    );
    assert_eq!(b.store.person(&p).unwrap().conversations.len(), 1);
    assert_eq!(b.store.person(&p).unwrap().person.name, "Pat");

    // Sam's device pushes a change of its own that is refused too: it takes a listing.
    let mut sam = Evil {
        device: Device::joined(&relay.url, &invite, "Sam's other phone"),
    };
    sam.device.sync();
    sam.push(vec![sam.change(&p, |d| {
        d.put(ROOT, "type", "campaign").unwrap();
    })]);
    let report = b.sync();
    assert_eq!(report.rejected, 1, "{report:?}");
    let by: Vec<Option<String>> = listed(&b).into_iter().map(|q| q.pushed_by).collect();
    assert_eq!(by.len(), 3, "{by:?}");
    assert!(by.contains(&Some("Sam's other phone".into())), "{by:?}");
}
