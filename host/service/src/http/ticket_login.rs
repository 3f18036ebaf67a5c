//! Logging in with a recovery ticket (R14): the account holder types their
//! id, their password and the ticket the support desk's notification
//! brought them. Throttled like a password (per account id and per client
//! address, counted before anything is checked): a wrong ticket is a
//! failed login, answered like a wrong password, so that guessing tickets
//! costs what guessing passwords does. A right pair redeems the case (the
//! policies decide) and the login goes straight to enrolment.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::login::{MAX_PASSWORD_CHARS, check_login_fields, start_session};
use super::login_attempt::{PasswordAttempt, check_password};
use crate::app::AppState;
use crate::credentials::session;
use crate::error::ApiError;
use crate::http::json_body::ApiJson;
use crate::support;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TicketBody {
    user: String,
    password: String,
    ticket: String,
}

/// Longest ticket accepted (a ticket is 43 characters).
const MAX_TICKET_CHARS: usize = 128;

fn check_body(body: &TicketBody) -> Result<(), ApiError> {
    check_login_fields(
        &body.user,
        &[
            ("password", &body.password, MAX_PASSWORD_CHARS),
            ("ticket", &body.ticket, MAX_TICKET_CHARS),
        ],
    )
}

/// POST /api/login/ticket: password and recovery ticket.
pub async fn redeem(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<TicketBody>,
) -> Result<Response, ApiError> {
    check_body(&body)?;
    let attempt = PasswordAttempt::claim(&state, peer, &headers, &body.user).await?;
    let now = attempt.now;
    let stored = state.store.user(&body.user).await?;
    let matches = check_password(&state, stored.as_ref(), body.password).await?;
    // The ticket is looked up only behind the right password, and only
    // among the account's own cases: another account's ticket finds nothing.
    let case = match &stored {
        Some(u) if matches && u.user.active => {
            let hash = session::hash(&body.ticket);
            state.store.case_by_ticket(&u.user.id, &hash).await?
        }
        _ => None,
    };
    let (stored, case) = match (stored, case) {
        (Some(stored), Some(case)) => (stored, case),
        (unknown_or_wrong, _) => {
            return Err(attempt.refuse(&state, unknown_or_wrong.as_ref()).await);
        }
    };
    attempt.release(&state).await?;
    if let Some((status, denial)) =
        support::redeem_ticket(&state, &stored, &case.case.id, now).await?
    {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::FORBIDDEN);
        return Ok((status, Json(denial)).into_response());
    }
    let account = state
        .store
        .user(&stored.user.id)
        .await?
        .ok_or(ApiError::InvalidCredentials)?;
    start_session(&state, account, now).await
}
