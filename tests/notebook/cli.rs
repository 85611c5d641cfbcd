//! The command line, driven as a user would drive it.

use serde_json::Value;

use super::{groundwork, ok};

fn json(s: &str) -> Value {
    serde_json::from_str(s).expect("valid JSON on stdout")
}

/// Commitments made in a conversation on a campaign's shift count towards the campaign, and
/// towards a target when given as its label, due on the follow-up date: as in the app.
#[test]
fn commitments_made_in_a_conversation_count_towards_the_shifts_campaign() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let person = ok(d, &["person", "add", "--name", "Amina Yusuf"])
        .trim()
        .to_string();
    let campaign = ok(
        d,
        &[
            "campaign",
            "add",
            "--name",
            "Fix the heating",
            "--target",
            "letters signed=20",
        ],
    )
    .trim()
    .to_string();
    ok(
        d,
        &[
            "shift",
            "start",
            "--place",
            "Elm Road",
            "--campaign",
            &campaign,
        ],
    );
    ok(
        d,
        &[
            "conversation",
            "add",
            "--person",
            &person,
            "--kind",
            "doorstep",
            "--at",
            "2026-03-14T05:15:00Z",
            "--commitment",
            "letters signed",
            "--commitment",
            "bring a friend",
        ],
    );
    ok(d, &["shift", "end"]);
    let made = json(&ok(d, &["commitment", "list"]));
    let made = made.as_array().unwrap();
    assert_eq!(made.len(), 2);
    for c in made {
        assert_eq!(c["campaign_id"], campaign.as_str(), "{c}");
        assert_eq!(c["due"], "2026-03-16", "due with the follow-up: {c}");
    }
    let target = |what: &str| {
        made.iter()
            .find(|c| c["what"] == what)
            .map(|c| c["target"].clone())
            .unwrap()
    };
    assert_eq!(target("letters signed"), "letters signed");
    assert_eq!(target("bring a friend"), Value::Null);
    let report = json(&ok(
        d,
        &["report", "campaign", &campaign, "--format", "json"],
    ));
    assert_eq!(report["targets"][0]["made"], 1, "{report:#}");
    assert_eq!(
        report["other_asks"][0]["ask"], "bring a friend",
        "{report:#}"
    );
    assert_eq!(
        report["trend"][0]["made"], 2,
        "both made on the shift: {report:#}"
    );

    // A shift whose campaign was deleted since: its commitments count towards none, and the
    // conversation is recorded all the same.
    ok(
        d,
        &[
            "shift",
            "start",
            "--place",
            "Birch Street",
            "--campaign",
            &campaign,
        ],
    );
    ok(d, &["campaign", "delete", &campaign]);
    ok(
        d,
        &[
            "conversation",
            "add",
            "--person",
            &person,
            "--kind",
            "doorstep",
            "--commitment",
            "LETTERS SIGNED",
        ],
    );
    let all = json(&ok(d, &["commitment", "list"]));
    let last = all
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["what"] == "LETTERS SIGNED")
        .unwrap();
    assert_eq!(last["campaign_id"], Value::Null, "{last}");
}

#[test]
fn a_breakfast_meeting_recorded_searched_and_exported() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(d, &["settings", "--name", "Sam"]);
    let person = ok(
        d,
        &[
            "person",
            "add",
            "--name",
            "Amina Yusuf",
            "--phone",
            "07700 900123",
            "--workplace",
            "University cleaning",
            "--area",
            "Castle Estate",
            "--tag",
            "Cleaner",
            "--consent",
            "phone",
            "--consent",
            "sms",
        ],
    )
    .trim()
    .to_string();
    let campaign = ok(
        d,
        &[
            "campaign",
            "add",
            "--name",
            "Living wage",
            "--issue",
            "Living Wage",
            "--target",
            "letters signed=50",
            "--target",
            "at the delivery=100",
        ],
    )
    .trim()
    .to_string();
    let shift = ok(
        d,
        &[
            "shift",
            "start",
            "--place",
            "Uni staff canteen breakfast",
            "--campaign",
            &campaign,
        ],
    )
    .trim()
    .to_string();
    let conversation = ok(
        d,
        &[
            "conversation",
            "add",
            "--person",
            &person,
            "--kind",
            "breakfast-meeting",
            "--at",
            "2026-03-14T05:15:00Z",
            "--story",
            "Works two jobs, \"still short\", every month",
            "--issue",
            "living wage",
            "--issue",
            "sick pay",
            "--engagement",
            "4",
            "--commitment",
            "sign the letter",
        ],
    )
    .trim()
    .to_string();
    let commitment = ok(
        d,
        &[
            "commitment",
            "add",
            "--person",
            &person,
            "--what",
            "come to the delivery",
            "--due",
            "2026-03-20",
            "--conversation",
            &conversation,
            "--campaign",
            &campaign,
        ],
    )
    .trim()
    .to_string();
    ok(d, &["shift", "end"]);

    let file = json(&ok(d, &["person", "show", &person]));
    assert_eq!(file["name"], "Amina Yusuf");
    assert_eq!(file["tags"], serde_json::json!(["cleaner"]));
    assert!(file["consent"]["sms"].is_string());
    assert_eq!(file["conflicts"], serde_json::json!({}));
    let conv = &file["conversations"][0];
    assert_eq!(conv["id"], conversation.as_str());
    assert_eq!(conv["kind"], "breakfast-meeting");
    assert_eq!(conv["canvasser"], "Sam");
    assert_eq!(conv["shift_id"], shift.as_str());
    assert_eq!(conv["engagement"], 4);
    assert_eq!(conv["follow_up"], "2026-03-16", "48 hours later by default");
    assert_eq!(file["commitments"].as_array().unwrap().len(), 2);

    for query in [
        "amina",
        "wage",
        "still short",
        "univ",
        "07700900",
        "+44 7700 900123",
        "castle",
    ] {
        let hits = json(&ok(d, &["search", query]));
        assert_eq!(hits[0]["id"], person.as_str(), "search {query:?}");
    }
    assert_eq!(json(&ok(d, &["search", "hospital"])), serde_json::json!([]));

    ok(d, &["commitment", "set", &commitment, "--status", "kept"]);
    let open = json(&ok(d, &["commitment", "list", "--status", "open"]));
    assert_eq!(open.as_array().unwrap().len(), 1);
    assert_eq!(open[0]["what"], "sign the letter");
    let due = json(&ok(
        d,
        &["commitment", "list", "--due-before", "2026-03-21"],
    ));
    // The commitment made in the conversation is due with its follow-up, on the 16th.
    assert_eq!(due[0]["what"], "sign the letter");
    assert_eq!(due[0]["due"], "2026-03-16");
    assert_eq!(due[1]["id"], commitment.as_str());
    assert_eq!(due[1]["status"], "kept");

    let csv_text = ok(d, &["export", "--what", "conversations", "--format", "csv"]);
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let headers = reader.headers().unwrap().clone();
    let row = reader.records().next().unwrap().unwrap();
    let get = |h: &str| {
        row.get(headers.iter().position(|x| x == h).unwrap())
            .unwrap()
            .to_string()
    };
    assert_eq!(get("story"), "Works two jobs, \"still short\", every month");
    assert_eq!(get("issues"), "living wage; sick pay");
    let exported = json(&ok(
        d,
        &["export", "--what", "campaigns", "--format", "json"],
    ));
    assert_eq!(exported[0]["targets"]["at the delivery"], 100);
    assert_eq!(exported[0]["issue"], "living wage");

    let people = json(&ok(d, &["person", "list", "--limit", "5"]));
    assert_eq!(people.as_array().unwrap().len(), 1);
}

#[test]
fn edits_change_only_what_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let id = ok(
        d,
        &[
            "person",
            "add",
            "--name",
            "Rosa Costa",
            "--phone",
            "123",
            "--tag",
            "a",
            "--consent",
            "email",
        ],
    )
    .trim()
    .to_string();
    let after = json(&ok(
        d,
        &[
            "person",
            "edit",
            &id,
            "--email",
            "rosa@example.org",
            "--phone",
            "",
            "--tag",
            "b",
            "--untag",
            "a",
            "--withdraw-consent",
            "email",
            "--do-not-contact",
        ],
    ));
    assert_eq!(after["name"], "Rosa Costa");
    assert_eq!(after["email"], "rosa@example.org");
    assert_eq!(after["phone"], Value::Null);
    assert_eq!(after["tags"], serde_json::json!(["b"]));
    assert_eq!(after["consent"], serde_json::json!({}));
    assert_eq!(after["do_not_contact"], true);
    let again = json(&ok(d, &["person", "edit", &id, "--allow-contact"]));
    assert_eq!(again["do_not_contact"], false);
}

#[test]
fn bad_input_is_refused_with_a_message_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let id = ok(d, &["person", "add", "--name", "Kofi Boateng"])
        .trim()
        .to_string();
    let before = ok(d, &["export", "--what", "people"]);
    let unknown = "0192f0c4-7b1e-7c3a-9d2e-3f4a5b6c7d8e";
    let cases: &[(&[&str], &str)] = &[
        (
            &["person", "add", "--name", " "],
            "Name cannot be left empty",
        ),
        (&["person", "show", unknown], "no person with id"),
        (&["person", "show", "42"], "invalid id"),
        (
            &["person", "add", "--name", "X", "--consent", "pigeon"],
            "unknown consent channel",
        ),
        (
            &["conversation", "add", "--person", &id, "--kind", "chat"],
            "unknown conversation kind",
        ),
        (
            &[
                "conversation",
                "add",
                "--person",
                &id,
                "--kind",
                "phone",
                "--engagement",
                "6",
            ],
            "engagement must be",
        ),
        (
            &[
                "conversation",
                "add",
                "--person",
                &id,
                "--kind",
                "phone",
                "--engagement",
                "0",
            ],
            "engagement must be",
        ),
        (
            &[
                "conversation",
                "add",
                "--person",
                &id,
                "--kind",
                "phone",
                "--at",
                "yesterday",
            ],
            "invalid time",
        ),
        (
            &[
                "conversation",
                "add",
                "--person",
                &id,
                "--kind",
                "phone",
                "--follow-up",
                "2026-02-30",
            ],
            "invalid date",
        ),
        (
            &[
                "conversation",
                "add",
                "--person",
                unknown,
                "--kind",
                "phone",
            ],
            "no person with id",
        ),
        (
            &["commitment", "set", unknown, "--status", "kept"],
            "no commitment with id",
        ),
        (
            &["commitment", "list", "--status", "maybe"],
            "unknown commitment status",
        ),
        (
            &[
                "commitment",
                "add",
                "--person",
                &id,
                "--what",
                "x",
                "--due",
                "31/12/2026",
            ],
            "invalid date",
        ),
        (
            &[
                "campaign",
                "add",
                "--name",
                "C",
                "--target",
                "fifty letters",
            ],
            "invalid target",
        ),
        (&["shift", "end"], "no shift is open"),
        (
            &["conversation", "edit", unknown, "--notes", "x"],
            "`groundwork person show PERSON_ID` lists a person's conversations",
        ),
        (
            &[
                "walklist",
                "import",
                "--name",
                "L",
                "--csv",
                "/nonexistent/doors.csv",
            ],
            "cannot read /nonexistent/doors.csv: No such file or directory (os error 2); check the file's name",
        ),
        (
            &[
                "commitment",
                "add",
                "--person",
                &id,
                "--what",
                "x",
                "--due",
                "26-12-31",
            ],
            "a year from 1900 to 9999",
        ),
        (&["export", "--what", "secrets"], "unknown export"),
        (
            &["export", "--what", "people", "--format", "xlsx"],
            "unknown format",
        ),
        (
            &["join", "--invite", "abcd-efgh", "--name", "x"],
            "--invite \"abcd-efgh\": a code needs the relay's address too (--relay URL)",
        ),
        (
            &["team", "invite", "--expires-in", "1s"],
            "--expires-in \"1s\": an invite lasts from 1 minute",
        ),
        (
            &["team", "invite", "--expires-in", "10"],
            "--expires-in \"10\": give a number and s, m, h, d or w",
        ),
        (
            &["person", "restore", &id, "--before", "zz"],
            "change \"zz\": not a change of this file",
        ),
        (
            &[
                "conversation",
                "add",
                "--person",
                &id,
                "--kind",
                "phone",
                "--at",
                "2999-01-01T00:00:00Z",
            ],
            "\"2999-01-01T00:00:00Z\" is in the future",
        ),
        (
            &["person", "add", "--name", "Pat\nMcDonald"],
            "name must be one line of plain text",
        ),
        (
            &["person", "edit", &id, "--workplace", "Uni\tcanteen"],
            "workplace must be one line of plain text",
        ),
        (
            &["settings", "--name", "Ben\u{202e}live"],
            "name must be one line of plain text",
        ),
    ];
    for (args, message) in cases {
        let out = groundwork(d, args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?} printed to stdout");
    }
    assert_eq!(ok(d, &["export", "--what", "people"]), before);
    assert_eq!(ok(d, &["export", "--what", "conversations"]).trim(), "[]");

    // Usage errors: exit status 2.
    for args in [
        &["frobnicate"][..],
        &["person", "add"][..],
        &["person", "add", "--name", "x", "--shoe-size", "9"][..],
    ] {
        assert_eq!(groundwork(d, args).status.code(), Some(2), "{args:?}");
    }
}

#[test]
fn data_directories_that_are_not_ours_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not groundwork").unwrap();
    let out = groundwork(dir.path(), &["person", "list"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a Groundwork data directory"));
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "nothing was written"
    );

    let file = dir.path().join("notes.txt");
    let out = groundwork(&file, &["person", "list"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot use the data directory"));

    // A place nobody can write (root included): /proc.
    let out = groundwork(
        std::path::Path::new("/proc/groundwork-test"),
        &["person", "list"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot use the data directory"));
}

#[test]
fn the_data_directory_can_come_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_groundwork"))
            .args(args)
            .env("GROUNDWORK_DATA_DIR", dir.path())
            .output()
            .unwrap()
    };
    assert!(
        run(&["person", "add", "--name", "Ellen Jones"])
            .status
            .success()
    );
    let out = run(&["search", "ellen"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("Ellen Jones"));
    assert!(dir.path().join("groundwork.sqlite3").exists());
}

#[test]
fn demo_data_is_deterministic_and_exports_are_sorted() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let summary = json(&ok(
        a.path(),
        &["demo-data", "--people", "30", "--seed", "9"],
    ));
    assert_eq!(summary["people"], 30);
    assert!(summary["conversations"].as_u64().unwrap() >= 60);
    ok(b.path(), &["demo-data", "--people", "30", "--seed", "9"]);
    for what in [
        "people",
        "conversations",
        "commitments",
        "campaigns",
        "shifts",
    ] {
        for format in ["json", "csv"] {
            let ea = ok(a.path(), &["export", "--what", what, "--format", format]);
            assert_eq!(
                ea,
                ok(b.path(), &["export", "--what", what, "--format", format]),
                "{what} {format}"
            );
        }
        let rows = json(&ok(a.path(), &["export", "--what", what]));
        let ids: Vec<&str> = rows
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap())
            .collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted, "{what} sorted by id");
    }
    let c = tempfile::tempdir().unwrap();
    ok(c.path(), &["demo-data", "--people", "30", "--seed", "10"]);
    assert_ne!(
        ok(a.path(), &["export", "--what", "people"]),
        ok(c.path(), &["export", "--what", "people"])
    );
}

#[test]
fn reports_on_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(d, &["demo-data", "--people", "40", "--seed", "4"]);
    let text = ok(d, &["report", "shift"]);
    assert!(text.starts_with("Shift report: shift at "), "{text}");
    assert!(text.contains("people met"), "{text}");
    let shift: Value = json(&ok(
        d,
        &[
            "report",
            "shift",
            "--format",
            "json",
            "--as-of",
            "2026-12-31",
        ],
    ));
    assert!(
        shift["team"]["conversations"].as_u64().unwrap() > 0,
        "{shift}"
    );
    assert_eq!(
        shift["devices_not_synced"],
        Value::Null,
        "not joined: not asked"
    );
    let range = json(&ok(
        d,
        &[
            "report",
            "shift",
            "--from",
            "2026-09-01",
            "--to",
            "2026-12-31",
            "--format",
            "json",
        ],
    ));
    let all_conversations = json(&ok(d, &["export", "--what", "conversations"]));
    assert_eq!(
        range["team"]["conversations"].as_u64().unwrap() as usize,
        all_conversations.as_array().unwrap().len()
    );

    let campaigns = json(&ok(d, &["campaign", "list"]));
    let mut with_shifts = 0;
    for c in campaigns.as_array().unwrap() {
        let id = c["id"].as_str().unwrap();
        let progress = json(&ok(d, &["report", "campaign", id, "--format", "json"]));
        assert_eq!(progress["campaign"]["id"], id);
        assert!(!progress["targets"].as_array().unwrap().is_empty());
        let text = ok(d, &["report", "campaign", id]);
        assert!(text.starts_with("Campaign: "), "{text}");
        if !progress["trend"].as_array().unwrap().is_empty() {
            with_shifts += 1;
            assert!(text.contains("last shifts"), "{text}");
        }
    }
    assert!(with_shifts > 0, "the demo's shifts serve some campaign");

    let due = json(&ok(
        d,
        &[
            "report",
            "follow-ups",
            "--by",
            "2030-01-01",
            "--format",
            "json",
        ],
    ));
    assert_eq!(
        due.as_array().unwrap().len(),
        40,
        "everyone's last follow-up has come by 2030"
    );
    assert!(ok(d, &["report", "follow-ups", "--by", "2000-01-01"]).contains("No follow-ups due."));

    let out = groundwork(d, &["report", "shift", "--format", "pdf"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown format"));
    let out = groundwork(
        d,
        &["report", "campaign", "0192f0c4-7b1e-7c3a-9d2e-3f4a5b6c7d8e"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no campaign with id"));
    assert_eq!(
        groundwork(d, &["report", "shift", "--from", "2026-09-01"])
            .status
            .code(),
        Some(2)
    );
    // Dates the wrong way round: said, rather than an empty report that reads as a shift in
    // which nothing happened.
    let out = groundwork(
        d,
        &[
            "report",
            "shift",
            "--from",
            "2026-12-31",
            "--to",
            "2026-01-01",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("2026-12-31 is after 2026-01-01") && said.contains("--from 2026-01-01"),
        "{said}"
    );
    // `sync --repair --doc` with something that names no document is refused before anything
    // is asked of a relay (it said "repaired": 1).
    let said = fails(d, &["sync", "--repair", "--doc", "nope"]);
    assert!(said.contains("\"nope\" is not a document id"), "{said}");
}

#[test]
fn demo_data_leaves_an_open_shift_alone() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let shift = ok(d, &["shift", "start", "--place", "Elm Road"])
        .trim()
        .to_string();
    ok(d, &["demo-data", "--people", "5"]);
    let settings = json(&ok(d, &["settings"]));
    assert_eq!(settings["current_shift"], shift.as_str());
    assert_eq!(
        settings["device_id"],
        Value::Null,
        "no relay's id before joining"
    );
    assert!(settings["notebook_id"].is_string(), "{settings}");
    assert_eq!(ok(d, &["shift", "end"]).trim(), shift);
}

#[test]
fn languages_are_added_removed_searched_and_exported_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let id = ok(
        d,
        &[
            "person",
            "add",
            "--name",
            "Marta Nowak",
            "--language",
            "Polish",
            "--language",
            "English",
            "--phone",
            "07700 900555",
        ],
    )
    .trim()
    .to_string();
    let file = json(&ok(d, &["person", "show", &id]));
    assert_eq!(file["languages"], serde_json::json!(["english", "polish"]));
    let found = json(&ok(d, &["search", "polish"]));
    assert_eq!(found[0]["id"], id.as_str());
    let file = json(&ok(
        d,
        &[
            "person",
            "edit",
            &id,
            "--unlanguage",
            "ENGLISH",
            "--language",
            "ukrainian",
            "--phone",
            "",
        ],
    ));
    assert_eq!(
        file["languages"],
        serde_json::json!(["polish", "ukrainian"])
    );
    assert_eq!(
        file["phone"],
        Value::Null,
        "an empty value clears the phone"
    );
    let csv = ok(d, &["export", "--what", "people", "--format", "csv"]);
    let mut rows = csv::Reader::from_reader(csv.as_bytes());
    let header = rows.headers().unwrap().clone();
    let col = header.iter().position(|h| h == "languages").unwrap();
    let row = rows.records().next().unwrap().unwrap();
    assert_eq!(&row[col], "polish; ukrainian");
    // `--unlanguage` belongs to edit; a bad consent channel is refused with the choices.
    let out = super::groundwork(
        d,
        &["person", "add", "--name", "X", "--unlanguage", "polish"],
    );
    assert!(!out.status.success());
    let out = super::groundwork(d, &["person", "edit", &id, "--consent", "pigeon"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("sms"));
}

/// `settings --name N --someone-else` records the new holder's name (the earlier names are
/// forgotten: `Store::hand_over`, tested in the store); without a name it is refused.
#[test]
fn a_device_handed_to_someone_else_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(d, &["settings", "--name", "Sam"]);
    let handed = json(&ok(d, &["settings", "--name", "Ana", "--someone-else"]));
    assert_eq!(handed["canvasser"], "Ana", "{handed}");
    let refused = fails(d, &["settings", "--someone-else"]);
    assert!(refused.contains("--name"), "{refused}");
    assert_eq!(json(&ok(d, &["settings"]))["canvasser"], "Ana");
}

fn fails(d: &std::path::Path, args: &[&str]) -> String {
    let out = super::groundwork(d, args);
    assert!(!out.status.success(), "groundwork {args:?} should fail");
    String::from_utf8_lossy(&out.stderr).to_string()
}

#[test]
fn conversations_and_commitments_are_corrected_and_dates_cleared_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(d, &["settings", "--name", "Sam"]);
    let p = ok(d, &["person", "add", "--name", "Kofi Boateng"])
        .trim()
        .to_string();
    let campaign = ok(
        d,
        &[
            "campaign",
            "add",
            "--name",
            "Living wage",
            "--target",
            "letters signed=50",
        ],
    )
    .trim()
    .to_string();
    // An empty follow-up means none, not the default.
    let c = ok(
        d,
        &[
            "conversation",
            "add",
            "--person",
            &p,
            "--kind",
            "doorstep",
            "--follow-up",
            "",
        ],
    )
    .trim()
    .to_string();
    assert_eq!(
        json(&ok(d, &["person", "show", &p]))["conversations"][0]["follow_up"],
        Value::Null
    );
    // A 5am breakfast written up on the 7am bus: every field corrected after saving.
    let edited = json(&ok(
        d,
        &[
            "conversation",
            "edit",
            &c,
            "--at",
            "2026-03-14T05:15:00+00:00",
            "--kind",
            "breakfast meeting",
            "--engagement",
            "4",
            "--issue",
            "Rent",
            "--follow-up",
            "2026-03-16",
            "--story",
            "Two jobs.\nStill short.",
            "--notes",
            "ask about Friday",
        ],
    ));
    assert_eq!(edited["at"], "2026-03-14T05:15:00.000Z");
    assert_eq!(edited["kind"], "breakfast-meeting");
    assert_eq!(edited["engagement"], 4);
    assert_eq!(edited["issues"], serde_json::json!(["rent"]));
    assert_eq!(edited["follow_up"], "2026-03-16");
    assert_eq!(edited["story"], "Two jobs.\nStill short.");
    let cleared = json(&ok(
        d,
        &["conversation", "edit", &c, "--follow-up", "", "--notes", ""],
    ));
    assert_eq!(cleared["follow_up"], Value::Null);
    assert_eq!(cleared["notes"], Value::Null);
    assert_eq!(
        cleared["story"], "Two jobs.\nStill short.",
        "untouched fields stay"
    );
    assert!(fails(d, &["conversation", "edit", &c, "--engagement", "9"]).contains("1"));
    assert!(fails(d, &["conversation", "edit", &c, "--at", "yesterday"]).contains("RFC 3339"));
    // A year typed wrong is refused on a correction as on `add` (it would stand as the file's
    // latest conversation until then), and the conversation keeps its time.
    assert!(
        fails(
            d,
            &["conversation", "edit", &c, "--at", "2226-03-14T05:15:00Z"]
        )
        .contains("\"2226-03-14T05:15:00Z\" is in the future")
    );
    assert_eq!(
        json(&ok(d, &["person", "show", &p]))["conversations"][0]["at"],
        "2026-03-14T05:15:00.000Z"
    );
    assert!(
        fails(d, &["conversation", "edit", &c, "--canvasser", " "])
            .contains("Canvasser cannot be left empty")
    );
    assert!(
        fails(
            d,
            &[
                "conversation",
                "edit",
                "0192f0c4-7b1e-7c3a-9d2e-3f4a5b6c7d8e",
                "--notes",
                "x"
            ]
        )
        .contains("conversation")
    );

    // A target by choice, and one by the same words (as commitments made before choosing).
    let chosen = ok(
        d,
        &[
            "commitment",
            "add",
            "--person",
            &p,
            "--what",
            "sign the letter",
            "--campaign",
            &campaign,
            "--target",
            "Letters signed",
        ],
    )
    .trim()
    .to_string();
    let same = ok(
        d,
        &[
            "commitment",
            "add",
            "--person",
            &p,
            "--what",
            "letters signed",
            "--campaign",
            &campaign,
        ],
    )
    .trim()
    .to_string();
    ok(d, &["commitment", "set", &chosen, "--status", "kept"]);
    let report = json(&ok(
        d,
        &["report", "campaign", &campaign, "--format", "json"],
    ));
    let target = &report["targets"][0];
    assert_eq!(
        (target["made"].clone(), target["kept"].clone()),
        (2.into(), 1.into())
    );
    let why: Vec<(String, String)> = target["commitments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["commitment_id"].as_str().unwrap().to_string(),
                c["why"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        why,
        vec![
            (chosen.clone(), "chosen".into()),
            (same.clone(), "same-words".into())
        ]
    );
    // A mis-tapped kept is undone.
    ok(d, &["commitment", "set", &chosen, "--status", "open"]);
    assert_eq!(
        json(&ok(d, &["person", "show", &p]))["commitments"][0]["status"],
        "open"
    );
    // Words, due date (and clearing it), target.
    let com = json(&ok(
        d,
        &[
            "commitment",
            "edit",
            &same,
            "--what",
            "sign the big letter",
            "--due",
            "2026-04-01",
        ],
    ));
    assert_eq!(
        (com["what"].clone(), com["due"].clone()),
        ("sign the big letter".into(), "2026-04-01".into())
    );
    let com = json(&ok(
        d,
        &[
            "commitment",
            "edit",
            &same,
            "--due",
            "",
            "--target",
            "letters signed",
        ],
    ));
    assert_eq!(com["due"], Value::Null);
    assert_eq!(com["target"], "letters signed");
    assert!(
        fails(
            d,
            &["commitment", "edit", &same, "--target", "doors knocked"]
        )
        .contains("letters signed")
    );
    assert!(fails(d, &["commitment", "edit", &same, "--due", "2026-02-30"]).contains("YYYY-MM-DD"));
    let com = json(&ok(d, &["commitment", "edit", &same, "--target", ""]));
    assert_eq!(com["target"], Value::Null);
    let report = json(&ok(
        d,
        &["report", "campaign", &campaign, "--format", "json"],
    ));
    assert_eq!(
        report["targets"][0]["made"], 1,
        "words changed and no target: it no longer counts"
    );
}

#[test]
fn a_campaign_is_renamed_and_its_targets_changed_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let c = ok(
        d,
        &[
            "campaign",
            "add",
            "--name",
            "Living wage",
            "--issue",
            "Wages",
            "--target",
            "letters signed=50",
            "--target",
            "doors knocked=200",
        ],
    )
    .trim()
    .to_string();
    let edited = json(&ok(
        d,
        &[
            "campaign",
            "edit",
            &c,
            "--name",
            "Living wage now",
            "--issue",
            "",
            "--target",
            "Letters Signed=80",
            "--target",
            "at the delivery=100",
            "--drop-target",
            "doors knocked",
        ],
    ));
    assert_eq!(edited["name"], "Living wage now");
    assert_eq!(edited["issue"], Value::Null, "an empty issue clears it");
    assert_eq!(
        edited["targets"],
        serde_json::json!({"at the delivery": 100, "letters signed": 80}),
        "renumbered under its first label, added, dropped"
    );
    assert!(
        fails(d, &["campaign", "edit", &c, "--drop-target", "flyers"]).contains("letters signed")
    );
    assert!(
        fails(d, &["campaign", "edit", &c, "--target", "flyers=lots"]).contains("LABEL=NUMBER")
    );
    assert!(fails(d, &["campaign", "edit", &c, "--name", " "]).contains("name"));
    // A target of nothing, or twice but for capitals (an edit of one would be anyone's guess).
    let targets_before = json(&ok(d, &["campaign", "list"]))[0]["targets"].clone();
    assert!(
        fails(d, &["campaign", "edit", &c, "--target", "flyers=0"]).contains("a number from 1")
    );
    assert!(
        fails(
            d,
            &[
                "campaign",
                "add",
                "--name",
                "Pledges",
                "--target",
                "pledges=10",
                "--target",
                "Pledges=20"
            ]
        )
        .contains("is there twice")
    );
    assert_eq!(
        json(&ok(d, &["campaign", "list"]))[0]["targets"],
        targets_before
    );
    let unchanged = json(&ok(d, &["campaign", "list"]));
    assert_eq!(
        unchanged[0]["name"], "Living wage now",
        "a refused edit changes nothing"
    );
}

/// Exports say who canvassed as reports do: a conversation recorded before any name was given
/// reads "no name given", never the stored stand-in.
#[test]
fn exports_never_say_unnamed_canvasser() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let p = ok(d, &["person", "add", "--name", "Kofi Boateng"])
        .trim()
        .to_string();
    ok(
        d,
        &["conversation", "add", "--person", &p, "--kind", "doorstep"],
    );
    let rows = json(&ok(d, &["export", "--what", "conversations"]));
    assert_eq!(rows[0]["canvasser"], "no name given", "{rows}");
    let csv = ok(d, &["export", "--what", "conversations", "--format", "csv"]);
    assert!(!csv.contains("unnamed canvasser"), "{csv}");
}
