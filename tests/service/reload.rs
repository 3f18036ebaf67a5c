//! Hot reload under load: the policy files are swapped 50 times, valid and
//! invalid sets alternating, while forward-auth answers a steady stream of
//! requests. No request fails, every decision names the revision it was
//! made under and agrees with that revision's policies, and an invalid set
//! never serves a request.

use crate::common;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::service::*;
use reqwest::StatusCode;

const POLICY_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../policies");

/// Set B: the shipped set, and carol may not open the console.
const CLOSED_FOR_CAROL: &str = r#"
@id("console-closed-for-carol")
@code("console-closed")
@message("The console is closed for you.")
forbid (principal == MfaReset::User::"carol", action == MfaReset::Action::"access_console", resource);
"#;

/// Sets that must never serve: a type error, and no Cedar at all.
const INVALID: [&str; 2] = [
    "@id(\"broken\") permit (principal, action, resource) when { principal.nope };",
    "this is not a policy",
];

const POLL: Duration = Duration::from_millis(20);

/// How many changed sets hot reload has refused so far (the metric).
async fn refused_reloads(base: &str) -> u64 {
    let text = metrics(base).await;
    text.lines()
        .find(|l| l.starts_with("mfa_reset_policy_reloads_total{result=\"refused\"}"))
        .and_then(|l| l.rsplit(' ').next())
        .map_or(0, |n| n.parse().unwrap())
}

/// Waits until the service decides under a revision other than `not`
/// (or exactly `expected`, when given); returns it.
async fn wait_for_revision(base: &str, not: &str, expected: Option<&str>) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = policy_revision(base).await;
        if now != not && expected.is_none_or(|e| e == now) {
            return now;
        }
        assert!(Instant::now() < deadline, "the reload did not happen");
        tokio::time::sleep(POLL).await;
    }
}

/// Puts `text` in place the way docs/reliability.md tells authors to: written
/// beside the file, then renamed over it. (Written in place, a file is
/// empty between truncation and write; on this loaded 2-core machine with a
/// 20 ms poll the service once read it empty twice in a row and installed
/// the empty set, which denies everything.)
fn replace(file: &std::path::Path, text: &str) {
    let next = file.with_extension("next");
    std::fs::write(&next, text).unwrap();
    std::fs::rename(&next, file).unwrap();
}

/// One forward-auth answer of the load.
struct Answer {
    user: &'static str,
    status: StatusCode,
    revision: String,
    denial_code: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_policy_swaps_under_load_fail_no_request_and_misdecide_none() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["mfa.cedar", "mfa.cedarschema"] {
        std::fs::copy(format!("{POLICY_DIR}/{name}"), dir.path().join(name)).unwrap();
    }
    let policy_file = dir.path().join("mfa.cedar");
    let shipped = std::fs::read_to_string(&policy_file).unwrap();
    let closed = format!("{shipped}{CLOSED_FOR_CAROL}");
    let policies = dir.path().to_path_buf();
    let svc = TestService::start(move |config, _| {
        config.policies_dir = Some(policies);
        config.policy_poll_interval = POLL;
    })
    .await;
    let base = svc.base.clone();
    let open_revision = policy_revision(&base).await;
    let (bob, carol) = (login(&base, "bob").await, login(&base, "carol").await);

    let stop = Arc::new(AtomicBool::new(false));
    let mut load = Vec::new();
    for worker in 0..4 {
        let (base, stop) = (base.clone(), stop.clone());
        let (user, token) = if worker % 2 == 0 {
            ("carol", carol.clone())
        } else {
            ("bob", bob.clone())
        };
        load.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut answers = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let response = client
                    .get(format!("{base}/forward-auth"))
                    .header("x-original-method", "GET")
                    .header("x-original-uri", "/app/home")
                    .bearer_auth(&token)
                    .send()
                    .await
                    .expect("every request is answered");
                let header = |name: &str| {
                    response
                        .headers()
                        .get(name)
                        .map(|v| v.to_str().unwrap().to_string())
                        .unwrap_or_default()
                };
                answers.push(Answer {
                    user,
                    status: response.status(),
                    revision: header("x-auth-policy-revision"),
                    denial_code: header("x-auth-denial-code"),
                });
            }
            answers
        }));
    }

    // 50 swaps: B, invalid, A, invalid, B, … Each valid set is waited for;
    // after each invalid one the set in force must still be deciding.
    let mut closed_revision = None;
    let mut in_force = open_revision.clone();
    for swap in 0..50 {
        if swap % 2 == 0 {
            let to_closed = swap % 4 == 0;
            replace(&policy_file, if to_closed { &closed } else { &shipped });
            let expected = if to_closed {
                closed_revision.as_deref()
            } else {
                Some(open_revision.as_str())
            };
            in_force = wait_for_revision(&base, &in_force, expected).await;
            if to_closed {
                closed_revision.get_or_insert_with(|| in_force.clone());
            }
        } else {
            // Wait until the service has tried the invalid set and refused it.
            let refused = refused_reloads(&base).await;
            replace(&policy_file, INVALID[(swap / 2) % 2]);
            let deadline = Instant::now() + Duration::from_secs(10);
            while refused_reloads(&base).await == refused {
                assert!(Instant::now() < deadline, "the invalid set was never tried");
                tokio::time::sleep(POLL).await;
            }
            assert_eq!(
                policy_revision(&base).await,
                in_force,
                "an invalid set was installed"
            );
        }
    }
    stop.store(true, Ordering::Relaxed);
    let mut answers = Vec::new();
    for worker in load {
        answers.extend(worker.await.unwrap());
    }

    let closed_revision = closed_revision.unwrap();
    assert_ne!(closed_revision, open_revision);
    let mut served: HashMap<(&str, &str), usize> = HashMap::new();
    for a in &answers {
        let set = if a.revision == open_revision {
            "open"
        } else if a.revision == closed_revision {
            "closed"
        } else {
            panic!("decided under revision {:?}, not a valid set", a.revision)
        };
        let expected = match (a.user, set) {
            ("carol", "closed") => (StatusCode::FORBIDDEN, "console-closed"),
            _ => (StatusCode::OK, ""),
        };
        assert_eq!(
            (a.status, a.denial_code.as_str()),
            expected,
            "{} under the {set} set",
            a.user
        );
        *served.entry((a.user, set)).or_default() += 1;
    }
    for key in [
        ("carol", "open"),
        ("carol", "closed"),
        ("bob", "open"),
        ("bob", "closed"),
    ] {
        assert!(
            served.get(&key).is_some_and(|n| *n > 0),
            "{key:?}: {served:?}"
        );
    }
    println!(
        "50 swaps (25 valid, 25 invalid), {} requests under load, 0 failed, 0 misdecided: {served:?}",
        answers.len()
    );
    svc.service.stop().await;
}
