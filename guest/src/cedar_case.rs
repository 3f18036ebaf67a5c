//! `cedar run-tests` cases: evaluates one, so `policies test` runs the
//! same file as the Cedar CLI through the component, and writes one from
//! an engine request, so `policies case` makes a test of what `decide`
//! asks the policies.

use std::str::FromStr;

use cedar_policy::{Authorizer, Context, Decision, Entities, EntityUid, Request};
use serde::Deserialize;

use crate::cedar_request::{self, Query};
use crate::mfa_reset::engine::types::{CedarAnswer, Request as EngineRequest, RequestError};
use crate::policy_store::PolicyStore;
use crate::request_check;

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

/// `request` as Cedar is asked it by `decide`: a run-tests case's
/// `request` and `entities` as JSON (the schema's actions left out, as
/// the Cedar CLI adds them), without a name or an expectation.
pub fn from_request(store: &PolicyStore, request: &EngineRequest) -> Result<String, RequestError> {
    request_check::check(request, &store.names)?;
    let query = Query::of(request);
    if !store.names.applies(query.action, query.actor, query.target) {
        return Err(RequestError {
            field: "action".into(),
            message: format!(
                "`{}` does not apply to this kind of account: it is denied without asking the policies, so there is no Cedar request to test",
                query.action
            ),
        });
    }
    let failed = |message: String| RequestError {
        field: "request".into(),
        message,
    };
    let cedar = cedar_request::build(&store.names, &query, None).map_err(failed)?;
    let uid = |uid: Option<&EntityUid>| uid.map(ToString::to_string).unwrap_or_default();
    let context = match cedar.request.context() {
        Some(context) => context.to_json_value().map_err(|e| failed(e.to_string()))?,
        None => serde_json::json!({}),
    };
    let entities = cedar
        .entities
        .iter()
        .filter(|entity| !store.names.is_action(entity.uid().type_name()))
        .map(|entity| entity.to_json_value().map_err(|e| failed(e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    let case = serde_json::json!({
        "request": {
            "principal": uid(cedar.request.principal()),
            "action": uid(cedar.request.action()),
            "resource": uid(cedar.request.resource()),
            "context": context,
        },
        "entities": entities,
    });
    Ok(case.to_string())
}
