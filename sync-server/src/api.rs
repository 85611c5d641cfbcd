//! The HTTP routes: health, enrolment and sync, the lead's actions, erasure orders and
//! compaction, plus JSON errors for everything else.
//!
//! | route | who | body in | body out |
//! | --- | --- | --- | --- |
//! | `GET /healthz` | anyone | none | `{"status":"ok"}` |
//! | `POST /v1/enrol` | anyone with an invite | JSON `EnrolRequest` | JSON `EnrolResponse` |
//! | `POST /v1/sync` | any device | binary `SyncRequest` | binary `SyncResponse` |
//! | `POST /v1/doc-changes` | any device | JSON `DocChangesRequest` | binary `SyncResponse` (one document) |
//! | `GET /v1/devices` | lead | none | JSON array of `TeamDevice` |
//! | `POST /v1/invites` | lead | JSON `InviteRequest` | JSON `InviteResponse` |
//! | `POST /v1/invites/keys` | lead | JSON `InviteKeysPart` | JSON `InviteKeysPartAnswer` |
//! | `POST /v1/invites/from-parts` | lead | JSON `InviteRequest` naming parts | JSON `InviteResponse` |
//! | `GET /v1/invites` | lead | none | JSON array of `OpenInvite` |
//! | `POST /v1/invites/cancel` | lead | JSON `CancelInvite` | JSON `InviteCancelled` |
//! | `POST /v1/devices/revoke` | lead | JSON `DeviceAction` | JSON `TeamDevice` |
//! | `POST /v1/devices/promote` | lead | JSON `DeviceAction` | JSON `TeamDevice` |
//! | `POST /v1/erase` | lead | JSON `EraseRequest` | JSON `Erasure` |
//! | `GET /v1/erasures?after=N` | any device | none | JSON `ErasureList` |
//! | `POST /v1/erasures/confirm` | any device | JSON `ConfirmErasures` | JSON `ErasureList` (`head` only) |
//! | `POST /v1/compact` | lead | JSON `CompactRequest` (at most 4 MiB) | JSON `CompactResponse` |
//!
//! End-to-end encryption: a lead's invite may carry the team's keys sealed by the lead's device
//! (`sealed_keys`, base64url text the relay cannot open, checked by
//! [`crate::limits::check_sealed_keys`]); enrolment hands them to the device and says whether
//! the team is sealed. An invite without keys into a sealed team answers 409 `needs_key` and is
//! not used up. See [`Store::enrol`] for the order of the decision. An enrolment carrying a
//! token the device chose (`EnrolRequest::token`) may be asked again with the same invite and
//! token until the device first uses the token: the same answer, and no use of the invite taken
//! (an answer lost on a weak signal costs nothing).
//!
//! Every change served names the device that pushed it (its declared actor id and name), so
//! devices can refuse a change written under another device's actor.
//!
//! Every answer to an authenticated device, errors included, carries its role
//! (`x-groundwork-role: lead|canvasser`) and the team's last erasure order
//! (`x-groundwork-erasures: N`); a sync or doc-changes answer reads the latter in the
//! transaction that read its page. A canvasser asking for a lead's action gets 403 with the code
//! `lead_only`; a push or a doc-changes request naming an erased document gets 410 with the code
//! `erased` and the erased documents (nothing of that push is stored).
//!
//! Compaction: a lead names snapshots it pushed and the blobs each stands for; the store places
//! them ([`Store::compact`]), and from then on a sync serves a covered blob only to the devices
//! that still need it, and every placed snapshot flagged as one (`PulledChange::snapshot`). A
//! doc-changes request serves every stored blob of its document, covered or not.
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
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use groundwork_protocol::team::{
    INVITE_KEY_PART_SECS, InviteKeysPart, InviteKeysPartAnswer, MAX_ERASURES_PER_PAGE,
    MAX_INVITE_KEY_PARTS, MAX_INVITE_SECS, MAX_INVITE_USES,
};
use groundwork_protocol::{CANCEL_INVITE_PATH, CancelInvite, InviteCancelled, OpenInvite};
use groundwork_protocol::{
    COMPACT_PATH, CONFIRM_ERASURES_PATH, CompactRequest, ConfirmErasures, DEVICES_PATH,
    DOC_CHANGES_PATH, DeviceAction, DocChangesRequest, ENROL_PATH, ERASE_PATH, ERASURES_HEADER,
    ERASURES_PATH, EnrolRequest, EnrolResponse, EraseRequest, ErasureList, HEALTH_PATH,
    INVITE_FROM_PARTS_PATH, INVITE_KEYS_PATH, INVITES_PATH, InviteRequest, InviteResponse,
    JSON_CONTENT_TYPE, MAX_ACTOR_LEN, PROMOTE_PATH, PulledChange, Pusher, REVOKE_PATH, ROLE_HEADER,
    Role, SYNC_CONTENT_TYPE, SYNC_PATH, SyncRequest, SyncResponse, TOKEN_PREFIX, TeamDevice,
    decode_sync_request, encode_sync_response, valid_token,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::app::{AppDir, is_api_path};
use crate::auth::authenticate;
use crate::body::{accepts_gzip, decode_content, read_limited, respond};
use crate::error::ApiError;
use crate::limits::{
    check_compact, check_device_id, check_device_name, check_doc_id, check_push, check_sealed_keys,
    device_name_of, require_content_type, sync_in_parts,
};
use crate::listener::ConnectionLimits;
use crate::ratelimit::{RateLimits, RateSettings, limit_enrolment, limit_failed_auth};
use crate::secrets::{hash_invite, hash_token, new_token};
use crate::store::{
    DeviceAuth, DeviceInfo, InviteMade, InvitesOf, NewBlob, NewDevice, Store, StoreError,
    StoredBlob, SyncPage, now,
};

/// The routes, for the 404 and 405 answers.
const ROUTES: &str = "GET /healthz, POST /v1/enrol, POST /v1/sync, POST /v1/doc-changes, \
                      GET /v1/devices, GET and POST /v1/invites, POST /v1/invites/keys, \
                      POST /v1/invites/from-parts, POST /v1/invites/cancel, \
                      POST /v1/devices/revoke, \
                      POST /v1/devices/promote, POST /v1/erase, GET /v1/erasures, \
                      POST /v1/erasures/confirm and POST /v1/compact";

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
    /// The web app served at `/` (`serve --app DIR`), if any.
    pub app: Option<Arc<AppDir>>,
    /// The memory enrolment answers carrying large sealed keys may take at once, in KiB
    /// permits ([`ANSWER_KEYS_BUDGET`]).
    pub answer_keys: Arc<tokio::sync::Semaphore>,
}

/// The most memory enrolment answers carrying more than [`LARGE_ANSWER_KEYS`] of sealed keys
/// take at once, across every client: 256 MiB, four answers of the longest keys (an answer
/// reserves twice its keys: the keys and their JSON). A team past some 30,000 erasures hands
/// each joining device tens of MiB; without a bound, devices joining at once, or a client
/// reading answers slowly, could hold any amount.
pub const ANSWER_KEYS_BUDGET: usize = 256 * 1024 * 1024;

/// Sealed keys longer than this reserve from [`ANSWER_KEYS_BUDGET`] (1 MiB; shorter ones, most
/// teams', do not wait).
pub const LARGE_ANSWER_KEYS: usize = 1024 * 1024;

/// How long an enrolment answer waits for room in [`ANSWER_KEYS_BUDGET`] before a 503.
const ANSWER_KEYS_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

impl AppState {
    /// The state for `store` and `limits`, with fresh rate limiters.
    pub fn new(store: Arc<dyn Store>, limits: Limits) -> Self {
        Self {
            store,
            limits,
            rate_limits: Arc::new(RateLimits::new(limits.rates)),
            app: None,
            answer_keys: Arc::new(tokio::sync::Semaphore::new(ANSWER_KEYS_BUDGET / 1024)),
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
    let failed_auth = || from_fn_with_state(Arc::clone(&rates), limit_failed_auth);
    Router::new()
        .route(HEALTH_PATH, get(health))
        .route(
            ENROL_PATH,
            post(enrol).route_layer(from_fn_with_state(Arc::clone(&rates), limit_enrolment)),
        )
        .route(SYNC_PATH, post(sync).route_layer(failed_auth()))
        .route(DEVICES_PATH, get(devices).route_layer(failed_auth()))
        .route(
            DOC_CHANGES_PATH,
            post(doc_changes).route_layer(failed_auth()),
        )
        .route(
            INVITES_PATH,
            post(|State(s): State<AppState>, h: HeaderMap, b: Body| invite(s, h, b, INVITES_PATH))
                .get(open_invites)
                .route_layer(failed_auth()),
        )
        .route(
            CANCEL_INVITE_PATH,
            post(cancel_invite).route_layer(failed_auth()),
        )
        .route(
            INVITE_KEYS_PATH,
            post(invite_keys).route_layer(failed_auth()),
        )
        .route(
            INVITE_FROM_PARTS_PATH,
            post(|State(s): State<AppState>, h: HeaderMap, b: Body| {
                invite(s, h, b, INVITE_FROM_PARTS_PATH)
            })
            .route_layer(failed_auth()),
        )
        .route(REVOKE_PATH, post(revoke).route_layer(failed_auth()))
        .route(PROMOTE_PATH, post(promote).route_layer(failed_auth()))
        .route(ERASE_PATH, post(erase).route_layer(failed_auth()))
        .route(ERASURES_PATH, get(erasures).route_layer(failed_auth()))
        .route(
            CONFIRM_ERASURES_PATH,
            post(confirm_erasures).route_layer(failed_auth()),
        )
        .route(COMPACT_PATH, post(compact).route_layer(failed_auth()))
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
        format!(
            "no such endpoint: the relay serves {ROUTES}; check the relay address configured in \
             the app"
        ),
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("wrong method for this endpoint: the relay serves {ROUTES}"),
    )
}

async fn log_request(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let started = Instant::now();
    let response = next.run(req).await;
    let status = response.status().as_u16();
    let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    if status == 507 || status == 503 {
        // A team or device at its storage quota, or a relay busy for a moment: what the
        // relay is set to do, not a failure of its own.
        tracing::warn!(%method, %path, status, micros, "request");
    } else if status >= 500 {
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
    let limit = body_limit(&state.limits, ENROL_PATH);
    let raw = read_limited(body, &headers, limit).await?;
    let plain = decode_content(&headers, raw, limit)?;
    let req: EnrolRequest = serde_json::from_slice(&plain).map_err(|e| {
        ApiError::bad_request(format!(
            "enrolment body must be JSON {{\"invite\": \"<code>\", \"device_name\": \"<name>\"}}: {e}"
        ))
    })?;
    let device_name = device_name_of(&req.device_name);
    check_device_name(&device_name)?;
    // A device that chose its token may ask again with it (its answer may have been lost).
    let chosen_token = req.token.is_some();
    let token = match req.token {
        Some(token) if valid_token(&token) => token,
        Some(_) => {
            return Err(ApiError::bad_request(format!(
                "token must be {TOKEN_PREFIX} and 64 lowercase hexadecimal digits (32 random \
                 bytes), or left out for the relay to choose one"
            )));
        }
        None => new_token().map_err(|e| {
            tracing::error!(error = %e, "no randomness for a token");
            ApiError::internal()
        })?,
    };
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
        sealing: req.sealing,
        chosen_token,
        lacks_secret: req.holds_secret == Some(false),
    };
    let store = Arc::clone(&state.store);
    let enrolled = blocking(move || Ok(store.enrol(&device, now())?)).await?;
    let (team_id, device_id) = (enrolled.team_id, enrolled.device_id);
    if enrolled.again {
        tracing::info!(%team_id, %device_id, "enrolment asked again and answered again");
    } else {
        tracing::info!(
            %team_id,
            %device_id,
            role = enrolled.role.as_str(),
            sealed = enrolled.sealed,
            makes_key = enrolled.sealed && enrolled.sealed_keys.is_none(),
            "device enrolled"
        );
    }
    let keys_len = enrolled.sealed_keys.as_ref().map_or(0, String::len);
    let held = if keys_len > LARGE_ANSWER_KEYS {
        Some(reserve_answer(&state, keys_len).await?)
    } else {
        None
    };
    let answer = EnrolResponse {
        team_id,
        device_id,
        token,
        role: enrolled.role,
        sealed: enrolled.sealed,
        sealed_keys: enrolled.sealed_keys,
    };
    let json = serde_json::to_vec(&answer).map_err(|_| ApiError::internal())?;
    drop(answer);
    if held.is_none() {
        return Ok(respond(JSON_CONTENT_TYPE, json, false));
    }
    // Random keys do not compress: sent as they are, holding their reservation until sent.
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(JSON_CONTENT_TYPE),
    );
    Ok((
        StatusCode::OK,
        headers,
        Body::new(crate::body::HeldBody::new(json, held)),
    )
        .into_response())
}

/// Room in [`ANSWER_KEYS_BUDGET`] for an enrolment answer carrying `keys_len` bytes of sealed
/// keys (twice that: the keys and their JSON), or a 503 once [`ANSWER_KEYS_WAIT`] has passed. The
/// enrolment is stored by then: a device that chose its token asks again and is answered again.
async fn reserve_answer(
    state: &AppState,
    keys_len: usize,
) -> Result<tokio::sync::OwnedSemaphorePermit, ApiError> {
    let kib = keys_len.saturating_mul(2).div_ceil(1024);
    let kib = u32::try_from(kib.min(ANSWER_KEYS_BUDGET / 1024)).unwrap_or(u32::MAX);
    match tokio::time::timeout(
        ANSWER_KEYS_WAIT,
        Arc::clone(&state.answer_keys).acquire_many_owned(kib),
    )
    .await
    {
        Ok(Ok(permit)) => Ok(permit),
        _ => {
            tracing::warn!(keys_len, "no room for an enrolment answer's keys: 503");
            Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the relay is handing this team's keys to other devices joining now: try again \
                 in a minute (you are enrolled: asked again with the same token, the relay \
                 answers the same enrolment)",
            ))
        }
    }
}

/// The answer to an authenticated device, with its role and the team's erasure head (unless
/// the answer set a fresher head itself).
fn to_device(device: &DeviceAuth, result: Result<Response, ApiError>) -> Response {
    let mut response = result.unwrap_or_else(IntoResponse::into_response);
    let headers = response.headers_mut();
    headers.insert(ROLE_HEADER, HeaderValue::from_static(device.role.as_str()));
    if !headers.contains_key(ERASURES_HEADER) {
        headers.insert(ERASURES_HEADER, HeaderValue::from(device.erasure_head));
    }
    response
}

/// Sets the erasure head an answer carries.
fn with_erasure_head(mut response: Response, head: u64) -> Response {
    response
        .headers_mut()
        .insert(ERASURES_HEADER, HeaderValue::from(head));
    response
}

/// 403 `lead_only` unless `device` is a lead; `what` is the action ("invite devices").
fn require_lead(device: &DeviceAuth, what: &str) -> Result<(), ApiError> {
    match device.role {
        Role::Lead => Ok(()),
        Role::Canvasser => Err(ApiError::lead_only(what)),
    }
}

/// The most the route at `path` reads: its own bound ([`crate::limits::largest_body_of`],
/// the one place each route's bound is written, which the listener reserves too) within the
/// relay's `max_body_bytes`.
fn body_limit(limits: &Limits, path: &str) -> usize {
    crate::limits::largest_body_of(path).map_or(limits.max_body_bytes, |bound| {
        limits
            .max_body_bytes
            .min(usize::try_from(bound).unwrap_or(usize::MAX))
    })
}

/// The JSON request body of the route at `path` (at most [`body_limit`]); `shape` shows what
/// is expected.
async fn read_json<T: DeserializeOwned>(
    body: Body,
    headers: &HeaderMap,
    limits: &Limits,
    path: &str,
    shape: &str,
) -> Result<T, ApiError> {
    let limit = body_limit(limits, path);
    let raw = read_limited(body, headers, limit).await?;
    let plain = decode_content(headers, raw, limit)?;
    serde_json::from_slice(&plain)
        .map_err(|e| ApiError::bad_request(format!("body must be JSON {shape}: {e}")))
}

/// A `200` JSON answer.
fn json<T: Serialize>(value: &T) -> Result<Response, ApiError> {
    let bytes = serde_json::to_vec(value).map_err(|e| {
        tracing::error!(error = %e, "cannot encode a JSON answer");
        ApiError::internal()
    })?;
    Ok(([(header::CONTENT_TYPE, JSON_CONTENT_TYPE)], bytes).into_response())
}

fn team_device(d: DeviceInfo) -> TeamDevice {
    TeamDevice {
        device_id: d.device_id,
        name: d.name,
        last_sync_at: d.last_sync_at,
        revoked: d.revoked_at.is_some(),
        actor: d.actor.as_deref().map(to_hex),
        role: d.role,
        enrolled_at: d.enrolled_at,
        stored_bytes: d.stored_bytes,
    }
}

/// The caller's team's devices with their last sync and role, for the team lead (reports,
/// managing the team).
async fn devices(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let device = authenticate(&state.store, &headers).await?;
    let result = async {
        require_lead(&device, "see the team's devices")?;
        let store = Arc::clone(&state.store);
        let team_id = device.team_id.clone();
        let list = blocking(move || Ok(store.list_devices(&team_id)?)).await?;
        json(&list.into_iter().map(team_device).collect::<Vec<_>>())
    }
    .await;
    Ok(to_device(&device, result))
}

/// A lead creates an invite to its team: at [`INVITES_PATH`] with its keys (if any) in the
/// request, at [`INVITE_FROM_PARTS_PATH`] naming the parts of its keys it left first (`path`).
async fn invite(
    state: AppState,
    headers: HeaderMap,
    body: Body,
    path: &'static str,
) -> Result<Response, ApiError> {
    let device = authenticate(&state.store, &headers).await?;
    let result = async {
        require_lead(&device, "invite devices")?;
        let req: InviteRequest = read_json(
            body,
            &headers,
            &state.limits,
            path,
            r#"{"uses": 1, "expires_in_secs": 604800, "role": "canvasser" or "lead", "sealed_keys": "<base64url>" (optional), "key_parts": ["<id>", …] (optional), "request": "<32 hex digits>" (optional)}"#,
        )
        .await?;
        check_key_parts(&req, path)?;
        if !(1..=MAX_INVITE_USES).contains(&req.uses) {
            return Err(ApiError::bad_request(format!(
                "uses must be 1 to {MAX_INVITE_USES}: how many devices may join with the invite \
                 (this request asked for {})",
                req.uses
            )));
        }
        if !(60..=MAX_INVITE_SECS).contains(&req.expires_in_secs) {
            return Err(ApiError::bad_request(format!(
                "expires_in_secs must be 60 to {MAX_INVITE_SECS} (one minute to 30 days; this \
                 request asked for {})",
                req.expires_in_secs
            )));
        }
        if let Some(keys) = &req.sealed_keys {
            check_sealed_keys(keys)?;
        }
        if let Some(id) = &req.request
            && !groundwork_protocol::valid_invite_request(id)
        {
            return Err(ApiError::bad_request(
                "request must be 32 lowercase hexadecimal digits (16 random bytes the device \
                 chose for this invite), or left out",
            ));
        }
        let now = now();
        let (code, mut invite) = match &req.request {
            Some(id) => crate::ops::invite_of_code(
                crate::secrets::requested_invite(&device.team_id, &device.device_id, id),
                req.uses,
                req.expires_in_secs,
                req.role,
                now,
            ),
            None => crate::ops::prepare_invite(req.uses, req.expires_in_secs, req.role, now)
                .map_err(|e| {
                    tracing::error!(error = %e, "no randomness for an invite");
                    ApiError::internal()
                })?,
        };
        let sealed = req.sealed_keys.is_some();
        let parts = req.key_parts.len();
        invite.sealed_keys = req.sealed_keys;
        invite.key_parts = req.key_parts;
        let mut answer = InviteResponse {
            id: groundwork_protocol::invite_id_of_hash(&invite.code_hash),
            code,
            role: invite.role,
            uses: invite.uses,
            expires_at: invite.expires_at,
        };
        let store = Arc::clone(&state.store);
        let lead = device.clone();
        let made = blocking(move || Ok(store.lead_invite(&lead, &invite, now)?)).await?;
        let again = match made {
            InviteMade::New => false,
            InviteMade::Again {
                role,
                uses_left,
                expires_at,
            } => {
                answer.role = role;
                answer.uses = uses_left;
                answer.expires_at = expires_at;
                true
            }
        };
        tracing::info!(
            team_id = %device.team_id,
            device_id = %device.device_id,
            role = answer.role.as_str(),
            uses = answer.uses,
            sealed,
            parts,
            again,
            "{}",
            if again {
                "a lead asked again for an invite it made"
            } else {
                "a lead created an invite"
            }
        );
        json(&answer)
    }
    .await;
    Ok(to_device(&device, result))
}

/// The team's open invites, for a lead to see and cancel.
async fn open_invites(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let device = authenticate(&state.store, &headers).await?;
    let result = async {
        require_lead(&device, "see the team's invites")?;
        let store = Arc::clone(&state.store);
        let lead = device.clone();
        let list = blocking(move || Ok(store.open_invites(InvitesOf::Lead(&lead), now())?)).await?;
        json(
            &list
                .into_iter()
                .map(|i| OpenInvite {
                    id: groundwork_protocol::invite_id_of_hash(&i.id),
                    role: i.role,
                    uses_left: u32::try_from(i.uses_left.max(0)).unwrap_or(u32::MAX),
                    created_at: i.created_at,
                    expires_at: i.expires_at,
                    made_by: i.made_by,
                    carries_keys: i.carries_keys,
                })
                .collect::<Vec<_>>(),
        )
    }
    .await;
    Ok(to_device(&device, result))
}

/// A lead cancels one of the team's invites (a link sent to the wrong people, or never used).
async fn cancel_invite(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let device = authenticate(&state.store, &headers).await?;
    let result = async {
        require_lead(&device, "cancel the team's invites")?;
        let req: CancelInvite = read_json(
            body,
            &headers,
            &state.limits,
            CANCEL_INVITE_PATH,
            r#"{"id": "<the invite's id: 16 lowercase hexadecimal digits>"}"#,
        )
        .await?;
        let id = parse_invite_id(&req.id)?;
        let store = Arc::clone(&state.store);
        let lead = device.clone();
        let done =
            blocking(move || Ok(store.cancel_invite(InvitesOf::Lead(&lead), id, now())?)).await?;
        tracing::info!(
            team_id = %device.team_id,
            device_id = %device.device_id,
            invite = %req.id,
            cancelled = done.was_open,
            joining = done.joining,
            "a lead cancelled an invite"
        );
        json(&InviteCancelled {
            id: req.id,
            cancelled: done.was_open,
            joining: done.joining,
        })
    }
    .await;
    Ok(to_device(&device, result))
}

/// The 8 bytes an invite's id spells, or 400 for an id not spelled as the relay lists them.
fn parse_invite_id(id: &str) -> Result<[u8; 8], ApiError> {
    groundwork_protocol::invite_id_bytes(id).ok_or_else(|| {
        ApiError::bad_request(format!(
            "an invite's id is {} lowercase hexadecimal digits, as the team's invite list shows \
             it (GET {INVITES_PATH})",
            groundwork_protocol::INVITE_ID_LEN
        ))
    })
}

/// Refuses an invite's [`InviteRequest::key_parts`] that are too many, not spelled as the
/// relay makes their ids, or not followed by keys of the request's own; and an invite that
/// names parts sent to [`INVITES_PATH`], or one that names none sent to
/// [`INVITE_FROM_PARTS_PATH`] (`path`, where the request came).
fn check_key_parts(req: &InviteRequest, path: &str) -> Result<(), ApiError> {
    if path == INVITE_FROM_PARTS_PATH && req.key_parts.is_empty() {
        return Err(ApiError::bad_request(format!(
            "{INVITE_FROM_PARTS_PATH} is for an invite whose keys were left in parts, and \
             key_parts is empty: send an invite without parts to {INVITES_PATH}"
        )));
    }
    if req.key_parts.is_empty() {
        return Ok(());
    }
    if path != INVITE_FROM_PARTS_PATH {
        return Err(ApiError::bad_request(format!(
            "an invite naming key_parts goes to {INVITE_FROM_PARTS_PATH}, which a relay from \
             before parts does not have (it would make an invite holding only part of the keys)"
        )));
    }
    if req.key_parts.len() > MAX_INVITE_KEY_PARTS {
        return Err(ApiError::bad_request(format!(
            "key_parts names {} parts; an invite's keys come in at most {} parts and its own \
             sealed_keys",
            req.key_parts.len(),
            MAX_INVITE_KEY_PARTS
        )));
    }
    if let Some(bad) = req
        .key_parts
        .iter()
        .find(|p| !crate::secrets::is_key_part_id(p))
    {
        return Err(ApiError::bad_request(format!(
            "key_parts must hold the ids the relay answered {INVITE_KEYS_PATH} with (32 \
             lowercase hex digits); {:?} is not one",
            bad.chars().take(40).collect::<String>()
        )));
    }
    if req.sealed_keys.is_none() {
        return Err(ApiError::bad_request(
            "key_parts come before the invite's last part of its keys, in sealed_keys, which is \
             missing",
        ));
    }
    Ok(())
}

/// A lead leaves one part of an invite's keys, too long for one request, before the invite.
async fn invite_keys(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let device = authenticate(&state.store, &headers).await?;
    let result = async {
        require_lead(&device, "invite devices")?;
        let req: InviteKeysPart = read_json(
            body,
            &headers,
            &state.limits,
            INVITE_KEYS_PATH,
            r#"{"sealed_keys": "<base64url>", "first": true or false (optional), "request": "<32 hex digits>" (optional)}"#,
        )
        .await?;
        check_sealed_keys(&req.sealed_keys)?;
        let part = match &req.request {
            Some(id) if !groundwork_protocol::valid_invite_request(id) => {
                return Err(ApiError::bad_request(
                    "request must be 32 lowercase hexadecimal digits (16 random bytes the \
                     device chose for this part), or left out",
                ));
            }
            Some(id) => crate::secrets::requested_key_part(&device.team_id, &device.device_id, id),
            None => crate::secrets::new_key_part_id().map_err(|e| {
                tracing::error!(error = %e, "no randomness for a part of an invite's keys");
                ApiError::internal()
            })?,
        };
        let now = now();
        let first = req.first;
        let store = Arc::clone(&state.store);
        let lead = device.clone();
        let id = part.clone();
        let (kept_at, again) = blocking(move || {
            Ok(store.keep_invite_keys(&lead, &id, &req.sealed_keys, first, now)?)
        })
        .await?;
        tracing::info!(
            team_id = %device.team_id,
            device_id = %device.device_id,
            again,
            "a lead left a part of an invite's keys"
        );
        json(&InviteKeysPartAnswer {
            part,
            expires_at: kept_at.saturating_add(INVITE_KEY_PART_SECS),
        })
    }
    .await;
    Ok(to_device(&device, result))
}

/// What a lead does to one device of its team, in one store transaction.
type DeviceChange = fn(&dyn Store, &DeviceAuth, &str, i64) -> Result<DeviceInfo, StoreError>;

/// A lead revokes a device of its team (the invites that device made are cancelled with it).
async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let change: DeviceChange = |store, lead, id, now| store.revoke_team_device(lead, id, now);
    on_device(
        state,
        headers,
        REVOKE_PATH,
        body,
        "remove devices from the team",
        "revoked",
        change,
    )
    .await
}

/// A lead makes a device of its team a lead.
async fn promote(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let change: DeviceChange = |store, lead, id, _| store.promote_team_device(lead, id);
    on_device(
        state,
        headers,
        PROMOTE_PATH,
        body,
        "make a device a lead",
        "promoted",
        change,
    )
    .await
}

/// A lead's `change` to the device a JSON `DeviceAction` names (the body of the route at
/// `path`); `what` words the refusal to a canvasser, `done` the log line.
async fn on_device(
    state: AppState,
    headers: HeaderMap,
    path: &'static str,
    body: Body,
    what: &'static str,
    done: &'static str,
    change: DeviceChange,
) -> Result<Response, ApiError> {
    let device = authenticate(&state.store, &headers).await?;
    let result = async {
        require_lead(&device, what)?;
        let req: DeviceAction = read_json(
            body,
            &headers,
            &state.limits,
            path,
            r#"{"device_id": "<id>"}"#,
        )
        .await?;
        check_device_id(&req.device_id)?;
        let store = Arc::clone(&state.store);
        let lead = device.clone();
        let changed =
            blocking(move || Ok(change(store.as_ref(), &lead, &req.device_id, now())?)).await?;
        tracing::info!(
            team_id = %device.team_id,
            device_id = %device.device_id,
            target = %changed.device_id,
            change = done,
            "a lead changed a device"
        );
        json(&team_device(changed))
    }
    .await;
    Ok(to_device(&device, result))
}

/// A lead erases a document from its team.
async fn erase(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let device = authenticate(&state.store, &headers).await?;
    let result = async {
        require_lead(&device, "erase a person from the team")?;
        let req: EraseRequest = read_json(
            body,
            &headers,
            &state.limits,
            ERASE_PATH,
            r#"{"doc_id": "<id>"}"#,
        )
        .await?;
        check_doc_id(&req.doc_id)?;
        if let Some(proof) = &req.proof {
            crate::limits::check_erase_proof(proof)?;
        }
        let store = Arc::clone(&state.store);
        let lead = device.clone();
        let erasure =
            blocking(move || Ok(store.erase(&lead, &req.doc_id, req.proof.as_deref(), now())?))
                .await?;
        let head = erasure.seq.max(device.erasure_head);
        Ok(with_erasure_head(json(&erasure)?, head))
    }
    .await;
    Ok(to_device(&device, result))
}

/// The number after `after=` in a query (0 without one).
fn after_param(query: Option<&str>) -> Result<u64, ApiError> {
    let Some(value) = query
        .unwrap_or_default()
        .split('&')
        .find_map(|pair| pair.strip_prefix("after="))
    else {
        return Ok(0);
    };
    value.parse().map_err(|_| {
        ApiError::bad_request(
            "after must be a whole number: the last erasure order this device carried out (0 \
             for none)",
        )
    })
}

/// The team's erasure orders after `?after=N`.
async fn erasures(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    let device = authenticate(&state.store, &headers).await?;
    let result = async {
        let after = after_param(uri.query())?;
        let store = Arc::clone(&state.store);
        let caller = device.clone();
        let list =
            blocking(move || Ok(store.erasures(&caller, after, MAX_ERASURES_PER_PAGE)?)).await?;
        Ok(with_erasure_head(json(&list)?, list.head))
    }
    .await;
    Ok(to_device(&device, result))
}

/// The caller has carried out the erasure orders up to `up_to`.
async fn confirm_erasures(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let device = authenticate(&state.store, &headers).await?;
    let result = async {
        let req: ConfirmErasures = read_json(
            body,
            &headers,
            &state.limits,
            CONFIRM_ERASURES_PATH,
            r#"{"up_to": <order number>}"#,
        )
        .await?;
        let store = Arc::clone(&state.store);
        let caller = device.clone();
        let head = blocking(move || Ok(store.confirm_erasures(&caller, req.up_to)?)).await?;
        let answer = ErasureList {
            erasures: Vec::new(),
            head,
            more: false,
        };
        Ok(with_erasure_head(json(&answer)?, head))
    }
    .await;
    Ok(to_device(&device, result))
}

/// A lead places the snapshots it pushed (see [`Store::compact`]).
async fn compact(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let device = authenticate(&state.store, &headers).await?;
    let result = async {
        require_lead(&device, "compact the team's documents")?;
        let limit = body_limit(&state.limits, COMPACT_PATH);
        let raw = read_limited(body, &headers, limit).await?;
        let store = Arc::clone(&state.store);
        let lead = device.clone();
        // Up to 4 MiB of JSON: parsed on the blocking pool, like a sync body.
        let done = blocking(move || {
            let plain = decode_content(&headers, raw, limit)?;
            let req: CompactRequest = serde_json::from_slice(&plain).map_err(|e| {
                ApiError::bad_request(format!(
                    "body must be JSON {{\"items\": [{{\"doc_id\": \"<id>\", \"snapshot\": \
                     \"<blob id>\", \"covers\": [<tag>, …]}}]}}: {e}"
                ))
            })?;
            check_compact(&req)?;
            Ok(store.compact(&lead, &req.items, now())?)
        })
        .await?;
        json(&done)
    }
    .await;
    Ok(to_device(&device, result))
}

async fn sync(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let device = authenticate(&state.store, &headers).await?;
    let caller = device.clone();
    let result = sync_for(state, headers, body, caller).await;
    Ok(to_device(&device, result))
}

async fn sync_for(
    state: AppState,
    headers: HeaderMap,
    body: Body,
    device: DeviceAuth,
) -> Result<Response, ApiError> {
    let limits = state.limits;
    let raw = read_limited(body, &headers, body_limit(&limits, SYNC_PATH)).await?;
    let gzip_ok = accepts_gzip(&headers);
    let store = Arc::clone(&state.store);
    blocking(move || {
        let plain = decode_content(&headers, raw, body_limit(&limits, SYNC_PATH))?;
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
        let page = sync_in_parts(
            &*store,
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
    let device = authenticate(&state.store, &headers).await?;
    let caller = device.clone();
    let result = doc_changes_for(state, headers, body, caller).await;
    Ok(to_device(&device, result))
}

async fn doc_changes_for(
    state: AppState,
    headers: HeaderMap,
    body: Body,
    device: DeviceAuth,
) -> Result<Response, ApiError> {
    let limits = state.limits;
    // A small JSON body, like the lead's actions'.
    let req: DocChangesRequest = read_json(
        body,
        &headers,
        &limits,
        DOC_CHANGES_PATH,
        r#"{"doc_id": "<id>", "after": 0}"#,
    )
    .await?;
    check_doc_id(&req.doc_id)?;
    let gzip_ok = accepts_gzip(&headers);
    let store = Arc::clone(&state.store);
    blocking(move || {
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
                snapshot: c.snapshot,
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
    Ok(with_erasure_head(
        respond(SYNC_CONTENT_TYPE, bytes, gzip_ok),
        page.erasure_head,
    ))
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
