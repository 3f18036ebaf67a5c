//! Shared fixtures: one engine per test binary, users, sessions, requests.
#![allow(dead_code, reason = "each test binary uses a different part")]

pub mod browser;
pub mod gateway;
pub mod inbox;
pub mod logs;
pub mod misbehaving;
pub mod policy_edits;
pub mod postgres;
pub mod served;
pub mod service;

use std::path::PathBuf;
use std::sync::LazyLock;

use mfa_reset::{
    Action, Engine, EngineBuilder, MfaStatus, Organization, Outcome, Request, Role, Session, User,
};
use time::{Duration, OffsetDateTime, macros::datetime};

pub const NOW: OffsetDateTime = datetime!(2026-11-22 10:00 UTC);

/// A path in the repository.
pub fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

/// The conformance file every host runs (tests/engine/conformance.rs makes it).
pub const CONFORMANCE_CASES: &str = "tests/conformance/cases.json";

/// How many cases it holds.
pub fn conformance_case_count() -> usize {
    let text = std::fs::read_to_string(repo(CONFORMANCE_CASES)).unwrap();
    serde_json::from_str::<serde_json::Value>(&text).unwrap()["cases"]
        .as_array()
        .map_or(0, Vec::len)
}

/// Where every test caches compiled components, in-process engines and
/// spawned `mfa-reset` commands alike (`$XDG_CACHE_HOME/mfa-reset`): each
/// distinct component is compiled once per run, not once per process (a
/// compile takes ~13 s of CPU in a debug build).
fn xdg_cache_home() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("component-cache")
}

/// The compiled-component cache of the in-process engines.
pub fn cache_dir() -> Option<PathBuf> {
    Some(xdg_cache_home().join("mfa-reset"))
}

/// The `mfa-reset` command of this build, sharing the tests' cache of
/// compiled components.
pub fn mfa_reset_command() -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_mfa-reset"));
    command.env("XDG_CACHE_HOME", xdg_cache_home());
    command
}

/// Runs `command` (a tool a test needs: pip, npm, jco, a build script),
/// failing the test with everything it printed if it fails; its output.
pub fn run_ok(what: &str, command: &mut std::process::Command) -> String {
    let out = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{what} failed:\n{said}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    said
}

pub fn builder() -> EngineBuilder {
    Engine::builder().with_cache_dir(cache_dir())
}

/// The engine with the built-in policies, shared by the tests of a binary.
pub fn engine() -> &'static Engine {
    static ENGINE: LazyLock<Engine> = LazyLock::new(|| builder().build().expect("engine builds"));
    &ENGINE
}

pub fn org(id: &str, enforce_mfa: bool) -> Organization {
    Organization {
        id: id.into(),
        enforce_mfa,
    }
}

pub fn user(id: &str, role: Role, org: &Organization, mfa: MfaStatus) -> User {
    User {
        id: id.into(),
        role,
        organization: org.clone(),
        mfa,
        active: true,
    }
}

pub fn root(id: &str, org: &Organization) -> User {
    user(id, Role::Root, org, MfaStatus::Active)
}

pub fn sub(id: &str, org: &Organization) -> User {
    user(id, Role::SubUser, org, MfaStatus::Active)
}

/// Logged in two days ago, last active an hour ago.
pub fn active_session() -> Session {
    session(Duration::days(2), Duration::hours(1))
}

/// Logged in `since_login` ago, last active `idle` ago.
pub fn session(since_login: Duration, idle: Duration) -> Session {
    Session {
        login_at: NOW - since_login,
        last_activity_at: NOW - idle,
        mfa_satisfied: true,
        recovery_code_login: false,
    }
}

pub fn request(actor: &User, action: Action) -> Request {
    Request {
        actor: actor.clone(),
        session: active_session(),
        now: NOW,
        action,
    }
}

pub fn decide(request: &Request) -> Outcome {
    engine()
        .decide(request)
        .expect("a well-formed request gets a decision")
}

/// Asserts a denial with `code`, decided by (at least) `policy`.
pub fn assert_denied(outcome: &Outcome, code: &str, policy: &str) {
    let d = &outcome.decision;
    assert!(!d.allowed, "expected a denial, got {d:?}");
    assert_eq!(d.denial_code.as_deref(), Some(code), "{d:?}");
    assert!(
        d.policy_ids.iter().any(|p| p == policy),
        "`{policy}` not among {:?}",
        d.policy_ids
    );
    assert!(outcome.change.is_none(), "a denial changes nothing");
}

/// Asserts an allow by exactly `policies`.
pub fn assert_allowed(outcome: &Outcome, policies: &[&str]) {
    let d = &outcome.decision;
    assert!(d.allowed, "expected an allow, got {d:?}");
    assert_eq!(d.denial_code, None);
    assert_eq!(d.policy_ids, policies);
}
