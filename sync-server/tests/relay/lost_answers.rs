//! An enrolment asked again after its answer was lost: a device that chose its own token asks
//! with the same invite and token, and gets the same enrolment (device, team, role, sealed
//! keys) without a second use of the invite, until it first uses the token; nothing else can
//! ask with that token, and the keys kept for the repeat leave the relay once no device can ask.

use groundwork_protocol::{
    DEVICES_PATH, DeviceAction, EnrolRequest, EnrolResponse, REVOKE_PATH, TeamDevice,
};

use crate::common::{Answer, Device, Relay};
use crate::sealed::{
    assert_keys_gone, joined, keyed_invite, keys_with_marker, stored_invite, two_leads,
};

/// A token as a device chooses it: the prefix and 32 random bytes in lowercase hex.
pub(crate) fn chosen_token() -> String {
    format!(
        "gwt_{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// Enrols with `invite` and the device's own `token`, sealing.
pub(crate) fn ask(
    relay: &Relay,
    invite: &str,
    name: &str,
    token: &str,
) -> Result<(Device, EnrolResponse), Box<Answer>> {
    relay.enrol_with(&EnrolRequest {
        invite: invite.into(),
        device_name: name.into(),
        actor: None,
        sealing: true,
        token: Some(token.into()),
        holds_secret: None,
    })
}

/// A sealed team's lead, and its single-use canvasser invite carrying keys with a marker.
fn lead_and_invite(relay: &Relay) -> (Device, String, String, String) {
    let (_, first) = relay.team("Weak signal");
    let (lead, _) = joined(relay, &first, "lead", true);
    let (keys, marker) = keys_with_marker(900);
    let code = keyed_invite(&lead, 1, &keys);
    (lead, code, keys, marker)
}

/// The names of the team's devices, as its lead sees them.
fn device_names(lead: &Device) -> Vec<String> {
    let answer = lead.get(DEVICES_PATH);
    assert_eq!(answer.status, 200, "{answer:?}");
    let mut names: Vec<String> = answer
        .json::<Vec<TeamDevice>>()
        .into_iter()
        .map(|d| d.name)
        .collect();
    names.sort();
    names
}

#[test]
fn an_enrolment_asked_again_with_its_token_gets_the_same_answer_without_a_second_use() {
    let relay = Relay::start();
    let (lead, code, keys, marker) = lead_and_invite(&relay);
    let token = chosen_token();

    let (_, first) = ask(&relay, &code, "Sam's phone", &token).expect("enrols");
    assert_eq!(
        first.token, token,
        "the relay keeps the token the device chose"
    );
    assert_eq!(first.sealed_keys.as_deref(), Some(keys.as_str()));
    // The answer was lost: the device asks again, twice, with the same invite and token.
    for _ in 0..2 {
        let (_, again) = ask(&relay, &code, "Sam's phone", &token).expect("answered again");
        assert_eq!(again, first, "the same enrolment, keys included");
    }
    assert_eq!(
        stored_invite(&relay, &code),
        Some((0, Some(keys.clone()))),
        "one use taken; the keys kept while the device may still ask"
    );
    assert_eq!(
        device_names(&lead),
        ["Sam's phone", "lead"],
        "one device, not three"
    );

    // Anyone else with the code is refused: the invite's one use is spent.
    let other = ask(&relay, &code, "someone else", &chosen_token()).expect_err("used up");
    assert_eq!(other.status, 403, "{other:?}");
    assert!(
        other.error().error.contains("already been used"),
        "{other:?}"
    );

    // The device uses its token: from then on its enrolment is not answered again, and the
    // keys kept for it leave the relay.
    let mut phone = relay.device(&first.team_id, &first.device_id, &token);
    phone.sync(Vec::new(), None).expect("the token works");
    assert_eq!(stored_invite(&relay, &code), Some((0, None)));
    assert_keys_gone(&relay, &[marker.as_str()]);
    let late = ask(&relay, &code, "Sam's phone", &token).expect_err("token used");
    assert_eq!(late.status, 409, "{late:?}");
    assert!(late.error().error.contains("join again"), "{late:?}");
    assert_eq!(device_names(&lead), ["Sam's phone", "lead"]);
}

#[test]
fn a_token_cannot_be_asked_again_with_another_invite_or_after_a_revocation() {
    let relay = Relay::start();
    let (lead, code, keys, marker) = lead_and_invite(&relay);
    let token = chosen_token();
    let (_, first) = ask(&relay, &code, "Sam's phone", &token).expect("enrols");

    // Another invite with the same token enrols nothing and keeps its use.
    let (other_keys, _) = keys_with_marker(300);
    let other = keyed_invite(&lead, 1, &other_keys);
    let refused = ask(&relay, &other, "Sam's phone", &token).expect_err("token taken");
    assert_eq!(refused.status, 409, "{refused:?}");
    assert_eq!(stored_invite(&relay, &other), Some((1, Some(other_keys))));

    // The lead revokes the device before it ever synced: it cannot ask again, and the keys
    // kept for it go.
    assert_eq!(stored_invite(&relay, &code), Some((0, Some(keys))));
    let revoked = lead.post(
        REVOKE_PATH,
        &DeviceAction {
            device_id: first.device_id.clone(),
        },
    );
    assert_eq!(revoked.status, 200, "{revoked:?}");
    assert_eq!(stored_invite(&relay, &code), Some((0, None)));
    assert_keys_gone(&relay, &[marker.as_str()]);
    let after = ask(&relay, &code, "Sam's phone", &token).expect_err("revoked");
    assert_eq!(after.status, 409, "{after:?}");
}

#[test]
fn an_older_apps_last_use_keeps_the_keys_a_device_may_still_ask_for() {
    let relay = Relay::start();
    let (_, first) = relay.team("Two phones");
    let (lead, _) = joined(&relay, &first, "lead", true);
    let (keys, marker) = keys_with_marker(500);
    let code = keyed_invite(&lead, 2, &keys);
    let token = chosen_token();
    let (_, asked) = ask(&relay, &code, "new app", &token).expect("enrols");
    // The invite's last use, by an app that lets the relay choose its token.
    let (_, older) = joined(&relay, &code, "older app", true);
    assert_eq!(older.sealed_keys.as_deref(), Some(keys.as_str()));
    assert_eq!(stored_invite(&relay, &code), Some((0, Some(keys.clone()))));
    let (_, again) = ask(&relay, &code, "new app", &token).expect("answered again");
    assert_eq!(again, asked);
    relay
        .device(&asked.team_id, &asked.device_id, &token)
        .sync(Vec::new(), None)
        .expect("the token works");
    assert_eq!(stored_invite(&relay, &code), Some((0, None)));
    assert_keys_gone(&relay, &[marker.as_str()]);
}

#[test]
fn a_token_not_of_the_relays_form_is_refused() {
    let relay = Relay::start();
    let (_, code, _, _) = lead_and_invite(&relay);
    let good = chosen_token();
    for bad in [
        "gwt_abc".to_string(),
        format!("gwt_{}", good["gwt_".len()..].to_uppercase()),
        good.replacen("gwt_", "xyz_", 1),
        format!("{good}0"),
        String::new(),
    ] {
        let refused = ask(&relay, &code, "phone", &bad).expect_err("malformed");
        assert_eq!(refused.status, 400, "{bad:?}: {refused:?}");
        assert!(refused.error().error.contains("token"), "{refused:?}");
    }
    assert!(stored_invite(&relay, &code).is_some_and(|(uses, _)| uses == 1));
}

#[test]
fn revoking_the_invites_maker_forgets_the_keys_kept_for_an_enrolment_asked_again() {
    let relay = Relay::start();
    let (a, b) = two_leads(&relay, "Lost lead");
    let (keys, marker) = keys_with_marker(700);
    let code = keyed_invite(&a, 1, &keys);
    let token = chosen_token();
    ask(&relay, &code, "phone", &token).expect("enrols");
    assert_eq!(stored_invite(&relay, &code), Some((0, Some(keys))));

    // Lead A's phone is lost: B revokes it. What A's invites kept goes with it.
    let revoked = b.post(
        REVOKE_PATH,
        &DeviceAction {
            device_id: a.device_id.clone(),
        },
    );
    assert_eq!(revoked.status, 200, "{revoked:?}");
    assert_eq!(stored_invite(&relay, &code), Some((0, None)));
    assert_keys_gone(&relay, &[marker.as_str()]);
    let refused = ask(&relay, &code, "phone", &token).expect_err("its maker is revoked");
    assert_eq!(refused.status, 401, "{refused:?}");
}
