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

use super::login::{
    MAX_PASSWORD_CHARS, MAX_USER_CHARS, check_password, claim_login_attempt, client_address,
    login_lock, refuse_login, start_session,
};
use crate::app::AppState;
use crate::credentials::session;
use crate::decisions::seconds_until;
use crate::error::ApiError;
use crate::http::json_body::ApiJson;
use crate::store::time_of;
use crate::support;
use mfa_reset::timestamp::to_millis as millis;

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
    for (field, value, max) in [
        ("user", &body.user, MAX_USER_CHARS),
        ("password", &body.password, MAX_PASSWORD_CHARS),
        ("ticket", &body.ticket, MAX_TICKET_CHARS),
    ] {
        if value.chars().count() > max {
            return Err(ApiError::Invalid {
                field: field.into(),
                message: format!("longer than {max} characters"),
            });
        }
    }
    if body.user.chars().any(char::is_control) {
        return Err(ApiError::Invalid {
            field: "user".into(),
            message: "must not contain control characters".into(),
        });
    }
    Ok(())
}

/// POST /api/login/ticket: password and recovery ticket.
pub async fn redeem(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<TicketBody>,
) -> Result<Response, ApiError> {
    check_body(&body)?;
    let now = state.config.clock.now();
    let now_ms = millis(now);
    let address = client_address(&state, peer, &headers);
    let account_key = format!("account:{}", session::hash(&body.user));
    let address_key = format!("address:{address}");
    let _queued = state.login_locks.lock(&account_key).await;
    if let Err(until) = claim_login_attempt(&state, &account_key, &address_key, now_ms).await? {
        tracing::info!(%address, "ticket login throttled");
        return Err(ApiError::Throttled {
            retry_after_seconds: seconds_until(time_of(until), now),
        });
    }
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
            let keys = [account_key.as_str(), address_key.as_str()];
            refuse_login(&state, unknown_or_wrong.as_ref(), &keys, now, address).await?;
            return Err(ApiError::InvalidCredentials);
        }
    };
    let throttle = state.config.login_throttle;
    state
        .store
        .release_login_attempt(&account_key, &address_key, now_ms, |failures| {
            login_lock(&throttle, throttle.free_address_failures, failures)
        })
        .await?;
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
