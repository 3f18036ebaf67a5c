//! The decision log and what it is for: a recorded day of traffic replayed
//! under candidate sets (`policies replay`), checked against deciding each
//! recorded request by hand; and `serve` refusing a reload that grants new
//! access (`--no-new-access`) or flips too many recent decisions
//! (`max_flipped_share`).

use crate::common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use common::policy_edits::{cross_organization_roots, policy_copy, roots_only_enable};
use common::served::Served;
use common::service::*;
use mfa_reset::PolicySource;
use mfa_reset_service::{RecordedDecision, ReloadGate, read_recorded_decisions};
use reqwest::StatusCode;

/// A day of traffic: 24 hourly rounds of console actions, reads and
/// forward-auth by five users of two organizations (allowed and denied,
/// cross-organization attempts among them), plus an enrolment (login
/// steps). Returns gina's new TOTP key.
async fn a_day_of_traffic(svc: &TestService) -> String {
    let base = &svc.base;
    let (ada, bob, carol) = (
        login(base, "ada").await,
        login(base, "bob").await,
        login(base, "carol").await,
    );
    let (gus, gina) = (login(base, "gus").await, login(base, "gina").await);
    let (status, _) = call(base, &gina, "POST", "/api/me/mfa/enable", None).await;
    assert_eq!(status, StatusCode::OK);
    let key = enrol(base, &gina, &svc.clock).await;
    for hour in 0..24 {
        let route = |uri: &'static str| [("x-original-method", "GET"), ("x-original-uri", uri)];
        forward(base, "/forward-auth", Some(&bob), &route("/app/home"), None).await;
        forward(
            base,
            "/forward-auth",
            Some(&bob),
            &route("/app/admin/users"),
            None,
        )
        .await;
        forward(
            base,
            "/forward-auth",
            Some(&ada),
            &route("/app/audit/"),
            None,
        )
        .await;
        for (token, method, path) in [
            (&bob, "GET", "/api/org/users"),
            (&bob, "GET", "/api/session"),
            (&bob, "POST", "/api/me/mfa/enable"),
            (&carol, "POST", "/api/me/mfa/disable"),
            (&gus, "POST", "/api/org/users/bob/mfa/reset"),
            (&gus, "POST", "/api/org/users/carol/mfa/enable"),
            (&gus, "GET", "/api/org/users"),
            (&ada, "GET", "/api/org/users"),
            (&ada, "POST", "/api/org/users/ada/mfa/reset"),
            (&ada, "GET", "/api/audit?limit=5"),
        ] {
            let (status, body) = call(base, token, method, path, None).await;
            assert!(
                status == StatusCode::OK || status == StatusCode::FORBIDDEN,
                "hour {hour}: {method} {path}: {status} {body}"
            );
        }
        if hour == 3 {
            // An id that names no user: the caller's free text.
            let planted = "/api/org/users/%E2%80%AEplanted-by-bob%20hunter2/mfa/reset";
            let (status, _) = call(base, &ada, "POST", planted, None).await;
            assert_eq!(status, StatusCode::FORBIDDEN);
        }
        if hour % 6 == 0 {
            // Her own change: her session stays.
            let (status, _) = call(base, &carol, "POST", "/api/me/mfa/enable", None).await;
            assert_eq!(status, StatusCode::OK);
        }
        svc.clock.advance(time::Duration::hours(1));
    }
    key
}

/// Everything the service recorded, once its writer is done.
async fn recorded(url: &str) -> Vec<RecordedDecision> {
    let mut last = 0;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let decisions = read_recorded_decisions(url, 0, 1_000_000).await.unwrap();
        if decisions.len() == last && last > 0 {
            return decisions;
        }
        assert!(Instant::now() < deadline, "the decision log did not settle");
        last = decisions.len();
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Waits until the decision log's writer has stored `n` decisions.
async fn logged(database: &Path, n: usize) {
    let url = format!("sqlite://{}", database.display());
    let deadline = Instant::now() + Duration::from_secs(10);
    while read_recorded_decisions(&url, 0, 1_000_000)
        .await
        .unwrap()
        .len()
        < n
    {
        assert!(
            Instant::now() < deadline,
            "the decision log holds fewer than {n}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn verdict(allowed: bool, code: Option<&str>) -> String {
    match (allowed, code) {
        (true, _) => "allowed".into(),
        (false, Some(code)) => format!("denied [{code}]"),
        (false, None) => "denied".into(),
    }
}

/// Decides each recorded request under the set in `dir` with the engine
/// directly: (action, recorded, replayed) → count of changed outcomes.
fn by_hand(
    dir: &Path,
    decisions: &[RecordedDecision],
) -> BTreeMap<(String, String, String), usize> {
    let engine = common::builder()
        .with_policies(PolicySource::from_dir(dir, SUPPORT_URL).unwrap())
        .build()
        .unwrap();
    let mut changes = BTreeMap::new();
    for d in decisions {
        let Some(request) = &d.request else { continue };
        let now = engine.decide(request).unwrap().decision;
        let (was, is) = (
            verdict(d.allowed, d.denial_code.as_deref()),
            verdict(now.allowed, now.denial_code.as_deref()),
        );
        if was != is {
            *changes.entry((d.action.clone(), was, is)).or_default() += 1;
        }
    }
    changes
}

/// What `policies replay` printed: its groups, and its exit status.
fn replay_cli(
    database: &str,
    set: &Path,
) -> (BTreeMap<(String, String, String), usize>, i32, String) {
    let out = common::mfa_reset_command()
        .args([
            "policies",
            "replay",
            "--since",
            "40d",
            "--database",
            database,
        ])
        .arg(set)
        .output()
        .unwrap();
    let said =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    let mut groups = BTreeMap::new();
    for line in said.lines() {
        // "      24 × reset_user_mfa: denied [other-organization] → allowed"
        let Some((count, rest)) = line.trim().split_once(" × ") else {
            continue;
        };
        let (action, change) = rest.split_once(": ").unwrap();
        let (from, to) = change.split_once(" → ").unwrap();
        groups.insert(
            (action.into(), from.into(), to.into()),
            count.parse().unwrap(),
        );
    }
    (groups, out.status.code().unwrap_or(-1), said)
}

/// R12 traffic replayed: the shipped set gives back every recorded outcome;
/// a set without the organization check flips exactly the
/// cross-organization attempts; a tightening flips exactly what it
/// forbids — each as deciding every recorded request by hand says.
#[tokio::test(flavor = "multi_thread")]
async fn a_recorded_day_replays_with_exactly_the_flips_deciding_by_hand_finds() {
    let svc = TestService::start(|_, _| {}).await;
    let database = format!("sqlite://{}", svc.dir.path().join("state.db").display());
    let key = a_day_of_traffic(&svc).await;
    let TestService { service, dir, .. } = svc;
    service.stop().await;
    let decisions = recorded(&database).await;

    // What the log holds: every kind of decision, no secret.
    let actions: std::collections::BTreeSet<_> =
        decisions.iter().map(|d| d.action.as_str()).collect();
    for action in [
        "access_console",
        "administer_console",
        "read_organization_audit",
        "list_users",
        "view_session",
        "enable_own_mfa",
        "reset_user_mfa",
        "start_enrolment",
        "confirm_enrolment",
    ] {
        assert!(actions.contains(action), "{action} recorded: {actions:?}");
    }
    assert!(decisions.len() > 24 * 13, "{} decisions", decisions.len());
    let login_steps: Vec<_> = decisions.iter().filter(|d| d.request.is_none()).collect();
    assert!(
        login_steps
            .iter()
            .all(|d| d.action.ends_with("enrolment") || d.action == "verify_code"),
        "only login steps go without their request"
    );
    let stored = std::fs::read(dir.path().join("state.db")).unwrap();
    assert!(
        !String::from_utf8_lossy(&stored).contains(&key),
        "the TOTP key is nowhere in the database in the clear"
    );
    for d in &decisions {
        let json = serde_json::to_string(&d.request).unwrap();
        assert!(!json.contains(&key) && !json.contains("password"), "{json}");
        assert!(
            !json.contains("planted") && !json.contains('\u{202e}'),
            "free text kept: {json}"
        );
    }
    assert!(
        decisions.iter().any(|d| serde_json::to_string(&d.request)
            .unwrap()
            .contains("\"id\":\"(unknown)\"")),
        "an unknown target is recorded as unknown"
    );

    let sets = dir.path().join("sets");
    policy_copy(&sets, "shipped", |t| t);
    policy_copy(&sets, "no-organization-check", cross_organization_roots);
    policy_copy(&sets, "roots-only-enable", roots_only_enable);

    let (groups, status, said) = replay_cli(&database, &sets.join("shipped"));
    assert_eq!(
        (status, groups.len()),
        (0, 0),
        "the set in force gives back every outcome: {said}"
    );
    assert!(
        said.contains("0 of") && said.contains("would flip (0.00%)"),
        "{said}"
    );
    assert!(said.contains("2 not replayable (login steps"), "{said}");

    let (groups, status, said) = replay_cli(&database, &sets.join("no-organization-check"));
    println!("{said}");
    assert_eq!(status, 1, "{said}");
    assert_eq!(
        groups,
        by_hand(&sets.join("no-organization-check"), &decisions),
        "{said}"
    );
    let cross = (
        "reset_user_mfa".to_string(),
        "denied [other-organization]".to_string(),
        "allowed".to_string(),
    );
    assert_eq!(
        groups.get(&cross),
        Some(&24),
        "gus's 24 resets of bob flip: {said}"
    );
    assert!(
        said.contains("`gus` of `globex` on `bob` of `acme`"),
        "examples name who and whom: {said}"
    );

    let (groups, status, said) = replay_cli(&database, &sets.join("roots-only-enable"));
    assert_eq!(status, 1, "{said}");
    assert_eq!(
        groups,
        by_hand(&sets.join("roots-only-enable"), &decisions),
        "{said}"
    );
    assert!(
        groups
            .keys()
            .any(|(action, from, to)| action == "enable_own_mfa"
                && from == "allowed"
                && to == "denied [ask-your-root]"),
        "bob's and gina's enabling flips: {said}"
    );
    assert!(
        groups.keys().all(|(action, ..)| action == "enable_own_mfa"),
        "nothing else changes: {said}"
    );

    // The same day stored as earlier versions wrote it (each request's own
    // JSON, not the compact form) replays with the very same flips.
    let pool = sqlx::SqlitePool::connect(&database).await.unwrap();
    let stored: Vec<(String, String)> =
        sqlx::query_as("SELECT id, request FROM decision_log WHERE request IS NOT NULL")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert!(
        stored.iter().all(|(_, json)| json.starts_with("{\"v\":2,")),
        "this version writes the compact form"
    );
    let compact_groups = [
        replay_cli(&database, &sets.join("no-organization-check")).0,
        replay_cli(&database, &sets.join("roots-only-enable")).0,
    ];
    for d in decisions.iter().filter(|d| d.request.is_some()) {
        sqlx::query("UPDATE decision_log SET request = $1 WHERE id = $2")
            .bind(serde_json::to_string(&d.request).unwrap())
            .bind(&d.id)
            .execute(&pool)
            .await
            .unwrap();
    }
    let full_groups = [
        replay_cli(&database, &sets.join("no-organization-check")).0,
        replay_cli(&database, &sets.join("roots-only-enable")).0,
    ];
    assert_eq!(full_groups, compact_groups);
    assert!(!full_groups[0].is_empty() && !full_groups[1].is_empty());
    // A request in a form this version cannot read is counted against the
    // candidate, never skipped like a login step: a gate cannot pass on
    // decisions it could not read.
    let (newer, _) = &stored[0];
    sqlx::query("UPDATE decision_log SET request = '{\"v\":3}' WHERE id = $1")
        .bind(newer)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let (_, status, said) = replay_cli(&database, &sets.join("shipped"));
    assert_eq!(status, 1, "{said}");
    assert!(said.contains("does not read"), "{said}");

    // Replay only reads: the database file is left as it was.
    let before = std::fs::read(dir.path().join("state.db")).unwrap();
    replay_cli(&database, &sets.join("shipped"));
    assert_eq!(std::fs::read(dir.path().join("state.db")).unwrap(), before);
    // Nothing recorded (another database, or no log): an error, not "0 flips".
    let missing = format!("sqlite://{}", dir.path().join("nothing-here.db").display());
    let (_, status, said) = replay_cli(&missing, &sets.join("shipped"));
    assert_eq!(status, 2, "{said}");
    assert!(
        !dir.path().join("nothing-here.db").exists(),
        "replay created a database"
    );
    let empty = TestService::start(|c, _| c.decision_log = None).await;
    let empty_db = format!("sqlite://{}", empty.dir.path().join("state.db").display());
    let (_, status, said) = replay_cli(&empty_db, &sets.join("shipped"));
    assert_eq!(status, 2, "{said}");
    assert!(said.contains("no decision recorded"), "{said}");

    // Bad input: which argument, and why.
    let out = common::mfa_reset_command()
        .args([
            "policies",
            "replay",
            "--since",
            "7 days",
            "--database",
            &database,
        ])
        .arg(sets.join("shipped"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--since `7 days`"));
}

/// `serve --no-new-access` with a running service: a reload that widens
/// access is refused (the log tells the newly allowed request, the set in
/// force keeps deciding); one that only tightens is installed.
#[tokio::test(flavor = "multi_thread")]
async fn serve_no_new_access_refuses_a_widening_reload_and_takes_a_tightening() {
    let dir = tempfile::tempdir().unwrap();
    policy_copy(dir.path(), "policies", |t| t);
    let arg = |p: &str| dir.path().join(p).display().to_string();
    let served = Served::start(
        &[
            "--data-dir".into(),
            arg("data"),
            "--policies".into(),
            arg("policies"),
            "--policy-poll-ms".into(),
            "100".into(),
            "--no-new-access".into(),
        ],
        &[],
    )
    .await;
    let base = &served.base;
    let (gus, bob) = (login(base, "gus").await, login(base, "bob").await);
    let shipped = policy_revision(base).await;

    policy_copy(dir.path(), "policies", cross_organization_roots);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !served.log().contains("policy reload refused") {
        assert!(
            Instant::now() < deadline,
            "no refusal logged: {}",
            served.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log = served.log();
    assert!(
        log.contains("a root user may now reset the MFA of a sub-user of another organization"),
        "{log}"
    );
    assert_eq!(
        policy_revision(base).await,
        shipped,
        "the set in force keeps deciding"
    );
    let (status, body) = call(base, &gus, "POST", "/api/org/users/bob/mfa/reset", None).await;
    assert_eq!(
        (status, body["denial_code"].as_str()),
        (StatusCode::FORBIDDEN, Some("other-organization"))
    );

    policy_copy(dir.path(), "policies", roots_only_enable);
    let deadline = Instant::now() + Duration::from_secs(20);
    while policy_revision(base).await == shipped {
        assert!(
            Instant::now() < deadline,
            "the tightening was not installed: {}",
            served.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, body) = call(base, &bob, "POST", "/api/me/mfa/enable", None).await;
    assert_eq!(
        (status, body["denial_code"].as_str()),
        (StatusCode::FORBIDDEN, Some("ask-your-root")),
        "{body}"
    );
}

/// `max_flipped_share`: a reload that would flip more of the recent
/// decisions than allowed is refused; one that flips none is installed.
#[tokio::test(flavor = "multi_thread")]
async fn a_reload_flipping_too_many_recent_decisions_is_refused() {
    let svc = TestService::start(|config, dir| {
        policy_copy(dir, "policies", |t| t);
        config.policies_dir = Some(dir.join("policies"));
        config.reload_gate = ReloadGate {
            no_new_access: false,
            max_flipped_share: Some(0.05),
        };
    })
    .await;
    let base = &svc.base;
    let bob = login(base, "bob").await;
    for _ in 0..5 {
        call(base, &bob, "GET", "/api/session", None).await;
    }
    let (status, _) = call(base, &bob, "POST", "/api/me/mfa/enable", None).await;
    assert_eq!(status, StatusCode::OK, "recorded allowed: 1 of 6 decisions");
    logged(&svc.dir.path().join("state.db"), 6).await;
    let shipped = policy_revision(base).await;

    // Flips bob's enabling: 1 of 6 recent decisions (17%) > 5%.
    policy_copy(svc.dir.path(), "policies", roots_only_enable);
    let refused = |m: &str| {
        m.lines()
            .find(|l| l.starts_with("mfa_reset_policy_reloads_total{result=\"refused\"}"))
            .map(|l| l.ends_with(" 1"))
            .unwrap_or(false)
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while !refused(&metrics(base).await) {
        assert!(
            Instant::now() < deadline,
            "not refused: {}",
            metrics(base).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(policy_revision(base).await, shipped);

    // The shipped set plus a permit that adds nothing: no decision flips.
    policy_copy(svc.dir.path(), "policies", |t| {
        t + "\n@id(\"also-own-console\")\npermit (principal, action == MfaReset::Action::\"access_console\", resource)\n\
             when { resource == principal.organization };\n"
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    while policy_revision(base).await == shipped {
        assert!(
            Instant::now() < deadline,
            "a reload flipping nothing was not installed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, body) = call(base, &bob, "GET", "/api/session", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// The flip gate compares the candidate with the set in force deciding the
/// same recorded requests — not with outcomes recorded under an older set,
/// which would refuse every later edit (here: after a restart installed a
/// tightening, a harmless edit must still go in).
#[tokio::test(flavor = "multi_thread")]
async fn the_flip_gate_compares_with_the_set_in_force_not_with_old_records() {
    let gate = ReloadGate {
        no_new_access: false,
        max_flipped_share: Some(0.1),
    };
    let first = TestService::start(|config, dir| {
        policy_copy(dir, "policies", |t| t);
        config.policies_dir = Some(dir.join("policies"));
        config.reload_gate = gate.clone();
    })
    .await;
    let bob = login(&first.base, "bob").await;
    for _ in 0..5 {
        call(&first.base, &bob, "GET", "/api/session", None).await;
    }
    let (status, _) = call(&first.base, &bob, "POST", "/api/me/mfa/enable", None).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "recorded allowed under the shipped set"
    );
    logged(&first.dir.path().join("state.db"), 6).await;
    let TestService { service, dir, .. } = first;
    service.stop().await;

    // A restart installs the tightening (1 of 6 records differs from it).
    policy_copy(dir.path(), "policies", roots_only_enable);
    let mut config = config(
        format!("sqlite://{}", dir.path().join("state.db").display()),
        mfa_reset_service::SecretBox::generate_base64(),
    );
    config.policies_dir = Some(dir.path().join("policies"));
    config.reload_gate = gate;
    let service = mfa_reset_service::Service::start(config).await.unwrap();
    let base = format!("http://{}", service.local_addr());
    let tightened = policy_revision(&base).await;

    policy_copy(dir.path(), "policies", |t| {
        roots_only_enable(t)
            + "\n@id(\"also-own-console\")\npermit (principal, action == MfaReset::Action::\"access_console\", resource)\n\
               when { resource == principal.organization };\n"
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    while policy_revision(&base).await == tightened {
        assert!(
            Instant::now() < deadline,
            "a harmless edit was refused: {}",
            metrics(&base).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    service.stop().await;
}
