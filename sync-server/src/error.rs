//! HTTP errors: a status and a message for a person, sent as JSON `{"error": "…"}`.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use groundwork_protocol::{ErrorBody, JSON_CONTENT_TYPE};

use crate::store::StoreError;

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// What went wrong and what to do about it.
    pub message: String,
}

impl ApiError {
    /// An error with any status.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
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
                "this invite code has already been used: ask your team lead for a new one",
            ),
            StoreError::DeviceRevoked(_) => revoked(),
            StoreError::ActorTaken(_) => ApiError::new(
                StatusCode::CONFLICT,
                "another device of this team already writes with this notebook's identity: a \
                 copied notebook cannot join as a second device, and a notebook that joins again \
                 needs its old device revoked first (ask whoever runs the relay)",
            ),
            StoreError::ActorChanged(_) => ApiError::new(
                StatusCode::CONFLICT,
                "this device token belongs to another notebook: join again with a new invite \
                 from your team lead",
            ),
            StoreError::UnknownDevice(_) | StoreError::UnknownTeam(_) => unknown_token(),
            StoreError::TeamFull { limit } => ApiError::new(
                StatusCode::INSUFFICIENT_STORAGE,
                format!(
                    "your team's storage on this relay is full ({limit} bytes): your changes are \
                     kept on this device, but cannot be shared until whoever runs your team's \
                     relay raises its max_team_bytes; please tell them"
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
}
