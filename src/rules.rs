//! The rules for input: the choices a record offers (conversation kinds, commitment
//! statuses, consent channels), engagement levels, dates and times, campaign targets, tags, and
//! the errors that tell the person who typed something how to correct it. Plain values with no
//! knowledge of records; [`crate::model`] declares the records with them.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, NaiveDate, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

/// Bad input, described so that the person who typed it can correct it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    /// A required text was empty.
    #[error("{} cannot be left empty", capitalised(field))]
    Empty {
        /// The field that was empty, as people call it ("campaign name", "Commitment").
        field: &'static str,
    },
    /// A date that is not a real calendar date in the expected form (`YYYY-MM-DD`, a year from
    /// [`FIRST_YEAR`] to [`LAST_YEAR`]).
    #[error(
        "invalid date {0:?}: use YYYY-MM-DD with a year from {first} to {last}, for example 2026-03-14",
        first = FIRST_YEAR,
        last = LAST_YEAR
    )]
    Date(String),
    /// A time that is not RFC 3339, or whose year is outside [`FIRST_YEAR`] to
    /// [`LAST_TIME_YEAR`].
    #[error(
        "invalid time {0:?}: use RFC 3339 with a year from {first} to {last}, for example 2026-03-14T07:15:00Z or 2026-03-14T07:15:00+01:00",
        first = FIRST_YEAR,
        last = LAST_TIME_YEAR
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
    #[error(
        "invalid target {0:?}: use LABEL=NUMBER, a number from 1, for example \"letters signed=50\""
    )]
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
    /// A time something happened given in the future.
    #[error("{0:?} is in the future: give the time it happened (check the year and the day)")]
    Future(String),
    /// A line break, a control character or a direction override in a one-line text.
    #[error(
        "{field} must be one line of plain text: no line breaks, tabs, or characters that override the text's direction"
    )]
    NotOneLine {
        /// The field.
        field: &'static str,
    },
    /// A value given where it cannot be used, and why (`why` says what to give instead).
    #[error("{what} {value:?}: {why}")]
    Unusable {
        /// Where it was given (a flag, a field).
        what: &'static str,
        /// What was given.
        value: String,
        /// Why it cannot be used, and what would do.
        why: &'static str,
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

/// The first year of a date or time a user may type: nothing a field team records is older
/// (it leaves room for dates of birth in a person's fields).
pub const FIRST_YEAR: i32 = 1900;

/// The last year of a date a user may type. Dates (due, follow-up) are stored as `YYYY-MM-DD`
/// text and compared as text, which orders them rightly only while the year has four digits:
/// chrono writes the year after 9999 as `+10000`, which sorts before `2027`.
pub const LAST_YEAR: i32 = 9999;

/// The last year of a time a user may type (a conversation's `--at`, a door's `--come-back-at`):
/// one short of [`LAST_YEAR`], so that the time in UTC and the dates computed from it (the
/// default follow-up, 48 hours later as a local date) keep a four-digit year in any time zone.
pub const LAST_TIME_YEAR: i32 = LAST_YEAR - 1;

/// Parse a calendar date typed as `YYYY-MM-DD`: a four-digit year from [`FIRST_YEAR`] to
/// [`LAST_YEAR`], a two-digit month and day. Short years (`26-03-14`, which chrono would read as
/// the year 26), signed years (`+10000-01-01`) and one-digit months or days are refused.
pub fn parse_date(s: &str) -> Result<NaiveDate, ValidationError> {
    let t = s.trim();
    let shaped = t.len() == 10
        && t.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        });
    shaped
        .then(|| NaiveDate::parse_from_str(t, "%Y-%m-%d").ok())
        .flatten()
        .filter(|d| (FIRST_YEAR..=LAST_YEAR).contains(&d.year()))
        .ok_or_else(|| ValidationError::Date(s.to_string()))
}

/// Read a date already stored (in a document or a table), as chrono writes any date: unlike
/// [`parse_date`], it takes the years a user may no longer type (`0026-03-14`, `+10000-01-02`,
/// which earlier versions, or a device still running one, may have stored), so that such a date
/// reads as it did rather than making its whole record unreadable. Never for typed input.
pub fn read_date(s: &str) -> Result<NaiveDate, ValidationError> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| ValidationError::Date(s.to_string()))
}

/// Parse an RFC 3339 time (any offset) into UTC. The year as typed must be from [`FIRST_YEAR`]
/// to [`LAST_TIME_YEAR`] (RFC 3339 itself requires four digits and no sign), so that the time
/// stored in UTC, and the default follow-up date computed from it, sort rightly as text.
pub fn parse_time(s: &str) -> Result<DateTime<Utc>, ValidationError> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .filter(|t| (FIRST_YEAR..=LAST_TIME_YEAR).contains(&t.year()))
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| ValidationError::Time(s.to_string()))
}

/// A time something happened (`--at`), as [`parse_time`] reads it, and not more than a day
/// ahead of now (a day for clocks and time zones): a year typed wrong would otherwise stand
/// as the latest word on a door or in a file until that time came.
pub fn parse_past_time(s: &str) -> Result<DateTime<Utc>, ValidationError> {
    let t = parse_time(s)?;
    if t > Utc::now() + chrono::Duration::days(1) {
        return Err(ValidationError::Future(s.trim().to_string()));
    }
    Ok(t)
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
    if label.is_empty() || number < 1 {
        return Err(ValidationError::Target(s.to_string()));
    }
    Ok((label.to_string(), number))
}

/// Whether `s` shows nothing: empty, spaces, or only characters that take no room (a zero-width
/// space or joiner, a word joiner, a byte-order mark, a soft hyphen), which a paste can carry
/// and which would make a name that reads as a blank row.
pub fn is_blank(s: &str) -> bool {
    s.chars().all(|c| {
        c.is_whitespace()
            || matches!(
                c,
                '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}'
            )
    })
}

/// Trim a required text; refuse an empty one (or one that shows nothing: [`is_blank`]).
pub fn required(field: &'static str, s: &str) -> Result<String, ValidationError> {
    let t = one_line(field, s)?;
    if is_blank(t) {
        Err(ValidationError::Empty { field })
    } else {
        Ok(t.to_string())
    }
}

/// `s` trimmed, refused if what is left is not one line of plain text: a line break, a tab or
/// another control character splits a name across lines of a report or list, and a direction
/// override (U+202D, U+202E) makes a name read as another. (Right-to-left text itself, its
/// marks, embeddings and isolates, are fine.)
pub fn one_line<'s>(field: &'static str, s: &'s str) -> Result<&'s str, ValidationError> {
    let t = s.trim();
    if t.chars().any(not_one_line) {
        return Err(ValidationError::NotOneLine { field });
    }
    Ok(t)
}

/// `s` with its first letter in capitals ("campaign name" → "Campaign name").
fn capitalised(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

/// `s` made one line as [`one_line`] accepts it: line breaks, tabs and other control
/// characters become spaces, direction overrides go, and runs of spaces are one (a value
/// written before the check, chosen again when settling a conflict).
pub fn as_one_line(s: &str) -> String {
    s.replace(['\u{202D}', '\u{202E}'], "")
        .replace(|c: char| c.is_control(), " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// A character [`one_line`] refuses: a control character or a direction override.
pub fn not_one_line(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202D}' | '\u{202E}')
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
    fn a_text_of_invisible_characters_is_blank() {
        assert!(is_blank("\u{200B}") && is_blank(" \u{FEFF}\u{00AD} ") && is_blank(""));
        assert!(!is_blank("\u{200B}a") && !is_blank("李"));
        assert_eq!(
            required("name", "\u{200B}\u{200D}"),
            Err(ValidationError::Empty { field: "name" })
        );
    }

    #[test]
    fn an_empty_field_is_named_as_people_call_it() {
        assert_eq!(
            ValidationError::Empty {
                field: "campaign name"
            }
            .to_string(),
            "Campaign name cannot be left empty"
        );
    }

    #[test]
    fn a_value_is_made_one_line_as_one_line_accepts_it() {
        let made = as_one_line("  Pat\r\n McDonald\t\u{202e}Reid\u{1} ");
        assert_eq!(made, "Pat McDonald Reid");
        assert!(one_line("name", &made).is_ok());
        assert_eq!(
            as_one_line("Zoë \u{2067}x\u{2069}"),
            "Zoë \u{2067}x\u{2069}"
        );
    }

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
    fn dates_need_a_four_digit_year_and_two_digit_month_and_day() {
        for bad in [
            "26-03-14",
            "026-03-14",
            "2026-3-14",
            "2026-03-4",
            "20260-03-14",
            "2026/03/14",
            "2026-03-14T00:00",
        ] {
            assert_eq!(
                parse_date(bad),
                Err(ValidationError::Date(bad.into())),
                "{bad}"
            );
        }
        // Surrounding spaces are still forgiven; the date is what was meant.
        assert_eq!(
            parse_date(" 2026-03-14 "),
            Ok(NaiveDate::from_ymd_opt(2026, 3, 14).unwrap())
        );
    }

    #[test]
    fn signed_and_out_of_range_years_are_refused_without_panicking() {
        for bad in [
            "+10000-01-01",
            "+2026-03-14",
            "-2026-03-14",
            "+262142-12-31",
            "-262143-01-01",
            "99999999999-01-01",
            "0026-03-14",
            "0000-01-01",
            "1899-12-31",
        ] {
            assert_eq!(
                parse_date(bad),
                Err(ValidationError::Date(bad.into())),
                "{bad}"
            );
        }
        assert_eq!(
            parse_date("1900-01-01"),
            Ok(NaiveDate::from_ymd_opt(1900, 1, 1).unwrap())
        );
        assert_eq!(
            parse_date("9999-12-31").map(|d| d.to_string()),
            Ok("9999-12-31".into())
        );
    }

    #[test]
    fn a_stored_date_a_user_may_no_longer_type_still_reads() {
        for (stored, y, m, d) in [
            ("0026-03-14", 26, 3, 14),
            ("+10000-01-02", 10_000, 1, 2),
            ("2026-03-14", 2026, 3, 14),
        ] {
            let date = NaiveDate::from_ymd_opt(y, m, d).unwrap();
            assert_eq!(date.to_string(), stored, "chrono writes it so");
            assert_eq!(read_date(stored), Ok(date), "{stored}");
        }
        assert!(read_date("2026-02-30").is_err());
        assert!(read_date("yesterday").is_err());
    }

    #[test]
    fn a_refused_date_or_time_says_what_to_type() {
        let err = parse_date("26-03-14").unwrap_err().to_string();
        assert_eq!(
            err,
            "invalid date \"26-03-14\": use YYYY-MM-DD with a year from 1900 to 9999, for example 2026-03-14"
        );
        let err = parse_time("0026-03-14T07:15:00Z").unwrap_err().to_string();
        assert!(
            err.contains("use RFC 3339 with a year from 1900 to 9998"),
            "{err}"
        );
    }

    #[test]
    fn times_keep_a_four_digit_year_and_so_does_their_default_follow_up() {
        for bad in [
            "9999-12-31T23:59:59Z",
            "9999-01-01T00:00:00Z",
            "+10000-01-01T00:00:00Z",
            "26-03-14T07:15:00Z",
            "0026-03-14T07:15:00Z",
            "1899-12-31T23:59:59Z",
        ] {
            assert_eq!(
                parse_time(bad),
                Err(ValidationError::Time(bad.into())),
                "{bad}"
            );
        }
        // The latest time that can be typed, in the westernmost offset RFC 3339 allows: still a
        // four-digit year in UTC, and its default follow-up (48 hours later, a local date) too.
        let last = parse_time("9998-12-31T23:59:59-23:59").unwrap();
        assert_eq!(format_time(last), "9999-01-01T23:58:59.000Z");
        let follow_up = crate::store::default_follow_up(last);
        assert_eq!(follow_up.year(), LAST_YEAR, "{follow_up}");
        assert_eq!(parse_date(&follow_up.to_string()), Ok(follow_up));
        let first = parse_time("1900-01-01T00:00:00+23:59").unwrap();
        assert_eq!(format_time(first), "1899-12-31T00:01:00.000Z");
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
