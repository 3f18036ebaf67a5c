//! One decision: check the request, let Cedar decide, apply what it allows.

use cedar_policy::{Authorizer, Decision as CedarDecision};

use crate::cedar_request::{self, action_name, target_user};
use crate::mfa_reset::engine::types::{
    Action, AuditRecord, Decision, Outcome, Request, RequestError,
};
use crate::policy_store::PolicyStore;
use crate::request_check;
use crate::transition;

/// The denial code when no policy permits and no forbid names a reason.
const NOT_PERMITTED: &str = "not-permitted";

pub fn decide(store: &PolicyStore, request: &Request) -> Result<Outcome, RequestError> {
    request_check::check(request, &store.names)?;
    let cedar =
        cedar_request::build(&store.names, request, None).map_err(|message| RequestError {
            field: "request".into(),
            message,
        })?;
    let response =
        Authorizer::new().is_authorized(&cedar.request, &store.policies, &cedar.entities);
    let allowed = response.decision() == CedarDecision::Allow;
    let deciding = store.in_order(response.diagnostics().reason());
    let policy_ids: Vec<String> = deciding.iter().map(|(id, _)| id.clone()).collect();
    let errors = response
        .diagnostics()
        .errors()
        .map(ToString::to_string)
        .collect();

    let (decision, change, users) = if allowed {
        let applied = transition::apply(request);
        let decision = Decision {
            allowed,
            policy_ids,
            denial_code: None,
            message: applied.message,
            errors,
        };
        (decision, applied.change, applied.users)
    } else {
        // The first deciding forbid in source order speaks for the denial.
        let (code, message) = match deciding.first() {
            Some((id, meta)) => (
                meta.code.clone().unwrap_or_else(|| id.clone()),
                meta.message
                    .clone()
                    .unwrap_or_else(|| format!("Denied by policy `{id}`.")),
            ),
            None => (
                NOT_PERMITTED.to_string(),
                "No policy permits this action.".to_string(),
            ),
        };
        let decision = Decision {
            allowed,
            policy_ids,
            denial_code: Some(code),
            message,
            errors,
        };
        (decision, None, Vec::new())
    };

    let audit = audit_record(request, &decision);
    Ok(Outcome {
        decision,
        change,
        users,
        audit,
    })
}

/// R12: every decision about a state change is audited, allowed or denied.
/// Reads (listing, gateway routes) are logged by the host, not audited.
fn audit_record(request: &Request, decision: &Decision) -> Option<AuditRecord> {
    let target = match &request.action {
        Action::ListUsers(_) | Action::AccessRoute(_) => return None,
        Action::SetEnforcement(_) => request.actor.organization.id.clone(),
        _ => target_user(request).map(|u| u.id.clone())?,
    };
    Some(AuditRecord {
        at: request.now,
        actor: request.actor.id.clone(),
        organization: request.actor.organization.id.clone(),
        action: action_name(&request.action).to_string(),
        target,
        allowed: decision.allowed,
        policy_ids: decision.policy_ids.clone(),
        denial_code: decision.denial_code.clone(),
    })
}
