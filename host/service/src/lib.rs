//! The sidecar service: console JSON API, gateway forward-auth, health,
//! metrics, OpenAPI; state in SQLite or PostgreSQL.
//!
//! - `config.rs`: what `serve` is told. `store.rs`: the database.
//! - `decisions.rs`: decide an action and commit its outcome;
//!   `denial_throttle.rs`: refused state changes and login steps limited
//!   per session and per user;
//!   `decision_log.rs`: record each decision for replays, `replay.rs`:
//!   decide recorded requests again under a candidate policy set.
//! - `console.rs`, `login.rs`, `forward_auth.rs`, `ops.rs`: HTTP handlers.
//! - `console_pages.rs`: the console's pages (embedded, from `console/`).
//! - `session.rs`, `secret_box.rs`, `passwords.rs`: credentials.
//! - `browser_guard.rs`: CSRF and caching rules of the JSON API.
//! - `keyed_locks.rs`: per-organization and per-account queues.
//! - `routes.rs`: the gateway route map; `reload.rs`: policy hot reload,
//!   `reload_gate.rs`: what a reloaded set must pass (no new access, few
//!   flipped decisions).
//! - `notifications.rs`: events of MFA changes and their signature;
//!   `webhook.rs`: the worker delivering them from the outbox.

mod browser_guard;
mod config;
mod console;
mod console_pages;
mod decision_log;
mod decisions;
mod denial_throttle;
mod error;
mod forward_auth;
mod housekeeping;
mod http_server;
mod json;
mod keyed_locks;
mod login;
mod metrics;
mod notifications;
mod ops;
mod passwords;
mod reload;
mod reload_gate;
mod replay;
mod routes;
mod secret_box;
mod seed;
mod session;
mod store;
mod webhook;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{MethodRouter, any, get, post, put};
use tokio::sync::oneshot;

pub use config::{
    Clock, DecisionLogConfig, DenialThrottle, ForwardedHeaders, LoginThrottle, ReloadGate,
    ServiceConfig, Webhook,
};
pub use decision_log::{RecordedDecision, read_recorded_decisions};
pub use http_server::DEFAULT_MAX_HEADER_LINES;
pub use notifications::WebhookKey;
pub use replay::{ChangeGroup, ReplayReport, Verdict, replay};
pub use routes::{DEFAULT_ROUTES, Route, RouteMap};
pub use secret_box::SecretBox;
pub use seed::{DEMO_SEED, Seed};

use mfa_reset::{Engine, PolicySource};

/// Shared by every handler.
#[derive(Clone)]
pub struct AppState {
    engine: Engine,
    store: store::Store,
    metrics: Arc<metrics::Metrics>,
    config: Arc<ServiceConfig>,
    /// State changes of one organization queue here.
    org_locks: Arc<keyed_locks::KeyedLocks>,
    /// Password checks of one account id queue here.
    login_locks: Arc<keyed_locks::KeyedLocks>,
    /// Password hashes checked at once (each holds ~19 MiB).
    password_checks: Arc<tokio::sync::Semaphore>,
    /// Where decisions are recorded, if they are.
    decision_log: Option<decision_log::DecisionLog>,
}

impl AppState {
    /// Runs a synchronous engine call on tokio's blocking pool, so that a
    /// decision never holds up the async workers serving other requests;
    /// the engine itself bounds how many calls run at once.
    async fn engine_call<R: Send + 'static>(
        &self,
        call: impl FnOnce(&Engine) -> R + Send + 'static,
    ) -> Result<R, error::ApiError> {
        let engine = self.engine.clone();
        tokio::task::spawn_blocking(move || call(&engine))
            .await
            .map_err(|e| error::ApiError::Internal(format!("engine call: {e}")))
    }
}

/// A running service.
pub struct Service {
    addr: SocketAddr,
    /// Tells the server to stop accepting, with the drain timeout.
    stop: Option<oneshot::Sender<Duration>>,
    server: tokio::task::JoinHandle<http_server::Drained>,
    webhook_worker: Option<webhook::WebhookWorker>,
    decision_log_writer: Option<decision_log::DecisionLogWriter>,
    /// Tasks that only read or tidy (policy reload, housekeeping): aborted.
    background: Vec<tokio::task::JoinHandle<()>>,
    drain_timeout: Duration,
}

/// How long a stopping service gives the decision log and the outbox after
/// the drain (the rows left wait in the outbox; decisions are counted lost).
const AFTER_DRAIN: Duration = Duration::from_secs(5);

/// What a stopping service did with the work it had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stopped {
    /// Every request in flight was answered within the drain timeout.
    pub drained: bool,
    /// Decisions still queued for the decision log, written before exiting.
    pub decisions_flushed: usize,
    /// Webhook deliveries abandoned and given back to the outbox.
    pub notifications_released: usize,
}

/// What can stop the service from starting.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("database `{url}`: {message}")]
    Database { url: String, message: String },
    #[error(transparent)]
    Engine(#[from] mfa_reset::Error),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("{0}")]
    Config(String),
}

impl Service {
    /// Loads the component (refusing one that is not the pinned one),
    /// opens the database (migrating, seeding if empty), loads the
    /// policies, and starts serving.
    pub async fn start(config: ServiceConfig) -> Result<Self, StartError> {
        let secrets = SecretBox::from_base64(&config.secret_key).map_err(StartError::Config)?;
        // First, so that a component that is not the pinned one touches nothing.
        let engine = config.engine.clone().build()?;
        tracing::info!(sha256 = engine.component_sha256(), "component loaded");
        let db_error = |e: store::StoreError| StartError::Database {
            url: redact(&config.database),
            message: e.to_string(),
        };
        let store = store::Store::open(&config.database, secrets)
            .await
            .map_err(db_error)?;
        if let Some(seed) = &config.seed
            && seed.apply_if_empty(&store).await.map_err(db_error)?
        {
            tracing::info!(
                organizations = seed.organizations.len(),
                "seeded the empty database with demo data"
            );
        }

        let default_support_url = engine.default_policies()?.support_url;
        let support_url = config.support_url.clone().unwrap_or(default_support_url);
        let policies = match &config.policies_dir {
            Some(dir) => Some(PolicySource::from_dir(dir, support_url.clone())?),
            None if config.support_url.is_some() => Some(PolicySource {
                support_url: support_url.clone(),
                ..engine.default_policies()?
            }),
            None => None,
        };
        if config.reload_gate.no_new_access {
            // Every reload is proven against the set in force: fail now, not
            // at the first edit.
            mfa_reset_guardrails::check_solver(None)
                .map_err(|e| StartError::Config(format!("--no-new-access: {e}")))?;
        }
        if let Some(guardrails) = &config.guardrails_dir {
            let candidate = match &policies {
                Some(policies) => policies.clone(),
                None => engine.default_policies()?,
            };
            reload::check_guardrails(&candidate, guardrails)
                .await
                .map_err(StartError::Config)?;
            tracing::info!(guardrails = %guardrails.display(), "the policy set is proven within its guardrails");
        }
        if let Some(policies) = &policies {
            engine.load_policies(policies)?;
        }
        let metrics = Arc::new(metrics::Metrics::new());
        metrics.policy_revision(&engine.policy_set_info()?.revision);
        let (store, webhook_worker) = match &config.webhook {
            Some(webhook) => {
                let wake = Arc::new(tokio::sync::Notify::new());
                let store = store.with_outbox(wake.clone());
                let worker = webhook::spawn(
                    store.clone(),
                    webhook.clone(),
                    config.clock.clone(),
                    metrics.clone(),
                    wake,
                )
                .map_err(StartError::Config)?;
                (store, Some(worker))
            }
            None => (store, None),
        };

        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| StartError::Listen {
                addr: config.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| StartError::Listen {
            addr: config.listen,
            source,
        })?;
        let (decision_log, decision_log_writer) = match config.decision_log.clone() {
            Some(log) => {
                let (log, writer) = decision_log::DecisionLog::spawn(
                    store.clone(),
                    log,
                    config.clock.clone(),
                    metrics.clone(),
                );
                (Some(log), Some(writer))
            }
            None => (None, None),
        };
        let mut background = vec![housekeeping::spawn(
            store.clone(),
            config.clock.clone(),
            config.audit_retention,
        )];
        let drain_timeout = config.drain_timeout;
        let max_header_lines = config.max_header_lines;
        let state = AppState {
            decision_log,
            engine,
            store,
            metrics,
            config: Arc::new(config),
            org_locks: Arc::default(),
            login_locks: Arc::default(),
            password_checks: Arc::new(tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get() * 2),
            )),
        };
        if let (Some(dir), Some(policies)) = (&state.config.policies_dir, policies) {
            background.push(reload::spawn(
                state.clone(),
                dir.clone(),
                support_url,
                policies,
            ));
        }
        let (stop, stopping) = oneshot::channel();
        let server = tokio::spawn(http_server::serve(
            listener,
            router(state),
            max_header_lines,
            stopping,
        ));
        tracing::info!(%addr, "mfa-reset service listening");
        Ok(Self {
            addr,
            stop: Some(stop),
            server,
            webhook_worker,
            decision_log_writer,
            background,
            drain_timeout,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops as [`Service::shutdown`] does, with the configured drain timeout.
    pub async fn stop(self) -> Stopped {
        let drain = self.drain_timeout;
        self.shutdown(drain).await
    }

    /// Stops accepting connections, lets the requests in flight finish (up
    /// to `drain`), writes the decisions still queued for the decision log,
    /// and gives back the notifications being delivered, so that nothing
    /// is lost and another replica delivers them at once.
    pub async fn shutdown(mut self, drain: Duration) -> Stopped {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(drain);
        }
        let drained = (&mut self.server).await.ok() == Some(http_server::Drained::All);
        for task in &self.background {
            task.abort();
        }
        let mut stopped = Stopped {
            drained,
            decisions_flushed: 0,
            notifications_released: 0,
        };
        // Bounded too: with the database away, each write would wait out
        // the pool's timeout, past any orchestrator's grace period.
        let (writer, worker) = (self.decision_log_writer.take(), self.webhook_worker.take());
        let tidy_up = async {
            if let Some(writer) = writer {
                stopped.decisions_flushed = writer.flush().await;
            }
            if let Some(worker) = worker {
                stopped.notifications_released = worker.stop().await;
            }
        };
        if tokio::time::timeout(AFTER_DRAIN, tidy_up).await.is_err() {
            tracing::warn!("stopping: the decision log or the outbox could not be written in time");
        }
        stopped
    }

    /// Waits until the server ends by itself (it does not, unless its task
    /// fails): `serve` waits on this and on the signals that stop it.
    pub async fn wait(&mut self) -> std::io::Result<()> {
        match (&mut self.server).await {
            Ok(_) => Ok(()),
            Err(e) => Err(std::io::Error::other(e)),
        }
    }
}

/// A database URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://…@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

fn router(state: AppState) -> Router {
    let limit = state.config.max_body_bytes;
    // The browser rules (CSRF, no caching) on the routed methods only: the
    // router answers any other method 405 before them.
    let guarded = |route: MethodRouter<AppState>| {
        route.route_layer(axum::middleware::from_fn(browser_guard::guard))
    };
    let api = Router::new()
        .route("/login", guarded(post(login::login)))
        .route("/login/code", guarded(post(login::code)))
        .route("/logout", guarded(post(login::logout)))
        .route("/enrolment/start", guarded(post(login::start)))
        .route("/enrolment/confirm", guarded(post(login::confirm)))
        .route("/session", guarded(get(console::session_info)))
        .route("/me/mfa/reset", guarded(post(console::reset_own)))
        .route("/me/mfa/enable", guarded(post(console::enable_own)))
        .route("/me/mfa/disable", guarded(post(console::disable_own)))
        .route("/org/users", guarded(get(console::list_users)))
        .route(
            "/org/users/{id}/mfa/reset",
            guarded(post(console::reset_user)),
        )
        .route(
            "/org/users/{id}/mfa/enable",
            guarded(post(console::enable_user)),
        )
        .route(
            "/org/users/{id}/mfa/disable",
            guarded(post(console::disable_user)),
        )
        .route("/org/enforcement", guarded(put(console::set_enforcement)))
        .route("/audit", guarded(get(console::audit)));
    Router::new()
        .nest("/api", api)
        .merge(console_pages::routes())
        .route(forward_auth::PREFIX, any(forward_auth::check))
        .route(
            &format!("{}/{{*path}}", forward_auth::PREFIX),
            any(forward_auth::check),
        )
        .route("/health", get(ops::health))
        .route("/metrics", get(ops::metrics))
        .route("/openapi.json", get(ops::openapi))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}
