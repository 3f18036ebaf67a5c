//! `mfa-reset policies diff|replay`: what a policy edit changes, before it
//! goes live — proven over all requests (diff), and measured on the
//! decisions the service actually made (replay).

use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::Instant;

use mfa_reset::api::SourceFile;
use mfa_reset::{Engine, PolicySource};
use mfa_reset_guardrails::{Counterexample, DiffReport, Direction, diff, on_deep_stack};

use super::error::CliError;
use super::policy_files::PolicyFiles;

/// The set a command works on: named positionally (a directory or a git
/// revision), else by the policy-file flags (`--dir`, `--policies`,
/// `--schema`).
pub enum SetName<'a> {
    Spec(&'a str),
    Files(&'a PolicyFiles),
}

impl<'a> SetName<'a> {
    /// The set named positionally, else by the flags; both is an error
    /// (which one was meant?).
    pub fn of(spec: Option<&'a str>, files: &'a PolicyFiles) -> Result<Self, CliError> {
        match spec {
            Some(_) if files.named() => Err(CliError::setting(
                "--policies/--schema",
                "the new set is named twice: give it as NEW or with --policies/--schema, not both",
            )),
            Some(spec) => Ok(Self::Spec(spec)),
            None => Ok(Self::Files(files)),
        }
    }

    fn read(&self, engine: &Engine) -> Result<PolicySource, CliError> {
        match self {
            Self::Spec(spec) => read_set(engine, spec),
            Self::Files(files) => files.read(engine),
        }
    }
}

impl std::fmt::Display for SetName<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Spec(spec) => f.write_str(spec),
            Self::Files(files) => f.write_str(&files.name()),
        }
    }
}

/// A policy set named on the command line: a directory, or a git revision
/// (`REV` for its `policies/`, `REV:DIR` for another directory).
pub fn read_set(engine: &Engine, spec: &str) -> Result<PolicySource, CliError> {
    let support_url = engine.default_policies()?.support_url;
    if Path::new(spec).is_dir() {
        return Ok(PolicySource::from_dir(spec, support_url)?);
    }
    if spec.starts_with('-') {
        return Err(CliError::Revision {
            spec: spec.into(),
            message: "neither a directory nor a git revision (a revision never starts with `-`)"
                .into(),
        });
    }
    let (revision, dir) = spec.split_once(':').unwrap_or((spec, "policies"));
    let dir = dir.trim_end_matches('/');
    let not_found = |message: String| CliError::Revision {
        spec: spec.into(),
        message,
    };
    let listing = git(&["ls-tree", "--name-only", revision, &format!("{dir}/")]).map_err(|e| {
        not_found(format!(
            "neither a directory nor a git revision with a `{dir}/` directory ({e})"
        ))
    })?;
    let mut policies = Vec::new();
    let mut schemas = Vec::new();
    for path in listing.lines() {
        let file = || -> Result<SourceFile, CliError> {
            Ok(SourceFile {
                name: format!("{revision}:{path}"),
                text: git(&["show", &format!("{revision}:{path}")]).map_err(|e| not_found(e.0))?,
            })
        };
        if path.ends_with(".cedar") {
            policies.push(file()?);
        } else if path.ends_with(".cedarschema") {
            schemas.push(file()?);
        }
    }
    if policies.is_empty() {
        return Err(not_found(format!(
            "no `*.cedar` policy file in `{revision}:{dir}/`"
        )));
    }
    let [schema] = <[SourceFile; 1]>::try_from(schemas).map_err(|found| {
        not_found(format!(
            "`{revision}:{dir}/` must hold one `*.cedarschema` file, not {}",
            found.len()
        ))
    })?;
    Ok(PolicySource {
        policies,
        schema,
        support_url,
    })
}

/// What git said when it failed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct GitFailure(String);

fn git(args: &[&str]) -> Result<String, GitFailure> {
    let out = Command::new("git")
        .args(args)
        .output()
        .map_err(|e| GitFailure(format!("git: {e}")))?;
    if !out.status.success() {
        return Err(GitFailure(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ));
    }
    String::from_utf8(out.stdout).map_err(|e| GitFailure(e.to_string()))
}

/// `policies diff OLD NEW`: exit 0 when the new set grants nothing the old
/// one denied, 1 when it does, 2 on an error.
pub fn run_diff(
    engine: &Engine,
    old: &str,
    new: &SetName<'_>,
    no_new_access: bool,
    cvc5: Option<&Path>,
) -> Result<ExitCode, CliError> {
    let (old_set, new_set) = (read_set(engine, old)?, new.read(engine)?);
    // Proofs about a set that does not validate mean nothing.
    for (name, set) in [(old.to_string(), &old_set), (new.to_string(), &new_set)] {
        if let Err(e) = engine.validate_policies(set).and_then(|d| {
            match d.iter().find(|d| d.severity == mfa_reset::Severity::Error) {
                Some(d) => Err(mfa_reset::Error::InvalidPolicies(vec![d.clone()])),
                None => Ok(()),
            }
        }) {
            eprintln!("error: `{name}` is not a valid policy set");
            return Err(e.into());
        }
    }
    let direction = if no_new_access {
        Direction::NewAccessOnly
    } else {
        Direction::Both
    };
    let started = Instant::now();
    let report = match on_deep_stack(|| diff(&old_set, &new_set, direction, cvc5)) {
        Ok(report) => report,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    println!("policies diff {old} → {new}");
    print_diff(&report, no_new_access);
    println!(
        "{} ({} actions, {} kinds of request, proven in {:.1} s)",
        diff_verdict(&report, no_new_access),
        unique_actions(report.actions.iter().map(|a| a.action.as_str())),
        report.actions.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(if report.grants_new_access() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// How many distinct actions `names` holds (one per kind of request).
pub(crate) fn unique_actions<'a>(names: impl Iterator<Item = &'a str>) -> usize {
    names.collect::<std::collections::BTreeSet<_>>().len()
}

/// Each action the two sets decide alike, each schema change, and each
/// changed action with the request that shows it.
fn print_diff(report: &DiffReport, no_new_access: bool) {
    // An action is proven once per kind of principal and resource it
    // applies to; it decides alike when every kind does.
    let changed: std::collections::BTreeSet<&str> = report
        .actions
        .iter()
        .filter(|a| !a.unchanged())
        .map(|a| a.action.as_str())
        .collect();
    let alike: Vec<&str> = report
        .actions
        .iter()
        .map(|a| a.action.as_str())
        .filter(|a| !changed.contains(a))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if !alike.is_empty() {
        let how = if no_new_access {
            "allow nothing new"
        } else {
            "decide alike"
        };
        println!("= {} actions {how}: {}", alike.len(), alike.join(", "));
    }
    for change in &report.schema_changes {
        println!(
            "! schema: {change} — not proven (the proof runs under the new schema): counted as new access"
        );
    }
    for change in report.actions.iter().filter(|a| !a.unchanged()) {
        if let Some(cex) = &change.newly_allowed {
            print_change(
                "+",
                &change.action,
                "NEWLY ALLOWED",
                "may now",
                "the new set",
                cex,
            );
        }
        if let Some(cex) = &change.newly_denied {
            print_change(
                "-",
                &change.action,
                "NEWLY DENIED",
                "may no longer",
                "the old set",
                cex,
            );
        }
    }
}

/// The diff in one sentence.
fn diff_verdict(report: &DiffReport, no_new_access: bool) -> String {
    let widened = unique_actions(
        report
            .actions
            .iter()
            .filter(|a| a.newly_allowed.is_some())
            .map(|a| a.action.as_str()),
    );
    let narrowed = unique_actions(
        report
            .actions
            .iter()
            .filter(|a| a.newly_denied.is_some())
            .map(|a| a.action.as_str()),
    );
    match (widened, narrowed, report.schema_changes.len()) {
        (0, _, s) if s > 0 => format!(
            "the schema's hierarchy changed ({s} change(s)): NOT PROVEN to grant nothing new"
        ),
        (0, 0, _) if no_new_access => "the new set grants nothing the old one denied".to_string(),
        (0, 0, _) => "the two sets decide every request alike".to_string(),
        (0, n, _) => format!("the new set grants nothing new; it denies more in {n} action(s)"),
        (w, _, _) => format!("the new set GRANTS NEW ACCESS in {w} action(s)"),
    }
}

fn print_change(
    mark: &str,
    action: &str,
    what: &str,
    modal: &str,
    deciding: &str,
    cex: &Counterexample,
) {
    println!("{mark} {action}: {what}");
    println!("    {}", cex.story.sentence(modal));
    for line in cex.readable.lines().skip(1) {
        println!("    {line}");
    }
    println!("    (decided by {deciding})");
    println!(
        "    as a run-tests case expecting the old decision (paste into policies/tests.json):"
    );
    println!("    {}", cex.test_case);
}

/// `7d`, `24h`, `90m`, `3600s` in milliseconds.
fn parse_since(text: &str) -> Result<i64, CliError> {
    let refused = |why: &str| CliError::setting("--since", format!("`{text}`: {why}"));
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: i64 = number
        .parse()
        .map_err(|_| refused("a number and a unit (7d, 24h, 90m, 3600s)"))?;
    let unit_ms = match unit {
        "d" => 86_400_000,
        "h" => 3_600_000,
        "m" => 60_000,
        "s" => 1_000,
        _ => return Err(refused("the unit must be d, h, m or s")),
    };
    number
        .checked_mul(unit_ms)
        .ok_or_else(|| refused("too long"))
}

/// Decisions replayed at most (the newest).
const REPLAYED: i64 = 1_000_000;

/// `policies replay --since 7d NEW`: exit 0 when no recorded decision would
/// flip, 1 when some would, 2 on an error.
pub fn run_replay(
    engine: &Engine,
    new: &SetName<'_>,
    since: &str,
    database: &str,
) -> Result<ExitCode, CliError> {
    let bad = |message: String| CliError::Database {
        url: mfa_reset_service::redact(database),
        message: message.replace(database, &mfa_reset_service::redact(database)),
    };
    let window = parse_since(since)?;
    let candidate = new.read(engine)?;
    let info = engine.load_policies(&candidate)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let from =
        mfa_reset::timestamp::to_millis(time::OffsetDateTime::now_utc()).saturating_sub(window);
    let recorded = runtime
        .block_on(mfa_reset_service::read_recorded_decisions(
            database, from, REPLAYED,
        ))
        .map_err(|e| bad(e.to_string()))?;
    if recorded.is_empty() {
        return Err(bad(format!(
            "no decision recorded in the last {since}: is this the service's database, with its decision log on?"
        )));
    }
    let started = Instant::now();
    let report = mfa_reset_service::replay(engine, &recorded, None);
    println!(
        "policies replay: {} recorded decisions of the last {since} under {new} (revision {}), {:.1} s",
        recorded.len(),
        info.revision,
        started.elapsed().as_secs_f64()
    );
    println!(
        "replayed {}; {} not replayable (login steps: their requests hold codes and keys); {} undecidable under the new set (counted as flips){}",
        report.replayed,
        report.not_replayable,
        report.errors,
        report
            .first_error
            .as_deref()
            .map(|e| format!(" (first: {e})"))
            .unwrap_or_default()
    );
    print_changes(&report);
    let flipped = report.flipped();
    println!(
        "{flipped} of {} replayed decisions would flip ({:.2}%)",
        report.replayed,
        report.flipped_share() * 100.0
    );
    Ok(if flipped == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The recorded decisions the new set decides otherwise, grouped, each
/// group with examples: first those that would flip, then the rest.
fn print_changes(report: &mfa_reset_service::ReplayReport) {
    for (title, flips) in [
        ("decisions that would flip", true),
        ("other changes (another denial code)", false),
    ] {
        let groups: Vec<_> = report
            .changes
            .iter()
            .filter(|g| g.flips() == flips)
            .collect();
        if groups.is_empty() {
            continue;
        }
        println!("{title}:");
        for group in groups {
            println!(
                "  {:>6} × {}: {} → {}",
                group.count, group.action, group.recorded, group.replayed
            );
            for example in &group.examples {
                println!("           e.g. {}", describe(example));
            }
        }
    }
}

/// "decision 0193… at 2026-11-22T10:00:00Z: ada (acme) on bob".
fn describe(decision: &mfa_reset_service::RecordedDecision) -> String {
    use mfa_reset::Action;
    let at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(decision.at) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| decision.at.to_string());
    let target = match decision.request.as_ref().map(|r| &r.action) {
        Some(Action::ResetUserMfa(u) | Action::EnableUserMfa(u) | Action::DisableUserMfa(u)) => {
            format!(" on `{}` of `{}`", u.id, u.organization.id)
        }
        _ => String::new(),
    };
    format!(
        "decision {} at {at}: `{}` of `{}`{target}",
        decision.id, decision.actor, decision.organization
    )
}
