//! One decision: check the request, let Cedar decide, apply what it allows.

use cedar_policy::{Authorizer, Decision as CedarDecision};

use crate::cedar_request::{self, Query, action_name, target_user};
use crate::mfa_reset::engine::types::{
    Action, AuditRecord, Decision, Outcome, Request, RequestError, SessionEffect,
};
use crate::policy_store::PolicyStore;
use crate::request_check;
use crate::transition;

/// The denial code when no policy permits and no forbid names a reason.
const NOT_PERMITTED: &str = "not-permitted";

pub fn decide(store: &PolicyStore, request: &Request) -> Result<Outcome, RequestError> {
    request_check::check(request, &store.names)?;
    let decision = evaluate(store, &Query::of(request), None)?;
    let (decision, change, users, sessions) = if decision.allowed {
        let applied = transition::apply(request);
        let decision = Decision {
            message: applied.message,
            ..decision
        };
        (decision, applied.change, applied.users, applied.sessions)
    } else {
        (decision, None, Vec::new(), SessionEffect::None)
    };
    let audit = audit_record(request, &decision);
    Ok(Outcome {
        decision,
        change,
        sessions,
        users,
        audit,
    })
}

/// Asks Cedar. An allow carries `allowed_message`; a denial the code and
/// message of the first deciding forbid in source order.
pub fn evaluate(
    store: &PolicyStore,
    query: &Query,
    allowed_message: Option<String>,
) -> Result<Decision, RequestError> {
    if !store.names.applies(query.action, query.actor, query.target) {
        return Ok(not_applicable());
    }
    let cedar =
        cedar_request::build(&store.names, query, None).map_err(|message| RequestError {
            field: "request".into(),
            message,
        })?;
    Ok(evaluate_query(store, query.action, &cedar, allowed_message))
}

/// The denial of a request the schema has no such action for: a support
/// agent asking an organization's action, or anyone acting on a support
/// agent's account with one (R14). No policy could permit it.
pub fn not_applicable() -> Decision {
    Decision {
        allowed: false,
        policy_ids: Vec::new(),
        denial_code: Some(NOT_PERMITTED.to_string()),
        message: "No policy permits this action: it does not apply to this kind of account."
            .to_string(),
        errors: Vec::new(),
    }
}

/// Asks Cedar a built request of `action`.
pub fn evaluate_query(
    store: &PolicyStore,
    action: &str,
    cedar: &cedar_request::CedarRequest,
    allowed_message: Option<String>,
) -> Decision {
    let response = Authorizer::new().is_authorized(
        &cedar.request,
        store.policies_for(action),
        &cedar.entities,
    );
    let allowed = response.decision() == CedarDecision::Allow;
    let deciding = store.in_order(response.diagnostics().reason());
    let policy_ids: Vec<String> = deciding.iter().map(|(id, _)| id.clone()).collect();
    let errors = response
        .diagnostics()
        .errors()
        .map(ToString::to_string)
        .collect();
    if allowed {
        return Decision {
            allowed,
            policy_ids,
            denial_code: None,
            message: allowed_message.unwrap_or_default(),
            errors,
        };
    }
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
    Decision {
        allowed,
        policy_ids,
        denial_code: Some(code),
        message,
        errors,
    }
}

/// R12: every decision about a state change is audited, allowed or denied.
/// Reads (listing, gateway routes) are logged by the host, not audited.
fn audit_record(request: &Request, decision: &Decision) -> Option<AuditRecord> {
    let target = match &request.action {
        Action::ListUsers(_) | Action::AccessRoute(_) | Action::ViewOwnSession => return None,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::default_source;
    use crate::mfa_reset::engine::types::{MfaStatus, Organization, Role, Session, User};

    const DAY_MS: i64 = 24 * 3600 * 1000;
    const NOW: i64 = 1_795_000_000_000;

    fn user(id: &str, org: &str, role: Role) -> User {
        User {
            id: id.into(),
            role,
            organization: Organization {
                id: org.into(),
                enforce_mfa: false,
            },
            mfa: MfaStatus::Active,
            active: true,
        }
    }

    fn request(actor: &User, action: Action, idle_ms: i64) -> Request {
        Request {
            actor: actor.clone(),
            session: Session {
                login_at: NOW - idle_ms,
                last_activity_at: NOW - idle_ms,
                mfa_satisfied: true,
                recovery_code_login: false,
            },
            now: NOW,
            action,
        }
    }

    #[test]
    fn r9_natively_the_same_decisions_as_in_the_component() {
        let store = PolicyStore::compile(&default_source()).expect("the shipped set compiles");
        let ada = user("ada", "acme", Role::Root);
        let carol = user("carol", "acme", Role::SubUser);
        let gina = user("gina", "globex", Role::SubUser);

        let allowed = decide(
            &store,
            &request(&ada, Action::ResetUserMfa(carol.clone()), 0),
        )
        .unwrap();
        assert!(allowed.decision.allowed);
        assert_eq!(allowed.decision.policy_ids, ["root-manages-sub-users"]);
        assert_eq!(allowed.audit.unwrap().target, "carol");

        let other = decide(&store, &request(&ada, Action::ResetUserMfa(gina), 0)).unwrap();
        assert_eq!(
            other.decision.denial_code.as_deref(),
            Some("other-organization")
        );
        assert!(other.change.is_none());

        let by_sub = decide(
            &store,
            &request(&carol, Action::ResetUserMfa(ada.clone()), 0),
        )
        .unwrap();
        assert_eq!(by_sub.decision.denial_code.as_deref(), Some("not-root"));
    }

    #[test]
    fn r7_the_idle_limit_is_exact_to_the_millisecond() {
        let store = PolicyStore::compile(&default_source()).unwrap();
        let bob = user("bob", "acme", Role::SubUser);
        let just_in = decide(&store, &request(&bob, Action::ResetOwnMfa, 30 * DAY_MS - 1)).unwrap();
        assert!(just_in.decision.allowed, "{:?}", just_in.decision);
        let out = decide(&store, &request(&bob, Action::ResetOwnMfa, 30 * DAY_MS)).unwrap();
        assert_eq!(out.decision.denial_code.as_deref(), Some("session-expired"));
    }

    /// The per-action slices decide exactly as the whole set: same decision,
    /// same deciding policies, same errors, for every action of the schema,
    /// with policies scoped by `==`, `in` a group and `in [...]`, and one
    /// whose condition errs.
    #[test]
    fn r9_per_action_slices_decide_as_the_whole_set() {
        use crate::mfa_reset::engine::types::SourceFile;
        let mut source = default_source();
        source.policies.push(SourceFile {
            name: "extra.cedar".into(),
            text: r#"
@id("own-reset-errs")
forbid (principal, action == MfaReset::Action::"reset_own_mfa", resource)
when { context.now.offset(duration("9223372036854775807ms")) > context.now };
@id("listed-groups")
permit (principal, action in [MfaReset::Action::"mfa_enable", MfaReset::Action::"console_routes"], resource)
when { principal.is_root };
@id("one-action")
forbid (principal, action == MfaReset::Action::"list_users", resource)
when { principal.organization.enforce_mfa };
"#
            .into(),
        });
        let store = PolicyStore::compile(&source).expect("the extended set compiles");
        let ada = user("ada", "acme", Role::Root);
        let mut carol = user("carol", "acme", Role::SubUser);
        carol.organization.enforce_mfa = true;
        let gina = user("gina", "globex", Role::SubUser);
        let actions: Vec<String> = store
            .names
            .action_lineages()
            .map(|(name, _)| name.to_string())
            .collect();
        let mut compared = 0;
        for action in &actions {
            for actor in [&ada, &carol, &gina] {
                for target in [None, Some(&ada), Some(&carol), Some(&gina)] {
                    for (idle_ms, mfa_satisfied) in [(0, true), (0, false), (30 * DAY_MS, true)] {
                        let session = Session {
                            login_at: NOW - idle_ms,
                            last_activity_at: NOW - idle_ms,
                            mfa_satisfied,
                            recovery_code_login: false,
                        };
                        let query = Query {
                            actor,
                            action,
                            target,
                            session: &session,
                            now: NOW,
                        };
                        let cedar = cedar_request::build(&store.names, &query, None).unwrap();
                        let decide_with = |set| {
                            let r = Authorizer::new().is_authorized(
                                &cedar.request,
                                set,
                                &cedar.entities,
                            );
                            let mut reasons: Vec<String> =
                                r.diagnostics().reason().map(ToString::to_string).collect();
                            reasons.sort();
                            let errors: Vec<String> =
                                r.diagnostics().errors().map(ToString::to_string).collect();
                            (r.decision(), reasons, errors)
                        };
                        let whole = decide_with(&store.policies);
                        let slice = decide_with(store.policies_for(action));
                        assert_eq!(slice, whole, "{action} by {} on {target:?}", actor.id);
                        compared += 1;
                    }
                }
            }
        }
        assert_eq!(compared, actions.len() * 36);
        // The slices really are smaller, and the erring policy is in its own.
        assert!(
            store.policies_for("reset_user_mfa").policies().count()
                < store.policies.policies().count()
        );
        let own = decide(&store, &request(&ada, Action::ResetOwnMfa, 0)).unwrap();
        assert_eq!(own.decision.errors.len(), 1, "{:?}", own.decision);
    }
}
