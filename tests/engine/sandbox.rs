//! The sandbox. The component can be pinned by its sha256, and a
//! misbehaving component (tests/misbehaving-guest) that loops, allocates
//! without bound, traps or answers garbage is stopped by the host every
//! time: the caller gets a clear error, the instance is discarded, the next
//! request is decided normally, and the service never answers allow.

use crate::common;

use std::time::Duration;

use common::misbehaving::misbehaving_component;
use common::service::{TestService, call, forward, login};
use common::*;
use mfa_reset::{Action, Engine, EngineBuilder, Error, Outcome};
use mfa_reset_service::Seed;
use reqwest::StatusCode;

/// The misbehaving component with one instance, so that a test can tell a
/// discarded instance from a kept one.
fn misbehaving(builder: EngineBuilder) -> Engine {
    builder
        .with_component_file(misbehaving_component())
        .with_max_instances(1)
        .build()
        .expect("the misbehaving component loads")
}

/// `decide` for a caller named `id` (the name picks the misbehaviour).
fn ask(engine: &Engine, id: &str, action: Action) -> Result<Outcome, Error> {
    engine.decide(&request(&sub(id, &org("acme", false)), action))
}

/// How many decisions the instance answering now has made: a fresh
/// instance reports `calls-0`.
fn calls_of_current_instance(engine: &Engine) -> String {
    engine.policy_set_info().expect("policy set info").revision
}

/// After a failure: the failing instance is gone, and the next request is
/// decided on a fresh one that is then kept.
fn assert_recovers(engine: &Engine) {
    assert_eq!(
        calls_of_current_instance(engine),
        "calls-0",
        "the misbehaving instance was discarded"
    );
    let outcome = ask(engine, "ok", Action::ResetOwnMfa).expect("the next request is decided");
    assert!(outcome.decision.allowed);
    assert_eq!(
        calls_of_current_instance(engine),
        "calls-1",
        "a healthy instance is kept"
    );
}

#[test]
fn a_component_that_is_not_the_pinned_one_is_refused() {
    let pinned = engine().component_sha256().to_string();
    assert_eq!(pinned.len(), 64, "{pinned}");
    builder()
        .with_expected_sha256(pinned.to_uppercase())
        .build()
        .expect("the pinned component loads (hex in any case)");

    let err = builder()
        .with_component_file(misbehaving_component())
        .with_expected_sha256(&pinned)
        .build()
        .expect_err("another component under the pinned digest");
    assert!(matches!(err, Error::ComponentDigest { .. }), "{err}");
    assert!(
        err.to_string().contains(&pinned) && err.to_string().contains("refusing"),
        "{err}"
    );

    let err = builder()
        .with_expected_sha256("00".repeat(32))
        .build()
        .expect_err("the embedded component under a wrong digest");
    assert!(matches!(err, Error::ComponentDigest { .. }), "{err}");
}

#[test]
fn the_service_refuses_to_start_with_a_component_that_is_not_the_pinned_one() {
    let dir = tempfile::tempdir().unwrap();
    let output = common::mfa_reset_command()
        .args(["--component-sha256", &"ab".repeat(32), "serve"])
        .args([
            "--listen",
            "127.0.0.1:0",
            "--insecure-cookies",
            "--data-dir",
        ])
        .arg(dir.path().join("data"))
        .output()
        .expect("the command runs");
    assert!(!output.status.success(), "it must not start");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&"ab".repeat(32)) && stderr.contains("sha256"),
        "{stderr}"
    );
    // Nothing was written: the CLI makes the database file empty and
    // private up front, and it stays empty (no migration, no seed).
    let db = dir.path().join("data/mfa-reset.db");
    let written = std::fs::metadata(&db).map_or(0, |m| m.len());
    assert_eq!(written, 0, "the database was touched before the check");
    for journal in [
        "mfa-reset.db-wal",
        "mfa-reset.db-shm",
        "mfa-reset.db-journal",
    ] {
        assert!(
            !dir.path().join("data").join(journal).exists(),
            "{journal}: the database was opened before the check"
        );
    }
}

#[test]
fn a_looping_component_is_stopped_by_the_deadline() {
    let engine = misbehaving(builder().with_deadline(Duration::from_millis(200)));
    let err = ask(&engine, "loop", Action::ResetOwnMfa).expect_err("it never answers");
    assert!(matches!(err, Error::DeadlineExceeded { .. }), "{err}");
    assert!(err.to_string().contains("deadline"), "{err}");
    assert_recovers(&engine);
}

#[test]
fn a_looping_component_is_stopped_by_fuel() {
    let engine = misbehaving(builder().with_fuel_per_call(50_000_000));
    let err = ask(&engine, "loop", Action::ResetOwnMfa).expect_err("it never answers");
    assert!(
        matches!(err, Error::OutOfFuel { fuel: 50_000_000 }),
        "{err}"
    );
    assert_recovers(&engine);
}

#[test]
fn an_allocating_component_is_stopped_at_the_memory_cap() {
    let engine = misbehaving(builder().with_memory_limit(32 << 20));
    let err = ask(&engine, "alloc", Action::ResetOwnMfa).expect_err("it never answers");
    assert!(matches!(err, Error::Trapped { .. }), "{err}");
    assert!(err.to_string().contains("discarded"), "{err}");
    assert_recovers(&engine);
}

#[test]
fn a_trapping_component_is_a_clear_error() {
    let engine = misbehaving(builder());
    let err = ask(&engine, "trap", Action::ResetOwnMfa).expect_err("it traps");
    assert!(matches!(err, Error::Trapped { .. }), "{err}");
    assert!(err.to_string().contains("unreachable"), "{err}");
    assert_recovers(&engine);
}

#[test]
fn an_answer_that_does_not_fit_the_request_is_refused() {
    let engine = misbehaving(builder());
    // An allow no policy made, a change to a user nobody named, an audit
    // record of someone else.
    let err = ask(&engine, "garbage", Action::ResetOwnMfa).expect_err("refused");
    assert!(matches!(err, Error::BadOutcome { .. }), "{err}");
    assert!(err.to_string().contains("no policy made"), "{err}");
    assert_recovers(&engine);

    // A listing with a user the request did not hold.
    let acme = org("acme", false);
    let listing = Action::ListUsers(vec![sub("bob", &acme)]);
    let err = ask(&engine, "stranger", listing).expect_err("refused");
    assert!(matches!(err, Error::BadOutcome { .. }), "{err}");
    assert!(err.to_string().contains("not-in-the-request"), "{err}");
    assert_recovers(&engine);

    // R13: an identity provider's creation that makes a root with MFA on.
    let request = mfa_reset::ProvisioningRequest {
        provisioner: mfa_reset::Provisioner {
            id: "garbage".into(),
            organization: acme,
        },
        now: time::OffsetDateTime::now_utc()
            .replace_nanosecond(0)
            .unwrap(),
        action: mfa_reset::ProvisioningAction::CreateUser("eve".into()),
    };
    let err = engine.decide_provisioning(&request).expect_err("refused");
    assert!(matches!(err, Error::BadOutcome { .. }), "{err}");
    assert!(err.to_string().contains("provision_create_user"), "{err}");
    assert_recovers(&engine);

    // R14: a recovery step answered as a redemption that keeps the
    // account's MFA, ends no session and is audited as nobody.
    let now = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap();
    let session = mfa_reset::Session {
        login_at: now,
        last_activity_at: now,
        mfa_satisfied: true,
        recovery_code_login: false,
    };
    let provider = org("provider", false);
    let request = mfa_reset::RecoveryRequest {
        caller: Some(mfa_reset::User {
            role: mfa_reset::Role::SupportAgent,
            ..sub("sam", &provider)
        }),
        session,
        now,
        account_has_active_session: false,
        action: mfa_reset::RecoveryAction::OpenCase,
        case: mfa_reset::RecoveryCase {
            id: "case-1".into(),
            account: sub("garbage", &org("acme", false)),
            opened_by: "sam".into(),
            opened_at: now,
            checks: vec![mfa_reset::IdentityCheck::ConfirmedByRoot],
            approved_by: None,
            state: mfa_reset::CaseState::Open,
            ticket_issued_at: None,
        },
    };
    let err = engine.decide_recovery(&request).expect_err("refused");
    assert!(matches!(err, Error::BadOutcome { .. }), "{err}");
    assert!(err.to_string().contains("open_recovery_case"), "{err}");
    assert_recovers(&engine);

    // R15: a recovery code accepted without being used up (it would work
    // for ever).
    let hashes = mfa_reset::RecoveryCodeHashes {
        key: vec![1; 32],
        hashes: vec![vec![2; 32], vec![3; 32]],
    };
    let code_request = mfa_reset::CodeRequest {
        user: mfa_reset::User {
            mfa: mfa_reset::MfaStatus::Active,
            ..sub("garbage", &org("acme", false))
        },
        session: mfa_reset::Session {
            mfa_satisfied: false,
            ..session
        },
        authenticator: mfa_reset::Authenticator {
            recovery_codes: Some(hashes),
            ..Default::default()
        },
        code: "AAAA-AAAA-AAAA-AAAA".into(),
        now,
        lockout: mfa_reset::LockoutPolicy::default(),
    };
    let err = engine
        .use_recovery_code(&code_request)
        .expect_err("refused");
    assert!(matches!(err, Error::BadOutcome { .. }), "{err}");
    assert!(err.to_string().contains("exactly one"), "{err}");
    assert_recovers(&engine);
}

const SEED: &str = r#"{"organizations": [{"id": "acme", "enforce_mfa": false, "users": [
  {"id": "ok", "role": "root", "password": "ok-demo-password"},
  {"id": "loop", "role": "sub_user", "password": "loop-demo-password"},
  {"id": "alloc", "role": "sub_user", "password": "alloc-demo-password"},
  {"id": "trap", "role": "sub_user", "password": "trap-demo-password"},
  {"id": "garbage", "role": "sub_user", "password": "garbage-demo-password"}
]}]}"#;

#[tokio::test(flavor = "multi_thread")]
async fn the_service_never_allows_on_a_misbehaving_component() {
    let service = TestService::start(|config, _| {
        config.engine = builder()
            .with_component_file(misbehaving_component())
            .with_deadline(Duration::from_millis(300))
            .with_memory_limit(32 << 20);
        config.seed = Some(Seed::parse(SEED).unwrap());
    })
    .await;
    let base = &service.base;
    let gateway = [
        ("x-original-method", "GET"),
        ("x-original-uri", "/app/home"),
    ];
    let ok = login(base, "ok").await;
    for id in ["loop", "alloc", "trap", "garbage"] {
        let token = login(base, id).await;
        // Forward-auth fails closed, with no subject for the backend.
        let (status, headers) = forward(base, "/forward-auth", Some(&token), &gateway, None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{id}: {headers:?}");
        assert_eq!(headers["x-auth-denial-code"], "error", "{id}");
        assert!(headers.get("x-auth-user").is_none(), "{id}");
        // The console API says it could not decide: 503, nothing changed.
        let (status, body) = call(base, &token, "POST", "/api/me/mfa/reset", None).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{id}: {body}");
        assert_eq!(body["error"]["code"], "unavailable", "{id}: {body}");
        // The next request is decided normally.
        let (status, headers) = forward(base, "/forward-auth", Some(&ok), &gateway, None).await;
        assert_eq!(status, StatusCode::OK, "after {id}: {headers:?}");
        assert_eq!(headers["x-auth-user"], "ok");
    }
    // Nothing the misbehaving answers claimed was stored or audited: the
    // five logins are the only records (forward-auth decisions are reads,
    // which the host logs, not audits).
    let (status, body) = call(base, &ok, "GET", "/api/audit", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let records = body["records"].as_array().expect("records");
    assert_eq!(records.len(), 5, "{body}");
    assert!(
        records
            .iter()
            .all(|r| r["action"] == "login" && r["actor"] == r["target"]),
        "no misbehaving answer was stored as an audit record: {body}"
    );
    // The garbage answer's change of `somebody-else` was never stored.
    let (status, body) = call(base, &ok, "GET", "/api/org/users", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(!body.to_string().contains("somebody-else"), "{body}");
}
