//! A lead sees the team's open invites and cancels one (a link sent to the wrong people, or one
//! never used): nobody joins with it afterwards and the keys it carried leave the relay's files,
//! but for a grace period while a device that joined with it just before may still ask for its
//! lost answer (the lead is told, and revoking that device ends it).
//! Canvassers can do neither, and another team's invites are out of reach.

use groundwork_protocol::{
    CANCEL_INVITE_PATH, CANCELLED_INVITE_GRACE_SECS, CancelInvite, INVITES_PATH, InviteCancelled,
    InviteResponse, OpenInvite, Role, invite_id,
};

use crate::common::{Answer, Device, Param, Relay, db_row, int};
use crate::lost_answers::{ask, chosen_token};
use crate::sealed::{
    assert_keys_gone, join, joined, keyed_invite, keys_with_marker, lead_invite, stored_invite,
};

/// The team's open invites, as `lead` is shown them.
pub(crate) fn open_invites(lead: &Device) -> Vec<OpenInvite> {
    let answer = lead.get(INVITES_PATH);
    assert_eq!(answer.status, 200, "{answer:?}");
    answer.json()
}

/// `lead` cancels the invite `id`.
pub(crate) fn cancel(lead: &Device, id: &str) -> Answer {
    lead.post(CANCEL_INVITE_PATH, &CancelInvite { id: id.to_owned() })
}

/// A sealed team's lead.
pub(crate) fn sealed_lead(relay: &Relay, team: &str) -> Device {
    let (_, first) = relay.team(team);
    joined(relay, &first, "lead", true).0
}

#[test]
fn a_lead_lists_the_open_invites_and_a_cancelled_one_lets_nobody_in_and_forgets_its_keys() {
    let relay = Relay::start();
    let lead = sealed_lead(&relay, "Cancel");
    let (keys_a, marker_a) = keys_with_marker(700);
    let (keys_b, _) = keys_with_marker(500);
    let made = lead_invite(&lead, 3, Role::Canvasser, Some(&keys_a));
    assert_eq!(made.status, 200, "{made:?}");
    let made = made.json::<InviteResponse>();
    let code_a = made.code.clone();
    // The id comes with the invite, and the lead's device can work it out from the code too.
    assert_eq!(made.id, invite_id(&code_a));
    let answer = lead_invite(&lead, 1, Role::Lead, Some(&keys_b));
    assert_eq!(answer.status, 200, "{answer:?}");
    let code_b = answer.json::<InviteResponse>().code;

    // The operator's invite the lead joined with is used up: not listed. (Made in the same
    // second, the two come in either order.)
    let mut open = open_invites(&lead);
    assert_eq!(open.len(), 2, "{open:?}");
    open.sort_by_key(|i| i.role == Role::Lead);
    assert_eq!(open[0].id, invite_id(&code_a));
    assert_eq!(
        (open[0].role, open[0].uses_left, open[0].carries_keys),
        (Role::Canvasser, 3, true)
    );
    assert_eq!(open[0].made_by.as_deref(), Some(lead.device_id.as_str()));
    assert_eq!(
        (open[1].id.clone(), open[1].role),
        (invite_id(&code_b), Role::Lead)
    );
    assert!(open[0].expires_at > open[0].created_at);

    // One device joined with the first before the lead found the link had leaked.
    joined(&relay, &code_a, "Sam's phone", true);
    let uses_left = |lead: &Device, code: &str| {
        open_invites(lead)
            .iter()
            .find(|i| i.id == invite_id(code))
            .map(|i| i.uses_left)
    };
    assert_eq!(uses_left(&lead, &code_a), Some(2));
    let answer = cancel(&lead, &invite_id(&code_a));
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(
        answer.json::<InviteCancelled>(),
        InviteCancelled {
            id: invite_id(&code_a),
            cancelled: true,
            joining: 0,
        }
    );

    // Its keys are gone from the relay's files at once, nobody else joins with it, and it is
    // no longer listed; the other invite is untouched.
    assert_eq!(stored_invite(&relay, &code_a), Some((0, None)));
    assert_keys_gone(&relay, &[marker_a.as_str()]);
    let refused = join(&relay, &code_a, "a stranger", true).expect_err("cancelled");
    assert_eq!(refused.status, 403, "{refused:?}");
    assert!(refused.error().error.contains("cancelled"), "{refused:?}");
    let open = open_invites(&lead);
    assert_eq!(
        open.iter().map(|i| i.id.clone()).collect::<Vec<_>>(),
        [invite_id(&code_b)]
    );
    assert_eq!(stored_invite(&relay, &code_b), Some((1, Some(keys_b))));

    // Asked again (its first answer lost), the cancel changes nothing and says so.
    let again = cancel(&lead, &invite_id(&code_a));
    assert_eq!(again.status, 200, "{again:?}");
    assert!(!again.json::<InviteCancelled>().cancelled);
    // The other still lets its device in.
    let (second_lead, _) = joined(&relay, &code_b, "second lead", true);
    assert_eq!(second_lead.role, Role::Lead);
    assert!(open_invites(&lead).is_empty());
}

#[test]
fn a_device_that_joined_just_before_the_cancel_may_ask_for_its_lost_answer_for_a_while() {
    let relay = Relay::start();
    let lead = sealed_lead(&relay, "Weak signal");
    let (keys, marker) = keys_with_marker(800);
    let code = keyed_invite(&lead, 3, &keys);
    let token = chosen_token();
    let (_, first) = ask(&relay, &code, "Sam's phone", &token).expect("enrols");

    let before = now();
    let answer = cancel(&lead, &invite_id(&code));
    assert_eq!(answer.status, 200, "{answer:?}");
    let done = answer.json::<InviteCancelled>();
    assert!(done.cancelled);
    assert_eq!(
        done.joining, 1,
        "the lead is told a device may still be joining"
    );
    // The answer was lost on the way: asked again, it is the same, keys included, for the
    // grace period only (the invite now expires at its end).
    let (_, again) = ask(&relay, &code, "Sam's phone", &token).expect("answered again");
    assert_eq!(again, first);
    assert_eq!(stored_invite(&relay, &code), Some((0, Some(keys.clone()))));
    let expires = expires_at(&relay, &code);
    assert!(
        expires <= now() + CANCELLED_INVITE_GRACE_SECS && expires >= before,
        "expires {expires}, now {}",
        now()
    );
    // Nobody else gets in with it.
    let other = ask(&relay, &code, "a stranger", &chosen_token()).expect_err("cancelled");
    assert_eq!(other.status, 403, "{other:?}");
    // Once the device uses its token, the keys kept for it leave the relay.
    let mut phone = relay.device(&first.team_id, &first.device_id, &token);
    phone.sync(Vec::new(), None).expect("the token works");
    assert_eq!(stored_invite(&relay, &code), Some((0, None)));
    assert_keys_gone(&relay, &[marker.as_str()]);

    // The operator's case: a first lead's single-use code used by the wrong person, who keeps
    // quiet. Cancelled, it was no longer open, but that device's time to finish is cut short.
    let (team, first_code) = relay.team("Wrong person");
    ask(&relay, &first_code, "wrong person", &chosen_token()).expect("enrols");
    let out: serde_json::Value =
        serde_json::from_str(&relay.op_ok(&["invite", "cancel", "--team", &team, &first_code]))
            .expect("JSON");
    assert_eq!(
        (out["cancelled"].clone(), out["joining"].clone()),
        (false.into(), 1.into())
    );
    assert!(expires_at(&relay, &first_code) <= now() + CANCELLED_INVITE_GRACE_SECS);

    // A device the lead does not know, joined through a leaked link and keeping quiet, is
    // revoked: the keys kept for it go at once.
    let (keys, marker) = keys_with_marker(800);
    let code = keyed_invite(&lead, 3, &keys);
    let (_, stranger) = ask(&relay, &code, "a stranger", &chosen_token()).expect("enrols");
    assert_eq!(
        cancel(&lead, &invite_id(&code))
            .json::<InviteCancelled>()
            .joining,
        1
    );
    assert_eq!(stored_invite(&relay, &code), Some((0, Some(keys))));
    let revoked = lead.post(
        groundwork_protocol::REVOKE_PATH,
        &groundwork_protocol::DeviceAction {
            device_id: stranger.device_id,
        },
    );
    assert_eq!(revoked.status, 200, "{revoked:?}");
    assert_eq!(stored_invite(&relay, &code), Some((0, None)));
    assert_keys_gone(&relay, &[marker.as_str()]);
}

/// The invite's expiry as the relay stores it (Unix seconds).
fn expires_at(relay: &Relay, code: &str) -> i64 {
    let hash = sync_server::secrets::hash_invite(code);
    let row = db_row(
        &relay.data_dir,
        "SELECT CAST(expires_at AS TEXT) FROM invites WHERE hash = $1",
        Param::Bytes(&hash[..]),
    )
    .expect("the invite's row");
    int(&row[0])
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[test]
fn canvassers_cannot_list_or_cancel_invites_and_other_teams_invites_are_out_of_reach() {
    let relay = Relay::start();
    let lead = sealed_lead(&relay, "Ours");
    let (keys, _) = keys_with_marker(400);
    let code = keyed_invite(&lead, 2, &keys);
    let (canvasser, _) = joined(&relay, &code, "canvasser", true);
    let other_lead = sealed_lead(&relay, "Theirs");

    let listed = canvasser.get(INVITES_PATH);
    assert_eq!(listed.status, 403, "{listed:?}");
    assert_eq!(listed.error().code.as_deref(), Some("lead_only"));
    let refused = cancel(&canvasser, &invite_id(&code));
    assert_eq!(refused.status, 403, "{refused:?}");
    assert_eq!(refused.error().code.as_deref(), Some("lead_only"));

    // Another team's lead sees only its own and cannot cancel ours: to it they do not exist.
    let (theirs_keys, _) = keys_with_marker(300);
    let theirs = keyed_invite(&other_lead, 1, &theirs_keys);
    let listed: Vec<String> = open_invites(&other_lead)
        .into_iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(listed, [invite_id(&theirs)]);
    assert!(
        !open_invites(&lead)
            .iter()
            .any(|i| i.id == invite_id(&theirs))
    );
    let foreign = cancel(&other_lead, &invite_id(&code));
    assert_eq!(foreign.status, 404, "{foreign:?}");
    assert!(
        foreign.error().error.contains("open invites"),
        "{foreign:?}"
    );
    assert_eq!(stored_invite(&relay, &code), Some((1, Some(keys))));

    // Ids not spelled as the relay lists them, and bodies that are not the request.
    for bad in [
        "",
        "ABCDEF0123456789",
        "abcdef012345678",
        "abcdef01234567890",
        "zzzzzzzzzzzzzzzz",
    ] {
        let answer = cancel(&lead, bad);
        assert_eq!(answer.status, 400, "{bad:?}: {answer:?}");
        assert!(
            answer.error().error.contains("16 lowercase hexadecimal"),
            "{answer:?}"
        );
    }
    let answer = lead.post(CANCEL_INVITE_PATH, &serde_json::json!({"code": "abcd"}));
    assert_eq!(answer.status, 400, "{answer:?}");
    let answer = lead.post_raw(CANCEL_INVITE_PATH, "text/plain", b"{}".to_vec());
    assert_eq!(answer.status, 415, "{answer:?}");
    // A code's id never made is unknown.
    let unknown = cancel(&lead, &invite_id("never-made"));
    assert_eq!(unknown.status, 404, "{unknown:?}");
    // Still the invite works.
    joined(&relay, &code, "second canvasser", true);

    // A lead revoked by another lead can no longer cancel anything.
    let (a, b) = crate::sealed::two_leads(&relay, "Two leads");
    let (keys, _) = keys_with_marker(300);
    let code = keyed_invite(&a, 1, &keys);
    let revoked = b.post(
        groundwork_protocol::REVOKE_PATH,
        &groundwork_protocol::DeviceAction {
            device_id: a.device_id.clone(),
        },
    );
    assert_eq!(revoked.status, 200, "{revoked:?}");
    let answer = cancel(&a, &invite_id(&code));
    assert_eq!(answer.status, 403, "{answer:?}");
    assert_eq!(answer.error().code.as_deref(), Some("revoked"));
}

#[test]
fn the_operator_lists_and_cancels_a_teams_invites_on_the_relays_machine() {
    let relay = Relay::start();
    let (team, first) = relay.team("Operator");
    // The first lead's code went to the wrong person: the operator cancels it by the code.
    let listed: serde_json::Value =
        serde_json::from_str(&relay.op_ok(&["invite", "list", "--team", &team])).expect("JSON");
    let listed = listed.as_array().expect("a list");
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["id"], invite_id(&first).as_str());
    assert_eq!(listed[0]["role"], "lead");
    assert_eq!(listed[0]["made_by"], serde_json::Value::Null);
    let out: serde_json::Value =
        serde_json::from_str(&relay.op_ok(&["invite", "cancel", "--team", &team, &first]))
            .expect("JSON");
    assert_eq!(out["cancelled"], true, "{out}");
    assert_eq!(out["id"], invite_id(&first).as_str());
    let refused = join(&relay, &first, "the wrong person", true).expect_err("cancelled");
    assert_eq!(refused.status, 403, "{refused:?}");
    assert!(relay.op_ok(&["invite", "list", "--team", &team]).trim() == "[]");

    // A new lead's invite lets the right person in; by its id, cancelling again does nothing.
    let code = relay
        .op_ok(&["invite", "create", "--team", &team, "--lead"])
        .lines()
        .next()
        .expect("the code")
        .to_owned();
    let (lead, _) = joined(&relay, &code, "the right lead", true);
    assert_eq!(lead.role, Role::Lead);
    let again: serde_json::Value = serde_json::from_str(&relay.op_ok(&[
        "invite",
        "cancel",
        "--team",
        &team,
        &invite_id(&first).to_uppercase(),
    ]))
    .expect("JSON");
    assert_eq!(again["cancelled"], false, "{again}");

    // What names no invite, another team's invite and an unknown team are refused.
    let (_, other_first) = relay.team("Another");
    for (args, said) in [
        (
            vec!["invite", "cancel", "--team", &team, "first"],
            "not an invite",
        ),
        (
            vec!["invite", "cancel", "--team", &team, &other_first],
            "no invite of this team",
        ),
        (
            vec!["invite", "list", "--team", "no-such-team"],
            "no team has the id",
        ),
    ] {
        let out = relay.op(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}");
        assert!(err.contains(said), "{args:?}: {err}");
    }
    // The other team's invite is untouched.
    joined(&relay, &other_first, "their lead", true);
}
