//! The sidecar service: the console's JSON API and pages, gateway
//! forward-auth, health, metrics and OpenAPI; state in SQLite or PostgreSQL.
//!
//! Rooms, from the top down; each names only rooms below it (the test in
//! `layering.rs` checks it):
//!
//! | room | what it holds |
//! |---|---|
//! | `service` | `Service::start` wires everything together; `Service::shutdown` drains without losing work |
//! | `http/` | the router; handlers of the console API, the login steps, invitations, SCIM 2.0 (`http/scim/`), forward-auth, the pages, health and metrics; the `Caller` extractor; JSON and browser guards; the server |
//! | `support/` | use cases of the support desk (R14): recovery cases, their notifications, the ticket's redemption, the cancel link |
//! | `decisions/` | use cases: the caller, deciding an action and committing it once, deciding again on conflict, the throttle of refused attempts |
//! | `accounts/` | use cases of an organization's life: operators' commands (organizations, users, invitations, deactivation, SCIM tokens), using an invitation, an identity provider's provisioning (decided by the policies) |
//! | `app` | the handles every request shares (`AppState`) |
//! | `policy/` | hot reload and the gate a new set must pass, the decision log, replays of it; the fleet's published sets (R16): publishing, and a replica switching with the fleet |
//! | `notify/` | the worker delivering the outbox's notifications to the webhook |
//! | `housekeeping` | purges past their retention |
//! | `error` | the one error of the API (`ApiError`) |
//! | `store/` | the database by concern: accounts, sessions, commits, events, audit, outbox, throttles, decision log |
//! | `config` | what `serve` is told: pure data |
//! | `seed` | the demo organizations an empty database is given |
//! | `metrics`, `keyed_locks` | counters; per-key queues (an organization's changes, an account's logins) |
//! | `routes` | the gateway route map: paths to Cedar actions |
//! | `credentials/` | session tokens, sealed TOTP keys, password hashes, the webhook signing secret |
//!
//! A request goes one way: HTTP handler → use case → engine (pure) → store.

#![deny(missing_docs)]

mod accounts;
mod app;
mod config;
mod credentials;
mod decisions;
mod error;
mod housekeeping;
mod http;
mod keyed_locks;
#[cfg(test)]
mod layering;
mod metrics;
mod notify;
mod policy;
mod routes;
mod seed;
mod service;
mod store;
mod support;

pub use accounts::{
    AccountError, Accounts, DEFAULT_INVITATION_LIFETIME, IdProblem, Invitation, NewScimToken,
    UserSummary,
};
pub use config::{
    Clock, DecisionLogConfig, DenialThrottle, ForwardedHeaders, LoginThrottle, ReloadGate,
    ServiceConfig, Webhook, WebhookUrlError,
};
pub use credentials::{SealError, SecretBox, SecretKeyError, WebhookKey, WebhookKeyError};
pub use http::server::DEFAULT_MAX_HEADER_LINES;
pub use policy::decision_log::read_recorded_decisions;
pub use policy::publish::{Publication, PublishError, Published, publish, status as fleet_status};
pub use policy::replay::{ChangeGroup, ReplayReport, Verdict, replay};
pub use routes::{DEFAULT_ROUTES, Route, RouteMap, RouteMapError};
pub use seed::{DEMO_SEED, Seed};
pub use service::{Service, StartError, Stopped, redact};
pub use store::{
    OrganizationSummary, PublishedSet, RecordedDecision, ReplicaReport, ScimTokenSummary,
    StoreError,
};
