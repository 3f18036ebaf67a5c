//! The same distrust for a support desk's case step (R14): an allow changes
//! the case exactly as the step says (approved by the caller, ticket issued
//! now, cancelled, redeemed) and nothing else; only a redemption changes
//! the account — authenticator removed, enrolment due, every session ended
//! — and a denial changes nothing. Every step is audited in the account's
//! organization, as the caller's (the cancel link's when it has none).

use super::Fault;
use crate::bindings::types::{
    CaseState, MfaStatus, RecoveryAction, RecoveryCase, RecoveryOutcome, RecoveryRequest,
    SessionEffect,
};

/// The audit trail's actor for a case's cancel link (the guest's name).
const CANCEL_LINK_ACTOR: &str = "cancel-link";

/// Why `outcome` cannot be the answer to `request`; `action` as the host
/// names it ([`crate::RecoveryAction::cedar_name`]).
pub fn check_recovery(
    request: &RecoveryRequest,
    outcome: &RecoveryOutcome,
    action: &str,
) -> Result<(), Fault> {
    let decision = &outcome.decision;
    if decision.allowed == decision.denial_code.is_some() {
        return Err(Fault::AllowedWithCode {
            allowed: decision.allowed,
            denial_code: decision.denial_code.clone(),
        });
    }
    if decision.allowed && decision.policy_ids.is_empty() {
        return Err(Fault::AllowWithoutPolicy);
    }
    let case = &request.case;
    let expected_case = match (request.action, decision.allowed) {
        (_, false) | (RecoveryAction::OpenCase, true) => case.clone(),
        (RecoveryAction::ApproveCase, true) => RecoveryCase {
            approved_by: request.caller.as_ref().map(|c| c.id.clone()),
            ..case.clone()
        },
        (RecoveryAction::IssueTicket, true) => RecoveryCase {
            state: CaseState::TicketIssued,
            ticket_issued_at: Some(request.now),
            ..case.clone()
        },
        (RecoveryAction::CancelCase | RecoveryAction::CancelByLink, true) => RecoveryCase {
            state: CaseState::Cancelled,
            ..case.clone()
        },
        (RecoveryAction::RedeemTicket, true) => RecoveryCase {
            state: CaseState::Redeemed,
            ..case.clone()
        },
    };
    // The generated WIT types have no `PartialEq`; their Debug form is exact.
    if format!("{:?}", outcome.case) != format!("{expected_case:?}") {
        return Err(Fault::WrongCase {
            action: action.into(),
            got: format!("{:?}", outcome.case),
        });
    }
    let redeemed = decision.allowed && request.action == RecoveryAction::RedeemTicket;
    match (&outcome.account, redeemed) {
        (None, false) => {}
        (Some(change), true) => {
            let a = &change.user;
            let b = &case.account;
            let same_account = a.id == b.id
                && a.role == b.role
                && a.organization.id == b.organization.id
                && a.organization.enforce_mfa == b.organization.enforce_mfa
                && a.active == b.active;
            if !same_account || a.mfa != MfaStatus::EnrolmentDue {
                return Err(Fault::WrongCase {
                    action: action.into(),
                    got: format!("account {a:?}"),
                });
            }
            let key = &change.authenticator;
            if key.pending.is_some() || key.active.is_some() {
                return Err(Fault::PlantedAuthenticator {
                    action: action.into(),
                });
            }
        }
        (got, _) => {
            return Err(Fault::WrongCase {
                action: action.into(),
                got: format!("account {got:?}"),
            });
        }
    }
    let expected_sessions = if redeemed {
        SessionEffect::EndSessionsOfUser
    } else {
        SessionEffect::None
    };
    if outcome.sessions != expected_sessions {
        return Err(Fault::WrongSessions {
            action: action.into(),
            got: format!("{:?}", outcome.sessions),
            expected: format!("{expected_sessions:?}"),
        });
    }
    let audit = &outcome.audit;
    let actor = request
        .caller
        .as_ref()
        .map_or(CANCEL_LINK_ACTOR, |c| c.id.as_str());
    if audit.actor != actor
        || audit.organization != case.account.organization.id
        || audit.target != case.account.id
        || audit.action != action
        || audit.at != request.now
        || audit.allowed != decision.allowed
        || audit.policy_ids != decision.policy_ids
        || audit.denial_code != decision.denial_code
    {
        return Err(Fault::WrongAudit {
            found: format!(
                "{} {} on `{}` in `{}`, allowed {}",
                audit.actor, audit.action, audit.target, audit.organization, audit.allowed
            ),
            expected: format!(
                "{actor} {action} on `{}` in `{}`) and decision (allowed {}",
                case.account.id, case.account.organization.id, decision.allowed
            ),
        });
    }
    Ok(())
}
