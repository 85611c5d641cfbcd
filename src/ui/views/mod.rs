//! The screens, one module each. A screen owns its state, reads the store through the
//! [`Services`](super::Services) handle and re-reads after every write (it reads
//! [`Nav::revision`](super::Nav) inside its resources).

mod campaigns;
pub(crate) mod drafts;
mod due;
mod edit_person;
mod edit_record;
mod export;
mod history;
mod join_link;
mod people;
mod person;
mod person_form;
mod record;
mod record_form;
mod settings;
mod shift;
mod team;
mod walk;
mod welcome;

pub use campaigns::Campaigns;
pub use due::Due;
pub use join_link::JoinLink;
pub use people::{AddPerson, People};
pub use person::PersonFile;
pub use record::Record;
#[cfg(test)]
pub use record::{ConversationDraft, draft_key};
pub use settings::Settings;
pub use shift::ShiftView;
pub use team::{EraseSection, TeamCard};
pub use walk::Walk;
pub use welcome::Welcome;

/// The screens' styles, in one sheet.
pub const STYLE: &str = concat!(
    include_str!("people.css"),
    include_str!("person.css"),
    include_str!("record.css"),
    include_str!("due.css"),
    include_str!("campaigns.css"),
    include_str!("shift.css"),
    include_str!("history.css"),
    include_str!("settings.css"),
    include_str!("walk.css"),
);

/// A count as the app shows it, with thousands separated: "10,000".
pub fn show_count(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A date as the app shows it: "Tue 3 Mar".
pub fn show_date(d: chrono::NaiveDate) -> String {
    d.format("%a %-d %b").to_string()
}

/// A stored RFC 3339 time as the app shows it: "Tue 3 Mar 07:15" in local time.
pub fn show_time(t: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(t)
        .map(|t| {
            t.with_timezone(&chrono::Local)
                .format("%a %-d %b %H:%M")
                .to_string()
        })
        .unwrap_or_else(|_| t.to_string())
}

/// The words for a conversation kind.
pub fn kind_label(kind: &str) -> &'static str {
    match kind {
        "doorstep" => "Doorstep",
        "breakfast-meeting" => "Breakfast meeting",
        "one-to-one" => "One-to-one",
        "phone" => "Phone",
        "workplace-visit" => "Workplace visit",
        "event" => "Event",
        _ => "Conversation",
    }
}

/// The engagement ladder, as every screen shows it: level and words.
pub const LADDER: &[(u8, &str)] = &[
    (1, "1 Not interested"),
    (2, "2 Listening"),
    (3, "3 Interested"),
    (4, "4 Taking part"),
    (5, "5 Leading others"),
];
