//! Operator commands against the data directory of a running relay.

use serde_json::Value;

use crate::common::{Relay, item, operator, postgres};

#[test]
fn operator_commands_work_while_serving() {
    let relay = Relay::start();
    // team create prints the team id and a first invite.
    let out = relay.op_ok(&["team", "create", "--name", "Canal Street"]);
    let created: Value = serde_json::from_str(&out).expect("JSON");
    let team = created["team_id"].as_str().expect("team_id").to_owned();
    let first = created["invite"].as_str().expect("invite").to_owned();

    let mut lead = relay.enrol(&first, "Lead's phone").expect("first device");
    let invite = relay.invite(&team, &["--uses", "2", "--expires-in", "1h"]);
    let mut second = relay.enrol(&invite, "Second phone").expect("second device");
    let _third = relay.enrol(&invite, "Third phone").expect("third device");

    // Sync while operator commands run in between.
    lead.sync(vec![item("doc", "from the lead")], None)
        .expect("push");
    let list: Value =
        serde_json::from_str(&relay.op_ok(&["device", "list", "--team", &team])).expect("JSON");
    let list = list.as_array().expect("array");
    assert_eq!(list.len(), 3);
    let lead_row = list
        .iter()
        .find(|d| d["device_id"] == lead.device_id.as_str())
        .expect("lead listed");
    assert_eq!(lead_row["name"], "Lead's phone");
    assert!(
        lead_row["last_sync"].is_string(),
        "last sync recorded: {lead_row}"
    );
    assert_eq!(lead_row["revoked"], false);
    assert_eq!(
        lead_row["role"], "lead",
        "team create's invite makes a lead"
    );
    let third_row = list
        .iter()
        .find(|d| d["name"] == "Third phone")
        .expect("third listed");
    assert!(third_row["last_sync"].is_null());
    assert_eq!(
        third_row["role"], "canvasser",
        "invite create makes canvassers"
    );

    // A pull-only sync records the time too.
    second.sync(Vec::new(), None).expect("pull");
    let list: Value =
        serde_json::from_str(&relay.op_ok(&["device", "list", "--team", &team])).expect("JSON");
    let second_row = list
        .as_array()
        .expect("array")
        .iter()
        .find(|d| d["device_id"] == second.device_id.as_str())
        .expect("second listed");
    assert!(second_row["last_sync"].is_string());

    // Revocation takes effect at once.
    let out = relay.op_ok(&["device", "revoke", &second.device_id]);
    assert!(out.contains("\"revoked\":true"), "{out}");
    let (status, _) = second.sync(Vec::new(), None).expect_err("revoked");
    assert_eq!(status, 403);
    lead.sync(Vec::new(), None).expect("lead unaffected");

    // Mistakes are reported, with a non-zero exit.
    let out = relay.op(&["device", "revoke", "no-such-device"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no device"));
    let out = relay.op(&["invite", "create", "--team", "no-such-team"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no team"));
    let out = relay.op(&["device", "list", "--team", "no-such-team"]);
    assert!(!out.status.success());
    assert!(relay.healthy());
}

#[test]
fn settings_come_from_the_config_file_and_environment() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("from-file");
    let config = tmp.path().join("relay.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\ndata_dir = {:?}\nlog = \"warn\"\n",
            data.display().to_string()
        ),
    )
    .expect("write config");
    // The data directory comes from the file when neither flag nor environment sets it.
    let out = std::process::Command::new(crate::common::BIN)
        .args(["team", "create", "--name", "From file"])
        .env("GROUNDWORK_RELAY_CONFIG", &config)
        .env_remove("GROUNDWORK_RELAY_DATA_DIR")
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(data.join("relay.sqlite3").exists());
    // The environment beats the file.
    let env_data = tmp.path().join("from-env");
    let out = std::process::Command::new(crate::common::BIN)
        .args(["team", "create", "--name", "From env"])
        .env("GROUNDWORK_RELAY_CONFIG", &config)
        .env("GROUNDWORK_RELAY_DATA_DIR", &env_data)
        .output()
        .expect("run");
    assert!(out.status.success());
    assert!(env_data.join("relay.sqlite3").exists());
    // A broken file is reported, not ignored.
    std::fs::write(&config, "lisen = 1\n").expect("write config");
    let out = std::process::Command::new(crate::common::BIN)
        .args(["team", "create", "--name", "x", "--config"])
        .arg(&config)
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("lisen"));
}

/// `GET /v1/devices`: a lead sees its own team's devices with their last sync and role, for the
/// team lead's reports, and nothing of other teams; it needs a valid token.
#[test]
fn devices_list_the_callers_team_only() {
    let relay = Relay::start();
    let (_, mut red) = relay.team_with_leads("Red", 2);
    let (_, blue) = relay.team_with_devices("Blue", 1);
    red[0].sync(vec![item("doc", "hello")], None).expect("sync");
    let list = |token: &str| relay.http_get_with_token("/v1/devices", token);
    let (status, body) = list(&red[1].token);
    assert_eq!(status, 200, "{body}");
    let devices: Value = serde_json::from_str(&body).expect("JSON");
    let devices = devices.as_array().expect("array");
    assert_eq!(devices.len(), 2, "{body}");
    let synced = devices
        .iter()
        .find(|d| d["device_id"] == red[0].device_id.as_str())
        .expect("listed");
    assert!(synced["last_sync_at"].is_i64(), "{synced}");
    assert_eq!(synced["revoked"], false);
    let idle = devices
        .iter()
        .find(|d| d["device_id"] == red[1].device_id.as_str())
        .expect("listed");
    assert!(idle["last_sync_at"].is_null(), "{idle}");
    assert_eq!(idle["role"], "lead");
    assert!(
        idle["enrolled_at"].as_i64().is_some_and(|t| t > 0),
        "{idle}"
    );
    assert!(
        !body.contains(&blue[0].device_id),
        "no other team's devices"
    );
    let (status, _) = list("gwt_wrong");
    assert_eq!(status, 401);
}

/// The join link: printed with the invite when the relay's public URL is known, the code in the
/// fragment exactly as the invite; the code alone (one line) otherwise.
#[test]
fn invites_come_with_a_join_link_when_the_public_url_is_known() {
    let relay = Relay::start();
    let url = ["--public-url", "https://relay.example.org/"];

    // team create: the JSON gains join_link, null without a public URL.
    let created: Value =
        serde_json::from_str(&relay.op_ok(&["team", "create", "--name", "Plain"])).expect("JSON");
    assert!(created["join_link"].is_null(), "{created}");
    let mut args = vec!["team", "create", "--name", "Linked"];
    args.extend_from_slice(&url);
    let created: Value = serde_json::from_str(&relay.op_ok(&args)).expect("JSON");
    let team = created["team_id"].as_str().expect("team_id").to_owned();
    let first = created["invite"].as_str().expect("invite").to_owned();
    assert_eq!(
        created["join_link"],
        format!("https://relay.example.org/#join={first}")
    );

    // invite create: the code on the first line as before, the link on the second.
    let plain = relay.op_ok(&["invite", "create", "--team", &team]);
    assert_eq!(plain.lines().count(), 1, "{plain}");
    let mut args = vec!["invite", "create", "--team", &team];
    args.extend_from_slice(&url);
    let out = relay.op_ok(&args);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    let (code, link) = (lines[0], lines[1]);
    assert_eq!(link, format!("https://relay.example.org/#join={code}"));

    // The environment works too, and the printed code is the real invite.
    let out = std::process::Command::new(crate::common::BIN)
        .args(["invite", "create", "--team", &team, "--data-dir"])
        .arg(&relay.data_dir)
        .args(crate::common::database_args(&relay.data_dir))
        .env_remove("GROUNDWORK_RELAY_CONFIG")
        .env("GROUNDWORK_RELAY_PUBLIC_URL", "http://10.0.0.5:8080")
        .output()
        .expect("run");
    assert!(out.status.success());
    let out = String::from_utf8(out.stdout).expect("utf-8");
    let code = out.lines().next().expect("code");
    assert_eq!(
        out.lines().nth(1),
        Some(format!("http://10.0.0.5:8080/#join={code}").as_str())
    );
    relay.enrol(&first, "Lead").expect("the first code enrols");
    relay
        .enrol(code, "Phone from the link")
        .expect("the code enrols, once the team has its lead");
}

#[test]
fn a_bad_public_url_is_refused_with_what_to_write() {
    let relay = Relay::start();
    let (team, _) = relay.team("Bad URL");
    for (bad, reason) in [
        ("https://relay.example.org/app", "has a path"),
        ("https://relay.example.org/?x=1", "has a query"),
        ("https://relay.example.org/#x", "has a fragment"),
        ("relay.example.org", "must start with https://"),
        ("ftp://relay.example.org", "must start with https://"),
    ] {
        let out = relay.op(&["invite", "create", "--team", &team, "--public-url", bad]);
        assert!(!out.status.success(), "{bad} accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(reason), "{bad}: {err}");
        assert!(err.contains("e.g. https://relay.example.org"), "{err}");
        assert!(out.stdout.is_empty(), "nothing printed for {bad}");
    }
    // In the config file too.
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = tmp.path().join("relay.toml");
    std::fs::write(&config, "public_url = \"https://relay.example.org/app\"\n").expect("write");
    let out = relay.op(&[
        "team",
        "create",
        "--name",
        "x",
        "--config",
        &config.display().to_string(),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("has a path"));
}

/// `--qr`: the link as a block of Unicode half blocks, square in modules (two per line) with a
/// light quiet zone; without a public URL, a clear error and no invite.
#[test]
fn qr_draws_the_link_and_needs_the_public_url() {
    let relay = Relay::start();
    let (team, _) = relay.team("QR");
    let out = relay.op_ok(&[
        "invite",
        "create",
        "--team",
        &team,
        "--qr",
        "--public-url",
        "https://relay.example.org",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[1].starts_with("https://relay.example.org/#join="));
    let qr = &lines[2..];
    let width = qr[0].chars().count();
    // 4 modules of quiet zone each side around a code of 17 + 4v modules (v = 1..=40).
    let modules = width - 8;
    assert!(
        (21..=177).contains(&modules) && (modules - 17).is_multiple_of(4),
        "{width}"
    );
    assert_eq!(qr.len(), width.div_ceil(2), "{out}");
    assert!(qr.iter().all(|l| l.chars().count() == width), "{out}");
    assert!(
        qr.iter().all(|l| l.chars().all(|c| " ▀▄█".contains(c))),
        "{out}"
    );
    assert!(qr[..2].iter().all(|l| l.chars().all(|c| c == '█')), "{out}");
    assert!(qr.iter().any(|l| l.contains(' ')), "dark modules drawn");

    let invites = || -> i64 {
        let row = crate::common::db_row(
            &relay.data_dir,
            "SELECT CAST(count(*) AS TEXT) FROM invites WHERE $1 = $1",
            crate::common::Param::Text(""),
        )
        .expect("count");
        crate::common::int(&row[0])
    };
    let before = invites();
    let out = relay.op(&["invite", "create", "--team", &team, "--qr"]);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--qr needs") && err.contains("--public-url"),
        "{err}"
    );
    assert_eq!(invites(), before, "no invite created when --qr is refused");
}

/// An operator command on a data directory holding no relay database (a mistyped
/// `--data-dir`) says that it made a new one there, once; on PostgreSQL there is no file to
/// miss.
#[test]
fn an_operator_command_on_a_new_data_directory_says_it_made_a_database() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("typo");
    let first = operator(&data, &["team", "create", "--name", "Elm Road"]);
    assert!(first.status.success(), "{first:?}");
    let said = String::from_utf8_lossy(&first.stderr);
    if postgres().is_none() {
        assert!(
            said.contains("there was no relay database in") && said.contains("--data-dir"),
            "{said}"
        );
    }
    let again = operator(&data, &["team", "create", "--name", "Birch Street"]);
    assert!(again.status.success(), "{again:?}");
    assert!(again.stderr.is_empty(), "said once: {again:?}");
}
