//! The command line: parses arguments, calls the core, prints JSON to stdout.
//!
//! The command names and flags are a contract (the acceptance tests drive them); see
//! README.md for the list. Errors go to stderr with exit status 1.

pub mod args;

use std::io::Write;
use std::path::{Path, PathBuf};

use groundwork::error::{Error, Result};
use groundwork::export;
use groundwork::model::{
    CommitmentStatus, ConsentChannel, NewCampaign, NewCommitment, NewConversation, NewPerson,
    PersonPatch, parse_date, parse_target, parse_time,
};
use groundwork::store::{CommitmentFilter, Store};
use groundwork::sync::{self, HttpTransport, SyncError};

use args::{
    CampaignCommand, Command, CommitmentCommand, ConversationCommand, PersonCommand, PersonDetails,
    ShiftCommand,
};

/// The data directory: the flag or variable, else the platform's data directory.
pub fn data_dir(given: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(d) = given {
        return Ok(d);
    }
    directories::ProjectDirs::from("org", "Groundwork", "groundwork")
        .map(|p| p.data_dir().to_path_buf())
        .ok_or_else(|| Error::DataDir {
            path: PathBuf::from("(platform data directory)"),
            source: std::io::Error::other("no home directory is known; pass --data-dir DIR"),
        })
}

fn print_json<T: serde::Serialize>(value: &T) -> Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}

fn print_line(s: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{s}")?;
    out.flush()?;
    Ok(())
}

fn channels(names: &[String]) -> Result<Vec<ConsentChannel>> {
    Ok(names.iter().map(|c| c.parse()).collect::<Result<_, _>>()?)
}

fn opt_date(s: Option<&str>) -> Result<Option<chrono::NaiveDate>> {
    Ok(s.map(parse_date).transpose()?)
}

/// What a command can fail with: the core's errors, and sync's.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// From the notebook.
    #[error(transparent)]
    Core(#[from] Error),
    /// From syncing.
    #[error(transparent)]
    Sync(#[from] SyncError),
}

/// Run one command against the data directory `dir`.
pub fn run(dir: &Path, command: Command) -> Result<(), CliError> {
    match command {
        Command::Join {
            relay,
            invite,
            name,
        } => {
            let mut store = Store::open(dir)?;
            let transport = HttpTransport::new()?;
            Ok(print_json(&sync::join(
                &mut store, &transport, &relay, &invite, &name,
            )?)?)
        }
        Command::Sync => {
            let mut store = Store::open(dir)?;
            let transport = HttpTransport::new()?;
            let report = sync::sync_once(&mut store, &transport, sync::plan::Budget::default())?;
            Ok(print_json(&serde_json::json!({
                "pushed": report.pushed,
                "pulled": report.pulled,
                "rejected": report.rejected,
            }))?)
        }
        other => Ok(notebook(&mut Store::open(dir)?, other)?),
    }
}

/// The commands that need only the local notebook.
fn notebook(store: &mut Store, command: Command) -> Result<()> {
    match command {
        Command::Person(c) => person(store, c),
        Command::Search { query, limit } => print_json(&store.search(&query, limit)?),
        Command::Conversation(ConversationCommand::Add {
            person,
            kind,
            at,
            notes,
            story,
            issues,
            engagement,
            follow_up,
            shift,
            canvasser,
            commitments,
        }) => {
            let new = NewConversation {
                person_id: person,
                kind: kind.parse()?,
                at: at.as_deref().map(parse_time).transpose()?,
                canvasser,
                shift_id: shift,
                issues,
                story,
                notes,
                engagement: engagement.as_deref().map(str::parse).transpose()?,
                follow_up: opt_date(follow_up.as_deref())?,
            };
            let commitments = commitments
                .into_iter()
                .map(|what| NewCommitment {
                    what,
                    due: None,
                    campaign_id: None,
                })
                .collect();
            let (id, _) = store.record_conversation(new, commitments)?;
            print_line(&id)
        }
        Command::Commitment(c) => commitment(store, c),
        Command::Campaign(CampaignCommand::Add {
            name,
            issue,
            targets,
        }) => {
            let targets = targets
                .iter()
                .map(|t| parse_target(t))
                .collect::<Result<_, _>>()?;
            print_line(&store.add_campaign(NewCampaign {
                name,
                issue,
                targets,
            })?)
        }
        Command::Campaign(CampaignCommand::List) => print_json(&store.campaigns()?),
        Command::Shift(ShiftCommand::Start {
            place,
            campaign,
            canvasser,
        }) => print_line(&store.start_shift(&place, campaign.as_deref(), canvasser.as_deref())?),
        Command::Shift(ShiftCommand::End { id }) => print_line(&store.end_shift(id.as_deref())?),
        Command::Shift(ShiftCommand::List) => print_json(&store.shifts()?),
        Command::Export { what, format } => {
            let what: export::What = what.parse()?;
            let format: export::Format = format.parse()?;
            let mut out = std::io::stdout().lock();
            export::write(store, what, format, &mut out)?;
            out.flush()?;
            Ok(())
        }
        Command::DemoData { people, seed } => {
            print_json(&groundwork::demo::generate(store, people, seed)?)
        }
        Command::Settings { name } => {
            if let Some(name) = name {
                store.set_canvasser_name(&name)?;
            }
            print_json(&serde_json::json!({
                "data_dir": store.dir(),
                "device_id": store.device_id(),
                "canvasser": store.canvasser_name()?,
                "current_shift": store.current_shift()?,
                "pending_changes": store.pending_changes()?,
            }))
        }
        Command::Status => {
            let state = store.sync_state()?;
            print_json(&serde_json::json!({
                "joined": state.link.is_some(),
                "relay": state.link.as_ref().map(|l| &l.relay_url),
                "team_id": state.link.as_ref().map(|l| &l.team_id),
                "device_id": state.link.as_ref().map(|l| &l.relay_device_id),
                "device_name": store.canvasser_name()?,
                "pending_changes": store.pending_changes()?,
                "cursor": state.cursor,
                "last_sync": state.last_sync_at,
                "last_error": state.last_error,
            }))
        }
        // Handled by `run`, which needs more than the notebook for them.
        Command::Join { .. } | Command::Sync => Ok(()),
        Command::DebugWriteLoop { count } => {
            for i in 0..count {
                let id = store.add_person(NewPerson {
                    name: format!("Durable {i}"),
                    ..Default::default()
                })?;
                print_line(&id)?;
            }
            Ok(())
        }
    }
}

fn person(store: &mut Store, command: PersonCommand) -> Result<()> {
    match command {
        PersonCommand::Add { name, details } => {
            let new = NewPerson {
                name,
                consent: channels(&details.consent)?,
                phone: details.phone,
                email: details.email,
                address: details.address,
                area: details.area,
                workplace: details.workplace,
                role: details.role,
                notes: details.notes,
                tags: details.tags,
                do_not_contact: details.do_not_contact,
            };
            print_line(&store.add_person(new)?)
        }
        PersonCommand::Edit {
            id,
            name,
            details,
            untag,
            withdraw_consent,
            allow_contact,
        } => {
            let PersonDetails {
                phone,
                email,
                address,
                area,
                workplace,
                role,
                notes,
                tags,
                consent,
                do_not_contact,
            } = details;
            let patch = PersonPatch {
                name,
                phone,
                email,
                address,
                area,
                workplace,
                role,
                notes,
                add_tags: tags,
                remove_tags: untag,
                grant_consent: channels(&consent)?,
                withdraw_consent: channels(&withdraw_consent)?,
                do_not_contact: match (do_not_contact, allow_contact) {
                    (true, _) => Some(true),
                    (_, true) => Some(false),
                    _ => None,
                },
            };
            store.edit_person(&id, patch)?;
            print_json(&store.person(&id)?)
        }
        PersonCommand::Show { id } => print_json(&store.person(&id)?),
        PersonCommand::List { limit } => print_json(&store.list_people(limit)?),
    }
}

fn commitment(store: &mut Store, command: CommitmentCommand) -> Result<()> {
    match command {
        CommitmentCommand::Add {
            person,
            what,
            due,
            conversation,
            campaign,
        } => {
            let new = NewCommitment {
                what,
                due: opt_date(due.as_deref())?,
                campaign_id: campaign,
            };
            print_line(&store.add_commitment(&person, conversation.as_deref(), new)?)
        }
        CommitmentCommand::Set { id, status } => {
            let status: CommitmentStatus = status.parse()?;
            store.set_commitment_status(&id, status)?;
            print_line(&id)
        }
        CommitmentCommand::List {
            status,
            due_before,
            person,
        } => {
            let filter = CommitmentFilter {
                status: status.as_deref().map(str::parse).transpose()?,
                due_before: opt_date(due_before.as_deref())?,
                person_id: person,
            };
            print_json(&store.commitments(&filter)?)
        }
    }
}
