//! `mfa-reset policies validate|revision|test`: for policy authors.

use std::path::Path;
use std::process::ExitCode;

use mfa_reset::{Engine, Severity, run_policy_tests};

use super::error::CliError;
use super::policy_files::PolicyFiles;

pub fn validate(engine: &Engine, files: &PolicyFiles) -> Result<ExitCode, CliError> {
    let source = files.read(engine)?;
    let diagnostics = engine.validate_policies(&source)?;
    for d in &diagnostics {
        let file = source
            .policies
            .iter()
            .chain([&source.schema])
            .find(|f| f.name == d.file);
        print!("{}", shown(d, file.map(|f| f.text.as_str())));
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

/// The revision the component gives the set (only a valid set has one):
/// what `/health` and `X-Auth-Policy-Revision` will say.
pub fn revision(engine: &Engine, files: &PolicyFiles) -> Result<ExitCode, CliError> {
    let source = files.read(engine)?;
    let info = engine.load_policies(&source)?;
    println!("{}", info.revision);
    Ok(ExitCode::SUCCESS)
}

/// Which failing cases `policies test` makes pass by taking what the
/// policies decide as expected.
pub enum Accepting<'a> {
    /// These, by name (none: only report).
    Named(&'a [String]),
    /// Every failing case.
    AllFailing,
}

pub fn test(
    engine: &Engine,
    files: &PolicyFiles,
    accepting: Accepting<'_>,
) -> Result<ExitCode, CliError> {
    let source = files.read(engine)?;
    engine.load_policies(&source)?;
    let tests = files.tests_path();
    let json = std::fs::read_to_string(&tests).map_err(|e| CliError::file(&tests, e))?;
    if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(&json) {
        // Where the file stops being JSON, shown as for a policy (serde
        // counts bytes, the caret characters).
        let line = e.line() as u32;
        let column = char_column(&json, e.line(), e.column());
        eprintln!("{}:{line}:{column}: error: {e}", tests.display());
        eprint!("{}", snippet(&json, line, column, None));
        return Ok(ExitCode::from(2));
    }
    let results = run_policy_tests(engine, &json)?;
    // A name that is no case: nothing is accepted, nothing written.
    if let Accepting::Named(names) = accepting {
        let unknown: Vec<&String> = names
            .iter()
            .filter(|n| !results.iter().any(|r| &r.name == *n))
            .collect();
        if !unknown.is_empty() {
            eprintln!(
                "error: --accept names no case of {}: {unknown:?}; nothing accepted",
                tests.display()
            );
            return Ok(ExitCode::from(2));
        }
        for r in results.iter().filter(|r| names.contains(&r.name)) {
            if r.failure.is_none() {
                println!("(--accept {}: it passes already)", r.name);
            }
        }
    }
    let mut failed = 0;
    let mut accepted = std::collections::BTreeMap::new();
    for (index, r) in results.iter().enumerate() {
        let Some(why) = &r.failure else {
            println!("ok    {}", r.name);
            continue;
        };
        let accept = match accepting {
            Accepting::Named(names) => names.contains(&r.name),
            Accepting::AllFailing => true,
        };
        match (&r.got, accept) {
            (Some(got), true) => {
                println!(
                    "ACCEPTED {}: now expects {} [{}], {} error(s)",
                    r.name,
                    got.decision,
                    got.reason.join(", "),
                    got.num_errors
                );
                accepted.insert(index, got.clone());
            }
            _ => {
                failed += 1;
                println!("FAIL  {}: {why}", r.name);
            }
        }
    }
    if !accepted.is_empty() {
        let rewritten = super::tests_file::accepted(&json, &accepted)
            .map_err(|why| CliError::file(&tests, why))?;
        super::file_replace::write_atomically(&tests, &rewritten)?;
        println!("{} case(s) accepted in {}", accepted.len(), tests.display());
    }
    println!(
        "policy tests: {} passed, {} accepted, {failed} failed",
        results.len() - failed - accepted.len(),
        accepted.len()
    );
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// A diagnostic as the Cedar CLI shows it: `file:line:col: message`, then
/// the lines of `text` (the file's) up to it with a caret, its help beside
/// the caret; without the text (or the place in it), the help below.
pub fn shown(d: &mfa_reset::Diagnostic, text: Option<&str>) -> String {
    let shown = text.map_or_else(String::new, |text| {
        snippet(text, d.line, d.column, d.help.as_deref())
    });
    if shown.is_empty() {
        return format!("{d}\n");
    }
    let without_help = mfa_reset::Diagnostic {
        help: None,
        ..d.clone()
    };
    format!("{without_help}\n{shown}")
}

/// The 1-based character column of byte column `byte_column` of `line`.
fn char_column(text: &str, line: usize, byte_column: usize) -> u32 {
    let Some(text_line) = text.split('\n').nth(line.saturating_sub(1)) else {
        return 0;
    };
    let end = byte_column.saturating_sub(1).min(text_line.len());
    let end = (0..=end)
        .rev()
        .find(|i| text_line.is_char_boundary(*i))
        .unwrap_or(0);
    u32::try_from(text_line[..end].chars().count() + 1).unwrap_or(u32::MAX)
}

/// The lines of `text` up to `line` (1-based; two before it), with a
/// caret under `column` and `note` beside it: how the Cedar CLI shows
/// where an error is. Empty when the place is not in the text.
pub fn snippet(text: &str, line: u32, column: u32, note: Option<&str>) -> String {
    let lines: Vec<&str> = text.split('\n').collect();
    let (line, column) = (line as usize, column as usize);
    if line == 0 || line > lines.len() {
        return String::new();
    }
    let width = line.to_string().len();
    let mut out = format!("{:width$} |\n", "");
    for n in line.saturating_sub(2).max(1)..=line {
        out.push_str(&format!(
            "{n:>width$} | {}\n",
            lines[n - 1].trim_end_matches('\r')
        ));
    }
    // Tabs stay tabs so that the caret lines up under them.
    let pad: String = lines[line - 1]
        .chars()
        .take(column.saturating_sub(1))
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    out.push_str(&format!("{:width$} | {pad}^", ""));
    if let Some(note) = note {
        out.push(' ');
        out.push_str(note);
    }
    out.push('\n');
    out
}

/// `policies verify`: prove the policies within their guardrails.
pub fn verify(
    engine: &Engine,
    files: &PolicyFiles,
    guardrails: &Path,
    cvc5: Option<&Path>,
) -> Result<ExitCode, CliError> {
    use mfa_reset_guardrails::{read_guardrails, verify};

    let source = files.read(engine)?;
    // Diagnostics first: proofs about a set that does not validate mean nothing.
    if validate(engine, files)? != ExitCode::SUCCESS {
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
