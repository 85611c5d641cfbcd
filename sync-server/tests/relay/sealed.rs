//! End-to-end encryption at the relay: which enrolments seal a team, invites that carry the
//! team's keys sealed by a lead's app (handed back byte for byte, then forgotten, also from the
//! database files), and keyless invites that a sealed team refuses without using them up.

use groundwork_protocol::team::{CODE_NO_LEAD_YET, MAX_SEALED_KEYS_LEN};
use groundwork_protocol::{
    CODE_NEEDS_KEY, CODE_NEEDS_SECRET, DeviceAction, ERASE_PATH, EnrolRequest, EnrolResponse,
    EraseRequest, INVITES_PATH, InviteRequest, InviteResponse, REVOKE_PATH, Role,
};

use crate::common::{
    Answer, Device, Param, Relay, boolean, db_row, files_holding, int, item, scans_files, team_rows,
};

/// Enrols with `invite`, saying whether the device seals.
pub(crate) fn join(
    relay: &Relay,
    invite: &str,
    name: &str,
    sealing: bool,
) -> Result<(Device, EnrolResponse), Box<Answer>> {
    relay.enrol_with(&EnrolRequest {
        invite: invite.into(),
        device_name: name.into(),
        actor: None,
        sealing,
        token: None,
        holds_secret: None,
    })
}

/// Enrols, which must succeed.
pub(crate) fn joined(
    relay: &Relay,
    invite: &str,
    name: &str,
    sealing: bool,
) -> (Device, EnrolResponse) {
    join(relay, invite, name, sealing).unwrap_or_else(|a| panic!("{name} could not enrol: {a:?}"))
}

/// A lead asks for an invite carrying `keys`.
pub(crate) fn lead_invite(lead: &Device, uses: u32, role: Role, keys: Option<&str>) -> Answer {
    lead.post(
        INVITES_PATH,
        &InviteRequest {
            uses,
            expires_in_secs: 3600,
            role,
            sealed_keys: keys.map(str::to_owned),
            key_parts: Vec::new(),
            request: None,
        },
    )
}

/// A lead's invite carrying `keys`, which must be made.
pub(crate) fn keyed_invite(lead: &Device, uses: u32, keys: &str) -> String {
    let answer = lead_invite(lead, uses, Role::Canvasser, Some(keys));
    assert_eq!(answer.status, 200, "{answer:?}");
    answer.json::<InviteResponse>().code
}

/// The invite's uses left and sealed keys, as the relay stores them.
pub(crate) fn stored_invite(relay: &Relay, code: &str) -> Option<(i64, Option<String>)> {
    let hash = sync_server::secrets::hash_invite(code);
    let row = db_row(
        &relay.data_dir,
        "SELECT CAST(uses_left AS TEXT), sealed_keys FROM invites WHERE hash = $1",
        Param::Bytes(&hash[..]),
    )?;
    Some((int(&row[0]), row[1].clone()))
}

fn team_sealed(relay: &Relay, team_id: &str) -> bool {
    let row = db_row(
        &relay.data_dir,
        "SELECT CAST(sealed AS TEXT) FROM teams WHERE id = $1",
        Param::Text(team_id),
    )
    .expect("team row");
    boolean(&row[0])
}

/// Sealed keys as a lead's app makes them: base64url, with a unique marker to look for.
pub(crate) fn keys_with_marker(len: usize) -> (String, String) {
    let marker = format!("SEALEDKEYS{}", uuid::Uuid::new_v4().simple());
    let mut keys = marker.clone();
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut i = 0;
    while keys.len() < len {
        keys.push(char::from(alphabet[i % alphabet.len()]));
        i += 7;
    }
    (keys, marker)
}

/// None of `needles` (parts of sealed keys) is in the relay's database files any more (on
/// SQLite, whose files the test can read).
pub(crate) fn assert_keys_gone(relay: &Relay, needles: &[&str]) {
    if scans_files() {
        for needle in needles {
            assert_eq!(
                files_holding(&relay.data_dir, needle.as_bytes()),
                Vec::<&str>::new(),
                "the keys are gone from the database files"
            );
        }
    }
}

/// A 409 `needs_key` refusal that says what to do.
fn assert_needs_key(result: Result<(Device, EnrolResponse), Box<Answer>>, what: &str) {
    let answer = match result {
        Ok((_, e)) => panic!("{what}: enrolled ({e:?}) instead of being refused"),
        Err(answer) => answer,
    };
    assert_eq!(answer.status, 409, "{what}: {answer:?}");
    let body = answer.error();
    assert_eq!(body.code.as_deref(), Some(CODE_NEEDS_KEY), "{what}");
    assert!(
        body.error.contains("end-to-end encrypted") && body.error.contains("team lead"),
        "{what}: {}",
        body.error
    );
}

#[test]
fn the_first_sealing_device_of_an_empty_team_makes_the_key() {
    let relay = Relay::start();
    let (team, first) = relay.team("Sealed");
    assert!(!team_sealed(&relay, &team));
    let (lead, answer) = joined(&relay, &first, "lead", true);
    assert_eq!(answer.role, Role::Lead);
    assert!(answer.sealed, "{answer:?}");
    assert_eq!(answer.sealed_keys, None, "this device makes the key");
    assert_eq!(lead.team_id, team);
    assert!(team_sealed(&relay, &team));
}

/// How many devices the team has, revoked or not.
fn devices_in(relay: &Relay, team_id: &str) -> i64 {
    team_rows(&relay.data_dir, "devices", team_id)
}

#[test]
fn a_canvassers_invite_cannot_make_the_key_of_a_team_without_a_lead() {
    let relay = Relay::start();
    let (team, first) = relay.team("No lead yet");
    // The operator invites canvassers before the first lead joined: warned.
    let out = relay.op(&["invite", "create", "--team", &team, "--uses", "2"]);
    assert!(out.status.success(), "{out:?}");
    let code = String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_owned();
    let warning = String::from_utf8(out.stderr).expect("utf-8");
    assert!(
        warning.contains("no lead yet") && warning.contains("first lead"),
        "{warning}"
    );

    // A sealing canvasser would make the team's key: refused, and nothing is written.
    for attempt in ["phone", "the same phone again"] {
        let refused = join(&relay, &code, attempt, true).expect_err("no lead yet");
        assert_eq!(refused.status, 409, "{refused:?}");
        let body = refused.error();
        assert_eq!(body.code.as_deref(), Some(CODE_NO_LEAD_YET), "{body:?}");
        assert!(
            body.error.contains("no lead yet")
                && body.error.contains("team create")
                && body.error.contains("not used up"),
            "{}",
            body.error
        );
    }
    assert_eq!(stored_invite(&relay, &code), Some((2, None)), "not used up");
    assert!(!team_sealed(&relay, &team));
    assert_eq!(devices_in(&relay, &team), 0, "no device was enrolled");

    // The first lead joins and makes the key; the operator's invite then needs a key.
    let (_, answer) = joined(&relay, &first, "lead", true);
    assert_eq!((answer.sealed, answer.sealed_keys), (true, None));
    assert_needs_key(
        join(&relay, &code, "phone", true),
        "once the lead made the key",
    );
    assert_eq!(stored_invite(&relay, &code), Some((2, None)));

    // An app that does not seal waits for the lead too: it would store the team's first change
    // in the clear, and no lead could seal the team after it (an old or hostile app would turn
    // encryption off for good).
    let (team, first) = relay.team("Old apps");
    let code = relay.invite(&team, &["--uses", "2"]);
    let refused = join(&relay, &code, "old phone", false).expect_err("no lead yet");
    assert_eq!(refused.status, 409, "{refused:?}");
    assert_eq!(
        refused.error().code.as_deref(),
        Some(CODE_NO_LEAD_YET),
        "{refused:?}"
    );
    assert_eq!(devices_in(&relay, &team), 0, "no device was enrolled");
    assert_eq!(stored_invite(&relay, &code), Some((2, None)), "not used up");
    // The lead joins and makes the key; the old app is then told to update.
    let (_, answer) = joined(&relay, &first, "lead", true);
    assert_eq!((answer.sealed, answer.sealed_keys), (true, None));
    assert_needs_key(
        join(&relay, &code, "old phone", false),
        "an app that cannot seal, once the lead made the key",
    );

    // A team whose lead's app does not seal stays clear: a sealing canvasser joins it as such.
    let (team, first) = relay.team("Old lead");
    joined(&relay, &first, "old lead", false);
    let out = relay.op(&["invite", "create", "--team", &team]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let code = String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_owned();
    let (device, answer) = joined(&relay, &code, "new phone", true);
    assert_eq!((answer.sealed, answer.sealed_keys), (false, None));
    assert_eq!(device.role, Role::Canvasser);
    assert!(!team_sealed(&relay, &team));
}

#[test]
fn a_sealed_team_refuses_an_invite_without_keys_and_leaves_it_unused() {
    let relay = Relay::start();
    let (team, first) = relay.team("Sealed");
    let (lead, _) = joined(&relay, &first, "lead", true);

    // The operator can still make an invite, with a warning.
    let out = relay.op(&["invite", "create", "--team", &team]);
    assert!(out.status.success(), "{out:?}");
    let code = String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_owned();
    let warning = String::from_utf8(out.stderr).expect("utf-8");
    assert!(
        warning.contains("end-to-end encrypted") && warning.contains("lead"),
        "{warning}"
    );

    // Refused, twice, sealing or not: the single use is still there.
    assert_needs_key(join(&relay, &code, "phone", true), "a sealing device");
    assert_needs_key(join(&relay, &code, "phone", true), "the same again");
    assert_needs_key(
        join(&relay, &code, "old phone", false),
        "a device that does not seal",
    );
    assert_eq!(stored_invite(&relay, &code), Some((1, None)), "not used up");
    assert_eq!(
        relay.enrol(&code, "x").map(|_| ()).map_err(|e| e.0),
        Err(409)
    );

    // A lead's invite without keys is refused alike.
    let answer = lead_invite(&lead, 1, Role::Canvasser, None);
    assert_eq!(answer.status, 200, "{answer:?}");
    let keyless = answer.json::<InviteResponse>().code;
    assert_needs_key(
        join(&relay, &keyless, "phone", true),
        "a lead's keyless invite",
    );
    assert_eq!(stored_invite(&relay, &keyless), Some((1, None)));
}

#[test]
fn the_operator_is_warned_only_about_sealed_teams() {
    let relay = Relay::start();
    let (team, first) = relay.team("Plain");
    let (lead, _) = joined(&relay, &first, "lead", false);
    let out = relay.op(&["invite", "create", "--team", &team]);
    assert!(out.status.success());
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A lead of a team from before encryption seals it with an invite carrying keys.
    keyed_invite(&lead, 1, "c2VhbGVk");
    assert!(team_sealed(&relay, &team));
    let out = relay.op(&["invite", "create", "--team", &team, "--lead"]);
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("end-to-end encrypted"),
        "{out:?}"
    );
    let code = String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_owned();
    assert_needs_key(
        join(&relay, &code, "phone", true),
        "after the lead sealed it",
    );
}

#[test]
fn a_leads_invite_hands_back_exactly_its_sealed_keys() {
    let relay = Relay::start();
    let (_, first) = relay.team("Sealed");
    let (lead, _) = joined(&relay, &first, "lead", true);
    let keys = format!(
        "AZaz09-_{}_{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let code = keyed_invite(&lead, 2, &keys);
    // An app that cannot seal would push in the clear: refused, and the use is kept.
    let older = join(&relay, &code, "older phone", false).expect_err("an app that cannot seal");
    assert_eq!(older.status, 409, "{older:?}");
    assert!(older.error().error.contains("update the app"), "{older:?}");
    for name in ["sealing phone", "second sealing phone"] {
        let (device, answer) = joined(&relay, &code, name, true);
        assert!(answer.sealed, "{name}");
        assert_eq!(answer.sealed_keys.as_deref(), Some(keys.as_str()), "{name}");
        assert_eq!(device.role, Role::Canvasser);
    }
    let used_up = join(&relay, &code, "third", true).expect_err("used up");
    assert_eq!(used_up.status, 403, "{used_up:?}");
}

/// A device holding only the first part of a lead's invite code (the relay's part, pasted
/// without the secret after the dot) could not open the keys the invite carries: refused, the
/// invite keeps its use, and no device is left behind. An operator's invite, which carries no
/// keys, is not refused for it; nor is an app that does not say.
#[test]
fn half_of_a_leads_invite_is_refused_and_leaves_the_invite_unused() {
    let relay = Relay::start();
    let (team, first) = relay.team("Sealed");
    let enrol = |invite: &str, name: &str, holds_secret: Option<bool>| {
        relay.enrol_with(&EnrolRequest {
            invite: invite.into(),
            device_name: name.into(),
            actor: None,
            sealing: true,
            token: None,
            holds_secret,
        })
    };
    // The operator's invite has no secret to hold.
    let (lead, _) = enrol(&first, "lead", Some(false)).expect("the first lead enrols");
    let code = keyed_invite(&lead, 1, "AZaz09-_keys");
    let half = enrol(&code, "half", Some(false)).expect_err("half of the invite");
    assert_eq!(half.status, 409, "{half:?}");
    let body = half.error();
    assert_eq!(body.code.as_deref(), Some(CODE_NEEDS_SECRET));
    assert!(
        body.error.contains("first part of the invite") && body.error.contains("not used up"),
        "{}",
        body.error
    );
    assert_eq!(devices_in(&relay, &team), 1, "no device left behind");
    let (_, answer) = enrol(&code, "whole", Some(true)).expect("the whole invite enrols");
    assert_eq!(answer.sealed_keys.as_deref(), Some("AZaz09-_keys"));
    // An app from before, which does not say, is not checked.
    let older = keyed_invite(&lead, 1, "AZaz09-_more");
    enrol(&older, "older", None).expect("not checked");
}

#[test]
fn sealed_keys_leave_the_relay_after_the_invites_last_use() {
    let relay = Relay::start();
    let (_, first) = relay.team("Sealed");
    let (lead, _) = joined(&relay, &first, "lead", true);
    // The longest keys accepted, spread over several database pages.
    let (keys, marker) = keys_with_marker(MAX_SEALED_KEYS_LEN);
    let tail = &keys[keys.len() - 40..];
    let code = keyed_invite(&lead, 2, &keys);

    let (_, answer) = joined(&relay, &code, "first phone", true);
    assert_eq!(answer.sealed_keys.as_deref(), Some(keys.as_str()));
    assert_eq!(stored_invite(&relay, &code), Some((1, Some(keys.clone()))));
    if scans_files() {
        assert!(
            !files_holding(&relay.data_dir, marker.as_bytes()).is_empty(),
            "the scan finds the keys while the invite can still be used"
        );
    }

    let (_, answer) = joined(&relay, &code, "last phone", true);
    assert_eq!(answer.sealed_keys.as_deref(), Some(keys.as_str()));
    assert_eq!(stored_invite(&relay, &code), Some((0, None)));
    assert_keys_gone(&relay, &[marker.as_str(), tail]);
}

/// A sealed team's two leads: A, its first, and B, whom A invited.
pub(crate) fn two_leads(relay: &Relay, team: &str) -> (Device, Device) {
    let (_, first) = relay.team(team);
    let (a, _) = joined(relay, &first, "lead a", true);
    let answer = lead_invite(&a, 1, Role::Lead, Some("bGVhZA"));
    assert_eq!(answer.status, 200, "{answer:?}");
    let (b, _) = joined(relay, &answer.json::<InviteResponse>().code, "lead b", true);
    assert_eq!(b.role, Role::Lead);
    (a, b)
}

#[test]
fn removing_a_lead_forgets_the_keys_of_its_invites() {
    let relay = Relay::start();
    let (a, b) = two_leads(&relay, "Sealed");
    let (keys, marker) = keys_with_marker(600);
    let code = keyed_invite(&a, 5, &keys);
    if scans_files() {
        assert!(!files_holding(&relay.data_dir, marker.as_bytes()).is_empty());
    }

    let revoked = b.post(
        REVOKE_PATH,
        &DeviceAction {
            device_id: a.device_id.clone(),
        },
    );
    assert_eq!(revoked.status, 200, "{revoked:?}");
    assert_eq!(
        stored_invite(&relay, &code),
        None,
        "the invite is cancelled"
    );
    assert_keys_gone(&relay, &[marker.as_str()]);
    let refused = join(&relay, &code, "thief", true).expect_err("cancelled");
    assert_eq!(refused.status, 401, "{refused:?}");
}

#[test]
fn malformed_sealed_keys_are_refused() {
    let relay = Relay::start();
    let (team, first) = relay.team("Plain");
    let (lead, _) = joined(&relay, &first, "lead", false);
    let too_long = "k".repeat(MAX_SEALED_KEYS_LEN + 1);
    for bad in [
        too_long.as_str(),
        "",
        "padded==",
        "a+b/c",
        "with space",
        "naïve",
        "line\nbreak",
    ] {
        let answer = lead_invite(&lead, 1, Role::Canvasser, Some(bad));
        assert_eq!(answer.status, 400, "{bad:?}: {answer:?}");
        assert!(answer.error().error.contains("sealed_keys"), "{answer:?}");
    }
    assert!(
        !team_sealed(&relay, &team),
        "a refused invite seals nothing"
    );
    let answer = lead_invite(
        &lead,
        1,
        Role::Canvasser,
        Some(&"k".repeat(MAX_SEALED_KEYS_LEN)),
    );
    assert_eq!(answer.status, 200, "the longest keys fit: {answer:?}");
}

#[test]
fn a_teams_unused_invites_hold_at_most_a_sixteenth_of_its_quota_in_keys() {
    // A quota of 160 KiB: the team's unused invites may hold 10,240 bytes of keys.
    let relay = Relay::start_with(&["--max-team-bytes", "160KiB"]);
    let (_, first) = relay.team("Sealed");
    let (lead, _) = joined(&relay, &first, "lead", true);
    let (other_team_lead, _) = {
        let (_, first) = relay.team("Another");
        joined(&relay, &first, "other lead", true)
    };
    let keys = |n: usize| "k".repeat(n);
    let one = keyed_invite(&lead, 1, &keys(4_000));
    keyed_invite(&lead, 3, &keys(4_000));
    // 8,000 held: 2,241 more would pass the limit, 2,240 fit.
    let refused = lead_invite(&lead, 1, Role::Canvasser, Some(&keys(2_241)));
    assert_eq!(refused.status, 409, "{refused:?}");
    let message = &refused.error().error;
    assert!(
        message.contains("--uses") && message.contains("10240 bytes"),
        "{message}"
    );
    // Nothing of it was kept, and another team is not held back by this one.
    keyed_invite(&other_team_lead, 1, &keys(10_240));
    // An invite without keys takes no room; keys of an invite used up are forgotten.
    let plain = lead_invite(&lead, 1, Role::Canvasser, None);
    assert_eq!(plain.status, 200, "{plain:?}");
    joined(&relay, &one, "phone", true);
    keyed_invite(&lead, 1, &keys(2_241));
    keyed_invite(&lead, 1, &keys(3_999));
    let refused = lead_invite(&lead, 1, Role::Canvasser, Some(&keys(1)));
    assert_eq!(refused.status, 409, "full again: {refused:?}");
}

#[test]
fn a_team_that_stored_changes_is_not_sealed_by_a_new_device() {
    let relay = Relay::start();
    let (team, first) = relay.team("Plain");
    let (mut lead, answer) = joined(&relay, &first, "lead", false);
    assert!(!answer.sealed);
    lead.sync(vec![item("doc-1", "a change in the clear")], None)
        .expect("push");
    let code = relay.invite(&team, &["--uses", "2"]);
    let (_, answer) = joined(&relay, &code, "old phone", false);
    assert_eq!((answer.sealed, answer.sealed_keys), (false, None));

    // Even with every change erased, the team is not empty: its devices hold its notebook.
    let erased = lead.post(
        ERASE_PATH,
        &EraseRequest {
            doc_id: "doc-1".into(),
            proof: None,
        },
    );
    assert_eq!(erased.status, 200, "{erased:?}");
    let (_, answer) = joined(&relay, &code, "new phone", true);
    assert_eq!(
        (answer.sealed, answer.sealed_keys),
        (false, None),
        "a sealing device cannot make the key of a team with a past"
    );
    assert!(!team_sealed(&relay, &team));
}

#[test]
fn racing_sealing_devices_make_only_one_key() {
    let relay = Relay::start();
    let (team, _) = relay.team("Race");
    let code = relay.invite(&team, &["--uses", "8", "--lead"]);
    let results: Vec<Result<(Device, EnrolResponse), Box<Answer>>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let (relay, code) = (&relay, &code);
                s.spawn(move || join(relay, code, &format!("phone {i}"), true))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    let mut makers = 0;
    for result in results {
        match result {
            Ok((_, answer)) => {
                assert_eq!((answer.sealed, answer.sealed_keys), (true, None));
                makers += 1;
            }
            Err(answer) => assert_needs_key(Err(answer), "a device that lost the race"),
        }
    }
    assert_eq!(makers, 1, "exactly one device makes the team's key");
    assert_eq!(stored_invite(&relay, &code), Some((7, None)));
}
