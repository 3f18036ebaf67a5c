//! The sidecar attacked over HTTP (in-process, SQLite in a temp dir): each
//! test tries one attack the way an attacker would (forged forwarding
//! headers, other spellings of a route, expired or half-finished logins,
//! password guessing, probing who exists, cross-site requests, burying the
//! audit trail) and shows it fails. The nginx variant of route spoofing is
//! in `nginx.rs`.

use crate::common;

use std::time::Instant;

use common::service::*;
use mfa_reset_service::{
    DEFAULT_MAX_HEADER_LINES, DenialThrottle, ForwardedHeaders, SecretBox, Service,
};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use time::Duration;

fn denial(headers: &HeaderMap) -> &str {
    headers
        .get("x-auth-denial-code")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// nginx-style forward-auth question: `method path` in X-Original-*.
async fn ask(base: &str, token: &str, method: &str, path: &str) -> (StatusCode, HeaderMap) {
    let headers = [("x-original-method", method), ("x-original-uri", path)];
    forward(base, "/forward-auth", Some(token), &headers, None).await
}

async fn login_answer(base: &str, user: &str, password: &str) -> reqwest::Response {
    client()
        .post(format!("{base}/api/login"))
        .json(&json!({"user": user, "password": password}))
        .send()
        .await
        .unwrap()
}

/// Logs in `user` with a code from `secret` (MFA active), 30 s after the
/// last code (each time step is accepted once).
async fn login_with_code(svc: &TestService, user: &str, secret: &str) -> String {
    svc.clock.advance(Duration::seconds(30));
    let token = login(&svc.base, user).await;
    let code = totp_code(secret, svc.clock.now().unix_timestamp());
    let (status, body) = call(
        &svc.base,
        &token,
        "POST",
        "/api/login/code",
        Some(json!({ "code": code })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    token
}

/// The organization's audit log as its root `token` sees it, oldest first.
async fn audit_log(base: &str, root_token: &str) -> Vec<Value> {
    let (status, body) = call(base, root_token, "GET", "/api/audit?limit=1000", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut records = body["records"].as_array().unwrap().clone();
    records.reverse();
    records
}

/// R11: forward-auth reads the question (method and path) from one header
/// family per deployment (`X-Original-*` for nginx, `X-Forwarded-*` for
/// Traefik and Caddy, the request line for Envoy) and only from a configured
/// proxy; the other family, a repeated header or an untrusted peer is
/// refused, never believed, so a client cannot swap the route decided.
#[tokio::test(flavor = "multi_thread")]
async fn r11_forward_auth_trusts_headers_only_from_the_configured_family_and_proxies() {
    let svc = TestService::start(|_, _| {}).await; // nginx family, trusts 127.0.0.1
    let base = &svc.base;
    let bob = login(base, "bob").await;

    // The attack through nginx: the client adds X-Forwarded-* next to the
    // X-Original-* nginx sets. Refused whichever way round.
    let spoofs: [&[(&str, &str)]; 3] = [
        &[
            ("x-original-method", "GET"),
            ("x-original-uri", "/app/admin/users"),
            ("x-forwarded-uri", "/app/home"),
        ],
        &[
            ("x-original-method", "GET"),
            ("x-original-uri", "/app/audit"),
            ("x-forwarded-method", "POST"),
        ],
        &[
            ("x-original-method", "GET"),
            ("x-original-uri", "/app/home"),
            ("x-original-uri", "/app/admin/"),
        ],
    ];
    for spoof in spoofs {
        let (status, headers) = forward(base, "/forward-auth", Some(&bob), spoof, None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{spoof:?}");
        assert_eq!(
            denial(&headers),
            "conflicting-forwarded-headers",
            "{spoof:?}"
        );
    }
    // Without its family the question cannot be known: denied.
    for headers in [
        &[
            ("x-forwarded-method", "GET"),
            ("x-forwarded-uri", "/app/home"),
        ][..],
        &[("x-original-uri", "/app/home")][..],
        &[][..],
    ] {
        let (status, answer) =
            forward(base, "/forward-auth/app/home", Some(&bob), headers, None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{headers:?}");
        assert_ne!(denial(&answer), "", "{headers:?}");
    }
    // A lower-case or made-up method is no method.
    let (status, headers) = ask(base, &bob, "get", "/app/home").await;
    assert_eq!(
        (status, denial(&headers)),
        (StatusCode::FORBIDDEN, "bad-method")
    );
    // The honest question is answered.
    assert_eq!(ask(base, &bob, "GET", "/app/home").await.0, StatusCode::OK);
    // A peer that is not a configured proxy may not ask at all.
    let honest = [
        ("x-original-method", "GET"),
        ("x-original-uri", "/app/home"),
    ];
    let (status, headers) = forward(
        base,
        "/forward-auth",
        Some(&bob),
        &honest,
        Some("127.0.0.2"),
    )
    .await;
    assert_eq!(
        (status, denial(&headers)),
        (StatusCode::FORBIDDEN, "untrusted-peer")
    );
    svc.service.stop().await;

    // Traefik/Caddy family: X-Forwarded-* is the question, X-Original-* refused.
    let svc = TestService::start(|c, _| c.forwarded_headers = ForwardedHeaders::Forwarded).await;
    let bob = login(&svc.base, "bob").await;
    let traefik = [
        ("x-forwarded-method", "GET"),
        ("x-forwarded-uri", "/app/home"),
    ];
    assert_eq!(
        forward(&svc.base, "/forward-auth", Some(&bob), &traefik, None)
            .await
            .0,
        StatusCode::OK
    );
    let mixed = [
        ("x-forwarded-method", "GET"),
        ("x-forwarded-uri", "/app/home"),
        ("x-original-uri", "/app/admin/"),
    ];
    let (status, headers) = forward(&svc.base, "/forward-auth", Some(&bob), &mixed, None).await;
    assert_eq!(
        (status, denial(&headers)),
        (StatusCode::FORBIDDEN, "conflicting-forwarded-headers")
    );
    svc.service.stop().await;

    // Envoy family: the request line is the question; any forwarding header is refused.
    let svc = TestService::start(|c, _| c.forwarded_headers = ForwardedHeaders::RequestLine).await;
    let bob = login(&svc.base, "bob").await;
    assert_eq!(
        forward(&svc.base, "/forward-auth/app/home", Some(&bob), &[], None)
            .await
            .0,
        StatusCode::OK
    );
    let (status, headers) = forward(
        &svc.base,
        "/forward-auth/app/admin/",
        Some(&bob),
        &[("x-forwarded-uri", "/app/home")],
        None,
    )
    .await;
    assert_eq!(
        (status, denial(&headers)),
        (StatusCode::FORBIDDEN, "conflicting-forwarded-headers")
    );
    svc.service.stop().await;
}

/// R11: routes match whole segments of one canonical form, so no spelling
/// of the admin console reaches a sub-user; what cannot be normalized is
/// denied; an unlisted method does not fall through to an allowed rule.
#[tokio::test(flavor = "multi_thread")]
async fn r11_routes_match_whole_canonical_segments_and_listed_methods_only() {
    let svc = TestService::start(|_, _| {}).await;
    let base = &svc.base;
    let (bob, ada) = (login(base, "bob").await, login(base, "ada").await);
    for path in [
        "/app/admin",
        "/app/Admin/",
        "/app/ADMIN/users",
        "/app//admin/",
        "/app/%61dmin/",
    ] {
        let (status, headers) = ask(base, &bob, "GET", path).await;
        assert_eq!(
            (status, denial(&headers)),
            (StatusCode::FORBIDDEN, "not-root"),
            "R11: {path} is the admin console"
        );
        assert_eq!(
            ask(base, &ada, "GET", path).await.0,
            StatusCode::OK,
            "{path}"
        );
    }
    for path in [
        "/app/admin;x=1/",
        "/app/admin./",
        "/app/admin%20/",
        "/app/admin%2fusers",
        "/app/%2561dmin/",
        "/app/home/../admin/",
        "/app/home#/../admin/",
        "/app/adm%C4%B1n/",
        "/app/admin%E2%80%8B/",
    ] {
        for token in [&bob, &ada] {
            let (status, headers) = ask(base, token, "GET", path).await;
            assert_eq!(
                (status, denial(&headers)),
                (StatusCode::FORBIDDEN, "bad-path"),
                "{path}"
            );
        }
    }
    for method in ["HEAD", "POST", "PUT", "DELETE"] {
        for token in [&bob, &ada] {
            let (status, headers) = ask(base, token, method, "/app/audit").await;
            assert_eq!(
                (status, denial(&headers)),
                (StatusCode::FORBIDDEN, "method-not-allowed"),
                "{method} /app/audit"
            );
        }
    }
    let (status, headers) = ask(base, &bob, "GET", "/app/audit").await;
    assert_eq!(
        (status, denial(&headers)),
        (StatusCode::FORBIDDEN, "not-root")
    );
    assert_eq!(ask(base, &ada, "GET", "/app/audit").await.0, StatusCode::OK);
    assert_eq!(
        ask(base, &bob, "GET", "/app/administrator").await.0,
        StatusCode::OK
    );
    svc.service.stop().await;
}

/// Writes the shipped policies into `dir` with the absolute session limit
/// raised to 60 days (the idle limit stays 30).
fn policies_with_long_absolute_limit(dir: &std::path::Path) -> std::path::PathBuf {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies");
    let policies = std::fs::read_to_string(root.join("mfa.cedar")).unwrap();
    let marker = "context.now.durationSince(context.session.login_at) >= duration(\"30d\")";
    assert!(policies.contains(marker));
    let out = dir.join("policies");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(
        out.join("mfa.cedar"),
        policies.replace(marker, &marker.replace("30d", "60d")),
    )
    .unwrap();
    std::fs::copy(root.join("mfa.cedarschema"), out.join("mfa.cedarschema")).unwrap();
    out
}

/// R3, R7: the login steps are decided by the policies, session limits
/// included: an expired session cannot enrol a device, its wrong codes
/// count for nothing, and nothing revives it; each denied step is audited
/// with the policy that denied it (R12).
#[tokio::test(flavor = "multi_thread")]
async fn r3_r7_expired_sessions_cannot_enrol_and_their_wrong_codes_count_nothing() {
    let svc =
        TestService::start(|c, dir| c.policies_dir = Some(policies_with_long_absolute_limit(dir)))
            .await;
    let base = &svc.base;
    let ada = login(base, "ada").await;

    // carol's MFA is switched on; a login of hers is left half-way (enrolment due).
    let (status, _) = call(base, &ada, "POST", "/api/org/users/carol/mfa/enable", None).await;
    assert_eq!(status, StatusCode::OK);
    let stale = login(base, "carol").await;
    // bob is enrolled; a login of his is left waiting for its code.
    let bob = login(base, "bob").await;
    call(base, &bob, "POST", "/api/me/mfa/enable", None).await;
    let bob_login = login(base, "bob").await;
    let secret = enrol(base, &bob_login, &svc.clock).await;
    let waiting = login(base, "bob").await;

    svc.clock.advance(Duration::days(31)); // idle 31 days; absolute limit is 60
    let ada = login(base, "ada").await;

    // An attacker holding carol's stale token cannot bind a device.
    for (path, body) in [
        ("/api/enrolment/start", None),
        ("/api/enrolment/confirm", Some(json!({"code": "123456"}))),
    ] {
        let (status, answer) = call(base, &stale, "POST", path, body).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}: {answer}");
        assert_eq!(answer["denial_code"], "session-expired", "{path}");
        assert_eq!(
            answer["policy_ids"],
            json!(["session-idle-limit"]),
            "{path}"
        );
    }
    // Wrong codes from bob's expired login neither count nor lock him out.
    for _ in 0..8 {
        let (status, answer) = call(
            base,
            &waiting,
            "POST",
            "/api/login/code",
            Some(json!({"code": "000000"})),
        )
        .await;
        assert_eq!(
            (status, answer["denial_code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("session-expired"))
        );
    }
    // And none of it moved the sessions' last activity: still expired.
    for token in [&stale, &waiting] {
        let (status, answer) = call(base, token, "GET", "/api/session", None).await;
        assert_eq!(
            (status, answer["denial_code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("session-expired"))
        );
    }
    // The real bob logs in: no failure was counted against him.
    login_with_code(&svc, "bob", &secret).await;
    // Each denied step is audited (R12), with the policy that denied it.
    let log = audit_log(base, &ada).await;
    let denied_steps: Vec<&Value> = log
        .iter()
        .filter(|r| r["denial_code"] == "session-expired")
        .collect();
    assert_eq!(denied_steps.len(), 10, "{log:#?}");
    assert!(denied_steps.iter().all(|r| {
        r["policy_ids"]
            .as_array()
            .unwrap()
            .contains(&json!("session-idle-limit"))
    }));
    // carol's enrolment is still due, with no pending key planted.
    let (_, users) = call(base, &ada, "GET", "/api/org/users", None).await;
    let carol = users["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == "carol")
        .unwrap();
    assert_eq!(carol["mfa"], "enrolment_due");
    svc.service.stop().await;
}

/// R5, R6, R9: a change of a user's MFA ends that user's other sessions (a
/// self-service change keeps the caller's); enforcement sends password-only
/// sessions back to MFA, the root's included.
#[tokio::test(flavor = "multi_thread")]
async fn r5_r6_r9_mfa_changes_end_the_users_other_sessions_and_enforcement_demands_mfa() {
    let svc = TestService::start(|_, _| {}).await;
    let base = &svc.base;
    let ada = login(base, "ada").await;

    // bob, enrolled, has two verified sessions; a root resets him.
    let bob = login(base, "bob").await;
    call(base, &bob, "POST", "/api/me/mfa/enable", None).await;
    let first = login(base, "bob").await;
    let secret = enrol(base, &first, &svc.clock).await;
    let second = login_with_code(&svc, "bob", &secret).await;
    let (status, _) = call(base, &ada, "POST", "/api/org/users/bob/mfa/reset", None).await;
    assert_eq!(status, StatusCode::OK);
    for token in [&bob, &first, &second] {
        let (status, body) = call(base, token, "GET", "/api/session", None).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("no-session"))
        );
        let (status, body) = call(base, token, "POST", "/api/enrolment/start", None).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "a stale token cannot enrol: {body}"
        );
        assert_eq!(
            ask(base, token, "GET", "/app/home").await.0,
            StatusCode::UNAUTHORIZED
        );
    }

    // A self-service change keeps the caller's session and ends the others.
    let here = login(base, "bob").await;
    let secret = enrol(base, &here, &svc.clock).await;
    let elsewhere = login_with_code(&svc, "bob", &secret).await;
    let (status, _) = call(base, &here, "POST", "/api/me/mfa/reset", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        call(base, &here, "GET", "/api/session", None).await.0,
        StatusCode::OK
    );
    assert_eq!(
        call(base, &elsewhere, "GET", "/api/session", None).await.0,
        StatusCode::UNAUTHORIZED
    );

    // carol logged in with a password only; enforcement switches on.
    let carol = login(base, "carol").await;
    assert_eq!(
        ask(base, &carol, "GET", "/app/home").await.0,
        StatusCode::OK
    );
    let (status, _) = call(
        base,
        &ada,
        "PUT",
        "/api/org/enforcement",
        Some(json!({"enforce_mfa": true})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, headers) = ask(base, &carol, "GET", "/app/home").await;
    assert_eq!(
        (status, denial(&headers)),
        (StatusCode::UNAUTHORIZED, "mfa-required")
    );
    let (status, body) = call(base, &carol, "POST", "/api/me/mfa/reset", None).await;
    assert_eq!(
        (status, body["denial_code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("mfa-required"))
    );
    // The root too (R5: "the root included"), whose login was password-only.
    assert_eq!(
        ask(base, &ada, "GET", "/app/home").await.0,
        StatusCode::UNAUTHORIZED
    );
    // The session may still finish the login: it enrols, then passes.
    let (status, body) = call(base, &carol, "GET", "/api/session", None).await;
    assert_eq!(
        (status, body["next_step"].as_str()),
        (StatusCode::OK, Some("enrol"))
    );
    enrol(base, &carol, &svc.clock).await;
    assert_eq!(
        ask(base, &carol, "GET", "/app/home").await.0,
        StatusCode::OK
    );
    // gus (another organization) was not touched.
    let gus = login(base, "gus").await;
    assert_eq!(ask(base, &gus, "GET", "/app/home").await.0, StatusCode::OK);
    svc.service.stop().await;
}

/// R12: password guessing is throttled per account id and per client
/// address, and the failures are audited; unknown ids look exactly like
/// wrong passwords.
#[tokio::test(flavor = "multi_thread")]
async fn r12_password_guessing_is_throttled_per_account_and_address_and_audited() {
    let svc = TestService::start(|_, _| {}).await;
    let base = &svc.base;

    // Twenty wrong passwords, then the right one: refused until the wait is over.
    let mut statuses = Vec::new();
    for _ in 0..20 {
        statuses.push(login_answer(base, "bob", "guess").await.status());
    }
    assert_eq!(&statuses[..5], &[StatusCode::UNAUTHORIZED; 5]);
    assert!(
        statuses[5..]
            .iter()
            .all(|s| *s == StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    let right = login_answer(base, "bob", "bob-demo-password").await;
    assert_eq!(right.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: i64 = right.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (1..=2).contains(&wait),
        "the 5th failure locks for 1 s: {wait}"
    );
    svc.clock.advance(Duration::seconds(wait));
    // Each further failure doubles the wait.
    assert_eq!(
        login_answer(base, "bob", "guess").await.status(),
        StatusCode::UNAUTHORIZED
    );
    let locked = login_answer(base, "bob", "bob-demo-password").await;
    assert_eq!(locked.headers()["retry-after"], "2");
    svc.clock.advance(Duration::seconds(2));
    assert_eq!(
        login_answer(base, "bob", "bob-demo-password")
            .await
            .status(),
        StatusCode::OK
    );
    // A success starts the count again.
    assert_eq!(
        login_answer(base, "bob", "guess").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login_answer(base, "bob", "bob-demo-password")
            .await
            .status(),
        StatusCode::OK
    );

    // An unknown id gets the same answers, throttle included.
    for user in ["carol", "no-such-user"] {
        let mut answers = Vec::new();
        for _ in 0..6 {
            let response = login_answer(base, user, "guess").await;
            let status = response.status();
            let retry = response.headers().get("retry-after").cloned();
            answers.push((status, retry, response.text().await.unwrap()));
        }
        assert_eq!(answers[0].0, StatusCode::UNAUTHORIZED, "{user}");
        assert_eq!(answers[5].0, StatusCode::TOO_MANY_REQUESTS, "{user}");
        if user == "carol" {
            statuses = answers.iter().map(|a| a.0).collect();
        } else {
            assert_eq!(answers.iter().map(|a| a.0).collect::<Vec<_>>(), statuses);
        }
    }
    let known = login_answer(base, "gina", "guess").await;
    let unknown = login_answer(base, "nobody-at-all", "guess").await;
    assert_eq!(known.status(), unknown.status());
    let strip = |h: &HeaderMap| {
        let mut h = h.clone();
        h.remove("date");
        h
    };
    assert_eq!(strip(known.headers()), strip(unknown.headers()));
    assert_eq!(known.text().await.unwrap(), unknown.text().await.unwrap());

    // R12: failed logins are in the organization's audit log.
    svc.clock.advance(Duration::hours(2));
    let ada = login(base, "ada").await;
    let log = audit_log(base, &ada).await;
    let failed_bob = log
        .iter()
        .filter(|r| r["action"] == "login" && r["actor"] == "bob" && r["allowed"] == false)
        .count();
    assert_eq!(
        failed_bob, 7,
        "bob's wrong passwords, not the throttled tries"
    );
    assert!(
        log.iter()
            .any(|r| r["action"] == "login" && r["actor"] == "ada" && r["allowed"] == true)
    );
    svc.service.stop().await;

    // Per client address: spraying one guess over many ids is stopped too.
    let svc = TestService::start(|_, _| {}).await;
    for i in 0..20 {
        let status = login_answer(&svc.base, &format!("spray-{i}"), "guess")
            .await
            .status();
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{i}");
    }
    let response = login_answer(&svc.base, "ada", "ada-demo-password").await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    svc.service.stop().await;
}

/// Unknown ids and wrong passwords take the same time (both check a
/// password hash and write the same rows), so timing does not tell who
/// exists. The bound is loose: without the decoy hash an unknown id answers
/// tens of times faster.
#[tokio::test(flavor = "multi_thread")]
async fn unknown_ids_take_as_long_as_wrong_passwords() {
    let svc = TestService::start(|c, _| {
        c.login_throttle.free_account_failures = 1000;
        c.login_throttle.free_address_failures = 1000;
    })
    .await;
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for i in 0..9 {
        let started = Instant::now();
        login_answer(&svc.base, "carol", "guess").await;
        known.push(started.elapsed());
        let started = Instant::now();
        login_answer(&svc.base, &format!("ghost-{i}"), "guess").await;
        unknown.push(started.elapsed());
    }
    known.sort();
    unknown.sort();
    let ratio = unknown[4].as_secs_f64() / known[4].as_secs_f64();
    assert!(
        (0.5..2.0).contains(&ratio),
        "median unknown {:?} vs wrong password {:?}",
        unknown[4],
        known[4]
    );
    svc.service.stop().await;
}

/// R9, R11: the service decides before revealing existence: another
/// organization's user and an id that names nobody get the same denial,
/// which names only the deciding policy; the target's organization keeps
/// the whole record (R12); ids that cannot exist are bad input for all.
#[tokio::test(flavor = "multi_thread")]
async fn r9_r11_denials_reveal_neither_existence_nor_another_organization() {
    let svc = TestService::start(|_, _| {}).await;
    let base = &svc.base;
    let (bob, ada, gus) = (
        login(base, "bob").await,
        login(base, "ada").await,
        login(base, "gus").await,
    );
    let answer = |status: StatusCode, mut body: Value| {
        body.as_object_mut().unwrap().remove("decision_id");
        (status, body)
    };
    for (caller, code) in [(&bob, "not-root"), (&ada, "other-organization")] {
        for action in ["reset", "enable", "disable"] {
            let (s1, real) = call(
                base,
                caller,
                "POST",
                &format!("/api/org/users/gus/mfa/{action}"),
                None,
            )
            .await;
            let (s2, ghost) = call(
                base,
                caller,
                "POST",
                &format!("/api/org/users/ghost/mfa/{action}"),
                None,
            )
            .await;
            let (real, ghost) = (answer(s1, real), answer(s2, ghost));
            assert_eq!(real, ghost, "R9, R11: gus and an unknown id look alike");
            assert_eq!(real.0, StatusCode::FORBIDDEN);
            assert_eq!(real.1["denial_code"], code);
            assert_eq!(
                real.1["policy_ids"].as_array().unwrap().len(),
                1,
                "{real:?}"
            );
            let text = real.1.to_string();
            assert!(
                !text.contains("globex") && !text.contains("root") || code == "not-root",
                "{text}"
            );
        }
    }
    // The target's organization keeps the whole record, every policy that
    // denied included: gus is a root of another organization whose MFA is
    // off. (What acme's own trail shows of it: see
    // `r9_r12_attempts_outside_the_organization_look_alike_in_the_callers_trail`.)
    let globex = audit_log(base, &gus).await;
    let attempt = globex
        .iter()
        .find(|r| r["actor"] == "ada" && r["target"] == "gus" && r["action"] == "reset_user_mfa")
        .unwrap();
    let ids = attempt["policy_ids"].as_array().unwrap();
    assert!(ids.len() >= 2, "{attempt}");
    // R12: the attempts on gus are in globex's log.
    assert!(
        globex
            .iter()
            .any(|r| r["actor"] == "ada" && r["target"] == "gus"),
        "{globex:#?}"
    );
    assert!(
        globex
            .iter()
            .any(|r| r["actor"] == "bob" && r["target"] == "gus"),
        "{globex:#?}"
    );
    assert!(!globex.iter().any(|r| r["target"] == "ghost"));
    // Ids that cannot exist are bad input, for everybody alike (a NUL once
    // made PostgreSQL answer 500).
    for bad in ["ghost%00", "%20%20", "a%0Ab"] {
        let (status, body) = call(
            base,
            &bob,
            "POST",
            &format!("/api/org/users/{bad}/mfa/reset"),
            None,
        )
        .await;
        assert_eq!(
            (status, body["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("id")),
            "{bad}"
        );
    }
    let response = login_answer(base, "ada\u{0}", "ada-demo-password").await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // Over-long ids are bad input, for everybody alike.
    let long = "x".repeat(300);
    let (status, body) = call(
        base,
        &bob,
        "POST",
        &format!("/api/org/users/{long}/mfa/reset"),
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("id"))
    );
    svc.service.stop().await;
}

/// State changes need JSON sent from this site (a cross-site form or request
/// cannot make one: CSRF); the session cookie is `__Host-` bound and the only
/// cookie read; login and enrolment answers are never cached.
#[tokio::test(flavor = "multi_thread")]
async fn state_changes_need_json_from_this_site_and_cookies_are_host_bound() {
    let svc = TestService::start(|c, _| c.secure_cookies = true).await;
    let base = &svc.base;
    let login = login_answer(base, "bob", "bob-demo-password").await;
    assert_eq!(login.headers()["cache-control"], "no-store");
    let cookie = login.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.starts_with("__Host-mfa_session="), "{cookie}");
    assert!(
        cookie.contains("; Secure") && cookie.contains("; Path=/") && !cookie.contains("Domain"),
        "{cookie}"
    );
    let token: Value = login.json().await.unwrap();
    let token = token["token"].as_str().unwrap().to_string();
    // Only the configured cookie name carries a session.
    let by_cookie = |name: &str| {
        client()
            .get(format!("{base}/api/session"))
            .header("cookie", format!("{name}={token}"))
    };
    assert_eq!(
        by_cookie("__Host-mfa_session")
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        by_cookie("mfa_session").send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );

    // A form of another site, or any non-JSON state change, is refused.
    let attempts = [
        (None, None, None),
        (Some("application/x-www-form-urlencoded"), None, None),
        (Some("text/plain"), None, None),
        (Some("application/json"), Some("https://evil.example"), None),
        (Some("application/json"), None, Some("cross-site")),
        (Some("application/json"), None, Some("same-site")),
    ];
    for (content_type, origin, fetch_site) in attempts {
        let mut request = client()
            .post(format!("{base}/api/me/mfa/enable"))
            .header("cookie", format!("__Host-mfa_session={token}"));
        if let Some(ct) = content_type {
            request = request.header("content-type", ct);
        }
        if let Some(o) = origin {
            request = request.header("origin", o);
        }
        if let Some(f) = fetch_site {
            request = request.header("sec-fetch-site", f);
        }
        let (status, body) = read(request.send().await.unwrap()).await;
        assert!(
            status == StatusCode::FORBIDDEN || status == StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type:?} {origin:?} {fetch_site:?}: {status} {body}"
        );
    }
    // Nothing changed; the same request from this site's page works.
    let (_, session) = call(base, &token, "GET", "/api/session", None).await;
    assert_eq!(session["user"]["mfa"], "off");
    let origin = base.clone();
    let (status, body) = read(
        client()
            .post(format!("{base}/api/me/mfa/enable"))
            .header("cookie", format!("__Host-mfa_session={token}"))
            .header("content-type", "application/json")
            .header("origin", origin)
            .header("sec-fetch-site", "same-origin")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Enrolment answers (they carry the key) are never cached.
    let fresh = login_answer(base, "bob", "bob-demo-password").await;
    let token: Value = fresh.json().await.unwrap();
    let response = client()
        .post(format!("{base}/api/enrolment/start"))
        .bearer_auth(token["token"].as_str().unwrap())
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    svc.service.stop().await;
}

/// `serve` keeps the data directory and the database private (0700/0600).
#[test]
fn the_data_directory_and_database_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = common::mfa_reset_command()
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(&data)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    // Stopped when the test ends, also when it panics.
    let _serve = Kill(child);
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(started.elapsed().as_secs() < 120, "serve did not start");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    for entry in std::fs::read_dir(&data).unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(mode(&path), 0o600, "{}", path.display());
    }
}

/// Parallel password guesses cannot slip past the throttle before the
/// first failures are counted, per account id and per client address.
#[tokio::test(flavor = "multi_thread")]
async fn parallel_password_guesses_are_counted_one_by_one() {
    let svc = TestService::start(|_, _| {}).await;
    let tasks: Vec<_> = (0..30)
        .map(|_| {
            let base = svc.base.clone();
            tokio::spawn(async move { login_answer(&base, "bob", "guess").await.status() })
        })
        .collect();
    let mut checked = 0;
    for task in tasks {
        match task.await.unwrap() {
            StatusCode::UNAUTHORIZED => checked += 1,
            StatusCode::TOO_MANY_REQUESTS => {}
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(
        checked, 5,
        "only the free failures had their password checked"
    );

    // The same from one address over many ids: 20 free, then none.
    let tasks: Vec<_> = (0..60)
        .map(|i| {
            let base = svc.base.clone();
            tokio::spawn(async move {
                login_answer(&base, &format!("spray-{i}"), "guess")
                    .await
                    .status()
            })
        })
        .collect();
    let mut checked = 0;
    for task in tasks {
        if task.await.unwrap() == StatusCode::UNAUTHORIZED {
            checked += 1;
        }
    }
    assert_eq!(
        checked, 15,
        "20 free per address, 5 of them spent on bob above"
    );
    svc.service.stop().await;
}

/// What acme's trail shows of an attempt outside acme (another
/// organization's user, or an id that names nobody).
const OUTSIDE: &str = "(outside the organization)";

/// An audit record without what differs between any two records (ids,
/// time): what a reader learns from it.
fn content(record: &Value) -> Value {
    let mut record = record.clone();
    for key in ["id", "decision_id", "at", "target_version"] {
        record.as_object_mut().unwrap().remove(key);
    }
    record
}

/// R9, R12: gus, root of globex, tries every per-user action on acme's users (a
/// root, MFA on, MFA off) and on an id that names nobody. His own
/// organization's trail shows the same record for all of them (a placeholder
/// target, the deciding policy only), so it cannot tell who exists in acme or
/// their MFA state; acme's trail has the whole records of its users.
#[tokio::test(flavor = "multi_thread")]
async fn r9_r12_attempts_outside_the_organization_look_alike_in_the_callers_trail() {
    let svc = TestService::start(|_, _| {}).await;
    let base = &svc.base;
    let (ada, bob, gus) = (
        login(base, "ada").await,
        login(base, "bob").await,
        login(base, "gus").await,
    );
    let (status, body) = call(base, &bob, "POST", "/api/me/mfa/enable", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let targets = ["bob", "carol", "ada", "nobody"];
    for action in ["reset", "enable", "disable"] {
        let mut answers = Vec::new();
        for target in targets {
            let path = format!("/api/org/users/{target}/mfa/{action}");
            let (status, mut body) = call(base, &gus, "POST", &path, None).await;
            body.as_object_mut().unwrap().remove("decision_id");
            answers.push((status, body));
        }
        assert!(answers.iter().all(|a| *a == answers[0]), "{answers:#?}");
    }
    let globex = audit_log(base, &gus).await;
    for action in ["reset_user_mfa", "enable_user_mfa", "disable_user_mfa"] {
        let attempts: Vec<Value> = globex
            .iter()
            .filter(|r| r["actor"] == "gus" && r["action"] == action)
            .map(content)
            .collect();
        assert_eq!(attempts.len(), targets.len(), "{globex:#?}");
        assert!(attempts.iter().all(|a| *a == attempts[0]), "{attempts:#?}");
        assert_eq!(attempts[0]["target"], OUTSIDE);
        assert_eq!(attempts[0]["organization"], "globex");
        assert_eq!(attempts[0]["allowed"], false);
        assert_eq!(attempts[0]["policy_ids"].as_array().unwrap().len(), 1);
        assert_eq!(attempts[0]["denial_code"], "other-organization");
    }
    let text = serde_json::to_string(&globex).unwrap();
    for leaked in [
        "\"bob\"",
        "\"carol\"",
        "\"ada\"",
        "nobody",
        "acme",
        "needs-mfa",
    ] {
        assert!(
            !text.contains(leaked),
            "globex's trail names {leaked}: {text}"
        );
    }
    // acme's trail: the whole records of its own users, nothing of `nobody`.
    let acme = audit_log(base, &ada).await;
    for target in ["bob", "carol", "ada"] {
        let records: Vec<&Value> = acme
            .iter()
            .filter(|r| r["actor"] == "gus" && r["target"] == target)
            .collect();
        assert_eq!(records.len(), 3, "{target}: {acme:#?}");
    }
    let carol_reset = acme
        .iter()
        .find(|r| r["actor"] == "gus" && r["target"] == "carol" && r["action"] == "reset_user_mfa")
        .unwrap();
    assert!(
        carol_reset["policy_ids"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p == "reset-needs-mfa"),
        "{carol_reset}"
    );
    assert!(
        !acme
            .iter()
            .any(|r| r["actor"] == "gus" && r["target"] == OUTSIDE)
    );
    assert!(!serde_json::to_string(&acme).unwrap().contains("nobody"));
    svc.service.stop().await;
}

/// The body and `Retry-After` of a refused state change.
async fn throttled(base: &str, token: &str, path: &str) -> (StatusCode, Option<u64>, Value) {
    let response = client()
        .post(format!("{base}{path}"))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    let retry = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok()?.parse().ok());
    let (status, body) = read(response).await;
    (status, retry, body)
}

/// R12: denied state changes are throttled per session and per user (10 a
/// minute by default): gus cannot bury acme's trail under attempts on carol,
/// nor a half-logged-in session its own organization's; the refusal is audited
/// once per window and counted; reads, login steps and other users go on; the
/// window's end lets him try again.
#[tokio::test(flavor = "multi_thread")]
async fn r12_denied_state_changes_are_throttled_per_session_and_user() {
    let svc = TestService::start(|c, _| c.denial_throttle = DenialThrottle::default()).await;
    let base = &svc.base;
    let (ada, gus) = (login(base, "ada").await, login(base, "gus").await);
    let limit = DenialThrottle::default().max_denials as usize;
    let reset_carol = "/api/org/users/carol/mfa/reset";
    for n in 0..limit {
        let (status, _, body) = throttled(base, &gus, reset_carol).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "attempt {n}: {body}");
    }
    for _ in 0..3 {
        let (status, retry, body) = throttled(base, &gus, reset_carol).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
        assert_eq!(body["error"]["code"], "too-many-denials");
        assert!(retry.is_some_and(|s| (1..=60).contains(&s)), "{retry:?}");
    }
    // Per user: a new session of gus waits too for actions on others; his
    // own account is not held up by another session's refusals.
    let gus_again = login(base, "gus").await;
    let (status, _, _) = throttled(base, &gus_again, "/api/org/users/gina/mfa/enable").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // Reads are not state changes; other users are not gus.
    let (status, _) = call(base, &gus, "GET", "/api/org/users", None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = call(base, &ada, "POST", "/api/org/users/carol/mfa/enable", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // acme's trail holds 10 of gus's attempts; globex's the 10 and one
    // record of the refusals.
    let acme = audit_log(base, &ada).await;
    assert_eq!(acme.iter().filter(|r| r["actor"] == "gus").count(), limit);
    let globex = audit_log(base, &gus).await;
    let refusals: Vec<&Value> = globex
        .iter()
        .filter(|r| r["denial_code"] == "too-many-denials")
        .collect();
    assert_eq!(refusals.len(), 1, "{globex:#?}");
    assert_eq!(refusals[0]["actor"], "gus");
    assert_eq!(
        globex.len(),
        limit + 1 + 2,
        "10 attempts, 1 refusal, 2 logins"
    );
    assert!(
        metrics(base)
            .await
            .contains("mfa_reset_refusals_throttled_total{action=\"reset_user_mfa\"} 3"),
        "{}",
        metrics(base).await
    );
    // The window ends: decided again (and refused by the policies).
    svc.clock.advance(Duration::seconds(61));
    let (status, _, _) = throttled(base, &gus, reset_carol).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Sent at once, 30 attempts still decide at most 10: each takes its
    // slot before it is decided.
    svc.clock.advance(Duration::seconds(61));
    let before = audit_log(base, &ada).await.len();
    let burst: Vec<_> = (0..30)
        .map(|_| {
            let (base, gus) = (base.clone(), gus.clone());
            tokio::spawn(async move { throttled(&base, &gus, reset_carol).await.0 })
        })
        .collect();
    let mut statuses = Vec::new();
    for attempt in burst {
        statuses.push(attempt.await.unwrap());
    }
    let decided = statuses
        .iter()
        .filter(|s| **s == StatusCode::FORBIDDEN)
        .count();
    assert_eq!(decided, limit, "{statuses:?}");
    assert_eq!(audit_log(base, &ada).await.len(), before + limit);

    // gus's own account waits for nobody's refusals (a fresh session, yet
    // his user used up its slots for actions on others above).
    let gus_fresh = login(base, "gus").await;
    let (status, _, _) = throttled(base, &gus_fresh, reset_carol).await;
    assert_eq!(
        status,
        StatusCode::TOO_MANY_REQUESTS,
        "the burst used up his user's slots"
    );
    let (status, _, body) = throttled(base, &gus_fresh, "/api/me/mfa/enable").await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // A session still waiting for its MFA code (a password is all it took)
    // is throttled the same way, on its own slots: its login steps wait
    // too, its user's finished sessions do not.
    let bob = login(base, "bob").await;
    let (status, _) = call(base, &bob, "POST", "/api/me/mfa/enable", None).await;
    assert_eq!(status, StatusCode::OK);
    let half = login(base, "bob").await;
    let mut statuses = Vec::new();
    for _ in 0..limit + 2 {
        statuses.push(
            throttled(base, &half, "/api/org/users/carol/mfa/disable")
                .await
                .0,
        );
    }
    // Its login (unfinished) took one of bob's pending slots.
    let decided = limit - 1;
    assert_eq!(statuses[..decided], vec![StatusCode::UNAUTHORIZED; decided]);
    assert_eq!(statuses[decided..], [StatusCode::TOO_MANY_REQUESTS; 3]);
    let (status, _, _) = throttled(base, &half, "/api/enrolment/start").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    svc.clock.advance(Duration::seconds(61));
    let (status, body) = call(base, &half, "POST", "/api/enrolment/start", None).await;
    assert_eq!(status, StatusCode::OK, "the window is over: {body}");
    for _ in 0..limit + 2 {
        let (status, _, _) = throttled(base, &half, "/api/org/users/carol/mfa/disable").await;
        assert_ne!(status, StatusCode::OK);
    }
    let (status, body) = call(base, &bob, "POST", "/api/me/mfa/disable", None).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "bob's own session is not throttled: {body}"
    );
    svc.service.stop().await;
}

/// A service with the default denial throttle where bob has enrolled an
/// authenticator (his enrolling login took one of his pending slots); and
/// ada's session, to read acme's trail.
async fn throttled_service_with_bob_enrolled() -> (TestService, String) {
    let svc = TestService::start(|c, _| c.denial_throttle = DenialThrottle::default()).await;
    let base = &svc.base;
    let ada = login(base, "ada").await;
    let bob = login(base, "bob").await;
    let (status, body) = call(base, &bob, "POST", "/api/me/mfa/enable", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let enrolling = login(base, "bob").await;
    enrol(base, &enrolling, &svc.clock).await;
    (svc, ada)
}

/// R3, R12: refused login steps use up their session's slots too: with only a
/// password, nobody can write unbounded `locked` or wrong-code records into the
/// trail.
#[tokio::test(flavor = "multi_thread")]
async fn r12_refused_login_steps_are_throttled_per_session() {
    let (svc, ada) = throttled_service_with_bob_enrolled().await;
    let base = &svc.base;
    let guessing = login(base, "bob").await;
    let limit = DenialThrottle::default().max_denials as usize;
    // Two unfinished logins (the enrolling one and this one) already took
    // two of bob's pending slots: 8 wrong codes are decided (5 wrong, then
    // the lock's 429, each audited), then the throttle's 429s.
    let mut answers = Vec::new();
    for _ in 0..limit + 2 {
        let code = json!({"code": "000000"});
        let (status, body) = call(base, &guessing, "POST", "/api/login/code", Some(code)).await;
        answers.push((status, body["error"]["code"] == "too-many-denials"));
    }
    let decided = limit - 2;
    assert!(
        answers[..decided]
            .iter()
            .all(|(s, throttled)| *s != StatusCode::OK && !throttled),
        "{answers:?}"
    );
    assert!(
        answers[decided..]
            .iter()
            .all(|(s, throttled)| *s == StatusCode::TOO_MANY_REQUESTS && *throttled),
        "{answers:?}"
    );
    let records = audit_log(base, &ada).await;
    let steps: Vec<&Value> = records
        .iter()
        .filter(|r| r["actor"] == "bob" && r["action"] == "verify_code")
        .collect();
    assert_eq!(
        steps.len(),
        decided + 1,
        "8 refused codes, one throttle record: {steps:#?}"
    );
    svc.service.stop().await;
}

/// R3, R12: someone holding only bob's password cannot loop logins and wrong
/// codes, each new session with fresh slots: unfinished logins and their
/// refusals share bob's `pending` slots.
#[tokio::test(flavor = "multi_thread")]
async fn r12_looping_logins_opens_no_new_slots_for_wrong_codes() {
    let (svc, ada) = throttled_service_with_bob_enrolled().await;
    let base = &svc.base;
    // Each round: a login (1 slot) and two wrong codes (2 slots); with the
    // enrolling login's slot, the third round's codes take the tenth.
    let mut logins = Vec::new();
    for _ in 0..5 {
        let answer = login_answer(base, "bob", "bob-demo-password").await;
        let status = answer.status();
        let body: Value = answer.json().await.unwrap();
        logins.push(status);
        if status != StatusCode::OK {
            assert_eq!(body["error"]["code"], "too-many-denials", "{body}");
            continue;
        }
        let token = body["token"].as_str().unwrap().to_string();
        for _ in 0..2 {
            let code = json!({"code": "000000"});
            let (status, _) = call(base, &token, "POST", "/api/login/code", Some(code)).await;
            assert_ne!(status, StatusCode::OK);
        }
    }
    // The enrolling login took a slot too: the fourth login finds none.
    let (ok, wait) = (StatusCode::OK, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(logins, [ok, ok, ok, wait, wait]);
    let records = audit_log(base, &ada).await;
    let of_bob = |action: &str| {
        records
            .iter()
            .filter(|r| r["actor"] == "bob" && r["action"] == action)
            .collect::<Vec<_>>()
    };
    assert_eq!(of_bob("verify_code").len(), 6, "six refused codes");
    let refused_logins: Vec<_> = of_bob("login")
        .into_iter()
        .filter(|r| r["denial_code"] == "too-many-denials")
        .collect();
    assert_eq!(refused_logins.len(), 1, "audited once: {refused_logins:#?}");
    svc.service.stop().await;
}

/// R12: a root reads the audit trail a page at a time, newest first,
/// filtered by actor, action, outcome and time; bad parameters name
/// themselves; a sub-user reads no trail.
#[tokio::test(flavor = "multi_thread")]
async fn r12_the_audit_trail_pages_and_filters() {
    let svc = TestService::start(|_, _| {}).await;
    let base = &svc.base;
    let (ada, bob) = (login(base, "ada").await, login(base, "bob").await);
    for _ in 0..6 {
        for action in ["enable", "disable"] {
            let path = format!("/api/org/users/carol/mfa/{action}");
            assert_eq!(
                call(base, &ada, "POST", &path, None).await.0,
                StatusCode::OK
            );
        }
    }
    let (status, _) = call(base, &bob, "POST", "/api/org/users/carol/mfa/reset", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let middle = svc.clock.now();
    svc.clock.advance(Duration::hours(1));
    for action in ["enable", "disable"] {
        let path = format!("/api/org/users/carol/mfa/{action}");
        assert_eq!(
            call(base, &ada, "POST", &path, None).await.0,
            StatusCode::OK
        );
    }
    let all = {
        let (_, body) = call(base, &ada, "GET", "/api/audit?limit=1000", None).await;
        assert_eq!(body["next"], Value::Null, "one page holds them all");
        body["records"].as_array().unwrap().clone()
    };
    assert_eq!(all.len(), 2 + 12 + 1 + 2, "2 logins, 15 changes");
    // Pages of 4, following `next`, give the same records in the same order.
    let mut paged = Vec::new();
    let mut next = None::<String>;
    loop {
        let path = match &next {
            Some(cursor) => format!("/api/audit?limit=4&before={cursor}"),
            None => "/api/audit?limit=4".to_string(),
        };
        let (status, body) = call(base, &ada, "GET", &path, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let page = body["records"].as_array().unwrap();
        assert!(page.len() <= 4);
        paged.extend(page.iter().cloned());
        match body["next"].as_str() {
            Some(cursor) => next = Some(cursor.to_string()),
            None => break,
        }
    }
    assert_eq!(paged, all);
    let filtered = async |query: String| {
        let (status, body) = call(base, &ada, "GET", &format!("/api/audit?{query}"), None).await;
        assert_eq!(status, StatusCode::OK, "{query}: {body}");
        body["records"].as_array().unwrap().clone()
    };
    let by_bob = filtered("actor=bob".into()).await;
    assert!(
        by_bob.len() == 2 && by_bob.iter().all(|r| r["actor"] == "bob"),
        "{by_bob:#?}"
    );
    let denied = filtered("outcome=denied".into()).await;
    assert_eq!(denied.len(), 1);
    assert_eq!(denied[0]["actor"], "bob");
    let enables = filtered("action=enable_user_mfa&outcome=allowed".into()).await;
    assert_eq!(enables.len(), 7);
    let since = middle
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let later = filtered(format!("since={}", since.replace('+', "%2B"))).await;
    assert_eq!(later.len(), 2, "{later:#?}");
    let earlier = filtered(format!("until={}", since.replace('+', "%2B"))).await;
    assert_eq!(earlier.len(), all.len() - 2);
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("outcome=maybe", "outcome"),
        ("since=yesterday", "since"),
        ("until=2026-13-01T00:00:00Z", "until"),
        ("before=garbage", "before"),
        ("before=12.not-a-uuid", "before"),
        ("everything=1", "(query)"),
    ] {
        let (status, body) = call(base, &ada, "GET", &format!("/api/audit?{query}"), None).await;
        assert_eq!(
            (status, body["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(field)),
            "{query}: {body}"
        );
    }
    // A sub-user reads no trail, paged or not.
    let (status, _) = call(base, &bob, "GET", "/api/audit?limit=1", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    svc.service.stop().await;
}

/// R12: audit records older than the retention are purged (at start, then
/// every few minutes); newer ones stay.
#[tokio::test(flavor = "multi_thread")]
async fn r12_audit_records_past_their_retention_are_purged() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("state.db").display()
    );
    let key = SecretBox::generate_base64();
    let retention = Some(std::time::Duration::from_secs(86_400));
    let mut first = config(url.clone(), key.clone());
    first.audit_retention = retention;
    let service = Service::start(first).await.unwrap();
    let base = format!("http://{}", service.local_addr());
    let ada = login(&base, "ada").await;
    let (status, _) = call(&base, &ada, "POST", "/api/org/users/carol/mfa/enable", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(audit_log(&base, &ada).await.len(), 2);
    service.stop().await;

    // Two days later.
    let mut second = config(url, key);
    second.audit_retention = retention;
    second.clock.advance(Duration::days(2));
    let service = Service::start(second).await.unwrap();
    let base = format!("http://{}", service.local_addr());
    let ada = login(&base, "ada").await;
    let deadline = Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let log = audit_log(&base, &ada).await;
        if log.len() == 1 {
            assert_eq!(log[0]["action"], "login", "only today's login: {log:#?}");
            break;
        }
        assert!(Instant::now() < deadline, "not purged: {log:#?}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    service.stop().await;
}

/// The per-address password throttle forgets. After 20 wrong passwords
/// from one address, right passwords are not kept waiting, and an hour
/// without a failure (the documented quiet period) starts the count again,
/// however many right passwords came meanwhile.
#[tokio::test(flavor = "multi_thread")]
async fn the_address_password_throttle_forgets_after_a_quiet_hour() {
    let svc = TestService::start(|_, _| {}).await;
    let base = &svc.base;
    for n in 0..20 {
        let response = login_answer(base, &format!("nobody{n}"), "wrong").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "failure {n}");
    }
    svc.clock.advance(Duration::seconds(2)); // the 20th failure's wait
    for user in ["bob", "carol", "ada"] {
        let response = login_answer(base, user, &format!("{user}-demo-password")).await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "{user} right after another"
        );
    }
    for _ in 0..3 {
        svc.clock.advance(Duration::minutes(40));
        let response = login_answer(base, "bob", "bob-demo-password").await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    // Two hours since the last failure: a new failure is the first again.
    let response = login_answer(base, "nobody", "wrong").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = login_answer(base, "bob", "bob-demo-password").await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "not locked by one failure"
    );
    svc.service.stop().await;
}

/// R11: a forward-auth question carrying what the gateway should have removed
/// is refused: any `X-Auth-*` in any spelling (a backend could read it as ours:
/// CGI/WSGI merge `X_Auth_User` with `X-Auth-User`), a method override, a
/// forwarding header spelled with `_` or `.`.
#[tokio::test(flavor = "multi_thread")]
async fn forward_auth_refuses_questions_with_forged_header_spellings() {
    let svc = TestService::start(|_, _| {}).await;
    let base = &svc.base;
    let ada = login(base, "ada").await;
    let question = [
        ("x-original-method", "GET"),
        ("x-original-uri", "/app/home"),
    ];
    let (status, _) = forward(base, "/forward-auth", Some(&ada), &question, None).await;
    assert_eq!(status, StatusCode::OK, "the plain question is answered");
    for forged in [
        ("X_Auth_User", "ada"),
        ("x.auth.role", "root"),
        ("X-Auth-Email", "ada@acme.test"),
        ("X-Auth-User", "ada"),
        ("X-HTTP-Method-Override", "DELETE"),
        ("X_HTTP_Method", "DELETE"),
        ("x-method-override", "DELETE"),
        ("X_Original_URI", "/app/home"),
        ("X_Forwarded_Method", "GET"),
        ("x.real.ip", "10.0.0.1"),
        ("X-Original-URL", "/app/admin/users"),
        ("X_Rewrite_URL", "/app/admin/users"),
    ] {
        let mut headers = question.to_vec();
        headers.push(forged);
        let (status, answer) = forward(base, "/forward-auth", Some(&ada), &headers, None).await;
        assert_eq!(
            (status, denial(&answer)),
            (StatusCode::FORBIDDEN, "forged-header"),
            "{forged:?}"
        );
    }
    // A method override in the query (Express, Rails, Laravel read it).
    for uri in [
        "/app/home?_method=DELETE",
        "/app/home?x=1&%5Fmethod=delete",
        "/app/home?_METHOD",
        // As PHP reads a query: `.` and spaces are `_`, leading spaces go,
        // `name[x]` is `name`.
        "/app/home?.method=DELETE",
        "/app/home?%2Emethod=DELETE",
        "/app/home?+_method=DELETE",
        "/app/home?%20_method=DELETE",
        "/app/home?_method[]=DELETE",
    ] {
        let headers = [("x-original-method", "GET"), ("x-original-uri", uri)];
        let (status, answer) = forward(base, "/forward-auth", Some(&ada), &headers, None).await;
        assert_eq!(
            (status, denial(&answer)),
            (StatusCode::FORBIDDEN, "method-override"),
            "{uri}"
        );
    }
    let headers = [
        ("x-original-method", "GET"),
        ("x-original-uri", "/app/home?method=x&_methods=y"),
    ];
    let (status, _) = forward(base, "/forward-auth", Some(&ada), &headers, None).await;
    assert_eq!(status, StatusCode::OK, "only `_method` itself overrides");
    svc.service.stop().await;
}

/// Forward-auth answers only 200, 401 or 403, also to a question with
/// thousands of headers (nginx turns a 431 into a 500).
#[tokio::test(flavor = "multi_thread")]
async fn forward_auth_reads_questions_with_thousands_of_headers() {
    let svc = TestService::start(|_, _| {}).await;
    let base = &svc.base;
    let bob = login(base, "bob").await;
    for (extra, path, expected) in [
        (150, "/app/home", StatusCode::OK),
        (5_000, "/app/home", StatusCode::OK),
        (
            DEFAULT_MAX_HEADER_LINES - 20,
            "/app/admin/users",
            StatusCode::FORBIDDEN,
        ),
    ] {
        let mut request = client()
            .get(format!("{base}/forward-auth"))
            .bearer_auth(&bob)
            .header("x-original-method", "GET")
            .header("x-original-uri", path);
        for n in 0..extra {
            request = request.header(format!("x-extra-{n}"), "1");
        }
        let status = request.send().await.unwrap().status();
        assert_eq!(status, expected, "{extra} headers");
    }
    let (status, _) = call(base, &bob, "GET", "/api/session", None).await;
    assert_eq!(status, StatusCode::OK);
    svc.service.stop().await;
}
