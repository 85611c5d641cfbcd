//! Sync benchmark: the end of a shift, and a new device's first sync into a big team.
//!
//! Run: `cargo bench --bench sync` (`BENCH_TEAM_PEOPLE=N` changes the big team's size, default
//! 10000). The relay runs in this process on 127.0.0.1:0 (its real HTTP service and SQLite
//! store); devices are real data directories talking real HTTP. Prints Markdown tables.

use std::io::Write;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use flate2::Compression;
use flate2::write::GzEncoder;
use groundwork::crypto::keys::{InviteSecret, Keyring, TeamKey, seal_invite};
use groundwork::export::{self, Format, What};
use groundwork::ids::SplitMix64;
use groundwork::model::{ConversationKind, NewCommitment, NewConversation, NewPerson, PersonField};
use groundwork::store::Store;
use groundwork::sync::plan::Budget;
use groundwork::sync::{self, HttpTransport};
use groundwork_protocol::Role;
use sync_server::embedded::EmbeddedRelay;

fn relay(dir: &std::path::Path) -> EmbeddedRelay {
    EmbeddedRelay::start(dir).unwrap()
}

/// A new end-to-end encrypted team and an invite for `uses` devices that carries its key, as a
/// lead's app makes one.
fn invite(r: &EmbeddedRelay, uses: u32) -> String {
    let (team, _) = r.team("Bench team", 1).unwrap();
    let keys = Keyring::new([TeamKey::generate(1).unwrap()]);
    let secret = InviteSecret::generate().unwrap();
    let sealed = seal_invite(&secret, &team, &keys).unwrap();
    let code = r
        .invite_with_keys(&team, uses, Role::Lead, &sealed)
        .unwrap();
    format!("{code}.{}", secret.to_text())
}

fn transport() -> HttpTransport {
    HttpTransport::with_retries(3, Duration::from_millis(100)).unwrap()
}

fn gzipped_json(store: &Store) -> (usize, usize) {
    let mut json = Vec::new();
    for what in [
        What::People,
        What::Conversations,
        What::Commitments,
        What::Campaigns,
        What::Shifts,
    ] {
        export::write(store, what, Format::Json, &mut json).unwrap();
    }
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(&json).unwrap();
    (json.len(), gz.finish().unwrap().len())
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1e3)
}

const STORIES: &[&str] = &[
    "Works two jobs and is still short by the end of the month.",
    "The flat has had black mould since last winter; the landlord does not answer.",
    "Was moved to split shifts with two days' notice and lost her childcare.",
    "Has not had a pay rise in four years while the rent went up twice.",
];

fn end_of_shift(rows: &mut Vec<(String, String)>) {
    let tmp = tempfile::tempdir().unwrap();
    let r = relay(&tmp.path().join("relay"));
    let code = invite(&r, 21);
    let lead_dir = tmp.path().join("lead");
    let mut lead = Store::open(&lead_dir).unwrap();
    sync::join(&mut lead, &transport(), r.url(), &code, "Team lead").unwrap();
    let mut rng = SplitMix64::new(5);
    let mut pushes = Vec::new();
    let mut pushed_bytes = 0u64;
    for d in 0..20 {
        let dir = tmp.path().join(format!("device{d}"));
        let mut store = Store::open(&dir).unwrap();
        sync::join(
            &mut store,
            &transport(),
            r.url(),
            &code,
            &format!("Canvasser {d}"),
        )
        .unwrap();
        for i in 0..40 {
            let person = store
                .add_person(
                    NewPerson::new()
                        .put(PersonField::Name, format!("Person {d}-{i}"))
                        .put(
                            PersonField::Phone,
                            format!("07700 9{:05}", rng.below(100_000)),
                        )
                        .put(PersonField::Area, "Elm Road")
                        .put(PersonField::Workplace, "University cleaning services"),
                )
                .unwrap();
            let asks = (0..1 + rng.below(2))
                .map(|k| NewCommitment {
                    what: ["sign the letter", "come to the delivery"][k as usize].into(),
                    due: None,
                    campaign_id: None,
                    target: None,
                })
                .collect();
            store
                .record_conversation(
                    NewConversation {
                        person_id: person,
                        kind: ConversationKind::Doorstep,
                        at: None,
                        canvasser: None,
                        shift_id: None,
                        issues: vec!["living wage".into()],
                        story: Some(rng.pick(STORIES).to_string()),
                        notes: Some("Call back after 6pm.".into()),
                        engagement: 3.try_into().ok(),
                        follow_up: None,
                    },
                    asks,
                )
                .unwrap();
        }
        let t = transport();
        let start = Instant::now();
        sync::sync_once(&mut store, &t, Budget::default()).unwrap();
        pushes.push(start.elapsed());
        pushed_bytes += t.stats.sent.load(Ordering::Relaxed);
    }
    pushes.sort();
    let t = transport();
    let start = Instant::now();
    let report = sync::sync_once(&mut lead, &t, Budget::default()).unwrap();
    let pull = start.elapsed();
    let received = t.stats.received.load(Ordering::Relaxed);
    let (json, floor) = gzipped_json(&lead);
    let people = lead.all_people().unwrap().len();
    rows.push((
        format!(
            "end of shift: 20 devices × 40 conversations; lead pulls {} changes ({people} people)",
            report.pulled
        ),
        String::new(),
    ));
    rows.push((
        "  lead's pull: time".into(),
        format!("{} ({} round trips)", ms(pull), report.round_trips),
    ));
    rows.push((
        "  lead's pull: bytes received (bodies, gzip)".into(),
        format!("{received} B"),
    ));
    rows.push((
        "  floor: the same records as JSON, gzipped".into(),
        format!("{floor} B (JSON {json} B)"),
    ));
    rows.push((
        "  **ratio pulled / floor**".into(),
        format!("**{:.2}×**", received as f64 / floor as f64),
    ));
    rows.push((
        "  each device's push: p50 / max".into(),
        format!(
            "{} / {}",
            ms(pushes[pushes.len() / 2]),
            ms(*pushes.last().unwrap())
        ),
    ));
    rows.push((
        "  all 20 pushes: bytes sent / floor".into(),
        format!(
            "{pushed_bytes} B, {:.2}×",
            pushed_bytes as f64 / floor as f64
        ),
    ));
}

fn first_sync(rows: &mut Vec<(String, String)>, people: usize) {
    let tmp = tempfile::tempdir().unwrap();
    let r = relay(&tmp.path().join("relay"));
    let code = invite(&r, 2);
    let mut old = Store::open(&tmp.path().join("old")).unwrap();
    sync::join(&mut old, &transport(), r.url(), &code, "Old phone").unwrap();
    groundwork::demo::generate(&mut old, people, 1).unwrap();
    let t = transport();
    let start = Instant::now();
    let up = sync::sync_once(&mut old, &t, Budget::default()).unwrap();
    let push = start.elapsed();
    let mut new = Store::open(&tmp.path().join("new")).unwrap();
    sync::join(&mut new, &transport(), r.url(), &code, "New phone").unwrap();
    let t = transport();
    let start = Instant::now();
    let down = sync::sync_once(&mut new, &t, Budget::default()).unwrap();
    let pull = start.elapsed();
    let received = t.stats.received.load(Ordering::Relaxed);
    let (_, floor) = gzipped_json(&new);
    assert_eq!(
        new.all_people().unwrap().len(),
        old.all_people().unwrap().len()
    );
    rows.push((
        format!(
            "first sync of a new device into a team of {people} people ({} changes)",
            down.pulled
        ),
        String::new(),
    ));
    rows.push((
        "  the team's first upload (one device)".into(),
        format!(
            "{} ({} changes, {} round trips)",
            ms(push),
            up.pushed,
            up.round_trips
        ),
    ));
    rows.push((
        "  new device's pull: time".into(),
        format!("{} ({} round trips)", ms(pull), down.round_trips),
    ));
    rows.push((
        "  new device's pull: bytes / floor (gzipped JSON)".into(),
        format!(
            "{received} B / {floor} B = {:.2}×",
            received as f64 / floor as f64
        ),
    ));
}

fn main() {
    let people: usize = std::env::var("BENCH_TEAM_PEOPLE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    let mut rows = Vec::new();
    end_of_shift(&mut rows);
    first_sync(&mut rows, people);
    println!("| measurement | result |\n|---|---|");
    for (k, v) in rows {
        println!("| {k} | {v} |");
    }
}
