//! The gateway forward-auth endpoint (nginx auth_request, Traefik
//! ForwardAuth, Envoy ext_authz HTTP, APISIX forward-auth).
//!
//! Allow is 200 with the subject and decision id in headers; deny is 401
//! (no or expired session) or 403 (anything else, errors included): it
//! fails closed.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::config::ForwardedHeaders;
use crate::credentials::session;
use crate::decisions::caller;
use crate::decisions::{self, Intent};
use crate::error::ApiError;
use crate::routes::{RouteMatch, canonical_path, is_method};
use mfa_reset::log_text::Shown;

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
    let asked = original_request(
        state.config.forwarded_headers,
        trusted,
        &method,
        &uri,
        &headers,
    );
    let response = match &asked {
        Err(code) => deny(StatusCode::FORBIDDEN, code, None),
        Ok((_, path)) if overrides_method_in_query(path) => {
            deny(StatusCode::FORBIDDEN, "method-override", None)
        }
        Ok((method, path)) => match canonical_path(path) {
            Err(_) => deny(StatusCode::FORBIDDEN, "bad-path", None),
            Ok(segments) => match state.config.routes.route_for(method, &segments) {
                RouteMatch::NoRoute => deny(StatusCode::FORBIDDEN, "no-route", None),
                RouteMatch::MethodNotAllowed => {
                    deny(StatusCode::FORBIDDEN, "method-not-allowed", None)
                }
                RouteMatch::Action(action) => decide(&state, &headers, action).await,
                RouteMatch::Both(first, then) => {
                    let answer = decide(&state, &headers, first).await;
                    if answer.status() == StatusCode::OK {
                        decide(&state, &headers, then).await
                    } else {
                        answer
                    }
                }
            },
        },
    };
    state.metrics.forward_auth(response.status().as_u16());
    // The query stays out of the log (it may carry tokens of the backend's).
    let (logged_method, logged_path) = match &asked {
        Ok((m, p)) => (m.as_str(), p.split('?').next().unwrap_or("")),
        Err(_) => ("", ""),
    };
    tracing::info!(
        peer = %peer,
        trusted,
        method = %Shown(logged_method),
        path = %Shown(logged_path),
        status = response.status().as_u16(),
        denial_code = response.headers().get("x-auth-denial-code").and_then(|v| v.to_str().ok()).unwrap_or(""),
        decision_id = response.headers().get("x-auth-decision-id").and_then(|v| v.to_str().ok()).unwrap_or(""),
        "forward-auth"
    );
    response
}

const ORIGINAL: [&str; 2] = ["x-original-method", "x-original-uri"];
const FORWARDED: [&str; 2] = ["x-forwarded-method", "x-forwarded-uri"];

/// The method and URI of the request the gateway asks about, from the one
/// header family configured, or the denial code why it cannot be known.
fn original_request(
    family: ForwardedHeaders,
    trusted: bool,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<(String, String), &'static str> {
    // Only a configured proxy may ask: anyone else could learn decisions
    // about sessions it holds, or probe the route map.
    if !trusted {
        return Err("untrusted-peer");
    }
    if let Some(name) = forged_header(headers) {
        tracing::info!(header = %Shown(name), "forward-auth: a client-sent header the gateway should have removed");
        return Err("forged-header");
    }
    let present = |names: [&str; 2]| names.iter().any(|n| headers.contains_key(*n));
    let (expected, other): (Option<[&str; 2]>, &[[&str; 2]]) = match family {
        ForwardedHeaders::Original => (Some(ORIGINAL), &[FORWARDED]),
        ForwardedHeaders::Forwarded => (Some(FORWARDED), &[ORIGINAL]),
        ForwardedHeaders::RequestLine => (None, &[ORIGINAL, FORWARDED]),
    };
    if other.iter().any(|names| present(*names)) {
        return Err("conflicting-forwarded-headers");
    }
    let single = |name: &str| -> Result<String, &'static str> {
        let mut values = headers.get_all(name).iter();
        let value = values.next().ok_or("no-original-request")?;
        if values.next().is_some() {
            return Err("conflicting-forwarded-headers");
        }
        value
            .to_str()
            .map(str::to_string)
            .map_err(|_| "bad-forwarded-header")
    };
    let (original_method, path) = match expected {
        // Only Envoy's form has a path after the prefix; elsewhere one is a
        // client's request slipped through a gateway (`/forward-auth/../api/x`).
        Some(_) if uri.path() != PREFIX => return Err("bad-path"),
        Some([method_header, uri_header]) => (single(method_header)?, single(uri_header)?),
        None => {
            // Envoy ext_authz: the original method and path, behind our prefix.
            let path = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
            let path = path
                .strip_prefix(PREFIX)
                .filter(|p| p.starts_with('/'))
                .ok_or("no-original-uri")?;
            (method.to_string(), path.to_string())
        }
    };
    if !is_method(&original_method) {
        return Err("bad-method");
    }
    Ok((original_method, path))
}

/// Forwarding headers the gateways set, in the one spelling they use.
const FORWARDING: [&str; 9] = [
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-method",
    "x-forwarded-proto",
    "x-forwarded-uri",
    "x-original-method",
    "x-original-uri",
    "x-real-ip",
];

/// Method and path overrides: a backend honouring one would act with a
/// method or on a path the policies never decided (`X-Original-URL` and
/// `X-Rewrite-URL`: IIS, Symfony, Laminas).
const OVERRIDES: [&str; 5] = [
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
    "x-original-url",
    "x-rewrite-url",
];

/// The first header a client must have sent past the gateway: the shipped
/// configs remove every `X-Auth-*` before asking, so any that arrives here
/// (in any spelling) was forged, and a backend could read it as ours; a
/// method or path override in any spelling; and a forwarding header spelled with
/// `_` or `.`, which CGI/WSGI servers merge with the real one
/// (`X_Forwarded_Uri` and `X-Forwarded-Uri` both become
/// `HTTP_X_FORWARDED_URI`).
fn forged_header(headers: &HeaderMap) -> Option<&str> {
    headers.keys().map(HeaderName::as_str).find(|name| {
        spelled_as(name, "x-auth-", true)
            || OVERRIDES.iter().any(|m| spelled_as(name, m, false))
            || (name.contains(['_', '.']) && FORWARDING.iter().any(|f| spelled_as(name, f, false)))
    })
}

/// Whether `name` (lower case, as names are kept) is `target`, or starts
/// with it when `prefix`, once `_` and `.` read as `-` (no allocation: this
/// runs for every header of every forward-auth question).
fn spelled_as(name: &str, target: &str, prefix: bool) -> bool {
    let fits = if prefix {
        name.len() >= target.len()
    } else {
        name.len() == target.len()
    };
    fits && name
        .bytes()
        .zip(target.bytes())
        .all(|(n, t)| n == t || (t == b'-' && (n == b'_' || n == b'.')))
}

/// Whether the query carries `_method` as any backend may read it (any
/// case, any percent-encoding, `+` for a space; PHP also drops leading
/// spaces, reads `.` and spaces as `_` and `_method[x]` as `_method`):
/// Express's method-override and Symfony/Laravel take it as the method.
fn overrides_method_in_query(path: &str) -> bool {
    let Some((_, query)) = path.split_once('?') else {
        return false;
    };
    query.split(['&', ';']).any(|pair| {
        let raw = pair.split('=').next().unwrap_or("").replace('+', " ");
        let name = percent_decoded(&raw);
        let name = name.trim_start().split('[').next().unwrap_or("");
        let php = name.replace(['.', ' '], "_");
        php.eq_ignore_ascii_case("_method")
    })
}

/// `text` with every `%XX` decoded (others kept as they are), for comparing.
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok());
        match hex {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn decide(state: &AppState, headers: &HeaderMap, action: &str) -> Response {
    let Some(token) = session::token(headers, state.config.secure_cookies) else {
        return deny(StatusCode::UNAUTHORIZED, "no-session", None);
    };
    let caller = match caller::caller(state, &token).await {
        Ok(caller) => caller,
        Err(ApiError::NoSession) => return deny(StatusCode::UNAUTHORIZED, "no-session", None),
        Err(e) => {
            tracing::error!(error = ?e, "forward-auth failed closed");
            return deny(StatusCode::FORBIDDEN, "error", None);
        }
    };
    match decisions::decide(state, caller, &Intent::Route(action.to_string())).await {
        Ok(decided) if decided.decision.allowed => {
            let Some(user) = &decided.caller else {
                return deny(StatusCode::FORBIDDEN, "error", Some(&decided.decision_id));
            };
            let role = crate::store::role_name(user.role);
            let subject = [
                ("x-auth-user", user.id.as_str()),
                ("x-auth-organization", user.organization.id.as_str()),
                ("x-auth-role", role),
                ("x-auth-decision-id", decided.decision_id.as_str()),
                ("x-auth-policy-revision", decided.policy_revision.as_str()),
            ];
            let mut response = StatusCode::OK.into_response();
            for (name, value) in subject {
                // An allow the backend cannot learn the subject of is no allow.
                let Ok(value) = HeaderValue::from_str(value) else {
                    tracing::error!(
                        header = name,
                        "forward-auth: subject not expressible as a header; denied"
                    );
                    return deny(StatusCode::FORBIDDEN, "error", Some(&decided.decision_id));
                };
                response
                    .headers_mut()
                    .insert(HeaderName::from_static(name), value);
            }
            // For gateways that replace the backend's Cookie with ours
            // (Traefik's `authResponseHeaders`): the client's cookies
            // without the session, which the backend must never hold.
            if let Some(cookies) = cookies_without_session(headers) {
                response.headers_mut().insert(header::COOKIE, cookies);
            }
            response
        }
        Ok(decided) => {
            let status = decided.status();
            let status = if status == StatusCode::UNAUTHORIZED {
                status
            } else {
                StatusCode::FORBIDDEN
            };
            let mut response = deny(
                status,
                decided.decision.denial_code.as_deref().unwrap_or("denied"),
                Some(&decided.decision_id),
            );
            set(
                response.headers_mut(),
                "x-auth-policy-revision",
                &decided.policy_revision,
            );
            response
        }
        Err(ApiError::NoSession) => deny(StatusCode::UNAUTHORIZED, "no-session", None),
        Err(e) => {
            // Fail closed, whatever went wrong.
            tracing::error!(error = ?e, "forward-auth failed closed");
            deny(StatusCode::FORBIDDEN, "error", None)
        }
    }
}

/// The request's cookies without the sidecar's session cookie (either
/// name), as one `Cookie` value, byte for byte (values need not be
/// ASCII); `None` when none remain.
fn cookies_without_session(headers: &HeaderMap) -> Option<HeaderValue> {
    let mut kept: Vec<u8> = Vec::new();
    let pairs = headers
        .get_all(header::COOKIE)
        .iter()
        .flat_map(|v| v.as_bytes().split(|b| *b == b';'))
        .map(<[u8]>::trim_ascii);
    for pair in pairs {
        let name = pair
            .split(|b| *b == b'=')
            .next()
            .unwrap_or(b"")
            .trim_ascii();
        if pair.is_empty()
            || name == session::SECURE_COOKIE.as_bytes()
            || name == session::PLAIN_COOKIE.as_bytes()
        {
            continue;
        }
        if !kept.is_empty() {
            kept.extend_from_slice(b"; ");
        }
        kept.extend_from_slice(pair);
    }
    if kept.is_empty() {
        return None;
    }
    HeaderValue::from_bytes(&kept).ok()
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
