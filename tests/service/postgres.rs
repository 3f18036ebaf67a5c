//! A real PostgreSQL (Debian's package) started in a temp dir: two service
//! replicas on one database, 200 concurrent conflicting changes to one user,
//! two roots acting on each other without deadlocks, and the database lost
//! under load.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::postgres::{Postgres, replicas, wait_ready};
use common::service::*;
use mfa_reset_service::{SecretBox, Service};
use reqwest::StatusCode;
use sqlx::Row;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_200_concurrent_conflicting_changes_stay_consistent() {
    let pg = Postgres::start();
    wait_ready(&pg.url()).await;
    let key = SecretBox::generate_base64();
    // Both replicas start together: migrations and the seed race, and one wins.
    let (a, b) = tokio::join!(
        Service::start(config(pg.url(), key.clone())),
        Service::start(config(pg.url(), key))
    );
    let (a, b) = (a.expect("replica a starts"), b.expect("replica b starts"));
    let bases = [
        format!("http://{}", a.local_addr()),
        format!("http://{}", b.local_addr()),
    ];
    // A session made on one replica works on the other.
    let ada = login(&bases[0], "ada").await;

    // ada flips bob's MFA on and off, 200 times at once, across both
    // replicas. Only alternating changes can be allowed (enable needs MFA
    // off, disable needs it on), so a lost update would show.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..200 {
        let base = bases[i % 2].clone();
        let action = if i % 4 < 2 { "enable" } else { "disable" };
        let (client, ada) = (client.clone(), ada.clone());
        tasks.push(tokio::spawn(async move {
            let response = client
                .post(format!("{base}/api/org/users/bob/mfa/{action}"))
                .bearer_auth(&ada)
                .header("content-type", "application/json")
                .send()
                .await
                .unwrap();
            response.status()
        }));
    }
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    let count = |s: StatusCode| statuses.iter().filter(|&&x| x == s).count();
    let (allowed, denied, conflicts) = (
        count(StatusCode::OK),
        count(StatusCode::FORBIDDEN),
        count(StatusCode::CONFLICT),
    );
    assert_eq!(
        allowed + denied + conflicts,
        200,
        "only 200, 403 and 409: {statuses:?}"
    );
    assert!(allowed > 0, "some changes commit");

    let pool = sqlx::PgPool::connect(&pg.url()).await.unwrap();
    let bob = sqlx::query("SELECT version, mfa_status FROM users WHERE id = 'bob'")
        .fetch_one(&pool)
        .await
        .unwrap();
    let audits = sqlx::query(
        "SELECT action, allowed, target_version FROM audit_log WHERE target = 'bob' ORDER BY target_version, id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let changes: Vec<(String, i64)> = audits
        .iter()
        .filter(|r| r.get::<i64, _>("allowed") == 1)
        .map(|r| (r.get("action"), r.get("target_version")))
        .collect();
    // Exactly one audit record per committed change, and one per denial.
    assert_eq!(
        changes.len(),
        allowed,
        "allowed audit records = 200 responses"
    );
    assert_eq!(
        audits.len() - changes.len(),
        denied,
        "denied audit records = 403 responses"
    );
    // The committed changes form one unbroken history: versions 1..=n,
    // alternating enable and disable, starting from MFA off.
    for (i, (action, version)) in changes.iter().enumerate() {
        assert_eq!(
            *version,
            i as i64 + 1,
            "version history has a gap or a duplicate: {changes:?}"
        );
        let expected = if i % 2 == 0 {
            "enable_user_mfa"
        } else {
            "disable_user_mfa"
        };
        assert_eq!(
            action, expected,
            "change {i} breaks the alternation: {changes:?}"
        );
    }
    assert_eq!(bob.get::<i64, _>("version"), allowed as i64);
    let expected_status = if allowed % 2 == 1 {
        "enrolment_due"
    } else {
        "off"
    };
    assert_eq!(bob.get::<String, _>("mfa_status"), expected_status);
    eprintln!(
        "200 concurrent changes: {allowed} committed, {denied} denied, {conflicts} conflicts"
    );

    pool.close().await;
    a.stop().await;
    b.stop().await;
}

/// R9, R12: ada (root of acme) and gus (root of globex) act on each other at
/// once, 400 times across two replicas. Every attempt is denied and
/// audited in both organizations, and the database never has to break a
/// deadlock (a denial locks no row; changes lock rows in one global order).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_roots_acting_on_each_other_never_deadlock() {
    let pg = Postgres::start();
    wait_ready(&pg.url()).await;
    let key = SecretBox::generate_base64();
    let a = Service::start(config(pg.url(), key.clone()))
        .await
        .expect("replica a starts");
    let b = Service::start(config(pg.url(), key))
        .await
        .expect("replica b starts");
    let bases = [
        format!("http://{}", a.local_addr()),
        format!("http://{}", b.local_addr()),
    ];
    let ada = login(&bases[0], "ada").await;
    let gus = login(&bases[1], "gus").await;
    // Something to reset on both sides: each root turns its own MFA on.
    for (base, token) in [(&bases[0], &ada), (&bases[1], &gus)] {
        let (status, body) = call(base, token, "POST", "/api/me/mfa/enable", None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..400 {
        let base = bases[i % 2].clone();
        let (token, target) = if (i / 2) % 2 == 0 {
            (ada.clone(), "gus")
        } else {
            (gus.clone(), "ada")
        };
        let action = ["reset", "enable", "disable"][i % 3];
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            client
                .post(format!("{base}/api/org/users/{target}/mfa/{action}"))
                .bearer_auth(&token)
                .header("content-type", "application/json")
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), StatusCode::FORBIDDEN);
    }
    let log = pg.log();
    let deadlocks = log.matches("deadlock detected").count();
    assert_eq!(deadlocks, 0, "PostgreSQL broke deadlocks:\n{log}");
    // Each attempt is in the caller's trail and the target's: 800 rows.
    let pool = sqlx::PgPool::connect(&pg.url()).await.unwrap();
    let rows: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE allowed = 0 AND action LIKE '%_user_mfa'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(rows, 800);
    pool.close().await;
    a.stop().await;
    b.stop().await;
}

/// One request of the load: when it was sent and answered, and the status.
struct Answered {
    sent: Instant,
    done: Instant,
    status: StatusCode,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn database_loss_under_load_fails_closed_and_recovers_by_itself() {
    let mut pg = Postgres::start();
    wait_ready(&pg.url()).await;
    let service = Service::start(config(pg.url(), SecretBox::generate_base64()))
        .await
        .expect("the service starts");
    let base = format!("http://{}", service.local_addr());
    let (ada, bob) = (login(&base, "ada").await, login(&base, "bob").await);
    let gateway = [
        ("x-original-method", "GET"),
        ("x-original-uri", "/app/home"),
    ];
    let (status, _) = forward(&base, "/forward-auth", Some(&bob), &gateway, None).await;
    assert_eq!(status, StatusCode::OK, "bob may see the console home");

    // Load: forward-auth for bob and a console read for ada, until stopped.
    let stop = Arc::new(AtomicBool::new(false));
    // Set once /health is ok again; the load counts what it sends after.
    let healthy = Arc::new(AtomicBool::new(false));
    let sent_after_recovery = Arc::new(AtomicUsize::new(0));
    let mut load = Vec::new();
    for worker in 0..4 {
        let (base, stop) = (base.clone(), stop.clone());
        let (healthy, sent_after_recovery) = (healthy.clone(), sent_after_recovery.clone());
        let token = if worker % 2 == 0 {
            bob.clone()
        } else {
            ada.clone()
        };
        load.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut answers = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                if healthy.load(Ordering::Relaxed) {
                    sent_after_recovery.fetch_add(1, Ordering::Relaxed);
                }
                let sent = Instant::now();
                let request = if worker % 2 == 0 {
                    client
                        .get(format!("{base}/forward-auth"))
                        .header("x-original-method", "GET")
                        .header("x-original-uri", "/app/home")
                } else {
                    client.get(format!("{base}/api/org/users"))
                };
                let status = request.bearer_auth(&token).send().await.unwrap().status();
                answers.push((
                    worker,
                    Answered {
                        sent,
                        done: Instant::now(),
                        status,
                    },
                ));
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            answers
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    // The database goes away.
    pg.stop();
    let gone = Instant::now();
    let (status, body) = call(&base, &ada, "GET", "/api/org/users", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "unavailable", "{body}");
    let (status, headers) = forward(&base, "/forward-auth", Some(&bob), &gateway, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "fails closed: {headers:?}");
    let health = client().get(format!("{base}/health")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::SERVICE_UNAVAILABLE);
    let health: serde_json::Value = health.json().await.unwrap();
    assert!(
        health["database"]
            .as_str()
            .is_some_and(|why| why.contains("unreachable")),
        "/health says why: {health}"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;

    // It comes back; the service recovers without a restart.
    let back = Instant::now();
    pg.spawn();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = client()
            .get(format!("{base}/health"))
            .send()
            .await
            .unwrap()
            .status();
        if status == StatusCode::OK {
            break;
        }
        assert!(Instant::now() < deadline, "no recovery within 30 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let recovered = back.elapsed();
    let (status, _) = forward(&base, "/forward-auth", Some(&bob), &gateway, None).await;
    assert_eq!(status, StatusCode::OK, "the session survived the outage");
    let (status, body) = call(&base, &ada, "GET", "/api/org/users", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // A request sent during the outage may still wait out its connection
    // timeout (3 s): let every worker send again before stopping.
    healthy.store(true, Ordering::Relaxed);
    let deadline = Instant::now() + Duration::from_secs(15);
    while sent_after_recovery.load(Ordering::Relaxed) < 40 {
        assert!(Instant::now() < deadline, "the load did not resume");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    stop.store(true, Ordering::Relaxed);
    let mut answers = Vec::new();
    for worker in load {
        answers.extend(worker.await.unwrap());
    }
    let during = |a: &Answered| a.sent > gone && a.done < back;
    let mut outage = 0;
    for (worker, a) in &answers {
        let forward_auth = worker % 2 == 0;
        // Never anything but an answer the API documents; never a 500.
        let expected: &[StatusCode] = if forward_auth {
            &[StatusCode::OK, StatusCode::FORBIDDEN]
        } else {
            &[StatusCode::OK, StatusCode::SERVICE_UNAVAILABLE]
        };
        assert!(
            expected.contains(&a.status),
            "worker {worker}: {}",
            a.status
        );
        if during(a) {
            outage += 1;
            assert_ne!(
                a.status,
                StatusCode::OK,
                "allowed while the database was gone"
            );
        }
    }
    assert!(outage > 0, "the load ran during the outage");
    let after: Vec<_> = answers
        .iter()
        .filter(|(_, a)| a.sent > back + recovered)
        .collect();
    let refused: Vec<_> = after
        .iter()
        .filter(|(_, a)| a.status != StatusCode::OK)
        .map(|(worker, a)| {
            format!(
                "worker {worker}: {} sent {} ms after /health said ok",
                a.status,
                (a.sent - (back + recovered)).as_millis()
            )
        })
        .collect();
    assert!(
        after.iter().any(|(w, _)| w % 2 == 0) && after.iter().any(|(w, _)| w % 2 == 1),
        "forward-auth and console reads both ran after the recovery"
    );
    assert!(
        refused.is_empty(),
        "every request after the recovery is answered normally: {refused:?}"
    );
    println!(
        "{} requests, {outage} during the outage (none allowed), recovered {:.1} s after the database came back",
        answers.len(),
        recovered.as_secs_f64()
    );
}

/// Kubernetes-style probes: while PostgreSQL is stopped `/readyz` answers
/// 503 and names the database (no error text, no URL) but `/livez` stays
/// 200, so a liveness probe never restarts the replicas of a database
/// outage; when it is back, both answer 200 without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn liveness_stays_up_while_readiness_follows_the_database() {
    let mut pg = Postgres::start();
    let (_service, bases, _) = replicas(&pg, 1).await;
    let base = bases[0].clone();
    let probe = |path: &'static str| {
        let base = base.clone();
        async move {
            let answer = client().get(format!("{base}{path}")).send().await.unwrap();
            let status = answer.status();
            (status, answer.text().await.unwrap())
        }
    };
    let (status, body) = probe("/readyz").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"status": "ready", "database": "ok", "policies": "ok"})
    );
    assert_eq!(probe("/livez").await.0, StatusCode::OK);

    pg.stop();
    let (status, text) = probe("/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{text}");
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"status": "not_ready", "database": "unavailable", "policies": "ok"})
    );
    assert!(
        !text.contains("postgres") && !text.contains("127.0.0.1"),
        "{text}"
    );
    let (status, text) = probe("/livez").await;
    assert_eq!(
        status,
        StatusCode::OK,
        "liveness asks nothing of the database: {text}"
    );
    assert_eq!(probe("/health").await.0, StatusCode::SERVICE_UNAVAILABLE);

    pg.spawn();
    let deadline = Instant::now() + Duration::from_secs(30);
    while probe("/readyz").await.0 != StatusCode::OK {
        assert!(Instant::now() < deadline, "not ready again within 30 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(probe("/livez").await.0, StatusCode::OK);
    assert_eq!(probe("/health").await.0, StatusCode::OK);
}
