//! `mfa-reset policies diff|replay`: what a policy edit changes, before it
//! goes live — proven over all requests (diff), and measured on the
//! decisions the service actually made (replay).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use mfa_reset::api::SourceFile;
use mfa_reset::{Engine, Error, PolicySource};
use mfa_reset_guardrails::{Counterexample, Direction, diff};

/// A policy set named on the command line: a directory, or a git revision
/// (`REV` for its `policies/`, `REV:DIR` for another directory).
pub fn read_set(engine: &Engine, spec: &str) -> Result<PolicySource, Error> {
    let support_url = engine.default_policies()?.support_url;
    if Path::new(spec).is_dir() {
        return PolicySource::from_dir(spec, support_url);
    }
    let (revision, dir) = spec.split_once(':').unwrap_or((spec, "policies"));
    let dir = dir.trim_end_matches('/');
    let not_found = |message: String| Error::Files {
        path: PathBuf::from(spec),
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
        let file = || -> Result<SourceFile, Error> {
            Ok(SourceFile {
                name: format!("{revision}:{path}"),
                text: git(&["show", &format!("{revision}:{path}")]).map_err(&not_found)?,
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

/// Runs a proof on a thread of its own with a deep stack: the symbolic
/// compiler recurses over the whole policy set (a thousand policies
/// overflow the main thread's 8 MiB).
fn prove<T: Send, F: Future<Output = Result<T, mfa_reset_guardrails::VerifyError>>>(
    proof: impl FnOnce() -> F + Send,
) -> Result<T, String> {
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .stack_size(1 << 30)
            .spawn_scoped(scope, || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| e.to_string())?;
                runtime.block_on(proof()).map_err(|e| e.to_string())
            })
            .map_err(|e| e.to_string())?
            .join()
            .map_err(|_| "the proof panicked".to_string())?
    })
}

fn git(args: &[&str]) -> Result<String, String> {
    let out = Command::new("git")
        .args(args)
        .output()
        .map_err(|e| format!("git: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
    }
    String::from_utf8(out.stdout).map_err(|e| e.to_string())
}

/// `policies diff OLD NEW`: exit 0 when the new set grants nothing the old
/// one denied, 1 when it does, 2 on an error.
pub fn run_diff(
    engine: &Engine,
    old: &str,
    new: &str,
    no_new_access: bool,
    cvc5: Option<&Path>,
) -> Result<ExitCode, Error> {
    let (old_set, new_set) = (read_set(engine, old)?, read_set(engine, new)?);
    // Proofs about a set that does not validate mean nothing.
    for (name, set) in [(old, &old_set), (new, &new_set)] {
        if let Err(e) = engine.validate_policies(set).and_then(|d| {
            match d.iter().find(|d| d.severity == mfa_reset::Severity::Error) {
                Some(d) => Err(Error::InvalidPolicies(vec![d.clone()])),
                None => Ok(()),
            }
        }) {
            eprintln!("error: `{name}` is not a valid policy set");
            return Err(e);
        }
    }
    let direction = if no_new_access {
        Direction::NewAccessOnly
    } else {
        Direction::Both
    };
    let started = Instant::now();
    let report = match prove(|| diff(&old_set, &new_set, direction, cvc5)) {
        Ok(report) => report,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(2));
        }
    };

    println!("policies diff {old} → {new}");
    let alike: Vec<&str> = report
        .actions
        .iter()
        .filter(|a| a.unchanged())
        .map(|a| a.action.as_str())
        .collect();
    if !alike.is_empty() {
        let how = if no_new_access {
            "allow nothing new"
        } else {
            "decide alike"
        };
        println!("= {} actions {how}: {}", alike.len(), alike.join(", "));
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
    let widened = report
        .actions
        .iter()
        .filter(|a| a.newly_allowed.is_some())
        .count();
    let narrowed = report
        .actions
        .iter()
        .filter(|a| a.newly_denied.is_some())
        .count();
    let verdict = match (widened, narrowed) {
        (0, 0) if no_new_access => "the new set grants nothing the old one denied".to_string(),
        (0, 0) => "the two sets decide every request alike".to_string(),
        (0, n) => format!("the new set grants nothing new; it denies more in {n} action(s)"),
        (w, _) => format!("the new set GRANTS NEW ACCESS in {w} action(s)"),
    };
    println!(
        "{verdict} ({} actions proven in {:.1} s)",
        report.actions.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(if widened == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
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
