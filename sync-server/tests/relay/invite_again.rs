//! A lead's invite asked for again after its answer was lost: the lead's device gives the
//! request an id, the relay makes the invite's code from the team, the device and that id, and
//! answers the same request (the same id from the same device, for the same role) with the
//! invite it made, as it is now, writing nothing; its parts of keys, taken the first time, are
//! not looked for again. The same id from another device or team is another invite with
//! another code; an invite used up, cancelled or expired since is refused and nothing is made.

use groundwork_protocol::{
    INVITE_FROM_PARTS_PATH, INVITE_KEYS_PATH, INVITES_PATH, InviteKeysPart, InviteKeysPartAnswer,
    InviteRequest, InviteResponse, Role, invite_id,
};

use crate::common::{Answer, Device, Param, Relay, db_row, team_rows};
use crate::invite_cancel::{cancel, open_invites, sealed_lead};
use crate::sealed::{joined, keys_with_marker, stored_invite, two_leads};

/// A request id as a lead's device chooses it: 16 random bytes in lowercase hex.
fn request_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// `lead` asks at `path` for an invite of `role` and `uses`, valid `secs`, as the request `id`,
/// its keys `keys` after the parts `parts`.
fn ask_at(
    lead: &Device,
    path: &str,
    (role, uses, secs): (Role, u32, u64),
    id: &str,
    keys: Option<&str>,
    parts: &[String],
) -> Answer {
    lead.post(
        path,
        &InviteRequest {
            uses,
            expires_in_secs: secs,
            role,
            sealed_keys: keys.map(str::to_owned),
            key_parts: parts.to_vec(),
            request: Some(id.to_owned()),
        },
    )
}

/// [`ask_at`] the route for an invite with its keys whole, valid an hour.
fn ask(lead: &Device, role: Role, uses: u32, id: &str) -> Answer {
    ask_at(
        lead,
        INVITES_PATH,
        (role, uses, 3600),
        id,
        Some("a2V5cw"),
        &[],
    )
}

/// [`ask`], which must answer.
fn made(lead: &Device, role: Role, uses: u32, id: &str) -> InviteResponse {
    let answer = ask(lead, role, uses, id);
    assert_eq!(answer.status, 200, "{answer:?}");
    answer.json()
}

/// A refusal with `status` whose message holds `words`.
fn assert_refused(answer: &Answer, status: u16, words: &str) {
    assert_eq!(answer.status, status, "{answer:?}");
    assert!(answer.error().error.contains(words), "{answer:?}");
}

#[test]
fn the_same_invite_asked_again_is_answered_as_it_is_and_made_once() {
    let relay = Relay::start();
    let lead = sealed_lead(&relay, "Again");
    let id = request_id();
    let first = made(&lead, Role::Canvasser, 2, &id);
    assert_eq!(first.id, invite_id(&first.code));
    assert!(
        !first.code.contains(&id),
        "the code is not the request's id"
    );
    // Asked again, even with other uses and expiry (a buggy app): the invite as it was made.
    let again = ask_at(
        &lead,
        INVITES_PATH,
        (Role::Canvasser, 5, 60),
        &id,
        Some("a2V5cw"),
        &[],
    );
    assert_eq!(again.status, 200, "{again:?}");
    assert_eq!(again.json::<InviteResponse>(), first);
    let open = open_invites(&lead);
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0].id, first.id);

    // Once a device has joined with it, asked again it says what is left.
    joined(&relay, &first.code, "phone", true);
    let again = made(&lead, Role::Canvasser, 2, &id);
    assert_eq!(again.code, first.code);
    assert_eq!(again.uses, 1);
    assert_eq!(again.expires_at, first.expires_at);
    assert_eq!(stored_invite(&relay, &first.code).map(|s| s.0), Some(1));
    joined(&relay, &first.code, "tablet", true);
    // Used up, cancelled or expired: asked again it is refused, and nothing is made.
    let gone = |id: &str, uses| {
        assert_refused(
            &ask(&lead, Role::Canvasser, uses, id),
            409,
            "make a new invite",
        )
    };
    gone(&id, 2);
    let cancelled_id = request_id();
    let cancelled = made(&lead, Role::Canvasser, 1, &cancelled_id);
    assert_eq!(cancel(&lead, &cancelled.id).status, 200);
    gone(&cancelled_id, 1);
    let expired_id = request_id();
    let expired = made(&lead, Role::Canvasser, 1, &expired_id);
    let hash = sync_server::secrets::hash_invite(&expired.code);
    db_row(
        &relay.data_dir,
        "UPDATE invites SET expires_at = 1 WHERE hash = $1 RETURNING CAST(expires_at AS TEXT)",
        Param::Bytes(&hash[..]),
    )
    .expect("the invite's row");
    gone(&expired_id, 1);
    assert!(open_invites(&lead).is_empty());
}

/// A part of an invite's keys sent again (its answer lost) is kept once, under the same id and
/// expiry, writing nothing: a first part sent again forgets nothing, a later one is no second
/// copy; the same id with other keys is refused. An invite in parts asked again is answered,
/// not refused for the parts the first took.
#[test]
fn an_invite_in_parts_asked_again_does_not_look_for_its_parts_again() {
    let relay = Relay::start();
    let lead = sealed_lead(&relay, "Parts");
    let (part_a, _) = keys_with_marker(2_000);
    let (part_b, _) = keys_with_marker(1_000);
    let (id_a, id_b) = (request_id(), request_id());
    let send = |keys: &str, first: bool, id: Option<&str>| {
        lead.post(
            INVITE_KEYS_PATH,
            &InviteKeysPart {
                sealed_keys: keys.to_owned(),
                first,
                request: id.map(str::to_owned),
            },
        )
    };
    let leave = |keys: &str, first: bool, id: Option<&str>| {
        let left = send(keys, first, id);
        assert_eq!(left.status, 200, "{left:?}");
        left.json::<InviteKeysPartAnswer>()
    };
    let a = leave(&part_a, true, Some(&id_a));
    let b = leave(&part_b, false, Some(&id_b));
    let waiting = || team_rows(&relay.data_dir, "invite_key_parts", &lead.team_id);
    // Kept a while ago: sent again, its expiry is the first time's.
    db_row(
        &relay.data_dir,
        "UPDATE invite_key_parts SET created_at = created_at - 600 WHERE id = $1
         RETURNING CAST(created_at AS TEXT)",
        Param::Text(&a.part),
    )
    .expect("the part's row");
    let again = leave(&part_a, true, Some(&id_a));
    assert_eq!(again.part, a.part);
    assert_eq!(again.expires_at, a.expires_at - 600);
    assert_eq!(waiting(), 2, "the first part sent again forgot the second");
    assert_eq!(leave(&part_b, false, Some(&id_b)), b);
    assert_eq!(waiting(), 2);
    let other = send(&part_b, false, Some(&id_a));
    assert_eq!(other.status, 409, "{other:?}");
    assert!(other.error().error.contains("other keys"), "{other:?}");
    let bad = send(&part_b, false, Some("NOT-HEX"));
    assert_eq!(bad.status, 400, "{bad:?}");

    let parts = vec![a.part, b.part];
    let id = request_id();
    let how = (Role::Canvasser, 1, 3600);
    let from_parts = || {
        ask_at(
            &lead,
            INVITE_FROM_PARTS_PATH,
            how,
            &id,
            Some("bGFzdA"),
            &parts,
        )
    };
    let first = from_parts();
    assert_eq!(first.status, 200, "{first:?}");
    // The parts were taken by the first: the same request is answered, not refused for them.
    let again = from_parts();
    assert_eq!(again.status, 200, "{again:?}");
    let first = first.json::<InviteResponse>();
    assert_eq!(again.json::<InviteResponse>(), first);
    assert_eq!(open_invites(&lead).len(), 1);
    assert_eq!(waiting(), 0);
    let (_, enrolled) = joined(&relay, &first.code, "phone", true);
    assert_eq!(
        enrolled.sealed_keys,
        Some(format!("{part_a}{part_b}bGFzdA"))
    );
    // A part from an app from before part ids (none) is still kept, under an id of its own.
    assert!(!leave(&part_a, true, None).part.is_empty());
}

/// The same request id from another lead of the team, or a lead of another team, is another
/// request: another invite, under another code (a lead cannot aim at another team's code, even
/// one the relay has forgotten). The same lead asking with it for another role is refused.
#[test]
fn a_request_id_is_its_devices_and_teams_own() {
    let relay = Relay::start();
    let (a, b) = two_leads(&relay, "Two leads");
    let other_team = sealed_lead(&relay, "Another team");
    let id = request_id();
    let from_a = made(&a, Role::Canvasser, 3, &id);
    let from_b = made(&b, Role::Canvasser, 3, &id);
    let from_other = made(&other_team, Role::Canvasser, 3, &id);
    assert_ne!(from_a.code, from_b.code);
    assert_ne!(from_a.code, from_other.code);
    assert_ne!(from_b.code, from_other.code);
    assert_refused(
        &ask(&a, Role::Lead, 3, &id),
        409,
        "another invite has the code",
    );
    assert_eq!(open_invites(&a).len(), 2, "a's and b's");
    assert_eq!(open_invites(&other_team).len(), 1);
    for code in [&from_a.code, &from_b.code, &from_other.code] {
        assert_eq!(stored_invite(&relay, code).map(|s| s.0), Some(3));
    }
    // A device of the other team joins that team with its invite.
    let (_, enrolled) = joined(&relay, &from_other.code, "phone", true);
    assert_eq!(enrolled.team_id, other_team.team_id);
}

#[test]
fn a_request_id_not_of_its_form_is_refused() {
    let relay = Relay::start();
    let lead = sealed_lead(&relay, "Ids");
    let good = request_id();
    for bad in [
        String::new(),
        "short".to_owned(),
        good[..31].to_owned(),
        format!("{good}0"),
        good.to_uppercase(),
        format!("{}g", &good[..31]),
        "é".repeat(16),
    ] {
        assert_refused(
            &ask(&lead, Role::Canvasser, 1, &bad),
            400,
            "request must be 32 lowercase hexadecimal digits",
        );
    }
    assert!(open_invites(&lead).is_empty());
}
