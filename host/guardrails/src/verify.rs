//! Proving the policies within their guardrails.

use std::path::{Path, PathBuf};

use cedar_policy_symcc::{CedarSymCompiler, CompiledPolicy, CompiledPolicySet};

use mfa_reset::api::{PolicySource, SourceFile};

use super::VerifyError;
use super::counterexample::{Counterexample, render};
use super::sets::{action_name, parse, schema, solver, symcc, validate};

/// One guardrail: a policy set read from a file.
#[derive(Debug, Clone)]
pub struct Guardrail {
    /// The file stem, e.g. `user-administration`.
    pub name: String,
    /// The guardrail's policies, as read.
    pub file: SourceFile,
}

/// Reads every `*.cedar` file of `dir`, in name order.
pub fn read_guardrails(dir: impl AsRef<Path>) -> Result<Vec<Guardrail>, VerifyError> {
    let dir = dir.as_ref();
    let files = |e: std::io::Error| VerifyError::Files {
        path: dir.to_path_buf(),
        message: e.to_string(),
    };
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(files)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "cedar"))
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(VerifyError::Files {
            path: dir.to_path_buf(),
            message: "no `*.cedar` guardrail here".into(),
        });
    }
    paths
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p).map_err(|e| VerifyError::Files {
                path: p.clone(),
                message: e.to_string(),
            })?;
            let name = p
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            Ok(Guardrail {
                name,
                file: SourceFile {
                    name: p.display().to_string(),
                    text,
                },
            })
        })
        .collect()
}

/// What was checked and how it came out.
#[derive(Debug, Clone)]
pub struct PropertyResult {
    /// `guardrail NAME` or `never-errors POLICY-ID`.
    pub property: String,
    /// The Cedar action of the request environment, e.g. `reset_user_mfa`.
    pub action: String,
    /// `None` when verified.
    pub counterexample: Option<Counterexample>,
}

/// All results of one verification.
#[derive(Debug, Clone, Default)]
pub struct VerifyReport {
    /// One result per guardrail and action it constrains.
    pub results: Vec<PropertyResult>,
}

impl VerifyReport {
    /// Whether every property was verified.
    pub fn holds(&self) -> bool {
        self.results.iter().all(|r| r.counterexample.is_none())
    }

    /// The results that broke their property, each with its counterexample.
    pub fn counterexamples(&self) -> impl Iterator<Item = &PropertyResult> {
        self.results.iter().filter(|r| r.counterexample.is_some())
    }
}

/// Proves `policies` against each guardrail and checks that no policy errs.
pub async fn verify(
    policies: &PolicySource,
    guardrails: &[Guardrail],
    cvc5: Option<&Path>,
) -> Result<VerifyReport, VerifyError> {
    let schema = schema(policies)?;
    let set = parse(&policies.policies)?;
    validate(&set, &schema, "policies")?;
    let mut bounds = Vec::new();
    for g in guardrails {
        let bound = parse(std::slice::from_ref(&g.file))?;
        validate(&bound, &schema, &g.file.name)?;
        bounds.push((g, bound));
    }

    let mut compiler = CedarSymCompiler::new(solver(cvc5)?).map_err(symcc)?;
    let mut report = VerifyReport::default();
    for env in schema.request_envs() {
        let action = action_name(&env);
        let compiled = CompiledPolicySet::compile(&set, &env, &schema).map_err(symcc)?;
        for (guardrail, bound) in &bounds {
            let compiled_bound = CompiledPolicySet::compile(bound, &env, &schema).map_err(symcc)?;
            let found = compiler
                .check_implies_with_counterexample_opt(&compiled, &compiled_bound)
                .await
                .map_err(symcc)?;
            report.results.push(PropertyResult {
                property: format!("guardrail {}", guardrail.name),
                action: action.clone(),
                counterexample: found.map(|env| {
                    render(
                        &env,
                        &set,
                        &format!("guardrail {}", guardrail.name),
                        Some(false),
                    )
                }),
            });
        }
        for policy in set.policies() {
            let compiled_policy = CompiledPolicy::compile(policy, &env, &schema).map_err(symcc)?;
            let found = compiler
                .check_never_errors_with_counterexample_opt(&compiled_policy)
                .await
                .map_err(symcc)?;
            report.results.push(PropertyResult {
                property: format!("never-errors {}", policy.id()),
                action: action.clone(),
                counterexample: found
                    .map(|env| render(&env, &set, &format!("never-errors {}", policy.id()), None)),
            });
        }
    }
    Ok(report)
}
