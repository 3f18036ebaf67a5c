//! The service's configuration: plain data, filled by `mfa-reset serve`'s
//! flags (or by a test), acted on by [`crate::Service::start`].

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use time::OffsetDateTime;

use crate::credentials::WebhookKey;
use crate::routes::RouteMap;
use crate::seed::Seed;
use mfa_reset::{EngineBuilder, LockoutPolicy};

/// Where the time comes from: the system clock, shifted by an offset that
/// tests move forward (to expire sessions or locks without waiting).
#[derive(Clone, Debug, Default)]
pub struct Clock {
    offset_seconds: Arc<AtomicI64>,
}

impl Clock {
    /// Now, to the millisecond (what the engine and the store keep).
    pub fn now(&self) -> OffsetDateTime {
        let now = OffsetDateTime::now_utc()
            + time::Duration::seconds(self.offset_seconds.load(Ordering::Relaxed));
        now.replace_millisecond(now.millisecond())
            .expect("a millisecond of a valid time is valid")
    }

    /// Moves this clock (and every copy of it) forward.
    pub fn advance(&self, by: time::Duration) {
        self.offset_seconds
            .fetch_add(by.whole_seconds(), Ordering::Relaxed);
    }
}

/// Where forward-auth reads the original request's method and URI: one
/// header family per deployment, believed only from trusted proxies. A
/// request that also carries the other family is refused, so a header a
/// client slipped past the gateway can never override the one it set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ForwardedHeaders {
    /// `X-Original-Method` and `X-Original-URI`: nginx `auth_request`, as
    /// configured in `host/service/deploy/nginx.conf`.
    Original,
    /// `X-Forwarded-Method` and `X-Forwarded-Uri`: Traefik ForwardAuth,
    /// Caddy `forward_auth`, APISIX forward-auth.
    Forwarded,
    /// The request line itself, after `/forward-auth`: Envoy ext_authz HTTP
    /// (`path_prefix: /forward-auth`).
    RequestLine,
}

/// Password guessing limits (NIST SP 800-63B 5.2.2), per account id —
/// existing or not, so answers do not tell them apart — and per client
/// address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoginThrottle {
    /// Wrong passwords for one account id before each further one waits.
    pub free_account_failures: u32,
    /// Wrong passwords from one client address (any accounts) before each
    /// further one waits.
    pub free_address_failures: u32,
    /// The first wait; it doubles with each further failure.
    pub base_delay_seconds: u32,
    /// The longest wait while under `hard_limit`.
    pub max_delay_seconds: u32,
    /// Consecutive failures on one account that lock it for `hard_lock_seconds`
    /// at a time (NIST: at most 100).
    pub hard_limit: u32,
    /// How long each lock of the hard limit lasts.
    pub hard_lock_seconds: u32,
    /// An address's count starts again after this long without a failure.
    pub address_forget_seconds: u32,
}

impl Default for LoginThrottle {
    /// 5 free failures per account (20 per address), then 1 s doubling to
    /// 15 min; from the 100th consecutive failure, a day at a time.
    fn default() -> Self {
        Self {
            free_account_failures: 5,
            free_address_failures: 20,
            base_delay_seconds: 1,
            max_delay_seconds: 15 * 60,
            hard_limit: 100,
            hard_lock_seconds: 24 * 3600,
            address_forget_seconds: 3600,
        }
    }
}

/// Denied state changes (reset, enable, disable, enforcement) allowed per
/// session and per user in a window; beyond, state changes are refused
/// undecided (429) until the window ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DenialThrottle {
    /// Refused changes allowed per session and per user in a window.
    pub max_denials: u32,
    /// The window's length; a window is forgotten a day after it starts.
    pub window_seconds: u32,
}

impl Default for DenialThrottle {
    /// 10 denials a minute: a person clicking never reaches it; a script
    /// writes at most 10 audit records a minute, and one refusal record.
    fn default() -> Self {
        Self {
            max_denials: 10,
            window_seconds: 60,
        }
    }
}

impl DenialThrottle {
    /// The window in milliseconds.
    pub fn window_millis(&self) -> i64 {
        i64::from(self.window_seconds) * 1000
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
    /// The console's public address (`https://mfa.example.com`), where
    /// invitation links point.
    pub public_url: String,
    /// Demo data to create when the database is empty (`serve --demo`);
    /// `None` leaves an empty database empty, and the log says so.
    pub seed: Option<Seed>,
    /// Policy directory, watched and reloaded on change; built-in if `None`.
    pub policies_dir: Option<PathBuf>,
    /// R16: decide with the sets published to the database (`mfa-reset
    /// policies publish`), switching with the whole fleet at each set's
    /// activation time; this replica reports itself as `replica_id`.
    /// Excludes `policies_dir`.
    pub published_policies: Option<String>,
    /// How often the policy directory is read. A changed set is installed
    /// once two reads in a row agree, so a file caught half-written is
    /// never installed.
    pub policy_poll_interval: std::time::Duration,
    /// Guardrail directory: when set, a policy set is installed (at start or
    /// on reload) only if it is proven within these guardrails (needs cvc5).
    pub guardrails_dir: Option<PathBuf>,
    /// What a reloaded set must pass besides validation and guardrails.
    pub reload_gate: ReloadGate,
    /// Every decision recorded for replays; none if `None`.
    pub decision_log: Option<DecisionLogConfig>,
    /// Support URL for session-expired denials (R8); built-in if `None`.
    pub support_url: Option<String>,
    /// Gateway routes for forward-auth.
    pub routes: RouteMap,
    /// Peers allowed to ask forward-auth, and whose forwarding headers
    /// (and `X-Forwarded-For`) are believed.
    pub trusted_proxies: Vec<IpAddr>,
    /// Which header family carries the original request to forward-auth.
    pub forwarded_headers: ForwardedHeaders,
    /// Wrong passwords, throttled per account id and per client address.
    pub login_throttle: LoginThrottle,
    /// Refused state changes, throttled per session and per user.
    pub denial_throttle: DenialThrottle,
    /// Audit records older than this are purged; kept forever if `None`.
    pub audit_retention: Option<std::time::Duration>,
    /// How long a stopping service waits for requests in flight.
    pub drain_timeout: std::time::Duration,
    /// Header lines a request may have before it is refused with 431
    /// (see [`crate::DEFAULT_MAX_HEADER_LINES`]).
    pub max_header_lines: usize,
    /// Issuer shown in authenticator apps.
    pub issuer: String,
    /// Wrong TOTP codes: when and how long an authenticator locks.
    pub lockout: LockoutPolicy,
    /// The session cookie is `__Host-mfa_session`, `Secure` (the default);
    /// `false` only when browsers reach the service over plain HTTP, then
    /// it is `mfa_session` without `Secure`.
    pub secure_cookies: bool,
    /// Largest request body accepted.
    pub max_body_bytes: usize,
    /// A read (forward-auth, listings) records a session's activity only
    /// when its last recorded activity is at least this old: the idle limit
    /// is days, so a minute's granularity loses nothing and spares a write
    /// per request. State changes always record it.
    pub activity_interval: std::time::Duration,
    /// Where notifications of MFA changes go; none are written if `None`.
    pub webhook: Option<Webhook>,
    /// The service's clock (tests move it).
    pub clock: Clock,
    /// The component and its limits; the service builds the engine.
    pub engine: EngineBuilder,
}

/// What a reloaded policy set must pass to be installed; the set in force
/// keeps deciding otherwise.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReloadGate {
    /// Refuse a set that allows any request the set in force denies,
    /// proven for all requests (Cedar SymCC + cvc5).
    pub no_new_access: bool,
    /// Refuse a set that would decide more than this share (0–1) of the
    /// recent recorded decisions otherwise (needs the decision log).
    pub max_flipped_share: Option<f64>,
}

/// How the decision log records.
#[derive(Clone, Debug, PartialEq)]
pub struct DecisionLogConfig {
    /// The share of decisions recorded (0 < sample ≤ 1).
    pub sample: f64,
    /// Entries older than this are purged.
    pub retention: std::time::Duration,
}

impl Default for DecisionLogConfig {
    fn default() -> Self {
        Self {
            sample: 1.0,
            retention: std::time::Duration::from_secs(7 * 86_400),
        }
    }
}

/// The webhook that hears of every MFA change (reset, enable, disable,
/// enrolment, enforcement), signed as Standard Webhooks says.
#[derive(Clone, Debug)]
pub struct Webhook {
    /// `https://…`, or `http://` to a loopback address only (events name
    /// users: they must not cross a network in the clear).
    pub url: String,
    /// Signs every delivery (`webhook-signature`).
    pub key: WebhookKey,
    /// One delivery's limit; a receiver slower than this is tried again.
    pub timeout: std::time::Duration,
    /// The first wait after a failed delivery; it doubles with each
    /// further failure, up to `retry_max`. Deliveries never give up.
    pub retry_base: std::time::Duration,
    /// The longest wait between two tries.
    pub retry_max: std::time::Duration,
}

/// Why a webhook URL is refused. Never the URL itself: it may hold a
/// password or a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookUrlError {
    /// It does not parse: why.
    #[error("webhook URL: not a URL ({0})")]
    NotAUrl(String),
    /// It carries a user or password.
    #[error("webhook URL: no credentials in the URL (the signature authenticates us)")]
    Credentials,
    /// Plain http to this host, which is not a loopback address.
    #[error("webhook URL (host `{0}`): plain http only to a loopback address; use https")]
    PlainHttp(String),
    /// Neither http nor https.
    #[error("webhook URL: scheme `{0}` is not http(s)")]
    Scheme(String),
}

impl Webhook {
    /// Checks `url` (see [`Webhook::url`]) and fills in the defaults:
    /// 10 s timeout, retries from 1 s doubling to 15 min.
    pub fn new(url: &str, key: WebhookKey) -> Result<Self, WebhookUrlError> {
        let parsed =
            reqwest::Url::parse(url).map_err(|e| WebhookUrlError::NotAUrl(e.to_string()))?;
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(WebhookUrlError::Credentials);
        }
        let host = parsed.host_str().unwrap_or_default();
        let loopback = host.eq_ignore_ascii_case("localhost")
            || host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        match parsed.scheme() {
            "https" => {}
            "http" if loopback => {}
            "http" => return Err(WebhookUrlError::PlainHttp(host.to_string())),
            other => return Err(WebhookUrlError::Scheme(other.to_string())),
        }
        Ok(Self {
            url: parsed.to_string(),
            key,
            timeout: std::time::Duration::from_secs(10),
            retry_base: std::time::Duration::from_secs(1),
            retry_max: std::time::Duration::from_secs(15 * 60),
        })
    }
}
