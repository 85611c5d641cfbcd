//! Erasure (a person's right to be forgotten) and subject access: what an erased person leaves
//! behind on a device (nothing: rows, search index, outbox, drafts, and the bytes in the
//! database file and its journal), and how an erasure order reaches every device of a team
//! through a real relay, including one that was offline with edits to the person.

use std::path::Path;

use groundwork::error::Error;
use groundwork::model::{ConversationKind, NewConversation, NewPerson, PersonField};
use groundwork::store::Store;

/// The tables of `store`'s notebook with a row naming `id` anywhere in its text (an erased
/// person's id may stay only where the erasure itself is recorded).
pub fn tables_naming(store: &Store, id: &str) -> Vec<String> {
    let conn = store.connection();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut found = Vec::new();
    for table in tables {
        let columns: Vec<String> = conn
            .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        for column in columns {
            let sql = format!(
                "SELECT count(*) FROM \"{table}\" WHERE instr(CAST(\"{column}\" AS BLOB), CAST(?1 AS BLOB)) > 0"
            );
            let n: i64 = conn.query_row(&sql, [id], |r| r.get(0)).unwrap_or(0);
            if n > 0 {
                found.push(format!("{table}.{column}"));
            }
        }
    }
    found
}

/// A word no other data contains: what a byte scan looks for.
pub const CANARY: &str = "zqxcanaryvbq";

/// Every file of a data directory (a notebook's database, its write-ahead log and shared
/// memory; a relay's the same) that holds `needle` (words, or a key's bytes).
pub fn files_holding(dir: &Path, needle: impl AsRef<[u8]>) -> Vec<String> {
    let needle = needle.as_ref();
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if let Ok(bytes) = std::fs::read(&path)
            && bytes.windows(needle.len()).any(|w| w == needle)
        {
            found.push(path.display().to_string());
        }
    }
    found
}

/// A person whose name, notes, a conversation's story and a draft all carry the canary. The
/// person and the conversation are saved as the app's forms save them (each form's save leaves
/// a note of the id it made, `saved:KEY`).
pub fn canary_person(store: &mut Store) -> String {
    let id = store
        .add_person_once(
            NewPerson::new()
                .put(PersonField::Name, format!("Rosa {CANARY}"))
                .put(PersonField::Notes, format!("pay and heating {CANARY}")),
            "person-new",
            Some(&groundwork::ids::new_save_key()),
        )
        .unwrap();
    let c = NewConversation {
        person_id: id.clone(),
        kind: ConversationKind::Doorstep,
        at: None,
        canvasser: None,
        shift_id: None,
        issues: vec![format!("damp {CANARY}")],
        story: Some(format!("her story {CANARY}")),
        notes: None,
        engagement: None,
        follow_up: None,
    };
    store
        .record_conversation_once(
            c,
            Vec::new(),
            &format!("conversation:{id}"),
            Some(&groundwork::ids::new_save_key()),
        )
        .unwrap();
    store
        .save_draft(
            &format!("conversation:{id}"),
            &format!("half typed {CANARY}"),
        )
        .unwrap();
    // A correction of the conversation, typed and left.
    let conversation = store.person(&id).unwrap().conversations[0].id.clone();
    store
        .save_draft(
            &format!("record-edit:{id}:{conversation}"),
            &format!("corrected {CANARY}"),
        )
        .unwrap();
    id
}

#[test]
fn erasing_a_person_leaves_nothing_of_them_in_the_notebook_or_its_files() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = Store::open(tmp.path()).unwrap();
    let other = store.add_person(NewPerson::named("Someone else")).unwrap();
    let id = canary_person(&mut store);
    let conversation = store.person(&id).unwrap().conversations[0].id.clone();
    // Edited a few times, as a real person file is: earlier versions are freed space.
    for i in 0..5 {
        store
            .edit_person(
                &id,
                groundwork::model::PersonPatch::new()
                    .put(PersonField::Notes, format!("version {i} {CANARY}")),
            )
            .unwrap();
    }
    assert!(
        !files_holding(tmp.path(), CANARY).is_empty(),
        "the scan finds the canary before"
    );
    assert_eq!(store.search(CANARY, 10).unwrap().len(), 1);

    store.erase_person_locally(&id).unwrap();

    assert!(matches!(store.person(&id), Err(Error::Erased { .. })));
    // Not even the id stays but where the erasure is recorded, nor their conversation's (the
    // notes of the forms that made them included).
    assert_eq!(
        tables_naming(&store, &id),
        vec!["erased.doc_id".to_string()]
    );
    assert_eq!(tables_naming(&store, &conversation), Vec::<String>::new());
    assert!(store.search(CANARY, 10).unwrap().is_empty());
    assert!(store.search("Rosa", 10).unwrap().is_empty());
    assert!(store.outbox(1000).unwrap().iter().all(|o| o.doc_id != id));
    assert_eq!(store.draft(&format!("conversation:{id}")).unwrap(), None);
    assert_eq!(
        store.draft_keys(&format!("record-edit:{id}:")).unwrap(),
        Vec::<String>::new(),
        "corrections drafted in the file go too"
    );
    assert!(
        store
            .all_conversations()
            .unwrap()
            .iter()
            .all(|c| c.person_id != id)
    );
    let export = {
        let mut out = Vec::new();
        for what in [
            groundwork::export::What::People,
            groundwork::export::What::Conversations,
        ] {
            groundwork::export::write(&store, what, groundwork::export::Format::Json, &mut out)
                .unwrap();
        }
        String::from_utf8(out).unwrap()
    };
    assert!(
        !export.contains(CANARY) && !export.contains(&id),
        "exports: {export}"
    );
    assert_eq!(files_holding(tmp.path(), CANARY), Vec::<String>::new());
    // Erased, not missing: the id is refused by name, and the rest is untouched.
    assert!(matches!(store.held_person(&id), Err(Error::Erased { .. })));
    assert!(matches!(
        store.erase_person_locally(&id),
        Err(Error::Erased { .. })
    ));
    assert_eq!(store.person(&other).unwrap().person.name, "Someone else");
    // A form left open on the person when the erasure came: saving it says why it cannot be.
    let late = NewConversation {
        person_id: id.clone(),
        kind: ConversationKind::Doorstep,
        at: None,
        canvasser: None,
        shift_id: None,
        issues: Vec::new(),
        story: Some(format!("late {CANARY}")),
        notes: None,
        engagement: None,
        follow_up: None,
    };
    assert!(matches!(
        store.record_conversation(late, Vec::new()),
        Err(Error::Erased { .. })
    ));
    // Nor is its draft kept.
    store
        .save_draft(&format!("conversation:{id}"), &format!("late {CANARY}"))
        .unwrap();
    assert_eq!(store.draft(&format!("conversation:{id}")).unwrap(), None);
    store
        .save_draft(&format!("record-edit:{id}:r"), &format!("late {CANARY}"))
        .unwrap();
    assert_eq!(store.draft(&format!("record-edit:{id}:r")).unwrap(), None);
    store
        .save_draft(&format!("conversation:{other}"), "kept")
        .unwrap();
    assert_eq!(
        store
            .draft(&format!("conversation:{other}"))
            .unwrap()
            .as_deref(),
        Some("kept")
    );
    store.scrub().unwrap();
    drop(store);
    assert_eq!(files_holding(tmp.path(), CANARY), Vec::<String>::new());
}

#[test]
fn changes_to_an_erased_person_from_elsewhere_are_never_taken_in_again() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let mut sa = Store::open(a.path()).unwrap();
    let mut sb = Store::open(b.path()).unwrap();
    let id = canary_person(&mut sa);
    let changes: Vec<Vec<u8>> = sa
        .outbox(100)
        .unwrap()
        .into_iter()
        .map(|o| o.bytes)
        .collect();
    sb.apply_remote(&id, &changes).unwrap();
    assert!(sb.person(&id).is_ok());
    sb.erase_person_locally(&id).unwrap();
    // The same changes again (a stale relay, a repair): dropped unread.
    let incoming: Vec<groundwork::store::Incoming<'_>> = changes
        .iter()
        .map(|c| groundwork::store::Incoming::unvouched(&id, c, false))
        .collect();
    let report = sb.batch(|w| w.take_in(&incoming)).unwrap();
    assert_eq!((report.applied, report.erased), (0, changes.len()));
    // Nor under another spelling of the same id (upper case): that is not a Groundwork id.
    let upper = id.to_uppercase();
    let respelled: Vec<groundwork::store::Incoming<'_>> = changes
        .iter()
        .map(|c| groundwork::store::Incoming::unvouched(&upper, c, false))
        .collect();
    let report = sb.batch(|w| w.take_in(&respelled)).unwrap();
    assert_eq!(
        (report.applied, report.quarantined, report.erased),
        (0, 0, changes.len())
    );
    assert!(sb.person(&id).is_err());
    assert!(
        sb.quarantined().unwrap().is_empty(),
        "nothing of them kept in quarantine"
    );
    // Respelled copies that came before the erasure sit in quarantine; the erasure takes them.
    let c = tempfile::tempdir().unwrap();
    let mut sc = Store::open(c.path()).unwrap();
    let braced = format!("{{{upper}}}");
    let incoming: Vec<groundwork::store::Incoming<'_>> = changes
        .iter()
        .map(|c| groundwork::store::Incoming::unvouched(&braced, c, false))
        .collect();
    assert_eq!(
        sc.batch(|w| w.take_in(&incoming)).unwrap().quarantined,
        changes.len()
    );
    sc.erase_document(&id, Some(1)).unwrap();
    sc.scrub().unwrap();
    assert!(sc.quarantined().unwrap().is_empty());
    assert_eq!(files_holding(c.path(), CANARY), Vec::<String>::new());
    assert!(sb.person(&id).is_err());
    assert!(
        sb.quarantined().unwrap().is_empty(),
        "nothing of them kept in quarantine"
    );
    assert_eq!(files_holding(b.path(), CANARY), Vec::<String>::new());
}

#[test]
fn subject_access_gives_everything_held_about_one_person() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = Store::open(tmp.path()).unwrap();
    store.add_person(NewPerson::named("Someone else")).unwrap();
    let id = canary_person(&mut store);
    // A value later replaced stays in the document: the export gives it.
    store
        .edit_person(
            &id,
            groundwork::model::PersonPatch::new().put(PersonField::Notes, "rewritten notes"),
        )
        .unwrap();
    // Bytes pulled for the person and refused are held too.
    let junk = b"not a change at all".to_vec();
    let refused = [groundwork::store::Incoming::unvouched(&id, &junk, false)];
    store.batch(|w| w.take_in(&refused)).unwrap();
    let out = groundwork::export::subject_access(&store, &id).unwrap();
    let json = serde_json::to_value(&out).unwrap();
    assert_eq!(json["person"]["id"], id);
    assert_eq!(json["person"]["conversations"].as_array().unwrap().len(), 1);
    assert_eq!(json["person"]["notes"], "rewritten notes", "{json}");
    assert!(json["history"].as_array().unwrap().len() >= 3, "{json}");
    let versions = json["versions"].as_array().unwrap();
    assert_eq!(versions.len(), json["history"].as_array().unwrap().len());
    assert!(
        versions
            .iter()
            .any(|v| v["file"]["notes"] == format!("pay and heating {CANARY}")),
        "the replaced notes: {json}"
    );
    let held = json["not_taken_in"].as_array().unwrap();
    assert_eq!(held.len(), 1, "{json}");
    assert_eq!(held[0]["kind"], "quarantine");
    assert_eq!(held[0]["bytes"], groundwork::crypto::text::base64url(&junk));
    // Sorted by key: the conversation draft, then the correction drafted in the file.
    assert_eq!(json["drafts"][0]["text"], format!("half typed {CANARY}"));
    assert_eq!(json["drafts"][1]["text"], format!("corrected {CANARY}"));
    assert!(!json.to_string().contains("Someone else"));
    assert!(matches!(
        groundwork::export::subject_access(&store, "0190f1d2-0000-7000-8000-000000000000"),
        Err(Error::NotFound { .. })
    ));
}

pub(crate) mod through_the_relay {
    use std::cell::RefCell;

    use groundwork::model::{NewPerson, PersonField, PersonPatch};
    use groundwork::sync::{self, SyncError, team};

    use super::{CANARY, canary_person, files_holding};
    use crate::sync::{Device, TestRelay, canvassers_invite, transport};

    pub(crate) fn erase(device: &mut Device, id: &str) -> Result<team::ErasureOutcome, SyncError> {
        let nb = RefCell::new(&mut device.store);
        sync::block_on(team::erase_person(&nb, &transport(), id))
    }

    #[test]
    fn an_erasure_reaches_every_device_even_one_offline_with_edits_and_nothing_comes_back() {
        let relay = TestRelay::start();
        let (team_id, lead_invite) = relay.lead_team();
        let invite = relay.invite(&team_id, 2);
        let mut lead = Device::joined(&relay.url, &lead_invite, "Lead's phone");
        let mut b = Device::joined(&relay.url, &invite, "B's phone");
        let mut c = Device::joined(&relay.url, &invite, "C's phone");
        let id = canary_person(&mut b.store);
        let conversation = b.store.person(&id).unwrap().conversations[0].id.clone();
        // A small change carries its words as they are (larger ones are compressed).
        b.store
            .edit_person(&id, PersonPatch::new().put(PersonField::Notes, CANARY))
            .unwrap();
        b.sync();
        lead.sync();
        c.sync();
        assert!(lead.store.person(&id).is_ok() && c.store.person(&id).is_ok());
        // End-to-end encryption: the relay never holds it in the clear, before or after.
        assert_eq!(files_holding(&relay.dir(), CANARY), Vec::<String>::new());

        // C goes offline and goes on working: an edit to the person, and someone new.
        c.store
            .edit_person(
                &id,
                PersonPatch::new().put(PersonField::Notes, format!("offline {CANARY}")),
            )
            .unwrap();
        let newcomer = c.store.add_person(NewPerson::named("Niamh")).unwrap();

        // A canvasser cannot erase; nothing is erased anywhere.
        match erase(&mut b, &id) {
            Err(SyncError::LeadOnly(message)) => assert!(message.contains("lead"), "{message}"),
            other => panic!("a canvasser erased: {other:?}"),
        }
        assert!(b.store.person(&id).is_ok());

        let outcome = erase(&mut lead, &id).unwrap();
        assert_eq!(outcome.order, Some(1));
        assert_eq!((outcome.confirmed, outcome.devices), (Some(1), Some(3)));
        assert!(lead.store.person(&id).is_err());
        let waiting = lead.store.erasures_waiting().unwrap();
        assert_eq!(waiting.len(), 1, "{waiting:?}");

        assert_eq!(b.sync().erased, 1);
        assert!(b.store.person(&id).is_err());

        // C's push holds changes to the erased person: refused (410), C erases them and
        // sends the rest.
        let report = c.sync();
        assert_eq!(report.erased, 1, "{report:?}");
        assert!(c.store.person(&id).is_err());
        assert_eq!(c.store.pending_changes().unwrap(), 0);
        lead.sync();
        assert_eq!(lead.store.person(&newcomer).unwrap().person.name, "Niamh");
        assert!(
            lead.store.person(&id).is_err(),
            "the person does not come back"
        );
        assert!(
            lead.store.erasures_waiting().unwrap().is_empty(),
            "every device confirmed: {:?}",
            lead.store.erasures()
        );
        // A device that joins afterwards never sees them.
        let mut d = Device::joined(&relay.url, &relay.invite(&team_id, 1), "D's phone");
        d.sync();
        assert!(d.store.person(&id).is_err());
        assert_eq!(d.store.person(&newcomer).unwrap().person.name, "Niamh");

        for (who, dir) in [
            ("lead", lead.dir()),
            ("b", b.dir()),
            ("c", c.dir()),
            ("d", d.dir()),
            ("relay", relay.dir()),
        ] {
            assert_eq!(files_holding(&dir, CANARY), Vec::<String>::new(), "{who}");
        }
        // Not even the id stays, but where the erasure is recorded (C's repair of its waiting
        // changes, told the person was erased, named them again; so did push records taken in
        // later and blobs noted for compaction).
        for (who, device) in [("lead", &lead), ("b", &b), ("c", &c), ("d", &d)] {
            let left = super::tables_naming(&device.store, &id);
            assert_eq!(left, vec!["erased.doc_id".to_string()], "{who}");
            let left = super::tables_naming(&device.store, &conversation);
            assert_eq!(left, Vec::<String>::new(), "{who}: the conversation's id");
        }
    }

    #[test]
    fn a_relay_restored_from_a_backup_numbers_orders_afresh_and_devices_follow() {
        let relay = TestRelay::start();
        let (_, mut lead, mut b) = lead_and_canvasser(&relay);
        let p = b.person("Pat");
        b.sync();
        lead.sync();
        // The operator's backup, taken before the erasure.
        let (_backup, copy) = backup_of(&relay);
        erase(&mut lead, &p).unwrap();
        assert_eq!(b.sync().erased, 1);

        // The relay is restored from that backup: it knows no erasure order.
        let relay = relay.restored_from(&copy);
        for d in [&mut lead, &mut b] {
            d.store
                .connection()
                .execute("UPDATE sync_state SET relay_url = ?1", [relay.url.as_str()])
                .unwrap();
        }
        // B's honest work still goes, and the person stays erased on B.
        let q = b.person("Quinn");
        b.sync();
        lead.sync();
        assert_eq!(lead.store.person(&q).unwrap().person.name, "Quinn");
        assert!(b.store.person(&p).is_err());
        // The lead erases again on the restored relay (order 1 there): B carries it out and
        // confirms it, so the lead sees every device done.
        // (The lead's notebook erased the person already: the order is sent again.)
        assert_eq!(erase(&mut lead, &p).unwrap().order, Some(1));
        b.sync();
        lead.sync();
        let link = lead.store.sync_state().unwrap().link.unwrap();
        let orders = sync::block_on(transport().erasures(&link.relay_url, &link.token, 0)).unwrap();
        assert_eq!(orders.erasures.len(), 1);
        assert_eq!(
            (orders.erasures[0].confirmed, orders.erasures[0].devices),
            (2, 2),
            "B confirmed the restored relay's order: {orders:?}"
        );
    }

    /// A person a canvasser recorded and synced, not yet on the lead's device (it has not
    /// synced since), is erased when the lead asks: the lead's device syncs first to find them,
    /// where it answered "no person with id …".
    #[test]
    fn a_person_not_yet_on_the_leads_device_is_found_by_a_sync_and_erased() {
        let relay = TestRelay::start();
        let (_team_id, mut lead, mut b) = lead_and_canvasser(&relay);
        lead.sync();
        b.sync();
        let p = b.person("Met today; asked to be forgotten");
        b.sync();
        assert!(
            lead.store.person(&p).is_err(),
            "not on the lead's device yet"
        );
        let outcome = erase(&mut lead, &p).unwrap();
        assert_eq!(outcome.erased, p);
        b.sync();
        assert!(b.store.person(&p).is_err(), "B still holds the person");
        // An id that no device ever wrote is still refused, after that sync; a canvasser is
        // told who can erase, not that the id names nobody.
        let nobody = "0193b2c4-0000-7222-8333-944455566677";
        assert!(matches!(
            erase(&mut lead, nobody),
            Err(SyncError::Store(groundwork::error::Error::NotFound { .. }))
        ));
        let refused = erase(&mut b, nobody);
        assert!(
            matches!(refused, Err(SyncError::LeadOnly(_))),
            "{refused:?}"
        );
        // Offline, the sync that would have looked for the person fails, and the lead is told
        // that, not that no person has the id (which a sync might still find).
        drop(relay);
        let offline = erase(&mut lead, nobody);
        assert!(
            matches!(offline, Err(SyncError::Unreachable { .. })),
            "{offline:?}"
        );
    }

    /// A team, its lead's device and one canvasser's ("B").
    pub(crate) fn lead_and_canvasser(relay: &TestRelay) -> (String, Device, Device) {
        let (team_id, lead_invite) = relay.lead_team();
        let lead = Device::joined(&relay.url, &lead_invite, "Lead's phone");
        let b = Device::joined(&relay.url, &relay.invite(&team_id, 1), "B's phone");
        (team_id, lead, b)
    }

    /// A copy of the relay's database, as an operator's backup takes it (and its folder).
    fn backup_of(relay: &TestRelay) -> (tempfile::TempDir, std::path::PathBuf) {
        let backup = tempfile::tempdir().unwrap();
        let copy = backup.path().join("relay.sqlite3");
        rusqlite::Connection::open(relay.dir().join("relay.sqlite3"))
            .unwrap()
            .execute("VACUUM INTO ?1", [copy.to_str().unwrap()])
            .unwrap();
        (backup, copy)
    }

    /// The sealed blobs of `doc` in a copy of the relay's database.
    fn blobs_of(copy: &std::path::Path, doc: &str) -> Vec<Vec<u8>> {
        let conn = rusqlite::Connection::open(copy).unwrap();
        let mut stmt = conn
            .prepare("SELECT blob FROM blobs WHERE doc_id = ?1 ORDER BY seq")
            .unwrap();
        stmt.query_map([doc], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn a_copy_of_the_relay_taken_before_an_erasure_opens_under_no_key_left_anywhere() {
        use groundwork::crypto::CryptoError;
        use groundwork::crypto::keys::Keyring;
        use groundwork::crypto::seal;

        let relay = TestRelay::start();
        let (team_id, mut lead, mut b) = lead_and_canvasser(&relay);
        let p = canary_person(&mut b.store);
        let q = b.person("Quinn");
        b.sync();
        lead.sync();
        // The operator's backup (or a thief's copy), taken before the erasure.
        let (_backup, copy) = backup_of(&relay);
        let (of_p, of_q) = (blobs_of(&copy, &p), blobs_of(&copy, &q));
        assert!(!of_p.is_empty() && !of_q.is_empty());
        // Before the erasure a member's keys open them: the check below can fail.
        let before = lead.store.keyring().unwrap();
        assert!(before.doc_keys().is_some(), "a new team has document keys");
        for blob in &of_p {
            assert!(seal::open(&team_id, &p, &before, blob).is_ok());
        }

        erase(&mut lead, &p).unwrap();
        b.sync();
        lead.sync();
        assert!(lead.store.erasures_waiting().unwrap().is_empty());
        // A device let in afterwards by the lead, with the keys as they are now.
        let invite = crate::sealed::lead_invite(&mut lead);
        let mut d = Device::joined(&relay.url, &invite, "D's phone");
        d.sync();
        assert_eq!(d.store.person(&q).unwrap().person.name, "Quinn");

        for (who, device) in [("lead", &lead), ("b", &b), ("d", &d)] {
            let ring = device.store.keyring().unwrap();
            for blob in &of_p {
                assert_eq!(
                    seal::open(&team_id, &p, &ring, blob),
                    Err(CryptoError::DocKeyErased),
                    "{who}"
                );
                // Every team key this device holds, tried alone on the ciphertext (the blob
                // relabelled as sealed under the team key only): nothing opens.
                let mut relabelled = blob.clone();
                relabelled[0] = seal::MAGIC;
                let team_keys_only = Keyring::new(ring.all().cloned());
                assert_eq!(
                    seal::open(&team_id, &p, &team_keys_only, &relabelled),
                    Err(CryptoError::Authentication),
                    "{who}"
                );
            }
            // The rest of the copy still opens with the same keys.
            for blob in &of_q {
                assert!(seal::open(&team_id, &q, &ring, blob).is_ok(), "{who}");
            }
        }
    }

    /// `lead` revokes `device` (so that its notebook may join again).
    pub(crate) fn revoke_device(lead: &mut Device, device: &Device) {
        let id = device.relay_device_id();
        let nb = RefCell::new(&mut lead.store);
        sync::block_on(team::revoke(&nb, &transport(), &id)).unwrap();
    }

    /// An invite for `uses` canvassers made by `lead`'s device.
    pub(crate) fn invite_from(lead: &mut Device, uses: u32) -> String {
        crate::trust::invite_by(lead, groundwork_protocol::Role::Canvasser, uses)
    }

    #[test]
    fn a_cut_key_leaves_the_files_of_a_device_that_never_held_the_person_and_never_comes_back() {
        let relay = TestRelay::start();
        let (_, mut lead, mut b) = lead_and_canvasser(&relay);
        let p = b.person("Pat");
        b.sync();
        lead.sync();
        // An invite for three made before the erasure: it carries the tree whole.
        let stale = invite_from(&mut lead, 3);
        let root = {
            let ring = lead.store.keyring().unwrap();
            let tree = ring.doc_keys().unwrap();
            assert_eq!(tree.len(), 1, "no erasure yet: the root alone");
            tree.nodes().next().unwrap().1.to_vec()
        };
        // C joins with it and never pulls Pat.
        let mut c = Device::joined(&relay.url, &stale, "C's phone");
        assert!(
            !files_holding(&c.dir(), &root).is_empty(),
            "the scan finds the root"
        );

        erase(&mut lead, &p).unwrap();
        b.sync();
        c.sync();
        assert!(c.store.person(&p).is_err());
        assert_eq!(
            c.store.keyring().unwrap().doc_keys().unwrap().key_for(&p),
            None
        );
        // Nothing of Pat was held on C, yet the tree's root is gone from its files and log.
        assert_eq!(files_holding(&c.dir(), &root), Vec::<String>::new());
        // D joins with the same invite after the erasure: its first sync cuts the key.
        let mut d = Device::joined(&relay.url, &stale, "D's phone");
        d.sync();
        assert_eq!(
            d.store.keyring().unwrap().doc_keys().unwrap().key_for(&p),
            None
        );
        assert_eq!(files_holding(&d.dir(), &root), Vec::<String>::new());

        // B, which erased Pat, is revoked and joins again with the invite made before: the key
        // stays cut.
        revoke_device(&mut lead, &b);
        sync::join(&mut b.store, &transport(), &relay.url, &stale, "B again").unwrap();
        assert_eq!(
            b.store.keyring().unwrap().doc_keys().unwrap().key_for(&p),
            None
        );
        assert_eq!(files_holding(&b.dir(), &root), Vec::<String>::new());
        b.sync();
        assert!(b.store.person(&p).is_err());
    }

    #[test]
    fn a_device_with_edits_to_an_erased_person_joins_again_and_its_push_is_not_stopped_by_them() {
        let relay = TestRelay::start();
        let (_, mut lead, mut b) = lead_and_canvasser(&relay);
        let p = b.person("Pat");
        b.sync();
        lead.sync();
        // Offline, B edits Pat and meets Quinn; meanwhile the lead erases Pat.
        b.store
            .edit_person(&p, PersonPatch::new().put(PersonField::Notes, "offline"))
            .unwrap();
        let q = b.person("Quinn");
        erase(&mut lead, &p).unwrap();
        // B is revoked and joins again with an invite the lead makes now: its tree has Pat's
        // key cut, so Pat's unsent edits could never be sealed. They go with Pat; the push of
        // the rest is not stopped by them.
        revoke_device(&mut lead, &b);
        let fresh = invite_from(&mut lead, 1);
        sync::join(&mut b.store, &transport(), &relay.url, &fresh, "B again").unwrap();
        assert!(b.store.person(&p).is_err());
        assert_eq!(b.store.person(&q).unwrap().person.name, "Quinn");
        let report = sync::sync_once(&mut b.store, &transport(), sync::plan::Budget::default());
        assert!(report.is_ok(), "{report:?}");
        assert_eq!(b.store.pending_changes().unwrap(), 0);
        assert!(b.store.person(&p).is_err());
        // Quinn, met while B was away, reaches the lead (written again under B's new
        // identity), and Pat does not come back.
        lead.sync();
        assert_eq!(lead.store.person(&q).unwrap().person.name, "Quinn");
        assert!(lead.store.person(&p).is_err());
        assert!(lead.store.quarantined().unwrap().is_empty());
    }

    #[test]
    fn a_device_holding_the_team_s_document_keys_refuses_an_invite_without_them() {
        use groundwork::crypto::keys::{InviteSecret, Keyring, seal_invite_v1};

        let relay = TestRelay::start();
        let (team_id, mut lead, mut b) = lead_and_canvasser(&relay);
        b.sync();
        revoke_device(&mut lead, &b);
        // An invite of the old form: the team's keys, not its tree of document keys.
        let ring = lead.store.keyring().unwrap();
        let without_tree = Keyring::new(ring.all().cloned());
        let secret = InviteSecret::generate().unwrap();
        let sealed = seal_invite_v1(&secret, &team_id, &without_tree).unwrap();
        let invite = relay.invite_carrying(
            &team_id,
            groundwork_protocol::Role::Canvasser,
            &sealed,
            &secret.to_text(),
        );
        let refused = sync::join(&mut b.store, &transport(), &relay.url, &invite, "B again")
            .expect_err("an invite without the tree was taken");
        assert!(
            refused
                .to_string()
                .contains("does not carry the team's document keys"),
            "{refused}"
        );
        // The tree B held is kept.
        assert!(b.store.keyring().unwrap().doc_keys().is_some());
    }

    /// Past what one request carries (7 MiB, about 6,500 erasures) the keys go in parts, and
    /// the team still takes in new devices, which get the lead's tree as it is.
    #[test]
    fn a_team_past_what_one_request_carries_still_takes_in_new_devices() {
        let relay = TestRelay::start();
        let (_, mut lead, _b) = lead_and_canvasser(&relay);
        let id = canary_person(&mut lead.store);
        lead.sync();
        // The lead's tree as 8,000 erasures leave it (each cuts about 1.5 KB of keys into it,
        // about 1.1 KB in an invite's dense form: 8.7 MB, over one request's 7 MiB).
        erased_so_often(&mut lead, 8_000);
        let code = invite_from(&mut lead, 1);
        let mut c = Device::joined(&relay.url, &code, "C's phone");
        assert_eq!(
            c.store.keyring().unwrap().doc_keys(),
            lead.store.keyring().unwrap().doc_keys(),
            "the tree came whole"
        );
        let report = c.sync();
        assert_eq!(report.rejected, 0, "{report:?}");
        assert!(c.store.person(&id).unwrap().person.name.contains(CANARY));
    }

    #[test]
    fn a_lead_is_told_when_the_team_s_keys_have_outgrown_an_invite() {
        let relay = TestRelay::start();
        let (_, mut lead, _b) = lead_and_canvasser(&relay);
        invite_from(&mut lead, 1);
        // Ten erasures put some 20 KB of keys in an invite: more than nine parts of 200 bytes,
        // as some 65,000 erasures would be more than nine parts of 7 MiB.
        erased_so_often(&mut lead, 10);
        let message = invite_refused_in_parts_of(&mut lead, 200);
        assert!(message.contains("too large for an invite"), "{message}");
        assert!(message.contains("new team"), "{message}");
        // The tree of one erasure (about 2.6 KB in an invite) goes in two parts of 2,000 bytes.
        let relay = TestRelay::start();
        let (_, mut lead, _b) = lead_and_canvasser(&relay);
        erased_so_often(&mut lead, 1);
        let request = canvassers_invite();
        let nb = RefCell::new(&mut lead.store);
        sync::block_on(team::invite_in_parts_of(&nb, &transport(), &request, 2000))
            .expect("in two parts");
    }

    /// Why `lead`'s app could not make a canvasser's invite (it must not).
    fn invite_refused(lead: &mut Device) -> String {
        invite_refused_in_parts_of(lead, usize::MAX)
    }

    /// Why `lead`'s app could not make a canvasser's invite with its keys in parts of at most
    /// `part_len` bytes.
    fn invite_refused_in_parts_of(lead: &mut Device, part_len: usize) -> String {
        let request = canvassers_invite();
        let nb = RefCell::new(&mut lead.store);
        match sync::block_on(team::invite_in_parts_of(
            &nb,
            &transport(),
            &request,
            part_len,
        )) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("an invite the relay would not take was made"),
        }
    }

    /// Past 4 MiB of keys, an invite a relay refuses as too large is most likely an older
    /// relay's (or one whose `max_body_bytes` is lower): the lead is told that, not to "send
    /// fewer changes".
    #[test]
    fn a_lead_whose_relay_takes_smaller_invites_is_told_why() {
        // A relay taking bodies no larger than an older relay's invites (4 MiB of keys).
        let relay = TestRelay::start_with_max_body((4 << 20) + 4096);
        let (_, mut lead, _b) = lead_and_canvasser(&relay);
        invite_from(&mut lead, 1);
        // About 5 MB of keys in the invite: over 4 MiB, under 7 MiB.
        erased_so_often(&mut lead, 4_500);
        let message = invite_refused(&mut lead);
        assert!(message.contains("more than this relay takes"), "{message}");
        assert!(message.contains("max_body_bytes"), "{message}");
    }

    /// The lead's tree of documents' keys as `n` erasures leave it (written into its notebook
    /// directly: carrying out `n` orders would take minutes).
    pub(crate) fn erased_so_often(lead: &mut Device, n: u32) {
        let mut tree = lead.store.keyring().unwrap().doc_keys().unwrap().clone();
        for n in 0..n {
            tree.puncture(&format!("0193b2c4-{n:04x}-7222-8333-944455566677"));
        }
        let conn = lead.store.connection();
        conn.execute_batch("BEGIN; DELETE FROM doc_keys;").unwrap();
        for (at, key) in tree.nodes() {
            conn.execute(
                "INSERT INTO doc_keys (depth, prefix, key) VALUES (?1, ?2, ?3)",
                (i64::from(at.depth), at.prefix as i64, key.as_slice()),
            )
            .unwrap();
        }
        // A new version of the keys, as every writer of them gives (the store holds the keys it
        // read until their version changes).
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('keys_version', ?1)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [uuid::Uuid::new_v4().to_string()],
        )
        .unwrap();
        conn.execute_batch("COMMIT").unwrap();
    }

    #[test]
    fn a_canvasser_is_refused_every_lead_action_and_a_lead_can_do_each() {
        let relay = TestRelay::start();
        let (_, mut lead, mut b) = lead_and_canvasser(&relay);
        let b_id = b.relay_device_id();
        lead.sync();
        b.sync();
        assert_eq!(lead.store.role().unwrap().as_deref(), Some("lead"));
        assert_eq!(b.store.role().unwrap().as_deref(), Some("canvasser"));
        let t = transport();
        let request = groundwork_protocol::InviteRequest {
            uses: 1,
            expires_in_secs: 3600,
            role: groundwork_protocol::Role::Canvasser,
            sealed_keys: None,
            key_parts: Vec::new(),
            request: None,
        };
        {
            let nb = RefCell::new(&mut b.store);
            let refused = |r: Result<(), SyncError>, what: &str| {
                assert!(matches!(r, Err(SyncError::LeadOnly(_))), "{what}: {r:?}");
            };
            refused(
                sync::block_on(team::invite(&nb, &t, &request)).map(drop),
                "invite",
            );
            refused(sync::block_on(team::devices(&nb, &t)).map(drop), "devices");
            refused(
                sync::block_on(team::revoke(&nb, &t, &b_id)).map(drop),
                "revoke",
            );
            refused(
                sync::block_on(team::promote(&nb, &t, &b_id)).map(drop),
                "promote",
            );
        }
        {
            let nb = RefCell::new(&mut lead.store);
            let (invite, link) = sync::block_on(team::invite(&nb, &t, &request)).unwrap();
            assert!(link.ends_with(&format!("/#join={}", invite.code)), "{link}");
            let devices = sync::block_on(team::devices(&nb, &t)).unwrap();
            assert_eq!(devices.len(), 2);
            let promoted = sync::block_on(team::promote(&nb, &t, &b_id)).unwrap();
            assert_eq!(promoted.role, groundwork_protocol::Role::Lead);
        }
        b.sync();
        assert_eq!(
            b.store.role().unwrap().as_deref(),
            Some("lead"),
            "b learns on its sync"
        );
        let lead_id = lead.relay_device_id();
        {
            let nb = RefCell::new(&mut b.store);
            let revoked = sync::block_on(team::revoke(&nb, &t, &lead_id)).unwrap();
            assert!(revoked.device.revoked);
            assert_eq!(revoked.rotation.map(|r| r.epoch), Some(2));
        }
        assert!(matches!(
            sync::sync_once(&mut lead.store, &t, Default::default()),
            Err(SyncError::Revoked)
        ));
    }

    /// The app's actions (`team::act`, as the desktop's and the phone's sync engines carry them
    /// out): a canvasser's app is refused deleting a campaign or a walk list, in words that name
    /// the action; a lead's deletes both from every device.
    #[test]
    fn an_app_deletes_a_campaign_and_a_walk_list_for_a_lead_and_refuses_a_canvasser() {
        use team::{TeamAction, TeamReply};
        let relay = TestRelay::start();
        let (_, mut lead, mut b) = lead_and_canvasser(&relay);
        let campaign = lead
            .store
            .add_campaign(groundwork::model::NewCampaign {
                name: "Living wage".into(),
                issue: None,
                targets: Default::default(),
            })
            .unwrap();
        let csv = "House No,Street\n1,Elm Road\n2,Elm Road\n";
        let read = groundwork::walk::import::read(csv.as_bytes(), &[]).unwrap();
        let list = lead
            .store
            .import_walklist("Elm Road", None, &read)
            .unwrap()
            .id;
        lead.sync();
        b.sync();
        assert!(b.store.campaign(&campaign).is_ok());
        assert!(b.store.walklist(&list).is_ok());
        let t = transport();
        let actions = [
            (
                TeamAction::DeleteCampaign {
                    campaign_id: campaign.clone(),
                },
                "delete a campaign",
            ),
            (
                TeamAction::DeleteWalkList {
                    walklist_id: list.clone(),
                },
                "delete a walk list",
            ),
        ];
        for (action, words) in &actions {
            let nb = RefCell::new(&mut b.store);
            match sync::block_on(team::act(&nb, &t, action.clone())) {
                Err(SyncError::LeadOnly(m)) => assert!(m.contains(words), "{m}"),
                other => panic!("{words} from a canvasser's app: {other:?}"),
            }
        }
        assert!(b.store.campaign(&campaign).is_ok(), "refused: still held");
        for ((action, _), id) in actions.into_iter().zip([&campaign, &list]) {
            let nb = RefCell::new(&mut lead.store);
            match sync::block_on(team::act(&nb, &t, action)) {
                Ok(TeamReply::Erased(outcome)) => assert_eq!(&outcome.erased, id),
                other => panic!("a lead's deletion: {other:?}"),
            }
        }
        assert!(lead.store.campaign(&campaign).is_err());
        assert!(lead.store.walklist(&list).is_err());
        b.sync();
        assert!(b.store.campaign(&campaign).is_err(), "gone from b too");
        assert!(b.store.walklist(&list).is_err(), "gone from b too");
        assert!(b.store.campaigns().unwrap().is_empty());
        assert!(b.store.walklists().unwrap().is_empty());
    }

    /// A lead's deletion with the relay out of reach is not done, and says so (the generic
    /// message said it would go later, which an action does not); done once the relay answers.
    #[test]
    fn a_lead_action_with_the_relay_out_of_reach_says_it_was_not_done() {
        use team::TeamAction;
        let relay = TestRelay::start();
        let (_, mut lead, _) = lead_and_canvasser(&relay);
        let campaign = lead
            .store
            .add_campaign(groundwork::model::NewCampaign {
                name: "Offline drive".into(),
                issue: None,
                targets: Default::default(),
            })
            .unwrap();
        lead.sync();
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let mut link = lead.store.sync_state().unwrap().link.unwrap();
        let real = link.relay_url.clone();
        link.relay_url = format!("http://{closed}");
        lead.store.set_relay_link(&link).unwrap();
        let delete = TeamAction::DeleteCampaign {
            campaign_id: campaign.clone(),
        };
        let err = {
            let nb = RefCell::new(&mut lead.store);
            sync::block_on(team::act(&nb, &transport(), delete.clone())).unwrap_err()
        };
        let said = err.to_string();
        assert!(
            said.starts_with("not done: cannot reach the relay")
                && said.contains("Deleting a campaign needs the relay"),
            "{said}"
        );
        assert!(!said.contains("nothing is lost"), "{said}");
        assert!(err.is_offline());
        // The command line says the same (one rule: `team::not_done`).
        let out = crate::groundwork(lead.store.dir(), &["campaign", "delete", &campaign]);
        assert_eq!(out.status.code(), Some(1));
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(
            said.contains("not done: cannot reach the relay")
                && said.contains("Deleting a campaign needs the relay"),
            "{said}"
        );
        assert!(lead.store.campaign(&campaign).is_ok(), "not deleted");
        link.relay_url = real;
        lead.store.set_relay_link(&link).unwrap();
        {
            let nb = RefCell::new(&mut lead.store);
            assert!(sync::block_on(team::act(&nb, &transport(), delete)).is_ok());
        }
        assert!(
            lead.store.campaign(&campaign).is_err(),
            "deleted once online"
        );
    }

    /// In a notebook that has joined no team (an organiser working alone), the app's
    /// erasures (`team::act`, no relay) erase from the notebook itself, its files included.
    #[test]
    fn an_app_in_a_notebook_of_no_team_erases_from_the_notebook_itself() {
        use team::{TeamAction, TeamReply};
        let tmp = tempfile::tempdir().unwrap();
        let mut store = groundwork::store::Store::open(tmp.path()).unwrap();
        let person = canary_person(&mut store);
        let campaign = store
            .add_campaign(groundwork::model::NewCampaign {
                name: "Living wage".into(),
                issue: None,
                targets: Default::default(),
            })
            .unwrap();
        let csv = "House No,Street\n1,Elm Road\n";
        let read = groundwork::walk::import::read(csv.as_bytes(), &[]).unwrap();
        let list = store.import_walklist("Elm Road", None, &read).unwrap().id;
        let t = transport();
        for (action, id) in [
            (
                TeamAction::Erase {
                    person_id: person.clone(),
                },
                &person,
            ),
            (
                TeamAction::DeleteCampaign {
                    campaign_id: campaign.clone(),
                },
                &campaign,
            ),
            (
                TeamAction::DeleteWalkList {
                    walklist_id: list.clone(),
                },
                &list,
            ),
        ] {
            let nb = RefCell::new(&mut store);
            match sync::block_on(team::act(&nb, &t, action)) {
                Ok(TeamReply::Erased(outcome)) => {
                    assert_eq!(&outcome.erased, id);
                    assert_eq!(outcome.order, None, "no team, no order");
                }
                other => panic!("erasing {id} with no team: {other:?}"),
            }
        }
        assert!(store.person(&person).is_err());
        assert!(store.campaigns().unwrap().is_empty());
        assert!(store.walklists().unwrap().is_empty());
        drop(store);
        assert_eq!(files_holding(tmp.path(), CANARY), Vec::<String>::new());
    }
}

mod command_line {
    use crate::sync::TestRelay;
    use crate::{groundwork, ok};

    fn json(s: &str) -> serde_json::Value {
        serde_json::from_str(s).unwrap_or_else(|e| panic!("{e}: {s}"))
    }

    /// The notebook in `dir` joins a new team as its first lead, with the bare code and the
    /// relay's address; what `join` printed.
    fn join_as_lead(relay: &TestRelay, dir: &std::path::Path) -> serde_json::Value {
        let (_, lead_invite) = relay.lead_team();
        json(&ok(
            dir,
            &[
                "join",
                "--relay",
                &relay.url,
                "--invite",
                &lead_invite,
                "--name",
                "Lead's phone",
            ],
        ))
    }

    /// The stderr of a command that must fail with exit 1.
    fn refused(dir: &std::path::Path, args: &[&str]) -> String {
        let out = groundwork(dir, args);
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        err
    }

    #[test]
    fn a_lead_cancels_an_invite_sent_to_the_wrong_people() {
        let relay = TestRelay::start();
        let tmp = tempfile::tempdir().unwrap();
        let (lead, sam) = (tmp.path().join("lead"), tmp.path().join("sam"));
        join_as_lead(&relay, &lead);
        let kept = json(&ok(&lead, &["team", "invite"]));
        let leaked = json(&ok(
            &lead,
            &["team", "invite", "--uses", "20", "--expires-in", "7d"],
        ));
        let leaked_link = leaked["join_link"].as_str().unwrap().to_string();
        let leaked_id = leaked["id"].as_str().unwrap().to_string();
        assert_eq!(
            leaked_id,
            groundwork_protocol::invite_id(leaked["code"].as_str().unwrap())
        );

        // Both are listed (with the operator's, made with the team), with who made them.
        let me = json(&ok(&lead, &["status"]))["device_id"].clone();
        let ids = |dir| -> Vec<String> {
            json(&ok(dir, &["team", "invites"]))
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].as_str().unwrap().to_string())
                .collect()
        };
        let kept_id = kept["id"].as_str().unwrap().to_string();
        let open = json(&ok(&lead, &["team", "invites"]));
        let open = open.as_array().unwrap();
        assert!(ids(&lead).contains(&kept_id), "{open:?}");
        let listed = open.iter().find(|i| i["id"] == leaked_id.as_str()).unwrap();
        assert_eq!(
            (listed["role"].as_str(), listed["uses_left"].as_u64()),
            (Some("canvasser"), Some(20))
        );
        assert_eq!(listed["made_by"], me);
        assert_eq!(listed["carries_keys"], true);

        // Cancelled by its link: nobody joins with it, whatever the code still says.
        let cancelled = json(&ok(&lead, &["team", "cancel-invite", &leaked_link]));
        assert_eq!(cancelled["cancelled"], true);
        assert_eq!(cancelled["joining"], 0, "nobody had joined with it");
        assert_eq!(cancelled["id"], leaked_id.as_str());
        let err = refused(
            &tmp.path().join("stranger"),
            &["join", "--invite", &leaked_link, "--name", "Stranger"],
        );
        assert!(err.contains("cancelled"), "{err}");
        let now_open = ids(&lead);
        assert!(!now_open.contains(&leaked_id) && now_open.contains(&kept_id));
        // Again by its id: nothing left to do, and it says so.
        let out = groundwork(&lead, &["team", "cancel-invite", &leaked_id.to_uppercase()]);
        assert!(out.status.success());
        assert_eq!(
            json(&String::from_utf8_lossy(&out.stdout))["cancelled"],
            false
        );
        assert!(String::from_utf8_lossy(&out.stderr).contains("no longer open"));
        // What names no invite is refused with what to give.
        let err = refused(&lead, &["team", "cancel-invite", "https://elsewhere/"]);
        assert!(err.contains("its code or its join link"), "{err}");
        let elsewhere = leaked_link.replace(&relay.url, "https://elsewhere.example");
        let err = refused(&lead, &["team", "cancel-invite", &elsewhere]);
        assert!(err.contains("another relay"), "{err}");
        let err = refused(&lead, &["team", "cancel-invite", "0123456789abcdef"]);
        assert!(err.contains("no invite of your team"), "{err}");

        // The invite not cancelled still lets its phone in; a canvasser can do neither.
        let link = kept["join_link"].as_str().unwrap();
        ok(&sam, &["join", "--invite", link, "--name", "Sam's phone"]);
        for args in [
            &["team", "invites"][..],
            &["team", "cancel-invite", &leaked_id],
        ] {
            let err = refused(&sam, args);
            assert!(err.contains("only a team lead can"), "{args:?}: {err}");
        }
        assert!(!ids(&lead).contains(&kept_id), "used up: no longer open");
    }

    #[test]
    fn the_team_commands_and_erasure_from_the_command_line() {
        let relay = TestRelay::start();
        let tmp = tempfile::tempdir().unwrap();
        let (lead, sam) = (tmp.path().join("lead"), tmp.path().join("sam"));

        // The lead joins with the bare code and the relay's address.
        let joined = join_as_lead(&relay, &lead);
        assert_eq!(joined["role"], "lead");
        let invite = json(&ok(&lead, &["team", "invite", "--expires-in", "2h"]));
        assert_eq!(
            (invite["role"].as_str(), invite["uses"].as_u64()),
            (Some("canvasser"), Some(1))
        );
        let link = invite["join_link"].as_str().unwrap().to_string();
        assert_eq!(
            link,
            format!("{}/#join={}", relay.url, invite["code"].as_str().unwrap())
        );

        // Sam joins with the link alone.
        let joined = json(&ok(
            &sam,
            &["join", "--invite", &link, "--name", "Sam's phone"],
        ));
        assert_eq!(joined["role"], "canvasser");
        // The link was single use.
        let again = groundwork(
            &tmp.path().join("x"),
            &["join", "--invite", &link, "--name", "X"],
        );
        assert_eq!(again.status.code(), Some(1));

        let status = json(&ok(&sam, &["status"]));
        assert_eq!(status["role"], "canvasser");
        for args in [
            &["team", "invite"][..],
            &["team", "devices"],
            &["team", "promote", "some-device"],
            &["team", "revoke", "some-device"],
        ] {
            let out = groundwork(&sam, args);
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
            assert!(err.contains("only a team lead can"), "{args:?}: {err}");
        }
        let bad = groundwork(&lead, &["team", "invite", "--expires-in", "forever"]);
        assert_eq!(bad.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&bad.stderr).contains("24h"));
        // With --qr the join link follows the JSON as a QR code, for a phone's camera.
        let drawn = ok(&lead, &["team", "invite", "--qr"]);
        let (json_part, qr_part) = drawn.split_once("}\n").expect("JSON, then the code");
        let link = json(&format!("{json_part}}}"))["join_link"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(link.contains("#join="), "{link}");
        assert_eq!(qr_part, groundwork_protocol::qr::text(&link).unwrap());

        let p = ok(
            &sam,
            &[
                "person",
                "add",
                "--name",
                "Rosa Kowalski",
                "--notes",
                "night shifts",
            ],
        )
        .trim()
        .to_string();
        ok(&sam, &["sync"]);
        ok(&lead, &["sync"]);
        let export = json(&ok(&lead, &["person", "export", &p]));
        assert_eq!(export["person"]["name"], "Rosa Kowalski");

        let devices = json(&ok(&lead, &["team", "devices"]));
        let roles: Vec<(&str, &str, bool)> = devices
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                (
                    d["name"].as_str().unwrap(),
                    d["role"].as_str().unwrap(),
                    d["this_device"].as_bool().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            roles,
            vec![
                ("Lead's phone", "lead", true),
                ("Sam's phone", "canvasser", false)
            ]
        );
        // What each device's changes take of the team's storage on the relay.
        let sams_share = |devices: &serde_json::Value| devices[1]["stored_bytes"].as_u64().unwrap();
        let sam_before = sams_share(&devices);
        assert!(sam_before > 0, "{devices}");

        let out = groundwork(&sam, &["person", "erase", &p]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            err.contains(&format!("groundwork person erase {p}")),
            "{err}"
        );

        // The team's documents have their own keys; invites have room for some 60,000
        // erasures (63 MiB in parts, the tree in its dense form; the estimate errs low).
        let before = json(&ok(&lead, &["status"]));
        assert_eq!(before["document_keys"], true, "{before}");
        let room = before["invite_room"].as_u64().unwrap();
        assert!((40_000..70_000).contains(&room), "{before}");
        let erased = json(&ok(&lead, &["person", "erase", &p]));
        assert_eq!(
            (erased["order"].as_u64(), erased["devices"].as_u64()),
            (Some(1), Some(2))
        );
        let after = sams_share(&json(&ok(&lead, &["team", "devices"])));
        assert!(
            after < sam_before,
            "the erased person's changes leave Sam's share: {after} of {sam_before}"
        );
        let status = json(&ok(&lead, &["status"]));
        assert_eq!(status["role"], "lead");
        assert!(status["invite_room"].as_u64().unwrap() < room, "{status}");
        assert_eq!(status["erasures_waiting"][0]["doc_id"], p.as_str());
        assert_eq!(json(&ok(&sam, &["sync"]))["erased"], 1);
        let shown = groundwork(&sam, &["person", "show", &p]);
        assert_eq!(shown.status.code(), Some(1));
        ok(&lead, &["sync"]);
        let status = json(&ok(&lead, &["status"]));
        assert_eq!(
            status["erasures_waiting"],
            serde_json::json!([]),
            "{status}"
        );

        // A campaign is deleted the same way, by a lead only; commitments stay with people.
        let c = ok(&sam, &["campaign", "add", "--name", "Heating"])
            .trim()
            .to_string();
        ok(&sam, &["sync"]);
        ok(&lead, &["sync"]);
        let out = groundwork(&sam, &["campaign", "delete", &c]);
        assert_eq!(out.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&out.stderr).contains("campaign delete"));
        let gone = json(&ok(&lead, &["campaign", "delete", &c]));
        assert_eq!(gone["order"], 2);
        assert_eq!(json(&ok(&sam, &["sync"]))["erased"], 1);
        assert_eq!(
            json(&ok(&sam, &["campaign", "list"])),
            serde_json::json!([])
        );

        // Revoking Sam's phone: its next sync is refused.
        let sam_id = devices[1]["device_id"].as_str().unwrap();
        let revoked = json(&ok(&lead, &["team", "revoke", sam_id]));
        assert_eq!(revoked["device_id"], sam_id);
        assert_eq!(revoked["revoked"], true);
        // Its times as `team devices` prints them, not the relay's seconds.
        assert_eq!(
            revoked["enrolled_at"], devices[1]["enrolled_at"],
            "{revoked}"
        );
        assert!(revoked["rotation_waits"].is_boolean(), "{revoked}");
        let out = groundwork(&sam, &["sync"]);
        assert_eq!(out.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&out.stderr).contains("revoked"));
    }
}

#[test]
fn an_erasure_order_reusing_a_number_never_lifts_another_tombstone() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = Store::open(tmp.path()).unwrap();
    let a = store.add_person(NewPerson::named("A")).unwrap();
    let b = store.add_person(NewPerson::named("B")).unwrap();
    store.erase_document(&a, Some(1)).unwrap();
    // A relay restored from a backup numbers another order 1 again.
    store.erase_document(&b, Some(1)).unwrap();
    assert!(store.is_erased(&a).unwrap() && store.is_erased(&b).unwrap());
    assert!(
        store.erase_document(&a, Some(u64::MAX)).is_err(),
        "an order number out of range"
    );
}
