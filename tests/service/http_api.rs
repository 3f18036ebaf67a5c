//! The sidecar over HTTP (in-process, SQLite in a temp dir): the console
//! API's status codes, the TOTP login, forward-auth, operations endpoints.

use crate::common;

use common::service::*;
use reqwest::StatusCode;
use serde_json::json;
use time::Duration;

/// R2 to R12 as the help page tells them (R2, R5, R6, R9, R10, R11, R12),
/// through the console API: every decision about a change is in the audit
/// log with its id, another organization's attempt included.
#[tokio::test(flavor = "multi_thread")]
async fn r2_to_r12_the_seed_story_holds_over_http_and_every_decision_is_audited() {
    let svc = TestService::start(|_, _| {}).await;
    let (bob, ada, gus) = (
        login(&svc.base, "bob").await,
        login(&svc.base, "ada").await,
        login(&svc.base, "gus").await,
    );

    // R6: nothing to reset while MFA is off; R2: turning it on.
    let (status, body) = call(&svc.base, &bob, "POST", "/api/me/mfa/reset", None).await;
    assert_eq!(
        (status, body["denial_code"].as_str()),
        (StatusCode::FORBIDDEN, Some("mfa-not-enabled"))
    );
    let (status, body) = call(&svc.base, &bob, "POST", "/api/me/mfa/enable", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["user"]["mfa"], "enrolment_due");
    assert_eq!(body["policy_ids"], json!(["self-service"]));

    // R5, R10, R11.
    let (status, _) = call(
        &svc.base,
        &ada,
        "PUT",
        "/api/org/enforcement",
        Some(json!({"enforce_mfa": true})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // R5: sessions that logged in with a password only must finish MFA
    // first, the root's included: both enrol an authenticator.
    let (status, body) = call(&svc.base, &bob, "POST", "/api/me/mfa/disable", None).await;
    assert_eq!(
        (status, body["denial_code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("mfa-required"))
    );
    enrol(&svc.base, &bob, &svc.clock).await;
    enrol(&svc.base, &ada, &svc.clock).await;
    let (status, body) = call(&svc.base, &bob, "POST", "/api/me/mfa/disable", None).await;
    assert_eq!(
        (status, body["denial_code"].as_str()),
        (StatusCode::FORBIDDEN, Some("enforced-by-organization"))
    );
    let (status, body) = call(&svc.base, &bob, "POST", "/api/me/mfa/reset", None).await;
    assert_eq!(status, StatusCode::OK, "R10: reset stays allowed: {body}");
    let (status, body) = call(&svc.base, &ada, "GET", "/api/org/users", None).await;
    assert_eq!(status, StatusCode::OK);
    let carol = body["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == "carol")
        .unwrap()
        .clone();
    assert_eq!(
        (carol["mfa"].as_str(), carol["effective_mfa"].as_str()),
        (Some("off"), Some("enrolment_due"))
    );
    let (status, body) = call(&svc.base, &bob, "GET", "/api/org/users", None).await;
    assert_eq!(
        (status, body["denial_code"].as_str()),
        (StatusCode::FORBIDDEN, Some("not-root"))
    );

    // R9: a root resets its sub-user; another organization's root cannot.
    let (status, _) = call(
        &svc.base,
        &ada,
        "POST",
        "/api/org/users/bob/mfa/reset",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = call(
        &svc.base,
        &gus,
        "POST",
        "/api/org/users/bob/mfa/reset",
        None,
    )
    .await;
    assert_eq!(
        (status, body["denial_code"].as_str()),
        (StatusCode::FORBIDDEN, Some("other-organization"))
    );

    // R12: each decision about a change is in the audit log, with its id.
    let (status, body) = call(&svc.base, &ada, "GET", "/api/audit?limit=50", None).await;
    assert_eq!(status, StatusCode::OK);
    let records = body["records"].as_array().unwrap();
    let summary: Vec<(String, String, bool)> = records
        .iter()
        .rev()
        .map(|r| {
            (
                r["actor"].as_str().unwrap().into(),
                r["action"].as_str().unwrap().into(),
                r["allowed"].as_bool().unwrap(),
            )
        })
        .collect();
    let expected = [
        ("bob", "login", true),
        ("ada", "login", true),
        ("bob", "reset_own_mfa", false),
        ("bob", "enable_own_mfa", true),
        ("ada", "set_enforcement", true),
        ("bob", "disable_own_mfa", false),
        ("bob", "start_enrolment", true),
        ("bob", "confirm_enrolment", true),
        ("ada", "start_enrolment", true),
        ("ada", "confirm_enrolment", true),
        ("bob", "disable_own_mfa", false),
        ("bob", "reset_own_mfa", true),
        ("ada", "reset_user_mfa", true),
        ("gus", "reset_user_mfa", false),
    ];
    let expected: Vec<(String, String, bool)> = expected
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), *c))
        .collect();
    assert_eq!(
        summary, expected,
        "globex's denied attempt on bob is in acme's log too"
    );
    assert!(
        records
            .iter()
            .all(|r| r["decision_id"].as_str().is_some_and(|d| !d.is_empty()))
    );
    svc.service.stop().await;
}

/// Every way a console API call fails gets its own status and error code
/// (401 without a session or with wrong credentials, 415 for a state change
/// that is not JSON, 403 for a policy denial, an unknown target user
/// included, 409, 422, 413), and none of them changes the state.
#[tokio::test(flavor = "multi_thread")]
async fn every_api_error_answers_its_documented_status_and_changes_nothing() {
    let svc = TestService::start(|_, _| {}).await;
    let base = &svc.base;
    let ada = login(base, "ada").await;
    let c = client();

    // 401: no session, an unknown token, wrong password, unknown user (alike).
    let (status, body) = read(
        c.post(format!("{base}/api/me/mfa/reset"))
            .header("content-type", "application/json")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("no-session"))
    );
    // 415: a state change that is not JSON (CSRF), before anything else.
    let (status, body) = read(
        c.post(format!("{base}/api/me/mfa/reset"))
            .bearer_auth(&ada)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, Some("content-type"))
    );
    let (status, _) = call(base, "not-a-token", "POST", "/api/me/mfa/reset", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    for (user, password) in [("bob", "wrong"), ("nobody", "bob-demo-password")] {
        let (status, body) = read(
            c.post(format!("{base}/api/login"))
                .json(&json!({"user": user, "password": password}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("invalid-credentials"))
        );
    }
    // Logging out ends the session: the same token is then 401.
    let gone = login(base, "carol").await;
    let (status, _) = call(base, &gone, "POST", "/api/logout", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = call(base, &gone, "GET", "/api/session", None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("no-session"))
    );
    // 403: denied by a policy.
    let bob = login(base, "bob").await;
    let (status, body) = call(
        base,
        &bob,
        "PUT",
        "/api/org/enforcement",
        Some(json!({"enforce_mfa": true})),
    )
    .await;
    assert_eq!(
        (status, body["denial_code"].as_str()),
        (StatusCode::FORBIDDEN, Some("not-root"))
    );
    assert_eq!(body["policy_ids"], json!(["administration-is-root-only"]));
    // 403, not 404, for an unknown target user: existence is not revealed.
    let (status, body) = call(base, &ada, "POST", "/api/org/users/nobody/mfa/reset", None).await;
    assert_eq!(
        (status, body["denial_code"].as_str()),
        (StatusCode::FORBIDDEN, Some("other-organization"))
    );
    // R12: audited as an attempt outside the organization, never with the
    // id as typed (free text a caller could plant in the organization's log).
    let (_, audit) = call(base, &ada, "GET", "/api/audit?limit=1", None).await;
    assert_eq!(audit["records"][0]["action"], "reset_user_mfa", "{audit}");
    assert_eq!(
        audit["records"][0]["target"], "(outside the organization)",
        "{audit}"
    );
    // 409: an enrolment when none is due.
    let (status, body) = call(base, &ada, "POST", "/api/enrolment/start", None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("conflict"))
    );
    // 422: malformed JSON, unknown field, wrong type, bad query.
    let bad_bodies = [
        ("{\"enforce_mfa\": tru", "enforce_mfa"),
        ("{\"enforce_mfa\": true, \"everyone\": 1}", "everyone"),
        ("{\"enforce_mfa\": \"yes\"}", "enforce_mfa"),
        ("[]", "(request)"),
    ];
    for (text, field) in bad_bodies {
        let response = c
            .put(format!("{base}/api/org/enforcement"))
            .bearer_auth(&ada)
            .header("content-type", "application/json")
            .body(text)
            .send()
            .await
            .unwrap();
        let (status, body) = read(response).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{text}: {body}");
        assert_eq!(body["error"]["field"], field, "{text}: {body}");
    }
    let (status, body) = call(base, &ada, "GET", "/api/audit?limit=0", None).await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("limit"))
    );
    let (status, body) = call(base, &ada, "GET", "/api/audit?limit=ten", None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    // 413: a body over the limit (16 KiB here), refused before parsing.
    let huge = format!(
        "{{\"user\": \"ada\", \"password\": \"{}\"}}",
        "x".repeat(64 * 1024)
    );
    let (status, body) = read(
        c.post(format!("{base}/api/login"))
            .header("content-type", "application/json")
            .body(huge)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("too-large"))
    );
    // And nothing was half-written: the state is as before.
    let (_, body) = call(base, &ada, "GET", "/api/org/users", None).await;
    assert!(
        body["users"]
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u["mfa"] == "off")
    );
    svc.service.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn r7_r8_an_expired_session_is_401_and_points_to_support() {
    let svc = TestService::start(|_, _| {}).await;
    let bob = login(&svc.base, "bob").await;
    let (status, _) = call(&svc.base, &bob, "POST", "/api/me/mfa/enable", None).await;
    assert_eq!(status, StatusCode::OK);

    // Using the session moves its last activity (the idle rule is real).
    let (_, before) = call(&svc.base, &bob, "GET", "/api/session", None).await;
    svc.clock.advance(Duration::days(10));
    let (status, after) = call(&svc.base, &bob, "GET", "/api/session", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(before["last_activity_at"], after["last_activity_at"]);
    assert_eq!(before["login_at"], after["login_at"]);

    svc.clock.advance(Duration::days(30) + Duration::SECOND);
    let (status, body) = call(&svc.base, &bob, "POST", "/api/me/mfa/reset", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["denial_code"], "session-expired");
    assert!(
        body["message"].as_str().unwrap().contains(SUPPORT_URL),
        "{body}"
    );
    let (status, _) = call(&svc.base, &bob, "GET", "/api/session", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    svc.service.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn r2_r3_totp_login_over_http_with_secrets_sealed_at_rest() {
    let svc = TestService::start(|_, _| {}).await;
    let base = &svc.base;
    let bob = login(base, "bob").await;
    call(base, &bob, "POST", "/api/me/mfa/enable", None).await;

    // The next login must enrol first; until then nothing else is allowed.
    let (status, body) = read(
        client()
            .post(format!("{base}/api/login"))
            .json(&json!({"user": "bob", "password": "bob-demo-password"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["next_step"].as_str()),
        (StatusCode::OK, Some("enrol"))
    );
    let session = body["token"].as_str().unwrap().to_string();
    let (status, body) = call(base, &session, "POST", "/api/me/mfa/reset", None).await;
    assert_eq!(
        (status, body["denial_code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("mfa-required"))
    );

    let (status, enrolment) = call(base, &session, "POST", "/api/enrolment/start", None).await;
    assert_eq!(status, StatusCode::OK, "{enrolment}");
    let secret = uri_secret(enrolment["uri"].as_str().unwrap());
    let now = svc.clock.now().unix_timestamp();
    let (status, body) = call(
        base,
        &session,
        "POST",
        "/api/enrolment/confirm",
        Some(json!({"code": totp_code(&secret, now)})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["mfa"], "active");
    let (status, _) = call(base, &session, "POST", "/api/me/mfa/reset", None).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the login is complete now (and R6 resets it)"
    );

    // Enrol again (the reset made it due), then log in with codes.
    let (_, enrolment) = call(base, &session, "POST", "/api/enrolment/start", None).await;
    let secret = uri_secret(enrolment["uri"].as_str().unwrap());
    let now = svc.clock.now().unix_timestamp();
    call(
        base,
        &session,
        "POST",
        "/api/enrolment/confirm",
        Some(json!({"code": totp_code(&secret, now)})),
    )
    .await;
    let (_, body) = read(
        client()
            .post(format!("{base}/api/login"))
            .json(&json!({"user": "bob", "password": "bob-demo-password"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(body["next_step"], "code");
    let next = body["token"].as_str().unwrap().to_string();
    for attempt in 1..=5 {
        let (status, body) = call(
            base,
            &next,
            "POST",
            "/api/login/code",
            Some(json!({"code": "000000"})),
        )
        .await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "attempt {attempt}: {body}"
        );
        assert_eq!(body["failures"], attempt);
    }
    let response = client()
        .post(format!("{base}/api/login/code"))
        .bearer_auth(&next)
        .json(&json!({"code": totp_code(&secret, svc.clock.now().unix_timestamp())}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(response.headers().get("retry-after").is_some());
    svc.clock.advance(Duration::seconds(31));
    let code = totp_code(&secret, svc.clock.now().unix_timestamp());
    let (status, body) = call(
        base,
        &next,
        "POST",
        "/api/login/code",
        Some(json!({"code": code})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = call(
        base,
        &next,
        "POST",
        "/api/login/code",
        Some(json!({"code": code})),
    )
    .await;
    assert_eq!(
        (status, body["result"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("replayed"))
    );

    // The secret is nowhere in the database files in clear.
    let raw_secret = totp_rs::Secret::try_from_base32(&secret)
        .unwrap()
        .as_bytes()
        .to_vec();
    for entry in std::fs::read_dir(svc.dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "base32 secret stored in clear"
        );
        assert!(
            !bytes
                .windows(raw_secret.len())
                .any(|w| w == raw_secret.as_slice()),
            "raw secret stored in clear"
        );
    }
    svc.service.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn forward_auth_answers_like_each_gateway_expects() {
    let svc = TestService::start(|_, _| {}).await; // nginx's header family
    let base = &svc.base;
    let (bob, ada) = (login(base, "bob").await, login(base, "ada").await);

    let home = [
        ("x-original-method", "POST"),
        ("x-original-uri", "/app/home?tab=1"),
    ];
    let (status, headers) = forward(base, "/forward-auth", Some(&bob), &home, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["x-auth-user"], "bob");
    assert_eq!(headers["x-auth-organization"], "acme");
    assert_eq!(headers["x-auth-role"], "sub_user");
    assert!(!headers["x-auth-decision-id"].is_empty());
    let admin = [
        ("x-original-method", "GET"),
        ("x-original-uri", "/app/admin/users"),
    ];
    assert_eq!(
        forward(base, "/forward-auth", Some(&ada), &admin, None)
            .await
            .0,
        StatusCode::OK
    );
    let (status, headers) = forward(base, "/forward-auth", Some(&bob), &admin, None).await;
    assert_eq!(
        (status, &headers["x-auth-denial-code"]),
        (
            StatusCode::FORBIDDEN,
            &"not-root".parse::<reqwest::header::HeaderValue>().unwrap()
        )
    );

    // Fail closed: no session, no route, a method the route does not take,
    // a path that tries to climb out of its prefix.
    assert_eq!(
        forward(base, "/forward-auth", None, &home, None).await.0,
        StatusCode::UNAUTHORIZED
    );
    let other = [
        ("x-original-method", "GET"),
        ("x-original-uri", "/billing/"),
    ];
    assert_eq!(
        forward(base, "/forward-auth", Some(&ada), &other, None)
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    let delete_audit = [
        ("x-original-method", "DELETE"),
        ("x-original-uri", "/app/audit"),
    ];
    let (status, headers) = forward(base, "/forward-auth", Some(&ada), &delete_audit, None).await;
    assert_eq!(
        (status, headers["x-auth-denial-code"].to_str().unwrap()),
        (StatusCode::FORBIDDEN, "method-not-allowed"),
        "no fall through to /app/"
    );
    // Only Envoy's form has a path after the prefix: elsewhere it is a
    // client's request that slipped through a gateway unnormalized.
    let (status, headers) = forward(
        base,
        "/forward-auth/api/session", // (reqwest would resolve `..`)
        Some(&ada),
        &home,
        None,
    )
    .await;
    assert_eq!(
        (status, headers["x-auth-denial-code"].to_str().unwrap()),
        (StatusCode::FORBIDDEN, "bad-path")
    );
    let climb = [
        ("x-original-method", "GET"),
        ("x-original-uri", "/app/%2e%2e/admin"),
    ];
    assert_eq!(
        forward(base, "/forward-auth", Some(&ada), &climb, None)
            .await
            .0,
        StatusCode::FORBIDDEN
    );

    // An expired session is 401.
    svc.clock.advance(Duration::days(31));
    assert_eq!(
        forward(base, "/forward-auth", Some(&bob), &home, None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    svc.service.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn forwarded_headers_from_an_untrusted_peer_are_refused() {
    let svc = TestService::start(|_, _| {}).await; // trusts 127.0.0.1 only
    let base = &svc.base;
    let bob = login(base, "bob").await;
    let question = [
        ("x-original-method", "GET"),
        ("x-original-uri", "/app/home"),
    ];
    // From 127.0.0.2 nothing is answered but a denial.
    let (status, headers) = forward(
        base,
        "/forward-auth",
        Some(&bob),
        &question,
        Some("127.0.0.2"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(headers["x-auth-denial-code"], "untrusted-peer");
    // From the trusted proxy the same request is allowed.
    assert_eq!(
        forward(
            base,
            "/forward-auth",
            Some(&bob),
            &question,
            Some("127.0.0.1")
        )
        .await
        .0,
        StatusCode::OK
    );
    svc.service.stop().await;
}

/// `/health` reports the database and the policy revision, `/metrics`
/// counts decisions, and `/openapi.json` documents every route.
#[tokio::test(flavor = "multi_thread")]
async fn health_and_metrics_report_the_state_and_openapi_documents_every_route() {
    let svc = TestService::start(|_, _| {}).await;
    let (status, health) = read(client().get(svc.url("/health")).send().await.unwrap()).await;
    assert_eq!(
        (
            status,
            health["status"].as_str(),
            health["database"].as_str()
        ),
        (StatusCode::OK, Some("ok"), Some("ok"))
    );
    let revision = health["policy_revision"].as_str().unwrap().to_string();

    let bob = login(&svc.base, "bob").await;
    call(&svc.base, &bob, "POST", "/api/me/mfa/reset", None).await;
    let metrics = metrics(&svc.base).await;
    assert!(
        metrics.contains(
            "mfa_reset_decisions_total{action=\"reset_own_mfa\",outcome=\"deny:mfa-not-enabled\"} 1"
        ),
        "{metrics}"
    );
    assert!(metrics.contains("mfa_reset_decision_duration_seconds_bucket"));
    assert!(metrics.contains(&format!(
        "mfa_reset_policy_set_info{{revision=\"{revision}\"}} 1"
    )));

    let (status, doc) = read(client().get(svc.url("/openapi.json")).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    let paths: Vec<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for path in [
        "/api/login",
        "/api/login/code",
        "/api/logout",
        "/api/enrolment/start",
        "/api/enrolment/confirm",
        "/api/session",
        "/api/me/mfa/reset",
        "/api/me/mfa/enable",
        "/api/me/mfa/disable",
        "/api/org/users",
        "/api/org/users/{id}/mfa/reset",
        "/api/org/users/{id}/mfa/enable",
        "/api/org/users/{id}/mfa/disable",
        "/api/org/enforcement",
        "/api/audit",
        "/api/recovery-cases",
        "/api/recovery-cases/{id}/approve",
        "/api/recovery-cases/{id}/issue-ticket",
        "/api/recovery-cases/{id}/cancel",
        "/api/recovery-cases/cancel-link",
        "/api/login/ticket",
        "/forward-auth",
        "/health",
        "/metrics",
    ] {
        assert!(paths.contains(&path), "{path} is not documented");
    }
    svc.service.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn edited_policies_are_picked_up_and_broken_ones_refused() {
    let policy_dir = tempfile::tempdir().unwrap();
    let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/../../policies");
    for name in ["mfa.cedar", "mfa.cedarschema"] {
        std::fs::copy(format!("{shipped}/{name}"), policy_dir.path().join(name)).unwrap();
    }
    let dir = policy_dir.path().to_path_buf();
    let svc = TestService::start(|config, _| config.policies_dir = Some(dir)).await;
    let bob = login(&svc.base, "bob").await;
    call(&svc.base, &bob, "POST", "/api/me/mfa/enable", None).await;
    svc.clock.advance(Duration::days(2));
    let (status, _) = call(&svc.base, &bob, "POST", "/api/me/mfa/reset", None).await;
    assert_eq!(status, StatusCode::OK);

    // An author shortens the idle limit to one day: picked up live.
    let file = policy_dir.path().join("mfa.cedar");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace("duration(\"30d\")", "duration(\"1d\")")).unwrap();
    let before = policy_revision(&svc.base).await;
    let reloaded = changed_policy_revision(&svc.base, &before).await;
    assert_ne!(reloaded, before, "the edited set was loaded");
    svc.clock.advance(Duration::days(2));
    let (status, body) = call(&svc.base, &bob, "POST", "/api/me/mfa/reset", None).await;
    assert_eq!(
        (status, body["denial_code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("session-expired"))
    );

    // A broken edit is refused; the set in force keeps deciding.
    std::fs::write(
        &file,
        "@id(\"broken\") permit(principal, action, resource) when { principal.nope };",
    )
    .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let after = policy_revision(&svc.base).await;
    assert_eq!(after, reloaded);
    svc.service.stop().await;
}

/// R5: a login bumped to MFA by enforcement, which then is lifted, waits
/// for a step that no longer exists. The session ends (401 no-session)
/// instead of refusing everything forever, and a new login needs only the
/// password again.
#[tokio::test(flavor = "multi_thread")]
async fn r5_a_login_left_waiting_by_lifted_enforcement_ends() {
    let svc = TestService::start(|_, _| {}).await;
    let base = &svc.base;
    let (ada, carol) = (login(base, "ada").await, login(base, "carol").await);
    let enforce = |on: bool| json!({ "enforce_mfa": on });
    let (status, _) = call(
        base,
        &ada,
        "PUT",
        "/api/org/enforcement",
        Some(enforce(true)),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = call(base, &carol, "GET", "/api/session", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (body["mfa_satisfied"].as_bool(), body["next_step"].as_str()),
        (Some(false), Some("enrol"))
    );
    // Ada's own password-only session was bumped too: she enrols first.
    common::service::enrol(base, &ada, &svc.clock).await;
    svc.clock.advance(time::Duration::seconds(30));
    let (status, body) = call(
        base,
        &ada,
        "PUT",
        "/api/org/enforcement",
        Some(enforce(false)),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, body) = call(base, &carol, "GET", "/api/session", None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("no-session")),
        "{body}"
    );
    let (status, _) = call(base, &carol, "GET", "/api/session", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the session is gone");
    let carol = login(base, "carol").await;
    let (status, body) = call(base, &carol, "GET", "/api/session", None).await;
    assert_eq!(
        (status, body["mfa_satisfied"].as_bool()),
        (StatusCode::OK, Some(true)),
        "{body}"
    );
}

/// `serve` without `--demo` never fills an empty database with the demo
/// organizations and their known passwords, on SQLite or PostgreSQL: no
/// demo user can log in, and the log says how to try the demo.
#[tokio::test(flavor = "multi_thread")]
async fn serve_without_demo_starts_an_empty_database_empty_on_both_backends() {
    use common::postgres::{Postgres, wait_ready};
    use common::served::Served;

    let dir = tempfile::tempdir().unwrap();
    let sqlite = vec![
        "--data-dir".to_string(),
        dir.path().join("data").display().to_string(),
    ];
    let pg = Postgres::start();
    wait_ready(&pg.url()).await;
    let postgres = vec![
        "--database".to_string(),
        pg.url(),
        "--data-dir".to_string(),
        dir.path().join("pg-data").display().to_string(),
    ];
    let key = [(
        "MFA_RESET_SECRET_KEY",
        mfa_reset_service::SecretBox::generate_base64(),
    )];
    for (backend, args) in [("sqlite", sqlite), ("postgres", postgres)] {
        let served = Served::start_without_demo(&args, &key).await;
        for user in ["ada", "bob", "gus"] {
            let answer = client()
                .post(format!("{}/api/login", served.base))
                .json(&json!({"user": user, "password": format!("{user}-demo-password")}))
                .send()
                .await
                .unwrap();
            assert_eq!(
                answer.status(),
                StatusCode::UNAUTHORIZED,
                "{backend}: the demo user {user} logged in"
            );
        }
        let log = served.log();
        assert!(log.contains("serve --demo"), "{backend}: {log}");
        assert!(!log.contains("seeded"), "{backend}: {log}");
    }
}

/// R9, R11: the listing says, per user, what the policies would allow the
/// root now, decided in one batch (the console offers only these): never a
/// reset of the root's own row, no reset of an account without MFA; asking
/// writes no audit record.
#[tokio::test(flavor = "multi_thread")]
async fn r11_the_user_listing_offers_only_the_actions_the_policies_allow() {
    let svc = TestService::start(|_, _| {}).await;
    let base = svc.base.as_str();
    let ada = login(base, "ada").await;
    let audited = || async {
        let (_, audit) = call(base, &ada, "GET", "/api/audit?limit=100", None).await;
        audit["records"].as_array().unwrap().len()
    };
    let before = audited().await;
    let (status, listing) = call(base, &ada, "GET", "/api/org/users", None).await;
    assert_eq!(status, StatusCode::OK, "{listing}");
    assert_eq!(listing["actions"]["ada"], json!([]), "{listing}");
    assert_eq!(
        listing["actions"]["bob"],
        json!(["enable_user_mfa", "deactivate_user"]),
        "{listing}"
    );
    assert_eq!(audited().await, before, "the batch is not audited");

    let (status, _) = call(base, &ada, "POST", "/api/org/users/bob/mfa/enable", None).await;
    assert_eq!(status, StatusCode::OK);
    let (_, listing) = call(base, &ada, "GET", "/api/org/users", None).await;
    assert_eq!(
        listing["actions"]["bob"],
        json!(["reset_user_mfa", "disable_user_mfa", "deactivate_user"]),
        "{listing}"
    );
    // A sub-user gets the engine's refusal, and no actions.
    let carol = login(base, "carol").await;
    let (status, refused) = call(base, &carol, "GET", "/api/org/users", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(refused.get("actions").is_none(), "{refused}");
}
