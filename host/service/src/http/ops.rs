//! Health, metrics and the OpenAPI document.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::app::AppState;

/// The service's OpenAPI document.
pub const OPENAPI: &str = include_str!("../../openapi.json");

/// What the replica can serve now: the database answers, the policy set
/// is loaded, and (following a fleet, R16) the fleet's set for now decides.
struct Readiness {
    /// What is wrong with the database, in a word: an unauthenticated
    /// caller gets no error text (host names, users); the log has it.
    database: Result<(), &'static str>,
    policies: Result<mfa_reset::PolicySetInfo, String>,
    /// The fleet's active epoch and whether its set for now decides here.
    fleet: Option<(Option<i64>, bool)>,
}

impl Readiness {
    async fn of(state: &AppState) -> Self {
        let database = state.store.ping().await.map_err(|e| {
            tracing::warn!(error = %e, "readiness: the database does not answer");
            match e {
                crate::store::StoreError::Unreachable(_) => "unreachable",
                _ => "error",
            }
        });
        let policies = state.engine.policy_set_info().map_err(|e| e.to_string());
        let fleet = match &state.fleet {
            Some(fleet) => {
                let now = mfa_reset::timestamp::to_millis(state.config.clock.now());
                let deciding = fleet.enforce(now).await.is_ok();
                Some((fleet.active().await.map(|(epoch, _)| epoch), deciding))
            }
            None => None,
        };
        Self {
            database,
            policies,
            fleet,
        }
    }

    fn ready(&self) -> bool {
        self.database.is_ok() && self.policies.is_ok() && self.fleet.is_none_or(|(_, d)| d)
    }

    fn status(&self) -> StatusCode {
        if self.ready() {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        }
    }
}

/// Everything about the replica's state, for people and dashboards.
pub async fn health(State(state): State<AppState>) -> Response {
    let r = Readiness::of(&state).await;
    let mut body = json!({
        "status": if r.ready() { "ok" } else { "unavailable" },
        "database": match r.database { Ok(()) => "ok", Err(why) => why },
        "policy_revision": match &r.policies { Ok(i) => i.revision.clone(), Err(e) => e.clone() },
    });
    if let Some((epoch, deciding)) = r.fleet {
        body["policy_epoch"] = json!(epoch);
        body["fleet_policies"] = json!(if deciding { "active" } else { "refusing" });
    }
    (r.status(), Json(body)).into_response()
}

/// Liveness: the process answers. It asks nothing else, so that a probe
/// built on it never restarts a replica because the database is down.
pub async fn livez() -> Response {
    Json(json!({"status": "alive"})).into_response()
}

/// Readiness: 200 when the replica can serve (the database answers, the
/// policies are loaded, the fleet's set decides), else 503 with which part
/// is not ready, and no error text (the probe's callers need no more).
pub async fn readyz(State(state): State<AppState>) -> Response {
    let r = Readiness::of(&state).await;
    let part = |ok: bool| if ok { "ok" } else { "unavailable" };
    let mut body = json!({
        "status": if r.ready() { "ready" } else { "not_ready" },
        "database": part(r.database.is_ok()),
        "policies": part(r.policies.is_ok()),
    });
    if let Some((_, deciding)) = r.fleet {
        body["fleet_policies"] = json!(if deciding { "active" } else { "refusing" });
    }
    (r.status(), Json(body)).into_response()
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
