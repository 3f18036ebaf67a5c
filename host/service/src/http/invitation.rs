//! Using an invitation (R13): a visitor with the link's token learns whose
//! invitation it is, then chooses that user's password once. No session is
//! involved: the token is the credential, single use and short-lived.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;

use crate::accounts::{self, InvitationAnswer};
use crate::app::AppState;
use crate::error::ApiError;
use crate::http::json_body::ApiJson;

/// Longest token looked up (ours are 43 characters).
const MAX_TOKEN_CHARS: usize = 128;
/// Longest password read (the rules refuse anything over 256 characters
/// with a message; this only bounds the work).
const MAX_PASSWORD_CHARS: usize = 1024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeekBody {
    token: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcceptBody {
    token: String,
    password: String,
}

fn bounded(field: &str, value: &str, max: usize) -> Result<(), ApiError> {
    if value.chars().count() > max {
        return Err(ApiError::Invalid {
            field: field.into(),
            message: format!("longer than {max} characters"),
        });
    }
    Ok(())
}

/// POST /api/invitation: whose invitation `token` is and what its
/// password needs.
pub async fn peek(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<PeekBody>,
) -> Result<Json<InvitationAnswer>, ApiError> {
    bounded("token", &body.token, MAX_TOKEN_CHARS)?;
    Ok(Json(accounts::peek_invitation(&state, &body.token).await?))
}

/// POST /api/invitation/accept: chooses the password, once.
pub async fn accept(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<AcceptBody>,
) -> Result<Json<InvitationAnswer>, ApiError> {
    bounded("token", &body.token, MAX_TOKEN_CHARS)?;
    bounded("password", &body.password, MAX_PASSWORD_CHARS)?;
    Ok(Json(
        accounts::accept_invitation(&state, &body.token, body.password).await?,
    ))
}
