//! The sidecar service: the console's JSON API and pages, gateway
//! forward-auth, health, metrics and OpenAPI; state in SQLite or PostgreSQL.
//!
//! Rooms, each importing only from the rooms below it:
//!
//! | room | what it holds |
//! |---|---|
//! | `service` | [`Service::start`]/[`Service::shutdown`]: wires everything, drains on stop |
//! | `http/` | the router; handlers of the console API, login steps, forward-auth, pages, health and metrics; JSON and browser guards; the server; the gateway route map |
//! | `decisions/` | use cases: decide an action and commit its outcome once, retrying on conflict; the throttle of refused attempts |
//! | `policy/` | hot reload and its gate, the decision log, replays of recorded decisions |
//! | `notify/` | the webhook worker delivering the outbox, and its signatures |
//! | `credentials/` | session tokens and the `Caller` extractor, sealed secrets, password hashes |
//! | `app` | the handles requests share ([`app::AppState`]) |
//! | `store/` | the database by concern: accounts, sessions, commits, audit, outbox, throttles, decision log |
//! | `config`, `error`, `metrics`, `keyed_locks`, `housekeeping`, `seed` | what `serve` is told, the one API error, counters, per-key queues, retention, demo data |
//!
//! A request goes one way: HTTP handler → use case → engine (pure) → store.

mod app;
mod config;
mod credentials;
mod decisions;
mod error;
mod housekeeping;
mod http;
mod keyed_locks;
mod metrics;
mod notify;
mod policy;
mod seed;
mod service;
mod store;

pub use config::{
    Clock, DecisionLogConfig, DenialThrottle, ForwardedHeaders, LoginThrottle, ReloadGate,
    ServiceConfig, Webhook,
};
pub use credentials::SecretBox;
pub use http::routes::{DEFAULT_ROUTES, Route, RouteMap};
pub use http::server::DEFAULT_MAX_HEADER_LINES;
pub use notify::signature::WebhookKey;
pub use policy::decision_log::read_recorded_decisions;
pub use policy::replay::{ChangeGroup, ReplayReport, Verdict, replay};
pub use seed::{DEMO_SEED, Seed};
pub use service::{Service, StartError, Stopped, redact};
pub use store::RecordedDecision;
