//! `mfa-reset policies validate|test`: for policy authors.

use std::path::Path;
use std::process::ExitCode;

use mfa_reset::{Engine, Error, PolicySource, Severity, run_policy_tests};

fn read_dir(engine: &Engine, dir: &Path) -> Result<PolicySource, Error> {
    let support_url = engine.default_policies()?.support_url;
    PolicySource::from_dir(dir, support_url)
}

pub fn validate(engine: &Engine, dir: &Path) -> Result<ExitCode, Error> {
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

pub fn test(engine: &Engine, dir: &Path, tests: &Path) -> Result<ExitCode, Error> {
    let source = read_dir(engine, dir)?;
    engine.load_policies(&source)?;
    let json = std::fs::read_to_string(tests).map_err(|e| Error::Files {
        path: tests.to_path_buf(),
        message: e.to_string(),
    })?;
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
