//! A session ended, or its user's MFA state changed, is refused by the very
//! next forward-auth question: on the replica that made the change (on
//! SQLite the caller is read on the request's own thread, beside sqlx's
//! pool) and on a second replica sharing PostgreSQL. Nothing about a
//! session, its user or its organization is cached between requests.

use reqwest::StatusCode;
use serde_json::json;

use crate::common::postgres::{Postgres, replicas};
use crate::common::service::*;
use mfa_reset_service::Clock;

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

/// A change made on the first replica (`by` sends `method path body`)
/// that takes `token`'s access: every replica let it in just before (and
/// would have it warm in any cache), and every replica refuses it with
/// `expected` on the first question after.
async fn revoked(
    bases: &[String],
    token: &str,
    by: &str,
    (method, path, body): (&str, &str, Option<serde_json::Value>),
    expected: (StatusCode, &str),
) {
    for base in bases {
        for _ in 0..3 {
            assert_eq!(
                gateway_asks(base, token).await,
                (StatusCode::OK, String::new()),
                "let in on {base} before {method} {path}"
            );
        }
    }
    let (status, answer) = call(&bases[0], by, method, path, body).await;
    assert!(status.is_success(), "{method} {path}: {status} {answer}");
    for base in bases {
        let (status, code) = gateway_asks(base, token).await;
        assert_eq!(
            (status, code.as_str()),
            expected,
            "the first question on {base} after {method} {path}"
        );
    }
}

/// The ways a session loses its access, each made on `bases[0]` and asked
/// about on every replica right after.
async fn the_next_question_sees_every_revocation(bases: &[String], clock: &Clock) {
    let change = bases[0].as_str();
    let ended = (StatusCode::UNAUTHORIZED, "no-session");
    let ada = login(change, "ada").await;

    // R7: logout.
    let carol = login(change, "carol").await;
    revoked(bases, &carol, &carol, ("POST", "/api/logout", None), ended).await;

    // R9: a root resets a sub-user's MFA: the sub-user's sessions end.
    let bob = login(change, "bob").await;
    let (status, body) = call(change, &bob, "POST", "/api/me/mfa/enable", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let bob = login(change, "bob").await;
    enrol(change, &bob, clock).await;
    let reset = ("POST", "/api/org/users/bob/mfa/reset", None);
    revoked(bases, &bob, &ada, reset, ended).await;

    // R4: a root turns a sub-user's MFA on: its password-only sessions end.
    let carol = login(change, "carol").await;
    let enable = ("POST", "/api/org/users/carol/mfa/enable", None);
    revoked(bases, &carol, &ada, enable, ended).await;
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
    let deactivate = ("POST", "/api/org/users/carol/deactivate", None);
    revoked(bases, &carol, &ada, deactivate, ended).await;

    // R5: enforcement on: a password-only session must finish MFA first.
    let (gus, gina) = (login(change, "gus").await, login(change, "gina").await);
    let enforce = (
        "PUT",
        "/api/org/enforcement",
        Some(json!({"enforce_mfa": true})),
    );
    let mfa_required = (StatusCode::UNAUTHORIZED, "mfa-required");
    revoked(bases, &gina, &gus, enforce, mfa_required).await;
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
    let (replicas, bases, clock) = replicas(&pg, 2).await;
    the_next_question_sees_every_revocation(&bases, &clock).await;
    for replica in replicas {
        replica.stop().await;
    }
}
