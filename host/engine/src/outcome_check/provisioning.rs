//! The same distrust for an identity provider's requests (R13): an allow
//! creates exactly an active sub-user with MFA off in the provisioner's
//! organization, or flips exactly the target's `active` (ending its
//! sessions on deactivation), or changes nothing; never MFA, never a role,
//! never another user. Every change is audited as the provisioner's.

use super::{ExpectedAudit, Fault};
use crate::bindings::types::{
    MfaStatus, ProvisioningAction, ProvisioningOutcome, ProvisioningRequest, Role, SessionEffect,
    User,
};

/// Why `outcome` cannot be the answer to `request`; `action` as the host
/// names it ([`crate::ProvisioningAction::cedar_name`]).
pub fn check_provisioning(
    request: &ProvisioningRequest,
    outcome: &ProvisioningOutcome,
    action: &str,
) -> Result<(), Fault> {
    let decision = &outcome.decision;
    super::check_decision(decision)?;
    let (expected_user, expected_sessions) = match (&request.action, decision.allowed) {
        (_, false) => (None, SessionEffect::None),
        (ProvisioningAction::CreateUser(id), true) => (
            Some(User {
                id: id.clone(),
                role: Role::SubUser,
                organization: request.provisioner.organization.clone(),
                mfa: MfaStatus::Off,
                active: true,
            }),
            SessionEffect::None,
        ),
        (ProvisioningAction::DeactivateUser(user), true) => (
            Some(User {
                active: false,
                ..user.clone()
            }),
            SessionEffect::EndSessionsOfUser,
        ),
        (ProvisioningAction::ReactivateUser(user), true) => (
            Some(User {
                active: true,
                ..user.clone()
            }),
            SessionEffect::None,
        ),
        (_, true) => (None, SessionEffect::None),
    };
    let same = match (&outcome.user, &expected_user) {
        (None, None) => true,
        (Some(a), Some(b)) => same_user(a, b),
        _ => false,
    };
    if !same {
        return Err(Fault::WrongProvisioning {
            action: action.into(),
            got: format!("{:?}", outcome.user),
        });
    }
    if outcome.sessions != expected_sessions {
        return Err(Fault::WrongSessions {
            action: action.into(),
            got: format!("{:?}", outcome.sessions),
            expected: format!("{expected_sessions:?}"),
        });
    }
    check_audit(request, outcome, action)
}

/// The generated WIT types have no `PartialEq`.
fn same_user(a: &User, b: &User) -> bool {
    a.id == b.id
        && a.role == b.role
        && a.organization.id == b.organization.id
        && a.organization.enforce_mfa == b.organization.enforce_mfa
        && a.mfa == b.mfa
        && a.active == b.active
}

fn check_audit(
    request: &ProvisioningRequest,
    outcome: &ProvisioningOutcome,
    action: &str,
) -> Result<(), Fault> {
    let target = match &request.action {
        ProvisioningAction::ReadUsers | ProvisioningAction::ReadUser(_) => {
            return match outcome.audit {
                None => Ok(()),
                Some(_) => Err(Fault::AuditForRead),
            };
        }
        ProvisioningAction::CreateUser(id) => id.as_str(),
        ProvisioningAction::UpdateUser(user)
        | ProvisioningAction::DeactivateUser(user)
        | ProvisioningAction::ReactivateUser(user) => user.id.as_str(),
    };
    let Some(audit) = &outcome.audit else {
        return Err(Fault::NoAudit);
    };
    let provisioner = &request.provisioner;
    ExpectedAudit {
        actor: &provisioner.id,
        organization: &provisioner.organization.id,
        target,
        action,
        at: request.now,
    }
    .check(audit, &outcome.decision)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::types::{AuditRecord, Decision, Organization, Provisioner};

    fn acme() -> Organization {
        Organization {
            id: "acme".into(),
            enforce_mfa: true,
        }
    }

    fn bob() -> User {
        User {
            id: "bob".into(),
            role: Role::SubUser,
            organization: acme(),
            mfa: MfaStatus::Active,
            active: true,
        }
    }

    /// An allowed deactivation of bob, as the contract has it.
    fn deactivation() -> (ProvisioningRequest, ProvisioningOutcome) {
        let request = ProvisioningRequest {
            provisioner: Provisioner {
                id: "scim-acme".into(),
                organization: acme(),
            },
            now: 1_000,
            action: ProvisioningAction::DeactivateUser(bob()),
        };
        let decision = Decision {
            allowed: true,
            policy_ids: vec!["provisioning-within-organization".into()],
            denial_code: None,
            message: "deactivated".into(),
            errors: Vec::new(),
        };
        let outcome = ProvisioningOutcome {
            user: Some(User {
                active: false,
                ..bob()
            }),
            sessions: SessionEffect::EndSessionsOfUser,
            audit: Some(AuditRecord {
                at: 1_000,
                actor: "scim-acme".into(),
                organization: "acme".into(),
                action: "provision_deactivate_user".into(),
                target: "bob".into(),
                allowed: true,
                policy_ids: decision.policy_ids.clone(),
                denial_code: None,
            }),
            decision,
        };
        (request, outcome)
    }

    fn check(request: &ProvisioningRequest, outcome: &ProvisioningOutcome) -> Result<(), Fault> {
        check_provisioning(request, outcome, "provision_deactivate_user")
    }

    /// R13: a provisioning answer that touches MFA, makes a root, keeps the
    /// sessions of a deactivated user, or is audited as someone else is
    /// refused.
    #[test]
    fn r13_provisioning_never_changes_mfa_or_roles_and_ends_sessions_on_deactivation() {
        let (request, outcome) = deactivation();
        check(&request, &outcome).unwrap();
        type Edit = fn(&mut ProvisioningOutcome);
        let edits: [(&str, Edit); 5] = [
            ("mfa off", |o| o.user.as_mut().unwrap().mfa = MfaStatus::Off),
            ("a root", |o| o.user.as_mut().unwrap().role = Role::Root),
            ("still active", |o| o.user.as_mut().unwrap().active = true),
            ("sessions kept", |o| o.sessions = SessionEffect::None),
            ("another actor", |o| {
                o.audit.as_mut().unwrap().actor = "ada".into()
            }),
        ];
        for (what, edit) in edits {
            let (request, mut outcome) = deactivation();
            edit(&mut outcome);
            assert!(check(&request, &outcome).is_err(), "{what} passed");
        }
    }
}
