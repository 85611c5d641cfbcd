//! The commands that act on the team through its relay: join (by link or code), the lead's
//! `team …` commands, and `person erase`. Each prints JSON; a refusal says who can do it.

use std::cell::RefCell;

use groundwork::docs::DocKind;
use groundwork::error::Error;
use groundwork::model::ValidationError;
use groundwork::store::Store;
use groundwork::sync::{self, HttpTransport, SyncError, team};
use groundwork_protocol::team::MAX_INVITE_SECS;
use groundwork_protocol::{InviteRequest, Role, TeamDevice};

use super::args::TeamCommand;
use super::{CliError, print_json, print_line};

/// The relay and code of `invite`: a join link `https://RELAY/#join=CODE` gives both; a bare
/// code needs `relay`.
pub fn relay_and_code(relay: Option<&str>, invite: &str) -> Result<(String, String), CliError> {
    let invite = invite.trim();
    if let Some((Some(base), code)) = team::split_join_link(invite) {
        if let Some(given) = relay
            && given.trim().trim_end_matches('/') != base
        {
            return Err(invalid(
                "--relay",
                given,
                "the join link names another relay: give the link alone",
            ));
        }
        return Ok((base, code));
    }
    match relay {
        Some(r) => Ok((r.to_string(), invite.to_string())),
        None => Err(invalid(
            "--invite",
            invite,
            "a code needs the relay's address too (--relay URL); or give the whole join link",
        )),
    }
}

fn invalid(what: &'static str, value: &str, why: &'static str) -> CliError {
    CliError::Core(Error::Invalid(ValidationError::Unusable {
        what,
        value: value.to_string(),
        why,
    }))
}

/// Seconds in `s`: a number and s, m, h, d or w (e.g. `30m`, `7d`), from a minute to 30 days.
pub fn parse_duration(s: &str) -> Result<u64, CliError> {
    const HINT: &str = "give a number and s, m, h, d or w, e.g. 30m, 24h or 7d";
    const RANGE: &str = "an invite lasts from 1 minute (60s, 1m) to 30 days (30d)";
    let t = s.trim();
    let (number, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: u64 = number
        .parse()
        .map_err(|_| invalid("--expires-in", s, HINT))?;
    let unit_secs = match unit.trim() {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(invalid("--expires-in", s, HINT)),
    };
    let secs = n
        .checked_mul(unit_secs)
        .filter(|&v| (60..=MAX_INVITE_SECS).contains(&v))
        .ok_or_else(|| invalid("--expires-in", s, RANGE))?;
    Ok(secs)
}

/// Run a `team …` command.
pub fn run(store: &mut Store, command: TeamCommand) -> Result<(), CliError> {
    let transport = HttpTransport::new()?;
    let nb = RefCell::new(store);
    match command {
        TeamCommand::Invite {
            uses,
            expires_in,
            lead: as_lead,
            qr,
        } => {
            let request = InviteRequest {
                uses,
                expires_in_secs: parse_duration(&expires_in)?,
                role: if as_lead { Role::Lead } else { Role::Canvasser },
                sealed_keys: None,
                key_parts: Vec::new(),
                request: None,
            };
            let (invite, join_link) = sync::block_on(team::invite(&nb, &transport, &request))
                .map_err(|e| lead(e, "invite"))?;
            print_json(&serde_json::json!({
                "code": invite.code,
                "join_link": join_link,
                "id": invite.id,
                "role": invite.role,
                "uses": invite.uses,
                "expires_at": chrono::DateTime::from_timestamp(invite.expires_at, 0)
                    .map(groundwork::model::format_time),
            }))?;
            if qr {
                // A join link always fits (a few hundred characters at most); should one not,
                // the link printed above still does the job.
                match groundwork_protocol::qr::text(&join_link) {
                    Some(drawn) => print_line(drawn.trim_end_matches('\n'))?,
                    None => eprintln!("the join link is too long for a QR code: send the link"),
                }
            }
            Ok(())
        }
        TeamCommand::Devices => {
            let mine = this_device(&nb)?;
            let devices =
                sync::block_on(team::devices(&nb, &transport)).map_err(|e| lead(e, "devices"))?;
            let listed: Vec<_> = devices.iter().map(|d| listed(d, &mine)).collect();
            Ok(print_json(&listed)?)
        }
        TeamCommand::Invites => {
            let invites = sync::block_on(team::open_invites(&nb, &transport))
                .map_err(|e| lead(e, "invites"))?;
            let listed: Vec<_> = invites
                .iter()
                .map(|i| {
                    serde_json::json!({
                        "id": i.id,
                        "role": i.role,
                        "uses_left": i.uses_left,
                        "created_at": time(Some(i.created_at)),
                        "expires_at": time(Some(i.expires_at)),
                        "made_by": i.made_by,
                        "carries_keys": i.carries_keys,
                    })
                })
                .collect();
            Ok(print_json(&listed)?)
        }
        TeamCommand::CancelInvite { invite } => {
            let answer = sync::block_on(team::cancel_invite(&nb, &transport, &invite))
                .map_err(|e| lead(e, "cancel-invite"))?;
            if !answer.cancelled {
                eprintln!(
                    "the invite was no longer open (used up, expired or cancelled before): \
                     nobody can join with it"
                );
            }
            if answer.joining > 0 {
                eprintln!(
                    "warning: {} device(s) joined with this invite just before and have not \
                     synced yet; each can still finish joining for {} minutes. If you do not \
                     know one, revoke it (groundwork team devices, then team revoke DEVICE_ID)",
                    answer.joining,
                    groundwork_protocol::CANCELLED_INVITE_GRACE_SECS / 60
                );
            }
            Ok(print_json(&answer)?)
        }
        TeamCommand::Revoke { device_id } => {
            let revoked = sync::block_on(team::revoke(&nb, &transport, &device_id))
                .map_err(|e| lead(e, "revoke"))?;
            let mut out = listed(&revoked.device, &this_device(&nb)?);
            if let Some(rotation) = &revoked.rotation {
                out["rotation"] =
                    serde_json::json!({ "epoch": rotation.epoch, "devices": rotation.devices });
            }
            out["rotation_sent"] = revoked.rotation_sent.into();
            out["rotation_waits"] = revoked.rotation_waits.into();
            out["erasures_signed_again"] = revoked.erasures_signed_again.into();
            if let Some(why) = &revoked.erasures_not_signed {
                eprintln!(
                    "warning: the erasures the revoked device ordered as a lead were not all \
                     signed again ({why}): devices that had not carried them out keep those \
                     people until they are; run `groundwork team devices` once the relay \
                     answers, which signs them (`status` lists the revocations left unfinished)"
                );
            }
            Ok(print_json(&out)?)
        }
        TeamCommand::Promote { device_id } => {
            let device = sync::block_on(team::promote(&nb, &transport, &device_id))
                .map_err(|e| lead(e, "promote"))?;
            Ok(print_json(&listed(&device, &this_device(&nb)?))?)
        }
    }
}

/// `person erase ID`.
/// `person erase ID`, `campaign delete ID`, `walklist delete ID`: the document goes from every
/// device and the relay (a lead; a canvasser is told to ask one).
pub fn erase(store: &mut Store, id: &str, kind: DocKind) -> Result<(), CliError> {
    let (action, command, doing) = match kind {
        DocKind::Campaign => (
            "delete a campaign",
            "campaign delete",
            "Deleting a campaign",
        ),
        DocKind::WalkList => (
            "delete a walk list",
            "walklist delete",
            "Deleting a walk list",
        ),
        _ => ("erase a person", "person erase", "Erasing a person"),
    };
    let transport = HttpTransport::new()?;
    let nb = RefCell::new(store);
    let outcome =
        sync::block_on(team::erase_document(&nb, &transport, id, kind)).map_err(|e| match e {
            SyncError::LeadOnly(_) => SyncError::LeadOnly(format!(
                "only a team lead can {action}, and this device is a canvasser's: ask your \
                 team lead to run `groundwork {command} {}`",
                id.trim()
            ))
            .into(),
            other => CliError::from(team::not_done(other, doing)),
        })?;
    Ok(print_json(&outcome)?)
}

/// A canvasser's refusal of a `team` command, worded for that command.
fn lead(e: SyncError, command: &str) -> CliError {
    match e {
        SyncError::LeadOnly(_) => team::lead_only(match command {
            "invite" => "invite devices to the team",
            "devices" => "see the team's devices",
            "invites" => "see the team's invites",
            "cancel-invite" => "cancel the team's invites",
            "revoke" => "revoke a device",
            _ => "make a device a team lead",
        })
        .into(),
        other => team::not_done(
            other,
            match command {
                "invite" => "Making an invite",
                "devices" => "Listing the team's devices",
                "invites" => "Listing the team's invites",
                "cancel-invite" => "Cancelling an invite",
                "revoke" => "Revoking a device",
                _ => "Making a device a lead",
            },
        )
        .into(),
    }
}

/// This device's id at the relay ("" before it joined).
fn this_device(nb: &RefCell<&mut Store>) -> Result<String, CliError> {
    Ok(nb
        .borrow()
        .sync_state()?
        .link
        .map(|l| l.relay_device_id)
        .unwrap_or_default())
}

/// A device of the team as `team devices`, `team revoke` and `team promote` print it: times
/// as RFC 3339, not the relay's seconds.
fn listed(d: &TeamDevice, mine: &str) -> serde_json::Value {
    serde_json::json!({
        "device_id": d.device_id,
        "name": d.name,
        "role": d.role,
        "this_device": d.device_id == mine,
        "enrolled_at": time(Some(d.enrolled_at)),
        "last_sync_at": time(d.last_sync_at),
        "revoked": d.revoked,
        "stored_bytes": d.stored_bytes,
    })
}

fn time(unix: Option<i64>) -> Option<String> {
    unix.and_then(|t| chrono::DateTime::from_timestamp(t, 0))
        .map(groundwork::model::format_time)
}
