//! Loops the guest's `decide`, compiled natively, for a profiler:
//! `perf record -g target/release/examples/profile_native_guest`.

use mfa_reset_guest::{Component, Guest, types};

fn main() {
    let acme = types::Organization {
        id: "acme".into(),
        enforce_mfa: false,
    };
    let user = |id: &str, role| types::User {
        id: id.into(),
        role,
        organization: acme.clone(),
        mfa: types::MfaStatus::Active,
    };
    let now = 1_795_000_000_000;
    let request = types::Request {
        actor: user("ada", types::Role::Root),
        session: types::Session {
            login_at: now - 2 * 86_400_000,
            last_activity_at: now - 3_600_000,
            mfa_satisfied: true,
        },
        now,
        action: types::Action::ResetUserMfa(user("bob", types::Role::SubUser)),
    };
    let rounds: u32 = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    let started = std::time::Instant::now();
    for _ in 0..rounds {
        assert!(
            <Component as Guest>::decide(request.clone())
                .unwrap()
                .decision
                .allowed
        );
    }
    println!(
        "{:.1} µs per decide",
        started.elapsed().as_secs_f64() * 1e6 / f64::from(rounds)
    );
}
