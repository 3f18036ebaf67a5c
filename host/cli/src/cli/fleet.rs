//! `mfa-reset policies publish|status`: one policy set across the fleet
//! (R16), for operators of several replicas on one PostgreSQL.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use mfa_reset::Engine;
use mfa_reset_service::{Publication, PublishError, publish};

use super::database::DatabaseArgs;
use super::error::CliError;
use super::policy_files::PolicyFiles;

/// Where the fleet's database is.
#[derive(Args)]
pub struct FleetArgs {
    #[command(flatten)]
    database: DatabaseArgs,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// What `policies publish` publishes.
#[derive(Args)]
pub struct PublishArgs {
    /// The set's files; its test cases run only when --tests names them.
    #[command(flatten)]
    files: PolicyFiles,
    /// Who publishes: written to the audit trail and `policies status`.
    #[arg(long, env = "USER")]
    by: String,
    /// Prove the set within these guardrails first (needs cvc5).
    #[arg(long, value_name = "DIR")]
    guardrails: Option<PathBuf>,
    /// Refuse a set that allows any request the fleet's newest set denies,
    /// proven for all requests (needs cvc5).
    #[arg(long)]
    no_new_access: bool,
    /// Refuse a set under which more than this percentage of the decisions
    /// recorded in the last `--replay-days` would flip (the decision log).
    #[arg(long, value_name = "PERCENT")]
    max_flipped_share: Option<f64>,
    /// How many days of recorded decisions `--max-flipped-share` replays.
    #[arg(long, default_value_t = 7)]
    replay_days: u32,
    /// Milliseconds from the publish to the set deciding on every replica:
    /// time for each to hear of it and compile it.
    #[arg(long, default_value_t = 3000)]
    lead_ms: u64,
    #[command(flatten)]
    fleet: FleetArgs,
}

fn failed(url: &str, e: PublishError) -> CliError {
    match e {
        PublishError::Store(e) => CliError::Database {
            url: mfa_reset_service::redact(url),
            message: mfa_reset_service::redact(&e.to_string()),
        },
        other => CliError::Refused(other.to_string()),
    }
}

pub fn publish_set(engine: &Engine, args: &PublishArgs) -> Result<ExitCode, CliError> {
    let (url, key) = args.fleet.database.url_and_key()?;
    let source = args.files.read_with(String::new())?;
    let tests = match &args.files.tests {
        Some(path) => Some(super::database::read(path)?),
        None => None,
    };
    if let Some(share) = args.max_flipped_share
        && !(0.0..=100.0).contains(&share)
    {
        return Err(CliError::Refused(format!(
            "--max-flipped-share {share}: a percentage from 0 to 100"
        )));
    }
    let runtime = tokio::runtime::Runtime::new()?;
    let published = runtime
        .block_on(publish(
            &url,
            &key,
            engine,
            Publication {
                source: &source,
                publisher: &args.by,
                guardrails: args.guardrails.as_deref(),
                no_new_access: args.no_new_access,
                tests: tests.as_deref(),
                max_flipped_share: args.max_flipped_share.map(|p| p / 100.0),
                replay_window: time::Duration::days(i64::from(args.replay_days)),
                lead: time::Duration::milliseconds(i64::try_from(args.lead_ms).unwrap_or(i64::MAX)),
                now: time::OffsetDateTime::now_utc(),
            },
        ))
        .map_err(|e| failed(&url, e))?;
    let at = published
        .activate_at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    if args.fleet.json {
        println!(
            "{}",
            serde_json::json!({"epoch": published.epoch, "revision": published.revision, "activate_at": at})
        );
    } else {
        println!(
            "published revision {} as epoch {}: it decides on every replica from {at}",
            published.revision, published.epoch
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn status(args: &FleetArgs) -> Result<ExitCode, CliError> {
    let (url, key) = args.database.url_and_key()?;
    let runtime = tokio::runtime::Runtime::new()?;
    let (sets, replicas) = runtime
        .block_on(mfa_reset_service::fleet_status(&url, &key))
        .map_err(|e| failed(&url, e))?;
    if args.json {
        println!(
            "{}",
            serde_json::json!({"published": sets, "replicas": replicas})
        );
        return Ok(ExitCode::SUCCESS);
    }
    let time = |ms: i64| {
        mfa_reset::timestamp::from_millis(ms)
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    };
    println!("published sets (newest first):");
    for s in &sets {
        println!(
            "  {}  by {}  at {}",
            s.revision,
            s.published_by,
            time(s.published_at)
        );
    }
    println!("replicas:");
    for r in &replicas {
        println!(
            "  {}  {}  active {}  ready {}  epoch {}  last seen {}",
            r.id,
            r.state,
            r.active_revision.as_deref().unwrap_or("-"),
            r.ready_revision.as_deref().unwrap_or("-"),
            r.epoch.map_or("-".to_string(), |e| e.to_string()),
            time(r.last_seen)
        );
    }
    Ok(ExitCode::SUCCESS)
}
