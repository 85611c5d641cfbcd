//! Operator commands against the data directory of a running relay.

use serde_json::Value;

use crate::common::{Relay, item};

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
    let third_row = list
        .iter()
        .find(|d| d["name"] == "Third phone")
        .expect("third listed");
    assert!(third_row["last_sync"].is_null());

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

/// `GET /v1/devices`: a device sees its own team's devices with their last sync, for the team
/// lead's reports, and nothing of other teams; it needs a valid token.
#[test]
fn devices_list_the_callers_team_only() {
    let relay = Relay::start();
    let (_, mut red) = relay.team_with_devices("Red", 2);
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
    assert!(
        !body.contains(&blue[0].device_id),
        "no other team's devices"
    );
    let (status, _) = list("gwt_wrong");
    assert_eq!(status, 401);
}
