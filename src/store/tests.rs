//! Unit tests of the store: opening, writing, projections, merging, conflicts, drafts.

use super::*;
use crate::fields::Value;
use crate::model::{
    CommitmentField, CommitmentPatch, ConversationField, ConversationKind, ConversationPatch,
    Engagement, PersonField, ValidationError,
};

fn temp() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

fn person(name: &str) -> NewPerson {
    NewPerson::new().put(PersonField::Name, name)
}

fn conversation(person_id: &str) -> NewConversation {
    NewConversation {
        person_id: person_id.into(),
        kind: ConversationKind::Doorstep,
        at: None,
        canvasser: None,
        shift_id: None,
        issues: vec!["Heating".into()],
        story: Some("The boiler broke in November".into()),
        notes: None,
        engagement: Engagement::try_from(3).ok(),
        follow_up: None,
    }
}

/// Send every change in `from`'s outbox to `to`.
fn deliver(from: &Store, to: &mut Store) {
    for item in from.outbox(usize::MAX).unwrap() {
        to.apply_remote(&item.doc_id, &[item.bytes]).unwrap();
    }
}

#[test]
fn a_store_survives_reopening_with_its_device_and_data() {
    let dir = temp();
    let (device, id) = {
        let mut s = Store::open(dir.path()).unwrap();
        let id = s.add_person(person("Grace Okafor")).unwrap();
        (s.device_id().to_string(), id)
    };
    let s = Store::open(dir.path()).unwrap();
    assert_eq!(s.device_id(), device);
    assert_eq!(s.person(&id).unwrap().person.name, "Grace Okafor");
    assert_eq!(s.pending_changes().unwrap(), 1);
}

#[test]
fn foreign_directories_and_files_are_refused_untouched() {
    let dir = temp();
    std::fs::write(dir.path().join("thesis.docx"), b"mine").unwrap();
    let err = Store::open(dir.path()).unwrap_err();
    assert!(matches!(err, Error::NotOurDataDir { .. }), "{err}");
    assert!(!dir.path().join(DB_FILE).exists());

    let other = temp();
    let c = Connection::open(other.path().join(DB_FILE)).unwrap();
    c.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
        .unwrap();
    drop(c);
    assert!(matches!(
        Store::open(other.path()),
        Err(Error::NotOurDataDir { .. })
    ));

    let file = other.path().join("plain-file");
    std::fs::write(&file, b"x").unwrap();
    assert!(matches!(Store::open(&file), Err(Error::DataDir { .. })));
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = temp();
    drop(Store::open(dir.path()).unwrap());
    let c = Connection::open(dir.path().join(DB_FILE)).unwrap();
    c.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();
    drop(c);
    assert!(matches!(
        Store::open(dir.path()),
        Err(Error::SchemaTooNew { .. })
    ));
}

#[test]
fn edits_update_projections_and_search() {
    let dir = temp();
    let mut s = Store::open(dir.path()).unwrap();
    let id = s.add_person(person("Tomasz Kowalski")).unwrap();
    s.edit_person(
        &id,
        PersonPatch::new()
            .put(PersonField::Workplace, "Northfield Bus Depot")
            .put(PersonField::Phone, "07700 900 456")
            .add(PersonField::Tags, vec!["Union Member"]),
    )
    .unwrap();
    let p = s.person(&id).unwrap().person;
    assert_eq!(p.workplace.as_deref(), Some("Northfield Bus Depot"));
    assert_eq!(p.tags, vec!["union member"]);
    assert_eq!(s.search("depot", 10).unwrap()[0].id, id);
    assert_eq!(
        s.search("07700900", 10).unwrap()[0].id,
        id,
        "phone digits match"
    );
    assert!(s.search("hospital", 10).unwrap().is_empty());
    // A UK number typed the other way finds it too, here and in the People list's search.
    let other = s
        .add_person(person("Grace Okafor").put(PersonField::Phone, "+44 7700 900123"))
        .unwrap();
    let found = |s: &Store, typed: &str| -> Vec<String> {
        let people = s.search(typed, 10).unwrap();
        people.into_iter().map(|p| p.id).collect()
    };
    for typed in ["+44 7700 900 456", "0044 7700 900456", "+44 (0)7700 900"] {
        let found = found(&s, typed);
        assert!(
            found.contains(&id),
            "{typed} finds 07700 900 456: {found:?}"
        );
    }
    for typed in ["07700 900123", "07700900123", "077009001", "447700900123"] {
        let found = found(&s, typed);
        assert_eq!(found, vec![other.clone()], "{typed} finds +44 7700 900123");
        let page = s
            .people_page(
                &PeopleFilter {
                    query: typed.to_string(),
                    ..PeopleFilter::default()
                },
                0,
                10,
            )
            .unwrap();
        assert_eq!(page.people.len(), 1, "{typed} in the People list");
    }
    // Clearing a field with an empty value.
    s.edit_person(
        &id,
        PersonPatch::new().put(PersonField::Workplace, String::new()),
    )
    .unwrap();
    assert_eq!(s.person(&id).unwrap().person.workplace, None);
    assert!(
        s.search("depot", 10).unwrap().is_empty(),
        "old words leave the index"
    );
}

#[test]
fn search_rows_written_at_a_batchs_end_are_all_found_and_a_failed_batch_leaves_none() {
    let dir = temp();
    let mut s = Store::open(dir.path()).unwrap();
    let (a, b) = s
        .batch(|w| {
            let a = w.add_person(person("Ayesha Rahman"))?;
            let b = w.add_person(person("Bogdan Nowak"))?;
            w.record_conversation(conversation(&a), Vec::new())?;
            Ok((a, b))
        })
        .unwrap();
    assert_eq!(s.search("ayesha", 10).unwrap()[0].id, a);
    assert_eq!(s.search("bogdan", 10).unwrap()[0].id, b);
    assert_eq!(s.search("boiler", 10).unwrap()[0].id, a, "what was said");
    let waiting = |s: &Store| -> i64 {
        s.connection()
            .query_row("SELECT count(*) FROM temp.search_pending", [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(waiting(&s), 0);
    // A batch that fails after projecting leaves neither the person nor a row waiting.
    let failed = s.batch(|w| {
        w.add_person(person("Celestine Okafor"))?;
        w.add_person(NewPerson::new())
    });
    assert!(failed.is_err());
    assert_eq!(waiting(&s), 0);
    assert!(s.search("celestine", 10).unwrap().is_empty());
    s.add_person(person("Dara Byrne")).unwrap();
    assert!(s.search("celestine", 10).unwrap().is_empty());
    assert_eq!(s.search("dara", 10).unwrap().len(), 1);
}

#[test]
fn a_conversation_with_commitments_is_one_change() {
    let dir = temp();
    let mut s = Store::open(dir.path()).unwrap();
    let id = s.add_person(person("Priya Patel")).unwrap();
    let before = s.pending_changes().unwrap();
    let (conv, made) = s
        .record_conversation(
            conversation(&id),
            vec![
                NewCommitment {
                    what: "sign the letter".into(),
                    due: None,
                    campaign_id: None,
                    target: None,
                },
                NewCommitment {
                    what: "bring two colleagues".into(),
                    due: crate::model::parse_date("2026-12-01").ok(),
                    campaign_id: None,
                    target: None,
                },
            ],
        )
        .unwrap();
    assert_eq!(s.pending_changes().unwrap(), before + 1);
    let file = s.person(&id).unwrap();
    assert_eq!(file.conversations.len(), 1);
    assert_eq!(file.conversations[0].id, conv);
    assert_eq!(file.conversations[0].issues, vec!["heating"]);
    assert!(
        file.conversations[0].follow_up.is_some(),
        "follow-up defaults"
    );
    assert_eq!(file.commitments.len(), 2);
    assert!(
        file.commitments
            .iter()
            .all(|c| c.conversation_id.as_deref() == Some(conv.as_str()))
    );
    assert_eq!(
        s.search("boiler", 5).unwrap()[0].id,
        id,
        "stories are searchable"
    );

    s.set_commitment_status(&made[0], CommitmentStatus::Kept)
        .unwrap();
    let open = s
        .commitments(&CommitmentFilter {
            status: Some(CommitmentStatus::Open),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].id, made[1]);
    let due = s
        .commitments(&CommitmentFilter {
            due_before: crate::model::parse_date("2026-12-02").ok(),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(due.len(), 1);
}

#[test]
fn bad_input_changes_nothing() {
    let dir = temp();
    let mut s = Store::open(dir.path()).unwrap();
    let id = s.add_person(person("Kwame Mensah")).unwrap();
    let pending = s.pending_changes().unwrap();
    let unknown = "0192f0c4-7b1e-7c3a-9d2e-3f4a5b6c7d8e";
    assert!(matches!(
        s.add_person(person("   ")),
        Err(Error::Invalid(ValidationError::Empty { .. }))
    ));
    assert!(matches!(
        s.record_conversation(conversation(unknown), vec![]),
        Err(Error::NotFound { kind: "person", .. })
    ));
    assert!(matches!(
        s.set_commitment_status(unknown, CommitmentStatus::Kept),
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        s.edit_person("nonsense", PersonPatch::default()),
        Err(Error::Invalid(ValidationError::Id(_)))
    ));
    let mut with_bad_shift = conversation(&id);
    with_bad_shift.shift_id = Some(unknown.into());
    assert!(matches!(
        s.record_conversation(with_bad_shift, vec![]),
        Err(Error::NotFound { kind: "shift", .. })
    ));
    let bad_campaign = NewCommitment {
        what: "x".into(),
        due: None,
        campaign_id: Some(unknown.into()),
        target: None,
    };
    assert!(
        s.record_conversation(conversation(&id), vec![bad_campaign])
            .is_err()
    );
    assert_eq!(s.pending_changes().unwrap(), pending);
    assert!(s.person(&id).unwrap().conversations.is_empty());
}

#[test]
fn shifts_group_conversations_and_open_one_at_a_time() {
    let dir = temp();
    let mut s = Store::open(dir.path()).unwrap();
    let p = s.add_person(person("Maria Silva")).unwrap();
    let shift = s
        .start_shift("Elm Road odd numbers", None, Some("Sam"))
        .unwrap();
    assert!(matches!(
        s.start_shift("elsewhere", None, None),
        Err(Error::Invalid(ValidationError::ShiftStillOpen(_)))
    ));
    let (c, _) = s.record_conversation(conversation(&p), vec![]).unwrap();
    assert_eq!(s.end_shift(None).unwrap(), shift);
    assert!(matches!(
        s.end_shift(None),
        Err(Error::Invalid(ValidationError::NoOpenShift))
    ));
    assert!(matches!(
        s.end_shift(Some(&shift)),
        Err(Error::Invalid(ValidationError::ShiftEnded(_)))
    ));
    let file = s.person(&p).unwrap();
    assert_eq!(file.conversations[0].id, c);
    assert_eq!(
        file.conversations[0].shift_id.as_deref(),
        Some(shift.as_str())
    );
    let shifts = s.shifts().unwrap();
    assert_eq!(shifts[0].canvasser, "Sam");
    assert!(shifts[0].ended_at.is_some());
}

#[test]
fn many_edits_reload_and_tables_agree_with_the_document() {
    let dir = temp();
    let mut s = Store::open(dir.path()).unwrap();
    let id = s.add_person(person("Siobhan Murphy")).unwrap();
    for i in 0..40 {
        s.edit_person(
            &id,
            PersonPatch::new().put(PersonField::Notes, format!("note {i}")),
        )
        .unwrap();
    }
    s.record_conversation(conversation(&id), vec![]).unwrap();
    drop(s);
    let s = Store::open(dir.path()).unwrap();
    let bytes = s.document_bytes(&id).unwrap().unwrap();
    let doc = automerge::AutoCommit::load(&bytes).unwrap();
    let file = crate::docs::person::read(&doc, &id).unwrap();
    assert_eq!(file.person.notes.as_deref(), Some("note 39"));
    assert_eq!(file, s.person(&id).unwrap(), "tables and document agree");
    assert_eq!(
        s.pending_changes().unwrap(),
        42,
        "one outbox entry per write"
    );
}

#[test]
fn concurrent_edits_merge_and_show_conflicts_on_both_devices() {
    let (da, db) = (temp(), temp());
    let mut a = Store::open(da.path()).unwrap();
    let mut b = Store::open(db.path()).unwrap();
    let id = a.add_person(person("Yusuf Khan")).unwrap();
    deliver(&a, &mut b);
    assert_eq!(b.person(&id).unwrap().person.name, "Yusuf Khan");
    a.acknowledge(
        &a.outbox(100)
            .unwrap()
            .into_iter()
            .map(|i| i.change_hash)
            .collect::<Vec<_>>(),
    )
    .unwrap();
    // Concurrent: both change the phone; a adds a conversation, b a tag.
    a.edit_person(&id, PersonPatch::new().put(PersonField::Phone, "111"))
        .unwrap();
    a.record_conversation(conversation(&id), vec![]).unwrap();
    b.edit_person(
        &id,
        PersonPatch::new()
            .put(PersonField::Phone, "222")
            .add(PersonField::Tags, vec!["tenant"]),
    )
    .unwrap();
    let b_changes = b.outbox(100).unwrap();
    deliver(&a, &mut b);
    for item in &b_changes {
        a.apply_remote(&item.doc_id, std::slice::from_ref(&item.bytes))
            .unwrap();
    }
    let (fa, fb) = (a.person(&id).unwrap(), b.person(&id).unwrap());
    assert_eq!(fa, fb);
    assert_eq!(fa.conversations.len(), 1);
    assert_eq!(fa.person.tags, vec!["tenant"]);
    let phones = &fa.person.conflicts[&PersonField::Phone];
    assert_eq!(phones.len(), 2);
    assert!(phones.contains(&"111".into()) && phones.contains(&"222".into()));
    // Writing one value resolves the conflict everywhere it travels.
    a.edit_person(&id, PersonPatch::new().put(PersonField::Phone, "222"))
        .unwrap();
    deliver(&a, &mut b);
    assert!(b.person(&id).unwrap().person.conflicts.is_empty());
    assert_eq!(b.person(&id).unwrap().person.phone.as_deref(), Some("222"));
}

#[test]
fn duplicates_out_of_order_changes_and_corrupt_bytes() {
    let (da, db) = (temp(), temp());
    let mut a = Store::open(da.path()).unwrap();
    let mut b = Store::open(db.path()).unwrap();
    let id = a.add_person(person("Chen Wei")).unwrap();
    a.record_conversation(conversation(&id), vec![]).unwrap();
    let items = a.outbox(10).unwrap();
    assert_eq!(items.len(), 2);

    // The second change first: held, nothing shown yet.
    let r = b
        .apply_remote(&id, std::slice::from_ref(&items[1].bytes))
        .unwrap();
    assert_eq!((r.new_changes, r.changed), (1, false));
    assert!(r.waiting > 0);
    assert!(b.person(&id).is_err());
    // Held changes survive a restart.
    drop(b);
    let mut b = Store::open(db.path()).unwrap();
    let r = b
        .apply_remote(&id, std::slice::from_ref(&items[0].bytes))
        .unwrap();
    assert!(r.changed);
    assert_eq!(r.waiting, 0);
    assert_eq!(b.person(&id).unwrap().conversations.len(), 1);
    // Duplicates change nothing.
    let r = b
        .apply_remote(&id, &[items[0].bytes.clone(), items[1].bytes.clone()])
        .unwrap();
    assert_eq!((r.new_changes, r.changed), (0, false));

    // Corrupt bytes: refused, nothing changed.
    let before = b.document_bytes(&id).unwrap();
    let mut corrupt = items[1].bytes.clone();
    let last = corrupt.len() - 1;
    corrupt[last] ^= 0xff;
    corrupt[10] ^= 0x55;
    for bad in [corrupt, b"hello".to_vec(), Vec::new()] {
        let err = b.apply_remote(&id, &[bad]).unwrap_err();
        assert!(matches!(err, Error::CorruptChange { .. }), "{err}");
    }
    assert_eq!(b.document_bytes(&id).unwrap(), before);
    assert_eq!(b.person(&id).unwrap().conversations.len(), 1);
    // A change for one document sent under another id is refused.
    let other = a.add_person(person("Other")).unwrap();
    let first_of_other = a.outbox(10).unwrap().pop().unwrap();
    assert_eq!(first_of_other.doc_id, other);
    let err = b.apply_remote(&id, &[first_of_other.bytes]).unwrap_err();
    assert!(
        matches!(err, Error::BadDocument { .. } | Error::CorruptChange { .. }),
        "{err}"
    );
    assert_eq!(b.person(&id).unwrap().person.name, "Chen Wei");
}

#[test]
fn drafts_are_kept_until_deleted() {
    let dir = temp();
    let s = Store::open(dir.path()).unwrap();
    s.save_draft("conversation:new", "She said the ").unwrap();
    s.save_draft("conversation:new", "She said the heating")
        .unwrap();
    drop(s);
    let s = Store::open(dir.path()).unwrap();
    assert_eq!(
        s.draft("conversation:new").unwrap().as_deref(),
        Some("She said the heating")
    );
    s.save_draft("conversation:p2", "x").unwrap();
    s.save_draft("person-new", "y").unwrap();
    assert_eq!(
        s.draft_keys("conversation:").unwrap(),
        vec!["conversation:new", "conversation:p2"]
    );
    s.delete_draft("conversation:new").unwrap();
    assert_eq!(s.draft("conversation:new").unwrap(), None);
    assert_eq!(
        s.draft_keys("conversation:").unwrap(),
        vec!["conversation:p2"]
    );
}

#[test]
fn concurrent_edits_of_a_conversation_and_a_commitment_conflict_and_settle() {
    let (da, db) = (temp(), temp());
    let mut a = Store::open(da.path()).unwrap();
    let mut b = Store::open(db.path()).unwrap();
    let id = a.add_person(person("Grace Okafor")).unwrap();
    let (conv, commitments) = a
        .record_conversation(
            conversation(&id),
            vec![NewCommitment {
                what: "sign the letter".into(),
                due: None,
                campaign_id: None,
                target: None,
            }],
        )
        .unwrap();
    let com = commitments[0].clone();
    deliver(&a, &mut b);
    let sent = a.outbox(100).unwrap();
    a.acknowledge(&sent.into_iter().map(|i| i.change_hash).collect::<Vec<_>>())
        .unwrap();
    // Concurrent: both devices change the conversation's notes and the commitment's words.
    let notes = |n: &str| ConversationPatch::new().put(ConversationField::Notes, n);
    let what = |w: &str| CommitmentPatch::new().put(CommitmentField::What, w);
    a.edit_conversation(&conv, notes("Call after 6pm")).unwrap();
    a.edit_commitment(&com, what("sign the letter today"))
        .unwrap();
    b.edit_conversation(&conv, notes("Only weekends")).unwrap();
    b.edit_commitment(&com, what("sign and share the letter"))
        .unwrap();
    let b_changes = b.outbox(100).unwrap();
    deliver(&a, &mut b);
    for item in &b_changes {
        a.apply_remote(&item.doc_id, std::slice::from_ref(&item.bytes))
            .unwrap();
    }
    let (fa, fb) = (a.person(&id).unwrap(), b.person(&id).unwrap());
    assert_eq!(fa, fb);
    let values = &fa.conversations[0].conflicts[&ConversationField::Notes];
    assert_eq!(values.len(), 2);
    assert!(values.contains(&"Call after 6pm".into()) && values.contains(&"Only weekends".into()));
    assert_eq!(fa.commitments[0].conflicts[&CommitmentField::What].len(), 2);
    assert!(fa.person.conflicts.is_empty());
    // Writing one value on one device settles it on both.
    b.acknowledge(
        &b_changes
            .iter()
            .map(|i| i.change_hash.clone())
            .collect::<Vec<_>>(),
    )
    .unwrap();
    b.edit_conversation(&conv, notes("Only weekends")).unwrap();
    b.edit_commitment(&com, what("sign the letter today"))
        .unwrap();
    deliver(&b, &mut a);
    for s in [&a, &b] {
        let f = s.person(&id).unwrap();
        assert!(f.conversations[0].conflicts.is_empty(), "{f:?}");
        assert_eq!(f.conversations[0].notes.as_deref(), Some("Only weekends"));
        assert!(f.commitments[0].conflicts.is_empty(), "{f:?}");
        assert_eq!(f.commitments[0].what, "sign the letter today");
    }
    assert_eq!(a.person(&id).unwrap(), b.person(&id).unwrap());
}

#[test]
fn conversation_and_commitment_edits_write_only_what_is_given() {
    let dir = temp();
    let mut s = Store::open(dir.path()).unwrap();
    let id = s.add_person(person("Li Wei")).unwrap();
    let (conv, coms) = s
        .record_conversation(
            conversation(&id),
            vec![NewCommitment {
                what: "come to the meeting".into(),
                due: None,
                campaign_id: None,
                target: None,
            }],
        )
        .unwrap();
    let before = s.person(&id).unwrap();
    let due = crate::model::parse_date("2026-04-01").unwrap();
    s.edit_conversation(
        &conv,
        ConversationPatch::new()
            .put(ConversationField::Notes, "  Works nights  ")
            .put(ConversationField::Kind, "phone")
            .put(ConversationField::Engagement, Value::Number(5)),
    )
    .unwrap();
    s.edit_commitment(
        &coms[0],
        CommitmentPatch::new().put(CommitmentField::Due, due.to_string()),
    )
    .unwrap();
    let after = s.person(&id).unwrap();
    let c = &after.conversations[0];
    assert_eq!(c.notes.as_deref(), Some("Works nights"));
    assert_eq!(c.kind, ConversationKind::Phone);
    assert_eq!(c.engagement.map(Engagement::get), Some(5));
    assert_eq!(c.story, before.conversations[0].story);
    assert_eq!(c.canvasser, before.conversations[0].canvasser);
    assert_eq!(after.commitments[0].due, Some(due));
    assert_eq!(after.commitments[0].what, "come to the meeting");
    assert!(after.person.updated_at >= before.person.updated_at);
    // An empty story clears it.
    s.edit_conversation(
        &conv,
        ConversationPatch::new().put(ConversationField::Story, " "),
    )
    .unwrap();
    assert_eq!(s.person(&id).unwrap().conversations[0].story, None);
    let search = s.search("nights", 5).unwrap();
    assert_eq!(
        search.len(),
        1,
        "the projections and search follow the edit"
    );
}

#[test]
fn conversation_and_commitment_edits_refuse_unknown_ids_and_bad_values() {
    let dir = temp();
    let mut s = Store::open(dir.path()).unwrap();
    let id = s.add_person(person("Ana Costa")).unwrap();
    let (conv, coms) = s
        .record_conversation(
            conversation(&id),
            vec![NewCommitment {
                what: "bring a neighbour".into(),
                due: None,
                campaign_id: None,
                target: None,
            }],
        )
        .unwrap();
    let before = s.person(&id).unwrap();
    let pending = s.pending_changes().unwrap();
    let unknown = "0192f0c4-7b1e-7c3a-9d2e-3f4a5b6c7d8e";
    assert!(matches!(
        s.edit_conversation(unknown, ConversationPatch::default()),
        Err(Error::NotFound {
            kind: "conversation",
            ..
        })
    ));
    assert!(matches!(
        s.edit_commitment(unknown, CommitmentPatch::default()),
        Err(Error::NotFound {
            kind: "commitment",
            ..
        })
    ));
    // A commitment id is not a conversation id, and the other way round.
    assert!(matches!(
        s.edit_conversation(&coms[0], ConversationPatch::default()),
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        s.edit_commitment(&conv, CommitmentPatch::default()),
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        s.edit_conversation("nonsense", ConversationPatch::default()),
        Err(Error::Invalid(ValidationError::Id(_)))
    ));
    assert!(matches!(
        s.edit_conversation(
            &conv,
            ConversationPatch::new()
                .put(ConversationField::Canvasser, "  ")
                .put(ConversationField::Notes, "should not land")
        ),
        Err(Error::Invalid(ValidationError::Empty { .. }))
    ));
    assert!(matches!(
        s.edit_commitment(
            &coms[0],
            CommitmentPatch::new().put(CommitmentField::What, "")
        ),
        Err(Error::Invalid(ValidationError::Empty { .. }))
    ));
    assert_eq!(s.pending_changes().unwrap(), pending);
    assert_eq!(s.person(&id).unwrap(), before);
}

#[test]
fn an_idle_checkpoint_moves_the_log_into_the_database() {
    let dir = temp();
    let mut s = Store::open(dir.path()).unwrap();
    for i in 0..5 {
        s.add_person(person(&format!("Person {i}"))).unwrap();
    }
    let db_before = std::fs::metadata(dir.path().join(DB_FILE)).unwrap().len();
    s.checkpoint().unwrap();
    let db_after = std::fs::metadata(dir.path().join(DB_FILE)).unwrap().len();
    assert!(
        db_after > db_before,
        "pages reached the database file ({db_before} -> {db_after})"
    );
    // Nothing is left to copy: another checkpoint moves no frames.
    let (log, copied): (i64, i64) = s
        .connection()
        .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
            Ok((r.get(1)?, r.get(2)?))
        })
        .unwrap();
    assert_eq!(log, copied);
    assert_eq!(s.all_people().unwrap().len(), 5);
}

#[test]
fn commitments_come_with_their_person_s_name() {
    let dir = temp();
    let mut s = Store::open(dir.path()).unwrap();
    let a = s.add_person(person("Amina Yusuf")).unwrap();
    let b = s.add_person(person("Kofi Boateng")).unwrap();
    for (p, what) in [(&a, "sign the letter"), (&b, "host a meeting")] {
        s.add_commitment(
            p,
            None,
            NewCommitment {
                what: what.into(),
                due: None,
                campaign_id: None,
                target: None,
            },
        )
        .unwrap();
    }
    let list = s
        .commitments_with_names(&CommitmentFilter {
            person_id: Some(b.clone()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(
        (list[0].0.what.as_str(), list[0].1.as_str()),
        ("host a meeting", "Kofi Boateng")
    );
    assert_eq!(
        s.commitments_with_names(&CommitmentFilter::default())
            .unwrap()
            .len(),
        2
    );
}

/// A change to `doc_id` as saved in `store`, made by `edit` under `actor`.
fn foreign_change(
    store: &Store,
    doc_id: &str,
    actor: &[u8],
    edit: impl FnOnce(&mut automerge::AutoCommit),
) -> Vec<u8> {
    let bytes = store.document_bytes(doc_id).unwrap().unwrap();
    let mut doc = automerge::AutoCommit::load(&bytes)
        .unwrap()
        .with_actor(automerge::ActorId::from(actor));
    edit(&mut doc);
    doc.commit().expect("a change");
    doc.get_last_local_change().unwrap().raw_bytes().to_vec()
}

#[test]
fn changes_built_on_a_refused_change_are_refused_and_honest_ones_still_land() {
    use automerge::ReadDoc;
    use automerge::transaction::Transactable;
    let (da, db) = (temp(), temp());
    let mut a = Store::open(da.path()).unwrap();
    let mut b = Store::open(db.path()).unwrap();
    let id = a.add_person(person("Grace Okafor")).unwrap();
    deliver(&a, &mut b);
    let evil = [7u8; 16];
    let pusher = Pusher {
        actor: evil.to_vec(),
        name: "Evil".into(),
    };
    // A change that makes the name a number, and one built on top of it.
    let bad = foreign_change(&a, &id, &evil, |d| {
        let p = match d.get(automerge::ROOT, "person").unwrap() {
            Some((_, p)) => p,
            None => panic!("no person"),
        };
        d.put(&p, "name", 5_i64).unwrap();
    });
    let mut doc = automerge::AutoCommit::load(&a.document_bytes(&id).unwrap().unwrap())
        .unwrap()
        .with_actor(automerge::ActorId::from(&evil[..]));
    doc.apply_changes([automerge::Change::try_from(&bad[..]).unwrap()])
        .unwrap();
    doc.put(automerge::ROOT, "updated_at", "later").unwrap();
    doc.commit();
    let on_top = doc.get_last_local_change().unwrap().raw_bytes().to_vec();
    // A second beginning for the same document.
    let mut other = automerge::AutoCommit::new().with_actor(automerge::ActorId::from(&evil[..]));
    crate::docs::person::create(
        &mut other,
        &id,
        "2026-01-01T00:00:00.000Z",
        &person("Someone"),
    )
    .unwrap();
    other.commit();
    let restart = other.get_last_local_change().unwrap().raw_bytes().to_vec();
    // An honest change from the author, after them in the log.
    a.edit_person(
        &id,
        PersonPatch::new().put(PersonField::Phone, "07700 900123"),
    )
    .unwrap();
    let honest = a.outbox(10).unwrap().pop().unwrap().bytes;

    // The dependent change arrives first (it waits), then the rest.
    let author = Pusher {
        actor: a.actor_bytes(),
        name: "Sam".into(),
    };
    let blobs = [
        (on_top, &pusher),
        (bad, &pusher),
        (restart, &pusher),
        (honest, &author),
    ];
    let incoming: Vec<Incoming<'_>> = blobs
        .iter()
        .map(|(blob, p)| Incoming {
            doc_id: &id,
            blob,
            pusher: Some(*p),
            snapshot: false,
        })
        .collect();
    let report = b.batch(|w| w.take_in(&incoming)).unwrap();
    assert_eq!(report.quarantined, 3, "{report:?}");
    assert_eq!((report.applied, report.waiting), (1, 0));
    let file = b.person(&id).unwrap();
    assert_eq!(file.person.name, "Grace Okafor");
    assert_eq!(file.person.phone.as_deref(), Some("07700 900123"));
    let reasons: Vec<String> = b
        .quarantined()
        .unwrap()
        .into_iter()
        .map(|q| q.reason)
        .collect();
    assert!(
        reasons.iter().any(|r| r.contains("name should be text")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("builds on change")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("starts the document over")),
        "{reasons:?}"
    );
    // Taking the same changes in again changes nothing and counts nothing twice.
    let again = b.batch(|w| w.take_in(&incoming)).unwrap();
    assert_eq!(
        (again.applied, again.quarantined, again.duplicates),
        (0, 0, 4)
    );
    assert_eq!(b.quarantined().unwrap().len(), 3);
}

#[test]
fn history_names_each_edit_and_restore_puts_back_one_record_or_the_file() {
    let dir = temp();
    let mut s = Store::open(dir.path()).unwrap();
    let id = s.add_person(person("Grace Okafor")).unwrap();
    let (conv, asks) = s
        .record_conversation(
            conversation(&id),
            vec![NewCommitment {
                what: "sign the letter".into(),
                due: None,
                campaign_id: None,
                target: None,
            }],
        )
        .unwrap();
    let commitment = asks[0].clone();
    s.set_commitment_status(&commitment, CommitmentStatus::Kept)
        .unwrap();
    // A mis-tap, and a story overwritten.
    s.set_commitment_status(&commitment, CommitmentStatus::Broken)
        .unwrap();
    s.edit_conversation(
        &conv,
        ConversationPatch::new()
            .put(ConversationField::Story, "overwritten")
            .put(ConversationField::Notes, "new notes"),
    )
    .unwrap();
    let history = s.history(&id).unwrap();
    assert_eq!(history.len(), 5);
    assert_eq!(history[0].edits[0].action, "added");
    let mistap = &history[3];
    assert!(
        mistap
            .edits
            .iter()
            .any(|e| e.record == "commitment" && e.field.as_deref() == Some("status")),
        "{mistap:?}"
    );
    let overwrite = &history[4];
    assert!(
        overwrite
            .edits
            .iter()
            .any(|e| e.record == "conversation" && e.field.as_deref() == Some("notes")),
        "{overwrite:?}"
    );

    // One commitment back to before the mis-tap: kept again; the story is untouched.
    assert!(
        s.restore(
            &id,
            &mistap.change,
            &RestoreTarget::Commitment(commitment.clone())
        )
        .unwrap()
    );
    let file = s.person(&id).unwrap();
    assert_eq!(file.commitments[0].status, CommitmentStatus::Kept);
    assert_eq!(file.conversations[0].story.as_deref(), Some("overwritten"));
    // One conversation back to before the overwrite: the story returns, the notes go.
    assert!(
        s.restore(
            &id,
            &overwrite.change,
            &RestoreTarget::Conversation(conv.clone())
        )
        .unwrap()
    );
    let file = s.person(&id).unwrap();
    assert_eq!(
        file.conversations[0].story.as_deref(),
        Some("The boiler broke in November")
    );
    assert_eq!(file.conversations[0].notes, None);
    // A record that did not exist before the change is a clear error; so is a bad hash.
    let err = s
        .restore(
            &id,
            &history[1].change,
            &RestoreTarget::Commitment(commitment),
        )
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err}");
    assert!(
        s.restore(&id, "not a hash", &RestoreTarget::File)
            .unwrap_err()
            .to_string()
            .contains("person history")
    );
    // Every restore is a change for the relay.
    assert_eq!(s.pending_changes().unwrap(), 7);
}

#[test]
fn languages_added_on_two_devices_both_stay_and_are_searched_and_removed() {
    let (da, db) = (temp(), temp());
    let mut a = Store::open(da.path()).unwrap();
    let mut b = Store::open(db.path()).unwrap();
    let id = a.add_person(person("Yusuf Khan")).unwrap();
    deliver(&a, &mut b);
    let a_sent = a.outbox(100).unwrap().len();
    // Concurrent first languages on a file that had none: both devices keep both.
    a.edit_person(
        &id,
        PersonPatch::new().add(PersonField::Languages, ["Urdu"]),
    )
    .unwrap();
    b.edit_person(
        &id,
        PersonPatch::new().add(PersonField::Languages, ["  polish ", "urdu"]),
    )
    .unwrap();
    let from_b: Vec<_> = b.outbox(100).unwrap();
    for item in a.outbox(100).unwrap().into_iter().skip(a_sent) {
        b.apply_remote(&item.doc_id, &[item.bytes]).unwrap();
    }
    for item in from_b {
        a.apply_remote(&item.doc_id, &[item.bytes]).unwrap();
    }
    for s in [&a, &b] {
        let p = s.person(&id).unwrap().person;
        assert_eq!(p.languages, vec!["polish", "urdu"]);
        assert!(p.conflicts.is_empty(), "{:?}", p.conflicts);
        assert_eq!(s.search("polish", 10).unwrap()[0].id, id);
    }
    assert_eq!(a.person(&id).unwrap(), b.person(&id).unwrap());
    // Removing one leaves the other; the search forgets it.
    a.edit_person(
        &id,
        PersonPatch::new().remove(PersonField::Languages, ["URDU"]),
    )
    .unwrap();
    let p = a.person(&id).unwrap().person;
    assert_eq!(p.languages, vec!["polish"]);
    assert!(a.search("urdu", 10).unwrap().is_empty());
    // The document and the tables agree.
    let doc = automerge::AutoCommit::load(&a.document_bytes(&id).unwrap().unwrap()).unwrap();
    assert_eq!(crate::docs::person::read(&doc, &id).unwrap().person, p);
}

#[test]
fn a_person_patch_refuses_bad_values_and_changes_nothing() {
    let mut s = Store::open(temp().path()).unwrap();
    let id = s.add_person(person("Amina")).unwrap();
    let before = s.person(&id).unwrap();
    for bad in [
        PersonPatch::new().put(PersonField::Name, "   "),
        PersonPatch::new().add(PersonField::Consent, ["carrier pigeon"]),
        PersonPatch::new().add(PersonField::Phone, ["07700"]),
    ] {
        assert!(s.edit_person(&id, bad).is_err());
    }
    assert!(
        s.add_person(PersonPatch::new().put(PersonField::Phone, "1"))
            .is_err()
    );
    assert_eq!(s.person(&id).unwrap(), before);
}

/// A day for tests that must not depend on the machine's clock.
fn day(s: &str) -> chrono::NaiveDate {
    crate::model::parse_date(s).expect("a test date")
}

#[test]
fn people_filters_combine_with_search_count_and_page() {
    let dir = temp();
    let mut s = Store::open(dir.path()).unwrap();
    let add = |s: &mut Store, name: &str, area: &str, tags: &[&str]| {
        s.add_person(
            person(name)
                .put(PersonField::Area, area)
                .add(PersonField::Tags, tags.iter().copied()),
        )
        .unwrap()
    };
    let grace = add(&mut s, "Grace Okafor", "Elm Road", &["union member"]);
    let amina = add(&mut s, "Amina Yusuf", "elm road", &[]);
    let tomasz = add(&mut s, "Tomasz Nowak", "Castle Estate", &["union member"]);
    let priya = add(&mut s, "Priya Patel", "Castle Estate", &[]);
    let talk = |s: &mut Store, who: &str, at: &str, issue: &str, level: i64, follow: &str| {
        let mut c = conversation(who);
        c.at = Some(crate::model::parse_time(at).unwrap());
        c.issues = vec![issue.into()];
        c.engagement = Engagement::try_from(level).ok();
        c.follow_up = Some(Some(day(follow)));
        s.record_conversation(c, vec![]).unwrap();
    };
    // Grace raised damp once and is now at 4; Amina was at 4 but is now at 2.
    talk(
        &mut s,
        &grace,
        "2026-09-01T08:00:00Z",
        "Damp",
        2,
        "2026-09-03",
    );
    talk(
        &mut s,
        &grace,
        "2026-09-08T08:00:00Z",
        "heating",
        4,
        "2026-12-01",
    );
    talk(
        &mut s,
        &amina,
        "2026-09-01T08:00:00Z",
        "rent",
        4,
        "2026-09-02",
    );
    talk(
        &mut s,
        &amina,
        "2026-09-09T08:00:00Z",
        "rent",
        2,
        "2026-09-20",
    );
    talk(
        &mut s,
        &tomasz,
        "2026-09-05T08:00:00Z",
        "damp",
        4,
        "2026-09-10",
    );

    let page = |f: PeopleFilter| {
        let p = s.people_page(&f, 0, 50).unwrap();
        assert_eq!(p.total, 4);
        let mut ids: Vec<String> = p.people.iter().map(|p| p.id.clone()).collect();
        assert_eq!(p.matching, ids.len(), "{f:?}");
        ids.sort();
        ids
    };
    let sorted = |mut v: Vec<&String>| {
        v.sort();
        v.into_iter().cloned().collect::<Vec<_>>()
    };
    assert_eq!(page(PeopleFilter::default()).len(), 4);
    let area = |a: &str| PeopleFilter {
        area: Some(a.into()),
        ..Default::default()
    };
    assert_eq!(page(area("ELM ROAD")), sorted(vec![&grace, &amina]));
    let tagged = PeopleFilter {
        tag: Some("Union Member".into()),
        ..Default::default()
    };
    assert_eq!(page(tagged.clone()), sorted(vec![&grace, &tomasz]));
    let damp = PeopleFilter {
        issue: Some("damp".into()),
        ..Default::default()
    };
    assert_eq!(page(damp.clone()), sorted(vec![&grace, &tomasz]));
    // Engagement is the latest conversation's level, not any earlier one.
    let level4 = PeopleFilter {
        engagement: Engagement::try_from(4).ok(),
        ..Default::default()
    };
    assert_eq!(page(level4), sorted(vec![&grace, &tomasz]));
    // Follow-up due by a day: the latest conversation's date, on or before it.
    let due = PeopleFilter {
        follow_up_by: Some(day("2026-09-20")),
        ..Default::default()
    };
    assert_eq!(page(due), sorted(vec![&amina, &tomasz]));
    // Filters combine with each other and with the search box.
    assert_eq!(
        page(PeopleFilter {
            area: Some("castle estate".into()),
            ..damp.clone()
        }),
        vec![tomasz.clone()]
    );
    assert_eq!(
        page(PeopleFilter {
            query: "grace".into(),
            ..damp
        }),
        vec![grace.clone()]
    );
    assert_eq!(
        page(PeopleFilter {
            query: "okafor".into(),
            ..area("castle estate")
        }),
        Vec::<String>::new()
    );
    assert!(
        page(PeopleFilter {
            query: " -*- ".into(),
            ..Default::default()
        })
        .is_empty()
    );

    // Pages follow one another without overlap, most recently changed first.
    let all = PeopleFilter::default();
    let first = s.people_page(&all, 0, 3).unwrap();
    let second = s.people_page(&all, 3, 3).unwrap();
    assert_eq!((first.people.len(), second.people.len()), (3, 1));
    assert_eq!((first.matching, second.matching), (4, 4));
    assert_eq!(second.people[0].id, priya, "changed least recently");
    assert!(first.people.iter().all(|p| p.id != priya));

    let choices = s.people_choices().unwrap();
    assert_eq!(choices.areas.len(), 2, "{:?}", choices.areas);
    assert_eq!(choices.tags, vec!["union member".to_string()]);
    assert_eq!(
        choices.issues,
        vec!["damp".to_string(), "heating".into(), "rent".into()]
    );
}

/// Due's "Mine" is every conversation held under a name this device's canvasser has used: a
/// name corrected later ("Sam" → "Sam Okafor") keeps what was held before, and a name typed
/// with a space after it or other capitals is the same name. Another canvasser's stays out.
#[test]
fn mine_keeps_conversations_held_under_an_earlier_name_or_other_spacing() {
    let dir = temp();
    let mut s = Store::open(dir.path()).unwrap();
    let today = day("2026-12-01");
    let due = Some(day("2026-11-20"));
    let held = |name: &str, who: &str, s: &mut Store| {
        let id = s.add_person(person(who)).unwrap();
        let mut c = conversation(&id);
        c.canvasser = Some(name.into());
        c.follow_up = Some(due);
        let promise = NewCommitment {
            what: format!("ask {who}"),
            due,
            ..Default::default()
        };
        s.record_conversation(c, vec![promise]).unwrap();
    };
    // Recorded before any name was given (under the default), then named: still Sam's.
    held(DEFAULT_CANVASSER, "Rae Doorstep", &mut s);
    s.set_canvasser_name("Sam").unwrap();
    held("Sam", "Grace Okafor", &mut s);
    held("sam ", "Amina Yusuf", &mut s);
    held("Ana", "Tom Reyes", &mut s);
    s.set_canvasser_name("Sam Okafor").unwrap();
    held("Sam Okafor", "Kemi Ade", &mut s);
    assert_eq!(
        s.my_canvasser_names().unwrap(),
        ["Sam Okafor", "Sam", DEFAULT_CANVASSER]
    );
    let mine = DueFilter {
        today,
        canvassers: Some(s.my_canvasser_names().unwrap()),
    };
    assert_eq!(s.due_counts(&mine).unwrap().overdue, 4);
    let names: std::collections::BTreeSet<String> = s
        .due_page(&mine, DueWhen::Overdue, 0, 50)
        .unwrap()
        .into_iter()
        .map(|(_, p)| p.name)
        .collect();
    assert!(!names.contains("Tom Reyes"), "{names:?}");
    let mine_names = s.my_canvasser_names().unwrap();
    let (n, _) = s
        .follow_ups_page(day("2026-11-30"), Some(&mine_names), 0, 50)
        .unwrap();
    assert_eq!(n, 4, "follow-ups: the same four");
    // Capitals beyond ASCII are another name to SQLite, so to the list too: José's
    // conversations stay theirs as "JOSÉ".
    assert!(same_canvasser("sam ", "Sam") && !same_canvasser("José", "JOSÉ"));
    // Named back and forth: each earlier name is kept once, the latest first.
    s.set_canvasser_name("sam").unwrap();
    s.set_canvasser_name("Sam Okafor").unwrap();
    assert_eq!(
        s.my_canvasser_names().unwrap(),
        ["Sam Okafor", "sam", DEFAULT_CANVASSER]
    );
    let mine = DueFilter {
        today,
        canvassers: Some(s.my_canvasser_names().unwrap()),
    };
    assert_eq!(s.due_counts(&mine).unwrap().overdue, 4);
    // The device passes to José, who later writes his name in capitals: what he held before
    // is still his, though SQLite folds only ASCII capitals.
    s.set_canvasser_name("José").unwrap();
    held("José", "Ravi Shah", &mut s);
    s.set_canvasser_name("JOSÉ").unwrap();
    let mine = DueFilter {
        today,
        canvassers: Some(s.my_canvasser_names().unwrap()),
    };
    assert_eq!(s.due_counts(&mine).unwrap().overdue, 5);
    // Handed over to Ana ("someone else uses this device now"): Mine is hers alone, what she
    // held before on this device included, and a later correction of her name keeps it.
    s.hand_over("Ana").unwrap();
    assert_eq!(s.my_canvasser_names().unwrap(), ["Ana"]);
    let mine = DueFilter {
        today,
        canvassers: Some(s.my_canvasser_names().unwrap()),
    };
    assert_eq!(s.due_counts(&mine).unwrap().overdue, 1, "Tom Reyes only");
    s.set_canvasser_name("Ana Reyes").unwrap();
    assert_eq!(s.my_canvasser_names().unwrap(), ["Ana Reyes", "Ana"]);
    assert_eq!(
        s.given_canvasser_name().unwrap().as_deref(),
        Some("Ana Reyes")
    );
    assert!(s.hand_over("  ").is_err(), "a name is needed");
    assert_eq!(s.my_canvasser_names().unwrap(), ["Ana Reyes", "Ana"]);
}

#[test]
fn due_counts_are_whole_and_pages_soonest_first_mine_or_everyone() {
    let dir = temp();
    let mut s = Store::open(dir.path()).unwrap();
    let today = day("2026-12-01");
    let grace = s.add_person(person("Grace Okafor")).unwrap();
    let amina = s.add_person(person("Amina Yusuf")).unwrap();
    let promise = |what: String, due: Option<&str>| NewCommitment {
        what,
        due: due.map(day),
        ..Default::default()
    };
    // Sam holds a conversation with 250 overdue commitments (more than any one page), Ana one
    // with a few of every kind.
    let mut sams = conversation(&grace);
    sams.canvasser = Some("Sam".into());
    let overdue: Vec<NewCommitment> = (0..250)
        .map(|i| {
            let d = today - chrono::Duration::days(1 + i % 90);
            promise(format!("ask {i}"), Some(&d.to_string()))
        })
        .collect();
    s.record_conversation(sams, overdue).unwrap();
    let mut anas = conversation(&amina);
    anas.canvasser = Some("Ana".into());
    let (_, made) = s
        .record_conversation(
            anas,
            vec![
                promise("bring two colleagues".into(), Some("2026-11-30")),
                promise("come to the meeting".into(), Some("2026-12-01")),
                promise("sign the letter".into(), Some("2026-12-08")),
                promise("host a meeting".into(), Some("2026-12-09")),
                promise("some day".into(), None),
                promise("already kept".into(), Some("2026-11-01")),
            ],
        )
        .unwrap();
    s.set_commitment_status(&made[5], CommitmentStatus::Kept)
        .unwrap();

    let everyone = DueFilter {
        today,
        canvassers: None,
    };
    let counts = s.due_counts(&everyone).unwrap();
    assert_eq!(
        counts,
        DueCounts {
            overdue: 251,
            this_week: 2,
            later: 2
        }
    );
    let sam = DueFilter {
        today,
        canvassers: Some(vec!["Sam".into()]),
    };
    assert_eq!(
        s.due_counts(&sam).unwrap(),
        DueCounts {
            overdue: 250,
            this_week: 0,
            later: 0
        }
    );
    let ana = DueFilter {
        today,
        canvassers: Some(vec!["Ana".into()]),
    };
    assert_eq!(
        s.due_counts(&ana).unwrap(),
        DueCounts {
            overdue: 1,
            this_week: 2,
            later: 2
        }
    );

    // Soonest (longest overdue) first; pages follow on; each row carries its person.
    let first = s.due_page(&everyone, DueWhen::Overdue, 0, 50).unwrap();
    let second = s.due_page(&everyone, DueWhen::Overdue, 50, 50).unwrap();
    assert_eq!((first.len(), second.len()), (50, 50));
    let dues: Vec<_> = first
        .iter()
        .chain(&second)
        .map(|(c, _)| c.due.unwrap())
        .collect();
    assert!(dues.windows(2).all(|w| w[0] <= w[1]), "{dues:?}");
    assert_eq!(dues[0], today - chrono::Duration::days(90));
    assert!(first.iter().all(|(c, p)| p.id == c.person_id));
    let last = s.due_page(&everyone, DueWhen::Overdue, 250, 50).unwrap();
    assert_eq!(last.len(), 1);
    assert_eq!(last[0].0.what, "bring two colleagues");
    assert_eq!(last[0].1.name, "Amina Yusuf");

    let week: Vec<_> = s
        .due_page(&ana, DueWhen::ThisWeek, 0, 50)
        .unwrap()
        .into_iter()
        .map(|(c, _)| c.what)
        .collect();
    assert_eq!(week, vec!["come to the meeting", "sign the letter"]);
    let later: Vec<_> = s
        .due_page(&ana, DueWhen::Later, 0, 50)
        .unwrap()
        .into_iter()
        .map(|(c, _)| c.what)
        .collect();
    assert_eq!(later, vec!["host a meeting", "some day"]);
    assert!(s.due_page(&sam, DueWhen::Later, 0, 50).unwrap().is_empty());
}

#[test]
fn the_usual_kind_is_the_open_shifts_most_used() {
    let dir = temp();
    let mut s = Store::open(dir.path()).unwrap();
    let grace = s.add_person(person("Grace Okafor")).unwrap();
    assert_eq!(s.usual_kind().unwrap(), None, "no shift open");
    let mut other = conversation(&grace);
    other.kind = ConversationKind::Phone;
    s.record_conversation(other, vec![]).unwrap();
    s.start_shift("Uni staff canteen", None, None).unwrap();
    assert_eq!(
        s.usual_kind().unwrap(),
        None,
        "nothing recorded in this shift"
    );
    let shift = s.current_shift().unwrap();
    let mut held = |kind: ConversationKind| {
        let mut c = conversation(&grace);
        c.kind = kind;
        c.shift_id = shift.clone();
        s.record_conversation(c, vec![]).unwrap();
    };
    held(ConversationKind::BreakfastMeeting);
    held(ConversationKind::Doorstep);
    held(ConversationKind::BreakfastMeeting);
    assert_eq!(
        s.usual_kind().unwrap(),
        Some(ConversationKind::BreakfastMeeting)
    );
}

#[test]
fn follow_ups_due_are_counted_and_paged_as_the_report_lists_them() {
    let dir = temp();
    let mut s = Store::open(dir.path()).unwrap();
    crate::demo::generate(&mut s, 80, 7).unwrap();
    let by = day("2026-09-20");
    let report = crate::report::follow_ups(&s, by, by).unwrap();
    assert!(
        report.len() > 10,
        "the demo has follow-ups due: {}",
        report.len()
    );
    let (count, first) = s.follow_ups_page(by, None, 0, 10).unwrap();
    let (_, rest) = s.follow_ups_page(by, None, 10, 1000).unwrap();
    assert_eq!(count, report.len());
    let paged: Vec<_> = first
        .iter()
        .chain(&rest)
        .map(|f| (f.person.id.clone(), f.due, f.at.clone()))
        .collect();
    let listed: Vec<_> = report
        .iter()
        .map(|f| (f.person_id.clone(), f.due, f.last_spoken_at.clone()))
        .collect();
    assert_eq!(paged, listed);

    // One canvasser's: those whose latest conversation they held.
    let (sams, rows) = s
        .follow_ups_page(by, Some(&["Sam".to_string()]), 0, 1000)
        .unwrap();
    assert_eq!(sams, rows.len());
    assert!(sams > 0 && sams < count, "{sams} of {count}");
    assert!(rows.iter().all(|f| f.canvasser == "Sam"));
    assert_eq!(
        sams,
        report.iter().filter(|f| f.last_spoken_by == "Sam").count()
    );
}

#[test]
fn campaigns_and_shifts_are_declared_records_with_typed_conflicts() {
    use crate::model::{CampaignField, CampaignPatch, NewCampaign};
    let (da, db) = (temp(), temp());
    let mut a = Store::open(da.path()).unwrap();
    let mut b = Store::open(db.path()).unwrap();
    let id = a
        .add_campaign(NewCampaign {
            name: "Living wage".into(),
            issue: None,
            targets: [("letters signed".to_string(), 50)].into(),
        })
        .unwrap();
    deliver(&a, &mut b);
    let sent = a.outbox(100).unwrap().len();
    let rename = |n: &str| CampaignPatch {
        name: Some(n.into()),
        ..Default::default()
    };
    a.edit_campaign(&id, rename("Living wage now")).unwrap();
    b.edit_campaign(&id, rename("Real living wage")).unwrap();
    let from_b = b.outbox(100).unwrap();
    for item in a.outbox(100).unwrap().into_iter().skip(sent) {
        b.apply_remote(&item.doc_id, &[item.bytes]).unwrap();
    }
    for item in from_b {
        a.apply_remote(&item.doc_id, &[item.bytes]).unwrap();
    }
    let (ca, cb) = (a.campaign(&id).unwrap(), b.campaign(&id).unwrap());
    assert_eq!(ca, cb);
    let names = &ca.conflicts[&CampaignField::Name];
    assert!(names.contains(&Value::from("Living wage now")));
    assert!(names.contains(&Value::from("Real living wage")));
    assert_eq!(ca.targets.get("letters signed"), Some(&50));
    // A shift reads back through the same declaration.
    let shift = a.start_shift("Elm Road", Some(&id), Some("Sam")).unwrap();
    let s = a
        .shifts()
        .unwrap()
        .into_iter()
        .find(|s| s.id == shift)
        .unwrap();
    assert_eq!(
        (s.place.as_str(), s.campaign_id.as_deref()),
        ("Elm Road", Some(id.as_str()))
    );
    assert!(s.ended_at.is_none() && s.conflicts.is_empty());
}

#[test]
fn a_full_disk_refuses_the_write_in_words_and_keeps_everything_saved() {
    let dir = temp();
    let mut store = Store::open(dir.path()).unwrap();
    let kept = store.add_person(person("Amina Yusuf")).unwrap();
    store
        .record_conversation(conversation(&kept), vec![])
        .unwrap();
    // No page more than the file has now: the next write that needs one fails as a full disk
    // (or a browser's storage quota) would.
    let pages: i64 = store
        .conn
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .unwrap();
    store
        .conn
        .query_row(&format!("PRAGMA max_page_count = {pages}"), [], |_| Ok(()))
        .unwrap();
    let mut refused = None;
    for i in 0..200 {
        match store.add_person(person(&format!("Person {i} {}", "x".repeat(2000)))) {
            Ok(_) => {}
            Err(e) => {
                refused = Some(e.to_string());
                break;
            }
        }
    }
    let message = refused.expect("a write was refused once the file could not grow");
    assert!(message.contains("storage is full"), "{message}");
    assert!(
        message.contains("everything saved before is still here"),
        "{message}"
    );
    store
        .conn
        .query_row("PRAGMA max_page_count = 1073741823", [], |_| Ok(()))
        .unwrap();
    let file = store.person(&kept).unwrap();
    assert_eq!(file.person.name, "Amina Yusuf");
    assert_eq!(file.conversations.len(), 1);
    assert!(store.add_person(person("Afterwards")).is_ok());
}

#[test]
fn a_conversation_saved_from_its_draft_takes_the_draft_with_it_or_leaves_both() {
    let dir = temp();
    let mut store = Store::open(dir.path()).unwrap();
    let id = store.add_person(person("Amina Yusuf")).unwrap();
    store.save_draft("conversation/x", "typed").unwrap();
    let (saved, _) = store
        .record_conversation_from_draft(conversation(&id), vec![], "conversation/x")
        .unwrap();
    assert_eq!(store.draft("conversation/x").unwrap(), None);
    assert_eq!(store.person(&id).unwrap().conversations[0].id, saved);
    // A save that cannot be made keeps its draft (and records nothing).
    store.save_draft("conversation/y", "typed again").unwrap();
    let mut unknown = conversation(&id);
    unknown.person_id = crate::ids::new_device_id().to_string();
    assert!(
        store
            .record_conversation_from_draft(unknown, vec![], "conversation/y")
            .is_err()
    );
    assert_eq!(
        store.draft("conversation/y").unwrap().as_deref(),
        Some("typed again")
    );
    assert_eq!(store.person(&id).unwrap().conversations.len(), 1);
}

#[test]
fn a_person_saved_from_their_draft_takes_the_draft_with_them_or_leaves_both() {
    let dir = temp();
    let mut store = Store::open(dir.path()).unwrap();
    store.save_draft("person-new", "typed").unwrap();
    let id = store
        .add_person_from_draft(person("Amina Yusuf"), "person-new")
        .unwrap();
    assert_eq!(store.draft("person-new").unwrap(), None);
    assert_eq!(store.person(&id).unwrap().person.name, "Amina Yusuf");
    // A person who cannot be added (no name) keeps the draft, and nothing is added.
    store.save_draft("person-new", "typed again").unwrap();
    assert!(
        store
            .add_person_from_draft(person("  "), "person-new")
            .is_err()
    );
    assert_eq!(
        store.draft("person-new").unwrap().as_deref(),
        Some("typed again")
    );
    assert_eq!(store.list_people(10).unwrap().len(), 1);
}

/// Every projection row of person `id` (people, conversations, commitments), as text.
fn projection_rows(s: &Store, id: &str) -> Vec<String> {
    let mut rows = Vec::new();
    for sql in [
        "SELECT * FROM people WHERE id = ?1",
        "SELECT * FROM conversations WHERE person_id = ?1 ORDER BY id",
        "SELECT * FROM commitments WHERE person_id = ?1 ORDER BY id",
    ] {
        let mut stmt = s.connection().prepare(sql).unwrap();
        let width = stmt.column_count();
        let mut q = stmt.query([id]).unwrap();
        while let Some(r) = q.next().unwrap() {
            let cols: Vec<String> = (0..width)
                .map(|i| format!("{:?}", r.get::<_, rusqlite::types::Value>(i).unwrap()))
                .collect();
            rows.push(cols.join("|"));
        }
    }
    rows
}

#[test]
fn a_saves_own_projection_is_the_one_the_whole_file_gives() {
    let dir = temp();
    let mut s = Store::open(dir.path()).unwrap();
    let id = s.add_person(person("Ifeoma Chukwu")).unwrap();
    s.edit_person(
        &id,
        PersonPatch::new()
            .put(PersonField::Area, "Elm Road")
            .add(PersonField::Tags, vec!["tenant"]),
    )
    .unwrap();
    let (first, _) = s
        .record_conversation(conversation(&id), Vec::new())
        .unwrap();
    let ask = |what: &str| NewCommitment {
        what: what.into(),
        due: chrono::NaiveDate::from_ymd_opt(2026, 12, 24),
        campaign_id: None,
        target: None,
    };
    let mut later = conversation(&id);
    later.issues = vec!["Rent".into(), "Damp".into()];
    later.notes = Some("  ring twice  ".into());
    later.engagement = None;
    s.record_conversation(
        later,
        vec![ask("come to the meeting"), ask("ask a neighbour")],
    )
    .unwrap();
    let letter = s
        .add_commitment(&id, Some(&first), ask("bring the letter"))
        .unwrap();
    // Edits of one record, one of them settling a conflict with another device.
    let other_dir = temp();
    let mut other = Store::open(other_dir.path()).unwrap();
    deliver(&s, &mut other);
    let notes = |n: &str| ConversationPatch::new().put(ConversationField::Notes, n);
    s.edit_conversation(&first, notes("Call after 6pm"))
        .unwrap();
    other
        .edit_conversation(&first, notes("Only weekends"))
        .unwrap();
    deliver(&other, &mut s);
    assert!(
        !s.conversation(&first).unwrap().conflicts.is_empty(),
        "a conflict to settle"
    );
    s.edit_conversation(&first, notes("Weekends after 6pm"))
        .unwrap();
    s.edit_commitment(
        &letter,
        CommitmentPatch::new().put(CommitmentField::What, "bring two letters"),
    )
    .unwrap();
    s.set_commitment_status(&letter, CommitmentStatus::Kept)
        .unwrap();
    let fast = projection_rows(&s, &id);
    assert!(fast.iter().any(|r| r.contains("Weekends after 6pm")));
    assert!(
        fast.iter()
            .any(|r| r.contains("bring two letters") && r.contains("kept"))
    );
    assert_eq!(
        fast.len(),
        1 + 2 + 3,
        "the person, two conversations, three commitments"
    );

    // The same rows from the whole file, projected again from scratch.
    s.connection()
        .execute_batch(
            "DELETE FROM people WHERE id IN (SELECT id FROM people);
             DELETE FROM conversations; DELETE FROM commitments;",
        )
        .unwrap();
    let doc = documents::load(s.connection(), &id, &automerge::ActorId::random())
        .unwrap()
        .unwrap();
    project::project(s.connection(), &id, doc.kind, &doc.doc).unwrap();
    project::flush_search(s.connection()).unwrap();
    assert_eq!(projection_rows(&s, &id), fast);
}

#[test]
fn the_search_index_catches_up_with_saves_before_a_search_and_after_a_crash() {
    let dir = temp();
    let id = {
        let mut s = Store::open(dir.path()).unwrap();
        let id = s.add_person(person("Oluwaseun Adeyemi")).unwrap();
        let mut c = conversation(&id);
        c.story = Some("Mould in the children's bedroom".into());
        s.record_conversation(c, Vec::new()).unwrap();
        let stale: i64 = s
            .connection()
            .query_row("SELECT count(*) FROM search_stale", [], |r| r.get(0))
            .unwrap();
        assert_eq!(stale, 1, "the save left the person's search row for later");
        id
        // Dropped without a search or an idle moment: as if the app were killed here.
    };
    let mut s = Store::open(dir.path()).unwrap();
    assert_eq!(
        s.search("mould", 10).unwrap()[0].id,
        id,
        "found after reopening"
    );
    assert_eq!(s.catch_up_search().unwrap(), 0, "nothing left to catch up");
    let mut c = conversation(&id);
    c.story = Some("Landlord ignores the letters".into());
    s.record_conversation(c, Vec::new()).unwrap();
    let page = s
        .people_page(
            &PeopleFilter {
                query: "landlord".into(),
                ..Default::default()
            },
            0,
            10,
        )
        .unwrap();
    assert_eq!(
        page.people.len(),
        1,
        "the People screen's search catches up too"
    );
    s.add_commitment(
        &id,
        None,
        NewCommitment {
            what: "Write to the council".into(),
            due: None,
            campaign_id: None,
            target: None,
        },
    )
    .unwrap();
    s.checkpoint().unwrap();
    let stale: i64 = s
        .connection()
        .query_row("SELECT count(*) FROM search_stale", [], |r| r.get(0))
        .unwrap();
    assert_eq!(stale, 0, "the idle checkpoint caught up");
    assert_eq!(s.search("council", 10).unwrap()[0].id, id);
    // Erased with its row still out of date: nothing of it is written to the index after.
    s.record_conversation(conversation(&id), Vec::new())
        .unwrap();
    s.erase_locally(&id, crate::docs::DocKind::Person).unwrap();
    assert_eq!(s.catch_up_search().unwrap(), 0);
    assert!(s.search("boiler", 10).unwrap().is_empty());
    assert!(s.search("mould", 10).unwrap().is_empty());
}

#[test]
fn a_person_file_kept_loaded_between_saves_is_used_only_while_the_store_holds_it() {
    let (da, db) = (temp(), temp());
    let mut a = Store::open(da.path()).unwrap();
    let mut b = Store::open(db.path()).unwrap();
    let id = a.add_person(person("Ifeoma Eze")).unwrap();
    deliver(&a, &mut b);
    // A's save keeps the file loaded; then the file changes in A's store by other paths: a
    // change from B, and an edit of the person's details (which does not keep it).
    a.record_conversation(conversation(&id), Vec::new())
        .unwrap();
    let before = a.outbox(usize::MAX).unwrap().len();
    let mut from_b = conversation(&id);
    from_b.story = Some("Told B about the damp".into());
    b.record_conversation(from_b, Vec::new()).unwrap();
    for item in b.outbox(usize::MAX).unwrap() {
        a.apply_remote(&item.doc_id, &[item.bytes]).unwrap();
    }
    a.edit_person(
        &id,
        PersonPatch::new().put(PersonField::Phone, "07700 900123"),
    )
    .unwrap();
    let (_, asks) = a
        .record_conversation(
            conversation(&id),
            vec![NewCommitment {
                what: "Bring a neighbour".into(),
                due: None,
                campaign_id: None,
                target: None,
            }],
        )
        .unwrap();
    a.set_commitment_status(&asks[0], CommitmentStatus::Kept)
        .unwrap();
    let file = a.person(&id).unwrap();
    assert_eq!(
        file.conversations.len(),
        3,
        "B's conversation is still there"
    );
    assert_eq!(file.person.phone.as_deref(), Some("07700 900123"));
    assert_eq!(file.commitments[0].status, CommitmentStatus::Kept);
    assert_eq!(a.outbox(usize::MAX).unwrap().len(), before + 3);
    // What A holds is what its stored file says, and B converges on it.
    deliver(&a, &mut b);
    assert_eq!(b.person(&id).unwrap(), file);

    // More people written than are kept, then the first again: still right.
    let others: Vec<String> = (0..10)
        .map(|i| a.add_person(person(&format!("Neighbour {i}"))).unwrap())
        .collect();
    for o in &others {
        a.record_conversation(conversation(o), Vec::new()).unwrap();
    }
    a.record_conversation(conversation(&id), Vec::new())
        .unwrap();
    assert_eq!(a.person(&id).unwrap().conversations.len(), 4);

    // A walk list's id given where a person's is expected is refused, even when the list is
    // kept loaded.
    let read = crate::walk::import::read(
        "Elector No,Name,House No,Street,Flat,Postcode\nE1,Ann Lee,1,Elm Road,,LS1 2AB\n"
            .as_bytes(),
        &[],
    )
    .unwrap();
    let list = a.import_walklist("Elm Road", None, &read).unwrap().id;
    let door = a.walklist(&list).unwrap().doors[0].door.id.clone();
    let knock = walklists::Mark {
        outcome: crate::model::Outcome::NotHome,
        note: None,
        at: None,
        come_back_at: None,
    };
    a.mark_doors(std::slice::from_ref(&door), &knock).unwrap();
    let err = a
        .record_conversation(conversation(&list), Vec::new())
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err}");
    assert_eq!(a.walklist(&list).unwrap().doors[0].visits, 1);

    // A form opening keeps the file loaded; a change from B arrives before the save.
    assert!(matches!(a.keep_loaded(&list), Err(Error::NotFound { .. })));
    assert!(matches!(
        a.keep_loaded("01a24236-0000-7000-8000-000000000000"),
        Err(Error::NotFound { .. })
    ));
    a.keep_loaded(&id).unwrap();
    let mut from_b = conversation(&id);
    from_b.story = Some("Told B about the rent".into());
    b.record_conversation(from_b, Vec::new()).unwrap();
    for item in b.outbox(usize::MAX).unwrap() {
        a.apply_remote(&item.doc_id, &[item.bytes]).unwrap();
    }
    a.record_conversation(conversation(&id), Vec::new())
        .unwrap();
    a.keep_loaded(&id).unwrap();
    a.record_conversation(conversation(&id), Vec::new())
        .unwrap();
    let file = a.person(&id).unwrap();
    assert_eq!(file.conversations.len(), 7);
    deliver(&a, &mut b);
    assert_eq!(b.person(&id).unwrap(), file);

    // Erased: not kept in memory either.
    a.keep_loaded(&id).unwrap();
    a.erase_person_locally(&id).unwrap();
    assert!(
        a.kept.take(&id).is_none(),
        "the erased file is not kept loaded"
    );
}

#[test]
fn a_damaged_file_waiting_for_the_search_index_does_not_stop_searches() {
    let dir = temp();
    let mut s = Store::open(dir.path()).unwrap();
    let damaged = s.add_person(person("Amara Okafor")).unwrap();
    let other = s.add_person(person("Tomasz Nowak")).unwrap();
    for (id, story) in [(&damaged, "Rent rise letter"), (&other, "Rent arrears")] {
        let mut c = conversation(id);
        c.story = Some(story.into());
        s.record_conversation(c, Vec::new()).unwrap();
    }
    // The first person's stored file is damaged on disk while its index row waits.
    s.connection()
        .execute(
            "UPDATE documents SET snapshot = x'00112233' WHERE doc_id = ?1",
            [&damaged],
        )
        .unwrap();
    let found: Vec<String> = s
        .search("rent", 10)
        .unwrap()
        .into_iter()
        .map(|h| h.id)
        .collect();
    assert_eq!(found, vec![other.clone()], "the readable person is found");
    assert_eq!(s.catch_up_search().unwrap(), 0, "no mark left to retry");
    assert_eq!(
        s.search("amara", 10).unwrap()[0].id,
        damaged,
        "its old row stays"
    );
}

#[test]
fn an_erasure_owes_a_truncation_of_the_log_until_one_is_made() {
    // A notebook of no team (no document keys to cut): the person's pages are in the log all
    // the same, and a process killed between the erasure and its scrub must leave the
    // truncation to the next checkpoint.
    let dir = temp();
    let mut store = Store::open(dir.path()).unwrap();
    let id = store.add_person(person("Amina Yusuf")).unwrap();
    assert!(!store.scrub_pending().unwrap());
    assert!(store.erase_document(&id, None).unwrap());
    assert!(
        store.scrub_pending().unwrap(),
        "owed from the erasure's commit"
    );
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    assert!(store.scrub_pending().unwrap(), "still owed after a restart");
    store.checkpoint().unwrap();
    assert!(!store.scrub_pending().unwrap());
}

/// The notes of saved forms (`saved:KEY`, so that a form saved twice makes one record) are
/// forgotten after 30 days, when the notebook is idle, not at each save; a fresh note still
/// stops a second save of its form.
#[test]
fn notes_of_saved_forms_go_after_30_days_when_idle() {
    let dir = temp();
    let mut s = Store::open(dir.path()).unwrap();
    let p = s.add_person(person("Grace Okafor")).unwrap();
    let (first, _) = s
        .record_conversation_once(conversation(&p), vec![], "conversation:x", Some("fresh"))
        .unwrap();
    s.connection()
        .execute(
            "INSERT INTO drafts (key, body, updated_at) VALUES ('saved:old', 'gone', '2020-01-01T00:00:00.000Z')",
            [],
        )
        .unwrap();
    let notes = |s: &Store| -> Vec<String> {
        s.connection()
            .prepare("SELECT key FROM drafts WHERE key LIKE 'saved:%' ORDER BY key")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(|k| k.unwrap())
            .collect()
    };
    // A save leaves the old note (finding it would read every note).
    let (second, _) = s
        .record_conversation_once(conversation(&p), vec![], "conversation:y", Some("other"))
        .unwrap();
    assert_eq!(notes(&s), ["saved:fresh", "saved:old", "saved:other"]);
    s.checkpoint().unwrap();
    assert_eq!(notes(&s), ["saved:fresh", "saved:other"]);
    let (again, made) = s
        .record_conversation_once(conversation(&p), vec![], "conversation:x", Some("fresh"))
        .unwrap();
    assert_eq!(
        (again, made.len()),
        (first.clone(), 0),
        "the same form, once"
    );
    assert_ne!(first, second);
    assert_eq!(s.person(&p).unwrap().conversations.len(), 2);
}

#[test]
fn a_target_label_with_spaces_around_it_is_projected_as_the_file_keeps_it() {
    use crate::model::NewCampaign;
    let d = temp();
    let mut s = Store::open(d.path()).unwrap();
    // Through the store's own API a label keeps its spaces (the forms trim them).
    let campaign = s
        .add_campaign(NewCampaign {
            name: "Ward drive".into(),
            issue: None,
            targets: [(" Ward 3 ".to_string(), 10)].into(),
        })
        .unwrap();
    let p = s.add_person(person("Ada Byron")).unwrap();
    let commitment = |what: &str| NewCommitment {
        what: what.into(),
        due: None,
        campaign_id: Some(campaign.clone()),
        target: Some("ward 3".into()),
    };
    let (_, made) = s
        .record_conversation(conversation(&p), vec![commitment("sign the letter")])
        .unwrap();
    let added = s
        .add_commitment(&p, None, commitment("bring a neighbour"))
        .unwrap();
    // The rows hold what the file holds (debug builds also check it as the save runs), and a
    // whole projection of the file gives the same.
    let targets = |s: &Store| -> Vec<Option<String>> {
        [&made[0], &added]
            .iter()
            .map(|id| s.commitment(id).unwrap().target)
            .collect()
    };
    assert_eq!(
        targets(&s),
        [Some("Ward 3".to_string()), Some("Ward 3".to_string())]
    );
    let doc = documents::load(s.connection(), &p, &automerge::ActorId::random())
        .unwrap()
        .unwrap()
        .doc;
    let file = crate::docs::person::read(&doc, &p).unwrap();
    assert!(
        file.commitments
            .iter()
            .all(|c| c.target.as_deref() == Some("Ward 3")),
        "{:?}",
        file.commitments
    );
}

/// The phone's notebook is held in exclusive locking mode, where SQLite keeps a rollback
/// journal's file after a commit and only blanks its header: a passphrase change must not
/// leave the notebook's pages under the old key there.
#[test]
fn a_passphrase_change_in_exclusive_locking_mode_leaves_no_pages_under_the_old_key() {
    let tmp = temp();
    let dir = tmp.path();
    let old = at_rest::Passphrase::new("the old passphrase words");
    let new = at_rest::Passphrase::new("the new passphrase words");
    let conn = Connection::open(dir.join(files::DB_FILE)).unwrap();
    conn.query_row("PRAGMA locking_mode = EXCLUSIVE", [], |_| Ok(()))
        .unwrap();
    at_rest::unlock(&conn, &old, dir).unwrap();
    conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
        .unwrap();
    conn.execute_batch(
        "CREATE TABLE t (b BLOB);
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 40)
         INSERT INTO t SELECT randomblob(50000) FROM n;",
    )
    .unwrap();
    // As the change stands at its commit, before the log comes back (a crash there, or the
    // log refused): the journal holds nothing.
    at_rest::rekey_in_journal(&conn, dir, &new, true).unwrap();
    let journal = dir.join(format!("{}-journal", files::DB_FILE));
    let left = std::fs::metadata(&journal).map(|m| m.len()).unwrap_or(0);
    assert_eq!(
        left, 0,
        "the journal keeps {left} bytes of pages under the old key"
    );
    drop(conn);
    // The whole change, again: still open, still written to, back in its log.
    let conn = Connection::open(dir.join(files::DB_FILE)).unwrap();
    conn.query_row("PRAGMA locking_mode = EXCLUSIVE", [], |_| Ok(()))
        .unwrap();
    at_rest::unlock(&conn, &new, dir).unwrap();
    conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
        .unwrap();
    let (old, new) = (new, at_rest::Passphrase::new("a third passphrase"));
    at_rest::change_key(&conn, dir, &new).unwrap();
    conn.execute("INSERT INTO t VALUES (randomblob(10))", [])
        .unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    assert!(!journal.exists());
    drop(conn);
    let reopen = |p: &at_rest::Passphrase| {
        let c = Connection::open(dir.join(files::DB_FILE)).unwrap();
        at_rest::unlock(&c, p, dir).unwrap();
        at_rest::check_key(&c, dir).map(|()| {
            c.query_row("SELECT count(*) FROM t", [], |r| r.get::<_, i64>(0))
                .unwrap()
        })
    };
    assert!(matches!(reopen(&old), Err(Error::WrongPassphrase { .. })));
    assert_eq!(reopen(&new).unwrap(), 41);
}

/// A passphrase change whose rekey failed, after which the notebook opened under neither
/// passphrase (the phone's storage refusing): the store holds no notebook from then on, and
/// every request, read or write, and the worker's own drafts and checkpoints, are answered that
/// it could not be opened again and to reload, not "no such table" from the empty database the
/// failed connection was swapped for; the failure's own answer says so too.
#[test]
fn a_notebook_not_opened_again_after_a_failed_passphrase_change_says_so_to_every_request() {
    use crate::service::{Request, handle};
    let tmp = temp();
    let current = at_rest::Passphrase::new("the current passphrase");
    let new = at_rest::Passphrase::new("the new passphrase words");
    let mut store = Store::open_with(tmp.path(), Some(&current)).unwrap();
    let rosa = store.add_person(person("Rosa")).unwrap();
    let refused = |why: &str| Error::DataDir {
        path: tmp.path().to_path_buf(),
        source: std::io::Error::other(why.to_string()),
    };
    let gone = store.open_again(refused("the rekey failed"), &current, &new, |_| {
        Err(refused("the storage refused the file"))
    });
    let said = match gone {
        Err(e @ Error::NotebookClosed { .. }) => e.to_string(),
        other => panic!("not said closed: {other:?}"),
    };
    assert!(
        said.contains("reload the page") && said.contains("the storage refused the file"),
        "{said}"
    );
    assert!(store.is_closed());
    let answers = [
        handle(&mut store, Request::Overview).map(drop),
        handle(&mut store, Request::Person(rosa.clone())).map(drop),
        handle(&mut store, Request::AddPerson(person("Ana"))).map(drop),
        handle(&mut store, Request::Draft("new-person".into())).map(drop),
        store.add_person(person("Bo")).map(drop),
        store.save_draft("new-person", "Cy"),
        store.page_copy_key().map(drop),
        store.checkpoint(),
    ];
    for answer in answers {
        assert!(
            matches!(&answer, Err(Error::NotebookClosed { .. })),
            "{answer:?}"
        );
    }
}

/// The same, with the notebook opening again: under the current passphrase (the rekey rolled
/// back), the store goes on under it and the failure is the answer; under the new one only (what
/// failed came after the rekey's commit), the change is done.
#[test]
fn a_notebook_opened_again_after_a_failed_passphrase_change_goes_on_under_its_key() {
    let tmp = temp();
    let dir = tmp.path().to_path_buf();
    let current = at_rest::Passphrase::new("the current passphrase");
    let new = at_rest::Passphrase::new("the new passphrase words");
    let mut store = Store::open_with(&dir, Some(&current)).unwrap();
    let rosa = store.add_person(person("Rosa")).unwrap();
    let failed = || Error::DataDir {
        path: dir.clone(),
        source: std::io::Error::other("the rekey failed"),
    };
    let open = |key: &at_rest::Passphrase| {
        files::open_connection(&dir, files::notebook_file(true), Some(key))
    };
    let rolled_back = store.open_again(failed(), &current, &new, open);
    assert!(
        matches!(&rolled_back, Err(Error::DataDir { .. })),
        "{rolled_back:?}"
    );
    assert!(!store.is_closed());
    assert!(store.person(&rosa).is_ok());
    store.add_person(person("Ana")).unwrap();
    // The change landed: the notebook opens under the new passphrase only.
    store.change_passphrase(&current, &new).unwrap();
    store.open_again(failed(), &current, &new, open).unwrap();
    assert!(!store.is_closed());
    assert!(store.person(&rosa).is_ok());
    assert!(store.raw_key(&new).is_ok());
}
