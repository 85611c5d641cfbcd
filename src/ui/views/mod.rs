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
pub use person::{FileShows, PersonFile};
pub use record::Record;
#[cfg(test)]
pub use record::{ConversationDraft, draft_key};
pub use settings::Settings;
pub use shift::ShiftView;
pub use team::{Asked, Erasable, EraseSection, LeftErasure, TeamCard, use_erasure};
pub use walk::Walk;
pub use welcome::Welcome;

use dioxus::prelude::*;

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

/// What a screen shows when what it reads cannot be read: for something erased (a person, a
/// walk list, a campaign; by a team lead, or here in a notebook of no team), a screen that says
/// so in words and leads back to People (or `back`); for an address that names nothing here (an
/// old link, a record not yet synced to this device, a mistyped id) one that says that;
/// otherwise the error.
#[component]
pub fn LoadFailed(
    error: crate::ui::worker::UiError,
    /// Where "Back" goes: People, or Shift from a walk list.
    #[props(default = crate::ui::Screen::People)]
    back: crate::ui::Screen,
) -> Element {
    let nav = use_context::<crate::ui::Nav>();
    let (id, title, words) = if error.is_erased() {
        (
            "erased",
            "Erased",
            "This was erased (in a team, by a team lead): a person at their request, or a walk \
             list or campaign no longer needed. Nothing of it is kept on this device any more, \
             including what was typed about it here and not yet sent.",
        )
    } else if error.is_not_here() {
        (
            "not-here",
            "Not in this notebook",
            "This link names nothing in this notebook. If it is to something from another \
             device of your team, it may not have reached this one yet: sync, then try again. \
             Otherwise the link may have been cut short: open it again from where it came.",
        )
    } else {
        return rsx! { p { class: "empty", role: "alert", "{error}" } };
    };
    let to = if back == crate::ui::Screen::Shift {
        "Back to Shift"
    } else {
        "Back to People"
    };
    rsx! {
        section { class: "card erased", id: "{id}", "aria-labelledby": "{id}-title",
            h2 { id: "{id}-title", "{title}" }
            p { "{words}" }
            button { r#type: "button", class: "primary", id: "{id}-back",
                onclick: move |_| nav.go(back.clone()), "{to}" }
        }
    }
}

/// A date as the app shows it: "Tue 3 Mar", with the year when it is not this year's ("Thu
/// 1 Jan 2099"), so that a date a year off is not read as the next one of that name.
pub fn show_date(d: chrono::NaiveDate) -> String {
    show_date_as_of(d, groundwork::service::today())
}

fn show_date_as_of(d: chrono::NaiveDate, today: chrono::NaiveDate) -> String {
    use chrono::Datelike;
    if d.year() == today.year() {
        d.format("%a %-d %b").to_string()
    } else {
        d.format("%a %-d %b %Y").to_string()
    }
}

/// A stored RFC 3339 time as the app shows it: "Tue 3 Mar 07:15" in local time (the year
/// after the date when it is not this year's).
pub fn show_time(t: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(t)
        .map(|t| {
            let local = t.with_timezone(&chrono::Local);
            format!(
                "{} {}",
                show_date(local.date_naive()),
                local.format("%H:%M")
            )
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_of_another_year_show_the_year() {
        let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 6).unwrap();
        let d = |y, m, day| chrono::NaiveDate::from_ymd_opt(y, m, day).unwrap();
        assert_eq!(show_date_as_of(d(2026, 3, 3), today), "Tue 3 Mar");
        assert_eq!(show_date_as_of(d(2099, 1, 1), today), "Thu 1 Jan 2099");
        assert_eq!(show_date_as_of(d(2025, 12, 31), today), "Wed 31 Dec 2025");
    }
}
