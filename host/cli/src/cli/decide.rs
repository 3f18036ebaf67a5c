//! `mfa-reset decide`: one request in, the outcome out, as JSON.

use std::io::Read;
use std::path::Path;
use std::process::ExitCode;

use mfa_reset::{Engine, Error, Request};

use super::PolicyArgs;

/// Prints the outcome; exits 0 for any decision (allowed or denied).
pub fn run(engine: &Engine, path: &Path, policies: &PolicyArgs) -> Result<ExitCode, Error> {
    if let Some(source) = policies.source(engine)? {
        engine.load_policies(&source)?;
    }
    let text = if path == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| Error::Files {
                path: "(stdin)".into(),
                message: e.to_string(),
            })?;
        text
    } else {
        std::fs::read_to_string(path).map_err(|e| Error::Files {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?
    };
    let outcome = engine.decide(&Request::from_json(&text)?)?;
    println!(
        "{}",
        serde_json::to_string_pretty(&outcome).expect("outcomes serialize")
    );
    Ok(ExitCode::SUCCESS)
}
