//! The handles every request shares: the engine, the store, the metrics,
//! the configuration, the queues that serialize changes. Built once by
//! `Service::start`; imports nothing above the store but the decision log.

use std::sync::Arc;

use mfa_reset::Engine;
use mfa_reset::api::{Outcome, Request};

/// What the engine answers a decision.
pub(crate) type EngineResult = Result<Outcome, mfa_reset::Error>;

use crate::config::ServiceConfig;
use crate::error::ApiError;
use crate::keyed_locks::KeyedLocks;
use crate::metrics::Metrics;
use crate::policy::decision_log::DecisionLog;
use crate::policy::fleet::Fleet;
use crate::store::Store;

/// Shared by every handler.
#[derive(Clone)]
pub struct AppState {
    pub(crate) engine: Engine,
    pub(crate) store: Store,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) config: Arc<ServiceConfig>,
    /// State changes of one organization queue here.
    pub(crate) org_locks: Arc<KeyedLocks>,
    /// Password checks of one account id queue here.
    pub(crate) login_locks: Arc<KeyedLocks>,
    /// Password hashes checked at once (each holds ~19 MiB).
    pub(crate) password_checks: Arc<tokio::sync::Semaphore>,
    /// Where decisions are recorded, if they are.
    pub(crate) decision_log: Option<DecisionLog>,
    /// R16: the fleet's published policy sets, when this replica follows them.
    pub(crate) fleet: Option<Arc<Fleet>>,
}

impl AppState {
    /// Runs a synchronous engine call on tokio's blocking pool, so that a
    /// long call (a listing of a large organization) never holds up the
    /// async workers serving other requests; the engine itself bounds how
    /// many calls run at once.
    pub(crate) async fn engine_call<R: Send + 'static>(
        &self,
        call: impl FnOnce(&Engine) -> R + Send + 'static,
    ) -> Result<R, ApiError> {
        self.enforce_fleet_policies().await?;
        let engine = self.engine.clone();
        tokio::task::spawn_blocking(move || call(&engine))
            .await
            .map_err(|e| ApiError::Internal(format!("engine call: {e}")))
    }

    /// Decides a short request (one route or session decision: no list,
    /// ~60 µs) right here on the async worker when an engine instance is
    /// free now: two thread hand-offs to the blocking pool and back cost
    /// more than the call (BENCHMARKS.md). When every instance is busy
    /// (listings, say) it queues on the blocking pool instead: an async
    /// worker never waits for an instance.
    pub(crate) async fn decide_short(
        &self,
        request: Request,
    ) -> Result<(Request, EngineResult), ApiError> {
        self.enforce_fleet_policies().await?;
        let engine = &self.engine;
        let tried =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| engine.try_decide(&request)))
                .map_err(|_| ApiError::Internal("engine call panicked".into()))?;
        if let Some(outcome) = tried {
            return Ok((request, outcome));
        }
        let engine = self.engine.clone();
        tokio::task::spawn_blocking(move || {
            let outcome = engine.decide(&request);
            (request, outcome)
        })
        .await
        .map_err(|e| ApiError::Internal(format!("engine call: {e}")))
    }

    async fn enforce_fleet_policies(&self) -> Result<(), ApiError> {
        if let Some(fleet) = &self.fleet {
            // The fleet's set for this moment decides, or nothing does.
            fleet
                .enforce(mfa_reset::timestamp::to_millis(self.config.clock.now()))
                .await?;
        }
        Ok(())
    }
}
