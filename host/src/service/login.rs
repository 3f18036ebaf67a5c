//! Logging in: password, then what the component says the login needs —
//! nothing, an enrolment (start + confirm), or a code.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::AppState;
use super::decisions::{backoff, seconds_until};
use super::error::ApiError;
use super::json::ApiJson;
use super::passwords;
use super::session::{self, Caller};
use super::store::{AuditEntry, Commit, StoreError, StoredSession};
use crate::api::{CodeRequest, CodeResult, EnrolmentRequest, LoginStep, Verification};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    user: String,
    password: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeBody {
    code: String,
}

#[derive(Serialize)]
struct LoginAnswer {
    /// Also set as the `mfa_session` cookie; send it as `Authorization: Bearer`.
    token: String,
    next_step: LoginStep,
    user: super::decisions::UserView,
}

/// POST /api/login
pub async fn login(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<Response, ApiError> {
    let stored = state.store.user(&body.user).await?;
    let hash = stored.as_ref().map_or_else(
        || passwords::decoy().to_string(),
        |u| u.password_hash.clone(),
    );
    let password = body.password;
    let matches = tokio::task::spawn_blocking(move || passwords::verify(&password, &hash))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let Some(stored) = stored.filter(|_| matches) else {
        tracing::info!(user = %body.user, "login refused");
        return Err(ApiError::InvalidCredentials);
    };
    let next_step = state.engine.login_step(&stored.user)?;
    let token = session::new_token();
    let now = state.config.clock.now().unix_timestamp();
    state
        .store
        .create_session(&StoredSession {
            token_hash: session::hash(&token),
            user_id: stored.user.id.clone(),
            login_at: now,
            last_activity_at: now,
            mfa_satisfied: next_step == LoginStep::None,
        })
        .await?;
    tracing::info!(user = %stored.user.id, next_step = ?next_step, "login: password accepted");
    let cookie = session::set_cookie(&token, state.config.secure_cookies);
    let answer = LoginAnswer {
        token,
        next_step,
        user: (&stored.user).into(),
    };
    Ok(([(header::SET_COOKIE, cookie)], Json(answer)).into_response())
}

/// POST /api/logout: ends the session (204), and clears the cookie.
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let token = session::required_token(&headers)?;
    if !state.store.delete_session(&session::hash(&token)).await? {
        return Err(ApiError::NoSession);
    }
    let expired = format!(
        "{}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0",
        session::COOKIE
    );
    let cookie = axum::http::HeaderValue::from_str(&expired).expect("ASCII");
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response())
}

/// POST /api/login/code: the code that completes a login.
pub async fn code(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<CodeBody>,
) -> Result<Response, ApiError> {
    let token = session::required_token(&headers)?;
    check_code(&state, &token, &body.code, CodeKind::Login).await
}

/// POST /api/enrolment/confirm: the first code of a new authenticator.
pub async fn confirm(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<CodeBody>,
) -> Result<Response, ApiError> {
    let token = session::required_token(&headers)?;
    check_code(&state, &token, &body.code, CodeKind::Enrolment).await
}

/// POST /api/enrolment/start: a new pending key, shown once.
pub async fn start(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let token = session::required_token(&headers)?;
    let _queued = session::queue_for_caller_org(&state, &token).await?;
    for n in 0..8 {
        let caller = session::caller(&state, &token).await?;
        let now = state.config.clock.now();
        let enrolment = state
            .engine
            .start_enrolment(&EnrolmentRequest {
                user: caller.user.user.clone(),
                authenticator: caller.user.authenticator.clone(),
                now,
                issuer: state.config.issuer.clone(),
            })
            .map_err(not_due)?;
        let committed = state
            .store
            .commit(Commit {
                read_users: vec![(&caller.user.user.id, caller.user.version)],
                user: Some((&caller.user.user, &enrolment.authenticator)),
                audit: Some(AuditEntry::new(
                    enrolment.audit.clone(),
                    uuid::Uuid::new_v4().to_string(),
                )),
                session: Some((
                    &caller.session.token_hash,
                    now.unix_timestamp(),
                    caller.session.mfa_satisfied,
                )),
                ..Commit::default()
            })
            .await;
        match committed {
            Err(StoreError::Conflict) => {
                backoff(n).await;
                continue;
            }
            Err(e) => return Err(e.into()),
            Ok(_) => {}
        }
        tracing::info!(user = %caller.user.user.id, "enrolment started");
        let body = json!({
            "uri": enrolment.uri,
            "qr_png_base64": base64::engine::general_purpose::STANDARD.encode(&enrolment.qr_png),
            "qr_text": enrolment.qr_text,
            "message": "Scan the QR code (or enter the URI) in your authenticator app, then confirm with its first code.",
        });
        return Ok(Json(body).into_response());
    }
    Err(ApiError::Conflict(
        "the state kept changing; try again".into(),
    ))
}

/// An enrolment asked for when none is due is a conflict with the state.
fn not_due(e: crate::Error) -> ApiError {
    match e {
        crate::Error::InvalidRequest { field, message } if field == "user.mfa" => {
            ApiError::Conflict(message)
        }
        other => other.into(),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum CodeKind {
    Login,
    Enrolment,
}

async fn check_code(
    state: &AppState,
    token: &str,
    code: &str,
    kind: CodeKind,
) -> Result<Response, ApiError> {
    let _queued = session::queue_for_caller_org(state, token).await?;
    for n in 0..8 {
        let caller: Caller = session::caller(state, token).await?;
        let now = state.config.clock.now();
        let request = CodeRequest {
            user: caller.user.user.clone(),
            authenticator: caller.user.authenticator.clone(),
            code: code.to_string(),
            now,
            lockout: state.config.lockout,
        };
        let verification: Verification = match kind {
            CodeKind::Login => state.engine.verify_login(&request),
            CodeKind::Enrolment => state.engine.confirm_enrolment(&request),
        }
        .map_err(not_due)?;
        let accepted = verification.result == CodeResult::Accepted;
        let committed = state
            .store
            .commit(Commit {
                read_users: vec![(&caller.user.user.id, caller.user.version)],
                user: Some((&verification.user, &verification.authenticator)),
                audit: Some(AuditEntry::new(
                    verification.audit.clone(),
                    uuid::Uuid::new_v4().to_string(),
                )),
                session: Some((
                    &caller.session.token_hash,
                    now.unix_timestamp(),
                    caller.session.mfa_satisfied || accepted,
                )),
                ..Commit::default()
            })
            .await;
        match committed {
            Err(StoreError::Conflict) => {
                backoff(n).await;
                continue;
            }
            Err(e) => return Err(e.into()),
            Ok(_) => {}
        }
        tracing::info!(
            user = %caller.user.user.id,
            action = %verification.audit.action,
            result = ?verification.result,
            failures = verification.authenticator.failures,
            "code checked"
        );
        let status = match verification.result {
            CodeResult::Accepted => StatusCode::OK,
            CodeResult::Locked => StatusCode::TOO_MANY_REQUESTS,
            CodeResult::InvalidCode | CodeResult::Replayed => StatusCode::UNAUTHORIZED,
        };
        let body = Json(json!({
            "result": verification.result,
            "message": verification.message,
            "mfa": verification.user.mfa,
            "failures": verification.authenticator.failures,
        }));
        let mut response = (status, body).into_response();
        if let Some(until) = verification.authenticator.locked_until.filter(|u| *u > now) {
            let retry = seconds_until(until, now).to_string();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, retry.parse().expect("digits"));
        }
        return Ok(response);
    }
    Err(ApiError::Conflict(
        "the state kept changing; try again".into(),
    ))
}
