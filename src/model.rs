//! The domain: people, conversations, commitments, campaigns and shifts, each declared once
//! (see [`crate::fields`]), and what creating and changing them takes. The rules for the
//! values they hold (kinds, statuses, dates, engagement levels) are in [`crate::rules`] and
//! re-exported here.
//!
//! These are plain values. How they are kept in Automerge documents is in [`crate::docs`];
//! how they are stored and queried is in [`crate::store`]. Times are UTC; dates (follow-ups,
//! due dates) are calendar dates without a zone.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::fields::{FieldType, Patch, Search, Value};
pub use crate::rules::{
    CommitmentStatus, ConsentChannel, ConversationKind, Engagement, Outcome, ValidationError,
    format_time, normalise_tag, parse_date, parse_past_time, parse_target, parse_time, required,
};

crate::record! {
    /// A person as the app shows them. The declaration of their fields: see [`crate::fields`].
    pub struct Person, fields PersonField {
        /// Random time-ordered id (UUID v7); also the id of the person's document.
        id: String = Id("Id", Id).root(),
        /// Name as given.
        name: String = Name("Name", Text).required().search(Search::Name).edit("name", None),
        /// Phone number.
        phone: Option<String> = Phone("Phone", Phone).search(Search::Contact).edit("phone", None),
        /// Email address.
        email: Option<String> = Email("Email", Email).search(Search::Contact).edit("email", None),
        /// Street address.
        address: Option<String> = Address("Address", Text).search(Search::Place).edit("address", None),
        /// Area, estate, ward or street.
        area: Option<String> = Area("Area or street", Text).search(Search::Place).edit("area", None),
        /// Workplace.
        workplace: Option<String> = Workplace("Workplace", Text).search(Search::Work).edit("workplace", None),
        /// Role at the workplace.
        role: Option<String> = Role("Role at work", Text).search(Search::Work).edit("role", None),
        /// Languages spoken, sorted.
        languages: Vec<String> = Languages("Languages spoken", Set).keys().search(Search::Work).edit("language", Some("unlanguage")),
        /// Tags, sorted.
        tags: Vec<String> = Tags("Tags", Set).search(Search::Issues).edit("tag", Some("untag")),
        /// Consent to be contacted: channel → when it was given.
        consent: BTreeMap<String, String> = Consent("Consent", Consent).edit("consent", Some("withdraw-consent")),
        /// Asked not to be contacted at all.
        do_not_contact: bool = DoNotContact("Asked not to be contacted at all", Flag).edit("do-not-contact", Some("allow-contact")),
        /// Free notes.
        notes: Option<String> = Notes("Notes", Note).search(Search::Said).edit("notes", None),
        /// When the person was first recorded.
        created_at: String = CreatedAt("First recorded", Time).root(),
        /// When the person's file last changed.
        updated_at: String = UpdatedAt("Last changed", Time).root(),
    }
}

crate::record! {
    /// A one-to-one conversation, inside its person's file.
    pub struct Conversation, fields ConversationField {
        /// Id (UUID v7): its key in the person file's `conversations` map.
        id: String = Id("Id", Id).key(),
        /// Who it was with: the person file it is in.
        person_id: String = PersonId("Person", Id).doc(),
        /// When it happened (UTC).
        at: String = At("When", Time).past().required().edit("at", None),
        /// Doorstep, breakfast meeting, …
        kind: ConversationKind = Kind("Kind", Choice(ConversationKind::NAMES)).required().edit("kind", None),
        /// Who held it.
        canvasser: String = Canvasser("Canvasser", Text).required().edit("canvasser", None),
        /// The shift it was recorded in.
        shift_id: Option<String> = ShiftId("Shift", Id),
        /// Issues the person raised, sorted.
        issues: Vec<String> = Issues("Issues raised", Set).search(Search::Issues).edit("issue", Some("unissue")),
        /// Engagement, 1–5.
        engagement: Option<Engagement> = Engagement("Engagement", Number).edit("engagement", None),
        /// When to follow up.
        follow_up: Option<NaiveDate> = FollowUp("Follow-up date", Date).edit("follow-up", None),
        /// Their story and self-interest, in their words.
        story: Option<String> = Story("Their story", Note).search(Search::Said).edit("story", None),
        /// Free notes.
        notes: Option<String> = Notes("Notes", Note).search(Search::Said).edit("notes", None),
        /// When it was recorded.
        created_at: String = CreatedAt("Recorded", Time).required(),
    }
}

crate::record! {
    /// A commitment made by a person, inside their file.
    pub struct Commitment, fields CommitmentField {
        /// Id (UUID v7): its key in the person file's `commitments` map.
        id: String = Id("Id", Id).key(),
        /// Who made it: the person file it is in.
        person_id: String = PersonId("Person", Id).doc(),
        /// The conversation it was made in.
        conversation_id: Option<String> = ConversationId("Conversation", Id),
        /// The campaign it counts towards.
        campaign_id: Option<String> = CampaignId("Campaign", Id).edit("campaign", None),
        /// What they committed to.
        what: String = What("Commitment", Text).required().search(Search::Issues).edit("what", None),
        /// By when.
        due: Option<NaiveDate> = Due("Due date", Date).edit("due", None),
        /// Open, kept, broken or cancelled.
        status: CommitmentStatus = Status("Status", Choice(CommitmentStatus::NAMES)).required(),
        /// When it was recorded.
        created_at: String = CreatedAt("Recorded", Time).required(),
        /// When the status last changed.
        status_at: String = StatusAt("Status changed", Time).required(),
        /// The campaign target it counts towards, by the target's label (chosen, not guessed
        /// from the words).
        target: Option<String> = Target("Target", Text).edit("target", None),
    }
}

crate::record! {
    /// A campaign with its numeric targets: a document of its own, its fields at the root.
    pub struct Campaign, fields CampaignField {
        /// Id (UUID v7); also the id of its document.
        id: String = Id("Id", Id).root(),
        /// Name.
        name: String = Name("Name", Text).required(),
        /// The issue it is about.
        issue: Option<String> = Issue("Issue", Text),
        /// Targets: label → number ("letters signed" → 50).
        targets: BTreeMap<String, i64> = Targets("Targets", Counts),
        /// When it was created.
        created_at: String = CreatedAt("Created", Time).root().required(),
    }
}

crate::record! {
    /// A canvassing shift: a document of its own, its fields at the root.
    pub struct Shift, fields ShiftField {
        /// Id (UUID v7); also the id of its document.
        id: String = Id("Id", Id).root(),
        /// The campaign it served.
        campaign_id: Option<String> = CampaignId("Campaign", Id),
        /// Place or area.
        place: String = Place("Place", Text).required(),
        /// Who canvassed.
        canvasser: String = Canvasser("Canvasser", Text).required(),
        /// Start (UTC).
        started_at: String = StartedAt("Started", Time).required(),
        /// End (UTC), while open: none.
        ended_at: Option<String> = EndedAt("Ended", Time),
        /// The walk list it works through.
        walklist_id: Option<String> = WalkListId("Walk list", Id),
    }
}

crate::record! {
    /// A walk list: a named set of doors in walking order, a document of its own (its fields
    /// at the root, its doors and their visits in maps; see [`crate::docs::walklist`]).
    pub struct WalkList, fields WalkListField {
        /// Id (UUID v7); also the id of its document.
        id: String = Id("Id", Id).root(),
        /// Name ("Elm Road", "Block C", "polling district AB").
        name: String = Name("Name", Text).required(),
        /// The file it was imported from.
        source: Option<String> = Source("Imported from", Text),
        /// When it was created.
        created_at: String = CreatedAt("Created", Time).root().required(),
    }
}

crate::record! {
    /// A door of a walk list: one address.
    pub struct Door, fields DoorField {
        /// Id (UUID v7): its key in the list's `doors` map.
        id: String = Id("Id", Id).key(),
        /// The walk list it is on: the document it is in.
        walklist_id: String = WalkListId("Walk list", Id).doc(),
        /// The whole address on one line, as people read it.
        address: String = Address("Address", Text).required(),
        /// The house number as written ("12A").
        number: Option<String> = Number("House number", Text),
        /// The street.
        street: Option<String> = Street("Street", Text),
        /// The flat ("Flat 3", "2/1").
        flat: Option<String> = Flat("Flat", Text),
        /// The town.
        town: Option<String> = Town("Town", Text),
        /// The postcode.
        postcode: Option<String> = Postcode("Postcode", Text),
        /// What makes two rows the same address (case and spacing aside): how a re-import
        /// finds the doors it already has, and how a do-not-knock reaches every list.
        key: String = Key("Address key", Text).required().private(),
    }
}

crate::record! {
    /// A visit to a door: one outcome, kept in the list's `visits` map. Every visit is kept
    /// (two canvassers marking one door both count); the latest is the door's status.
    pub struct Visit, fields VisitField {
        /// Id (UUID v7): its key in the list's `visits` map.
        id: String = Id("Id", Id).key(),
        /// The walk list: the document it is in.
        walklist_id: String = WalkListId("Walk list", Id).doc(),
        /// The door.
        door_id: String = DoorId("Door", Id).required(),
        /// What happened.
        outcome: Outcome = Outcome("Outcome", Choice(Outcome::NAMES)).required(),
        /// When (UTC).
        at: String = At("When", Time).past().required(),
        /// Who knocked.
        canvasser: String = Canvasser("Canvasser", Text).required(),
        /// The shift it was marked in.
        shift_id: Option<String> = ShiftId("Shift", Id),
        /// When to come back (for "come back later").
        come_back_at: Option<String> = ComeBackAt("Come back at", Time),
        /// A note.
        note: Option<String> = Note("Note", Note),
    }
}

/// A person with everything recorded about them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersonFile {
    /// The person.
    #[serde(flatten)]
    pub person: Person,
    /// Their conversations, oldest first.
    pub conversations: Vec<Conversation>,
    /// Their commitments, oldest first.
    pub commitments: Vec<Commitment>,
}

/// A new person: the fields to set, `name` required (see [`crate::fields::Patch`]).
pub type NewPerson = Patch<PersonField>;

impl Patch<PersonField> {
    /// A new person called `name`, nothing else known yet.
    pub fn named(name: impl Into<String>) -> Self {
        Patch::new().put(PersonField::Name, name.into())
    }
}

/// A change to a person. Putting an empty text clears an optional field; sets and consent
/// take additions and removals.
pub type PersonPatch = Patch<PersonField>;

/// A change to a conversation: any of its editable fields (putting a value, even the one it
/// has, settles a conflict on it; an empty date or note clears it).
pub type ConversationPatch = Patch<ConversationField>;

/// A change to a commitment's words, due date, campaign or target (an empty due date clears
/// it). Its status changes through `set_commitment_status`.
pub type CommitmentPatch = Patch<CommitmentField>;

/// A conversation to record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewConversation {
    /// Who it was with.
    pub person_id: String,
    /// Kind.
    pub kind: ConversationKind,
    /// When (default: now).
    pub at: Option<DateTime<Utc>>,
    /// Who held it (default: this device's canvasser name).
    pub canvasser: Option<String>,
    /// Shift (default: this device's open shift, if any).
    pub shift_id: Option<String>,
    /// Issues raised.
    pub issues: Vec<String>,
    /// Story and self-interest.
    pub story: Option<String>,
    /// Notes.
    pub notes: Option<String>,
    /// Engagement.
    pub engagement: Option<Engagement>,
    /// Follow-up date: `None` for the default (48 hours after the conversation, local date),
    /// `Some(None)` for no follow-up.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub follow_up: Option<Option<NaiveDate>>,
}

/// Reads a field that is present (even as `null`) as `Some`, so `None` (left out) and
/// `Some(None)` (`null`) survive a round trip.
fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

/// A commitment to record.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NewCommitment {
    /// What.
    pub what: String,
    /// By when.
    pub due: Option<NaiveDate>,
    /// Campaign it counts towards.
    pub campaign_id: Option<String>,
    /// The campaign target it counts towards (one of the campaign's target labels).
    pub target: Option<String>,
}

/// A change to a campaign: `None` leaves a field alone; an empty issue clears it; targets are
/// set (added or renumbered) and dropped by label.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CampaignPatch {
    /// New name (must not be empty).
    pub name: Option<String>,
    /// New issue (empty: none).
    pub issue: Option<String>,
    /// Targets to add or renumber: label → number.
    pub set_targets: BTreeMap<String, i64>,
    /// Targets to drop, by label.
    pub drop_targets: Vec<String>,
}

/// A campaign to create.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NewCampaign {
    /// Name.
    pub name: String,
    /// Issue.
    pub issue: Option<String>,
    /// Targets.
    pub targets: BTreeMap<String, i64>,
}

impl FieldType for Option<crate::rules::Engagement> {
    fn to_value(&self) -> Value {
        self.map_or(Value::Empty, |e| Value::Number(i64::from(e)))
    }
    fn from_value(v: Value) -> Result<Self, String> {
        match v {
            Value::Empty => Ok(None),
            Value::Number(n) => crate::rules::Engagement::try_from(n)
                .map(Some)
                .map_err(|e| e.to_string()),
            other => Err(format!("should be a number from 1 to 5, found {other:?}")),
        }
    }
    fn blank() -> Self {
        None
    }
}

/// A choice stored as its name.
macro_rules! choice_field {
    ($t:ty, $blank:expr) => {
        impl FieldType for $t {
            fn to_value(&self) -> Value {
                Value::Text(self.as_str().to_string())
            }
            fn from_value(v: Value) -> Result<Self, String> {
                match v {
                    Value::Text(s) => s.parse().map_err(|e: ValidationError| e.to_string()),
                    Value::Empty => Err("is missing".into()),
                    other => Err(format!("should be a name, found {other:?}")),
                }
            }
            fn blank() -> Self {
                $blank
            }
        }
    };
}

choice_field!(
    crate::rules::ConversationKind,
    crate::rules::ConversationKind::Doorstep
);
choice_field!(
    crate::rules::CommitmentStatus,
    crate::rules::CommitmentStatus::Open
);
choice_field!(crate::rules::Outcome, crate::rules::Outcome::NotHome);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fields::{Change, FieldName, Place, Record, apply};

    #[test]
    fn specs_line_up_with_the_fields() {
        for f in PersonField::ALL {
            assert_eq!(PersonField::named(f.name()), Some(*f));
        }
        assert_eq!(PersonField::Languages.spec().flag, Some("language"));
        assert_eq!(PersonField::Languages.spec().place, Place::Keys);
    }

    #[test]
    fn a_patch_is_checked_and_made_canonical() {
        let p = Patch::new()
            .put(PersonField::Name, "  Amina  ")
            .put(PersonField::Phone, "   ")
            .add(PersonField::Languages, ["  Polish ", "polish", "Urdu"])
            .add(PersonField::Consent, ["SMS"]);
        let c = p.checked().unwrap();
        assert_eq!(c.put_of(PersonField::Name), Some(&Value::from("Amina")));
        assert_eq!(c.put_of(PersonField::Phone), Some(&Value::Empty));
        assert_eq!(
            c.changes[2].1,
            Change::Add(vec!["polish".into(), "urdu".into()])
        );
        assert_eq!(c.changes[3].1, Change::Add(vec!["sms".into()]));
        let empty_name = Patch::new().put(PersonField::Name, " ").checked();
        assert_eq!(empty_name, Err(ValidationError::Empty { field: "Name" }));
        assert!(
            Patch::new()
                .add(PersonField::Consent, ["pigeon"])
                .checked()
                .is_err()
        );
    }

    #[test]
    fn applying_in_memory_adds_removes_and_clears() {
        let mut p = Person::blank();
        let patch = Patch::new()
            .put(PersonField::Name, "Amina")
            .add(PersonField::Languages, ["urdu", "english"])
            .add(PersonField::Consent, ["sms"])
            .checked()
            .unwrap();
        apply(&mut p, &patch, "T1").unwrap();
        assert_eq!(p.languages, vec!["english", "urdu"]);
        assert_eq!(p.consent.get("sms").map(String::as_str), Some("T1"));
        let patch = Patch::new()
            .remove(PersonField::Languages, ["urdu"])
            .add(PersonField::Consent, ["sms"])
            .checked()
            .unwrap();
        apply(&mut p, &patch, "T2").unwrap();
        assert_eq!(p.languages, vec!["english"]);
        assert_eq!(
            p.consent.get("sms").map(String::as_str),
            Some("T1"),
            "consent keeps when it was first given"
        );
    }
}
