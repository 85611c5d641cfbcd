//! Team roles: what a lead may do that a canvasser may not, over HTTP (invites, the device list,
//! revoking, promoting), the last-lead rule, and a relay database of the schema before roles.

use groundwork_protocol::{
    CODE_LAST_LEAD, CODE_LEAD_ONLY, CODE_REVOKED, DeviceAction, EraseRequest, ErasureList,
    InviteRequest, InviteResponse, Role, TeamDevice,
};
use serde_json::Value;

use crate::common::{Answer, Device, Relay, item};

fn invite_request(uses: u32, role: Role) -> InviteRequest {
    InviteRequest {
        uses,
        expires_in_secs: 3600,
        role,
        sealed_keys: None,
        key_parts: Vec::new(),
        request: None,
    }
}

fn action(device: &Device) -> DeviceAction {
    DeviceAction {
        device_id: device.device_id.clone(),
    }
}

fn team_with_lead(relay: &Relay, name: &str, canvassers: u32) -> (Device, Vec<Device>) {
    relay.team_with_lead(name, canvassers)
}

/// 403 with the code `lead_only`, a message saying what to do, and the caller's headers.
fn assert_lead_only(answer: &Answer, what: &str) {
    assert_eq!(answer.status, 403, "{what}: {answer:?}");
    let body = answer.error();
    assert_eq!(body.code.as_deref(), Some(CODE_LEAD_ONLY), "{what}");
    assert!(
        body.error.starts_with("only a team lead can") && body.error.contains("ask your team lead"),
        "{what}: {}",
        body.error
    );
    assert_eq!(
        answer.team_headers(),
        (Some("canvasser"), Some(0)),
        "{what}: a refusal to a known device still says its role"
    );
}

fn devices_of(lead: &Device) -> Vec<TeamDevice> {
    let answer = lead.get("/v1/devices");
    assert_eq!(answer.status, 200, "{answer:?}");
    answer.json()
}

#[test]
fn a_canvasser_is_refused_every_lead_action() {
    let relay = Relay::start();
    let (lead, mut devices) = team_with_lead(&relay, "Refused", 2);
    let mut other = devices.pop().expect("other");
    let mut canvasser = devices.pop().expect("canvasser");
    assert_eq!(canvasser.role, Role::Canvasser);
    canvasser
        .sync(vec![item("doc-d", "a person")], None)
        .expect("canvassers sync");

    assert_lead_only(
        &canvasser.post("/v1/invites", &invite_request(1, Role::Canvasser)),
        "invite",
    );
    assert_lead_only(
        &canvasser.post("/v1/invites", &invite_request(1, Role::Lead)),
        "invite a lead",
    );
    assert_lead_only(&canvasser.get("/v1/devices"), "devices");
    assert_lead_only(
        &canvasser.post("/v1/devices/revoke", &action(&other)),
        "revoke",
    );
    assert_lead_only(
        &canvasser.post("/v1/devices/promote", &action(&canvasser)),
        "promote itself",
    );
    assert_lead_only(
        &canvasser.post(
            "/v1/erase",
            &EraseRequest {
                doc_id: "doc-d".into(),
                proof: None,
            },
        ),
        "erase",
    );

    // Nothing happened: the other canvasser still syncs and holds the document, nobody was
    // promoted, nothing was erased.
    let pulled = other.pull_all(None);
    assert_eq!(pulled, vec![("doc-d".to_owned(), b"a person".to_vec())]);
    let roles: Vec<(String, Role, bool)> = devices_of(&lead)
        .into_iter()
        .map(|d| (d.name, d.role, d.revoked))
        .collect();
    assert_eq!(
        roles,
        vec![
            ("Refused lead".to_owned(), Role::Lead, false),
            ("Refused phone 0".to_owned(), Role::Canvasser, false),
            ("Refused phone 1".to_owned(), Role::Canvasser, false),
        ]
    );
    let list: ErasureList = canvasser.get("/v1/erasures").json();
    assert_eq!((list.erasures.len(), list.head), (0, 0));
    let answer = canvasser.sync_raw(&canvasser.request(Vec::new()), true);
    assert_eq!(answer.status, 200);
    assert_eq!(answer.team_headers(), (Some("canvasser"), Some(0)));
}

#[test]
fn a_lead_invites_lists_promotes_and_revokes() {
    let relay = Relay::start();
    let (lead, mut devices) = team_with_lead(&relay, "Leads", 1);
    let mut b = devices.pop().expect("b");
    let (_, others) = relay.team_with_leads("Elsewhere", 1);

    // The device list: every device of the team, with role and enrolment time, nothing else.
    let answer = lead.get("/v1/devices");
    assert_eq!(answer.team_headers(), (Some("lead"), Some(0)));
    let list: Vec<TeamDevice> = answer.json();
    assert_eq!(list.len(), 2);
    assert_eq!((list[0].role, list[1].role), (Role::Lead, Role::Canvasser));
    assert!(
        list.iter().all(|d| d.enrolled_at > 1_600_000_000),
        "{list:?}"
    );
    assert!(!list.iter().any(|d| d.device_id == others[0].device_id));

    // Invites honour their uses and role.
    let answer = lead.post("/v1/invites", &invite_request(2, Role::Canvasser));
    assert_eq!(answer.team_headers(), (Some("lead"), Some(0)));
    let twice: InviteResponse = answer.json();
    assert_eq!((twice.role, twice.uses), (Role::Canvasser, 2));
    let now = chrono_now();
    assert!(
        (now + 3590..=now + 3610).contains(&twice.expires_at),
        "{twice:?}"
    );
    assert_eq!(
        twice.code.len(),
        39,
        "the operator's format: {}",
        twice.code
    );
    let c = relay.enrol(&twice.code, "C").expect("first use");
    relay.enrol(&twice.code, "C2").expect("second use");
    let (status, message) = relay.enrol(&twice.code, "C3").expect_err("used up");
    assert_eq!(status, 403, "{message}");
    assert_eq!(c.role, Role::Canvasser);
    let lead_invite: InviteResponse = lead
        .post("/v1/invites", &invite_request(1, Role::Lead))
        .json();
    let second_lead = relay
        .enrol(&lead_invite.code, "Second lead")
        .expect("enrols");
    assert_eq!(second_lead.role, Role::Lead);
    assert_eq!(
        devices_of(&second_lead).len(),
        5,
        "a lead invite makes a lead"
    );

    // Bounds and shapes are checked.
    for (uses, secs) in [(0, 3600), (1001, 3600), (1, 59), (1, 30 * 24 * 3600 + 1)] {
        let answer = lead.post(
            "/v1/invites",
            &InviteRequest {
                uses,
                expires_in_secs: secs,
                role: Role::Canvasser,
                sealed_keys: None,
                key_parts: Vec::new(),
                request: None,
            },
        );
        assert_eq!(answer.status, 400, "{uses} {secs}");
        let message = answer.error().error;
        assert!(
            message.contains("uses must be") || message.contains("expires_in_secs must be"),
            "{message}"
        );
    }
    let answer = lead.post(
        "/v1/invites",
        &serde_json::json!({"uses": 1, "expires_in_secs": 600, "role": "boss"}),
    );
    assert_eq!(answer.status, 400, "{answer:?}");
    let answer = lead.post("/v1/invites", &invite_request(MAX_USES, Role::Canvasser));
    assert_eq!(answer.status, 200, "the bounds themselves are allowed");

    // Promote: b becomes a lead and can act at once; promoting again changes nothing.
    let answer = lead.post("/v1/devices/promote", &action(&b));
    assert_eq!(answer.status, 200, "{answer:?}");
    let promoted: TeamDevice = answer.json();
    assert_eq!(
        (promoted.device_id.as_str(), promoted.role),
        (b.device_id.as_str(), Role::Lead)
    );
    let again: TeamDevice = lead.post("/v1/devices/promote", &action(&b)).json();
    assert_eq!(again.role, Role::Lead);
    let answer = b.sync_raw(&b.request(Vec::new()), false);
    assert_eq!(
        answer.team_headers(),
        (Some("lead"), Some(0)),
        "b learns on its next sync"
    );
    assert_eq!(devices_of(&b).len(), 5);

    // Revoke: c's token stops working at once (403 `revoked`); revoking again is harmless.
    let answer = b.post("/v1/devices/revoke", &action(&c));
    assert_eq!(answer.status, 200, "{answer:?}");
    let revoked: TeamDevice = answer.json();
    assert!(revoked.revoked && revoked.device_id == c.device_id);
    let mut c = c;
    let (status, message) = c.sync(Vec::new(), None).expect_err("revoked");
    assert_eq!(status, 403, "{message}");
    let answer = c.get("/v1/erasures");
    assert_eq!(answer.status, 403);
    assert_eq!(answer.error().code.as_deref(), Some(CODE_REVOKED));
    assert_eq!(
        answer.team_headers(),
        (None, None),
        "no headers for a revoked device"
    );
    let again: TeamDevice = lead.post("/v1/devices/revoke", &action(&c)).json();
    assert!(again.revoked);
    // A revoked device cannot become a lead.
    let answer = lead.post("/v1/devices/promote", &action(&c));
    assert_eq!(answer.status, 409, "{answer:?}");

    // Another team's device, or none: 404, the same answer either way.
    for id in [others[0].device_id.as_str(), "no-such-device"] {
        for path in ["/v1/devices/revoke", "/v1/devices/promote"] {
            let answer = lead.post(
                path,
                &DeviceAction {
                    device_id: id.to_owned(),
                },
            );
            assert_eq!(answer.status, 404, "{path} {id}");
            let message = answer.error().error;
            assert!(message.contains("no device of your team"), "{message}");
        }
    }
    let mut other = others[0].clone();
    other
        .sync(Vec::new(), None)
        .expect("the other team's device is untouched");
    let roles: Vec<Role> = devices_of(&other).iter().map(|d| d.role).collect();
    assert_eq!(roles, vec![Role::Lead]);

    // Bodies: JSON required (415), malformed JSON refused (400).
    let resp = reqwest::blocking::Client::new()
        .post(format!("{}/v1/devices/revoke", relay.url))
        .bearer_auth(&lead.token)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .expect("POST");
    assert_eq!(resp.status(), 415);
    let answer = lead.post("/v1/devices/revoke", &serde_json::json!({"device": 1}));
    assert_eq!(answer.status, 400, "{answer:?}");
    b.sync(Vec::new(), None).expect("still fine");
}

/// Largest `uses` a lead may ask for.
const MAX_USES: u32 = groundwork_protocol::team::MAX_INVITE_USES;

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
        .try_into()
        .expect("fits")
}

#[test]
fn a_team_keeps_a_lead() {
    let relay = Relay::start();
    let (lead, mut devices) = team_with_lead(&relay, "Keep", 1);
    let mut b = devices.pop().expect("b");

    // The only lead cannot revoke itself.
    let answer = lead.post("/v1/devices/revoke", &action(&lead));
    assert_eq!(answer.status, 409, "{answer:?}");
    let body = answer.error();
    assert_eq!(body.code.as_deref(), Some(CODE_LAST_LEAD));
    assert!(body.error.contains("a team needs a lead"), "{}", body.error);
    assert_eq!(devices_of(&lead).len(), 2, "still a lead");

    // The operator promotes b from the command line; then the first lead may go.
    let out = relay.op_ok(&["device", "promote", &b.device_id]);
    assert!(out.contains("\"role\":\"lead\""), "{out}");
    let list: Value = serde_json::from_str(&relay.op_ok(&["device", "list", "--team", &b.team_id]))
        .expect("JSON");
    let roles: Vec<&str> = list
        .as_array()
        .expect("array")
        .iter()
        .map(|d| d["role"].as_str().expect("role"))
        .collect();
    assert_eq!(roles, vec!["lead", "lead"]);
    let answer = lead.post("/v1/devices/revoke", &action(&lead));
    assert_eq!(answer.status, 200, "{answer:?}");
    let mut lead = lead;
    let (status, _) = lead.sync(Vec::new(), None).expect_err("revoked itself");
    assert_eq!(status, 403);

    // Now b is the only active lead (a revoked lead does not count).
    let answer = b.post("/v1/devices/revoke", &action(&b));
    assert_eq!(answer.status, 409);
    assert_eq!(answer.error().code.as_deref(), Some(CODE_LAST_LEAD));
    b.sync(Vec::new(), None).expect("b still works");

    // `invite create --lead` makes leads; the operator's revoke reaches any device.
    let code = relay.invite(&b.team_id, &["--lead"]);
    let c = relay.enrol(&code, "C").expect("enrols");
    assert_eq!(c.role, Role::Lead);
    relay.op_ok(&["device", "revoke", &b.device_id]);
    relay.op_ok(&["device", "revoke", &c.device_id]);
    let out = relay.op(&["device", "promote", &c.device_id]);
    assert!(!out.status.success(), "a revoked device is not promoted");
    let out = relay.op(&["device", "promote", "no-such-device"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no device"));
}

/// A lead's invites die with it: once the lead is revoked (its phone lost or stolen), none of the
/// invites it made enrols anyone, not even as a lead, while the operator's and the other leads'
/// invites, and the devices it brought in, carry on.
#[test]
fn a_revoked_leads_invites_no_longer_enrol() {
    let relay = Relay::start();
    let (lead, _) = team_with_lead(&relay, "Stolen", 0);
    let team = lead.team_id.clone();
    let operator_code = relay.invite(&team, &["--lead", "--uses", "3"]);
    let other = relay.enrol(&operator_code, "Other lead").expect("enrols");

    // The lead makes the most generous lead invite there is, and a canvassers' one; a device
    // joins with the former while the lead is active.
    let generous: InviteResponse = lead
        .post(
            "/v1/invites",
            &InviteRequest {
                uses: MAX_USES,
                expires_in_secs: MAX_SECS,
                role: Role::Lead,
                sealed_keys: None,
                key_parts: Vec::new(),
                request: None,
            },
        )
        .json();
    assert_eq!((generous.uses, generous.role), (MAX_USES, Role::Lead));
    let canvassers: InviteResponse = lead
        .post("/v1/invites", &invite_request(5, Role::Canvasser))
        .json();
    let mut joined = relay
        .enrol(&generous.code, "Joined in time")
        .expect("enrols while its maker is a lead");
    assert_eq!(joined.role, Role::Lead);
    let others: InviteResponse = other
        .post("/v1/invites", &invite_request(2, Role::Canvasser))
        .json();

    // The other lead revokes it.
    let answer = other.post("/v1/devices/revoke", &action(&lead));
    assert_eq!(answer.status, 200, "{answer:?}");

    // Its invites now get exactly the answer a code that never existed gets.
    let unknown = relay
        .enrol("aaaa-bbbb-cccc-dddd-eeee-ffff-gggg-hhhh", "Nobody")
        .expect_err("unknown");
    assert_eq!(unknown.0, 401, "{unknown:?}");
    for code in [&generous.code, &canvassers.code] {
        let refused = relay
            .enrol(code, "Thief")
            .expect_err("its maker is revoked");
        assert_eq!(refused, unknown, "{code}");
    }

    // The operator's invite and the other lead's still work; the device the revoked lead
    // brought in stays (revoke it by itself if it should go).
    let third = relay
        .enrol(&operator_code, "Operator's lead")
        .expect("the operator's invite");
    assert_eq!(third.role, Role::Lead);
    relay
        .enrol(&others.code, "Canvasser")
        .expect("the other lead's invite");
    joined
        .sync(vec![item("doc", "still here")], None)
        .expect("a device it brought in still syncs");
    let names: Vec<(String, bool)> = devices_of(&other)
        .into_iter()
        .map(|d| (d.name, d.revoked))
        .collect();
    assert_eq!(
        names,
        vec![
            ("Stolen lead".to_owned(), true),
            ("Other lead".to_owned(), false),
            ("Joined in time".to_owned(), false),
            ("Operator's lead".to_owned(), false),
            ("Canvasser".to_owned(), false),
        ],
        "no thief joined"
    );

    // The operator's `device revoke` cancels a device's invites too, and says how many.
    let from_joined: InviteResponse = joined
        .post("/v1/invites", &invite_request(1, Role::Lead))
        .json();
    let out = relay.op_ok(&["device", "revoke", &joined.device_id]);
    assert!(out.contains("\"invites_cancelled\":1"), "{out}");
    let refused = relay
        .enrol(&from_joined.code, "Late")
        .expect_err("its maker is revoked");
    assert_eq!(refused, unknown);
    let out = relay.op_ok(&["device", "revoke", &joined.device_id]);
    assert!(out.contains("\"invites_cancelled\":0"), "{out}");
}

/// Longest life a lead may give an invite.
const MAX_SECS: u64 = groundwork_protocol::team::MAX_INVITE_SECS;

/// A relay database made by the relay before team roles (schema 3) opens, migrates, and keeps
/// its teams, devices and changes: its devices are canvassers until the operator promotes one.
#[test]
fn a_database_from_before_roles_opens_and_its_devices_are_canvassers() {
    if crate::common::sqlite_only("a database from before roles") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).expect("data dir");
    let blob = b"a change pushed before roles".to_vec();
    let (old_token, reader_token) = ("gwt_old_writer", "gwt_old_reader");
    {
        let db = rusqlite::Connection::open(data.join("relay.sqlite3")).expect("create");
        db.execute_batch(SCHEMA_3).expect("schema 3");
        db.execute(
            "INSERT INTO teams (pk, id, name, created_at, head_seq, stored_bytes)
             VALUES (1, 'old-team', 'Old team', 1700000000, 1, ?1)",
            [i64::try_from(blob.len() + 5).expect("small")],
        )
        .expect("team");
        for (pk, id, token) in [
            (1, "old-writer", old_token),
            (2, "old-reader", reader_token),
        ] {
            db.execute(
                "INSERT INTO devices (pk, id, team_pk, name, token_hash, enrolled_at)
                 VALUES (?1, ?2, 1, ?2, ?3, 1700000000)",
                rusqlite::params![pk, id, &sync_server::secrets::hash_token(token)[..]],
            )
            .expect("device");
        }
        db.execute(
            "INSERT INTO blobs (team_pk, seq, id, doc_id, device_pk, created_at, blob)
             VALUES (1, 1, ?1, 'doc-1', 1, 1700000000, ?2)",
            rusqlite::params![&groundwork_protocol::blob_digest(&blob)[..], &blob],
        )
        .expect("blob");
        db.pragma_update(None, "user_version", 3).expect("version");
    }

    let relay = Relay::start_in(&data, &[]);
    let list: Value = serde_json::from_str(&relay.op_ok(&["device", "list", "--team", "old-team"]))
        .expect("JSON");
    let roles: Vec<&str> = list
        .as_array()
        .expect("array")
        .iter()
        .map(|d| d["role"].as_str().expect("role"))
        .collect();
    assert_eq!(roles, vec!["canvasser", "canvasser"]);

    let device = |id: &str, token: &str| relay.device("old-team", id, token);
    let mut reader = device("old-reader", reader_token);
    let answer = reader.sync_raw(&reader.request(Vec::new()), true);
    assert_eq!(answer.status, 200);
    assert_eq!(answer.team_headers(), (Some("canvasser"), Some(0)));
    assert_eq!(
        reader.pull_all(None),
        vec![("doc-1".to_owned(), blob.clone())],
        "the old log is served"
    );
    assert_lead_only(&reader.get("/v1/devices"), "devices before promotion");
    relay.op_ok(&["device", "promote", "old-writer"]);
    let writer = device("old-writer", old_token);
    assert_eq!(devices_of(&writer).len(), 2);
    let db = rusqlite::Connection::open(data.join("relay.sqlite3")).expect("open");
    let version: i64 = db
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("version");
    assert_eq!(
        version, 13,
        "every migration applied, blobs' rows in the team's count included"
    );
    // The team's count now holds its blob's row too.
    let stored: i64 = db
        .query_row(
            "SELECT stored_bytes FROM teams WHERE id = 'old-team'",
            [],
            |r| r.get(0),
        )
        .expect("stored bytes");
    assert_eq!(stored, i64::try_from(blob.len() + 5 + 128).expect("small"));
    // And the device that pushed it has it in its own count, the other nothing.
    let shares: Vec<(String, u64)> = devices_of(&writer)
        .into_iter()
        .map(|d| (d.device_id, d.stored_bytes))
        .collect();
    assert_eq!(
        shares,
        vec![
            (
                "old-writer".to_owned(),
                u64::try_from(stored).expect("positive")
            ),
            ("old-reader".to_owned(), 0)
        ]
    );
}

/// The relay's schema before team roles (its migrations 1 to 3, applied).
const SCHEMA_3: &str = r"
CREATE TABLE teams (
    pk         INTEGER PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    head_seq   INTEGER NOT NULL DEFAULT 0,
    stored_bytes INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE invites (
    hash       BLOB PRIMARY KEY,
    team_pk    INTEGER NOT NULL REFERENCES teams(pk),
    uses_left  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE devices (
    pk           INTEGER PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    team_pk      INTEGER NOT NULL REFERENCES teams(pk),
    name         TEXT NOT NULL,
    token_hash   BLOB NOT NULL UNIQUE,
    enrolled_at  INTEGER NOT NULL,
    last_sync_at INTEGER,
    revoked_at   INTEGER,
    actor        BLOB
);
CREATE INDEX devices_by_team ON devices(team_pk);
CREATE UNIQUE INDEX devices_by_actor ON devices(team_pk, actor)
    WHERE actor IS NOT NULL AND revoked_at IS NULL;
CREATE TABLE blobs (
    team_pk    INTEGER NOT NULL REFERENCES teams(pk),
    seq        INTEGER NOT NULL,
    id         BLOB NOT NULL,
    doc_id     TEXT NOT NULL,
    device_pk  INTEGER NOT NULL REFERENCES devices(pk),
    created_at INTEGER NOT NULL,
    blob       BLOB NOT NULL,
    PRIMARY KEY (team_pk, seq)
);
CREATE UNIQUE INDEX blobs_by_id ON blobs(team_pk, id);
CREATE INDEX blobs_by_doc ON blobs(team_pk, doc_id, seq);
";
