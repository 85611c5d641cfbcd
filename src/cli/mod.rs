//! The command line: parses arguments, calls the core, prints JSON to stdout.
//!
//! The command names and flags are a contract (the acceptance tests drive them); see
//! README.md for the list. Errors go to stderr with exit status 1.

pub mod args;
pub mod fields;
pub mod team;
mod walk;

use std::io::Write;
use std::path::{Path, PathBuf};

use groundwork::docs::DocKind;
use groundwork::error::{Error, Result};
use groundwork::model::{
    CampaignPatch, CommitmentStatus, NewCampaign, NewCommitment, NewConversation, NewPerson,
    parse_date, parse_past_time, parse_target, parse_time,
};
use groundwork::store::{CommitmentFilter, Store};
use groundwork::sync::{self, HttpTransport, SyncError};
use groundwork::{export, report};

use args::{
    CampaignCommand, Command, CommitmentCommand, ConversationCommand, DoorCommand, NotebookCommand,
    PersonCommand, ReportCommand, ShiftCommand, WalklistCommand,
};

/// `notebook encrypt`: with the passphrase in the environment, or a random key kept in the key
/// store (kept there first: a notebook is never encrypted under a key that was not kept).
fn encrypt_notebook(dir: &Path, key_store: bool) -> Result<()> {
    use groundwork::store::at_rest::{self, Passphrase};
    let store = Store::open(dir)?;
    if store.encrypted_at_rest() {
        return Err(Error::AlreadyEncrypted {
            path: dir.to_path_buf(),
        });
    }
    let passphrase = if key_store {
        let key = groundwork::crypto::random::<32>().map_err(|e| Error::KeyStore(e.to_string()))?;
        let passphrase = Passphrase::new(groundwork::store::intake::hex(&key));
        at_rest::key_store::save(dir, &passphrase)?;
        passphrase
    } else {
        // Its strength is checked by the encryption itself, before anything is written.
        Passphrase::from_env().ok_or(Error::NoPassphrase)?
    };
    store.encrypt_at_rest(&passphrase)?;
    print_json(&serde_json::json!({ "encrypted": true, "key_store": key_store }))
}

/// The environment variable holding the new passphrase for `notebook change-passphrase`.
const NEW_PASSPHRASE_VAR: &str = "GROUNDWORK_NEW_PASSPHRASE";

/// `notebook change-passphrase`: from the passphrase the notebook opens with (the environment,
/// or the key store) to the one in `GROUNDWORK_NEW_PASSPHRASE`. A key the key store held for
/// the notebook no longer opens it, and is removed.
fn change_passphrase(dir: &Path) -> Result<()> {
    use groundwork::store::at_rest::{self, Passphrase};
    let new = std::env::var(NEW_PASSPHRASE_VAR)
        .ok()
        .filter(|p| !p.is_empty())
        .map(Passphrase::new)
        .ok_or(Error::NoNewPassphrase)?;
    // Checked before anything is opened, as the store will check it again.
    new.check_strength()?;
    if !at_rest::is_encrypted(dir)? {
        return Err(Error::NotEncrypted {
            path: dir.to_path_buf(),
        });
    }
    let current = Passphrase::find(dir).ok_or_else(|| Error::Locked {
        path: dir.to_path_buf(),
    })?;
    let mut store = Store::open_with(dir, Some(&current))?;
    store.change_passphrase(&current, &new)?;
    drop(store);
    let key_store_cleared = match at_rest::key_store::lookup(dir) {
        Some(kept) if !kept.same_as(&new) => clear_key_store(dir, "the passphrase is changed"),
        _ => false,
    };
    print_json(&serde_json::json!({ "changed": true, "key_store_cleared": key_store_cleared }))
}

/// Remove the key the key store holds for the notebook in `dir`, which no longer opens it
/// (`done`: what was done to it, for the note when the key store cannot): whether it went.
fn clear_key_store(dir: &Path, done: &str) -> bool {
    match groundwork::store::at_rest::key_store::clear(dir) {
        Ok(()) => true,
        Err(e) => {
            eprintln!(
                "note: {done}, but the key store still holds the old key ({e}); \
                 remove it with: secret-tool clear application groundwork notebook {}",
                std::fs::canonicalize(dir)
                    .unwrap_or_else(|_| dir.to_path_buf())
                    .display()
            );
            false
        }
    }
}

/// `notebook decrypt`: the encrypted notebook, opened with the passphrase the environment or
/// the key store has, goes back to a plain file; a key the key store held for it is removed.
fn decrypt_notebook(dir: &Path) -> Result<()> {
    use groundwork::store::at_rest::{self, Passphrase};
    if !at_rest::is_encrypted(dir)? {
        // Decrypted already, and the key store still holds its old key (the command stopped
        // before it removed it): that key opens copies of the encrypted notebook, so it goes.
        if at_rest::key_store::lookup(dir).is_some() {
            let key_store_cleared = clear_key_store(dir, "the notebook is decrypted");
            return print_json(
                &serde_json::json!({ "encrypted": false, "key_store_cleared": key_store_cleared }),
            );
        }
        return Err(Error::NotEncrypted {
            path: dir.to_path_buf(),
        });
    }
    let current = Passphrase::find(dir).ok_or_else(|| Error::Locked {
        path: dir.to_path_buf(),
    })?;
    Store::open_with(dir, Some(&current))?.decrypt_at_rest()?;
    let key_store_cleared = at_rest::key_store::lookup(dir).is_some()
        && clear_key_store(dir, "the notebook is decrypted");
    print_json(&serde_json::json!({ "encrypted": false, "key_store_cleared": key_store_cleared }))
}

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

/// A date typed on the command line; an empty one is no date.
fn opt_date(s: Option<&str>) -> Result<Option<chrono::NaiveDate>> {
    Ok(s.filter(|d| !d.trim().is_empty())
        .map(parse_date)
        .transpose()?)
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
            let (relay, code) = team::relay_and_code(relay.as_deref(), &invite)?;
            let mut store = Store::open(dir)?;
            let transport = HttpTransport::new()?;
            Ok(print_json(&sync::join(
                &mut store, &transport, &relay, &code, &name,
            )?)?)
        }
        Command::Sync { repair, docs, all } => {
            let mut store = Store::open(dir)?;
            let transport = HttpTransport::new()?;
            let budget = sync::plan::Budget::default();
            let report = if repair {
                let what = if all {
                    sync::Repair::Everything
                } else if docs.is_empty() {
                    sync::Repair::Waiting
                } else {
                    // An id that could name no document would be "repaired" as asked, silently.
                    let ids = docs
                        .iter()
                        .map(|d| repair_doc_id(d))
                        .collect::<std::result::Result<Vec<_>, _>>()?;
                    sync::Repair::Docs(ids)
                };
                sync::repair(&mut store, &transport, what, budget)?
            } else {
                sync::sync_once(&mut store, &transport, budget)?
            };
            Ok(print_json(&serde_json::json!({
                "pushed": report.pushed,
                "pulled": report.pulled,
                "rejected": report.rejected,
                "waiting": report.waiting,
                "repaired": report.repaired,
                "erased": report.erased,
                "withheld": report.withheld,
                "compacted": report.compacted,
            }))?)
        }
        Command::Team(command) => team::run(&mut Store::open(dir)?, command),
        Command::Notebook(NotebookCommand::Encrypt { key_store }) => {
            Ok(encrypt_notebook(dir, key_store)?)
        }
        Command::Notebook(NotebookCommand::ChangePassphrase) => Ok(change_passphrase(dir)?),
        Command::Notebook(NotebookCommand::Decrypt) => Ok(decrypt_notebook(dir)?),
        Command::Person(PersonCommand::Erase { id }) => {
            team::erase(&mut Store::open(dir)?, &id, DocKind::Person)
        }
        Command::Campaign(CampaignCommand::Delete { id }) => {
            team::erase(&mut Store::open(dir)?, &id, DocKind::Campaign)
        }
        Command::Walklist(WalklistCommand::Delete { id }) => {
            team::erase(&mut Store::open(dir)?, &id, DocKind::WalkList)
        }
        other => Ok(notebook(&mut Store::open(dir)?, other)?),
    }
}

/// The commitments `words` made in conversation `new`, as the app makes them: each due on the
/// conversation's follow-up date and counting towards the campaign of its shift (the one
/// given, else the one open), and towards the target whose label it is, if it is one.
fn asks_of(store: &Store, new: &NewConversation, words: Vec<String>) -> Result<Vec<NewCommitment>> {
    let due = new.follow_up.unwrap_or_else(|| {
        Some(groundwork::store::default_follow_up(
            new.at.unwrap_or_else(chrono::Utc::now),
        ))
    });
    // An unknown shift is refused when the conversation is recorded; a shift's campaign
    // deleted since counts as none.
    let shift_id = match &new.shift_id {
        Some(id) => groundwork::ids::parse_id(id).ok(),
        None => store.current_shift()?,
    };
    let campaign = match shift_id {
        Some(id) => store
            .shifts()?
            .into_iter()
            .find(|s| s.id == id)
            .and_then(|shift| shift.campaign_id)
            .and_then(|c| store.campaign(&c).ok()),
        None => None,
    };
    Ok(words
        .into_iter()
        .map(|what| {
            // As the store matches a target's label: spaces around and case aside.
            let target = campaign
                .as_ref()
                .and_then(|c| {
                    c.targets
                        .keys()
                        .find(|t| t.trim().eq_ignore_ascii_case(what.trim()))
                })
                .cloned();
            NewCommitment {
                what,
                due,
                campaign_id: campaign.as_ref().map(|c| c.id.clone()),
                target,
            }
        })
        .collect())
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
                at: at.as_deref().map(parse_past_time).transpose()?,
                canvasser,
                shift_id: shift,
                issues,
                story,
                notes,
                engagement: engagement.as_deref().map(str::parse).transpose()?,
                follow_up: follow_up
                    .as_deref()
                    .map(|d| opt_date(Some(d)))
                    .transpose()?,
            };
            let commitments = asks_of(store, &new, commitments)?;
            let (id, _) = store.record_conversation(new, commitments)?;
            print_line(&id)
        }
        Command::Conversation(ConversationCommand::Edit { id, person, fields }) => {
            match &person {
                Some(p) => store.edit_conversation_of(p, &id, fields.patch)?,
                None => store.edit_conversation(&id, fields.patch)?,
            }
            print_json(&store.conversation_of(&id, person.as_deref())?)
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
        Command::Campaign(CampaignCommand::Edit {
            id,
            name,
            issue,
            targets,
            drop_targets,
        }) => {
            let set_targets = targets
                .iter()
                .map(|t| parse_target(t))
                .collect::<Result<_, _>>()?;
            store.edit_campaign(
                &id,
                CampaignPatch {
                    name,
                    issue,
                    set_targets,
                    drop_targets,
                },
            )?;
            print_json(&store.campaign(&id)?)
        }
        Command::Campaign(CampaignCommand::List) => print_json(&store.campaigns()?),
        // Handled by `run`: it can fail with sync errors too.
        Command::Campaign(CampaignCommand::Delete { .. }) => Ok(()),
        Command::Shift(ShiftCommand::Start {
            place,
            campaign,
            canvasser,
            walklist,
        }) => print_line(&store.start_shift_on(
            &place,
            campaign.as_deref(),
            canvasser.as_deref(),
            walklist.as_deref(),
        )?),
        Command::Walklist(c) => walk::walklist(store, c),
        Command::Door(DoorCommand::Mark {
            doors,
            outcome,
            note,
            at,
            come_back_at,
            list,
        }) => {
            let mark = groundwork::store::walklists::Mark {
                outcome: outcome.parse()?,
                note,
                at: at.as_deref().map(parse_past_time).transpose()?,
                come_back_at: come_back_at.as_deref().map(parse_time).transpose()?,
            };
            print_json(&match &list {
                Some(list) => store.mark_doors_on(list, &doors, &mark)?,
                None => store.mark_doors(&doors, &mark)?,
            })
        }
        Command::Shift(ShiftCommand::End { id }) => print_line(&store.end_shift(id.as_deref())?),
        Command::Shift(ShiftCommand::List) => print_json(&store.shifts()?),
        Command::Export {
            what,
            format,
            include_do_not_contact,
        } => {
            let what: export::What = what.parse()?;
            let format: export::Format = format.parse()?;
            let options = export::Options {
                include_do_not_contact,
            };
            let mut out = std::io::stdout().lock();
            export::write_with(store, what, format, options, &mut out)?;
            out.flush()?;
            Ok(())
        }
        Command::DemoData { people, seed } => {
            print_json(&groundwork::demo::generate(store, people, seed)?)
        }
        Command::Settings { name, someone_else } => {
            match name {
                Some(name) if someone_else => store.hand_over(&name)?,
                Some(name) => store.set_canvasser_name(&name)?,
                None => {}
            }
            // The relay's id for this device (what `team devices` lists; none before joining),
            // and the notebook's own, which its changes are written under.
            let relay_id = store.sync_state()?.link.map(|l| l.relay_device_id);
            print_json(&serde_json::json!({
                "data_dir": store.dir(),
                "device_id": relay_id,
                "notebook_id": store.device_id(),
                "canvasser": store.given_canvasser_name()?,
                "device_name": store.device_name()?,
                "current_shift": store.current_shift()?,
                "pending_changes": store.pending_changes()?,
            }))
        }
        Command::Status => {
            let state = store.sync_state()?;
            let ring = store.keyring()?;
            let quarantined = store.quarantined()?;
            let waiting = store.waiting_docs()?;
            print_json(&serde_json::json!({
                "quarantined_changes": quarantined.len(),
                "quarantine": quarantined,
                "waiting_changes": waiting.iter().map(|(_, n)| n).sum::<usize>(),
                "waiting_documents": waiting.iter().map(|(d, _)| d).collect::<Vec<_>>(),
                "joined": state.link.is_some(),
                "relay": state.link.as_ref().map(|l| &l.relay_url),
                "team_id": state.link.as_ref().map(|l| &l.team_id),
                "device_id": state.link.as_ref().map(|l| &l.relay_device_id),
                "device_name": store.device_name()?,
                "pending_changes": store.pending_changes()?,
                "cursor": state.cursor,
                "last_sync": state.last_sync_at,
                "last_error": state.last_error,
                "role": store.role()?,
                // The team's root of trust: whether the lead's key decides roles here (not the
                // relay), and this device's role as a lead's signature gave it.
                "root_of_trust": store.has_anchor()?,
                "signed_role": store
                    .trusted_role(&groundwork::store::intake::hex(&store.actor_bytes()))?
                    .map(|r| r.as_str()),
                // Erasure orders from the relay that no lead signed: the records are kept.
                "erasures_refused": store.refused_erasures()?,
                "encrypted_at_rest": store.encrypted_at_rest(),
                // End-to-end encryption: whether this team seals what it sends, the newest
                // key's number, and how many devices' keys this device knows.
                "sealed": store.sealed()?,
                "key_epoch": ring.current().map(|k| k.epoch()),
                // Whether each document has its own key too, so that an erasure reaches
                // copies of the relay's database taken before it (teams made since).
                "document_keys": ring.doc_keys().is_some(),
                // About how many more erasures the team's invites have room for.
                "invite_room": ring.invite_room(groundwork_protocol::team::MAX_INVITE_KEYS_LEN),
                "team_members_known": store.known_members()?,
                "awaiting_key_changes": store.awaiting_key_changes()?,
                // What other devices' push records say the relay holds and has not served.
                "withheld": store.withheld()?,
                // Counted again at each sync on a lead's device only.
                "erasures_waiting": if store.role()?.as_deref() == Some("lead") {
                    store.erasures_waiting()?
                } else {
                    Vec::new()
                },
                // Devices this lead revoked whose erasures wait to be signed again (the next
                // `team devices` finishes them).
                "revocations_unfinished": if store.role()?.as_deref() == Some("lead") {
                    store
                        .orders_to_sign_again()?
                        .into_iter()
                        .map(|note| note.device_id)
                        .collect::<Vec<_>>()
                } else {
                    Vec::new()
                },
            }))
        }
        // Handled by `run`: they can fail with sync errors too.
        Command::Report(command) => report(store, command),
        Command::Join { .. } | Command::Sync { .. } | Command::Team(_) | Command::Notebook(_) => {
            Ok(())
        }
        Command::DebugWriteLoop { count } => {
            for i in 0..count {
                let id = store.add_person(NewPerson::named(format!("Durable {i}")))?;
                print_line(&id)?;
            }
            Ok(())
        }
    }
}

/// Whether a report is wanted as JSON (else text).
fn json_format(format: &str) -> Result<bool> {
    match format.trim().to_lowercase().as_str() {
        "json" => Ok(true),
        "text" => Ok(false),
        _ => Err(groundwork::model::ValidationError::Choice {
            what: "format",
            value: format.to_string(),
            allowed: "json, text",
        }
        .into()),
    }
}

fn print_text(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// The team's devices and their last sync, if this device has joined and the relay answers
/// quickly; reports go on without them otherwise.
/// A document id `sync --repair --doc` may ask for: a record's id, or a team record's
/// (`member-…`, `lead-…`, `epoch-…`, `push-…`).
fn repair_doc_id(doc: &str) -> Result<String> {
    use groundwork::crypto::{epoch, keys, pushlog, trust};
    let team_record = [
        keys::MEMBER_DOC_PREFIX,
        trust::LEAD_DOC_PREFIX,
        epoch::EPOCH_DOC_PREFIX,
        pushlog::PUSH_DOC_PREFIX,
    ]
    .iter()
    .any(|p| {
        doc.strip_prefix(p)
            .is_some_and(|rest| !rest.trim().is_empty())
    });
    if team_record {
        return Ok(doc.to_string());
    }
    groundwork::ids::parse_id(doc).map_err(|_| {
        Error::from(groundwork::model::ValidationError::Field {
            field: "--doc",
            reason: format!(
                "{doc:?} is not a document id: give a person's, campaign's or walk list's id, \
                 or one `groundwork status` lists"
            ),
        })
    })
}

fn team_devices(store: &Store) -> Option<Vec<report::DeviceSync>> {
    let transport = HttpTransport::with_retries(1, std::time::Duration::ZERO).ok()?;
    Some(report::DeviceSync::from_team(
        sync::team_devices(store, &transport).ok()?,
    ))
}

fn report(store: &Store, command: ReportCommand) -> Result<()> {
    let today = chrono::Local::now().date_naive();
    match command {
        ReportCommand::Shift {
            shift,
            from,
            to,
            format,
            as_of,
        } => {
            let json = json_format(&format)?;
            let scope = match (shift, from, to) {
                (Some(id), _, _) => report::Scope::Shift(id),
                (None, Some(from), Some(to)) => {
                    let (from, to) = (parse_date(&from)?, parse_date(&to)?);
                    // Refused before the relay is asked for the team's devices.
                    report::date_bounds(from, to)?;
                    report::Scope::Dates { from, to }
                }
                _ => {
                    let latest = report::default_shift(store)?
                        .ok_or(groundwork::model::ValidationError::NoOpenShift)?;
                    report::Scope::Shift(latest)
                }
            };
            let as_of = opt_date(as_of.as_deref())?.unwrap_or(today);
            let devices = team_devices(store);
            let r = report::shift_report(store, &scope, as_of, devices.as_deref())?;
            if json {
                print_json(&r)
            } else {
                print_text(&report::shift_text(&r))
            }
        }
        ReportCommand::Campaign { id, format } => {
            let json = json_format(&format)?;
            let r = report::campaign_report(store, &id)?;
            if json {
                print_json(&r)
            } else {
                print_text(&report::campaign_text(&r))
            }
        }
        ReportCommand::FollowUps { by, format } => {
            let json = json_format(&format)?;
            let list = report::follow_ups(store, opt_date(by.as_deref())?.unwrap_or(today), today)?;
            if json {
                return print_json(&list);
            }
            print_text(&report::follow_ups_text(&list))
        }
    }
}

fn person(store: &mut Store, command: PersonCommand) -> Result<()> {
    match command {
        PersonCommand::Add { fields } => print_line(&store.add_person(fields.patch)?),
        PersonCommand::Edit { id, fields } => {
            store.edit_person(&id, fields.patch)?;
            print_json(&store.person(&id)?)
        }
        PersonCommand::Show { id } => print_json(&store.person(&id)?),
        PersonCommand::History { id } => print_json(&store.history(&id)?),
        PersonCommand::Restore {
            id,
            before,
            conversation,
            commitment,
        } => {
            let what = match (conversation, commitment) {
                (Some(c), _) => groundwork::store::RestoreTarget::Conversation(c),
                (None, Some(c)) => groundwork::store::RestoreTarget::Commitment(c),
                (None, None) => groundwork::store::RestoreTarget::File,
            };
            let changed = store.restore(&id, &before, &what)?;
            print_json(&serde_json::json!({
                "restored": changed,
                "person": store.person(&id)?,
            }))
        }
        PersonCommand::List { limit } => print_json(&store.list_people(limit)?),
        PersonCommand::Export { id } => print_json(&export::subject_access(store, &id)?),
        // Handled by `run`: it can fail with sync errors too.
        PersonCommand::Erase { .. } => Ok(()),
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
            target,
        } => {
            let new = NewCommitment {
                what,
                due: opt_date(due.as_deref())?,
                campaign_id: campaign,
                target,
            };
            print_line(&store.add_commitment(&person, conversation.as_deref(), new)?)
        }
        CommitmentCommand::Edit { id, person, fields } => {
            match &person {
                Some(p) => store.edit_commitment_of(p, &id, fields.patch)?,
                None => store.edit_commitment(&id, fields.patch)?,
            }
            print_json(&store.commitment_of(&id, person.as_deref())?)
        }
        CommitmentCommand::Set { id, person, status } => {
            let status: CommitmentStatus = status.parse()?;
            match &person {
                Some(p) => store.set_commitment_status_of(p, &id, status)?,
                None => store.set_commitment_status(&id, status)?,
            }
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
