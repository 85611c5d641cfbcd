//! Per-client rate limits: enrolment attempts and failed authentications, keyed by the peer's IP
//! address (an IPv6 address by its /64, which one attacker usually holds whole).
//!
//! Each address has a token bucket: `burst` attempts at once, refilled at `per_minute`. When it
//! is empty the relay answers `429 Too Many Requests` with `Retry-After` (seconds until the next
//! attempt is allowed) and a JSON error. Successful authentications are never counted: a valid
//! token from an address that failed often still works.
//!
//! Behind a reverse proxy on the same machine every request comes from a loopback address. With
//! `trust_proxy_headers`, a request from a loopback address is counted under the last address
//! of its `X-Forwarded-For` header, the one the proxy added (Caddy does so by default; nginx
//! with `proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for`). Only turn it on behind
//! such a proxy: a client that can reach the relay directly from loopback could pick its address.
//!
//! Memory is bounded: at most [`MAX_TRACKED`] addresses per limiter. When the table is full,
//! buckets that have refilled completely (the same as never seen) are dropped; if that frees
//! nothing, the new address is refused as if its bucket were empty, until buckets refill.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// Most addresses one limiter remembers.
pub const MAX_TRACKED: usize = 100_000;

/// Default enrolment attempts per minute per client address.
pub const DEFAULT_ENROL_PER_MINUTE: u32 = 10;
/// Default enrolment attempts at once per client address.
pub const DEFAULT_ENROL_BURST: u32 = 30;
/// Default failed authentications per minute per client address.
pub const DEFAULT_FAILED_AUTH_PER_MINUTE: u32 = 30;
/// Default failed authentications at once per client address.
pub const DEFAULT_FAILED_AUTH_BURST: u32 = 60;

/// A rate: `burst` at once, `per_minute` sustained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Attempts refilled per minute.
    pub per_minute: u32,
    /// Attempts allowed at once.
    pub burst: u32,
}

/// The rates the relay enforces per client address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateSettings {
    /// Enrolment attempts (successful or not).
    pub enrol: Rate,
    /// Requests whose device token is missing or unknown (401).
    pub failed_auth: Rate,
    /// Count requests from loopback under their `X-Forwarded-For` address (behind a proxy).
    pub trust_proxy_headers: bool,
}

impl Default for RateSettings {
    fn default() -> Self {
        Self {
            enrol: Rate {
                per_minute: DEFAULT_ENROL_PER_MINUTE,
                burst: DEFAULT_ENROL_BURST,
            },
            failed_auth: Rate {
                per_minute: DEFAULT_FAILED_AUTH_PER_MINUTE,
                burst: DEFAULT_FAILED_AUTH_BURST,
            },
            trust_proxy_headers: false,
        }
    }
}

impl RateSettings {
    /// Limits too generous to matter: for tests and benchmarks that enrol many devices from
    /// 127.0.0.1 at once.
    pub fn unlimited() -> Self {
        let rate = Rate {
            per_minute: 1_000_000,
            burst: 1_000_000,
        };
        Self {
            enrol: rate,
            failed_auth: rate,
            trust_proxy_headers: false,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Token buckets per client address.
#[derive(Debug)]
pub struct Limiter {
    rate: Rate,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
    max_tracked: usize,
}

/// The address a client is counted under: IPv4 as is, IPv6 by its /64 prefix.
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut segments = v6.segments();
                segments[4..].fill(0);
                IpAddr::V6(segments.into())
            }
        },
    }
}

impl Limiter {
    /// A limiter at `rate`.
    pub fn new(rate: Rate) -> Self {
        Self::with_capacity(rate, MAX_TRACKED)
    }

    fn with_capacity(rate: Rate, max_tracked: usize) -> Self {
        Self {
            rate,
            buckets: Mutex::new(HashMap::new()),
            max_tracked,
        }
    }

    fn per_second(&self) -> f64 {
        f64::from(self.rate.per_minute.max(1)) / 60.0
    }

    fn refill(&self, bucket: &mut Bucket, now: Instant) {
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens =
            (bucket.tokens + elapsed * self.per_second()).min(f64::from(self.rate.burst));
        bucket.at = now;
    }

    /// Takes one attempt for `ip` at `now`: `Ok` if allowed, or the wait until the next one is.
    pub fn take(&self, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        let key = client_key(ip);
        let burst = f64::from(self.rate.burst.max(1));
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !buckets.contains_key(&key) && buckets.len() >= self.max_tracked {
            // Forget addresses whose buckets are full again: they are as good as unseen.
            buckets.retain(|_, b| {
                let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
                b.tokens + elapsed * self.per_second() < burst
            });
            if buckets.len() >= self.max_tracked {
                return Err(Duration::from_secs(60));
            }
        }
        let bucket = buckets.entry(key).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        self.refill(bucket, now);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - bucket.tokens) / self.per_second();
            Err(Duration::from_secs_f64(wait))
        }
    }

    /// How many addresses are tracked (for tests).
    pub fn tracked(&self) -> usize {
        self.buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }
}

/// The relay's limiters.
#[derive(Debug)]
pub struct RateLimits {
    /// Enrolment attempts.
    pub enrol: Limiter,
    /// Failed authentications.
    pub failed_auth: Limiter,
    /// Whether to believe `X-Forwarded-For` on requests from loopback.
    pub trust_proxy_headers: bool,
}

impl RateLimits {
    /// Limiters at `settings`.
    pub fn new(settings: RateSettings) -> Self {
        Self {
            enrol: Limiter::new(settings.enrol),
            failed_auth: Limiter::new(settings.failed_auth),
            trust_proxy_headers: settings.trust_proxy_headers,
        }
    }
}

/// 429 with `Retry-After` in whole seconds (at least 1).
pub fn too_many(wait: Duration, message: &str) -> Response {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let secs = secs.max(1);
    (
        [(header::RETRY_AFTER, secs.to_string())],
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!("{message}; try again in {secs} seconds"),
        ),
    )
        .into_response()
}

/// The last address of the last `X-Forwarded-For` header: the one the nearest proxy added.
pub fn forwarded_for(headers: &HeaderMap) -> Option<IpAddr> {
    let value = headers.get_all("x-forwarded-for").iter().next_back()?;
    let last = value.to_str().ok()?.rsplit(',').next()?.trim();
    last.parse::<IpAddr>()
        .ok()
        .or_else(|| last.parse::<SocketAddr>().ok().map(|a| a.ip()))
}

/// The address a request is counted under.
fn client_ip(req: &Request, trust_proxy_headers: bool) -> Option<IpAddr> {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())?;
    if trust_proxy_headers
        && peer.is_loopback()
        && let Some(forwarded) = forwarded_for(req.headers())
    {
        return Some(forwarded);
    }
    Some(peer)
}

/// Middleware of `POST /v1/enrol`: every attempt takes one from the address's bucket.
pub async fn limit_enrolment(
    State(limits): State<std::sync::Arc<RateLimits>>,
    req: Request,
    next: Next,
) -> Response {
    if let Some(ip) = client_ip(&req, limits.trust_proxy_headers)
        && let Err(wait) = limits.enrol.take(ip, Instant::now())
    {
        tracing::warn!(%ip, "enrolment attempts over the limit");
        return too_many(
            wait,
            "too many enrolment attempts from this network; check the invite code with your \
             team lead before trying again",
        );
    }
    next.run(req).await
}

/// Middleware of authenticated routes: a 401 takes one from the address's bucket, and once it
/// is empty further 401s become 429. Successful requests are never counted or refused.
pub async fn limit_failed_auth(
    State(limits): State<std::sync::Arc<RateLimits>>,
    req: Request,
    next: Next,
) -> Response {
    let ip = client_ip(&req, limits.trust_proxy_headers);
    let response = next.run(req).await;
    if response.status() != StatusCode::UNAUTHORIZED {
        return response;
    }
    match ip.map(|ip| (ip, limits.failed_auth.take(ip, Instant::now()))) {
        Some((ip, Err(wait))) => {
            tracing::warn!(%ip, "failed authentications over the limit");
            too_many(
                wait,
                "too many requests with a missing or unknown device token from this network; \
                 enrol this device again with an invite from your team lead",
            )
        }
        _ => response,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn a_bucket_allows_its_burst_then_refills() {
        let limiter = Limiter::new(Rate {
            per_minute: 60,
            burst: 3,
        });
        let t0 = Instant::now();
        for _ in 0..3 {
            limiter.take(ip("10.0.0.1"), t0).expect("within the burst");
        }
        let wait = limiter.take(ip("10.0.0.1"), t0).expect_err("over");
        assert!(wait <= Duration::from_secs(1) && wait > Duration::ZERO);
        limiter
            .take(ip("10.0.0.2"), t0)
            .expect("another address has its own bucket");
        limiter
            .take(ip("10.0.0.1"), t0 + Duration::from_millis(1_100))
            .expect("refilled after a second");
    }

    #[test]
    fn ipv6_addresses_share_their_64() {
        assert_eq!(
            client_key(ip("2001:db8:1:2:aaaa::1")),
            client_key(ip("2001:db8:1:2:bbbb::9"))
        );
        assert_ne!(
            client_key(ip("2001:db8:1:2::1")),
            client_key(ip("2001:db8:1:3::1"))
        );
        assert_eq!(client_key(ip("::ffff:10.0.0.1")), ip("10.0.0.1"));
    }

    #[test]
    fn the_proxy_added_address_is_the_last_one() {
        let mut h = HeaderMap::new();
        assert_eq!(forwarded_for(&h), None);
        h.append(
            "x-forwarded-for",
            "198.51.100.7, 203.0.113.9".parse().expect("value"),
        );
        assert_eq!(forwarded_for(&h), Some(ip("203.0.113.9")));
        h.append("x-forwarded-for", "2001:db8::1".parse().expect("value"));
        assert_eq!(forwarded_for(&h), Some(ip("2001:db8::1")));
        h.insert("x-forwarded-for", "not an address".parse().expect("value"));
        assert_eq!(forwarded_for(&h), None);
    }

    #[test]
    fn memory_is_bounded() {
        let limiter = Limiter::with_capacity(
            Rate {
                per_minute: 60,
                burst: 1,
            },
            2,
        );
        let t0 = Instant::now();
        limiter.take(ip("10.0.0.1"), t0).expect("first");
        limiter.take(ip("10.0.0.2"), t0).expect("second");
        assert!(limiter.take(ip("10.0.0.3"), t0).is_err(), "table full");
        assert_eq!(limiter.tracked(), 2);
        // Once the old buckets have refilled they are forgotten and make room.
        let later = t0 + Duration::from_secs(2);
        limiter.take(ip("10.0.0.3"), later).expect("room again");
        assert_eq!(limiter.tracked(), 1);
    }
}
