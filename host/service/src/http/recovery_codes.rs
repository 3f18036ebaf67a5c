//! R15: recovery codes — a login with one instead of the authenticator's
//! code, and a new set from a session the policies allow it. The codes are
//! made, checked and hashed in the component; they are answered once and
//! never logged, audited or notified (only how many are left).

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::app::AppState;
use crate::decisions::caller::{self, Caller};
use crate::decisions::retry;
use crate::error::ApiError;
use crate::http::json_body::{ApiJson, NoParameters};
use crate::http::login::{
    CodeBody, CodeKind, check_code, commit_step, not_due, record_login_step, step_denied, throttled,
};
use crate::store::AuditEntry;
use mfa_reset::api::{RecoveryCodesRequest, SessionEffect};
use mfa_reset::log_text::Shown;

/// POST /api/login/recovery-code: a recovery code instead of the code from
/// the authenticator (`use_recovery_code`). Throttled like codes, and a
/// wrong one counts towards the same lockout; the session it finishes may
/// do only what the policies allow such a login.
pub async fn login(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CodeBody>,
) -> Result<Response, ApiError> {
    throttled(&state, caller, "use_recovery_code", async |caller| {
        check_code(&state, caller, &body.code, CodeKind::RecoveryCode).await
    })
    .await
}

/// POST /api/me/recovery-codes: a new set (`regenerate_recovery_codes`);
/// the old codes are void, and every other session of the user ends. The
/// new ones are in this answer only.
pub async fn regenerate(
    State(state): State<AppState>,
    caller: Caller,
    _: NoParameters,
) -> Result<Response, ApiError> {
    throttled(
        &state,
        caller,
        "regenerate_recovery_codes",
        async |caller| new_set(&state, caller).await,
    )
    .await
}

async fn new_set(state: &AppState, caller: Caller) -> Result<Response, ApiError> {
    let _queued = caller::queue_for_org(state, &caller).await;
    let caller = &caller;
    retry::on_conflict(|_| async move {
        let caller = caller::reload(state, caller).await?;
        let now = caller.now(&state.config.clock);
        let request = RecoveryCodesRequest {
            user: caller.user.user.clone(),
            session: caller.session(),
            authenticator: state.store.authenticator(&caller.user)?,
            now,
        };
        let answer = state
            .engine_call(move |engine| engine.regenerate_recovery_codes(&request))
            .await?
            .map_err(not_due)?;
        let decision_id = uuid::Uuid::new_v4().to_string();
        let mut audit = AuditEntry::new(answer.audit.clone(), decision_id.clone());
        record_login_step(state, &decision_id, &answer.audit);
        if !answer.decision.allowed {
            state.store.audit_only(&[audit]).await?;
            return Ok(step_denied(decision_id, answer.decision));
        }
        let left = answer.authenticator.recovery_codes_left();
        audit.detail = Some(json!({ "recovery_codes_left": left }));
        let stored = (&caller.user.user, &answer.authenticator);
        // A session opened with a code of the old set (a stolen one) ends.
        let end_others = answer.sessions == SessionEffect::EndOtherSessionsOfUser;
        commit_step(state, &caller, stored, audit, now, None, end_others).await?;
        tracing::info!(user = %Shown(&caller.user.user.id), "recovery codes regenerated");
        Ok(Json(json!({
            "decision_id": decision_id,
            "recovery_codes": answer.codes.0,
            "recovery_codes_left": left,
            "message": "New recovery codes: save them now, they are not shown again. The old ones no longer work, and your other sessions have ended.",
        }))
        .into_response())
    })
    .await
}
