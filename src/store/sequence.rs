//! Each writer's changes to a document are numbered 1, 2, 3, … (their `seq`), and Automerge
//! assumes that what it is given keeps to that: a change numbered past its writer's next (a
//! new writer's first change numbered 2), a change naming a writer the document has never
//! seen, or one carrying an author's footer past the first makes Automerge 0.12 panic while
//! applying it, and a panic in the middle of a sync stops it on every retry (natively the
//! sync thread dies; in the phone's worker, built to abort on panic, the notebook stops). A
//! second change under a number already held (a writer forking its own history) Automerge
//! refuses with an error. Changes made by Automerge itself always keep to the numbering, so
//! only a hostile or broken device's do not: [`Sequences`] judges each change from elsewhere
//! before it is applied, so that such a change is refused and listed like any other, with a
//! reason a lead can read. A snapshot is a whole document, which Automerge loads without
//! checking its numbering and then panics merging or extending: [`load_snapshot`] loads one and
//! refuses it unless each writer's changes in it run 1, 2, 3, … with no author's footer (a
//! writer's history that forked from one held here Automerge refuses with an error as it
//! merges).

use std::collections::HashMap;

use automerge::{ActorId, AutoCommit, Change};

/// How many changes of each writer a document holds.
#[derive(Default)]
pub(crate) struct Sequences {
    by_actor: HashMap<ActorId, u64>,
}

impl Sequences {
    /// The numbering of every change `doc` holds.
    pub(crate) fn of(doc: &mut AutoCommit) -> Sequences {
        let mut by_actor: HashMap<ActorId, u64> = HashMap::new();
        for meta in doc.get_changes_meta(&[]) {
            *by_actor.entry(meta.actor.into_owned()).or_default() += 1;
        }
        Sequences { by_actor }
    }

    /// Why `change` cannot be applied to the document as numbered here, if it cannot.
    pub(crate) fn check(&self, change: &Change) -> std::result::Result<(), String> {
        let held = self.by_actor.get(change.actor_id()).copied().unwrap_or(0);
        if change.seq() != held + 1 {
            return Err(format!(
                "it is numbered {} of its writer's changes to this document, where {} is next \
                 (a device's changes are numbered one after another)",
                change.seq(),
                held + 1
            ));
        }
        if let Some(unknown) = change
            .other_actor_ids()
            .iter()
            .find(|a| !self.by_actor.contains_key(*a))
        {
            return Err(format!(
                "it refers to writer {}, none of whose changes to this document are held",
                unknown.to_hex_string()
            ));
        }
        if change.author().is_some() {
            return Err("it carries an author's footer, which Groundwork never writes".into());
        }
        Ok(())
    }

    /// Note `change` as applied.
    pub(crate) fn note(&mut self, change: &Change) {
        *self.by_actor.entry(change.actor_id().clone()).or_default() += 1;
    }
}

/// Load the document of a snapshot, refused (the reason, worded) unless Automerge can load it
/// and each writer's changes in it are numbered 1, 2, 3, … without an author's footer.
pub(crate) fn load_snapshot(bytes: &[u8]) -> std::result::Result<AutoCommit, String> {
    let mut doc = AutoCommit::load(bytes).map_err(|e| e.to_string())?;
    let mut by_actor: HashMap<ActorId, Vec<u64>> = HashMap::new();
    for meta in doc.get_changes_meta(&[]) {
        if meta.author.is_some() {
            return Err(
                "it holds a change with an author's footer, which Groundwork never writes".into(),
            );
        }
        by_actor
            .entry(meta.actor.into_owned())
            .or_default()
            .push(meta.seq);
    }
    for (actor, mut seqs) in by_actor {
        seqs.sort_unstable();
        if seqs.iter().zip(1u64..).any(|(seq, turn)| *seq != turn) {
            return Err(format!(
                "its changes by writer {} are not numbered one after another",
                actor.to_hex_string()
            ));
        }
    }
    Ok(doc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::ROOT;
    use automerge::transaction::Transactable;

    fn doc_of(actor: u8) -> AutoCommit {
        AutoCommit::new().with_actor(ActorId::from(vec![actor; 16]))
    }

    #[test]
    fn a_snapshot_loads_when_its_numbering_holds() {
        let mut doc = doc_of(1);
        doc.put(ROOT, "name", "Amina").unwrap();
        doc.commit();
        doc.put(ROOT, "name", "Amina Yusuf").unwrap();
        doc.commit();
        assert!(load_snapshot(&doc.save()).is_ok());
        assert!(load_snapshot(b"not a document").is_err());
    }

    #[test]
    fn changes_are_judged_by_their_writers_turn() {
        let mut doc = doc_of(1);
        doc.put(ROOT, "name", "Amina").unwrap();
        doc.commit();
        let mut next = doc.fork().with_actor(ActorId::from(vec![1; 16]));
        next.put(ROOT, "name", "Amina Yusuf").unwrap();
        next.commit();
        let second = next.get_last_local_change().unwrap();
        let mut seqs = Sequences::of(&mut doc);
        seqs.check(&second).unwrap();
        seqs.note(&second);
        // The same number again (another second change) is out of turn now.
        let err = seqs.check(&second).unwrap_err();
        assert!(
            err.contains("numbered 2") && err.contains("3 is next"),
            "{err}"
        );
        // A new writer's first change is in turn; its second without its first is not.
        let mut new = doc.fork().with_actor(ActorId::from(vec![3; 16]));
        new.put(ROOT, "a", 1).unwrap();
        new.commit();
        new.put(ROOT, "a", 2).unwrap();
        new.commit();
        let its_second = new.get_last_local_change().unwrap();
        assert!(Sequences::of(&mut doc).check(&its_second).is_err());
    }
}
