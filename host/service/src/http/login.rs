//! Logging in: password, then what the component says the login needs —
//! nothing, an enrolment (start + confirm), or a code (or a recovery code,
//! `recovery_codes.rs`).

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::app::AppState;
use crate::credentials::session;
use crate::decisions::caller::{self, Caller};
use crate::decisions::throttle::{self, Attempt, Settled};
use crate::decisions::{Decided, retry, seconds_until};
use crate::error::ApiError;
use crate::http::caller::required_token;
use crate::http::json_body::{ApiJson, NoParameters};
use crate::http::login_attempt::{PasswordAttempt, check_password};
use crate::store::{AuditEntry, Commit, SessionUse, SessionsChange, StoredSession, StoredUser};
use mfa_reset::api::{
    AuditRecord, Authenticator, CodeRequest, CodeResult, Decision, EnrolmentRequest, LoginStep,
    Role, User, Verification,
};
use mfa_reset::log_text::Shown;
use mfa_reset::timestamp::to_millis as millis;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    user: String,
    password: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeBody {
    pub(super) code: String,
}

/// R15: fewer recovery codes left than this, and the login answer says so.
const FEW_RECOVERY_CODES: u32 = 3;

#[derive(Serialize)]
struct LoginAnswer {
    /// Also set as the `mfa_session` cookie; send it as `Authorization: Bearer`.
    token: String,
    next_step: LoginStep,
    user: crate::decisions::UserView,
}

/// Longest user id and password accepted (anything longer cannot match).
const MAX_USER_CHARS: usize = 256;
pub(super) const MAX_PASSWORD_CHARS: usize = 1024;

/// POST /api/login: password, throttled per account id and per client
/// address; unknown ids and wrong passwords get the same answer, after the
/// same work (a decoy hash, the same writes).
pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<Response, ApiError> {
    check_login_body(&body)?;
    let attempt = PasswordAttempt::claim(&state, peer, &headers, &body.user).await?;
    let now = attempt.now;
    let stored = state.store.user(&body.user).await?;
    let matches = check_password(&state, stored.as_ref(), body.password).await?;
    // A deactivated user's right password is refused like a wrong one
    // (R13): the answer does not tell who left.
    let stored = match stored {
        Some(stored) if matches && stored.user.active => stored,
        unknown_or_wrong => return Err(attempt.refuse(&state, unknown_or_wrong.as_ref()).await),
    };
    attempt.release(&state).await?;
    // A right password whose login still needs MFA opens a session with
    // fresh slots for codes: it counts against the user's unfinished logins.
    if state.engine.login_step(&stored.user)? != LoginStep::None {
        throttle::count_unfinished_login(&state, &stored.user, now).await?;
    }
    start_session(&state, stored, now).await
}

/// Opens the session of a login whose password (and ticket) was right,
/// from the account as it is when the session commits, and answers with
/// its token (also as the cookie) and the login's next step.
pub(super) async fn start_session(
    state: &AppState,
    stored: StoredUser,
    now: time::OffsetDateTime,
) -> Result<Response, ApiError> {
    let token = session::new_token();
    let (first, new_token) = (&stored, &token);
    let (next_step, stored) = retry::on_conflict(|n| async move {
        let stored = match n {
            0 => first.clone(),
            _ => state
                .store
                .user(&first.user.id)
                .await?
                .ok_or(ApiError::InvalidCredentials)?,
        };
        let next_step = open_session(state, &stored, new_token, now).await?;
        Ok((next_step, stored))
    })
    .await?;
    tracing::info!(user = %Shown(&stored.user.id), next_step = ?next_step, "login: password accepted");
    let cookie = session::set_cookie(&token, state.config.secure_cookies);
    let answer = LoginAnswer {
        token,
        next_step,
        user: (&stored.user).into(),
    };
    Ok(([(header::SET_COOKIE, cookie)], Json(answer)).into_response())
}

/// Creates the session of a right password with its audit row, from the
/// user's state as it is when it commits: a change of the user's MFA or of
/// enforcement in between is seen ([`ApiError::Concurrent`]: read again).
async fn open_session(
    state: &AppState,
    stored: &StoredUser,
    token: &str,
    now: time::OffsetDateTime,
) -> Result<LoginStep, ApiError> {
    let next_step = state.engine.login_step(&stored.user)?;
    let record = AuditRecord {
        at: now,
        actor: stored.user.id.clone(),
        organization: stored.user.organization.id.clone(),
        action: "login".into(),
        target: stored.user.id.clone(),
        allowed: true,
        policy_ids: Vec::new(),
        denial_code: None,
    };
    let now_ms = millis(now);
    state
        .store
        .create_session(
            &StoredSession {
                token_hash: session::hash(token),
                user_id: stored.user.id.clone(),
                login_at: now_ms,
                last_activity_at: now_ms,
                mfa_satisfied: next_step == LoginStep::None,
                recovery_code_login: false,
                mfa_verified: false,
            },
            (stored.version, stored.organization_version),
            AuditEntry::new(record, uuid::Uuid::new_v4().to_string()),
        )
        .await?;
    Ok(next_step)
}

/// A login body within bounds: ids and passwords no longer than any
/// stored one could be, ids without control characters.
fn check_login_body(body: &LoginBody) -> Result<(), ApiError> {
    check_login_fields(
        &body.user,
        &[("password", &body.password, MAX_PASSWORD_CHARS)],
    )
}

/// The user id of a login within bounds and without control characters,
/// and each of `others` (field, value, most characters) within its bound.
pub(super) fn check_login_fields(
    user: &str,
    others: &[(&str, &str, usize)],
) -> Result<(), ApiError> {
    for &(field, value, max) in [("user", user, MAX_USER_CHARS)].iter().chain(others) {
        if value.chars().count() > max {
            return Err(ApiError::Invalid {
                field: field.into(),
                message: format!("longer than {max} characters"),
            });
        }
    }
    if user.chars().any(char::is_control) {
        return Err(ApiError::Invalid {
            field: "user".into(),
            message: "must not contain control characters".into(),
        });
    }
    Ok(())
}

/// POST /api/logout: ends the session (204), and clears the cookie.
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    _: NoParameters,
) -> Result<Response, ApiError> {
    let token = required_token(&headers, &state.config)?;
    if !state.store.delete_session(&session::hash(&token)).await? {
        return Err(ApiError::NoSession);
    }
    let cookie = session::set_cookie("", state.config.secure_cookies);
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response())
}

/// POST /api/login/code: the code that completes a login.
pub async fn code(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CodeBody>,
) -> Result<Response, ApiError> {
    throttled(&state, caller, "verify_code", async |caller| {
        check_code(&state, caller, &body.code, CodeKind::Login).await
    })
    .await
}

/// POST /api/enrolment/confirm: the first code of a new authenticator.
pub async fn confirm(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CodeBody>,
) -> Result<Response, ApiError> {
    throttled(&state, caller, "confirm_enrolment", async |caller| {
        check_code(&state, caller, &body.code, CodeKind::Enrolment).await
    })
    .await
}

/// Runs a login step under the denial throttle: a refused step (a denial,
/// a wrong, replayed or locked code) uses up a slot of its session and,
/// before MFA is finished, of its user's pending logins, so that nobody
/// holding a password can bury the trail in refusals.
pub(super) async fn throttled(
    state: &AppState,
    caller: Caller,
    action: &'static str,
    step: impl AsyncFnOnce(Caller) -> Result<Response, ApiError>,
) -> Result<Response, ApiError> {
    let attempt = Attempt {
        action,
        target: &caller.user.user.id,
        on_others: false,
    };
    let claim = throttle::claim(state, &caller, attempt).await?;
    let answer = step(caller.clone()).await;
    // 401 (a wrong or replayed code, a denial of the session), 403 (a
    // denial) and 429 (a locked authenticator) were refusals, each audited;
    // errors (bad input, a conflict, an outage) decided nothing.
    let refused = matches!(&answer, Ok(response) if !response.status().is_success());
    claim
        .settle(match refused {
            true => Settled::Refused { for_user: false },
            false => Settled::NotRefused,
        })
        .await;
    answer
}

/// POST /api/enrolment/start: a new pending key, shown once. The policies
/// decide (`start_enrolment`): an expired session cannot enrol a device.
pub async fn start(
    State(state): State<AppState>,
    caller: Caller,
    _: NoParameters,
) -> Result<Response, ApiError> {
    throttled(&state, caller, "start_enrolment", async |caller| {
        start_enrolment(&state, caller).await
    })
    .await
}

async fn start_enrolment(state: &AppState, caller: Caller) -> Result<Response, ApiError> {
    let _queued = caller::queue_for_org(state, &caller).await;
    let caller = &caller;
    retry::on_conflict(|_| async move {
        let caller = caller::reload(state, caller).await?;
        let now = caller.now(&state.config.clock);
        let request = EnrolmentRequest {
            user: caller.user.user.clone(),
            session: caller.session(),
            authenticator: state.store.authenticator(&caller.user)?,
            now,
            issuer: state.config.issuer.clone(),
        };
        let enrolment = state
            .engine_call(move |engine| engine.start_enrolment(&request))
            .await?
            .map_err(not_due)?;
        let decision_id = uuid::Uuid::new_v4().to_string();
        let audit = AuditEntry::new(enrolment.audit.clone(), decision_id.clone());
        let Some(key) = enrolment.key else {
            // Denied: nothing changes, the session is not touched.
            record_login_step(state, &decision_id, &enrolment.audit);
            state.store.audit_only(&[audit]).await?;
            return Ok(step_denied(decision_id, enrolment.decision));
        };
        let stored = (&caller.user.user, &enrolment.authenticator);
        commit_step(state, &caller, stored, audit, now, None, false).await?;
        record_login_step(state, &decision_id, &enrolment.audit);
        tracing::info!(user = %Shown(&caller.user.user.id), "enrolment started");
        let body = json!({
            "decision_id": decision_id,
            "uri": key.uri,
            "qr_png_base64": base64::engine::general_purpose::STANDARD.encode(&key.qr_png),
            "qr_text": key.qr_text,
            "message": "Scan the QR code (or enter the URI) in your authenticator app, then confirm with its first code.",
        });
        Ok(Json(body).into_response())
    })
    .await
}

/// Stores what an allowed login step leaves (the user and authenticator,
/// its audit row, the session's use; `verified`: the code with which the
/// login finished MFA; `end_other_sessions`: the user's other sessions
/// end), if the user is unchanged since `caller` was read
/// ([`ApiError::Concurrent`] if not: decide the step again).
pub(super) async fn commit_step(
    state: &AppState,
    caller: &Caller,
    (user, authenticator): (&User, &Authenticator),
    audit: AuditEntry,
    now: time::OffsetDateTime,
    verified: Option<CodeKind>,
    end_other_sessions: bool,
) -> Result<(), ApiError> {
    state
        .store
        .commit(Commit {
            read_users: vec![(&caller.user.user.id, caller.user.version)],
            user: Some((user, authenticator)),
            audit: vec![audit],
            session: Some(SessionUse {
                token_hash: &caller.session.token_hash,
                at: millis(now),
                verified: verified.is_some(),
                recovery_code: verified == Some(CodeKind::RecoveryCode),
            }),
            sessions_change: end_other_sessions.then_some(SessionsChange::EndOthers {
                user: &caller.user.user.id,
                keep: &caller.session.token_hash,
            }),
            ..Commit::default()
        })
        .await?;
    Ok(())
}

/// Into the decision log, if there is one (without the request: it holds
/// a code or a key).
pub(super) fn record_login_step(state: &AppState, decision_id: &str, audit: &AuditRecord) {
    if let Some(log) = &state.decision_log {
        log.record(|| {
            crate::policy::decision_log::RecordedDecision::login_step(decision_id, audit)
        });
    }
}

/// A login step the policies denied: 401 for an expired session, 403
/// otherwise, with the deciding policy's code and message only.
pub(super) fn step_denied(decision_id: String, decision: Decision) -> Response {
    let decided = Decided::denied(decision_id, decision);
    (decided.status(), Json(decided)).into_response()
}

/// An enrolment asked for when none is due is a conflict with the state.
pub(super) fn not_due(e: mfa_reset::Error) -> ApiError {
    match e {
        mfa_reset::Error::InvalidRequest(mfa_reset::RequestError { field, message })
            if field == "user.mfa" =>
        {
            ApiError::Conflict(message)
        }
        other => other.into(),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum CodeKind {
    Login,
    Enrolment,
    /// R15: a recovery code instead of a login code.
    RecoveryCode,
}

pub(super) async fn check_code(
    state: &AppState,
    caller: Caller,
    code: &str,
    kind: CodeKind,
) -> Result<Response, ApiError> {
    let _queued = caller::queue_for_org(state, &caller).await;
    let caller = &caller;
    retry::on_conflict(|_| async move {
        let caller = caller::reload(state, caller).await?;
        let now = caller.now(&state.config.clock);
        let request = CodeRequest {
            user: caller.user.user.clone(),
            session: caller.session(),
            authenticator: state.store.authenticator(&caller.user)?,
            code: code.to_string(),
            now,
            lockout: state.config.lockout,
        };
        let verification: Verification = state
            .engine_call(move |engine| match kind {
                CodeKind::Login => engine.verify_login(&request),
                CodeKind::Enrolment => engine.confirm_enrolment(&request),
                CodeKind::RecoveryCode => engine.use_recovery_code(&request),
            })
            .await?
            .map_err(not_due)?;
        let decision_id = uuid::Uuid::new_v4().to_string();
        let mut audit = AuditEntry::new(verification.audit.clone(), decision_id.clone());
        let left = verification.recovery_codes_left;
        if kind == CodeKind::RecoveryCode {
            // Into the audit row and the `mfa.recovery_code_used` event.
            audit.detail = Some(json!({ "recovery_codes_left": left }));
        }
        if verification.result == CodeResult::Denied {
            // No code was checked: nothing counts, the session is not touched.
            record_login_step(state, &decision_id, &verification.audit);
            state.store.audit_only(&[audit]).await?;
            return Ok(step_denied(decision_id, verification.decision));
        }
        let accepted = verification.result == CodeResult::Accepted;
        let stored = (&verification.user, &verification.authenticator);
        let verified = accepted.then_some(kind);
        commit_step(state, &caller, stored, audit, now, verified, false).await?;
        record_login_step(state, &decision_id, &verification.audit);
        tracing::info!(
            user = %Shown(&caller.user.user.id),
            action = %verification.audit.action,
            result = ?verification.result,
            failures = verification.authenticator.failures,
            "code checked"
        );
        let status = match verification.result {
            CodeResult::Accepted => StatusCode::OK,
            CodeResult::Locked => StatusCode::TOO_MANY_REQUESTS,
            CodeResult::InvalidCode | CodeResult::Replayed | CodeResult::Denied => {
                StatusCode::UNAUTHORIZED
            }
        };
        let mut body = json!({
            "decision_id": decision_id,
            "result": verification.result,
            "message": verification.message,
            "mfa": verification.user.mfa,
            "failures": verification.authenticator.failures,
        });
        // R15: the codes of a new enrolment, this once; how many are left
        // (only to a login that got in: a password alone learns nothing of
        // them), and a word when they run low (support agents have none).
        if accepted && caller.user.user.role != Role::SupportAgent {
            body["recovery_codes_left"] = json!(left);
            if !verification.recovery_codes.0.is_empty() {
                body["recovery_codes"] = json!(verification.recovery_codes.0);
            }
            if accepted && kind != CodeKind::Enrolment && left < FEW_RECOVERY_CODES {
                body["notice"] = json!(format!(
                    "Only {left} recovery code{} left: make new ones on your profile page.",
                    if left == 1 { "" } else { "s" }
                ));
            }
        }
        let mut response = (status, Json(body)).into_response();
        if let Some(until) = verification.authenticator.locked_until.filter(|u| *u > now) {
            let retry = seconds_until(until, now).to_string();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, retry.parse().expect("digits"));
        }
        Ok(response)
    })
    .await
}
