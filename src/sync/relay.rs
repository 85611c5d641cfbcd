//! The relay's HTTP API as the engine uses it, over any [`Wire`]: the requests (URLs, headers,
//! gzip, the binary sync body), the answers (status codes turned into [`SyncError`]s that say
//! what to do) and retries with exponential backoff for failures that may pass (no connection,
//! timeouts, 5xx). Refusals (4xx) are not retried. Retrying a sync is safe: pushes are
//! idempotent at the relay and the cursor only moves once changes are stored.
//!
//! The wire is the only part that differs between hosts: reqwest on the desktop and the
//! command line ([`super::http`]), `fetch` in the browser's store worker (`super::fetch`).

use std::io::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use flate2::Compression;
use flate2::write::GzEncoder;
use groundwork_protocol::{
    CODE_ERASED, CODE_LEAD_ONLY, CONFIRM_ERASURES_PATH, ConfirmErasures, DEVICES_PATH,
    DOC_CHANGES_PATH, DeviceAction, DocChangesRequest, ENROL_PATH, ERASE_PATH, ERASURES_PATH,
    EnrolRequest, EnrolResponse, EraseRequest, Erasure, ErasureList, ErrorBody, INVITES_PATH,
    InviteRequest, InviteResponse, JSON_CONTENT_TYPE, PROMOTE_PATH, REVOKE_PATH, Role,
    SYNC_CONTENT_TYPE, SYNC_PATH, SyncRequest, SyncResponse, TeamDevice, decode_sync_response,
    encode_sync_request,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::SyncError;
use super::pace::Pace;
use super::plan::Budget;

/// Largest answer accepted after decompression (a hostile relay cannot exhaust memory).
pub const MAX_ANSWER_BYTES: u64 = 256 << 20;

/// How long a request may take before it is given up: a sync's pages and pushes are paced
/// to a quarter of it (see [`super::pace`]).
pub const PATIENCE: Duration = Duration::from_secs(60);

/// How long a join's request may take (five times [`PATIENCE`]): its answer cannot be cut
/// into pages, and an invite into a team with thousands of erasures carries megabytes of keys
/// (63 MiB at most, in parts: about 1.7 Mbit/s for five minutes; 7 MiB, about 6,500 erasures,
/// about 190 kbit/s). (A lead's new invite has the usual
/// patience: the relay gives a request's body a minute to arrive, `body_read_timeout`.)
pub const LONG_PATIENCE: Duration = Duration::from_secs(300);

/// One HTTP request, as the relay API needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    /// `GET` or `POST`.
    pub method: &'static str,
    /// The whole URL.
    pub url: String,
    /// Header names and values (a browser leaves out the ones it sets itself, such as
    /// `Accept-Encoding`).
    pub headers: Vec<(&'static str, String)>,
    /// The body as sent.
    pub body: Vec<u8>,
    /// How long the whole exchange may take, answer included.
    pub patience: Duration,
}

/// Why an exchange got no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoAnswer {
    /// None came within the request's patience (the link may be too slow for its size).
    TimedOut,
    /// Anything else: no connection, no name lookup, a connection cut; in words.
    Failed(String),
    /// An answer came that no relay would send (larger than [`MAX_ANSWER_BYTES`]): asking
    /// again would fetch the same, so it is not asked again; in words.
    Unreadable(String),
}

impl std::fmt::Display for NoAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NoAnswer::TimedOut => f.write_str("it did not answer in time"),
            NoAnswer::Failed(reason) | NoAnswer::Unreadable(reason) => f.write_str(reason),
        }
    }
}

impl From<&str> for NoAnswer {
    fn from(reason: &str) -> Self {
        NoAnswer::Failed(reason.to_string())
    }
}

/// An answer: its status and its body, with gzip undone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// The body, decompressed.
    pub body: Vec<u8>,
    /// Bytes of the body as they crossed the wire (compressed), when the wire knows.
    pub wire_bytes: u64,
    /// What the relay said of the team in its headers.
    pub news: News,
}

/// What every authenticated answer says of the caller's team, in its headers
/// (`x-groundwork-role`, `x-groundwork-erasures`); empty from a relay that does not say.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct News {
    /// The device's role.
    pub role: Option<Role>,
    /// The number of the team's last erasure order.
    pub erasures: Option<u64>,
}

impl News {
    /// The news in the two headers' values, ignoring values that do not parse.
    pub fn read(role: Option<String>, erasures: Option<String>) -> News {
        News {
            role: role.as_deref().and_then(Role::parse),
            erasures: erasures.and_then(|v| v.trim().parse().ok()),
        }
    }
}

/// How HTTP reaches the relay: one request and its answer, and a pause between retries.
///
/// `exchange` fails only when there was no answer at all: no connection, no name lookup, no
/// answer within the request's [`Exchange::patience`] ([`NoAnswer::TimedOut`]).
#[allow(async_fn_in_trait)]
pub trait Wire {
    /// Send one request and read its whole answer (at most [`MAX_ANSWER_BYTES`]).
    async fn exchange(&self, request: &Exchange) -> Result<Answer, NoAnswer>;
    /// Wait before trying again.
    async fn pause(&self, wait: Duration);
}

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

/// The relay's API over a wire `W`, with retries.
#[derive(Debug)]
pub struct Relay<W> {
    wire: W,
    attempts: u32,
    backoff: Duration,
    patience: Duration,
    /// What the link was found to carry in a sync's request (see [`super::pace`]).
    pace: Mutex<Pace>,
    /// What crossed the wire so far.
    pub stats: WireStats,
}

/// Whether a request is one of a sync's, whose size the engine chooses by the [`Pace`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Paced {
    /// A push and a page, or a document's page: its answer teaches the pace, and when it
    /// times out the engine asks again with less ([`SyncError::TooSlow`]).
    Yes,
    /// Anything else (small, or not to be cut: a join's answer).
    No,
}

impl<W: Wire> Relay<W> {
    /// The API over `wire`, making up to `attempts` tries, waiting `backoff`, then twice that,
    /// … between them, each request given [`PATIENCE`].
    pub fn over(wire: W, attempts: u32, backoff: Duration) -> Self {
        Relay {
            wire,
            attempts: attempts.max(1),
            backoff,
            patience: PATIENCE,
            pace: Mutex::new(Pace::default()),
            stats: WireStats::default(),
        }
    }

    /// The same API with each request given `patience` instead of [`PATIENCE`] (a join five
    /// times it).
    #[must_use]
    pub fn with_patience(mut self, patience: Duration) -> Self {
        self.patience = patience;
        self
    }

    /// The most a sync's next request may carry under the engine's `budget`: pushes and
    /// pages no larger than the link has shown it carries in time.
    pub fn paced(&self, budget: Budget) -> Budget {
        let mut pace = self
            .pace
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Budget {
            push_bytes: usize::try_from(pace.allow(budget.push_bytes as u64))
                .unwrap_or(budget.push_bytes),
            pull_bytes: pace.allow(budget.pull_bytes),
        }
    }

    /// Resume the pace an earlier sync learnt (bytes a request may carry).
    pub fn resume_pace(&self, allowance: u64) {
        *self
            .pace
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Pace::resumed(allowance);
    }

    /// What the pace has learnt, to keep for the next sync (`None` before any answer).
    pub fn learnt_pace(&self) -> Option<u64> {
        self.pace
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .learnt()
    }

    fn url(relay: &str, path: &str) -> Result<String, SyncError> {
        let base = relay.trim().trim_end_matches('/');
        let rest = base
            .strip_prefix("https://")
            .or_else(|| base.strip_prefix("http://"));
        if !rest.is_some_and(host_and_port_ok) || base.len() < 10 {
            return Err(SyncError::BadUrl(relay.to_string()));
        }
        Ok(format!("{base}{path}"))
    }

    /// Send `request` to `relay`, retrying failures that may pass; `finish` reads an answer
    /// that is not a 5xx.
    async fn send<T>(
        &self,
        relay: &str,
        request: Exchange,
        paced: Paced,
        finish: impl Fn(u16, Vec<u8>, News) -> Result<T, SyncError>,
    ) -> Result<T, SyncError> {
        let mut wait = self.backoff;
        let mut last = String::new();
        for attempt in 0..self.attempts {
            if attempt > 0 {
                self.wire.pause(wait).await;
                wait *= 2;
            }
            self.stats
                .sent
                .fetch_add(request.body.len() as u64, Ordering::Relaxed);
            let started = web_time::Instant::now();
            let exchanged = self.wire.exchange(&request).await;
            let elapsed = started.elapsed();
            match exchanged {
                Ok(answer) => {
                    self.stats
                        .received
                        .fetch_add(answer.wire_bytes, Ordering::Relaxed);
                    // Only an answer to the request itself says what the link carried: a
                    // quick refusal (a relay at its connection cap, 503) read no body.
                    if paced == Paced::Yes && (200..300).contains(&answer.status) {
                        let bytes = request.body.len() as u64 + answer.wire_bytes;
                        self.pace
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .answered(bytes, elapsed, request.patience);
                    }
                    let Answer {
                        status, body, news, ..
                    } = answer;
                    match status {
                        // Refusals a retry now cannot change: the team's storage is full
                        // (507), or the relay asks this address to slow down (429;
                        // Retry-After says for how long).
                        429 | 507 => {
                            self.stats.round_trips.fetch_add(1, Ordering::Relaxed);
                            return Err(SyncError::RelayFailed {
                                status,
                                message: error_message(&body),
                            });
                        }
                        500.. => {
                            last = format!("HTTP {status}: {}", error_message(&body));
                            if attempt + 1 == self.attempts {
                                return Err(SyncError::RelayFailed {
                                    status,
                                    message: error_message(&body),
                                });
                            }
                        }
                        _ => {
                            self.stats.round_trips.fetch_add(1, Ordering::Relaxed);
                            return finish(status, body, news);
                        }
                    }
                }
                // Too slow for its size: the engine asks again with less, while less may fit
                // (a quarter each time, so from 1 MiB three times at most between answers).
                // At the floor, the same again would take as long: the relay is out of reach.
                Err(NoAnswer::TimedOut) if paced == Paced::Yes => {
                    let smaller = self
                        .pace
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .timed_out();
                    if smaller {
                        return Err(SyncError::TooSlow {
                            relay: relay.to_string(),
                        });
                    }
                    last = NoAnswer::TimedOut.to_string();
                    break;
                }
                Err(NoAnswer::Unreadable(why)) => {
                    self.stats.round_trips.fetch_add(1, Ordering::Relaxed);
                    return Err(SyncError::BadAnswer(why));
                }
                Err(reason) => last = reason.to_string(),
            }
        }
        Err(SyncError::Unreachable {
            relay: relay.to_string(),
            reason: last,
        })
    }

    /// Enrol this device with an invite.
    pub async fn enrol(
        &self,
        relay: &str,
        request: &EnrolRequest,
    ) -> Result<EnrolResponse, SyncError> {
        let request = Exchange {
            method: "POST",
            url: Self::url(relay, ENROL_PATH)?,
            headers: vec![("content-type", JSON_CONTENT_TYPE.to_string())],
            body: serde_json::to_vec(request).map_err(|e| SyncError::BadAnswer(e.to_string()))?,
            patience: self.long_patience(),
        };
        self.send(relay, request, Paced::No, |status, body, _| match status {
            200 => serde_json::from_slice(&body).map_err(|e| SyncError::BadAnswer(e.to_string())),
            // A web server that is no relay (a mistyped address) answers 404 too: not a refusal.
            400 | 401 | 403 | 404 | 410 if serde_json::from_slice::<ErrorBody>(&body).is_err() => {
                Err(SyncError::BadAnswer(format!(
                    "HTTP {status} that is not a Groundwork relay's answer"
                )))
            }
            400 | 401 | 403 | 404 | 410 => Err(SyncError::InviteRefused(error_message(&body))),
            _ => Err(SyncError::Refused {
                status,
                message: error_message(&body),
            }),
        })
        .await
    }

    /// One sync round trip: push, and pull after the request's cursor; with what the relay
    /// said of the team.
    pub async fn sync(
        &self,
        relay: &str,
        token: &str,
        request: &SyncRequest,
    ) -> Result<(SyncResponse, News), SyncError> {
        let plain =
            encode_sync_request(request).map_err(|e| SyncError::BadAnswer(e.to_string()))?;
        let mut gz = GzEncoder::new(Vec::with_capacity(plain.len() / 2), Compression::default());
        gz.write_all(&plain)
            .map_err(|e| SyncError::BadAnswer(e.to_string()))?;
        let body = gz
            .finish()
            .map_err(|e| SyncError::BadAnswer(e.to_string()))?;
        let exchange = Exchange {
            method: "POST",
            url: Self::url(relay, SYNC_PATH)?,
            headers: vec![
                ("authorization", format!("Bearer {token}")),
                ("content-type", SYNC_CONTENT_TYPE.to_string()),
                ("content-encoding", "gzip".to_string()),
                ("accept-encoding", "gzip".to_string()),
            ],
            body,
            patience: self.patience,
        };
        self.send(relay, exchange, Paced::Yes, |status, body, news| {
            sync_answer(status, &body, request).map(|r| (r, news))
        })
        .await
    }

    /// One document's changes again (every device's), after a position of the team's log.
    pub async fn doc_changes(
        &self,
        relay: &str,
        token: &str,
        request: &DocChangesRequest,
    ) -> Result<SyncResponse, SyncError> {
        let exchange = Exchange {
            method: "POST",
            url: Self::url(relay, DOC_CHANGES_PATH)?,
            headers: vec![
                ("authorization", format!("Bearer {token}")),
                ("content-type", JSON_CONTENT_TYPE.to_string()),
                ("accept-encoding", "gzip".to_string()),
            ],
            body: serde_json::to_vec(request).map_err(|e| SyncError::BadAnswer(e.to_string()))?,
            patience: self.patience,
        };
        // The answer is read as the answer to a request that pushed nothing, from `after`.
        let as_sync = SyncRequest {
            since: request.after,
            ..SyncRequest::default()
        };
        self.send(relay, exchange, Paced::Yes, |status, body, _| {
            sync_answer(status, &body, &as_sync)
        })
        .await
    }

    /// A join's patience: five times a request's ([`LONG_PATIENCE`] by default).
    fn long_patience(&self) -> Duration {
        self.patience.saturating_mul(5)
    }

    /// An authenticated JSON request: `body` sent as JSON (a `GET` when there is none), the
    /// answer read as `T`.
    async fn json<T: DeserializeOwned>(
        &self,
        relay: &str,
        token: &str,
        path: &str,
        body: Option<&impl Serialize>,
    ) -> Result<T, SyncError> {
        let mut headers = vec![("authorization", format!("Bearer {token}"))];
        let (method, body) = match body {
            Some(b) => {
                headers.push(("content-type", JSON_CONTENT_TYPE.to_string()));
                let bytes =
                    serde_json::to_vec(b).map_err(|e| SyncError::BadAnswer(e.to_string()))?;
                ("POST", bytes)
            }
            None => ("GET", Vec::new()),
        };
        let exchange = Exchange {
            method,
            url: Self::url(relay, path)?,
            headers,
            body,
            patience: self.patience,
        };
        self.send(relay, exchange, Paced::No, |status, body, _| match status {
            200 => serde_json::from_slice(&body).map_err(|e| SyncError::BadAnswer(e.to_string())),
            _ => Err(refusal(status, &body)),
        })
        .await
    }

    /// The devices of this device's team, with their last sync and role (a lead only).
    pub async fn devices(&self, relay: &str, token: &str) -> Result<Vec<TeamDevice>, SyncError> {
        self.json(relay, token, DEVICES_PATH, None::<&()>).await
    }

    /// A new invite to this device's team (a lead only).
    pub async fn invite(
        &self,
        relay: &str,
        token: &str,
        request: &InviteRequest,
    ) -> Result<InviteResponse, SyncError> {
        // An invite whose keys went in parts has a route of its own, which a relay from before
        // parts does not have: it answers 404 instead of an invite holding part of the keys.
        let path = if request.key_parts.is_empty() {
            INVITES_PATH
        } else {
            groundwork_protocol::INVITE_FROM_PARTS_PATH
        };
        self.json(relay, token, path, Some(request)).await
    }

    /// The open invites of this device's team (a lead only).
    pub async fn open_invites(
        &self,
        relay: &str,
        token: &str,
    ) -> Result<Vec<groundwork_protocol::OpenInvite>, SyncError> {
        self.json(relay, token, INVITES_PATH, None::<&()>).await
    }

    /// Cancel the invite `id` of this device's team (a lead only).
    pub async fn cancel_invite(
        &self,
        relay: &str,
        token: &str,
        id: &str,
    ) -> Result<groundwork_protocol::InviteCancelled, SyncError> {
        let request = groundwork_protocol::CancelInvite { id: id.to_owned() };
        self.json(
            relay,
            token,
            groundwork_protocol::CANCEL_INVITE_PATH,
            Some(&request),
        )
        .await
    }

    /// Leave one part of an invite's keys with the relay, before the invite that names it (a
    /// lead only); `first` for a new invite's first part; `id`, the part's request id (new for
    /// each part: the part asked again after a lost answer is kept once).
    pub async fn invite_keys_part(
        &self,
        relay: &str,
        token: &str,
        part: &str,
        first: bool,
        id: &str,
    ) -> Result<groundwork_protocol::InviteKeysPartAnswer, SyncError> {
        let request = groundwork_protocol::InviteKeysPart {
            sealed_keys: part.to_owned(),
            first,
            request: Some(id.to_owned()),
        };
        self.json(
            relay,
            token,
            groundwork_protocol::INVITE_KEYS_PATH,
            Some(&request),
        )
        .await
    }

    /// Revoke a device of this device's team (a lead only).
    pub async fn revoke(
        &self,
        relay: &str,
        token: &str,
        device_id: &str,
    ) -> Result<TeamDevice, SyncError> {
        self.on_device(relay, token, REVOKE_PATH, device_id).await
    }

    /// Make a device of this device's team a lead (a lead only).
    pub async fn promote(
        &self,
        relay: &str,
        token: &str,
        device_id: &str,
    ) -> Result<TeamDevice, SyncError> {
        self.on_device(relay, token, PROMOTE_PATH, device_id).await
    }

    /// A lead's action at `path` on one device of the team.
    async fn on_device(
        &self,
        relay: &str,
        token: &str,
        path: &str,
        device_id: &str,
    ) -> Result<TeamDevice, SyncError> {
        let action = DeviceAction {
            device_id: device_id.to_string(),
        };
        self.json(relay, token, path, Some(&action)).await
    }

    /// Erase a document from the team (a lead only).
    pub async fn erase(
        &self,
        relay: &str,
        token: &str,
        doc_id: &str,
        proof: Option<String>,
    ) -> Result<Erasure, SyncError> {
        let request = EraseRequest {
            doc_id: doc_id.to_string(),
            proof,
        };
        self.json(relay, token, ERASE_PATH, Some(&request)).await
    }

    /// Tell the relay what snapshots this device pushed stand for (a lead only).
    pub async fn compact(
        &self,
        relay: &str,
        token: &str,
        request: &groundwork_protocol::CompactRequest,
    ) -> Result<groundwork_protocol::CompactResponse, SyncError> {
        self.json(
            relay,
            token,
            groundwork_protocol::COMPACT_PATH,
            Some(request),
        )
        .await
    }

    /// The team's erasure orders after order `after`.
    pub async fn erasures(
        &self,
        relay: &str,
        token: &str,
        after: u64,
    ) -> Result<ErasureList, SyncError> {
        let path = format!("{ERASURES_PATH}?after={after}");
        self.json(relay, token, &path, None::<&()>).await
    }

    /// Tell the relay this device has carried out every order up to `up_to`.
    pub async fn confirm_erasures(
        &self,
        relay: &str,
        token: &str,
        up_to: u64,
    ) -> Result<ErasureList, SyncError> {
        let request = ConfirmErasures { up_to };
        self.json(relay, token, CONFIRM_ERASURES_PATH, Some(&request))
            .await
    }
}

/// A binary sync answer to `request` (a pull or a document's changes), or what the refusal means.
fn sync_answer(status: u16, body: &[u8], request: &SyncRequest) -> Result<SyncResponse, SyncError> {
    match status {
        200 => decode_sync_response(body, request).map_err(|e| SyncError::BadAnswer(e.to_string())),
        _ => Err(refusal(status, body)),
    }
}

/// What a refusal (a 4xx answer) means for the person holding the device.
fn refusal(status: u16, body: &[u8]) -> SyncError {
    let parsed = serde_json::from_slice::<ErrorBody>(body).ok();
    let code = parsed.as_ref().and_then(|b| b.code.clone());
    let message = || {
        parsed
            .as_ref()
            .map_or_else(|| error_message(body), |b| shown(&b.error))
    };
    match (status, code.as_deref()) {
        (401, _) => SyncError::UnknownDevice(message()),
        (403, Some(CODE_LEAD_ONLY)) => SyncError::LeadOnly(message()),
        (403, _) => SyncError::Revoked,
        (410, Some(CODE_ERASED)) => SyncError::Erased(parsed.map(|b| b.erased).unwrap_or_default()),
        _ => SyncError::Refused {
            status,
            message: message(),
        },
    }
}

fn error_message(body: &[u8]) -> String {
    serde_json::from_slice::<ErrorBody>(body).map_or_else(
        |_| shown(&String::from_utf8_lossy(&body[..body.len().min(200)])),
        |b| shown(&b.error),
    )
}

/// Whether the part of a relay's address after its scheme starts with a host a connection can
/// be asked of (a name, an address, `[an IPv6 address]`) and, if it gives one, a port from 1 to
/// 65535: a mistyped address is said to be one, not taken for a relay out of reach.
fn host_and_port_ok(rest: &str) -> bool {
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '@')
    {
        return false;
    }
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((address, "")) => (address, None),
            Some((address, after)) => match after.strip_prefix(':') {
                Some(port) => (address, Some(port)),
                None => return false,
            },
            None => return false,
        },
        None => match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    !host.is_empty() && port.is_none_or(|p| p.parse::<u16>().is_ok_and(|p| p > 0))
}

/// Most characters of a relay's own words shown to the user.
const MOST_SHOWN: usize = 1000;

/// A relay's words as they may be shown on a screen or a terminal: control characters (which
/// could clear a terminal or colour a forged instruction) become spaces, and a message longer
/// than [`MOST_SHOWN`] characters is cut short.
fn shown(text: &str) -> String {
    let mut out: String = text
        .chars()
        .take(MOST_SHOWN)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.chars().nth(MOST_SHOWN).is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_relays_words_are_shown_without_control_characters_and_cut_short() {
        let forged = format!(
            "{{\"error\":\"\\u001b[2J\\u001b[31mtype your passphrase here\\r\\n{}\"}}",
            "x".repeat(5000)
        );
        let SyncError::Refused { status, message } = refusal(409, forged.as_bytes()) else {
            panic!("a refusal");
        };
        assert_eq!(status, 409);
        assert!(!message.chars().any(char::is_control), "{message:?}");
        assert!(
            message.starts_with(" [2J [31mtype your passphrase here"),
            "{message:?}"
        );
        assert_eq!(message.chars().count(), MOST_SHOWN + 1);
        assert!(message.ends_with('…'));
        // A body that is not the relay's JSON: its first 200 bytes, cleaned too.
        let html = error_message(b"<html>\x1b]0;owned\x07</html>");
        assert_eq!(html, "<html> ]0;owned </html>");
    }

    /// A wire on which every request gets `status` with `body`.
    struct Answering(u16, &'static [u8]);

    impl Wire for Answering {
        async fn exchange(&self, _: &Exchange) -> Result<Answer, NoAnswer> {
            Ok(Answer {
                status: self.0,
                body: self.1.to_vec(),
                wire_bytes: self.1.len() as u64,
                news: News::default(),
            })
        }
        async fn pause(&self, _: Duration) {}
    }

    /// An enrolment with `relay`, which must fail.
    fn enrol_with<W: Wire>(relay: &Relay<W>) -> SyncError {
        let request = EnrolRequest {
            invite: "abcd-efgh".into(),
            device_name: "Phone".into(),
            actor: None,
            sealing: true,
            token: None,
            holds_secret: None,
        };
        crate::sync::block_on(relay.enrol("https://relay.example.org", &request))
            .expect_err("refused")
    }

    fn enrol_at(status: u16, body: &'static [u8]) -> SyncError {
        enrol_with(&Relay::over(Answering(status, body), 1, Duration::ZERO))
    }

    #[test]
    fn a_mistyped_relay_address_is_said_to_be_one() {
        for good in [
            "https://relay.example.org",
            "https://relay.example.org/",
            "http://127.0.0.1:8080",
            "https://example.org:443/relay",
            "http://[::1]:8080",
            "http://[::1]",
        ] {
            assert!(Relay::<TooLarge>::url(good, "/v1/sync").is_ok(), "{good}");
        }
        for bad in [
            "https://127.0.0.1:99999",
            "https://127.0.0.1:0",
            "http://[::1",
            "http://[::1]x",
            "https://relay.example.org:port",
            "https://relay example.org",
            "https://user@relay.example.org",
            "https://:8080/abcdef",
            "ftp://relay.example.org",
            "relay.example.org",
        ] {
            assert!(
                matches!(
                    Relay::<TooLarge>::url(bad, "/v1/sync"),
                    Err(SyncError::BadUrl(_))
                ),
                "{bad}"
            );
        }
    }

    /// A wire whose every answer is too large to read; counts the requests.
    struct TooLarge(std::sync::atomic::AtomicUsize);

    impl Wire for TooLarge {
        async fn exchange(&self, _: &Exchange) -> Result<Answer, NoAnswer> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Err(NoAnswer::Unreadable("too large".into()))
        }
        async fn pause(&self, _: Duration) {}
    }

    #[test]
    fn an_answer_too_large_to_read_is_a_bad_answer_not_asked_again() {
        let relay = Relay::over(TooLarge(Default::default()), 4, Duration::ZERO);
        let err = enrol_with(&relay);
        assert!(
            matches!(&err, SyncError::BadAnswer(m) if m == "too large"),
            "{err}"
        );
        assert!(!err.is_offline(), "a hostile relay is not a bad connection");
        assert_eq!(relay.wire.0.load(Ordering::SeqCst), 1, "asked once");
    }

    #[test]
    fn a_web_server_that_is_no_relay_is_not_said_to_refuse_the_invite() {
        let err = enrol_at(404, b"<html><body>404 Not Found</body></html>");
        assert!(matches!(err, SyncError::BadAnswer(_)), "{err}");
        assert!(err.to_string().contains("is the address right"), "{err}");
        // The relay's own refusal still is one.
        let err = enrol_at(404, br#"{"error":"unknown invite code"}"#);
        assert!(
            matches!(&err, SyncError::InviteRefused(m) if m == "unknown invite code"),
            "{err}"
        );
    }
}
