//! `/Users`: list (with `filter`, `startIndex`, `count`, `attributes`,
//! `excludedAttributes`), create, get, replace, patch, delete — each a use
//! case of `accounts::provisioning`, decided by the policies.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::discovery::MAX_RESULTS;
use super::resource::{self, Writable};
use super::{PREFIX, ScimBody, ScimCaller, ScimError, patch, scim_json};
use crate::accounts::provisioning::{self, UserUpdate};
use crate::app::AppState;
use crate::store::ScimRecord;

/// Query parameters of reads (names as RFC 7644 3.4.2 spells them).
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(super) struct ReadParameters {
    filter: Option<String>,
    start_index: Option<String>,
    count: Option<String>,
    attributes: Option<String>,
    excluded_attributes: Option<String>,
}

fn number(name: &str, value: Option<&str>, default: i64) -> Result<i64, ScimError> {
    match value {
        None => Ok(default),
        Some(v) => v.trim().parse::<i64>().map_err(|_| {
            ScimError::bad(
                "invalidValue",
                format!("`{name}` must be an integer, not `{v}`"),
            )
        }),
    }
}

fn answer(
    state: &AppState,
    record: &ScimRecord,
    status: StatusCode,
    p: &ReadParameters,
) -> Response {
    let resource = resource::to_json(record, &state.config.public_url);
    let resource = resource::project(
        resource,
        p.attributes.as_deref(),
        p.excluded_attributes.as_deref(),
    );
    let mut response = scim_json(status, &resource);
    if let Some(location) = resource_location(state, record) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

fn resource_location(state: &AppState, record: &ScimRecord) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!(
        "{}{PREFIX}/Users/{}",
        state.config.public_url, record.user.id
    ))
    .ok()
}

pub(super) async fn list(
    State(state): State<AppState>,
    ScimCaller(provisioner): ScimCaller,
    Query(p): Query<ReadParameters>,
) -> Result<Response, ScimError> {
    let filter = patch::parse_filter(p.filter.as_deref())?;
    // RFC 7644 3.4.2.4: below 1 means 1; a negative count means 0.
    let start = number("startIndex", p.start_index.as_deref(), 1)?.max(1);
    let count = number("count", p.count.as_deref(), MAX_RESULTS)?.clamp(0, MAX_RESULTS);
    let (total, records) =
        provisioning::read_users(&state, &provisioner, &filter, start - 1, count).await?;
    let resources: Vec<Value> = records
        .iter()
        .map(|r| {
            resource::project(
                resource::to_json(r, &state.config.public_url),
                p.attributes.as_deref(),
                p.excluded_attributes.as_deref(),
            )
        })
        .collect();
    let body = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": total,
        "startIndex": start,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    });
    Ok(scim_json(StatusCode::OK, &body))
}

pub(super) async fn get(
    State(state): State<AppState>,
    ScimCaller(provisioner): ScimCaller,
    Path(id): Path<String>,
    Query(p): Query<ReadParameters>,
) -> Result<Response, ScimError> {
    let record = provisioning::read_user(&state, &provisioner, &id).await?;
    Ok(answer(&state, &record, StatusCode::OK, &p))
}

pub(super) async fn create(
    State(state): State<AppState>,
    ScimCaller(provisioner): ScimCaller,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimError> {
    let (user_name, writable) = resource::parse_user(&body)?;
    let user_name =
        user_name.ok_or_else(|| ScimError::bad("invalidValue", "`userName` is required"))?;
    let emails = writable.emails();
    let mut record = provisioning::create_user(
        &state,
        &provisioner,
        &user_name,
        writable.account_profile(),
        emails,
    )
    .await?;
    // Created inactive: deactivated at once (decided and audited too).
    if writable.active == Some(false) {
        let update = UserUpdate {
            profile: record.profile.clone(),
            active: Some(false),
        };
        record = provisioning::update_user(&state, &provisioner, &user_name, update).await?;
    }
    Ok(answer(
        &state,
        &record,
        StatusCode::CREATED,
        &ReadParameters::default(),
    ))
}

pub(super) async fn replace(
    State(state): State<AppState>,
    ScimCaller(provisioner): ScimCaller,
    Path(id): Path<String>,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimError> {
    let (user_name, writable) = resource::parse_user(&body)?;
    if let Some(name) = user_name.filter(|n| !n.eq_ignore_ascii_case(&id)) {
        return Err(ScimError::bad(
            "mutability",
            format!("`userName` cannot be changed (from `{id}` to `{name}`)"),
        ));
    }
    let update = UserUpdate {
        profile: writable.account_profile(),
        active: writable.active,
    };
    let record = provisioning::update_user(&state, &provisioner, &id, update).await?;
    Ok(answer(
        &state,
        &record,
        StatusCode::OK,
        &ReadParameters::default(),
    ))
}

pub(super) async fn patch(
    State(state): State<AppState>,
    ScimCaller(provisioner): ScimCaller,
    Path(id): Path<String>,
    ScimBody(body): ScimBody,
) -> Result<Response, ScimError> {
    let current = provisioning::read_user(&state, &provisioner, &id).await?;
    let patched = patch::apply(&body, Writable::of(&current), &current.user.id)?;
    let update = UserUpdate {
        profile: patched.account_profile(),
        active: patched.active,
    };
    let record = provisioning::update_user(&state, &provisioner, &id, update).await?;
    Ok(answer(
        &state,
        &record,
        StatusCode::OK,
        &ReadParameters::default(),
    ))
}

pub(super) async fn delete(
    State(state): State<AppState>,
    ScimCaller(provisioner): ScimCaller,
    Path(id): Path<String>,
) -> Result<Response, ScimError> {
    provisioning::delete_user(&state, &provisioner, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
