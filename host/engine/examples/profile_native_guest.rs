//! Loops the guest's `decide`, compiled natively, for a profiler:
//! `perf record -g target/release/examples/profile_native_guest`.

use mfa_reset_guest::{Component, Guest};

#[path = "../benches/native_request.rs"]
mod native_request;
use native_request::native_request;

fn main() {
    let request = native_request();
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
