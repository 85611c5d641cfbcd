//! Golden tests: fail if a stored or exported format changes by a single byte.
//!
//! To accept an intended change, run with `GROUNDWORK_UPDATE_GOLDEN=1`, review the diff of
//! `tests/golden/`, and say in the commit why the format changed (old data must still load).

use std::path::PathBuf;

use automerge::ActorId;
use automerge::transaction::CommitOptions;
use groundwork::docs;
use groundwork::export::{self, Format, What};
use groundwork::model::{
    Commitment, CommitmentStatus, Conversation, ConversationKind, NewPerson, PersonField,
};
use groundwork::store::Store;

fn check(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("GROUNDWORK_UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "missing {}: run with GROUNDWORK_UPDATE_GOLDEN=1",
            path.display()
        )
    });
    assert!(
        expected == actual,
        "{name} changed; if intended, update with GROUNDWORK_UPDATE_GOLDEN=1 and explain why"
    );
}

fn hex(bytes: &[u8]) -> String {
    let mut s: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    s.push('\n');
    s
}

#[test]
fn person_document_bytes() {
    let actor = ActorId::from(vec![0x42; 16]);
    let id = "01900000-0000-7000-8000-000000000001";
    let mut doc = docs::new_doc(&actor);
    let new = NewPerson::new()
        .put(PersonField::Name, "Amina Yusuf")
        .put(PersonField::Phone, "07700 900123")
        .put(PersonField::Workplace, "University cleaning services")
        .add(PersonField::Tags, vec!["cleaner"])
        .add(
            PersonField::Consent,
            vec![groundwork::model::ConsentChannel::Sms],
        );
    docs::person::create(&mut doc, id, "2026-03-14T05:15:00.000Z", &new).unwrap();
    doc.commit_with(CommitOptions::default().with_time(1_773_465_300_000));
    let conversation = Conversation {
        id: "01900000-0000-7000-8000-000000000002".into(),
        person_id: id.into(),
        at: "2026-03-14T05:20:00.000Z".into(),
        kind: ConversationKind::BreakfastMeeting,
        canvasser: "Sam".into(),
        shift_id: None,
        issues: vec!["living wage".into()],
        story: Some("Two jobs, still short every month.".into()),
        notes: None,
        engagement: 4.try_into().ok(),
        follow_up: groundwork::model::parse_date("2026-03-16").ok(),
        created_at: "2026-03-14T05:30:00.000Z".into(),
        conflicts: Default::default(),
    };
    docs::person::add_conversation(&mut doc, &conversation, &[]).unwrap();
    docs::person::add_commitment(
        &mut doc,
        &Commitment {
            id: "01900000-0000-7000-8000-000000000003".into(),
            person_id: id.into(),
            conversation_id: Some(conversation.id.clone()),
            campaign_id: None,
            what: "sign the letter".into(),
            due: None,
            status: CommitmentStatus::Open,
            created_at: "2026-03-14T05:30:00.000Z".into(),
            status_at: "2026-03-14T05:30:00.000Z".into(),
            target: None,
            conflicts: Default::default(),
        },
    )
    .unwrap();
    doc.commit_with(CommitOptions::default().with_time(1_773_465_900_000));
    let bytes = doc.save();
    check("person-document.hex", &hex(&bytes));
    // And the bytes read back as the same person file.
    let loaded = automerge::AutoCommit::load(&bytes).unwrap();
    let file = docs::person::read(&loaded, id).unwrap();
    assert_eq!(file.person.name, "Amina Yusuf");
    assert_eq!(file.conversations, vec![conversation]);
}

#[test]
fn database_schema() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut stmt = store
        .connection()
        .prepare("SELECT type, name, coalesce(sql, '') FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name")
        .unwrap();
    let rows: Vec<String> = stmt
        .query_map([], |r| {
            Ok(format!(
                "-- {} {}\n{};\n",
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?
            ))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let version: i64 = store
        .connection()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    check(
        "schema.sql",
        &format!("-- user_version {version}\n{}", rows.join("\n")),
    );
}

#[test]
fn demo_exports() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    groundwork::demo::generate(&mut store, 6, 3).unwrap();
    for (what, name) in [
        (What::People, "people"),
        (What::Conversations, "conversations"),
        (What::Commitments, "commitments"),
        (What::Campaigns, "campaigns"),
        (What::Shifts, "shifts"),
    ] {
        for (format, ext) in [(Format::Csv, "csv"), (Format::Json, "json")] {
            let mut buf = Vec::new();
            export::write(&store, what, format, &mut buf).unwrap();
            check(
                &format!("demo-{name}.{ext}"),
                &String::from_utf8(buf).unwrap(),
            );
        }
    }
}
