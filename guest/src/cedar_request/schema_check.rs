//! Whether a schema describes every request the engine builds: checked
//! once per policy set at load time, never per decision.

use cedar_policy::Schema;

use super::{
    LOGIN_STEPS, Query, RecoveryQuery, RequestBuilder, action_name, build, build_provisioning,
    build_recovery,
};
use crate::mfa_reset::engine::types::{
    Action, CaseState, IdentityCheck, MfaStatus, Organization, Provisioner, ProvisioningAction,
    ProvisioningRequest, RecoveryCase, Request, Role, Session, User,
};

/// Checks that `schema` describes every request the engine can make; returns
/// what does not fit, one line per action.
pub fn schema_mismatches(names: &RequestBuilder, schema: &Schema) -> Vec<String> {
    let org = Organization {
        id: "org".into(),
        enforce_mfa: false,
    };
    let user = |id: &str, role| User {
        id: id.into(),
        role,
        organization: org.clone(),
        mfa: MfaStatus::Active,
        active: true,
    };
    let root = user("root", Role::Root);
    let sub = user("sub", Role::SubUser);
    let actions = [
        Action::ResetOwnMfa,
        Action::EnableOwnMfa,
        Action::DisableOwnMfa,
        Action::ResetUserMfa(sub.clone()),
        Action::EnableUserMfa(sub.clone()),
        Action::DisableUserMfa(sub.clone()),
        Action::SetEnforcement(true),
        Action::ListUsers(vec![root.clone(), sub.clone()]),
        Action::AccessRoute("access_console".into()),
        Action::ViewOwnSession,
        Action::ChangeOwnPassword,
        Action::DeactivateUser(sub.clone()),
        Action::ReactivateUser(sub.clone()),
        Action::InviteUser(sub.clone()),
    ];
    let session = Session {
        login_at: 0,
        last_activity_at: 0,
        mfa_satisfied: true,
        recovery_code_login: false,
    };
    let requests = actions.into_iter().map(|action| Request {
        actor: root.clone(),
        session,
        now: 0,
        action,
    });
    let mut problems: Vec<String> = requests
        .filter_map(|request| {
            build(names, &Query::of(&request), Some(schema))
                .err()
                .map(|e| format!("action `{}`: {e}", action_name(&request.action)))
        })
        .collect();
    let provisioner = Provisioner {
        id: "scim".into(),
        organization: org.clone(),
    };
    for action in [
        ProvisioningAction::ReadUsers,
        ProvisioningAction::ReadUser(sub.clone()),
        ProvisioningAction::CreateUser("new".into()),
        ProvisioningAction::UpdateUser(sub.clone()),
        ProvisioningAction::DeactivateUser(sub.clone()),
        ProvisioningAction::ReactivateUser(sub.clone()),
    ] {
        let request = ProvisioningRequest {
            provisioner: provisioner.clone(),
            now: 0,
            action,
        };
        let target = crate::provisioning::target(&request);
        let query = crate::provisioning::query(&request, target.as_ref());
        if let Err(e) = build_provisioning(names, &query, Some(schema)) {
            problems.push(format!("action `{}`: {e}", query.action));
        }
    }
    let agent = user("agent", Role::SupportAgent);
    for actor in [&root, &agent] {
        for step in LOGIN_STEPS.iter().chain(&["view_session"]) {
            let query = Query {
                actor,
                action: step,
                target: Some(actor),
                session: &session,
                now: 0,
            };
            if let Err(e) = build(names, &query, Some(schema)) {
                problems.push(format!("action `{step}`: {e}"));
            }
        }
    }
    let case = RecoveryCase {
        id: "case".into(),
        account: sub.clone(),
        opened_by: "agent".into(),
        opened_at: 0,
        checks: vec![IdentityCheck::DocumentCheck],
        approved_by: Some("other".into()),
        state: CaseState::TicketIssued,
        ticket_issued_at: Some(0),
    };
    let asks = [
        (Some(&agent), "open_recovery_case"),
        (Some(&agent), "approve_recovery_case"),
        (Some(&agent), "issue_recovery_ticket"),
        (Some(&agent), "cancel_recovery_case"),
        (Some(&root), "cancel_recovery_case"),
        (None, "cancel_recovery_case_by_link"),
        (Some(&sub), "redeem_recovery_ticket"),
    ];
    for (caller, action) in asks {
        let query = RecoveryQuery {
            caller,
            action,
            case: &case,
            session: &session,
            account_has_active_session: false,
            now: 0,
        };
        if let Err(e) = build_recovery(names, &query, Some(schema)) {
            problems.push(format!("action `{action}`: {e}"));
        }
    }
    problems
}
