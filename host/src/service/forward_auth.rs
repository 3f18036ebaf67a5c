//! The gateway forward-auth endpoint (nginx auth_request, Traefik
//! ForwardAuth, Envoy ext_authz HTTP, APISIX forward-auth).
//!
//! Allow is 200 with the subject and decision id in headers; deny is 401
//! (no or expired session) or 403 (anything else, errors included): it
//! fails closed.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::decisions::{self, Intent};
use super::error::ApiError;
use super::routes::normalize_path;
use super::session;

/// Where the endpoint is mounted; Envoy appends the original path to it.
pub const PREFIX: &str = "/forward-auth";

pub async fn check(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let trusted = state.config.trusted_proxies.contains(&peer.ip());
    let (method, raw_path) = original_request(trusted, &method, &uri, &headers);
    let response = match normalize_path(&raw_path) {
        None => deny(StatusCode::FORBIDDEN, "bad-path", None),
        Some(path) => match state.config.routes.action_for(&method, &path) {
            None => deny(StatusCode::FORBIDDEN, "no-route", None),
            Some(action) => decide(&state, &headers, action).await,
        },
    };
    state.metrics.forward_auth(response.status().as_u16());
    tracing::info!(
        peer = %peer,
        trusted,
        method = %method,
        path = %raw_path,
        status = response.status().as_u16(),
        decision_id = response.headers().get("x-auth-decision-id").and_then(|v| v.to_str().ok()).unwrap_or(""),
        "forward-auth"
    );
    response
}

/// The method and URI of the request the gateway is asking about.
fn original_request(
    trusted: bool,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> (String, String) {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    if trusted {
        // Traefik and APISIX send X-Forwarded-*; nginx as configured in
        // host/deploy/nginx.conf sends X-Original-*.
        let path = header("x-forwarded-uri").or_else(|| header("x-original-uri"));
        if let Some(path) = path {
            let method = header("x-forwarded-method")
                .or_else(|| header("x-original-method"))
                .unwrap_or_else(|| method.to_string());
            return (method.to_ascii_uppercase(), path);
        }
    }
    // Envoy ext_authz: the original method and path, behind our prefix.
    let path = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    let path = path
        .strip_prefix(PREFIX)
        .filter(|p| p.starts_with('/'))
        .unwrap_or("/");
    (method.to_string(), path.to_string())
}

async fn decide(state: &AppState, headers: &HeaderMap, action: &str) -> Response {
    let Some(token) = session::token(headers) else {
        return deny(StatusCode::UNAUTHORIZED, "no-session", None);
    };
    match decisions::decide(state, &token, &Intent::Route(action.to_string())).await {
        Ok(decided) if decided.decision.allowed => {
            let mut response = StatusCode::OK.into_response();
            let h = response.headers_mut();
            if let Some(user) = &decided.caller {
                set(h, "x-auth-user", &user.id);
                set(h, "x-auth-organization", &user.organization.id);
                set(
                    h,
                    "x-auth-role",
                    if user.role == crate::Role::Root {
                        "root"
                    } else {
                        "sub_user"
                    },
                );
            }
            set(h, "x-auth-decision-id", &decided.decision_id);
            response
        }
        Ok(decided) => {
            let status = decided.status();
            let status = if status == StatusCode::UNAUTHORIZED {
                status
            } else {
                StatusCode::FORBIDDEN
            };
            deny(
                status,
                decided.decision.denial_code.as_deref().unwrap_or("denied"),
                Some(&decided.decision_id),
            )
        }
        Err(ApiError::NoSession) => deny(StatusCode::UNAUTHORIZED, "no-session", None),
        Err(e) => {
            // Fail closed, whatever went wrong.
            tracing::error!(error = ?e, "forward-auth failed closed");
            deny(StatusCode::FORBIDDEN, "error", None)
        }
    }
}

fn set(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(HeaderName::from_static(name), value);
    }
}

fn deny(status: StatusCode, code: &str, decision_id: Option<&str>) -> Response {
    let mut response = status.into_response();
    set(response.headers_mut(), "x-auth-denial-code", code);
    if let Some(id) = decision_id {
        set(response.headers_mut(), "x-auth-decision-id", id);
    }
    response
}
