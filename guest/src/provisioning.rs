//! An identity provider's request (SCIM 2.0, R13): the policies decide it
//! like every other, and an allow means one of a few fixed changes — a new
//! active sub-user with MFA off, a user deactivated (its sessions end) or
//! reactivated. Nothing here ever changes a user's MFA or role.

use crate::cedar_request::{self, ProvisioningQuery};
use crate::decide::evaluate_query;
use crate::mfa_reset::engine::types::{
    AuditRecord, Decision, MfaStatus, ProvisioningAction, ProvisioningOutcome, ProvisioningRequest,
    RequestError, Role, SessionEffect, User,
};
use crate::policy_store::PolicyStore;
use crate::request_check::{check_id, check_user, error};

/// The Cedar action an identity provider's request asks for.
pub fn action_name(action: &ProvisioningAction) -> &'static str {
    match action {
        ProvisioningAction::ReadUsers => "provision_read_users",
        ProvisioningAction::ReadUser(_) => "provision_read_user",
        ProvisioningAction::CreateUser(_) => "provision_create_user",
        ProvisioningAction::UpdateUser(_) => "provision_update_user",
        ProvisioningAction::DeactivateUser(_) => "provision_deactivate_user",
        ProvisioningAction::ReactivateUser(_) => "provision_reactivate_user",
    }
}

/// The user acted on: as stored, or the one a creation would make.
pub fn target(request: &ProvisioningRequest) -> Option<User> {
    match &request.action {
        ProvisioningAction::ReadUsers => None,
        ProvisioningAction::CreateUser(id) => Some(User {
            id: id.clone(),
            role: Role::SubUser,
            organization: request.provisioner.organization.clone(),
            mfa: MfaStatus::Off,
            active: true,
        }),
        ProvisioningAction::ReadUser(user)
        | ProvisioningAction::UpdateUser(user)
        | ProvisioningAction::DeactivateUser(user)
        | ProvisioningAction::ReactivateUser(user) => Some(user.clone()),
    }
}

/// The Cedar question of `request` about `target` (from [`target`]).
pub fn query<'a>(
    request: &'a ProvisioningRequest,
    target: Option<&'a User>,
) -> ProvisioningQuery<'a> {
    ProvisioningQuery {
        provisioner: &request.provisioner,
        action: action_name(&request.action),
        target,
        now: request.now,
    }
}

fn check(request: &ProvisioningRequest) -> Result<(), RequestError> {
    check_id("provisioner.id", &request.provisioner.id)?;
    check_id(
        "provisioner.organization.id",
        &request.provisioner.organization.id,
    )?;
    cedar_request::datetime(request.now).map_err(|e| error("now", e))?;
    match &request.action {
        ProvisioningAction::ReadUsers => Ok(()),
        ProvisioningAction::CreateUser(id) => check_id("action.create-user", id),
        ProvisioningAction::ReadUser(user)
        | ProvisioningAction::UpdateUser(user)
        | ProvisioningAction::DeactivateUser(user)
        | ProvisioningAction::ReactivateUser(user) => check_user("action.user", user),
    }
}

pub fn decide(
    store: &PolicyStore,
    request: &ProvisioningRequest,
) -> Result<ProvisioningOutcome, RequestError> {
    check(request)?;
    let target = target(request);
    let query = query(request, target.as_ref());
    let cedar = cedar_request::build_provisioning(&store.names, &query, None)
        .map_err(|message| error("request", message))?;
    let decision = evaluate_query(store, query.action, &cedar, None);
    let (user, sessions, message) = match (&request.action, decision.allowed) {
        (_, false) => (None, SessionEffect::None, None),
        (ProvisioningAction::CreateUser(_), true) => (
            target.clone(),
            SessionEffect::None,
            Some("User created: an invitation lets them choose a password."),
        ),
        (ProvisioningAction::DeactivateUser(user), true) => (
            Some(User {
                active: false,
                ..user.clone()
            }),
            SessionEffect::EndSessionsOfUser,
            Some("User deactivated: their sessions have ended."),
        ),
        (ProvisioningAction::ReactivateUser(user), true) => (
            Some(User {
                active: true,
                ..user.clone()
            }),
            SessionEffect::None,
            Some("User reactivated."),
        ),
        (ProvisioningAction::UpdateUser(_), true) => {
            (None, SessionEffect::None, Some("User updated."))
        }
        (ProvisioningAction::ReadUsers | ProvisioningAction::ReadUser(_), true) => {
            (None, SessionEffect::None, Some("Allowed."))
        }
    };
    let decision = match message {
        Some(message) => Decision {
            message: message.into(),
            ..decision
        },
        None => decision,
    };
    let audit = audit_record(request, target.as_ref(), &decision);
    Ok(ProvisioningOutcome {
        decision,
        user,
        sessions,
        audit,
    })
}

/// R12: every decision about a change is audited, allowed or denied, in the
/// provisioner's organization; reads are not.
fn audit_record(
    request: &ProvisioningRequest,
    target: Option<&User>,
    decision: &Decision,
) -> Option<AuditRecord> {
    if matches!(
        request.action,
        ProvisioningAction::ReadUsers | ProvisioningAction::ReadUser(_)
    ) {
        return None;
    }
    Some(AuditRecord {
        at: request.now,
        actor: request.provisioner.id.clone(),
        organization: request.provisioner.organization.id.clone(),
        action: action_name(&request.action).to_string(),
        target: target?.id.clone(),
        allowed: decision.allowed,
        policy_ids: decision.policy_ids.clone(),
        denial_code: decision.denial_code.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::default_source;
    use crate::mfa_reset::engine::types::{Organization, Provisioner};

    const NOW: i64 = 1_795_000_000_000;

    fn org(id: &str) -> Organization {
        Organization {
            id: id.into(),
            enforce_mfa: false,
        }
    }

    fn user(id: &str, org_id: &str, role: Role) -> User {
        User {
            id: id.into(),
            role,
            organization: org(org_id),
            mfa: MfaStatus::Active,
            active: true,
        }
    }

    fn ask(action: ProvisioningAction) -> ProvisioningOutcome {
        let store = PolicyStore::compile(&default_source()).unwrap();
        let request = ProvisioningRequest {
            provisioner: Provisioner {
                id: "scim-acme".into(),
                organization: org("acme"),
            },
            now: NOW,
            action,
        };
        decide(&store, &request).unwrap()
    }

    #[test]
    fn r13_a_provisioner_creates_active_sub_users_with_mfa_off_in_its_organization() {
        let outcome = ask(ProvisioningAction::CreateUser("dave".into()));
        assert!(outcome.decision.allowed, "{:?}", outcome.decision);
        let user = outcome.user.unwrap();
        assert_eq!(
            (
                user.role,
                user.mfa,
                user.active,
                user.organization.id.as_str()
            ),
            (Role::SubUser, MfaStatus::Off, true, "acme")
        );
        assert_eq!(outcome.audit.unwrap().actor, "scim-acme");
    }

    #[test]
    fn r13_deactivation_ends_sessions_and_keeps_mfa() {
        let bob = user("bob", "acme", Role::SubUser);
        let outcome = ask(ProvisioningAction::DeactivateUser(bob.clone()));
        let user = outcome.user.unwrap();
        assert_eq!(
            user,
            User {
                active: false,
                ..bob
            }
        );
        assert_eq!(outcome.sessions, SessionEffect::EndSessionsOfUser);
    }

    #[test]
    fn r13_another_organizations_users_and_the_root_are_out_of_reach() {
        let gina = user("gina", "globex", Role::SubUser);
        for action in [
            ProvisioningAction::ReadUser(gina.clone()),
            ProvisioningAction::UpdateUser(gina.clone()),
            ProvisioningAction::DeactivateUser(gina),
        ] {
            let outcome = ask(action);
            assert_eq!(
                outcome.decision.denial_code.as_deref(),
                Some("other-organization")
            );
            assert!(outcome.user.is_none());
        }
        let ada = user("ada", "acme", Role::Root);
        assert!(
            ask(ProvisioningAction::ReadUser(ada.clone()))
                .decision
                .allowed
        );
        let outcome = ask(ProvisioningAction::DeactivateUser(ada));
        assert_eq!(
            outcome.decision.denial_code.as_deref(),
            Some("root-not-provisioned")
        );
    }
}
