//! A pulled page's pure work done in other workers, which share no memory with the store: the
//! phone's store worker (one thread; wasm has no threads to share memory with) cuts a page into
//! jobs for helper workers (`browser::helpers` in the app), each of which opens its blobs and
//! checks their signatures with `super::ahead`'s own function and answers with what it
//! found. For a snapshot whose signature held, it also loads the snapshot's document and
//! reads it as `super::ahead` does for a document new here; a person file so read is
//! answered as JSON (only when it comes back from JSON unchanged), and the store takes it in
//! without loading the document, unless it must load it anyway (it holds that document and
//! merges the snapshot into it, or searches it for a change it refused). Natively
//! `super::ahead` does the same work on threads, and nothing here is used.
//!
//! A job holds what the work is computed with (the team, its keyring with the documents' keys,
//! each member's signing key: the page's *start*) and the blobs; an answer holds, for each blob
//! in order, what was worked out for it. Both are fields with 4-byte little-endian lengths,
//! read by a reader that refuses anything cut short, left over or malformed ([`JobError`]).
//! An answer refused or missing only means the store does that work itself, as it would have.
//! The store takes answers only when the start they were computed with is, byte for byte,
//! its own as the page is judged (a key or member taken in meanwhile makes it do the work
//! itself), and then exactly as it takes work done ahead on threads: the judgement that
//! follows decides, one blob at a time, as always.
//!
//! The team's secret keys cross `postMessage` inside a job: to a worker of the same origin
//! running the same code. The store worker's copy is zeroised once posted; the helper zeroises
//! its copies when done (`browser::helpers`).

use std::collections::HashMap;

use zeroize::Zeroizing;

use super::ahead::{self, Ahead};
use super::compaction;
use super::intake::Incoming;
use super::keys::Member;
use crate::crypto::doc_keys::DocKeys;
use crate::crypto::keys::{Keyring, TeamKey};
use crate::crypto::seal::Opened;
use crate::docs::check::ReadDoc;
use crate::model::PersonFile;

const JOB_MAGIC: &[u8; 4] = b"GWJ\x01";
const ANSWER_MAGIC: &[u8; 4] = b"GWA\x01";

/// Bits of an answer's flags byte.
const OPENED: u8 = 1;
const SIGNED: u8 = 2;
const HELD: u8 = 4;
const READ: u8 = 8;

/// A job or an answer that cannot be read (a bug or a damaged message: the work is then done
/// by the store itself).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("work done in another worker could not be read ({0}); the notebook does it itself")]
pub struct JobError(&'static str);

/// A pulled page's opening, signature checks and snapshot reading, cut into jobs for other
/// workers ([`super::Store::jobs_elsewhere`]).
pub struct PageJobs {
    start: Zeroizing<Vec<u8>>,
    /// The jobs, in the page's order: a run of its blobs each.
    pub jobs: Vec<Zeroizing<Vec<u8>>>,
    /// How many blobs each job holds.
    sizes: Vec<usize>,
}

/// The answers to a page's jobs, to be taken in with the page ([`super::Writer::take_in_with`]).
pub struct DoneElsewhere {
    start: Zeroizing<Vec<u8>>,
    answers: Vec<Option<Vec<u8>>>,
    sizes: Vec<usize>,
}

impl PageJobs {
    /// The jobs' answers, in the jobs' order (`None` for a job not done).
    pub fn answered(self, answers: Vec<Option<Vec<u8>>>) -> DoneElsewhere {
        DoneElsewhere {
            start: self.start,
            answers,
            sizes: self.sizes,
        }
    }
}

/// Whether a page of `n` blobs is worth cutting into jobs (fewer are opened as they come).
pub fn worth_cutting(n: usize) -> bool {
    n >= ahead::FEWEST
}

impl super::Store {
    /// The opening, signature checks and snapshot reading of `blobs` (a pulled page) cut into
    /// `parts` jobs for other workers ([`work`]), when the team is sealed and the page is worth it; `None`
    /// otherwise (the store does that work itself as it takes the page in).
    pub fn jobs_elsewhere(
        &self,
        blobs: &[Incoming<'_>],
        parts: usize,
    ) -> crate::error::Result<Option<PageJobs>> {
        let conn = &self.conn;
        if parts < 2 || !worth_cutting(blobs.len()) || !super::keys::sealed(conn)? {
            return Ok(None);
        }
        let Some(team) = super::keys::team_id(conn)? else {
            return Ok(None);
        };
        let ring = self.keys.keyring(conn)?;
        let members = super::keys::members(conn)?;
        let start = start_bytes(&ahead::Start {
            team: &team,
            ring: &ring,
            members: &members,
        })?;
        Ok(Some(cut(start, blobs, parts)))
    }
}

/// What a page's work starts from, as bytes: the team, its keys (in the ring's order) and
/// documents' keys, and the members' signing keys (in the order of their actors).
pub(super) fn start_bytes(start: &ahead::Start<'_>) -> crate::error::Result<Zeroizing<Vec<u8>>> {
    let mut out = Zeroizing::new(Vec::new());
    put(&mut out, start.team.as_bytes());
    let keys: Vec<&TeamKey> = start.ring.all().collect();
    put_len(&mut out, keys.len());
    for key in keys {
        out.extend_from_slice(&key.epoch().to_le_bytes());
        out.extend_from_slice(key.bytes());
    }
    match start.ring.doc_keys_dense()? {
        Some(tree) => {
            out.push(1);
            put(&mut out, tree);
        }
        None => out.push(0),
    }
    let mut members: Vec<(&String, &Member)> = start.members.iter().collect();
    members.sort_by(|a, b| a.0.cmp(b.0));
    put_len(&mut out, members.len());
    for (actor, member) in members {
        put(&mut out, actor.as_bytes());
        put(&mut out, &member.signing);
    }
    Ok(out)
}

/// Cut `blobs` into `parts` jobs (runs of nearly equal length) computed from `start`.
pub(crate) fn cut(start: Zeroizing<Vec<u8>>, blobs: &[Incoming<'_>], parts: usize) -> PageJobs {
    let size = blobs.len().div_ceil(parts.max(1)).max(1);
    let mut jobs = Vec::new();
    let mut sizes = Vec::new();
    for run in blobs.chunks(size) {
        let mut job = Zeroizing::new(Vec::new());
        job.extend_from_slice(JOB_MAGIC);
        put(&mut job, &start);
        put_len(&mut job, run.len());
        for c in run {
            put(&mut job, c.doc_id.as_bytes());
            job.push(u8::from(c.snapshot));
            put(&mut job, c.blob);
        }
        jobs.push(job);
        sizes.push(run.len());
    }
    PageJobs { start, jobs, sizes }
}

/// Do `job` (in a helper worker): open each blob and check its signature as
/// `super::ahead` does, read each snapshot whose signature held, and answer with what was
/// found.
pub fn work(job: &[u8]) -> Result<Vec<u8>, JobError> {
    let mut r = Reader(job);
    r.magic(JOB_MAGIC)?;
    let start = read_start(r.field()?)?;
    let n = r.len()?;
    let mut items = Vec::new();
    for _ in 0..n {
        let doc_id = std::str::from_utf8(r.field()?).map_err(|_| JobError("a document id"))?;
        let snapshot = match r.byte()? {
            0 => false,
            1 => true,
            _ => return Err(JobError("a blob's flag")),
        };
        let blob = r.field()?;
        items.push(Incoming::unvouched(doc_id, blob, snapshot));
    }
    r.end()?;
    let mut out = Vec::new();
    out.extend_from_slice(ANSWER_MAGIC);
    put_len(&mut out, items.len());
    for c in &items {
        let mut done = ahead::one(&start.team, &start.ring, &start.signing, c);
        let opened = done.take_opened(c.blob);
        let signed = done.signed();
        let mut flags = 0;
        if opened.is_some() {
            flags |= OPENED;
        }
        if let Some((_, held)) = signed {
            flags |= SIGNED | if held { HELD } else { 0 };
        }
        // A snapshot whose signature held: its document loaded and read here, so that the
        // store need not load it.
        let read = match (&opened, signed) {
            (Some(opened), Some((_, true))) if c.snapshot => read_snapshot(c.doc_id, opened),
            _ => None,
        };
        if read.is_some() {
            flags |= READ;
        }
        out.push(flags);
        if let Some(opened) = opened {
            out.extend_from_slice(&opened.epoch.to_le_bytes());
            put(&mut out, &opened.content);
        }
        if let Some((key, _)) = signed {
            put(&mut out, key);
        }
        if let Some(read) = read {
            put(&mut out, &read);
        }
    }
    Ok(out)
}

/// The person file a snapshot's document reads as, new to a device, as JSON: only when it is
/// one, reads soundly, and comes back from JSON exactly as read (the store then takes it as
/// read, without loading the document). Anything else is left to the store.
fn read_snapshot(doc_id: &str, opened: &Opened) -> Option<Vec<u8>> {
    if !compaction::is_snapshot(&opened.content) {
        return None;
    }
    let snapshot = compaction::decode(&opened.content).ok()?;
    let (_, read) = ahead::load_and_read(doc_id, &snapshot.doc);
    let Some(Ok(ReadDoc::Person(person))) = read else {
        return None;
    };
    let json = serde_json::to_vec(&person).ok()?;
    let again: PersonFile = serde_json::from_slice(&json).ok()?;
    (again == *person).then_some(json)
}

/// `done`'s answers, one [`Ahead`] per blob of `blobs`, when they were computed from `start`
/// (the store's own as the page is judged); `None` otherwise. An answer missing or unreadable
/// leaves its run's blobs with nothing done ahead. Each answer's bytes are let go once read.
pub(crate) fn taken(
    done: DoneElsewhere,
    start: &[u8],
    blobs: &[Incoming<'_>],
) -> Option<Vec<Ahead>> {
    if done.start.as_slice() != start
        || done.sizes.iter().sum::<usize>() != blobs.len()
        || done.answers.len() != done.sizes.len()
    {
        return None;
    }
    let mut out = Vec::with_capacity(blobs.len());
    let mut at = 0;
    for (answer, size) in done.answers.into_iter().zip(done.sizes) {
        let run = &blobs[at..at + size];
        at += size;
        match answer.map(|a| read_answer(&a, run)) {
            Some(Ok(aheads)) => out.extend(aheads),
            _ => out.extend(run.iter().map(|_| Ahead::default())),
        }
    }
    Some(out)
}

/// An answer for the blobs of `run`.
fn read_answer(answer: &[u8], run: &[Incoming<'_>]) -> Result<Vec<Ahead>, JobError> {
    let mut r = Reader(answer);
    r.magic(ANSWER_MAGIC)?;
    if r.len()? != run.len() {
        return Err(JobError("the number of answers"));
    }
    let mut out = Vec::with_capacity(run.len());
    for c in run {
        let flags = r.byte()?;
        if flags & !(OPENED | SIGNED | HELD | READ) != 0
            || (flags & HELD != 0 && flags & SIGNED == 0)
            || (flags & READ != 0 && flags & (OPENED | HELD) != (OPENED | HELD))
        {
            return Err(JobError("an answer's flags"));
        }
        // Key records are judged by the store alone (`ahead::one` leaves them): an answer
        // that claims work on one was not made by this build's helper.
        if flags != 0 && crate::crypto::is_key_record(c.doc_id) {
            return Err(JobError("an answer for a key record"));
        }
        let opened = if flags & OPENED != 0 {
            let epoch = r.u64()?;
            Some(Opened {
                epoch,
                content: r.field()?.to_vec(),
            })
        } else {
            None
        };
        let signed = if flags & SIGNED != 0 {
            Some((r.field()?.to_vec(), flags & HELD != 0))
        } else {
            None
        };
        // A person file as JSON, read back when the snapshot is taken in (one that does not
        // read back is then loaded and read by the store).
        let read = if flags & READ != 0 {
            Some(r.field()?.to_vec())
        } else {
            None
        };
        out.push(Ahead::found(c.blob, opened, signed, read));
    }
    r.end()?;
    Ok(out)
}

/// What a job's work is computed with.
struct JobStart {
    team: String,
    ring: Keyring,
    /// The members' signing keys, by actor in hex.
    signing: HashMap<String, Vec<u8>>,
}

/// The team, the ring and the members' signing keys of a start.
fn read_start(bytes: &[u8]) -> Result<JobStart, JobError> {
    let mut r = Reader(bytes);
    let team = std::str::from_utf8(r.field()?)
        .map_err(|_| JobError("the team"))?
        .to_string();
    let mut keys = Vec::new();
    for _ in 0..r.len()? {
        let epoch = r.u64()?;
        let secret = r.take(32)?;
        keys.push(TeamKey::from_bytes(epoch, secret).map_err(|_| JobError("a team key"))?);
    }
    let mut ring = Keyring::new(keys);
    match r.byte()? {
        0 => {}
        1 => {
            let tree = DocKeys::decode_dense(r.field()?).map_err(|_| JobError("document keys"))?;
            ring = ring.with_doc_keys(tree);
        }
        _ => return Err(JobError("the document keys' flag")),
    }
    let mut signing = HashMap::new();
    for _ in 0..r.len()? {
        let actor = std::str::from_utf8(r.field()?)
            .map_err(|_| JobError("a member"))?
            .to_string();
        signing.insert(actor, r.field()?.to_vec());
    }
    r.end()?;
    Ok(JobStart {
        team,
        ring,
        signing,
    })
}

fn put_len(out: &mut Vec<u8>, n: usize) {
    // Jobs and answers stay far below 4 GiB (a page is at most a few MiB).
    out.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes());
}

fn put(out: &mut Vec<u8>, bytes: &[u8]) {
    put_len(out, bytes.len());
    out.extend_from_slice(bytes);
}

/// Reads fields off the front of a job or an answer.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], JobError> {
        if self.0.len() < n {
            return Err(JobError("cut short"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn byte(&mut self) -> Result<u8, JobError> {
        Ok(self.take(1)?[0])
    }

    fn u64(&mut self) -> Result<u64, JobError> {
        let b = self.take(8)?;
        Ok(u64::from_le_bytes([
            b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
        ]))
    }

    /// A length or a count: never more than the bytes left could hold, so that nothing is
    /// allocated for a count a damaged message claims.
    fn len(&mut self) -> Result<usize, JobError> {
        let b = self.take(4)?;
        let n = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
        if n > self.0.len() {
            return Err(JobError("a length past the end"));
        }
        Ok(n)
    }

    fn field(&mut self) -> Result<&'a [u8], JobError> {
        let n = self.len()?;
        self.take(n)
    }

    fn magic(&mut self, magic: &[u8; 4]) -> Result<(), JobError> {
        if self.take(4)? != magic {
            return Err(JobError("not a job or an answer of this version"));
        }
        Ok(())
    }

    fn end(&self) -> Result<(), JobError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(JobError("bytes left over"))
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::crypto::keys::DeviceKey;
    use crate::crypto::seal;

    const TEAM: &str = "team-1";

    /// `n` blobs sealed with a key of their own (content that names no writer, so no
    /// signature is checked ahead), and the page's start.
    /// Blobs with the documents they are filed under.
    type Blobs = Vec<(String, Vec<u8>)>;

    fn page(n: usize) -> (Blobs, Zeroizing<Vec<u8>>) {
        let key = TeamKey::generate(1).unwrap();
        let device = DeviceKey::generate().unwrap();
        let blobs = (0..n)
            .map(|i| {
                let doc = format!("doc-{i}");
                let content = format!("content of {i}");
                let blob = seal::seal(TEAM, &doc, &key, None, &device, content.as_bytes()).unwrap();
                (doc, blob)
            })
            .collect();
        let ring = Keyring::new([key]);
        let members = HashMap::new();
        let start = start_bytes(&ahead::Start {
            team: TEAM,
            ring: &ring,
            members: &members,
        })
        .unwrap();
        (blobs, start)
    }

    fn incoming(blobs: &[(String, Vec<u8>)]) -> Vec<Incoming<'_>> {
        blobs
            .iter()
            .map(|(doc_id, blob)| Incoming::unvouched(doc_id, blob, false))
            .collect()
    }

    #[test]
    fn jobs_done_apart_open_each_blob_of_their_run() {
        let (blobs, start) = page(20);
        let blobs_in = incoming(&blobs);
        let mut jobs = cut(start.clone(), &blobs_in, 3);
        let parts = std::mem::take(&mut jobs.jobs);
        assert_eq!(jobs.sizes, vec![7, 7, 6]);
        let answers = parts.iter().map(|j| Some(work(j).unwrap())).collect();
        let done = jobs.answered(answers);
        let mut found = taken(done, &start, &blobs_in).expect("the same start");
        assert_eq!(found.len(), 20);
        for (i, (a, c)) in found.iter_mut().zip(&blobs_in).enumerate() {
            let opened = a.take_opened(c.blob).expect("opened apart");
            assert_eq!(opened.content, format!("content of {i}").as_bytes());
            assert_eq!(opened.epoch, 1);
            assert_eq!(a.signed(), None);
        }
    }

    #[test]
    fn answers_from_another_start_or_for_another_page_are_not_taken() {
        let (blobs, start) = page(20);
        let blobs_in = incoming(&blobs);
        let answer = |jobs: &mut PageJobs| -> Vec<Option<Vec<u8>>> {
            std::mem::take(&mut jobs.jobs)
                .iter()
                .map(|j| work(j).ok())
                .collect()
        };
        // The store's ring moved on (another key, another member): the answers are not taken.
        let (_, other_start) = page(1);
        let mut jobs = cut(start.clone(), &blobs_in, 2);
        let answers = answer(&mut jobs);
        let done = jobs.answers_for_test(answers.clone());
        assert!(taken(done, &other_start, &blobs_in).is_none());
        // Answers for fewer blobs than the page has.
        let done = jobs.answers_for_test(answers);
        assert!(taken(done, &start, &blobs_in[..19]).is_none());
        // One answer damaged, one missing: their runs are left to the store, the others taken.
        let mut jobs = cut(start.clone(), &blobs_in, 4);
        let mut answers = answer(&mut jobs);
        answers[1].as_mut().unwrap().truncate(30);
        answers[2] = None;
        let done = jobs.answers_for_test(answers);
        let mut found = taken(done, &start, &blobs_in).unwrap();
        let opened: Vec<bool> = found
            .iter_mut()
            .zip(&blobs_in)
            .map(|(a, c)| a.take_opened(c.blob).is_some())
            .collect();
        assert_eq!(
            opened,
            [vec![true; 5], vec![false; 10], vec![true; 5]].concat()
        );
    }

    #[test]
    fn a_blob_that_does_not_open_is_answered_as_not_opened() {
        let (mut blobs, start) = page(17);
        blobs[3].1[5] ^= 1; // its SIV
        blobs[4].0 = "another-doc".into();
        let blobs_in = incoming(&blobs);
        let mut jobs = cut(start.clone(), &blobs_in, 2);
        let parts = std::mem::take(&mut jobs.jobs);
        let done = jobs.answered(parts.iter().map(|j| work(j).ok()).collect());
        let mut found = taken(done, &start, &blobs_in).unwrap();
        let opened: Vec<usize> = found
            .iter_mut()
            .zip(&blobs_in)
            .enumerate()
            .filter_map(|(i, (a, c))| a.take_opened(c.blob).is_none().then_some(i))
            .collect();
        assert_eq!(opened, vec![3, 4]);
    }

    #[test]
    fn an_answer_claiming_to_have_opened_a_key_record_is_refused_whole() {
        let doc = crate::crypto::epoch::epoch_doc_id(2);
        let blob = vec![0u8; 40];
        let run = [Incoming::unvouched(&doc, &blob, false)];
        let mut answer = ANSWER_MAGIC.to_vec();
        answer.extend(1u32.to_le_bytes());
        answer.push(OPENED);
        answer.extend(u64::MAX.to_le_bytes());
        answer.extend(3u32.to_le_bytes());
        answer.extend(b"key");
        assert!(read_answer(&answer, &run).is_err());
        // The same answer for a blob that is not a key record reads.
        let other = [Incoming::unvouched("a-person", &blob, false)];
        assert_eq!(read_answer(&answer, &other).map(|a| a.len()).ok(), Some(1));
    }

    /// A snapshot of a new person file called `name`, written by `writer` and sealed as a
    /// snapshot by `device`; the person file as read.
    fn snapshot_blob(
        key: &TeamKey,
        device: &DeviceKey,
        writer: &[u8; 16],
        name: &str,
    ) -> (String, Vec<u8>, PersonFile) {
        let id = uuid::Uuid::now_v7().to_string();
        let mut doc = automerge::AutoCommit::new();
        let new = crate::model::NewPerson::named(name);
        crate::docs::person::create(&mut doc, &id, "2026-12-05T01:00:00Z", &new).unwrap();
        let read = crate::docs::person::read(&doc, &id).unwrap();
        let content = compaction::encode(writer, &[7], &doc.save());
        let blob = seal::seal(TEAM, &id, key, None, device, &content).unwrap();
        (id, blob, read)
    }

    #[test]
    fn snapshots_signed_by_their_writer_are_read_apart_as_the_store_reads_them() {
        let key = TeamKey::generate(1).unwrap();
        let writer_key = DeviceKey::generate().unwrap();
        let other_key = DeviceKey::generate().unwrap();
        let writer = [3u8; 16];
        let mut blobs: Blobs = Vec::new();
        let mut people = Vec::new();
        for i in 0..18 {
            // The fourth signed by a device that is not its writer.
            let device = if i == 3 { &other_key } else { &writer_key };
            let (id, blob, read) = snapshot_blob(&key, device, &writer, &format!("Person {i}"));
            blobs.push((id, blob));
            people.push(read);
        }
        let members = HashMap::from([(
            crate::store::intake::hex(&writer),
            super::super::keys::Member {
                signing: writer_key.public().to_vec(),
                exchange: Vec::new(),
                revoked: false,
                cutoff: None,
                role: None,
            },
        )]);
        let ring = Keyring::new([key]);
        let start = start_bytes(&ahead::Start {
            team: TEAM,
            ring: &ring,
            members: &members,
        })
        .unwrap();
        let mut blobs_in: Vec<Incoming<'_>> = incoming(&blobs);
        for c in &mut blobs_in {
            c.snapshot = true;
        }
        // The fifth not placed by the relay as a snapshot: opened, never read.
        blobs_in[4].snapshot = false;
        let mut jobs = cut(start.clone(), &blobs_in, 2);
        let parts = std::mem::take(&mut jobs.jobs);
        let done = jobs.answered(parts.iter().map(|j| work(j).ok()).collect());
        let mut found = taken(done, &start, &blobs_in).unwrap();
        for (i, (a, c)) in found.iter_mut().zip(&blobs_in).enumerate() {
            assert!(a.take_opened(c.blob).is_some(), "blob {i} opened");
            let loaded = a.take_read(c.blob);
            if i == 3 || i == 4 {
                assert!(loaded.is_none(), "blob {i} is not read");
                continue;
            }
            let (doc, read) = loaded.expect("read apart").parts();
            assert!(matches!(doc, Ok(None)), "not loaded here");
            match read {
                Some(Ok(ReadDoc::Person(p))) => assert_eq!(*p, people[i]),
                _ => panic!("blob {i} read as a person file"),
            }
        }
    }

    #[test]
    fn a_reading_answered_without_a_held_signature_is_refused() {
        let (blobs, start) = page(16);
        let blobs_in = incoming(&blobs);
        let mut jobs = cut(start.clone(), &blobs_in, 1);
        let mut answer = work(&std::mem::take(&mut jobs.jobs)[0]).unwrap();
        // The first blob's flags (after the magic and the count): opened, and "read".
        assert_eq!(answer[8], OPENED);
        answer[8] |= READ;
        let done = jobs.answers_for_test(vec![Some(answer)]);
        let mut found = taken(done, &start, &blobs_in).unwrap();
        assert!(found[0].take_opened(blobs_in[0].blob).is_none());
    }

    impl PageJobs {
        fn answers_for_test(&self, answers: Vec<Option<Vec<u8>>>) -> DoneElsewhere {
            DoneElsewhere {
                start: self.start.clone(),
                answers,
                sizes: self.sizes.clone(),
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// A damaged job is refused, never a panic; one that still reads is answered.
        #[test]
        fn damaged_jobs_never_panic(at in any::<prop::sample::Index>(), byte in any::<u8>(), cut_at in any::<prop::sample::Index>()) {
            let (blobs, start) = page(3);
            let blobs_in = incoming(&blobs);
            let mut jobs = cut(start, &blobs_in, 1);
            let mut job = std::mem::take(&mut jobs.jobs).remove(0).to_vec();
            let i = at.index(job.len());
            job[i] ^= byte.max(1);
            let _ = work(&job);
            let _ = work(&job[..cut_at.index(job.len())]);
        }

        /// A damaged answer leaves its run to the store, never a panic.
        #[test]
        fn damaged_answers_never_panic(at in any::<prop::sample::Index>(), byte in any::<u8>(), cut_at in any::<prop::sample::Index>()) {
            let (blobs, start) = page(3);
            let blobs_in = incoming(&blobs);
            let mut jobs = cut(start.clone(), &blobs_in, 1);
            let mut answer = work(&std::mem::take(&mut jobs.jobs)[0]).unwrap();
            let i = at.index(answer.len());
            answer[i] ^= byte.max(1);
            let short = answer[..cut_at.index(answer.len())].to_vec();
            for a in [answer, short] {
                let done = jobs.answers_for_test(vec![Some(a)]);
                let found = taken(done, &start, &blobs_in).unwrap();
                prop_assert_eq!(found.len(), 3);
            }
        }
    }
}
