//! `mfa-reset enroll` and `mfa-reset verify`: enrol a real authenticator
//! app against a state file and log in with it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use mfa_reset::{
    Authenticator, CodeRequest, CodeResult, EnrolmentRequest, LockoutPolicy, LoginStep, MfaStatus,
    Organization, Role, Session, User, Verification,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::error::CliError;

/// One user's state, as the service would store it. It holds the TOTP
/// secret in clear: keep the file private (it is written with mode 0600).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateFile {
    user: User,
    authenticator: Authenticator,
}

#[derive(Args)]
pub struct StateArgs {
    /// The user's state file (created by `enroll` if missing).
    #[arg(long, value_name = "FILE")]
    state: PathBuf,
    /// The time to use instead of the clock (RFC 3339), for scripted runs.
    #[arg(long, value_parser = parse_time, value_name = "TIME")]
    now: Option<OffsetDateTime>,
}

#[derive(Args)]
pub struct EnrollArgs {
    #[command(flatten)]
    state: StateArgs,
    /// Confirm the pending enrolment with the first code from the app.
    #[arg(long, value_name = "CODE")]
    confirm: Option<String>,
    /// For a new state file: the user's id.
    #[arg(long, default_value = "alice")]
    user: String,
    /// For a new state file: the organization's id.
    #[arg(long, default_value = "acme")]
    organization: String,
    /// The name the authenticator app shows.
    #[arg(long, default_value = "mfa-reset")]
    issuer: String,
    /// Also write the QR code as a PNG file.
    #[arg(long, value_name = "FILE")]
    qr_png: Option<PathBuf>,
}

fn parse_time(s: &str) -> Result<OffsetDateTime, time::error::Parse> {
    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
}

impl StateArgs {
    /// `--now` as given (finer than a millisecond is refused by the
    /// engine), or the clock to the millisecond, as the engine counts.
    fn now(&self) -> OffsetDateTime {
        self.now.unwrap_or_else(|| {
            mfa_reset::timestamp::from_millis(mfa_reset::timestamp::to_millis(
                OffsetDateTime::now_utc(),
            ))
        })
    }
}

fn load(path: &Path) -> Result<StateFile, CliError> {
    let text = std::fs::read_to_string(path).map_err(|e| CliError::file(path, e))?;
    serde_json::from_str(&text).map_err(|e| CliError::file(path, e))
}

/// Writes beside the file and renames: a crash never leaves half a state.
fn save(path: &Path, state: &StateFile) -> Result<(), CliError> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let json = serde_json::to_string_pretty(state).expect("state serializes");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| CliError::file(&tmp, e))?;
    file.write_all(json.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| CliError::file(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| CliError::file(path, e))
}

pub fn enroll(engine: &mfa_reset::Engine, args: &EnrollArgs) -> Result<ExitCode, CliError> {
    let path = &args.state.state;
    let mut state = if path.exists() {
        load(path)?
    } else {
        // A new user who has just turned MFA on (R2).
        StateFile {
            user: User {
                id: args.user.clone(),
                role: Role::SubUser,
                organization: Organization {
                    id: args.organization.clone(),
                    enforce_mfa: false,
                },
                mfa: MfaStatus::EnrolmentDue,
                active: true,
            },
            authenticator: Authenticator::default(),
        }
    };
    if let Some(code) = &args.confirm {
        let request = code_request(&state, code, args.state.now());
        let verification = engine.confirm_enrolment(&request)?;
        return finish(path, state, verification);
    }
    if engine.login_step(&state.user)? != LoginStep::Enrol {
        println!(
            "{} needs no enrolment: MFA is {:?}.",
            state.user.id, state.user.mfa
        );
        return Ok(ExitCode::FAILURE);
    }
    let now = args.state.now();
    let enrolment = engine.start_enrolment(&EnrolmentRequest {
        user: state.user.clone(),
        session: login_now(now),
        authenticator: state.authenticator.clone(),
        now,
        issuer: args.issuer.clone(),
    })?;
    let Some(key) = enrolment.key else {
        println!("{}", enrolment.decision.message);
        return Ok(ExitCode::FAILURE);
    };
    state.authenticator = enrolment.authenticator;
    save(path, &state)?;
    if let Some(png) = &args.qr_png {
        std::fs::write(png, &key.qr_png).map_err(|e| CliError::file(png, e))?;
    }
    println!("Scan this QR code with your authenticator app:\n");
    println!("{}", key.qr_text);
    println!("or enter this URI: {}\n", key.uri);
    println!(
        "Then confirm with the code it shows:\n  mfa-reset enroll --state {} --confirm CODE",
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}

pub fn verify(
    engine: &mfa_reset::Engine,
    args: &StateArgs,
    code: &str,
) -> Result<ExitCode, CliError> {
    let state = load(&args.state)?;
    let verification = engine.verify_login(&code_request(&state, code, args.now()))?;
    finish(&args.state, state, verification)
}

/// The state file's owner logging in at the terminal, right now: a session
/// that has just started and not finished MFA.
fn login_now(now: OffsetDateTime) -> Session {
    Session {
        login_at: now,
        last_activity_at: now,
        mfa_satisfied: false,
        recovery_code_login: false,
    }
}

fn code_request(state: &StateFile, code: &str, now: OffsetDateTime) -> CodeRequest {
    CodeRequest {
        user: state.user.clone(),
        session: login_now(now),
        authenticator: state.authenticator.clone(),
        code: code.to_string(),
        now,
        lockout: LockoutPolicy::default(),
    }
}

/// Stores the new state (failures count too) and reports the result.
fn finish(path: &Path, mut state: StateFile, v: Verification) -> Result<ExitCode, CliError> {
    state.user = v.user;
    state.authenticator = v.authenticator;
    save(path, &state)?;
    println!("{}", v.message);
    // R15: a confirmed enrolment's recovery codes, shown this once (the
    // state file keeps only their keyed hashes).
    for code in &v.recovery_codes.0 {
        println!("  {code}");
    }
    Ok(if v.result == CodeResult::Accepted {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
