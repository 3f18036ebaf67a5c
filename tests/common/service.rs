//! Running the sidecar in-process for tests: a free port on loopback, a
//! fresh database, a clock the test can move.

use std::net::SocketAddr;

use mfa_reset::LockoutPolicy;
use mfa_reset_service::{
    Clock, DEFAULT_MAX_HEADER_LINES, DEFAULT_ROUTES, DEMO_SEED, DecisionLogConfig, DenialThrottle,
    ForwardedHeaders, LoginThrottle, ReloadGate, RouteMap, SecretBox, Seed, Service, ServiceConfig,
};
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};

pub const SUPPORT_URL: &str = "https://help.acme.test/locked-out";

/// A configuration for `database` with the demo seed, trusting 127.0.0.1.
pub fn config(database: String, secret_key: String) -> ServiceConfig {
    ServiceConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        database,
        secret_key,
        public_url: "https://mfa.acme.test".into(),
        seed: Some(Seed::parse(DEMO_SEED).unwrap()),
        policies_dir: None,
        published_policies: None,
        policy_poll_interval: std::time::Duration::from_millis(200),
        guardrails_dir: None,
        reload_gate: ReloadGate::default(),
        decision_log: Some(DecisionLogConfig::default()),
        support_url: Some(SUPPORT_URL.into()),
        routes: RouteMap::parse(DEFAULT_ROUTES).unwrap(),
        trusted_proxies: vec!["127.0.0.1".parse().unwrap()],
        forwarded_headers: ForwardedHeaders::Original,
        login_throttle: LoginThrottle::default(),
        // Suites that try many forbidden things in a row; the throttle's
        // own tests use the default.
        denial_throttle: DenialThrottle {
            max_denials: 10_000,
            window_seconds: 60,
        },
        audit_retention: None,
        drain_timeout: std::time::Duration::from_secs(5),
        max_header_lines: DEFAULT_MAX_HEADER_LINES,
        issuer: "Acme Cloud".into(),
        lockout: LockoutPolicy::default(),
        secure_cookies: false,
        max_body_bytes: 16 * 1024,
        activity_interval: std::time::Duration::from_secs(60),
        webhook: None,
        clock: Clock::default(),
        engine: super::builder(),
    }
}

/// A service on a fresh SQLite database in a temp dir.
pub struct TestService {
    pub service: Service,
    pub base: String,
    pub clock: Clock,
    pub dir: tempfile::TempDir,
}

impl TestService {
    pub async fn start(customize: impl FnOnce(&mut ServiceConfig, &std::path::Path)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("state.db").display()
        );
        let mut config = config(url, SecretBox::generate_base64());
        customize(&mut config, dir.path());
        let clock = config.clock.clone();
        let service = Service::start(config).await.expect("the service starts");
        let base = format!("http://{}", service.local_addr());
        Self {
            service,
            base,
            clock,
            dir,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.service.local_addr()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The URL of its database, for the operators' use cases.
    pub fn database(&self) -> String {
        format!(
            "sqlite://{}?mode=rwc",
            self.dir.path().join("state.db").display()
        )
    }

    /// The operators' use cases on its database; invitation links point at
    /// `public_url`.
    pub async fn accounts(&self, public_url: &str) -> mfa_reset_service::Accounts {
        accounts(&self.database(), public_url).await
    }
}

/// The operators' use cases on `database` (no sealed secret is read).
pub async fn accounts(database: &str, public_url: &str) -> mfa_reset_service::Accounts {
    let key = SecretBox::generate_base64();
    mfa_reset_service::Accounts::open(database, &key, public_url)
        .await
        .expect("the database opens")
}

pub fn client() -> Client {
    Client::builder().build().unwrap()
}

/// Logs in a demo user (password `<id>-demo-password`), returns the token.
pub async fn login(base: &str, user: &str) -> String {
    let answer = client()
        .post(format!("{base}/api/login"))
        .json(&json!({"user": user, "password": format!("{user}-demo-password")}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK, "login of {user}");
    let body: Value = answer.json().await.unwrap();
    body["token"].as_str().unwrap().to_string()
}

/// The revision of the policy set the service at `base` decides under.
pub async fn policy_revision(base: &str) -> String {
    let (_, health) = read(client().get(format!("{base}/health")).send().await.unwrap()).await;
    health["policy_revision"].as_str().unwrap().to_string()
}

/// The revision the service at `base` decides under once it is no longer
/// `before`, or `before` after a minute: a reload, with its guardrail proofs,
/// can take seconds while the suites share two cores.
pub async fn changed_policy_revision(base: &str, before: &str) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let now = policy_revision(base).await;
        if now != before || std::time::Instant::now() > deadline {
            return now;
        }
    }
}

/// The Prometheus text the service at `base` exposes.
pub async fn metrics(base: &str) -> String {
    let response = client()
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap();
    response.text().await.unwrap()
}

/// Sends `method path` with the session `token` and an optional JSON body
/// (state changes always as JSON, as the API demands).
pub async fn call(
    base: &str,
    token: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = client()
        .request(method.parse().unwrap(), format!("{base}{path}"))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    } else if method != "GET" {
        request = request.header("content-type", "application/json");
    }
    read(request.send().await.unwrap()).await
}

/// Asks forward-auth from `from` (default 127.0.0.1) about a request,
/// with the session in a Bearer header and `headers` as a gateway (or an
/// attacker) set them.
pub async fn forward(
    base: &str,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    from: Option<&str>,
) -> (StatusCode, reqwest::header::HeaderMap) {
    let mut builder = reqwest::Client::builder();
    if let Some(ip) = from {
        builder = builder.local_address(ip.parse::<std::net::IpAddr>().unwrap());
    }
    let mut request = builder.build().unwrap().get(format!("{base}{path}"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    (response.status(), response.headers().clone())
}

/// Enrols an authenticator for the session `token` (whose login is due to
/// enrol) and confirms it with the code the test computes; returns the
/// base32 secret.
pub async fn enrol(base: &str, token: &str, clock: &Clock) -> String {
    let (status, body) = call(base, token, "POST", "/api/enrolment/start", None).await;
    assert_eq!(status, StatusCode::OK, "enrolment starts: {body}");
    let secret = uri_secret(body["uri"].as_str().unwrap());
    let code = totp_code(&secret, clock.now().unix_timestamp());
    let (status, body) = call(
        base,
        token,
        "POST",
        "/api/enrolment/confirm",
        Some(json!({ "code": code })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "enrolment confirmed: {body}");
    secret
}

pub async fn read(response: Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// The current TOTP code of a base32 secret, computed by the test itself.
pub fn totp_code(secret_base32: &str, unix: i64) -> String {
    let secret = totp_rs::Secret::try_from_base32(secret_base32).unwrap();
    totp_rs::Builder::new()
        .with_secret(secret.as_bytes().to_vec())
        .build()
        .unwrap()
        .generate(unix as u64)
        .to_string()
}

/// The `secret` parameter of an otpauth URI.
pub fn uri_secret(uri: &str) -> String {
    uri.split(['?', '&'])
        .find_map(|p| p.strip_prefix("secret="))
        .unwrap()
        .to_string()
}
