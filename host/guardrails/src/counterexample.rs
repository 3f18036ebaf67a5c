//! A request on which a property fails (or two policy sets disagree):
//! readable, told as a sentence, and as a `run-tests` case.

use cedar_policy::{Authorizer, Decision, PolicySet};
use cedar_policy_symcc::Env;
use serde_json::{Value, json};

use super::story::{Story, tell};

/// A request (with entities) on which a property fails.
#[derive(Debug, Clone)]
pub struct Counterexample {
    /// Principal, action, resource, context and entities, for people.
    pub readable: String,
    /// The same as a `cedar run-tests` case expecting what the property
    /// demands, so that pasting it into `policies/tests.json` fails until
    /// the policies are fixed.
    pub test_case: Value,
    /// The policies that allowed it (for a guardrail) or that erred.
    pub policy_ids: Vec<String>,
    /// Who does what, in words of the mfa-reset schema.
    pub story: Story,
}

/// Renders a counterexample. `expect_allowed`: the decision the property
/// demands (`Some(false)`: the guardrail requires a denial), or `None` to
/// expect the decision the policies give, with no errors.
pub fn render(
    env: &Env,
    policies: &PolicySet,
    property: &str,
    expect_allowed: Option<bool>,
) -> Counterexample {
    let response = Authorizer::new().is_authorized(&env.request, policies, &env.entities);
    let allowed = response.decision() == Decision::Allow;
    let mut policy_ids: Vec<String> = response
        .diagnostics()
        .reason()
        .map(ToString::to_string)
        .collect();
    policy_ids.extend(response.diagnostics().errors().map(|e| match e {
        cedar_policy::AuthorizationError::PolicyEvaluationError(e) => e.policy_id().to_string(),
    }));
    policy_ids.sort();
    let entities = case_entities(env);
    let mut test_case = run_tests_case(env, &entities, expect_allowed.unwrap_or(allowed));
    let story = tell(&test_case);
    test_case["name"] = json!(format!("{property}: {}", story.sentence("")));
    let verdict = if allowed { "allowed" } else { "denied" };
    let context = env
        .request
        .context()
        .map(ToString::to_string)
        .unwrap_or_default();
    let mut readable = format!(
        "{}\nrequest: principal {}, action {}, resource {}\ncontext: {context}\nentities:",
        story.sentence(""),
        test_case["request"]["principal"].as_str().unwrap_or("?"),
        test_case["request"]["action"].as_str().unwrap_or("?"),
        test_case["request"]["resource"].as_str().unwrap_or("?"),
    );
    for e in &entities {
        let uid = format!(
            "{}::{}",
            e["uid"]["type"].as_str().unwrap_or("?"),
            e["uid"]["id"]
        );
        readable.push_str(&format!("\n  {uid} {}", e["attrs"]));
    }
    readable.push_str(&format!(
        "\nthe policies: {verdict} by [{}]",
        policy_ids.join(", ")
    ));
    for e in response.diagnostics().errors() {
        let cedar_policy::AuthorizationError::PolicyEvaluationError(e) = e;
        let message = e.inner().to_string();
        readable.push_str(&format!(
            "\npolicy `{}` errs on this request: {message}",
            e.policy_id()
        ));
        if let Some(fix) = known_trap(&message) {
            readable.push_str(&format!("\n  fix: {fix}"));
        }
    }
    Counterexample {
        readable,
        test_case,
        policy_ids,
        story,
    }
}

/// How to fix an evaluation error authors run into, from Cedar's message:
/// the traps the shipped policies already guard against.
fn known_trap(message: &str) -> Option<&'static str> {
    let message = message.to_ascii_lowercase();
    if message.contains("overflows when computing the duration between") {
        return Some(
            "`durationSince` (and other datetime arithmetic) overflows when the two datetimes \
             are very far apart, which a request may make them. Compare only datetimes from \
             1970 on, as the shipped session policies do (`session-idle-limit`): \
             `context.now >= datetime(\"1970-01-01\") && context.session.login_at >= \
             datetime(\"1970-01-01\") && context.now.durationSince(context.session.login_at) …`; \
             an erring forbid is skipped, so the guard must come first in the `&&`.",
        );
    }
    if message.contains("does not have the attribute") || message.contains("no attribute") {
        return Some(
            "the attribute is optional: test it with `has` before reading it, in the same \
             `&&` (`resource has ticket_issued_at && resource.ticket_issued_at …`).",
        );
    }
    None
}

/// The counterexample's entities as `cedar run-tests` reads them; the
/// schema's action entities are added by whoever runs the case.
fn case_entities(env: &Env) -> Vec<Value> {
    env.entities
        .to_json_value()
        .ok()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
        .into_iter()
        .filter(|e| {
            e["uid"]["type"]
                .as_str()
                .is_none_or(|t| !t.ends_with("Action"))
        })
        .collect()
}

/// The counterexample as a `cedar run-tests` case expecting `expected`
/// (its name filled in by the caller).
fn run_tests_case(env: &Env, entities: &[Value], expected: bool) -> Value {
    let request = &env.request;
    let uid = |u: Option<&cedar_policy::EntityUid>| {
        u.map_or(Value::Null, |u| Value::String(u.to_string()))
    };
    let context = request
        .context()
        .and_then(|c| c.to_json_value().ok())
        .unwrap_or_else(|| json!({}));
    json!({
        "name": "",
        "request": {
            "principal": uid(request.principal()),
            "action": uid(request.action()),
            "resource": uid(request.resource()),
            "context": context,
        },
        "entities": entities,
        "decision": if expected { "allow" } else { "deny" },
        "reason": [],
        "num_errors": 0,
    })
}

#[cfg(test)]
mod tests {
    use super::known_trap;

    /// A fix is offered for the traps it fits, and for nothing else: an
    /// integer overflow is not a datetime one.
    #[test]
    fn a_fix_is_offered_only_for_the_trap_it_fits() {
        let datetime = "error while evaluating `datetime` extension function: overflows when computing the duration between 1970-01-01 and -292000000-01-01";
        assert!(known_trap(datetime).is_some_and(|fix| fix.contains("1970-01-01")));
        assert_eq!(
            known_trap("integer overflow while attempting to add `1` with `2`"),
            None
        );
        let missing =
            "`MfaReset::RecoveryCase::\"c\"` does not have the attribute `ticket_issued_at`";
        assert!(known_trap(missing).is_some_and(|fix| fix.contains("`has`")));
        assert_eq!(known_trap("type error: expected bool"), None);
    }
}
