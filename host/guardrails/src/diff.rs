//! What a policy edit changes, proven: for every request environment of
//! the schema, whether the new set allows a request the old one denied
//! (newly allowed) or denies one the old one allowed (newly denied). Each
//! direction is an implication the solver proves for all inputs, or
//! refutes with a concrete request.

use std::path::Path;

use cedar_policy_symcc::{CedarSymCompiler, CompiledPolicySet};

use mfa_reset::api::PolicySource;

use super::VerifyError;
use super::counterexample::{Counterexample, render};
use super::sets::{action_name, parse, schema, solver, symcc, validate};

/// Which differences to look for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Newly allowed and newly denied requests.
    Both,
    /// Only newly allowed ones: the "no new access" check, about half the work.
    NewAccessOnly,
}

/// How one action's decisions change.
#[derive(Debug, Clone)]
pub struct ActionDiff {
    /// The Cedar action, e.g. `reset_user_mfa`.
    pub action: String,
    /// A request the new set allows and the old one denied; its test case
    /// expects the old decision (deny).
    pub newly_allowed: Option<Counterexample>,
    /// A request the new set denies and the old one allowed (never looked
    /// for with [`Direction::NewAccessOnly`]); its test case expects allow.
    pub newly_denied: Option<Counterexample>,
}

impl ActionDiff {
    pub fn unchanged(&self) -> bool {
        self.newly_allowed.is_none() && self.newly_denied.is_none()
    }
}

/// Every action of the schema, by name.
#[derive(Debug, Clone, Default)]
pub struct DiffReport {
    pub actions: Vec<ActionDiff>,
}

impl DiffReport {
    /// No request is decided differently (as far as the direction looked).
    pub fn equivalent(&self) -> bool {
        self.actions.iter().all(ActionDiff::unchanged)
    }

    /// Some request is allowed by the new set and was denied by the old.
    pub fn grants_new_access(&self) -> bool {
        self.actions.iter().any(|a| a.newly_allowed.is_some())
    }
}

/// Compares `old` with `new` over the request environments of `new`'s
/// schema (both sets must validate against it).
pub async fn diff(
    old: &PolicySource,
    new: &PolicySource,
    direction: Direction,
    cvc5: Option<&Path>,
) -> Result<DiffReport, VerifyError> {
    let schema = schema(new)?;
    let new_set = parse(&new.policies)?;
    validate(&new_set, &schema, "the new policies")?;
    let old_set = parse(&old.policies)?;
    validate(
        &old_set,
        &schema,
        "the old policies (against the new schema)",
    )?;

    let mut compiler = CedarSymCompiler::new(solver(cvc5)?).map_err(symcc)?;
    let mut report = DiffReport::default();
    let mut envs: Vec<_> = schema.request_envs().collect();
    envs.sort_by_key(action_name);
    for env in envs {
        let action = action_name(&env);
        let compiled_new = CompiledPolicySet::compile(&new_set, &env, &schema).map_err(symcc)?;
        let compiled_old = CompiledPolicySet::compile(&old_set, &env, &schema).map_err(symcc)?;
        // new ⇒ old: whatever the new set allows, the old one allowed.
        let newly_allowed = compiler
            .check_implies_with_counterexample_opt(&compiled_new, &compiled_old)
            .await
            .map_err(symcc)?
            .map(|env| render(&env, &new_set, "newly allowed", Some(false)));
        let newly_denied = match direction {
            Direction::NewAccessOnly => None,
            Direction::Both => compiler
                .check_implies_with_counterexample_opt(&compiled_old, &compiled_new)
                .await
                .map_err(symcc)?
                .map(|env| render(&env, &old_set, "newly denied", Some(true))),
        };
        report.actions.push(ActionDiff {
            action,
            newly_allowed,
            newly_denied,
        });
    }
    Ok(report)
}
