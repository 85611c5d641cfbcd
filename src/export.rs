//! Exports of people, conversations, commitments, campaigns, shifts and walk-list doors as JSON
//! or CSV.
//!
//! Exports are deterministic: rows sorted by id, fixed columns, so every device that holds the
//! same changes writes the same bytes. JSON and CSV carry the same content: a JSON array of
//! objects whose keys are the CSV columns. In CSV, list fields (tags, issues) are joined with
//! `"; "` and maps (consent, targets) are written `key=value` joined with `"; "`; empty cells
//! are absent values. Conflicting concurrent values are not exported (the winner is). People
//! who asked not to be contacted are left out of people exports unless asked for
//! ([`Options`]); their conversations and commitments stay in those exports (no contact details).
//! Doors marked do-not-knock (on any list holding the address) are left out of door exports in
//! the same way.

use std::io::Write;
use std::str::FromStr;
use std::sync::LazyLock;

use serde_json::{Map, Value};

use crate::error::Result;
use crate::fields::FieldName;
use crate::model::{
    CampaignField, CommitmentField, ConversationField, DoorField, PersonField, ShiftField,
    ValidationError,
};
use crate::store::Store;

/// What to export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum What {
    /// People.
    People,
    /// Conversations.
    Conversations,
    /// Commitments.
    Commitments,
    /// Campaigns.
    Campaigns,
    /// Shifts.
    Shifts,
    /// The doors of every walk list, with their status.
    Doors,
}

impl FromStr for What {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, ValidationError> {
        match s.trim().to_lowercase().as_str() {
            "people" => Ok(What::People),
            "conversations" => Ok(What::Conversations),
            "commitments" => Ok(What::Commitments),
            "campaigns" => Ok(What::Campaigns),
            "shifts" => Ok(What::Shifts),
            "doors" => Ok(What::Doors),
            _ => Err(ValidationError::Choice {
                what: "export",
                value: s.to_string(),
                allowed: "people, conversations, commitments, campaigns, shifts, doors",
            }),
        }
    }
}

/// The file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A JSON array of objects.
    Json,
    /// RFC 4180 CSV with a header row.
    Csv,
}

impl FromStr for Format {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, ValidationError> {
        match s.trim().to_lowercase().as_str() {
            "json" => Ok(Format::Json),
            "csv" => Ok(Format::Csv),
            _ => Err(ValidationError::Choice {
                what: "format",
                value: s.to_string(),
                allowed: "json, csv",
            }),
        }
    }
}

/// Every exported field of a declared record kind, in declaration order.
fn declared<F: FieldName>() -> Vec<&'static str> {
    F::ALL
        .iter()
        .map(|f| f.spec())
        .filter(|s| s.export)
        .map(|s| s.name)
        .collect()
}

/// The columns of each export, in order: every exported field of the record kind's
/// declaration, in declaration order.
pub fn columns(what: What) -> &'static [&'static str] {
    match what {
        What::People => {
            static PEOPLE: LazyLock<Vec<&'static str>> = LazyLock::new(declared::<PersonField>);
            &PEOPLE
        }
        What::Conversations => {
            static CONVERSATIONS: LazyLock<Vec<&'static str>> =
                LazyLock::new(declared::<ConversationField>);
            &CONVERSATIONS
        }
        What::Commitments => {
            static COMMITMENTS: LazyLock<Vec<&'static str>> =
                LazyLock::new(declared::<CommitmentField>);
            &COMMITMENTS
        }
        What::Campaigns => {
            static CAMPAIGNS: LazyLock<Vec<&'static str>> =
                LazyLock::new(declared::<CampaignField>);
            &CAMPAIGNS
        }
        What::Shifts => {
            static SHIFTS: LazyLock<Vec<&'static str>> = LazyLock::new(declared::<ShiftField>);
            &SHIFTS
        }
        What::Doors => {
            static DOORS: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
                let mut c = declared::<DoorField>();
                c.extend(DOOR_STATUS);
                c
            });
            &DOORS
        }
    }
}

/// The columns a door export adds to the door's declared fields: its residents ("name
/// (elector number)"), its latest outcome and the rest of [`crate::store::walklists::DoorView`].
const DOOR_STATUS: [&str; 7] = [
    "residents",
    "status",
    "status_at",
    "status_by",
    "come_back_at",
    "visits",
    "do_not_knock",
];

fn to_records<T: serde::Serialize>(what: What, items: Vec<T>) -> Result<Vec<Map<String, Value>>> {
    items
        .into_iter()
        .map(|item| {
            let Value::Object(mut full) = serde_json::to_value(item)? else {
                return Ok(Map::new());
            };
            Ok(columns(what)
                .iter()
                .map(|c| {
                    let v = full.remove(*c).unwrap_or(Value::Null);
                    // Who canvassed, as every report says it (never the stored stand-in for
                    // "no name given").
                    let v = match (*c, v) {
                        ("canvasser" | "status_by", Value::String(name)) => {
                            Value::String(crate::store::show_canvasser(&name).to_string())
                        }
                        (_, v) => v,
                    };
                    (c.to_string(), v)
                })
                .collect())
        })
        .collect()
}

/// Choices about what an export holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// Include people who asked not to be contacted (left out of people exports by default,
    /// since exports feed contact lists).
    pub include_do_not_contact: bool,
}

/// The rows of an export, as JSON objects with exactly [`columns`] as keys, sorted by id.
pub fn records(store: &Store, what: What, options: Options) -> Result<Vec<Map<String, Value>>> {
    match what {
        What::People => to_records(
            what,
            store
                .all_people()?
                .into_iter()
                .filter(|p| options.include_do_not_contact || !p.do_not_contact)
                .collect(),
        ),
        What::Conversations => to_records(what, store.all_conversations()?),
        What::Commitments => to_records(what, store.commitments_by_id()?),
        What::Campaigns => to_records(what, store.campaigns()?),
        What::Shifts => to_records(what, store.shifts()?),
        What::Doors => {
            let mut doors: Vec<Value> = Vec::new();
            for d in store.all_doors()? {
                if d.do_not_knock && !options.include_do_not_contact {
                    continue;
                }
                let mut v = serde_json::to_value(&d)?;
                v["residents"] = d
                    .residents
                    .iter()
                    .map(|r| match &r.elector_number {
                        Some(n) => format!("{} ({n})", r.name),
                        None => r.name.clone(),
                    })
                    .collect();
                doors.push(v);
            }
            doors.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
            to_records(what, doors)
        }
    }
}

/// The CSV text of one value, safe to open in a spreadsheet ([`inert`]).
fn cell(v: &Value) -> String {
    inert(text(v))
}

/// `text` as a spreadsheet will not run it: text that a spreadsheet opening the file would read
/// as a formula (starting with `=`, `+`, `-`, `@`, a tab or a carriage return, and not a plain
/// number) gets a leading apostrophe, so that a name typed as `=HYPERLINK(…)` on one device
/// is not a live link, or worse, on the lead's computer. The JSON export keeps it as typed.
pub fn inert(text: String) -> String {
    let risky = text
        .chars()
        .next()
        .is_some_and(|c| matches!(c, '=' | '+' | '-' | '@' | '\t' | '\r'));
    if risky && text.parse::<f64>().is_err() {
        format!("'{text}")
    } else {
        text
    }
}

/// The text of one value, as CSV cells write it.
fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(text).collect::<Vec<_>>().join("; "),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| format!("{k}={}", text(v)))
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    }
}

/// Write an export to `out`, everyone included (for backups and comparisons).
pub fn write(store: &Store, what: What, format: Format, out: &mut dyn Write) -> Result<()> {
    let everyone = Options {
        include_do_not_contact: true,
    };
    write_with(store, what, format, everyone, out)
}

/// Write an export to `out` with `options`.
pub fn write_with(
    store: &Store,
    what: What,
    format: Format,
    options: Options,
    out: &mut dyn Write,
) -> Result<()> {
    let rows = records(store, what, options)?;
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, &rows)?;
            writeln!(out)?;
        }
        Format::Csv => {
            let mut w = csv::Writer::from_writer(out);
            w.write_record(columns(what))?;
            for row in &rows {
                w.write_record(
                    columns(what)
                        .iter()
                        .map(|c| cell(row.get(*c).unwrap_or(&Value::Null))),
                )?;
            }
            w.flush()?;
        }
    }
    Ok(())
}

/// Everything this notebook holds about one person (a subject access request): their file
/// (details, conversations, commitments and any conflicting values), every change of it with
/// the device that made it, the file as it read after each change (every value it ever held),
/// what was pulled of it and not taken in, and the drafts typed about them and not yet saved.
/// Nothing of walk lists' registers: no resident is linked to a person (an entry matching the
/// person's name is not guessed to be theirs; README, "Team roles and erasure").
#[derive(Debug, Clone, serde::Serialize)]
pub struct SubjectAccess {
    /// When this was written.
    pub exported_at: String,
    /// The person's file.
    pub person: crate::model::PersonFile,
    /// Every change of the file, oldest first.
    pub history: Vec<crate::docs::history::HistoryEntry>,
    /// The file as it read after each change, oldest first: the values earlier changes wrote
    /// and later ones replaced are kept in the document (a restore can bring them back).
    pub versions: Vec<crate::store::PersonVersion>,
    /// Changes of the file pulled and not taken in (waiting, refused, or sealed and waiting for
    /// a key), as their bytes came.
    pub not_taken_in: Vec<crate::store::HeldBlob>,
    /// Unsaved drafts about the person: `{"key": …, "text": …}`.
    pub drafts: Vec<Value>,
}

/// Everything held about person `id` ([`SubjectAccess`]).
pub fn subject_access(store: &Store, id: &str) -> Result<SubjectAccess> {
    let id = store.held_person(id)?;
    let mut drafts = Vec::new();
    for key in store.person_drafts(&id)? {
        if let Some(text) = store.draft(&key)? {
            drafts.push(serde_json::json!({ "key": key, "text": text }));
        }
    }
    Ok(SubjectAccess {
        exported_at: crate::model::format_time(chrono::Utc::now()),
        person: store.person(&id)?,
        history: store.history(&id)?,
        versions: store.person_versions(&id)?,
        not_taken_in: store.held_not_taken_in(&id)?,
        drafts,
    })
}
