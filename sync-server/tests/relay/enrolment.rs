//! Enrolment with invites: single- and multi-use, expiry, unknown codes, bad names; how many
//! invites a team keeps, and for how long.

use groundwork_protocol::Role;
use sync_server::secrets::{hash_invite, hash_token};
use sync_server::store::{
    DEAD_INVITE_KEPT_SECS, NewDevice, NewInvite, PostgresStore, SqliteStore, Store, StoreError,
};

use crate::common::{Relay, database_url, error_message};

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
    let (team, first) = relay.team("Eastside");
    relay.enrol(&first, "Lead").expect("the lead enrols");
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

/// A name with an invisible character (a zero-width space, a byte order mark, a tag) is
/// refused, and spaces of any kind are one plain space: a device cannot take a name that looks
/// like another's in the lead's list of devices (to have the wrong phone revoked).
#[test]
fn a_device_cannot_take_a_name_that_only_looks_like_another() {
    let relay = Relay::start();
    let (team, first) = relay.team("Look-alikes");
    let lead = relay.enrol(&first, "Lead's phone").expect("the lead");
    let invite = relay.invite(&team, &["--uses", "5"]);
    for name in [
        "Sam's\u{200B} phone",
        "\u{FEFF}Sam's phone",
        "Sam's phone\u{E0041}",
        "Sam\u{2060}'s phone",
    ] {
        let (status, message) = relay.enrol(&invite, name).expect_err(name);
        assert_eq!(status, 400, "{name:?}");
        assert!(message.contains("invisible"), "{message}");
    }
    relay
        .enrol(&invite, "\u{00A0}Sam's\u{2003}\u{00A0} phone\n")
        .expect("spaces of other kinds");
    let names: Vec<String> = lead
        .get("/v1/devices")
        .json::<Vec<groundwork_protocol::TeamDevice>>()
        .into_iter()
        .map(|d| d.name)
        .collect();
    assert!(names.contains(&"Sam's phone".to_string()), "{names:?}");
}

/// The store itself, on the suite's database, at `now`s the test chooses (a relay process keeps
/// its own clock): a team keeps a bounded number of invites, and forgets those expired more
/// than [`DEAD_INVITE_KEPT_SECS`] ago, but for one a device may still ask its enrolment again of.
#[test]
fn a_team_keeps_a_bounded_number_of_invites_and_forgets_long_expired_ones() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    // A quota of 128 KiB: 64 invites a team (the least there is).
    let quota = 128 << 10;
    let store: Box<dyn Store> = match database_url(&data) {
        Some(url) => Box::new(
            PostgresStore::open(&url, 2)
                .expect("open")
                .with_max_team_bytes(quota),
        ),
        None => Box::new(
            SqliteStore::open(&data)
                .expect("open")
                .with_max_team_bytes(quota),
        ),
    };
    let invite = |code: &str, expires_at: i64| NewInvite {
        code_hash: hash_invite(code),
        uses: 1,
        expires_at,
        role: Role::Canvasser,
        sealed_keys: None,
        key_parts: Vec::new(),
    };
    let joining = |code: &str, token: &str| NewDevice {
        invite_hash: hash_invite(code),
        device_id: token.to_owned(),
        name: token.to_owned(),
        token_hash: hash_token(token),
        actor: None,
        sealing: false,
        chosen_token: false,
        lacks_secret: false,
    };
    let team = store.create_team("Team", 1).expect("team");
    let first_lead = NewInvite {
        role: Role::Lead,
        ..invite("first-lead", i64::MAX)
    };
    store.create_invite(&team, &first_lead, 1).expect("invite");
    store
        .enrol(&joining("first-lead", "lead"), 2)
        .expect("enrols");
    let lead = store
        .authenticate(&hash_token("lead"))
        .expect("reads")
        .expect("the lead's token");

    // 63 more invites (the lead's spent one is the first): 61 that last, 2 that expire.
    for i in 0..60 {
        let code = format!("long-lived-{i}");
        store
            .lead_invite(&lead, &invite(&code, i64::MAX), 10)
            .expect("invite");
    }
    for code in ["short", "kept"] {
        store
            .lead_invite(&lead, &invite(code, 100), 10)
            .expect("invite");
    }
    // A device chose its token and enrolled with "kept": it may ask that enrolment again.
    let asks_again = NewDevice {
        chosen_token: true,
        ..joining("kept", "phone")
    };
    store.enrol(&asks_again, 11).expect("enrols");
    store
        .lead_invite(&lead, &invite("b", i64::MAX), 12)
        .expect("invite");
    let full = |now| store.lead_invite(&lead, &invite("c", i64::MAX), now);
    assert!(matches!(
        full(13),
        Err(StoreError::TooManyInvites { limit: 64 })
    ));

    // An expired invite is kept a while, so that a late joiner is told it expired.
    let forgotten_at = 100 + DEAD_INVITE_KEPT_SECS;
    assert!(matches!(
        full(forgotten_at - 1),
        Err(StoreError::TooManyInvites { .. })
    ));
    assert!(matches!(
        store.enrol(&joining("short", "late"), forgotten_at - 1),
        Err(StoreError::InviteExpired)
    ));
    // Then forgotten, but for the one a device may still ask its enrolment again of.
    full(forgotten_at).expect("room once the long-expired invite is forgotten");
    assert!(matches!(
        store.enrol(&joining("short", "later"), forgotten_at + 1),
        Err(StoreError::UnknownInvite)
    ));
    assert!(
        matches!(
            store.enrol(&joining("kept", "later"), forgotten_at + 1),
            Err(StoreError::InviteUsedUp)
        ),
        "the invite a device enrolled with by a token of its choosing is still kept"
    );
    assert!(matches!(
        store.lead_invite(&lead, &invite("d", i64::MAX), forgotten_at + 2),
        Err(StoreError::TooManyInvites { .. })
    ));
    assert!(
        matches!(
            store.enrol(&joining("d", "nobody"), forgotten_at + 3),
            Err(StoreError::UnknownInvite)
        ),
        "nothing of a refused invite is kept"
    );
}
