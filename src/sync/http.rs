//! The HTTP transport: reqwest (blocking, rustls), gzip both ways, timeouts, and retries with
//! exponential backoff for failures that may pass (no connection, timeouts, 5xx). Refusals
//! (4xx) are not retried. Retrying a sync is safe: pushes are idempotent at the relay and the
//! cursor only moves once changes are stored.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use groundwork_protocol::{
    DEVICES_PATH, DOC_CHANGES_PATH, DocChangesRequest, ENROL_PATH, EnrolRequest, EnrolResponse,
    ErrorBody, JSON_CONTENT_TYPE, SYNC_CONTENT_TYPE, SYNC_PATH, SyncRequest, SyncResponse,
    TeamDevice, decode_sync_response, encode_sync_request,
};
use reqwest::blocking::{Client, RequestBuilder, Response};
use reqwest::{Method, header};

use super::{SyncError, Transport};

/// Largest answer accepted after decompression (a hostile relay cannot exhaust memory).
const MAX_ANSWER_BYTES: u64 = 256 << 20;

/// Bytes that crossed the wire (bodies as sent and received, compressed), and round trips.
#[derive(Debug, Default)]
pub struct WireStats {
    /// Request body bytes sent.
    pub sent: AtomicU64,
    /// Response body bytes received.
    pub received: AtomicU64,
    /// Requests that got an answer.
    pub round_trips: AtomicU64,
}

/// The real transport.
#[derive(Debug)]
pub struct HttpTransport {
    client: Client,
    attempts: u32,
    backoff: Duration,
    /// What crossed the wire so far.
    pub stats: WireStats,
}

impl HttpTransport {
    /// A transport with 10 s to connect, 60 s per request, and 4 attempts starting 250 ms apart.
    pub fn new() -> Result<Self, SyncError> {
        Self::with_retries(4, Duration::from_millis(250))
    }

    /// A transport making up to `attempts` tries, waiting `backoff`, then twice that, … between.
    pub fn with_retries(attempts: u32, backoff: Duration) -> Result<Self, SyncError> {
        let client = Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .user_agent(concat!("groundwork/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SyncError::BadAnswer(format!("cannot set up HTTP: {e}")))?;
        Ok(HttpTransport {
            client,
            attempts: attempts.max(1),
            backoff,
            stats: WireStats::default(),
        })
    }

    fn url(relay: &str, path: &str) -> Result<String, SyncError> {
        let base = relay.trim().trim_end_matches('/');
        if !(base.starts_with("http://") || base.starts_with("https://")) || base.len() < 10 {
            return Err(SyncError::BadUrl(relay.to_string()));
        }
        Ok(format!("{base}{path}"))
    }

    /// Send `body` to `url`, retrying failures that may pass; `decorate` adds the headers of
    /// the request and `finish` reads an answer that is not a 5xx.
    fn send<T>(
        &self,
        method: Method,
        relay: &str,
        url: &str,
        body: Vec<u8>,
        decorate: impl Fn(RequestBuilder) -> RequestBuilder,
        finish: impl Fn(u16, Vec<u8>) -> Result<T, SyncError>,
    ) -> Result<T, SyncError> {
        let mut wait = self.backoff;
        let mut last = String::new();
        for attempt in 0..self.attempts {
            if attempt > 0 {
                std::thread::sleep(wait);
                wait *= 2;
            }
            self.stats
                .sent
                .fetch_add(body.len() as u64, Ordering::Relaxed);
            let answer = decorate(self.client.request(method.clone(), url))
                .body(body.clone())
                .send()
                .and_then(|r| read_body(r, &self.stats));
            match answer {
                // Refusals a retry now cannot change: the team's storage is full (507), or the
                // relay asks this address to slow down (429; Retry-After says for how long).
                Ok((status @ (429 | 507), answer)) => {
                    self.stats.round_trips.fetch_add(1, Ordering::Relaxed);
                    return Err(SyncError::RelayFailed {
                        status,
                        message: error_message(&answer),
                    });
                }
                Ok((status, answer)) if status >= 500 => {
                    last = format!("HTTP {status}: {}", error_message(&answer));
                    if attempt + 1 == self.attempts {
                        return Err(SyncError::RelayFailed {
                            status,
                            message: error_message(&answer),
                        });
                    }
                }
                Ok((status, answer)) => {
                    self.stats.round_trips.fetch_add(1, Ordering::Relaxed);
                    return finish(status, answer);
                }
                Err(e) => last = describe(&e),
            }
        }
        Err(SyncError::Unreachable {
            relay: relay.to_string(),
            reason: last,
        })
    }
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "it did not answer in time".into()
    } else if e.is_connect() {
        "no connection".into()
    } else {
        let mut s = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(inner) = source {
            s = format!("{s}: {inner}");
            source = inner.source();
        }
        s
    }
}

/// A binary sync answer to `request` (a pull or a document's changes), or what the refusal means.
fn sync_answer(status: u16, body: &[u8], request: &SyncRequest) -> Result<SyncResponse, SyncError> {
    match status {
        200 => decode_sync_response(body, request).map_err(|e| SyncError::BadAnswer(e.to_string())),
        401 => Err(SyncError::UnknownDevice(error_message(body))),
        403 => Err(SyncError::Revoked),
        _ => Err(SyncError::Refused {
            status,
            message: error_message(body),
        }),
    }
}

fn error_message(body: &[u8]) -> String {
    serde_json::from_slice::<ErrorBody>(body)
        .map(|b| b.error)
        .unwrap_or_else(|_| String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned())
}

/// Read a whole response body, undoing gzip, within [`MAX_ANSWER_BYTES`].
fn read_body(response: Response, stats: &WireStats) -> Result<(u16, Vec<u8>), reqwest::Error> {
    let status = response.status().as_u16();
    let gzip = response
        .headers()
        .get(header::CONTENT_ENCODING)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
    let raw = response.bytes()?;
    stats
        .received
        .fetch_add(raw.len() as u64, Ordering::Relaxed);
    let body = if gzip {
        let mut out = Vec::new();
        match GzDecoder::new(&raw[..])
            .take(MAX_ANSWER_BYTES)
            .read_to_end(&mut out)
        {
            Ok(_) => out,
            Err(_) => raw.to_vec(),
        }
    } else {
        raw.to_vec()
    };
    Ok((status, body))
}

impl Transport for HttpTransport {
    fn enrol(&self, relay: &str, request: &EnrolRequest) -> Result<EnrolResponse, SyncError> {
        let url = Self::url(relay, ENROL_PATH)?;
        let body = serde_json::to_vec(request).map_err(|e| SyncError::BadAnswer(e.to_string()))?;
        self.send(
            Method::POST,
            relay,
            &url,
            body,
            |r| r.header(header::CONTENT_TYPE, JSON_CONTENT_TYPE),
            |status, body| match status {
                200 => {
                    serde_json::from_slice(&body).map_err(|e| SyncError::BadAnswer(e.to_string()))
                }
                400 | 401 | 403 | 404 | 410 => Err(SyncError::InviteRefused(error_message(&body))),
                _ => Err(SyncError::Refused {
                    status,
                    message: error_message(&body),
                }),
            },
        )
    }

    fn sync(
        &self,
        relay: &str,
        token: &str,
        request: &SyncRequest,
    ) -> Result<SyncResponse, SyncError> {
        let url = Self::url(relay, SYNC_PATH)?;
        let plain =
            encode_sync_request(request).map_err(|e| SyncError::BadAnswer(e.to_string()))?;
        let mut gz = GzEncoder::new(Vec::with_capacity(plain.len() / 2), Compression::default());
        gz.write_all(&plain)
            .map_err(|e| SyncError::BadAnswer(e.to_string()))?;
        let body = gz
            .finish()
            .map_err(|e| SyncError::BadAnswer(e.to_string()))?;
        self.send(
            Method::POST,
            relay,
            &url,
            body,
            |r| {
                r.bearer_auth(token)
                    .header(header::CONTENT_TYPE, SYNC_CONTENT_TYPE)
                    .header(header::CONTENT_ENCODING, "gzip")
                    .header(header::ACCEPT_ENCODING, "gzip")
            },
            |status, body| sync_answer(status, &body, request),
        )
    }

    fn doc_changes(
        &self,
        relay: &str,
        token: &str,
        request: &DocChangesRequest,
    ) -> Result<SyncResponse, SyncError> {
        let url = Self::url(relay, DOC_CHANGES_PATH)?;
        let body = serde_json::to_vec(request).map_err(|e| SyncError::BadAnswer(e.to_string()))?;
        // The answer is read as the answer to a request that pushed nothing, from `after`.
        let as_sync = SyncRequest {
            since: request.after,
            ..SyncRequest::default()
        };
        self.send(
            Method::POST,
            relay,
            &url,
            body,
            |r| {
                r.bearer_auth(token)
                    .header(header::CONTENT_TYPE, JSON_CONTENT_TYPE)
                    .header(header::ACCEPT_ENCODING, "gzip")
            },
            |status, body| sync_answer(status, &body, &as_sync),
        )
    }

    fn devices(&self, relay: &str, token: &str) -> Result<Vec<TeamDevice>, SyncError> {
        let url = Self::url(relay, DEVICES_PATH)?;
        self.send(
            Method::GET,
            relay,
            &url,
            Vec::new(),
            |r| r.bearer_auth(token),
            |status, body| match status {
                200 => {
                    serde_json::from_slice(&body).map_err(|e| SyncError::BadAnswer(e.to_string()))
                }
                401 => Err(SyncError::UnknownDevice(error_message(&body))),
                403 => Err(SyncError::Revoked),
                _ => Err(SyncError::Refused {
                    status,
                    message: error_message(&body),
                }),
            },
        )
    }
}
