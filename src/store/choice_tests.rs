//! The People screen's filter choices, counted as rows come and go (schema 20,
//! `store::choices`), against the tables they count: after any sequence of new people, moves between areas, tag
//! edits, conversations, edits of their issues, erasures and changes taken in from another
//! device.

use proptest::prelude::*;

use super::*;
use crate::model::{ConversationField, ConversationKind, ConversationPatch, PersonField};

/// Values shared between people and conversations, two of them differing only in case.
const WORDS: [&str; 5] = ["rent", "Rent", "damp", "union member", "heating"];
/// Areas, two of them the same in other capitals; the empty one clears the field.
const AREAS: [&str; 4] = ["Castle Estate", "castle estate", "Elm Road", ""];

#[derive(Debug, Clone)]
enum Op {
    /// A new person with these tags, in this area.
    AddPerson(Vec<usize>, usize),
    /// A person moved to another area (or none).
    Move(usize, usize),
    /// Tags added to (true) or removed from (false) a person.
    Tag(usize, Vec<usize>, bool),
    /// A conversation with a person, raising these issues.
    Talk(usize, Vec<usize>),
    /// Issues added to (true) or removed from (false) a conversation.
    Reissue(usize, Vec<usize>, bool),
    /// A person erased.
    Erase(usize),
}

fn words(picks: &[usize]) -> Vec<String> {
    picks
        .iter()
        .map(|&i| WORDS[i % WORDS.len()].to_string())
        .collect()
}

fn op() -> impl Strategy<Value = Op> {
    let picks = || proptest::collection::vec(0usize..WORDS.len(), 0..4);
    prop_oneof![
        (picks(), 0usize..AREAS.len()).prop_map(|(w, a)| Op::AddPerson(w, a)),
        (any::<usize>(), 0usize..AREAS.len()).prop_map(|(p, a)| Op::Move(p, a)),
        (any::<usize>(), picks(), any::<bool>()).prop_map(|(p, w, add)| Op::Tag(p, w, add)),
        (any::<usize>(), picks()).prop_map(|(p, w)| Op::Talk(p, w)),
        (any::<usize>(), picks(), any::<bool>()).prop_map(|(c, w, add)| Op::Reissue(c, w, add)),
        any::<usize>().prop_map(Op::Erase),
    ]
}

/// What the table holds: (kind, value, count), in order.
fn counted(s: &Store) -> Vec<(String, String, i64)> {
    let mut stmt = s
        .conn
        .prepare("SELECT kind, value, n FROM filter_choices ORDER BY kind, value")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

/// The same, read from every row's JSON (what the screen read before schema 20).
fn scanned(s: &Store) -> Vec<(String, String, i64)> {
    let mut stmt = s
        .conn
        .prepare(
            "SELECT 'area', area, count(*) FROM people WHERE area IS NOT NULL GROUP BY area
             UNION ALL
             SELECT 'issue', j.value, count(*) FROM conversations c, json_each(c.issues) j
              GROUP BY j.value
             UNION ALL
             SELECT 'tag', j.value, count(*) FROM people p, json_each(p.tags) j
              GROUP BY j.value
             ORDER BY 1, 2",
        )
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

fn agree(s: &Store) -> std::result::Result<(), TestCaseError> {
    let scan = scanned(s);
    prop_assert_eq!(counted(s), scan.clone());
    let of = |kind: &str| -> Vec<String> {
        scan.iter()
            .filter(|(k, ..)| k == kind)
            .map(|(_, v, _)| v.clone())
            .collect()
    };
    let choices = s.people_choices().unwrap();
    // Areas as the screen read them before schema 20: one per spelling in any capitals.
    let areas: Vec<String> = s
        .conn
        .prepare(
            "SELECT min(area) FROM people WHERE trim(area) <> ''
              GROUP BY area COLLATE NOCASE ORDER BY area COLLATE NOCASE",
        )
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    prop_assert_eq!(choices.areas, areas);
    prop_assert_eq!(choices.tags, of("tag"));
    prop_assert_eq!(choices.issues, of("issue"));
    Ok(())
}

fn run(ops: &[Op]) -> std::result::Result<(), TestCaseError> {
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut a = Store::open(da.path()).unwrap();
    let mut b = Store::open(db.path()).unwrap();
    let mut people: Vec<String> = Vec::new();
    let mut talks: Vec<String> = Vec::new();
    for op in ops {
        match op {
            Op::AddPerson(tags, area) => {
                let mut new = NewPerson::new()
                    .put(PersonField::Name, "Amina Yusuf")
                    .add(PersonField::Tags, words(tags));
                if !AREAS[*area].is_empty() {
                    new = new.put(PersonField::Area, AREAS[*area]);
                }
                people.push(a.add_person(new).unwrap());
            }
            Op::Move(p, area) if !people.is_empty() => {
                let id = &people[p % people.len()];
                let patch = PersonPatch::new().put(PersonField::Area, AREAS[*area]);
                a.edit_person(id, patch).unwrap();
            }
            Op::Tag(p, tags, add) if !people.is_empty() => {
                let id = &people[p % people.len()];
                let patch = if *add {
                    PersonPatch::new().add(PersonField::Tags, words(tags))
                } else {
                    PersonPatch::new().remove(PersonField::Tags, words(tags))
                };
                // An erased person refuses the edit; nothing changes.
                let _ = a.edit_person(id, patch);
            }
            Op::Talk(p, issues) if !people.is_empty() => {
                let c = NewConversation {
                    person_id: people[p % people.len()].clone(),
                    kind: ConversationKind::Doorstep,
                    at: None,
                    canvasser: None,
                    shift_id: None,
                    issues: words(issues),
                    story: None,
                    notes: None,
                    engagement: None,
                    follow_up: None,
                };
                if let Ok((id, _)) = a.record_conversation(c, vec![]) {
                    talks.push(id);
                }
            }
            Op::Reissue(c, issues, add) if !talks.is_empty() => {
                let id = &talks[c % talks.len()];
                let patch = if *add {
                    ConversationPatch::new().add(ConversationField::Issues, words(issues))
                } else {
                    ConversationPatch::new().remove(ConversationField::Issues, words(issues))
                };
                let _ = a.edit_conversation(id, patch);
            }
            Op::Erase(p) if !people.is_empty() => {
                let id = people.remove(p % people.len());
                a.erase_person_locally(&id).unwrap();
            }
            _ => {}
        }
        agree(&a)?;
    }
    // Another device takes in everything written (erased people's changes left the outbox).
    for item in a.outbox(usize::MAX).unwrap() {
        b.apply_remote(&item.doc_id, &[item.bytes]).unwrap();
    }
    agree(&b)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn filter_choices_count_what_the_tables_hold(ops in proptest::collection::vec(op(), 1..24)) {
        run(&ops)?;
    }
}

/// A tag or issue held by one erased person alone is gone from the choices, and its bytes from
/// the notebook's file (the row is deleted, not left at a count of nought).
#[test]
fn an_erased_persons_own_tag_leaves_the_choices_and_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(dir.path()).unwrap();
    let canary = "canary-tag-7f3a";
    let id = s
        .add_person(
            NewPerson::new()
                .put(PersonField::Name, "Nadia Haddad")
                .put(PersonField::Area, "canary-area-41d0")
                .add(PersonField::Tags, [canary]),
        )
        .unwrap();
    let other = s
        .add_person(NewPerson::new().put(PersonField::Name, "Tomasz Nowak"))
        .unwrap();
    let issue = "canary-issue-9c1e";
    let c = NewConversation {
        person_id: id.clone(),
        kind: ConversationKind::Doorstep,
        at: None,
        canvasser: None,
        shift_id: None,
        issues: vec![issue.into(), "rent".into()],
        story: None,
        notes: None,
        engagement: None,
        follow_up: None,
    };
    s.record_conversation(c.clone(), vec![]).unwrap();
    s.record_conversation(
        NewConversation {
            person_id: other,
            issues: vec!["rent".into()],
            ..c
        },
        vec![],
    )
    .unwrap();
    let choices = s.people_choices().unwrap();
    assert_eq!(choices.areas, vec!["canary-area-41d0".to_string()]);
    assert_eq!(choices.tags, vec![canary.to_string()]);
    assert_eq!(choices.issues, vec![issue.to_string(), "rent".into()]);

    s.erase_person_locally(&id).unwrap();
    let choices = s.people_choices().unwrap();
    assert!(choices.areas.is_empty(), "{:?}", choices.areas);
    assert!(choices.tags.is_empty(), "{:?}", choices.tags);
    assert_eq!(choices.issues, vec!["rent".to_string()]);
    assert_eq!(counted(&s), scanned(&s));
    drop(s);
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            for needle in [canary, issue, "canary-area-41d0"] {
                assert!(
                    !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                    "{needle} is still in {}",
                    path.display()
                );
            }
        }
    }
}
