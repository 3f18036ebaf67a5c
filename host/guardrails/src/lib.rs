//! Proving the policies stay within their guardrails, for all inputs, with
//! Cedar's symbolic compiler and the cvc5 solver.
//!
//! A guardrail is a policy set stating an upper bound: it allows everything
//! except what a safety property forbids. For every request environment of
//! the schema (principal type, action, resource type), [`verify`] checks
//! that the policies imply each guardrail (whatever they allow, it allows)
//! and that no policy can raise an error. A property that fails comes with
//! a counterexample, readable and as a ready-to-paste `run-tests` case.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use cedar_policy::{
    Authorizer, Decision, PolicyId, PolicySet, RequestEnv, Schema, ValidationMode, Validator,
};
use cedar_policy_symcc::solver::LocalSolver;
use cedar_policy_symcc::{CedarSymCompiler, CompiledPolicy, CompiledPolicySet, Env};
use serde_json::{Value, json};

use mfa_reset::api::{PolicySource, SourceFile};

/// What stops a verification from running at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    #[error(
        "the cvc5 solver is not available ({0}); install Debian's `cvc5` package or set CVC5=/path/to/cvc5"
    )]
    SolverMissing(String),
    #[error("`{file}`: {message}")]
    Invalid { file: String, message: String },
    #[error("cannot read `{path}`: {message}")]
    Files { path: PathBuf, message: String },
    #[error("symbolic compiler: {0}")]
    Symcc(String),
}

/// One guardrail: a policy set read from a file.
#[derive(Debug, Clone)]
pub struct Guardrail {
    /// The file stem, e.g. `user-administration`.
    pub name: String,
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

/// A request (with entities) on which a property fails.
#[derive(Debug, Clone)]
pub struct Counterexample {
    /// Principal, action, resource, context and entities, for people.
    pub readable: String,
    /// The same as a `cedar run-tests` case expecting what the property
    /// demands, so that pasting it into `policies/tests.json` fails until
    /// the policies are fixed.
    pub test_case: Value,
    /// The policies that allowed it (for a guardrail) or that erred.
    pub policy_ids: Vec<String>,
}

/// All results of one verification.
#[derive(Debug, Clone, Default)]
pub struct VerifyReport {
    pub results: Vec<PropertyResult>,
}

impl VerifyReport {
    /// Whether every property was verified.
    pub fn holds(&self) -> bool {
        self.results.iter().all(|r| r.counterexample.is_none())
    }

    pub fn counterexamples(&self) -> impl Iterator<Item = &PropertyResult> {
        self.results.iter().filter(|r| r.counterexample.is_some())
    }
}

/// The solver: `solver` if given, else `$CVC5`, else `cvc5` on the PATH.
fn solver(path: Option<&Path>) -> Result<LocalSolver, VerifyError> {
    let path = path
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os("CVC5").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("cvc5"));
    // Fail clearly before handing the path to the compiler.
    let found = std::process::Command::new(&path)
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map_err(|e| VerifyError::SolverMissing(format!("`{}`: {e}", path.display())))?;
    if !found.success() {
        return Err(VerifyError::SolverMissing(format!(
            "`{}` --version failed",
            path.display()
        )));
    }
    LocalSolver::from_command(tokio::process::Command::new(&path).args([
        "--lang",
        "smt",
        "--tlimit=60000",
    ]))
    .map_err(|e| VerifyError::SolverMissing(e.to_string()))
}

/// Parses policy files, naming each policy by its `@id` as the engine does.
fn parse(files: &[SourceFile]) -> Result<PolicySet, VerifyError> {
    let mut set = PolicySet::new();
    for file in files {
        let invalid = |message: String| VerifyError::Invalid {
            file: file.name.clone(),
            message,
        };
        let parsed = PolicySet::from_str(&file.text).map_err(|e| invalid(e.to_string()))?;
        for policy in parsed.policies() {
            let id = policy
                .annotation("id")
                .ok_or_else(|| invalid(format!("policy `{}` has no `@id`", policy.id())))?;
            set.add(policy.new_id(PolicyId::new(id)))
                .map_err(|e| invalid(e.to_string()))?;
        }
    }
    Ok(set)
}

fn validate(set: &PolicySet, schema: &Schema, file: &str) -> Result<(), VerifyError> {
    let result = Validator::new(schema.clone()).validate(set, ValidationMode::Strict);
    match result.validation_errors().next() {
        Some(e) => Err(VerifyError::Invalid {
            file: file.into(),
            message: e.to_string(),
        }),
        None => Ok(()),
    }
}

fn action_name(env: &RequestEnv) -> String {
    env.action().id().escaped().to_string()
}

fn symcc(e: impl std::fmt::Display) -> VerifyError {
    VerifyError::Symcc(e.to_string())
}

/// Proves `policies` against each guardrail and checks that no policy errs.
pub async fn verify(
    policies: &PolicySource,
    guardrails: &[Guardrail],
    cvc5: Option<&Path>,
) -> Result<VerifyReport, VerifyError> {
    let schema = Schema::from_cedarschema_str(&policies.schema.text)
        .map_err(|e| VerifyError::Invalid {
            file: policies.schema.name.clone(),
            message: e.to_string(),
        })?
        .0;
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
                    counterexample(
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
                counterexample: found.map(|env| {
                    counterexample(&env, &set, &format!("never-errors {}", policy.id()), None)
                }),
            });
        }
    }
    Ok(report)
}

/// Renders a counterexample. `expect_allowed`: the decision the property
/// demands (`Some(false)`: the guardrail requires a denial), or `None` to
/// expect the decision the policies give, with no errors.
fn counterexample(
    env: &Env,
    policies: &PolicySet,
    property: &str,
    expect_allowed: Option<bool>,
) -> Counterexample {
    let response = Authorizer::new().is_authorized(&env.request, policies, &env.entities);
    let allowed = response.decision() == Decision::Allow;
    let mut policy_ids: Vec<String> = response
        .diagnostics()
        .reason()
        .map(ToString::to_string)
        .collect();
    policy_ids.extend(response.diagnostics().errors().map(|e| match e {
        cedar_policy::AuthorizationError::PolicyEvaluationError(e) => e.policy_id().to_string(),
    }));
    policy_ids.sort();
    let request = &env.request;
    let uid = |u: Option<&cedar_policy::EntityUid>| {
        u.map_or(Value::Null, |u| Value::String(u.to_string()))
    };
    let context = request
        .context()
        .and_then(|c| c.to_json_value().ok())
        .unwrap_or_else(|| json!({}));
    // The schema's action entities are added by whoever runs the case.
    let entities: Vec<Value> = env
        .entities
        .to_json_value()
        .ok()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
        .into_iter()
        .filter(|e| {
            e["uid"]["type"]
                .as_str()
                .is_none_or(|t| !t.ends_with("Action"))
        })
        .collect();
    let expected = expect_allowed.unwrap_or(allowed);
    let test_case = json!({
        "name": format!("{property}: counterexample for {}", request.action().map(|a| a.id().escaped().to_string()).unwrap_or_default()),
        "request": {
            "principal": uid(request.principal()),
            "action": uid(request.action()),
            "resource": uid(request.resource()),
            "context": context,
        },
        "entities": entities,
        "decision": if expected { "allow" } else { "deny" },
        "reason": [],
        "num_errors": 0,
    });
    let verdict = if allowed { "allowed" } else { "denied" };
    let context = request
        .context()
        .map(ToString::to_string)
        .unwrap_or_default();
    let mut readable = format!(
        "request: principal {}, action {}, resource {}\ncontext: {context}\nentities:",
        test_case["request"]["principal"].as_str().unwrap_or("?"),
        test_case["request"]["action"].as_str().unwrap_or("?"),
        test_case["request"]["resource"].as_str().unwrap_or("?"),
    );
    for e in &entities {
        let uid = format!(
            "{}::{}",
            e["uid"]["type"].as_str().unwrap_or("?"),
            e["uid"]["id"]
        );
        readable.push_str(&format!("\n  {uid} {}", e["attrs"]));
    }
    readable.push_str(&format!(
        "\nthe policies: {verdict} by [{}]",
        policy_ids.join(", ")
    ));
    Counterexample {
        readable,
        test_case,
        policy_ids,
    }
}
