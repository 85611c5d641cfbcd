//! The accept loop and per-connection limits: how many connections the relay holds open, and how
//! long a connection may take to send its request or sit idle.
//!
//! `axum::serve` has no timeouts and no connection cap, so a few hundred connections that send
//! half a request and stall exhaust the process's file descriptors. This module serves the same
//! router with hyper's HTTP/1 connection builder and adds:
//!
//! - **A connection cap** (`max_connections`, a semaphore). When every slot is taken, the relay
//!   closes the connection that has been *waiting longest without a request in progress* (idle
//!   keep-alive, or still sending its request head) to make room, and waits briefly
//!   ([`EVICTION_WAIT`]) for that slot. If every connection is in the middle of a request, the
//!   newcomer gets a `503` with `Retry-After` and is closed at once. Connections the relay has
//!   not accepted wait in the kernel's listen backlog and hold none of its descriptors.
//! - **A header read timeout** (hyper's `header_read_timeout`; hyper starts it whenever it waits
//!   for a request head, including on a kept-alive connection) and, as a backstop, the same limit
//!   enforced here on any connection that has sent bytes without completing a request.
//! - **An idle limit** (`idle_timeout`): a connection that has sent nothing since its last answer
//!   went out (or since it was accepted) for this long is closed. An answer still going out
//!   keeps the connection from idling while its bytes move, however slowly the client takes them
//!   (its writes, and on Linux the kernel's send queue going down by 4 KiB or more within the
//!   limit: `SendQueue`); once they stop moving (a client that stops reading, or takes a few
//!   bytes now and then), the same limit closes it.
//! - **A budget for request bodies in flight** ([`BodyBudget`], `max_inflight_body_bytes`): a
//!   request reserves what its head declares, and never more than its route reads
//!   ([`crate::limits::largest_body_of`]); it waits up to [`BODY_BUDGET_WAIT`] for room, then
//!   gets a `503`.
//! - **A body read deadline** (`body_read_timeout`): every request body is wrapped in
//!   [`crate::body::DeadlineBody`], so reading it fails after the deadline and the handler answers
//!   408.
//! - **A lingering close** (`linger`): a connection answered before its request's body was read
//!   (413, 401, the budget's 503) reads and throws away what the client still sends, for a
//!   moment, before it closes, so that the kernel does not reset the connection under the
//!   client's upload and destroy the answer with it.
//!
//! Each accepted connection is registered with its state (in a request or not, since when, bytes
//! seen) so the watchdog in its task and the eviction in the accept loop can decide.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};
use tower::ServiceExt;

use crate::body::DeadlineBody;

/// How long the accept loop waits for an evicted connection's slot before refusing a newcomer.
pub const EVICTION_WAIT: Duration = Duration::from_millis(250);
/// Pause after a failed `accept` (e.g. out of file descriptors) before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);
/// What a connection above the cap is told before it is closed.
const BUSY_MESSAGE: &str =
    "the relay is at its connection limit; your device will retry, or try again in a minute";

/// Default request body limit: 8 MiB.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 8 * 1024 * 1024;
/// Default cap on open connections (lowered to fit under the process's file descriptor limit).
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;
/// Default time allowed to receive a request head, in seconds.
pub const DEFAULT_HEADER_READ_TIMEOUT: u64 = 10;
/// Default time allowed to receive a request body, in seconds.
pub const DEFAULT_BODY_READ_TIMEOUT: u64 = 60;
/// Default time an idle kept-alive connection stays open, in seconds.
pub const DEFAULT_IDLE_TIMEOUT: u64 = 5;
/// Default budget for request bodies held at once: 256 MiB.
pub const DEFAULT_MAX_INFLIGHT_BODY_BYTES: u64 = 256 << 20;

/// The raw HTTP answer to a connection above the cap (it is closed right after).
fn busy_answer() -> Vec<u8> {
    let body = format!("{{\"error\":\"{BUSY_MESSAGE}\"}}");
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         retry-after: 5\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Connection limits; see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Most connections held open at once.
    pub max_connections: usize,
    /// Longest time to receive a request head.
    pub header_read_timeout: Duration,
    /// Longest time to receive a request body, from the end of its head.
    pub body_read_timeout: Duration,
    /// Longest silence between requests on a kept-alive connection.
    pub idle_timeout: Duration,
    /// Most request body bytes held at once, over all connections (see [`BodyBudget`]).
    pub max_inflight_body_bytes: u64,
    /// Largest request body (the most one request reserves from the budget).
    pub max_body_bytes: u64,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            header_read_timeout: Duration::from_secs(DEFAULT_HEADER_READ_TIMEOUT),
            body_read_timeout: Duration::from_secs(DEFAULT_BODY_READ_TIMEOUT),
            idle_timeout: Duration::from_secs(DEFAULT_IDLE_TIMEOUT),
            max_inflight_body_bytes: DEFAULT_MAX_INFLIGHT_BODY_BYTES,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }
}

/// Largest read buffer of a connection, which bounds the size of a request head.
pub const READ_BUFFER_BYTES: usize = 64 * 1024;

/// How long a request waits for room in the body budget before it is answered 503.
pub const BODY_BUDGET_WAIT: Duration = Duration::from_secs(5);

/// The memory budget for request bodies, in KiB permits: a request with a body reserves its
/// `Content-Length` (with a `Content-Encoding`, what that length may inflate to,
/// [`body_size_to_reserve`]), or the most its route reads when that is less or when it sends
/// no length ([`crate::limits::largest_body_of`]), capped at `max_body_bytes`, before the relay
/// reads it, and holds it until its answer is produced. Without it, connections each
/// sending a large body could make the relay hold `max_connections` × `max_body_bytes`.
#[derive(Debug)]
pub struct BodyBudget {
    permits: Arc<Semaphore>,
    total_kib: u64,
    max_body_kib: u64,
}

impl BodyBudget {
    /// A budget of `total` bytes for bodies of at most `max_body` bytes.
    pub fn new(total: u64, max_body: u64) -> Self {
        let total_kib = total.div_ceil(1024).clamp(1, Semaphore::MAX_PERMITS as u64);
        Self {
            permits: Arc::new(Semaphore::new(
                usize::try_from(total_kib).unwrap_or(Semaphore::MAX_PERMITS),
            )),
            total_kib,
            max_body_kib: max_body.div_ceil(1024).max(1),
        }
    }

    /// KiB a request declaring `declared` bytes (or none) reserves.
    pub fn reservation(&self, declared: Option<u64>) -> u32 {
        let kib = declared.map_or(self.max_body_kib, |b| b.div_ceil(1024).max(1));
        u32::try_from(kib.min(self.max_body_kib).min(self.total_kib)).unwrap_or(u32::MAX)
    }

    /// Waits up to [`BODY_BUDGET_WAIT`] for room for a body declaring `declared` bytes.
    async fn reserve(&self, declared: Option<u64>) -> Option<OwnedSemaphorePermit> {
        let want = self.reservation(declared);
        tokio::time::timeout(
            BODY_BUDGET_WAIT,
            Arc::clone(&self.permits).acquire_many_owned(want),
        )
        .await
        .ok()?
        .ok()
    }
}

/// The size a request's body may take in memory, for `BodyBudget::reserve`: its
/// `Content-Length`; with a `Content-Encoding`, what that many compressed bytes may inflate to
/// ([`crate::body::inflated_bound`], which [`crate::body::decode_content`] holds it to), so that
/// a few KiB of gzip cannot reserve a few KiB and inflate to the largest body; `None` (unknown:
/// the largest body) without a length.
pub fn body_size_to_reserve(headers: &axum::http::HeaderMap) -> Option<u64> {
    let length = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())?;
    if headers.contains_key(axum::http::header::CONTENT_ENCODING) {
        Some(crate::body::inflated_bound(length))
    } else {
        Some(length)
    }
}

/// 503 for a request that found no room in the body budget.
fn budget_exhausted() -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        [(axum::http::header::RETRY_AFTER, "5")],
        crate::error::ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "the relay is receiving too much data at once; your device will retry, or try again \
             in a minute",
        ),
    )
        .into_response()
}

/// The soft limit on open file descriptors of this process, if the system tells it.
pub fn fd_soft_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit only writes into the struct we pass it.
        let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
        if rc == 0 && limit.rlim_cur != libc::RLIM_INFINITY {
            return Some(limit.rlim_cur);
        }
        None
    }
    #[cfg(not(unix))]
    None
}

/// Descriptors kept free for the database, the log and the listener itself.
pub const RESERVED_FDS: u64 = 64;

/// `wanted`, lowered if needed so that the connections fit under the descriptor limit `fds`.
pub fn fit_under_fd_limit(wanted: usize, fds: Option<u64>) -> usize {
    match fds {
        Some(fds) => {
            let room = usize::try_from(fds.saturating_sub(RESERVED_FDS)).unwrap_or(usize::MAX);
            wanted.min(room).max(1)
        }
        None => wanted.max(1),
    }
}

/// Milliseconds since the listener started (a cheap monotonic clock for atomics).
fn millis_since(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// What the accept loop and the watchdog know about one connection.
#[derive(Debug)]
struct ConnState {
    /// Inside a request (its head arrived, its answer is not produced yet).
    busy: AtomicBool,
    /// When it last left a request, or was accepted (ms since the epoch).
    free_since: AtomicU64,
    /// Whether bytes arrived since then.
    saw_bytes: AtomicBool,
    /// Told to close at once (evicted).
    kill: Notify,
    /// Already told, so not a candidate again while it closes.
    evicted: AtomicBool,
    /// Its last answer went out before its request's body was read (413, 401, …): the client
    /// may still be sending it ([`linger`]).
    answered_early: AtomicBool,
}

impl ConnState {
    fn new(now: u64) -> Self {
        Self {
            busy: AtomicBool::new(false),
            free_since: AtomicU64::new(now),
            saw_bytes: AtomicBool::new(false),
            kill: Notify::new(),
            evicted: AtomicBool::new(false),
            answered_early: AtomicBool::new(false),
        }
    }
}

/// Marks a connection busy for the life of one request.
struct BusyGuard {
    state: Arc<ConnState>,
    epoch: Instant,
}

impl BusyGuard {
    fn new(state: Arc<ConnState>, epoch: Instant) -> Self {
        state.busy.store(true, Ordering::SeqCst);
        Self { state, epoch }
    }
}

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.state
            .free_since
            .store(millis_since(self.epoch), Ordering::SeqCst);
        self.state.saw_bytes.store(false, Ordering::SeqCst);
        self.state.busy.store(false, Ordering::SeqCst);
    }
}

/// A TCP stream that records when bytes arrive, and when an answer's bytes go out: a
/// connection whose answer is still going out is not idle while the client takes it, however
/// slowly (a phone pulling a page on a weak signal), only once nothing moves for the idle
/// limit (a client that stops reading).
struct Watched {
    stream: TcpStream,
    state: Arc<ConnState>,
    epoch: Instant,
}

impl Watched {
    fn wrote(&self, polled: &Poll<io::Result<usize>>) {
        if matches!(polled, Poll::Ready(Ok(n)) if *n > 0) {
            self.state
                .free_since
                .store(millis_since(self.epoch), Ordering::SeqCst);
        }
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.state.saw_bytes.store(true, Ordering::SeqCst);
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write(cx, buf);
        self.wrote(&polled);
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        self.wrote(&polled);
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// How much of an answer waiting in the kernel a client must take within the idle limit for
/// the connection not to count as idle: 4 KiB in 5 s (the default limit) is under 7 kbit/s,
/// far below a weak mobile signal, and far above a client reading a few bytes at a time to hold
/// the connection.
const MIN_DRAIN: u64 = 4 << 10;

/// The bytes of a connection's answers that the kernel holds and the client has not yet taken
/// (Linux's `SIOCOUTQ`). Once the kernel's send buffer is full (several megabytes on a fast
/// link), a write of the rest of an answer waits until much of it has drained, which at a
/// weak signal's rate takes longer than the idle limit: the writes alone would call a
/// connection idle while its client reads steadily. Its queue going down says the answer moves.
struct SendQueue {
    #[cfg(target_os = "linux")]
    fd: std::os::fd::RawFd,
    /// What it held at the last look.
    last: u64,
}

impl SendQueue {
    fn of(stream: &TcpStream) -> Self {
        SendQueue {
            #[cfg(target_os = "linux")]
            fd: std::os::fd::AsRawFd::as_raw_fd(stream),
            last: 0,
        }
    }

    /// Bytes waiting to go out, if the system says.
    #[cfg(target_os = "linux")]
    fn waiting(&self) -> Option<u64> {
        let mut n: libc::c_int = 0;
        // SAFETY: the descriptor is the connection's open socket (the stream outlives this
        // value: both belong to the connection's task), and TIOCOUTQ only writes an int into
        // the one we pass.
        let rc = unsafe { libc::ioctl(self.fd, libc::TIOCOUTQ, &mut n) };
        (rc == 0).then(|| u64::try_from(n).unwrap_or(0))
    }

    #[cfg(not(target_os = "linux"))]
    fn waiting(&self) -> Option<u64> {
        let _ = self;
        None
    }

    /// Whether bytes were waiting at the last look.
    fn holds_bytes(&self) -> bool {
        self.last > 0
    }

    /// Whether the queue moved since it last did: it went down by [`MIN_DRAIN`] or more (the
    /// client took that much), or up (more of an answer went in: the first look after an
    /// answer's last write is where its wait is counted from). A client taking a few bytes now
    /// and then (to hold the connection and its answer for ever) does not count.
    fn moved(&mut self) -> bool {
        let Some(now) = self.waiting() else {
            return false;
        };
        let moved =
            now > self.last || (now < self.last && self.last - now >= MIN_DRAIN.min(self.last));
        if moved {
            self.last = now;
        }
        moved
    }
}

/// The open connections, for eviction.
#[derive(Debug, Default)]
struct Registry {
    next_id: u64,
    open: HashMap<u64, Arc<ConnState>>,
}

impl Registry {
    /// Tells the connection that has waited longest without a request in progress to close.
    /// Returns whether there was one.
    fn evict_one(&self) -> bool {
        let victim = self
            .open
            .values()
            .filter(|c| !c.busy.load(Ordering::SeqCst) && !c.evicted.load(Ordering::SeqCst))
            .min_by_key(|c| c.free_since.load(Ordering::SeqCst));
        match victim {
            Some(conn) => {
                conn.evicted.store(true, Ordering::SeqCst);
                conn.kill.notify_one();
                true
            }
            None => false,
        }
    }
}

fn lock(registry: &Mutex<Registry>) -> std::sync::MutexGuard<'_, Registry> {
    registry
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Serves `app` on `listener` until `shutdown` changes, then lets open requests finish.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    mut shutdown: watch::Receiver<bool>,
) -> io::Result<()> {
    let epoch = Instant::now();
    let max = limits.max_connections.clamp(1, Semaphore::MAX_PERMITS);
    let slots = Arc::new(Semaphore::new(max));
    let registry = Arc::new(Mutex::new(Registry::default()));
    let (closing_tx, closing_rx) = watch::channel(false);
    let budget = Arc::new(BodyBudget::new(
        limits.max_inflight_body_bytes,
        limits.max_body_bytes,
    ));
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.changed() => break,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                // Out of descriptors or a connection reset before accept: wait, carry on.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let Some(permit) = take_slot(&slots, &registry).await else {
            tracing::warn!(%peer, max, "connection refused: every slot is in a request");
            let _ = stream.try_write(&busy_answer());
            drop(stream);
            continue;
        };
        let state = Arc::new(ConnState::new(millis_since(epoch)));
        let id = {
            let mut reg = lock(&registry);
            reg.next_id += 1;
            let id = reg.next_id;
            reg.open.insert(id, Arc::clone(&state));
            id
        };
        let conn = Connection {
            stream,
            peer,
            state,
            app: app.clone(),
            limits,
            epoch,
            closing: closing_rx.clone(),
            budget: Arc::clone(&budget),
        };
        let registry = Arc::clone(&registry);
        tokio::spawn(async move {
            conn.run().await;
            lock(&registry).open.remove(&id);
            drop(permit);
        });
    }
    drop(listener);
    let _ = closing_tx.send(true);
    // Every connection returns its slot when it ends.
    let all = u32::try_from(max).unwrap_or(u32::MAX);
    let _ = slots.acquire_many(all).await;
    Ok(())
}

/// A free slot, evicting a connection that is not in a request if every slot is taken.
async fn take_slot(
    slots: &Arc<Semaphore>,
    registry: &Arc<Mutex<Registry>>,
) -> Option<OwnedSemaphorePermit> {
    if let Ok(permit) = Arc::clone(slots).try_acquire_owned() {
        return Some(permit);
    }
    if !lock(registry).evict_one() {
        return None;
    }
    tokio::time::timeout(EVICTION_WAIT, Arc::clone(slots).acquire_owned())
        .await
        .ok()?
        .ok()
}

/// One accepted connection and what it needs to run.
struct Connection {
    stream: TcpStream,
    peer: SocketAddr,
    state: Arc<ConnState>,
    app: Router,
    limits: ConnectionLimits,
    epoch: Instant,
    closing: watch::Receiver<bool>,
    budget: Arc<BodyBudget>,
}

impl Connection {
    async fn run(self) {
        let Connection {
            stream,
            peer,
            state,
            app,
            limits,
            epoch,
            mut closing,
            budget,
        } = self;
        let _ = stream.set_nodelay(true);
        let mut queue = SendQueue::of(&stream);
        let io = TokioIo::new(Watched {
            stream,
            state: Arc::clone(&state),
            epoch,
        });
        let service_state = Arc::clone(&state);
        let body_timeout = limits.body_read_timeout;
        let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
            let guard = BusyGuard::new(Arc::clone(&service_state), epoch);
            let early = Arc::clone(&service_state);
            let app = app.clone();
            let budget = Arc::clone(&budget);
            async move {
                let _reserved = if http_body::Body::is_end_stream(req.body()) {
                    None
                } else {
                    let declared = body_size_to_reserve(req.headers());
                    let want = match crate::limits::largest_body_of(req.uri().path()) {
                        Some(most) => Some(declared.map_or(most, |d| d.min(most))),
                        None => declared,
                    };
                    match budget.reserve(want).await {
                        Some(permit) => Some(permit),
                        None => {
                            tracing::warn!(%peer, "request refused: no room in the body budget");
                            let mut refused = budget_exhausted();
                            refused.headers_mut().insert(
                                axum::http::header::CONNECTION,
                                axum::http::HeaderValue::from_static("close"),
                            );
                            // Its body unread, as any early answer: the connection lingers so
                            // that the client reads the 503 and its Retry-After, not a reset.
                            early.answered_early.store(true, Ordering::SeqCst);
                            return Ok(refused);
                        }
                    }
                };
                let finished = Arc::new(AtomicBool::new(false));
                let mut req = req.map(|incoming| {
                    Body::new(DeadlineBody::new(
                        incoming,
                        body_timeout,
                        Arc::clone(&finished),
                    ))
                });
                req.extensions_mut().insert(ConnectInfo(peer));
                let mut answer = app.oneshot(req).await;
                if let Ok(response) = &mut answer
                    && !finished.load(Ordering::SeqCst)
                {
                    // Answered without reading the whole body (413, 401, …): the rest is not
                    // worth reading, so say that the connection closes, lest the client send
                    // its next request on it.
                    response.headers_mut().insert(
                        axum::http::header::CONNECTION,
                        axum::http::HeaderValue::from_static("close"),
                    );
                    early.answered_early.store(true, Ordering::SeqCst);
                }
                drop(guard);
                answer
            }
        });
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout)
            // A connection's read buffer (and so the largest request head) stays at 64 KiB
            // instead of hyper's ~400 KiB: `max_connections` slow heads hold at most that each.
            .max_buf_size(READ_BUFFER_BYTES);
        // Boxed, not pinned in place: once it ends, its socket is taken back to linger.
        let mut conn = Box::pin(builder.serve_connection(io, service));
        let mut graceful = false;
        let check = tokio::time::sleep(limits.idle_timeout.min(limits.header_read_timeout));
        tokio::pin!(check);
        loop {
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    } else if state.answered_early.load(Ordering::SeqCst) && !graceful {
                        let stream = Pin::into_inner(conn).into_parts().io.into_inner().stream;
                        let most = usize::try_from(limits.max_body_bytes).unwrap_or(usize::MAX);
                        // Evicted or shut down meanwhile, it closes at once: a lingering
                        // connection holds its slot only while nobody else needs it.
                        tokio::select! {
                            () = linger(stream, most) => {}
                            () = state.kill.notified() => {}
                            _ = closing.changed() => {}
                        }
                    }
                    return;
                }
                () = state.kill.notified() => {
                    tracing::debug!(%peer, "connection closed to make room for a new one");
                    return;
                }
                changed = closing.changed(), if !graceful => {
                    if changed.is_err() || *closing.borrow() {
                        graceful = true;
                        conn.as_mut().graceful_shutdown();
                    }
                }
                () = check.as_mut() => {
                    if queue.moved() {
                        state.free_since.store(millis_since(epoch), Ordering::SeqCst);
                    }
                    match overdue(&state, &limits, millis_since(epoch)) {
                        Overdue::Close(why) => {
                            tracing::debug!(%peer, why, "connection closed");
                            return;
                        }
                        Overdue::CheckIn(wait) => {
                            // While an answer's bytes wait in the kernel, look more often: the
                            // queue going down between two looks is what keeps it open.
                            let wait = if queue.holds_bytes() {
                                wait.min(limits.idle_timeout / 4)
                            } else {
                                wait
                            };
                            check.as_mut().reset(tokio::time::Instant::now() + wait);
                        }
                    }
                }
            }
        }
    }
}

/// How long a connection answered before its request's body was read is kept reading after
/// its answer, at most ([`linger`]).
const LINGER: Duration = Duration::from_secs(2);
/// How long [`linger`] waits for the client's next bytes before it closes.
const LINGER_GAP: Duration = Duration::from_millis(1500);

/// A connection whose answer went out before its request's body was read (a 413 for a body
/// larger than the relay takes, a 401): its answer is sent and its side closed, but the client
/// may still be sending the body. Closing the socket with those bytes unread would have the
/// kernel reset the connection, and a reset can destroy the answer before the client reads
/// it (it sees "connection reset" instead of what to do). So the rest is read and thrown away
/// until the client stops (it closes, having read the answer, or sends nothing for
/// [`LINGER_GAP`]), for at most [`LINGER`] and twice `most` bytes (at least 1 MiB): a client
/// sending more than that gets the reset.
async fn linger(mut stream: TcpStream, most: usize) {
    use tokio::io::AsyncReadExt;
    let most = most.saturating_mul(2).max(1 << 20);
    let mut buf = vec![0u8; 64 * 1024];
    let mut read = 0usize;
    let _ = tokio::time::timeout(LINGER, async {
        while read < most {
            match tokio::time::timeout(LINGER_GAP, stream.read(&mut buf)).await {
                Ok(Ok(n)) if n > 0 => read += n,
                _ => return,
            }
        }
    })
    .await;
}

/// The watchdog's verdict.
#[derive(Debug, PartialEq, Eq)]
enum Overdue {
    /// Close now, for this reason.
    Close(&'static str),
    /// Look again after this long.
    CheckIn(Duration),
}

fn overdue(state: &ConnState, limits: &ConnectionLimits, now: u64) -> Overdue {
    if state.busy.load(Ordering::SeqCst) {
        // A request's body has its own deadline; look again later.
        return Overdue::CheckIn(limits.idle_timeout.min(limits.header_read_timeout));
    }
    let (limit, why) = if state.saw_bytes.load(Ordering::SeqCst) {
        (limits.header_read_timeout, "request head too slow")
    } else {
        (limits.idle_timeout, "idle")
    };
    let since = state.free_since.load(Ordering::SeqCst);
    let waited = Duration::from_millis(now.saturating_sub(since));
    match limit.checked_sub(waited) {
        Some(left) if !left.is_zero() => Overdue::CheckIn(left.min(limits.idle_timeout)),
        _ => Overdue::Close(why),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> ConnectionLimits {
        ConnectionLimits {
            max_connections: 10,
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(5),
            max_inflight_body_bytes: 1 << 20,
            max_body_bytes: 1 << 20,
        }
    }

    #[test]
    fn idle_and_slow_heads_are_closed_in_time() {
        let state = ConnState::new(1_000);
        assert_eq!(
            overdue(&state, &limits(), 3_000),
            Overdue::CheckIn(Duration::from_secs(3))
        );
        assert_eq!(overdue(&state, &limits(), 6_000), Overdue::Close("idle"));
        state.saw_bytes.store(true, Ordering::SeqCst);
        assert_eq!(
            overdue(&state, &limits(), 6_000),
            Overdue::CheckIn(Duration::from_secs(5))
        );
        assert_eq!(
            overdue(&state, &limits(), 11_000),
            Overdue::Close("request head too slow")
        );
        state.busy.store(true, Ordering::SeqCst);
        assert!(matches!(
            overdue(&state, &limits(), 60_000),
            Overdue::CheckIn(_)
        ));
    }

    #[test]
    fn bodies_reserve_their_declared_size_within_limits() {
        let budget = BodyBudget::new(64 << 20, 8 << 20);
        assert_eq!(budget.reservation(Some(100)), 1);
        assert_eq!(budget.reservation(Some(10 << 10)), 10);
        assert_eq!(
            budget.reservation(None),
            8 << 10,
            "unknown size: the largest body"
        );
        assert_eq!(budget.reservation(Some(1 << 40)), 8 << 10);
        let small = BodyBudget::new(4 << 10, 8 << 20);
        assert_eq!(
            small.reservation(None),
            4,
            "never more than the whole budget"
        );
    }

    #[test]
    fn compressed_bodies_reserve_what_they_may_inflate_to() {
        use axum::http::{HeaderMap, HeaderValue, header};
        let budget = BodyBudget::new(64 << 20, 8 << 20);
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("2048"));
        assert_eq!(body_size_to_reserve(&headers), Some(2048));
        assert_eq!(budget.reservation(body_size_to_reserve(&headers)), 2);
        for coding in ["gzip", "x-gzip", "identity", "br", ""] {
            let mut compressed = headers.clone();
            compressed.insert(
                header::CONTENT_ENCODING,
                HeaderValue::from_str(coding).expect("header value"),
            );
            assert_eq!(
                body_size_to_reserve(&compressed),
                Some(crate::body::inflated_bound(2048)),
                "{coding:?}"
            );
            assert_eq!(
                budget.reservation(body_size_to_reserve(&compressed)),
                2 * crate::body::MAX_INFLATION as u32,
                "{coding:?}: a gzip body reserves what it may inflate to"
            );
        }
        // A large compressed body reserves up to the largest body.
        let mut big = HeaderMap::new();
        big.insert(header::CONTENT_LENGTH, HeaderValue::from_static("1048576"));
        big.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        assert_eq!(budget.reservation(body_size_to_reserve(&big)), 8 << 10);
        assert_eq!(body_size_to_reserve(&HeaderMap::new()), None);
    }

    #[test]
    fn the_cap_fits_under_the_descriptor_limit() {
        assert_eq!(fit_under_fd_limit(512, Some(1_024)), 512);
        assert_eq!(fit_under_fd_limit(2_000, Some(1_024)), 960);
        assert_eq!(fit_under_fd_limit(2_000, None), 2_000);
        assert_eq!(fit_under_fd_limit(10, Some(10)), 1);
    }

    #[test]
    fn eviction_picks_the_longest_waiting_free_connection() {
        let mut reg = Registry::default();
        let old_busy = Arc::new(ConnState::new(0));
        old_busy.busy.store(true, Ordering::SeqCst);
        let old_free = Arc::new(ConnState::new(10));
        let new_free = Arc::new(ConnState::new(20));
        reg.open.insert(1, Arc::clone(&old_busy));
        reg.open.insert(2, Arc::clone(&old_free));
        reg.open.insert(3, Arc::clone(&new_free));
        assert!(reg.evict_one());
        // The notified connection's `notified()` completes at once; the others' would wait.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime");
        rt.block_on(async {
            tokio::time::timeout(Duration::from_millis(50), old_free.kill.notified())
                .await
                .expect("the oldest free connection was told to close");
            assert!(
                tokio::time::timeout(Duration::from_millis(20), new_free.kill.notified())
                    .await
                    .is_err()
            );
        });
        // The next eviction picks another connection, not the one already closing.
        assert!(reg.evict_one());
        assert!(new_free.evicted.load(Ordering::SeqCst));
        assert!(!reg.evict_one(), "only the busy one is left");
        let mut all_busy = Registry::default();
        all_busy.open.insert(1, old_busy);
        assert!(!all_busy.evict_one());
    }
}
