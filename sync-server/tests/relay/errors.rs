//! Bad input: every error is a JSON `{"error": …}` with the right status, and the relay keeps
//! serving afterwards.

use groundwork_protocol::{
    DOC_CHANGES_PATH, DeviceAction, DocChangesRequest, PROMOTE_PATH, PushItem, REVOKE_PATH,
    SyncRequest, encode_sync_request,
};

use crate::common::{Relay, error_message, gzip, item};

/// Extra request headers of a test case.
type Headers = Vec<(&'static str, &'static str)>;

fn empty_sync_body() -> Vec<u8> {
    encode_sync_request(&SyncRequest::default()).expect("encodes")
}

#[test]
fn missing_or_wrong_tokens_are_401() {
    let relay = Relay::start();
    let (_, devices) = relay.team_with_devices("Tokens", 1);
    let (status, body) = relay.post_sync_raw(None, &[], empty_sync_body());
    assert_eq!(status, 401);
    assert!(error_message(&body).contains("Bearer"));
    let (status, body) = relay.post_sync_raw(Some("gwt_0000"), &[], empty_sync_body());
    assert_eq!(status, 401);
    assert!(error_message(&body).contains("enrol"));
    let (status, _) = relay.post_sync_raw(
        None,
        &[("authorization", &format!("Basic {}", devices[0].token))],
        empty_sync_body(),
    );
    assert_eq!(status, 401);
    let (status, _) = relay.post_sync_raw(Some(&devices[0].token), &[], empty_sync_body());
    assert_eq!(status, 200, "the right token works");
}

#[test]
fn revoked_device_gets_403_and_others_carry_on() {
    let relay = Relay::start();
    let (_, mut devices) = relay.team_with_devices("Revoke", 2);
    let mut keep = devices.pop().expect("keep");
    let mut lost = devices.pop().expect("lost");
    lost.sync(vec![item("doc", "before revocation")], None)
        .expect("push");
    relay.op_ok(&["device", "revoke", &lost.device_id]);
    let (status, message) = lost
        .sync(vec![item("doc", "after revocation")], None)
        .expect_err("revoked");
    assert_eq!(status, 403);
    assert!(message.contains("removed"), "{message}");
    let (status, _) = lost.sync(Vec::new(), None).expect_err("revoked pull");
    assert_eq!(status, 403);
    let pulled = keep.pull_all(None);
    assert_eq!(
        pulled,
        vec![("doc".to_owned(), b"before revocation".to_vec())]
    );
}

#[test]
fn oversized_bodies_are_413_and_the_relay_keeps_serving() {
    let relay = Relay::start_with(&["--max-body-bytes", "64KiB"]);
    let (_, devices) = relay.team_with_devices("Big", 1);
    let token = devices[0].token.as_str();
    let big = encode_sync_request(&SyncRequest {
        since: 0,
        push: vec![PushItem::new("doc", vec![7; 100_000])],
        max_bytes: None,
        actor: vec![1; 16],
    })
    .expect("encodes");

    let (status, body) = relay.post_sync_raw(Some(token), &[], big.clone());
    assert_eq!(status, 413);
    assert!(error_message(&body).contains("fewer changes"));
    assert!(relay.healthy());

    // Small on the wire, too big once decompressed.
    let bomb = gzip(&big);
    assert!(bomb.len() < 64 * 1024);
    let (status, body) = relay.post_sync_raw(Some(token), &[("content-encoding", "gzip")], bomb);
    assert_eq!(status, 413);
    error_message(&body);
    assert!(relay.healthy());

    // Streaming without a Content-Length is cut off as well. The relay answers 413 and closes
    // the connection as soon as the limit is passed, so the client may see the answer or, if it
    // is still sending, a closed connection.
    let sent = reqwest::blocking::Client::new()
        .post(format!("{}/v1/sync", relay.url))
        .bearer_auth(token)
        .header("content-type", groundwork_protocol::SYNC_CONTENT_TYPE)
        .body(reqwest::blocking::Body::new(std::io::Cursor::new(big)))
        .send();
    match sent {
        Ok(resp) => assert_eq!(resp.status(), 413),
        Err(e) => assert!(e.is_body() || e.is_request(), "unexpected error {e}"),
    }
    assert!(relay.healthy());
}

#[test]
fn malformed_bodies_are_400_and_the_relay_keeps_serving() {
    let relay = Relay::start();
    let (_, mut devices) = relay.team_with_devices("Malformed", 1);
    let token = devices[0].token.clone();
    let mut truncated = encode_sync_request(&SyncRequest {
        since: 0,
        push: vec![item("doc", "some change")],
        max_bytes: None,
        actor: vec![1; 16],
    })
    .expect("encodes");
    truncated.truncate(truncated.len() - 3);
    let cases: Vec<(&str, Headers, Vec<u8>)> = vec![
        ("garbage", vec![], b"\x00\x01garbage".to_vec()),
        ("JSON", vec![], br#"{"since":0,"push":[]}"#.to_vec()),
        ("empty", vec![], Vec::new()),
        ("truncated", vec![], truncated),
        ("future version", vec![], b"GWQ\x09\x00\x00\x00".to_vec()),
        // An app from before packed, second-dictionary sealing (version 3): refused, so that it
        // does not pull and refuse its team's new blobs for good.
        ("older app", vec![], b"GWQ\x03\x00\x00\x00".to_vec()),
        (
            "bad gzip",
            vec![("content-encoding", "gzip")],
            b"not gzip at all".to_vec(),
        ),
    ];
    for (name, headers, body) in cases {
        let (status, answer) = relay.post_sync_raw(Some(&token), &headers, body);
        assert_eq!(status, 400, "{name}");
        let message = error_message(&answer);
        assert!(!message.is_empty(), "{name}");
        if name == "older app" {
            assert!(message.contains("update the app"), "{message}");
        }
        assert!(relay.healthy(), "still serving after {name}");
    }
    let (status, answer) = relay.post_sync_raw(
        Some(&token),
        &[("content-encoding", "br")],
        empty_sync_body(),
    );
    assert_eq!(status, 415);
    error_message(&answer);
    // And real work still goes through.
    devices[0]
        .sync(vec![item("doc", "fine")], None)
        .expect("valid sync");
}

#[test]
fn unknown_routes_are_404_and_wrong_methods_405() {
    let relay = Relay::start();
    for path in [
        "/",
        "/v1",
        "/v2/sync",
        "/healthz/extra",
        "/v1/sync/../../etc/passwd",
    ] {
        let resp = relay.get(path);
        assert_eq!(resp.status(), 404, "{path}");
        error_message(&resp.bytes().expect("body"));
    }
    let resp = relay.get("/v1/sync");
    assert_eq!(resp.status(), 405);
    assert!(error_message(&resp.bytes().expect("body")).contains("POST /v1/sync"));
    assert!(relay.healthy());
}

#[test]
fn ids_no_device_or_document_can_have_are_400_on_every_backend() {
    // PostgreSQL's text cannot hold a NUL: without the checks, it answered 500 where SQLite
    // answered an empty page or 404.
    let relay = Relay::start();
    let (_, mut leads) = relay.team_with_leads("Ids", 1);
    let lead = &leads[0];
    for doc_id in ["a\u{0}", "a\u{7}b", " ", ""] {
        let answer = lead.post(
            DOC_CHANGES_PATH,
            &DocChangesRequest {
                doc_id: doc_id.into(),
                after: 0,
                max_bytes: None,
            },
        );
        assert_eq!(answer.status, 400, "{doc_id:?}: {answer:?}");
        assert!(
            answer.error().error.contains("document id"),
            "{doc_id:?}: {answer:?}"
        );
    }
    for path in [REVOKE_PATH, PROMOTE_PATH] {
        for device_id in ["a\u{0}", "a\u{7}b", " ", ""] {
            let answer = lead.post(
                path,
                &DeviceAction {
                    device_id: device_id.into(),
                },
            );
            assert_eq!(answer.status, 400, "{path} {device_id:?}: {answer:?}");
            assert!(
                answer.error().error.contains("device id")
                    && answer.error().error.contains("device list"),
                "{path} {device_id:?}: {answer:?}"
            );
        }
    }
    // A doc-changes request is small JSON, held to the same 16 KiB as the lead's actions.
    let padded = format!(
        "{{\"doc_id\": \"doc\", \"after\": 0, \"padding\": \"{}\"}}",
        "x".repeat(20 * 1024)
    );
    let answer = lead.post(
        DOC_CHANGES_PATH,
        &serde_json::from_str::<serde_json::Value>(&padded).expect("json"),
    );
    assert_eq!(answer.status, 413, "{answer:?}");
    // The relay goes on serving the lead.
    leads[0]
        .sync(vec![item("doc", "still here")], None)
        .expect("sync");
}
