//! HTTP errors: a status and a message for a person, sent as JSON `{"error": "…"}`, with a
//! code for programs when the app must act on it (`"code": "lead_only"`, `"revoked"`,
//! `"erased"` with the erased documents in `"erased": […]`, `"last_lead"`, `"needs_key"`,
//! `"no_lead_yet"`).

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use groundwork_protocol::team::CODE_NO_LEAD_YET;
use groundwork_protocol::{
    CODE_ERASED, CODE_LAST_LEAD, CODE_LEAD_ONLY, CODE_NEEDS_KEY, CODE_NEEDS_SECRET, CODE_REVOKED,
    ErrorBody, JSON_CONTENT_TYPE,
};

use crate::store::StoreError;

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// What went wrong and what to do about it.
    pub message: String,
    /// What went wrong, for a program (`ErrorBody::code`), if the app must act on it.
    pub code: Option<&'static str>,
    /// With the code `erased`: the erased documents the request named.
    pub erased: Vec<String>,
}

impl ApiError {
    /// An error with any status.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            code: None,
            erased: Vec::new(),
        }
    }

    /// The same error with a code for programs.
    #[must_use]
    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }

    /// 403 `lead_only`: a canvasser asked for a lead's action, `what` ("invite devices").
    pub fn lead_only(what: &str) -> Self {
        Self::forbidden(format!(
            "only a team lead can {what}: ask your team lead to do it, or to make this device a \
             lead"
        ))
        .with_code(CODE_LEAD_ONLY)
    }

    /// 410 `erased`: the request names documents erased from the team.
    pub fn erased(docs: Vec<String>) -> Self {
        let mut e = Self::new(
            StatusCode::GONE,
            "this device holds changes to people erased from the team: it will erase them and \
             sync again",
        )
        .with_code(CODE_ERASED);
        e.erased = docs;
        e
    }

    /// 400: the body or a header is malformed.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 401: no credentials, or credentials the relay does not know.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }

    /// 403: known credentials that may no longer be used.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }

    /// 413: the body is larger than the relay accepts.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "request body is larger than this relay accepts ({limit} bytes, after \
                 decompression); send fewer changes per request"
            ),
        )
    }

    /// 500: the relay failed; the details go to the log, not to the client.
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the relay failed to handle this request; try again later, and tell the relay's \
             operator if it keeps happening",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.message,
            code: self.code.map(str::to_owned),
            erased: self.erased,
        };
        let json = serde_json::to_vec(&body).unwrap_or_else(|_| b"{\"error\":\"error\"}".to_vec());
        let mut response = (
            self.status,
            [(header::CONTENT_TYPE, JSON_CONTENT_TYPE)],
            json,
        )
            .into_response();
        if self.status == StatusCode::REQUEST_TIMEOUT {
            // The rest of a body that came too slowly is not worth waiting for.
            response.headers_mut().insert(
                header::CONNECTION,
                axum::http::HeaderValue::from_static("close"),
            );
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::UnknownInvite => ApiError::unauthorized(
                "invite code not recognised: check it for typos, or ask your team lead for a \
                 new one",
            ),
            StoreError::InviteExpired => ApiError::forbidden(
                "this invite code has expired: ask your team lead for a new one",
            ),
            StoreError::InviteUsedUp => ApiError::forbidden(
                "this invite code has already been used, or it was cancelled: ask your team \
                 lead for a new one",
            ),
            StoreError::NeedsKey => ApiError::new(
                StatusCode::CONFLICT,
                "this team's notebook is end-to-end encrypted and this invite carries no key: ask \
                 a team lead for an invite from their app (groundwork team invite); this invite \
                 was not used up",
            )
            .with_code(CODE_NEEDS_KEY),
            StoreError::MissingSecret => ApiError::new(
                StatusCode::CONFLICT,
                "this is only the first part of the invite: a lead's invite code goes on after a \
                 dot (CODE.SECRET), or use the whole join link; this invite was not used up",
            )
            .with_code(CODE_NEEDS_SECRET),
            StoreError::NeedsSealing => ApiError::new(
                StatusCode::CONFLICT,
                "this team's notebook is end-to-end encrypted and this version of Groundwork \
                 cannot encrypt: update the app, then join again; this invite was not used up",
            )
            .with_code(CODE_NEEDS_KEY),
            StoreError::NoLeadYet => ApiError::new(
                StatusCode::CONFLICT,
                "this team has no lead yet: its first lead joins with the invite `sync-server \
                 team create` printed, then invites you from their app (groundwork team invite); \
                 this invite was not used up",
            )
            .with_code(CODE_NO_LEAD_YET),
            StoreError::DeviceRevoked(_) => revoked(),
            StoreError::ActorTaken(_) => ApiError::new(
                StatusCode::CONFLICT,
                "another device of this team already writes (or wrote, before it was removed) \
                 with this notebook's identity: a copied notebook cannot join as a second device, \
                 and a notebook that joins again takes a new identity; update Groundwork, then \
                 join again with a new invite from your team lead",
            ),
            StoreError::TokenTaken => ApiError::new(
                StatusCode::CONFLICT,
                "this device token is already in use, so this enrolment cannot be answered \
                 again: join again (the app chooses a new token), with a new invite from your \
                 team lead if this one is used up",
            ),
            StoreError::ActorChanged(_) => ApiError::new(
                StatusCode::CONFLICT,
                "this device token belongs to another notebook: join again with a new invite \
                 from your team lead",
            ),
            StoreError::UnknownDevice(_) | StoreError::UnknownTeam(_) => unknown_token(),
            StoreError::NotLead(_) => ApiError::lead_only("do this"),
            StoreError::NotInTeam(id) => ApiError::new(
                StatusCode::NOT_FOUND,
                format!(
                    "no device of your team has the id {id:?}: check it in the team's device list"
                ),
            ),
            StoreError::NoSuchInvite(id) => ApiError::new(
                StatusCode::NOT_FOUND,
                format!(
                    "no invite of your team has the id {id:?}: list the team's open invites to \
                     see their ids (an invite long ended is forgotten)"
                ),
            ),
            StoreError::InviteCodeTaken => ApiError::new(
                StatusCode::CONFLICT,
                "another invite has the code this request makes: this request's id was used \
                 already, for an invite of another role; ask for the invite again as a new \
                 request (the app gives each invite it makes a new id)",
            ),
            StoreError::InviteGone => ApiError::new(
                StatusCode::CONFLICT,
                "the invite this request made before has been used up, cancelled or has expired \
                 since: make a new invite (groundwork team invite)",
            ),
            StoreError::PromoteRevoked(_) => ApiError::new(
                StatusCode::CONFLICT,
                "this device has been removed from the team, so it cannot become a lead: invite \
                 its user again with a lead invite",
            ),
            StoreError::LastLead(_) => ApiError::new(
                StatusCode::CONFLICT,
                "a team needs a lead: promote another device first",
            )
            .with_code(CODE_LAST_LEAD),
            StoreError::Erased(docs) => ApiError::erased(docs),
            StoreError::ErasuresAhead { up_to, head } => ApiError::bad_request(format!(
                "this device confirms erasure orders up to {up_to}, but the team's last order is \
                 {head}: confirm only orders fetched from this relay"
            )),
            StoreError::TeamFull { limit } => ApiError::new(
                StatusCode::INSUFFICIENT_STORAGE,
                format!(
                    "your team's storage on this relay is full ({limit} bytes): your changes are \
                     kept on this device, but cannot be shared until whoever runs your team's \
                     relay raises its max_team_bytes; please tell them"
                ),
            ),
            StoreError::DeviceFull { share } => ApiError::new(
                StatusCode::INSUFFICIENT_STORAGE,
                format!(
                    "this device has filled its share of your team's storage on this relay (half \
                     of it, {share} bytes): your changes are kept on this device, but cannot be \
                     shared. A lead sees each device's share (groundwork team devices); a \
                     lead's device compacting the team frees what its snapshots cover, and \
                     whoever runs the relay can raise max_team_bytes. Please tell your team's \
                     lead"
                ),
            ),
            StoreError::InviteKeysFull { limit } => ApiError::new(
                StatusCode::CONFLICT,
                format!(
                    "your team's unused invites (and parts of invites' keys waiting for their \
                     invite, each forgotten within the hour) already hold as many keys as this \
                     relay keeps for a team ({limit} bytes): make one invite for several people \
                     (groundwork team invite --uses N), or wait for unused invites to expire; \
                     whoever runs the relay can raise max_team_bytes (a sixteenth of it is this \
                     limit)"
                ),
            ),
            StoreError::UnknownKeyPart { part } => ApiError::bad_request(format!(
                "the invite names a part of its keys ({part:.40}) that this device has not left \
                 with the relay in the last hour, or that another invite took: make the invite \
                 again (groundwork team invite)"
            )),
            StoreError::KeyPartTaken => ApiError::new(
                StatusCode::CONFLICT,
                "a part of this device's keys has this part's request id already, with other \
                 keys: send the part again as a new request (the app gives each part a new id)",
            ),
            StoreError::TooManyKeyParts { limit } => ApiError::new(
                StatusCode::CONFLICT,
                format!(
                    "your team already has {limit} parts of invites' keys waiting on this relay \
                     for their invites (each is forgotten an hour after it came): make the \
                     invite again in an hour. If your team's leads are not making invites, a \
                     lead's device may be lost or misbehaving: look at groundwork team devices \
                     and revoke it"
                ),
            ),
            StoreError::TooManyInvites { limit } => ApiError::new(
                StatusCode::CONFLICT,
                format!(
                    "your team already has {limit} invites on this relay, the most it keeps \
                     for a team (an invite is forgotten 30 days after it expires): make one \
                     invite for several people (groundwork team invite --uses N). If your \
                     team's leads did not make them, a lead's device may be lost or misbehaving: \
                     look at groundwork team devices and revoke it; whoever runs the relay can \
                     raise max_team_bytes (a sixteenth of it, at 2 KiB an invite, is this limit)"
                ),
            ),
            StoreError::TooManyErasures { limit } => ApiError::new(
                StatusCode::CONFLICT,
                format!(
                    "your team already has {limit} erasure orders on this relay, the most it \
                     keeps for a team (each erased person, deleted walk list and deleted \
                     campaign is one, kept for ever); nothing was erased. Ask whoever runs the \
                     relay to raise max_team_bytes (a sixteenth of it, at 2 KiB an order, is \
                     this limit). If your team's leads did not give them, a lead's device may \
                     be lost or misbehaving: look at groundwork team devices and revoke it"
                ),
            ),
            StoreError::CursorAhead { since, head } => ApiError::bad_request(format!(
                "this device's position is ahead of the relay's log (it asked for changes after \
                 {since}, the relay's log ends at {head}): the relay may have been restored from \
                 a backup. Tell whoever runs your team's relay; this device's changes are kept"
            )),
            StoreError::Backend(e) => {
                tracing::error!(error = %e, "storage failed");
                ApiError::internal()
            }
        }
    }
}

/// 401 for a token the relay does not know.
pub fn unknown_token() -> ApiError {
    ApiError::unauthorized(
        "device token not recognised: enrol this device again with an invite from your team lead",
    )
}

/// 403 for a revoked device.
pub fn revoked() -> ApiError {
    ApiError::forbidden(
        "this device has been removed from the team: ask your team lead for a new invite if \
         that is a mistake",
    )
    .with_code(CODE_REVOKED)
}
