//! A writer killed with SIGKILL in the middle of writing loses nothing it acknowledged.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use groundwork::store::Store;

/// Start a writer that prints each id once its transaction committed, kill it after `after`
/// acknowledgements, and return the acknowledged ids.
fn write_then_kill(dir: &std::path::Path, after: usize) -> Vec<String> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_groundwork"))
        .arg("--data-dir")
        .arg(dir)
        .arg("debug-write-loop")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("writer starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut acked = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while acked.len() < after && Instant::now() < deadline {
        match lines.next() {
            Some(Ok(id)) => acked.push(id),
            _ => break,
        }
    }
    child.kill().expect("SIGKILL the writer");
    // Lines already written to the pipe before the kill were acknowledged too.
    for line in lines.map_while(Result::ok) {
        acked.push(line);
    }
    let status = child.wait().expect("writer reaped");
    assert!(!status.success(), "the writer was killed, not finished");
    acked
}

#[test]
fn every_acknowledged_write_survives_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let mut all = Vec::new();
    for round in [40, 250, 7] {
        let acked = write_then_kill(dir.path(), round);
        assert!(
            acked.len() >= round,
            "writer acknowledged {} of {round}",
            acked.len()
        );
        all.extend(acked);
        let store = Store::open(dir.path()).expect("the store reopens after a kill");
        let ok: String = store
            .connection()
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(ok, "ok");
        for id in &all {
            let p = store
                .person(id)
                .unwrap_or_else(|e| panic!("acknowledged {id} lost: {e}"));
            assert!(p.person.name.starts_with("Durable "));
        }
        let stored = store.all_people().unwrap().len();
        // At most the one write in flight when the kill came is there unacknowledged.
        assert!(
            stored >= all.len() && stored <= all.len() + 3,
            "{stored} stored, {} acknowledged",
            all.len()
        );
        assert_eq!(
            store.pending_changes().unwrap() as usize,
            stored,
            "one outbox entry per write"
        );
    }
}
