//! The service's configuration: plain data, filled by `mfa-reset serve`'s
//! flags (or by a test), acted on by [`super::Service::start`].

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use time::OffsetDateTime;

use super::routes::RouteMap;
use super::seed::Seed;
use crate::{EngineBuilder, LockoutPolicy};

/// Where the time comes from: the system clock, shifted by an offset that
/// tests move forward (to expire sessions or locks without waiting).
#[derive(Clone, Debug, Default)]
pub struct Clock {
    offset_seconds: Arc<AtomicI64>,
}

impl Clock {
    pub fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
            + time::Duration::seconds(self.offset_seconds.load(Ordering::Relaxed))
    }

    /// Moves this clock (and every copy of it) forward.
    pub fn advance(&self, by: time::Duration) {
        self.offset_seconds
            .fetch_add(by.whole_seconds(), Ordering::Relaxed);
    }
}

/// Everything `serve` needs.
#[derive(Clone, Debug)]
pub struct ServiceConfig {
    /// Address to listen on; 127.0.0.1 by default (a sidecar).
    pub listen: SocketAddr,
    /// `sqlite://…` or `postgres://…`.
    pub database: String,
    /// The AEAD key sealing TOTP keys at rest (base64, 32 bytes).
    pub secret_key: String,
    /// Demo data to create when the database is empty.
    pub seed: Option<Seed>,
    /// Policy directory, watched and reloaded on change; built-in if `None`.
    pub policies_dir: Option<PathBuf>,
    /// Guardrail directory: when set, a policy set is installed (at start or
    /// on reload) only if it is proven within these guardrails (needs cvc5).
    pub guardrails_dir: Option<PathBuf>,
    /// Support URL for session-expired denials (R8); built-in if `None`.
    pub support_url: Option<String>,
    /// Gateway routes for forward-auth.
    pub routes: RouteMap,
    /// Peers whose X-Forwarded-* / X-Original-* headers are believed.
    pub trusted_proxies: Vec<IpAddr>,
    /// Issuer shown in authenticator apps.
    pub issuer: String,
    pub lockout: LockoutPolicy,
    /// Mark the session cookie `Secure` (behind TLS).
    pub secure_cookies: bool,
    /// Largest request body accepted.
    pub max_body_bytes: usize,
    pub clock: Clock,
    pub engine: EngineBuilder,
}
