//! `mfa-reset policies fmt [--check]`: the policy files as Cedar's own
//! formatter prints them (what `cedar format` gives, 80 columns, indent
//! 2); `--check` changes nothing and fails with the diff of each file that
//! is not formatted, for CI and pre-commit hooks.

use std::path::Path;
use std::process::ExitCode;

use cedar_policy_formatter::{Config, policies_str_to_pretty};

use super::error::CliError;
use super::policy_files::PolicyFiles;

/// The Cedar CLI's defaults (`cedar format --line-width 80 --indent-width 2`).
const CONFIG: Config = Config {
    line_width: 80,
    indent_width: 2,
};

/// `text` as Cedar's formatter prints it, or why it cannot be formatted:
/// the parse error at its place in `path` (file:line:col, the lines under
/// a caret, what was expected), as `policies validate` shows it.
fn formatted(path: &Path, text: &str) -> Result<String, String> {
    let report = match policies_str_to_pretty(text, &CONFIG) {
        Ok(pretty) => return Ok(pretty),
        Err(report) => report,
    };
    let label = report.labels().and_then(|mut labels| labels.next());
    let place = label.and_then(|label| {
        let at = label.offset();
        Some((label, text.get(..at)?))
    });
    let Some((label, before)) = place else {
        return Err(format!("{}: error: {report}\n", path.display()));
    };
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    let (line, column) = (
        u32::try_from(line).unwrap_or(u32::MAX),
        u32::try_from(column).unwrap_or(u32::MAX),
    );
    Err(format!(
        "{}:{line}:{column}: error: {report}\n{}",
        path.display(),
        super::policies::snippet(text, line, column, label.label())
    ))
}

pub fn run(files: &PolicyFiles, check: bool) -> Result<ExitCode, CliError> {
    let mut unformatted = 0;
    let mut failed = 0;
    for path in files.policy_paths()? {
        let text = std::fs::read_to_string(&path).map_err(|e| CliError::file(&path, e))?;
        let pretty = match formatted(&path, &text) {
            Ok(pretty) => pretty,
            Err(why) => {
                failed += 1;
                eprint!("{why}");
                eprintln!(
                    "error: {} does not parse, so it cannot be formatted",
                    path.display()
                );
                continue;
            }
        };
        if pretty == text {
            continue;
        }
        unformatted += 1;
        if check {
            print_diff(&path, &text, &pretty);
        } else {
            super::file_replace::write_atomically(&path, &pretty)?;
            println!("formatted {}", path.display());
        }
    }
    if failed > 0 {
        return Ok(ExitCode::from(2));
    }
    if check && unformatted > 0 {
        println!("{unformatted} file(s) not formatted: run `mfa-reset policies fmt`");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// A unified diff from the file as it is to the file formatted.
fn print_diff(path: &Path, text: &str, pretty: &str) {
    let name = path.display().to_string();
    let diff = similar::TextDiff::from_lines(text, pretty);
    print!(
        "{}",
        diff.unified_diff()
            .context_radius(2)
            .header(&name, &format!("{name} (formatted)"))
    );
}
