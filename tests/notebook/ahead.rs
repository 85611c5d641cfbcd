//! Work done ahead on other cores decides nothing: a page of pulled blobs taken in whole (its
//! seals opened, signatures checked, snapshots loaded and the changes of documents new here
//! applied and judged ahead, a window at a time) ends
//! exactly as the same blobs taken in one at a time, honest and hostile ones alike, across a
//! key rotation that comes in the middle of the page; and so does the same page opened in
//! jobs for other workers (the phone's helpers), one of which never answers. And a first sync
//! whose pages are opened by helpers asks the relay for each page only from a cursor already
//! stored (the relay forgets, up to a device's `since`, what it kept for that device).

use std::cell::RefCell;

use groundwork::store::{Incoming, OutboxItem, elsewhere, worked_ahead};
use groundwork::sync::{self, team};

use super::sealed::forge_copy;
use super::sync::{Device, TestRelay, transport};

/// `evil` pushes a change of its own document `doc` that rewrites the document's id (sealed and
/// signed as any member can): it opens, and intake refuses it.
fn push_id_rewrite(evil: &Device, doc: &str) {
    use automerge::transaction::Transactable;
    let bytes = evil.store.document_bytes(doc).unwrap().unwrap();
    let mut d = automerge::AutoCommit::load(&bytes)
        .unwrap()
        .with_actor(automerge::ActorId::from(evil.store.actor_bytes()));
    d.put(
        automerge::ROOT,
        "id",
        "01a2407c-0000-7000-8000-000000000000",
    )
    .unwrap();
    d.commit();
    let change = d.get_last_local_change().unwrap().raw_bytes().to_vec();
    let sealed = evil
        .store
        .sealed_for_push(vec![OutboxItem {
            seq: 0,
            doc_id: doc.to_string(),
            change_hash: String::new(),
            bytes: change,
        }])
        .unwrap();
    evil.push_sealed(sealed);
}

/// What a device decided about everything it was given: its notebook, and what it refused
/// and why.
fn decided(d: &Device) -> (String, Vec<(String, String)>, usize) {
    let mut refused: Vec<(String, String)> = d
        .store
        .quarantined()
        .unwrap()
        .into_iter()
        .map(|q| (q.doc_id, q.reason))
        .collect();
    refused.sort();
    (
        d.exports(),
        refused,
        d.store.awaiting_key_changes().unwrap(),
    )
}

#[test]
fn a_page_judged_with_work_done_ahead_ends_as_one_judged_blob_by_blob() {
    let relay = TestRelay::start();
    let (team, lead_invite) = relay.team(1);
    let mut lead = Device::joined(&relay.url, &lead_invite, "Lead's laptop");
    let mut a = Device::joined(&relay.url, &relay.invite(&team, 1), "A's phone");
    let mut evil = Device::joined(&relay.url, &relay.invite(&team, 1), "Evil phone");
    // Two devices that will take in the team's work directly (whole, and blob by blob): their
    // member records go round first, so that the key the lead rotates to is wrapped for them
    // and reaches them in the middle of the log, by the epoch record.
    let mut whole = Device::joined(&relay.url, &relay.invite(&team, 1), "Whole page");
    let mut single = Device::joined(&relay.url, &relay.invite(&team, 1), "Blob by blob");
    // And one whose page is opened in jobs for other workers, as the phone's helpers do.
    let mut apart = Device::joined(&relay.url, &relay.invite(&team, 1), "Helped phone");
    for _ in 0..2 {
        for d in [
            &mut lead,
            &mut a,
            &mut evil,
            &mut whole,
            &mut single,
            &mut apart,
        ] {
            d.sync();
        }
    }
    // Honest work of two writers; three people with histories long enough for the lead to
    // compact (snapshots in the log).
    let people: Vec<String> = (0..40)
        .map(|i| a.person(&format!("A's person {i}")))
        .collect();
    a.sync();
    let own = evil.person("Evil's own person");
    evil.sync();
    // The two devices take these in by syncing; then A talks to half of them again: changes to
    // documents the two devices hold.
    whole.sync();
    single.sync();
    apart.sync();
    for id in people.iter().step_by(2) {
        a.converse(id, "met again", &["bring a neighbour"]);
    }
    a.sync();
    let altered = a.person("Altered on the relay");
    let long: Vec<String> = (0..3).map(|i| a.person(&format!("Long {i}"))).collect();
    for step in 0..4 {
        for id in &long {
            a.converse(id, &format!("visit {step}"), &["come back"]);
        }
        a.sync();
    }
    // A copy of A's next change sealed and signed by Evil, stored before A's own.
    let copied = a.person("Copied person");
    forge_copy(&evil, &a, &copied);
    a.sync();
    // A change no document may take, to a document of Evil's that the two devices hold, and
    // the same to one they do not.
    push_id_rewrite(&evil, &own);
    let fresh = evil.person("Evil's fresh person");
    evil.sync();
    push_id_rewrite(&evil, &fresh);
    let report = lead.sync();
    assert!(report.compacted >= 3, "{report:?}");
    // A blob altered on the relay.
    relay.flip_byte(&altered, 40);

    let later = evil.person("Slipped in after the revocation");
    let slipped: Vec<_> = evil
        .store
        .sealed_for_push(evil.store.outbox(10).unwrap())
        .unwrap()
        .into_iter()
        .filter(|i| i.doc_id == later)
        .collect();
    let evil_id = evil.relay_device_id();
    let revoked = {
        let nb = RefCell::new(&mut lead.store);
        sync::block_on(team::revoke(&nb, &transport(), &evil_id)).unwrap()
    };
    assert_eq!(revoked.rotation.expect("the key is rotated").epoch, 2);
    let after: Vec<String> = (0..20)
        .map(|i| lead.person(&format!("After the rotation {i}")))
        .collect();
    lead.sync();
    relay.inject(&evil_id, &later, &slipped[0].bytes);

    let log = relay.log_with_snapshots();
    assert!(log.iter().filter(|(_, _, s)| *s).count() >= 3);
    let incoming: Vec<Incoming<'_>> = log
        .iter()
        .map(|(doc_id, blob, snapshot)| Incoming::unvouched(doc_id, blob, *snapshot))
        .collect();
    assert!(incoming.len() > 80, "{}", incoming.len());
    let before = worked_ahead();
    whole.store.batch(|w| w.take_in(&incoming)).unwrap();
    let done = worked_ahead();
    for c in &incoming {
        single
            .store
            .batch(|w| w.take_in(std::slice::from_ref(c)))
            .unwrap();
    }
    if std::thread::available_parallelism().map_or(1, |n| n.get()) > 1 {
        // Other tests of this binary may work ahead meanwhile: at least this page was.
        assert!(
            done.opened - before.opened >= incoming.len() as u64 - 64,
            "{before:?} {done:?}"
        );
        assert!(done.loaded - before.loaded >= 3, "{before:?} {done:?}");
        assert!(done.applied - before.applied >= 16, "{before:?} {done:?}");
    }

    // The phone's way: the page cut into three jobs, done apart from the store (as bytes, by
    // the same function the helpers run), the second as a helper that failed.
    let mut jobs = apart
        .store
        .jobs_elsewhere(&incoming, 3)
        .unwrap()
        .expect("a sealed page of more than 16 blobs is worth cutting");
    let parts = std::mem::take(&mut jobs.jobs);
    assert_eq!(parts.len(), 3);
    let answers: Vec<Option<Vec<u8>>> = parts
        .iter()
        .enumerate()
        .map(|(i, job)| (i != 1).then(|| elsewhere::work(job).unwrap()))
        .collect();
    let before = worked_ahead();
    apart
        .store
        .batch(|w| w.take_in_with(&incoming, Some(jobs.answered(answers))))
        .unwrap();
    let after_apart = worked_ahead();
    let taken = after_apart.elsewhere - before.elsewhere;
    // What the first and last jobs opened was taken (not the key records, which are never
    // opened ahead, nor what the rotated key sealed); the failed job's blobs were opened here.
    let answered = (incoming.len() - incoming.len().div_ceil(3)) as u64;
    assert!(
        taken >= 16 && taken <= answered,
        "{taken} of {answered} answered",
    );
    // The snapshots of people new to the helped phone, in the answered jobs, were taken in as
    // the helpers read them, their documents not loaded by the store.
    let third = incoming.len().div_ceil(3);
    let snapshots_answered = incoming
        .iter()
        .enumerate()
        .filter(|(i, c)| c.snapshot && (*i < third || *i >= 2 * third))
        .count() as u64;
    let read = after_apart.read_elsewhere - before.read_elsewhere;
    assert!(
        read >= 1 && read <= snapshots_answered,
        "{read} of {snapshots_answered} snapshots in answered jobs"
    );

    let (notebook, refused, waiting) = decided(&whole);
    assert_eq!(
        (notebook.clone(), refused.clone(), waiting),
        decided(&single)
    );
    assert_eq!(
        (notebook.clone(), refused.clone(), waiting),
        decided(&apart)
    );
    // What each was given: the honest work whole, the three hostile blobs refused.
    for id in people.iter().chain(&long).chain(&after) {
        assert!(whole.store.person(id).is_ok(), "{id}");
    }
    assert!(whole.store.person(&altered).is_err());
    assert_eq!(
        whole.store.person(&people[0]).unwrap().conversations.len(),
        1
    );
    assert_eq!(
        whole.store.person(&copied).unwrap().person.name,
        "Copied person"
    );
    assert!(whole.store.person(&later).is_err());
    let reasons: Vec<&str> = refused.iter().map(|(_, r)| r.as_str()).collect();
    assert_eq!(
        whole.store.person(&own).unwrap().person.name,
        "Evil's own person"
    );
    assert_eq!(
        whole.store.person(&fresh).unwrap().person.name,
        "Evil's fresh person"
    );
    for expected in [
        "failed authentication",
        "rewrites `id`",
        "not signed by that device's key",
        "after the team revoked it",
    ] {
        assert!(
            reasons.iter().any(|r| r.contains(expected)),
            "{expected}: {reasons:?}"
        );
    }
    assert_eq!(refused.len(), 5, "{refused:?}");
    assert!(notebook.contains("After the rotation 19"));
}

/// A wire to the real relay that notes, at every sync request, the `since` it carries beside
/// the cursor the device has committed. The relay takes a `since` as the device's word that it
/// holds everything before it, and forgets what it kept for that device up to there (the
/// needs of blobs a snapshot covers): a request sent ahead of what is stored (a page asked for
/// before the one before it was taken in) would lose a device that then crashed changes it
/// lacks.
struct CommittedSince<'a, 's> {
    wire: groundwork::sync::http::ReqwestWire,
    store: &'a RefCell<&'s mut groundwork::store::Store>,
    /// `(since sent, cursor committed)` for each sync request.
    sent: &'a RefCell<Vec<(u64, u64)>>,
}

impl groundwork::sync::Wire for CommittedSince<'_, '_> {
    async fn exchange(
        &self,
        request: &groundwork::sync::relay::Exchange,
    ) -> Result<groundwork::sync::relay::Answer, groundwork::sync::relay::NoAnswer> {
        if request.url.ends_with("/v1/sync") {
            let mut plain = Vec::new();
            std::io::Read::read_to_end(
                &mut flate2::read::GzDecoder::new(request.body.as_slice()),
                &mut plain,
            )
            .unwrap();
            let since = groundwork_protocol::decode_sync_request(&plain)
                .unwrap()
                .since;
            let committed = self.store.borrow().sync_state().unwrap().cursor;
            self.sent.borrow_mut().push((since, committed));
        }
        self.wire.exchange(request).await
    }

    async fn pause(&self, _wait: std::time::Duration) {}
}

/// Helpers on threads standing in for the phone's helper workers (which run the same
/// `elsewhere::work`): each job but the caller's is done on a thread of its own.
struct ThreadHelpers;

impl sync::Helpers for ThreadHelpers {
    fn parts(&self) -> usize {
        2
    }

    async fn work(&self, jobs: Vec<zeroize::Zeroizing<Vec<u8>>>) -> Vec<Option<Vec<u8>>> {
        let mut jobs = jobs.into_iter();
        let Some(mine) = jobs.next() else {
            return Vec::new();
        };
        let others: Vec<_> = jobs
            .map(|job| std::thread::spawn(move || elsewhere::work(&job).ok()))
            .collect();
        let mut answers = vec![elsewhere::work(&mine).ok()];
        answers.extend(others.into_iter().map(|h| h.join().ok().flatten()));
        answers
    }
}

#[test]
fn a_first_sync_through_helpers_sends_a_since_only_once_what_is_before_it_is_stored() {
    let relay = TestRelay::start();
    let (team, lead_invite) = relay.team(1);
    let mut lead = Device::joined(&relay.url, &lead_invite, "Lead's laptop");
    let mut a = Device::joined(&relay.url, &relay.invite(&team, 1), "A's phone");
    for d in [&mut lead, &mut a] {
        d.sync();
    }
    let people: Vec<String> = (0..150).map(|i| a.person(&format!("Person {i}"))).collect();
    for id in people.iter().step_by(4) {
        a.converse(id, "talked at the gate", &["come to the meeting"]);
    }
    a.sync();
    lead.sync();

    let mut fresh = Device::joined(&relay.url, &relay.invite(&team, 1), "New phone");
    let before = worked_ahead();
    let sent = RefCell::new(Vec::new());
    let report = {
        let nb = RefCell::new(&mut fresh.store);
        let wire = CommittedSince {
            wire: groundwork::sync::http::ReqwestWire::new().unwrap(),
            store: &nb,
            sent: &sent,
        };
        let relay_api = groundwork::sync::Relay::over(wire, 1, std::time::Duration::ZERO);
        let budget = groundwork::sync::plan::Budget {
            push_bytes: 1 << 20,
            pull_bytes: 16 * 1024,
        };
        sync::block_on(sync::engine::sync_pages_with(
            &nb,
            &relay_api,
            budget,
            &mut |_| {},
            &ThreadHelpers,
        ))
        .unwrap()
    };
    // Several pages, each asked for from a cursor already stored.
    let sent = sent.into_inner();
    assert!(
        sent.iter().filter(|(since, _)| *since > 0).count() >= 3,
        "{sent:?}"
    );
    for (since, committed) in &sent {
        assert!(
            since <= committed,
            "sent {since} with {committed} stored: {sent:?}"
        );
    }
    // The pages were opened in jobs, and the device holds the team's work.
    assert!(worked_ahead().elsewhere - before.elsewhere >= 16);
    assert_eq!(report.rejected, 0, "{report:?}");
    let notebook = fresh.exports();
    for i in [0, 75, 149] {
        assert!(notebook.contains(&format!("Person {i}")), "Person {i}");
    }
}

/// A wire over which the notebook is joined elsewhere (another window) while the first answer
/// is on its way back.
struct JoinsMidway<'a, 's> {
    wire: groundwork::sync::http::ReqwestWire,
    store: &'a RefCell<&'s mut groundwork::store::Store>,
    other: groundwork::store::RelayLink,
}

impl groundwork::sync::Wire for JoinsMidway<'_, '_> {
    async fn exchange(
        &self,
        request: &groundwork::sync::relay::Exchange,
    ) -> Result<groundwork::sync::relay::Answer, groundwork::sync::relay::NoAnswer> {
        let answer = self.wire.exchange(request).await;
        if request.url.ends_with("/v1/sync") {
            self.store.borrow_mut().set_relay_link(&self.other).unwrap();
        }
        answer
    }

    async fn pause(&self, _wait: std::time::Duration) {}
}

/// A join while a page is on its way: the page (pulled from the old team's log) and its
/// cursor are not stored under the new link (its cursor once became the old relay's position,
/// and the new team's log before it was never pulled), and the sync says the notebook was
/// joined again.
#[test]
fn a_page_that_arrives_after_a_join_elsewhere_is_not_stored_under_the_new_link() {
    let relay = TestRelay::start();
    let (team, lead_invite) = relay.team(1);
    let mut lead = Device::joined(&relay.url, &lead_invite, "Lead's laptop");
    for i in 0..20 {
        lead.person(&format!("Person {i}"));
    }
    lead.sync();
    let mut fresh = Device::joined(&relay.url, &relay.invite(&team, 1), "New phone");
    let mut other = fresh.store.sync_state().unwrap().link.unwrap();
    other.team_id = "another-team".into();
    other.relay_device_id = "another-device".into();
    let result = {
        let nb = RefCell::new(&mut fresh.store);
        let wire = JoinsMidway {
            wire: groundwork::sync::http::ReqwestWire::new().unwrap(),
            store: &nb,
            other: other.clone(),
        };
        let relay_api = groundwork::sync::Relay::over(wire, 1, std::time::Duration::ZERO);
        sync::block_on(sync::engine::sync_pages_with(
            &nb,
            &relay_api,
            groundwork::sync::plan::Budget::default(),
            &mut |_| {},
            &ThreadHelpers,
        ))
    };
    assert!(
        matches!(result, Err(sync::SyncError::JoinedAgain)),
        "{result:?}"
    );
    let state = fresh.store.sync_state().unwrap();
    assert_eq!(state.link, Some(other));
    assert_eq!(state.cursor, 0, "the new team's log is read from its start");
    assert!(fresh.store.quarantined().unwrap().is_empty());
    assert!(!fresh.exports().contains("Person 3"));
}
