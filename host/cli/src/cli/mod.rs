//! Command-line interface: argument parsing and dispatch.

mod accounts;
mod authenticator;
mod database;
mod decide;
mod demo;
mod error;
mod file_replace;
mod fleet;
mod fmt;
mod new_case;
mod policies;
mod policy_changes;
mod policy_files;
mod serve;
mod systemd_notify;
mod tests_file;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use mfa_reset::{Engine, EngineBuilder, PolicySource};

use self::error::CliError;
use self::policy_files::PolicyFiles;

#[derive(Parser)]
#[command(
    name = "mfa-reset",
    version,
    about = "MFA lifecycle policy engine: Cedar policies in a WebAssembly component"
)]
struct Cli {
    /// Component file to load instead of the embedded one.
    #[arg(long, global = true, env = "MFA_RESET_COMPONENT", value_name = "FILE")]
    component: Option<PathBuf>,
    /// Refuse to start unless the component (the file, or the embedded one)
    /// has this sha256, in hex; `serve` logs the digest it loaded.
    #[arg(
        long,
        global = true,
        env = "MFA_RESET_COMPONENT_SHA256",
        value_name = "HEX"
    )]
    component_sha256: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Decide one request (JSON, from a file or `-` for stdin) and print the outcome as JSON.
    Decide {
        /// The request file, or `-` for standard input.
        #[arg(default_value = "-")]
        request: PathBuf,
        #[command(flatten)]
        policies: PolicyArgs,
    },
    /// Check and test policies.
    #[command(subcommand)]
    Policies(PoliciesCommand),
    /// Write the component (`.wasm`: the embedded one, or --component) for
    /// the hosts in other languages (Node with jco, Python with wasmtime).
    Component {
        /// Where to write it.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Walk through the help centre's MFA story, step by step.
    Demo,
    /// Run the sidecar service: console JSON API, gateway forward-auth, metrics.
    Serve(Box<serve::ServeArgs>),
    /// Organizations: create one with its root (who gets an invitation), list them.
    Orgs {
        #[command(flatten)]
        args: accounts::OperatorArgs,
        #[command(subcommand)]
        command: accounts::OrgsCommand,
    },
    /// Users of an organization: add (with an invitation), list, invite
    /// again, deactivate, reactivate.
    Users {
        #[command(flatten)]
        args: accounts::OperatorArgs,
        #[command(subcommand)]
        command: accounts::UsersCommand,
    },
    /// The provider's support agents (R14): create (with an invitation), list.
    Agents {
        #[command(flatten)]
        args: accounts::OperatorArgs,
        #[command(subcommand)]
        command: accounts::AgentsCommand,
    },
    /// An organization's bearer tokens for SCIM 2.0 provisioning.
    ScimTokens {
        #[command(flatten)]
        args: accounts::OperatorArgs,
        #[command(subcommand)]
        command: accounts::ScimTokensCommand,
    },
    /// Enrol an authenticator app for the user of a state file (prints a QR code).
    Enroll(authenticator::EnrollArgs),
    /// Log in with a code from the enrolled authenticator app.
    Verify {
        #[command(flatten)]
        state: authenticator::StateArgs,
        /// The code the app shows.
        code: String,
    },
}

#[derive(Subcommand)]
enum PoliciesCommand {
    /// Validate the policies against the schema; diagnostics with file,
    /// line and the source under a caret.
    Validate(PolicyFiles),
    /// Prove the policies within the guardrails for all inputs (Cedar SymCC + cvc5).
    Verify {
        #[command(flatten)]
        files: PolicyFiles,
        /// Directory of guardrail policy sets.
        #[arg(long, default_value = "policies/guardrails")]
        guardrails: PathBuf,
        /// The cvc5 executable (else `$CVC5`, else `cvc5` on the PATH).
        #[arg(long)]
        cvc5: Option<PathBuf>,
    },
    /// What an edit changes, proven for every action of the schema (Cedar
    /// SymCC + cvc5): requests newly allowed and newly denied, readable and
    /// as `run-tests` cases. Exit status 0: nothing newly allowed; 1: the new
    /// set grants access the old one denied; 2: an error.
    Diff {
        /// The set in force: a directory, or a git revision (`HEAD`, `main~3`:
        /// its `policies/`; `REV:DIR` for another directory).
        old: String,
        /// The edited set, named the same way; without it, the set that
        /// --dir/--policies/--schema name.
        new: Option<String>,
        #[command(flatten)]
        files: PolicyFiles,
        /// Look only for newly allowed requests (about half the work): the
        /// "no new access" check, for every action at once.
        #[arg(long)]
        no_new_access: bool,
        /// The cvc5 executable (else `$CVC5`, else `cvc5` on the PATH).
        #[arg(long)]
        cvc5: Option<PathBuf>,
    },
    /// Decide the recorded decisions (the service's decision log) again
    /// under a candidate set, in the component, and report which would flip,
    /// grouped by action and outcome, with examples. Exit status 0: none
    /// flips; 1: some do; 2: an error.
    Replay {
        /// The candidate set: a directory or a git revision, as for `diff`;
        /// without it, the set that --dir/--policies/--schema name.
        new: Option<String>,
        #[command(flatten)]
        files: PolicyFiles,
        /// How far back: `7d`, `24h`, `90m`, `3600s`.
        #[arg(long, default_value = "7d")]
        since: String,
        /// The service's database: `postgres://…` or `sqlite://file`; the
        /// SQLite file in --data-dir if not given.
        #[arg(long, env = "MFA_RESET_DATABASE")]
        database: Option<String>,
        /// The service's data directory (its embedded SQLite database).
        #[arg(long, env = "MFA_RESET_DATA_DIR", default_value = ".mfa-reset")]
        data_dir: PathBuf,
    },
    /// R16: check a set (validation, guardrails) and publish it to the
    /// fleet's database: every replica `serve --published-policies` switches
    /// to it at one time (`--lead-ms` after the publish).
    Publish(fleet::PublishArgs),
    /// R16: the published sets and every replica's state.
    Status(fleet::FleetArgs),
    /// Print the set's revision: a hash of its content (file names within
    /// the set, texts, schema), the same wherever the files are (R16).
    Revision(PolicyFiles),
    /// Run a `cedar run-tests` file through the component, a line per case;
    /// a failing case shows the decision it got and the one expected.
    Test {
        #[command(flatten)]
        files: PolicyFiles,
        /// Make the decisions the policies give these cases (by name) their
        /// expected ones, in the tests file; nothing else in it changes.
        #[arg(long, value_name = "CASE", num_args = 1..)]
        accept: Vec<String>,
        /// Accept every failing case (after reviewing them).
        #[arg(long, conflicts_with = "accept")]
        accept_all: bool,
    },
    /// Make a `run-tests` case of a request (the JSON `decide` takes), as
    /// `decide` asks the policies: printed, or added to the tests file
    /// with --add. It expects what the policies decide now unless
    /// --expect says otherwise.
    Case(new_case::CaseArgs),
    /// Format the policy files as Cedar's own formatter does (`cedar
    /// format`); --check changes nothing, prints the diff of each file not
    /// formatted and exits 1.
    Fmt {
        #[command(flatten)]
        files: PolicyFiles,
        /// Change nothing; exit 1 when a file is not formatted.
        #[arg(long)]
        check: bool,
    },
}

/// Which policies decide.
#[derive(Args)]
struct PolicyArgs {
    /// Directory with `*.cedar` policies and a `*.cedarschema`; the built-in set if not given.
    #[arg(long, env = "MFA_RESET_POLICIES", value_name = "DIR")]
    policies: Option<PathBuf>,
    /// Support URL shown to users whose session expired (R8); the built-in one if not given.
    #[arg(long, env = "MFA_RESET_SUPPORT_URL", value_name = "URL")]
    support_url: Option<String>,
}

impl PolicyArgs {
    /// The policy set these arguments name, if not the built-in one.
    fn source(&self, engine: &Engine) -> Result<Option<PolicySource>, mfa_reset::Error> {
        if self.policies.is_none() && self.support_url.is_none() {
            return Ok(None);
        }
        let mut source = match &self.policies {
            Some(dir) => PolicySource::from_dir(dir, String::new())?,
            None => engine.default_policies()?,
        };
        source.support_url = match &self.support_url {
            Some(url) => url.clone(),
            None => engine.default_policies()?.support_url,
        };
        Ok(Some(source))
    }
}

pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let mut builder = EngineBuilder::default();
    if let Some(path) = &cli.component {
        builder = builder.with_component_file(path);
    }
    if let Some(hex) = &cli.component_sha256 {
        builder = builder.with_expected_sha256(hex);
    }
    let with_engine =
        |f: &dyn Fn(&Engine) -> Result<ExitCode, CliError>| f(&builder.clone().build()?);
    let result = match cli.command {
        // The service builds its own engine from the builder.
        Command::Serve(args) => serve::run(*args, builder.clone()),
        Command::Decide { request, policies } => {
            with_engine(&|e| decide::run(e, &request, &policies))
        }
        Command::Policies(PoliciesCommand::Validate(files)) => {
            with_engine(&|e| policies::validate(e, &files))
        }
        Command::Policies(PoliciesCommand::Verify {
            files,
            guardrails,
            cvc5,
        }) => with_engine(&|e| policies::verify(e, &files, &guardrails, cvc5.as_deref())),
        Command::Policies(PoliciesCommand::Diff {
            old,
            new,
            files,
            no_new_access,
            cvc5,
        }) => with_engine(&|e| {
            let new = policy_changes::SetName::of(new.as_deref(), &files)?;
            policy_changes::run_diff(e, &old, &new, no_new_access, cvc5.as_deref())
        }),
        Command::Policies(PoliciesCommand::Replay {
            new,
            files,
            since,
            database,
            data_dir,
        }) => {
            let database = database
                .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("mfa-reset.db").display()));
            with_engine(&|e| {
                let new = policy_changes::SetName::of(new.as_deref(), &files)?;
                policy_changes::run_replay(e, &new, &since, &database)
            })
        }
        Command::Policies(PoliciesCommand::Publish(args)) => {
            with_engine(&|e| fleet::publish_set(e, &args))
        }
        Command::Policies(PoliciesCommand::Status(args)) => fleet::status(&args),
        Command::Policies(PoliciesCommand::Revision(files)) => {
            with_engine(&|e| policies::revision(e, &files))
        }
        Command::Policies(PoliciesCommand::Test {
            files,
            accept,
            accept_all,
        }) => with_engine(&|e| {
            let accepting = if accept_all {
                policies::Accepting::AllFailing
            } else {
                policies::Accepting::Named(&accept)
            };
            policies::test(e, &files, accepting)
        }),
        Command::Policies(PoliciesCommand::Case(args)) => with_engine(&|e| new_case::run(e, &args)),
        Command::Policies(PoliciesCommand::Fmt { files, check }) => fmt::run(&files, check),
        Command::Orgs { args, command } => accounts::run(&args, accounts::Operation::Orgs(command)),
        Command::Users { args, command } => {
            accounts::run(&args, accounts::Operation::Users(command))
        }
        Command::Agents { args, command } => {
            accounts::run(&args, accounts::Operation::Agents(command))
        }
        Command::ScimTokens { args, command } => {
            accounts::run(&args, accounts::Operation::ScimTokens(command))
        }
        Command::Demo => with_engine(&demo::run),
        Command::Component { out } => write_component(cli.component.as_deref(), &out),
        Command::Enroll(args) => with_engine(&|e| authenticator::enroll(e, &args)),
        Command::Verify { state, code } => {
            with_engine(&|e| authenticator::verify(e, &state, &code))
        }
    };
    result.unwrap_or_else(|e| fail(&e))
}

fn fail(error: &CliError) -> ExitCode {
    if let CliError::Engine(mfa_reset::Error::InvalidPolicies(diagnostics)) = error {
        // Diagnostics name the files as given on the command line.
        for d in diagnostics {
            let text = std::fs::read_to_string(&d.file).ok();
            eprint!("{}", policies::shown(d, text.as_deref()));
        }
        eprintln!(
            "error: the policy set is invalid ({} diagnostic(s) above)",
            diagnostics.len()
        );
    } else {
        eprintln!("error: {error}");
    }
    ExitCode::from(2)
}

/// `mfa-reset component --out FILE`: the bytes every host loads.
fn write_component(
    from: Option<&std::path::Path>,
    out: &std::path::Path,
) -> Result<ExitCode, CliError> {
    let bytes = match from {
        Some(path) => std::fs::read(path).map_err(|e| CliError::file(path, e))?,
        None => mfa_reset::embedded_component().to_vec(),
    };
    std::fs::write(out, &bytes).map_err(|e| CliError::file(out, e))?;
    println!("{} ({} bytes)", out.display(), bytes.len());
    Ok(ExitCode::SUCCESS)
}
