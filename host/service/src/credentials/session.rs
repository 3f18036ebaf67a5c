//! Session tokens: where they travel (Cookie or Authorization), how they
//! are stored (hashed), and who they belong to.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::app::AppState;
use crate::config::Clock;
use crate::config::ServiceConfig;
use crate::error::ApiError;
use crate::store::{StoredSession, StoredUser, time_of};
use mfa_reset::api::Session;

/// The session cookie over TLS: `__Host-` binds it to this host, path `/`
/// and `Secure`, so no subdomain or plain-HTTP page can plant or read it.
pub const SECURE_COOKIE: &str = "__Host-mfa_session";
/// Its name when the service is told it runs without TLS.
pub const PLAIN_COOKIE: &str = "mfa_session";

pub fn cookie_name(config: &ServiceConfig) -> &'static str {
    if config.secure_cookies {
        SECURE_COOKIE
    } else {
        PLAIN_COOKIE
    }
}

/// A new random session token (256 bits).
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// What the database keeps of a token.
pub fn hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The token of `Authorization: Bearer …` or of the session cookie (under
/// its configured name only).
pub fn token(headers: &HeaderMap, config: &ServiceConfig) -> Option<String> {
    let cookie = cookie_name(config);
    if let Some(bearer) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        return Some(bearer.trim().to_string());
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == cookie)
        .map(|(_, value)| value.to_string())
}

/// The `Set-Cookie` value carrying `token`; an empty token clears it.
pub fn set_cookie(token: &str, config: &ServiceConfig) -> HeaderValue {
    let name = cookie_name(config);
    let secure = if config.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    let max_age = if token.is_empty() { "; Max-Age=0" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={token}; Path=/; HttpOnly; SameSite=Lax{secure}{max_age}"
    ))
    .expect("tokens are URL-safe base64")
}

/// The caller of a request: its session and its stored user.
#[derive(Clone)]
pub struct Caller {
    pub session: StoredSession,
    pub user: StoredUser,
}

impl Caller {
    /// The time of this request: the clock, but never before the session's
    /// last activity (replicas' clocks may differ by a little; a request
    /// cannot precede the one before it).
    pub fn now(&self, clock: &Clock) -> time::OffsetDateTime {
        clock.now().max(time_of(self.session.last_activity_at))
    }

    pub fn session(&self) -> Session {
        Session {
            login_at: time_of(self.session.login_at),
            last_activity_at: time_of(self.session.last_activity_at),
            mfa_satisfied: self.session.mfa_satisfied,
        }
    }
}

/// Loads the caller of `token` (a hashed lookup, one query).
pub async fn caller(state: &AppState, token: &str) -> Result<Caller, ApiError> {
    caller_of_hash(state, &hash(token)).await
}

/// The caller again, as stored now (after a conflict, or after queueing).
pub async fn reload(state: &AppState, caller: &Caller) -> Result<Caller, ApiError> {
    caller_of_hash(state, &caller.session.token_hash).await
}

async fn caller_of_hash(state: &AppState, token_hash: &str) -> Result<Caller, ApiError> {
    let (session, user) = state
        .store
        .caller(token_hash)
        .await?
        .ok_or(ApiError::NoSession)?;
    Ok(Caller { session, user })
}

/// Queues behind other state changes of the caller's organization in this
/// replica (see `keyed_locks.rs`); hold the guard until the change commits.
pub async fn queue_for_org(state: &AppState, caller: &Caller) -> tokio::sync::OwnedMutexGuard<()> {
    state
        .org_locks
        .lock(&caller.user.user.organization.id)
        .await
}

/// The caller of a console request, loaded once: handlers take it as an
/// argument (401 without a valid session).
impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = required_token(&parts.headers, &state.config)?;
        caller(state, &token).await
    }
}

pub fn required_token(headers: &HeaderMap, config: &ServiceConfig) -> Result<String, ApiError> {
    token(headers, config).ok_or(ApiError::NoSession)
}
