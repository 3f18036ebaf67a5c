//! R16: one policy set across the fleet. Sets are published to the database
//! (`mfa-reset policies publish`); each publish is the next epoch, with an
//! activation time written once. A replica hears of it at once (PostgreSQL
//! `LISTEN`, and a poll every second in case a notification is lost),
//! validates the set and reports itself ready. Every decision first asks
//! [`Fleet::enforce`] with the replica's clock: before an epoch's time the
//! set before it decides, from it on this one — loaded then, if not yet —
//! or, when it cannot be loaded, nothing: the request is refused (503)
//! rather than decided by a set the fleet has left. A publish is at least
//! [`MIN_LEAD`] ahead, so a replica that read the database at R knows every
//! epoch due before R + [`MIN_LEAD`] − [`MARGIN`]; past that horizon a
//! decision reads the database first, however its notifications fare.
//! Replicas' clocks are the bound: a replica whose clock is off by d
//! switches d early or late.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;

use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::store::{Activation, ReplicaReport, Store};
use mfa_reset::{Engine, PolicySource};

/// How often a replica looks for a publish it was not told of (within the
/// knowledge horizon, so that decisions seldom read the database first).
const POLL: Duration = Duration::from_millis(100);
/// Every how many polls a replica reports its state (once a second).
const REPORT_EVERY: u32 = 10;
/// The least time from a publish to its activation (milliseconds).
pub const MIN_LEAD: i64 = 250;
/// Of it, what the publisher's commit and clocks may take (milliseconds).
const MARGIN: i64 = 100;

/// This replica's view of the fleet's policy sets.
pub struct Fleet {
    replica: String,
    support_url: String,
    engine: Engine,
    store: Store,
    /// The revision in force is a metric (a fleet view for dashboards).
    metrics: Arc<Metrics>,
    state: Mutex<State>,
    /// One read of the database at a time.
    reading: Mutex<()>,
}

#[derive(Default)]
struct State {
    /// The epoch and revision deciding now (None: none loaded yet).
    active: Option<(i64, String)>,
    /// Newer epochs, in order, each with its set if it validated.
    pending: VecDeque<Pending>,
    /// An epoch whose time has come but whose set does not load: every
    /// decision is refused until a newer epoch loads.
    broken: Option<i64>,
    /// The newest epoch seen.
    seen: i64,
    /// Every epoch due before this time (milliseconds) is known.
    horizon: i64,
}

struct Pending {
    epoch: i64,
    revision: String,
    activate_at: i64,
    source: Option<PolicySource>,
}

impl Fleet {
    /// Catches up with the database before the replica answers anything:
    /// the epoch whose time has come decides (or its failure refuses), the
    /// newer ones wait for theirs.
    pub async fn start(
        replica: String,
        support_url: String,
        engine: Engine,
        store: Store,
        metrics: Arc<Metrics>,
        now: i64,
    ) -> Result<Arc<Self>, ApiError> {
        let fleet = Arc::new(Self {
            replica,
            support_url,
            engine,
            store,
            metrics,
            state: Mutex::new(State::default()),
            reading: Mutex::new(()),
        });
        fleet.refresh(now).await?;
        fleet.enforce(now).await.ok();
        fleet.report(now).await;
        Ok(fleet)
    }

    /// Listens for publishes (and polls), for as long as the service runs.
    pub fn spawn(
        self: &Arc<Self>,
        clock: impl Fn() -> i64 + Send + 'static,
    ) -> tokio::task::JoinHandle<()> {
        let fleet = Arc::clone(self);
        tokio::spawn(async move {
            let mut listener = fleet.listen().await;
            let mut polls = 0u32;
            loop {
                if listener.is_none() && polls.is_multiple_of(REPORT_EVERY) {
                    // Lost or never had: try again, once a second.
                    listener = fleet.listen().await;
                }
                polls = polls.wrapping_add(1);
                let heard = async {
                    match listener.as_mut() {
                        Some(l) => l.recv().await.is_ok(),
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    ok = heard => if !ok { listener = None; },
                    () = tokio::time::sleep(POLL) => {}
                }
                let now = clock();
                if let Err(e) = fleet.refresh(now).await {
                    tracing::warn!(error = ?e, "fleet: cannot read the published policy sets");
                }
                // A due set is loaded now, not at the next decision, so that
                // the report says what decides.
                fleet.enforce(now).await.ok();
                if polls.is_multiple_of(REPORT_EVERY) {
                    fleet.report(now).await;
                }
            }
        })
    }

    async fn listen(&self) -> Option<sqlx::postgres::PgListener> {
        let url = self.store.postgres_url()?;
        let listening = async {
            let mut listener = sqlx::postgres::PgListener::connect(url).await?;
            listener.listen(crate::store::POLICY_CHANNEL).await?;
            Ok::<_, sqlx::Error>(listener)
        };
        match listening.await {
            Ok(listener) => Some(listener),
            Err(e) => {
                // Only the kind: a connection error may quote the URL.
                let kind = if e.as_database_error().is_some() {
                    "database"
                } else {
                    "connection"
                };
                tracing::warn!(
                    kind,
                    "fleet: cannot listen for publishes (polling meanwhile)"
                );
                None
            }
        }
    }

    /// Reads the epochs published since the last look, and validates the
    /// ones that can still decide: the newest whose time has come by `now`,
    /// and every later one.
    async fn refresh(&self, now: i64) -> Result<(), ApiError> {
        let _reading = self.reading.lock().await;
        self.read_activations(now).await
    }

    /// Refreshes unless a decision waiting with this one already did.
    async fn refresh_if_stale(&self, now: i64) -> Result<(), ApiError> {
        let _reading = self.reading.lock().await;
        if now < self.state.lock().await.horizon {
            return Ok(());
        }
        self.read_activations(now).await
    }

    async fn read_activations(&self, now: i64) -> Result<(), ApiError> {
        let seen = self.state.lock().await.seen;
        let mut newer = self.store.activations_after(seen).await?;
        let horizon = now + MIN_LEAD - MARGIN;
        let passed = newer.iter().filter(|a| a.activate_at <= now).count();
        newer.drain(..passed.saturating_sub(1));
        for Activation {
            epoch,
            revision,
            activate_at,
            mut source,
            ..
        } in newer
        {
            source.support_url = self.support_url.clone();
            let engine = self.engine.clone();
            let checked = source.clone();
            // Only error diagnostics make a set unloadable: a busy pool or a
            // trap while checking leaves it to the load at its activation.
            let valid = tokio::task::spawn_blocking(move || engine.validate_policies(&checked))
                .await
                .ok()
                .and_then(Result::ok)
                .is_none_or(|d| d.iter().all(|d| d.severity != mfa_reset::Severity::Error));
            if !valid {
                tracing::error!(epoch, %revision, "fleet: the published set does not load here; from its activation on, this replica refuses");
            }
            let mut state = self.state.lock().await;
            state.seen = state.seen.max(epoch);
            state.pending.push_back(Pending {
                epoch,
                revision,
                activate_at,
                source: valid.then_some(source),
            });
        }
        let mut state = self.state.lock().await;
        state.horizon = state.horizon.max(horizon);
        Ok(())
    }

    /// Before a decision at `now` (milliseconds, this replica's clock):
    /// the newest epoch whose time has come must be the one deciding.
    pub async fn enforce(&self, now: i64) -> Result<(), ApiError> {
        if now >= self.state.lock().await.horizon {
            // A publish this replica has not heard of may be due: look.
            self.refresh_if_stale(now).await?;
        }
        let mut state = self.state.lock().await;
        let mut due = None;
        while state.pending.front().is_some_and(|p| p.activate_at <= now) {
            due = state.pending.pop_front();
        }
        if let Some(p) = due {
            let loaded = match &p.source {
                Some(source) => {
                    let engine = self.engine.clone();
                    let source = source.clone();
                    // A load that panicked failed: the epoch refuses.
                    tokio::task::spawn_blocking(move || engine.load_policies(&source))
                        .await
                        .is_ok_and(|loaded| loaded.is_ok())
                }
                None => false,
            };
            if loaded {
                self.metrics.policy_revision(&p.revision);
                state.active = Some((p.epoch, p.revision));
                state.broken = None;
            } else {
                state.broken = Some(p.epoch);
            }
        }
        match state.broken {
            Some(epoch) => Err(ApiError::Unavailable(format!(
                "the fleet's policy set (epoch {epoch}) does not load on this replica"
            ))),
            None => Ok(()),
        }
    }

    /// The epoch and revision deciding now, for `/health`.
    pub async fn active(&self) -> Option<(i64, String)> {
        self.state.lock().await.active.clone()
    }

    async fn report(&self, now: i64) {
        let state = self.state.lock().await;
        let ready = state.pending.back();
        let report = ReplicaReport {
            id: self.replica.clone(),
            last_seen: now,
            epoch: Some(state.seen),
            ready_revision: ready.and_then(|p| p.source.as_ref().map(|_| p.revision.clone())),
            active_revision: state.active.as_ref().map(|(_, r)| r.clone()),
            state: match (&state.broken, ready) {
                (Some(_), _) => "refusing",
                (None, Some(p)) if p.source.is_none() => "cannot-load-next",
                (None, Some(_)) => "ready",
                (None, None) => "active",
            }
            .into(),
        };
        drop(state);
        if let Err(e) = self.store.report_replica(&report).await {
            tracing::warn!(error = %e, "fleet: cannot report this replica's state");
        }
    }
}
