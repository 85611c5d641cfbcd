//! Walk-list benchmark: the speeds and sizes the walk-list issue names, on real notebooks on
//! disk. Importing 5,000 doors from CSV; opening a list of 500 doors (its doors in walking
//! order with their status); marking one door; and what a shift's door marks weigh on the way
//! to the relay against the same visits as gzipped JSON.
//!
//! Run: `cargo bench --bench walk`. Prints a Markdown table for BENCHMARKS.md.

use std::io::Write;
use std::time::{Duration, Instant};

use flate2::Compression;
use flate2::write::{DeflateEncoder, GzEncoder};
use groundwork::ids::SplitMix64;
use groundwork::model::Outcome;
use groundwork::store::Store;
use groundwork::store::walklists::Mark;
use groundwork::walk::import;

const STREETS: &[&str] = &[
    "Elm Road",
    "Oak Avenue",
    "Station Street",
    "Mill Lane",
    "Victoria Terrace",
    "Church Walk",
    "Park View",
    "Albert Street",
];
const FIRST: &[&str] = &[
    "Amina", "Piotr", "Joy", "Ravi", "Sam", "Li", "Fatima", "Tomasz", "Grace", "Kwame", "Zoë",
    "Ahmed",
];
const LAST: &[&str] = &[
    "Khan", "Nowak", "Okafor", "Patel", "Lee", "Wei", "Hussain", "Kowalski", "Brown", "Mensah",
    "Smith", "Ali",
];

/// A register extract of `doors` doors (about 1.7 electors a door; every fifth building a block
/// of flats), in a shuffled row order as extracts often come.
fn register(doors: usize, seed: u64) -> String {
    let mut rng = SplitMix64::new(seed);
    let mut rows = Vec::new();
    let mut made = 0;
    let mut elector = 1;
    let mut building = 0;
    while made < doors {
        building += 1;
        let street = STREETS[building % STREETS.len()];
        let number = building / STREETS.len() + 1;
        let postcode = format!("LS{} {}AB", 1 + building % 9, building % 10);
        let flats = if building % 5 == 0 { 12 } else { 1 };
        for f in 0..flats {
            if made == doors {
                break;
            }
            made += 1;
            let flat = if flats > 1 {
                format!("Flat {} Floor {}", f + 1, f / 4)
            } else {
                String::new()
            };
            for _ in 0..(1 + rng.below(3)) {
                let name = format!(
                    "{} {}",
                    FIRST[rng.below(FIRST.len() as u64) as usize],
                    LAST[rng.below(LAST.len() as u64) as usize]
                );
                rows.push(format!(
                    "E{elector},\"{name}\",{number},{street},{flat},{postcode}"
                ));
                elector += 1;
            }
        }
    }
    // Shuffle (Fisher–Yates).
    for i in (1..rows.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        rows.swap(i, j);
    }
    let mut csv = String::from("Elector No,Name,House No,Street,Flat,Postcode\n");
    for r in rows {
        csv.push_str(&r);
        csv.push('\n');
    }
    csv
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn gzip(bytes: &[u8]) -> usize {
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap().len()
}

fn deflate(bytes: &[u8]) -> usize {
    let mut d = DeflateEncoder::new(Vec::new(), Compression::default());
    d.write_all(bytes).unwrap();
    d.finish().unwrap().len()
}

fn main() {
    let mut rows: Vec<(String, String)> = Vec::new();

    // Importing 5,000 doors: reading the CSV and writing the list, in a new notebook each time.
    let csv = register(5_000, 1);
    let mut times = Vec::new();
    let mut outbox = 0;
    for run in 0..3 {
        let tmp = tempfile::tempdir().unwrap();
        let mut store = Store::open(tmp.path()).unwrap();
        let start = Instant::now();
        let read = import::read(csv.as_bytes(), &[]).unwrap();
        let report = store.import_walklist("Ward", None, &read).unwrap();
        times.push(start.elapsed());
        assert_eq!(report.doors_added, 5_000, "run {run}");
        outbox = store.pending_changes().unwrap();
    }
    let rows_in = csv.lines().count() - 1;
    rows.push((
        format!("import 5,000 doors ({rows_in} rows), median of 3 (goal: under 2 s)"),
        ms(percentile(&mut times, 0.5)),
    ));
    rows.push((
        "  changes it makes (200 doors a change)".into(),
        outbox.to_string(),
    ));

    // A list of 500 doors: opening it, and marking its doors one at a time.
    let tmp = tempfile::tempdir().unwrap();
    let mut store = Store::open(tmp.path()).unwrap();
    let read = import::read(register(500, 2).as_bytes(), &[]).unwrap();
    let list = store.import_walklist("Patch", None, &read).unwrap().id;
    store
        .start_shift_on("", None, Some("Bench"), Some(&list))
        .unwrap();
    let doors = store.walklist(&list).unwrap().door_ids();
    let before_marks = store.pending_changes().unwrap();
    let mut rng = SplitMix64::new(3);
    let outcomes = [
        Outcome::NotHome,
        Outcome::NotHome,
        Outcome::NotHome,
        Outcome::Answered,
        Outcome::Refused,
        Outcome::ComeBack,
    ];
    let mut marks = Vec::new();
    let marked = 150;
    for door in doors.iter().take(marked) {
        let mark = Mark {
            outcome: outcomes[rng.below(outcomes.len() as u64) as usize],
            note: None,
            at: None,
            come_back_at: None,
        };
        let start = Instant::now();
        store.mark_doors(std::slice::from_ref(door), &mark).unwrap();
        marks.push(start.elapsed());
    }
    let mut opens = Vec::new();
    for _ in 0..50 {
        let start = Instant::now();
        let view = store.walklist(&list).unwrap();
        opens.push(start.elapsed());
        assert_eq!(view.doors.len(), 500);
    }
    rows.push((
        "open a list of 500 doors (150 marked), p50 / p99 of 50 (goal: under 100 ms)".into(),
        format!(
            "{} / {}",
            ms(percentile(&mut opens, 0.5)),
            ms(percentile(&mut opens, 0.99))
        ),
    ));
    rows.push((
        format!("mark a door on it, p50 / p99 of {marked} (goal: p99 under 5 ms)"),
        format!(
            "{} / {}",
            ms(percentile(&mut marks, 0.5)),
            ms(percentile(&mut marks, 0.99))
        ),
    ));

    // Where a mark's time goes: loading the list's document from its saved bytes, and saving
    // it whole again.
    let snapshot: Vec<u8> = store
        .connection()
        .query_row(
            "SELECT snapshot FROM documents WHERE doc_id = ?1",
            [&list],
            |r| r.get(0),
        )
        .unwrap();
    let (mut loads, mut saves) = (Vec::new(), Vec::new());
    for _ in 0..30 {
        let start = Instant::now();
        let mut doc = automerge::AutoCommit::load(&snapshot).unwrap();
        loads.push(start.elapsed());
        let start = Instant::now();
        let _ = doc.save();
        saves.push(start.elapsed());
    }
    rows.push((
        format!(
            "  of which: load the list's document ({} KiB saved), p50",
            snapshot.len() / 1024
        ),
        ms(percentile(&mut loads, 0.5)),
    ));
    rows.push((
        "  of which: save it whole, p50".into(),
        ms(percentile(&mut saves, 0.5)),
    ));

    // What the shift's marks weigh: the changes waiting for the relay after the import's.
    let waiting = store.outbox(100_000).unwrap();
    let changes: Vec<u8> = waiting
        .iter()
        .skip(before_marks as usize)
        .flat_map(|c| c.bytes.clone())
        .collect();
    let visits = store.door_visits().unwrap();
    let json = serde_json::to_vec(&visits).unwrap();
    let floor = gzip(&json);
    rows.push((
        format!("a shift's {marked} door marks: Automerge changes, raw"),
        format!("{} B", changes.len()),
    ));
    let together = deflate(&changes);
    rows.push((
        "  the same compressed together (as a push seals a list's changes in one blob)".into(),
        format!(
            "{together} B, {:.2}x the floor",
            together as f64 / floor as f64
        ),
    ));
    rows.push((
        "  floor: the same visits as JSON, gzipped".into(),
        format!("{floor} B ({} B raw)", json.len()),
    ));

    println!("| measurement | result |\n|---|---|");
    for (what, value) in rows {
        println!("| {what} | {value} |");
    }
}
