//! Work on a page of pulled blobs done ahead, on the machine's other cores, a window at a time:
//! opening each seal and checking its signature ([`prepare`]), loading and reading the
//! documents of the snapshots among them ([`load`]), and applying and judging each document's
//! changes ([`documents`], the work itself in [`super::intake`]).
//!
//! Each result is a pure function of the bytes and of what it was computed with: the keyring
//! and the members' signing keys as the page began, the document as stored (or an empty one
//! for a document new here). The one-at-a-time
//! judgement that follows ([`super::opening`], then [`super::intake`]) takes a result only
//! where it would compute with the same (the same ring, the same signing key, the same stored
//! document, nothing refused or waiting here that bears on it), and computes it itself
//! otherwise, so a record taken in mid-page (a new key, a new member, a
//! revocation) changes where the work is done, never what is decided. Failures are not kept:
//! the judgement meets them again itself and words the refusal as it always does.
//!
//! The judgement stays one at a time and in the relay's order (records taken in there are
//! cut-offs for what follows); only the pure work moves. In the browser (wasm32, one thread)
//! nothing is done ahead on threads: the phone's helper workers open, check and read snapshots
//! instead ([`super::elsewhere`]), and their answers are taken here as [`Ahead`]s.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use automerge::AutoCommit;

use super::bundle;
use super::compaction;
use super::intake::{self, Incoming};
use super::keys::Member;
use super::opening::OpenedSnapshot;
use crate::crypto::keys::Keyring;
use crate::crypto::seal::{self, Opened};
use crate::docs::check::{self, ReadDoc};

/// Fewer blobs than this in a page are judged as they come: starting threads would cost more
/// than they save.
pub(crate) const FEWEST: usize = 16;

/// Fewer snapshots than this are loaded as they come; loading one is costlier than a thread's
/// start, so two are worth it.
const FEWEST_SNAPSHOTS: usize = 2;

/// At most this many threads work on one page (the calling one included).
#[cfg(not(target_arch = "wasm32"))]
const MOST_THREADS: usize = 4;

/// Blobs opened, or snapshots loaded, ahead at a time: what is worked out is held until it is
/// judged or taken in, and a page holds thousands of blobs.
pub(crate) const WINDOW: usize = 64;

/// How much this process worked out ahead, for tests and benchmarks: blobs opened (and their
/// signatures checked) and snapshots loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WorkedAhead {
    /// Blobs opened ahead.
    pub opened: u64,
    /// Snapshots' documents loaded ahead.
    pub loaded: u64,
    /// Documents whose pulled changes were applied and judged ahead.
    pub applied: u64,
    /// Blobs opened (and their signatures checked) in other workers and taken
    /// ([`super::elsewhere`]; counted in `opened` too).
    pub elsewhere: u64,
    /// Snapshots taken in as read in other workers, without loading their documents here
    /// ([`super::elsewhere`]).
    pub read_elsewhere: u64,
}

static OPENED: AtomicU64 = AtomicU64::new(0);
static LOADED: AtomicU64 = AtomicU64::new(0);
static APPLIED: AtomicU64 = AtomicU64::new(0);
static ELSEWHERE: AtomicU64 = AtomicU64::new(0);
static READ_ELSEWHERE: AtomicU64 = AtomicU64::new(0);

/// How much this process has worked out ahead so far.
pub fn worked_ahead() -> WorkedAhead {
    WorkedAhead {
        opened: OPENED.load(Ordering::Relaxed),
        loaded: LOADED.load(Ordering::Relaxed),
        applied: APPLIED.load(Ordering::Relaxed),
        elsewhere: ELSEWHERE.load(Ordering::Relaxed),
        read_elsewhere: READ_ELSEWHERE.load(Ordering::Relaxed),
    }
}

/// What was worked out ahead for one pulled blob.
#[derive(Default)]
pub(crate) struct Ahead {
    /// Where the blob it was worked out for lies in memory (start, length): a result is taken
    /// for that blob only, whatever order the results come back in.
    blob: (usize, usize),
    /// The blob opened with the ring the page began with.
    opened: Option<Opened>,
    /// The signing key its signature was checked against, and whether it held.
    signed: Option<(Vec<u8>, bool)>,
    /// A snapshot's document read as a document new to this device (in another worker, which
    /// loaded it): what [`load_one`] would read, when that is a sound person file, as JSON.
    read: Option<Vec<u8>>,
}

/// What a document reads as, or why it does not read.
pub(crate) type Reading = std::result::Result<ReadDoc, String>;

/// A snapshot's document loaded (`None`: loaded only elsewhere), or why it does not load.
pub(crate) type LoadedDoc = std::result::Result<Option<AutoCommit>, String>;

/// A snapshot's document loaded, and read as a document new to this device.
pub(crate) struct Loaded {
    /// `AutoCommit::load` of the snapshot's document (its error, worded); `Ok(None)` when it
    /// was loaded and read in another worker (its reading is then `person_json`), and is
    /// loaded here only if it is needed (merged into a document held here, searched for a
    /// change refused here).
    pub(crate) doc: LoadedDoc,
    /// [`check::check_and_read`] of it with no kind expected, when it loaded and is filed
    /// under Groundwork's own spelling of its id.
    pub(crate) read: Option<Reading>,
    /// The same reading done in another worker: a person file as JSON, read back only when it
    /// is taken in (a page's snapshots wait together between opening and intake).
    person_json: Option<Vec<u8>>,
}

impl Loaded {
    /// The document (`Ok(None)`: not loaded here) and what it reads as, when that is known.
    /// A reading from elsewhere that does not read back leaves the document to be loaded and
    /// read here.
    pub(crate) fn parts(self) -> (LoadedDoc, Option<Reading>) {
        let read = match self.person_json {
            Some(json) => serde_json::from_slice::<crate::model::PersonFile>(&json)
                .ok()
                .map(|p| Ok(ReadDoc::Person(Box::new(p)))),
            None => self.read,
        };
        (self.doc, read)
    }
}

impl Ahead {
    /// Whether this was worked out for `blob` (the very bytes, not a copy).
    fn is_for(&self, blob: &[u8]) -> bool {
        self.blob == (blob.as_ptr() as usize, blob.len())
    }

    /// `blob` opened with the ring the page began with, if it was opened ahead.
    pub(crate) fn take_opened(&mut self, blob: &[u8]) -> Option<Opened> {
        if self.is_for(blob) {
            self.opened.take()
        } else {
            None
        }
    }

    /// What was found for `blob` elsewhere ([`super::elsewhere`]): `blob` opened, the
    /// signing key its signature was checked against with whether it held, and (a snapshot)
    /// its document read (a person file as JSON).
    pub(crate) fn found(
        blob: &[u8],
        opened: Option<Opened>,
        signed: Option<(Vec<u8>, bool)>,
        read: Option<Vec<u8>>,
    ) -> Ahead {
        Ahead {
            blob: (blob.as_ptr() as usize, blob.len()),
            opened,
            signed,
            read,
        }
    }

    /// The document of `blob` (a snapshot) as read elsewhere, to be taken in without loading
    /// it here ([`Loaded`] with no document).
    pub(crate) fn take_read(&mut self, blob: &[u8]) -> Option<Loaded> {
        if !self.is_for(blob) {
            return None;
        }
        self.read.take().map(|json| Loaded {
            doc: Ok(None),
            read: None,
            person_json: Some(json),
        })
    }

    /// Whether the blob was opened.
    pub(crate) fn was_opened(&self) -> bool {
        self.opened.is_some()
    }

    /// The signing key the signature was checked against, and whether it held.
    pub(crate) fn signed(&self) -> Option<(&[u8], bool)> {
        self.signed
            .as_ref()
            .map(|(key, held)| (key.as_slice(), *held))
    }

    /// Whether the signature of `blob` was found to hold for `signing`: `None` when it was
    /// not checked against that key ahead.
    pub(crate) fn signed_by(&self, blob: &[u8], signing: &[u8]) -> Option<bool> {
        self.signed
            .as_ref()
            .filter(|(key, _)| self.is_for(blob) && key.as_slice() == signing)
            .map(|(_, ok)| *ok)
    }
}

/// What a page's blobs start from: the team, its ring and its members as the page began.
pub(super) struct Start<'a> {
    pub(super) team: &'a str,
    pub(super) ring: &'a Keyring,
    pub(super) members: &'a HashMap<String, Member>,
}

/// Work out ahead what can be for each of `blobs` (one entry each, in order; all empty when
/// the page is small or the machine has one core).
pub(super) fn prepare(start: &Start<'_>, blobs: &[Incoming<'_>]) -> Vec<Ahead> {
    if !worth_it(blobs.len()) {
        return blobs.iter().map(|_| Ahead::default()).collect();
    }
    OPENED.fetch_add(blobs.len() as u64, Ordering::Relaxed);
    in_parallel(blobs, threads(), |c| {
        one(start.team, start.ring, start.members, c)
    })
}

/// Count `n` blobs opened in other workers ([`super::elsewhere`]).
pub(crate) fn opened_elsewhere(n: usize) {
    OPENED.fetch_add(n as u64, Ordering::Relaxed);
    ELSEWHERE.fetch_add(n as u64, Ordering::Relaxed);
}

/// `work` on each of `items` on all cores, in order, when there are enough of them and cores to
/// share; `None` for each item not done so (all of them when few, or one core, or the phone's
/// worker): the caller does that work itself. For pure work on what a device sends (sealing).
pub(crate) fn each<T: Sync, R: Send>(items: &[T], work: impl Fn(&T) -> R + Sync) -> Vec<Option<R>> {
    if !worth_it(items.len()) {
        return items.iter().map(|_| None).collect();
    }
    in_parallel(items, threads(), |item| Some(work(item)))
}

/// `work` on each of `items` (documents and their pulled changes) on all cores, in order: a
/// document's changes applied and judged, or `None` (waiting here, or not all applied). All
/// `None` when there are few or the machine has one core: the caller does the work as it goes.
pub(crate) fn documents<T: Sync, R: Send>(
    items: &[T],
    work: impl Fn(&T) -> Option<R> + Sync,
) -> Vec<Option<R>> {
    let done: Vec<Option<R>> = each(items, work).into_iter().map(Option::flatten).collect();
    let applied = done.iter().filter(|d| d.is_some()).count();
    APPLIED.fetch_add(applied as u64, Ordering::Relaxed);
    done
}

/// Whether `n` items are worth working on ahead: enough of them, and more than one core.
pub(crate) fn worth_it(n: usize) -> bool {
    n >= FEWEST && threads() >= 2
}

#[cfg(not(target_arch = "wasm32"))]
fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(MOST_THREADS))
}

#[cfg(target_arch = "wasm32")]
fn threads() -> usize {
    1
}

/// `work` applied to each of `items`, the items cut into `threads` runs, one run a thread;
/// a run whose thread cannot be started is worked on by the calling thread.
#[cfg(not(target_arch = "wasm32"))]
fn in_parallel<T: Sync, R: Send + Default>(
    items: &[T],
    threads: usize,
    work: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let size = items.len().div_ceil(threads);
    let work = &work;
    std::thread::scope(|scope| {
        let mut runs = items.chunks(size);
        let mine = runs.next().unwrap_or(&[]);
        let started: Vec<_> = runs
            .map(|run| {
                let spawned = std::thread::Builder::new()
                    .name("groundwork-ahead".into())
                    .spawn_scoped(scope, move || run.iter().map(work).collect::<Vec<R>>());
                (run, spawned)
            })
            .collect();
        let mut out: Vec<R> = mine.iter().map(work).collect();
        for (run, spawned) in started {
            // A thread that could not start, or whose work panicked, leaves nothing done
            // ahead for its run: the judgement does that work itself (and meets the panic
            // there, as it would have without this).
            match spawned.map(|handle| handle.join()) {
                Ok(Ok(done)) => out.extend(done),
                _ => out.extend(run.iter().map(|_| R::default())),
            }
        }
        out
    })
}

#[cfg(target_arch = "wasm32")]
fn in_parallel<T, R>(items: &[T], _threads: usize, work: impl Fn(&T) -> R) -> Vec<R> {
    items.iter().map(work).collect()
}

/// The members' signing keys, by their actor in hex.
pub(crate) trait Signers {
    /// The signing key of the member whose actor is `actor`.
    fn signing(&self, actor: &str) -> Option<&[u8]>;
}

impl Signers for HashMap<String, Member> {
    fn signing(&self, actor: &str) -> Option<&[u8]> {
        self.get(actor).map(|m| m.signing.as_slice())
    }
}

impl Signers for HashMap<String, Vec<u8>> {
    fn signing(&self, actor: &str) -> Option<&[u8]> {
        self.get(actor).map(Vec::as_slice)
    }
}

/// What can be worked out ahead for `c` in `team`, with `ring` and the members' signing keys.
pub(crate) fn one(
    team: &str,
    ring: &Keyring,
    members: &(impl Signers + ?Sized),
    c: &Incoming<'_>,
) -> Ahead {
    let mut ahead = Ahead {
        blob: (c.blob.as_ptr() as usize, c.blob.len()),
        ..Ahead::default()
    };
    if crate::crypto::is_key_record(c.doc_id) {
        return ahead;
    }
    let Ok(opened) = seal::open(team, c.doc_id, ring, c.blob) else {
        return ahead;
    };
    let writer = if compaction::is_snapshot(&opened.content) {
        match compaction::decode(&opened.content) {
            Ok(snapshot) if c.snapshot => Some(intake::hex(&snapshot.writer)),
            _ => None,
        }
    } else {
        first_writer(&opened.content)
    };
    if let Some(signing) = writer.as_deref().and_then(|w| members.signing(w)) {
        let held = seal::verify_signature(team, c.doc_id, c.blob, signing).is_ok();
        ahead.signed = Some((signing.to_vec(), held));
    }
    ahead.opened = Some(opened);
    ahead
}

/// The actor of the first change sealed in `content`, in hex.
fn first_writer(content: &[u8]) -> Option<String> {
    let chunks = bundle::split(content).ok()?;
    let change = bundle::change(chunks.first()?).ok()?;
    Some(change.actor_id().to_hex_string())
}

/// Load (and read) ahead the documents of `snapshots` not already read elsewhere.
pub(crate) fn load(snapshots: &mut [OpenedSnapshot]) {
    let todo: Vec<usize> = (0..snapshots.len())
        .filter(|&i| snapshots[i].loaded.is_none())
        .collect();
    if todo.len() < FEWEST_SNAPSHOTS || threads() < 2 {
        return;
    }
    LOADED.fetch_add(todo.len() as u64, Ordering::Relaxed);
    let shared: &[OpenedSnapshot] = snapshots;
    let loaded = in_parallel(&todo, threads(), |&i| {
        let s = &shared[i];
        Some(load_one(&s.doc_id, &s.snapshot.doc))
    });
    for (i, l) in todo.into_iter().zip(loaded) {
        snapshots[i].loaded = l;
    }
}

/// Count a snapshot taken in as read elsewhere.
pub(crate) fn read_elsewhere() {
    READ_ELSEWHERE.fetch_add(1, Ordering::Relaxed);
}

/// A snapshot's document loaded, and read when filed under a canonical id.
fn load_one(doc_id: &str, bytes: &[u8]) -> Loaded {
    let (doc, read) = load_and_read(doc_id, bytes);
    Loaded {
        doc: doc.map(Some),
        read,
        person_json: None,
    }
}

/// A snapshot's document loaded (its error, worded), and read as a document new here when it
/// loaded and is filed under Groundwork's own spelling of its id.
pub(crate) fn load_and_read(
    doc_id: &str,
    bytes: &[u8],
) -> (std::result::Result<AutoCommit, String>, Option<Reading>) {
    match super::sequence::load_snapshot(bytes) {
        Ok(doc) => {
            let canonical = crate::ids::parse_id(doc_id).is_ok_and(|id| id == doc_id);
            let read = canonical.then(|| check::check_and_read(&doc, doc_id, None));
            (Ok(doc), read)
        }
        Err(e) => (Err(e), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reading_from_elsewhere_that_does_not_read_back_leaves_the_document_to_the_store() {
        let loaded = Loaded {
            doc: Ok(None),
            read: None,
            person_json: Some(b"{\"name\": 3".to_vec()),
        };
        let (doc, read) = loaded.parts();
        assert!(matches!(doc, Ok(None)));
        assert!(read.is_none(), "loaded and read by the store instead");
    }
}
