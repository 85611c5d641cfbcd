//! The team lead's reports: what a shift (or a date range) produced, campaign progress against
//! targets, and who needs a call back. Computed from the projection tables, so every device
//! holding the same data gives the same report.
//!
//! Definitions (also in README.md):
//! - A shift report covers the conversations recorded in the shift, or held in the date range.
//! - People met are the distinct people of those conversations; *new* ones had no conversation
//!   before, *returning* ones had.
//! - Issues are ranked by how many different people raised them.
//! - Engagement before/after compares, for returning people with a level on both sides, their
//!   last level before the report's first conversation with them and their last level in it.
//! - Commitments made are those recorded in the report's conversations, grouped by the ask
//!   (their words, lower-cased); kept ones are those of them now marked kept.
//! - A follow-up is due when a conversation's follow-up date has come (on or before the report's
//!   day) and nobody has spoken to the person since.
//! - Door figures count the walk-list visits marked in the shift (or in the date range): doors
//!   knocked are distinct doors with an outcome of knocking (not do-not-knock or no-access),
//!   answered ones those with an "answered" visit, and the contact rate is answered / knocked;
//!   outcomes count every visit. A canvasser who only marked doors still has a line.
//! - A commitment counts towards a campaign target when it belongs to the campaign and was
//!   given that target (by choice: the app offers the targets as one-tap asks, the command line
//!   takes `--target`), or, given none, when its words are the target's label (so commitments
//!   recorded before targets were chosen keep counting). Each target lists what it counts and
//!   why; other asks of the campaign are counted apart.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::ids::parse_id;
use crate::model::{Commitment, CommitmentStatus, Conversation, Outcome, Person, Shift, Visit};
use crate::rules::{FIRST_YEAR, LAST_YEAR, ValidationError};
use crate::store::{NO_NAME_GIVEN, Store, show_canvasser};
use crate::words::padded;

/// Which conversations a shift report covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Those recorded in one shift.
    Shift(String),
    /// Those held between two dates, both included (UTC dates).
    Dates {
        /// First day.
        from: NaiveDate,
        /// Last day.
        to: NaiveDate,
    },
}

/// Numbers for one canvasser, or for the whole team.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tally {
    /// Conversations held.
    pub conversations: usize,
    /// Conversations by kind.
    pub by_kind: BTreeMap<String, usize>,
    /// Distinct people spoken to.
    pub people_met: usize,
    /// Of them, people spoken to for the first time.
    pub new_people: usize,
    /// Of them, people spoken to before.
    pub returning_people: usize,
    /// Issues by how many people raised them, most first.
    pub issues: Vec<Ranked>,
    /// Engagement before and after, for returning people.
    pub engagement: EngagementChange,
    /// Commitments made in these conversations.
    pub commitments_made: usize,
    /// Of them, kept (so far).
    pub commitments_kept: usize,
    /// Of them, broken.
    pub commitments_broken: usize,
    /// Commitments by ask.
    pub asks: Vec<Ask>,
    /// Follow-ups of these conversations that are due and not yet done.
    pub follow_ups_due: usize,
    /// Doors of walk lists marked in the report.
    #[serde(default)]
    pub doors: DoorTally,
}

/// What happened at the doors of walk lists.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DoorTally {
    /// Visits recorded (a door marked twice counts twice).
    pub visits: usize,
    /// Distinct doors knocked (any outcome but do-not-knock and no-access).
    pub knocked: usize,
    /// Distinct doors answered.
    pub answered: usize,
    /// Answered as a share of knocked, 0–1 (none when nothing was knocked).
    pub contact_rate: Option<f64>,
    /// Visits by outcome.
    pub outcomes: BTreeMap<String, usize>,
}

/// An issue and how many people raised it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ranked {
    /// The issue.
    pub issue: String,
    /// How many different people raised it.
    pub people: usize,
}

/// Commitments of one kind of ask.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ask {
    /// The ask (lower-cased words of the commitment).
    pub ask: String,
    /// Made.
    pub made: usize,
    /// Kept so far.
    pub kept: usize,
}

/// Engagement before and after.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EngagementChange {
    /// Returning people with a level before and in the report.
    pub people: usize,
    /// Their average level before.
    pub before: Option<f64>,
    /// Their average level in the report.
    pub after: Option<f64>,
    /// How many rose, stayed, fell.
    pub rose: usize,
    /// Stayed the same.
    pub same: usize,
    /// Fell.
    pub fell: usize,
}

/// A device of the team and whether it has synced since the shift ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceSync {
    /// Its name.
    pub name: String,
    /// When it last synced (RFC 3339), if ever.
    pub last_sync: Option<String>,
}

impl DeviceSync {
    /// The relay's view of the team's devices, revoked ones left out.
    pub fn from_team(devices: Vec<groundwork_protocol::TeamDevice>) -> Vec<DeviceSync> {
        devices
            .into_iter()
            .filter(|d| !d.revoked)
            .map(|d| DeviceSync {
                name: d.name,
                last_sync: d
                    .last_sync_at
                    .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
                    .map(crate::model::format_time),
            })
            .collect()
    }
}

/// A shift report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShiftReport {
    /// What it covers, in words.
    pub scope: String,
    /// The shift, when the report is for one.
    pub shift: Option<Shift>,
    /// The day the report was made for (follow-ups due on or before it).
    pub as_of: NaiveDate,
    /// The whole team.
    pub team: Tally,
    /// Each canvasser, by name.
    pub canvassers: BTreeMap<String, Tally>,
    /// Devices that have not synced since the shift ended (or since the range's last day);
    /// every device while the shift is open or the last day is not over (none has synced
    /// since an end that has not come); `None` when the relay was not asked (not joined, or
    /// offline).
    pub devices_not_synced: Option<Vec<DeviceSync>>,
    /// When what the report covers ended: the shift's end, or the end of the range's last day
    /// (UTC); `None` while the shift is open.
    #[serde(default)]
    pub until: Option<String>,
    /// The shift is still open, or the range's last day is not over: work recorded since a
    /// device's last sync is not in the report yet.
    #[serde(default)]
    pub open: bool,
}

/// Progress towards one target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetProgress {
    /// The target's label.
    pub label: String,
    /// The number aimed for.
    pub target: i64,
    /// Commitments made towards it.
    pub made: usize,
    /// Of them, kept.
    pub kept: usize,
    /// Kept as a share of the target, 0–100 (can pass 100).
    pub percent_kept: f64,
    /// The commitments it counts, oldest first, each with why.
    pub commitments: Vec<Counted>,
}

/// Why a commitment counts towards a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CountedBy {
    /// It was given the target.
    Chosen,
    /// It was given no target, and its words are the target's label.
    SameWords,
}

/// A commitment counted towards a target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counted {
    /// The commitment.
    pub commitment_id: String,
    /// Who made it.
    pub person_id: String,
    /// Its words.
    pub what: String,
    /// Kept.
    pub kept: bool,
    /// Why it counts.
    pub why: CountedBy,
}

/// One shift's contribution to a campaign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShiftPoint {
    /// The shift.
    pub shift_id: String,
    /// Where.
    pub place: String,
    /// When it started.
    pub started_at: String,
    /// Commitments to the campaign made in it.
    pub made: usize,
    /// Of them, kept.
    pub kept: usize,
}

/// A campaign's progress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CampaignReport {
    /// The campaign.
    pub campaign: crate::model::Campaign,
    /// Each target.
    pub targets: Vec<TargetProgress>,
    /// Commitments to the campaign that match no target, by ask.
    pub other_asks: Vec<Ask>,
    /// The last shifts of the campaign, oldest first (at most 8).
    pub trend: Vec<ShiftPoint>,
}

/// A person to call back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowUp {
    /// Who.
    pub person_id: String,
    /// Their name.
    pub name: String,
    /// Their phone, unless they asked not to be contacted.
    pub phone: Option<String>,
    /// Due date.
    pub due: NaiveDate,
    /// Overdue (due before the report's day).
    pub overdue: bool,
    /// Who spoke to them last.
    pub last_spoken_by: String,
    /// When.
    pub last_spoken_at: String,
}

fn ask_key(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// Everything the reports read, loaded once.
struct Data {
    people: HashMap<String, Person>,
    /// Conversations by person, oldest first.
    by_person: HashMap<String, Vec<Conversation>>,
    conversations: Vec<Conversation>,
    commitments: Vec<Commitment>,
}

impl Data {
    fn load(store: &Store) -> Result<Data> {
        let conversations = store.all_conversations()?;
        let mut by_person: HashMap<String, Vec<Conversation>> = HashMap::new();
        for c in &conversations {
            by_person
                .entry(c.person_id.clone())
                .or_default()
                .push(c.clone());
        }
        for list in by_person.values_mut() {
            list.sort_by(|a, b| (&a.at, &a.id).cmp(&(&b.at, &b.id)));
        }
        Ok(Data {
            people: store
                .all_people()?
                .into_iter()
                .map(|p| (p.id.clone(), p))
                .collect(),
            by_person,
            conversations,
            commitments: store.commitments_by_id()?,
        })
    }

    /// Whether `c` is the person's latest conversation and its follow-up is due by `day`.
    fn follow_up_due(&self, c: &Conversation, day: NaiveDate) -> bool {
        let latest = self.by_person.get(&c.person_id).and_then(|l| l.last());
        c.follow_up.is_some_and(|d| d <= day) && latest.is_some_and(|l| l.id == c.id)
    }
}

fn tally(data: &Data, convs: &[&Conversation], as_of: NaiveDate) -> Tally {
    let mut t = Tally {
        conversations: convs.len(),
        ..Tally::default()
    };
    for c in convs {
        *t.by_kind.entry(c.kind.as_str().to_string()).or_default() += 1;
    }
    // People, new or returning, and engagement.
    let mut first_in: HashMap<&str, &str> = HashMap::new();
    let mut last_in: HashMap<&str, &Conversation> = HashMap::new();
    for c in convs {
        let first = first_in.entry(&c.person_id).or_insert(&c.at);
        if c.at.as_str() < *first {
            *first = &c.at;
        }
        let last = last_in.entry(&c.person_id).or_insert(c);
        if (&c.at, &c.id) > (&last.at, &last.id) {
            *last = c;
        }
    }
    // A record is its person's and its id together: a member's copy of a record in another
    // person's file, under the same id, is another record.
    let in_report: BTreeSet<(&str, &str)> = convs.iter().map(|c| record_key(c)).collect();
    t.people_met = first_in.len();
    let (mut before_sum, mut after_sum) = (0i64, 0i64);
    for (person, first) in &first_in {
        let history = data
            .by_person
            .get(*person)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let earlier: Vec<&Conversation> = history
            .iter()
            .filter(|h| h.at.as_str() < *first && !in_report.contains(&record_key(h)))
            .collect();
        if earlier.is_empty() {
            t.new_people += 1;
            continue;
        }
        t.returning_people += 1;
        let before = earlier.iter().rev().find_map(|h| h.engagement);
        let after = last_in.get(person).and_then(|c| c.engagement);
        if let (Some(b), Some(a)) = (before, after) {
            t.engagement.people += 1;
            before_sum += i64::from(b);
            after_sum += i64::from(a);
            match a.cmp(&b) {
                std::cmp::Ordering::Greater => t.engagement.rose += 1,
                std::cmp::Ordering::Equal => t.engagement.same += 1,
                std::cmp::Ordering::Less => t.engagement.fell += 1,
            }
        }
    }
    if t.engagement.people > 0 {
        let n = t.engagement.people as f64;
        t.engagement.before = Some(before_sum as f64 / n);
        t.engagement.after = Some(after_sum as f64 / n);
    }
    // Issues by people.
    let mut issues: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for c in convs {
        for i in &c.issues {
            issues.entry(i).or_default().insert(&c.person_id);
        }
    }
    t.issues = issues
        .into_iter()
        .map(|(issue, people)| Ranked {
            issue: issue.to_string(),
            people: people.len(),
        })
        .collect();
    t.issues
        .sort_by(|a, b| b.people.cmp(&a.people).then(a.issue.cmp(&b.issue)));
    // Commitments made in these conversations.
    let mut asks: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for c in data.commitments.iter().filter(|c| {
        c.conversation_id
            .as_deref()
            .is_some_and(|id| in_report.contains(&(c.person_id.as_str(), id)))
    }) {
        t.commitments_made += 1;
        let entry = asks.entry(ask_key(&c.what)).or_default();
        entry.0 += 1;
        match c.status {
            CommitmentStatus::Kept => {
                t.commitments_kept += 1;
                entry.1 += 1;
            }
            CommitmentStatus::Broken => t.commitments_broken += 1,
            _ => {}
        }
    }
    t.asks = asks_list(asks);
    t.follow_ups_due = convs
        .iter()
        .filter(|c| data.follow_up_due(c, as_of))
        .count();
    t
}

/// A conversation's key across files: its person and its id.
fn record_key(c: &Conversation) -> (&str, &str) {
    (c.person_id.as_str(), c.id.as_str())
}

fn asks_list(asks: BTreeMap<String, (usize, usize)>) -> Vec<Ask> {
    let mut out: Vec<Ask> = asks
        .into_iter()
        .map(|(ask, (made, kept))| Ask { ask, made, kept })
        .collect();
    out.sort_by(|a, b| b.made.cmp(&a.made).then(a.ask.cmp(&b.ask)));
    out
}

/// Shifts, the latest first: by start time, then by id (so that devices holding the same shifts
/// list them in the same order, even when two started in the same second).
pub fn shifts_latest_first(store: &Store) -> Result<Vec<Shift>> {
    let mut list = store.shifts()?;
    list.sort_by(|a, b| (&b.started_at, &b.id).cmp(&(&a.started_at, &a.id)));
    Ok(list)
}

/// The shift a report is about when none is named: this device's open shift, else the latest
/// (see [`shifts_latest_first`]). The command line and the app both ask this.
pub fn default_shift(store: &Store) -> Result<Option<String>> {
    if let Some(open) = store.current_shift()? {
        return Ok(Some(open));
    }
    Ok(shifts_latest_first(store)?.into_iter().next().map(|s| s.id))
}

/// The text bounds of the stored times (RFC 3339 in UTC as [`crate::model::format_time`] writes
/// them, compared as text) held from day `from` to day `to`, both included: the start of `from`
/// (included) and the start of the day after `to` (excluded). The day after 9999-12-31 would be
/// written `+10000-01-01`, which sorts before every time, so that day's bound is its end written
/// `9999-12-31T24:00:00Z` (ISO 8601's end of a day), which sorts after every time of the day.
/// A date outside the years a user may type (see [`crate::rules::parse_date`]) is refused: its
/// text would not compare rightly; so is `from` after `to` (an empty report would read as a
/// shift in which nothing happened).
pub fn date_bounds(from: NaiveDate, to: NaiveDate) -> Result<(String, String)> {
    for d in [from, to] {
        if !(FIRST_YEAR..=LAST_YEAR).contains(&d.year()) {
            return Err(ValidationError::Date(d.to_string()).into());
        }
    }
    if from > to {
        // An empty report would read as a shift in which nothing happened.
        return Err(ValidationError::Field {
            field: "dates",
            reason: format!(
                "{from} is after {to}: give the first day first (--from {to} --to {from})"
            ),
        }
        .into());
    }
    let hi = to
        .succ_opt()
        .filter(|next| next.year() <= LAST_YEAR)
        .map_or_else(|| format!("{to}T24:00:00Z"), |next| next.to_string());
    Ok((from.to_string(), hi))
}

/// The shift report for `scope`, with follow-ups due as of `as_of`. `devices` is the team's
/// devices as the relay knows them (name, last sync as RFC 3339), when it could be asked.
pub fn shift_report(
    store: &Store,
    scope: &Scope,
    as_of: NaiveDate,
    devices: Option<&[DeviceSync]>,
) -> Result<ShiftReport> {
    // A date range's stored times, as text bounds (refused, not compared wrongly, when a date
    // is out of range).
    let range = match scope {
        Scope::Dates { from, to } => Some(date_bounds(*from, *to)?),
        Scope::Shift(_) => None,
    };
    let in_range = |at: &str| {
        range
            .as_ref()
            .is_some_and(|(lo, hi)| at >= lo.as_str() && at < hi.as_str())
    };
    let data = Data::load(store)?;
    let (label, shift, convs, ended): (String, Option<Shift>, Vec<&Conversation>, Option<String>) =
        match scope {
            Scope::Shift(id) => {
                let id = parse_id(id)?;
                let shift = store
                    .shifts()?
                    .into_iter()
                    .find(|s| s.id == id)
                    .ok_or_else(|| Error::NotFound {
                        kind: "shift",
                        id: id.clone(),
                    })?;
                let convs = data
                    .conversations
                    .iter()
                    .filter(|c| c.shift_id.as_deref() == Some(id.as_str()))
                    .collect();
                let label = format!(
                    "shift at {} ({})",
                    shift.place,
                    show_canvasser(&shift.canvasser)
                );
                let ended = shift.ended_at.clone();
                // The report shows who canvassed as every report does (never the stored
                // stand-in for "no name given").
                let shift = Shift {
                    canvasser: show_canvasser(&shift.canvasser).to_string(),
                    ..shift
                };
                (label, Some(shift), convs, ended)
            }
            Scope::Dates { from, to } => {
                let convs = data
                    .conversations
                    .iter()
                    .filter(|c| in_range(&c.at))
                    .collect();
                // The start of the day after the last, as a time (the bound compares the same).
                let end = range.as_ref().map(|(_, hi)| {
                    if hi.len() == 10 {
                        format!("{hi}T00:00:00.000Z")
                    } else {
                        hi.clone()
                    }
                });
                (format!("{from} to {to}"), None, convs, end)
            }
        };
    let by_canvasser = group_by_canvasser(&convs);
    let open = ended
        .as_deref()
        .is_none_or(|end| end > crate::model::format_time(chrono::Utc::now()).as_str());
    let devices_not_synced = devices.map(|list| {
        if open {
            list.to_vec()
        } else {
            stale_devices(list, ended.as_deref())
        }
    });
    let shift_id = shift.as_ref().map(|s| s.id.clone());
    let visits: Vec<Visit> = store
        .door_visits()?
        .into_iter()
        .filter(|v| match scope {
            Scope::Shift(_) => v.shift_id.is_some() && v.shift_id == shift_id,
            Scope::Dates { .. } => in_range(&v.at),
        })
        .collect();
    let mut team = tally(&data, &convs, as_of);
    team.doors = door_tally(visits.iter());
    let mut canvassers: BTreeMap<String, Tally> = by_canvasser
        .into_iter()
        .map(|(name, list)| (name, tally(&data, &list, as_of)))
        .collect();
    let mut door_groups: BTreeMap<String, Vec<&Visit>> = BTreeMap::new();
    for v in &visits {
        door_groups
            .entry(canvasser_key(&v.canvasser))
            .or_default()
            .push(v);
    }
    for (key, list) in door_groups {
        let name = canvassers
            .keys()
            .find(|n| canvasser_key(n) == key)
            .cloned()
            .unwrap_or_else(|| {
                show_canvasser(&list[0].canvasser)
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
            });
        canvassers.entry(name).or_default().doors = door_tally(list.into_iter());
    }
    Ok(ShiftReport {
        scope: label,
        shift,
        as_of,
        team,
        canvassers,
        devices_not_synced,
        until: ended,
        open,
    })
}

/// The door figures of `visits`.
fn door_tally<'a>(visits: impl Iterator<Item = &'a Visit>) -> DoorTally {
    let mut t = DoorTally::default();
    // A door is its list's and its id together (a door copied into another list is another).
    let (mut knocked, mut answered) = (BTreeSet::new(), BTreeSet::new());
    for v in visits {
        t.visits += 1;
        *t.outcomes
            .entry(v.outcome.as_str().to_string())
            .or_default() += 1;
        if v.outcome.knocked() {
            knocked.insert((v.walklist_id.as_str(), v.door_id.as_str()));
        }
        if v.outcome == Outcome::Answered {
            answered.insert((v.walklist_id.as_str(), v.door_id.as_str()));
        }
    }
    t.knocked = knocked.len();
    t.answered = answered.len();
    t.contact_rate = (t.knocked > 0).then(|| t.answered as f64 / t.knocked as f64);
    t
}

/// A canvasser's name as a key: the same person typed twice ("Sam", "sam ", "Sam  Jones" and
/// "Sam Jones") is one key.
fn canvasser_key(name: &str) -> String {
    show_canvasser(name)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// Conversations by canvasser, each canvasser listed once under the spelling used most (the
/// first in order of the words on a tie), and records made before any name was given under
/// [`NO_NAME_GIVEN`].
fn group_by_canvasser<'a>(convs: &[&'a Conversation]) -> BTreeMap<String, Vec<&'a Conversation>> {
    let mut groups: BTreeMap<String, (BTreeMap<String, usize>, Vec<&Conversation>)> =
        BTreeMap::new();
    for c in convs {
        let shown = show_canvasser(&c.canvasser)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let (spellings, list) = groups.entry(canvasser_key(&c.canvasser)).or_default();
        *spellings.entry(shown).or_default() += 1;
        list.push(c);
    }
    groups
        .into_values()
        .map(|(spellings, list)| {
            let name = spellings
                .iter()
                .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
                .map(|(name, _)| name.clone())
                .unwrap_or_else(|| NO_NAME_GIVEN.to_string());
            (name, list)
        })
        .collect()
}

/// The devices that have not synced since `since` (RFC 3339; e.g. when the shift ended), and
/// those that never synced. With no `since` (a shift still open), only the never-synced.
pub fn stale_devices(devices: &[DeviceSync], since: Option<&str>) -> Vec<DeviceSync> {
    devices
        .iter()
        .filter(|d| match (&d.last_sync, since) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(last), Some(end)) => last.as_str() < end,
        })
        .cloned()
        .collect()
}

/// Progress of campaign `id`.
pub fn campaign_report(store: &Store, id: &str) -> Result<CampaignReport> {
    let id = parse_id(id)?;
    let campaign = store
        .campaigns()?
        .into_iter()
        .find(|c| c.id == id)
        .ok_or_else(|| Error::NotFound {
            kind: "campaign",
            id: id.clone(),
        })?;
    let data = Data::load(store)?;
    Ok(progress(&data, &store.shifts()?, campaign))
}

/// Progress of every campaign, in id order (the data is read once).
pub fn campaign_reports(store: &Store) -> Result<Vec<CampaignReport>> {
    let data = Data::load(store)?;
    let shifts = store.shifts()?;
    Ok(store
        .campaigns()?
        .into_iter()
        .map(|c| progress(&data, &shifts, c))
        .collect())
}

fn progress(data: &Data, shifts: &[Shift], campaign: crate::model::Campaign) -> CampaignReport {
    let id = campaign.id.clone();
    let mine: Vec<&Commitment> = data
        .commitments
        .iter()
        .filter(|c| c.campaign_id.as_deref() == Some(id.as_str()))
        .collect();
    let labels: HashMap<String, &String> =
        campaign.targets.keys().map(|l| (ask_key(l), l)).collect();
    let mut per_target: BTreeMap<&String, Vec<Counted>> = BTreeMap::new();
    let mut other: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut mine = mine;
    mine.sort_by(|a, b| (&a.created_at, &a.id).cmp(&(&b.created_at, &b.id)));
    for c in &mine {
        let kept = c.status == CommitmentStatus::Kept;
        let counted = match &c.target {
            Some(t) => labels.get(&ask_key(t)).map(|l| (*l, CountedBy::Chosen)),
            None => labels
                .get(&ask_key(&c.what))
                .map(|l| (*l, CountedBy::SameWords)),
        };
        match counted {
            Some((label, why)) => per_target.entry(label).or_default().push(Counted {
                commitment_id: c.id.clone(),
                person_id: c.person_id.clone(),
                what: c.what.clone(),
                kept,
                why,
            }),
            None => {
                let entry = other.entry(ask_key(&c.what)).or_default();
                entry.0 += 1;
                entry.1 += usize::from(kept);
            }
        }
    }
    let targets = campaign
        .targets
        .iter()
        .map(|(label, &target)| {
            let commitments = per_target.remove(label).unwrap_or_default();
            let made = commitments.len();
            let kept = commitments.iter().filter(|c| c.kept).count();
            TargetProgress {
                label: label.clone(),
                target,
                made,
                kept,
                commitments,
                percent_kept: if target > 0 {
                    kept as f64 * 100.0 / target as f64
                } else {
                    0.0
                },
            }
        })
        .collect();
    let conv_shift: HashMap<(&str, &str), Option<&str>> = data
        .conversations
        .iter()
        .map(|c| (record_key(c), c.shift_id.as_deref()))
        .collect();
    let mut shifts: Vec<&Shift> = shifts
        .iter()
        .filter(|s| s.campaign_id.as_deref() == Some(id.as_str()))
        .collect();
    shifts.sort_by(|a, b| (&a.started_at, &a.id).cmp(&(&b.started_at, &b.id)));
    let recent = &shifts[shifts.len().saturating_sub(8)..];
    let trend = recent
        .iter()
        .map(|s| {
            let of_shift: Vec<&&Commitment> = mine
                .iter()
                .filter(|c| {
                    c.conversation_id.as_deref().and_then(|cid| {
                        conv_shift
                            .get(&(c.person_id.as_str(), cid))
                            .copied()
                            .flatten()
                    }) == Some(s.id.as_str())
                })
                .collect();
            ShiftPoint {
                shift_id: s.id.clone(),
                place: s.place.clone(),
                started_at: s.started_at.clone(),
                made: of_shift.len(),
                kept: of_shift
                    .iter()
                    .filter(|c| c.status == CommitmentStatus::Kept)
                    .count(),
            }
        })
        .collect();
    CampaignReport {
        campaign,
        targets,
        other_asks: asks_list(other),
        trend,
    }
}

/// People whose follow-up is due on or before `by`, soonest first.
pub fn follow_ups(store: &Store, by: NaiveDate, today: NaiveDate) -> Result<Vec<FollowUp>> {
    let data = Data::load(store)?;
    let mut out: Vec<FollowUp> = data
        .by_person
        .values()
        .filter_map(|list| list.last())
        .filter(|c| c.follow_up.is_some_and(|d| d <= by))
        .filter_map(|c| {
            let p = data.people.get(&c.person_id)?;
            let due = c.follow_up?;
            Some(FollowUp {
                person_id: p.id.clone(),
                name: p.name.clone(),
                phone: if p.do_not_contact {
                    None
                } else {
                    p.phone.clone()
                },
                due,
                overdue: due < today,
                last_spoken_by: show_canvasser(&c.canvasser).to_string(),
                last_spoken_at: c.at.clone(),
            })
        })
        .collect();
    out.sort_by(|a, b| (a.due, &a.name, &a.person_id).cmp(&(b.due, &b.name, &b.person_id)));
    Ok(out)
}

/// A bar of `width` characters filled to `share` (0.0–1.0), for text reports.
pub fn bar(share: f64, width: usize) -> String {
    let filled = ((share.clamp(0.0, 1.0) * width as f64).round() as usize).min(width);
    format!("{}{}", "█".repeat(filled), "░".repeat(width - filled))
}

/// The shift report as text for a terminal.
pub fn shift_text(r: &ShiftReport) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Shift report: {} (follow-ups as of {})",
        r.scope, r.as_of
    );
    let mut section = |name: &str, t: &Tally| {
        let _ = writeln!(s, "\n{name}");
        let kinds: Vec<String> = t.by_kind.iter().map(|(k, n)| format!("{k} {n}")).collect();
        let _ = writeln!(
            s,
            "  conversations    {} ({})",
            t.conversations,
            kinds.join(", ")
        );
        let _ = writeln!(
            s,
            "  people met       {} ({} new, {} returning)",
            t.people_met, t.new_people, t.returning_people
        );
        if let (Some(b), Some(a)) = (t.engagement.before, t.engagement.after) {
            let _ = writeln!(
                s,
                "  engagement       {b:.1} -> {a:.1} for {} returning ({} rose, {} same, {} fell)",
                t.engagement.people, t.engagement.rose, t.engagement.same, t.engagement.fell
            );
        }
        let _ = writeln!(
            s,
            "  commitments      {} made, {} kept, {} broken",
            t.commitments_made, t.commitments_kept, t.commitments_broken
        );
        for a in &t.asks {
            let _ = writeln!(
                s,
                "    {} {} made, {} kept",
                padded(&a.ask, 40),
                a.made,
                a.kept
            );
        }
        let issues: Vec<String> = t
            .issues
            .iter()
            .take(5)
            .map(|i| format!("{} ({})", i.issue, i.people))
            .collect();
        let _ = writeln!(s, "  top issues       {}", issues.join(", "));
        let _ = writeln!(s, "  follow-ups due   {}", t.follow_ups_due);
        if t.doors.visits > 0 {
            let rate = t
                .doors
                .contact_rate
                .map_or_else(|| "-".to_string(), |r| format!("{:.0}%", r * 100.0));
            let outcomes: Vec<String> = t
                .doors
                .outcomes
                .iter()
                .map(|(o, n)| format!("{o} {n}"))
                .collect();
            let _ = writeln!(
                s,
                "  doors            {} knocked, {} answered (contact rate {rate}); {}",
                t.doors.knocked,
                t.doors.answered,
                outcomes.join(", ")
            );
        }
    };
    section("Team", &r.team);
    for (name, t) in &r.canvassers {
        section(&format!("Canvasser: {name}"), t);
    }
    match &r.devices_not_synced {
        None => s.push_str("\nDevices: not checked (this device has not joined a relay, could not reach it, or is not a team lead: only a lead sees the team's devices)\n"),
        Some(list) if r.open => {
            s.push_str(if r.shift.is_some() {
                "\nThe shift is still open: what was recorded since each device's last sync is not in this report yet.\nLast syncs:\n"
            } else {
                "\nThe last day is not over: what was recorded since each device's last sync is not in this report yet.\nLast syncs:\n"
            });
            for d in list {
                let _ = writeln!(s, "  {} (last sync: {})", d.name, d.last_sync.as_deref().unwrap_or("never"));
            }
        }
        Some(list) if list.is_empty() => s.push_str("\nDevices: every device has synced since\n"),
        Some(list) => {
            s.push_str("\nDevices that have not synced since:\n");
            for d in list {
                let _ = writeln!(s, "  {} (last sync: {})", d.name, d.last_sync.as_deref().unwrap_or("never"));
            }
        }
    }
    s
}

/// The follow-ups as text: one line each (due, name, phone, who spoke to them last and on
/// which day), or a line saying none are due.
pub fn follow_ups_text(list: &[FollowUp]) -> String {
    use std::fmt::Write;
    let mut text = String::new();
    for f in list {
        let _ = writeln!(
            text,
            "{} {}{} {} last spoke: {} on {}",
            f.due,
            if f.overdue { "OVERDUE " } else { "" },
            padded(&f.name, 28),
            padded(f.phone.as_deref().unwrap_or("-"), 16),
            f.last_spoken_by,
            crate::words::leading(&f.last_spoken_at, 10),
        );
    }
    if list.is_empty() {
        text.push_str("No follow-ups due.\n");
    }
    text
}

/// The campaign report as text for a terminal.
pub fn campaign_text(r: &CampaignReport) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Campaign: {}{}",
        r.campaign.name,
        r.campaign
            .issue
            .as_deref()
            .map(|i| format!(" ({i})"))
            .unwrap_or_default()
    );
    for t in &r.targets {
        let _ = writeln!(
            s,
            "  {} {} {:>4}/{:<4} kept ({} made)",
            padded(&t.label, 30),
            bar(t.percent_kept / 100.0, 20),
            t.kept,
            t.target,
            t.made
        );
    }
    for a in &r.other_asks {
        let _ = writeln!(
            s,
            "  other: {} {} made, {} kept",
            padded(&a.ask, 23),
            a.made,
            a.kept
        );
    }
    if !r.trend.is_empty() {
        let most = r.trend.iter().map(|p| p.made).max().unwrap_or(0).max(1);
        s.push_str("  last shifts (made / kept):\n");
        for p in &r.trend {
            let _ = writeln!(
                s,
                "    {} {} {} {}/{}",
                crate::words::leading(&p.started_at, 10),
                padded(&p.place, 28),
                bar(p.made as f64 / most as f64, 10),
                p.made,
                p.kept
            );
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::model::{ConversationKind, NewConversation, NewPerson, PersonField, parse_date};
    use crate::store::walklists::Mark;

    fn day(s: &str) -> NaiveDate {
        parse_date(s).expect("a test date")
    }

    /// A time another device wrote with a character of several bytes around its tenth byte
    /// (slicing its date by byte index panicked the report).
    const ODD_TIME: &str = "2026-03-1é:00:00Z";

    #[test]
    fn the_reports_text_takes_a_time_cut_inside_a_character() {
        let campaign = crate::model::Campaign {
            id: "0190f1d2-0000-7000-8000-000000000001".into(),
            name: "Heating".into(),
            issue: None,
            targets: BTreeMap::new(),
            created_at: "2026-03-01T00:00:00.000Z".into(),
            conflicts: Default::default(),
        };
        let report = CampaignReport {
            campaign,
            targets: Vec::new(),
            other_asks: Vec::new(),
            trend: vec![ShiftPoint {
                shift_id: "0190f1d2-0000-7000-8000-000000000002".into(),
                place: "Elm Road".into(),
                started_at: ODD_TIME.into(),
                made: 1,
                kept: 0,
            }],
        };
        assert!(campaign_text(&report).contains("2026-03-1é Elm Road"));
        let due = FollowUp {
            person_id: "0190f1d2-0000-7000-8000-000000000003".into(),
            name: "Grace".into(),
            phone: None,
            due: day("2026-03-20"),
            overdue: false,
            last_spoken_by: "Sam".into(),
            last_spoken_at: ODD_TIME.into(),
        };
        let text = follow_ups_text(&[due]);
        assert!(text.ends_with("last spoke: Sam on 2026-03-1é\n"), "{text}");
        assert_eq!(follow_ups_text(&[]), "No follow-ups due.\n");
    }

    #[test]
    fn a_date_range_ends_after_its_last_day_even_the_last_day_of_9999() {
        let (lo, hi) = date_bounds(day("2026-03-01"), day("2026-03-31")).unwrap();
        assert_eq!((lo.as_str(), hi.as_str()), ("2026-03-01", "2026-04-01"));
        let (_, hi) = date_bounds(day("2026-01-01"), day("9999-12-31")).unwrap();
        for stored in ["2026-03-14T10:00:00.000Z", "9999-12-31T23:59:59.999Z"] {
            assert!(stored < hi.as_str(), "{stored} sorts before {hi}");
        }
        let (_, hi) = date_bounds(day("2026-01-01"), day("9999-12-30")).unwrap();
        assert_eq!(hi, "9999-12-31");
    }

    #[test]
    fn extreme_dates_are_refused_not_panicked_on() {
        for (from, to) in [
            (day("2026-01-01"), NaiveDate::MAX),
            (NaiveDate::MIN, day("2026-01-01")),
            (
                day("2026-01-01"),
                NaiveDate::from_ymd_opt(10_000, 1, 1).unwrap(),
            ),
            (
                NaiveDate::from_ymd_opt(26, 3, 14).unwrap(),
                day("2026-01-01"),
            ),
        ] {
            let err = date_bounds(from, to).unwrap_err();
            assert!(
                matches!(err, Error::Invalid(ValidationError::Date(_))),
                "{from} to {to}: {err}"
            );
        }
    }

    #[test]
    fn a_report_to_9999_12_31_counts_every_conversation_and_door_from_its_first_day() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut store = Store::open(dir.path()).unwrap();
        let person = store
            .add_person(NewPerson::new().put(PersonField::Name, "Grace Okafor"))
            .unwrap();
        let talk = |store: &mut Store, at: chrono::DateTime<Utc>| {
            store
                .record_conversation(
                    NewConversation {
                        person_id: person.clone(),
                        kind: ConversationKind::Doorstep,
                        at: Some(at),
                        canvasser: None,
                        shift_id: None,
                        issues: vec![],
                        story: None,
                        notes: None,
                        engagement: None,
                        follow_up: Some(None),
                    },
                    vec![],
                )
                .unwrap();
        };
        talk(
            &mut store,
            Utc.with_ymd_and_hms(2025, 12, 31, 23, 59, 59).unwrap(),
        );
        talk(
            &mut store,
            Utc.with_ymd_and_hms(2026, 3, 14, 10, 0, 0).unwrap(),
        );
        talk(
            &mut store,
            Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap(),
        );
        let rows = crate::walk::import::read(
            b"Elector No,Name,House No,Street,Postcode\nE1,Ann Ray,1,Elm Road,LS1 2AB\n",
            &[],
        )
        .unwrap();
        let list = store.import_walklist("Elm Road", None, &rows).unwrap().id;
        let door = store.walklist(&list).unwrap().doors[0].door.id.clone();
        let mark = Mark {
            outcome: Outcome::Answered,
            note: None,
            at: Some(Utc.with_ymd_and_hms(2026, 3, 14, 10, 5, 0).unwrap()),
            come_back_at: None,
        };
        store
            .mark_doors(std::slice::from_ref(&door), &mark)
            .unwrap();

        let as_of = day("2026-03-15");
        let scope = Scope::Dates {
            from: day("2026-01-01"),
            to: day("9999-12-31"),
        };
        let r = shift_report(&store, &scope, as_of, None).unwrap();
        assert_eq!(r.team.conversations, 2);
        assert_eq!((r.team.doors.visits, r.team.doors.answered), (1, 1));

        // A day that ends a range an ordinary way still leaves the next day out.
        let scope = Scope::Dates {
            from: day("2025-12-31"),
            to: day("2026-03-13"),
        };
        let r = shift_report(&store, &scope, as_of, None).unwrap();
        assert_eq!((r.team.conversations, r.team.doors.visits), (1, 0));

        // A range no user could type is refused with the date's error, not a panic.
        let scope = Scope::Dates {
            from: day("2026-01-01"),
            to: NaiveDate::MAX,
        };
        let err = shift_report(&store, &scope, as_of, None).unwrap_err();
        assert!(err.to_string().contains("use YYYY-MM-DD"), "{err}");
    }
}
