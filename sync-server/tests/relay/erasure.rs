//! Erasure: a lead's order deletes a document's changes from the relay (from its files too),
//! refuses them ever after (410 `erased`), and counts the devices that carried it out.

use std::time::{Duration, Instant};

use groundwork_protocol::{
    CODE_ERASED, ConfirmErasures, DocChangesRequest, EraseRequest, Erasure, ErasureList,
    InviteRequest, InviteResponse, PushItem, Role, SyncResponse, decode_sync_response,
};

use crate::common::{
    Answer, Device, Param, Relay, db_row, files_holding, gunzip, int, item, scans_files,
    sqlite_only,
};

pub(crate) fn erase(lead: &Device, doc_id: &str) -> Answer {
    lead.post(
        "/v1/erase",
        &EraseRequest {
            doc_id: doc_id.into(),
            proof: None,
        },
    )
}

fn erase_with_proof(lead: &Device, doc_id: &str, proof: &str) -> Answer {
    lead.post(
        "/v1/erase",
        &EraseRequest {
            doc_id: doc_id.into(),
            proof: Some(proof.into()),
        },
    )
}

fn erased(lead: &Device, doc_id: &str) -> Erasure {
    let answer = erase(lead, doc_id);
    assert_eq!(answer.status, 200, "{answer:?}");
    answer.json()
}

fn orders(device: &Device, after: Option<&str>) -> Answer {
    match after {
        None => device.get("/v1/erasures"),
        Some(after) => device.get(&format!("/v1/erasures?after={after}")),
    }
}

fn list(device: &Device) -> ErasureList {
    let answer = orders(device, None);
    assert_eq!(answer.status, 200, "{answer:?}");
    answer.json()
}

fn counts(list: &ErasureList) -> Vec<(u64, u32, u32)> {
    list.erasures
        .iter()
        .map(|e| (e.seq, e.confirmed, e.devices))
        .collect()
}

fn confirm(device: &Device, up_to: u64) -> Answer {
    device.post("/v1/erasures/confirm", &ConfirmErasures { up_to })
}

/// The team's log head and stored bytes, read from the relay's database.
fn team_row(relay: &Relay, team_id: &str) -> (i64, i64) {
    let row = db_row(
        &relay.data_dir,
        "SELECT CAST(head_seq AS TEXT), CAST(stored_bytes AS TEXT) FROM teams WHERE id = $1",
        Param::Text(team_id),
    )
    .expect("team row");
    (int(&row[0]), int(&row[1]))
}

fn doc_changes(device: &Device, doc_id: &str) -> Answer {
    device.post(
        "/v1/doc-changes",
        &DocChangesRequest {
            doc_id: doc_id.into(),
            after: 0,
            max_bytes: None,
        },
    )
}

#[test]
fn a_leads_signed_order_is_kept_as_it_came_and_handed_to_every_device() {
    let relay = Relay::start();
    let (lead, devices) = relay.team_with_lead("Proofs", 1);
    let answer = erase_with_proof(&lead, "doc-a", "0a0b.c2lnbmVk");
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(
        answer.json::<Erasure>().proof.as_deref(),
        Some("0a0b.c2lnbmVk")
    );
    // Given again with another proof, the order keeps both, newest first (a lead repairing a
    // bad one; junk given later cannot push a good one out); given again with none, it keeps
    // what it has.
    let again: Erasure = erase_with_proof(&lead, "doc-a", "0c0d.b3RoZXI").json();
    assert_eq!(again.proof.as_deref(), Some("0c0d.b3RoZXI 0a0b.c2lnbmVk"));
    assert_eq!(
        erased(&lead, "doc-a").proof.as_deref(),
        Some("0c0d.b3RoZXI 0a0b.c2lnbmVk")
    );
    assert_eq!(erased(&lead, "doc-b").proof, None);
    let later: Erasure = erase_with_proof(&lead, "doc-b", "0e0f.bGF0ZQ").json();
    assert_eq!(later.proof.as_deref(), Some("0e0f.bGF0ZQ"));
    // Every device is handed the proofs with the orders.
    let listed = list(&devices[0]);
    let proofs: Vec<Option<&str>> = listed.erasures.iter().map(|e| e.proof.as_deref()).collect();
    assert_eq!(
        proofs,
        [Some("0c0d.b3RoZXI 0a0b.c2lnbmVk"), Some("0e0f.bGF0ZQ")]
    );
    // A proof that is empty, too long or not printable text is refused (400) and orders nothing.
    for bad in [String::new(), "p".repeat(513), "with space".into()] {
        let answer = erase_with_proof(&lead, "doc-c", &bad);
        assert_eq!(answer.status, 400, "{bad:?}: {answer:?}");
    }
    assert_eq!(list(&devices[0]).erasures.len(), 2);
}

/// The relay cannot tell a lead's signed proof from junk: it kept the newest four, so a lead's
/// token in a hostile hand pushed the signed proof out with four junk ones, and devices that
/// trust only signed orders never carried the erasure out. The order's first proof stays.
#[test]
fn junk_proofs_given_later_do_not_push_the_first_out() {
    let relay = Relay::start();
    let (lead, devices) = relay.team_with_lead("Proofs", 1);
    assert_eq!(
        erase_with_proof(&lead, "doc-a", "0a0b.c2lnbmVk").status,
        200
    );
    for junk in ["1.AA", "2.BB", "3.CC", "4.DD", "5.EE"] {
        assert_eq!(erase_with_proof(&lead, "doc-a", junk).status, 200);
    }
    let listed = list(&devices[0]);
    let proofs = listed.erasures[0].proof.as_deref().unwrap_or_default();
    assert!(
        proofs.split(' ').any(|p| p == "0a0b.c2lnbmVk"),
        "the signed proof was pushed out: {proofs}"
    );
    assert!(proofs.split(' ').count() <= 4, "{proofs}");
}

#[test]
fn an_erased_document_leaves_the_relay_and_is_refused_ever_after() {
    let relay = Relay::start();
    let (lead, mut devices) = relay.team_with_lead("Erase", 2);
    let mut c = devices.pop().expect("c");
    let mut b = devices.pop().expect("b");
    let team = b.team_id.clone();
    let canary = format!("CANARY-{}", uuid::Uuid::new_v4());
    // A small change and one spread over several database pages.
    let d_changes = vec![
        item("doc-d", &format!("{canary} first version")),
        item(
            "doc-d",
            &format!("{} {canary} second version", "y".repeat(50_000)),
        ),
    ];
    let mut push = d_changes.clone();
    push.push(item("doc-e", "someone else"));
    b.sync(push, None).expect("push");
    assert_eq!(c.pull_all(None).len(), 3);
    let (head, bytes) = team_row(&relay, &team);
    assert_eq!(head, 3);
    if scans_files() {
        assert!(
            !files_holding(&relay.data_dir, canary.as_bytes()).is_empty(),
            "the relay holds the changes before the erasure"
        );
    }

    // The lead erases D: its changes and their bytes go, the log's positions stay.
    let answer = erase(&lead, "doc-d");
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.team_headers(), (Some("lead"), Some(1)));
    let order: Erasure = answer.json();
    assert_eq!(
        (
            order.seq,
            order.doc_id.as_str(),
            order.confirmed,
            order.devices
        ),
        (1, "doc-d", 1, 3),
        "the lead carried it out; b and c have yet to"
    );
    // Each blob counted its bytes, its document id's and its row (128 bytes).
    let freed: i64 = d_changes
        .iter()
        .map(|p| i64::try_from(p.blob.len() + p.doc_id.len() + 128).expect("small"))
        .sum();
    assert_eq!(team_row(&relay, &team), (3, bytes - freed));
    if scans_files() {
        assert_eq!(
            files_holding(&relay.data_dir, canary.as_bytes()),
            Vec::<&str>::new(),
            "nothing of the erased changes is left in the relay's files"
        );
    }

    // Pulls never serve it again, from the start of the log or to a device that joins later.
    c.cursor = 0;
    assert_eq!(
        c.pull_all(None),
        vec![("doc-e".to_owned(), b"someone else".to_vec())]
    );
    let invite: InviteResponse = lead
        .post(
            "/v1/invites",
            &InviteRequest {
                uses: 1,
                expires_in_secs: 600,
                role: Role::Canvasser,
                sealed_keys: None,
                key_parts: Vec::new(),
                request: None,
            },
        )
        .json();
    let mut late = relay.enrol(&invite.code, "Late phone").expect("enrols");
    assert_eq!(late.pull_all(None).len(), 1);

    // Asking for its changes again: 410 with the document named.
    let answer = doc_changes(&c, "doc-d");
    assert_eq!(answer.status, 410, "{answer:?}");
    let body = answer.error();
    assert_eq!(
        (body.code.as_deref(), body.erased.clone()),
        (Some(CODE_ERASED), vec!["doc-d".to_owned()])
    );
    assert_eq!(answer.team_headers(), (Some("canvasser"), Some(1)));
    let answer = doc_changes(&c, "doc-e");
    assert_eq!(answer.status, 200);
    assert_eq!(answer.team_headers(), (Some("canvasser"), Some(1)));

    // B still holds D and edits it offline: a push holding any change of D is refused whole.
    for push in [
        vec![
            item("doc-e", "new e"),
            item("doc-d", "an edit made offline"),
            item("doc-x", "someone new"),
            item("doc-d", "another edit"),
        ],
        vec![d_changes[0].clone()],
    ] {
        let answer = b.sync_raw(&b.request(push), true);
        assert_eq!(answer.status, 410, "{answer:?}");
        let body = answer.error();
        assert_eq!(body.code.as_deref(), Some(CODE_ERASED));
        assert_eq!(body.erased, vec!["doc-d".to_owned()], "named once");
        assert!(
            body.error.contains("erased from the team") && body.error.contains("sync again"),
            "{}",
            body.error
        );
        assert_eq!(answer.team_headers(), (Some("canvasser"), Some(1)));
        assert_eq!(
            team_row(&relay, &team).0,
            3,
            "nothing of that push was stored"
        );
    }
    assert!(c.pull_all(None).is_empty());
    // Without D the same push goes through.
    let resp = b
        .sync(
            vec![item("doc-e", "new e"), item("doc-x", "someone new")],
            None,
        )
        .expect("a push without the erased document");
    assert_eq!(resp.accepted.len(), 2);
    assert_eq!(c.pull_all(None).len(), 2);

    // Erasing again answers the same order; a document the relay never held may be erased.
    let again = erased(&lead, "doc-d");
    assert_eq!((again.seq, again.erased_at), (1, order.erased_at));
    let unseen = erased(&lead, "doc-only-on-a-phone");
    assert_eq!(unseen.seq, 2);
    let answer = b.sync_raw(&b.request(vec![item("doc-only-on-a-phone", "x")]), false);
    assert_eq!(answer.status, 410);
    assert_eq!(
        answer.error().erased,
        vec!["doc-only-on-a-phone".to_owned()]
    );
    for bad in ["", "   ", "doc\nid"] {
        let answer = erase(&lead, bad);
        assert_eq!(answer.status, 400, "{bad:?}: {answer:?}");
    }
    assert_eq!(list(&lead).head, 2, "refused erasures made no order");
}

#[test]
fn sync_answers_say_the_callers_role_and_the_teams_last_order() {
    let relay = Relay::start();
    let (lead, mut devices) = relay.team_with_lead("Headers", 1);
    let b = devices.pop().expect("b");
    for use_gzip in [true, false] {
        let answer = b.sync_raw(&b.request(vec![item("doc", "x")]), use_gzip);
        assert_eq!(answer.status, 200);
        assert_eq!(answer.team_headers(), (Some("canvasser"), Some(0)));
    }
    erased(&lead, "doc");
    erased(&lead, "other");
    // Pull only (the readers' fast path), and a push, both with and without gzip.
    for push in [Vec::new(), vec![item("third", "y")]] {
        for use_gzip in [true, false] {
            let req = b.request(push.clone());
            let answer = b.sync_raw(&req, use_gzip);
            assert_eq!(answer.status, 200, "{answer:?}");
            assert_eq!(answer.team_headers(), (Some("canvasser"), Some(2)));
            let body = if answer.header("content-encoding") == Some("gzip") {
                gunzip(&answer.body)
            } else {
                answer.body.clone()
            };
            let resp: SyncResponse = decode_sync_response(&body, &req).expect("decodes");
            assert_eq!(resp.accepted.len(), push.len());
        }
    }
    let answer = lead.sync_raw(&lead.request(Vec::new()), true);
    assert_eq!(answer.team_headers(), (Some("lead"), Some(2)));
    assert_eq!(
        lead.get("/v1/devices").team_headers(),
        (Some("lead"), Some(2))
    );
    assert_eq!(
        orders(&b, None).team_headers(),
        (Some("canvasser"), Some(2))
    );
    assert_eq!(confirm(&b, 2).team_headers(), (Some("canvasser"), Some(2)));
    // Errors of a known device carry them too; answers to unknown tokens do not.
    assert_eq!(
        orders(&b, Some("x")).team_headers(),
        (Some("canvasser"), Some(2))
    );
    let (status, body) = relay.http_get_with_token("/v1/erasures", "gwt_unknown");
    assert_eq!(status, 401, "{body}");
}

#[test]
fn erasure_orders_count_the_devices_that_carried_them_out() {
    let relay = Relay::start();
    let (lead, mut devices) = relay.team_with_lead("Orders", 1);
    let b = devices.pop().expect("b");
    let first = erased(&lead, "doc-1");
    assert_eq!((first.seq, first.confirmed, first.devices), (1, 1, 2));

    let answer = orders(&b, None);
    assert_eq!(answer.status, 200);
    let seen: ErasureList = answer.json();
    assert_eq!((seen.head, seen.more), (1, false));
    assert_eq!(seen.erasures[0].doc_id, "doc-1");
    assert_eq!(counts(&seen), vec![(1, 1, 2)]);
    let after: ErasureList = orders(&b, Some("1")).json();
    assert_eq!((after.erasures.len(), after.head), (0, 1));
    let zero: ErasureList = orders(&b, Some("0")).json();
    assert_eq!(zero, seen);
    for bad in ["abc", "-1", "", "1.5"] {
        let answer = orders(&b, Some(bad));
        assert_eq!(answer.status, 400, "after={bad}");
        assert!(answer.error().error.contains("after"), "{bad}");
    }

    // Confirming: never beyond the head, never backwards.
    let answer = confirm(&b, 2);
    assert_eq!(answer.status, 400, "{answer:?}");
    assert_eq!(counts(&list(&lead)), vec![(1, 1, 2)]);
    let answer = confirm(&b, 1);
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(
        answer.json::<ErasureList>(),
        ErasureList {
            erasures: Vec::new(),
            head: 1,
            more: false
        }
    );
    assert_eq!(counts(&list(&lead)), vec![(1, 2, 2)]);
    assert_eq!(confirm(&b, 0).status, 200);
    assert_eq!(counts(&list(&lead)), vec![(1, 2, 2)]);

    // A device that joins later never held the document: it counts as having erased it.
    let invite = relay.invite(&b.team_id, &[]);
    let c = relay.enrol(&invite, "C").expect("enrols");
    assert_eq!(counts(&list(&c)), vec![(1, 3, 3)]);
    let second = erased(&lead, "doc-2");
    assert_eq!((second.seq, second.confirmed, second.devices), (2, 1, 3));
    // A revoked device leaves the counts.
    let answer = lead.post(
        "/v1/devices/revoke",
        &groundwork_protocol::DeviceAction {
            device_id: c.device_id.clone(),
        },
    );
    assert_eq!(answer.status, 200);
    assert_eq!(counts(&list(&lead)), vec![(1, 2, 2), (2, 1, 2)]);
    assert_eq!(confirm(&b, 2).status, 200);
    assert_eq!(counts(&list(&b)), vec![(1, 2, 2), (2, 2, 2)]);
    // The body must be JSON of the right shape.
    let answer = b.post("/v1/erasures/confirm", &serde_json::json!({"up_to": "all"}));
    assert_eq!(answer.status, 400);
}

#[test]
fn a_push_written_in_several_transactions_is_refused_whole() {
    let relay = Relay::start();
    let (lead, mut devices) = relay.team_with_lead("Large", 1);
    let mut b = devices.pop().expect("b");
    erased(&lead, "doc-gone");
    // More than one transaction's worth (256 KiB), the erased document last.
    let mut push: Vec<PushItem> = (0..300)
        .map(|i| {
            item(
                &format!("doc-{i}"),
                &format!("{i:04} {}", "x".repeat(1_000)),
            )
        })
        .collect();
    push.push(item("doc-gone", "an edit"));
    let answer = b.sync_raw(&b.request(push.clone()), true);
    assert_eq!(answer.status, 410, "{answer:?}");
    assert_eq!(answer.error().erased, vec!["doc-gone".to_owned()]);
    assert_eq!(team_row(&relay, &b.team_id).0, 0, "nothing stored");
    push.pop();
    let resp = b.sync(push, None).expect("without the erased document");
    assert_eq!(resp.accepted.len(), 300);
    assert_eq!(team_row(&relay, &b.team_id).0, 300);
}

/// The relay's database, opened by the test as another process would (`sqlite3`, say).
fn open_db(relay: &Relay) -> rusqlite::Connection {
    rusqlite::Connection::open(relay.data_dir.join("relay.sqlite3")).expect("open")
}

/// A read transaction keeping a snapshot of the relay's database, as a long-running
/// `sqlite3 .backup` does: while it lasts, the WAL cannot be emptied.
fn hold_snapshot(relay: &Relay) -> rusqlite::Connection {
    let db = open_db(relay);
    db.execute_batch("BEGIN").expect("begin");
    let _: i64 = db
        .query_row("SELECT count(*) FROM blobs", [], |r| r.get(0))
        .expect("read");
    db
}

/// Waits until the relay's database holds `n` erasure orders.
fn wait_for_orders(relay: &Relay, n: i64) {
    let db = open_db(relay);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let orders: i64 = db
            .query_row("SELECT count(*) FROM erasures", [], |r| r.get(0))
            .expect("count");
        if orders >= n {
            return;
        }
        assert!(Instant::now() < deadline, "no erasure order {n}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn the_checkpoint_after_an_erasure_makes_no_one_wait_and_is_retried_until_done() {
    if sqlite_only("the checkpoint after an erasure") {
        return;
    }
    let relay = Relay::start();
    let (lead, mut devices) = relay.team_with_lead("Checkpoint", 1);
    let mut b = devices.pop().expect("b");
    let (_, mut others) = relay.team_with_devices("Elsewhere", 1);
    let mut elsewhere = others.pop().expect("elsewhere");
    let (canary_d, canary_e) = (
        format!("CANARY-{}", uuid::Uuid::new_v4()),
        format!("CANARY-{}", uuid::Uuid::new_v4()),
    );
    b.sync(
        vec![
            item("doc-d", &format!("{canary_d} a person")),
            item("doc-e", &format!("{canary_e} someone else")),
        ],
        None,
    )
    .expect("push");
    let holding = |canary: &str| files_holding(&relay.data_dir, canary.as_bytes());

    // A backup holds a snapshot from before the erasure: the WAL cannot be emptied.
    let backup = hold_snapshot(&relay);
    let erasing = {
        let lead = lead.clone();
        std::thread::spawn(move || erase(&lead, "doc-d"))
    };
    // Once the erasure committed, while it still tries to empty the WAL, another team's push
    // goes through (the checkpoint holds no lock anyone waits for; how long it takes is
    // measured, not asserted: tests check behaviour, not timings).
    wait_for_orders(&relay, 1);
    elsewhere
        .sync(vec![item("doc-x", "another team's work")], None)
        .expect("push");
    let answer = erasing.join().expect("the erasing thread");
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(
        !holding(&canary_d).is_empty(),
        "the backup's snapshot kept the checkpoint from finishing"
    );

    // The checkpoint is owed: the next push, once the backup is over, carries it out.
    drop(backup);
    elsewhere
        .sync(vec![item("doc-y", "more work")], None)
        .expect("push");
    assert_eq!(
        holding(&canary_d),
        Vec::<&str>::new(),
        "the owed checkpoint ran after the next push"
    );

    // Erasing the same document again orders nothing new, even while a backup holds a
    // snapshot (of a WAL holding frames again, so that a checkpoint could not finish).
    elsewhere
        .sync(vec![item("doc-z", "still more work")], None)
        .expect("push");
    let backup = hold_snapshot(&relay);
    let again = erased(&lead, "doc-d");
    assert_eq!(again.seq, 1);

    // An erasure the backup keeps from emptying the WAL is retried at the next erasure too.
    let answer = erase(&lead, "doc-e");
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(!holding(&canary_e).is_empty());
    drop(backup);
    let again = erased(&lead, "doc-e");
    assert_eq!(again.seq, 2);
    assert_eq!(
        holding(&canary_e),
        Vec::<&str>::new(),
        "erasing again carried out the checkpoint still owed"
    );
}

/// A lead's device made to loop (buggy, or stolen) cannot fill the disk every team shares with
/// invites or with orders for made-up ids: a team keeps at most a sixteenth of its quota of
/// each, at 2 KiB a row, at least 64 (409, saying why and what to do); another team is not held
/// back.
#[test]
fn a_leads_device_cannot_make_invites_or_orders_without_end() {
    // A quota of 128 KiB: 64 invites and 64 erasure orders a team (the least there is).
    let relay = Relay::start_with(&["--max-team-bytes", "128KiB"]);
    let (lead, _) = relay.team_with_lead("Looping", 0);
    let (other, _) = relay.team_with_lead("Other", 0);
    let invite = |device: &Device| {
        device.post(
            "/v1/invites",
            &InviteRequest {
                uses: 1,
                expires_in_secs: 60,
                role: Role::Canvasser,
                sealed_keys: None,
                key_parts: Vec::new(),
                request: None,
            },
        )
    };
    // The operator's first invite is one of them.
    for _ in 0..63 {
        let made = invite(&lead);
        assert_eq!(made.status, 200, "{made:?}");
    }
    let refused = invite(&lead);
    assert_eq!(refused.status, 409, "{refused:?}");
    let message = &refused.error().error;
    assert!(
        message.contains("64 invites") && message.contains("--uses") && message.contains("revoke"),
        "{message}"
    );
    let theirs = invite(&other);
    assert_eq!(
        theirs.status, 200,
        "another team is not held back: {theirs:?}"
    );

    for i in 1..=64 {
        erased(&lead, &format!("made-up-{i}"));
    }
    let refused = erase(&lead, "made-up-65");
    assert_eq!(refused.status, 409, "{refused:?}");
    let message = &refused.error().error;
    assert!(
        message.contains("64 erasure orders") && message.contains("nothing was erased"),
        "{message}"
    );
    // An order given again is no new order; the team's orders are the 64.
    assert_eq!(erased(&lead, "made-up-2").seq, 2);
    let orders: ErasureList = lead.get("/v1/erasures?after=0").json();
    assert_eq!(orders.head, 64);
    erased(&other, "made-up-65");
}
