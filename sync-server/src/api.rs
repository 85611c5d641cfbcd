//! The HTTP routes: health, enrolment and sync, plus JSON errors for everything else.
//!
//! | route | body in | body out |
//! | --- | --- | --- |
//! | `GET /healthz` | none | `{"status":"ok"}` |
//! | `POST /v1/enrol` | JSON `EnrolRequest` | JSON `EnrolResponse` |
//! | `POST /v1/sync` | binary `SyncRequest` | binary `SyncResponse` |
//! | `GET /v1/devices` | none | JSON array of `TeamDevice` |
//! | `POST /v1/doc-changes` | JSON `DocChangesRequest` | binary `SyncResponse` (one document) |
//!
//! Every change served names the device that pushed it (its declared actor id and name), so
//! devices can refuse a change written under another device's actor.
//!
//! Unknown routes answer 404 and wrong methods 405, both with a JSON error body. Requests pass
//! the guards of [`crate::limits`] (content types, push checks) and [`crate::ratelimit`]
//! (enrolment attempts, failed authentications) on the way. The CPU work of
//! a sync (decompression, decoding, hashing, encoding, compression) and its transaction run on
//! tokio's blocking pool, so slow requests never stall the accept loop.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::{self, Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use groundwork_protocol::{
    DEVICES_PATH, DOC_CHANGES_PATH, DocChangesRequest, ENROL_PATH, EnrolRequest, EnrolResponse,
    HEALTH_PATH, JSON_CONTENT_TYPE, MAX_ACTOR_LEN, MAX_DOC_ID_LEN, PulledChange, Pusher,
    SYNC_CONTENT_TYPE, SYNC_PATH, SyncRequest, SyncResponse, TeamDevice, decode_sync_request,
    encode_sync_response,
};

use crate::app::{AppDir, is_api_path};
use crate::body::{accepts_gzip, decode_content, read_limited, respond};
use crate::error::ApiError;
use crate::limits::{
    MAX_ENROL_BODY_BYTES, WriteTurns, check_device_name, check_push, require_content_type,
    sync_in_turns,
};
use crate::listener::ConnectionLimits;
use crate::ratelimit::{RateLimits, RateSettings, limit_enrolment, limit_failed_auth};
use crate::secrets::{hash_invite, hash_token, new_token};
use crate::store::{NewBlob, NewDevice, Store, StoredBlob, SyncPage, now};

/// Limits the relay enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest request body, compressed or not (413 above it).
    pub max_body_bytes: usize,
    /// Largest page of pulled changes (blob and doc id bytes; at least one change is sent).
    pub max_page_bytes: u64,
    /// Most changes in one push (413 above it).
    pub max_changes_per_request: usize,
    /// Connection cap and timeouts.
    pub connections: ConnectionLimits,
    /// Rate limits per client address.
    pub rates: RateSettings,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: usize::try_from(crate::config::DEFAULT_MAX_BODY_BYTES)
                .unwrap_or(usize::MAX),
            max_page_bytes: crate::config::DEFAULT_MAX_PAGE_BYTES,
            max_changes_per_request: crate::config::DEFAULT_MAX_CHANGES_PER_REQUEST,
            connections: ConnectionLimits::default(),
            rates: RateSettings::default(),
        }
    }
}

/// Shared state of the HTTP handlers.
#[derive(Clone)]
pub struct AppState {
    /// The storage.
    pub store: Arc<dyn Store>,
    /// The limits.
    pub limits: Limits,
    /// Per-address rate limiters.
    pub rate_limits: Arc<RateLimits>,
    /// Turns for pushes, so that teams do not wait long on each other's writes.
    pub turns: Arc<WriteTurns>,
    /// The web app served at `/` (`serve --app DIR`), if any.
    pub app: Option<Arc<AppDir>>,
}

impl AppState {
    /// The state for `store` and `limits`, with fresh rate limiters.
    pub fn new(store: Arc<dyn Store>, limits: Limits) -> Self {
        Self {
            store,
            limits,
            rate_limits: Arc::new(RateLimits::new(limits.rates)),
            turns: Arc::default(),
            app: None,
        }
    }

    /// The same state, also serving the web app in `app` at `/`.
    #[must_use]
    pub fn with_app(mut self, app: Option<AppDir>) -> Self {
        self.app = app.map(Arc::new);
        self
    }
}

/// The relay's routes.
pub fn router(state: AppState) -> Router {
    let rates = Arc::clone(&state.rate_limits);
    Router::new()
        .route(HEALTH_PATH, get(health))
        .route(
            ENROL_PATH,
            post(enrol).route_layer(from_fn_with_state(Arc::clone(&rates), limit_enrolment)),
        )
        .route(
            SYNC_PATH,
            post(sync).route_layer(from_fn_with_state(Arc::clone(&rates), limit_failed_auth)),
        )
        .route(
            DEVICES_PATH,
            get(devices).route_layer(from_fn_with_state(Arc::clone(&rates), limit_failed_auth)),
        )
        .route(
            DOC_CHANGES_PATH,
            post(doc_changes).route_layer(from_fn_with_state(rates, limit_failed_auth)),
        )
        .fallback(app_or_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(require_content_type))
        .layer(middleware::from_fn(log_request))
        .with_state(state)
}

async fn health() -> Response {
    (
        [(header::CONTENT_TYPE, JSON_CONTENT_TYPE)],
        "{\"status\":\"ok\"}",
    )
        .into_response()
}

/// Unrouted requests: the web app's files and shell for `GET`/`HEAD` of a non-API path when
/// the relay serves an app, the JSON 404 otherwise.
async fn app_or_not_found(State(state): State<AppState>, req: Request) -> Response {
    let method = req.method();
    let path = req.uri().path();
    match &state.app {
        Some(app) if (method == Method::GET || method == Method::HEAD) && !is_api_path(path) => {
            app.answer(method, path, req.headers()).await
        }
        _ => not_found().await.into_response(),
    }
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no such endpoint: the relay serves GET /healthz, POST /v1/enrol, POST /v1/sync, \
         GET /v1/devices and POST /v1/doc-changes; check the relay address configured in the app",
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "wrong method for this endpoint: use GET /healthz, POST /v1/enrol or POST /v1/sync",
    )
}

async fn log_request(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let started = Instant::now();
    let response = next.run(req).await;
    let status = response.status().as_u16();
    let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    if status >= 500 {
        tracing::error!(%method, %path, status, micros, "request");
    } else {
        tracing::debug!(%method, %path, status, micros, "request");
    }
    response
}

/// Runs `f` on the blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        tracing::error!(error = %e, "blocking task failed");
        ApiError::internal()
    })?
}

async fn enrol(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let limit = state.limits.max_body_bytes.min(MAX_ENROL_BODY_BYTES);
    let raw = read_limited(body, &headers, limit).await?;
    let plain = decode_content(&headers, raw, limit)?;
    let req: EnrolRequest = serde_json::from_slice(&plain).map_err(|e| {
        ApiError::bad_request(format!(
            "enrolment body must be JSON {{\"invite\": \"<code>\", \"device_name\": \"<name>\"}}: {e}"
        ))
    })?;
    let device_name = req.device_name.trim().to_owned();
    check_device_name(&device_name)?;
    let token = new_token().map_err(|e| {
        tracing::error!(error = %e, "no randomness for a token");
        ApiError::internal()
    })?;
    let actor = match req.actor.as_deref() {
        None => None,
        Some(hex) => Some(parse_actor(hex).ok_or_else(|| {
            ApiError::bad_request(format!(
                "actor must be 2 to {} hexadecimal characters (the notebook's device id)",
                MAX_ACTOR_LEN * 2
            ))
        })?),
    };
    let device = NewDevice {
        invite_hash: hash_invite(&req.invite),
        device_id: uuid::Uuid::new_v4().to_string(),
        name: device_name,
        token_hash: hash_token(&token),
        actor,
    };
    let device_id = device.device_id.clone();
    let store = Arc::clone(&state.store);
    let team_id = blocking(move || Ok(store.enrol(&device, now())?)).await?;
    tracing::info!(%team_id, %device_id, "device enrolled");
    let answer = EnrolResponse {
        team_id,
        device_id,
        token,
    };
    let json = serde_json::to_vec(&answer).map_err(|_| ApiError::internal())?;
    Ok(respond(JSON_CONTENT_TYPE, json, false))
}

/// The caller's team's devices with their last sync, for the team lead's reports.
async fn devices(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let device = crate::auth::authenticate(&state.store, &headers).await?;
    let store = Arc::clone(&state.store);
    let list = blocking(move || Ok(store.list_devices(&device.team_id)?)).await?;
    let body: Vec<TeamDevice> = list
        .into_iter()
        .map(|d| TeamDevice {
            device_id: d.device_id,
            name: d.name,
            last_sync_at: d.last_sync_at,
            revoked: d.revoked_at.is_some(),
            actor: d.actor.as_deref().map(to_hex),
        })
        .collect();
    let json = serde_json::to_vec(&body).map_err(|e| {
        tracing::error!(error = %e, "cannot encode the device list");
        ApiError::internal()
    })?;
    Ok(([(header::CONTENT_TYPE, JSON_CONTENT_TYPE)], json).into_response())
}

async fn sync(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let device = crate::auth::authenticate(&state.store, &headers).await?;
    let limits = state.limits;
    let raw = read_limited(body, &headers, limits.max_body_bytes).await?;
    let gzip_ok = accepts_gzip(&headers);
    let store = Arc::clone(&state.store);
    let turns = Arc::clone(&state.turns);
    blocking(move || {
        let plain = decode_content(&headers, raw, limits.max_body_bytes)?;
        let req = decode_sync_request(&plain)
            .map_err(|e| ApiError::bad_request(format!("malformed sync body: {e}")))?;
        check_push(&req.push, limits.max_changes_per_request)?;
        // Decoding computed every id from its blob and checked it against the id check sent.
        let blobs: Vec<NewBlob<'_>> = req
            .push
            .iter()
            .map(|item| NewBlob {
                id: item.id,
                doc_id: &item.doc_id,
                blob: &item.blob,
            })
            .collect();
        if !req.push.is_empty() && req.actor.is_empty() {
            return Err(ApiError::bad_request(
                "a push must declare the actor id its changes carry: update the app",
            ));
        }
        let max_bytes = req
            .max_bytes
            .unwrap_or(limits.max_page_bytes)
            .min(limits.max_page_bytes);
        let page = sync_in_turns(
            &*store,
            &turns,
            &device,
            &req.actor,
            req.since,
            &blobs,
            max_bytes,
            now(),
        )?;
        tracing::debug!(
            team_id = %device.team_id,
            device_id = %device.device_id,
            since = req.since,
            pushed = req.push.len(),
            inserted = page.inserted,
            pulled = page.changes.len(),
            cursor = page.cursor,
            more = page.more,
            "sync"
        );
        let accepted = req.push.iter().map(|p| p.id).collect();
        answer(&req, accepted, page, gzip_ok)
    })
    .await
}

/// One document's changes again, every device's, for a device repairing it.
async fn doc_changes(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let device = crate::auth::authenticate(&state.store, &headers).await?;
    let limits = state.limits;
    let raw = read_limited(body, &headers, limits.max_body_bytes).await?;
    let gzip_ok = accepts_gzip(&headers);
    let store = Arc::clone(&state.store);
    blocking(move || {
        let plain = decode_content(&headers, raw, limits.max_body_bytes)?;
        let req: DocChangesRequest = serde_json::from_slice(&plain).map_err(|e| {
            ApiError::bad_request(format!(
                "body must be JSON {{\"doc_id\": \"<id>\", \"after\": 0}}: {e}"
            ))
        })?;
        if req.doc_id.is_empty() || req.doc_id.len() > MAX_DOC_ID_LEN {
            return Err(ApiError::bad_request(format!(
                "doc_id must be 1 to {MAX_DOC_ID_LEN} bytes"
            )));
        }
        let max_bytes = req
            .max_bytes
            .unwrap_or(limits.max_page_bytes)
            .min(limits.max_page_bytes);
        let page = store.doc_changes(&device, &req.doc_id, req.after, max_bytes)?;
        let request = SyncRequest {
            since: req.after,
            ..SyncRequest::default()
        };
        answer(&request, Vec::new(), page, gzip_ok)
    })
    .await
}

/// Encodes a page as the answer to `req`, with the table of the devices that pushed it.
fn answer(
    req: &SyncRequest,
    accepted: Vec<groundwork_protocol::BlobId>,
    page: SyncPage,
    gzip_ok: bool,
) -> Result<Response, ApiError> {
    let mut pushers: Vec<Pusher> = Vec::new();
    let changes = page
        .changes
        .into_iter()
        .map(|c: StoredBlob| {
            let pusher = match pushers
                .iter()
                .position(|p| p.actor == c.pusher_actor && p.name == c.pusher_name)
            {
                Some(i) => i,
                None => {
                    pushers.push(Pusher {
                        actor: c.pusher_actor,
                        name: c.pusher_name,
                    });
                    pushers.len() - 1
                }
            };
            PulledChange {
                seq: c.seq,
                id: c.id,
                doc_id: c.doc_id,
                pusher,
                blob: c.blob,
            }
        })
        .collect();
    let answer = SyncResponse {
        accepted,
        pushers,
        changes,
        cursor: page.cursor,
        more: page.more,
    };
    let bytes = encode_sync_response(&answer, req).map_err(|e| {
        tracing::error!(error = %e, "could not encode a sync answer");
        ApiError::internal()
    })?;
    Ok(respond(SYNC_CONTENT_TYPE, bytes, gzip_ok))
}

/// An actor id given as hex: 1 to [`MAX_ACTOR_LEN`] bytes.
fn parse_actor(hex: &str) -> Option<Vec<u8>> {
    let hex = hex.trim();
    if hex.is_empty() || !hex.len().is_multiple_of(2) || hex.len() > MAX_ACTOR_LEN * 2 {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| {
            hex.get(i..i + 2)
                .and_then(|b| u8::from_str_radix(b, 16).ok())
        })
        .collect()
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
