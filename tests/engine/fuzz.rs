//! Fuzzing by property tests (cargo-fuzz needs a nightly compiler, which
//! this project's toolchain is not): request decoding and policy-set
//! loading take random and mutated input through the real component. Every
//! input is either decided / installed or refused with an error that names
//! the field or the file; nothing panics or traps, and a refused policy set
//! leaves the set in force deciding. Path normalization is fuzzed in
//! `host/service/src/routes.rs`. `MFA_RESET_FUZZ_CASES` scales the runs.

use crate::common;

use common::{builder, engine};
use mfa_reset::{Error, PolicySource, Request};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};

fn cases(default: u32) -> u32 {
    std::env::var("MFA_RESET_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    })
}

/// A valid request: ada resets bob's MFA.
fn valid_request() -> Value {
    let acme = json!({"id": "acme", "enforce_mfa": false});
    json!({
        "actor": {"id": "ada", "role": "root", "organization": acme, "mfa": "active"},
        "session": {
            "login_at": "2026-11-20T10:00:00Z",
            "last_activity_at": "2026-11-22T09:00:00Z",
            "mfa_satisfied": true
        },
        "now": "2026-11-22T10:00:00Z",
        "action": {"reset_user_mfa": {"id": "bob", "role": "sub_user", "organization": acme, "mfa": "active"}}
    })
}

/// Every path to a value inside `v`, as JSON pointers.
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    out.push(at.clone());
    match v {
        Value::Object(map) => map
            .iter()
            .for_each(|(k, v)| pointers(v, format!("{at}/{k}"), out)),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .for_each(|(i, v)| pointers(v, format!("{at}/{i}"), out)),
        _ => {}
    }
}

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,12}".prop_map(Value::from),
        prop_oneof![
            Just("root"),
            Just("sub_user"),
            Just("off"),
            Just("active"),
            Just("9999-12-31T23:59:59Z"),
            Just("-0001-01-01T00:00:00Z"),
            Just(""),
            Just("\u{0}")
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..3).prop_map(Value::from),
            proptest::collection::btree_map("[a-z_]{1,8}", inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// What a request's answer may be: a decision, or a refusal naming a field.
fn decided_or_refused(text: &str) -> Result<(), TestCaseError> {
    let request = match Request::from_json(text) {
        Ok(request) => request,
        Err(Error::InvalidRequest(mfa_reset::RequestError { field, message })) => {
            prop_assert!(!field.is_empty() && !message.is_empty());
            return Ok(());
        }
        Err(other) => return Err(TestCaseError::fail(format!("decoding: {other}"))),
    };
    match engine().decide(&request) {
        Ok(_) => Ok(()),
        Err(Error::InvalidRequest(mfa_reset::RequestError { field, message })) => {
            prop_assert!(
                !field.is_empty() && !message.is_empty(),
                "{field}: {message}"
            );
            Ok(())
        }
        Err(other) => Err(TestCaseError::fail(format!("{other} for {text}"))),
    }
}

/// Found by the fuzz run in CI: an empty key cut short named no field.
#[test]
fn a_document_cut_short_after_an_empty_key_names_the_request() {
    match Request::from_json("{\"\"") {
        Err(Error::InvalidRequest(mfa_reset::RequestError { field, .. })) => {
            assert_eq!(field, "(request)")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn any_text_is_decoded_and_decided_or_refused_with_its_field() {
    runner(cases(2_000))
        .run(&".{0,200}", |text| decided_or_refused(&text))
        .unwrap();
}

#[test]
fn a_request_with_any_value_replaced_is_decided_or_refused_with_its_field() {
    let valid = valid_request();
    let mut paths = Vec::new();
    pointers(&valid, String::new(), &mut paths);
    let paths: Vec<String> = paths.into_iter().filter(|p| !p.is_empty()).collect();
    runner(cases(2_000))
        .run(
            &(0..paths.len(), any_json(), any::<bool>()),
            |(i, replacement, remove)| {
                let mut request = valid.clone();
                let (parent, key) = paths[i].rsplit_once('/').unwrap();
                let parent = request.pointer_mut(parent).unwrap();
                match (parent, remove) {
                    (Value::Object(map), true) => {
                        map.remove(key);
                    }
                    (slot, _) => {
                        if let Some(v) = slot.pointer_mut(&format!("/{key}")) {
                            *v = replacement;
                        }
                    }
                }
                decided_or_refused(&request.to_string())
            },
        )
        .unwrap();
}

#[test]
fn a_mangled_policy_set_is_installed_or_refused_and_never_breaks_the_engine() {
    let engine = builder().build().unwrap();
    let shipped = engine.default_policies().unwrap();
    let revision = engine.policy_set_info().unwrap().revision;
    let text = shipped.policies[0].text.clone();
    let request = Request::from_json(&valid_request().to_string()).unwrap();
    runner(cases(150))
        .run(
            &(0..text.len(), 0usize..200, ".{0,20}"),
            |(at, cut, insert)| {
                // Cut a random stretch of the file and insert random text.
                let at = text.floor_char_boundary(at);
                let end = text.floor_char_boundary((at + cut).min(text.len()));
                let mangled = format!("{}{insert}{}", &text[..at], &text[end..]);
                let mut source: PolicySource = shipped.clone();
                source.policies[0].text = mangled;
                match engine.load_policies(&source) {
                    Ok(_) => {}
                    Err(Error::InvalidPolicies(diagnostics)) => {
                        prop_assert!(!diagnostics.is_empty());
                        prop_assert!(
                            diagnostics.iter().all(|d| !d.file.is_empty()),
                            "{diagnostics:?}"
                        );
                    }
                    Err(other) => return Err(TestCaseError::fail(other.to_string())),
                }
                // Whatever was installed or refused, the engine still decides.
                prop_assert!(engine.decide(&request).is_ok());
                // Back to the shipped set for the next case.
                engine.load_policies(&shipped).unwrap();
                prop_assert_eq!(engine.policy_set_info().unwrap().revision, revision.clone());
                Ok(())
            },
        )
        .unwrap();
}
