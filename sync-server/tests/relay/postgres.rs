//! PostgreSQL only (each test says it was skipped without `GROUNDWORK_TEST_POSTGRES`; `.ci/test`
//! starts a server and sets it): several relay processes on one database serving the same teams,
//! a device free to talk to any of them, and teams that never wait on each other's writes.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::common::{Device, Relay, database_url, item, postgres};

/// Enrolment from 127.0.0.1 at test speed.
const FLAGS: &[&str] = &["--enrol-burst", "100000", "--enrol-per-minute", "100000"];

fn skipped(test: &str) -> bool {
    let skip = postgres().is_none();
    if skip {
        eprintln!("{test}: needs GROUNDWORK_TEST_POSTGRES (see .ci/postgres); skipped");
    }
    skip
}

/// Two relays started at the same moment on one new database (their migrations take turns).
fn two_relays(data: &std::path::Path) -> (Relay, Relay) {
    std::thread::scope(|s| {
        let a = s.spawn(|| Relay::start_in(data, FLAGS));
        let b = s.spawn(|| Relay::start_in(data, FLAGS));
        (a.join().expect("relay a"), b.join().expect("relay b"))
    })
}

/// What a reader saw: each blob with the position it was served at, in the order served.
type Seen = Vec<(u64, Vec<u8>)>;

/// Pulls once through `relay` in pages of `page` bytes; returns whether more waits.
fn pull_once(device: &mut Device, relay: &Relay, page: u64, seen: &mut Seen) -> bool {
    let mut through = device.reconnect(relay);
    let resp = through.sync(Vec::new(), Some(page)).expect("pull");
    device.cursor = through.cursor;
    seen.extend(resp.changes.into_iter().map(|c| (c.seq, c.blob)));
    resp.more
}

#[test]
fn many_writers_through_two_relays_keep_each_teams_log_gapless() {
    if skipped("many writers through two relays") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let (a, b) = two_relays(&data);
    let relays = [&a, &b];
    // Two teams on the same database, each with writers and readers on both relays.
    let (_, big) = a.team_with_devices("Big", 8);
    let (_, small) = b.team_with_devices("Small", 4);
    let teams: Vec<(Vec<Device>, Vec<Device>)> = vec![
        (big[..6].to_vec(), big[6..].to_vec()),
        (small[..2].to_vec(), small[2..].to_vec()),
    ];
    const ROUNDS: usize = 20;
    let writing = AtomicBool::new(true);

    let (pushed, seen) = std::thread::scope(|s| {
        let mut writers = Vec::new();
        let mut readers = Vec::new();
        for (t, (team_writers, team_readers)) in teams.iter().enumerate() {
            for (w, writer) in team_writers.iter().enumerate() {
                let writer = writer.clone();
                writers.push(s.spawn(move || {
                    let mut texts = Vec::new();
                    for round in 0..ROUNDS {
                        // Each push goes to either relay; some are big enough to take a while.
                        let mut through = writer.reconnect(relays[(w + round) % 2]);
                        let n = 1 + (w + round) % 5;
                        let push: Vec<_> = (0..n)
                            .map(|k| {
                                let text = format!("team {t} writer {w} round {round} change {k}")
                                    + &"x".repeat(if k == 0 { 20_000 } else { 200 });
                                texts.push(text.clone().into_bytes());
                                item(&format!("doc-{t}-{w}-{}", round % 3), &text)
                            })
                            .collect();
                        let resp = through.sync(push, Some(1)).expect("push");
                        assert_eq!(resp.accepted.len(), n, "every change acknowledged");
                    }
                    (t, texts)
                }));
            }
            for (r, reader) in team_readers.iter().enumerate() {
                let mut reader = reader.clone();
                let writing = &writing;
                readers.push(s.spawn(move || {
                    let mut seen = Seen::new();
                    let mut i = r;
                    // Small pages while the writers write: cursors move past fresh positions.
                    while writing.load(Ordering::SeqCst) {
                        pull_once(&mut reader, relays[i % 2], 3_000, &mut seen);
                        i += 1;
                    }
                    while pull_once(&mut reader, relays[i % 2], 3_000, &mut seen) {
                        i += 1;
                    }
                    (t, seen)
                }));
            }
        }
        let pushed: Vec<(usize, Vec<Vec<u8>>)> = writers
            .into_iter()
            .map(|h| h.join().expect("writer"))
            .collect();
        writing.store(false, Ordering::SeqCst);
        let seen: Vec<(usize, Seen)> = readers
            .into_iter()
            .map(|h| h.join().expect("reader"))
            .collect();
        (pushed, seen)
    });

    let mut expected: HashMap<usize, HashSet<Vec<u8>>> = HashMap::new();
    for (t, texts) in pushed {
        expected.entry(t).or_default().extend(texts);
    }
    let mut positions: HashMap<usize, HashMap<Vec<u8>, u64>> = HashMap::new();
    for (t, seen) in &seen {
        let seqs: Vec<u64> = seen.iter().map(|(seq, _)| *seq).collect();
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "a reader of team {t} was served positions out of order or twice: {seqs:?}"
        );
        let got: HashSet<Vec<u8>> = seen.iter().map(|(_, blob)| blob.clone()).collect();
        assert_eq!(got.len(), seen.len(), "no blob served twice");
        assert_eq!(
            &got, &expected[t],
            "a reader of team {t} holds exactly its team's writes: none skipped, none of the \
             other team's"
        );
        // Every reader of the team saw every blob at the same position: one order per team.
        let team = positions.entry(*t).or_default();
        for (seq, blob) in seen {
            let at = *team.entry(blob.clone()).or_insert(*seq);
            assert_eq!(
                at, *seq,
                "two readers of team {t} saw a blob at different positions"
            );
        }
        assert_eq!(
            seqs,
            (1..=seqs.len() as u64).collect::<Vec<_>>(),
            "team {t}'s log has no gaps"
        );
    }
}

#[test]
fn a_team_whose_row_is_locked_makes_no_other_team_wait() {
    if skipped("a locked team makes no other team wait") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let relay = Relay::start_in(&data, FLAGS);
    let (busy_team, busy) = relay.team_with_devices("Busy", 1);
    let (_, free) = relay.team_with_devices("Free", 1);
    let url = database_url(&data).expect("on PostgreSQL");

    // Another relay's long transaction holds the busy team's row, as a push in flight does.
    let mut other = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
    let mut held = other.transaction().expect("begin");
    held.execute(
        "SELECT 1 FROM teams WHERE id = $1 FOR NO KEY UPDATE",
        &[&busy_team],
    )
    .expect("lock the busy team");

    std::thread::scope(|s| {
        let mut waiting = busy[0].clone();
        let push = s.spawn(move || {
            waiting
                .sync(vec![item("doc-busy", "the busy team writes")], None)
                .expect("the busy team's push")
                .accepted
                .len()
        });
        std::thread::sleep(Duration::from_millis(500));
        assert!(
            !push.is_finished(),
            "the busy team's push waits for the transaction holding its team"
        );

        // Meanwhile another team's push goes through: no queue of pushes across teams.
        let started = Instant::now();
        let mut free = free[0].clone();
        let resp = free
            .sync(vec![item("doc-free", "the free team writes")], None)
            .expect("the free team's push");
        assert_eq!(resp.accepted.len(), 1);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the free team's push did not wait for the busy team"
        );
        assert!(!push.is_finished(), "the busy team's push still waits");

        held.commit().expect("release");
        assert_eq!(push.join().expect("push"), 1, "then it is stored");
    });
}

/// Waits until `n` sessions of the relay's database wait for a lock (a row another
/// transaction holds).
fn until_waiting_for_locks(db: &mut postgres::Client, n: i64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let waiting: i64 = db
            .query_one(
                "SELECT count(*) FROM pg_stat_activity
                 WHERE datname = current_database() AND wait_event_type = 'Lock'",
                &[],
            )
            .expect("read pg_stat_activity")
            .get(0);
        if waiting >= n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{n} sessions never waited for a lock (saw {waiting})"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The actor recorded for the device `device_id`.
fn recorded_actor(db: &mut postgres::Client, device_id: &str) -> Option<Vec<u8>> {
    db.query_one("SELECT actor FROM devices WHERE id = $1", &[&device_id])
        .expect("the device's row")
        .get(0)
}

#[test]
fn a_sync_racing_another_sync_of_its_device_does_not_overwrite_the_actor_it_recorded() {
    if skipped("a sync racing another does not overwrite its actor") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let relay = Relay::start_in(&data, FLAGS);
    let (_, devices) = relay.team_with_devices("Racing", 1);
    let url = database_url(&data).expect("on PostgreSQL");
    let mut db = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
    assert_eq!(recorded_actor(&mut db, &devices[0].device_id), None);

    // A push of the device declaring actor A is in flight: it has recorded A (what its
    // `claim_actor` writes) and not committed yet. Pull-only syncs do not wait for pushes.
    let actor_a = vec![0xa5; 16];
    let mut other = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
    let mut push_in_flight = other.transaction().expect("begin");
    push_in_flight
        .execute(
            "UPDATE devices SET actor = $1 WHERE id = $2",
            &[&actor_a, &devices[0].device_id],
        )
        .expect("record actor A");

    std::thread::scope(|s| {
        // Meanwhile a pull-only sync of the same device declares actor B: it reads no actor
        // yet, and its record waits for the push's row.
        let mut pull = devices[0].clone();
        assert_ne!(pull.actor, actor_a);
        let pulled = s.spawn(move || pull.sync(Vec::new(), None));
        until_waiting_for_locks(&mut db, 1);
        push_in_flight.commit().expect("the push commits");
        let answer = pulled.join().expect("pull thread");
        assert_eq!(
            answer.as_ref().map(|_| ()).map_err(|(status, _)| *status),
            Err(409),
            "the pull declaring another actor is refused as one whose actor changed: {answer:?}"
        );
    });
    assert_eq!(
        recorded_actor(&mut db, &devices[0].device_id),
        Some(actor_a),
        "the actor recorded first, whose push was acknowledged, stays"
    );
}

#[test]
fn a_push_that_waited_behind_its_devices_revocation_is_refused_and_stores_nothing() {
    if skipped("a push that waited behind its revocation") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let relay = Relay::start_in(&data, FLAGS);
    let (team_id, devices) = relay.team_with_devices("Revoked", 1);
    let url = database_url(&data).expect("on PostgreSQL");
    let mut db = postgres::Client::connect(&url, postgres::NoTls).expect("connect");

    // Another transaction holds the team's row, so that what follows queues in a known order:
    // the operator's revocation of the device first, then the device's push.
    let mut other = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
    let mut held = other.transaction().expect("begin");
    held.execute(
        "SELECT 1 FROM teams WHERE id = $1 FOR NO KEY UPDATE",
        &[&team_id],
    )
    .expect("lock the team");

    std::thread::scope(|s| {
        let device_id = devices[0].device_id.clone();
        let relay = &relay;
        let revoked = s.spawn(move || relay.op(&["device", "revoke", &device_id]));
        until_waiting_for_locks(&mut db, 1);
        let mut pushing = devices[0].clone();
        let pushed = s.spawn(move || {
            pushing.sync(
                vec![item("doc-revoked", "written after the revocation")],
                None,
            )
        });
        until_waiting_for_locks(&mut db, 2);
        // The revocation takes the team's row, revokes and commits; then the push goes on.
        held.commit().expect("release");
        let revoked = revoked.join().expect("revoke thread");
        assert!(
            revoked.status.success(),
            "device revoke: {}",
            String::from_utf8_lossy(&revoked.stderr)
        );
        let answer = pushed.join().expect("push thread");
        assert_eq!(
            answer
                .as_ref()
                .map(|r| r.accepted.len())
                .map_err(|(status, _)| *status),
            Err(403),
            "the push is refused as a revoked device's: {answer:?}"
        );
    });
    assert_eq!(
        crate::common::team_rows(&data, "blobs", &team_id),
        0,
        "nothing of the revoked device's push was stored"
    );
}
