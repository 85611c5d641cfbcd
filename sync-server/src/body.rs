//! Request and response bodies: size limits, a read deadline, and gzip in both directions.
//!
//! The size limit applies twice: to the bytes on the wire and to the bytes after decompression,
//! so a small gzip bomb is refused (413) as surely as a large upload. Every request body arrives
//! wrapped in a [`DeadlineBody`] (see [`crate::listener`]), so a body that trickles in is cut
//! off and answered 408. A gzip body must be exactly one gzip member: bytes after it are 400.
//! A large answer can hold a reservation of the memory it takes until it is sent
//! ([`HeldBody`]).

use std::future::Future;
use std::io::{Read, Write};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::BoxError;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use flate2::Compression;
use flate2::bufread::GzDecoder;
use flate2::write::GzEncoder;

use crate::error::ApiError;

/// Responses smaller than this are sent uncompressed: gzip's own framing would outweigh the gain.
pub const GZIP_THRESHOLD: usize = 128;

/// The request body did not arrive before its deadline.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within {} seconds", .0.as_secs())]
pub struct BodyTimeout(pub Duration);

/// A request body that fails with [`BodyTimeout`] once `limit` has passed since it was wrapped,
/// and records in `finished` whether it was read to its end.
pub struct DeadlineBody<B> {
    inner: B,
    limit: Duration,
    deadline: Pin<Box<tokio::time::Sleep>>,
    finished: Arc<AtomicBool>,
}

impl<B: http_body::Body> DeadlineBody<B> {
    /// Wraps `inner`; the deadline starts now. Needs a tokio runtime.
    pub fn new(inner: B, limit: Duration, finished: Arc<AtomicBool>) -> Self {
        finished.store(inner.is_end_stream(), Ordering::SeqCst);
        Self {
            inner,
            limit,
            deadline: Box::pin(tokio::time::sleep(limit)),
            finished,
        }
    }
}

impl<B> http_body::Body for DeadlineBody<B>
where
    B: http_body::Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                if frame.is_none() || this.inner.is_end_stream() {
                    this.finished.store(true, Ordering::SeqCst);
                }
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => match this.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyTimeout(this.limit))))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// Reads a request body of at most `limit` bytes (413 above it, 408 if it is too slow).
pub async fn read_limited(
    body: Body,
    headers: &HeaderMap,
    limit: usize,
) -> Result<Bytes, ApiError> {
    if let Some(len) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        && len > limit as u64
    {
        return Err(ApiError::too_large(limit));
    }
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        if is_length_limit(&e) {
            ApiError::too_large(limit)
        } else if let Some(timeout) = find_source::<BodyTimeout>(&e) {
            ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "the request body arrived too slowly (the relay waits {} seconds for it); \
                     check the network connection and sync again",
                    timeout.0.as_secs()
                ),
            )
        } else {
            ApiError::bad_request(format!("could not read the request body: {e}"))
        }
    })
}

fn is_length_limit(e: &axum::Error) -> bool {
    find_source::<http_body_util::LengthLimitError>(e).is_some()
}

/// The first error of type `T` in `e`'s chain of sources.
fn find_source<T: std::error::Error + 'static>(e: &axum::Error) -> Option<&T> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if let Some(found) = err.downcast_ref::<T>() {
            return Some(found);
        }
        source = err.source();
    }
    None
}

/// How many times its size on the wire a compressed body may inflate to. An honest client's
/// bodies are mostly sealed blobs, which hardly compress; a bound on the ratio lets the relay
/// reserve memory for a compressed body by its length on the wire (`listener::BodyBudget`)
/// rather than the largest body, and a few KiB of gzip cannot inflate to megabytes.
pub const MAX_INFLATION: u64 = 64;
/// What a compressed body may inflate to however short it is (small bodies compress little,
/// but their ratio can be high).
pub const MIN_INFLATED: u64 = 64 * 1024;

/// The most a compressed body of `compressed` bytes may inflate to (before the relay's
/// largest-body limit, which applies too).
pub fn inflated_bound(compressed: u64) -> u64 {
    compressed.saturating_mul(MAX_INFLATION).max(MIN_INFLATED)
}

/// The request body after undoing its `Content-Encoding` (`gzip` or none), at most `limit` bytes
/// (and, compressed, at most [`inflated_bound`] of its length).
pub fn decode_content(headers: &HeaderMap, raw: Bytes, limit: usize) -> Result<Bytes, ApiError> {
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase());
    match encoding.as_deref() {
        None | Some("identity") | Some("") => Ok(raw),
        Some("gzip") | Some("x-gzip") => {
            let bound = usize::try_from(inflated_bound(raw.len() as u64)).unwrap_or(usize::MAX);
            let cap = limit.min(bound);
            let mut out = Vec::with_capacity(raw.len().saturating_mul(3).min(cap));
            let mut decoder = GzDecoder::new(&raw[..]);
            let read = (&mut decoder).take(cap as u64 + 1).read_to_end(&mut out);
            match read {
                Ok(_) if out.len() > limit => Err(ApiError::too_large(limit)),
                Ok(_) if out.len() > cap => Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!(
                        "request body inflates to more than {MAX_INFLATION} times its {} \
                         compressed bytes; send it without Content-Encoding",
                        raw.len()
                    ),
                )),
                Ok(_) if !decoder.into_inner().is_empty() => Err(ApiError::bad_request(
                    "request body has bytes after the gzip data; send exactly one gzip stream",
                )),
                Ok(_) => Ok(Bytes::from(out)),
                Err(e) => Err(ApiError::bad_request(format!(
                    "request body is not valid gzip ({e}); compress it with gzip or send it \
                     without Content-Encoding"
                ))),
            }
        }
        Some(other) => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("Content-Encoding {other:?} is not supported; use gzip or none"),
        )),
    }
}

/// Whether the client accepts gzip (`Accept-Encoding: gzip`, or `*`, not refused with `q=0`).
pub fn accepts_gzip(headers: &HeaderMap) -> bool {
    accepts(headers, "gzip")
}

/// Whether the client accepts the content coding `coding` (named, or `*`, and not refused
/// with `q=0`).
pub fn accepts(headers: &HeaderMap, coding: &str) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';').map(str::trim);
            let named = parts.next().unwrap_or_default();
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            (named.eq_ignore_ascii_case(coding) || named == "*") && !refused
        })
}

/// Gzip-compresses `bytes`.
pub fn gzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = GzEncoder::new(
        Vec::with_capacity(bytes.len() / 3 + 64),
        Compression::default(),
    );
    encoder.write_all(bytes)?;
    encoder.finish()
}

/// The most bytes a frame of a [`HeldBody`] carries.
pub const HELD_FRAME_BYTES: usize = 64 * 1024;

/// An answer's bytes, handed out in frames of [`HELD_FRAME_BYTES`], holding `held` (a
/// reservation of the memory they take) until the last frame is taken or the answer is
/// dropped: a connection takes the next frame only once it has room for it, so a client that
/// reads slowly keeps the reservation as long as it keeps the bytes.
pub struct HeldBody {
    bytes: Bytes,
    held: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl HeldBody {
    /// `bytes`, holding `held` while they are sent.
    pub fn new(bytes: Vec<u8>, held: Option<tokio::sync::OwnedSemaphorePermit>) -> Self {
        Self {
            bytes: Bytes::from(bytes),
            held,
        }
    }
}

impl http_body::Body for HeldBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        if self.bytes.is_empty() {
            self.held = None;
            return Poll::Ready(None);
        }
        let n = self.bytes.len().min(HELD_FRAME_BYTES);
        let frame = self.bytes.split_to(n);
        Poll::Ready(Some(Ok(http_body::Frame::data(frame))))
    }

    fn is_end_stream(&self) -> bool {
        self.bytes.is_empty()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.bytes.len() as u64)
    }
}

/// A `200` answer with `content_type`, gzip-compressed when the client allows and it pays.
pub fn respond(content_type: &'static str, bytes: Vec<u8>, gzip_ok: bool) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if gzip_ok && bytes.len() >= GZIP_THRESHOLD {
        match gzip(&bytes) {
            Ok(compressed) => {
                headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
                return (StatusCode::OK, headers, compressed).into_response();
            }
            Err(e) => tracing::warn!(error = %e, "gzip failed; answering uncompressed"),
        }
    }
    (StatusCode::OK, headers, bytes).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(header::HeaderName, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(k.clone(), HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn accept_encoding_is_parsed() {
        assert!(accepts_gzip(&headers(&[(header::ACCEPT_ENCODING, "gzip")])));
        assert!(accepts_gzip(&headers(&[(
            header::ACCEPT_ENCODING,
            "br, GZIP;q=0.5"
        )])));
        assert!(accepts_gzip(&headers(&[(header::ACCEPT_ENCODING, "*")])));
        assert!(!accepts_gzip(&headers(&[(
            header::ACCEPT_ENCODING,
            "gzip;q=0"
        )])));
        assert!(!accepts_gzip(&headers(&[(header::ACCEPT_ENCODING, "br")])));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[test]
    fn gzip_round_trips_and_bombs_are_refused() {
        let plain = vec![7u8; 10_000];
        let packed = gzip(&plain).expect("gzip");
        let h = headers(&[(header::CONTENT_ENCODING, "gzip")]);
        let out = decode_content(&h, Bytes::from(packed.clone()), 10_000).expect("fits");
        assert_eq!(&out[..], &plain[..]);
        let err = decode_content(&h, Bytes::from(packed), 9_999).expect_err("too big");
        assert_eq!(err.status, StatusCode::PAYLOAD_TOO_LARGE);
        // A small gzip that inflates past its bound: refused, whatever the largest body.
        let bomb = {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            std::io::Write::write_all(&mut e, &vec![b'a'; 4 << 20]).expect("gzip");
            e.finish().expect("gzip")
        };
        assert!(
            inflated_bound(bomb.len() as u64) < 4 << 20,
            "{}",
            bomb.len()
        );
        let err = decode_content(&h, Bytes::from(bomb), 8 << 20).expect_err("bomb");
        assert_eq!(err.status, StatusCode::PAYLOAD_TOO_LARGE);
        let err = decode_content(&h, Bytes::from_static(b"not gzip"), 100).expect_err("bad");
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        let mut trailing = gzip(b"hello").expect("gzip");
        trailing.extend_from_slice(b"junk");
        let err = decode_content(&h, Bytes::from(trailing), 100).expect_err("trailing");
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        let mut two = gzip(b"hello").expect("gzip");
        two.extend(gzip(b"again").expect("gzip"));
        let err = decode_content(&h, Bytes::from(two), 100).expect_err("two members");
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        let br = headers(&[(header::CONTENT_ENCODING, "br")]);
        let err = decode_content(&br, Bytes::from_static(b"x"), 100).expect_err("unsupported");
        assert_eq!(err.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }
}
