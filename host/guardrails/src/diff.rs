//! What a policy edit changes, proven: for every request environment of
//! the schema, whether the new set allows a request the old one denied
//! (newly allowed) or denies one the old one allowed (newly denied). Each
//! direction is an implication the solver proves for all inputs, or
//! refutes with a concrete request.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use cedar_policy::Schema;
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
    /// Neither direction found a request decided otherwise.
    pub fn unchanged(&self) -> bool {
        self.newly_allowed.is_none() && self.newly_denied.is_none()
    }
}

/// Every action of the schema, by name.
#[derive(Debug, Clone, Default)]
pub struct DiffReport {
    /// One entry per action of the new schema.
    pub actions: Vec<ActionDiff>,
    /// How the schema's hierarchy changed (an action joining or leaving a
    /// group, an entity type's parents): the proof runs under the new
    /// schema and cannot see these, so each counts as possible new access.
    pub schema_changes: Vec<String>,
}

impl DiffReport {
    /// No request is decided differently (as far as the direction looked).
    pub fn equivalent(&self) -> bool {
        self.schema_changes.is_empty() && self.actions.iter().all(ActionDiff::unchanged)
    }

    /// Some request is allowed by the new set and was denied by the old, or
    /// the schema's hierarchy changed (not provable: fail closed).
    pub fn grants_new_access(&self) -> bool {
        !self.schema_changes.is_empty() || self.actions.iter().any(|a| a.newly_allowed.is_some())
    }
}

/// What each action and entity type belongs to: `action X` → its groups,
/// `entity type T` → the types it may be in.
fn hierarchy(schema: &Schema) -> Result<BTreeMap<String, BTreeSet<String>>, VerifyError> {
    let actions = schema.action_entities().map_err(symcc)?;
    let mut hierarchy = BTreeMap::new();
    for action in schema.actions().chain(schema.action_groups()) {
        let groups = actions
            .ancestors(action)
            .map(|a| a.map(|g| g.id().escaped().to_string()).collect())
            .unwrap_or_default();
        hierarchy.insert(format!("action `{}`", action.id().escaped()), groups);
    }
    for ty in schema.entity_types() {
        let parents = schema
            .ancestors(ty)
            .map(|a| a.map(ToString::to_string).collect())
            .unwrap_or_default();
        hierarchy.insert(format!("entity type `{ty}`"), parents);
    }
    Ok(hierarchy)
}

/// One line per membership that differs, for what both schemas declare.
fn hierarchy_changes(old: &Schema, new: &Schema) -> Result<Vec<String>, VerifyError> {
    let (old, new) = (hierarchy(old)?, hierarchy(new)?);
    let mut changes = Vec::new();
    for (name, now) in &new {
        let Some(was) = old.get(name) else { continue };
        for left in was.difference(now) {
            changes.push(format!("{name} is no longer in `{left}`"));
        }
        for joined in now.difference(was) {
            changes.push(format!("{name} is now in `{joined}`"));
        }
    }
    Ok(changes)
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
    let schema_changes = if old.schema.text == new.schema.text {
        Vec::new()
    } else {
        hierarchy_changes(&super::sets::schema(old)?, &schema)?
    };

    let mut compiler = CedarSymCompiler::new(solver(cvc5)?).map_err(symcc)?;
    let mut report = DiffReport {
        schema_changes,
        ..DiffReport::default()
    };
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
