//! The policy set's life after start: hot reload from the policy
//! directory and the gate a new set must pass, the decision log that
//! records real traffic, and replays of it under a candidate set.

use std::sync::Arc;

use mfa_reset::Engine;

use crate::config::ServiceConfig;
use crate::metrics::Metrics;
use crate::store::Store;

pub(crate) mod decision_log;
pub(crate) mod fleet;
pub(crate) mod publish;
pub(crate) mod reload;
pub(crate) mod reload_gate;
pub(crate) mod replay;

/// What the policy reload needs of the running service (a part of the
/// application state: this room sits below it).
#[derive(Clone)]
pub(crate) struct PolicyContext {
    /// The engine whose set a reload replaces.
    pub(crate) engine: Engine,
    /// Where the decision log is read for the flip gate.
    pub(crate) store: Store,
    /// Reload outcomes and the revision in force are counted here.
    pub(crate) metrics: Arc<Metrics>,
    /// The policy directory, its gates and the clock.
    pub(crate) config: Arc<ServiceConfig>,
}
