//! An invite whose sealed keys are longer than one request carries: a lead's device leaves all
//! but the last part with the relay first (`POST /v1/invites/keys`), then makes the invite
//! naming them; a device that enrols gets the parts joined, in order. Parts are the lead's own,
//! used once, bounded per team, forgotten with their lead, and refused to canvassers.

use groundwork_protocol::team::{MAX_INVITE_KEY_PARTS, MAX_SEALED_KEYS_LEN, MAX_WAITING_KEY_PARTS};
use groundwork_protocol::{
    DeviceAction, INVITE_FROM_PARTS_PATH, INVITE_KEYS_PATH, INVITES_PATH, InviteKeysPart,
    InviteKeysPartAnswer, InviteRequest, InviteResponse, REVOKE_PATH, Role,
};

use crate::common::{Answer, Device, Relay, team_rows};
use crate::sealed::{
    assert_keys_gone, joined, keys_with_marker, lead_invite, stored_invite, two_leads,
};

/// A lead leaves one part of an invite's keys.
fn leave_part(lead: &Device, keys: &str) -> Answer {
    leave(lead, keys, false)
}

/// A lead leaves one part of an invite's keys, the first of an invite's with `first`.
fn leave(lead: &Device, keys: &str, first: bool) -> Answer {
    lead.post(
        INVITE_KEYS_PATH,
        &InviteKeysPart {
            sealed_keys: keys.to_owned(),
            first,
            request: None,
        },
    )
}

/// A part that must be kept: its id.
fn part_id(lead: &Device, keys: &str) -> String {
    let answer = leave_part(lead, keys);
    assert_eq!(answer.status, 200, "{answer:?}");
    answer.json::<InviteKeysPartAnswer>().part
}

/// An invite naming `parts` before its own `last` keys, to the route for it (the one for an
/// invite without parts when `parts` is empty).
fn invite_with_parts(lead: &Device, uses: u32, parts: &[String], last: Option<&str>) -> Answer {
    let path = if parts.is_empty() {
        INVITES_PATH
    } else {
        INVITE_FROM_PARTS_PATH
    };
    invite_at(lead, path, uses, parts, last)
}

/// An invite naming `parts` before its own `last` keys, sent to `path`.
fn invite_at(lead: &Device, path: &str, uses: u32, parts: &[String], last: Option<&str>) -> Answer {
    lead.post(
        path,
        &InviteRequest {
            uses,
            expires_in_secs: 3600,
            role: Role::Canvasser,
            sealed_keys: last.map(str::to_owned),
            key_parts: parts.to_vec(),
            request: None,
        },
    )
}

/// How many parts of invites' keys the team's relay holds.
fn waiting_parts(relay: &Relay, team_id: &str) -> i64 {
    team_rows(&relay.data_dir, "invite_key_parts", team_id)
}

#[test]
fn an_invites_keys_in_parts_reach_the_device_joined_in_order() {
    let relay = Relay::start();
    let (_, first) = relay.team("Sealed");
    let (lead, _) = joined(&relay, &first, "lead", true);
    // Two parts of the longest a request carries, and a short one, each marked: the joined
    // keys are longer than any one request may be.
    let (big_a, marker_a) = keys_with_marker(MAX_SEALED_KEYS_LEN);
    let (big_b, marker_b) = keys_with_marker(MAX_SEALED_KEYS_LEN);
    let (short, marker_c) = keys_with_marker(300);
    let last = "AZaz09-_the_last_part";
    let parts = vec![
        part_id(&lead, &big_a),
        part_id(&lead, &short),
        part_id(&lead, &big_b),
    ];
    let answer = invite_with_parts(&lead, 2, &parts, Some(last));
    assert_eq!(answer.status, 200, "{answer:?}");
    let code = answer.json::<InviteResponse>().code;
    let whole = format!("{big_a}{short}{big_b}{last}");
    assert!(whole.len() > 2 * MAX_SEALED_KEYS_LEN);

    let (_, enrolled) = joined(&relay, &code, "first phone", true);
    assert!(enrolled.sealed);
    assert_eq!(
        enrolled.sealed_keys.as_deref().map(str::len),
        Some(whole.len())
    );
    assert!(
        enrolled.sealed_keys.as_deref() == Some(whole.as_str()),
        "the parts come joined in the invite's order"
    );
    // The parts were taken: no second invite can name them.
    assert_eq!(waiting_parts(&relay, &lead.team_id), 0);
    let again = invite_with_parts(&lead, 1, &parts[..1], Some(last));
    assert_eq!(again.status, 400, "{again:?}");
    assert!(
        again.error().error.contains("make the invite again"),
        "{again:?}"
    );

    // Once the invite is used up, nothing of any part is left in the relay's files.
    let (_, enrolled) = joined(&relay, &code, "last phone", true);
    assert!(enrolled.sealed_keys.as_deref() == Some(whole.as_str()));
    assert_eq!(stored_invite(&relay, &code), Some((0, None)));
    assert_keys_gone(&relay, &[&marker_a, &marker_b, &marker_c]);
}

#[test]
fn an_invite_names_only_its_own_leads_waiting_parts() {
    let relay = Relay::start();
    let (a, b) = two_leads(&relay, "Sealed");
    let (_, other_first) = relay.team("Another");
    let (other_lead, _) = joined(&relay, &other_first, "other lead", true);
    let of_a = part_id(&a, "cGFydCBvZiBh");
    let of_other_team = part_id(&other_lead, "b3RoZXIgdGVhbQ");

    for (lead, parts, what) in [
        (&b, vec![of_a.clone()], "another lead's part"),
        (&a, vec![of_other_team.clone()], "another team's part"),
        (&a, vec!["0".repeat(32)], "an id never given"),
    ] {
        let answer = invite_with_parts(lead, 1, &parts, Some("bGFzdA"));
        assert_eq!(answer.status, 400, "{what}: {answer:?}");
        assert!(
            answer.error().error.contains("has not left"),
            "{what}: {answer:?}"
        );
    }
    // The refusals took nothing: a's part still makes a's invite.
    let answer = invite_with_parts(&a, 1, &[of_a], Some("bGFzdA"));
    assert_eq!(answer.status, 200, "{answer:?}");
    let (_, enrolled) = joined(&relay, &answer.json::<InviteResponse>().code, "phone", true);
    assert_eq!(enrolled.sealed_keys.as_deref(), Some("cGFydCBvZiBhbGFzdA"));
}

#[test]
fn malformed_invites_in_parts_are_refused() {
    let relay = Relay::start();
    let (_, first) = relay.team("Sealed");
    let (lead, _) = joined(&relay, &first, "lead", true);
    let part = part_id(&lead, "cGFydA");
    let too_many = vec![part.clone(); MAX_INVITE_KEY_PARTS + 1];
    let cases: [(&[String], Option<&str>, &str); 4] = [
        (&too_many, Some("bGFzdA"), "at most"),
        (std::slice::from_ref(&part), None, "missing"),
        (&["ABC".to_owned()], Some("bGFzdA"), "hex"),
        (&["not/an-id".repeat(4)], Some("bGFzdA"), "hex"),
    ];
    for (parts, last, says) in cases {
        let answer = invite_with_parts(&lead, 1, parts, last);
        assert_eq!(answer.status, 400, "{parts:?}: {answer:?}");
        assert!(answer.error().error.contains(says), "{answer:?}");
    }
    // Each route takes only its own kind of invite: naming parts at the route a relay from
    // before parts also has would be ignored there, not refused.
    let parts = std::slice::from_ref(&part);
    let answer = invite_at(&lead, INVITES_PATH, 1, parts, Some("bGFzdA"));
    assert_eq!(answer.status, 400, "{answer:?}");
    assert!(
        answer.error().error.contains(INVITE_FROM_PARTS_PATH),
        "{answer:?}"
    );
    let answer = invite_at(&lead, INVITE_FROM_PARTS_PATH, 1, &[], Some("bGFzdA"));
    assert_eq!(answer.status, 400, "{answer:?}");
    assert!(
        answer.error().error.contains("key_parts is empty"),
        "{answer:?}"
    );
    // Uppercase hex is not how the relay spells ids.
    let answer = invite_with_parts(&lead, 1, &[part.to_uppercase()], Some("bGFzdA"));
    assert_eq!(answer.status, 400, "{answer:?}");
    // A part's keys are checked as an invite's are.
    for bad in ["", "padded==", "with space"] {
        let answer = leave_part(&lead, bad);
        assert_eq!(answer.status, 400, "{bad:?}: {answer:?}");
        assert!(answer.error().error.contains("sealed_keys"), "{answer:?}");
    }
    let too_long = leave_part(&lead, &"k".repeat(MAX_SEALED_KEYS_LEN + 1));
    assert_eq!(too_long.status, 400, "{too_long:?}");
    // Both routes read JSON, and no more than an invite's body.
    for path in [INVITE_KEYS_PATH, INVITE_FROM_PARTS_PATH] {
        let answer = lead.post_raw(path, "text/plain", b"{}".to_vec());
        assert_eq!(answer.status, 415, "{path}: {answer:?}");
        let answer = lead.post_raw(
            path,
            "application/json",
            vec![b' '; MAX_SEALED_KEYS_LEN + 64 * 1024],
        );
        assert_eq!(answer.status, 413, "{path}: {answer:?}");
    }
    // None of it took the part.
    let answer = invite_with_parts(&lead, 1, &[part], Some("bGFzdA"));
    assert_eq!(answer.status, 200, "{answer:?}");
}

#[test]
fn a_canvasser_cannot_leave_parts_of_keys() {
    let relay = Relay::start();
    let (_, first) = relay.team("Sealed");
    let (lead, _) = joined(&relay, &first, "lead", true);
    let answer = lead_invite(&lead, 1, Role::Canvasser, Some("a2V5cw"));
    let (canvasser, _) = joined(
        &relay,
        &answer.json::<InviteResponse>().code,
        "canvasser",
        true,
    );
    let refused = leave_part(&canvasser, "a2V5cw");
    assert_eq!(refused.status, 403, "{refused:?}");
    assert!(refused.error().error.contains("lead"), "{refused:?}");
}

#[test]
fn a_team_keeps_a_bounded_number_and_size_of_waiting_parts() {
    // A quota of 160 KiB: the team's invites and waiting parts may hold 10,240 bytes of keys.
    let relay = Relay::start_with(&["--max-team-bytes", "160KiB"]);
    let (_, first) = relay.team("Sealed");
    let (lead, _) = joined(&relay, &first, "lead", true);
    let first_part = part_id(&lead, &"k".repeat(6_000));
    // 6,000 waiting: a part or an invite of 4,241 would pass the limit.
    let refused = leave_part(&lead, &"k".repeat(4_241));
    assert_eq!(refused.status, 409, "{refused:?}");
    assert!(refused.error().error.contains("10240 bytes"), "{refused:?}");
    let refused = lead_invite(&lead, 1, Role::Canvasser, Some(&"k".repeat(4_241)));
    assert_eq!(refused.status, 409, "{refused:?}");
    // Taken into an invite, the part counts once.
    let answer = invite_with_parts(&lead, 1, &[first_part], Some(&"k".repeat(4_240)));
    assert_eq!(answer.status, 200, "{answer:?}");

    // At most MAX_WAITING_KEY_PARTS wait at once, however small.
    let relay = Relay::start();
    let (_, first) = relay.team("Sealed");
    let (lead, _) = joined(&relay, &first, "lead", true);
    let parts: Vec<String> = (0..MAX_WAITING_KEY_PARTS)
        .map(|_| part_id(&lead, "cA"))
        .collect();
    let refused = leave_part(&lead, "cA");
    assert_eq!(refused.status, 409, "{refused:?}");
    assert!(refused.error().error.contains("in an hour"), "{refused:?}");
    // An invite that takes some makes room again.
    let answer = invite_with_parts(&lead, 1, &parts[..2], Some("cA"));
    assert_eq!(answer.status, 200, "{answer:?}");
    part_id(&lead, "cA");
}

/// A lead's new invite starts by forgetting the parts its device left for an invite that was
/// never made (a failed attempt), and only its own.
#[test]
fn a_new_invites_first_part_forgets_what_an_attempt_left() {
    let relay = Relay::start();
    let (a, b) = two_leads(&relay, "Sealed");
    let (keys, marker) = keys_with_marker(5_000);
    let abandoned = part_id(&a, &keys);
    let of_b = part_id(&b, "b2Yg");
    let answer = leave(&a, "bmV3", true);
    assert_eq!(answer.status, 200, "{answer:?}");
    let new = answer.json::<InviteKeysPartAnswer>().part;
    assert_eq!(waiting_parts(&relay, &a.team_id), 2, "a's new part and b's");
    assert_keys_gone(&relay, &[&marker]);
    let refused = invite_with_parts(&a, 1, &[abandoned], Some("bGFzdA"));
    assert_eq!(refused.status, 400, "{refused:?}");
    let answer = invite_with_parts(&a, 1, &[new], Some("bGFzdA"));
    assert_eq!(answer.status, 200, "{answer:?}");
    let answer = invite_with_parts(&b, 1, &[of_b], Some("bGFzdA"));
    assert_eq!(answer.status, 200, "b's part was kept: {answer:?}");
}

#[test]
fn revoking_a_lead_forgets_the_parts_it_left() {
    let relay = Relay::start();
    let (a, b) = two_leads(&relay, "Sealed");
    let (keys, marker) = keys_with_marker(5_000);
    let part = part_id(&a, &keys);
    part_id(&b, "b2Yg");
    assert_eq!(waiting_parts(&relay, &a.team_id), 2);
    let revoked = b.post(
        REVOKE_PATH,
        &DeviceAction {
            device_id: a.device_id.clone(),
        },
    );
    assert_eq!(revoked.status, 200, "{revoked:?}");
    assert_eq!(
        waiting_parts(&relay, &a.team_id),
        1,
        "the revoked lead's are forgotten, the other's kept"
    );
    assert_keys_gone(&relay, &[&marker]);
    let refused = invite_with_parts(&a, 1, &[part], Some("bGFzdA"));
    assert_eq!(refused.status, 403, "{refused:?}");
}
