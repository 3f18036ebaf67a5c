//! Runs a test file in the Cedar CLI's `run-tests` format through the
//! component, comparing as `cedar run-tests` does: same decision, every
//! expected reason among the deciding policies, same number of errors.

use serde::Deserialize;

use crate::{Engine, Error};

#[derive(Deserialize)]
struct Expectation {
    #[serde(default)]
    name: Option<String>,
    decision: ExpectedDecision,
    reason: Vec<String>,
    num_errors: usize,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "lowercase")]
enum ExpectedDecision {
    Allow,
    Deny,
}

/// The result of one test case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyTestResult {
    /// The case's name, as the tests file gives it.
    pub name: String,
    /// `None` when the case passed, else what differed.
    pub failure: Option<String>,
    /// What the policies decided, as a run-tests case would expect it
    /// (`None` when the request could not be evaluated).
    pub got: Option<TestExpectation>,
}

/// A run-tests case's expectation: the decision, the deciding policies
/// and the number of evaluation errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestExpectation {
    /// `allow` or `deny`.
    pub decision: &'static str,
    /// The deciding policies' ids.
    pub reason: Vec<String>,
    /// Evaluation errors.
    pub num_errors: usize,
}

/// Runs every case of `json` (a JSON array of run-tests cases).
pub fn run_policy_tests(engine: &Engine, json: &str) -> Result<Vec<PolicyTestResult>, Error> {
    let cases: Vec<serde_json::Value> = crate::api::from_json(json)?;
    let mut results = Vec::with_capacity(cases.len());
    for (index, case) in cases.iter().enumerate() {
        let expected: Expectation = serde_json::from_value(case.clone())
            .map_err(|e| Error::invalid_request(format!("[{index}]"), e.to_string()))?;
        let name = expected
            .name
            .clone()
            .unwrap_or_else(|| format!("case {index}"));
        let (failure, got) = match engine.authorize_cedar(&case.to_string()) {
            Ok(answer) => (
                compare(&expected, &answer),
                Some(TestExpectation {
                    decision: if answer.allowed { "allow" } else { "deny" },
                    reason: answer.policy_ids.clone(),
                    num_errors: answer.errors.len(),
                }),
            ),
            Err(Error::InvalidRequest(crate::RequestError { message, .. })) => {
                (Some(format!("cannot evaluate: {message}")), None)
            }
            Err(e) => return Err(e),
        };
        results.push(PolicyTestResult { name, failure, got });
    }
    Ok(results)
}

fn compare(expected: &Expectation, answer: &crate::CedarAnswer) -> Option<String> {
    let got = if answer.allowed {
        ExpectedDecision::Allow
    } else {
        ExpectedDecision::Deny
    };
    let mut problems = Vec::new();
    if got != expected.decision {
        problems.push(format!(
            "expected {:?}, got {:?} (deciding policies: [{}])",
            expected.decision,
            got,
            answer.policy_ids.join(", ")
        ));
    } else {
        let missing: Vec<&str> = expected
            .reason
            .iter()
            .filter(|r| !answer.policy_ids.contains(r))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            problems.push(format!(
                "missing reason(s): {} (deciding policies: [{}])",
                missing.join(", "),
                answer.policy_ids.join(", ")
            ));
        }
        if answer.errors.len() != expected.num_errors {
            problems.push(format!(
                "expected {} error(s), got {}: {}",
                expected.num_errors,
                answer.errors.len(),
                answer.errors.join("; ")
            ));
        }
    }
    (!problems.is_empty()).then(|| problems.join("; "))
}
