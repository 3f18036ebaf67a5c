//! Questions the support desk asks the policies without acting: nothing
//! here is committed, audited or logged.

use time::{Duration, OffsetDateTime};

use crate::app::AppState;
use crate::error::ApiError;
use crate::store::StoredUser;
use mfa_reset::api::{
    Action, CaseState, MfaStatus, RecoveryAction, RecoveryCase, RecoveryRequest, Request, Role,
    Session, User,
};

/// Whether the account still has a session from which its holder could
/// reset their own MFA (R6) — a case would then be refused. The policies
/// decide, for each stored session, as of `now`: their session limits,
/// not a number here. For a support agent, a session that may use the
/// support desk.
pub(super) async fn has_active_session(
    state: &AppState,
    account: &StoredUser,
    now: OffsetDateTime,
) -> Result<bool, ApiError> {
    let sessions = state.store.sessions_of_user(&account.user.id).await?;
    if sessions.is_empty() {
        return Ok(false);
    }
    // A session from which its holder could reset their MFA, or use the
    // console at all (an account without MFA has nothing to reset).
    let actions = match account.user.role {
        Role::SupportAgent => vec![Action::AccessRoute("view_support_desk".into())],
        Role::Root | Role::SubUser => vec![
            Action::ResetOwnMfa,
            Action::AccessRoute("access_console".into()),
        ],
    };
    let requests: Vec<Request> = sessions
        .iter()
        .flat_map(|s| {
            actions.iter().map(move |action| Request {
                actor: account.user.clone(),
                session: Session {
                    login_at: crate::store::time_of(s.login_at),
                    last_activity_at: crate::store::time_of(s.last_activity_at),
                    mfa_satisfied: s.mfa_satisfied,
                    recovery_code_login: s.recovery_code_login,
                },
                now: now.max(crate::store::time_of(s.last_activity_at)),
                action: action.clone(),
            })
        })
        .collect();
    let answers = state
        .engine_call(move |engine| engine.decide_batch(&requests))
        .await??;
    Ok(answers
        .into_iter()
        .any(|a| a.is_ok_and(|o| o.decision.allowed)))
}

/// The furthest ahead a ticket's readiness is looked for.
const HORIZON: Duration = Duration::days(30);

/// When the policies would first let an agent other than the opener issue
/// the ticket of `case`, had a second agent approved it: the end of its
/// waiting period, to the minute, as the policies set it. `None` when no
/// time within 30 days would do (the account is deactivated, say).
pub(super) async fn ticket_ready_at(
    state: &AppState,
    case: &RecoveryCase,
    now: OffsetDateTime,
) -> Result<Option<OffsetDateTime>, ApiError> {
    const PROBE: &str = crate::accounts::SUPPORT_DESK_PROBE;
    let probe_agent = User {
        id: PROBE.into(),
        role: Role::SupportAgent,
        organization: mfa_reset::api::Organization {
            id: crate::accounts::SUPPORT_DESK.into(),
            enforce_mfa: true,
        },
        mfa: MfaStatus::Active,
        active: true,
    };
    let approved = RecoveryCase {
        approved_by: Some(PROBE.into()),
        state: CaseState::Open,
        ticket_issued_at: None,
        ..case.clone()
    };
    let start = now.max(case.opened_at);
    let allowed_at = |minutes: i64| {
        let at = start + Duration::minutes(minutes);
        RecoveryRequest {
            caller: Some(probe_agent.clone()),
            session: Session {
                login_at: at,
                last_activity_at: at,
                mfa_satisfied: true,
                recovery_code_login: false,
            },
            now: at,
            account_has_active_session: false,
            action: RecoveryAction::IssueTicket,
            case: approved.clone(),
        }
    };
    let allowed = async |minutes: i64| -> Result<bool, ApiError> {
        let request = allowed_at(minutes);
        let outcome = state
            .engine_call(move |engine| engine.decide_recovery(&request))
            .await??;
        Ok(outcome.decision.allowed)
    };
    if allowed(0).await? {
        return Ok(Some(start));
    }
    let (mut low, mut high) = (0, HORIZON.whole_minutes());
    if !allowed(high).await? {
        return Ok(None);
    }
    // Denied at `low`, allowed at `high`: the waiting period ends between.
    while high - low > 1 {
        let mid = (low + high) / 2;
        if allowed(mid).await? {
            high = mid;
        } else {
            low = mid;
        }
    }
    Ok(Some(start + Duration::minutes(high)))
}
