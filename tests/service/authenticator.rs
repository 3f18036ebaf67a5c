//! The TOTP lifecycle through the real component (R2, R3, R5, R6, R12):
//! enrolment, confirmation, login codes, replay, lockout.

use crate::common;

use common::*;
use mfa_reset::{
    Action, Authenticator, Change, CodeRequest, CodeResult, Engine, EnrolmentRequest, Error,
    LockoutPolicy, LoginStep, MfaStatus, Role, Session, TotpKey, User, Verification,
};
use time::{Duration, OffsetDateTime};
use totp_rs::{Algorithm, Totp};

/// A time in the middle of a 30 s step, so ±1 step is unambiguous.
fn t0() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_795_000_005).unwrap()
}

fn due_user() -> User {
    user(
        "alice",
        Role::SubUser,
        &org("acme", false),
        MfaStatus::EnrolmentDue,
    )
}

/// An independent implementation (the test's own totp-rs) computes codes.
fn code_at(key: &TotpKey, at: OffsetDateTime) -> String {
    totp_rs::Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(key.digits)
        .with_step_duration(u64::from(key.period))
        .with_secret(key.secret.clone())
        .build()
        .expect("valid key")
        .generate(at.unix_timestamp() as u64)
        .to_string()
}

fn code_request(
    user: &User,
    authenticator: &Authenticator,
    code: &str,
    now: OffsetDateTime,
) -> CodeRequest {
    CodeRequest {
        user: user.clone(),
        session: login_session(now),
        authenticator: authenticator.clone(),
        code: code.into(),
        now,
        lockout: LockoutPolicy::default(),
    }
}

/// A login in progress: password accepted at `now`, MFA not done.
fn login_session(now: OffsetDateTime) -> Session {
    Session {
        login_at: now,
        last_activity_at: now,
        mfa_satisfied: false,
        recovery_code_login: false,
    }
}

fn start(user: &User, authenticator: &Authenticator) -> mfa_reset::Enrolment {
    engine()
        .start_enrolment(&EnrolmentRequest {
            user: user.clone(),
            session: login_session(t0()),
            authenticator: authenticator.clone(),
            now: t0(),
            issuer: "Acme Cloud".into(),
        })
        .expect("enrolment starts")
}

/// A user enrolled at `t0()` with a confirmed key: (user, authenticator, key).
fn enrolled() -> (User, Authenticator, TotpKey) {
    let enrolment = start(&due_user(), &Authenticator::default());
    let key = enrolment.authenticator.pending.clone().unwrap();
    let v = engine()
        .confirm_enrolment(&code_request(
            &due_user(),
            &enrolment.authenticator,
            &code_at(&key, t0()),
            t0(),
        ))
        .expect("confirms");
    assert_eq!(v.result, CodeResult::Accepted);
    (v.user, v.authenticator, key)
}

fn verify(
    user: &User,
    authenticator: &Authenticator,
    code: &str,
    now: OffsetDateTime,
) -> Verification {
    engine()
        .verify_login(&code_request(user, authenticator, code, now))
        .expect("verifies")
}

#[test]
fn rfc6238_appendix_b_sha1_vectors_reproduce_through_the_component() {
    let key = TotpKey {
        secret: b"12345678901234567890".to_vec(),
        digits: 8,
        period: 30,
    };
    let user = user("rfc", Role::SubUser, &org("ietf", false), MfaStatus::Active);
    let authenticator = Authenticator {
        active: Some(key),
        ..Authenticator::default()
    };
    let vectors = [
        (59, "94287082"),
        (1_111_111_109, "07081804"),
        (1_111_111_111, "14050471"),
        (1_234_567_890, "89005924"),
        (2_000_000_000, "69279037"),
        (20_000_000_000, "65353130"),
    ];
    for (t, code) in vectors {
        let now = OffsetDateTime::from_unix_timestamp(t).unwrap();
        let v = verify(&user, &authenticator, code, now);
        assert_eq!(v.result, CodeResult::Accepted, "T = {t}");
        assert_eq!(
            v.authenticator.last_accepted_step,
            Some((t / 30) as u64),
            "T = {t}: the code of its own step"
        );
        // The vector's code is wrong a minute later.
        let later = verify(&user, &authenticator, code, now + Duration::seconds(90));
        assert_eq!(later.result, CodeResult::InvalidCode, "T = {t} + 90 s");
    }
}

#[test]
fn r2_r3_enrol_confirm_then_log_in_with_the_app() {
    let user = due_user();
    assert_eq!(engine().login_step(&user).unwrap(), LoginStep::Enrol);

    let enrolment = start(&user, &Authenticator::default());
    let key = enrolment
        .authenticator
        .pending
        .clone()
        .expect("a pending key");
    assert_eq!(key.secret.len(), 20, "160-bit secret");
    assert!(
        enrolment.authenticator.active.is_none(),
        "not active before confirmation"
    );

    let confirmed = engine()
        .confirm_enrolment(&code_request(
            &user,
            &enrolment.authenticator,
            &code_at(&key, t0()),
            t0(),
        ))
        .unwrap();
    assert_eq!(confirmed.result, CodeResult::Accepted);
    assert_eq!(confirmed.user.mfa, MfaStatus::Active);
    assert_eq!(confirmed.authenticator.active.as_ref(), Some(&key));
    assert!(confirmed.authenticator.pending.is_none());
    assert_eq!(
        engine().login_step(&confirmed.user).unwrap(),
        LoginStep::Code
    );

    let next = t0() + Duration::seconds(30);
    let login = verify(
        &confirmed.user,
        &confirmed.authenticator,
        &code_at(&key, next),
        next,
    );
    assert_eq!(login.result, CodeResult::Accepted);
    assert_eq!(login.authenticator.failures, 0);
}

#[test]
fn a_wrong_confirmation_code_keeps_the_enrolment_pending_and_counts() {
    let user = due_user();
    let enrolment = start(&user, &Authenticator::default());
    let key = enrolment.authenticator.pending.clone().unwrap();
    let wrong = format!(
        "{:06}",
        (code_at(&key, t0()).parse::<u32>().unwrap() + 1) % 1_000_000
    );
    let v = engine()
        .confirm_enrolment(&code_request(&user, &enrolment.authenticator, &wrong, t0()))
        .unwrap();
    assert_eq!(v.result, CodeResult::InvalidCode);
    assert_eq!(v.user.mfa, MfaStatus::EnrolmentDue);
    assert_eq!(v.authenticator.pending.as_ref(), Some(&key));
    assert!(v.authenticator.active.is_none());
    assert_eq!(v.authenticator.failures, 1);
    assert_eq!(v.audit.denial_code.as_deref(), Some("invalid-code"));
}

#[test]
fn starting_again_replaces_the_pending_key() {
    let user = due_user();
    let first = start(&user, &Authenticator::default());
    let second = start(&user, &first.authenticator);
    let (k1, k2) = (
        first.authenticator.pending.unwrap(),
        second.authenticator.pending.clone().unwrap(),
    );
    assert_ne!(k1.secret, k2.secret, "a fresh secret each time");
    let v = engine()
        .confirm_enrolment(&code_request(
            &user,
            &second.authenticator,
            &code_at(&k1, t0()),
            t0(),
        ))
        .unwrap();
    assert_eq!(
        v.result,
        CodeResult::InvalidCode,
        "the replaced key no longer confirms"
    );
}

#[test]
fn a_code_is_accepted_once() {
    let (user, authenticator, key) = enrolled();
    let at = t0() + Duration::seconds(30);
    let code = code_at(&key, at);
    let first = verify(&user, &authenticator, &code, at);
    assert_eq!(first.result, CodeResult::Accepted);
    let again = verify(
        &user,
        &first.authenticator,
        &code,
        at + Duration::seconds(5),
    );
    assert_eq!(again.result, CodeResult::Replayed);
    // A replay is refused but counts no failure (see below).
    assert_eq!(again.authenticator.failures, 0);
    // The confirmation's own code cannot log in either.
    let confirm_code = verify(
        &user,
        &authenticator,
        &code_at(&key, t0()),
        t0() + Duration::seconds(10),
    );
    assert_eq!(confirm_code.result, CodeResult::Replayed);
}

/// R3: someone who saw one used code cannot lock its owner out by sending
/// it again and again; wrong codes still lock.
#[test]
fn replaying_a_used_code_never_locks_the_authenticator() {
    let (user, authenticator, key) = enrolled();
    let at = t0() + Duration::seconds(30);
    let code = code_at(&key, at);
    let mut state = verify(&user, &authenticator, &code, at).authenticator;
    for n in 1..=20 {
        let again = verify(&user, &state, &code, at + Duration::seconds(n));
        assert_eq!(again.result, CodeResult::Replayed, "replay {n}");
        assert_eq!(again.audit.denial_code.as_deref(), Some("replayed"));
        assert_eq!(
            (
                again.authenticator.failures,
                again.authenticator.locked_until
            ),
            (0, None),
            "replay {n}"
        );
        state = again.authenticator;
    }
    let mut wrong = state;
    for _ in 0..5 {
        wrong = verify(&user, &wrong, "000000", at + Duration::seconds(25)).authenticator;
    }
    assert!(wrong.locked_until.is_some(), "five wrong codes still lock");
}

#[test]
fn one_step_of_skew_is_tolerated_two_are_not() {
    let (user, authenticator, key) = enrolled();
    let now = t0() + Duration::minutes(10);
    let one_old = verify(
        &user,
        &authenticator,
        &code_at(&key, now - Duration::seconds(30)),
        now,
    );
    assert_eq!(one_old.result, CodeResult::Accepted);
    let one_ahead = verify(
        &user,
        &authenticator,
        &code_at(&key, now + Duration::seconds(30)),
        now,
    );
    assert_eq!(one_ahead.result, CodeResult::Accepted);
    let two_old = verify(
        &user,
        &authenticator,
        &code_at(&key, now - Duration::seconds(60)),
        now,
    );
    assert_eq!(two_old.result, CodeResult::InvalidCode);
}

#[test]
fn repeated_failures_lock_verification_for_a_growing_delay() {
    let (user, mut authenticator, key) = enrolled();
    let mut now = t0() + Duration::minutes(10);
    for attempt in 1..=5 {
        let v = verify(&user, &authenticator, "000000", now);
        assert_eq!(v.result, CodeResult::InvalidCode, "attempt {attempt}");
        assert_eq!(v.authenticator.failures, attempt);
        authenticator = v.authenticator;
    }
    assert_eq!(
        authenticator.locked_until,
        Some(now + Duration::seconds(30)),
        "the 5th failure locks 30 s"
    );

    // While locked even the right code is not checked, and nothing counts.
    now += Duration::seconds(10);
    let locked = verify(&user, &authenticator, &code_at(&key, now), now);
    assert_eq!(locked.result, CodeResult::Locked);
    assert_eq!(locked.authenticator, authenticator);
    assert_eq!(locked.audit.denial_code.as_deref(), Some("locked"));

    // After the delay another failure locks twice as long.
    now += Duration::seconds(25);
    let sixth = verify(&user, &authenticator, "000000", now);
    assert_eq!(sixth.result, CodeResult::InvalidCode);
    assert_eq!(sixth.authenticator.failures, 6);
    assert_eq!(
        sixth.authenticator.locked_until,
        Some(now + Duration::seconds(60))
    );

    // Released, a right code logs in and clears the count; the count held
    // across these separate calls because it lives in the stored state.
    now += Duration::seconds(61);
    let ok = verify(&user, &sixth.authenticator, &code_at(&key, now), now);
    assert_eq!(ok.result, CodeResult::Accepted);
    assert_eq!(
        (ok.authenticator.failures, ok.authenticator.locked_until),
        (0, None)
    );
}

#[test]
fn the_lockout_limit_is_configurable() {
    let (user, authenticator, _) = enrolled();
    let mut request = code_request(&user, &authenticator, "000000", t0() + Duration::minutes(5));
    request.lockout = LockoutPolicy {
        max_failures: 2,
        base_delay_seconds: 300,
        max_delay_seconds: 600,
    };
    let first = engine().verify_login(&request).unwrap();
    assert_eq!(first.authenticator.locked_until, None);
    request.authenticator = first.authenticator;
    let second = engine().verify_login(&request).unwrap();
    assert_eq!(
        second.authenticator.locked_until,
        Some(request.now + Duration::seconds(300))
    );
}

#[test]
fn r6_a_reset_clears_the_secret_and_the_next_login_demands_enrolment() {
    let (user, _, _) = enrolled();
    let outcome = decide(&request(&user, Action::ResetOwnMfa));
    let Some(Change::User(change)) = outcome.change else {
        panic!("{outcome:?}")
    };
    assert_eq!(
        change.authenticator,
        Authenticator::default(),
        "no key, no counters left"
    );
    assert_eq!(engine().login_step(&change.user).unwrap(), LoginStep::Enrol);
}

#[test]
fn r5_enforcement_makes_a_user_without_mfa_enrol() {
    let off = user("dave", Role::SubUser, &org("acme", false), MfaStatus::Off);
    assert_eq!(
        engine().login_step(&off).unwrap(),
        LoginStep::None,
        "R1/R3: password only"
    );
    let enforced = user("dave", Role::SubUser, &org("acme", true), MfaStatus::Off);
    assert_eq!(engine().login_step(&enforced).unwrap(), LoginStep::Enrol);
    let root = user("ada", Role::Root, &org("acme", true), MfaStatus::Off);
    assert_eq!(
        engine().login_step(&root).unwrap(),
        LoginStep::Enrol,
        "the root included"
    );
    assert!(
        start(&enforced, &Authenticator::default())
            .authenticator
            .pending
            .is_some()
    );
}

#[test]
fn the_uri_parses_back_and_the_qr_code_decodes_to_it() {
    let enrolment = start(&due_user(), &Authenticator::default());
    let key = enrolment.authenticator.pending.clone().unwrap();
    let shown = enrolment.key.expect("allowed: a key to show");
    let uri = &shown.uri;
    assert!(
        uri.starts_with("otpauth://totp/Acme%20Cloud:alice?"),
        "{uri}"
    );
    for part in [
        "issuer=Acme%20Cloud",
        "algorithm=SHA1",
        "digits=6",
        "period=30",
    ] {
        assert!(uri.contains(part), "{uri} lacks {part}");
    }
    let parsed = Totp::from_url(uri).expect("totp-rs parses the URI");
    assert_eq!(parsed.secret().as_bytes(), key.secret.as_slice());
    assert_eq!(parsed.issuer(), Some("Acme Cloud"));
    assert_eq!(parsed.account_name(), "alice");
    assert_eq!(
        (parsed.digits(), parsed.step(), parsed.algorithm()),
        (6, 30, Algorithm::SHA1)
    );

    let image = image::load_from_memory(&shown.qr_png)
        .expect("a PNG")
        .to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(image);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1);
    let (_, content) = grids[0].decode().expect("the QR code decodes");
    let png_totp = Totp::from_url(&content).expect("the QR holds an otpauth URI");
    assert_eq!(png_totp.secret().as_bytes(), key.secret.as_slice());
    assert!(shown.qr_text.contains('▀') && shown.qr_text.lines().count() > 10);
}

#[test]
fn bad_authenticator_requests_name_the_field() {
    let (active_user, authenticator, _) = enrolled();
    let err = engine()
        .start_enrolment(&EnrolmentRequest {
            user: active_user.clone(),
            session: login_session(t0()),
            authenticator: authenticator.clone(),
            now: t0(),
            issuer: "Acme".into(),
        })
        .expect_err("already enrolled");
    assert!(
        matches!(&err, Error::InvalidRequest(mfa_reset::RequestError { field, .. }) if field == "user.mfa"),
        "{err}"
    );

    let err = engine()
        .start_enrolment(&EnrolmentRequest {
            user: due_user(),
            session: login_session(t0()),
            authenticator: Authenticator::default(),
            now: t0(),
            issuer: "Acme: evil".into(),
        })
        .expect_err("colon in issuer");
    assert!(
        matches!(&err, Error::InvalidRequest(mfa_reset::RequestError { field, .. }) if field == "issuer"),
        "{err}"
    );

    let err = engine()
        .verify_login(&code_request(
            &active_user,
            &Authenticator::default(),
            "123456",
            t0(),
        ))
        .expect_err("no key stored");
    assert!(
        matches!(&err, Error::InvalidRequest(mfa_reset::RequestError { field, .. }) if field == "authenticator.active"),
        "{err}"
    );

    let err = engine()
        .confirm_enrolment(&code_request(
            &due_user(),
            &Authenticator::default(),
            "123456",
            t0(),
        ))
        .expect_err("nothing pending");
    assert!(
        matches!(&err, Error::InvalidRequest(mfa_reset::RequestError { field, .. }) if field == "authenticator.pending"),
        "{err}"
    );

    let mut bad_lockout = code_request(&active_user, &authenticator, "123456", t0());
    bad_lockout.lockout.max_failures = 0;
    let err = engine().verify_login(&bad_lockout).expect_err("zero limit");
    assert!(
        matches!(&err, Error::InvalidRequest(mfa_reset::RequestError { field, .. }) if field == "lockout"),
        "{err}"
    );

    let letters = verify(
        &active_user,
        &authenticator,
        "abcdef",
        t0() + Duration::minutes(1),
    );
    assert_eq!(
        letters.result,
        CodeResult::InvalidCode,
        "garbage is a wrong code, and counts"
    );
    assert_eq!(letters.authenticator.failures, 1);
}

/// Everything logged while `f` runs (and before, in this process).
fn captured_logs(f: impl FnOnce(&Engine)) -> String {
    common::logs::capture();
    f(engine());
    common::logs::captured()
}

#[test]
fn r12_neither_code_nor_secret_reaches_audit_records_or_logs() {
    let mut audits = Vec::new();
    let mut secrets = Vec::new();
    let mut codes = Vec::new();
    let logs = captured_logs(|engine| {
        let user = due_user();
        let enrolment = engine
            .start_enrolment(&EnrolmentRequest {
                user: user.clone(),
                session: login_session(t0()),
                authenticator: Authenticator::default(),
                now: t0(),
                issuer: "Acme".into(),
            })
            .unwrap();
        let key = enrolment.authenticator.pending.clone().unwrap();
        secrets.push(data_encoding_base32(&key.secret));
        audits.push(enrolment.audit.clone());
        let wrong = "999999".to_string();
        let v = engine
            .confirm_enrolment(&code_request(&user, &enrolment.authenticator, &wrong, t0()))
            .unwrap();
        audits.push(v.audit.clone());
        let code = code_at(&key, t0());
        let v = engine
            .confirm_enrolment(&code_request(&user, &v.authenticator, &code, t0()))
            .unwrap();
        audits.push(v.audit.clone());
        let later = t0() + Duration::seconds(30);
        let login_code = code_at(&key, later);
        let login = engine
            .verify_login(&code_request(&v.user, &v.authenticator, &login_code, later))
            .unwrap();
        audits.push(login.audit.clone());
        codes.extend([wrong, code, login_code]);
    });
    let actions: Vec<_> = audits
        .iter()
        .map(|a| (a.action.as_str(), a.allowed))
        .collect();
    assert_eq!(
        actions,
        [
            ("start_enrolment", true),
            ("confirm_enrolment", false),
            ("confirm_enrolment", true),
            ("verify_code", true)
        ]
    );
    assert!(
        logs.contains("verify_code") && logs.contains("confirm_enrolment"),
        "the steps are logged: {logs}"
    );
    let audit_json = serde_json::to_string(&audits).unwrap();
    for secret in &secrets {
        assert!(!logs.contains(secret.as_str()) && !audit_json.contains(secret.as_str()));
    }
    for code in &codes {
        assert!(!contains_number(&logs, code), "code {code} in logs: {logs}");
        assert!(
            !contains_number(&audit_json, code),
            "code {code} in audit: {audit_json}"
        );
    }
}

/// Whether `number` is in `text` as a number of its own: the wasm
/// runtime's trace of random u64s holds any six digits inside longer ones.
fn contains_number(text: &str, number: &str) -> bool {
    text.match_indices(number).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + number.len()..].chars().next();
        !before.is_some_and(|c| c.is_ascii_digit()) && !after.is_some_and(|c| c.is_ascii_digit())
    })
}

fn data_encoding_base32(bytes: &[u8]) -> String {
    totp_rs::Secret::from(bytes.to_vec()).to_base32()
}

/// R3, R7: the login steps are decided by the policies. An expired session
/// cannot enrol, confirm or send codes: no key is drawn, no code is checked, no
/// failure counts, and the denial is audited with the policy that decided it.
#[test]
fn r7_login_steps_from_an_expired_session_are_denied_and_count_nothing() {
    let expired = Session {
        login_at: t0() - Duration::days(31),
        last_activity_at: t0() - Duration::days(31),
        mfa_satisfied: false,
        recovery_code_login: false,
    };
    let enrolment = engine()
        .start_enrolment(&EnrolmentRequest {
            user: due_user(),
            session: expired,
            authenticator: Authenticator::default(),
            now: t0(),
            issuer: "Acme".into(),
        })
        .expect("a decision, not an error");
    assert!(!enrolment.decision.allowed);
    assert_eq!(
        enrolment.decision.denial_code.as_deref(),
        Some("session-expired")
    );
    assert!(enrolment.key.is_none(), "no key for an expired session");
    assert_eq!(enrolment.authenticator, Authenticator::default());
    assert_eq!(
        (enrolment.audit.action.as_str(), enrolment.audit.allowed),
        ("start_enrolment", false)
    );
    assert!(
        enrolment
            .audit
            .policy_ids
            .contains(&"session-idle-limit".to_string())
    );

    let (user, authenticator, key) = enrolled();
    for step in [true, false] {
        let mut request = code_request(
            &user,
            &authenticator,
            &code_at(&key, t0() + Duration::seconds(60)),
            t0() + Duration::seconds(60),
        );
        request.session = expired;
        let v = if step {
            engine().verify_login(&request)
        } else {
            engine().confirm_enrolment(&CodeRequest {
                user: due_user(),
                ..request.clone()
            })
        }
        .expect("a decision, not an error");
        assert_eq!(v.result, CodeResult::Denied);
        assert_eq!(v.decision.denial_code.as_deref(), Some("session-expired"));
        assert_eq!(v.authenticator, request.authenticator, "nothing counted");
        assert!(!v.audit.allowed);
    }
    // The same code from an active session of the login is accepted.
    let now = t0() + Duration::seconds(60);
    let v = engine()
        .verify_login(&code_request(
            &user,
            &authenticator,
            &code_at(&key, now),
            now,
        ))
        .unwrap();
    assert_eq!(v.result, CodeResult::Accepted);
    assert_eq!(v.decision.policy_ids, ["login-steps-of-own-account"]);
    assert_eq!(v.audit.policy_ids, ["login-steps-of-own-account"]);
}

/// R7: the engine counts whole milliseconds. A time with finer digits is
/// refused naming its field, in every call, rather than cut in a direction
/// that could move a session across its limit.
#[test]
fn times_finer_than_a_millisecond_are_refused_naming_the_field() {
    let fine = Duration::microseconds(500);
    let field_of = |e: Error| match e {
        Error::InvalidRequest(mfa_reset::RequestError { field, message }) => {
            assert!(message.contains("millisecond"), "{message}");
            field
        }
        other => panic!("{other}"),
    };
    let ada = root("ada", &org("acme", false));
    let mut request = common::request(&ada, Action::ResetOwnMfa);
    request.now += fine;
    assert_eq!(field_of(engine().decide(&request).unwrap_err()), "now");
    let mut request = common::request(&ada, Action::ResetOwnMfa);
    request.session.last_activity_at -= fine;
    assert_eq!(
        field_of(engine().decide(&request).unwrap_err()),
        "session.last_activity_at"
    );

    let (user, authenticator, key) = enrolled();
    let at = t0() + Duration::seconds(30);
    let mut fine_request = code_request(&user, &authenticator, &code_at(&key, at), at);
    fine_request.session.login_at -= fine;
    assert_eq!(
        field_of(engine().verify_login(&fine_request).unwrap_err()),
        "session.login_at"
    );
    let locked = Authenticator {
        locked_until: Some(at + fine),
        ..authenticator.clone()
    };
    let fine_request = code_request(&user, &locked, "123456", at);
    assert_eq!(
        field_of(engine().verify_login(&fine_request).unwrap_err()),
        "authenticator.locked_until"
    );
    // The same request in whole milliseconds is answered.
    let whole = code_request(&user, &authenticator, &code_at(&key, at), at);
    assert_eq!(
        engine().verify_login(&whole).unwrap().result,
        CodeResult::Accepted
    );
}

/// The `enroll` command on the machine's clock (microseconds and all) works:
/// it reads the clock to the millisecond, as the engine counts.
#[test]
fn the_enroll_command_reads_the_clock_to_the_millisecond() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("alice.json");
    let out = common::mfa_reset_command()
        .arg("enroll")
        .arg("--state")
        .arg(&state)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("otpauth://totp/"), "{stdout}");
}
