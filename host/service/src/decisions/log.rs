//! Deciding on the engine and recording the decision: metrics, the log
//! line, and the decision log when one is configured.

use std::time::Instant;

use crate::app::AppState;
use crate::error::ApiError;
use crate::policy::decision_log::RecordedDecision;
use mfa_reset::api::{Action, Outcome, Request};
use mfa_reset::log_text::Shown;
use mfa_reset::timestamp::to_millis as millis;

/// The component decides `request` (a route or session decision on the
/// request's own worker when an instance is free, others on the blocking
/// pool); the decision goes to the log and, if configured, the decision
/// log.
pub(super) async fn decide_and_log(
    state: &AppState,
    request: Request,
    decision_id: &str,
    unknown_target: bool,
) -> Result<Outcome, ApiError> {
    let started = Instant::now();
    let (request, outcome) = match request.action {
        Action::AccessRoute(_) | Action::ViewOwnSession => state.decide_short(request).await?,
        _ => {
            state
                .engine_call(move |engine| {
                    let outcome = engine.decide(&request);
                    (request, outcome)
                })
                .await?
        }
    };
    let outcome = outcome?;
    log_decision(
        state,
        &request,
        &outcome,
        decision_id,
        started,
        unknown_target,
    );
    Ok(outcome)
}

fn log_decision(
    state: &AppState,
    request: &Request,
    outcome: &Outcome,
    decision_id: &str,
    started: Instant,
    unknown_target: bool,
) {
    let elapsed = started.elapsed().as_secs_f64();
    let action = request.action.cedar_name();
    let d = &outcome.decision;
    state
        .metrics
        .decision(action, d.allowed, d.denial_code.as_deref(), elapsed);
    if let Some(log) = &state.decision_log {
        log.record(|| {
            // A listing's decision depends on the organization, not on its
            // users: the log keeps the request without them (uncopied).
            let mut request = Request {
                action: match &request.action {
                    Action::ListUsers(_) => Action::ListUsers(Vec::new()),
                    other => other.clone(),
                },
                actor: request.actor.clone(),
                session: request.session,
                now: request.now,
            };
            // An id that names no user is the caller's free text: kept as
            // unknown, like the audit log (the policies see its organization).
            if let Action::ResetUserMfa(u) | Action::EnableUserMfa(u) | Action::DisableUserMfa(u) =
                &mut request.action
                && unknown_target
            {
                u.id = "(unknown)".into();
            }
            RecordedDecision {
                id: decision_id.to_string(),
                at: millis(request.now),
                action: action.to_string(),
                actor: request.actor.id.clone(),
                organization: request.actor.organization.id.clone(),
                allowed: d.allowed,
                denial_code: d.denial_code.clone(),
                policy_revision: outcome.policy_revision.clone(),
                request: Some(request),
                unreadable: None,
            }
        });
    }
    tracing::info!(
        decision_id,
        actor = %Shown(&request.actor.id),
        organization = %Shown(&request.actor.organization.id),
        action,
        allowed = d.allowed,
        denial_code = d.denial_code.as_deref().unwrap_or(""),
        policy_ids = %d.policy_ids.join(","),
        policy_revision = %outcome.policy_revision,
        micros = (elapsed * 1e6) as u64,
        "decision"
    );
}
