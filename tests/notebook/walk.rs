//! Walk lists: importing street lists into a real notebook (hostile CSV, re-imports), marking
//! doors, do-not-knock across lists, concurrent marks from three devices through a real relay,
//! deleting a list everywhere, and the command line.

use std::cell::RefCell;

use groundwork::model::{Outcome, PersonField};
use groundwork::store::Store;
use groundwork::store::walklists::{Mark, WalkListView};
use groundwork::sync::{self, team};
use groundwork::walk::import;

use super::sync::{Device, TestRelay, transport};

fn mark(outcome: Outcome) -> Mark {
    Mark {
        outcome,
        note: None,
        at: None,
        come_back_at: None,
    }
}

fn talk(person_id: &str) -> groundwork::model::NewConversation {
    groundwork::model::NewConversation {
        person_id: person_id.to_string(),
        kind: groundwork::model::ConversationKind::Doorstep,
        at: None,
        canvasser: None,
        shift_id: None,
        issues: Vec::new(),
        story: None,
        notes: None,
        engagement: None,
        follow_up: None,
    }
}

fn import_into(
    store: &mut Store,
    name: &str,
    csv: &str,
) -> groundwork::store::walklists::ImportReport {
    let read = import::read(csv.as_bytes(), &[]).unwrap();
    store
        .import_walklist(name, Some("list.csv"), &read)
        .unwrap()
}

const ELM: &str = "\u{feff}Elector No,Name,House No,Street,Flat,Postcode\n\
E1,Amina Khan,12,Elm Road,,ls1 2ab\n\
\n\
E2,\"Nowak, Piotr\",12,Elm Road,,LS1 2AB\n\
E3,Zoë Ørsted,3,Elm Road,,LS1 2AB\n\
E4,李伟,10,Elm Road,,LS1 2AB\n\
E5,Ann Ray,2A,Elm Road,,LS1 2AB\n\
E6,\"Lee\nSam\",2,Elm Road,,LS1 2AB\n\
E1,Amina Khan,12,Elm Road,,LS1 2AB\n\
E7,Ola Bo,1,Oak Court,Flat 10 Floor 2,LS1 3CD\n\
E8,Ed Ko,1,Oak Court,Flat 2 Floor 2,LS1 3CD\n\
E9,Al Di,1,Oak Court,Flat 1 Ground floor,LS1 3CD\n";

#[test]
fn a_hostile_list_imports_whole_and_a_second_import_adds_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let first = import_into(&mut store, "Elm Road", ELM);
    assert!(first.created);
    assert_eq!(first.rows, 10, "the blank row is not a row");
    assert_eq!(first.doors, 8);
    assert_eq!(first.doors_added, 8);
    assert_eq!(
        first.residents_added, 9,
        "the repeated E1 row is one resident"
    );
    assert_eq!(first.residents_already, 1);

    // The same file again, under the name in other letters: the same list, nothing added.
    let again = import_into(&mut store, "  elm road ", ELM);
    assert_eq!(again.id, first.id);
    assert!(!again.created);
    assert_eq!(again.name, "Elm Road");
    assert_eq!((again.doors_added, again.residents_added), (0, 0));
    assert_eq!(again.doors_already, 8);
    // A newer extract naming one more resident at a door the list has, and one more door.
    let newer =
        format!("{ELM}E10,New Person,3,Elm Road,,LS1 2AB\nE11,Next Door,5,Elm Road,,LS1 2AB\n");
    let third = import_into(&mut store, "Elm Road", &newer);
    assert_eq!((third.doors_added, third.residents_added), (1, 2));

    let view = store.walklist(&first.id).unwrap();
    assert_eq!(view.progress.total, 9);
    let order: Vec<&str> = view.doors.iter().map(|d| d.door.address.as_str()).collect();
    assert_eq!(
        order,
        [
            "3 Elm Road, LS1 2AB",
            "5 Elm Road, LS1 2AB",
            "2 Elm Road, LS1 2AB",
            "2A Elm Road, LS1 2AB",
            "10 Elm Road, LS1 2AB",
            "12 Elm Road, LS1 2AB",
            "Flat 1 Ground floor, 1 Oak Court, LS1 3CD",
            "Flat 2 Floor 2, 1 Oak Court, LS1 3CD",
            "Flat 10 Floor 2, 1 Oak Court, LS1 3CD",
        ],
        "odd side, then even in natural order, then the block floor by floor"
    );
    let twelve = &view.doors[5];
    let names: Vec<&str> = twelve.residents.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["Amina Khan", "Nowak, Piotr"]);
    let three = &view.doors[0];
    let names: Vec<&str> = three.residents.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["Zoë Ørsted", "New Person"]);
    assert_eq!(view.doors[4].residents[0].name, "李伟");
    assert_eq!(
        view.doors[2].residents[0].name, "Lee Sam",
        "a quoted line break is a space"
    );
    assert_eq!(view.doors[7].floor, Some(2));
    assert_eq!(view.next.as_deref(), Some(view.doors[0].door.id.as_str()));

    // A file with a row that names no door imports nothing, even into an existing list.
    let bad = format!("{ELM}E12,Nobody,,,,\n");
    let err = import::read(bad.as_bytes(), &[]).unwrap_err();
    assert!(err.to_string().contains("line(s) 14"), "{err}");
    assert_eq!(store.walklist(&first.id).unwrap().progress.total, 9);
    // Reopened from disk, the list is all there.
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.walklist(&first.id).unwrap().doors.len(), 9);
}

/// The addresses of `view`'s doors that are not to be knocked (on this list or another).
fn do_not_knock(view: &groundwork::store::walklists::WalkListView) -> Vec<&str> {
    view.doors
        .iter()
        .filter(|d| d.do_not_knock)
        .map(|d| d.door.address.as_str())
        .collect()
}

/// A register with no flat column, the flat in its first address line (or before the street
/// in one line), as many councils' extracts come.
const FLATS: &str = "Address 1,Address 2,Postcode,Elector No\n\
Flat 10,4 Elm Road,LS1 2AB,F1\n\
Flat 2,4 Elm Road,LS1 2AB,F2\n\
\"Flat 1, 4 Elm Road\",,LS1 2AB,F3\n\
Ground floor flat,4 Elm Road,LS1 2AB,F4\n\
3 Elm Road,,LS1 2AB,F5\n";

#[test]
fn flats_in_the_address_lines_walk_floor_by_floor_and_import_again_as_the_same_doors() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let first = import_into(&mut store, "Elm Road flats", FLATS);
    assert_eq!(first.doors_added, 5);
    let view = store.walklist(&first.id).unwrap();
    let order: Vec<(&str, Option<&str>, Option<i64>)> = view
        .doors
        .iter()
        .map(|d| (d.door.address.as_str(), d.door.flat.as_deref(), d.floor))
        .collect();
    assert_eq!(
        order,
        [
            ("3 Elm Road, LS1 2AB", None, None),
            (
                "Ground floor flat, 4 Elm Road, LS1 2AB",
                Some("Ground floor flat"),
                Some(0)
            ),
            ("Flat 1, 4 Elm Road, LS1 2AB", Some("Flat 1"), None),
            ("Flat 2, 4 Elm Road, LS1 2AB", Some("Flat 2"), None),
            ("Flat 10, 4 Elm Road, LS1 2AB", Some("Flat 10"), None),
        ],
        "the flats of number 4 together, in order, whichever way the row wrote them"
    );
    // Do-not-knock at a flat reaches the same flat on another list of the same register.
    let flat_two = view.doors[3].door.id.clone();
    store
        .mark_doors(std::slice::from_ref(&flat_two), &mark(Outcome::DoNotKnock))
        .unwrap();
    let other = import_into(&mut store, "Elm Road again", FLATS);
    let there = store.walklist(&other.id).unwrap();
    assert_eq!(do_not_knock(&there), ["Flat 2, 4 Elm Road, LS1 2AB"]);
    // Imported again: the same doors, nothing added.
    let again = import_into(&mut store, "Elm Road flats", FLATS);
    assert_eq!((again.doors_added, again.doors_already), (0, 5));
}

#[test]
fn marks_set_status_progress_and_do_not_knock_reaches_every_list() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let elm = import_into(&mut store, "Elm Road", ELM).id;
    let other = import_into(&mut store, "Elm Road again", ELM).id;
    let view = store.walklist(&elm).unwrap();
    let ids = view.door_ids();

    // A row of "not home" in one tap.
    let visits = store
        .mark_doors(&ids[0..3], &mark(Outcome::NotHome))
        .unwrap();
    assert_eq!(visits.len(), 3);
    assert_eq!(visits[1].door_id, ids[1]);
    // The second knock at the first door is answered: the latest visit is its status.
    let later = Mark {
        at: Some(chrono::Utc::now() + chrono::Duration::minutes(5)),
        note: Some("  rent is the issue ".into()),
        ..mark(Outcome::Answered)
    };
    store.mark_doors(&ids[0..1], &later).unwrap();
    store
        .mark_doors(&ids[3..4], &mark(Outcome::DoNotKnock))
        .unwrap();
    let view = store.walklist(&elm).unwrap();
    assert_eq!(view.doors[0].status, Some(Outcome::Answered));
    assert_eq!(view.doors[0].visits, 2, "every visit is kept");
    assert_eq!(view.progress.knocked, 3);
    assert_eq!(view.progress.answered, 1);
    assert_eq!(view.progress.do_not_knock, 1);
    assert_eq!(view.progress.to_knock, 4);
    assert_eq!(view.next.as_deref(), Some(ids[4].as_str()));

    // The other list holds the same addresses: the do-not-knock shows there too, and only
    // there where the address is the same.
    let there = store.walklist(&other).unwrap();
    assert_eq!(do_not_knock(&there), [view.doors[3].door.address.as_str()]);
    assert_eq!(there.doors[3].status, None, "its own history is its own");
    assert_ne!(there.next.as_deref(), Some(there.doors[3].door.id.as_str()));

    // Bad marks change nothing.
    let before = store.walklist(&elm).unwrap();
    let unknown = store.mark_doors(
        &[
            ids[5].clone(),
            "01a239d4-7269-764d-92a3-000000000000".into(),
        ],
        &mark(Outcome::Moved),
    );
    assert!(unknown.unwrap_err().to_string().contains("no door with id"));
    assert!(
        store
            .mark_doors(&["12".into()], &mark(Outcome::Moved))
            .is_err()
    );
    let when_not_come_back = Mark {
        come_back_at: Some(chrono::Utc::now()),
        ..mark(Outcome::Refused)
    };
    let refused = store
        .mark_doors(&ids[5..6], &when_not_come_back)
        .unwrap_err()
        .to_string();
    assert!(refused.contains("--outcome come-back"), "{refused}");
    assert_eq!(store.walklist(&elm).unwrap(), before);
}

#[test]
fn concurrent_marks_from_three_devices_converge_through_a_relay() {
    let relay = TestRelay::start();
    let (_, invite) = relay.team(3);
    let mut a = Device::joined(&relay.url, &invite, "A");
    let mut b = Device::joined(&relay.url, &invite, "B");
    let mut c = Device::joined(&relay.url, &invite, "C");
    let list = import_into(&mut a.store, "Elm Road", ELM).id;
    a.sync();
    b.sync();
    c.sync();
    let ids = b.store.walklist(&list).unwrap().door_ids();
    assert_eq!(ids.len(), 8);
    a.store.set_canvasser_name("Sam").unwrap();
    b.store.set_canvasser_name("Joy").unwrap();
    c.store.set_canvasser_name("Ravi").unwrap();
    // A mark writes only its visit's row; a device taking the change in projects the whole
    // list from the document: both give the same list.
    a.store
        .mark_doors(&ids[5..7], &mark(Outcome::NoAccess))
        .unwrap();
    a.sync();
    b.sync();
    assert_eq!(
        a.store.walklist(&list).unwrap(),
        b.store.walklist(&list).unwrap()
    );
    // All three mark the same door at once, offline; and each some doors of their own.
    let at = |m: i64| Some(chrono::Utc::now() + chrono::Duration::minutes(m));
    a.store
        .mark_doors(
            &ids[0..1],
            &Mark {
                at: at(1),
                ..mark(Outcome::NotHome)
            },
        )
        .unwrap();
    b.store
        .mark_doors(
            &ids[0..1],
            &Mark {
                at: at(3),
                ..mark(Outcome::Answered)
            },
        )
        .unwrap();
    c.store
        .mark_doors(
            &ids[0..1],
            &Mark {
                at: at(2),
                ..mark(Outcome::Refused)
            },
        )
        .unwrap();
    a.store
        .mark_doors(&ids[1..3], &mark(Outcome::NotHome))
        .unwrap();
    b.store
        .mark_doors(&ids[3..4], &mark(Outcome::DoNotKnock))
        .unwrap();
    c.store
        .mark_doors(&ids[4..5], &mark(Outcome::Moved))
        .unwrap();
    for _ in 0..2 {
        a.sync();
        b.sync();
        c.sync();
    }
    let views: Vec<WalkListView> = [&a, &b, &c]
        .iter()
        .map(|d| d.store.walklist(&list).unwrap())
        .collect();
    assert_eq!(views[0], views[1]);
    assert_eq!(views[1], views[2]);
    let first = &views[0].doors[0];
    assert_eq!(first.visits, 3, "every device's visit is kept");
    assert_eq!(
        first.status,
        Some(Outcome::Answered),
        "the latest visit wins"
    );
    assert_eq!(first.status_by.as_deref(), Some("Joy"));
    assert!(views[0].doors[3].do_not_knock);
    assert_eq!(views[0].progress.knocked, 4);
    assert_eq!(views[0].progress.answered, 1);

    // A's list document was kept loaded after its marks; it has since taken in B's and C's.
    // A's next mark must build on the document as it is now, not as A last wrote it: after
    // one more round, every visit is still in A's document (a full projection of it, made
    // when C's next mark arrives, would drop the rows of visits it lost).
    a.store
        .mark_doors(&ids[7..8], &mark(Outcome::Refused))
        .unwrap();
    a.sync();
    c.store
        .mark_doors(&ids[6..7], &mark(Outcome::Moved))
        .unwrap();
    c.sync();
    a.sync();
    b.sync();
    let after_a = a.store.walklist(&list).unwrap();
    assert_eq!(after_a, b.store.walklist(&list).unwrap());
    assert_eq!(after_a.doors[0].visits, 3);
    assert_eq!(after_a.doors[3].status, Some(Outcome::DoNotKnock));
}

#[test]
fn a_deleted_walk_list_goes_from_every_device_and_the_relay() {
    let relay = TestRelay::start();
    let (team_id, invite) = relay.team(1);
    let mut lead = Device::joined(&relay.url, &invite, "Lead");
    let mut canvasser = Device::joined(&relay.url, &relay.invite(&team_id, 1), "Phone");
    let list = import_into(&mut lead.store, "Elm Road", ELM).id;
    lead.sync();
    canvasser.sync();
    let door = canvasser.store.walklist(&list).unwrap().doors[0]
        .door
        .id
        .clone();
    canvasser
        .store
        .mark_doors(std::slice::from_ref(&door), &mark(Outcome::NotHome))
        .unwrap();
    canvasser.sync();

    // A canvasser may not delete it.
    let refused = {
        let nb = RefCell::new(&mut canvasser.store);
        sync::block_on(team::delete_walklist(&nb, &transport(), &list))
    };
    assert!(refused.is_err());
    assert!(canvasser.store.walklist(&list).is_ok());

    let outcome = {
        let nb = RefCell::new(&mut lead.store);
        sync::block_on(team::delete_walklist(&nb, &transport(), &list)).unwrap()
    };
    assert_eq!(outcome.erased, list);
    assert!(
        relay.blobs_of(&list).is_empty(),
        "the relay keeps none of its blobs"
    );
    canvasser.sync();
    for store in [&mut lead.store, &mut canvasser.store] {
        assert!(store.walklist(&list).is_err());
        assert!(store.walklists().unwrap().is_empty());
        let marked = store.mark_doors(std::slice::from_ref(&door), &mark(Outcome::Answered));
        assert!(marked.unwrap_err().to_string().contains("no door with id"));
    }
    // The residents' names are gone from the notebook's file and journal too.
    let dir = canvasser.dir();
    drop(canvasser.store);
    for file in std::fs::read_dir(&dir).unwrap() {
        let bytes = std::fs::read(file.unwrap().path()).unwrap();
        assert!(!bytes.windows(10).any(|w| w == b"Amina Khan"));
    }
}

#[test]
fn the_command_line_imports_shows_marks_and_starts_a_shift_on_a_list() {
    use super::{groundwork, ok};
    let dir = tempfile::tempdir().unwrap();
    let nb = dir.path().join("nb");
    let csv = dir.path().join("elm.csv");
    std::fs::write(
        &csv,
        "Prop No,Road,Post Code,Voter\n12,Elm Road,LS1 2AB,Amina Khan\n",
    )
    .unwrap();
    let csv_arg = csv.to_str().unwrap();
    // "Prop No" is not a known header: the preview says how it would read, then --map.
    let preview: serde_json::Value = serde_json::from_str(&ok(
        &nb,
        &[
            "walklist",
            "import",
            "--name",
            "Elm",
            "--csv",
            csv_arg,
            "--preview",
        ],
    ))
    .unwrap();
    assert_eq!(preview["doors"], 1);
    assert_eq!(preview["columns"][0][0], "Prop No");
    assert!(preview["columns"][0][1].is_null(), "{preview}");
    assert!(
        ok(&nb, &["walklist", "list"]).trim() == "[]",
        "a preview imports nothing"
    );
    let out: serde_json::Value = serde_json::from_str(&ok(
        &nb,
        &[
            "walklist",
            "import",
            "--name",
            "Elm",
            "--csv",
            csv_arg,
            "--map",
            "Prop No=number",
        ],
    ))
    .unwrap();
    assert_eq!(out["doors_added"], 1);
    let id = out["id"].as_str().unwrap().to_string();
    let shown: serde_json::Value =
        serde_json::from_str(&ok(&nb, &["walklist", "show", &id])).unwrap();
    assert_eq!(shown["doors"][0]["address"], "12 Elm Road, LS1 2AB");
    assert_eq!(shown["total"], 1);
    let door = shown["doors"][0]["id"].as_str().unwrap().to_string();
    let shift = ok(&nb, &["shift", "start", "--walklist", &id]);
    let visits: serde_json::Value = serde_json::from_str(&ok(
        &nb,
        &[
            "door",
            "mark",
            &door,
            "--outcome",
            "come back",
            "--come-back-at",
            "2026-12-04T18:00:00Z",
        ],
    ))
    .unwrap();
    assert_eq!(visits[0]["outcome"], "come-back");
    assert_eq!(visits[0]["shift_id"], shift.trim());
    let shifts: serde_json::Value = serde_json::from_str(&ok(&nb, &["shift", "list"])).unwrap();
    assert_eq!(shifts[0]["place"], "Elm");
    assert_eq!(shifts[0]["walklist_id"], id.as_str());
    // Bad input: exit 1 with a message saying what to do.
    let bad = groundwork(&nb, &["door", "mark", &door, "--outcome", "gone fishing"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("use one of not-home"));
    let missing = groundwork(
        &nb,
        &[
            "walklist",
            "import",
            "--name",
            "X",
            "--csv",
            "/nonexistent.csv",
        ],
    );
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent.csv"));
    // Without a team, delete removes it from this notebook.
    ok(&nb, &["walklist", "delete", &id]);
    assert_eq!(ok(&nb, &["walklist", "list"]).trim(), "[]");
}

#[test]
fn the_shift_report_and_the_door_export_count_the_doors() {
    use groundwork::export::{self, Format, Options, What};
    use groundwork::report::{self, Scope};
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let list = import_into(&mut store, "Elm Road", ELM).id;
    let ids = store.walklist(&list).unwrap().door_ids();
    // Before the shift: a door marked outside it does not count.
    store
        .mark_doors(&ids[7..8], &mark(Outcome::Answered))
        .unwrap();
    // A conversation recorded before any shift on the list is not one of its conversations.
    let ana = store
        .add_person(groundwork::model::NewPerson::new().put(PersonField::Name, "Ana Lee"))
        .unwrap();
    store.record_conversation(talk(&ana), Vec::new()).unwrap();
    store.set_canvasser_name("Sam").unwrap();
    let shift = store.start_shift_on("", None, None, Some(&list)).unwrap();
    // A second canvasser on the same phone, Joy, only marks doors.
    for (who, doors, outcome) in [
        ("Sam", 0..3, Outcome::NotHome),
        ("Sam", 0..1, Outcome::Answered),
        ("Sam", 3..4, Outcome::NoAccess),
        ("Joy", 4..5, Outcome::Refused),
        ("Joy", 5..6, Outcome::Answered),
        ("Joy", 6..7, Outcome::DoNotKnock),
    ] {
        store.set_canvasser_name(who).unwrap();
        store.mark_doors(&ids[doors], &mark(outcome)).unwrap();
    }
    // Sam's answered door became a conversation in the shift.
    store.set_canvasser_name("Sam").unwrap();
    store.record_conversation(talk(&ana), Vec::new()).unwrap();
    let progress = store.walklist(&list).unwrap().progress;
    assert_eq!(progress.conversations, 1);
    assert_eq!((progress.knocked, progress.answered), (6, 3));
    assert_eq!(store.walklists().unwrap()[0].progress, progress);

    let today = chrono::Utc::now().date_naive();
    let r = report::shift_report(&store, &Scope::Shift(shift.clone()), today, None).unwrap();
    let team = &r.team.doors;
    assert_eq!(team.visits, 8);
    assert_eq!(
        team.knocked, 5,
        "doors 0-2, 4, 5: no-access and do-not-knock are not knocks"
    );
    assert_eq!(team.answered, 2);
    assert_eq!(team.contact_rate, Some(2.0 / 5.0));
    assert_eq!(team.outcomes["not-home"], 3);
    assert_eq!(team.outcomes["answered"], 2);
    assert_eq!(team.outcomes["no-access"], 1);
    assert_eq!(team.outcomes["do-not-knock"], 1);
    assert!(!team.outcomes.contains_key("moved"));
    let sam = &r.canvassers["Sam"].doors;
    assert_eq!((sam.visits, sam.knocked, sam.answered), (5, 3, 1));
    let joy = &r.canvassers["Joy"].doors;
    assert_eq!((joy.visits, joy.knocked, joy.answered), (3, 2, 1));
    assert_eq!(joy.contact_rate, Some(0.5));
    assert_eq!(r.canvassers["Joy"].conversations, 0);
    assert_eq!(r.canvassers["Sam"].conversations, 1);

    // The door export: every door but the do-not-knock one, unless asked.
    let mut out = Vec::new();
    export::write_with(
        &store,
        What::Doors,
        Format::Csv,
        Options::default(),
        &mut out,
    )
    .unwrap();
    let csv = String::from_utf8(out).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "id,walklist_id,address,number,street,flat,town,postcode,residents,status,status_at,status_by,come_back_at,visits,do_not_knock"
    );
    assert_eq!(lines.count(), 7);
    assert!(
        csv.contains("\"Amina Khan (E1); Nowak, Piotr (E2)\""),
        "{csv}"
    );
    assert!(!csv.contains("ls12ab"), "the match key is not exported");
    let mut out = Vec::new();
    let all = Options {
        include_do_not_contact: true,
    };
    export::write_with(&store, What::Doors, Format::Json, all, &mut out).unwrap();
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out).unwrap();
    assert_eq!(rows.len(), 8);
    assert_eq!(rows.iter().filter(|r| r["do_not_knock"] == true).count(), 1);
}

#[test]
fn a_big_list_syncs_whole_to_a_new_phone_in_an_encrypted_team() {
    let relay = TestRelay::start();
    let (_, invite) = relay.team(2);
    let mut lead = Device::joined(&relay.url, &invite, "Lead");
    let mut csv = String::from("House No,Street,Flat,Name\n");
    for i in 1..=1_200 {
        let street = ["Elm Road", "Oak Avenue", "Mill Lane"][i % 3];
        let flat = if i % 7 == 0 {
            format!("Flat {}", i % 5 + 1)
        } else {
            String::new()
        };
        csv.push_str(&format!("{},{street},{flat},Resident {i}\n", i / 3 + 1));
    }
    let report = import_into(&mut lead.store, "Ward", &csv);
    assert_eq!(report.doors_added, 1_200);
    assert!(lead.store.sealed().unwrap());
    lead.sync();
    let mut phone = Device::joined(&relay.url, &invite, "Phone");
    phone.sync();
    let there = phone.store.walklist(&report.id).unwrap();
    assert_eq!(there.progress.total, 1_200);
    assert_eq!(there, lead.store.walklist(&report.id).unwrap());
    assert!(phone.store.quarantined().unwrap().is_empty());
}

/// Nothing links a walk list's resident to a person of the notebook: a person added at their
/// door (as the Walk screen's "Who answered" adds them: a name and the door's address) is a
/// file of their own, and neither side holds the other's id. So their subject access export
/// says nothing of the register's entry (no guess by name), and erasing them leaves the entry
/// as the register gives it (README, "Team roles and erasure"): deleting the list removes it.
#[test]
fn a_person_added_at_a_door_is_not_the_register_s_entry_and_their_erasure_leaves_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let csv = "Elector No,Name,House No,Street,Postcode\nELM-0042,Amina Khan,12,Elm Road,LS1 2AB\n";
    let list = import_into(&mut store, "Elm Road", csv).id;
    let door = store.walklist(&list).unwrap().doors[0].clone();
    let person = store
        .add_person(
            groundwork::model::NewPerson::named("Amina Khan")
                .put(PersonField::Address, door.door.address.clone()),
        )
        .unwrap();
    store
        .record_conversation(talk(&person), Vec::new())
        .unwrap();

    let export =
        serde_json::to_string(&groundwork::export::subject_access(&store, &person).unwrap())
            .unwrap();
    for register in ["ELM-0042", list.as_str(), door.door.id.as_str()] {
        assert!(!export.contains(register), "{register} in {export}");
    }

    store.erase_person_locally(&person).unwrap();
    let doors = |store: &Store| {
        let mut out = Vec::new();
        groundwork::export::write(
            store,
            groundwork::export::What::Doors,
            groundwork::export::Format::Json,
            &mut out,
        )
        .unwrap();
        String::from_utf8(out).unwrap()
    };
    let residents = &store.walklist(&list).unwrap().doors[0].residents;
    assert_eq!(residents.len(), 1);
    assert_eq!(residents[0].name, "Amina Khan");
    assert!(doors(&store).contains("ELM-0042"), "{}", doors(&store));
    // The register's entries are the register's: the list's deletion takes them.
    store
        .erase_locally(&list, groundwork::docs::DocKind::WalkList)
        .unwrap();
    assert!(!doors(&store).contains("ELM-0042"), "{}", doors(&store));
    assert!(super::erasure::tables_naming(&store, "ELM-0042").is_empty());
}
