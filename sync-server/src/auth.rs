//! Bearer-token authentication of devices.
//!
//! The token in `Authorization: Bearer <token>` is hashed and looked up; a missing or unknown
//! token is 401, a revoked device's token 403 (code `revoked`). The device found carries its
//! role and its team's erasure head, which every answer to it reports in headers. A device's
//! first request with a token it chose at enrolment tells the store, which from then on will
//! not answer that enrolment again ([`crate::store::Store::token_used`]).

use std::sync::Arc;

use axum::http::{HeaderMap, header};

use crate::error::{ApiError, revoked, unknown_token};
use crate::secrets::hash_token;
use crate::store::{DeviceAuth, Store};

/// The token of an `Authorization: Bearer` header, if there is one.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The device making this request, or the error to answer with.
pub async fn authenticate(
    store: &Arc<dyn Store>,
    headers: &HeaderMap,
) -> Result<DeviceAuth, ApiError> {
    let token = bearer_token(headers).ok_or_else(|| {
        ApiError::unauthorized(
            "missing device token: send `Authorization: Bearer <token>` with the token from \
             enrolment",
        )
    })?;
    let hash = hash_token(token);
    let store = Arc::clone(store);
    tokio::task::spawn_blocking(move || {
        match store.authenticate(&hash)? {
            None => Err(unknown_token()),
            Some(device) if device.revoked => Err(revoked()),
            Some(device) => {
                // Its first request: the enrolment it chose this token for cannot be asked
                // for again (once per device).
                if device.first_use {
                    store.token_used(&device)?;
                }
                Ok(device)
            }
        }
    })
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "authentication task failed");
        ApiError::internal()
    })?
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with_auth(value: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_static(value));
        h
    }

    #[test]
    fn bearer_tokens_are_extracted() {
        assert_eq!(bearer_token(&with_auth("Bearer gwt_abc")), Some("gwt_abc"));
        assert_eq!(
            bearer_token(&with_auth("bearer  gwt_abc ")),
            Some("gwt_abc")
        );
        assert_eq!(bearer_token(&with_auth("Basic dXNlcjpwYXNz")), None);
        assert_eq!(bearer_token(&with_auth("Bearer")), None);
        assert_eq!(bearer_token(&HeaderMap::new()), None);
    }
}
