//! The one error type of the HTTP layer: each variant knows its status,
//! and internals are logged, never sent.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::store::StoreError;

#[derive(Debug)]
pub enum ApiError {
    /// 401: no session, or an unknown one.
    NoSession,
    /// 401: wrong user or password (the same answer for both).
    InvalidCredentials,
    /// 404.
    UnknownUser(String),
    /// 409: the state kept changing, or the operation does not fit it.
    Conflict(String),
    /// 422: which field and why.
    Invalid { field: String, message: String },
    /// 500: details go to the log only.
    Internal(String),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict => {
                Self::Conflict("the state changed concurrently; try again".into())
            }
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<crate::Error> for ApiError {
    fn from(e: crate::Error) -> Self {
        match e {
            crate::Error::InvalidRequest { field, message } => Self::Invalid { field, message },
            other => Self::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message, field) = match self {
            Self::NoSession => (
                StatusCode::UNAUTHORIZED,
                "no-session",
                "log in first: no valid session in the Cookie or Authorization header".to_string(),
                None,
            ),
            Self::InvalidCredentials => (
                StatusCode::UNAUTHORIZED,
                "invalid-credentials",
                "unknown user or wrong password".to_string(),
                None,
            ),
            Self::UnknownUser(id) => (
                StatusCode::NOT_FOUND,
                "unknown-user",
                format!("no user `{id}`"),
                None,
            ),
            Self::Conflict(message) => (StatusCode::CONFLICT, "conflict", message, None),
            Self::Invalid { field, message } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-request",
                message,
                Some(field),
            ),
            Self::Internal(detail) => {
                tracing::error!(error = %detail, "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error; see the service log".to_string(),
                    None,
                )
            }
        };
        let mut response = (
            status,
            Json(json!({"error": {"code": code, "message": message, "field": field}})),
        )
            .into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"mfa-reset\""),
            );
        }
        response
    }
}
