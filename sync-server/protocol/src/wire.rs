//! The binary sync body format, version 4 (content type [`crate::SYNC_CONTENT_TYPE`]).
//!
//! Version 2 added who wrote what: a request declares the Automerge actor its changes carry, and
//! a response names the device that pushed each change (its declared actor and its name), so a
//! device can refuse a change whose actor is not the device that pushed it. Version 3 added a
//! flags byte to each pulled change: it says whether the change is a snapshot a lead placed (see
//! [`crate::compact`]). Version 4 changed no field: it marks the devices that seal a person's
//! changes packed and compressed with the second dictionary (2026-12-04), which a device of
//! version 3 would refuse as damaged, and keep refused once updated; such a device is refused
//! by the relay instead (update the app), and nothing of its team's is quarantined. Bodies of
//! older versions are refused with [`DecodeError::UnsupportedVersion`]: the app and the relay
//! are updated together.
//!
//! Blobs are already-compact bytes (Automerge changes, later ciphertext): base64 inside JSON would
//! add a third to them before compression and hide their structure from gzip. This format is a
//! plain sequence of length-prefixed fields; gzip (`Content-Encoding: gzip`) does the rest. It was
//! measured against the same records as gzipped JSON (see `sync-server/BENCHMARKS-relay.md`).
//!
//! Notation: `varint` is an unsigned LEB128 integer (7 bits per byte, least significant group
//! first, high bit set on every byte but the last; at most 10 bytes; it must fit in a `u64`).
//! `bytes` is a `varint` length followed by that many bytes; `string` is `bytes` holding UTF-8.
//! `flag` is one byte, `0` or `1`. Nothing may follow the last field.
//!
//! ## Request (device → relay)
//!
//! ```text
//! magic     4 bytes  "GWQ" 0x04 (format version 4)
//! since     varint   cursor of the last committed answer (0 at first)
//! has_max   flag     1 if max_bytes follows
//! max_bytes varint   (only if has_max) requested page size in bytes
//! actor     bytes    the Automerge actor id of every change this device writes (at most
//!                    MAX_ACTOR_LEN bytes; empty only for a device that writes nothing)
//! count     varint   number of pushed items, then per item:
//!   check   8 bytes  the first 8 bytes of the item's id (its raw SHA-256)
//!   doc_id  string   at most MAX_DOC_ID_LEN bytes
//!   blob    bytes
//! ```
//!
//! A pushed item's id is not sent whole: the relay computes the SHA-256 of every blob anyway
//! (it never trusts an id it did not compute), so the id's first 8 bytes are enough to catch a
//! client whose id and blob disagree ([`DecodeError::IdMismatch`], answered with 400). Thirty-two
//! random bytes per change do not compress; measured on 800 person records, full ids made a push
//! cost 1.37x the gzipped JSON of the same records, the 8-byte check 1.19x.
//!
//! ## Response (relay → device)
//!
//! The response is read together with the request it answers, which keeps it small: an accepted
//! push is named by its position in the request rather than by its 32-byte id, and sequence
//! numbers are sent as gaps from `since`.
//!
//! ```text
//! magic     4 bytes  "GWR" 0x04
//! cursor    varint   the next `since`
//! more      flag     1 if more changes wait after `cursor`
//! accepted  varint   number of accepted pushes, then per push:
//!   gap     varint   index in the request's push list = previous index + 1 + gap
//!                    (the previous index starts at -1, so 0,0,0 means items 0,1,2)
//! pushers   varint   number of devices that pushed the changes below, then per device:
//!   actor   bytes    the actor it declared (at most MAX_ACTOR_LEN; empty: it never declared one)
//!   name    string   its name (at most MAX_DEVICE_NAME_LEN bytes)
//! count     varint   number of pulled changes, then per change:
//!   gap     varint   seq = previous seq + 1 + gap (the previous seq starts at `since`)
//!   doc_id  string
//!   pusher  varint   index in the pushers list
//!   flags   1 byte   bit 0 (CHANGE_SNAPSHOT): the relay placed this change as a lead's
//!                    snapshot; every other bit is 0 (a body with another bit set is refused:
//!                    it comes from a newer format)
//!   blob    bytes    its id is computed from these bytes, not sent
//! ```
//!
//! The pushers table costs a few bytes a device per page instead of the device's actor and
//! name on every change. The flags cost one byte a change, almost always 0: gzip makes nearly
//! nothing of them.
//!
//! Decoding never panics and never allocates more than the body's length suggests: a hostile
//! body gets a [`DecodeError`] that says what is wrong.

use std::collections::HashMap;

use crate::id::{BlobId, blob_digest, hex};
use crate::{
    MAX_ACTOR_LEN, MAX_DEVICE_NAME_LEN, MAX_DOC_ID_LEN, PulledChange, PushItem, Pusher,
    SyncRequest, SyncResponse,
};

/// Bytes of a pushed item's id sent as its check.
pub const ID_CHECK_LEN: usize = 8;
/// First four bytes of a version-4 request body.
pub const REQUEST_MAGIC: [u8; 4] = *b"GWQ\x04";
/// First four bytes of a version-4 response body.
pub const RESPONSE_MAGIC: [u8; 4] = *b"GWR\x04";
/// Bit of a pulled change's flags byte: the change is a snapshot a lead placed
/// ([`PulledChange::snapshot`]).
pub const CHANGE_SNAPSHOT: u8 = 0x01;
/// Every bit of a pulled change's flags byte this version knows.
const KNOWN_CHANGE_FLAGS: u8 = CHANGE_SNAPSHOT;

/// Why a value could not be encoded (a bug on the encoding side, never hostile input).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// A document id is longer than [`MAX_DOC_ID_LEN`].
    #[error("document id is {0} bytes long; the limit is {MAX_DOC_ID_LEN}")]
    DocIdTooLong(usize),
    /// An accepted id was not pushed in the request being answered.
    #[error("accepted id {0} is not in the request's push list")]
    UnknownAcceptedId(String),
    /// An actor id is longer than [`MAX_ACTOR_LEN`].
    #[error("actor id is {0} bytes long; the limit is {MAX_ACTOR_LEN}")]
    ActorTooLong(usize),
    /// A device name is longer than [`MAX_DEVICE_NAME_LEN`].
    #[error("device name is {0} bytes long; the limit is {MAX_DEVICE_NAME_LEN}")]
    NameTooLong(usize),
    /// A change names a pusher that is not in the pushers list.
    #[error("change {0} names pusher {1}, which is not in the pushers list")]
    UnknownPusher(u64, usize),
    /// Changes must be after `since` and in increasing `seq` order.
    #[error("change seq {seq} is not after {previous}; changes must follow `since` in log order")]
    SeqOutOfOrder {
        /// The offending sequence number.
        seq: u64,
        /// The request's `since` or the previous change's seq.
        previous: u64,
    },
}

/// Why a body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The body does not start with the expected magic bytes.
    #[error("not a Groundwork sync {0} body (wrong magic bytes); send the binary sync format")]
    BadMagic(&'static str),
    /// The body is a sync body of another format version.
    #[error(
        "sync format version {0} is not supported; this side speaks version 4: update the app and the relay to the same release"
    )]
    UnsupportedVersion(u8),
    /// The body ended in the middle of a field.
    #[error("body ends early, inside {0}")]
    Truncated(&'static str),
    /// A varint is longer than 10 bytes or does not fit in 64 bits.
    #[error("{0} is not a valid varint")]
    BadVarint(&'static str),
    /// A flag byte is neither 0 nor 1.
    #[error("{0} flag must be 0 or 1")]
    BadFlag(&'static str),
    /// A string field is not UTF-8.
    #[error("{0} is not valid UTF-8")]
    InvalidUtf8(&'static str),
    /// A document id is longer than [`MAX_DOC_ID_LEN`].
    #[error("document id is {0} bytes long; the limit is {MAX_DOC_ID_LEN}")]
    DocIdTooLong(usize),
    /// An accepted index points past the request's push list.
    #[error("accepted index {0} is outside the request's push list")]
    AcceptedOutOfRange(u64),
    /// A pushed item's id check does not match the SHA-256 of its blob.
    #[error(
        "push item {0}: its id is not the SHA-256 of its blob; compute ids with \
         groundwork_protocol::blob_id over the exact bytes sent"
    )]
    IdMismatch(usize),
    /// An actor id is longer than [`MAX_ACTOR_LEN`].
    #[error("actor id is {0} bytes long; the limit is {MAX_ACTOR_LEN}")]
    ActorTooLong(usize),
    /// A device name is longer than [`MAX_DEVICE_NAME_LEN`].
    #[error("device name is {0} bytes long; the limit is {MAX_DEVICE_NAME_LEN}")]
    NameTooLong(usize),
    /// A change names a pusher past the end of the pushers list.
    #[error("pusher index {0} is outside the pushers list")]
    PusherOutOfRange(u64),
    /// A pulled change's flags byte has bits this version does not know.
    #[error(
        "a change's flags byte is {0:#04x}, with bits this side does not know (a newer sync \
         format): update the app and the relay to the same release"
    )]
    UnknownFlags(u8),
    /// A sequence number does not fit in 64 bits.
    #[error("sequence number overflows")]
    SeqOverflow,
    /// Bytes follow the last field.
    #[error("{0} unexpected bytes after the end of the body")]
    TrailingBytes(usize),
}

/// Encodes a request body.
pub fn encode_sync_request(req: &SyncRequest) -> Result<Vec<u8>, EncodeError> {
    let blob_bytes: usize = req.push.iter().map(|p| p.blob.len() + p.doc_id.len()).sum();
    let mut out = Vec::with_capacity(16 + blob_bytes + req.push.len() * 40);
    out.extend_from_slice(&REQUEST_MAGIC);
    put_varint(&mut out, req.since);
    match req.max_bytes {
        Some(max) => {
            out.push(1);
            put_varint(&mut out, max);
        }
        None => out.push(0),
    }
    if req.actor.len() > MAX_ACTOR_LEN {
        return Err(EncodeError::ActorTooLong(req.actor.len()));
    }
    put_bytes(&mut out, &req.actor);
    put_varint(&mut out, len_u64(req.push.len()));
    for item in &req.push {
        out.extend_from_slice(&item.id[..ID_CHECK_LEN]);
        put_doc_id(&mut out, &item.doc_id)?;
        put_bytes(&mut out, &item.blob);
    }
    Ok(out)
}

/// Decodes a request body. Each item's id is computed from its blob and checked against the
/// id check sent with it.
pub fn decode_sync_request(body: &[u8]) -> Result<SyncRequest, DecodeError> {
    let mut r = Reader::new(body);
    r.magic(REQUEST_MAGIC, "request")?;
    let since = r.varint("since")?;
    let max_bytes = if r.flag("has_max")? {
        Some(r.varint("max_bytes")?)
    } else {
        None
    };
    let actor = r.bytes("actor")?;
    if actor.len() > MAX_ACTOR_LEN {
        return Err(DecodeError::ActorTooLong(actor.len()));
    }
    let actor = actor.to_vec();
    let count = r.varint("push count")?;
    // Each item takes at least 10 bytes: never reserve more than the body could hold.
    let mut push = Vec::with_capacity(capacity(count, r.remaining(), ID_CHECK_LEN + 2));
    for index in 0..count {
        let check = r.take(ID_CHECK_LEN, "push id check")?;
        let doc_id = r.doc_id()?;
        let blob = r.bytes("push blob")?.to_vec();
        let digest = blob_digest(&blob);
        if digest[..ID_CHECK_LEN] != *check {
            return Err(DecodeError::IdMismatch(
                usize::try_from(index).unwrap_or(usize::MAX),
            ));
        }
        push.push(PushItem {
            id: digest,
            doc_id,
            blob,
        });
    }
    r.finish()?;
    Ok(SyncRequest {
        since,
        push,
        max_bytes,
        actor,
    })
}

/// Encodes the answer `resp` to `req`. Accepted ids are sent in push order, each once.
pub fn encode_sync_response(
    resp: &SyncResponse,
    req: &SyncRequest,
) -> Result<Vec<u8>, EncodeError> {
    let mut first_index: HashMap<&BlobId, usize> = HashMap::with_capacity(req.push.len());
    for (i, item) in req.push.iter().enumerate() {
        first_index.entry(&item.id).or_insert(i);
    }
    let mut indexes = Vec::with_capacity(resp.accepted.len());
    for id in &resp.accepted {
        let index = first_index
            .get(id)
            .copied()
            .ok_or_else(|| EncodeError::UnknownAcceptedId(hex(id)))?;
        indexes.push(index);
    }
    indexes.sort_unstable();
    indexes.dedup();

    let blob_bytes: usize = resp
        .changes
        .iter()
        .map(|c| c.blob.len() + c.doc_id.len())
        .sum();
    let mut out = Vec::with_capacity(16 + indexes.len() + blob_bytes + resp.changes.len() * 6);
    out.extend_from_slice(&RESPONSE_MAGIC);
    put_varint(&mut out, resp.cursor);
    out.push(u8::from(resp.more));
    put_varint(&mut out, len_u64(indexes.len()));
    let mut next = 0usize;
    for index in indexes {
        put_varint(&mut out, len_u64(index - next));
        next = index + 1;
    }
    put_varint(&mut out, len_u64(resp.pushers.len()));
    for pusher in &resp.pushers {
        if pusher.actor.len() > MAX_ACTOR_LEN {
            return Err(EncodeError::ActorTooLong(pusher.actor.len()));
        }
        if pusher.name.len() > MAX_DEVICE_NAME_LEN {
            return Err(EncodeError::NameTooLong(pusher.name.len()));
        }
        put_bytes(&mut out, &pusher.actor);
        put_bytes(&mut out, pusher.name.as_bytes());
    }
    put_varint(&mut out, len_u64(resp.changes.len()));
    let mut previous = req.since;
    for change in &resp.changes {
        if change.seq <= previous {
            return Err(EncodeError::SeqOutOfOrder {
                seq: change.seq,
                previous,
            });
        }
        put_varint(&mut out, change.seq - previous - 1);
        previous = change.seq;
        put_doc_id(&mut out, &change.doc_id)?;
        if change.pusher >= resp.pushers.len() {
            return Err(EncodeError::UnknownPusher(change.seq, change.pusher));
        }
        put_varint(&mut out, len_u64(change.pusher));
        out.push(if change.snapshot { CHANGE_SNAPSHOT } else { 0 });
        put_bytes(&mut out, &change.blob);
    }
    Ok(out)
}

/// Decodes the answer to `req` (the request this body answers).
pub fn decode_sync_response(body: &[u8], req: &SyncRequest) -> Result<SyncResponse, DecodeError> {
    let mut r = Reader::new(body);
    r.magic(RESPONSE_MAGIC, "response")?;
    let cursor = r.varint("cursor")?;
    let more = r.flag("more")?;
    let count = r.varint("accepted count")?;
    let mut accepted = Vec::with_capacity(capacity(count, req.push.len(), 1));
    let mut next: u64 = 0;
    for _ in 0..count {
        let gap = r.varint("accepted gap")?;
        let index = next
            .checked_add(gap)
            .ok_or(DecodeError::AcceptedOutOfRange(u64::MAX))?;
        let item = usize::try_from(index)
            .ok()
            .and_then(|i| req.push.get(i))
            .ok_or(DecodeError::AcceptedOutOfRange(index))?;
        accepted.push(item.id);
        next = index + 1;
    }
    let count = r.varint("pusher count")?;
    // Each pusher takes at least 2 bytes.
    let mut pushers = Vec::with_capacity(capacity(count, r.remaining(), 2));
    for _ in 0..count {
        let actor = r.bytes("pusher actor")?;
        if actor.len() > MAX_ACTOR_LEN {
            return Err(DecodeError::ActorTooLong(actor.len()));
        }
        let name = r.bytes("pusher name")?;
        if name.len() > MAX_DEVICE_NAME_LEN {
            return Err(DecodeError::NameTooLong(name.len()));
        }
        let name = String::from_utf8(name.to_vec())
            .map_err(|_| DecodeError::InvalidUtf8("pusher name"))?;
        pushers.push(Pusher {
            actor: actor.to_vec(),
            name,
        });
    }
    let count = r.varint("change count")?;
    // Each change takes at least 5 bytes.
    let mut changes = Vec::with_capacity(capacity(count, r.remaining(), 4));
    let mut previous = req.since;
    for _ in 0..count {
        let gap = r.varint("seq gap")?;
        let seq = previous
            .checked_add(gap)
            .and_then(|s| s.checked_add(1))
            .ok_or(DecodeError::SeqOverflow)?;
        previous = seq;
        let doc_id = r.doc_id()?;
        let index = r.varint("pusher index")?;
        let pusher = usize::try_from(index)
            .ok()
            .filter(|i| *i < pushers.len())
            .ok_or(DecodeError::PusherOutOfRange(index))?;
        let flags = r.byte("change flags")?;
        if flags & !KNOWN_CHANGE_FLAGS != 0 {
            return Err(DecodeError::UnknownFlags(flags));
        }
        let blob = r.bytes("change blob")?.to_vec();
        changes.push(PulledChange {
            seq,
            id: blob_digest(&blob),
            doc_id,
            pusher,
            snapshot: flags & CHANGE_SNAPSHOT != 0,
            blob,
        });
    }
    r.finish()?;
    Ok(SyncResponse {
        accepted,
        pushers,
        changes,
        cursor,
        more,
    })
}

fn len_u64(n: usize) -> u64 {
    // usize is at most 64 bits on every supported target.
    u64::try_from(n).unwrap_or(u64::MAX)
}

fn capacity(count: u64, available: usize, min_size: usize) -> usize {
    usize::try_from(count)
        .unwrap_or(usize::MAX)
        .min(available / min_size.max(1))
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_varint(out, len_u64(bytes.len()));
    out.extend_from_slice(bytes);
}

fn put_doc_id(out: &mut Vec<u8>, doc_id: &str) -> Result<(), EncodeError> {
    if doc_id.len() > MAX_DOC_ID_LEN {
        return Err(EncodeError::DocIdTooLong(doc_id.len()));
    }
    put_bytes(out, doc_id.as_bytes());
    Ok(())
}

/// A cursor over an untrusted body.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(body: &'a [u8]) -> Self {
        Self { rest: body }
    }

    fn remaining(&self) -> usize {
        self.rest.len()
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.rest.len() < n {
            return Err(DecodeError::Truncated(what));
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn magic(&mut self, expected: [u8; 4], what: &'static str) -> Result<(), DecodeError> {
        let got = self
            .take(4, "magic")
            .map_err(|_| DecodeError::BadMagic(what))?;
        if got[..3] != expected[..3] {
            return Err(DecodeError::BadMagic(what));
        }
        if got[3] != expected[3] {
            return Err(DecodeError::UnsupportedVersion(got[3]));
        }
        Ok(())
    }

    fn varint(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        let mut value: u64 = 0;
        for i in 0..10 {
            let byte = *self
                .take(1, what)?
                .first()
                .ok_or(DecodeError::Truncated(what))?;
            let group = u64::from(byte & 0x7f);
            if i == 9 && group > 1 {
                return Err(DecodeError::BadVarint(what));
            }
            value |= group << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(DecodeError::BadVarint(what))
    }

    fn byte(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        self.take(1, what)?
            .first()
            .copied()
            .ok_or(DecodeError::Truncated(what))
    }

    fn flag(&mut self, what: &'static str) -> Result<bool, DecodeError> {
        match self.take(1, what)?.first() {
            Some(0) => Ok(false),
            Some(1) => Ok(true),
            _ => Err(DecodeError::BadFlag(what)),
        }
    }

    fn bytes(&mut self, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let len = self.varint(what)?;
        let len = usize::try_from(len).map_err(|_| DecodeError::Truncated(what))?;
        self.take(len, what)
    }

    fn doc_id(&mut self) -> Result<String, DecodeError> {
        let raw = self.bytes("doc_id")?;
        if raw.len() > MAX_DOC_ID_LEN {
            return Err(DecodeError::DocIdTooLong(raw.len()));
        }
        String::from_utf8(raw.to_vec()).map_err(|_| DecodeError::InvalidUtf8("doc_id"))
    }

    fn finish(self) -> Result<(), DecodeError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::TrailingBytes(self.rest.len()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint_bytes(v: u64) -> Vec<u8> {
        let mut out = Vec::new();
        put_varint(&mut out, v);
        out
    }

    #[test]
    fn varints_round_trip_at_the_edges() {
        for v in [
            0,
            1,
            127,
            128,
            300,
            16_383,
            16_384,
            u64::from(u32::MAX),
            u64::MAX,
        ] {
            let bytes = varint_bytes(v);
            let mut r = Reader::new(&bytes);
            assert_eq!(r.varint("v"), Ok(v));
            assert!(r.finish().is_ok());
        }
        assert_eq!(varint_bytes(300), vec![0xac, 0x02]);
        assert_eq!(varint_bytes(u64::MAX).len(), 10);
    }

    #[test]
    fn overlong_varints_are_rejected() {
        let mut r = Reader::new(&[0xff; 11]);
        assert_eq!(r.varint("v"), Err(DecodeError::BadVarint("v")));
        // Ten bytes whose last group overflows 64 bits.
        let mut bytes = vec![0xff; 9];
        bytes.push(0x02);
        let mut r = Reader::new(&bytes);
        assert_eq!(r.varint("v"), Err(DecodeError::BadVarint("v")));
        let mut r = Reader::new(&[0x80]);
        assert_eq!(r.varint("v"), Err(DecodeError::Truncated("v")));
    }

    #[test]
    fn huge_counts_do_not_allocate() {
        let mut body = REQUEST_MAGIC.to_vec();
        body.extend([0, 0, 0]);
        body.extend(varint_bytes(u64::MAX));
        assert_eq!(
            decode_sync_request(&body),
            Err(DecodeError::Truncated("push id check"))
        );
    }

    #[test]
    fn encoder_rejects_what_it_cannot_represent() {
        let long = SyncRequest {
            push: vec![PushItem::new("d".repeat(MAX_DOC_ID_LEN + 1), vec![1])],
            ..SyncRequest::default()
        };
        assert_eq!(
            encode_sync_request(&long),
            Err(EncodeError::DocIdTooLong(MAX_DOC_ID_LEN + 1))
        );
        let req = SyncRequest {
            since: 5,
            ..SyncRequest::default()
        };
        let resp = SyncResponse {
            pushers: vec![Pusher::default()],
            changes: vec![PulledChange {
                seq: 5,
                id: crate::blob_digest(b"x"),
                doc_id: "d".into(),
                pusher: 0,
                snapshot: false,
                blob: b"x".to_vec(),
            }],
            ..SyncResponse::default()
        };
        assert_eq!(
            encode_sync_response(&resp, &req),
            Err(EncodeError::SeqOutOfOrder {
                seq: 5,
                previous: 5
            })
        );
        let resp = SyncResponse {
            accepted: vec![crate::blob_digest(b"never pushed")],
            ..SyncResponse::default()
        };
        assert!(matches!(
            encode_sync_response(&resp, &req),
            Err(EncodeError::UnknownAcceptedId(_))
        ));
    }
}
