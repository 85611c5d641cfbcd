//! A document's history: every change, who made it (which device), when, and what it did.
//!
//! Automerge keeps every change a document ever had, so nothing a change removed is gone: the
//! history shows what each change did (by comparing the document just before it with the
//! document just after it, as its writer saw them), and [`super::person`]'s restore functions
//! write an earlier state back as a new change.

use automerge::{AutoCommit, Patch, PatchAction, Prop, Value};
use serde::{Deserialize, Serialize};

use crate::error::Result;

/// One change of a document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// The change's hash: name it to restore what was there before it.
    pub change: String,
    /// When it was made (UTC, as the writing device's clock said).
    pub at: String,
    /// The writing device's actor id (hex).
    pub actor: String,
    /// The writing device's name, when this device knows it.
    pub device: Option<String>,
    /// What it did, record by record.
    pub edits: Vec<Edit>,
}

/// What one change did to one record or field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Edit {
    /// `person`, `conversation`, `commitment` or `document`.
    pub record: String,
    /// The conversation's or commitment's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `added`, `deleted` (a whole record), `set` or `cleared` (a field).
    pub action: String,
    /// The field, for `set` and `cleared`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// The history of `doc`, oldest change first. `name_of` names a device by its actor (hex).
pub fn history(
    doc: &mut AutoCommit,
    name_of: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<HistoryEntry>> {
    let changes = doc.get_changes(&[]);
    let mut out = Vec::with_capacity(changes.len());
    for change in changes {
        let hash = change.hash();
        let patches = doc.diff(change.deps(), &[hash]);
        let actor = change.actor_id().to_hex_string();
        let at = chrono::DateTime::from_timestamp_millis(change.timestamp())
            .map(crate::model::format_time)
            .unwrap_or_default();
        out.push(HistoryEntry {
            change: hash.to_string(),
            at,
            device: name_of(&actor),
            actor,
            edits: if change.deps().is_empty() {
                vec![Edit {
                    record: "document".into(),
                    id: None,
                    action: "added".into(),
                    field: None,
                }]
            } else {
                summarise(&patches)
            },
        });
    }
    Ok(out)
}

/// Patches turned into edits of records, one entry per record and field.
fn summarise(patches: &[Patch]) -> Vec<Edit> {
    let mut edits: Vec<Edit> = Vec::new();
    for patch in patches {
        let (key, removed, is_object) = match &patch.action {
            PatchAction::PutMap { key, value, .. } => {
                (key.clone(), false, matches!(value.0, Value::Object(_)))
            }
            PatchAction::DeleteMap { key } => (key.clone(), true, false),
            _ => continue,
        };
        let mut path: Vec<String> = patch
            .path
            .iter()
            .filter_map(|(_, p)| match p {
                Prop::Map(k) => Some(k.clone()),
                Prop::Seq(_) => None,
            })
            .collect();
        path.push(key);
        let Some(edit) = edit_for(&path, removed, is_object) else {
            continue;
        };
        // A record added in this change: its fields are part of "added".
        let covered = edits.iter().any(|e| {
            e.action == "added" && e.record == edit.record && e.id == edit.id && e.id.is_some()
        });
        if !covered && !edits.contains(&edit) {
            if edit.action == "added" {
                edits.retain(|e| !(e.record == edit.record && e.id == edit.id));
            }
            edits.push(edit);
        }
    }
    edits
}

/// The edit a change at `path` makes.
fn edit_for(path: &[String], removed: bool, is_object: bool) -> Option<Edit> {
    let field_action = if removed { "cleared" } else { "set" };
    let edit = |record: &str, id: Option<&String>, action: &str, field: Option<&String>| Edit {
        record: record.to_string(),
        id: id.cloned(),
        action: action.to_string(),
        field: field.cloned(),
    };
    match path {
        [key] if key == "updated_at" => None,
        [key] if key == "person" || key == "conversations" || key == "commitments" => Some(edit(
            "document",
            None,
            if removed { "deleted" } else { "set" },
            Some(key),
        )),
        [key] => Some(edit("document", None, field_action, Some(key))),
        [p, field] if p == "person" => Some(edit("person", None, field_action, Some(field))),
        [p, field, ..] if p == "person" => Some(edit("person", None, "set", Some(field))),
        [list, id] if list == "conversations" || list == "commitments" => {
            let record = &list[..list.len() - 1];
            let action = match (removed, is_object) {
                (true, _) => "deleted",
                (false, true) => "added",
                (false, false) => "set",
            };
            Some(edit(record, Some(id), action, None))
        }
        [list, id, field, rest @ ..] if list == "conversations" || list == "commitments" => {
            let record = &list[..list.len() - 1];
            let action = if rest.is_empty() { field_action } else { "set" };
            Some(edit(record, Some(id), action, Some(field)))
        }
        _ => None,
    }
}
