//! Sync end to end: devices with real data directories, a real relay on 127.0.0.1:0 (in
//! process, its real SQLite store and HTTP service), real HTTP through reqwest.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use groundwork::crypto::keys::{
    DeviceKey, InviteSecret, Keyring, TeamKey, seal_invite, seal_invite_v1,
};
use groundwork::crypto::trust::{TrustedRole, certify_invite};
use groundwork::model::{
    ConversationKind, NewCommitment, NewConversation, NewPerson, PersonField, PersonPatch,
};
use groundwork::store::Store;
use groundwork::sync::plan::Budget;
use groundwork::sync::{self, HttpTransport, SyncError};
use groundwork_protocol::Role;
use proptest::prelude::*;
use sync_server::embedded::EmbeddedRelay;

/// A relay serving in this process on 127.0.0.1:0, on a temporary data directory.
///
/// Its teams are end-to-end encrypted as a lead's app would make them: the test plays the
/// first lead's device, makes each team's key and its anchor (the signing key at the root of
/// the team's trust), and hands out invites that carry them with a certificate signed by the
/// anchor (sealed under the invite's secret, which stays in the code after the dot).
pub struct TestRelay {
    relay: EmbeddedRelay,
    pub url: String,
    keys: std::cell::RefCell<std::collections::HashMap<String, Keyring>>,
    /// Each team's anchor; a team without one is from before the root of trust.
    anchors: std::cell::RefCell<std::collections::HashMap<String, DeviceKey>>,
    _tmp: tempfile::TempDir,
}

impl TestRelay {
    /// A relay on SQLite, or on a new PostgreSQL database when `GROUNDWORK_TEST_POSTGRES` gives
    /// a server's settings (`.ci/postgres` prints them; `.ci/test` runs the sync and compaction
    /// tests that way too).
    pub fn start() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let relay = match std::env::var("GROUNDWORK_TEST_POSTGRES") {
            Ok(settings) if !settings.trim().is_empty() => {
                EmbeddedRelay::start_on_new_database(&settings).unwrap()
            }
            _ => EmbeddedRelay::start(&tmp.path().join("relay")).unwrap(),
        };
        Self::serving(relay, tmp)
    }

    /// A relay on SQLite whose teams may each store `max_team_bytes` (a canvasser's device
    /// half of it).
    pub fn start_with_quota(max_team_bytes: u64) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let relay =
            EmbeddedRelay::start_with_quota(&tmp.path().join("relay"), max_team_bytes).unwrap();
        Self::serving(relay, tmp)
    }

    /// A relay on SQLite taking request bodies of at most `max_body_bytes`.
    pub fn start_with_max_body(max_body_bytes: usize) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let relay =
            EmbeddedRelay::start_with_max_body(&tmp.path().join("relay"), max_body_bytes).unwrap();
        Self::serving(relay, tmp)
    }

    /// `relay`, started, with no team yet; `tmp` lives as long as it.
    fn serving(relay: EmbeddedRelay, tmp: tempfile::TempDir) -> Self {
        TestRelay {
            url: relay.url().to_string(),
            relay,
            keys: Default::default(),
            anchors: Default::default(),
            _tmp: tmp,
        }
    }

    /// Stop serving and start again on the same data directory (and a new port).
    pub fn restart(self) -> Self {
        let TestRelay {
            relay,
            _tmp,
            keys,
            anchors,
            ..
        } = self;
        let relay = relay.restart().unwrap();
        TestRelay {
            url: relay.url().to_string(),
            relay,
            keys,
            anchors,
            _tmp,
        }
    }

    /// A new team and an invite for `uses` devices (they join as leads). Its keys are made
    /// here, as the first lead's device makes them: the team key and the tree of documents'
    /// keys. (Invites made here carry the tree as it was made: an invite for a device that
    /// must hold the tree as erasures left it comes from a lead's device.)
    pub fn team(&self, uses: u32) -> (String, String) {
        let (team, _operators) = self.relay.team("Test team", 1).unwrap();
        let ring = Keyring::new([TeamKey::generate(1).unwrap()])
            .with_doc_keys(groundwork::crypto::doc_keys::DocKeys::generate().unwrap());
        self.keys.borrow_mut().insert(team.clone(), ring);
        self.anchors
            .borrow_mut()
            .insert(team.clone(), DeviceKey::generate().unwrap());
        let invite = self.keyed_invite(&team, uses, Role::Lead);
        (team, invite)
    }

    /// A sealed team from before the root of trust (its invites carry keys but no anchor: the
    /// relay's word on roles stands) and an invite for `uses` devices (they join as leads).
    pub fn team_without_anchor(&self, uses: u32) -> (String, String) {
        let (team, _operators) = self.relay.team("Older team", 1).unwrap();
        let ring = Keyring::new([TeamKey::generate(1).unwrap()]);
        self.keys.borrow_mut().insert(team.clone(), ring);
        let invite = self.keyed_invite(&team, uses, Role::Lead);
        (team, invite)
    }

    /// A new team and its first lead's invite.
    pub fn lead_team(&self) -> (String, String) {
        self.team(1)
    }

    /// A team from before end-to-end encryption (its log already held changes when the first
    /// device that seals joined, so nobody made a key) and an invite for `uses` devices.
    pub fn clear_team(&self, uses: u32) -> (String, String) {
        let (team, invite) = self.relay.team("Old team", uses).unwrap();
        self.tamper(&format!(
            "UPDATE teams SET head_seq = 1 WHERE id = '{team}'"
        ));
        (team, invite)
    }

    /// A canvassers' invite to `team` for `uses` devices.
    pub fn invite(&self, team: &str, uses: u32) -> String {
        self.keyed_invite(team, uses, Role::Canvasser)
    }

    /// An invite carrying `team`'s keys, as a lead's app makes it: `CODE.SECRET`.
    fn keyed_invite(&self, team: &str, uses: u32, role: Role) -> String {
        let secret = InviteSecret::generate().unwrap();
        let keys = &self.keys.borrow()[team];
        let sealed = match self.anchors.borrow().get(team) {
            Some(anchor) => {
                let trusted = TrustedRole::from(role);
                let by = groundwork::store::intake::hex(&anchor.public());
                let cert = certify_invite(team, &secret, trusted, uses, &by, anchor);
                seal_invite(&secret, team, keys, (&anchor.public(), &by), &cert).unwrap()
            }
            None => seal_invite_v1(&secret, team, keys).unwrap(),
        };
        let code = self
            .relay
            .invite_with_keys(team, uses, role, &sealed)
            .unwrap();
        format!("{code}.{}", secret.to_text())
    }

    /// An operator's invite (`sync-server invite create`): it carries no key.
    pub fn operator_invite(&self, team: &str, uses: u32) -> String {
        self.relay.invite(team, uses).unwrap()
    }

    /// A new team and the operator's invite for its first device, as `sync-server team
    /// create` makes them (the device that joins with it makes the team's key).
    pub fn operator_team(&self) -> (String, String) {
        self.relay.team("Test team", 1).unwrap()
    }

    /// Stop, put the database `backup` in place of the relay's (as an operator restoring a
    /// backup), and start again on a new port.
    pub fn restored_from(self, backup: &std::path::Path) -> Self {
        let dir = self.dir();
        let TestRelay {
            relay,
            _tmp,
            keys,
            anchors,
            ..
        } = self;
        drop(relay);
        for suffix in ["-wal", "-shm"] {
            let _ = std::fs::remove_file(dir.join(format!("relay.sqlite3{suffix}")));
        }
        std::fs::copy(backup, dir.join("relay.sqlite3")).unwrap();
        let relay = EmbeddedRelay::start(&dir).unwrap();
        TestRelay {
            url: relay.url().to_string(),
            relay,
            keys,
            anchors,
            _tmp,
        }
    }

    /// Run `sql` on the relay's database while it serves (as someone holding the relay's
    /// files could).
    pub fn tamper(&self, sql: &str) {
        self.db().execute_batch(sql).unwrap();
    }

    /// Flip a byte of every stored blob of `doc_id` (and give each the id of its new bytes, as a
    /// careful attacker would).
    pub fn flip_byte(&self, doc_id: &str, at: usize) {
        let conn = self.db();
        let rows: Vec<(i64, Vec<u8>)> = conn
            .prepare("SELECT rowid, blob FROM blobs WHERE doc_id = ?1")
            .unwrap()
            .query_map([doc_id], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(!rows.is_empty());
        for (rowid, mut blob) in rows {
            blob[at] ^= 0xff;
            let id = groundwork_protocol::blob_digest(&blob);
            conn.execute(
                "UPDATE blobs SET blob = ?1, id = ?2 WHERE rowid = ?3",
                (&blob, id.as_slice(), rowid),
            )
            .unwrap();
        }
    }

    /// Flip a byte of the stored blob `blob` (keeping its id: a damaged disk).
    pub fn flip_byte_of(&self, blob: &[u8], at: usize) {
        let mut damaged = blob.to_vec();
        damaged[at] ^= 0xff;
        let changed = self
            .db()
            .execute(
                "UPDATE blobs SET blob = ?1 WHERE blob = ?2",
                (&damaged, blob),
            )
            .unwrap();
        assert_eq!(changed, 1);
    }

    /// Append `blob` filed under `doc_id` to the log of `device_id`'s team as if that device
    /// had pushed it (what a relay colluding with a revoked device could do).
    pub fn inject(&self, device_id: &str, doc_id: &str, blob: &[u8]) {
        let conn = self.db();
        let (team_pk, device_pk): (i64, i64) = conn
            .query_row(
                "SELECT team_pk, pk FROM devices WHERE id = ?1",
                [device_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        conn.execute(
            "INSERT INTO blobs (team_pk, seq, id, doc_id, device_pk, created_at, blob)
             SELECT pk, head_seq + 1, ?2, ?3, ?4, 0, ?5 FROM teams WHERE pk = ?1",
            (
                team_pk,
                groundwork_protocol::blob_digest(blob).as_slice(),
                doc_id,
                device_pk,
                blob,
            ),
        )
        .unwrap();
        conn.execute(
            "UPDATE teams SET head_seq = head_seq + 1 WHERE pk = ?1",
            [team_pk],
        )
        .unwrap();
    }

    /// The whole log (every team's), in order: document and blob.
    pub fn log(&self) -> Vec<(String, Vec<u8>)> {
        self.db()
            .prepare("SELECT doc_id, blob FROM blobs ORDER BY team_pk, seq")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// The whole log (every team's), in order: document, blob, and whether it is a placed
    /// snapshot (as the relay says when it serves it).
    pub fn log_with_snapshots(&self) -> Vec<(String, Vec<u8>, bool)> {
        self.db()
            .prepare("SELECT doc_id, blob, placed FROM blobs ORDER BY team_pk, seq")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// The blobs stored for `doc_id`, in log order.
    pub fn blobs_of(&self, doc_id: &str) -> Vec<Vec<u8>> {
        self.db()
            .prepare("SELECT blob FROM blobs WHERE doc_id = ?1 ORDER BY seq")
            .unwrap()
            .query_map([doc_id], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// How many blobs of `doc_id` a snapshot stands for (skipped for devices that get it).
    pub fn covered_of(&self, doc_id: &str) -> usize {
        self.db()
            .query_row(
                "SELECT COUNT(*) FROM blobs WHERE doc_id = ?1 AND covered_from IS NOT NULL",
                [doc_id],
                |r| r.get::<_, i64>(0),
            )
            .unwrap() as usize
    }

    fn db(&self) -> rusqlite::Connection {
        let conn = rusqlite::Connection::open(self.dir().join("relay.sqlite3")).unwrap();
        conn.busy_timeout(Duration::from_secs(10)).unwrap();
        conn
    }

    /// The relay's data directory when it runs on SQLite (none on PostgreSQL).
    pub fn sqlite_dir(&self) -> Option<std::path::PathBuf> {
        self.relay.dir().map(std::path::Path::to_path_buf)
    }

    /// The relay's data directory.
    pub fn dir(&self) -> std::path::PathBuf {
        self.relay
            .dir()
            .expect("this test looks into the relay's SQLite files: run it without GROUNDWORK_TEST_POSTGRES")
            .to_path_buf()
    }

    pub fn revoke(&self, device_id: &str) {
        self.relay.revoke(device_id).unwrap();
    }

    /// Make a device a lead at the relay alone (the operator's `sync-server device promote`):
    /// no lead of the team signs it.
    pub fn operator_promote(&self, device_id: &str) {
        self.relay.promote(device_id).unwrap();
    }

    /// `team`'s anchor: the first lead's signing key.
    pub fn anchor_of(&self, team: &str) -> DeviceKey {
        self.anchors.borrow()[team].clone()
    }

    /// An invite for one device of `role` carrying `sealed` (as whoever made it sealed it), and
    /// `secret` after the dot.
    pub fn invite_carrying(&self, team: &str, role: Role, sealed: &str, secret: &str) -> String {
        let code = self.relay.invite_with_keys(team, 1, role, sealed).unwrap();
        format!("{code}.{secret}")
    }
}

/// A device: its own data directory and store.
pub struct Device {
    pub store: Store,
    _dir: tempfile::TempDir,
}

/// A canvasser's invite for one device, valid an hour, as a lead's app asks for it.
pub fn canvassers_invite() -> groundwork_protocol::InviteRequest {
    groundwork_protocol::InviteRequest {
        uses: 1,
        expires_in_secs: 3600,
        role: groundwork_protocol::Role::Canvasser,
        sealed_keys: None,
        key_parts: Vec::new(),
        request: None,
    }
}

pub fn transport() -> HttpTransport {
    HttpTransport::with_retries(3, Duration::from_millis(20)).unwrap()
}

impl Device {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        Device {
            store: Store::open(dir.path()).unwrap(),
            _dir: dir,
        }
    }

    pub fn joined(relay: &str, invite: &str, name: &str) -> Self {
        let mut d = Self::new();
        sync::join(&mut d.store, &transport(), relay, invite, name).unwrap();
        d
    }

    /// The data directory.
    pub fn dir(&self) -> std::path::PathBuf {
        self._dir.path().to_path_buf()
    }

    /// Its id at the relay (what a lead revokes).
    pub fn relay_device_id(&self) -> String {
        self.store
            .sync_state()
            .unwrap()
            .link
            .unwrap()
            .relay_device_id
    }

    pub fn sync(&mut self) -> sync::SyncReport {
        sync::sync_once(&mut self.store, &transport(), Budget::default()).unwrap()
    }

    /// Push blobs this device sealed (`Store::sealed_for_push`) as they are, under its token
    /// and actor, pulling nothing: what a member that pushes whatever it likes can send.
    pub fn push_sealed(&self, sealed: Vec<groundwork::store::Outgoing>) {
        let link = self.store.sync_state().unwrap().link.unwrap();
        let request = groundwork_protocol::SyncRequest {
            since: 0,
            push: sealed
                .into_iter()
                .map(|i| groundwork_protocol::PushItem::new(i.doc_id, i.bytes))
                .collect(),
            max_bytes: Some(1),
            actor: self.store.actor_bytes(),
        };
        sync::block_on(transport().sync(&link.relay_url, &link.token, &request)).unwrap();
    }

    pub fn person(&mut self, name: &str) -> String {
        self.store
            .add_person(NewPerson::new().put(PersonField::Name, name))
            .unwrap()
    }

    pub fn converse(&mut self, person: &str, story: &str, asks: &[&str]) -> String {
        let c = NewConversation {
            person_id: person.into(),
            kind: ConversationKind::Doorstep,
            at: None,
            canvasser: None,
            shift_id: None,
            issues: vec!["rent".into()],
            story: Some(story.into()),
            notes: None,
            engagement: None,
            follow_up: None,
        };
        let asks = asks
            .iter()
            .map(|w| NewCommitment {
                what: (*w).into(),
                due: None,
                campaign_id: None,
                target: None,
            })
            .collect();
        self.store.record_conversation(c, asks).unwrap().0
    }

    /// Every export and projection table: what must be equal on converged devices.
    pub fn exports(&self) -> String {
        super::state_of(&self.store)
    }
}

#[test]
fn three_devices_converge_and_see_the_same_conflict() {
    let relay = TestRelay::start();
    let (_, invite) = relay.team(3);
    let mut a = Device::joined(&relay.url, &invite, "Sam's phone");
    let mut b = Device::joined(&relay.url, &invite, "Joy's phone");
    let mut c = Device::joined(&relay.url, &invite, "Ravi's phone");
    // Joining names the device, not its canvasser.
    assert_eq!(
        a.store.device_name().unwrap().as_deref(),
        Some("Sam's phone")
    );
    assert_eq!(a.store.given_canvasser_name().unwrap(), None);

    let p = a.person("Amina Yusuf");
    a.converse(&p, "works two jobs", &["sign the letter"]);
    let r = a.sync();
    assert_eq!((r.pushed, r.pulled), (2, 0));
    assert_eq!(a.store.pending_changes().unwrap(), 0);
    assert_eq!(b.sync().pulled, 2);
    c.sync();
    assert_eq!(c.store.person(&p).unwrap().conversations.len(), 1);

    // Offline: concurrent edits of one field, additions to one person's file, a new person.
    a.store
        .edit_person(&p, PersonPatch::new().put(PersonField::Phone, "111"))
        .unwrap();
    a.converse(&p, "the heating broke", &[]);
    b.store
        .edit_person(&p, PersonPatch::new().put(PersonField::Phone, "222"))
        .unwrap();
    b.store
        .add_commitment(
            &p,
            None,
            NewCommitment {
                what: "host a meeting".into(),
                due: None,
                campaign_id: None,
                target: None,
            },
        )
        .unwrap();
    let q = c.person("Kofi Boateng");

    b.sync();
    a.sync();
    c.sync();
    a.sync();
    b.sync();
    let expected = a.exports();
    assert_eq!(b.exports(), expected);
    assert_eq!(c.exports(), expected);
    for d in [&a, &b, &c] {
        let file = d.store.person(&p).unwrap();
        assert_eq!(file.conversations.len(), 2);
        assert_eq!(file.commitments.len(), 2);
        let phones = &file.person.conflicts[&PersonField::Phone];
        assert!(
            phones.contains(&"111".into()) && phones.contains(&"222".into()),
            "{phones:?}"
        );
        // Every device can say whose value each is, by the writing device's name.
        let mut writers: Vec<(Option<String>, String, Option<String>)> = d
            .store
            .conflict_writers(&p)
            .unwrap()
            .into_iter()
            .map(|w| (w.record, w.value, w.device))
            .collect();
        writers.sort();
        assert_eq!(
            writers,
            [
                (None, "111".to_string(), Some("Sam's phone".to_string())),
                (None, "222".to_string(), Some("Joy's phone".to_string())),
            ],
            "on {:?}",
            d.store.device_name()
        );
        assert!(d.store.person(&q).is_ok());
        assert_eq!(d.store.pending_changes().unwrap(), 0);
    }
    // Nothing new: a sync moves nothing.
    let again = a.sync();
    assert_eq!((again.pushed, again.pulled), (0, 0));
}

#[test]
fn teams_never_see_each_other() {
    let relay = TestRelay::start();
    let (_, red) = relay.team(2);
    let (_, blue) = relay.team(2);
    let mut r1 = Device::joined(&relay.url, &red, "red 1");
    let mut r2 = Device::joined(&relay.url, &red, "red 2");
    let mut b1 = Device::joined(&relay.url, &blue, "blue 1");
    let mut b2 = Device::joined(&relay.url, &blue, "blue 2");
    r1.person("Red Person");
    b1.person("Blue Person");
    for d in [&mut r1, &mut b1, &mut r2, &mut b2] {
        d.sync();
    }
    let names = |d: &Device| {
        d.store
            .all_people()
            .unwrap()
            .into_iter()
            .map(|p| p.name)
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&r2), vec!["Red Person"]);
    assert_eq!(names(&b2), vec!["Blue Person"]);
}

#[test]
fn refused_devices_get_clear_errors_and_keep_their_changes() {
    let relay = TestRelay::start();
    let (_, invite) = relay.team(2);
    let mut a = Device::joined(&relay.url, &invite, "a");
    a.person("Kept");
    let device = a.relay_device_id();
    relay.revoke(&device);
    let err = sync::sync_once(&mut a.store, &transport(), Budget::default()).unwrap_err();
    assert!(matches!(err, SyncError::Revoked), "{err}");
    assert!(
        err.to_string()
            .contains("ask your team lead for a new invite")
    );
    assert_eq!(a.store.pending_changes().unwrap(), 1, "nothing is dropped");
    assert!(
        a.store
            .sync_state()
            .unwrap()
            .last_error
            .unwrap()
            .contains("revoked")
    );

    // A wrong token.
    let mut b = Device::joined(&relay.url, &invite, "b");
    let mut link = b.store.sync_state().unwrap().link.unwrap();
    link.token = "gwt_0000".into();
    b.store.set_relay_link(&link).unwrap();
    let err = sync::sync_once(&mut b.store, &transport(), Budget::default()).unwrap_err();
    assert!(matches!(err, SyncError::UnknownDevice(_)), "{err}");

    // A used-up invite, and nonsense.
    let mut c = Device::new();
    for code in [invite.as_str(), "nonsense"] {
        let err = sync::join(&mut c.store, &transport(), &relay.url, code, "c").unwrap_err();
        assert!(matches!(err, SyncError::InviteRefused(_)), "{err}");
    }
    assert!(c.store.sync_state().unwrap().link.is_none());
    // Not joined at all.
    assert!(matches!(
        sync::sync_once(&mut c.store, &transport(), Budget::default()),
        Err(SyncError::NotJoined)
    ));
}

#[test]
fn an_unreachable_relay_loses_nothing() {
    let relay = TestRelay::start();
    let (_, invite) = relay.team(1);
    let mut a = Device::joined(&relay.url, &invite, "a");
    a.person("Waiting");
    // Point the device at a port nobody listens on.
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut link = a.store.sync_state().unwrap().link.unwrap();
    let real = link.relay_url.clone();
    link.relay_url = format!("http://{closed}");
    a.store.set_relay_link(&link).unwrap();
    let err = sync::sync_once(&mut a.store, &transport(), Budget::default()).unwrap_err();
    assert!(matches!(err, SyncError::Unreachable { .. }), "{err}");
    assert!(err.to_string().contains("nothing is lost"));
    assert_eq!(a.store.pending_changes().unwrap(), 1);
    link.relay_url = real;
    a.store.set_relay_link(&link).unwrap();
    assert_eq!(a.sync().pushed, 1);
    assert!(a.store.sync_state().unwrap().last_error.is_none());
}

/// A TCP proxy that cuts the first `cuts` answers after `after` bytes.
fn flaky_proxy(target: SocketAddr, cuts: usize, after: usize) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let cut = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&cut);
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(mut client) = client else { return };
            let Ok(mut server) = TcpStream::connect(target) else {
                return;
            };
            let cutting = counter.fetch_add(1, Ordering::SeqCst) < cuts;
            let mut client_r = client.try_clone().unwrap();
            let mut server_w = server.try_clone().unwrap();
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut client_r, &mut server_w);
            });
            std::thread::spawn(move || {
                let mut sent = 0;
                let mut buf = [0u8; 4096];
                loop {
                    let n = match server.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    let n = if cutting {
                        n.min(after.saturating_sub(sent))
                    } else {
                        n
                    };
                    if n == 0 || client.write_all(&buf[..n]).is_err() {
                        break;
                    }
                    sent += n;
                    if cutting && sent >= after {
                        break;
                    }
                }
                let _ = client.shutdown(std::net::Shutdown::Both);
                let _ = server.shutdown(std::net::Shutdown::Both);
            });
        }
    });
    (addr, cut)
}

#[test]
fn answers_cut_mid_way_are_retried_without_loss_or_duplicates() {
    let relay = TestRelay::start();
    let (_, invite) = relay.team(2);
    let mut a = Device::joined(&relay.url, &invite, "a");
    let mut b = Device::joined(&relay.url, &invite, "b");
    for i in 0..30 {
        let p = a.person(&format!("Person {i}"));
        a.converse(&p, "story", &["ask"]);
    }
    let target: SocketAddr = relay.url.trim_start_matches("http://").parse().unwrap();
    // The first two answers are cut after 60 bytes: the relay stored the push, the device never
    // heard; the retry pushes the same changes again.
    let (proxy, connections) = flaky_proxy(target, 2, 60);
    let mut link = a.store.sync_state().unwrap().link.unwrap();
    link.relay_url = format!("http://{proxy}");
    a.store.set_relay_link(&link).unwrap();
    let r = a.sync();
    assert!(
        connections.load(Ordering::SeqCst) >= 3,
        "the answer was cut and retried"
    );
    assert_eq!(r.pushed, 60);
    assert_eq!(a.store.pending_changes().unwrap(), 0);
    let pulled = b.sync();
    assert_eq!(pulled.pulled, 60, "each change stored once at the relay");
    assert_eq!(a.exports(), b.exports());
}

#[test]
fn a_restarted_relay_keeps_what_it_acknowledged_and_pages_big_pulls() {
    let relay = TestRelay::start();
    let (_, invite) = relay.team(2);
    let mut a = Device::joined(&relay.url, &invite, "a");
    for i in 0..120 {
        a.person(&format!("Person {i} with a longer name to fill pages"));
    }
    assert_eq!(a.sync().pushed, 120);
    let relay = relay.restart();
    let mut link = a.store.sync_state().unwrap().link.unwrap();
    link.relay_url = relay.url.clone();
    a.store.set_relay_link(&link).unwrap();
    // A new device pulls it all in small pages.
    let mut b = Device::new();
    sync::join(&mut b.store, &transport(), &relay.url, &invite, "b").unwrap();
    let small = Budget {
        push_bytes: 1 << 20,
        pull_bytes: 4096,
    };
    let r = sync::sync_once(&mut b.store, &transport(), small).unwrap();
    assert_eq!(r.pulled, 120);
    assert!(r.round_trips > 3, "paged: {} round trips", r.round_trips);
    assert_eq!(a.exports(), b.exports());
}

#[test]
fn the_command_line_joins_syncs_and_reports_status() {
    let relay = TestRelay::start();
    let (team, invite) = relay.team(2);
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let joined: serde_json::Value = serde_json::from_str(&super::ok(
        da.path(),
        &[
            "join",
            "--relay",
            &relay.url,
            "--invite",
            &invite,
            "--name",
            "Sam's phone",
        ],
    ))
    .unwrap();
    assert_eq!(joined["team_id"], team.as_str());
    super::ok(da.path(), &["person", "add", "--name", "Grace Okafor"]);
    let status: serde_json::Value =
        serde_json::from_str(&super::ok(da.path(), &["status"])).unwrap();
    assert_eq!(status["pending_changes"], 1);
    assert_eq!(status["device_name"], "Sam's phone");
    assert_eq!(status["last_sync"], serde_json::Value::Null);
    let synced: serde_json::Value = serde_json::from_str(&super::ok(da.path(), &["sync"])).unwrap();
    assert_eq!(
        (synced["pushed"].as_u64(), synced["pulled"].as_u64()),
        (Some(1), Some(0))
    );
    let status: serde_json::Value =
        serde_json::from_str(&super::ok(da.path(), &["status"])).unwrap();
    assert_eq!(status["pending_changes"], 0);
    assert!(status["last_sync"].is_string());

    super::ok(
        db.path(),
        &[
            "join", "--relay", &relay.url, "--invite", &invite, "--name", "Joy",
        ],
    );
    let synced: serde_json::Value = serde_json::from_str(&super::ok(db.path(), &["sync"])).unwrap();
    assert_eq!(synced["pulled"], 1);
    assert!(super::ok(db.path(), &["search", "grace"]).contains("Grace Okafor"));

    // Refusals: exit 1 with a message.
    let fresh = tempfile::tempdir().unwrap();
    let out = super::groundwork(fresh.path(), &["sync"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("has not joined a team"));
    let out = super::groundwork(
        fresh.path(),
        &[
            "join", "--relay", &relay.url, "--invite", "wrong", "--name", "x",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("refused the invite"));
    let out = super::groundwork(
        fresh.path(),
        &[
            "join",
            "--relay",
            "relay.example.org",
            "--invite",
            "x",
            "--name",
            "x",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a relay address"));
}

/// One step of the sync property test.
#[derive(Debug, Clone)]
enum Step {
    Add {
        device: usize,
        name: u8,
    },
    Rename {
        device: usize,
        person: usize,
        name: u8,
    },
    Converse {
        device: usize,
        person: usize,
    },
    Sync {
        device: usize,
    },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0..3usize, any::<u8>()).prop_map(|(device, name)| Step::Add { device, name }),
        (0..3usize, any::<usize>(), any::<u8>()).prop_map(|(device, person, name)| Step::Rename {
            device,
            person,
            name
        }),
        (0..3usize, any::<usize>()).prop_map(|(device, person)| Step::Converse { device, person }),
        (0..3usize).prop_map(|device| Step::Sync { device }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn devices_syncing_through_a_real_relay_converge(steps in prop::collection::vec(step(), 1..25)) {
        let relay = TestRelay::start();
        let (_, invite) = relay.team(3);
        let mut devices: Vec<Device> = (0..3).map(|i| Device::joined(&relay.url, &invite, &format!("d{i}"))).collect();
        for s in steps {
            match s {
                Step::Add { device, name } => { devices[device].person(&format!("P{name}")); }
                Step::Rename { device, person, name } => {
                    let people = devices[device].store.all_people().unwrap();
                    if let Some(p) = people.get(person % people.len().max(1)) {
                        devices[device].store.edit_person(&p.id, PersonPatch::new().put(PersonField::Name, format!("R{name}"))).unwrap();
                    }
                }
                Step::Converse { device, person } => {
                    let people = devices[device].store.all_people().unwrap();
                    if let Some(p) = people.get(person % people.len().max(1)) {
                        devices[device].converse(&p.id, "said", &["ask"]);
                    }
                }
                Step::Sync { device } => { devices[device].sync(); }
            }
        }
        for _ in 0..2 {
            for d in devices.iter_mut() {
                d.sync();
            }
        }
        let expected = devices[0].exports();
        for d in &devices[1..] {
            prop_assert_eq!(d.exports(), expected.clone());
        }
        for d in &devices {
            prop_assert_eq!(d.store.pending_changes().unwrap(), 0);
        }
    }
}

#[test]
fn the_background_worker_syncs_after_changes_and_when_asked() {
    use groundwork::sync::Status;
    use groundwork::sync::worker::{Timing, Worker};
    use std::sync::mpsc;

    let relay = TestRelay::start();
    let (_, invite) = relay.team(2);
    let dir = tempfile::tempdir().unwrap();
    let mut app_store = Store::open(dir.path()).unwrap();
    sync::join(&mut app_store, &transport(), &relay.url, &invite, "app").unwrap();
    let mut other = Device::joined(&relay.url, &invite, "other");

    let (tx, rx) = mpsc::channel::<Status>();
    let timing = Timing {
        debounce: Duration::from_millis(100),
        period: Duration::from_secs(3600),
    };
    let worker = Worker::spawn(dir.path().to_path_buf(), timing, move |s| {
        let _ = tx.send(s.clone());
    })
    .unwrap();
    let wait_for = |pred: &dyn Fn(&Status) -> bool| {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while std::time::Instant::now() < deadline {
            if let Ok(s) = rx.recv_timeout(Duration::from_millis(200))
                && pred(&s)
            {
                return s;
            }
        }
        panic!("status never came");
    };
    // Joined: it syncs once at start.
    let first = wait_for(&|s| s.joined && s.last_synced_at.is_some() && !s.syncing);
    assert_eq!(first.pending, 0);
    // After a sync it knows the team's devices, for the shift report.
    let mut names: Vec<String> = first
        .team_devices
        .unwrap()
        .into_iter()
        .map(|d| d.name)
        .collect();
    names.sort();
    assert_eq!(names, vec!["app", "other"]);

    // A local change: "1 waiting", then synced after the debounce.
    app_store
        .add_person(NewPerson::new().put(PersonField::Name, "Typed offline"))
        .unwrap();
    worker.local_change();
    wait_for(&|s| s.pending == 1);
    wait_for(&|s| s.pending == 0 && !s.syncing && s.last_error.is_none());
    other.sync();
    assert_eq!(other.store.all_people().unwrap()[0].name, "Typed offline");

    // Another device's change arrives when asked.
    other.person("From the other phone");
    other.sync();
    worker.sync_now();
    wait_for(&|s| !s.syncing && s.last_synced_at.is_some());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while app_store.search("other phone", 5).unwrap().is_empty()
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(app_store.search("other phone", 5).unwrap().len(), 1);

    // The relay goes away: offline, with the error, and the change still waiting.
    drop(relay);
    app_store
        .add_person(NewPerson::new().put(PersonField::Name, "While offline"))
        .unwrap();
    worker.sync_now();
    let s = wait_for(&|s| s.offline && !s.syncing);
    assert_eq!(s.pending, 1);
    assert!(s.last_error.unwrap().contains("cannot reach the relay"));
    assert_eq!(worker.status().pending, 1);
}

/// A server that answers every request with `status` and a JSON error, counting requests.
pub fn answering(status: u16) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&count);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            seen.fetch_add(1, Ordering::SeqCst);
            let mut buf = [0u8; 65536];
            let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
            let _ = stream.read(&mut buf);
            let body = format!("{{\"error\":\"refused with {status}: tell whoever runs it\"}}");
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nRetry-After: 60\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (format!("http://{addr}"), count)
}

#[test]
fn a_full_team_store_or_a_rate_limit_is_reported_without_pointless_retries() {
    for status in [507u16, 429] {
        let relay = TestRelay::start();
        let (_, invite) = relay.team(1);
        let mut a = Device::joined(&relay.url, &invite, "a");
        a.person("Kept");
        let (url, count) = answering(status);
        let mut link = a.store.sync_state().unwrap().link.unwrap();
        link.relay_url = url;
        a.store.set_relay_link(&link).unwrap();
        let err = sync::sync_once(&mut a.store, &transport(), Budget::default()).unwrap_err();
        assert!(
            matches!(err, SyncError::RelayFailed { status: s, .. } if s == status),
            "{err}"
        );
        assert!(err.to_string().contains("tell whoever runs it"), "{err}");
        assert!(err.to_string().contains("nothing is lost"), "{err}");
        // A push refused for want of room is halved until a push of one row is refused, then
        // followed by one pull without it (refused too, here): a few requests for the two
        // rows waiting, not retries of the same; a rate limit ends the sync at once.
        let asked = count.load(Ordering::SeqCst);
        if status == 507 {
            assert!((2..=3).contains(&asked), "{asked} requests");
        } else {
            assert_eq!(asked, 1, "not retried");
        }
        assert_eq!(a.store.pending_changes().unwrap(), 1);
    }
}

/// Text that compresses badly, `words` words of it (a stand-in for a long story).
pub fn incompressible(seed: u64, words: usize) -> String {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..words)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            format!("{:x}", x >> 24)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// One canvasser's phone that has filled its share of the team's storage on the relay (a
/// buggy app, a stolen phone, or a long day's work on a small relay) gets its refusal, keeps
/// its changes, and still receives the rest of the team's work; the rest of the team still
/// shares theirs.
#[test]
fn a_device_over_its_share_still_receives_the_teams_work_and_keeps_its_own() {
    let relay = TestRelay::start_with_quota(96 * 1024);
    let (team, invite) = relay.team(1);
    let mut lead = Device::joined(&relay.url, &invite, "lead");
    let mut phone = Device::joined(&relay.url, &relay.invite(&team, 1), "phone");
    phone.sync();
    let early = lead.person("Before the phone filled up");
    lead.sync();

    let people: Vec<String> = (0..60)
        .map(|i| {
            let person = phone.person(&format!("Neighbour {i}"));
            phone.converse(&person, &incompressible(i, 150), &[]);
            person
        })
        .collect();
    let pending = phone.store.pending_changes().unwrap();
    let wire = transport();
    let err = sync::sync_once(&mut phone.store, &wire, Budget::default()).unwrap_err();
    assert!(
        matches!(err, SyncError::RelayFailed { status: 507, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("filled its share"), "{err}");
    assert!(err.to_string().contains("nothing is lost"), "{err}");
    let first = wire.stats.sent.load(Ordering::Relaxed);
    // What fits went (the push halved until it did), the rest waits here.
    let left = phone.store.pending_changes().unwrap();
    assert!(0 < left && left < pending, "{left} of {pending} left");
    assert!(
        phone.exports().contains(&early),
        "the team's work still arrives on the phone whose push was refused"
    );
    assert!(
        phone
            .store
            .sync_state()
            .unwrap()
            .last_error
            .unwrap()
            .contains("filled its share")
    );
    lead.sync();
    assert!(
        lead.exports().contains(&people[0]),
        "what fitted was shared"
    );

    // The lead still shares, and the phone keeps receiving; while refused, its syncs send one
    // of its changes to see whether there is room again, not all of them each time.
    let later = lead.person("After the phone filled up");
    lead.sync();
    let wire = transport();
    sync::sync_once(&mut phone.store, &wire, Budget::default()).unwrap_err();
    assert!(phone.exports().contains(&later));
    assert_eq!(phone.store.pending_changes().unwrap(), left);
    let probe = wire.stats.sent.load(Ordering::Relaxed);
    assert!(probe < first / 10, "{probe} bytes sent, {first} before");

    // Room again (the lead erases three of the people the phone shared first: their changes
    // leave the phone's share, room for more than any one change waiting): more of what
    // waits goes.
    let nb = std::cell::RefCell::new(&mut lead.store);
    for person in &people[..3] {
        sync::block_on(sync::team::erase_person(&nb, &transport(), person)).unwrap();
    }
    // (A sync or two: under a loaded machine a round trip may time out and be retried.)
    let mut outcomes = Vec::new();
    for _ in 0..3 {
        outcomes.push(sync::sync_once(
            &mut phone.store,
            &transport(),
            Budget::default(),
        ));
        if phone.store.pending_changes().unwrap() < left {
            break;
        }
    }
    assert!(
        phone.store.pending_changes().unwrap() < left,
        "more of the phone's changes were shared once there was room: {outcomes:?}"
    );
}
