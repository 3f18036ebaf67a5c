//! Policy sets as the solver sees them: parsed (named by `@id`, as the
//! engine names them), validated against the schema, compiled per request
//! environment.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use cedar_policy::{PolicyId, PolicySet, RequestEnv, Schema, ValidationMode, Validator};
use cedar_policy_symcc::solver::LocalSolver;

use mfa_reset::api::{PolicySource, SourceFile};

use super::VerifyError;

/// The schema of `policies`.
pub fn schema(policies: &PolicySource) -> Result<Schema, VerifyError> {
    Ok(Schema::from_cedarschema_str(&policies.schema.text)
        .map_err(|e| VerifyError::Invalid {
            file: policies.schema.name.clone(),
            message: e.to_string(),
        })?
        .0)
}

/// The solver: `solver` if given, else `$CVC5`, else `cvc5` on the PATH.
pub fn solver(path: Option<&Path>) -> Result<LocalSolver, VerifyError> {
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
pub fn parse(files: &[SourceFile]) -> Result<PolicySet, VerifyError> {
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

pub fn validate(set: &PolicySet, schema: &Schema, file: &str) -> Result<(), VerifyError> {
    let result = Validator::new(schema.clone()).validate(set, ValidationMode::Strict);
    match result.validation_errors().next() {
        Some(e) => Err(VerifyError::Invalid {
            file: file.into(),
            message: e.to_string(),
        }),
        None => Ok(()),
    }
}

pub fn action_name(env: &RequestEnv) -> String {
    env.action().id().escaped().to_string()
}

pub fn symcc(e: impl std::fmt::Display) -> VerifyError {
    VerifyError::Symcc(e.to_string())
}
