//! The discovery documents (RFC 7644 4, RFC 7643 5–7): what this service
//! provider supports, the one resource type it serves (`User`) and its
//! schema, declaring exactly the attributes it stores and returns.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::{PREFIX, ScimCaller, ScimError, scim_json};
use crate::app::AppState;

pub(super) const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// Users listed at most per page.
pub(super) const MAX_RESULTS: i64 = 200;

fn location(state: &AppState, path: &str) -> String {
    format!("{}{PREFIX}{path}", state.config.public_url)
}

fn list(resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_SCHEMA],
        "totalResults": resources.len(),
        "startIndex": 1,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

pub(super) async fn service_provider_config(
    State(state): State<AppState>,
    _: ScimCaller,
) -> Response {
    let body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": false},
        "sort": {"supported": false},
        "etag": {"supported": false},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "Bearer token",
            "description": "An organization's token, from `mfa-reset scim-tokens create --org ORGANIZATION`",
            "primary": true,
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": location(&state, "/ServiceProviderConfig"),
        },
    });
    scim_json(StatusCode::OK, &body)
}

fn user_resource_type(state: &AppState) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": "User",
        "name": "User",
        "endpoint": "/Users",
        "description": "A user of the organization: created as a sub-user, who chooses a password from an invitation",
        "schema": USER_SCHEMA,
        "meta": {"resourceType": "ResourceType", "location": location(state, "/ResourceTypes/User")},
    })
}

pub(super) async fn resource_types(State(state): State<AppState>, _: ScimCaller) -> Response {
    scim_json(StatusCode::OK, &list(vec![user_resource_type(&state)]))
}

pub(super) async fn resource_type(
    State(state): State<AppState>,
    _: ScimCaller,
    Path(id): Path<String>,
) -> Result<Response, ScimError> {
    if id != "User" {
        return Err(ScimError::not_found(&id));
    }
    Ok(scim_json(StatusCode::OK, &user_resource_type(&state)))
}

fn attribute(name: &str, kind: &str, description: &str) -> Value {
    json!({
        "name": name,
        "type": kind,
        "multiValued": false,
        "description": description,
        "required": false,
        "caseExact": false,
        "mutability": "readWrite",
        "returned": "default",
        "uniqueness": "none",
    })
}

/// The User schema: the attributes stored and returned, and nothing else.
fn user_schema(state: &AppState) -> Value {
    let mut user_name = attribute(
        "userName",
        "string",
        "The user's id, which they log in with. Set at creation: ASCII letters, digits and . _ - @ +, up to 128 characters, unique whatever the letter case",
    );
    user_name["required"] = Value::Bool(true);
    user_name["mutability"] = Value::from("immutable");
    user_name["uniqueness"] = Value::from("server");
    let name_parts = [
        ("formatted", "The full name, as displayed"),
        ("familyName", "The family name"),
        ("givenName", "The given name"),
        ("middleName", "The middle name(s)"),
        ("honorificPrefix", "Title, e.g. Ms."),
        ("honorificSuffix", "Suffix, e.g. III"),
    ];
    let mut name = attribute("name", "complex", "The user's name");
    name["subAttributes"] = name_parts
        .iter()
        .map(|(n, d)| attribute(n, "string", d))
        .collect();
    let mut emails = attribute(
        "emails",
        "complex",
        "E-mail addresses: the user.invited event carries them to the receiver that mails the invitation",
    );
    emails["multiValued"] = Value::Bool(true);
    let mut value = attribute("value", "string", "The address");
    value["required"] = Value::Bool(true);
    let mut kind = attribute("type", "string", "work, home or other");
    kind["canonicalValues"] = json!(["work", "home", "other"]);
    emails["subAttributes"] = json!([
        value,
        kind,
        attribute("primary", "boolean", "The primary address"),
    ]);
    // Every user is active or not: it cannot be removed, only set (a
    // request that leaves it out creates an active user).
    let mut active = attribute(
        "active",
        "boolean",
        "False deactivates the user: every session ends at once and every request is denied",
    );
    active["required"] = Value::Bool(true);
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": USER_SCHEMA,
        "name": "User",
        "description": "A user of the organization",
        "attributes": [
            user_name,
            name,
            attribute("displayName", "string", "The name shown for the user"),
            emails,
            active,
        ],
        "meta": {"resourceType": "Schema", "location": location(state, &format!("/Schemas/{USER_SCHEMA}"))},
    })
}

pub(super) async fn schemas(State(state): State<AppState>, _: ScimCaller) -> Response {
    scim_json(StatusCode::OK, &list(vec![user_schema(&state)]))
}

pub(super) async fn schema(
    State(state): State<AppState>,
    _: ScimCaller,
    Path(id): Path<String>,
) -> Result<Response, ScimError> {
    if id != USER_SCHEMA {
        return Err(ScimError::not_found(&id));
    }
    Ok(scim_json(StatusCode::OK, &user_schema(&state)))
}
