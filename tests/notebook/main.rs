//! Integration tests of the local notebook, in one test binary so the suite links once.
//!
//! - `ahead`: work done ahead on other cores decides nothing a blob-by-blob intake would not.
//! - `at_rest`: a notebook encrypted on disk (SQLCipher), its passphrase and key store.
//! - `cli`: the real `groundwork` binary on real data directories.
//! - `compaction`: a lead's snapshots stand for a document's history; nothing is lost by them.
//! - `crash`: a writer killed with SIGKILL loses no acknowledged write.
//! - `convergence`: replicas exchanging changes in any order end identical (proptest).
//! - `golden`: stored and exported formats do not change by a byte unnoticed.
//! - `integrity`: a bad or hostile member cannot hide, destroy or forge anyone's work.
//! - `sync`: devices syncing through a real relay on 127.0.0.1:0.
//! - `throttle`: a proxy carrying so many bytes a second (a weak signal).
//! - `trust`: the lead's key as the team's root of trust: who is a member, who leads, and
//!   whose erasure orders are carried out, whatever the relay says.
//! - `rejoin`: a notebook joining its team again (revoked and found) under a new identity.
//! - `reports`: the team lead's reports on a scripted shift, and exports read back.
//! - `service`: the app's message type answered by the core alone, through JSON.
//! - `slow_link`: syncs over a weak signal (a proxy carrying so many bytes a second).
//! - `walk`: walk lists: imports, door marks, do-not-knock, sync and deletion.

mod ahead;
mod at_rest;
mod cli;
mod compaction;
mod convergence;
mod crash;
mod erasure;
mod golden;
mod integrity;
mod rejoin;
mod reports;
mod sealed;
mod service;
mod slow_link;
mod sync;
mod throttle;
mod trust;
mod walk;

use std::path::Path;
use std::process::{Command, Output};

/// Run the real binary with `args` on data directory `dir`.
pub fn groundwork(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_groundwork"))
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env_remove("GROUNDWORK_DATA_DIR")
        .env_remove("GROUNDWORK_PASSPHRASE")
        .output()
        .expect("the groundwork binary runs")
}

/// Run the binary and return its stdout, failing the test on a non-zero exit.
pub fn ok(dir: &Path, args: &[&str]) -> String {
    let out = groundwork(dir, args);
    assert!(
        out.status.success(),
        "groundwork {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// What must be identical on devices holding the same changes: every export (CSV) and the
/// projection tables themselves, conflicts included.
pub fn state_of(store: &groundwork::store::Store) -> String {
    use groundwork::export::{self, Format, What};
    let mut out = Vec::new();
    for what in [
        What::People,
        What::Conversations,
        What::Commitments,
        What::Campaigns,
        What::Shifts,
    ] {
        export::write(store, what, Format::Csv, &mut out).unwrap();
    }
    let mut text = String::from_utf8(out).unwrap();
    text.push_str(&format!(
        "{:?}\n{:?}\n{:?}\n",
        store.all_people().unwrap(),
        store.all_conversations().unwrap(),
        store.commitments_by_id().unwrap()
    ));
    text
}
