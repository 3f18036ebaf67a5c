//! `mfa-reset decide`: one request in, the outcome out, as JSON.

use std::io::Read;
use std::path::Path;
use std::process::ExitCode;

use mfa_reset::{Engine, Request};

use super::PolicyArgs;
use super::error::CliError;

/// Prints the outcome; exits 0 for any decision (allowed or denied).
pub fn run(engine: &Engine, path: &Path, policies: &PolicyArgs) -> Result<ExitCode, CliError> {
    if let Some(source) = policies.source(engine)? {
        engine.load_policies(&source)?;
    }
    let outcome = engine.decide(&read_request(path)?)?;
    println!(
        "{}",
        serde_json::to_string_pretty(&outcome).expect("outcomes serialize")
    );
    Ok(ExitCode::SUCCESS)
}

/// The request in the file at `path` (`-`: standard input).
pub fn read_request(path: &Path) -> Result<Request, CliError> {
    let text = if path == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| CliError::file(Path::new("-"), e))?;
        text
    } else {
        std::fs::read_to_string(path).map_err(|e| CliError::file(path, e))?
    };
    Ok(Request::from_json(&text)?)
}
