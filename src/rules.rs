//! The rules for input: the choices a record offers (conversation kinds, commitment
//! statuses, consent channels), engagement levels, dates and times, campaign targets, tags, and
//! the errors that tell the person who typed something how to correct it. Plain values with no
//! knowledge of records; [`crate::model`] declares the records with them.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

/// Bad input, described so that the person who typed it can correct it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    /// A required text was empty.
    #[error("{field} must not be empty")]
    Empty {
        /// The field that was empty.
        field: &'static str,
    },
    /// A date that is not a real calendar date in the expected form.
    #[error("invalid date {0:?}: use YYYY-MM-DD, for example 2026-03-14")]
    Date(String),
    /// A time that is not RFC 3339.
    #[error(
        "invalid time {0:?}: use RFC 3339, for example 2026-03-14T07:15:00Z or 2026-03-14T07:15:00+01:00"
    )]
    Time(String),
    /// Engagement outside the ladder.
    #[error(
        "engagement must be a whole number from 1 (not interested) to 5 (leading others), not {0:?}"
    )]
    Engagement(String),
    /// An unknown conversation kind.
    #[error("unknown conversation kind {0:?}: use one of {kinds}", kinds = ConversationKind::NAMES.join(", "))]
    Kind(String),
    /// An unknown commitment status.
    #[error("unknown commitment status {0:?}: use one of open, kept, broken, cancelled")]
    Status(String),
    /// An unknown door outcome.
    #[error("unknown door outcome {0:?}: use one of {outcomes}", outcomes = Outcome::NAMES.join(", "))]
    Outcome(String),
    /// An unknown consent channel.
    #[error("unknown consent channel {0:?}: use one of {channels}", channels = ConsentChannel::NAMES.join(", "))]
    Channel(String),
    /// A malformed id.
    #[error("invalid id {0:?}: ids look like 0192f0c4-7b1e-7c3a-9d2e-3f4a5b6c7d8e")]
    Id(String),
    /// A malformed campaign target.
    #[error("invalid target {0:?}: use LABEL=NUMBER, for example \"letters signed=50\"")]
    Target(String),
    /// A shift cannot start while another is open on this device.
    #[error("shift {0} is still open on this device: end it first with `groundwork shift end`")]
    ShiftStillOpen(String),
    /// `shift end` without an id while no shift is open.
    #[error(
        "no shift is open on this device: start one with `groundwork shift start --place PLACE`, or give the id of the shift to end"
    )]
    NoOpenShift,
    /// The shift has ended already.
    #[error("shift {0} has already ended")]
    ShiftEnded(String),
    /// A commitment tied to a conversation held with somebody else.
    #[error(
        "conversation {0} was held with somebody else: tie the commitment to one of this person's conversations"
    )]
    OtherPersonsConversation(String),
    /// A target given for a commitment with no campaign.
    #[error("target {0:?} needs a campaign: give the commitment's campaign too (--campaign ID)")]
    TargetWithoutCampaign(String),
    /// A target the campaign does not have.
    #[error("the campaign has no target {label:?}: use one of {targets}")]
    NoSuchTarget {
        /// What was given.
        label: String,
        /// The campaign's targets.
        targets: String,
    },
    /// A value a field cannot hold.
    #[error("{field}: {reason}")]
    Field {
        /// The field.
        field: &'static str,
        /// What is wrong, in words.
        reason: String,
    },
    /// An addition or removal for a field that holds one value, or a value of the wrong kind.
    #[error("{field} cannot be changed that way: give it one value (an empty one clears it)")]
    WrongChange {
        /// The field.
        field: &'static str,
    },
    /// An export selection that does not exist.
    #[error("unknown {what} {value:?}: use one of {allowed}")]
    Choice {
        /// What was being chosen.
        what: &'static str,
        /// What was given.
        value: String,
        /// The allowed values.
        allowed: &'static str,
    },
}

/// Normalise a user-typed name of a choice: lower case, `_` and spaces as `-`.
fn normalise(s: &str) -> String {
    s.trim().to_lowercase().replace(['_', ' '], "-")
}

macro_rules! named_enum {
    ($(#[$meta:meta])* $name:ident, $err:ident, { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }
        impl $name {
            /// Every value, in display order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// Every value's name, in display order.
            pub const NAMES: &'static [&'static str] = &[$($text),+];
            /// The stable name used in documents, exports and the command line.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.as_str()) }
        }
        impl FromStr for $name {
            type Err = ValidationError;
            fn from_str(s: &str) -> Result<Self, ValidationError> {
                match normalise(s).as_str() {
                    $($text => Ok($name::$variant),)+
                    _ => Err(ValidationError::$err(s.to_string())),
                }
            }
        }
    };
}

named_enum!(
    /// Where and how a conversation happened.
    ConversationKind, Kind, {
        /// At someone's door.
        Doorstep => "doorstep",
        /// A breakfast meeting, e.g. before a cleaning shift.
        BreakfastMeeting => "breakfast-meeting",
        /// A planned one-to-one.
        OneToOne => "one-to-one",
        /// On the phone.
        Phone => "phone",
        /// At the person's workplace.
        WorkplaceVisit => "workplace-visit",
        /// At an event.
        Event => "event",
    }
);

named_enum!(
    /// Where a commitment stands.
    CommitmentStatus, Status, {
        /// Made, not yet due or not yet done.
        Open => "open",
        /// Done.
        Kept => "kept",
        /// Not done.
        Broken => "broken",
        /// Called off.
        Cancelled => "cancelled",
    }
);

named_enum!(
    /// What happened at a door of a walk list.
    Outcome, Outcome, {
        /// Nobody opened.
        NotHome => "not-home",
        /// Somebody opened and talked.
        Answered => "answered",
        /// Somebody opened and would not talk.
        Refused => "refused",
        /// Asked to come back later (optionally when).
        ComeBack => "come-back",
        /// The resident has moved away.
        Moved => "moved",
        /// Asked not to be knocked again: stays marked on every list holding the address.
        DoNotKnock => "do-not-knock",
        /// The door could not be reached (locked entrance, gate).
        NoAccess => "no-access",
    }
);

impl Outcome {
    /// Whether a canvasser knocked at the door (a door not reached, or not to be knocked, was
    /// not knocked).
    pub fn knocked(self) -> bool {
        !matches!(self, Outcome::DoNotKnock | Outcome::NoAccess)
    }
}

named_enum!(
    /// A way a person has agreed to be contacted.
    ConsentChannel, Channel, {
        /// Phone calls.
        Phone => "phone",
        /// Text messages.
        Sms => "sms",
        /// WhatsApp or similar messengers.
        Whatsapp => "whatsapp",
        /// Email.
        Email => "email",
        /// Letters.
        Post => "post",
        /// Visits in person.
        Visit => "visit",
    }
);

impl From<ConsentChannel> for String {
    fn from(c: ConsentChannel) -> String {
        c.as_str().to_string()
    }
}

/// How engaged a person is, on a ladder from 1 (not interested) to 5 (leading others).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct Engagement(u8);

impl Engagement {
    /// The level, 1 to 5.
    pub fn get(self) -> u8 {
        self.0
    }
}

impl TryFrom<i64> for Engagement {
    type Error = ValidationError;
    fn try_from(v: i64) -> Result<Self, ValidationError> {
        if (1..=5).contains(&v) {
            Ok(Engagement(v as u8))
        } else {
            Err(ValidationError::Engagement(v.to_string()))
        }
    }
}

impl From<Engagement> for i64 {
    fn from(e: Engagement) -> i64 {
        i64::from(e.0)
    }
}

impl FromStr for Engagement {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, ValidationError> {
        let v: i64 = s
            .trim()
            .parse()
            .map_err(|_| ValidationError::Engagement(s.to_string()))?;
        Engagement::try_from(v)
    }
}

/// Parse a calendar date typed as `YYYY-MM-DD`.
pub fn parse_date(s: &str) -> Result<NaiveDate, ValidationError> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| ValidationError::Date(s.to_string()))
}

/// Parse an RFC 3339 time (any offset) into UTC.
pub fn parse_time(s: &str) -> Result<DateTime<Utc>, ValidationError> {
    DateTime::parse_from_rfc3339(s.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| ValidationError::Time(s.to_string()))
}

/// The one textual form of a time used in documents, tables and exports (UTC, milliseconds).
pub fn format_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parse a campaign target typed as `LABEL=NUMBER`.
pub fn parse_target(s: &str) -> Result<(String, i64), ValidationError> {
    let (label, number) = s
        .rsplit_once('=')
        .ok_or_else(|| ValidationError::Target(s.to_string()))?;
    let label = label.trim();
    let number: i64 = number
        .trim()
        .parse()
        .map_err(|_| ValidationError::Target(s.to_string()))?;
    if label.is_empty() || number < 0 {
        return Err(ValidationError::Target(s.to_string()));
    }
    Ok((label.to_string(), number))
}

/// Trim a required text; refuse an empty one.
pub fn required(field: &'static str, s: &str) -> Result<String, ValidationError> {
    let t = s.trim();
    if t.is_empty() {
        Err(ValidationError::Empty { field })
    } else {
        Ok(t.to_string())
    }
}

/// Trim a tag or issue name; lower-case it so that "Living Wage" and "living wage" are one.
pub fn normalise_tag(s: &str) -> Option<String> {
    let t = s
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    (!t.is_empty()).then_some(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_parse_loosely_and_print_canonically() {
        assert_eq!(
            "Breakfast meeting".parse::<ConversationKind>(),
            Ok(ConversationKind::BreakfastMeeting)
        );
        assert_eq!(
            "one_to_one".parse::<ConversationKind>(),
            Ok(ConversationKind::OneToOne)
        );
        assert_eq!(
            ConversationKind::WorkplaceVisit.to_string(),
            "workplace-visit"
        );
        let err = "chat".parse::<ConversationKind>().unwrap_err();
        assert!(
            err.to_string().contains("doorstep, breakfast-meeting"),
            "{err}"
        );
    }

    #[test]
    fn engagement_is_one_to_five() {
        assert!("0".parse::<Engagement>().is_err());
        assert!("6".parse::<Engagement>().is_err());
        assert!("three".parse::<Engagement>().is_err());
        assert_eq!("5".parse::<Engagement>().map(Engagement::get), Ok(5));
        assert!(serde_json::from_str::<Engagement>("9").is_err());
    }

    #[test]
    fn dates_and_times_are_checked() {
        assert!(parse_date("2026-02-30").is_err());
        assert!(parse_date("30/01/2026").is_err());
        assert_eq!(
            parse_date("2026-02-28").map(|d| d.to_string()),
            Ok("2026-02-28".into())
        );
        assert!(parse_time("yesterday").is_err());
        let t = parse_time("2026-03-14T07:15:00+01:00").unwrap();
        assert_eq!(format_time(t), "2026-03-14T06:15:00.000Z");
    }

    #[test]
    fn targets_and_tags() {
        assert_eq!(
            parse_target("letters signed = 50"),
            Ok(("letters signed".into(), 50))
        );
        assert!(parse_target("letters").is_err());
        assert!(parse_target("=5").is_err());
        assert!(parse_target("x=-1").is_err());
        assert_eq!(
            normalise_tag("  Living   Wage "),
            Some("living wage".into())
        );
        assert_eq!(normalise_tag("   "), None);
        assert_eq!(
            required("name", "  "),
            Err(ValidationError::Empty { field: "name" })
        );
    }
}
