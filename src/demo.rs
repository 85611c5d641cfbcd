//! Realistic, deterministic sample data: for trying the app and for benchmarks.
//!
//! The same `people` and `seed` give the same people, conversations, commitments, campaigns
//! and shifts (ids and times included) on every machine, so exports of two demo stores made
//! with the same arguments are identical. Times start on a fixed Monday so that nothing
//! depends on today's date or the machine's time zone.

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde::Serialize;

use crate::error::Result;
use crate::ids::{Source, SplitMix64};
use crate::model::{
    CommitmentStatus, ConsentChannel, ConversationKind, Engagement, NewCampaign, NewCommitment,
    NewConversation, NewPerson, PersonField,
};
use crate::store::{Store, Writer};

/// What [`generate`] made.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// People added.
    pub people: usize,
    /// Conversations recorded.
    pub conversations: usize,
    /// Commitments made.
    pub commitments: usize,
    /// Campaigns created.
    pub campaigns: usize,
    /// Shifts held.
    pub shifts: usize,
}

const FIRST: &[&str] = &[
    "Amina",
    "Grace",
    "Tomasz",
    "Priya",
    "Kwame",
    "Maria",
    "Siobhan",
    "Yusuf",
    "Chen",
    "Oluwaseun",
    "Fatima",
    "John",
    "Agnieszka",
    "Dev",
    "Rosa",
    "Mohammed",
    "Ellen",
    "Kofi",
    "Ana",
    "Darren",
    "Leila",
    "Jamal",
    "Bogdan",
    "Niamh",
    "Sunita",
    "Zoë",
    "José",
    "Hannah",
    "Ibrahim",
    "Marta",
];
const LAST: &[&str] = &[
    "Yusuf",
    "Okafor",
    "Kowalski",
    "Patel",
    "Mensah",
    "Silva",
    "O'Brien",
    "Khan",
    "Wei",
    "Adeyemi",
    "Begum",
    "Smith",
    "Nowak",
    "Sharma",
    "Fernández",
    "Ali",
    "Jones",
    "Boateng",
    "Costa",
    "Hughes",
    "Haddad",
    "Campbell",
    "Popescu",
    "Murphy",
    "Gupta",
    "Evans",
    "García",
    "Taylor",
    "Ahmed",
    "Lewandowska",
];
const AREAS: &[&str] = &[
    "Elm Road",
    "Castle Estate",
    "Northfield",
    "Riverside",
    "Station Ward",
    "Hillcrest",
    "Market Street",
    "St Anne's",
    "Brook Lane",
    "Canal Side",
];
const WORKPLACES: &[(&str, &[&str])] = &[
    (
        "University cleaning services",
        &["cleaner", "cleaning supervisor", "porter"],
    ),
    (
        "City General Hospital",
        &["healthcare assistant", "porter", "domestic"],
    ),
    ("Oakwood Care Home", &["care worker", "cook", "night carer"]),
    ("Northfield Bus Depot", &["driver", "mechanic"]),
    (
        "Parcel warehouse, Junction 9",
        &["picker", "forklift driver"],
    ),
    (
        "Riverside Primary School",
        &["teaching assistant", "lunchtime supervisor"],
    ),
];
const ISSUES: &[&str] = &[
    "living wage",
    "heating",
    "housing",
    "damp and mould",
    "rent",
    "sick pay",
    "shift patterns",
    "bus routes",
    "safety at work",
    "childcare",
    "outsourcing",
    "repairs",
];
const STORIES: &[&str] = &[
    "Works two jobs and is still short by the end of the month.",
    "The flat has had black mould since last winter; the landlord does not answer.",
    "Was moved to split shifts with two days' notice and lost her childcare.",
    "Has not had a pay rise in four years while the rent went up twice.",
    "Was sent home sick without pay and nearly fell behind on the rent.",
    "The heating broke in November and the repair took seven weeks.",
    "Wants the cleaners brought back in-house, as they were before 2015.",
    "Would speak at a meeting if others from the early shift came too.",
];
const NOTES: &[&str] = &[
    "Prefers mornings, before 7am.",
    "Speaks Polish and English; happy to translate for colleagues.",
    "Cautious: worried about the manager finding out.",
    "Knows everyone on the night shift.",
    "Asked for the leaflet in Portuguese.",
    "",
];
const ASKS: &[&str] = &[
    "sign the letter to the Vice Chancellor",
    "come to the delivery of the letter",
    "bring two colleagues to the breakfast meeting",
    "host a meeting at home",
    "talk to the early shift about the campaign",
    "come to the residents' meeting",
];
const PLACES: &[&str] = &[
    "Uni staff canteen breakfast",
    "Elm Road odd numbers",
    "Castle Estate tower blocks",
    "Hospital staff entrance",
    "Bus depot gate, early shift",
    "Riverside doors, evens",
];
const CANVASSERS: &[&str] = &["Sam", "Joy", "Ravi", "Ola", "Kate"];

/// Monday 2026-09-07 06:00 UTC: the start of demo time.
fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 9, 7, 6, 0, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

/// People generated per transaction.
const BATCH: usize = 500;

/// Add `people` people (about three conversations each, commitments, campaigns and shifts) to
/// `store`, deterministically for `seed`.
pub fn generate(store: &mut Store, people: usize, seed: u64) -> Result<Summary> {
    store.set_source(Source::seeded(seed, start()));
    let result = generate_inner(store, people, seed);
    store.set_source(Source::System);
    // Searchable at once, as imported data would be.
    store.catch_up_search()?;
    result
}

fn generate_inner(store: &mut Store, people: usize, seed: u64) -> Result<Summary> {
    let mut rng = SplitMix64::new(seed ^ 0x6772_6f75_6e64);
    let mut summary = Summary::default();
    let campaigns = store.batch(|w| {
        let mut ids = Vec::new();
        for (name, issue, targets) in [
            (
                "Living wage for university cleaners",
                "living wage",
                vec![
                    ("sign the letter to the vice chancellor", 50),
                    ("come to the delivery of the letter", 100),
                ],
            ),
            (
                "Fix the damp on Castle Estate",
                "damp and mould",
                vec![
                    ("come to the residents' meeting", 60),
                    ("host a meeting at home", 10),
                ],
            ),
            (
                "Save the 42 bus",
                "bus routes",
                vec![("talk to the early shift about the campaign", 40)],
            ),
        ] {
            ids.push(
                w.add_campaign(NewCampaign {
                    name: name.into(),
                    issue: Some(issue.into()),
                    targets: targets
                        .into_iter()
                        .map(|(l, n)| (l.to_string(), n))
                        .collect(),
                })?,
            );
        }
        Ok(ids)
    })?;
    summary.campaigns = campaigns.len();

    // One shift per twenty people, spread over the weeks, each ended two hours after it began.
    let n_shifts = people.div_ceil(20).max(1);
    let shifts = store.batch(|w| {
        let mut ids = Vec::new();
        for i in 0..n_shifts {
            let campaign = rng.pick(&campaigns).clone();
            let id = w.add_shift(
                word(&mut rng, PLACES),
                Some(&campaign),
                Some(word(&mut rng, CANVASSERS)),
            )?;
            w.end_shift(Some(&id))?;
            ids.push((id, campaign, start() + Duration::hours(6 * i as i64)));
        }
        Ok(ids)
    })?;
    summary.shifts = shifts.len();

    let mut done = 0;
    while done < people {
        let n = BATCH.min(people - done);
        let part = store.batch(|w| {
            let mut s = Summary::default();
            for i in done..done + n {
                person(w, &mut rng, &shifts, i * n_shifts / people.max(1), &mut s)?;
            }
            Ok(s)
        })?;
        summary.people += part.people;
        summary.conversations += part.conversations;
        summary.commitments += part.commitments;
        done += n;
    }
    Ok(summary)
}

fn word(rng: &mut SplitMix64, items: &[&'static str]) -> &'static str {
    let word: &&'static str = rng.pick(items);
    word
}

/// With probability `p`, one of `items` (empty items count as none).
fn maybe(rng: &mut SplitMix64, p: f64, items: &[&'static str]) -> Option<String> {
    let pick = word(rng, items);
    (rng.chance(p) && !pick.is_empty()).then(|| pick.to_string())
}

fn person(
    w: &mut Writer<'_>,
    rng: &mut SplitMix64,
    shifts: &[(String, String, DateTime<Utc>)],
    first_shift: usize,
    s: &mut Summary,
) -> Result<()> {
    let (workplace, roles) = *rng.pick(WORKPLACES);
    let name = format!("{} {}", word(rng, FIRST), word(rng, LAST));
    let phone = format!("07{:03} {:06}", rng.below(1000), rng.below(1_000_000));
    let email = format!(
        "{}{}@example.org",
        name.split(' ').next().unwrap_or("someone").to_lowercase(),
        rng.below(100)
    );
    let mut consent = Vec::new();
    if rng.chance(0.6) {
        consent.push(ConsentChannel::Phone);
    }
    if rng.chance(0.3) {
        consent.push(ConsentChannel::Email);
    }
    // Drawn in this order, always: the demo notebook is the same for the same seed.
    let phone = rng.chance(0.7).then_some(phone);
    let email = rng.chance(0.3).then_some(email);
    let address = rng
        .chance(0.5)
        .then(|| format!("{} {}", 1 + rng.below(180), word(rng, AREAS)));
    let area = word(rng, AREAS).to_string();
    let workplace = rng.chance(0.8).then(|| workplace.to_string());
    let role = maybe(rng, 0.6, roles);
    let notes = maybe(rng, 0.4, NOTES);
    let tags: &[&str] = if rng.chance(0.2) {
        &["union member"]
    } else {
        &[]
    };
    let do_not_contact = rng.chance(0.03);
    let person_id = w.add_person(
        NewPerson::new()
            .put(PersonField::Name, name)
            .put_some(PersonField::Phone, phone)
            .put_some(PersonField::Email, email)
            .put_some(PersonField::Address, address)
            .put(PersonField::Area, area)
            .put_some(PersonField::Workplace, workplace)
            .put_some(PersonField::Role, role)
            .put_some(PersonField::Notes, notes)
            .add(PersonField::Tags, tags.iter().copied())
            .add(PersonField::Consent, consent.iter().map(|c| c.as_str()))
            .put(PersonField::DoNotContact, do_not_contact),
    )?;
    s.people += 1;

    let conversations = 2 + rng.below(3) as usize;
    for k in 0..conversations {
        // Each later conversation happens on a later shift: people are met again.
        let (shift_id, campaign_id, shift_start) =
            &shifts[(first_shift + 3 * k).min(shifts.len() - 1)];
        let at = *shift_start + Duration::minutes(rng.below(120) as i64);
        let mut issues = vec![word(rng, ISSUES).to_string()];
        if rng.chance(0.5) {
            issues.push(word(rng, ISSUES).to_string());
        }
        let mut commitments = Vec::new();
        if rng.chance(0.4) {
            commitments.push(NewCommitment {
                what: word(rng, ASKS).to_string(),
                due: Some((at + Duration::days(7)).date_naive()),
                campaign_id: Some(campaign_id.clone()),
                target: None,
            });
        }
        let engagement = Engagement::try_from(1 + rng.below(5) as i64).ok();
        let (_, made) = w.record_conversation(
            NewConversation {
                person_id: person_id.clone(),
                kind: *rng.pick(ConversationKind::ALL),
                at: Some(at),
                canvasser: Some(word(rng, CANVASSERS).to_string()),
                shift_id: Some(shift_id.clone()),
                issues,
                story: Some(word(rng, STORIES).to_string()),
                notes: maybe(rng, 0.3, NOTES),
                engagement,
                follow_up: Some(Some((at + Duration::hours(48)).date_naive())),
            },
            commitments,
        )?;
        s.conversations += 1;
        for id in made {
            s.commitments += 1;
            let status = *rng.pick(&[
                CommitmentStatus::Open,
                CommitmentStatus::Kept,
                CommitmentStatus::Kept,
                CommitmentStatus::Broken,
            ]);
            if status != CommitmentStatus::Open {
                w.set_commitment_status(None, &id, status)?;
            }
        }
    }
    Ok(())
}
