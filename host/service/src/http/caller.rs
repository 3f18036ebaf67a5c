//! The `Caller` extractor: every handler that uses a session takes the
//! caller as an argument, read once from the token the request carries.

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;

use crate::app::AppState;
use crate::config::ServiceConfig;
use crate::credentials::session;
use crate::decisions::caller::{self, Caller};
use crate::error::ApiError;

/// The caller of a console request, loaded once: handlers take it as an
/// argument (401 without a valid session).
impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = required_token(&parts.headers, &state.config)?;
        caller::caller(state, &token).await
    }
}

/// The session token a request must carry (401 without one).
pub fn required_token(headers: &HeaderMap, config: &ServiceConfig) -> Result<String, ApiError> {
    session::token(headers, config.secure_cookies).ok_or(ApiError::NoSession)
}
