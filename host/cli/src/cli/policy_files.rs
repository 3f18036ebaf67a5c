//! Where a policy set's files are, named the same way by every `policies`
//! subcommand: the Cedar CLI's `--policies`, `--schema` and `--tests`
//! (so `cedar validate` and `cedar run-tests` take the same arguments),
//! each defaulting from one `--dir`.

use std::path::{Path, PathBuf};

use clap::Args;
use mfa_reset::{Engine, PolicySource};

use super::error::CliError;

/// The policy set's files.
#[derive(Args, Clone, Debug)]
pub struct PolicyFiles {
    /// Directory holding the `*.cedar` files, the one `*.cedarschema` file
    /// and `tests.json`: the default of the three below.
    #[arg(long, default_value = "policies")]
    pub dir: PathBuf,
    /// The policies: one `*.cedar` file, or a directory of them (as `cedar
    /// validate --policies`). Default: --dir.
    #[arg(long, short = 'p', value_name = "DIR|FILE")]
    pub policies: Option<PathBuf>,
    /// The schema (as `cedar validate --schema`). Default: the one
    /// `*.cedarschema` file beside the policies.
    #[arg(long, short = 's', value_name = "FILE")]
    pub schema: Option<PathBuf>,
    /// Test cases in the Cedar CLI's `run-tests` JSON (as `cedar run-tests
    /// --tests`). Default: `tests.json` beside the policies (`publish`
    /// runs tests only when this names them).
    #[arg(long, value_name = "FILE")]
    pub tests: Option<PathBuf>,
}

impl PolicyFiles {
    /// Whether the set was named by a flag (`--policies`, `--schema`, or a
    /// `--dir` other than the default).
    pub fn named(&self) -> bool {
        self.policies.is_some() || self.schema.is_some() || self.dir != Path::new("policies")
    }

    /// The directory the policies are in (that of a single file).
    fn policy_dir(&self) -> PathBuf {
        match &self.policies {
            // A bare file name's parent is the empty path: the current directory.
            Some(p) if p.is_file() => p
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .map_or_else(|| ".".into(), Path::to_path_buf),
            Some(p) => p.clone(),
            None => self.dir.clone(),
        }
    }

    /// The policy files, in name order for a directory.
    pub fn policy_paths(&self) -> Result<Vec<PathBuf>, CliError> {
        match &self.policies {
            Some(p) if p.is_file() => Ok(vec![p.clone()]),
            _ => Ok(mfa_reset::policy_files(&self.policy_dir())?),
        }
    }

    /// The schema file.
    pub fn schema_path(&self) -> Result<PathBuf, CliError> {
        match &self.schema {
            Some(s) => Ok(s.clone()),
            None => Ok(mfa_reset::schema_file(&self.policy_dir())?),
        }
    }

    /// The test cases' file.
    pub fn tests_path(&self) -> PathBuf {
        self.tests
            .clone()
            .unwrap_or_else(|| self.policy_dir().join("tests.json"))
    }

    /// The set, with the engine's support URL.
    pub fn read(&self, engine: &Engine) -> Result<PolicySource, CliError> {
        self.read_with(engine.default_policies()?.support_url)
    }

    /// The set, with `support_url`.
    pub fn read_with(&self, support_url: String) -> Result<PolicySource, CliError> {
        Ok(PolicySource::from_files(
            &self.policy_paths()?,
            &self.schema_path()?,
            support_url,
        )?)
    }

    /// How the set is named in messages: the policies as given.
    pub fn name(&self) -> String {
        self.policies
            .as_ref()
            .unwrap_or(&self.dir)
            .display()
            .to_string()
    }
}
