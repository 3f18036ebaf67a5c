//! R15, recovery codes, through the real component and the sidecar: the
//! story (bob's phone and session both lost, back in with a saved code,
//! reset, enrolled again with new codes) and the abuse cases — a code used
//! twice, another user's code, guessing (one lockout with TOTP codes), a
//! recovery-code login reaching for more than recovery, codes outliving a
//! regeneration or a root's reset, and codes leaking anywhere.

use reqwest::StatusCode;
use serde_json::{Value, json};
use time::Duration;

use crate::common::inbox::Inbox;
use crate::common::service::{
    TestService, call, client, forward, login, metrics, read, totp_code, uri_secret,
};

/// Logs `user` in with the password; the session's token and answer.
async fn password_login(base: &str, user: &str) -> (String, Value) {
    let (status, body) = read(
        client()
            .post(format!("{base}/api/login"))
            .json(&json!({"user": user, "password": format!("{user}-demo-password")}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    (body["token"].as_str().unwrap().to_string(), body)
}

/// Enrols an authenticator from `token`'s session (MFA due); the TOTP
/// secret and the recovery codes the confirmation showed.
async fn enrol(svc: &TestService, token: &str) -> (String, Vec<String>) {
    let base = &svc.base;
    let (status, started) = call(base, token, "POST", "/api/enrolment/start", None).await;
    assert_eq!(status, StatusCode::OK, "{started}");
    let secret = uri_secret(started["uri"].as_str().unwrap());
    let code = totp_code(&secret, svc.clock.now().unix_timestamp());
    let (status, confirmed) = call(
        base,
        token,
        "POST",
        "/api/enrolment/confirm",
        Some(json!({"code": code})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{confirmed}");
    let codes: Vec<String> = serde_json::from_value(confirmed["recovery_codes"].clone()).unwrap();
    assert_eq!(confirmed["recovery_codes_left"], 10);
    (secret, codes)
}

/// `user` turns MFA on and enrols; the secret and recovery codes.
async fn with_mfa(svc: &TestService, user: &str) -> (String, Vec<String>) {
    let token = login(&svc.base, user).await;
    let (status, body) = call(&svc.base, &token, "POST", "/api/me/mfa/enable", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    enrol(svc, &token).await
}

async fn use_code(base: &str, token: &str, code: &str) -> (StatusCode, Value) {
    call(
        base,
        token,
        "POST",
        "/api/login/recovery-code",
        Some(json!({"code": code})),
    )
    .await
}

/// R15: the story. Bob's session expired and his phone is lost: his
/// password and one saved code let him reset and enrol again — nothing
/// more — and the new enrolment brings new codes; the old ones are void.
/// He is notified, the trail has the step, and no code is anywhere.
#[tokio::test(flavor = "multi_thread")]
async fn r15_a_locked_out_user_recovers_with_a_saved_code_and_enrols_again() {
    crate::common::logs::capture();
    let inbox = Inbox::start().await;
    let webhook = inbox.webhook();
    let svc = TestService::start(|config, _| config.webhook = Some(webhook)).await;
    let base = &svc.base;
    let (_, codes) = with_mfa(&svc, "bob").await;
    assert_eq!(codes.len(), 10);
    for code in &codes {
        assert!(
            code.len() == 19 && code.split('-').all(|g| g.len() == 4),
            "{code}"
        );
    }

    // 31 days later: every session has expired; the phone is gone.
    svc.clock.advance(Duration::days(31));
    let (bob, answer) = password_login(base, "bob").await;
    assert_eq!(answer["next_step"], "code");
    let (status, used) = use_code(base, &bob, &codes[0].to_lowercase()).await;
    assert_eq!(status, StatusCode::OK, "{used}");
    assert_eq!(
        (
            used["result"].as_str(),
            used["recovery_codes_left"].as_u64()
        ),
        (Some("accepted"), Some(9))
    );
    let (_, me) = call(base, &bob, "GET", "/api/session", None).await;
    assert_eq!(
        (
            me["mfa_satisfied"].as_bool(),
            me["recovery_code_login"].as_bool()
        ),
        (Some(true), Some(true)),
        "{me}"
    );

    // Such a login may recover, and nothing else (the shipped policies).
    for (method, path) in [
        ("POST", "/api/me/mfa/disable"),
        ("POST", "/api/me/recovery-codes"),
        ("GET", "/api/audit"),
    ] {
        let (status, refused) = call(base, &bob, method, path, None).await;
        assert_eq!(
            (status, refused["denial_code"].as_str()),
            (StatusCode::FORBIDDEN, Some("recovery-code-login")),
            "{path}: {refused}"
        );
    }
    let app = [
        ("x-original-method", "GET"),
        ("x-original-uri", "/app/home"),
    ];
    let (status, _) = forward(base, "/forward-auth", Some(&bob), &app, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no gateway route yet");
    let (status, reset) = call(base, &bob, "POST", "/api/me/mfa/reset", None).await;
    assert_eq!(status, StatusCode::OK, "{reset}");
    let (_, new_codes) = enrol(&svc, &bob).await;
    assert!(new_codes.iter().all(|c| !codes.contains(c)));
    let (_, me) = call(base, &bob, "GET", "/api/session", None).await;
    assert_eq!(
        me["recovery_code_login"], false,
        "the new enrolment clears it"
    );
    assert_eq!(me["recovery_codes_left"], 10);
    let (status, _) = forward(base, "/forward-auth", Some(&bob), &app, None).await;
    assert_eq!(status, StatusCode::OK, "a full session now");

    // The old codes died with the reset; a new one works.
    svc.clock.advance(Duration::days(31));
    let (again, _) = password_login(base, "bob").await;
    let (status, refused) = use_code(base, &again, &codes[1]).await;
    assert_eq!(
        (status, refused["result"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_code"))
    );
    let (status, used) = use_code(base, &again, &new_codes[0]).await;
    assert_eq!(status, StatusCode::OK, "{used}");

    // Notified with how many are left, never with a code.
    let event = inbox.event("mfa.recovery_code_used", "bob").await;
    assert_eq!(event["data"]["recovery_codes_left"], 9, "{event}");
    let (_, audit) = {
        let ada = login(base, "ada").await;
        call(
            base,
            &ada,
            "GET",
            "/api/audit?action=use_recovery_code",
            None,
        )
        .await
    };
    let records = audit["records"].as_array().unwrap();
    assert!(records.len() >= 3, "{audit}");
    let everything = [
        audit.to_string(),
        event.to_string(),
        inbox.all("mfa.enrolled", "bob").len().to_string(),
        metrics(base).await,
        crate::common::logs::captured(),
        call(base, &again, "GET", "/api/session", None)
            .await
            .1
            .to_string(),
    ];
    let database = std::fs::read(svc.dir.path().join("state.db")).unwrap();
    let wal = std::fs::read(svc.dir.path().join("state.db-wal")).unwrap_or_default();
    for code in codes.iter().chain(&new_codes) {
        let bare = code.replace('-', "");
        for text in &everything {
            assert!(
                !text.contains(code) && !text.contains(&bare),
                "{code} leaked"
            );
        }
        for bytes in [&database, &wal] {
            assert!(
                !bytes.windows(bare.len()).any(|w| w == bare.as_bytes()),
                "{code} is stored as a keyed hash only"
            );
        }
    }
}

/// R15: a code works once; another user's code, a code typed wrong, or a
/// code sent with no login waiting for one never works. Bad input gets a
/// clear error, never a 5xx.
#[tokio::test(flavor = "multi_thread")]
async fn r15_a_code_works_once_and_only_for_its_own_user() {
    let svc = TestService::start(|_, _| {}).await;
    let base = &svc.base;
    let (_, bobs) = with_mfa(&svc, "bob").await;
    let (_, carols) = with_mfa(&svc, "carol").await;

    let (carol, _) = password_login(base, "carol").await;
    let (status, refused) = use_code(base, &carol, &bobs[0]).await;
    assert_eq!(
        (status, refused["result"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_code")),
        "bob's code is nothing to carol"
    );
    let (bob, _) = password_login(base, "bob").await;
    let (status, _) = use_code(base, &bob, &bobs[0]).await;
    assert_eq!(status, StatusCode::OK, "and still bob's");
    let (bob2, _) = password_login(base, "bob").await;
    let (status, refused) = use_code(base, &bob2, &bobs[0]).await;
    assert_eq!(
        (status, refused["result"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_code")),
        "used once"
    );
    assert!(
        refused.get("recovery_codes_left").is_none(),
        "a password alone learns nothing of the codes: {refused}"
    );
    let (_, me) = call(base, &bob2, "GET", "/api/session", None).await;
    assert!(me["recovery_codes_left"].is_null(), "{me}");

    // Few left: the login answer says so.
    for code in &carols[..8] {
        let (carol, _) = password_login(base, "carol").await;
        let (status, used) = use_code(base, &carol, code).await;
        assert_eq!(status, StatusCode::OK, "{used}");
    }
    let (carol, _) = password_login(base, "carol").await;
    let (_, used) = use_code(base, &carol, &carols[8]).await;
    assert_eq!(used["recovery_codes_left"], 1);
    assert!(
        used["notice"]
            .as_str()
            .unwrap()
            .contains("1 recovery code left"),
        "{used}"
    );

    // Bad input: named, 4xx, nothing counted or changed.
    let (bob3, _) = password_login(base, "bob").await;
    for body in [
        json!({"code": 7}),
        json!({}),
        json!({"code": "x", "user": "carol"}),
    ] {
        let (status, answer) = call(
            base,
            &bob3,
            "POST",
            "/api/login/recovery-code",
            Some(body.clone()),
        )
        .await;
        assert!(status.is_client_error(), "{body}: {status} {answer}");
        assert!(answer["error"]["message"].is_string(), "{answer}");
    }
    // Ada's MFA is off: she has no codes, and no login step takes one.
    let ada = login(base, "ada").await;
    let (status, answer) = use_code(base, &ada, &bobs[1]).await;
    assert!(status.is_client_error(), "{status} {answer}");
    let (_, me) = call(base, &bob3, "GET", "/api/session", None).await;
    assert_eq!(me["mfa_satisfied"], false, "{me}");
}

/// R15: wrong recovery codes and wrong TOTP codes fill one counter, and
/// its lock refuses both kinds, the right recovery code included.
#[tokio::test(flavor = "multi_thread")]
async fn r15_guessing_is_locked_out_together_with_totp_codes() {
    let svc = TestService::start(|_, _| {}).await;
    let base = &svc.base;
    let (_, codes) = with_mfa(&svc, "bob").await;
    let (bob, _) = password_login(base, "bob").await;
    for _ in 0..2 {
        let (status, _) = call(
            base,
            &bob,
            "POST",
            "/api/login/code",
            Some(json!({"code": "000000"})),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    for guess in ["AAAA-AAAA-AAAA-AAAA", "ZZZZ-ZZZZ-ZZZZ-ZZZZ"] {
        let (status, _) = use_code(base, &bob, guess).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, answer) = use_code(base, &bob, "1111-1111-1111-1111").await;
    assert_eq!(
        (status, answer["failures"].as_u64()),
        (StatusCode::UNAUTHORIZED, Some(5)),
        "{answer}"
    );
    let (status, locked) = use_code(base, &bob, &codes[0]).await;
    assert_eq!(
        (status, locked["result"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("locked")),
        "{locked}"
    );
    let (status, locked) = call(
        base,
        &bob,
        "POST",
        "/api/login/code",
        Some(json!({"code": "123456"})),
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{locked}");
    // After the lock, the saved code was never spent.
    svc.clock.advance(Duration::minutes(10));
    let (bob, _) = password_login(base, "bob").await;
    let (status, used) = use_code(base, &bob, &codes[0]).await;
    assert_eq!(status, StatusCode::OK, "{used}");
}

/// R15: a new set voids the old one; a root's reset of a sub-user voids
/// every code of theirs (codes never outlive a reset).
#[tokio::test(flavor = "multi_thread")]
async fn r15_new_codes_and_a_roots_reset_void_the_old_ones() {
    let svc = TestService::start(|_, _| {}).await;
    let base = &svc.base;
    let (secret, old) = with_mfa(&svc, "bob").await;
    svc.clock.advance(Duration::seconds(30));
    let (bob, _) = password_login(base, "bob").await;
    let code = totp_code(&secret, svc.clock.now().unix_timestamp());
    let (status, _) = call(
        base,
        &bob,
        "POST",
        "/api/login/code",
        Some(json!({"code": code})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, fresh) = call(base, &bob, "POST", "/api/me/recovery-codes", None).await;
    assert_eq!(status, StatusCode::OK, "{fresh}");
    let new: Vec<String> = serde_json::from_value(fresh["recovery_codes"].clone()).unwrap();
    assert_eq!(new.len(), 10);
    let (_, me) = call(base, &bob, "GET", "/api/session", None).await;
    assert_eq!(me["recovery_codes_left"], 10);
    assert!(me.get("recovery_codes").is_none(), "shown once: {me}");

    let (waiting, _) = password_login(base, "bob").await;
    let (status, _) = use_code(base, &waiting, &old[0]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the old set is void");

    // Ada resets bob: every code is gone with his authenticator.
    let ada = login(base, "ada").await;
    let (status, reset) = call(base, &ada, "POST", "/api/org/users/bob/mfa/reset", None).await;
    assert_eq!(status, StatusCode::OK, "{reset}");
    let (bob, answer) = password_login(base, "bob").await;
    assert_eq!(answer["next_step"], "enrol");
    let (status, refused) = use_code(base, &bob, &new[1]).await;
    assert_eq!(status, StatusCode::CONFLICT, "no code to use: {refused}");
    let (status, _) = call(base, &bob, "POST", "/api/enrolment/start", None).await;
    assert_eq!(status, StatusCode::OK, "the login goes on to enrolment");
}

/// R15: someone who stole the password and a code logged in with it; the
/// holder, notified, makes a new set from their own session, and the
/// intruder's session ends with the old codes — before it could reset.
#[tokio::test(flavor = "multi_thread")]
async fn r15_new_codes_end_a_session_opened_with_a_stolen_code() {
    let svc = TestService::start(|_, _| {}).await;
    let base = &svc.base;
    let (secret, codes) = with_mfa(&svc, "bob").await;
    let (intruder, _) = password_login(base, "bob").await;
    let (status, _) = use_code(base, &intruder, &codes[4]).await;
    assert_eq!(status, StatusCode::OK);

    svc.clock.advance(Duration::seconds(30));
    let (holder, _) = password_login(base, "bob").await;
    let code = totp_code(&secret, svc.clock.now().unix_timestamp());
    let (status, _) = call(
        base,
        &holder,
        "POST",
        "/api/login/code",
        Some(json!({"code": code})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, fresh) = call(base, &holder, "POST", "/api/me/recovery-codes", None).await;
    assert_eq!(status, StatusCode::OK, "{fresh}");

    let (status, answer) = call(base, &intruder, "POST", "/api/me/mfa/reset", None).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the session ended: {answer}"
    );
    let (status, _) = call(base, &holder, "GET", "/api/session", None).await;
    assert_eq!(status, StatusCode::OK, "the holder's own session stays");
}
