//! The page's own copy of what was typed and not yet written (the phone web app).
//!
//! The page sends each draft to the store worker as it is typed, and the worker writes it once
//! typing pauses ([`super::worker::DRAFT_QUIET`]) or the page is hidden. A tab closed within
//! that pause can end the worker before it writes: what was typed last would be lost. So the
//! page keeps each draft it sent until the worker says every draft up to it is kept (the
//! worker's `DraftsKept`), and when it is hidden it writes what is still unconfirmed to its
//! own storage (`localStorage`, which a page writes before it goes). The next page to open
//! the notebook sends that copy to the worker as drafts, before anything else, and drops it
//! once the worker says they are kept. When the notebook is encrypted at rest the copy is
//! sealed (`groundwork::crypto::local_copy`, done by `browser::client`).
//!
//! A draft a save ends (its record saved with it) stays copied until the save is answered: a
//! busy worker ended with the page may never have read the save, and then the draft is all
//! there is. Once the answer says it was done, the copy goes (offering a saved record's text
//! again as a draft would invite saving it twice). The window left is between the worker
//! finishing the save and the page reading the answer (both run at once, so normally a
//! moment, unless the page's thread is held up then); if the tab dies in it, the draft comes
//! back and the form says it was restored. A discarded draft (a form emptied, "Discard
//! draft") is copied as a discard, so that text the user removed never comes back.
//!
//! Only the page that opened the notebook writes the copy (a second tab, refused, must not
//! remove or overwrite it), and it removes only a copy it wrote or read. This module is the bookkeeping only, free of the browser, so that it is tested natively;
//! `browser::client` does the posting and the storage.

use std::collections::BTreeMap;

use groundwork::store::drafts::person_of;

/// A draft sent and not yet confirmed.
#[derive(Debug)]
struct Sent {
    /// Its `seq`.
    seq: u64,
    /// Its text; `None`: discarded.
    body: Option<String>,
    /// The request that ends it, by the page's id for the call, while it waits for an answer.
    ending: Option<u64>,
    /// Taken back from a copy another page left, rather than typed here.
    from_copy: bool,
}

/// Drafts sent to the worker and not yet confirmed kept.
#[derive(Debug, Default)]
pub struct Unsaved {
    /// Drafts sent so far (the `seq` of the last).
    seq: u64,
    /// Key → the draft last sent under it.
    sent: BTreeMap<String, Sent>,
    /// Whether the page's storage may hold a copy (written at a hide, or read at the start):
    /// while it may, it is kept in step with what is unconfirmed.
    stored: bool,
}

impl Unsaved {
    /// `body` is sent as the draft `key`: the `seq` to send with it.
    pub fn sent(&mut self, key: &str, body: &str) -> u64 {
        self.seq += 1;
        let draft = Sent {
            seq: self.seq,
            body: Some(body.to_string()),
            ending: None,
            from_copy: false,
        };
        self.sent.insert(key.to_string(), draft);
        self.seq
    }

    /// The request `call` that ends the draft `key` is sent: a save of its record, or, when
    /// `discard`, the draft's deletion (copied as a discard even if the worker had kept the text
    /// already: not read, the deletion is owed to the notebook).
    pub fn ending(&mut self, key: &str, call: u64, discard: bool) {
        if discard {
            let draft = Sent {
                seq: self.seq,
                body: None,
                ending: Some(call),
                from_copy: false,
            };
            self.sent.insert(key.to_string(), draft);
        } else if let Some(draft) = self.sent.get_mut(key) {
            draft.ending = Some(call);
        }
    }

    /// The request `call` was answered: done (`ok`), its draft goes; refused, the draft stays
    /// until the worker says it is kept (it writes it back).
    pub fn answered(&mut self, call: u64, ok: bool) {
        if ok {
            self.sent.retain(|_, d| d.ending != Some(call));
        } else {
            for draft in self.sent.values_mut() {
                if draft.ending == Some(call) {
                    draft.ending = None;
                }
            }
        }
    }

    /// The worker says every draft up to `seq` is kept (a draft a request is ending waits for
    /// the request's answer).
    pub fn kept(&mut self, seq: u64) {
        self.sent.retain(|_, d| d.seq > seq || d.ending.is_some());
    }

    /// The drafts not yet confirmed, as the page's storage holds them (a discard as `null`;
    /// `None`: nothing to hold, the storage's copy should go).
    pub fn copy(&self) -> Option<String> {
        let drafts: BTreeMap<&str, Option<&str>> = self
            .sent
            .iter()
            .map(|(k, d)| (k.as_str(), d.body.as_deref()))
            .collect();
        if drafts.is_empty() {
            return None;
        }
        serde_json::to_string(&drafts).ok()
    }

    /// The documents `erased` were erased from the notebook: drafts typed about them (keys
    /// `conversation:ID`, `person-edit:ID`, `record-edit:ID:RECORD`; the person read by the
    /// store's own rule, [`person_of`]) go, so that no copy keeps them. Returns whether any
    /// went.
    pub fn forget_erased(&mut self, erased: &[String]) -> bool {
        let before = self.sent.len();
        self.sent.retain(|key, _| {
            let person = person_of(key);
            person.is_empty() || !erased.iter().any(|e| e == person)
        });
        self.sent.len() != before
    }

    /// What the page's storage should be told now: on a hide (`hiding`) the copy is written;
    /// otherwise only a copy already there is kept in step (written again, or removed once
    /// every draft is confirmed). `None`: nothing to do.
    pub fn to_store(&self, hiding: bool) -> Option<Storage> {
        if !hiding && !self.stored {
            return None;
        }
        match self.copy() {
            Some(copy) => Some(Storage::Write(copy)),
            // Not this page's copy to remove (another page's, written since this one started).
            None if !self.stored => None,
            None => Some(Storage::Remove),
        }
    }

    /// [`Unsaved::to_store`] where no copy may be written: the notebook is encrypted at rest
    /// and gave no key to seal one with, and drafts are not left in the page's storage in the
    /// clear. A copy this page wrote or took back is removed rather than left, older, to be
    /// taken back over newer drafts after a crash (as when the storage refuses a write: the
    /// worker's own flush is then all there is); another page's is left alone.
    pub fn to_store_without_key(&self, hiding: bool) -> Option<Storage> {
        match self.to_store(hiding)? {
            Storage::Write(_) if !self.stored => None,
            _ => Some(Storage::Remove),
        }
    }

    /// Whether `body` (`None`: a discard), found under `key` in a copy, should be taken back:
    /// not if this page typed (or discarded) `key` itself since, nor if it already took back
    /// the same from a copy.
    pub fn wants_back(&self, key: &str, body: Option<&str>) -> bool {
        match self.sent.get(key) {
            None => true,
            Some(d) => d.from_copy && d.body.as_deref() != body,
        }
    }

    /// The draft just sent (or discarded) under `key` was taken back from a copy.
    pub fn mark_taken_back(&mut self, key: &str) {
        if let Some(d) = self.sent.get_mut(key) {
            d.from_copy = true;
        }
    }

    /// The page's storage did what [`Unsaved::to_store`] said.
    pub fn stored_as(&mut self, done: &Storage) {
        self.stored = matches!(done, Storage::Write(_));
    }

    /// A copy was found in the page's storage at the start (and stays until it is confirmed).
    pub fn found_stored(&mut self) {
        self.stored = true;
    }
}

/// What to do with the page's storage.
#[derive(Debug, PartialEq, Eq)]
pub enum Storage {
    /// Hold this copy.
    Write(String),
    /// Hold nothing.
    Remove,
}

/// The drafts in a copy read from the page's storage (`None`: discarded): nothing if it is not
/// one (another version's, or damaged), never an error: a copy is a second chance, not the
/// record.
pub fn read_copy(text: &str) -> Vec<(String, Option<String>)> {
    serde_json::from_str::<BTreeMap<String, Option<String>>>(text)
        .map(|m| m.into_iter().collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(key: &str, body: &str) -> (String, Option<String>) {
        (key.to_string(), Some(body.to_string()))
    }

    fn copied(u: &Unsaved) -> Vec<(String, Option<String>)> {
        read_copy(&u.copy().expect("a copy"))
    }

    #[test]
    fn a_draft_is_copied_until_the_worker_says_it_is_kept() {
        let mut u = Unsaved::default();
        let first = u.sent("new-person", "Ay");
        let second = u.sent("new-person", "Aysha");
        assert_eq!(second, first + 1);
        assert_eq!(copied(&u), vec![text("new-person", "Aysha")]);
        u.kept(first);
        assert!(
            u.copy().is_some(),
            "kept up to the first: the second is not"
        );
        u.kept(second);
        assert_eq!(u.copy(), None);
    }

    #[test]
    fn a_draft_a_save_ends_is_copied_until_the_save_is_done() {
        let mut u = Unsaved::default();
        let seq = u.sent("conversation:p1", "story");
        u.sent("new-person", "Bo");
        u.ending("conversation:p1", 7, false);
        // The worker flushes before it answers: the draft waits for the answer all the same.
        u.kept(seq);
        assert_eq!(copied(&u).len(), 2);
        u.answered(7, true);
        assert_eq!(copied(&u), vec![text("new-person", "Bo")]);
        // Typed again after the save: copied again.
        u.sent("conversation:p1", "another");
        assert_eq!(copied(&u).len(), 2);
    }

    #[test]
    fn a_draft_whose_save_failed_stays_until_the_worker_keeps_it() {
        let mut u = Unsaved::default();
        let seq = u.sent("new-person", "Cy");
        u.ending("new-person", 3, false);
        u.answered(3, false);
        assert!(
            u.copy().is_some(),
            "the save failed: the draft is all there is"
        );
        u.answered(4, true);
        assert!(u.copy().is_some(), "another call's answer");
        u.kept(seq);
        assert_eq!(u.copy(), None);
    }

    #[test]
    fn a_save_ending_a_draft_already_kept_leaves_nothing() {
        let mut u = Unsaved::default();
        let seq = u.sent("new-person", "Di");
        u.kept(seq);
        u.ending("new-person", 1, false);
        assert_eq!(u.copy(), None);
    }

    #[test]
    fn a_discard_is_copied_as_a_discard_until_it_is_done_even_of_a_draft_already_kept() {
        let mut u = Unsaved::default();
        let seq = u.sent("new-person", "Wrong Name");
        u.ending("new-person", 5, true);
        assert_eq!(copied(&u), vec![("new-person".to_string(), None)]);
        u.kept(seq);
        assert_eq!(copied(&u).len(), 1, "the discard waits for its answer");
        u.answered(5, true);
        assert_eq!(u.copy(), None);
        // The text was kept before the discard was sent: the discard is copied all the same.
        let seq = u.sent("person-edit:p2", "x");
        u.kept(seq);
        u.ending("person-edit:p2", 6, true);
        assert_eq!(copied(&u), vec![("person-edit:p2".to_string(), None)]);
    }

    #[test]
    fn only_what_came_after_the_confirmed_seq_stays() {
        let mut u = Unsaved::default();
        let a = u.sent("a", "1");
        u.sent("b", "2");
        u.kept(a);
        assert_eq!(copied(&u), vec![text("b", "2")]);
    }

    #[test]
    fn the_storage_is_written_at_a_hide_and_then_kept_in_step_until_nothing_is_left() {
        let mut u = Unsaved::default();
        let seq = u.sent("new-person", "Ed");
        assert_eq!(
            u.to_store(false),
            None,
            "not hidden: the storage is not touched"
        );
        let hide = u.to_store(true).expect("written at a hide");
        assert!(matches!(&hide, Storage::Write(c) if c.contains("Ed")));
        u.stored_as(&hide);
        let more = u.sent("new-person", "Edna");
        assert!(matches!(u.to_store(false), Some(Storage::Write(c)) if c.contains("Edna")));
        u.kept(seq);
        assert!(matches!(u.to_store(false), Some(Storage::Write(_))));
        u.kept(more);
        let last = u.to_store(false).expect("the copy goes");
        assert_eq!(last, Storage::Remove);
        u.stored_as(&last);
        u.sent("new-person", "Edwina");
        assert_eq!(u.to_store(false), None, "nothing stored any more");
    }

    #[test]
    fn without_a_key_to_seal_it_this_pages_copy_goes_and_another_pages_stays() {
        let mut u = Unsaved::default();
        u.sent("new-person", "Fay");
        assert_eq!(
            u.to_store_without_key(true),
            None,
            "nothing of this page's stored: nothing written, another page's copy left"
        );
        // Written in the clear before the notebook was encrypted (or sealed under a key the
        // notebook no longer gives), then typed on: the copy stored is older than the drafts.
        let hide = u.to_store(true).expect("written at a hide");
        u.stored_as(&hide);
        u.sent("new-person", "Fayola");
        assert_eq!(u.to_store_without_key(false), Some(Storage::Remove));
        assert_eq!(u.to_store_without_key(true), Some(Storage::Remove));
        u.stored_as(&Storage::Remove);
        assert_eq!(
            u.to_store_without_key(true),
            None,
            "gone: nothing more to do"
        );
        // A copy taken back at the start is this page's to keep in step, so to remove.
        let mut v = Unsaved::default();
        v.found_stored();
        for (key, body) in read_copy("{\"a\":\"1\"}") {
            v.sent(&key, body.as_deref().unwrap_or_default());
            v.mark_taken_back(&key);
        }
        assert_eq!(v.to_store_without_key(false), Some(Storage::Remove));
    }

    #[test]
    fn a_page_with_nothing_unconfirmed_leaves_another_pages_copy_alone() {
        let u = Unsaved::default();
        assert_eq!(u.to_store(true), None);
        assert_eq!(u.to_store(false), None);
    }

    #[test]
    fn a_copy_found_at_the_start_stays_until_the_worker_keeps_its_drafts() {
        let mut u = Unsaved::default();
        u.found_stored();
        let mut last = 0;
        for (key, body) in read_copy("{\"a\":\"1\",\"b\":\"2\"}") {
            last = u.sent(&key, body.as_deref().unwrap_or_default());
        }
        assert!(matches!(u.to_store(false), Some(Storage::Write(c)) if c.contains('2')));
        u.kept(last - 1);
        assert!(matches!(u.to_store(false), Some(Storage::Write(_))));
        u.kept(last);
        assert_eq!(u.to_store(false), Some(Storage::Remove));
    }

    #[test]
    fn a_copy_read_again_is_taken_back_where_it_differs_and_this_page_did_not_type() {
        let mut u = Unsaved::default();
        for (key, body) in [("a", "1"), ("b", "2")] {
            u.sent(key, body);
            u.mark_taken_back(key);
        }
        assert!(
            !u.wants_back("a", Some("1")),
            "the same, taken back already"
        );
        assert!(
            u.wants_back("a", Some("11")),
            "the closing page typed more since"
        );
        assert!(u.wants_back("c", None), "a key this page never saw");
        u.sent("b", "typed here");
        assert!(
            !u.wants_back("b", Some("2")),
            "typed here since: this page's word is newer"
        );
        u.ending("d", 9, true);
        assert!(!u.wants_back("d", Some("old")), "discarded here");
    }

    #[test]
    fn drafts_about_an_erased_person_leave_the_copy() {
        let mut u = Unsaved::default();
        u.sent("conversation:p1", "about p1");
        u.sent("person-edit:p1", "p1's details");
        u.sent("record-edit:p1:c7", "a correction to p1's conversation");
        u.sent("conversation:p2", "about p2");
        u.sent("record-edit:p2:c8", "a correction to p2's conversation");
        u.sent("new-person", "someone new");
        let hide = u.to_store(true).expect("written at a hide");
        u.stored_as(&hide);
        assert!(u.forget_erased(&["p1".to_string()]));
        assert!(!u.forget_erased(&["p9".to_string()]));
        let Some(Storage::Write(copy)) = u.to_store(false) else {
            panic!("the copy is written again");
        };
        assert!(!copy.contains("p1"), "{copy}");
        assert_eq!(read_copy(&copy).len(), 3);
        assert!(u.forget_erased(&["p2".to_string()]));
        assert!(matches!(u.to_store(false), Some(Storage::Write(c)) if !c.contains("p2")));
    }

    #[test]
    fn a_damaged_copy_reads_as_nothing() {
        assert!(read_copy("").is_empty());
        assert!(read_copy("{\"a\": 1}").is_empty());
        assert!(read_copy("[\"a\"]").is_empty());
        assert_eq!(read_copy("{\"k\":\"v\"}"), vec![text("k", "v")]);
        assert_eq!(read_copy("{\"k\":null}"), vec![("k".to_string(), None)]);
    }
}
