//! What a decision costs, every path side by side in one run (this machine
//! is shared and noisy: compare ratios within a run, not across runs).
//!
//! `cargo bench -p mfa-reset --bench decision` prints one line per row of
//! BENCHMARKS.md: cedar-policy's `is_authorized` alone on prebuilt entities,
//! the guest's logic compiled natively, the component with a reused
//! instance, a fresh instance per call (default and pooling allocator), an
//! epoch deadline instead of fuel, cold start, and growth with the policy
//! set and the organization.

use std::str::FromStr;
use std::time::{Duration, Instant};

use cedar_policy::{
    Authorizer, Context, Entities, EntityUid, PolicyId, PolicySet, Request, Schema,
};
use mfa_reset::{
    Action, Engine, EngineBuilder, MfaStatus, Organization, PolicySource, Role, Session,
    SourceFile, User,
};
use mfa_reset_guest::{Component, Guest};

#[path = "native_request.rs"]
mod native_request;
use native_request::native_request;

const POLICIES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../policies");
const SUPPORT: &str = "https://support.example.com/mfa";

struct Row {
    p50: Duration,
}

fn measure(name: &str, rounds: usize, mut f: impl FnMut()) -> Row {
    for _ in 0..(rounds / 10).max(3) {
        f();
    }
    let mut samples: Vec<Duration> = (0..rounds)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    let (p50, p99) = (at(0.5), at(0.99));
    println!(
        "{name:<60} p50 {:>9.1} µs   p99 {:>9.1} µs",
        p50.as_secs_f64() * 1e6,
        p99.as_secs_f64() * 1e6
    );
    Row { p50 }
}

fn ratio(name: &str, a: &Row, b: &Row) {
    println!(
        "  {name:<58} {:.2}x",
        a.p50.as_secs_f64() / b.p50.as_secs_f64()
    );
}

fn main() {
    let source = PolicySource::from_dir(POLICIES, SUPPORT).unwrap();
    let request = typed_request(1);

    // Cold start: a new engine on the cached compiled component, then the
    // first decision (the process start itself is in BENCHMARKS.md's script).
    let _warm_cache = Engine::new().unwrap();
    let cold = Instant::now();
    let engine = Engine::new().unwrap();
    engine.decide(&request).unwrap();
    println!(
        "{:<60} {:>9.1} ms\n",
        "cold start: new engine (cached component) + first decide",
        cold.elapsed().as_secs_f64() * 1e3
    );

    let (cedar_request, entities, policies) = prebuilt(&source);
    let cedar = measure(
        "cedar-policy is_authorized alone (prebuilt entities)",
        20_000,
        || {
            let answer = Authorizer::new().is_authorized(&cedar_request, &policies, &entities);
            assert_eq!(answer.decision(), cedar_policy::Decision::Allow);
        },
    );
    let guest_request = native_request();
    let native = measure("guest logic compiled natively: decide", 20_000, || {
        let outcome = <Component as Guest>::decide(guest_request.clone()).unwrap();
        assert!(outcome.decision.allowed);
    });
    let fuel_engine = Engine::builder()
        .with_fuel_per_call(mfa_reset::DEFAULT_FUEL_PER_CALL)
        .build()
        .unwrap();
    let component = measure(
        "component decide, reused instance (fuel)",
        20_000,
        decide(&fuel_engine, &request),
    );
    let epoch_engine = Engine::new().unwrap(); // the default: an epoch deadline
    let epoch = measure(
        "component decide, reused instance (epoch deadline)",
        20_000,
        decide(&epoch_engine, &request),
    );
    let fresh = Engine::builder()
        .with_instance_reuse(false)
        .build()
        .unwrap();
    let fresh_default = measure(
        "component decide, fresh instance (default allocator)",
        1_000,
        decide(&fresh, &request),
    );
    let fresh = Engine::builder()
        .with_instance_reuse(false)
        .with_pooling_allocator(true)
        .build()
        .unwrap();
    let fresh_pooling = measure(
        "component decide, fresh instance (pooling allocator)",
        1_000,
        decide(&fresh, &request),
    );
    println!();
    ratio(
        "component (fuel) / cedar is_authorized alone",
        &component,
        &cedar,
    );
    ratio(
        "component (epoch) / cedar is_authorized alone",
        &epoch,
        &cedar,
    );
    ratio("component (fuel) / native guest logic", &component, &native);
    ratio("component (epoch) / native guest logic", &epoch, &native);
    ratio(
        "native guest logic / cedar is_authorized alone",
        &native,
        &cedar,
    );
    ratio(
        "fresh instance (default) / reused",
        &fresh_default,
        &component,
    );
    ratio(
        "fresh instance (pooling) / reused",
        &fresh_pooling,
        &component,
    );
    println!();

    for extra in [10, 100, 1_000] {
        let engine = EngineBuilder::default()
            .with_policies(with_extra_policies(&source, extra))
            .build()
            .unwrap();
        measure(
            &format!("growth: decide with {extra} more policies"),
            if extra >= 1_000 { 500 } else { 5_000 },
            decide(&engine, &request),
        );
    }
    for users in [10, 1_000, 10_000] {
        let listing = typed_request(users);
        let rounds = if users >= 10_000 {
            30
        } else if users >= 1_000 {
            300
        } else {
            5_000
        };
        measure(
            &format!("growth: list_users of {users} users"),
            rounds,
            || {
                assert_eq!(engine.decide(&listing).unwrap().users.len(), users);
            },
        );
    }
}

/// One allowed decision on `engine`, as a closure to measure.
fn decide<'a>(engine: &'a Engine, request: &'a mfa_reset::Request) -> impl FnMut() + 'a {
    move || assert!(engine.decide(request).unwrap().decision.allowed)
}

/// The shipped set plus `n` forbids that never match (each names its own
/// principal), the shape an organization's own exceptions would take.
fn with_extra_policies(source: &PolicySource, n: usize) -> PolicySource {
    let extra: String = (0..n)
        .map(|i| {
            format!(
                "@id(\"extra-{i}\")\nforbid (principal == MfaReset::User::\"someone-{i}\", action, resource);\n"
            )
        })
        .collect();
    let mut source = source.clone();
    source.policies.push(SourceFile {
        name: "extra.cedar".into(),
        text: extra,
    });
    source
}

/// Request, entities and policies for cedar-policy, built once, as the
/// guest builds them per request: ada (root of acme) resets bob.
fn prebuilt(source: &PolicySource) -> (Request, Entities, PolicySet) {
    let schema = Schema::from_cedarschema_str(&source.schema.text).unwrap().0;
    let mut policies = PolicySet::new();
    for file in &source.policies {
        for p in PolicySet::from_str(&file.text).unwrap().policies() {
            policies
                .add(p.new_id(PolicyId::new(p.annotation("id").unwrap())))
                .unwrap();
        }
    }
    let entities = serde_json::json!([
        {"uid": {"type": "MfaReset::Organization", "id": "acme"}, "attrs": {"enforce_mfa": false}, "parents": []},
        {"uid": {"type": "MfaReset::User", "id": "ada"}, "parents": [{"type": "MfaReset::Organization", "id": "acme"}],
         "attrs": {"organization": {"__entity": {"type": "MfaReset::Organization", "id": "acme"}},
                   "is_root": true, "mfa_enabled": true, "mfa_enrolled": true, "active": true}},
        {"uid": {"type": "MfaReset::User", "id": "bob"}, "parents": [{"type": "MfaReset::Organization", "id": "acme"}],
         "attrs": {"organization": {"__entity": {"type": "MfaReset::Organization", "id": "acme"}},
                   "is_root": false, "mfa_enabled": true, "mfa_enrolled": true, "active": true}},
    ]);
    let entities = Entities::from_json_value(entities, Some(&schema)).unwrap();
    let action = EntityUid::from_str("MfaReset::Action::\"reset_user_mfa\"").unwrap();
    let context = Context::from_json_value(
        serde_json::json!({
            "now": {"__extn": {"fn": "datetime", "arg": "2026-11-18T11:06:40.000Z"}},
            "session": {
                "login_at": {"__extn": {"fn": "datetime", "arg": "2026-11-16T11:06:40.000Z"}},
                "last_activity_at": {"__extn": {"fn": "datetime", "arg": "2026-11-18T10:06:40.000Z"}},
                "mfa_satisfied": true,
                "recovery_code_login": false
            }
        }),
        Some((&schema, &action)),
    )
    .unwrap();
    let request = Request::new(
        EntityUid::from_str("MfaReset::User::\"ada\"").unwrap(),
        action,
        EntityUid::from_str("MfaReset::User::\"bob\"").unwrap(),
        context,
        Some(&schema),
    )
    .unwrap();
    (request, entities, policies)
}

/// ada (root of acme) resets bob; with `users` > 1, ada lists that many.
fn typed_request(users: usize) -> mfa_reset::Request {
    let acme = Organization {
        id: "acme".into(),
        enforce_mfa: false,
    };
    let user = |id: String, role| User {
        id,
        role,
        organization: acme.clone(),
        mfa: MfaStatus::Active,
        active: true,
    };
    let now = time::OffsetDateTime::from_unix_timestamp(1_795_000_000).unwrap();
    let action = if users > 1 {
        Action::ListUsers(
            (0..users)
                .map(|i| user(format!("user-{i}"), Role::SubUser))
                .collect(),
        )
    } else {
        Action::ResetUserMfa(user("bob".into(), Role::SubUser))
    };
    mfa_reset::Request {
        actor: user("ada".into(), Role::Root),
        session: Session {
            login_at: now - time::Duration::days(2),
            last_activity_at: now - time::Duration::hours(1),
            mfa_satisfied: true,
            recovery_code_login: false,
        },
        now,
        action,
    }
}
