//! A JSON body extractor whose rejections name the field (422) and respect
//! the body limit (413).

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            let status = rejection.status();
            if status == StatusCode::PAYLOAD_TOO_LARGE {
                (status, axum::Json(serde_json::json!({"error": {"code": "too-large", "message": "request body too large", "field": "(body)"}})))
                    .into_response()
            } else {
                ApiError::Invalid { field: "(body)".into(), message: rejection.body_text() }.into_response()
            }
        })?;
        let text = std::str::from_utf8(&bytes).map_err(|_| {
            ApiError::Invalid {
                field: "(body)".into(),
                message: "not UTF-8".into(),
            }
            .into_response()
        })?;
        // An empty body stands for `{}` (actions without parameters).
        let text = if text.trim().is_empty() { "{}" } else { text };
        mfa_reset::api::from_json(text)
            .map(ApiJson)
            .map_err(|e| ApiError::from(e).into_response())
    }
}

/// The body of an action without parameters: empty, or `{}`. Anything
/// else is refused (422), so that a client sending parameters the action
/// does not take learns it instead of having them silently ignored.
pub struct NoParameters;

impl<S: Send + Sync> FromRequest<S> for NoParameters {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let ApiJson(body) = ApiJson::<serde_json::Value>::from_request(req, state).await?;
        let refused = |field: &str, message: &str| {
            ApiError::Invalid {
                field: field.into(),
                message: message.into(),
            }
            .into_response()
        };
        match body {
            serde_json::Value::Object(map) => match map.keys().next() {
                None => Ok(NoParameters),
                Some(key) if key.is_empty() => Err(refused(
                    "(request)",
                    "this action takes no parameters (got an empty key)",
                )),
                Some(key) => Err(refused(key, "this action takes no parameters")),
            },
            _ => Err(refused(
                "(request)",
                "must be empty or the JSON object `{}`",
            )),
        }
    }
}
