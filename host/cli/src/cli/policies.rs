//! `mfa-reset policies validate|revision|test`: for policy authors.

use std::path::Path;
use std::process::ExitCode;

use mfa_reset::{Engine, Error, PolicySource, Severity, run_policy_tests};

use super::error::CliError;

fn read_dir(engine: &Engine, dir: &Path) -> Result<PolicySource, Error> {
    let support_url = engine.default_policies()?.support_url;
    PolicySource::from_dir(dir, support_url)
}

pub fn validate(engine: &Engine, dir: &Path) -> Result<ExitCode, CliError> {
    let source = read_dir(engine, dir)?;
    let diagnostics = engine.validate_policies(&source)?;
    for d in &diagnostics {
        println!("{d}");
    }
    let errors = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    if errors > 0 {
        println!("{errors} error(s): the policy set is invalid");
        return Ok(ExitCode::FAILURE);
    }
    let info = engine.load_policies(&source)?;
    println!(
        "ok: {} policies valid against {} (revision {})",
        info.policy_ids.len(),
        source.schema.name,
        info.revision
    );
    Ok(ExitCode::SUCCESS)
}

/// The revision the component gives the set in `dir` (only a valid set
/// has one): what `/health` and `X-Auth-Policy-Revision` will say.
pub fn revision(engine: &Engine, dir: &Path) -> Result<ExitCode, CliError> {
    let source = read_dir(engine, dir)?;
    let info = engine.load_policies(&source)?;
    println!("{}", info.revision);
    Ok(ExitCode::SUCCESS)
}

pub fn test(engine: &Engine, dir: &Path, tests: &Path) -> Result<ExitCode, CliError> {
    let source = read_dir(engine, dir)?;
    engine.load_policies(&source)?;
    let json = std::fs::read_to_string(tests).map_err(|e| CliError::file(tests, e))?;
    let results = run_policy_tests(engine, &json)?;
    let mut failed = 0;
    for r in &results {
        match &r.failure {
            None => println!("ok    {}", r.name),
            Some(why) => {
                failed += 1;
                println!("FAIL  {}: {why}", r.name);
            }
        }
    }
    println!(
        "policy tests: {} passed, {failed} failed",
        results.len() - failed
    );
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `policies verify`: prove the policies within their guardrails.
pub fn verify(
    engine: &Engine,
    dir: &Path,
    guardrails: &Path,
    cvc5: Option<&Path>,
) -> Result<ExitCode, CliError> {
    use mfa_reset_guardrails::{read_guardrails, verify};

    let source = read_dir(engine, dir)?;
    // Diagnostics first: proofs about a set that does not validate mean nothing.
    if validate(engine, dir)? != ExitCode::SUCCESS {
        return Ok(ExitCode::FAILURE);
    }
    let fail = |e: mfa_reset_guardrails::VerifyError| {
        eprintln!("error: {e}");
        ExitCode::from(2)
    };
    let bounds = match read_guardrails(guardrails) {
        Ok(bounds) => bounds,
        Err(e) => return Ok(fail(e)),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let started = std::time::Instant::now();
    let report = match runtime.block_on(verify(&source, &bounds, cvc5)) {
        Ok(report) => report,
        Err(e) => return Ok(fail(e)),
    };

    // One line per property, over all actions of the schema.
    let mut properties: Vec<&str> = Vec::new();
    for r in &report.results {
        if !properties.contains(&r.property.as_str()) {
            properties.push(&r.property);
        }
    }
    let mut failed = 0;
    for property in &properties {
        let of_property: Vec<_> = report
            .results
            .iter()
            .filter(|r| r.property == *property)
            .collect();
        let broken: Vec<_> = of_property
            .iter()
            .filter(|r| r.counterexample.is_some())
            .collect();
        if broken.is_empty() {
            println!(
                "VERIFIED        {property} ({} actions, {} kinds of request)",
                super::policy_changes::unique_actions(
                    of_property.iter().map(|r| r.action.as_str())
                ),
                of_property.len()
            );
            continue;
        }
        failed += 1;
        for r in broken {
            let cex = r.counterexample.as_ref().expect("filtered");
            println!("COUNTEREXAMPLE  {property}, action `{}`", r.action);
            for line in cex.readable.lines() {
                println!("    {line}");
            }
            println!("    as a run-tests case (paste into policies/tests.json):");
            let case = serde_json::to_string_pretty(&cex.test_case).expect("json");
            for line in case.lines() {
                println!("    {line}");
            }
        }
    }
    println!(
        "{} of {} properties verified over {} checks in {:.1} s",
        properties.len() - failed,
        properties.len(),
        report.results.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
