//! Sync benchmark: the end of a shift, and a new device's first sync into a big team.
//!
//! Run: `cargo bench --bench sync` (`BENCH_TEAM_PEOPLE=N` changes the big team's size, default
//! 10000; `BENCH_EDITS=N` edits each person N more times before the upload, to show the first
//! sync after compaction does not grow with history; `BENCH_FIRST_SYNC_ONLY=1` skips the end of
//! a shift; `BENCH_LINK_BYTES_PER_SEC=N` adds a new device's first sync after compaction over
//! a link carrying N bytes a second each way: from nothing learnt, from what that sync learnt,
//! and from a pace learnt on a good link). The relay runs in this process on 127.0.0.1:0 (its real HTTP service and SQLite
//! store); devices are real data directories talking real HTTP, and one more new device is the
//! real command line (`groundwork join`, `groundwork sync`, each a process), whose peak
//! resident memory is read from `/proc`. Prints Markdown tables.

use std::io::Write;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use flate2::Compression;
use flate2::write::GzEncoder;
use groundwork::crypto::keys::{DeviceKey, InviteSecret, Keyring, TeamKey, seal_invite};
use groundwork::crypto::trust::{TrustedRole, certify_invite};
use groundwork::export::{self, Format, What};
use groundwork::ids::SplitMix64;
use groundwork::model::{
    ConversationKind, NewCommitment, NewConversation, NewPerson, PersonField, PersonPatch,
};
use groundwork::store::Store;
use groundwork::sync::plan::Budget;
use groundwork::sync::{self, HttpTransport};
use groundwork_protocol::Role;
use sync_server::embedded::EmbeddedRelay;

#[path = "../tests/notebook/throttle.rs"]
mod throttle;

fn relay(dir: &std::path::Path) -> EmbeddedRelay {
    EmbeddedRelay::start(dir).unwrap()
}

/// A new end-to-end encrypted team: its key, the tree of its documents' own keys, and its
/// anchor (the first lead's signing key, which certifies the invites, as a lead's app does).
fn sealed_team(r: &EmbeddedRelay) -> (String, (Keyring, DeviceKey)) {
    let (team, _) = r.team("Bench team", 1).unwrap();
    (
        team,
        (
            Keyring::new([TeamKey::generate(1).unwrap()])
                .with_doc_keys(groundwork::crypto::doc_keys::DocKeys::generate().unwrap()),
            DeviceKey::generate().unwrap(),
        ),
    )
}

/// An invite to `team` carrying its keys and anchor, for `uses` devices of `role`.
fn invite_as(
    r: &EmbeddedRelay,
    team: &str,
    (keys, anchor): &(Keyring, DeviceKey),
    uses: u32,
    role: Role,
) -> String {
    let secret = InviteSecret::generate().unwrap();
    let trusted = TrustedRole::from(role);
    let by = groundwork::store::intake::hex(&anchor.public());
    let cert = certify_invite(team, &secret, trusted, uses, &by, anchor);
    let sealed = seal_invite(&secret, team, keys, (&anchor.public(), &by), &cert).unwrap();
    let code = r.invite_with_keys(team, uses, role, &sealed).unwrap();
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

/// The end of a shift: 20 canvassers' devices push 40 people each, then the lead pulls. With
/// `steps`, each person is written as a canvasser does on a doorstep and after: the person, the
/// conversation, each commitment on its own, and a later edit of the notes (five or six changes
/// instead of two).
fn end_of_shift(rows: &mut Vec<(String, String)>, steps: bool) {
    let tmp = tempfile::tempdir().unwrap();
    let r = relay(&tmp.path().join("relay"));
    let (team, keys) = sealed_team(&r);
    let code = invite_as(&r, &team, &keys, 20, Role::Canvasser);
    let lead_code = invite_as(&r, &team, &keys, 1, Role::Lead);
    let lead_dir = tmp.path().join("lead");
    let mut lead = Store::open(&lead_dir).unwrap();
    sync::join(&mut lead, &transport(), r.url(), &lead_code, "Team lead").unwrap();
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
            let asks: Vec<NewCommitment> = (0..1 + rng.below(2))
                .map(|k| NewCommitment {
                    what: ["sign the letter", "come to the delivery"][k as usize].into(),
                    due: None,
                    campaign_id: None,
                    target: None,
                })
                .collect();
            let (now, later) = if steps {
                (Vec::new(), asks)
            } else {
                (asks, Vec::new())
            };
            let (conversation, _) = store
                .record_conversation(
                    NewConversation {
                        person_id: person.clone(),
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
                    now,
                )
                .unwrap();
            for ask in later {
                store
                    .add_commitment(&person, Some(&conversation), ask)
                    .unwrap();
            }
            if steps {
                let patch = PersonPatch::new()
                    .put(PersonField::Notes, "Rang back: on nights from next week.");
                store.edit_person(&person, patch).unwrap();
            }
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
            "end of shift{}: 20 devices × 40 conversations; lead pulls {} changes ({people} people)",
            if steps {
                ", each person in steps (person, conversation, each commitment, a later edit)"
            } else {
                ""
            },
            report.pulled
        ),
        String::new(),
    ));
    rows.push((
        "  lead's pull: time".into(),
        format!(
            "{} ({} round trips; it then compacted {} people)",
            ms(pull),
            report.round_trips,
            report.compacted
        ),
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

/// A new device joins the team and syncs: time, bytes received, round trips.
fn new_device(
    r: &EmbeddedRelay,
    dir: &std::path::Path,
    code: &str,
) -> (Store, Duration, u64, usize) {
    let mut new = Store::open(dir).unwrap();
    sync::join(&mut new, &transport(), r.url(), code, "New phone").unwrap();
    let t = transport();
    let start = Instant::now();
    let down = sync::sync_once(&mut new, &t, Budget::default()).unwrap();
    let pull = start.elapsed();
    if down.withheld != 0 || down.rejected != 0 {
        // Say why before failing: the reasons the device gave for what it refused.
        for q in new.quarantined().unwrap().iter().take(5) {
            eprintln!("refused: {}", q.reason);
        }
    }
    assert_eq!(down.withheld, 0, "{down:?}");
    (
        new,
        pull,
        t.stats.received.load(Ordering::Relaxed),
        down.round_trips,
    )
}

/// A line of `/proc/PID/status` in KiB (Linux), e.g. `VmHWM`.
fn memory_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status
        .lines()
        .find(|l| l.starts_with(&format!("{field}:")))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs the real command line, `groundwork --data-dir DIR ARGS`, to its end: its wall time and
/// its peak resident memory (`VmHWM`, read every 20 ms while it runs, so the last 20 ms may be
/// missed; Linux only).
fn command_line(dir: &std::path::Path, args: &[&str]) -> (Duration, Option<u64>) {
    let start = Instant::now();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_groundwork"))
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut peak = None;
    loop {
        if let Some(kib) = memory_kib(child.id(), "VmHWM") {
            peak = Some(kib);
        }
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "groundwork {args:?}: {status}");
            return (start.elapsed(), peak);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A new device's first sync into a team of `people` (demo data, each person then edited
/// `edits` more times): before any compaction, and after a lead compacted the team.
fn first_sync(rows: &mut Vec<(String, String)>, people: usize, edits: usize) {
    let tmp = tempfile::tempdir().unwrap();
    let r = relay(&tmp.path().join("relay"));
    let (team, keys) = sealed_team(&r);
    let canvassers = invite_as(&r, &team, &keys, 7, Role::Canvasser);
    let leads = invite_as(&r, &team, &keys, 1, Role::Lead);
    let mut old = Store::open(&tmp.path().join("old")).unwrap();
    sync::join(&mut old, &transport(), r.url(), &canvassers, "Old phone").unwrap();
    groundwork::demo::generate(&mut old, people, 1).unwrap();
    let ids: Vec<String> = old
        .all_people()
        .unwrap()
        .into_iter()
        .map(|p| p.id)
        .collect();
    for round in 0..edits {
        for id in &ids {
            let patch = PersonPatch::new().put(
                PersonField::Notes,
                format!("visit {round}: still short of hours"),
            );
            old.edit_person(id, patch).unwrap();
        }
    }
    let t = transport();
    let start = Instant::now();
    let up = sync::sync_once(&mut old, &t, Budget::default()).unwrap();
    let push = start.elapsed();
    let (before, before_time, before_bytes, before_trips) =
        new_device(&r, &tmp.path().join("before"), &canvassers);
    let (_, floor) = gzipped_json(&before);
    assert_eq!(before.all_people().unwrap().len(), ids.len());

    // The lead joins, takes the team in and compacts it, sync after sync.
    let mut lead = Store::open(&tmp.path().join("lead")).unwrap();
    sync::join(&mut lead, &transport(), r.url(), &leads, "Lead's laptop").unwrap();
    let first = sync::sync_once(&mut lead, &transport(), Budget::default()).unwrap();
    let mut compacted = first.compacted;
    let mut compaction = Duration::ZERO;
    let mut syncs = 0;
    loop {
        let start = Instant::now();
        let report = sync::sync_once(&mut lead, &transport(), Budget::default()).unwrap();
        compaction += start.elapsed();
        syncs += 1;
        compacted += report.compacted;
        if report.compacted == 0 {
            break;
        }
    }
    let (after, after_time, after_bytes, after_trips) =
        new_device(&r, &tmp.path().join("after"), &canvassers);
    assert_eq!(groundwork_state(&after), groundwork_state(&before));
    let weak = std::env::var("BENCH_LINK_BYTES_PER_SEC")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .map(|rate| weak_link(&r, tmp.path(), &canvassers, rate, &before));

    // The same as a device of its own: the command line's join, then one sync, each a process.
    let own = tmp.path().join("own");
    let (_, idle) = command_line(&own, &["person", "list", "--limit", "1"]);
    command_line(
        &own,
        &[
            "join",
            "--relay",
            r.url(),
            "--invite",
            &canvassers,
            "--name",
            "Own phone",
        ],
    );
    let (own_time, own_peak) = command_line(&own, &["sync"]);
    let own_store = Store::open(&own).unwrap();
    assert_eq!(groundwork_state(&own_store), groundwork_state(&before));
    drop(own_store);

    rows.push((
        format!(
            "first sync of a new device into a team of {people} people ({} changes; {edits} later edits a person)",
            up.pushed
        ),
        String::new(),
    ));
    rows.push((
        "  the team's first upload (one device)".into(),
        format!("{} ({} round trips)", ms(push), up.round_trips),
    ));
    rows.push((
        "  before compaction: new device's pull, time".into(),
        format!("{} ({} round trips)", ms(before_time), before_trips),
    ));
    rows.push((
        "  before compaction: bytes / floor (gzipped JSON)".into(),
        format!(
            "{before_bytes} B / {floor} B = {:.2}×",
            before_bytes as f64 / floor as f64
        ),
    ));
    rows.push((
        "  the lead compacts: documents, further syncs, their time".into(),
        format!(
            "{compacted} documents, {syncs} syncs after its first, {}",
            ms(compaction)
        ),
    ));
    rows.push((
        "  **after compaction: new device's pull, time**".into(),
        format!("**{}** ({} round trips)", ms(after_time), after_trips),
    ));
    let mib = |k: Option<u64>| {
        k.map_or("not measured (Linux only)".into(), |k| {
            format!("{:.1} MiB", k as f64 / 1024.0)
        })
    };
    rows.push((
        "  after compaction: the same pull as a process of its own (`groundwork sync`), time / peak resident memory".into(),
        format!("{} / **{}**", ms(own_time), mib(own_peak)),
    ));
    rows.push((
        "  the same command line's peak resident memory listing one person (its floor: the binary, the app window's libraries)".into(),
        mib(idle),
    ));
    if let Some(weak) = weak {
        rows.extend(weak);
    }
    rows.push((
        "  **after compaction: bytes / floor**".into(),
        format!(
            "**{after_bytes} B / {floor} B = {:.2}×**",
            after_bytes as f64 / floor as f64
        ),
    ));
}

/// A new device's first sync after compaction over a link carrying `rate` bytes a second each
/// way (the app's usual patience of a minute a request): a device that never synced, one that
/// starts from what that one learnt of the link, and one that learnt 1 MiB on a good link;
/// rows of the table.
fn weak_link(
    r: &EmbeddedRelay,
    dir: &std::path::Path,
    code: &str,
    rate: u64,
    expected: &Store,
) -> Vec<(String, String)> {
    let target: std::net::SocketAddr = r.url().trim_start_matches("http://").parse().unwrap();
    let (proxy, _) = throttle::throttled_proxy(target, rate);
    let mut rows = Vec::new();
    let mut learnt = None;
    let rounds = [
        "a device that never synced",
        "starting from what that one learnt",
        "starting from 1 MiB learnt on a good link",
    ];
    for (round, name) in rounds.iter().enumerate() {
        let mut new = Store::open(&dir.join(format!("weak-{round}"))).unwrap();
        sync::join(&mut new, &transport(), r.url(), code, "Phone on one bar").unwrap();
        let mut link = new.sync_state().unwrap().link.unwrap();
        link.relay_url = format!("http://{proxy}");
        new.set_relay_link(&link).unwrap();
        if round == 2 {
            learnt = Some(1 << 20);
        }
        if let Some(bytes) = learnt {
            new.set_link_pace(bytes).unwrap();
        }
        let t = transport();
        let start = Instant::now();
        let outcome = sync::sync_once(&mut new, &t, Budget::default());
        let took = start.elapsed();
        let result = match outcome {
            Ok(report) => {
                assert_eq!(groundwork_state(&new), groundwork_state(expected));
                format!(
                    "**{}** ({} round trips, {} B received; pages of up to {} B learnt)",
                    ms(took),
                    report.round_trips,
                    t.stats.received.load(Ordering::Relaxed),
                    new.link_pace().unwrap().unwrap_or_default()
                )
            }
            Err(e) => format!("failed after {}: {e}", ms(took)),
        };
        learnt = new.link_pace().unwrap();
        rows.push((
            format!(
                "  after compaction: a new device's pull over a link of {} kbit/s each way, {name}",
                rate * 8 / 1000
            ),
            result,
        ));
    }
    rows
}

/// Every person, conversation and commitment, as exported: equal on devices that converged.
fn groundwork_state(store: &Store) -> Vec<u8> {
    let mut out = Vec::new();
    for what in [What::People, What::Conversations, What::Commitments] {
        export::write(store, what, Format::Json, &mut out).unwrap();
    }
    out
}

fn main() {
    let people: usize = std::env::var("BENCH_TEAM_PEOPLE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    let edits: usize = std::env::var("BENCH_EDITS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut rows = Vec::new();
    if std::env::var_os("BENCH_FIRST_SYNC_ONLY").is_none() {
        end_of_shift(&mut rows, false);
        end_of_shift(&mut rows, true);
    }
    first_sync(&mut rows, people, edits);
    println!("| measurement | result |\n|---|---|");
    for (k, v) in rows {
        println!("| {k} | {v} |");
    }
}
