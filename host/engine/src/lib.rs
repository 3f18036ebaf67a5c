//! mfa-reset host: runs the mfa-reset policy component in wasmtime.
//!
//! The component (built from `guest/`, embedded in this crate) evaluates
//! the Cedar policies of `policies/` and computes MFA state changes; this
//! crate loads it, keeps warm instances, caps each call's fuel and memory,
//! and offers a typed API with no wasmtime types in it.
//!
//! ```no_run
//! let engine = mfa_reset::Engine::new()?;
//! let request = mfa_reset::Request::from_json(&std::fs::read_to_string("request.json").unwrap())?;
//! let outcome = engine.decide(&request)?;
//! println!("{}: {}", outcome.decision.allowed, outcome.decision.message);
//! # Ok::<(), mfa_reset::Error>(())
//! ```
//!
//! Map of the crate:
//! - [`api`]: the request and answer types (also their JSON form).
//! - [`EngineBuilder`] (`builder.rs`): the configuration as data, and
//!   building: wasmtime set up, the component pinned, compiled and linked.
//! - `pool.rs`: the instance pool: slots with an acquire timeout, warm
//!   instances, each call's budget of fuel or time.
//! - [`Engine`] (`engine.rs`): the typed calls, and the policy set every
//!   instance must hold.
//! - `component.rs`: compiling the component and caching the compiled form.
//! - `host_state.rs`: what each wasmtime store holds.
//! - `outcome_check.rs`: a decision must fit its request before a host acts on it.
//! - `bindings.rs`, `convert.rs`: the generated WIT bindings and the
//!   conversions that keep them private.
//! - `policy_files.rs`: reading a policy directory, or policy and schema files.
//! - [`timestamp`]: milliseconds since the epoch, the component's time.
//! - [`log_text`]: user-supplied text made safe for log lines.
//!
//! The sidecar service (`mfa-reset-service`), the guardrail prover
//! (`mfa-reset-guardrails`) and the command line (`mfa-reset-cli`) are crates
//! of their own: embedding the engine compiles none of them.
//! - [`run_policy_tests`] (`policy_tests.rs`): `cedar run-tests` files through the component.

#![deny(missing_docs)]

pub mod api;
mod bindings;
mod builder;
mod component;
mod convert;
mod engine;
mod error;
mod host_state;
pub mod log_text;
mod outcome_check;
mod policy_files;
mod policy_tests;
mod pool;
pub mod timestamp;

pub use api::*;
pub use builder::{
    DEFAULT_ACQUIRE_TIMEOUT, DEFAULT_DEADLINE, DEFAULT_FUEL_PER_CALL, DEFAULT_MEMORY_LIMIT,
    EngineBuilder, Interruption,
};
pub use engine::Engine;
pub use error::{Error, RequestError};
pub use policy_files::{policy_files, schema_file};
pub use policy_tests::{PolicyTestResult, TestExpectation, run_policy_tests};

/// The component this library embeds (built from `guest/`): the same
/// `.wasm` the Node and Python hosts load (`mfa-reset component`).
pub fn embedded_component() -> &'static [u8] {
    component::EMBEDDED
}
