//! Enrolment with invites: single- and multi-use, expiry, unknown codes, bad names.

use crate::common::{Relay, error_message};

#[test]
fn single_use_invite_enrols_once() {
    let relay = Relay::start();
    let (team, invite) = relay.team("Riverside");
    let device = relay
        .enrol(&invite, "Sam's phone")
        .expect("first use enrols");
    assert_eq!(device.team_id, team);
    assert!(device.token.len() >= 32, "token carries at least 128 bits");
    let (status, message) = relay
        .enrol(&invite, "Alex's phone")
        .expect_err("second use fails");
    assert_eq!(status, 403);
    assert!(message.contains("already been used"), "{message}");
}

#[test]
fn multi_use_invite_enrols_up_to_its_uses() {
    let relay = Relay::start();
    let (team, _) = relay.team("Eastside");
    let invite = relay.invite(&team, &["--uses", "3"]);
    let mut ids = Vec::new();
    for i in 0..3 {
        let d = relay.enrol(&invite, &format!("phone {i}")).expect("enrols");
        ids.push(d.device_id);
    }
    ids.dedup();
    assert_eq!(ids.len(), 3, "each device gets its own id");
    let (status, _) = relay
        .enrol(&invite, "phone 4")
        .expect_err("fourth use fails");
    assert_eq!(status, 403);
}

#[test]
fn expired_invite_fails() {
    let relay = Relay::start();
    let (team, _) = relay.team("Northside");
    let invite = relay.invite(&team, &["--expires-in", "1s"]);
    std::thread::sleep(std::time::Duration::from_millis(2_100));
    let (status, message) = relay.enrol(&invite, "late phone").expect_err("expired");
    assert_eq!(status, 403);
    assert!(message.contains("expired"), "{message}");
}

#[test]
fn unknown_invite_is_401_and_typing_is_forgiven() {
    let relay = Relay::start();
    let (_, invite) = relay.team("Southside");
    let (status, message) = relay
        .enrol("aaaa-bbbb-cccc-dddd", "phone")
        .expect_err("unknown invite");
    assert_eq!(status, 401);
    assert!(message.contains("not recognised"), "{message}");
    let typed = format!("  {}  ", invite.to_uppercase().replace('-', " "));
    relay
        .enrol(&typed, "phone")
        .expect("same code, typed loosely");
}

#[test]
fn bad_enrolment_bodies_are_400() {
    let relay = Relay::start();
    let (_, invite) = relay.team("Westside");
    let (status, _) = relay.enrol(&invite, "   ").expect_err("blank name");
    assert_eq!(status, 400);
    let (status, _) = relay
        .enrol(&invite, &"x".repeat(500))
        .expect_err("long name");
    assert_eq!(status, 400);
    let resp = reqwest::blocking::Client::new()
        .post(format!("{}/v1/enrol", relay.url))
        .header("content-type", "application/json")
        .body("{\"invite\": 42}")
        .send()
        .expect("POST");
    assert_eq!(resp.status(), 400);
    let message = error_message(&resp.bytes().expect("body"));
    assert!(message.contains("device_name"), "{message}");
    // The invite was not used up by the failed attempts.
    relay.enrol(&invite, "phone").expect("still valid");
}
