//! Session tokens: where they travel (Cookie or Authorization) and how
//! they are stored (hashed). Who they belong to is `decisions::caller`.

use axum::http::{HeaderMap, HeaderValue, header};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// The session cookie over TLS: `__Host-` binds it to this host, path `/`
/// and `Secure`, so no subdomain or plain-HTTP page can plant or read it.
pub const SECURE_COOKIE: &str = "__Host-mfa_session";
/// Its name when the service is told it runs without TLS.
pub const PLAIN_COOKIE: &str = "mfa_session";

/// The session cookie's name: `secure` when the service runs behind TLS.
pub fn cookie_name(secure: bool) -> &'static str {
    if secure { SECURE_COOKIE } else { PLAIN_COOKIE }
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
pub fn token(headers: &HeaderMap, secure: bool) -> Option<String> {
    let cookie = cookie_name(secure);
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
pub fn set_cookie(token: &str, secure: bool) -> HeaderValue {
    let name = cookie_name(secure);
    let secure = if secure { "; Secure" } else { "" };
    let max_age = if token.is_empty() { "; Max-Age=0" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={token}; Path=/; HttpOnly; SameSite=Lax{secure}{max_age}"
    ))
    .expect("tokens are URL-safe base64")
}
