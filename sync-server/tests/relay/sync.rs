//! Push and pull: round trips, idempotence, paging, team isolation, id checks.

use std::collections::HashSet;

use groundwork_protocol::{PushItem, SyncRequest, blob_digest};

use crate::common::{Relay, item};

#[test]
fn health_check_answers() {
    let relay = Relay::start();
    let resp = relay.get("/healthz");
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json_value();
    assert_eq!(body["status"], "ok");
}

trait JsonValue {
    fn json_value(self) -> serde_json::Value;
}

impl JsonValue for reqwest::blocking::Response {
    fn json_value(self) -> serde_json::Value {
        serde_json::from_slice(&self.bytes().expect("body")).expect("JSON body")
    }
}

#[test]
fn push_then_pull_round_trip() {
    let relay = Relay::start();
    let (_, mut devices) = relay.team_with_devices("Round trip", 2);
    let mut b = devices.pop().expect("b");
    let mut a = devices.pop().expect("a");

    let pushed = vec![
        item("person-1", "first change"),
        item("person-1", "second change"),
        item("person-2", "another person"),
    ];
    let resp = a.sync(pushed.clone(), None).expect("push");
    let ids: Vec<_> = pushed.iter().map(|p| p.id).collect();
    assert_eq!(resp.accepted, ids, "every pushed id is acknowledged");
    assert!(
        resp.changes.is_empty(),
        "a device is not sent its own changes"
    );
    assert!(!resp.more);
    assert_eq!(resp.cursor, 3);

    let resp = b.sync(Vec::new(), None).expect("pull");
    assert_eq!(resp.cursor, 3);
    assert!(!resp.more);
    let got: Vec<_> = resp
        .changes
        .iter()
        .map(|c| (c.seq, c.id, c.doc_id.clone(), c.blob.clone()))
        .collect();
    let want: Vec<_> = pushed
        .iter()
        .zip(1..)
        .map(|(p, seq)| (seq, p.id, p.doc_id.clone(), p.blob.clone()))
        .collect();
    assert_eq!(got, want);

    // Nothing new: an empty page at the same cursor.
    let resp = b.sync(Vec::new(), None).expect("pull again");
    assert!(resp.changes.is_empty());
    assert_eq!(resp.cursor, 3);

    // B answers without gzip; A pulls it.
    let reply = item("person-2", "reply from b");
    let req = SyncRequest {
        since: b.cursor,
        push: vec![reply.clone()],
        max_bytes: None,
        actor: b.actor.clone(),
    };
    let resp = b.send(&req, false).expect("uncompressed push");
    assert_eq!(resp.accepted, vec![reply.id]);
    let resp = a.sync(Vec::new(), None).expect("pull");
    assert_eq!(resp.changes.len(), 1);
    assert_eq!(resp.changes[0].blob, reply.blob);
    assert_eq!(resp.changes[0].seq, 4);
}

#[test]
fn duplicate_pushes_are_stored_once() {
    let relay = Relay::start();
    let (_, mut devices) = relay.team_with_devices("Duplicates", 3);
    let mut c = devices.pop().expect("c");
    let mut b = devices.pop().expect("b");
    let mut a = devices.pop().expect("a");
    let x = item("doc", "the same change");

    let first = a.sync(vec![x.clone()], None).expect("push");
    assert_eq!(first.accepted, vec![x.id]);
    // A retry after a lost answer, and the same item twice in one request.
    a.cursor = 0;
    let again = a
        .sync(vec![x.clone(), x.clone()], None)
        .expect("push again");
    assert_eq!(again.accepted, vec![x.id]);
    assert_eq!(again.cursor, 1, "no new row was appended");
    // Another device pushing identical bytes is acknowledged too.
    let from_b = b.sync(vec![x.clone()], None).expect("push from b");
    assert_eq!(from_b.accepted, vec![x.id]);

    let pulled = c.pull_all(None);
    assert_eq!(pulled, vec![(x.doc_id.clone(), x.blob.clone())]);
}

#[test]
fn mismatched_ids_are_rejected_and_not_stored() {
    let relay = Relay::start();
    let (_, mut devices) = relay.team_with_devices("Mismatch", 2);
    let mut b = devices.pop().expect("b");
    let mut a = devices.pop().expect("a");
    let good = item("doc", "good");
    let bad = PushItem {
        id: blob_digest(b"something else"),
        doc_id: "doc".into(),
        blob: b"tampered".to_vec(),
    };
    let (status, message) = a.sync(vec![good, bad], None).expect_err("mismatch");
    assert_eq!(status, 400);
    assert!(message.contains("SHA-256"), "{message}");
    assert!(
        b.pull_all(None).is_empty(),
        "a rejected request stores nothing"
    );
}

#[test]
fn pages_are_bounded_by_bytes() {
    let relay = Relay::start_with(&["--max-page-bytes", "10KiB"]);
    let (_, mut devices) = relay.team_with_devices("Paging", 2);
    let mut b = devices.pop().expect("b");
    let mut a = devices.pop().expect("a");
    let pushed: Vec<PushItem> = (0..40)
        .map(|i| PushItem::new(format!("doc-{}", i % 7), vec![i as u8; 1_000]))
        .collect();
    a.sync(pushed.clone(), None).expect("push");

    // The client asks for 3 000 bytes a page: at most two 1 005-byte changes fit.
    let mut got = Vec::new();
    let mut pages = 0;
    let mut last_cursor = 0;
    loop {
        let resp = b.sync(Vec::new(), Some(3_000)).expect("pull page");
        pages += 1;
        assert!(!resp.changes.is_empty() || !resp.more);
        let bytes: usize = resp
            .changes
            .iter()
            .map(|c| c.blob.len() + c.doc_id.len())
            .sum();
        assert!(bytes <= 3_000, "page of {bytes} bytes");
        assert!(resp.cursor > last_cursor || !resp.more);
        last_cursor = resp.cursor;
        got.extend(resp.changes.into_iter().map(|c| c.blob));
        if !resp.more {
            break;
        }
    }
    assert_eq!(pages, 20);
    let want: Vec<_> = pushed.iter().map(|p| p.blob.clone()).collect();
    assert_eq!(got, want);

    // The relay's own cap (10 KiB) applies when the client asks for more or nothing.
    let mut c_cursor_b = b.clone();
    c_cursor_b.cursor = 0;
    let resp = c_cursor_b.sync(Vec::new(), Some(u64::MAX)).expect("pull");
    assert!(resp.more);
    assert_eq!(resp.changes.len(), 10);

    // A change larger than the page still goes through, alone.
    let big = PushItem::new("big", vec![9; 20_000]);
    a.sync(vec![big.clone()], None).expect("push big");
    let resp = b.sync(Vec::new(), Some(100)).expect("pull big");
    assert_eq!(resp.changes.len(), 1);
    assert_eq!(resp.changes[0].blob, big.blob);
    assert!(!resp.more);
}

/// Pages of many small blobs (more than a PostgreSQL relay asks its database for at once), and a
/// blob larger than the page with small ones after it: every blob once, in order, and a page
/// ends only where the next blob does not fit.
#[test]
fn pages_of_many_small_blobs_and_an_oversized_one_miss_nothing() {
    let relay = Relay::start();
    let (_, mut devices) = relay.team_with_devices("Many", 2);
    let mut b = devices.pop().expect("b");
    let mut a = devices.pop().expect("a");
    // 1,200 blobs of 4 bytes in document "d": 5 bytes each on a page.
    let mut pushed: Vec<PushItem> = Vec::new();
    for round in 0..6u32 {
        let items: Vec<PushItem> = (0..200u32)
            .map(|i| PushItem::new("d", (round * 200 + i).to_be_bytes().to_vec()))
            .collect();
        // One of them twice: stored once.
        let mut with_repeat = items.clone();
        with_repeat.push(items[7].clone());
        a.sync(with_repeat, None).expect("push");
        pushed.extend(items);
    }
    let want: Vec<Vec<u8>> = pushed.iter().map(|p| p.blob.clone()).collect();

    // 3,500 bytes a page: 700 blobs, then the other 500.
    let first = b.sync(Vec::new(), Some(3_500)).expect("first page");
    assert_eq!(first.changes.len(), 700);
    assert!(first.more);
    assert_eq!(first.cursor, first.changes[699].seq);
    let second = b.sync(Vec::new(), Some(3_500)).expect("second page");
    assert_eq!(second.changes.len(), 500);
    assert!(!second.more);
    let got: Vec<Vec<u8>> = first
        .changes
        .iter()
        .chain(&second.changes)
        .map(|c| c.blob.clone())
        .collect();
    assert_eq!(got, want);
    let seqs: Vec<u64> = first
        .changes
        .iter()
        .chain(&second.changes)
        .map(|c| c.seq)
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "in log order");

    // All of them on one page when the page has room.
    let mut fresh = b.clone();
    fresh.cursor = 0;
    let whole = fresh.sync(Vec::new(), Some(1 << 20)).expect("one page");
    assert_eq!(whole.changes.len(), 1_200);
    assert!(!whole.more);

    // A blob larger than the page, then small ones: the big one alone, then the rest.
    let big = PushItem::new("big", vec![9; 5_000]);
    let after: Vec<PushItem> = (0..3u8).map(|i| PushItem::new("d", vec![i; 3])).collect();
    let mut push = vec![big.clone()];
    push.extend(after.clone());
    a.sync(push, None).expect("push big");
    let alone = b.sync(Vec::new(), Some(100)).expect("big page");
    assert_eq!(alone.changes.len(), 1);
    assert_eq!(alone.changes[0].blob, big.blob);
    assert!(alone.more, "the small blobs after it are still to come");
    let rest = b.sync(Vec::new(), Some(100)).expect("the rest");
    let rest: Vec<Vec<u8>> = rest.changes.into_iter().map(|c| c.blob).collect();
    assert_eq!(
        rest,
        after.iter().map(|p| p.blob.clone()).collect::<Vec<_>>()
    );
}

#[test]
fn teams_never_see_each_other() {
    let relay = Relay::start();
    let (_, mut red) = relay.team_with_devices("Red", 2);
    let (_, mut blue) = relay.team_with_devices("Blue", 2);
    let red_items: Vec<_> = (0..5)
        .map(|i| item("red-doc", &format!("red {i}")))
        .collect();
    let blue_items: Vec<_> = (0..5)
        .map(|i| item("blue-doc", &format!("blue {i}")))
        .collect();
    red[0].sync(red_items.clone(), None).expect("red push");
    blue[0].sync(blue_items.clone(), None).expect("blue push");
    // The same bytes in both teams are two separate rows.
    let shared = item("doc", "identical bytes");
    red[0].sync(vec![shared.clone()], None).expect("red shared");
    blue[0]
        .sync(vec![shared.clone()], None)
        .expect("blue shared");

    let red_got: HashSet<Vec<u8>> = red[1].pull_all(None).into_iter().map(|(_, b)| b).collect();
    let blue_got: HashSet<Vec<u8>> = blue[1].pull_all(None).into_iter().map(|(_, b)| b).collect();
    let red_want: HashSet<Vec<u8>> = red_items
        .iter()
        .chain([&shared])
        .map(|p| p.blob.clone())
        .collect();
    let blue_want: HashSet<Vec<u8>> = blue_items
        .iter()
        .chain([&shared])
        .map(|p| p.blob.clone())
        .collect();
    assert_eq!(red_got, red_want);
    assert_eq!(blue_got, blue_want);
    assert_eq!(red[1].cursor, 6, "each team has its own sequence");
    assert_eq!(blue[1].cursor, 6);
}
