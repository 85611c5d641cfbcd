//! Where the app keeps what was typed but not saved: the draft keys of each form, the person
//! form's draft, and which people have a draft waiting.
//!
//! Drafts live in the store's `drafts` table (never synced), written by the store worker once
//! typing pauses. A form sends its draft on every change, restores it when it opens again and
//! drops it when it is saved or discarded (after asking).

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

use super::person_form::PersonForm;

pub use groundwork::store::drafts::{CONVERSATION_PREFIX, EDIT_PREFIX, RECORD_EDIT_PREFIX};

/// Key of the draft of the person being added.
pub const NEW_PERSON_KEY: &str = "person-new";

/// The draft key of a conversation with `person_id`.
pub fn conversation_key(person_id: &str) -> String {
    format!("{CONVERSATION_PREFIX}{person_id}")
}

/// The draft key of changes to the details of `person_id`.
pub fn edit_key(person_id: &str) -> String {
    format!("{EDIT_PREFIX}{person_id}")
}

/// The draft key of a correction of `record_id` (a conversation or commitment) in the file of
/// `person_id`.
pub fn correction_key(person_id: &str, record_id: &str) -> String {
    format!("{RECORD_EDIT_PREFIX}{person_id}:{record_id}")
}

/// The people (ids) with a conversation, details or correction draft among draft `keys`.
pub fn people_with_drafts(keys: &[String]) -> HashSet<String> {
    keys.iter()
        .filter_map(|k| {
            k.strip_prefix(CONVERSATION_PREFIX)
                .or_else(|| k.strip_prefix(EDIT_PREFIX))
                .or_else(|| {
                    k.strip_prefix(RECORD_EDIT_PREFIX)
                        .and_then(|rest| rest.split_once(':'))
                        .map(|(person, _)| person)
                })
        })
        .map(str::to_string)
        .collect()
}

/// The records (ids) of `person_id`'s file with a correction drafted, among draft `keys`.
pub fn corrections_waiting(keys: &[String], person_id: &str) -> HashSet<String> {
    let prefix = format!("{RECORD_EDIT_PREFIX}{person_id}:");
    keys.iter()
        .filter_map(|k| k.strip_prefix(&prefix))
        .map(str::to_string)
        .collect()
}

/// What is kept of an unsaved edit of a person's details.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct EditDraft {
    /// The person as the form opened: the changes are what differs from it, so a value
    /// synced in meanwhile is not overwritten by a field the user did not touch.
    pub before: PersonForm,
    /// The form as the user left it.
    pub form: PersonForm,
    /// What was typed in a set's entry box but not added, by the set's flag (`tag`).
    pub entries: BTreeMap<String, String>,
    /// A tag typed but not added, as drafts of the previous version kept it.
    #[serde(skip_serializing)]
    pub tag_entry: String,
}

impl EditDraft {
    /// The draft with an older version's `tag_entry` moved into `entries`.
    pub fn upgraded(mut self) -> Self {
        let tag = std::mem::take(&mut self.tag_entry);
        if !tag.is_empty() {
            self.entries.entry("tag".into()).or_insert(tag);
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::views::record_form::FormValue;

    #[test]
    fn people_with_drafts_come_from_conversation_and_edit_keys() {
        let keys = vec![
            conversation_key("a"),
            edit_key("b"),
            NEW_PERSON_KEY.to_string(),
            edit_key("a"),
        ];
        let ids = people_with_drafts(&keys);
        assert_eq!(ids.len(), 2);
        assert!(ids.contains("a") && ids.contains("b"));
        let keys = vec![correction_key("c", "r1"), correction_key("c", "r2")];
        assert_eq!(people_with_drafts(&keys), ["c".to_string()].into());
        assert_eq!(
            corrections_waiting(&keys, "c"),
            ["r1".to_string(), "r2".to_string()].into()
        );
        assert!(corrections_waiting(&keys, "a").is_empty());
    }

    #[test]
    fn a_person_draft_round_trips_and_an_older_one_keeps_its_tag_entry() {
        let mut form = PersonForm::default();
        form.set("name", FormValue::Text("Amina".into()));
        form.set("notes", FormValue::Text("line one\nline two".into()));
        form.set("consent", FormValue::List(vec!["sms".into()]));
        let d = EditDraft {
            form,
            entries: [("language".to_string(), "pol".to_string())].into(),
            ..Default::default()
        };
        let back: EditDraft = serde_json::from_str(&serde_json::to_string(&d).unwrap()).unwrap();
        assert_eq!(back.upgraded(), d);
        let old: EditDraft = serde_json::from_str(
            r#"{"before":{"name":"X"},"form":{"name":"X"},"tag_entry":"ten"}"#,
        )
        .unwrap();
        assert_eq!(
            old.upgraded().entries.get("tag").map(String::as_str),
            Some("ten")
        );
    }
}
