//! A lead's invite asked for again after its answer was lost: the lead's device chooses the
//! code, and the same request (the same code, by the same lead, for the same role) is answered
//! with the invite it made, writing nothing; its parts of keys, taken the first time, are not
//! looked for again. A code the relay holds for another team, lead or role, and an invite used
//! up or cancelled since, are refused and make nothing.

use groundwork_protocol::{
    INVITE_FROM_PARTS_PATH, INVITE_KEYS_PATH, INVITES_PATH, InviteKeysPart, InviteKeysPartAnswer,
    InviteRequest, InviteResponse, Role, invite_code, invite_id,
};

use crate::common::{Answer, Device, Relay};
use crate::invite_cancel::{cancel, open_invites, sealed_lead};
use crate::sealed::{joined, keys_with_marker, stored_invite, two_leads};

/// A code as a lead's device chooses it: 20 random bytes.
fn chosen_code() -> String {
    let mut random = [0u8; 20];
    random[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    random[16..].copy_from_slice(&uuid::Uuid::new_v4().as_bytes()[..4]);
    invite_code(&random)
}

/// `lead` asks at `path` for an invite of `role` and `uses` with `code`, its keys `keys` after
/// the parts `parts`.
fn ask(
    lead: &Device,
    path: &str,
    (role, uses): (Role, u32),
    code: &str,
    keys: Option<&str>,
    parts: &[String],
) -> Answer {
    lead.post(
        path,
        &InviteRequest {
            uses,
            expires_in_secs: 3600,
            role,
            sealed_keys: keys.map(str::to_owned),
            key_parts: parts.to_vec(),
            code: Some(code.to_owned()),
        },
    )
}

/// [`ask`] at the route for an invite with its keys whole, which must answer.
fn made(lead: &Device, role: Role, uses: u32, code: &str, keys: &str) -> InviteResponse {
    let answer = ask(lead, INVITES_PATH, (role, uses), code, Some(keys), &[]);
    assert_eq!(answer.status, 200, "{answer:?}");
    answer.json()
}

/// A refusal with `status` whose message holds `words`.
fn assert_refused(answer: &Answer, status: u16, words: &str) {
    assert_eq!(answer.status, status, "{answer:?}");
    assert!(answer.error().error.contains(words), "{answer:?}");
}

#[test]
fn the_same_invite_asked_again_is_answered_again_and_made_once() {
    let relay = Relay::start();
    let lead = sealed_lead(&relay, "Again");
    let code = chosen_code();
    let first = made(&lead, Role::Canvasser, 2, &code, "a2V5cw");
    assert_eq!(first.code, code, "the code the device chose");
    assert_eq!(first.id, invite_id(&code));
    // Asked again, typed another way: the same invite, nothing new.
    let again = made(
        &lead,
        Role::Canvasser,
        2,
        &code.to_uppercase().replace('-', " "),
        "a2V5cw",
    );
    assert_eq!(again, first);
    let open = open_invites(&lead);
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0].id, first.id);

    // Once a device has joined with it, asked again it says what is left.
    joined(&relay, &code, "phone", true);
    let again = made(&lead, Role::Canvasser, 2, &code, "a2V5cw");
    assert_eq!((again.code.as_str(), again.uses), (code.as_str(), 1));
    assert_eq!(again.expires_at, first.expires_at);
    assert_eq!(stored_invite(&relay, &code).map(|s| s.0), Some(1));
    joined(&relay, &code, "tablet", true);
    // Used up, or cancelled: asked again it is refused, and nothing is made.
    let spent = ask(
        &lead,
        INVITES_PATH,
        (Role::Canvasser, 2),
        &code,
        Some("a2V5cw"),
        &[],
    );
    assert_refused(&spent, 409, "make a new invite");
    let other = chosen_code();
    let cancelled = made(&lead, Role::Canvasser, 1, &other, "a2V5cw");
    assert_eq!(cancel(&lead, &cancelled.id).status, 200);
    let gone = ask(
        &lead,
        INVITES_PATH,
        (Role::Canvasser, 1),
        &other,
        Some("a2V5cw"),
        &[],
    );
    assert_refused(&gone, 409, "make a new invite");
    assert!(open_invites(&lead).is_empty());
}

#[test]
fn an_invite_in_parts_asked_again_does_not_look_for_its_parts_again() {
    let relay = Relay::start();
    let lead = sealed_lead(&relay, "Parts");
    let (part, _) = keys_with_marker(2_000);
    let left = lead.post(
        INVITE_KEYS_PATH,
        &InviteKeysPart {
            sealed_keys: part.clone(),
            first: true,
        },
    );
    assert_eq!(left.status, 200, "{left:?}");
    let parts = vec![left.json::<InviteKeysPartAnswer>().part];
    let code = chosen_code();
    let role = (Role::Canvasser, 1);
    let first = ask(
        &lead,
        INVITE_FROM_PARTS_PATH,
        role,
        &code,
        Some("bGFzdA"),
        &parts,
    );
    assert_eq!(first.status, 200, "{first:?}");
    // The parts were taken by the first: the same request is answered, not refused for them.
    let again = ask(
        &lead,
        INVITE_FROM_PARTS_PATH,
        role,
        &code,
        Some("bGFzdA"),
        &parts,
    );
    assert_eq!(again.status, 200, "{again:?}");
    assert_eq!(
        again.json::<InviteResponse>(),
        first.json::<InviteResponse>()
    );
    assert_eq!(open_invites(&lead).len(), 1);
    let (_, enrolled) = joined(&relay, &code, "phone", true);
    assert_eq!(enrolled.sealed_keys, Some(format!("{part}bGFzdA")));
}

#[test]
fn a_code_the_relay_holds_for_another_invite_is_refused_and_makes_nothing() {
    let relay = Relay::start();
    let (a, b) = two_leads(&relay, "Two leads");
    let other_team = sealed_lead(&relay, "Another team");
    let code = chosen_code();
    made(&a, Role::Canvasser, 3, &code, "YQ");
    // Another lead of the team, a lead of another team, or the same lead for another role:
    // not the same request.
    for (lead, role) in [
        (&b, Role::Canvasser),
        (&other_team, Role::Canvasser),
        (&a, Role::Lead),
    ] {
        let answer = ask(lead, INVITES_PATH, (role, 3), &code, Some("YQ"), &[]);
        assert_refused(&answer, 409, "another invite has the code");
        // What the refusal says tells nothing of the invite it collided with.
        assert!(!answer.error().error.contains(&a.device_id), "{answer:?}");
    }
    // The operator's invite's code, chosen by a lead.
    let operator = relay.invite(&other_team.team_id, &[]);
    let answer = ask(
        &other_team,
        INVITES_PATH,
        (Role::Canvasser, 1),
        &operator,
        Some("YQ"),
        &[],
    );
    assert_refused(&answer, 409, "another invite has the code");
    assert_eq!(open_invites(&a).len(), 1);
    assert_eq!(open_invites(&other_team).len(), 1, "the operator's alone");
    assert_eq!(stored_invite(&relay, &code).map(|s| s.0), Some(3));
}

#[test]
fn a_code_not_of_the_relays_form_is_refused() {
    let relay = Relay::start();
    let lead = sealed_lead(&relay, "Codes");
    let good = chosen_code();
    for bad in [
        String::new(),
        "short".to_owned(),
        good[..good.len() - 1].to_owned(),
        format!("{good}a"),
        good.replacen(&good[..1], "1", 1),
        format!("{good}.c2VjcmV0"),
        "é".repeat(32),
    ] {
        let answer = ask(
            &lead,
            INVITES_PATH,
            (Role::Canvasser, 1),
            &bad,
            Some("YQ"),
            &[],
        );
        assert_refused(&answer, 400, "code must be an invite code");
    }
    assert!(open_invites(&lead).is_empty());
}
