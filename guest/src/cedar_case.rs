//! Evaluates one case of a `cedar run-tests` file, so `policies test` runs
//! the same file as the Cedar CLI, through the component.

use std::str::FromStr;

use cedar_policy::{Authorizer, Context, Decision, Entities, EntityUid, Request};
use serde::Deserialize;

use crate::mfa_reset::engine::types::CedarAnswer;
use crate::policy_store::PolicyStore;

/// The parts of a run-tests case that the engine evaluates; `name`,
/// `decision`, `reason` and `num_errors` are the host's to compare.
#[derive(Deserialize)]
struct TestCase {
    request: CaseRequest,
    entities: serde_json::Value,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseRequest {
    principal: String,
    action: String,
    resource: String,
    #[serde(default)]
    context: serde_json::Value,
}

pub fn authorize(store: &PolicyStore, json: &str) -> Result<CedarAnswer, String> {
    let case: TestCase =
        serde_json::from_str(json).map_err(|e| format!("invalid test case: {e}"))?;
    let uid = |field: &str, text: &str| {
        EntityUid::from_str(text)
            .map_err(|e| format!("request.{field}: `{text}` is not an entity uid: {e}"))
    };
    let principal = uid("principal", &case.request.principal)?;
    let action = uid("action", &case.request.action)?;
    let resource = uid("resource", &case.request.resource)?;
    let schema = &store.schema;
    let context = Context::from_json_value(case.request.context, Some((schema, &action)))
        .map_err(|e| format!("request.context: {e}"))?;
    let request = Request::new(principal, action, resource, context, Some(schema))
        .map_err(|e| format!("request: {e}"))?;
    if case.entities.is_string() {
        return Err("entities: give the entities inline, as a JSON array".into());
    }
    let entities = Entities::from_json_value(case.entities, Some(schema))
        .map_err(|e| format!("entities: {e}"))?;
    let response = Authorizer::new().is_authorized(&request, &store.policies, &entities);
    Ok(CedarAnswer {
        allowed: response.decision() == Decision::Allow,
        policy_ids: store
            .in_order(response.diagnostics().reason())
            .into_iter()
            .map(|(id, _)| id)
            .collect(),
        errors: response
            .diagnostics()
            .errors()
            .map(ToString::to_string)
            .collect(),
    })
}
