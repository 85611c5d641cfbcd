//! The team lead's reports on a scripted shift with known numbers, through a real relay, and
//! exports read back with a real CSV parser.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use groundwork::export::{self, Format, Options, What};
use groundwork::model::{
    CommitmentStatus, ConversationKind, NewCampaign, NewCommitment, NewConversation, NewPerson,
    PersonField, parse_date,
};
use groundwork::report::{self, DeviceSync, Scope};
use groundwork::sync::{self, HttpTransport};
use serde_json::Value;

use super::sync::{Device, TestRelay};

fn at(minutes: i64) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-14T05:15:00Z")
        .unwrap()
        .with_timezone(&Utc)
        + Duration::minutes(minutes)
}

struct Talk<'a> {
    kind: ConversationKind,
    issues: &'a [&'a str],
    engagement: Option<i64>,
    asks: &'a [(&'a str, bool)],
}

fn record(
    d: &mut Device,
    person: &str,
    shift: &str,
    campaign: &str,
    minute: i64,
    t: Talk<'_>,
) -> Vec<String> {
    let c = NewConversation {
        person_id: person.into(),
        kind: t.kind,
        at: Some(at(minute)),
        canvasser: None,
        shift_id: Some(shift.into()),
        issues: t.issues.iter().map(|s| s.to_string()).collect(),
        story: Some("in their words".into()),
        notes: None,
        engagement: t.engagement.and_then(|e| e.try_into().ok()),
        follow_up: Some(parse_date("2026-03-16").ok()),
    };
    let asks = t
        .asks
        .iter()
        .map(|(what, for_campaign)| NewCommitment {
            what: (*what).into(),
            due: None,
            campaign_id: for_campaign.then(|| campaign.to_string()),
            target: None,
        })
        .collect();
    d.store.record_conversation(c, asks).unwrap().1
}

fn transport() -> HttpTransport {
    HttpTransport::with_retries(2, std::time::Duration::from_millis(20)).unwrap()
}

#[test]
fn a_scripted_shift_reports_its_known_numbers() {
    let relay = TestRelay::start();
    let (_, invite) = relay.team(4);
    let mut lead = Device::joined(&relay.url, &invite, "Lead's laptop");
    let mut sam = Device::joined(&relay.url, &invite, "Sam's phone");
    let mut joy = Device::joined(&relay.url, &invite, "Joy's phone");
    let mut ravi = Device::joined(&relay.url, &invite, "Ravi's phone");
    // Joining names the device; each canvasser gives their own name.
    for (d, name) in [(&mut sam, "Sam"), (&mut joy, "Joy"), (&mut ravi, "Ravi")] {
        d.store.set_canvasser_name(name).unwrap();
    }

    let campaign = lead
        .store
        .add_campaign(NewCampaign {
            name: "Living wage".into(),
            issue: Some("living wage".into()),
            targets: [
                ("sign the letter".to_string(), 3),
                ("come to the delivery".to_string(), 2),
            ]
            .into(),
        })
        .unwrap();
    // Before the shift, Joy met Grace once (engagement 2).
    let grace = joy.person("Grace Okafor");
    joy.store
        .record_conversation(
            NewConversation {
                person_id: grace.clone(),
                kind: ConversationKind::Doorstep,
                at: Some(at(-60 * 24 * 14)),
                canvasser: None,
                shift_id: None,
                issues: vec!["heating".into()],
                story: None,
                notes: None,
                engagement: 2.try_into().ok(),
                follow_up: Some(parse_date("2026-03-02").ok()),
            },
            vec![],
        )
        .unwrap();
    let shift = lead
        .store
        .start_shift("Uni canteen breakfast", Some(&campaign), Some("Lead"))
        .unwrap();
    for d in [&mut lead, &mut joy, &mut sam, &mut ravi] {
        d.sync();
    }

    let amina = sam.person("Amina Yusuf");
    let tomasz = sam.person("Tomasz Kowalski");
    let priya = sam.person("Priya Patel");
    let talk = |kind, issues, engagement, asks| Talk {
        kind,
        issues,
        engagement,
        asks,
    };
    let a = record(
        &mut sam,
        &amina,
        &shift,
        &campaign,
        0,
        talk(
            ConversationKind::BreakfastMeeting,
            &["living wage", "sick pay"],
            Some(3),
            &[("sign the letter", true), ("come to the delivery", true)],
        ),
    );
    let t = record(
        &mut sam,
        &tomasz,
        &shift,
        &campaign,
        5,
        talk(
            ConversationKind::BreakfastMeeting,
            &["living wage"],
            Some(4),
            &[("sign the letter", true)],
        ),
    );
    record(
        &mut sam,
        &priya,
        &shift,
        &campaign,
        10,
        talk(ConversationKind::Doorstep, &["housing"], None, &[]),
    );
    record(
        &mut joy,
        &grace,
        &shift,
        &campaign,
        3,
        talk(
            ConversationKind::OneToOne,
            &["living wage", "heating"],
            Some(4),
            &[("host a meeting", false)],
        ),
    );
    let kofi = joy.person("Kofi Boateng");
    record(
        &mut joy,
        &kofi,
        &shift,
        &campaign,
        8,
        talk(ConversationKind::Phone, &["heating"], Some(1), &[]),
    );
    // Ravi records too, but his phone never syncs again.
    let maria = ravi.person("Maria Silva");
    record(
        &mut ravi,
        &maria,
        &shift,
        &campaign,
        12,
        talk(ConversationKind::Doorstep, &["rent"], Some(2), &[]),
    );

    sam.sync();
    joy.sync();
    lead.sync();
    lead.store
        .set_commitment_status(&a[0], CommitmentStatus::Kept)
        .unwrap();
    lead.store
        .set_commitment_status(&t[0], CommitmentStatus::Broken)
        .unwrap();
    lead.store.end_shift(None).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100)); // relay times are in seconds
    lead.sync();
    sam.sync();
    joy.sync();

    let devices = DeviceSync::from_team(sync::team_devices(&lead.store, &transport()).unwrap());
    assert_eq!(devices.len(), 4);
    let as_of = parse_date("2026-03-20").unwrap();
    let r = report::shift_report(
        &lead.store,
        &Scope::Shift(shift.clone()),
        as_of,
        Some(&devices),
    )
    .unwrap();

    let team = &r.team;
    assert_eq!(team.conversations, 5);
    let kinds: BTreeMap<String, usize> = [
        ("breakfast-meeting", 2),
        ("doorstep", 1),
        ("one-to-one", 1),
        ("phone", 1),
    ]
    .map(|(k, n)| (k.to_string(), n))
    .into();
    assert_eq!(team.by_kind, kinds);
    assert_eq!(
        (team.people_met, team.new_people, team.returning_people),
        (5, 4, 1)
    );
    let issues: Vec<(&str, usize)> = team
        .issues
        .iter()
        .map(|i| (i.issue.as_str(), i.people))
        .collect();
    assert_eq!(
        issues,
        vec![
            ("living wage", 3),
            ("heating", 2),
            ("housing", 1),
            ("sick pay", 1)
        ]
    );
    assert_eq!(team.engagement.people, 1);
    assert_eq!(
        (team.engagement.before, team.engagement.after),
        (Some(2.0), Some(4.0))
    );
    assert_eq!(
        (
            team.engagement.rose,
            team.engagement.same,
            team.engagement.fell
        ),
        (1, 0, 0)
    );
    assert_eq!(
        (
            team.commitments_made,
            team.commitments_kept,
            team.commitments_broken
        ),
        (4, 1, 1)
    );
    let asks: Vec<(&str, usize, usize)> = team
        .asks
        .iter()
        .map(|a| (a.ask.as_str(), a.made, a.kept))
        .collect();
    assert_eq!(
        asks,
        vec![
            ("sign the letter", 2, 1),
            ("come to the delivery", 1, 0),
            ("host a meeting", 1, 0)
        ]
    );
    assert_eq!(team.follow_ups_due, 5);

    assert_eq!(r.canvassers.keys().collect::<Vec<_>>(), vec!["Joy", "Sam"]);
    let sam_t = &r.canvassers["Sam"];
    assert_eq!(
        (sam_t.conversations, sam_t.people_met, sam_t.new_people),
        (3, 3, 3)
    );
    assert_eq!((sam_t.commitments_made, sam_t.commitments_kept), (3, 1));
    let joy_t = &r.canvassers["Joy"];
    assert_eq!(
        (
            joy_t.conversations,
            joy_t.returning_people,
            joy_t.commitments_made
        ),
        (2, 1, 1)
    );
    let stale: Vec<&str> = r
        .devices_not_synced
        .as_ref()
        .unwrap()
        .iter()
        .map(|d| d.name.as_str())
        .collect();
    assert_eq!(stale, vec!["Ravi's phone"]);
    let text = report::shift_text(&r);
    assert!(
        text.contains("people met       5 (4 new, 1 returning)"),
        "{text}"
    );
    assert!(text.contains("Ravi's phone (last sync:"), "{text}");

    // A date range gives the same team numbers here (everything was on 14 March).
    let range = Scope::Dates {
        from: parse_date("2026-03-14").unwrap(),
        to: parse_date("2026-03-14").unwrap(),
    };
    let by_dates = report::shift_report(&lead.store, &range, as_of, None).unwrap();
    assert_eq!(by_dates.team, r.team);
    assert!(by_dates.devices_not_synced.is_none());
    // Over, with the devices: every device synced after that day ended.
    let past = report::shift_report(&lead.store, &range, as_of, Some(&devices)).unwrap();
    assert!(!past.open);
    assert_eq!(past.until.as_deref(), Some("2026-03-15T00:00:00.000Z"));
    assert_eq!(past.devices_not_synced.as_deref(), Some(&[][..]));
    // A range whose last day is today is not over: no device has synced since its end, and
    // the report says so rather than "every device has synced since".
    let today = chrono::Utc::now().date_naive();
    let running = Scope::Dates {
        from: today,
        to: today,
    };
    let now = report::shift_report(&lead.store, &running, as_of, Some(&devices)).unwrap();
    assert!(now.open);
    assert_eq!(now.devices_not_synced.as_ref().map(Vec::len), Some(4));
    let text = report::shift_text(&now);
    assert!(text.contains("The last day is not over"), "{text}");
    assert!(!text.contains("every device has synced since"), "{text}");
    // So is a shift still open.
    let open_shift = lead.store.start_shift("Elm Road", None, None).unwrap();
    let open = report::shift_report(
        &lead.store,
        &Scope::Shift(open_shift),
        as_of,
        Some(&devices),
    )
    .unwrap();
    assert!(open.open && open.until.is_none());
    assert_eq!(open.devices_not_synced.as_ref().map(Vec::len), Some(4));
    assert!(
        report::shift_text(&open).contains("The shift is still open"),
        "{}",
        report::shift_text(&open)
    );
    lead.store.end_shift(None).unwrap();

    // Campaign progress.
    let c = report::campaign_report(&lead.store, &campaign).unwrap();
    let targets: Vec<(&str, i64, usize, usize)> = c
        .targets
        .iter()
        .map(|t| (t.label.as_str(), t.target, t.made, t.kept))
        .collect();
    assert_eq!(
        targets,
        vec![
            ("come to the delivery", 2, 1, 0),
            ("sign the letter", 3, 2, 1)
        ]
    );
    assert!((c.targets[1].percent_kept - 100.0 / 3.0).abs() < 1e-9);
    assert!(c.other_asks.is_empty(), "the meeting ask has no campaign");
    assert_eq!(c.trend.len(), 1);
    assert_eq!((c.trend[0].made, c.trend[0].kept), (3, 1));
    assert!(report::campaign_text(&c).contains("sign the letter"));

    // Follow-ups: everyone from the shift, soonest first; Maria is not known to the lead.
    let due = report::follow_ups(&lead.store, as_of, as_of).unwrap();
    let names: Vec<&str> = due.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "Amina Yusuf",
            "Grace Okafor",
            "Kofi Boateng",
            "Priya Patel",
            "Tomasz Kowalski"
        ]
    );
    assert!(
        due.iter()
            .all(|f| f.overdue && f.due == parse_date("2026-03-16").unwrap())
    );
    assert_eq!(due[1].last_spoken_by, "Joy");
    assert!(
        report::follow_ups(&lead.store, parse_date("2026-03-15").unwrap(), as_of)
            .unwrap()
            .is_empty()
    );
}

/// The CSV text of a JSON value, by the rules the export documents.
fn documented_cell(v: &Value) -> String {
    // What a spreadsheet would run as a formula starts with an apostrophe.
    let text = documented_text(v);
    let formula = text.starts_with(['=', '+', '-', '@', '\t', '\r']);
    if formula && text.parse::<f64>().is_err() {
        format!("'{text}")
    } else {
        text
    }
}

fn documented_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .map(documented_text)
            .collect::<Vec<_>>()
            .join("; "),
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| format!("{k}={}", documented_text(v)))
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    }
}

#[test]
fn csv_reads_back_as_the_json_export_even_with_awkward_text() {
    let mut d = Device::new();
    let awkward = [
        "Zoë \"Z\" O'Brien, Jr.",
        "李小龙",
        "محمد الأحمد",
        // A name is one line (line breaks are refused); the notes below carry them.
        "Two  spaces; a semicolon",
        "  =SUM(A1) leading formula-like text",
        "=HYPERLINK(\"http://evil.example\",\"click\")",
        "+44 7700 900123",
        "@SUM(1+1)",
        "-2+3",
    ];
    for name in awkward {
        d.store
            .add_person(
                NewPerson::new()
                    .put(PersonField::Name, name)
                    .put(
                        PersonField::Notes,
                        format!("notes, with \"quotes\",\r\nand {name}"),
                    )
                    .add(PersonField::Tags, vec!["a,b", "tenant"]),
            )
            .unwrap();
    }
    let quiet = d
        .store
        .add_person(
            NewPerson::new()
                .put(PersonField::Name, "Do Not Contact")
                .put(PersonField::DoNotContact, true),
        )
        .unwrap();
    let p = d.store.all_people().unwrap()[0].id.clone();
    d.converse(&p, "story, \"quoted\"\nover lines", &["sign the letter"]);

    for what in [What::People, What::Conversations, What::Commitments] {
        let mut json = Vec::new();
        let mut csv_bytes = Vec::new();
        export::write_with(&d.store, what, Format::Json, Options::default(), &mut json).unwrap();
        export::write_with(
            &d.store,
            what,
            Format::Csv,
            Options::default(),
            &mut csv_bytes,
        )
        .unwrap();
        let rows: Vec<serde_json::Map<String, Value>> = serde_json::from_slice(&json).unwrap();
        let mut reader = csv::Reader::from_reader(csv_bytes.as_slice());
        let headers: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
        assert_eq!(headers, export::columns(what));
        let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(records.len(), rows.len(), "{what:?}");
        for (record, row) in records.iter().zip(&rows) {
            for (i, h) in headers.iter().enumerate() {
                assert_eq!(
                    record.get(i).unwrap(),
                    documented_cell(&row[h]),
                    "{what:?} {h}"
                );
            }
        }
        assert!(std::str::from_utf8(&csv_bytes).is_ok());
    }
    // Contact lists leave out people who asked not to be contacted, unless asked.
    let ids = |options| {
        export::records(&d.store, What::People, options)
            .unwrap()
            .into_iter()
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert!(!ids(Options::default()).contains(&quiet));
    assert!(
        ids(Options {
            include_do_not_contact: true
        })
        .contains(&quiet)
    );
    assert_eq!(ids(Options::default()).len(), 9);
    // What a spreadsheet would run is written as text, and only that.
    let mut csv_bytes = Vec::new();
    export::write(&d.store, What::People, Format::Csv, &mut csv_bytes).unwrap();
    let csv_text = String::from_utf8(csv_bytes).unwrap();
    for inert in [
        "\"'=HYPERLINK(",
        ",'+44 7700 900123,",
        ",'@SUM(1+1),",
        ",'-2+3,",
        ",'=SUM(A1) leading",
    ] {
        assert!(csv_text.contains(inert), "{inert} in\n{csv_text}");
    }
}

#[test]
fn the_default_shift_is_the_same_on_every_device_even_for_shifts_started_together() {
    use groundwork::ids::Source;
    use groundwork::store::Store;
    let dirs: Vec<tempfile::TempDir> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut stores: Vec<Store> = dirs
        .iter()
        .map(|d| Store::open(d.path()).unwrap())
        .collect();
    // Two devices start a shift in the same second.
    let mut ids = Vec::new();
    for (i, s) in stores.iter_mut().enumerate() {
        s.set_source(Source::seeded(i as u64 + 1, at(0)));
        ids.push(
            s.batch(|w| w.add_shift(&format!("Place {i}"), None, None))
                .unwrap(),
        );
    }
    // Each receives the other's, so they hold the same shifts in different orders.
    let outboxes: Vec<_> = stores.iter().map(|s| s.outbox(10).unwrap()).collect();
    for (to, from) in [(0, 1), (1, 0)] {
        for item in &outboxes[from] {
            stores[to]
                .apply_remote(&item.doc_id, std::slice::from_ref(&item.bytes))
                .unwrap();
        }
    }
    let expected = ids.iter().max().cloned();
    for s in &stores {
        assert_eq!(report::default_shift(s).unwrap(), expected);
        let order: Vec<String> = report::shifts_latest_first(s)
            .unwrap()
            .into_iter()
            .map(|sh| sh.id)
            .collect();
        assert_eq!(order.first(), expected.as_ref());
    }
    // The command line reports on that shift.
    let out = super::ok(dirs[0].path(), &["report", "shift", "--format", "json"]);
    let json: Value = serde_json::from_str(&out).unwrap();
    assert!(out.contains(expected.as_deref().unwrap()), "{json}");
}

#[test]
fn a_report_names_each_canvasser_once_and_never_unnamed() {
    let mut d = Device::new();
    let shift = d.store.start_shift("Elm Road", None, None).unwrap();
    let talk = |person: &str, canvasser: Option<&str>| NewConversation {
        person_id: person.to_string(),
        kind: ConversationKind::Doorstep,
        at: None,
        canvasser: canvasser.map(str::to_string),
        shift_id: Some(shift.clone()),
        issues: vec![],
        story: None,
        notes: None,
        engagement: None,
        follow_up: None,
    };
    let amina = d.person("Amina Yusuf");
    let joe = d.person("Joe Bloggs");
    let grace = d.person("Grace Okafor");
    // Before the canvasser gave a name; then as "Sam", then typed again as "sam ".
    d.store
        .record_conversation(talk(&amina, None), vec![])
        .unwrap();
    d.store.set_canvasser_name("Sam").unwrap();
    d.store
        .record_conversation(talk(&joe, None), vec![])
        .unwrap();
    d.store
        .record_conversation(talk(&grace, Some("sam ")), vec![])
        .unwrap();
    // Joining names the device, never the canvasser.
    let relay = TestRelay::start();
    let (_, invite) = relay.team(1);
    sync::join(
        &mut d.store,
        &transport(),
        &relay.url,
        &invite,
        "Sam's phone",
    )
    .unwrap();
    assert_eq!(d.store.canvasser_name().unwrap(), "Sam");
    assert_eq!(
        d.store.device_name().unwrap().as_deref(),
        Some("Sam's phone")
    );

    let r = report::shift_report(
        &d.store,
        &Scope::Shift(shift.clone()),
        parse_date("2030-01-01").unwrap(),
        None,
    )
    .unwrap();
    let names: Vec<(&str, usize)> = r
        .canvassers
        .iter()
        .map(|(n, t)| (n.as_str(), t.conversations))
        .collect();
    assert_eq!(names, vec![("Sam", 2), ("no name given", 1)]);
    assert_eq!(r.scope, "shift at Elm Road (no name given)");
    let text = report::shift_text(&r);
    let json = serde_json::to_string(&r).unwrap();
    for shown in [&text, &json] {
        assert!(!shown.contains("unnamed"), "{shown}");
    }
    assert_eq!(text.matches("Canvasser: Sam\n").count(), 1, "{text}");
    assert!(text.contains("Canvasser: no name given"), "{text}");
}
