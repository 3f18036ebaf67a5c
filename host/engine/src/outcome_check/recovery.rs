//! The same distrust for a support desk's case step (R14): an allow changes
//! the case exactly as the step says (approved by the caller, ticket issued
//! now, cancelled, redeemed) and nothing else; only a redemption changes
//! the account — authenticator removed, enrolment due, every session ended
//! — and a denial changes nothing. Every step is audited in the account's
//! organization, as the caller's (the cancel link's when it has none).

use super::{ExpectedAudit, Fault};
use crate::bindings::types::{
    CaseState, MfaStatus, RecoveryAction, RecoveryCase, RecoveryOutcome, RecoveryRequest,
    SessionEffect,
};

/// The audit trail's actor for a case's cancel link (the guest's name).
const CANCEL_LINK_ACTOR: &str = "cancel-link";

/// What no policy set may allow whatever its numbers, held here too so a
/// misbehaving component cannot: a step on a closed case, an approval by
/// the opener or the account, an approval or a ticket after the ticket, a
/// redemption before the ticket or by anyone but the account. (The
/// waiting periods and the second agent are the policies' numbers, proven
/// by the support-desk guardrail.)
fn impossible(request: &RecoveryRequest) -> Option<&'static str> {
    let case = &request.case;
    let caller_is_account = request
        .caller
        .as_ref()
        .is_some_and(|c| c.id == case.account.id && c.role == case.account.role);
    if matches!(case.state, CaseState::Cancelled | CaseState::Redeemed) {
        return Some("the case is closed");
    }
    match request.action {
        RecoveryAction::ApproveCase => {
            let opener = request
                .caller
                .as_ref()
                .is_some_and(|c| c.id == case.opened_by);
            if opener || caller_is_account {
                return Some("approved by its opener or its account");
            }
            if case.state != CaseState::Open || case.approved_by.is_some() {
                return Some("approved twice, or after its ticket");
            }
        }
        RecoveryAction::IssueTicket if case.state != CaseState::Open => {
            return Some("a second ticket");
        }
        RecoveryAction::RedeemTicket => {
            if case.state != CaseState::TicketIssued {
                return Some("redeemed without a ticket");
            }
            if !caller_is_account {
                return Some("redeemed by another account");
            }
        }
        _ => {}
    }
    None
}

/// Why `outcome` cannot be the answer to `request`; `action` as the host
/// names it ([`crate::RecoveryAction::cedar_name`]).
pub fn check_recovery(
    request: &RecoveryRequest,
    outcome: &RecoveryOutcome,
    action: &str,
) -> Result<(), Fault> {
    let decision = &outcome.decision;
    super::check_decision(decision)?;
    let case = &request.case;
    if let Some(why) = impossible(request).filter(|_| decision.allowed) {
        return Err(Fault::ImpossibleStep {
            action: action.into(),
            why,
        });
    }
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
            if !super::is_fresh(&change.authenticator) {
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
    ExpectedAudit {
        actor,
        organization: &case.account.organization.id,
        target: &case.account.id,
        action,
        at: request.now,
    }
    .check(audit, decision)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::types::{
        AuditRecord, Authenticator, Decision, IdentityCheck, Organization, Role, Session, TotpKey,
        User, UserChange,
    };

    fn gina() -> User {
        User {
            id: "gina".into(),
            role: Role::SubUser,
            organization: Organization {
                id: "globex".into(),
                enforce_mfa: false,
            },
            mfa: MfaStatus::Active,
            active: true,
        }
    }

    fn empty() -> Authenticator {
        Authenticator {
            pending: None,
            active: None,
            last_accepted_step: None,
            failures: 0,
            locked_until: None,
            recovery_codes: None,
        }
    }

    /// An allowed redemption of gina's ticket, as the contract has it.
    fn redemption() -> (RecoveryRequest, RecoveryOutcome) {
        let case = RecoveryCase {
            id: "case-1".into(),
            account: gina(),
            opened_by: "sam".into(),
            opened_at: 0,
            checks: vec![IdentityCheck::ConfirmedByRoot],
            approved_by: None,
            state: CaseState::TicketIssued,
            ticket_issued_at: Some(1_000),
        };
        let request = RecoveryRequest {
            caller: Some(gina()),
            session: Session {
                login_at: 2_000,
                last_activity_at: 2_000,
                mfa_satisfied: false,
                recovery_code_login: false,
            },
            now: 2_000,
            account_has_active_session: false,
            action: RecoveryAction::RedeemTicket,
            case: case.clone(),
        };
        let decision = Decision {
            allowed: true,
            policy_ids: vec!["holder-acts-on-own-case".into()],
            denial_code: None,
            message: "reset".into(),
            errors: Vec::new(),
        };
        let outcome = RecoveryOutcome {
            case: RecoveryCase {
                state: CaseState::Redeemed,
                ..case
            },
            account: Some(UserChange {
                user: User {
                    mfa: MfaStatus::EnrolmentDue,
                    ..gina()
                },
                authenticator: empty(),
            }),
            sessions: SessionEffect::EndSessionsOfUser,
            audit: AuditRecord {
                at: 2_000,
                actor: "gina".into(),
                organization: "globex".into(),
                action: "redeem_recovery_ticket".into(),
                target: "gina".into(),
                allowed: true,
                policy_ids: decision.policy_ids.clone(),
                denial_code: None,
            },
            decision,
        };
        (request, outcome)
    }

    /// R14: a redemption that keeps the authenticator or MFA, leaves
    /// sessions alive, changes another account, leaves the case open, or
    /// is audited as someone else is refused; so is a denial that changes
    /// the case.
    #[test]
    fn r14_a_redemption_is_exactly_what_the_contract_says() {
        let (request, outcome) = redemption();
        let check = |o: &RecoveryOutcome| check_recovery(&request, o, "redeem_recovery_ticket");
        check(&outcome).unwrap();
        type Edit = fn(&mut RecoveryOutcome);
        let edits: [(&str, Edit); 7] = [
            ("mfa kept", |o| {
                o.account.as_mut().unwrap().user.mfa = MfaStatus::Active
            }),
            ("a planted key", |o| {
                o.account.as_mut().unwrap().authenticator.active = Some(TotpKey {
                    secret: vec![1; 20],
                    digits: 6,
                    period: 30,
                })
            }),
            ("another account", |o| {
                o.account.as_mut().unwrap().user.id = "gus".into()
            }),
            ("sessions kept", |o| o.sessions = SessionEffect::None),
            ("case left usable", |o| {
                o.case.state = CaseState::TicketIssued
            }),
            ("approval forged", |o| {
                o.case.approved_by = Some("sam".into())
            }),
            ("another actor", |o| o.audit.actor = "sam".into()),
        ];
        for (what, edit) in edits {
            let mut changed = redemption().1;
            edit(&mut changed);
            assert!(check(&changed).is_err(), "{what} passed");
        }
        let mut denied = redemption().1;
        denied.decision.allowed = false;
        denied.decision.denial_code = Some("case-closed".into());
        denied.account = None;
        denied.sessions = SessionEffect::None;
        denied.audit.allowed = false;
        denied.audit.denial_code = Some("case-closed".into());
        assert!(check(&denied).is_err(), "a denial that redeems the case");
        denied.case.state = CaseState::TicketIssued;
        check(&denied).unwrap();

        // An allowed redemption by someone else, or of a case without a
        // ticket, whatever the answer looks like.
        let (mut other, outcome) = redemption();
        other.caller.as_mut().unwrap().id = "gus".into();
        let err = check_recovery(&other, &outcome, "redeem_recovery_ticket").unwrap_err();
        assert!(matches!(err, Fault::ImpossibleStep { .. }), "{err}");
        let (mut early, _) = redemption();
        early.case.state = CaseState::Open;
        early.case.ticket_issued_at = None;
        let err = check_recovery(&early, &outcome, "redeem_recovery_ticket").unwrap_err();
        assert!(matches!(err, Fault::ImpossibleStep { .. }), "{err}");
        // A lock left on the new authenticator keeps the account locked out.
        let mut locked = redemption().1;
        locked.account.as_mut().unwrap().authenticator.locked_until = Some(i64::MAX);
        assert!(check(&locked).is_err(), "a lock kept");
    }
}
