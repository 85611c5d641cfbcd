//! The operator commands. They open the same SQLite file as a running relay (WAL and a busy
//! timeout make that safe) and print JSON or a plain invite code.

use serde_json::{Value, json};

use crate::secrets::{hash_invite, new_invite};
use crate::store::{NewInvite, Store, StoreError, now};

/// Uses and lifetime of the invite printed by `team create`.
pub const FIRST_INVITE_USES: u32 = 1;
/// Seven days.
pub const FIRST_INVITE_SECONDS: u64 = 7 * 86_400;

/// Why an operator command failed.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No randomness for a secret.
    #[error(transparent)]
    Random(#[from] crate::secrets::RandomError),
    /// The team name is empty.
    #[error("a team name must not be empty")]
    EmptyName,
}

/// `team create --name N`: the new team's id and a first invite.
pub fn team_create(store: &dyn Store, name: &str) -> Result<Value, OpsError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(OpsError::EmptyName);
    }
    let team_id = store.create_team(name, now())?;
    let invite = invite_create(store, &team_id, FIRST_INVITE_USES, FIRST_INVITE_SECONDS)?;
    Ok(json!({ "team_id": team_id, "invite": invite }))
}

/// `invite create --team ID --uses N --expires-in D`: a new invite code.
pub fn invite_create(
    store: &dyn Store,
    team_id: &str,
    uses: u32,
    expires_in_secs: u64,
) -> Result<String, OpsError> {
    let code = new_invite()?;
    let now = now();
    let invite = NewInvite {
        code_hash: hash_invite(&code),
        uses,
        expires_at: now.saturating_add(i64::try_from(expires_in_secs).unwrap_or(i64::MAX)),
    };
    store.create_invite(team_id, &invite, now)?;
    Ok(code)
}

/// `device list --team ID`: the team's devices, times in RFC 3339 (UTC).
pub fn device_list(store: &dyn Store, team_id: &str) -> Result<Value, OpsError> {
    let devices = store.list_devices(team_id)?;
    Ok(Value::Array(
        devices
            .into_iter()
            .map(|d| {
                json!({
                    "device_id": d.device_id,
                    "name": d.name,
                    "last_sync": d.last_sync_at.map(rfc3339),
                    "enrolled_at": rfc3339(d.enrolled_at),
                    "revoked": d.revoked_at.is_some(),
                    "revoked_at": d.revoked_at.map(rfc3339),
                })
            })
            .collect(),
    ))
}

/// `device revoke DEVICE_ID`.
pub fn device_revoke(store: &dyn Store, device_id: &str) -> Result<Value, OpsError> {
    store.revoke_device(device_id, now())?;
    Ok(json!({ "device_id": device_id, "revoked": true }))
}

/// Unix seconds as RFC 3339 UTC, e.g. `2025-01-31T12:00:00Z`.
pub fn rfc3339(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| secs.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::{hash_token, new_token};
    use crate::store::{NewDevice, SqliteStore};

    #[test]
    fn rfc3339_formats_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn team_invite_enrol_list_revoke() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(dir.path()).expect("open");
        let created = team_create(&store, " Riverside ").expect("team");
        let team_id = created["team_id"].as_str().expect("id").to_owned();
        let invite = created["invite"].as_str().expect("invite").to_owned();
        let token = new_token().expect("token");
        let device = NewDevice {
            invite_hash: hash_invite(&invite),
            device_id: "dev-1".into(),
            name: "Sam's phone".into(),
            token_hash: hash_token(&token),
            actor: None,
        };
        assert_eq!(store.enrol(&device, now()).expect("enrols"), team_id);
        let again = NewDevice {
            device_id: "dev-2".into(),
            token_hash: hash_token("other"),
            ..device
        };
        assert!(matches!(
            store.enrol(&again, now()),
            Err(StoreError::InviteUsedUp)
        ));
        let list = device_list(&store, &team_id).expect("list");
        assert_eq!(list[0]["device_id"], "dev-1");
        assert_eq!(list[0]["last_sync"], Value::Null);
        device_revoke(&store, "dev-1").expect("revoke");
        assert_eq!(
            device_list(&store, &team_id).expect("list")[0]["revoked"],
            true
        );
        assert!(matches!(
            device_revoke(&store, "nope"),
            Err(OpsError::Store(StoreError::UnknownDevice(_)))
        ));
        assert!(matches!(
            invite_create(&store, "no-team", 1, 60),
            Err(OpsError::Store(StoreError::UnknownTeam(_)))
        ));
        assert!(matches!(
            team_create(&store, "  "),
            Err(OpsError::EmptyName)
        ));
    }
}
