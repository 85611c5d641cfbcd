//! Where the app keeps what was typed but not saved: the draft keys of each form, the person
//! form's draft, and which people have a draft waiting.
//!
//! Drafts live in the store's `drafts` table (never synced), written by the store worker once
//! typing pauses. A form sends its draft on every change, restores it when it opens again and
//! drops it when it is saved or discarded (after asking).

use std::collections::HashSet;

use groundwork::model::{ConsentChannel, NewPerson};
use serde::{Deserialize, Serialize};

use super::edit_person::PersonForm;

/// Key prefix of conversation drafts (`conversation:{person id}`).
pub const CONVERSATION_PREFIX: &str = "conversation:";
/// Key prefix of drafts of changes to a person's details (`person-edit:{person id}`).
pub const EDIT_PREFIX: &str = "person-edit:";
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

/// The people (ids) with a conversation or details draft among draft `keys`.
pub fn people_with_drafts(keys: &[String]) -> HashSet<String> {
    keys.iter()
        .filter_map(|k| {
            k.strip_prefix(CONVERSATION_PREFIX)
                .or_else(|| k.strip_prefix(EDIT_PREFIX))
        })
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
    /// A tag typed but not added.
    pub tag_entry: String,
}

/// The new person a filled-in form describes: blank fields are left out.
pub fn new_person(f: &PersonForm) -> NewPerson {
    let text = |v: &String| (!v.trim().is_empty()).then(|| v.clone());
    NewPerson {
        name: f.name.clone(),
        phone: text(&f.phone),
        email: text(&f.email),
        address: text(&f.address),
        area: text(&f.area),
        workplace: text(&f.workplace),
        role: text(&f.role),
        notes: text(&f.notes),
        tags: f.tags.clone(),
        consent: f.consent.clone(),
        do_not_contact: f.do_not_contact,
    }
}

/// Consent channels in a draft, by name (unknown names are dropped when read back).
pub mod channels {
    use super::ConsentChannel;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Write the channels' names.
    pub fn serialize<S: Serializer>(v: &[ConsentChannel], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|c| c.as_str()))
    }

    /// Read the channels back from their names.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<ConsentChannel>, D::Error> {
        let names: Vec<String> = Vec::deserialize(d)?;
        Ok(names.iter().filter_map(|n| n.parse().ok()).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }

    #[test]
    fn a_person_draft_round_trips_with_its_consent() {
        let d = EditDraft {
            form: PersonForm {
                name: "Amina".into(),
                notes: "line one\nline two".into(),
                consent: vec![ConsentChannel::Sms],
                ..Default::default()
            },
            tag_entry: "ten".into(),
            ..Default::default()
        };
        let back: EditDraft = serde_json::from_str(&serde_json::to_string(&d).unwrap()).unwrap();
        assert_eq!(back, d);
        let unknown: PersonForm =
            serde_json::from_str(r#"{"name":"X","consent":["sms","pigeon"]}"#).unwrap();
        assert_eq!(unknown.consent, vec![ConsentChannel::Sms]);
    }

    #[test]
    fn blank_fields_of_a_new_person_are_left_out() {
        let p = new_person(&PersonForm {
            name: "Joe".into(),
            phone: "  ".into(),
            area: "Elm Road".into(),
            ..Default::default()
        });
        assert_eq!(p.phone, None);
        assert_eq!(p.area.as_deref(), Some("Elm Road"));
    }
}
