//! The one error type of the HTTP layer: each variant knows its status,
//! and internals are logged, never sent.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::store::StoreError;

#[derive(Debug)]
pub enum ApiError {
    /// 401: no session, or an unknown one.
    NoSession,
    /// 401: wrong user or password (the same answer for both).
    InvalidCredentials,
    /// 429: too many wrong passwords; the same for every account id.
    Throttled { retry_after_seconds: i64 },
    /// 429: too many refused state changes by this session or user; they
    /// wait for the window to end (nothing is decided meanwhile).
    TooManyDenials { retry_after_seconds: i64 },
    /// 403: a state change sent by a page of another site (CSRF).
    CrossSite(String),
    /// 415: a state change must send `Content-Type: application/json`.
    NotJson,
    /// 409: the state kept changing, or the operation does not fit it.
    Conflict(String),
    /// 409: the rows a decision read changed before it committed; the
    /// decision is made again (`decisions::retry`) before anyone sees this.
    Concurrent,
    /// 422: which field and why.
    Invalid { field: String, message: String },
    /// 503: the decision engine or the database failed this time (details
    /// go to the log only); nothing was decided or changed.
    Unavailable(String),
    /// 500: details go to the log only.
    Internal(String),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict => Self::Concurrent,
            StoreError::SessionEnded => Self::NoSession,
            e @ StoreError::Unreachable(_) => Self::Unavailable(e.to_string()),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<mfa_reset::Error> for ApiError {
    fn from(e: mfa_reset::Error) -> Self {
        match e {
            mfa_reset::Error::InvalidRequest(mfa_reset::RequestError { field, message }) => {
                Self::Invalid { field, message }
            }
            // The instance was discarded; the next request gets a fresh one.
            e @ (mfa_reset::Error::Trapped { .. }
            | mfa_reset::Error::DeadlineExceeded { .. }
            | mfa_reset::Error::OutOfFuel { .. }
            | mfa_reset::Error::Busy { .. }
            | mfa_reset::Error::BadOutcome { .. }) => Self::Unavailable(e.to_string()),
            other => Self::Internal(other.to_string()),
        }
    }
}

/// What an error answers.
struct Answer {
    status: StatusCode,
    code: &'static str,
    message: String,
    /// The request field at fault, as the caller wrote it.
    field: Option<String>,
    /// Seconds to wait before trying again (`Retry-After`).
    retry_after: Option<i64>,
}

impl Answer {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
            retry_after: None,
        }
    }
}

impl ApiError {
    /// The status, code and message this error answers with; internals go
    /// to the log here, never into the answer.
    fn answer(self) -> Answer {
        match self {
            Self::NoSession => Answer::new(
                StatusCode::UNAUTHORIZED,
                "no-session",
                "log in first: no valid session in the Cookie or Authorization header",
            ),
            Self::InvalidCredentials => Answer::new(
                StatusCode::UNAUTHORIZED,
                "invalid-credentials",
                "unknown user or wrong password",
            ),
            Self::Throttled {
                retry_after_seconds,
            } => Answer {
                retry_after: Some(retry_after_seconds),
                ..Answer::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too-many-attempts",
                    format!("too many failed logins: try again in {retry_after_seconds} seconds"),
                )
            },
            Self::TooManyDenials {
                retry_after_seconds,
            } => Answer {
                retry_after: Some(retry_after_seconds),
                ..Answer::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too-many-denials",
                    format!("too many refused changes: try again in {retry_after_seconds} seconds"),
                )
            },
            Self::CrossSite(why) => Answer::new(StatusCode::FORBIDDEN, "cross-site-request", why),
            Self::NotJson => Answer {
                field: Some("content-type".to_string()),
                ..Answer::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "not-json",
                    "state changes must be sent with `Content-Type: application/json`",
                )
            },
            Self::Conflict(message) => Answer::new(StatusCode::CONFLICT, "conflict", message),
            Self::Concurrent => Answer::new(
                StatusCode::CONFLICT,
                "conflict",
                "the state changed concurrently; try again",
            ),
            Self::Invalid { field, message } => Answer {
                field: Some(field),
                ..Answer::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid-request", message)
            },
            Self::Unavailable(detail) => {
                tracing::error!(error = %detail, "engine or database unavailable");
                Answer::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the request could not be completed this time; try again",
                )
            }
            Self::Internal(detail) => {
                tracing::error!(error = %detail, "internal error");
                Answer::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error; see the service log",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let Answer {
            status,
            code,
            message,
            field,
            retry_after,
        } = self.answer();
        let mut response = (
            status,
            Json(json!({"error": {"code": code, "message": message, "field": field}})),
        )
            .into_response();
        if let Some(seconds) = retry_after {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from_str(&seconds.to_string()).expect("digits"),
            );
        }
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"mfa-reset\""),
            );
        }
        response
    }
}
