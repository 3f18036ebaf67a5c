//! The console JSON API: a handler per action, each decided by the
//! component (see `decisions/`).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use crate::app::AppState;
use crate::credentials::{password_rules, passwords};
use crate::decisions::caller::Caller;
use crate::decisions::{self, Decided, Intent, NewPassword, UserView};
use crate::error::ApiError;
use crate::http::json_body::{ApiJson, NoParameters};
use crate::store::AuditFilter;
use mfa_reset::timestamp::to_millis as millis;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

async fn run(state: &AppState, caller: Caller, intent: Intent) -> Result<Response, ApiError> {
    let decided = decisions::decide(state, caller, &intent).await?;
    Ok(respond(decided))
}

fn respond(decided: Decided) -> Response {
    (decided.status(), Json(decided)).into_response()
}

/// GET /api/session: who is logged in and what the login still needs.
/// Decided by the policies (`view_session`, allowed before MFA is done).
pub async fn session_info(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let decided = decisions::decide(&state, caller.clone(), &Intent::ViewSession).await?;
    if !decided.decision.allowed {
        return Ok(respond(decided));
    }
    let next_step = if caller.session.mfa_satisfied {
        mfa_reset::LoginStep::None
    } else {
        state.engine.login_step(&caller.user.user)?
    };
    if !caller.session.mfa_satisfied && next_step == mfa_reset::LoginStep::None {
        // The login waited for MFA that is no longer asked for (MFA turned
        // off, enforcement lifted): no step can finish it, and every action
        // is refused. It ends; logging in again decides afresh.
        state
            .store
            .delete_session(&caller.session.token_hash)
            .await?;
        return Err(ApiError::NoSession);
    }
    let session = caller.session();
    let rfc3339 = |t: time::OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    };
    Ok(Json(json!({
        "decision_id": decided.decision_id,
        "user": UserView::from(&caller.user.user),
        "enforce_mfa": caller.user.user.organization.enforce_mfa,
        "login_at": rfc3339(session.login_at),
        // This request is the latest activity (the store records it at
        // most once a minute).
        "last_activity_at": rfc3339(caller.now(&state.config.clock)),
        "mfa_satisfied": session.mfa_satisfied,
        "next_step": next_step,
        // R15: a login with a recovery code may only recover (by default);
        // and how many codes are left — once MFA is finished: a password
        // alone learns nothing of them (support agents have none).
        "recovery_code_login": session.recovery_code_login,
        "recovery_codes_left": (session.mfa_satisfied
            && caller.user.user.role != mfa_reset::api::Role::SupportAgent)
            .then(|| state.store.authenticator(&caller.user).map(|a| a.recovery_codes_left()))
            .transpose()?,
    }))
    .into_response())
}

/// Longest password read here (the rules refuse a new one over 256
/// characters with a message; this bounds the work, and keeps the largest
/// body, two of them JSON-escaped, within the default body limit).
const MAX_PASSWORD_CHARS: usize = 512;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordBody {
    current_password: String,
    new_password: String,
}

/// POST /api/me/password: the caller's own password (R13), decided by the
/// policies (`change_own_password`: an active session that finished MFA);
/// the current password must be typed right, the new one pass the rules.
/// Every other session of the caller ends.
pub async fn change_password(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<PasswordBody>,
) -> Result<Response, ApiError> {
    for (field, value) in [
        ("current_password", &body.current_password),
        ("new_password", &body.new_password),
    ] {
        if value.chars().count() > MAX_PASSWORD_CHARS {
            return Err(ApiError::Invalid {
                field: field.into(),
                message: format!("longer than {MAX_PASSWORD_CHARS} characters"),
            });
        }
    }
    let user = &caller.user.user;
    let with_mfa = state.engine.login_step(user)? != mfa_reset::LoginStep::None;
    password_rules::check(&body.new_password, &user.id, &state.config.issuer, with_mfa).map_err(
        |problem| ApiError::Invalid {
            field: "new_password".into(),
            message: format!("the password {problem}"),
        },
    )?;
    if password_rules::normalized(&body.new_password)
        == password_rules::normalized(&body.current_password)
    {
        return Err(ApiError::Invalid {
            field: "new_password".into(),
            message: "is the current password: choose a new one".into(),
        });
    }
    let (current_matches, hash) = {
        // Each hash holds ~19 MiB: bound how many run at once.
        let _slot = state
            .password_checks
            .acquire()
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        let stored = caller.user.password_hash.clone();
        tokio::task::spawn_blocking(move || {
            let matches = !stored.is_empty() && passwords::verify(&body.current_password, &stored);
            (matches, passwords::hash(&body.new_password))
        })
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
    };
    let intent = Intent::ChangePassword(NewPassword {
        current_matches,
        hash,
    });
    run(&state, caller, intent).await
}

pub async fn reset_own(
    State(state): State<AppState>,
    caller: Caller,
    _: NoParameters,
) -> Result<Response, ApiError> {
    run(&state, caller, Intent::ResetOwn).await
}

pub async fn enable_own(
    State(state): State<AppState>,
    caller: Caller,
    _: NoParameters,
) -> Result<Response, ApiError> {
    run(&state, caller, Intent::EnableOwn).await
}

pub async fn disable_own(
    State(state): State<AppState>,
    caller: Caller,
    _: NoParameters,
) -> Result<Response, ApiError> {
    run(&state, caller, Intent::DisableOwn).await
}

/// GET /api/org/users: the organization's users (R11) and, for each, the
/// actions the policies would allow the caller now (one batch).
pub async fn list_users(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let mut decided = decisions::decide(&state, caller.clone(), &Intent::ListUsers).await?;
    if decided.decision.allowed {
        let listed: std::collections::HashSet<&str> =
            decided.users.iter().map(|u| u.id.as_str()).collect();
        let users = state
            .store
            .organization_users(&caller.user.user.organization.id)
            .await?
            .into_iter()
            .filter(|u| listed.contains(u.user.id.as_str()))
            .collect();
        decided.actions = Some(decisions::allowed_actions(&state, &caller, users).await?);
    }
    Ok(respond(decided))
}

pub async fn reset_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    _: NoParameters,
) -> Result<Response, ApiError> {
    run(&state, caller, Intent::ResetUser(id)).await
}

pub async fn enable_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    _: NoParameters,
) -> Result<Response, ApiError> {
    run(&state, caller, Intent::EnableUser(id)).await
}

pub async fn disable_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    _: NoParameters,
) -> Result<Response, ApiError> {
    run(&state, caller, Intent::DisableUser(id)).await
}

/// POST /api/org/users/{id}/deactivate (R13): every session of the user
/// ends at once; decided by the policies (root, own organization, sub-user).
pub async fn deactivate_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    _: NoParameters,
) -> Result<Response, ApiError> {
    run(&state, caller, Intent::DeactivateUser(id)).await
}

/// POST /api/org/users/{id}/reactivate (R13).
pub async fn reactivate_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    _: NoParameters,
) -> Result<Response, ApiError> {
    run(&state, caller, Intent::ReactivateUser(id)).await
}

/// POST /api/org/users/{id}/invite (R13): a new single-use invitation for a
/// user who has not chosen a password yet; its link is in this answer only.
pub async fn invite_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    _: NoParameters,
) -> Result<Response, ApiError> {
    run(&state, caller, Intent::InviteUser(id)).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnforcementBody {
    enforce_mfa: bool,
}

pub async fn set_enforcement(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<EnforcementBody>,
) -> Result<Response, ApiError> {
    run(&state, caller, Intent::SetEnforcement(body.enforce_mfa)).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    limit: Option<i64>,
    /// The `next` of the page before: records older than its last one.
    before: Option<String>,
    actor: Option<String>,
    action: Option<String>,
    /// `allowed` or `denied`.
    outcome: Option<String>,
    /// RFC 3339 times: from `since` (inclusive) to `until` (exclusive).
    since: Option<String>,
    until: Option<String>,
}

impl AuditQuery {
    /// The filter it asks for, or which parameter is wrong and why.
    fn filter(self) -> Result<(AuditFilter, i64), ApiError> {
        let invalid = |field: &str, message: String| ApiError::Invalid {
            field: field.into(),
            message,
        };
        let limit = self.limit.unwrap_or(100);
        if !(1..=1000).contains(&limit) {
            return Err(invalid("limit", "must be between 1 and 1000".into()));
        }
        let time = |field: &str, value: Option<String>| {
            value
                .map(|v| {
                    OffsetDateTime::parse(&v, &Rfc3339)
                        .map(millis)
                        .map_err(|e| invalid(field, format!("`{v}` is not an RFC 3339 time: {e}")))
                })
                .transpose()
        };
        let allowed = match self.outcome.as_deref() {
            None => None,
            Some("allowed") => Some(true),
            Some("denied") => Some(false),
            Some(other) => {
                return Err(invalid(
                    "outcome",
                    format!("`{other}` is neither `allowed` nor `denied`"),
                ));
            }
        };
        let before = self
            .before
            .map(|cursor| {
                parse_cursor(&cursor).ok_or_else(|| {
                    invalid(
                        "before",
                        format!("`{cursor}` is not a cursor this API gave (the `next` of a page)"),
                    )
                })
            })
            .transpose()?;
        let filter = AuditFilter {
            actor: self.actor,
            action: self.action,
            allowed,
            since: time("since", self.since)?,
            until: time("until", self.until)?,
            before,
        };
        Ok((filter, limit))
    }
}

/// A page cursor: the last record's time (ms) and id, as `<ms>.<id>`.
fn cursor((at, id): &(i64, String)) -> String {
    format!("{at}.{id}")
}

fn parse_cursor(text: &str) -> Option<(i64, String)> {
    let (at, id) = text.split_once('.')?;
    let uuid = uuid::Uuid::parse_str(id).ok()?;
    Some((at.parse().ok()?, uuid.to_string()))
}

/// GET /api/audit: the organization's audit log, newest first, a page at a
/// time (`next` is the cursor of the older page), filtered by actor,
/// action, outcome and time (roots).
pub async fn audit(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::Invalid {
        field: "(query)".into(),
        message: e.body_text(),
    })?;
    let (filter, limit) = query.filter()?;
    // A support agent reads the support desk's trail, a root its
    // organization's: each under its own action.
    let route = match caller.user.user.role {
        mfa_reset::api::Role::SupportAgent => "view_support_desk",
        _ => "read_organization_audit",
    };
    let decided = decisions::decide(&state, caller, &Intent::Route(route.into())).await?;
    if !decided.decision.allowed {
        return Ok(respond(decided));
    }
    let organization = decided
        .caller
        .as_ref()
        .map(|u| u.organization.id.clone())
        .unwrap_or_default();
    let page = state.store.audit(&organization, &filter, limit).await?;
    Ok(Json(json!({
        "decision_id": decided.decision_id,
        "records": page.records,
        "next": page.next.as_ref().map(cursor),
    }))
    .into_response())
}
