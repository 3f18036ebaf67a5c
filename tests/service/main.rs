//! End-to-end tests of the sidecar service: its HTTP API, the
//! authenticator, attacks, hot reload, crashes, notifications, PostgreSQL
//! replicas, the decision log and the API fuzzer. One binary, so the
//! component is compiled once for all of them.

#[path = "../common/mod.rs"]
mod common;

mod api_fuzz;
mod attacks;
mod authenticator;
mod crash;
mod deployment;
mod fleet;
mod http_api;
mod notifications;
mod policy_replay;
mod postgres;
mod provisioning;
mod recovery_codes;
mod reload;
mod revocation;
mod scim;
mod support_desk;
