//! Golden and property tests of the binary sync format. The golden bytes are written out by hand
//! from the format description in `src/wire.rs`: if one of these tests fails, the format changed,
//! and old clients would break. Bump the version in the magic bytes instead.

use groundwork_protocol::{
    DecodeError, PulledChange, PushItem, Pusher, SyncRequest, SyncResponse, blob_digest,
    decode_sync_request, decode_sync_response, encode_sync_request, encode_sync_response,
};
use proptest::prelude::*;

fn unhex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("test hex"))
        .collect()
}

fn golden_request() -> SyncRequest {
    SyncRequest {
        since: 300,
        push: vec![
            PushItem::new("doc-a", b"hello".to_vec()),
            PushItem::new("doc-b", vec![0, 1, 2]),
        ],
        max_bytes: Some(65_536),
        actor: vec![0xab, 0xcd],
    }
}

const GOLDEN_REQUEST: &str = "
    47575104
    ac02
    01 808004
    02 abcd
    02
    2cf24dba5fb0a30e 05 646f632d61 05 68656c6c6f
    ae4b3280e56e2faf 05 646f632d62 03 000102
";

fn golden_response() -> SyncResponse {
    SyncResponse {
        accepted: vec![blob_digest(b"hello"), blob_digest(&[0, 1, 2])],
        pushers: vec![
            Pusher {
                actor: vec![0xab, 0xcd],
                name: "Sam".into(),
            },
            Pusher::default(),
        ],
        changes: vec![
            PulledChange {
                seq: 301,
                id: blob_digest(b"change one"),
                doc_id: "doc-c".into(),
                pusher: 0,
                snapshot: false,
                blob: b"change one".to_vec(),
            },
            PulledChange {
                seq: 305,
                id: blob_digest(&[0xff]),
                doc_id: "doc-a".into(),
                pusher: 1,
                snapshot: true,
                blob: vec![0xff],
            },
        ],
        cursor: 302,
        more: true,
    }
}

const GOLDEN_RESPONSE: &str = "
    47575204
    ae02
    01
    02 00 00
    02 02 abcd 03 53616d 00 00
    02
    00 05 646f632d63 00 00 0a 6368616e6765206f6e65
    03 05 646f632d61 01 01 01 ff
";

#[test]
fn golden_request_bytes() {
    let req = golden_request();
    assert_eq!(
        encode_sync_request(&req).expect("encodes"),
        unhex(GOLDEN_REQUEST)
    );
    assert_eq!(decode_sync_request(&unhex(GOLDEN_REQUEST)), Ok(req));
}

#[test]
fn golden_response_bytes() {
    let req = golden_request();
    let resp = golden_response();
    assert_eq!(
        encode_sync_response(&resp, &req).expect("encodes"),
        unhex(GOLDEN_RESPONSE)
    );
    assert_eq!(
        decode_sync_response(&unhex(GOLDEN_RESPONSE), &req),
        Ok(resp)
    );
}

#[test]
fn empty_request_and_response_are_tiny() {
    let req = SyncRequest::default();
    assert_eq!(
        encode_sync_request(&req).expect("encodes"),
        unhex("47575104 00 00 00 00")
    );
    let resp = SyncResponse::default();
    assert_eq!(
        encode_sync_response(&resp, &req).expect("encodes"),
        unhex("47575204 00 00 00 00 00")
    );
}

#[test]
fn decode_errors_say_what_is_wrong() {
    assert_eq!(
        decode_sync_request(b"{\"since\":0}"),
        Err(DecodeError::BadMagic("request"))
    );
    assert_eq!(
        decode_sync_request(&unhex("47575101 00 00 00")),
        Err(DecodeError::UnsupportedVersion(1))
    );
    assert_eq!(
        decode_sync_request(&unhex("47575104 00 00 00 00 ff")),
        Err(DecodeError::TrailingBytes(1))
    );
    assert_eq!(
        decode_sync_request(&unhex("47575104 00 07 00 00")),
        Err(DecodeError::BadFlag("has_max"))
    );
    let mut tampered = unhex(GOLDEN_REQUEST);
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    assert_eq!(
        decode_sync_request(&tampered),
        Err(DecodeError::IdMismatch(1))
    );
    let wrong_id = SyncRequest {
        push: vec![PushItem {
            id: blob_digest(b"other bytes"),
            doc_id: "d".into(),
            blob: b"bytes".to_vec(),
        }],
        ..SyncRequest::default()
    };
    let body = encode_sync_request(&wrong_id).expect("the encoder does not judge ids");
    assert_eq!(decode_sync_request(&body), Err(DecodeError::IdMismatch(0)));
    let req = SyncRequest::default();
    assert_eq!(
        decode_sync_response(&unhex("47575204 00 00 01 00 00 00"), &req),
        Err(DecodeError::AcceptedOutOfRange(0))
    );
    let long_actor = format!("47575104 00 00 21 {}", "ab".repeat(33));
    assert_eq!(
        decode_sync_request(&unhex(&long_actor)),
        Err(DecodeError::ActorTooLong(33))
    );
    // One change naming pusher 1 when the pushers list is empty.
    assert_eq!(
        decode_sync_response(&unhex("47575204 01 00 00 00 01 00 01 64 01 00"), &req),
        Err(DecodeError::PusherOutOfRange(1))
    );
    let message = DecodeError::BadMagic("request").to_string();
    assert!(message.contains("binary sync format"), "{message}");
}

#[test]
fn version_2_bodies_are_refused_with_a_message_to_update() {
    // The golden bodies of version 2 (no flags byte), whole: both directions refuse them.
    let v2_request = "47575102 ac02 01 808004 02 abcd 00";
    assert_eq!(
        decode_sync_request(&unhex(v2_request)),
        Err(DecodeError::UnsupportedVersion(2))
    );
    let v2_response = "47575202 01 00 00 01 00 00 01 00 01 64 00 01 ff";
    assert_eq!(
        decode_sync_response(&unhex(v2_response), &SyncRequest::default()),
        Err(DecodeError::UnsupportedVersion(2))
    );
    // Version 3 (before packed, second-dictionary sealing) too: its fields are the same.
    let v3_request = "47575103 ac02 01 808004 02 abcd 00";
    assert_eq!(
        decode_sync_request(&unhex(v3_request)),
        Err(DecodeError::UnsupportedVersion(3))
    );
    let message = DecodeError::UnsupportedVersion(2).to_string();
    assert!(
        message.contains("version 4") && message.contains("update the app and the relay"),
        "{message}"
    );
}

#[test]
fn unknown_change_flags_are_refused() {
    let req = SyncRequest::default();
    // One change (pusher 0, an empty pusher), flags as given, blob ff.
    let body = |flags: &str| {
        unhex(&format!(
            "47575204 01 00 00 01 00 00 01 00 01 64 00 {flags} 01 ff"
        ))
    };
    let plain = decode_sync_response(&body("00"), &req).expect("flags 0");
    assert!(!plain.changes[0].snapshot);
    let snapshot = decode_sync_response(&body("01"), &req).expect("flags 1");
    assert!(snapshot.changes[0].snapshot);
    for flags in [0x02u8, 0x03, 0x80, 0xff] {
        assert_eq!(
            decode_sync_response(&body(&format!("{flags:02x}")), &req),
            Err(DecodeError::UnknownFlags(flags)),
            "flags {flags:#04x}"
        );
    }
    let message = DecodeError::UnknownFlags(0x02).to_string();
    assert!(
        message.contains("update the app and the relay"),
        "{message}"
    );
    // Ends before its flags byte.
    assert_eq!(
        decode_sync_response(&unhex("47575204 01 00 00 01 00 00 01 00 01 64 00"), &req),
        Err(DecodeError::Truncated("change flags"))
    );
}

#[test]
fn snapshots_round_trip_either_way() {
    let req = golden_request();
    for snapshot in [false, true] {
        let mut resp = golden_response();
        for change in &mut resp.changes {
            change.snapshot = snapshot;
        }
        let body = encode_sync_response(&resp, &req).expect("encodes");
        let decoded = decode_sync_response(&body, &req).expect("decodes");
        assert!(decoded.changes.iter().all(|c| c.snapshot == snapshot));
        assert_eq!(decoded, resp);
    }
}

fn arb_push() -> impl Strategy<Value = PushItem> {
    (
        "[a-z0-9-]{0,40}",
        proptest::collection::vec(any::<u8>(), 0..200),
    )
        .prop_map(|(doc, blob)| PushItem::new(doc, blob))
}

fn arb_request() -> impl Strategy<Value = SyncRequest> {
    (
        any::<u64>(),
        proptest::collection::vec(arb_push(), 0..8),
        proptest::option::of(any::<u64>()),
        proptest::collection::vec(any::<u8>(), 0..=32),
    )
        .prop_map(|(since, push, max_bytes, actor)| SyncRequest {
            since,
            push,
            max_bytes,
            actor,
        })
}

proptest! {
    #[test]
    fn requests_round_trip(req in arb_request()) {
        let body = encode_sync_request(&req).expect("encodes");
        prop_assert_eq!(decode_sync_request(&body), Ok(req));
    }

    #[test]
    fn responses_round_trip(
        req in arb_request(),
        mask in proptest::collection::vec(any::<bool>(), 8),
        gaps in proptest::collection::vec((0u64..1_000, "[a-z]{0,10}", proptest::collection::vec(any::<u8>(), 0..100), 0usize..3, any::<bool>()), 0..6),
        pushers in proptest::collection::vec((proptest::collection::vec(any::<u8>(), 0..=32), "[A-Za-z' ]{0,20}"), 3..4),
        cursor in any::<u64>(),
        more in any::<bool>(),
    ) {
        let mut seen = std::collections::HashSet::new();
        let accepted: Vec<groundwork_protocol::BlobId> = req.push.iter().zip(&mask)
            .filter(|(p, keep)| **keep && seen.insert(p.id))
            .map(|(p, _)| p.id)
            .collect();
        let mut seq = req.since;
        let mut changes = Vec::new();
        for (gap, doc_id, blob, pusher, snapshot) in gaps {
            let Some(next) = seq.checked_add(gap + 1) else { break };
            seq = next;
            changes.push(PulledChange { seq, id: blob_digest(&blob), doc_id, pusher, snapshot, blob });
        }
        let pushers = pushers.into_iter().map(|(actor, name)| Pusher { actor, name }).collect();
        let resp = SyncResponse { accepted, pushers, changes, cursor, more };
        let body = encode_sync_response(&resp, &req).expect("encodes");
        prop_assert_eq!(decode_sync_response(&body, &req), Ok(resp));
    }

    #[test]
    fn hostile_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = decode_sync_request(&body);
        let _ = decode_sync_response(&body, &SyncRequest::default());
    }

    #[test]
    fn mutated_bodies_never_panic(req in arb_request(), at in any::<usize>(), byte in any::<u8>()) {
        let mut body = encode_sync_request(&req).expect("encodes");
        if !body.is_empty() {
            let i = at % body.len();
            body[i] = byte;
        }
        let _ = decode_sync_request(&body);
        let mut prefixed = groundwork_protocol::wire::REQUEST_MAGIC.to_vec();
        prefixed.extend_from_slice(&body[body.len().min(4)..]);
        let _ = decode_sync_request(&prefixed);
    }
}
