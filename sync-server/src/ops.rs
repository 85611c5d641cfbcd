//! The operator commands. They open the same SQLite file as a running relay (WAL and a busy
//! timeout make that safe) and print JSON or a plain invite code. With the relay's public URL
//! known, invites come with their join link (see [`crate::link`]).
//!
//! The operator is the root of the team's trust: `team create` prints a lead invite (the first
//! device to join runs the team), `invite create --lead` makes another, `device promote` makes
//! an enrolled device a lead, and `device revoke` works on any device, even a team's last lead
//! (a lead's own revocation through the API refuses that).

use groundwork_protocol::{Role, invite_id_bytes};
use serde_json::{Value, json};

use crate::link::{PublicUrl, QrError, qr_text};
use crate::secrets::{RandomError, hash_invite, new_invite};
use crate::store::{InvitesOf, NewInvite, Store, StoreError, now};

/// Uses and lifetime of the lead invite printed by `team create`.
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
    /// `--qr` without a public URL to put in the code.
    #[error(
        "--qr needs the relay's public address for the join link: pass --public-url https://relay.example.org (or set GROUNDWORK_RELAY_PUBLIC_URL, or public_url in the config file)"
    )]
    QrNeedsPublicUrl,
    /// The link could not be drawn.
    #[error(transparent)]
    Qr(#[from] QrError),
    /// What `invite cancel` was given names no invite.
    #[error(
        "{0:?} is not an invite: give its id (16 hexadecimal digits, from `invite list`) or its code"
    )]
    NotAnInvite(String),
}

/// `team create --name N`: the new team's id, a first invite (single use, 7 days, for a lead)
/// and its join link (null without a public URL).
pub fn team_create(
    store: &dyn Store,
    name: &str,
    public_url: Option<&PublicUrl>,
) -> Result<Value, OpsError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(OpsError::EmptyName);
    }
    let team_id = store.create_team(name, now())?;
    let invite = invite_create_as(
        store,
        &team_id,
        FIRST_INVITE_USES,
        FIRST_INVITE_SECONDS,
        Role::Lead,
    )?;
    let join_link = public_url.map(|url| url.join_link(&invite));
    Ok(json!({ "team_id": team_id, "invite": invite, "join_link": join_link }))
}

/// A new invite code and what to store of it (its hash, uses, expiry and role; no sealed keys):
/// the operator's invites and the leads' are made alike.
pub fn prepare_invite(
    uses: u32,
    expires_in_secs: u64,
    role: Role,
    now: i64,
) -> Result<(String, NewInvite), RandomError> {
    Ok(invite_of_code(
        new_invite()?,
        uses,
        expires_in_secs,
        role,
        now,
    ))
}

/// [`prepare_invite`] with the code given (a lead's request's: [`crate::secrets::requested_invite`]).
pub fn invite_of_code(
    code: String,
    uses: u32,
    expires_in_secs: u64,
    role: Role,
    now: i64,
) -> (String, NewInvite) {
    let invite = NewInvite {
        code_hash: hash_invite(&code),
        uses,
        expires_at: now.saturating_add(i64::try_from(expires_in_secs).unwrap_or(i64::MAX)),
        role,
        sealed_keys: None,
        key_parts: Vec::new(),
    };
    (code, invite)
}

/// `invite create --team ID --uses N --expires-in D`: a new invite code for canvassers.
pub fn invite_create(
    store: &dyn Store,
    team_id: &str,
    uses: u32,
    expires_in_secs: u64,
) -> Result<String, OpsError> {
    invite_create_as(store, team_id, uses, expires_in_secs, Role::Canvasser)
}

/// `invite create … [--lead]`: a new invite code giving `role`.
pub fn invite_create_as(
    store: &dyn Store,
    team_id: &str,
    uses: u32,
    expires_in_secs: u64,
    role: Role,
) -> Result<String, OpsError> {
    Ok(operator_invite(store, team_id, uses, expires_in_secs, role)?.code)
}

/// An invite the operator made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorInvite {
    /// The invite code.
    pub code: String,
    /// The team is sealed (end-to-end encrypted): the operator's invite, which carries no keys,
    /// enrols nobody into it (see [`SEALED_TEAM_WARNING`]).
    pub team_sealed: bool,
    /// A canvasser's invite into a team that is not sealed and has no active lead yet: a device
    /// that seals (every current app) cannot join with it until the team's first lead has
    /// joined (see [`NO_LEAD_YET_WARNING`]).
    pub no_lead_yet: bool,
}

/// What `invite create` warns (on standard error) for a sealed team.
pub const SEALED_TEAM_WARNING: &str = "warning: this team's notebook is end-to-end encrypted \
     (sealed): an invite from the operator carries no key, so devices cannot join with it (they \
     are refused with needs_key and the invite is not used up). Ask a team lead to invite them \
     from their app (groundwork team invite).";

/// What `invite create` warns (on standard error) for a canvasser's invite into a team that has
/// no lead yet.
pub const NO_LEAD_YET_WARNING: &str = "warning: this team has no lead yet: devices cannot join \
     with a canvasser's invite until its first lead has joined, with the invite `team create` \
     printed (or one from `invite create --lead`) (they are refused with no_lead_yet and the \
     invite is not used up). Once the lead has joined, they invite the others from their app \
     (groundwork team invite).";

/// `invite create … [--lead]`: a new invite code giving `role`, whether its team is sealed, and
/// whether a canvasser's invite waits for the team's first lead.
pub fn operator_invite(
    store: &dyn Store,
    team_id: &str,
    uses: u32,
    expires_in_secs: u64,
    role: Role,
) -> Result<OperatorInvite, OpsError> {
    let now = now();
    let (code, invite) = prepare_invite(uses, expires_in_secs, role, now)?;
    let team_sealed = store.create_invite(team_id, &invite, now)?;
    let no_lead_yet = role == Role::Canvasser
        && !team_sealed
        && !store
            .list_devices(team_id)?
            .iter()
            .any(|d| d.role == Role::Lead && d.revoked_at.is_none());
    Ok(OperatorInvite {
        code,
        team_sealed,
        no_lead_yet,
    })
}

/// What `invite create` prints for `code`: the code on the first line, then the join link when
/// the public URL is known, then with `qr` the link as a QR code. Without a public URL, `qr` is
/// an error, checked before anything is created by [`check_qr`].
pub fn invite_output(
    code: &str,
    public_url: Option<&PublicUrl>,
    qr: bool,
) -> Result<String, OpsError> {
    check_qr(public_url, qr)?;
    let mut out = code.to_owned();
    if let Some(url) = public_url {
        let link = url.join_link(code);
        out.push('\n');
        out.push_str(&link);
        if qr {
            out.push('\n');
            out.push_str(qr_text(&link)?.trim_end_matches('\n'));
        }
    }
    Ok(out)
}

/// Refuses `--qr` without a public URL.
pub fn check_qr(public_url: Option<&PublicUrl>, qr: bool) -> Result<(), OpsError> {
    if qr && public_url.is_none() {
        return Err(OpsError::QrNeedsPublicUrl);
    }
    Ok(())
}

/// What `invite cancel` warns (on standard error) when devices enrolled with the invite just
/// before and may still finish joining.
pub fn joining_warning() -> String {
    format!(
        "warning: devices enrolled with this invite just before it was cancelled and have not \
         synced yet (\"joining\"): each can still finish joining for {} minutes. If one should \
         not be in the team, revoke it (device list, then device revoke).",
        groundwork_protocol::CANCELLED_INVITE_GRACE_SECS / 60
    )
}

/// `invite list --team ID`: the team's open invites (uses left, not expired, not cancelled),
/// times in RFC 3339 (UTC).
pub fn invite_list(store: &dyn Store, team_id: &str) -> Result<Value, OpsError> {
    let invites = store.open_invites(InvitesOf::Team(team_id), now())?;
    Ok(Value::Array(
        invites
            .into_iter()
            .map(|i| {
                json!({
                    "id": groundwork_protocol::invite_id_of_hash(&i.id),
                    "role": i.role,
                    "uses_left": i.uses_left,
                    "created_at": rfc3339(i.created_at),
                    "expires_at": rfc3339(i.expires_at),
                    "made_by": i.made_by,
                    "carries_keys": i.carries_keys,
                })
            })
            .collect(),
    ))
}

/// `invite cancel --team ID INVITE`: nobody enrols with the invite named by its id (from
/// `invite list`) or its code any more, and the keys it carries are forgotten (after a grace
/// period for devices that enrolled with it just before: `joining`).
pub fn invite_cancel(store: &dyn Store, team_id: &str, invite: &str) -> Result<Value, OpsError> {
    let bytes = groundwork_protocol::invite_id_named(invite)
        .and_then(|id| invite_id_bytes(&id))
        .ok_or_else(|| OpsError::NotAnInvite(invite.trim().to_owned()))?;
    let done = store.cancel_invite(InvitesOf::Team(team_id), bytes, now())?;
    Ok(json!({
        "id": groundwork_protocol::invite_id_of_hash(&bytes),
        "cancelled": done.was_open,
        "joining": done.joining,
    }))
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
                    "role": d.role,
                    "stored_bytes": d.stored_bytes,
                })
            })
            .collect(),
    ))
}

/// `device revoke DEVICE_ID`: the device's token stops working, and the invites it made that
/// still had uses left are cancelled (`invites_cancelled` says how many).
pub fn device_revoke(store: &dyn Store, device_id: &str) -> Result<Value, OpsError> {
    let cancelled = store.revoke_device(device_id, now())?;
    Ok(json!({ "device_id": device_id, "revoked": true, "invites_cancelled": cancelled }))
}

/// `device promote DEVICE_ID`: the device becomes a lead of its team.
pub fn device_promote(store: &dyn Store, device_id: &str) -> Result<Value, OpsError> {
    store.promote_device(device_id)?;
    Ok(json!({ "device_id": device_id, "role": Role::Lead }))
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
    fn invites_come_with_their_join_link() {
        let url: PublicUrl = "https://relay.example.org/".parse().expect("valid");
        assert_eq!(invite_output("AB-CD", None, false).expect("plain"), "AB-CD");
        assert_eq!(
            invite_output("AB-CD", Some(&url), false).expect("link"),
            "AB-CD\nhttps://relay.example.org/#join=AB-CD"
        );
        let with_qr = invite_output("AB-CD", Some(&url), true).expect("qr");
        assert!(with_qr.lines().count() > 10);
        assert!(matches!(
            invite_output("AB-CD", None, true),
            Err(OpsError::QrNeedsPublicUrl)
        ));
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(dir.path()).expect("open");
        let created = team_create(&store, "Canal", Some(&url)).expect("team");
        let invite = created["invite"].as_str().expect("invite");
        assert_eq!(
            created["join_link"],
            format!("https://relay.example.org/#join={invite}")
        );
    }

    #[test]
    fn team_invite_enrol_list_revoke() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(dir.path()).expect("open");
        let created = team_create(&store, " Riverside ", None).expect("team");
        assert_eq!(created["join_link"], Value::Null);
        let team_id = created["team_id"].as_str().expect("id").to_owned();
        let invite = created["invite"].as_str().expect("invite").to_owned();
        let token = new_token().expect("token");
        let device = NewDevice {
            invite_hash: hash_invite(&invite),
            device_id: "dev-1".into(),
            name: "Sam's phone".into(),
            token_hash: hash_token(&token),
            actor: None,
            sealing: false,
            chosen_token: false,
            lacks_secret: false,
        };
        let enrolled = store.enrol(&device, now()).expect("enrols");
        assert_eq!(enrolled.team_id, team_id);
        assert_eq!(
            enrolled.role,
            Role::Lead,
            "team create's invite is a lead's"
        );
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
        assert_eq!(list[0]["role"], "lead");
        let canvasser = invite_create(&store, &team_id, 1, 60).expect("invite");
        let joined = store
            .enrol(
                &NewDevice {
                    invite_hash: hash_invite(&canvasser),
                    device_id: "dev-3".into(),
                    name: "Joy's phone".into(),
                    token_hash: hash_token("third"),
                    actor: None,
                    sealing: false,
                    chosen_token: false,
                    lacks_secret: false,
                },
                now(),
            )
            .expect("enrols");
        assert_eq!(joined.role, Role::Canvasser);
        device_promote(&store, "dev-3").expect("promote");
        assert_eq!(
            device_list(&store, &team_id).expect("list")[1]["role"],
            "lead"
        );
        assert_eq!(
            device_revoke(&store, "dev-1").expect("revoke")["invites_cancelled"],
            0,
            "dev-1 made no invites"
        );
        assert_eq!(
            device_list(&store, &team_id).expect("list")[0]["revoked"],
            true
        );
        assert!(matches!(
            device_revoke(&store, "nope"),
            Err(OpsError::Store(StoreError::UnknownDevice(_)))
        ));
        assert!(matches!(
            device_promote(&store, "dev-1"),
            Err(OpsError::Store(StoreError::PromoteRevoked(_)))
        ));
        assert!(matches!(
            device_promote(&store, "nope"),
            Err(OpsError::Store(StoreError::UnknownDevice(_)))
        ));
        assert!(matches!(
            invite_create(&store, "no-team", 1, 60),
            Err(OpsError::Store(StoreError::UnknownTeam(_)))
        ));
        assert!(matches!(
            team_create(&store, "  ", None),
            Err(OpsError::EmptyName)
        ));
    }
}
