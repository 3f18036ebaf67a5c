//! Health, metrics and the OpenAPI document.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::app::AppState;

/// The service's OpenAPI document.
pub const OPENAPI: &str = include_str!("../../openapi.json");

pub async fn health(State(state): State<AppState>) -> Response {
    let database = state.store.ping().await;
    let policies = state.engine.policy_set_info();
    // R16: a replica following the fleet says which epoch decides here, and
    // is unavailable while the fleet's set for now does not load.
    let fleet = match &state.fleet {
        Some(fleet) => {
            let now = mfa_reset::timestamp::to_millis(state.config.clock.now());
            let deciding = fleet.enforce(now).await.is_ok();
            Some((fleet.active().await, deciding))
        }
        None => None,
    };
    let ok = database.is_ok() && policies.is_ok() && fleet.as_ref().is_none_or(|(_, d)| *d);
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if ok { "ok" } else { "unavailable" },
        "database": database.map(|()| "ok".to_string()).unwrap_or_else(|e| e.to_string()),
        "policy_revision": policies.map(|i| i.revision).unwrap_or_else(|e| e.to_string()),
    });
    let mut body = body;
    if let Some((active, deciding)) = fleet {
        body["policy_epoch"] = json!(active.map(|(epoch, _)| epoch));
        body["fleet_policies"] = json!(if deciding { "active" } else { "refusing" });
    }
    (status, Json(body)).into_response()
}

pub async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.encode(),
    )
        .into_response()
}

pub async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}
