//! Compaction over HTTP: a lead places a snapshot it pushed, a canvasser is refused, bad
//! requests are 400, devices reading from before the snapshot get it (flagged as a snapshot on
//! the wire) instead of what it covers, and devices past it get nothing again.

use groundwork_protocol::compact::tag;
use groundwork_protocol::{
    CODE_LEAD_ONLY, COMPACT_PATH, CompactItem, CompactRequest, CompactResponse, DOC_CHANGES_PATH,
    DocChangesRequest, INVITES_PATH, InviteRequest, InviteResponse, MAX_COMPACT_ITEMS, PushItem,
    Role, SyncRequest, blob_id, decode_sync_response,
};
use serde_json::json;

use crate::common::{Answer, Device, Relay, gunzip, item};

pub(crate) fn compact(device: &Device, items: Vec<CompactItem>) -> Answer {
    device.post(COMPACT_PATH, &CompactRequest { items })
}

/// The snapshot `snapshot` of its document, covering `covers`.
pub(crate) fn covering(snapshot: &PushItem, covers: &[&PushItem]) -> CompactItem {
    CompactItem {
        doc_id: snapshot.doc_id.clone(),
        snapshot: blob_id(&snapshot.blob),
        covers: covers.iter().map(|c| tag(&c.id)).collect(),
    }
}

/// `(seq, blob, snapshot)` of every change `device` pulls from its cursor, up to the head, in
/// pages of `max_bytes`.
fn pulled(device: &mut Device, max_bytes: Option<u64>) -> Vec<(u64, String, bool)> {
    let mut out = Vec::new();
    loop {
        let answer = device.sync(Vec::new(), max_bytes).expect("pulls");
        out.extend(
            answer
                .changes
                .into_iter()
                .map(|c| (c.seq, String::from_utf8(c.blob).expect("text"), c.snapshot)),
        );
        if !answer.more {
            return out;
        }
    }
}

/// `(seq, blob, snapshot)` of one document's changes, from the start (the repair route).
fn doc_changes(device: &Device, doc_id: &str) -> Vec<(u64, String, bool)> {
    let answer = device.post(
        DOC_CHANGES_PATH,
        &DocChangesRequest {
            doc_id: doc_id.into(),
            after: 0,
            max_bytes: None,
        },
    );
    assert_eq!(answer.status, 200, "{answer:?}");
    let body = if answer.header("content-encoding") == Some("gzip") {
        gunzip(&answer.body)
    } else {
        answer.body.clone()
    };
    decode_sync_response(&body, &SyncRequest::default())
        .expect("a sync answer")
        .changes
        .into_iter()
        .map(|c| (c.seq, String::from_utf8(c.blob).expect("text"), c.snapshot))
        .collect()
}

/// A canvasser enrolled now, with an invite the lead asks for.
fn newcomer(relay: &Relay, lead: &Device, name: &str) -> Device {
    let answer = lead.post(
        INVITES_PATH,
        &InviteRequest {
            uses: 1,
            expires_in_secs: 3600,
            role: Role::Canvasser,
            sealed_keys: None,
            key_parts: Vec::new(),
            request: None,
        },
    );
    assert_eq!(answer.status, 200, "{answer:?}");
    let invite: InviteResponse = answer.json();
    relay.enrol(&invite.code, name).expect("enrols")
}

fn owned(list: &[(u64, &str, bool)]) -> Vec<(u64, String, bool)> {
    list.iter()
        .map(|&(seq, blob, snapshot)| (seq, blob.to_owned(), snapshot))
        .collect()
}

#[test]
fn a_lead_places_a_snapshot_and_others_are_refused() {
    let relay = Relay::start();
    let (mut lead, mut devices) = relay.team_with_lead("Compact", 2);
    let mut reader = devices.pop().expect("reader");
    let mut canvasser = devices.pop().expect("canvasser");
    // The reader syncs before anything is pushed: it starts at 0.
    assert!(pulled(&mut reader, None).is_empty());
    let (a1, a2, a3) = (item("A", "a1"), item("A", "a2"), item("A", "a3"));
    canvasser
        .sync(vec![a1.clone(), a2.clone(), a3.clone()], None)
        .expect("pushes 1, 2, 3");
    let snapshot = item("A", "snapshot of a1 and a2");
    lead.sync(vec![snapshot.clone(), item("B", "not a snapshot")], None)
        .expect("pushes the snapshot at 4, another change at 5");
    let place = covering(&snapshot, &[&a1, &a2]);

    // A canvasser: 403 lead_only, and nothing moves.
    let refused = compact(&canvasser, vec![place.clone()]);
    assert_eq!(refused.status, 403, "{refused:?}");
    assert_eq!(refused.error().code.as_deref(), Some(CODE_LEAD_ONLY));
    assert_eq!(refused.team_headers(), (Some("canvasser"), Some(0)));

    // Malformed bodies, too many items, a snapshot that is not a blob id: 400.
    let id = blob_id(&snapshot.blob);
    let upper = id.to_uppercase();
    for (body, what) in [
        (json!({"items": "all"}), "not a list"),
        (
            json!({"items": [{"doc_id": "A", "snapshot": id}]}),
            "no covers",
        ),
        (
            json!({"items": [{"doc_id": "A", "snapshot": "S", "covers": []}]}),
            "short id",
        ),
        (
            json!({"items": [{"doc_id": "A", "snapshot": upper, "covers": []}]}),
            "upper case",
        ),
        (
            json!({"items": [{"doc_id": "", "snapshot": id, "covers": []}]}),
            "empty doc",
        ),
        (
            json!({"items": [{"doc_id": "A", "snapshot": id, "covers": [-1]}]}),
            "negative tag",
        ),
    ] {
        let answer = lead.post(COMPACT_PATH, &body);
        assert_eq!(answer.status, 400, "{what}: {answer:?}");
        assert!(answer.error().code.is_none(), "{what}");
    }
    let too_many = compact(&lead, vec![place.clone(); MAX_COMPACT_ITEMS + 1]);
    assert_eq!(too_many.status, 400, "{too_many:?}");
    assert!(
        too_many.error().error.contains("at most 1000"),
        "{}",
        too_many.error().error
    );

    // The lead: placed where a1 was (a1 deleted), a2 covered. No device needs a2: the
    // canvasser pushed it, and the reader starts at 0, before the snapshot. An item naming a
    // blob the lead did not push is unknown.
    let answer = compact(&lead, vec![place, covering(&a3, &[&a1])]);
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.team_headers(), (Some("lead"), Some(0)));
    assert_eq!(
        answer.json::<CompactResponse>(),
        CompactResponse {
            placed: 1,
            covered: 2,
            dropped: 2,
            unknown: 1
        }
    );

    // From the start: the snapshot where a1 was, flagged as one on the wire, then a3 and the
    // lead's other blob (pushed, never announced: an ordinary change).
    let expected = owned(&[
        (1, "snapshot of a1 and a2", true),
        (3, "a3", false),
        (5, "not a snapshot", false),
    ]);
    assert_eq!(pulled(&mut reader, None), expected);
    assert_eq!(reader.cursor, 5);
    // The canvasser, past the snapshot's position, gets nothing of it again.
    assert_eq!(
        pulled(&mut canvasser, None),
        owned(&[(5, "not a snapshot", false)])
    );
    // The repair route serves the document's stored blobs, the snapshot flagged.
    assert_eq!(
        doc_changes(&canvasser, "A"),
        owned(&[(1, "snapshot of a1 and a2", true), (3, "a3", false)])
    );
    // Nothing left to prune; reading from the start again still gets everything.
    let answer = compact(&lead, Vec::new());
    assert_eq!(answer.json::<CompactResponse>(), CompactResponse::default());
    reader.cursor = 0;
    assert_eq!(pulled(&mut reader, None), expected);
}

#[test]
fn a_new_device_paging_gets_the_snapshot_once_and_nothing_it_covers() {
    let relay = Relay::start();
    let (mut lead, mut devices) = relay.team_with_lead("Pages", 1);
    let mut canvasser = devices.pop().expect("canvasser");
    let changes: Vec<PushItem> = (0..6)
        .map(|i| item(if i % 2 == 0 { "A" } else { "B" }, &format!("change {i}")))
        .collect();
    canvasser
        .sync(changes.clone(), None)
        .expect("pushes 1 to 6");
    let doc_a: Vec<&PushItem> = changes.iter().filter(|c| c.doc_id == "A").collect();
    let snapshot = item("A", "snapshot of A");
    lead.sync(vec![snapshot.clone()], None)
        .expect("pushes the snapshot at 7");
    let answer = compact(&lead, vec![covering(&snapshot, &doc_a)]);
    assert_eq!(
        answer.json::<CompactResponse>(),
        CompactResponse {
            placed: 1,
            covered: 3,
            dropped: 3,
            unknown: 0
        },
        "no device needs A's changes: the canvasser pushed them, the lead made the snapshot"
    );
    let expected = owned(&[
        (1, "snapshot of A", true),
        (2, "change 1", false),
        (4, "change 3", false),
        (6, "change 5", false),
    ]);
    for (i, max_bytes) in [1, 20, 40, 1 << 20].into_iter().enumerate() {
        let mut fresh = newcomer(&relay, &lead, &format!("fresh {i}"));
        assert_eq!(
            pulled(&mut fresh, Some(max_bytes)),
            expected,
            "pages of {max_bytes} bytes"
        );
        assert_eq!(fresh.cursor, 7);
    }
}
