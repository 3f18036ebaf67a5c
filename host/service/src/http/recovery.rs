//! The support desk's endpoints (R14): recovery cases from a session (an
//! agent's steps, the holder's and root's "this wasn't me"), and the
//! notification's cancel link, which needs no session.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;

use crate::app::AppState;
use crate::decisions::caller::Caller;
use crate::error::ApiError;
use crate::http::json_body::{ApiJson, NoParameters};
use crate::support::{self, OpenCase};
use mfa_reset::api::RecoveryAction;

fn respond((status, body): (u16, Value)) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::FORBIDDEN);
    (status, Json(body)).into_response()
}

/// GET /api/recovery-cases: the support desk's cases (an agent), or the
/// caller's pending cases and, for a root, its organization's.
pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    Ok(respond(support::list_cases(&state, caller).await?))
}

/// POST /api/recovery-cases: an agent opens a case.
pub async fn open(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(form): ApiJson<OpenCase>,
) -> Result<Response, ApiError> {
    Ok(respond(support::open_case(&state, caller, form).await?))
}

/// POST /api/recovery-cases/{id}/approve: a second agent approves.
pub async fn approve(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    _: NoParameters,
) -> Result<Response, ApiError> {
    let step = RecoveryAction::ApproveCase;
    Ok(respond(
        support::case_step(&state, caller, &id, step).await?,
    ))
}

/// POST /api/recovery-cases/{id}/issue-ticket: the ticket goes to the
/// account holder (never in this answer).
pub async fn issue_ticket(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    _: NoParameters,
) -> Result<Response, ApiError> {
    let step = RecoveryAction::IssueTicket;
    Ok(respond(
        support::case_step(&state, caller, &id, step).await?,
    ))
}

/// POST /api/recovery-cases/{id}/cancel: an agent, the account holder or
/// their root cancels.
pub async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    _: NoParameters,
) -> Result<Response, ApiError> {
    let step = RecoveryAction::CancelCase;
    Ok(respond(
        support::case_step(&state, caller, &id, step).await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CancelLinkBody {
    token: String,
}

/// POST /api/recovery-cases/cancel-link: the notification's link cancels
/// its case (the token travels in the body, never in a URL a log keeps).
pub async fn cancel_by_link(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CancelLinkBody>,
) -> Result<Response, ApiError> {
    Ok(respond(support::cancel_by_link(&state, &body.token).await?))
}
