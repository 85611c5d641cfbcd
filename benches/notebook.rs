//! Notebook benchmark: the speeds and sizes the local-notebook issue names, on a store of
//! 10,000 people and about 30,000 conversations, against bare SQLite as the floor.
//!
//! Run: `cargo bench --bench notebook` (set `BENCH_PEOPLE` for another size). Prints a
//! Markdown table for BENCHMARKS.md.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use groundwork::ids::SplitMix64;
use groundwork::model::{ConversationKind, NewCommitment, NewConversation};
use groundwork::store::Store;
use rusqlite::Connection;

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[i]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

fn rss_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn new_conversation(person_id: String, i: usize) -> (NewConversation, Vec<NewCommitment>) {
    (
        NewConversation {
            person_id,
            kind: ConversationKind::Doorstep,
            at: None,
            canvasser: Some("Bench".into()),
            shift_id: None,
            issues: vec!["heating".into(), "rent".into()],
            story: Some(format!(
                "Story number {i}: the heating failed again and the landlord will not answer the phone."
            )),
            notes: Some("Call back after 6pm.".into()),
            engagement: 3.try_into().ok(),
            follow_up: None,
        },
        vec![
            NewCommitment {
                what: "sign the letter".into(),
                due: None,
                campaign_id: None,
                target: None,
            },
            NewCommitment {
                what: "come to the residents' meeting".into(),
                due: None,
                campaign_id: None,
                target: None,
            },
        ],
    )
}

/// The floor: the same rows, plain SQLite tables, one transaction per conversation.
fn bare_sqlite(dir: &Path, people: &[String], samples: usize) -> (Duration, Duration, u64) {
    let conn = Connection::open(dir.join("bare.sqlite3")).unwrap();
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;
         CREATE TABLE conversations (id TEXT PRIMARY KEY, person_id TEXT, at TEXT, kind TEXT, canvasser TEXT,
             issues TEXT, story TEXT, notes TEXT, engagement INTEGER, follow_up TEXT, created_at TEXT);
         CREATE TABLE commitments (id TEXT PRIMARY KEY, person_id TEXT, conversation_id TEXT, what TEXT,
             status TEXT, created_at TEXT);",
    )
    .unwrap();
    let mut times = Vec::new();
    let mut conn = conn;
    for i in 0..samples {
        let p = &people[i % people.len()];
        let t = Instant::now();
        let tx = conn.transaction().unwrap();
        let cid = uuid::Uuid::now_v7().to_string();
        tx.execute(
            "INSERT INTO conversations VALUES (?1, ?2, '2026-01-01T00:00:00Z', 'doorstep', 'Bench', '[\"heating\",\"rent\"]', ?3, 'Call back after 6pm.', 3, '2026-01-03', '2026-01-01T00:00:00Z')",
            (&cid, p, format!("Story number {i}: the heating failed again and the landlord will not answer the phone.")),
        )
        .unwrap();
        for what in ["sign the letter", "come to the residents' meeting"] {
            tx.execute(
                "INSERT INTO commitments VALUES (?1, ?2, ?3, ?4, 'open', '2026-01-01T00:00:00Z')",
                (uuid::Uuid::now_v7().to_string(), p, &cid, what),
            )
            .unwrap();
        }
        tx.commit().unwrap();
        times.push(t.elapsed());
    }
    let p50 = percentile(&mut times, 0.5);
    let p99 = percentile(&mut times, 0.99);
    drop(conn);
    (
        p50,
        p99,
        std::fs::metadata(dir.join("bare.sqlite3"))
            .map(|m| m.len())
            .unwrap_or(0),
    )
}

fn main() {
    let n: usize = std::env::var("BENCH_PEOPLE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mut rows: Vec<(String, String)> = Vec::new();

    // Setup: demo data.
    let t = Instant::now();
    let mut store = Store::open(&dir).unwrap();
    let summary = groundwork::demo::generate(&mut store, n, 1).unwrap();
    let setup = t.elapsed();
    rows.push((
        format!(
            "demo data: {} people, {} conversations, {} commitments",
            summary.people, summary.conversations, summary.commitments
        ),
        format!(
            "{:.1} s ({:.0} µs per person)",
            setup.as_secs_f64(),
            setup.as_secs_f64() * 1e6 / n as f64
        ),
    ));
    let people: Vec<String> = store
        .all_people()
        .unwrap()
        .into_iter()
        .map(|p| p.id)
        .collect();

    // Recording a conversation with two commitments, one transaction each: first back to back,
    // then as the app does it, with the WAL checkpointed while idle between conversations.
    // The last round turns `secure_delete` off for comparison (the store runs with it on, so
    // that an erased person's words do not stay in freed space).
    //
    // In the idle rounds each save comes after a short pause (typing takes seconds; 3 ms is
    // enough for the caches to go cold), and saves take turns in three ways: with nothing
    // loaded before (the command line's way); with the person's file kept loaded as the
    // conversation form opened (`Store::keep_loaded`, untimed: it happens while the canvasser
    // types); and the app's whole way, the file kept loaded and the form's draft written while
    // typing (both untimed), then the save that ends the draft and notes the form's save key
    // in the same transaction (`Store::record_conversation_once`). Taking turns, all three see
    // the machine in the same state, which a busy machine's runs do not.
    let mut rng = SplitMix64::new(42);
    for (idle_checkpoint, secure_delete) in [(false, true), (true, true), (true, false)] {
        if !secure_delete {
            store
                .connection()
                .execute_batch("PRAGMA secure_delete = OFF;")
                .unwrap();
        }
        let mut times = [Vec::new(), Vec::new(), Vec::new()];
        let mut catch_up = Vec::new();
        let samples = if idle_checkpoint { 3000 } else { 1000 };
        for i in 0..samples {
            let p = people[rng.below(people.len() as u64) as usize].clone();
            // 0: nothing loaded; 1: the form opened first; 2: the app's whole way.
            let way = if idle_checkpoint { i % 3 } else { 0 };
            if way > 0 {
                store.keep_loaded(&p).unwrap();
            }
            let draft_key = format!("conversation:{p}");
            if way == 2 {
                store
                    .save_draft(&draft_key, r#"{"story":"typed at the door"}"#)
                    .unwrap();
            }
            if idle_checkpoint {
                std::thread::sleep(std::time::Duration::from_millis(3));
            }
            let (c, asks) = new_conversation(p, i);
            let t = Instant::now();
            if way == 2 {
                let key = groundwork::ids::new_save_key();
                store
                    .record_conversation_once(c, asks, &draft_key, Some(&key))
                    .unwrap();
            } else {
                store.record_conversation(c, asks).unwrap();
            }
            times[way].push(t.elapsed());
            if idle_checkpoint {
                // The search index's row, which the save left for idle time (timed apart).
                let t = Instant::now();
                store.catch_up_search().unwrap();
                catch_up.push(t.elapsed());
                store.checkpoint().unwrap();
            }
        }
        for (way, times) in times.iter_mut().enumerate() {
            if times.is_empty() {
                continue;
            }
            let how = match (idle_checkpoint, secure_delete, way) {
                (true, true, 0) => "with idle checkpoints, nothing loaded before",
                (true, true, 1) => "with idle checkpoints, the form opened first",
                (true, true, _) => {
                    "with idle checkpoints, the app's way (file loaded, draft ended, save key noted)"
                }
                (true, false, 0) => "with idle checkpoints, secure_delete off",
                (true, false, 1) => {
                    "with idle checkpoints, secure_delete off, the form opened first"
                }
                (true, false, _) => "with idle checkpoints, secure_delete off, the app's way",
                _ => "back to back",
            };
            rows.push((
                format!(
                    "record a conversation + 2 commitments, {how}, p50 ({} samples)",
                    times.len()
                ),
                ms(percentile(times, 0.5)),
            ));
            rows.push((
                format!("record a conversation + 2 commitments, {how}, p99"),
                ms(percentile(times, 0.99)),
            ));
            rows.push((
                format!("record a conversation + 2 commitments, {how}, max"),
                ms(*times.iter().max().unwrap()),
            ));
        }
        if idle_checkpoint && secure_delete {
            rows.push((
                "then, when idle: the person's search-index row caught up, p50 / p99".into(),
                format!(
                    "{} / {}",
                    ms(percentile(&mut catch_up, 0.5)),
                    ms(percentile(&mut catch_up, 0.99))
                ),
            ));
        }
    }

    store
        .connection()
        .execute_batch("PRAGMA secure_delete = ON;")
        .unwrap();

    // Erasing a person: every row, the search index entry (and an index merge), the WAL
    // truncated.
    let mut times = Vec::new();
    for _ in 0..20 {
        let p = people[rng.below(people.len() as u64) as usize].clone();
        if store.is_erased(&p).unwrap() {
            continue;
        }
        let t = Instant::now();
        store.erase_person_locally(&p).unwrap();
        times.push(t.elapsed());
    }
    rows.push((
        format!(
            "erase a person (`person erase` on this device), p50 ({} samples)",
            times.len()
        ),
        ms(percentile(&mut times, 0.5)),
    ));
    rows.push((
        "erase a person, max".into(),
        ms(*times.iter().max().unwrap()),
    ));

    // Full-text search.
    let queries = [
        "amina",
        "heat",
        "living wage",
        "castle",
        "univ clean",
        "07700",
        "mould",
        "Kowalski",
        "bus",
        "childcare",
        "zz",
    ];
    let mut times = Vec::new();
    let mut hits = 0;
    for round in 0..100 {
        for q in queries {
            let t = Instant::now();
            hits += store.search(q, 50).unwrap().len();
            times.push(t.elapsed());
            let _ = round;
        }
    }
    rows.push((
        format!(
            "full-text search, 50 results, p50 ({} queries, {} hits)",
            times.len(),
            hits
        ),
        ms(percentile(&mut times, 0.5)),
    ));
    rows.push((
        "full-text search, p99".into(),
        ms(percentile(&mut times, 0.99)),
    ));
    // The People screen's filter choices (areas, tags, issues): every person's and every
    // conversation's row read, so asked for only while the screen's filter panel is open.
    let mut times = Vec::new();
    let mut offered = 0;
    for _ in 0..100 {
        let t = Instant::now();
        let c = store.people_choices().unwrap();
        times.push(t.elapsed());
        offered = c.areas.len() + c.tags.len() + c.issues.len();
    }
    rows.push((
        format!("the People screen's filter choices ({offered} offered), p50 / p99"),
        format!(
            "{} / {}",
            ms(percentile(&mut times, 0.5)),
            ms(percentile(&mut times, 0.99))
        ),
    ));
    rows.push((
        "resident memory of this process now / peak".into(),
        format!(
            "{} MiB / {} MiB",
            rss_kib("VmRSS:") / 1024,
            rss_kib("VmHWM:") / 1024
        ),
    ));

    // Size on disk after a checkpoint.
    store
        .connection()
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
        .unwrap();
    drop(store);
    let size = dir_size(&dir);
    rows.push((
        "data directory".into(),
        format!(
            "{:.1} MiB, {:.2} KiB per person",
            size as f64 / 1048576.0,
            size as f64 / 1024.0 / n as f64
        ),
    ));

    // Opening the store and listing the first 50 people.
    let mut times = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        let s = Store::open(&dir).unwrap();
        let list = s.list_people(50).unwrap();
        assert_eq!(list.len(), 50.min(n));
        times.push(t.elapsed());
    }
    rows.push((
        "open the store + list 50 people, in process, p50".into(),
        ms(percentile(&mut times, 0.5)),
    ));
    let bin = env!("CARGO_BIN_EXE_groundwork");
    let mut times = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        let out = Command::new(bin)
            .arg("--data-dir")
            .arg(&dir)
            .args(["person", "list", "--limit", "50"])
            .output()
            .unwrap();
        assert!(out.status.success());
        times.push(t.elapsed());
    }
    rows.push((
        "cold process: `groundwork person list --limit 50`, p50 (whole process)".into(),
        ms(percentile(&mut times, 0.5)),
    ));
    rows.push((
        "cold process, max of 20".into(),
        ms(*times.iter().max().unwrap()),
    ));

    // The floor.
    let (p50, p99, size) = bare_sqlite(tmp.path(), &people, 1000);
    rows.push((
        "floor: bare SQLite insert of the same rows, p50".into(),
        ms(p50),
    ));
    rows.push(("floor: bare SQLite insert, p99".into(), ms(p99)));
    rows.push((
        "floor: bare SQLite file for 1,000 conversations".into(),
        format!("{:.1} KiB", size as f64 / 1024.0),
    ));

    println!("| measurement | result |\n|---|---|");
    for (k, v) in rows {
        println!("| {k} | {v} |");
    }
}
