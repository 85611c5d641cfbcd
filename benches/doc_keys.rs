//! What each document's own key costs (`cargo bench --bench doc_keys`): deriving a key from the
//! team's tree, cutting one out at an erasure, and how the tree an invite carries grows with
//! the team's erasures (and, past what one request carries, in how many parts it goes), and
//! what reading the tree out of a notebook costs, the first time and once the store holds it.

use std::hint::black_box;
use std::time::Instant;

use groundwork::crypto::doc_keys::DocKeys;
use groundwork::crypto::keys::{
    DeviceKey, InviteSecret, Keyring, TeamKey, TreeForm, open_invite, seal_invite_as,
};
use groundwork::crypto::seal;
use groundwork::crypto::trust::{TrustedRole, certify_invite};
use groundwork::store::Store;
use groundwork::sync::Status;
use groundwork_protocol::team::{MAX_INVITE_KEYS_LEN, MAX_SEALED_KEYS_LEN};

const TEAM: &str = "2f1c7c9e-5b4a-4d3e-9a0b-1c2d3e4f5a6b";

fn doc(n: u32) -> String {
    format!("0193b2c4-{n:04x}-7222-8333-944455566677")
}

/// Milliseconds to read the team's keys out of a notebook holding `tree`: the first time, and
/// the median of ten times after (held by the store while nothing changes them); then to
/// measure the room left in invites (what every status shows), the first time and again; then
/// a whole status as the app reads it after a save (keys held).
fn read_from_notebook(tree: &DocKeys) -> (f64, f64, f64, f64, f64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("notebook");
    let conn = store.connection();
    conn.execute_batch("BEGIN").expect("begin");
    for (at, key) in tree.nodes() {
        conn.execute(
            "INSERT INTO doc_keys (depth, prefix, key) VALUES (?1, ?2, ?3)",
            (i64::from(at.depth), at.prefix as i64, key.as_slice()),
        )
        .expect("node");
    }
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('keys_version', 'bench')
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [],
    )
    .expect("version");
    conn.execute_batch("COMMIT").expect("commit");
    let start = Instant::now();
    black_box(store.keyring().expect("keys"));
    let first = start.elapsed().as_secs_f64() * 1e3;
    let mut again: Vec<f64> = (0..10)
        .map(|_| {
            let start = Instant::now();
            black_box(store.keyring().expect("keys"));
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    again.sort_by(f64::total_cmp);
    let ring = store.keyring().expect("keys");
    let start = Instant::now();
    black_box(ring.invite_room(MAX_INVITE_KEYS_LEN));
    let room_first = start.elapsed().as_secs_f64() * 1e3;
    let start = Instant::now();
    black_box(ring.invite_room(MAX_INVITE_KEYS_LEN));
    let room_again = start.elapsed().as_secs_f64() * 1e3;
    let start = Instant::now();
    black_box(Status::read(&store, false, &None, 0));
    let status = start.elapsed().as_secs_f64() * 1e3;
    (
        first,
        (again[4] + again[5]) / 2.0,
        room_first,
        room_again,
        status,
    )
}

fn main() {
    let tree = DocKeys::generate().expect("random bytes");
    let n = 100_000u32;

    let start = Instant::now();
    for i in 0..n {
        black_box(tree.key_for(&doc(i)));
    }
    let per_key = start.elapsed().as_secs_f64() * 1e6 / f64::from(n);
    println!("deriving a document's key from the root: {per_key:.2} µs");

    // Sealing and opening a change-sized blob, with and without the document's key.
    let key = TeamKey::generate(1).expect("random bytes");
    let device = DeviceKey::generate().expect("random bytes");
    let content = vec![b'x'; 600];
    let ring1 = Keyring::new([key.clone()]);
    let ring2 = Keyring::new([key.clone()]).with_doc_keys(tree.clone());
    let rounds = 5_000u32;
    for (label, ring, keyed) in [("format 1", &ring1, false), ("format 2", &ring2, true)] {
        let start = Instant::now();
        for i in 0..rounds {
            let d = doc(i);
            let dk = keyed.then(|| tree.key_for(&d)).flatten();
            let blob = seal::seal(TEAM, &d, &key, dk.as_ref(), &device, &content).expect("seal");
            black_box(seal::open(TEAM, &d, ring, &blob).expect("open"));
        }
        let per = start.elapsed().as_secs_f64() * 1e6 / f64::from(rounds);
        println!("sealing and opening a 600-byte change, {label}: {per:.1} µs");
    }

    // Erasures: the tree's size, the time to cut one, an invite's length.
    let secret = InviteSecret::generate().expect("random bytes");
    let lead = DeviceKey::generate().expect("random bytes");
    let cert = certify_invite(TEAM, &secret, TrustedRole::Canvasser, 1, "0a0b", &lead);
    let mut cut = tree.clone();
    let mut done = 0u32;
    let mut cut_time = 0.0;
    println!(
        "| erasures | nodes held | tree stored | tree in an invite | invite of format 4 (base64url) | \
         invite of format 3 | parts sent | deriving a key | sealing / opening an invite of format 4 | \
         reading the keys from a notebook, first / held | invites' room, first / again | \
         a whole status, keys held |"
    );
    for target in [0u32, 1, 10, 100, 490, 1000, 3000, 6000, 20_000, 50_000] {
        while done < target {
            let start = Instant::now();
            cut.puncture(&doc(1_000_000 + done));
            cut_time += start.elapsed().as_secs_f64();
            done += 1;
        }
        let ring = Keyring::new([key.clone()]).with_doc_keys(cut.clone());
        let seal_as = |form| {
            seal_invite_as(&secret, TEAM, &ring, (&lead.public(), "0a0b"), &cert, form)
                .expect("seal")
        };
        let start = Instant::now();
        let invite = seal_as(TreeForm::Dense);
        let sealing = start.elapsed().as_secs_f64() * 1e3;
        let before = seal_as(TreeForm::Nodes);
        let start = Instant::now();
        black_box(open_invite(&secret, TEAM, &invite).expect("open"));
        let opening = start.elapsed().as_secs_f64() * 1e3;
        let start = Instant::now();
        for i in 0..10_000 {
            black_box(cut.key_for(&doc(i)));
        }
        let per = start.elapsed().as_secs_f64() * 1e6 / 10_000.0;
        let parts = invite.len().div_ceil(MAX_SEALED_KEYS_LEN);
        let (first, held, room_first, room_again, status) = read_from_notebook(&cut);
        println!(
            "| {target} | {} | {} B | {} B | {} B | {} B | {parts} | {per:.2} µs | {sealing:.1} / {opening:.1} ms | {first:.2} / {held:.4} ms | {room_first:.2} / {room_again:.4} ms | {status:.3} ms |",
            cut.len(),
            cut.encode().len(),
            cut.dense_len(),
            invite.len(),
            before.len()
        );
    }
    println!(
        "cutting a key out: {:.1} µs each",
        cut_time * 1e6 / f64::from(done.max(1))
    );
}
