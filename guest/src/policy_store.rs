//! The installed policy set: parsed once, validated against its schema, with
//! each policy known by its `@id` and its place in the source.

use std::collections::HashMap;
use std::str::FromStr;

use cedar_policy::{ActionConstraint, PolicyId, PolicySet, Schema, ValidationMode, Validator};
use sha2::{Digest, Sha256};

use crate::cedar_request::{self, RequestBuilder};
use crate::diagnostics;
use crate::mfa_reset::engine::types::{
    Diagnostic, PolicySet as PolicySetSource, PolicySetInfo, Severity, SourceFile,
};

/// What the engine needs to know about one policy besides its Cedar body.
#[derive(Debug, Clone)]
pub struct PolicyMeta {
    /// Position in the source (file order, then order in the file): the first
    /// deciding forbid gives the denial code and message.
    pub order: usize,
    /// `@code`: the machine-readable denial code of a forbid.
    pub code: Option<String>,
    /// `@message`, with `{support_url}` already filled in.
    pub message: Option<String>,
}

/// A validated policy set, ready to decide.
pub struct PolicyStore {
    pub policies: PolicySet,
    /// Per action of the schema, the policies whose action scope can match
    /// it (see [`PolicyStore::policies_for`]).
    by_action: HashMap<String, PolicySet>,
    pub schema: Schema,
    pub names: RequestBuilder,
    meta: HashMap<PolicyId, PolicyMeta>,
    ids_in_order: Vec<String>,
    revision: String,
    warnings: Vec<Diagnostic>,
}

impl PolicyStore {
    /// Parses and validates `source`; any error rejects the whole set.
    pub fn compile(source: &PolicySetSource) -> Result<Self, Vec<Diagnostic>> {
        let mut errors = Vec::new();
        let mut warnings = Vec::new();

        let schema = parse_schema(&source.schema, &mut errors, &mut warnings);
        let (policies, meta, file_of) = parse_policies(source, &mut errors);
        let Some(schema) = schema else {
            return Err(errors);
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        let names = RequestBuilder::new(&schema).map_err(|e| {
            vec![diagnostics::at(
                Severity::Error,
                &source.schema.name,
                &source.schema.text,
                None,
                None,
                format!("the schema's actions cannot be used: {e}"),
                None,
            )]
        })?;

        let file = |id: &PolicyId| -> &SourceFile { &source.policies[file_of[id]] };
        let result = Validator::new(schema.clone()).validate(&policies, ValidationMode::Strict);
        for e in result.validation_errors() {
            let f = file(e.policy_id());
            errors.push(diagnostics::from_miette(
                Severity::Error,
                &f.name,
                &f.text,
                Some(e.policy_id().to_string()),
                e,
            ));
        }
        for w in result.validation_warnings() {
            let f = file(w.policy_id());
            warnings.push(diagnostics::from_miette(
                Severity::Warning,
                &f.name,
                &f.text,
                Some(w.policy_id().to_string()),
                w,
            ));
        }
        // The engine builds requests of a fixed shape: a schema that does not
        // describe them would make every policy error at run time.
        for problem in cedar_request::schema_mismatches(&names, &schema) {
            errors.push(diagnostics::at(
                Severity::Error,
                &source.schema.name,
                &source.schema.text,
                None,
                None,
                format!("the schema does not describe the requests the engine makes: {problem}"),
                Some("keep the entity types, attributes, context and actions of the shipped schema; add to them, do not remove or retype".into()),
            ));
        }
        if !errors.is_empty() {
            return Err(errors);
        }

        let mut ids_in_order: Vec<(usize, String)> = meta
            .iter()
            .map(|(id, m)| (m.order, id.to_string()))
            .collect();
        ids_in_order.sort();
        let by_action = slice_by_action(&policies, &names);
        Ok(Self {
            policies,
            by_action,
            schema,
            names,
            meta,
            ids_in_order: ids_in_order.into_iter().map(|(_, id)| id).collect(),
            revision: revision(source),
            warnings,
        })
    }

    /// The policies that can apply to requests for `action`. Cedar evaluates
    /// every policy of a set, and a policy whose action scope excludes the
    /// request's action is false before its condition runs, so it can
    /// neither decide nor err: deciding with this slice gives Cedar's answer
    /// on the whole set (reasons and errors included) with less work.
    pub fn policies_for(&self, action: &str) -> &PolicySet {
        self.by_action.get(action).unwrap_or(&self.policies)
    }

    pub fn info(&self) -> PolicySetInfo {
        PolicySetInfo {
            revision: self.revision.clone(),
            policy_ids: self.ids_in_order.clone(),
            warnings: self.warnings.clone(),
        }
    }

    /// `ids` as strings, in source order.
    pub fn in_order<'a>(
        &self,
        ids: impl Iterator<Item = &'a PolicyId>,
    ) -> Vec<(String, &PolicyMeta)> {
        let mut found: Vec<(String, &PolicyMeta)> = ids
            .filter_map(|id| self.meta.get(id).map(|m| (id.to_string(), m)))
            .collect();
        found.sort_by_key(|(_, m)| m.order);
        found
    }
}

/// For every action of the schema, the policies whose action scope matches
/// it or one of its groups.
fn slice_by_action(policies: &PolicySet, names: &RequestBuilder) -> HashMap<String, PolicySet> {
    names
        .action_lineages()
        .map(|(name, lineage)| {
            let mut slice = PolicySet::new();
            for policy in policies.policies() {
                let applies = match policy.action_constraint() {
                    ActionConstraint::Any => true,
                    ActionConstraint::Eq(action) => action == lineage[0],
                    ActionConstraint::In(groups) => groups.iter().any(|g| lineage.contains(g)),
                };
                if applies {
                    slice
                        .add(policy.clone())
                        .expect("ids are unique in the whole set");
                }
            }
            (name.to_string(), slice)
        })
        .collect()
}

fn parse_schema(
    file: &SourceFile,
    errors: &mut Vec<Diagnostic>,
    warnings: &mut Vec<Diagnostic>,
) -> Option<Schema> {
    match Schema::from_cedarschema_str(&file.text) {
        Ok((schema, schema_warnings)) => {
            for w in schema_warnings {
                warnings.push(diagnostics::from_miette(
                    Severity::Warning,
                    &file.name,
                    &file.text,
                    None,
                    &w,
                ));
            }
            Some(schema)
        }
        Err(e) => {
            errors.push(diagnostics::from_miette(
                Severity::Error,
                &file.name,
                &file.text,
                None,
                &e,
            ));
            None
        }
    }
}

type Parsed = (
    PolicySet,
    HashMap<PolicyId, PolicyMeta>,
    HashMap<PolicyId, usize>,
);

/// Parses every file, renaming each policy to its `@id`.
fn parse_policies(source: &PolicySetSource, errors: &mut Vec<Diagnostic>) -> Parsed {
    let mut set = PolicySet::new();
    let mut meta = HashMap::new();
    let mut file_of = HashMap::new();
    let mut order = 0;
    for (file_index, file) in source.policies.iter().enumerate() {
        let Some(in_file) = parse_file(file, errors) else {
            continue;
        };
        for (index, policy) in in_file {
            let Some(id) = policy.annotation("id").filter(|id| !id.trim().is_empty()) else {
                errors.push(diagnostics::at(
                    Severity::Error,
                    &file.name,
                    &file.text,
                    policy_offset(&file.text, index),
                    None,
                    "policy has no `@id` annotation".into(),
                    Some(
                        "add `@id(\"a-unique-name\")` before the policy: decisions report it"
                            .into(),
                    ),
                ));
                continue;
            };
            let id = PolicyId::new(id);
            if meta.contains_key(&id) {
                errors.push(diagnostics::at(
                    Severity::Error,
                    &file.name,
                    &file.text,
                    policy_offset(&file.text, index),
                    Some(id.to_string()),
                    format!("policy id `{id}` is used twice"),
                    Some("every `@id` must be unique across the policy files".into()),
                ));
                continue;
            }
            let message = policy
                .annotation("message")
                .map(|m| m.replace("{support_url}", &source.support_url));
            meta.insert(
                id.clone(),
                PolicyMeta {
                    order,
                    code: policy.annotation("code").map(str::to_string),
                    message,
                },
            );
            order += 1;
            file_of.insert(id.clone(), file_index);
            set.add(policy.new_id(id))
                .expect("ids are checked for uniqueness above");
        }
    }
    (set, meta, file_of)
}

/// One file's policies in source order, with their index in the file;
/// `None` (its errors pushed) when it does not parse.
fn parse_file(
    file: &SourceFile,
    errors: &mut Vec<Diagnostic>,
) -> Option<Vec<(usize, cedar_policy::Policy)>> {
    let parsed = match PolicySet::from_str(&file.text) {
        Ok(parsed) => parsed,
        Err(e) => {
            for error in e.iter() {
                errors.push(diagnostics::from_miette(
                    Severity::Error,
                    &file.name,
                    &file.text,
                    None,
                    error,
                ));
            }
            return None;
        }
    };
    if parsed.templates().next().is_some() {
        errors.push(diagnostics::at(
            Severity::Error,
            &file.name,
            &file.text,
            None,
            None,
            "policy templates are not supported".into(),
            Some("write static policies; the engine links no templates".into()),
        ));
    }
    // `from_str` names policies `policy0, policy1, …` in source order.
    let mut in_file: Vec<(usize, cedar_policy::Policy)> = parsed
        .policies()
        .map(|p| (source_index(p.id()), p.clone()))
        .collect();
    in_file.sort_by_key(|(i, _)| *i);
    Some(in_file)
}

/// The index `N` of a policy that `PolicySet::from_str` named `policyN`.
fn source_index(id: &PolicyId) -> usize {
    id.to_string()
        .strip_prefix("policy")
        .and_then(|n| n.parse().ok())
        .unwrap_or(usize::MAX)
}

/// Byte offset of the `index`-th policy of `text`, for locating a diagnostic.
fn policy_offset(text: &str, index: usize) -> Option<usize> {
    let ast = cedar_policy_core::parser::parse_policyset(text).ok()?;
    let mut offsets: Vec<usize> = ast
        .policies()
        .filter_map(|p| p.loc().map(|loc| loc.span.offset()))
        .collect();
    offsets.sort_unstable();
    offsets.get(index).copied()
}

/// The set's revision: a hash of its content alone — each policy file's
/// name within the set (its last path segment: `policies/mfa.cedar` and
/// `/etc/mfa/mfa.cedar` are both `mfa.cedar`) and text, in name order,
/// then the schema's text — so byte-identical sets read from different
/// places, by different replicas, have one revision (R16). The support URL
/// is configuration, not policy: it is not part of it.
fn revision(source: &PolicySetSource) -> String {
    let base = |name: &str| name.rsplit(['/', '\\']).next().unwrap_or(name).to_string();
    let mut files: Vec<(String, &str)> = source
        .policies
        .iter()
        .map(|f| (base(&f.name), f.text.as_str()))
        .collect();
    files.sort();
    let mut hash = Sha256::new();
    for (name, text) in &files {
        hash.update(name.as_bytes());
        hash.update([0]);
        hash.update(text.as_bytes());
        hash.update([0]);
    }
    hash.update(b"schema\0");
    hash.update(source.schema.text.as_bytes());
    hash.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
