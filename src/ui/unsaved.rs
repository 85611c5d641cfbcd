//! The page's own copy of what was typed and not yet written (the phone web app).
//!
//! The page sends each draft to the store worker as it is typed, and the worker writes it once
//! typing pauses ([`super::worker::DRAFT_QUIET`]) or the page is hidden. A tab closed within
//! that pause can end the worker before it writes: what was typed last would be lost. So the
//! page keeps each draft it sent until the worker says every draft up to it is kept (the
//! worker's `DraftsKept`), and when it is hidden it writes what is still unconfirmed to its
//! own storage (`localStorage`, which a page writes before it goes). The next page to open
//! the notebook sends that copy to the worker as drafts, before anything else, and drops it
//! once the worker says they are kept.
//!
//! A draft ended by a request (its record saved, or the draft discarded) stays copied until
//! the request is answered: a busy worker ended with the page may never have read it, and
//! then the draft is all there is. Once the answer says it was done, the copy goes (offering
//! a saved record's text again as a draft would invite saving it twice). The one window left
//! is between the worker doing it and the page reading the answer, well under a millisecond
//! unless the page is frozen at that very moment; then the draft comes back and the form says
//! it was restored. This module is the bookkeeping only, free of the browser, so that it is tested natively;
//! `browser::client` does the posting and the storage.

use std::collections::BTreeMap;

/// A draft sent and not yet confirmed.
#[derive(Debug)]
struct Sent {
    /// Its `seq`.
    seq: u64,
    body: String,
    /// The request that ends it, by the page's id for the call, while it waits for an answer.
    ending: Option<u64>,
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
            body: body.to_string(),
            ending: None,
        };
        self.sent.insert(key.to_string(), draft);
        self.seq
    }

    /// The request `call` that ends the draft `key` (saves its record, or discards it) is sent.
    pub fn ending(&mut self, key: &str, call: u64) {
        if let Some(draft) = self.sent.get_mut(key) {
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

    /// The drafts not yet confirmed, as the page's storage holds them (`None`: nothing to hold,
    /// the storage's copy should go).
    pub fn copy(&self) -> Option<String> {
        let drafts: BTreeMap<&str, &str> = self
            .sent
            .iter()
            .map(|(k, d)| (k.as_str(), d.body.as_str()))
            .collect();
        if drafts.is_empty() {
            return None;
        }
        serde_json::to_string(&drafts).ok()
    }

    /// What the page's storage should be told now: on a hide (`hiding`) the copy is written;
    /// otherwise only a copy already there is kept in step (written again, or removed once
    /// every draft is confirmed). `None`: nothing to do.
    pub fn to_store(&self, hiding: bool) -> Option<Storage> {
        if !hiding && !self.stored {
            return None;
        }
        Some(match self.copy() {
            Some(copy) => Storage::Write(copy),
            None => Storage::Remove,
        })
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

/// The drafts in a copy read from the page's storage: nothing if it is not one (another
/// version's, or damaged), never an error: a copy is a second chance, not the record.
pub fn read_copy(text: &str) -> Vec<(String, String)> {
    serde_json::from_str::<BTreeMap<String, String>>(text)
        .map(|m| m.into_iter().collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_draft_is_copied_until_the_worker_says_it_is_kept() {
        let mut u = Unsaved::default();
        let first = u.sent("new-person", "Ay");
        let second = u.sent("new-person", "Aysha");
        assert_eq!(second, first + 1);
        assert_eq!(
            read_copy(&u.copy().expect("a copy")),
            vec![("new-person".to_string(), "Aysha".to_string())]
        );
        u.kept(first);
        assert!(
            u.copy().is_some(),
            "kept up to the first: the second is not"
        );
        u.kept(second);
        assert_eq!(u.copy(), None);
    }

    #[test]
    fn a_draft_a_request_ends_is_copied_until_the_request_is_done() {
        let mut u = Unsaved::default();
        let seq = u.sent("conversation:p1", "story");
        u.sent("new-person", "Bo");
        u.ending("conversation:p1", 7);
        // The worker flushes before it answers: the draft waits for the answer all the same.
        u.kept(seq);
        assert_eq!(read_copy(&u.copy().expect("a copy")).len(), 2);
        u.answered(7, true);
        assert_eq!(
            read_copy(&u.copy().expect("a copy")),
            vec![("new-person".to_string(), "Bo".to_string())]
        );
        // Typed again after the save: copied again.
        u.sent("conversation:p1", "another");
        assert_eq!(read_copy(&u.copy().expect("a copy")).len(), 2);
    }

    #[test]
    fn a_draft_whose_request_failed_stays_until_the_worker_keeps_it() {
        let mut u = Unsaved::default();
        let seq = u.sent("new-person", "Cy");
        u.ending("new-person", 3);
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
    fn a_request_ending_a_draft_already_kept_leaves_nothing() {
        let mut u = Unsaved::default();
        let seq = u.sent("new-person", "Di");
        u.kept(seq);
        u.ending("new-person", 1);
        assert_eq!(u.copy(), None);
    }

    #[test]
    fn only_what_came_after_the_confirmed_seq_stays() {
        let mut u = Unsaved::default();
        let a = u.sent("a", "1");
        u.sent("b", "2");
        u.kept(a);
        assert_eq!(
            read_copy(&u.copy().expect("a copy")),
            vec![("b".to_string(), "2".to_string())]
        );
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
        assert_eq!(Unsaved::default().to_store(true), Some(Storage::Remove));
    }

    #[test]
    fn a_copy_found_at_the_start_stays_until_the_worker_keeps_its_drafts() {
        let mut u = Unsaved::default();
        u.found_stored();
        let mut last = 0;
        for (key, body) in read_copy("{\"a\":\"1\",\"b\":\"2\"}") {
            last = u.sent(&key, &body);
        }
        assert!(matches!(u.to_store(false), Some(Storage::Write(c)) if c.contains('2')));
        u.kept(last - 1);
        assert!(matches!(u.to_store(false), Some(Storage::Write(_))));
        u.kept(last);
        assert_eq!(u.to_store(false), Some(Storage::Remove));
    }

    #[test]
    fn a_damaged_copy_reads_as_nothing() {
        assert!(read_copy("").is_empty());
        assert!(read_copy("{\"a\": 1}").is_empty());
        assert!(read_copy("[\"a\"]").is_empty());
        assert_eq!(read_copy("{\"k\":\"v\"}"), vec![("k".into(), "v".into())]);
    }
}
