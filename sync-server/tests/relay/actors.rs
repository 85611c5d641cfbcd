//! Who wrote what: each device declares the Automerge actor its changes carry, no other active
//! device of the team may declare it, and every change served names the device that pushed it.
//! Plus the per-document fetch devices use to repair a document.

use groundwork_protocol::{
    DOC_CHANGES_PATH, DocChangesRequest, ENROL_PATH, EnrolRequest, EnrolResponse, SyncRequest,
    SyncResponse, decode_sync_response,
};
use reqwest::header;

use crate::common::{Relay, error_message, gunzip, http_client, item};

/// Enrols with a declared actor (hex); the status and token or error message.
fn enrol_as(relay: &Relay, invite: &str, name: &str, actor: &str) -> Result<String, (u16, String)> {
    let req = EnrolRequest {
        invite: invite.into(),
        device_name: name.into(),
        actor: Some(actor.into()),
        sealing: false,
        token: None,
        holds_secret: None,
    };
    let resp = http_client()
        .post(format!("{}{ENROL_PATH}", relay.url))
        .header(header::CONTENT_TYPE, "application/json")
        .body(serde_json::to_vec(&req).expect("json"))
        .send()
        .expect("POST enrol");
    let status = resp.status().as_u16();
    let bytes = resp.bytes().expect("body");
    if status == 200 {
        let e: EnrolResponse = serde_json::from_slice(&bytes).expect("EnrolResponse");
        Ok(e.token)
    } else {
        Err((status, error_message(&bytes)))
    }
}

/// One document's changes after `after`, as `token`.
fn doc_changes(
    relay: &Relay,
    token: Option<&str>,
    body: &[u8],
    after: u64,
) -> Result<SyncResponse, (u16, String)> {
    let mut req = http_client()
        .post(format!("{}{DOC_CHANGES_PATH}", relay.url))
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT_ENCODING, "gzip")
        .body(body.to_vec());
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let resp = req.send().expect("POST doc-changes");
    let status = resp.status().as_u16();
    let gzipped = resp
        .headers()
        .get(header::CONTENT_ENCODING)
        .is_some_and(|v| v == "gzip");
    let bytes = resp.bytes().expect("body").to_vec();
    if status != 200 {
        return Err((status, error_message(&bytes)));
    }
    let body = if gzipped { gunzip(&bytes) } else { bytes };
    let as_sync = SyncRequest {
        since: after,
        ..SyncRequest::default()
    };
    Ok(decode_sync_response(&body, &as_sync).expect("valid answer"))
}

fn ask(doc: &str, after: u64, max_bytes: Option<u64>) -> Vec<u8> {
    serde_json::to_vec(&DocChangesRequest {
        doc_id: doc.into(),
        after,
        max_bytes,
    })
    .expect("json")
}

#[test]
fn pulled_changes_name_the_device_that_pushed_them() {
    let relay = Relay::start();
    // Leads: the device list is theirs.
    let (_, mut devices) = relay.team_with_leads("Actors", 3);
    let pushed = item("doc-1", "from device 0");
    devices[0].sync(vec![pushed.clone()], None).expect("push");
    devices[1]
        .sync(vec![item("doc-2", "from device 1")], None)
        .expect("push");
    let resp = devices[2].sync(Vec::new(), None).expect("pull");
    assert_eq!(resp.changes.len(), 2);
    for (change, device) in resp.changes.iter().zip([&devices[0], &devices[1]]) {
        let pusher = &resp.pushers[change.pusher];
        assert_eq!(pusher.actor, device.actor, "the actor the pusher declared");
    }
    assert_ne!(
        resp.pushers[resp.changes[0].pusher],
        resp.pushers[resp.changes[1].pusher]
    );
    // The device list shows each device's actor.
    let (status, body) = relay.http_get_with_token("/v1/devices", &devices[0].token);
    assert_eq!(status, 200);
    let list: serde_json::Value = serde_json::from_str(&body).expect("json");
    let hex: String = devices[0]
        .actor
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert!(
        list.as_array()
            .expect("array")
            .iter()
            .any(|d| d["actor"] == hex.as_str())
    );
}

#[test]
fn no_device_may_declare_another_devices_actor() {
    let relay = Relay::start();
    let (team, mut devices) = relay.team_with_devices("Actors", 2);
    devices[0]
        .sync(Vec::new(), None)
        .expect("declares its actor");
    // Another device declaring it: refused, for a push and for a pull.
    let stolen = devices[0].actor.clone();
    let honest = std::mem::replace(&mut devices[1].actor, stolen.clone());
    let (status, message) = devices[1]
        .sync(vec![item("doc", "as someone else")], None)
        .expect_err("taken");
    assert_eq!(status, 409, "{message}");
    assert!(message.contains("already writes"), "{message}");
    let (status, _) = devices[1].sync(Vec::new(), None).expect_err("taken");
    assert_eq!(status, 409);
    // Its own actor works; then it may not change it.
    devices[1].actor = honest;
    devices[1].sync(Vec::new(), None).expect("its own actor");
    devices[1].actor = vec![9; 16];
    let (status, message) = devices[1].sync(Vec::new(), None).expect_err("changed");
    assert_eq!(status, 409);
    assert!(message.contains("join again"), "{message}");
    // A push must declare an actor at all.
    devices[0].actor = Vec::new();
    let (status, message) = devices[0]
        .sync(vec![item("doc", "anonymous")], None)
        .expect_err("no actor");
    assert_eq!(status, 400);
    assert!(message.contains("actor"), "{message}");

    // Enrolment with an actor already held in the team: refused, and the invite is not used up.
    let invite = relay.invite(&team, &["--uses", "1"]);
    let hex: String = stolen.iter().map(|b| format!("{b:02x}")).collect();
    let (status, _) = enrol_as(&relay, &invite, "Copy", &hex).expect_err("taken");
    assert_eq!(status, 409);
    assert!(enrol_as(&relay, &invite, "Fresh", "00112233445566778899aabbccddeeff").is_ok());
    // Nonsense actors are refused.
    let other = relay.invite(&team, &[]);
    let (status, _) = enrol_as(&relay, &other, "Odd", "xyz").expect_err("not hex");
    assert_eq!(status, 400);
    // Once the holder is revoked, its actor is still its own: a notebook that joins again takes
    // a new one (see `a_revoked_devices_actor_passes_to_no_other_device`).
    relay.op_ok(&["device", "revoke", &devices[0].device_id]);
    let (status, _) = enrol_as(&relay, &other, "Rejoined", &hex).expect_err("taken");
    assert_eq!(status, 409);
}

#[test]
fn a_revoked_devices_actor_passes_to_no_other_device() {
    let relay = Relay::start();
    let (team, mut devices) = relay.team_with_devices("Actors", 2);
    devices[0]
        .sync(vec![item("doc", "written as A")], None)
        .expect("push as A");
    let a = devices[0].actor.clone();
    relay.op_ok(&["device", "revoke", &devices[0].device_id]);

    // A device that has declared no actor yet cannot take A, to pull or to push.
    let own = std::mem::replace(&mut devices[1].actor, a.clone());
    let (status, message) = devices[1].sync(Vec::new(), None).expect_err("A was held");
    assert_eq!(status, 409, "{message}");
    assert!(
        message.contains("already writes") && message.contains("join again"),
        "{message}"
    );
    let (status, _) = devices[1]
        .sync(vec![item("doc", "as the revoked device")], None)
        .expect_err("A was held");
    assert_eq!(status, 409);
    // Its own actor is still free.
    devices[1].actor = own;
    devices[1].sync(Vec::new(), None).expect("its own actor");

    // Nor can a device enrol as A; the refusal uses nothing of the invite.
    let invite = relay.invite(&team, &["--uses", "1"]);
    let hex: String = a.iter().map(|b| format!("{b:02x}")).collect();
    let (status, message) = enrol_as(&relay, &invite, "Copy", &hex).expect_err("A was held");
    assert_eq!(status, 409, "{message}");
    assert!(enrol_as(&relay, &invite, "Fresh", "00112233445566778899aabbccddeeff").is_ok());
}

#[test]
fn a_documents_changes_can_be_asked_for_again() {
    let relay = Relay::start();
    let (_, mut devices) = relay.team_with_devices("Repair", 2);
    let mine: Vec<_> = (0..5)
        .map(|i| item("doc-a", &format!("change {i} {}", "x".repeat(200))))
        .collect();
    devices[0].sync(mine.clone(), None).expect("push");
    devices[1]
        .sync(
            vec![item("doc-b", "other document"), item("doc-a", "from b")],
            None,
        )
        .expect("push");
    // Every device's changes of the document, the caller's own included, in log order, paged.
    let token = devices[0].token.clone();
    let mut got = Vec::new();
    let mut after = 0;
    loop {
        let resp = doc_changes(&relay, Some(&token), &ask("doc-a", after, Some(300)), after)
            .expect("doc changes");
        assert!(resp.changes.iter().all(|c| c.doc_id == "doc-a"));
        got.extend(resp.changes.iter().map(|c| c.blob.clone()));
        if !resp.more {
            break;
        }
        assert!(resp.cursor > after);
        after = resp.cursor;
    }
    let mut expected: Vec<Vec<u8>> = mine.iter().map(|p| p.blob.clone()).collect();
    expected.push(b"from b".to_vec());
    assert_eq!(got, expected);
    // Another team sees nothing of it; no token, a bad body and a bad id are refused.
    let (_, others) = relay.team_with_devices("Elsewhere", 1);
    let resp = doc_changes(&relay, Some(&others[0].token), &ask("doc-a", 0, None), 0).expect("ok");
    assert!(resp.changes.is_empty());
    let (status, _) = doc_changes(&relay, None, &ask("doc-a", 0, None), 0).expect_err("no token");
    assert_eq!(status, 401);
    let (status, _) = doc_changes(&relay, Some(&token), b"{", 0).expect_err("bad json");
    assert_eq!(status, 400);
    let (status, _) =
        doc_changes(&relay, Some(&token), &ask("", 0, None), 0).expect_err("empty id");
    assert_eq!(status, 400);
    // A position past the team's log (a relay restored from a backup, or a client's mistake)
    // is said, as a sync's is, rather than answered with an empty page.
    for past in [8, u64::MAX >> 1, u64::MAX] {
        let (status, message) = doc_changes(&relay, Some(&token), &ask("doc-a", past, None), past)
            .expect_err("past the log");
        assert_eq!(status, 400, "{past}: {message}");
        assert!(message.contains("ahead of the relay"), "{message}");
    }
    doc_changes(&relay, Some(&token), &ask("doc-a", 7, None), 7).expect("at the head is fine");
}
