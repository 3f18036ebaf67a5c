//! `policies case REQUEST`: a `run-tests` case made from a request (the
//! JSON `decide` takes), asked as `decide` asks it, so that a decision
//! seen in the service or the console becomes a test in one step.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use serde_json::{Map, Value, json};

use super::error::CliError;
use super::policy_files::PolicyFiles;
use mfa_reset::Engine;

/// The arguments of `policies case`.
#[derive(Args)]
pub struct CaseArgs {
    /// The request file (as `decide` takes it), or `-` for standard input.
    request: PathBuf,
    #[command(flatten)]
    files: PolicyFiles,
    /// The case's name (default: its action, principal and resource).
    #[arg(long)]
    name: Option<String>,
    /// The decision the case expects; default: what the policies decide
    /// now. Expecting another makes a case that fails until the policies
    /// change (write the test first, then the policy).
    #[arg(long, value_enum)]
    expect: Option<Expected>,
    /// Add the case after the last one of the tests file (--tests), every
    /// other byte of it kept; without it, the case is printed.
    #[arg(long)]
    add: bool,
}

/// A run-tests decision.
#[derive(Clone, Copy, ValueEnum)]
enum Expected {
    Allow,
    Deny,
}

impl Expected {
    fn as_str(self) -> &'static str {
        match self {
            Expected::Allow => "allow",
            Expected::Deny => "deny",
        }
    }
}

pub fn run(engine: &Engine, args: &CaseArgs) -> Result<ExitCode, CliError> {
    engine.load_policies(&args.files.read(engine)?)?;
    let request = super::decide::read_request(&args.request)?;
    let cedar: Value = serde_json::from_str(&engine.cedar_case(&request)?).map_err(|e| {
        CliError::Refused(format!("the component wrote a case that is not JSON: {e}"))
    })?;
    let answer = engine.authorize_cedar(&cedar.to_string())?;
    let got = if answer.allowed { "allow" } else { "deny" };
    let deciding = answer.policy_ids.join(", ");
    let (decision, reason, num_errors) = match args.expect {
        Some(expected) if expected.as_str() != got => {
            eprintln!(
                "note: the policies decide {got} [{deciding}] now: this case fails until they change"
            );
            (expected.as_str(), Vec::new(), 0)
        }
        _ => (got, answer.policy_ids, answer.errors.len()),
    };
    let request = &cedar["request"];
    let name = args.name.clone().unwrap_or_else(|| {
        let uid = |key: &str| short_uid(request[key].as_str().unwrap_or_default());
        format!(
            "{} by {} on {}",
            uid("action"),
            uid("principal"),
            uid("resource")
        )
    });
    let mut entities = cedar["entities"].as_array().cloned().unwrap_or_default();
    entities.sort_by_key(|e| (e["uid"]["type"].to_string(), e["uid"]["id"].to_string()));
    let case = json!({
        "name": name,
        "request": {
            "principal": request["principal"],
            "action": request["action"],
            "resource": request["resource"],
            "context": request["context"],
        },
        "entities": entities.iter().map(entity_in_order).collect::<Vec<_>>(),
        "decision": decision,
        "reason": reason,
        "num_errors": num_errors,
    });
    if !args.add {
        println!(
            "{}",
            serde_json::to_string_pretty(&case).expect("JSON values serialize")
        );
        return Ok(ExitCode::SUCCESS);
    }
    let tests = args.files.tests_path();
    let text = std::fs::read_to_string(&tests).map_err(|e| CliError::file(&tests, e))?;
    let names: Vec<Value> = serde_json::from_str::<Vec<Value>>(&text)
        .map_err(|e| CliError::file(&tests, format!("not a run-tests file: {e}")))?
        .into_iter()
        .map(|case| case["name"].clone())
        .collect();
    if names.contains(&Value::from(name.as_str())) {
        return Err(CliError::Refused(format!(
            "{} already has a case named `{name}`: give another with --name",
            tests.display()
        )));
    }
    let added =
        super::tests_file::appended(&text, &case).map_err(|why| CliError::file(&tests, why))?;
    super::file_replace::write_atomically(&tests, &added)?;
    println!(
        "added `{name}` to {}: expects {decision} [{}], {num_errors} error(s)",
        tests.display(),
        case["reason"]
            .as_array()
            .map(|r| r
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", "))
            .unwrap_or_default()
    );
    Ok(ExitCode::SUCCESS)
}

/// `Namespace::Type::"id"` without its namespace: `Type::"id"`.
fn short_uid(uid: &str) -> &str {
    let type_end = uid.find("::\"").unwrap_or(0);
    match uid[..type_end].rfind("::") {
        Some(at) => &uid[at + 2..],
        None => uid,
    }
}

/// An entity with its keys in the order run-tests files write them.
fn entity_in_order(entity: &Value) -> Value {
    let Some(fields) = entity.as_object() else {
        return entity.clone();
    };
    let mut ordered = Map::new();
    for key in ["uid", "attrs", "parents"] {
        if let Some(value) = fields.get(key) {
            ordered.insert(key.into(), value.clone());
        }
    }
    for (key, value) in fields {
        if !ordered.contains_key(key) {
            ordered.insert(key.clone(), value.clone());
        }
    }
    Value::Object(ordered)
}
