//! Policy sets: the shipped set and its test cases, diagnostics for broken
//! sets, and the set in force surviving a rejected load.

use crate::common;

use common::*;
use mfa_reset::{Action, Error, PolicySource, Severity, SourceFile, run_policy_tests};
use time::Duration;

const POLICY_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../policies");

fn shipped() -> PolicySource {
    PolicySource::from_dir(POLICY_DIR, "https://support.example.com/mfa").expect("policies/ reads")
}

fn with_policy_text(edit: impl FnOnce(&str) -> String) -> PolicySource {
    let mut source = shipped();
    source.policies[0].text = edit(&source.policies[0].text);
    source
}

fn load_errors(source: &PolicySource) -> Vec<mfa_reset::Diagnostic> {
    let engine = builder().build().expect("engine");
    match engine.load_policies(source) {
        Err(Error::InvalidPolicies(diagnostics)) => diagnostics,
        other => panic!("expected diagnostics, got {other:?}"),
    }
}

#[test]
fn the_shipped_policies_validate_without_diagnostics() {
    assert_eq!(
        engine().validate_policies(&shipped()).expect("validates"),
        []
    );
}

#[test]
fn the_built_in_set_is_the_shipped_one() {
    let builtin = engine().default_policies().expect("defaults");
    assert_eq!(builtin.policies[0].text, shipped().policies[0].text);
    assert_eq!(builtin.schema.text, shipped().schema.text);
}

#[test]
fn every_run_tests_case_passes_through_the_component() {
    let json = std::fs::read_to_string(format!("{POLICY_DIR}/tests.json")).expect("tests.json");
    let results = run_policy_tests(engine(), &json).expect("runs");
    assert!(results.len() >= 30, "{} cases", results.len());
    let failures: Vec<_> = results.iter().filter(|r| r.failure.is_some()).collect();
    assert!(failures.is_empty(), "{failures:#?}");
    // At least an allow and a deny case for every rule R2 and R4–R11.
    for rule in ["R2", "R4", "R5", "R6", "R7", "R8", "R9", "R10", "R11"] {
        for kind in ["allow", "deny"] {
            let prefix = format!("{rule} {kind}:");
            assert!(
                results.iter().any(|r| r.name.starts_with(&prefix)),
                "no `{prefix}` case"
            );
        }
    }
}

#[test]
fn a_wrong_expectation_fails_with_the_reason() {
    let json = std::fs::read_to_string(format!("{POLICY_DIR}/tests.json")).expect("tests.json");
    let mut cases: Vec<serde_json::Value> = serde_json::from_str(&json).expect("json");
    let case = &mut cases[0];
    case["decision"] = if case["decision"] == "allow" {
        "deny".into()
    } else {
        "allow".into()
    };
    cases[1]["reason"] = serde_json::json!(["no-such-policy"]);
    cases[2]["entities"] = "entities.json".into();
    let results =
        run_policy_tests(engine(), &serde_json::to_string(&cases).unwrap()).expect("runs");
    assert!(
        results[0]
            .failure
            .as_deref()
            .unwrap()
            .starts_with("expected "),
        "{:?}",
        results[0]
    );
    assert!(
        results[1]
            .failure
            .as_deref()
            .unwrap()
            .contains("missing reason(s): no-such-policy")
    );
    assert!(results[2].failure.as_deref().unwrap().contains("entities"));
    assert!(results[3..].iter().all(|r| r.failure.is_none()));
}

#[test]
fn a_syntax_error_is_located_and_the_previous_set_keeps_deciding() {
    let engine = builder().build().expect("engine");
    let before = engine.policy_set_info().expect("info");
    let broken =
        with_policy_text(|t| t.replacen("principal == resource", "principal === resource", 1));
    let diagnostics = match engine.load_policies(&broken) {
        Err(Error::InvalidPolicies(d)) => d,
        other => panic!("expected diagnostics, got {other:?}"),
    };
    let d = &diagnostics[0];
    assert_eq!(d.severity, Severity::Error);
    assert!(d.file.ends_with("mfa.cedar"), "{d}");
    let expected_line = shipped().policies[0]
        .text
        .lines()
        .position(|l| l.contains("principal == resource"))
        .unwrap()
        + 1;
    assert_eq!(d.line as usize, expected_line, "{d}");
    assert!(d.column > 0);

    assert_eq!(
        engine.policy_set_info().expect("info"),
        before,
        "the old set is still in force"
    );
    let outcome = engine
        .decide(&request(
            &sub("bob", &org("acme", false)),
            Action::ResetOwnMfa,
        ))
        .expect("decides");
    assert_eq!(outcome.decision.policy_ids, ["self-service"]);
}

#[test]
fn a_type_error_names_the_policy_and_line() {
    let broken =
        with_policy_text(|t| t.replacen("principal.is_root &&", "principal.is_admin &&", 1));
    let diagnostics = load_errors(&broken);
    let d = diagnostics
        .iter()
        .find(|d| d.message.contains("is_admin"))
        .expect("names the attribute");
    assert_eq!(d.policy_id.as_deref(), Some("root-manages-sub-users"));
    let expected_line = broken.policies[0]
        .text
        .lines()
        .position(|l| l.contains("is_admin"))
        .unwrap()
        + 1;
    assert_eq!(d.line as usize, expected_line, "{d}");
}

#[test]
fn policies_need_unique_ids() {
    let missing = with_policy_text(|t| t.replacen("@id(\"self-service\")\n", "", 1));
    let d = &load_errors(&missing)[0];
    assert!(d.message.contains("no `@id`"), "{d}");
    // The policy starts (`permit (`) two lines above its action.
    let lines: Vec<&str> = missing.policies[0].text.lines().collect();
    let action_line = lines
        .iter()
        .position(|l| l.contains("action in MfaReset::Action::\"self_service\""))
        .unwrap();
    assert_eq!(lines[action_line - 2], "permit (");
    let expected_line = action_line - 2 + 1;
    assert_eq!(d.line as usize, expected_line, "{d}");

    let duplicate =
        with_policy_text(|t| t.replacen("@id(\"self-service\")", "@id(\"session-idle-limit\")", 1));
    let d = &load_errors(&duplicate)[0];
    assert!(
        d.message.contains("`session-idle-limit` is used twice"),
        "{d}"
    );
}

#[test]
fn a_schema_that_does_not_fit_the_engine_is_refused() {
    let mut source = shipped();
    source.schema.text = source
        .schema
        .text
        .replace("    last_activity_at: __cedar::datetime,\n", "");
    // Policies using the attribute fail first; drop them to reach the shape check.
    source.policies = vec![SourceFile {
        name: "only.cedar".into(),
        text: "@id(\"all\") permit(principal, action, resource);".into(),
    }];
    let diagnostics = load_errors(&source);
    assert!(
        diagnostics.iter().any(|d| d.file == source.schema.name
            && d.message.contains("does not describe the requests")),
        "{diagnostics:#?}"
    );
}

#[test]
fn an_author_changes_the_session_limit_without_touching_rust() {
    let engine = builder().build().expect("engine");
    let week = with_policy_text(|t| t.replace("duration(\"30d\")", "duration(\"7d\")"));
    let info = engine.load_policies(&week).expect("valid");
    assert_ne!(
        info.revision,
        engine
            .default_policies()
            .map(|_| ())
            .map(|()| String::new())
            .unwrap()
    );

    let mut req = request(&sub("bob", &org("acme", false)), Action::ResetOwnMfa);
    req.session = session(Duration::days(8), Duration::days(8));
    let outcome = engine.decide(&req).expect("decides");
    assert_eq!(
        outcome.decision.denial_code.as_deref(),
        Some("session-expired")
    );
    // The shared default engine still uses 30 days.
    assert!(decide(&req).decision.allowed);
}

/// R16: the revision is the set's content — byte-identical files under
/// another path (another replica's directory), or with another support URL,
/// have the same revision, and `mfa-reset policies revision` prints it; a
/// changed text or a renamed file is another revision.
#[test]
fn r16_identical_sets_anywhere_have_one_revision_and_the_cli_prints_it() {
    let copy = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(POLICY_DIR).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, copy.path().join(path.file_name().unwrap())).unwrap();
        }
    }
    let engine = builder().build().expect("engine");
    let revision = |source: &PolicySource| engine.load_policies(source).unwrap().revision;
    let here = revision(&shipped());
    let there = PolicySource::from_dir(copy.path(), "https://help.example.org/").unwrap();
    assert_eq!(revision(&there), here, "same content, another path and URL");
    let builtin = engine.default_policies().unwrap();
    assert_eq!(
        revision(&builtin),
        here,
        "the built-in set is the shipped one"
    );

    let printed = mfa_reset_command()
        .args(["policies", "revision", "--dir"])
        .arg(copy.path())
        .output()
        .unwrap();
    assert!(printed.status.success(), "{printed:?}");
    assert_eq!(String::from_utf8(printed.stdout).unwrap().trim(), here);

    let edited = with_policy_text(|t| format!("{t}\n// a comment is content too\n"));
    assert_ne!(revision(&edited), here);
    let mut renamed = shipped();
    renamed.policies[0].name = "policies/other.cedar".into();
    assert_ne!(
        revision(&renamed),
        here,
        "a file's name within the set counts"
    );
}
