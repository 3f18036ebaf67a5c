//! The host does not take the component's word for what an allow means.
//! The WIT contract fixes the shape of every allowed answer: which user or
//! organization changes and to what (a reset or an enable makes enrolment
//! due, a disable turns MFA off, and every change starts the authenticator
//! afresh), which sessions end, which users a listing holds, and the audit
//! record of the request. An answer that breaks it — an allow no policy
//! made, a change to someone the request did not name, a planted
//! authenticator, sessions left alive after a reset, an audit record of
//! someone else — is refused before any host acts on it, and the instance
//! that produced it is discarded. Which requests are allowed is the
//! policies' to say; pinning the component's sha256 is what guards that.

use crate::bindings::types::{
    Action, AuditRecord, Authenticator, Change, Decision, MfaStatus, Outcome, Request,
    SessionEffect, User,
};

mod provisioning;
mod recovery;
mod recovery_codes;
pub use provisioning::check_provisioning;
pub use recovery::check_recovery;
pub use recovery_codes::{check_recovery_code, check_regeneration};

/// Why an answer cannot be the answer to its request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Fault {
    #[error("allowed is {allowed} but the denial code is {denial_code:?}")]
    AllowedWithCode {
        allowed: bool,
        denial_code: Option<String>,
    },
    #[error("an allow that no policy made")]
    AllowWithoutPolicy,
    #[error("a denial that changes state, sessions or lists users")]
    DenialWithEffects,
    #[error("an allowed {action} without the user's new state")]
    NoNewState { action: String },
    #[error(
        "a change of user `{changed}` ({changed_organization}) for a request about `{target}` ({target_organization})"
    )]
    OtherUser {
        changed: String,
        changed_organization: String,
        target: String,
        target_organization: String,
    },
    #[error("{action} leading to MFA {got}, not {expected}")]
    WrongMfa {
        action: String,
        got: String,
        expected: String,
    },
    #[error(
        "{action} that turns user `{user}` active={active}: only operators and identity providers (de)activate users"
    )]
    Activation {
        action: String,
        user: String,
        active: bool,
    },
    #[error("{answered} answers to a batch of {asked} requests")]
    WrongBatch { asked: usize, answered: usize },
    #[error("{action} leading to user {got}, not what the contract allows")]
    WrongProvisioning { action: String, got: String },
    #[error("{action} leading to {got}, not what the step allows")]
    WrongCase { action: String, got: String },
    #[error("an allowed {action} that no case in this state allows: {why}")]
    ImpossibleStep { action: String, why: &'static str },
    #[error("{action} that keeps or plants an authenticator")]
    PlantedAuthenticator { action: String },
    #[error("{action} that {why}")]
    WrongRecoveryCodes { action: String, why: &'static str },
    #[error("an enforcement change that is not `{organization}` to {on}")]
    OtherEnforcement { organization: String, on: bool },
    #[error("user `{user}` in the listing was not in the request")]
    StrangerListed { user: String },
    #[error("a listing that is not the request's users as stored")]
    WrongListing,
    #[error("{action} with session effect {got}, not {expected}")]
    WrongSessions {
        action: String,
        got: String,
        expected: String,
    },
    #[error("{action} changes nothing, but the answer does")]
    ChangeForRead { action: String },
    #[error("users in the answer to an action that lists none")]
    UnaskedListing,
    #[error("a decision about a state change without its audit record (R12)")]
    NoAudit,
    #[error("an audit record for a read")]
    AuditForRead,
    #[error("the audit record ({found}) does not match the request ({expected})")]
    WrongAudit { found: String, expected: String },
}

/// Why `outcome` cannot be the answer to `request`, if it cannot. `action`
/// is the request's Cedar action as the host names it
/// ([`crate::Action::cedar_name`]), never as the guest does: the guest's
/// naming is one of the things checked.
pub fn check(request: &Request, outcome: &Outcome, action: &str) -> Result<(), Fault> {
    let decision = &outcome.decision;
    check_decision(decision)?;
    if decision.allowed {
        check_effects(request, outcome, action)?;
    } else if outcome.change.is_some()
        || !outcome.users.is_empty()
        || outcome.sessions != SessionEffect::None
    {
        return Err(Fault::DenialWithEffects);
    }
    check_audit(request, outcome, action)
}

/// A decision of any call: an allow carries no denial code and was made
/// by a policy; a denial carries a code.
fn check_decision(decision: &Decision) -> Result<(), Fault> {
    if decision.allowed == decision.denial_code.is_some() {
        return Err(Fault::AllowedWithCode {
            allowed: decision.allowed,
            denial_code: decision.denial_code.clone(),
        });
    }
    if decision.allowed && decision.policy_ids.is_empty() {
        return Err(Fault::AllowWithoutPolicy);
    }
    Ok(())
}

/// The user a state change is about, and whether the caller changes itself.
fn changed_user(request: &Request) -> Option<(&User, bool)> {
    match &request.action {
        Action::ResetOwnMfa | Action::EnableOwnMfa | Action::DisableOwnMfa => {
            Some((&request.actor, true))
        }
        Action::ResetUserMfa(u) | Action::EnableUserMfa(u) | Action::DisableUserMfa(u) => {
            Some((u, false))
        }
        _ => None,
    }
}

pub(super) fn is_fresh(a: &Authenticator) -> bool {
    a.pending.is_none()
        && a.active.is_none()
        && a.last_accepted_step.is_none()
        && a.failures == 0
        && a.locked_until.is_none()
        && a.recovery_codes.is_none()
}

/// What the next login demands of `user` (R5).
fn effective_mfa(user: &User) -> MfaStatus {
    match user.mfa {
        MfaStatus::Off if user.organization.enforce_mfa => MfaStatus::EnrolmentDue,
        status => status,
    }
}

/// The change, session effect and listing an allowed `request` has.
fn check_effects(request: &Request, outcome: &Outcome, name: &str) -> Result<(), Fault> {
    if let Some((target, by_self)) = changed_user(request) {
        return check_user_change(request, outcome, (target, by_self), name);
    }
    match &request.action {
        // Activation and invitations are the host's to store: no change;
        // a deactivated user's sessions all end.
        Action::DeactivateUser(_) | Action::ReactivateUser(_) | Action::InviteUser(_) => {
            if outcome.change.is_some() {
                return Err(Fault::ChangeForRead {
                    action: name.into(),
                });
            }
            let sessions = if matches!(request.action, Action::DeactivateUser(_)) {
                SessionEffect::EndSessionsOfUser
            } else {
                SessionEffect::None
            };
            sessions_end(outcome, sessions, name)?;
            no_listing(outcome)
        }
        // The password is the host's: nothing the engine keeps changes,
        // and every other session of the caller ends.
        Action::ChangeOwnPassword => {
            if outcome.change.is_some() {
                return Err(Fault::ChangeForRead {
                    action: name.into(),
                });
            }
            sessions_end(outcome, SessionEffect::EndOtherSessionsOfUser, name)?;
            no_listing(outcome)
        }
        Action::SetEnforcement(on) => {
            let fits = matches!(&outcome.change, Some(Change::Organization(org))
                if org.id == request.actor.organization.id && org.enforce_mfa == *on);
            if !fits {
                return Err(Fault::OtherEnforcement {
                    organization: request.actor.organization.id.clone(),
                    on: *on,
                });
            }
            let sessions = if *on {
                SessionEffect::RequireMfaInOrganization
            } else {
                SessionEffect::None
            };
            sessions_end(outcome, sessions, name)?;
            no_listing(outcome)
        }
        Action::ListUsers(listed) => {
            no_change(outcome, name)?;
            let fits = outcome.users.len() == listed.len()
                && outcome.users.iter().zip(listed).all(|(status, user)| {
                    listing_step();
                    status.id == user.id
                        && status.role == user.role
                        && status.mfa == user.mfa
                        && status.effective_mfa == effective_mfa(user)
                        && status.active == user.active
                });
            if fits {
                return Ok(());
            }
            // Which fault: a set, not a scan per user (a scan made a
            // listing of 10 000 users take 140 ms instead of 10, measured).
            let asked: std::collections::HashSet<&str> = listed
                .iter()
                .map(|u| {
                    listing_step();
                    u.id.as_str()
                })
                .collect();
            match outcome.users.iter().find(|s| {
                listing_step();
                !asked.contains(s.id.as_str())
            }) {
                Some(stranger) => Err(Fault::StrangerListed {
                    user: stranger.id.clone(),
                }),
                None => Err(Fault::WrongListing),
            }
        }
        _ => {
            no_change(outcome, name)?;
            no_listing(outcome)
        }
    }
}

/// An allowed change of `target`'s MFA (`by_self`: the caller's own): that
/// user, to the state the action means, with a fresh authenticator, and
/// the sessions it ends.
fn check_user_change(
    request: &Request,
    outcome: &Outcome,
    (target, by_self): (&User, bool),
    name: &str,
) -> Result<(), Fault> {
    let mfa = match &request.action {
        Action::DisableOwnMfa | Action::DisableUserMfa(_) => MfaStatus::Off,
        _ => MfaStatus::EnrolmentDue,
    };
    let Some(Change::User(changed)) = &outcome.change else {
        return Err(Fault::NoNewState {
            action: name.into(),
        });
    };
    let user = &changed.user;
    if user.id != target.id
        || user.organization.id != target.organization.id
        || user.organization.enforce_mfa != target.organization.enforce_mfa
        || user.role != target.role
    {
        return Err(Fault::OtherUser {
            changed: user.id.clone(),
            changed_organization: user.organization.id.clone(),
            target: target.id.clone(),
            target_organization: target.organization.id.clone(),
        });
    }
    if user.active != target.active {
        return Err(Fault::Activation {
            action: name.into(),
            user: user.id.clone(),
            active: user.active,
        });
    }
    if user.mfa != mfa {
        return Err(Fault::WrongMfa {
            action: name.into(),
            got: format!("{:?}", user.mfa),
            expected: format!("{mfa:?}"),
        });
    }
    if !is_fresh(&changed.authenticator) {
        return Err(Fault::PlantedAuthenticator {
            action: name.into(),
        });
    }
    let sessions = if by_self {
        SessionEffect::EndOtherSessionsOfUser
    } else {
        SessionEffect::EndSessionsOfUser
    };
    sessions_end(outcome, sessions, name)?;
    no_listing(outcome)
}

fn sessions_end(outcome: &Outcome, expected: SessionEffect, name: &str) -> Result<(), Fault> {
    if outcome.sessions != expected {
        return Err(Fault::WrongSessions {
            action: name.into(),
            got: format!("{:?}", outcome.sessions),
            expected: format!("{expected:?}"),
        });
    }
    Ok(())
}

fn no_change(outcome: &Outcome, name: &str) -> Result<(), Fault> {
    if outcome.change.is_some() || outcome.sessions != SessionEffect::None {
        return Err(Fault::ChangeForRead {
            action: name.into(),
        });
    }
    Ok(())
}

#[cfg(test)]
thread_local! {
    /// Users a listing's check has looked at on this thread: the tests
    /// count them (the check must stay linear in the listing's size).
    pub(super) static LISTING_STEPS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// One user looked at by a listing's check.
fn listing_step() {
    #[cfg(test)]
    LISTING_STEPS.with(|steps| steps.set(steps.get() + 1));
}

fn no_listing(outcome: &Outcome) -> Result<(), Fault> {
    if !outcome.users.is_empty() {
        return Err(Fault::UnaskedListing);
    }
    Ok(())
}

fn check_audit(request: &Request, outcome: &Outcome, action: &str) -> Result<(), Fault> {
    let reads = matches!(
        request.action,
        Action::ListUsers(_) | Action::AccessRoute(_) | Action::ViewOwnSession
    );
    let Some(audit) = &outcome.audit else {
        return if reads { Ok(()) } else { Err(Fault::NoAudit) };
    };
    if reads {
        return Err(Fault::AuditForRead);
    }
    let expected_target = match (changed_user(request), &request.action) {
        (Some((user, _)), _) => user.id.as_str(),
        (None, Action::ChangeOwnPassword) => request.actor.id.as_str(),
        (None, Action::DeactivateUser(u) | Action::ReactivateUser(u) | Action::InviteUser(u)) => {
            u.id.as_str()
        }
        (None, _) => request.actor.organization.id.as_str(),
    };
    let expected = ExpectedAudit {
        actor: &request.actor.id,
        organization: &request.actor.organization.id,
        target: expected_target,
        action,
        at: request.now,
    };
    expected.check(audit, &outcome.decision)
}

/// What an audit record must say: who, where, on whom, what, when — and
/// the decision it records.
pub(super) struct ExpectedAudit<'a> {
    pub actor: &'a str,
    pub organization: &'a str,
    pub target: &'a str,
    pub action: &'a str,
    pub at: i64,
}

impl ExpectedAudit<'_> {
    pub(super) fn check(&self, audit: &AuditRecord, decision: &Decision) -> Result<(), Fault> {
        if audit.actor != self.actor
            || audit.organization != self.organization
            || audit.target != self.target
            || audit.action != self.action
            || audit.at != self.at
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
                    "{} {} on `{}` in `{}`) and decision (allowed {}",
                    self.actor, self.action, self.target, self.organization, decision.allowed
                ),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
