//! One step of a recovery case: the component decides it, and its outcome
//! commits in one transaction — the case's new state (compare and swap on
//! its version), the account's when a ticket is redeemed, the audit rows in
//! the account's organization and in the support desk's, the step's
//! notifications. A step decided on a case or account that moved since is
//! decided again.

use std::time::Instant;

use serde_json::json;

use crate::accounts::SUPPORT_DESK;
use crate::app::AppState;
use crate::decisions::caller::Caller;
use crate::error::ApiError;
use crate::policy::decision_log::RecordedDecision;
use crate::store::{AuditEntry, CaseWrite, Commit, Event, SessionUse, SessionsChange, StoredUser};
use mfa_reset::api::{
    RecoveryAction, RecoveryCase, RecoveryOutcome, RecoveryRequest, Session, SessionEffect, User,
};
use mfa_reset::log_text::Shown;
use mfa_reset::timestamp::to_millis as millis;
use time::OffsetDateTime;

/// What a decided step writes besides its outcome.
pub(super) struct StepWrites<'a> {
    /// The caller whose session the step used (none for the cancel link
    /// and a redemption, whose login opens its session after).
    pub caller: Option<&'a Caller>,
    /// The account as the decision read it.
    pub account: &'a StoredUser,
    /// The case's version as read; `None` for a new case.
    pub case_version: Option<i64>,
    pub ticket_reference: &'a str,
    pub cancel_link_hash: &'a str,
    pub ticket_hash: Option<&'a str>,
    /// Notifications of an allowed step.
    pub events: Vec<Event>,
}

/// A step asked outside a console session: by the cancel link (no
/// caller), or by a redemption, whose login starts `now`.
pub(super) fn sessionless(
    caller: Option<User>,
    action: RecoveryAction,
    case: RecoveryCase,
    now: OffsetDateTime,
) -> RecoveryRequest {
    RecoveryRequest {
        caller,
        session: Session {
            login_at: now,
            last_activity_at: now,
            mfa_satisfied: false,
            recovery_code_login: false,
        },
        now,
        account_has_active_session: false,
        action,
        case,
    }
}

/// The component decides `request`; the decision is counted, logged (no
/// request body: the decision log never holds a case's tokens) and timed.
pub(super) async fn decide(
    state: &AppState,
    request: RecoveryRequest,
    decision_id: &str,
) -> Result<RecoveryOutcome, ApiError> {
    let started = Instant::now();
    let outcome = state
        .engine_call(move |engine| engine.decide_recovery(&request))
        .await??;
    let d = &outcome.decision;
    let action = outcome.audit.action.as_str();
    state.metrics.decision(
        action,
        d.allowed,
        d.denial_code.as_deref(),
        started.elapsed().as_secs_f64(),
    );
    if let Some(log) = &state.decision_log {
        log.record(|| RecordedDecision {
            policy_revision: outcome.policy_revision.clone(),
            ..RecordedDecision::login_step(decision_id, &outcome.audit)
        });
    }
    tracing::info!(
        decision_id,
        actor = %Shown(&outcome.audit.actor),
        organization = %Shown(&outcome.audit.organization),
        case = %Shown(&outcome.case.id),
        action,
        allowed = d.allowed,
        denial_code = d.denial_code.as_deref().unwrap_or(""),
        policy_ids = %d.policy_ids.join(","),
        policy_revision = %outcome.policy_revision,
        "decision"
    );
    Ok(outcome)
}

/// The audit rows of a step (R12): the account's organization keeps it,
/// the support desk keeps a copy; each with the case, its checks and
/// approvals.
fn audit_rows(outcome: &RecoveryOutcome, decision_id: &str, reference: &str) -> Vec<AuditEntry> {
    let case = &outcome.case;
    let detail = json!({
        "case": case.id,
        "ticket_reference": reference,
        "checks": case.checks,
        "opened_by": case.opened_by,
        "approved_by": case.approved_by,
        "state": case.state,
    });
    let mut rows = vec![AuditEntry {
        detail: Some(detail.clone()),
        ..AuditEntry::new(outcome.audit.clone(), decision_id.into())
    }];
    if outcome.audit.organization != SUPPORT_DESK {
        let mut copy = outcome.audit.clone();
        copy.organization = SUPPORT_DESK.into();
        rows.push(AuditEntry {
            detail: Some(detail),
            ..AuditEntry::new(copy, decision_id.into())
        });
    }
    rows
}

/// Commits a decided step: on a denial its audit rows only.
pub(super) async fn commit(
    state: &AppState,
    outcome: &RecoveryOutcome,
    decision_id: &str,
    w: StepWrites<'_>,
) -> Result<(), ApiError> {
    let audit = audit_rows(outcome, decision_id, w.ticket_reference);
    if !outcome.decision.allowed {
        state.store.audit_only(&audit).await?;
        return Ok(());
    }
    let mut read_users = vec![(w.account.user.id.as_str(), w.account.version)];
    if let Some(caller) = w.caller
        && caller.user.user.id != w.account.user.id
    {
        read_users.push((caller.user.user.id.as_str(), caller.user.version));
    }
    let account = outcome.account.as_ref();
    let closed_by = matches!(
        outcome.case.state,
        mfa_reset::api::CaseState::Cancelled | mfa_reset::api::CaseState::Redeemed
    )
    .then_some(outcome.audit.actor.as_str());
    state
        .store
        .commit(Commit {
            read_users,
            read_organizations: vec![(
                w.account.user.organization.id.as_str(),
                w.account.organization_version,
            )],
            user: account.map(|c| (&c.user, &c.authenticator)),
            audit,
            session: w.caller.map(|c| SessionUse {
                token_hash: &c.session.token_hash,
                at: millis(outcome.audit.at),
                verified: false,
                recovery_code: false,
            }),
            sessions_change: (outcome.sessions == SessionEffect::EndSessionsOfUser).then_some(
                SessionsChange::EndAll {
                    user: &w.account.user.id,
                },
            ),
            case: Some(CaseWrite {
                case: &outcome.case,
                read_version: w.case_version,
                ticket_reference: w.ticket_reference,
                cancel_link_hash: w.cancel_link_hash,
                ticket_hash: w.ticket_hash,
                closed_by,
            }),
            events: w.events,
            ..Commit::default()
        })
        .await?;
    Ok(())
}
