//! The host does not take the component's word for what it decided: an
//! outcome that does not fit its request (an allow no policy made, a change
//! to someone the request did not name, an audit record of another actor,
//! users nobody listed) is refused before any host acts on it, and the
//! instance that produced it is discarded. A faulty or tampered component
//! can then at worst deny, never hand a host a state change or an allow it
//! cannot account for.

use std::collections::HashSet;

use crate::bindings::types::{Action, Change, Outcome, Request, SessionEffect};

/// Why `outcome` cannot be the answer to `request`, if it cannot.
pub fn check(request: &Request, outcome: &Outcome) -> Result<(), String> {
    let decision = &outcome.decision;
    if decision.allowed == decision.denial_code.is_some() {
        return Err(format!(
            "allowed is {} but the denial code is {:?}",
            decision.allowed, decision.denial_code
        ));
    }
    if decision.allowed && decision.policy_ids.is_empty() {
        return Err("an allow that no policy made".into());
    }
    if !decision.allowed
        && (outcome.change.is_some()
            || !outcome.users.is_empty()
            || outcome.sessions != SessionEffect::None)
    {
        return Err("a denial that changes state, sessions or lists users".into());
    }
    if outcome.change.is_none() && outcome.sessions != SessionEffect::None {
        return Err("a session effect without a change".into());
    }
    check_change(request, outcome.change.as_ref())?;
    check_users(request, outcome)?;
    check_audit(request, outcome)
}

/// The user an action names, the caller for the `*-own-*` ones.
fn target(request: &Request) -> Option<&crate::bindings::types::User> {
    match &request.action {
        Action::ResetOwnMfa | Action::EnableOwnMfa | Action::DisableOwnMfa => Some(&request.actor),
        Action::ViewOwnSession => Some(&request.actor),
        Action::ResetUserMfa(u) | Action::EnableUserMfa(u) | Action::DisableUserMfa(u) => Some(u),
        Action::SetEnforcement(_) | Action::ListUsers(_) | Action::AccessRoute(_) => None,
    }
}

fn check_change(request: &Request, change: Option<&Change>) -> Result<(), String> {
    let Some(change) = change else {
        return Ok(());
    };
    match (change, &request.action) {
        (Change::Organization(org), Action::SetEnforcement(on)) => {
            if org.id != request.actor.organization.id || org.enforce_mfa != *on {
                return Err(format!(
                    "an enforcement change of organization `{}` to {} for a request about `{}` to {on}",
                    org.id, org.enforce_mfa, request.actor.organization.id
                ));
            }
        }
        (Change::User(changed), _) => {
            let target =
                target(request).filter(|_| !matches!(request.action, Action::ViewOwnSession));
            let Some(target) = target else {
                return Err(format!(
                    "a change of user `{}` for an action that changes no user",
                    changed.user.id
                ));
            };
            if changed.user.id != target.id
                || changed.user.organization.id != target.organization.id
                || changed.user.role != target.role
            {
                return Err(format!(
                    "a change of user `{}` ({}) for a request about `{}` ({})",
                    changed.user.id,
                    changed.user.organization.id,
                    target.id,
                    target.organization.id
                ));
            }
        }
        (Change::Organization(org), _) => {
            return Err(format!(
                "an organization change of `{}` for an action that is not set-enforcement",
                org.id
            ));
        }
    }
    Ok(())
}

fn check_users(request: &Request, outcome: &Outcome) -> Result<(), String> {
    if outcome.users.is_empty() {
        return Ok(());
    }
    let Action::ListUsers(listed) = &request.action else {
        return Err("users in the answer to an action that lists none".into());
    };
    let known: HashSet<&str> = listed.iter().map(|u| u.id.as_str()).collect();
    match outcome
        .users
        .iter()
        .find(|u| !known.contains(u.id.as_str()))
    {
        Some(stranger) => Err(format!(
            "user `{}` in the listing was not in the request",
            stranger.id
        )),
        None => Ok(()),
    }
}

fn check_audit(request: &Request, outcome: &Outcome) -> Result<(), String> {
    let reads = matches!(
        request.action,
        Action::ListUsers(_) | Action::AccessRoute(_) | Action::ViewOwnSession
    );
    let Some(audit) = &outcome.audit else {
        return if reads {
            Ok(())
        } else {
            Err("a decision about a state change without its audit record (R12)".into())
        };
    };
    if reads {
        return Err("an audit record for a read".into());
    }
    let expected_target = match target(request) {
        Some(user) => user.id.as_str(),
        None => request.actor.organization.id.as_str(),
    };
    let decision = &outcome.decision;
    if audit.actor != request.actor.id
        || audit.organization != request.actor.organization.id
        || audit.target != expected_target
        || audit.at != request.now
        || audit.allowed != decision.allowed
        || audit.policy_ids != decision.policy_ids
        || audit.denial_code != decision.denial_code
    {
        return Err(format!(
            "the audit record ({} on `{}` in `{}`, allowed {}) does not match the request ({} on `{}` in `{}`) and decision (allowed {})",
            audit.actor,
            audit.target,
            audit.organization,
            audit.allowed,
            request.actor.id,
            expected_target,
            request.actor.organization.id,
            decision.allowed
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::types::{
        AuditRecord, Authenticator, Decision, MfaStatus, Organization, Role, Session, User,
        UserChange, UserStatus,
    };

    fn user(id: &str, org: &str) -> User {
        User {
            id: id.into(),
            role: Role::SubUser,
            organization: Organization {
                id: org.into(),
                enforce_mfa: false,
            },
            mfa: MfaStatus::Active,
        }
    }

    fn request(action: Action) -> Request {
        Request {
            actor: User {
                role: Role::Root,
                ..user("ada", "acme")
            },
            session: Session {
                login_at: 0,
                last_activity_at: 0,
                mfa_satisfied: true,
            },
            now: 1_000,
            action,
        }
    }

    /// The allowed reset of bob by ada, as the real component answers it.
    fn allowed_reset() -> (Request, Outcome) {
        let bob = user("bob", "acme");
        let request = request(Action::ResetUserMfa(bob.clone()));
        let ids = vec!["root-manages-sub-users".to_string()];
        let outcome = Outcome {
            decision: Decision {
                allowed: true,
                policy_ids: ids.clone(),
                denial_code: None,
                message: "reset".into(),
                errors: Vec::new(),
            },
            change: Some(Change::User(UserChange {
                user: User {
                    mfa: MfaStatus::EnrolmentDue,
                    ..bob
                },
                authenticator: Authenticator {
                    pending: None,
                    active: None,
                    last_accepted_step: None,
                    failures: 0,
                    locked_until: None,
                },
            })),
            sessions: SessionEffect::EndSessionsOfUser,
            users: Vec::new(),
            audit: Some(AuditRecord {
                at: 1_000,
                actor: "ada".into(),
                organization: "acme".into(),
                action: "reset_user_mfa".into(),
                target: "bob".into(),
                allowed: true,
                policy_ids: ids,
                denial_code: None,
            }),
        };
        (request, outcome)
    }

    fn refused(request: &Request, outcome: &Outcome, why: &str) {
        let err = check(request, outcome).expect_err(why);
        assert!(err.contains(why), "{err}");
    }

    #[test]
    fn a_consistent_answer_passes() {
        let (request, outcome) = allowed_reset();
        check(&request, &outcome).unwrap();
    }

    #[test]
    fn an_allow_must_be_made_by_a_policy_and_carry_no_denial_code() {
        let (request, mut outcome) = allowed_reset();
        outcome.decision.policy_ids.clear();
        refused(&request, &outcome, "no policy made");
        let (request, mut outcome) = allowed_reset();
        outcome.decision.denial_code = Some("not-root".into());
        refused(&request, &outcome, "denial code");
    }

    #[test]
    fn a_denial_changes_nothing() {
        let (request, mut outcome) = allowed_reset();
        outcome.decision.allowed = false;
        outcome.decision.denial_code = Some("not-root".into());
        refused(&request, &outcome, "a denial that changes state");
    }

    #[test]
    fn a_change_must_be_of_the_user_the_request_names() {
        for (id, org) in [("carol", "acme"), ("bob", "globex")] {
            let (request, mut outcome) = allowed_reset();
            if let Some(Change::User(changed)) = &mut outcome.change {
                changed.user.id = id.into();
                changed.user.organization.id = org.into();
            }
            refused(&request, &outcome, "for a request about `bob`");
        }
        let (request, mut outcome) = allowed_reset();
        if let Some(Change::User(changed)) = &mut outcome.change {
            changed.user.role = Role::Root;
        }
        refused(&request, &outcome, "for a request about `bob`");
        let (request, mut outcome) = allowed_reset();
        outcome.change = Some(Change::Organization(Organization {
            id: "acme".into(),
            enforce_mfa: false,
        }));
        refused(&request, &outcome, "not set-enforcement");
    }

    #[test]
    fn enforcement_changes_only_the_callers_organization_as_asked() {
        let request = request(Action::SetEnforcement(true));
        let (_, mut outcome) = allowed_reset();
        outcome.sessions = SessionEffect::RequireMfaInOrganization;
        outcome.audit.as_mut().unwrap().target = "acme".into();
        for (org, on) in [("acme", true), ("globex", true), ("acme", false)] {
            outcome.change = Some(Change::Organization(Organization {
                id: org.into(),
                enforce_mfa: on,
            }));
            let result = check(&request, &outcome);
            assert_eq!(
                result.is_ok(),
                org == "acme" && on,
                "{org} {on}: {result:?}"
            );
        }
    }

    #[test]
    fn the_audit_record_must_be_of_this_request_and_decision() {
        type Edit = fn(&mut AuditRecord);
        let edits: [(&str, Edit); 5] = [
            ("actor", |a| a.actor = "mallory".into()),
            ("organization", |a| a.organization = "globex".into()),
            ("target", |a| a.target = "carol".into()),
            ("time", |a| a.at = 999),
            ("allowed", |a| a.allowed = false),
        ];
        for (what, edit) in edits {
            let (request, mut outcome) = allowed_reset();
            edit(outcome.audit.as_mut().unwrap());
            assert!(check(&request, &outcome).is_err(), "a wrong {what} passed");
        }
        let (request, mut outcome) = allowed_reset();
        outcome.audit = None;
        refused(&request, &outcome, "without its audit record");
    }

    #[test]
    fn a_listing_holds_only_users_of_the_request_and_reads_change_nothing() {
        let acme_bob = user("bob", "acme");
        let request = request(Action::ListUsers(vec![acme_bob]));
        let status = |id: &str| UserStatus {
            id: id.into(),
            role: Role::SubUser,
            mfa: MfaStatus::Off,
            effective_mfa: MfaStatus::Off,
        };
        let (_, mut outcome) = allowed_reset();
        outcome.change = None;
        outcome.sessions = SessionEffect::None;
        outcome.audit = None;
        outcome.users = vec![status("bob")];
        check(&request, &outcome).unwrap();
        outcome.users.push(status("gina"));
        refused(&request, &outcome, "`gina` in the listing");
        outcome.users.pop();
        outcome.change = Some(Change::User(UserChange {
            user: user("bob", "acme"),
            authenticator: Authenticator {
                pending: None,
                active: None,
                last_accepted_step: None,
                failures: 0,
                locked_until: None,
            },
        }));
        refused(&request, &outcome, "changes no user");
    }
}
