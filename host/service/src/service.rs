//! A running service: [`Service::start`] wires the engine, the store, the
//! background tasks and the HTTP server together; [`Service::shutdown`]
//! drains them without losing work.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;

use crate::app::AppState;
use crate::config::ServiceConfig;
use crate::credentials::{SecretBox, SecretKeyError};
use crate::housekeeping;
use crate::http::{self, server};
use crate::metrics::Metrics;
use crate::notify::worker::{self, WebhookWorker};
use crate::policy::PolicyContext;
use crate::policy::decision_log::{DecisionLog, DecisionLogWriter};
use crate::policy::fleet::Fleet;
use crate::policy::reload::{self, GuardrailRefusal};
use crate::store::{Store, StoreError};
use mfa_reset::PolicySource;

/// A running service.
pub struct Service {
    addr: SocketAddr,
    /// Tells the server to stop accepting, with the drain timeout.
    stop: Option<oneshot::Sender<Duration>>,
    server: tokio::task::JoinHandle<server::Drained>,
    webhook_worker: Option<WebhookWorker>,
    decision_log_writer: Option<DecisionLogWriter>,
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
    /// The database cannot be opened or migrated (the URL without its
    /// password).
    #[error("database `{url}`: {message}")]
    Database {
        /// Where the database is, its password removed.
        url: String,
        /// Why it failed.
        message: String,
    },
    /// The component, or the policies it was given, did not load.
    #[error(transparent)]
    Engine(#[from] mfa_reset::Error),
    /// The address is taken or not this host's.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address asked for.
        addr: SocketAddr,
        /// What the system said.
        source: std::io::Error,
    },
    /// `MFA_RESET_SECRET_KEY` is not a key: why.
    #[error("MFA_RESET_SECRET_KEY: {0}")]
    SecretKey(#[from] SecretKeyError),
    /// `--no-new-access` needs the prover, which cannot run: why.
    #[error("--no-new-access: {0}")]
    Prover(String),
    /// The policy set breaks a guardrail, or the guardrails do not load.
    #[error(transparent)]
    Guardrails(#[from] GuardrailRefusal),
    /// The webhook worker's HTTP client cannot be set up.
    #[error("webhook client: {0}")]
    WebhookClient(#[source] reqwest::Error),
    /// The published policy sets cannot be read (R16).
    #[error("published policy sets: {0}")]
    Fleet(String),
}

impl Service {
    /// Loads the component (refusing one that is not the pinned one),
    /// opens the database (migrating, seeding if empty), loads the
    /// policies, and starts serving.
    pub async fn start(config: ServiceConfig) -> Result<Self, StartError> {
        let secrets = SecretBox::from_base64(&config.secret_key)?;
        // First, so that a component that is not the pinned one touches nothing.
        let engine = config.engine.clone().build()?;
        tracing::info!(sha256 = engine.component_sha256(), "component loaded");
        let store = open_store(&config, secrets).await?;
        let policies = install_policies(&config, &engine).await?;
        let metrics = Arc::new(Metrics::new());
        metrics.policy_revision(&engine.policy_set_info()?.revision);
        let (store, webhook_worker) = start_webhook(&config, store, &metrics)?;
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
                let (log, writer) =
                    DecisionLog::spawn(store.clone(), log, config.clock.clone(), metrics.clone());
                (Some(log), Some(writer))
            }
            None => (None, None),
        };
        let mut background = vec![housekeeping::spawn(
            store.clone(),
            config.clock.clone(),
            config.audit_retention,
        )];
        let (drain_timeout, max_header_lines) = (config.drain_timeout, config.max_header_lines);
        let fleet = match &config.published_policies {
            Some(_) if config.policies_dir.is_some() || config.guardrails_dir.is_some() => {
                // The directory's watcher would replace the fleet's sets, and
                // published sets are checked when published, not here.
                return Err(StartError::Fleet(
                    "published policies exclude a policy directory and its guardrails".into(),
                ));
            }
            Some(replica) => {
                let support_url = match &config.support_url {
                    Some(url) => url.clone(),
                    None => engine.default_policies()?.support_url,
                };
                let now = mfa_reset::timestamp::to_millis(config.clock.now());
                let fleet = Fleet::start(
                    replica.clone(),
                    support_url,
                    engine.clone(),
                    store.clone(),
                    metrics.clone(),
                    now,
                )
                .await
                .map_err(|e| StartError::Fleet(format!("{e:?}")))?;
                let clock = config.clock.clone();
                background.push(fleet.spawn(move || mfa_reset::timestamp::to_millis(clock.now())));
                Some(fleet)
            }
            None => None,
        };
        let state = AppState {
            fleet,
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
        if let (Some(dir), Some((policies, support_url))) = (&state.config.policies_dir, policies) {
            let context = PolicyContext {
                engine: state.engine.clone(),
                store: state.store.clone(),
                metrics: state.metrics.clone(),
                config: state.config.clone(),
            };
            background.push(reload::spawn(context, dir.clone(), support_url, policies));
        }
        let (stop, stopping) = oneshot::channel();
        let server = tokio::spawn(server::serve(
            listener,
            http::router(state),
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

    /// The address it listens on (the port chosen when 0 was asked).
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
        let drained = (&mut self.server).await.ok() == Some(server::Drained::All);
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

/// Opens the database (migrating it) and seeds it if it is empty and a
/// seed is configured.
async fn open_store(config: &ServiceConfig, secrets: SecretBox) -> Result<Store, StartError> {
    let db_error = |e: StoreError| StartError::Database {
        url: redact(&config.database),
        message: e.to_string(),
    };
    let store = Store::open(&config.database, secrets)
        .await
        .map_err(db_error)?;
    if !store.is_empty().await.map_err(db_error)? {
        return Ok(store);
    }
    match &config.seed {
        Some(seed) => {
            for (organization, users) in seed.accounts() {
                store
                    .insert_organization(&organization, &users)
                    .await
                    .map_err(db_error)?;
            }
            tracing::info!(
                organizations = seed.organizations.len(),
                "seeded the empty database with demo data"
            );
        }
        None => tracing::warn!(
            "the database has no organization, so nobody can log in; create the \
             first one with `mfa-reset orgs create ORGANIZATION --root USER` (same \
             --data-dir or --database as serve; it prints the root's invitation \
             link), or try the product with the demo organizations: \
             `mfa-reset serve --demo`"
        ),
    }
    Ok(store)
}

/// Loads the policy set to serve (the directory's, or the built-in one
/// with another support URL), after the checks it must pass at start.
/// Returns the set and its support URL when the directory is watched.
async fn install_policies(
    config: &ServiceConfig,
    engine: &mfa_reset::Engine,
) -> Result<Option<(PolicySource, String)>, StartError> {
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
        mfa_reset_guardrails::check_solver(None).map_err(|e| StartError::Prover(e.to_string()))?;
    }
    if let Some(guardrails) = &config.guardrails_dir {
        let candidate = match &policies {
            Some(policies) => policies.clone(),
            None => engine.default_policies()?,
        };
        reload::check_guardrails(&candidate, guardrails).await?;
        tracing::info!(guardrails = %guardrails.display(), "the policy set is proven within its guardrails");
    }
    if let Some(policies) = &policies {
        engine.load_policies(policies)?;
    }
    Ok(policies
        .filter(|_| config.policies_dir.is_some())
        .map(|p| (p, support_url)))
}

/// With a webhook configured: the store writes notifications into the
/// outbox, and a worker delivers them.
fn start_webhook(
    config: &ServiceConfig,
    store: Store,
    metrics: &Arc<Metrics>,
) -> Result<(Store, Option<WebhookWorker>), StartError> {
    let Some(webhook) = &config.webhook else {
        return Ok((store, None));
    };
    let wake = Arc::new(tokio::sync::Notify::new());
    let store = store.with_outbox(wake.clone());
    let worker = worker::spawn(
        store.clone(),
        webhook.clone(),
        config.clock.clone(),
        metrics.clone(),
        wake,
    )
    .map_err(StartError::WebhookClient)?;
    Ok((store, Some(worker)))
}
