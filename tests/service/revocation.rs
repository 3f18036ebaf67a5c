//! A session ended, or its user's MFA state changed, is refused by the very
//! next forward-auth question: on the replica that made the change (on
//! SQLite the caller is read on the request's own thread, beside sqlx's
//! pool) and on a second replica sharing PostgreSQL. Nothing about a
//! session, its user or its organization is cached between requests.

use reqwest::StatusCode;
use serde_json::json;

use crate::common::postgres::{Postgres, wait_ready};
use crate::common::service::*;
use mfa_reset_service::{Clock, SecretBox, Service};

/// Forward-auth's answer on `base` for `token` on the sub-users' route:
/// the status and the denial code.
async fn gateway_asks(base: &str, token: &str) -> (StatusCode, String) {
    let home = [
        ("x-original-method", "GET"),
        ("x-original-uri", "/app/home"),
    ];
    let (status, headers) = forward(base, "/forward-auth", Some(token), &home, None).await;
    let code = headers
        .get("x-auth-denial-code")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, code)
}

/// Every replica lets `token` in now (and would have it warm in any cache).
async fn allowed_everywhere(bases: &[String], token: &str, who: &str) {
    for base in bases {
        for _ in 0..3 {
            assert_eq!(
                gateway_asks(base, token).await,
                (StatusCode::OK, String::new()),
                "{who} is let in on {base} before the change"
            );
        }
    }
}

/// Every replica refuses `token` with `expected` on the first question
/// after the change.
async fn refused_everywhere(
    bases: &[String],
    token: &str,
    expected: (StatusCode, &str),
    what: &str,
) {
    for base in bases {
        let (status, code) = gateway_asks(base, token).await;
        assert_eq!(
            (status, code.as_str()),
            expected,
            "the first question on {base} after {what}"
        );
    }
}

/// The four ways a session loses its access, each made on `bases[0]` and
/// asked about on every replica right after.
async fn the_next_question_sees_every_revocation(bases: &[String], clock: &Clock) {
    let change = bases[0].as_str();
    let ada = login(change, "ada").await;

    // R7: logout.
    let carol = login(change, "carol").await;
    allowed_everywhere(bases, &carol, "carol").await;
    let (status, _) = call(change, &carol, "POST", "/api/logout", None).await;
    assert!(status.is_success(), "logout: {status}");
    refused_everywhere(
        bases,
        &carol,
        (StatusCode::UNAUTHORIZED, "no-session"),
        "logout",
    )
    .await;

    // R9: a root resets a sub-user's MFA: the sub-user's sessions end.
    let bob = login(change, "bob").await;
    let (status, body) = call(change, &bob, "POST", "/api/me/mfa/enable", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let bob = login(change, "bob").await;
    enrol(change, &bob, clock).await;
    allowed_everywhere(bases, &bob, "bob").await;
    let (status, body) = call(change, &ada, "POST", "/api/org/users/bob/mfa/reset", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    refused_everywhere(
        bases,
        &bob,
        (StatusCode::UNAUTHORIZED, "no-session"),
        "a root's reset",
    )
    .await;

    // R4: a root turns a sub-user's MFA on: its password-only sessions end.
    let carol = login(change, "carol").await;
    allowed_everywhere(bases, &carol, "carol").await;
    let (status, body) = call(
        change,
        &ada,
        "POST",
        "/api/org/users/carol/mfa/enable",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    refused_everywhere(
        bases,
        &carol,
        (StatusCode::UNAUTHORIZED, "no-session"),
        "MFA turned on",
    )
    .await;
    let (status, body) = call(
        change,
        &ada,
        "POST",
        "/api/org/users/carol/mfa/disable",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // R13: a root deactivates a sub-user: its sessions end.
    let carol = login(change, "carol").await;
    allowed_everywhere(bases, &carol, "carol").await;
    let (status, body) = call(
        change,
        &ada,
        "POST",
        "/api/org/users/carol/deactivate",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    refused_everywhere(
        bases,
        &carol,
        (StatusCode::UNAUTHORIZED, "no-session"),
        "a deactivation",
    )
    .await;

    // R5: enforcement on: a password-only session must finish MFA first.
    let (gus, gina) = (login(change, "gus").await, login(change, "gina").await);
    allowed_everywhere(bases, &gina, "gina").await;
    let (status, body) = call(
        change,
        &gus,
        "PUT",
        "/api/org/enforcement",
        Some(json!({"enforce_mfa": true})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    refused_everywhere(
        bases,
        &gina,
        (StatusCode::UNAUTHORIZED, "mfa-required"),
        "enforcement on",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn r4_r5_r7_r9_r13_a_revoked_session_is_refused_by_the_next_question_on_sqlite() {
    let svc = TestService::start(|_, _| {}).await;
    the_next_question_sees_every_revocation(std::slice::from_ref(&svc.base), &svc.clock).await;
    svc.service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn r4_r5_r7_r9_r13_a_revoked_session_is_refused_by_the_next_question_on_both_replicas() {
    let pg = Postgres::start();
    wait_ready(&pg.url()).await;
    let key = SecretBox::generate_base64();
    let first = config(pg.url(), key.clone());
    let clock = first.clock.clone();
    let a = Service::start(first).await.expect("replica a starts");
    let b = Service::start(config(pg.url(), key))
        .await
        .expect("replica b starts");
    let bases = [
        format!("http://{}", a.local_addr()),
        format!("http://{}", b.local_addr()),
    ];
    the_next_question_sees_every_revocation(&bases, &clock).await;
    a.stop().await;
    b.stop().await;
}
