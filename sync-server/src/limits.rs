//! What the relay refuses, and how it keeps one team's writes from holding up another's.
//!
//! - [`require_content_type`]: `POST /v1/sync` must say `Content-Type:
//!   application/vnd.groundwork.sync.v1` and every other `POST` (enrolment, doc-changes, the
//!   lead's actions, erasure confirmations) `application/json` (415 otherwise).
//! - [`MAX_ENROL_BODY_BYTES`], [`MAX_JSON_BODY_BYTES`]: enrolment bodies, doc-changes requests
//!   and the lead's and erasure requests are small (413 above 16 KiB); an invite request, or a
//!   part of an invite's keys, which may carry sealed keys, up to [`MAX_INVITE_BODY_BYTES`]
//!   (7 MiB and 4 KiB).
//! - [`check_sealed_keys`]: an invite's sealed keys, or a part of them, are 1 to
//!   [`MAX_SEALED_KEYS_LEN`] base64url characters (7 MiB; 400); longer keys go in parts, which
//!   the store joins into the invite.
//! - [`check_erase_proof`]: an erasure order's proof is 1 to [`MAX_ERASE_PROOF_LEN`] printable
//!   ASCII characters (400).
//! - [`MAX_COMPACT_BODY_BYTES`], [`check_compact`]: a lead's compaction request is at most 4 MiB
//!   (413 above it), names at most [`MAX_COMPACT_ITEMS`] snapshots, each by a blob id of 64
//!   lowercase hex digits, of a valid document id, covering at most [`MAX_COVERED`] tags (400).
//! - [`check_push`]: at most `max_changes_per_request` changes per push (413), and every document
//!   id valid by [`check_doc_id`] (400).
//! - [`check_doc_id`]: a document id is non-empty, not only whitespace, at most
//!   [`MAX_DOC_ID_LEN`] bytes, without control characters.
//! - [`check_device_id`]: a device id a lead's revoke or promote names is non-empty, not only
//!   whitespace, at most [`MAX_DEVICE_ID_LEN`] bytes, without control characters (400).
//! - [`check_device_name`]: 1 to [`MAX_DEVICE_NAME_LEN`] bytes, no control characters, no
//!   Unicode bidirectional controls and no invisible characters, which could make a name
//!   display as someone else's (400); [`device_name_of`] makes each run of spaces one space.
//! - [`sync_in_parts`]: a push is written in transactions of at most [`TURN_BYTES`] /
//!   [`TURN_CHANGES`], one after the other, so a team pushing a large batch holds a writer for
//!   one short transaction at a time: on SQLite, pushes queue first come, first served for group
//!   commits (see the SQLite store), and a small push from another team waits for at most one
//!   group, not for the whole batch; on PostgreSQL, only the pusher's own team waits.
//!   A push that fails part-way may have stored its first blobs: that is harmless, since blobs
//!   are stored idempotently by id and the device pushes them again.

use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use groundwork_protocol::id::parse_blob_id;
use groundwork_protocol::team::{MAX_ERASE_PROOF_LEN, MAX_SEALED_KEYS_LEN};
use groundwork_protocol::{
    BLOB_ID_HEX_LEN, CompactRequest, JSON_CONTENT_TYPE, MAX_COMPACT_ITEMS, MAX_COVERED,
    MAX_DEVICE_NAME_LEN, MAX_DOC_ID_LEN, PushItem, SYNC_CONTENT_TYPE, valid_doc_id,
};

use crate::error::ApiError;
use crate::store::{DeviceAuth, NewBlob, Store, StoreError, SyncPage};

/// Largest enrolment body: an invite code and a device name. Enrolment needs no token, so its
/// bodies must stay small, or a few hundred connections posting `max_body_bytes` each would
/// hold gigabytes.
pub const MAX_ENROL_BODY_BYTES: usize = 16 * 1024;

/// Largest body of the lead's actions and of erasure confirmations: a few small fields.
pub const MAX_JSON_BODY_BYTES: usize = MAX_ENROL_BODY_BYTES;

/// Largest body of a lead's invite request: a few small fields and up to
/// [`MAX_SEALED_KEYS_LEN`] bytes of sealed keys.
pub const MAX_INVITE_BODY_BYTES: usize = MAX_SEALED_KEYS_LEN + 4 * 1024;

/// Largest body of a lead's compaction request. A tag takes up to 21 bytes of JSON, so this
/// holds about 200,000 of them: a full request ([`MAX_COMPACT_ITEMS`] snapshots of
/// [`MAX_COVERED`] tags each, some 200 MB) does not fit, and a device announcing that much sends
/// it in several requests. The relay holds it whole while it parses it (and the listener's body
/// budget counts it), so it stays well under the default `max_body_bytes`.
pub const MAX_COMPACT_BODY_BYTES: usize = 4 * 1024 * 1024;

/// The largest body the route at `path` reads, where it reads less than the relay's largest
/// (`max_body_bytes`); `None` for a sync, which may take that much. The one place each route's
/// bound is written: the handlers read up to it (`api::body_limit`), and the listener reserves
/// no more than it for a request's body, whatever its head declares or leaves undeclared (a
/// stranger's stalled enrolments, sent without a length, reserved the largest body each and
/// held the budget every team's syncs wait on). A route that reads a larger body than a small
/// JSON one needs its own line here.
pub fn largest_body_of(path: &str) -> Option<u64> {
    use groundwork_protocol::{
        COMPACT_PATH, INVITE_FROM_PARTS_PATH, INVITE_KEYS_PATH, INVITES_PATH, SYNC_PATH,
    };
    let bytes = match path {
        SYNC_PATH => return None,
        COMPACT_PATH => MAX_COMPACT_BODY_BYTES,
        INVITES_PATH | INVITE_KEYS_PATH | INVITE_FROM_PARTS_PATH => MAX_INVITE_BODY_BYTES,
        // Enrolment, the lead's other actions, erasure confirmations, a document's changes;
        // and any other route, which reads no body.
        _ => MAX_JSON_BODY_BYTES,
    };
    Some(bytes as u64)
}

/// Most blob bytes written in one transaction of a push.
pub const TURN_BYTES: usize = 256 * 1024;
/// Most blobs written in one transaction of a push.
pub const TURN_CHANGES: usize = 256;

/// Whether the media type of `headers`' `Content-Type` (parameters aside) is `expected`.
pub fn content_type_is(headers: &HeaderMap, expected: &str) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case(expected))
}

fn unsupported_type(headers: &HeaderMap, endpoint: &str, expected: &str) -> ApiError {
    let got = match headers.get(header::CONTENT_TYPE) {
        Some(v) => format!("{:?}", String::from_utf8_lossy(v.as_bytes())),
        None => "none".to_owned(),
    };
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        format!(
            "{endpoint} needs `Content-Type: {expected}` (this request sent {got}); update the \
             app, or fix the client sending this request"
        ),
    )
}

/// Middleware: refuses (415) a `POST` to an endpoint of the relay whose `Content-Type` is
/// missing or wrong (the binary sync type for sync, JSON for the others); other routes pass.
pub async fn require_content_type(req: Request, next: Next) -> Response {
    if req.method() != axum::http::Method::POST {
        return next.run(req).await;
    }
    let expected = match req.uri().path() {
        groundwork_protocol::SYNC_PATH => SYNC_CONTENT_TYPE,
        groundwork_protocol::ENROL_PATH
        | groundwork_protocol::DOC_CHANGES_PATH
        | groundwork_protocol::INVITES_PATH
        | groundwork_protocol::INVITE_KEYS_PATH
        | groundwork_protocol::INVITE_FROM_PARTS_PATH
        | groundwork_protocol::CANCEL_INVITE_PATH
        | groundwork_protocol::REVOKE_PATH
        | groundwork_protocol::PROMOTE_PATH
        | groundwork_protocol::ERASE_PATH
        | groundwork_protocol::CONFIRM_ERASURES_PATH
        | groundwork_protocol::COMPACT_PATH => JSON_CONTENT_TYPE,
        _ => return next.run(req).await,
    };
    if !content_type_is(req.headers(), expected) {
        let endpoint = format!("{} {}", req.method(), req.uri().path());
        return unsupported_type(req.headers(), &endpoint, expected).into_response();
    }
    next.run(req).await
}

/// Refuses a push with too many changes or with an unusable document id.
pub fn check_push(push: &[PushItem], max_changes: usize) -> Result<(), ApiError> {
    if push.len() > max_changes {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "this push has {} changes; this relay accepts at most {max_changes} per request: \
                 send them in several smaller requests",
                push.len()
            ),
        ));
    }
    for (i, item) in push.iter().enumerate() {
        let doc = &item.doc_id;
        if !valid_doc_id(doc) {
            return Err(ApiError::bad_request(format!(
                "change {i} of this push has an invalid document id {doc:?}: a document id must \
                 be non-empty text without control characters (e.g. a UUID); this is a bug in \
                 the app, please report it"
            )));
        }
    }
    Ok(())
}

/// Refuses a document id a push could not carry: empty, only whitespace, over
/// [`MAX_DOC_ID_LEN`] bytes, or with control characters (400).
pub fn check_doc_id(doc: &str) -> Result<(), ApiError> {
    if valid_doc_id(doc) {
        return Ok(());
    }
    Err(ApiError::bad_request(format!(
        "invalid document id {doc:?}: a document id is 1 to {MAX_DOC_ID_LEN} bytes of text \
         without control characters (e.g. a UUID)"
    )))
}

/// Longest device id a lead's action may name. The relay gives its devices UUIDs (36 bytes).
pub const MAX_DEVICE_ID_LEN: usize = 128;

/// Refuses a device id no device can have: empty, only whitespace, over [`MAX_DEVICE_ID_LEN`]
/// bytes, or with control characters (400). (A NUL would not even reach the PostgreSQL store,
/// whose text cannot hold it.)
pub fn check_device_id(id: &str) -> Result<(), ApiError> {
    if !id.trim().is_empty() && id.len() <= MAX_DEVICE_ID_LEN && !id.chars().any(char::is_control) {
        return Ok(());
    }
    Err(ApiError::bad_request(format!(
        "invalid device id: a device id is 1 to {MAX_DEVICE_ID_LEN} bytes of text without \
         control characters, as the team's device list shows it (e.g. a UUID): copy it from there"
    )))
}

/// Refuses a compaction request with more than [`MAX_COMPACT_ITEMS`] snapshots, or an item with
/// an invalid document id, a snapshot that is not a blob id, or more than [`MAX_COVERED`] tags
/// (400, naming the item).
pub fn check_compact(req: &CompactRequest) -> Result<(), ApiError> {
    if req.items.len() > MAX_COMPACT_ITEMS {
        return Err(ApiError::bad_request(format!(
            "this compaction names {} snapshots; the relay accepts at most {MAX_COMPACT_ITEMS} \
             per request: send them in several requests",
            req.items.len()
        )));
    }
    for (i, item) in req.items.iter().enumerate() {
        if !valid_doc_id(&item.doc_id) {
            return Err(ApiError::bad_request(format!(
                "item {i} of this compaction has an invalid document id: a document id is 1 to \
                 {MAX_DOC_ID_LEN} bytes of text without control characters (e.g. a UUID); this \
                 is a bug in the app, please report it"
            )));
        }
        if parse_blob_id(&item.snapshot).is_none() {
            return Err(ApiError::bad_request(format!(
                "item {i} of this compaction does not name its snapshot by a blob id: that is \
                 {BLOB_ID_HEX_LEN} lowercase hexadecimal digits, the id the sync that pushed it \
                 acknowledged; this is a bug in the app, please report it"
            )));
        }
        if item.covers.len() > MAX_COVERED {
            return Err(ApiError::bad_request(format!(
                "item {i} of this compaction covers {} blobs; a snapshot may cover at most \
                 {MAX_COVERED}: make snapshots of smaller documents, or of fewer changes",
                item.covers.len()
            )));
        }
    }
    Ok(())
}

pub use groundwork_protocol::names::{
    device_name_of, holds_invisible, is_bidi_control, is_invisible,
};

/// Refuses a device name that is empty, too long, or holds control, bidirectional or
/// invisible characters ([`is_invisible`]).
pub fn check_device_name(name: &str) -> Result<(), ApiError> {
    if name.is_empty()
        || name.len() > MAX_DEVICE_NAME_LEN
        || name.chars().any(|c| c.is_control() || is_bidi_control(c))
        || holds_invisible(name)
    {
        return Err(ApiError::bad_request(format!(
            "device_name must be 1 to {MAX_DEVICE_NAME_LEN} bytes of plain text, without control \
             characters, text-direction controls or invisible characters (a zero-width space, a \
             byte order mark…), e.g. \"Sam's phone\""
        )));
    }
    Ok(())
}

/// Refuses sealed keys that are empty, longer than [`MAX_SEALED_KEYS_LEN`] bytes, or hold
/// anything but base64url characters (`A-Z a-z 0-9 - _`, no padding). The relay cannot open
/// them; it only checks that they are what a lead's app makes.
pub fn check_sealed_keys(keys: &str) -> Result<(), ApiError> {
    if keys.is_empty() {
        return Err(ApiError::bad_request(
            "sealed_keys must not be empty: leave it out for an invite without keys",
        ));
    }
    if keys.len() > MAX_SEALED_KEYS_LEN {
        return Err(ApiError::bad_request(format!(
            "sealed_keys is {} bytes; at most {MAX_SEALED_KEYS_LEN} are accepted",
            keys.len()
        )));
    }
    if let Some(bad) = keys
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
    {
        return Err(ApiError::bad_request(format!(
            "sealed_keys must be base64url text (A-Z a-z 0-9 - _ only, without padding); it \
             holds {bad:?}"
        )));
    }
    Ok(())
}

/// An erasure order's proof is 1 to [`MAX_ERASE_PROOF_LEN`] printable ASCII characters, no
/// spaces (400): the relay keeps it as it came and cannot check it (it holds no member's key).
pub fn check_erase_proof(proof: &str) -> Result<(), ApiError> {
    if proof.is_empty() || proof.len() > MAX_ERASE_PROOF_LEN {
        return Err(ApiError::bad_request(format!(
            "proof is {} bytes; 1 to {MAX_ERASE_PROOF_LEN} are accepted (leave it out for an \
             order without one)",
            proof.len()
        )));
    }
    if let Some(bad) = proof.chars().find(|c| !c.is_ascii_graphic()) {
        return Err(ApiError::bad_request(format!(
            "proof must be printable ASCII without spaces; it holds {bad:?}"
        )));
    }
    Ok(())
}

/// Splits `push` into consecutive parts of at most [`TURN_BYTES`] and [`TURN_CHANGES`] (a single
/// larger blob is a part of its own).
pub fn split_push<'a, 'b>(push: &'b [NewBlob<'a>]) -> Vec<&'b [NewBlob<'a>]> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut bytes = 0usize;
    for (i, blob) in push.iter().enumerate() {
        let size = blob.blob.len() + blob.doc_id.len();
        if i > start && (bytes + size > TURN_BYTES || i - start >= TURN_CHANGES) {
            parts.push(&push[start..i]);
            start = i;
            bytes = 0;
        }
        bytes += size;
    }
    if start < push.len() {
        parts.push(&push[start..]);
    }
    parts
}

/// [`Store::sync`], with a large push written in several parts (see the module
/// documentation). Blocking.
///
/// A push holding changes of erased documents is refused whole ([`StoreError::Erased`]): each
/// transaction checks its own part, and a push written in several is checked first as a whole.
/// (An erasure ordered between two of its transactions refuses the rest; what was stored before
/// the order is a change the order then deleted, or a change of another document.)
#[allow(clippy::too_many_arguments)]
pub fn sync_in_parts(
    store: &dyn Store,
    device: &DeviceAuth,
    actor: &[u8],
    since: u64,
    push: &[NewBlob<'_>],
    max_bytes: u64,
    now: i64,
) -> Result<SyncPage, StoreError> {
    if push.is_empty() {
        return store.sync(device, actor, since, push, max_bytes, now);
    }
    let parts = split_push(push);
    let Some((last, earlier)) = parts.split_last() else {
        return store.sync(device, actor, since, push, max_bytes, now);
    };
    if !earlier.is_empty() {
        let docs: Vec<&str> = push.iter().map(|b| b.doc_id).collect();
        let erased = store.erased_among(device, &docs)?;
        if !erased.is_empty() {
            return Err(StoreError::Erased(erased));
        }
    }
    let mut inserted = 0;
    for part in earlier {
        // Only the last transaction's page is answered: the earlier ones read as little as the
        // store allows.
        inserted += store.sync(device, actor, since, part, 0, now)?.inserted;
    }
    let mut page = store.sync(device, actor, since, last, max_bytes, now)?;
    page.inserted += inserted;
    Ok(page)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn content_types_are_matched_on_the_media_type() {
        let mut h = HeaderMap::new();
        assert!(!content_type_is(&h, JSON_CONTENT_TYPE));
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("Application/JSON; charset=utf-8"),
        );
        assert!(content_type_is(&h, JSON_CONTENT_TYPE));
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        assert!(!content_type_is(&h, JSON_CONTENT_TYPE));
    }

    #[test]
    fn pushes_are_checked() {
        let ok = vec![PushItem::new("doc-1", b"x".to_vec())];
        check_push(&ok, 1).expect("fine");
        let err = check_push(&[ok[0].clone(), ok[0].clone()], 1).expect_err("too many");
        assert_eq!(err.status, StatusCode::PAYLOAD_TOO_LARGE);
        for bad in ["", "   ", "doc\n1", "doc\u{0}"] {
            let err = check_push(&[PushItem::new(bad, b"x".to_vec())], 10).expect_err(bad);
            assert_eq!(err.status, StatusCode::BAD_REQUEST, "{bad:?}");
            assert!(check_doc_id(bad).is_err(), "{bad:?}");
        }
        check_doc_id("0b6f8f3e-2c1d-4a57-9f1e-2f4d5c6b7a80").expect("a UUID");
        assert!(check_doc_id(&"d".repeat(MAX_DOC_ID_LEN + 1)).is_err());
    }

    #[test]
    fn device_names_are_checked() {
        check_device_name("Sam's phone").expect("plain");
        check_device_name("Téléphone de Zoë").expect("accents");
        check_device_name("هاتف سام").expect("right-to-left script is fine");
        for bad in [
            "",
            "tab\there",
            "Sam\u{202E}enohp",
            "a\u{2066}b",
            "a\u{200F}",
            "a\u{061C}",
            "Sam's\u{200B} phone",
            "\u{FEFF}Sam's phone",
            "Sam's phone\u{E0020}",
            "Sam\u{00AD}'s phone",
            "\u{3164}",
        ] {
            assert!(check_device_name(bad).is_err(), "{bad:?}");
        }
        // Joiners that scripts and emoji need are fine.
        check_device_name("\u{0645}\u{06CC}\u{200C}\u{0634}\u{0648}\u{062F}").expect("ZWNJ");
        check_device_name("phone \u{1F469}\u{200D}\u{1F4BB}").expect("ZWJ");
        let england = "\u{1F3F4}\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F}";
        check_device_name(&format!("Sam's phone {england}")).expect("a flag's tags");
        for bad in [
            "Sam's phone \u{E0067}\u{E007F}".to_string(),
            format!("{england}\u{E0067}"),
            "a\u{2800}b".to_string(),
            "a\u{206B}b".to_string(),
        ] {
            assert!(check_device_name(&bad).is_err(), "{bad:?}");
        }
        // Spaces of any kind, and runs of them, are one plain space.
        assert_eq!(
            device_name_of("  Sam's\u{00A0}\u{2003} phone\t"),
            "Sam's phone"
        );
        assert_eq!(device_name_of(" \u{3000} "), "");
        assert_eq!(device_name_of("tab\tname"), "tab\tname");
        assert!(check_device_name(&"x".repeat(MAX_DEVICE_NAME_LEN + 1)).is_err());
    }

    #[test]
    fn erase_proofs_are_checked() {
        check_erase_proof("0a1b.AZaz09-_").expect("an actor and a signature");
        check_erase_proof(&"p".repeat(MAX_ERASE_PROOF_LEN)).expect("the longest");
        for bad in ["", "has space", "tab\t", "é"] {
            assert!(check_erase_proof(bad).is_err(), "{bad:?}");
        }
        assert!(check_erase_proof(&"p".repeat(MAX_ERASE_PROOF_LEN + 1)).is_err());
    }

    #[test]
    fn sealed_keys_are_checked() {
        check_sealed_keys("AZaz09-_").expect("every base64url character");
        check_sealed_keys(&"k".repeat(MAX_SEALED_KEYS_LEN)).expect("the longest");
        for bad in [
            String::new(),
            "k".repeat(MAX_SEALED_KEYS_LEN + 1),
            "padded==".to_owned(),
            "a+b/c".to_owned(),
            "with space".to_owned(),
            "é".to_owned(),
            "line\n".to_owned(),
        ] {
            let err = check_sealed_keys(&bad).expect_err("refused");
            assert_eq!(err.status, StatusCode::BAD_REQUEST, "{bad:?}");
        }
    }

    #[test]
    fn pushes_split_by_bytes_and_count() {
        let big = vec![0u8; TURN_BYTES];
        let small = vec![0u8; 10];
        let blob = |b: &'static [u8]| NewBlob {
            id: [0; 32],
            doc_id: "d",
            blob: b,
        };
        let big: &'static [u8] = Box::leak(big.into_boxed_slice());
        let small: &'static [u8] = Box::leak(small.into_boxed_slice());
        let push = vec![blob(small), blob(big), blob(small)];
        let parts = split_push(&push);
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            vec![1, 1, 1]
        );
        let many: Vec<_> = (0..TURN_CHANGES * 2 + 1).map(|_| blob(small)).collect();
        let parts = split_push(&many);
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            vec![TURN_CHANGES, TURN_CHANGES, 1]
        );
        assert!(split_push(&[]).is_empty());
    }
}
