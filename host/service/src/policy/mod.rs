//! The policy set's life after start: hot reload from the policy
//! directory and the gate a new set must pass, the decision log that
//! records real traffic, and replays of it under a candidate set.

pub(crate) mod decision_log;
pub(crate) mod reload;
pub(crate) mod reload_gate;
pub(crate) mod replay;
