//! Decision cost: through the component vs native cedar-policy, side by
//! side in one run, on the shipped policies and the same request.
//!
//! `cargo bench --bench decision` prints p50/p99 per path; results are
//! recorded in host/benches/RESULTS.md. Both the native and the component
//! path parse the same `run-tests` case (request, context, entities as
//! JSON) and authorize it, so they do the same work.

use std::str::FromStr;
use std::time::{Duration, Instant};

use cedar_policy::{
    Authorizer, Context, Entities, EntityUid, PolicyId, PolicySet, Request, Schema,
};
use mfa_reset::{Action, Engine, MfaStatus, Organization, PolicySource, Role, Session, User};

const ROUNDS: usize = 20_000;

fn percentiles(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    (
        samples[samples.len() / 2],
        samples[samples.len() * 99 / 100],
    )
}

fn measure(name: &str, mut f: impl FnMut()) -> Duration {
    for _ in 0..1_000 {
        f();
    }
    let samples: Vec<Duration> = (0..ROUNDS)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    let (p50, p99) = percentiles(samples);
    println!(
        "{name:<52} p50 {:>8.2} µs   p99 {:>8.2} µs",
        p50.as_secs_f64() * 1e6,
        p99.as_secs_f64() * 1e6
    );
    p50
}

fn native_policies(source: &PolicySource) -> PolicySet {
    let mut set = PolicySet::new();
    for file in &source.policies {
        for p in PolicySet::from_str(&file.text).unwrap().policies() {
            set.add(p.new_id(PolicyId::new(p.annotation("id").unwrap())))
                .unwrap();
        }
    }
    set
}

fn main() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../policies");
    let source = PolicySource::from_dir(dir, "https://support.example.com/mfa").unwrap();
    let schema = Schema::from_cedarschema_str(&source.schema.text).unwrap().0;
    let policies = native_policies(&source);
    let tests: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(format!("{dir}/tests.json")).unwrap())
            .unwrap();
    // "R9 allow: root resets a sub-user of its organization".
    let case = tests
        .iter()
        .find(|c| c["name"].as_str().unwrap().starts_with("R9 allow"))
        .unwrap()
        .clone();
    let case_json = case.to_string();

    let cold = Instant::now();
    let engine = Engine::new().unwrap();
    engine.decide(&typed_request()).unwrap();
    println!(
        "cold start (cached component, new instance, policy parse): {:.1} ms\n",
        cold.elapsed().as_secs_f64() * 1e3
    );

    let native = measure("native cedar-policy: parse case + is_authorized", || {
        let case: serde_json::Value = serde_json::from_str(&case_json).unwrap();
        let r = &case["request"];
        let action = EntityUid::from_str(r["action"].as_str().unwrap()).unwrap();
        let context =
            Context::from_json_value(r["context"].clone(), Some((&schema, &action))).unwrap();
        let request = Request::new(
            EntityUid::from_str(r["principal"].as_str().unwrap()).unwrap(),
            action,
            EntityUid::from_str(r["resource"].as_str().unwrap()).unwrap(),
            context,
            Some(&schema),
        )
        .unwrap();
        let entities = Entities::from_json_value(case["entities"].clone(), Some(&schema)).unwrap();
        assert!(
            Authorizer::new()
                .is_authorized(&request, &policies, &entities)
                .decision()
                == cedar_policy::Decision::Allow
        );
    });
    let component = measure("component (reused instance): the same case", || {
        assert!(engine.authorize_cedar(&case_json).unwrap().allowed);
    });
    let request = typed_request();
    measure(
        "component (reused instance): typed decide + new state",
        || {
            assert!(engine.decide(&request).unwrap().decision.allowed);
        },
    );
    println!(
        "\ncomponent / native (same work, p50): {:.2}x",
        component.as_secs_f64() / native.as_secs_f64()
    );
}

fn typed_request() -> mfa_reset::Request {
    let acme = Organization {
        id: "acme".into(),
        enforce_mfa: false,
    };
    let now = time::OffsetDateTime::from_unix_timestamp(1_795_000_000).unwrap();
    mfa_reset::Request {
        actor: User {
            id: "ada".into(),
            role: Role::Root,
            organization: acme.clone(),
            mfa: MfaStatus::Active,
        },
        session: Session {
            login_at: now - time::Duration::days(2),
            last_activity_at: now - time::Duration::hours(1),
            mfa_satisfied: true,
        },
        now,
        action: Action::ResetUserMfa(User {
            id: "bob".into(),
            role: Role::SubUser,
            organization: acme,
            mfa: MfaStatus::Active,
        }),
    }
}
