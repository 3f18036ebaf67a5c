//! A step of a support desk's recovery case (R14): the policies decide it
//! like every other request, and an allow means one fixed change of the
//! case — approved by the caller, its ticket issued now, cancelled, or
//! redeemed, which removes the account's authenticator and makes
//! enrolment due (R6's end state), ending every session of the account.

use crate::cedar_request::{self, RecoveryQuery, RequestBuilder};
use crate::decide::{evaluate_query, not_applicable};
use crate::mfa_reset::engine::types::{
    AuditRecord, CaseState, Decision, MfaStatus, RecoveryAction, RecoveryCase, RecoveryOutcome,
    RecoveryRequest, RequestError, SessionEffect, User, UserChange,
};
use crate::policy_store::PolicyStore;
use crate::request_check::{check_id, check_session, check_user, error};
use crate::transition::fresh_authenticator;

/// The audit trail's actor for a case's cancel link.
pub const CANCEL_LINK_ACTOR: &str = "cancel-link";

/// The Cedar action a step asks for.
pub fn action_name(action: RecoveryAction) -> &'static str {
    match action {
        RecoveryAction::OpenCase => "open_recovery_case",
        RecoveryAction::ApproveCase => "approve_recovery_case",
        RecoveryAction::IssueTicket => "issue_recovery_ticket",
        RecoveryAction::CancelCase => "cancel_recovery_case",
        RecoveryAction::CancelByLink => "cancel_recovery_case_by_link",
        RecoveryAction::RedeemTicket => "redeem_recovery_ticket",
    }
}

/// The Cedar question of `request`.
pub fn query(request: &RecoveryRequest) -> RecoveryQuery<'_> {
    RecoveryQuery {
        caller: request.caller.as_ref(),
        action: action_name(request.action),
        case: &request.case,
        session: &request.session,
        account_has_active_session: request.account_has_active_session,
        now: request.now,
    }
}

fn check(request: &RecoveryRequest, names: &RequestBuilder) -> Result<(), RequestError> {
    let case = &request.case;
    check_id("case.id", &case.id)?;
    check_user("case.account", &case.account)?;
    check_id("case.opened-by", &case.opened_by)?;
    if let Some(approver) = &case.approved_by {
        check_id("case.approved-by", approver)?;
    }
    cedar_request::datetime(case.opened_at).map_err(|e| error("case.opened-at", e))?;
    if let Some(at) = case.ticket_issued_at {
        cedar_request::datetime(at).map_err(|e| error("case.ticket-issued-at", e))?;
    }
    let issued = case.ticket_issued_at.is_some();
    let consistent = match case.state {
        CaseState::Open => !issued,
        CaseState::TicketIssued | CaseState::Redeemed => issued,
        CaseState::Cancelled => true,
    };
    if !consistent {
        return Err(error(
            "case.ticket-issued-at",
            format!(
                "a case in state {:?} {} a ticket issue time",
                case.state,
                if issued { "cannot have" } else { "needs" }
            ),
        ));
    }
    match (&request.caller, request.action) {
        (None, RecoveryAction::CancelByLink) => {
            cedar_request::datetime(request.now).map_err(|e| error("now", e))?;
        }
        (None, _) => {
            return Err(error(
                "caller",
                "is required: only `cancel-by-link` has no caller",
            ));
        }
        (Some(_), RecoveryAction::CancelByLink) => {
            return Err(error(
                "caller",
                "must be none for `cancel-by-link`: the link is the caller",
            ));
        }
        (Some(caller), _) => {
            check_user("caller", caller)?;
            check_session(&request.session, request.now)?;
            // One Cedar principal, one record: a root and a sub-user are
            // both `User::"id"`, so the id and the kind decide "the same
            // account", and then every field must agree.
            if names.account(caller) == names.account(&case.account) && *caller != case.account {
                return Err(error(
                    "caller",
                    format!(
                        "`{}` is the case's account but its record differs from `case.account`",
                        caller.id
                    ),
                ));
            }
        }
    }
    if request.action == RecoveryAction::OpenCase {
        let as_opened = case.state == CaseState::Open
            && case.approved_by.is_none()
            && case.opened_at == request.now
            && request.caller.as_ref().map(|c| c.id.as_str()) == Some(case.opened_by.as_str());
        if !as_opened {
            return Err(error(
                "case",
                "a case to open must be as it would be opened: state open, opened by the caller at `now`, not approved",
            ));
        }
    }
    Ok(())
}

pub fn decide(
    store: &PolicyStore,
    request: &RecoveryRequest,
) -> Result<RecoveryOutcome, RequestError> {
    check(request, &store.names)?;
    let query = query(request);
    let decision = if store
        .names
        .applies_to_case(query.action, request.caller.as_ref())
    {
        let cedar = cedar_request::build_recovery(&store.names, &query, None)
            .map_err(|message| error("request", message))?;
        evaluate_query(store, query.action, &cedar, None)
    } else {
        not_applicable()
    };
    let (case, account, sessions, message) = if decision.allowed {
        apply(request)
    } else {
        (request.case.clone(), None, SessionEffect::None, None)
    };
    let decision = match message {
        Some(message) => Decision {
            message: message.into(),
            ..decision
        },
        None => decision,
    };
    let audit = AuditRecord {
        at: request.now,
        actor: request
            .caller
            .as_ref()
            .map_or(CANCEL_LINK_ACTOR.to_string(), |c| c.id.clone()),
        organization: request.case.account.organization.id.clone(),
        action: query.action.to_string(),
        target: request.case.account.id.clone(),
        allowed: decision.allowed,
        policy_ids: decision.policy_ids.clone(),
        denial_code: decision.denial_code.clone(),
    };
    Ok(RecoveryOutcome {
        decision,
        case,
        account,
        sessions,
        audit,
    })
}

type Applied = (
    RecoveryCase,
    Option<UserChange>,
    SessionEffect,
    Option<&'static str>,
);

/// The case's new state after an allowed step, and the account's.
fn apply(request: &RecoveryRequest) -> Applied {
    let case = request.case.clone();
    let with_state = |state| RecoveryCase {
        state,
        ..case.clone()
    };
    match request.action {
        RecoveryAction::OpenCase => (
            case.clone(),
            None,
            SessionEffect::None,
            Some(
                "Case opened: the account holder and their organization's root are notified and can cancel it.",
            ),
        ),
        RecoveryAction::ApproveCase => (
            RecoveryCase {
                approved_by: request.caller.as_ref().map(|c| c.id.clone()),
                ..case.clone()
            },
            None,
            SessionEffect::None,
            Some("Case approved."),
        ),
        RecoveryAction::IssueTicket => (
            RecoveryCase {
                state: CaseState::TicketIssued,
                ticket_issued_at: Some(request.now),
                ..case.clone()
            },
            None,
            SessionEffect::None,
            Some("Ticket issued: it goes to the account holder only."),
        ),
        RecoveryAction::CancelCase | RecoveryAction::CancelByLink => (
            with_state(CaseState::Cancelled),
            None,
            SessionEffect::None,
            Some("Case cancelled: it will never recover the account."),
        ),
        RecoveryAction::RedeemTicket => (
            with_state(CaseState::Redeemed),
            Some(UserChange {
                user: User {
                    mfa: MfaStatus::EnrolmentDue,
                    ..case.account.clone()
                },
                authenticator: fresh_authenticator(),
            }),
            SessionEffect::EndSessionsOfUser,
            Some("Your MFA has been reset: set up a new authenticator app now."),
        ),
    }
}

#[cfg(test)]
mod tests;
