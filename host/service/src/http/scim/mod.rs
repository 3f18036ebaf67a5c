//! SCIM 2.0 (RFC 7643, RFC 7644) for organizations' identity providers,
//! under `/scim/v2/`: `Users`, and the discovery documents
//! (`ServiceProviderConfig`, `Schemas`, `ResourceTypes`). Each request
//! carries an organization's bearer token (`mfa-reset scim-tokens
//! create`); what it may do is decided by the policies, with the token as
//! a `Provisioner` principal. Answers and errors are SCIM's
//! (`application/scim+json`, an `Error` body with `status` and
//! `scimType`), never a 5xx the caller did not cause.

mod discovery;
mod patch;
mod resource;
mod users;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use crate::accounts::provisioning::{self, ProvisioningError};
use crate::app::AppState;
use crate::error::ApiError;
use mfa_reset::api::Provisioner;

pub(crate) const PREFIX: &str = "/scim/v2";
const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
const SCIM_JSON: &str = "application/scim+json";

/// Every SCIM endpoint; anything else under the prefix is a SCIM 404.
pub(crate) fn routes() -> Router<AppState> {
    let scim = Router::new()
        .route(
            "/ServiceProviderConfig",
            get(discovery::service_provider_config),
        )
        .route("/ResourceTypes", get(discovery::resource_types))
        .route("/ResourceTypes/{id}", get(discovery::resource_type))
        .route("/Schemas", get(discovery::schemas))
        .route("/Schemas/{id}", get(discovery::schema))
        .route("/Users", get(users::list).post(users::create))
        .route(
            "/Users/{id}",
            get(users::get)
                .put(users::replace)
                .patch(users::patch)
                .delete(users::delete),
        )
        .route("/.search", axum::routing::post(not_implemented))
        .route("/Users/.search", axum::routing::post(not_implemented))
        .fallback(not_found);
    Router::new().nest(PREFIX, scim)
}

/// A SCIM error answer (RFC 7644 3.12).
#[derive(Debug)]
pub(crate) struct ScimError {
    status: StatusCode,
    scim_type: Option<&'static str>,
    detail: String,
}

impl ScimError {
    fn new(status: StatusCode, scim_type: Option<&'static str>, detail: impl Into<String>) -> Self {
        Self {
            status,
            scim_type,
            detail: detail.into(),
        }
    }

    pub(crate) fn bad(scim_type: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some(scim_type), detail)
    }

    fn not_found(id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            None,
            format!("Resource {id} not found"),
        )
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status.as_u16().to_string(),
            "detail": self.detail,
        });
        if let Some(scim_type) = self.scim_type {
            body["scimType"] = Value::from(scim_type);
        }
        let mut response = scim_json(self.status, &body);
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"scim\""),
            );
        }
        response
    }
}

impl From<ProvisioningError> for ScimError {
    fn from(e: ProvisioningError) -> Self {
        match e {
            ProvisioningError::Unauthorized => unauthorized(),
            ProvisioningError::NotFound(id) => Self::not_found(&id),
            ProvisioningError::Denied { code, message } => {
                Self::new(StatusCode::FORBIDDEN, None, format!("{message} ({code})"))
            }
            ProvisioningError::Taken(id) => Self::new(
                StatusCode::CONFLICT,
                Some("uniqueness"),
                format!("userName `{id}` is taken"),
            ),
            ProvisioningError::Invalid { scim_type, detail } => Self::bad(scim_type, detail),
            ProvisioningError::Failed(e) => e.into(),
        }
    }
}

impl From<ApiError> for ScimError {
    fn from(e: ApiError) -> Self {
        match e {
            ApiError::Concurrent | ApiError::Conflict(_) => Self::new(
                StatusCode::CONFLICT,
                None,
                "the user changed meanwhile: read it again and retry",
            ),
            ApiError::Invalid { field, message } => {
                Self::bad("invalidValue", format!("{field}: {message}"))
            }
            ApiError::Unavailable(detail) | ApiError::Internal(detail) => {
                // Details go to the log only.
                tracing::error!(%detail, "SCIM request failed");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    None,
                    "the service cannot answer now; nothing was changed, retry",
                )
            }
            other => {
                tracing::error!(?other, "SCIM request failed");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    None,
                    "the service cannot answer now; nothing was changed, retry",
                )
            }
        }
    }
}

fn unauthorized() -> ScimError {
    ScimError::new(
        StatusCode::UNAUTHORIZED,
        None,
        "a valid bearer token of the organization is required",
    )
}

/// `body` as `application/scim+json`.
pub(crate) fn scim_json(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON))],
        body.to_string(),
    )
        .into_response()
}

async fn not_found() -> ScimError {
    ScimError::new(
        StatusCode::NOT_FOUND,
        None,
        "no such SCIM endpoint: this service provider serves Users, ServiceProviderConfig, Schemas and ResourceTypes",
    )
}

async fn not_implemented(_: ScimCaller) -> ScimError {
    ScimError::new(
        StatusCode::NOT_IMPLEMENTED,
        None,
        "searching with POST is not supported: use GET /Users with filter",
    )
}

/// The identity provider of a request, from its bearer token; every SCIM
/// endpoint needs one, discovery included (RFC 7644 2).
pub(crate) struct ScimCaller(pub Provisioner);

impl FromRequestParts<AppState> for ScimCaller {
    type Rejection = ScimError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ScimError> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, token) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .filter(|t| !t.is_empty() && t.len() <= 256)
            .ok_or_else(unauthorized)?;
        Ok(Self(provisioning::provisioner(state, token).await?))
    }
}

/// A request body as JSON: `application/scim+json` or `application/json`,
/// within the service's size limit; anything else is a SCIM error.
pub(crate) struct ScimBody(pub Value);

impl FromRequest<AppState> for ScimBody {
    type Rejection = ScimError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ScimError> {
        let json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|v| v.trim().to_ascii_lowercase())
            .is_some_and(|v| v == SCIM_JSON || v == "application/json");
        if !json {
            return Err(ScimError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                None,
                "the body must be application/scim+json",
            ));
        }
        let limit = state.config.max_body_bytes;
        let bytes: Bytes = axum::body::to_bytes(request.into_body(), limit)
            .await
            .map_err(|_| {
                ScimError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    None,
                    format!("the body is larger than {limit} bytes"),
                )
            })?;
        serde_json::from_slice(&bytes).map(Self).map_err(|e| {
            ScimError::bad("invalidSyntax", format!("the body is not valid JSON: {e}"))
        })
    }
}
