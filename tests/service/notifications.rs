//! Notifications of MFA changes, never lost: every allowed reset, enable,
//! disable, enrolment and enforcement change writes a signed webhook event
//! in its own transaction (the outbox), delivered by a background worker
//! until the receiver answers 2xx, surviving kills and receiver outages,
//! never holding up a decision. Receivers deduplicate on `webhook-id`, so a
//! flaky receiver sees each event's effect exactly once.
//! `MFA_RESET_NOTIFY_KILLS` sets the kills (3 in the suite; the long run is
//! `MFA_RESET_NOTIFY_KILLS=20 cargo test --workspace --test service notifications::`).

use crate::common;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use axum::response::IntoResponse;
use common::postgres::{Postgres, wait_ready};
use common::served::Served;
use common::service::{TestService, call, enrol, login, metrics};
use mfa_reset_service::{SecretBox, Webhook, WebhookKey};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::Row;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn kills() -> usize {
    std::env::var("MFA_RESET_NOTIFY_KILLS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(3)
}

/// What the receiver saw.
#[derive(Default)]
struct Inbox {
    /// Event id → body: the effect, applied once per id.
    effects: Mutex<HashMap<String, Value>>,
    deliveries: AtomicUsize,
    duplicates: AtomicUsize,
    /// Deliveries applied but not acknowledged (500 after applying, or an
    /// answer too late): each may rightly come again.
    applied_unacknowledged: AtomicUsize,
    bad_signatures: AtomicUsize,
    /// Misbehave on some deliveries (fail before or after applying, hang).
    flaky: AtomicBool,
    /// Deliveries not yet answered, by event id, with their arrival.
    in_flight: Mutex<HashMap<String, Instant>>,
    /// Deliveries of an id arriving while another of it was unanswered and
    /// its sender still waiting: two claims of one event at once.
    overlaps: AtomicUsize,
}

/// A webhook receiver on loopback, as a careful one is written: checks the
/// signature and its timestamp, applies each event id once. It can be
/// taken down (connections refused) and brought back on the same port.
struct Receiver {
    addr: SocketAddr,
    inbox: Arc<Inbox>,
    server: Option<tokio::task::JoinHandle<()>>,
}

impl Receiver {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut receiver = Self {
            addr,
            inbox: Arc::default(),
            server: None,
        };
        receiver.serve(listener);
        receiver
    }

    fn url(&self) -> String {
        format!("http://{}/hooks/mfa", self.addr)
    }

    fn serve(&mut self, listener: tokio::net::TcpListener) {
        let inbox = self.inbox.clone();
        let app = axum::Router::new().route(
            "/hooks/mfa",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let inbox = inbox.clone();
                async move { receive(&inbox, &headers, &body).await }
            }),
        );
        self.server = Some(tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        }));
    }

    /// An outage: nothing listens on the port.
    fn down(&mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }

    async fn up(&mut self) {
        if self.server.is_some() {
            return;
        }
        let listener = loop {
            match tokio::net::TcpListener::bind(self.addr).await {
                Ok(l) => break l,
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        };
        self.serve(listener);
    }
}

async fn receive(inbox: &Inbox, headers: &HeaderMap, body: &[u8]) -> axum::response::Response {
    // No keep-alive: a taken-down receiver refuses every delivery.
    let close = [("connection", "close")];
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(id), Some(timestamp), Some(signature), Ok(body)) = (
        header("webhook-id"),
        header("webhook-timestamp").and_then(|t| t.parse::<i64>().ok()),
        header("webhook-signature"),
        std::str::from_utf8(body),
    ) else {
        inbox.bad_signatures.fetch_add(1, Ordering::SeqCst);
        return (AxumStatus::BAD_REQUEST, close).into_response();
    };
    let key = WebhookKey::parse(SECRET).unwrap();
    let fresh = (time::OffsetDateTime::now_utc().unix_timestamp() - timestamp).abs() <= 300;
    if key.sign(id, timestamp, body) != signature || !fresh {
        inbox.bad_signatures.fetch_add(1, Ordering::SeqCst);
        return (AxumStatus::UNAUTHORIZED, close).into_response();
    }
    {
        let mut in_flight = inbox.in_flight.lock().unwrap();
        // Senders give up after 300 ms and wait at least 25 ms to retry;
        // an earlier second delivery came from a second claim.
        if in_flight
            .get(id)
            .is_some_and(|at| at.elapsed() < Duration::from_millis(250))
        {
            inbox.overlaps.fetch_add(1, Ordering::SeqCst);
        }
        in_flight.insert(id.to_string(), Instant::now());
    }
    let answer = respond(inbox, id, body).await;
    inbox.in_flight.lock().unwrap().remove(id);
    answer
}

/// Applies `id` once, and answers as the flaky mode says.
async fn respond(inbox: &Inbox, id: &str, body: &str) -> axum::response::Response {
    let close = [("connection", "close")];
    let n = inbox.deliveries.fetch_add(1, Ordering::SeqCst);
    let flaky = inbox.flaky.load(Ordering::SeqCst);
    if flaky && n % 7 == 3 {
        return (AxumStatus::SERVICE_UNAVAILABLE, close).into_response();
    }
    {
        let mut effects = inbox.effects.lock().unwrap();
        if effects.contains_key(id) {
            inbox.duplicates.fetch_add(1, Ordering::SeqCst);
        } else {
            effects.insert(id.to_string(), serde_json::from_str(body).unwrap());
        }
    }
    // Applied, but the sender does not hear so: it must send again.
    if flaky && n % 5 == 1 {
        inbox.applied_unacknowledged.fetch_add(1, Ordering::SeqCst);
        return (AxumStatus::INTERNAL_SERVER_ERROR, close).into_response();
    }
    if flaky && n % 9 == 4 {
        inbox.applied_unacknowledged.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    (AxumStatus::NO_CONTENT, close).into_response()
}

/// ada disables, enables and resets `user`'s MFA in turn until the
/// service dies; returns the acknowledged decision ids.
async fn change_until_killed(base: String, ada: String, user: &'static str) -> Vec<String> {
    let http = reqwest::Client::new();
    let mut acknowledged = Vec::new();
    for n in 0.. {
        let action = ["disable", "enable", "reset"][n % 3];
        let request = http
            .post(format!("{base}/api/org/users/{user}/mfa/{action}"))
            .header("content-type", "application/json");
        let Ok(response) = request.bearer_auth(&ada).send().await else {
            return acknowledged; // killed
        };
        let status = response.status();
        let Ok(body) = response.json::<Value>().await else {
            return acknowledged;
        };
        if status == StatusCode::OK {
            acknowledged.push(body["decision_id"].as_str().unwrap().to_string());
        }
        if acknowledged.len() >= 150 {
            // Enough for a round: wait for the kill.
            while http.get(format!("{base}/health")).send().await.is_ok() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            return acknowledged;
        }
    }
    unreachable!()
}

/// The service's database, read directly by the checks.
async fn database(url: &str) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    sqlx::AnyPool::connect(url).await.unwrap()
}

async fn undelivered(db: &sqlx::AnyPool) -> i64 {
    sqlx::query("SELECT COUNT(*) FROM notification_outbox WHERE delivered_at IS NULL")
        .fetch_one(db)
        .await
        .unwrap()
        .get(0)
}

/// The first column of `sql`'s rows, as text.
async fn column(db: &sqlx::AnyPool, sql: &str) -> Vec<String> {
    sqlx::query(sql)
        .fetch_all(db)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// Service flags for `receiver`: a short timeout and retries, so that a
/// test sees many failures and recoveries.
fn webhook_args(receiver: &Receiver) -> Vec<String> {
    [
        "--webhook-url",
        &receiver.url(),
        "--webhook-timeout-ms",
        "300",
        "--webhook-retry-ms",
        "50",
        "--webhook-retry-max-ms",
        "400",
    ]
    .map(String::from)
    .into()
}

/// Changes (R4, R9) are announced: changes are made through the service
/// `start` gives and delivered to a receiver that fails before or after
/// applying and hangs past the timeout, while that service is SIGKILLed
/// (and, every other round, the receiver is away). Afterwards every
/// allowed change (acknowledged or committed just before a kill) has
/// exactly one event, every event reached the receiver and took effect
/// once, nothing else was sent, and every delivery carried a valid
/// signature.
async fn kill_and_check(mut receiver: Receiver, db_url: &str, start: impl AsyncFn() -> Served) {
    receiver.inbox.flaky.store(true, Ordering::SeqCst);
    let mut served = start().await;
    let ada = login(&served.base, "ada").await;
    let mut acknowledged = Vec::new();
    let rounds = kills();
    for round in 0..rounds {
        let changers: Vec<_> = ["bob", "carol"]
            .into_iter()
            .map(|user| tokio::spawn(change_until_killed(served.base.clone(), ada.clone(), user)))
            .collect();
        if round % 2 == 1 {
            receiver.down();
        }
        tokio::time::sleep(Duration::from_millis(400 + 173 * (round as u64 % 4))).await;
        served.kill();
        for changer in changers {
            acknowledged.extend(changer.await.unwrap());
        }
        receiver.up().await;
        served = start().await;
        if round % 2 == 1 {
            receiver.down();
            tokio::time::sleep(Duration::from_millis(300)).await;
            receiver.up().await;
        }
    }
    assert!(
        acknowledged.len() > 30,
        "too few changes: {}",
        acknowledged.len()
    );

    // A well receiver now; the outbox drains.
    receiver.inbox.flaky.store(false, Ordering::SeqCst);
    let db = database(db_url).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while undelivered(&db).await > 0 {
        assert!(Instant::now() < deadline, "the outbox did not drain");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The allowed changes the database holds, and the events it wrote.
    let changes = column(
        &db,
        "SELECT decision_id FROM audit_log WHERE allowed = 1 AND target_version IS NOT NULL \
         AND action IN ('enable_user_mfa', 'disable_user_mfa', 'reset_user_mfa', 'set_enforcement')",
    )
    .await;
    let events: Vec<(String, String)> = sqlx::query("SELECT id, body FROM notification_outbox")
        .fetch_all(&db)
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let effects = receiver.inbox.effects.lock().unwrap().clone();
    drop(served);

    // One event per change, none without a change.
    let mut event_decisions: Vec<String> = events
        .iter()
        .map(|(_, body)| {
            let v: Value = serde_json::from_str(body).unwrap();
            v["data"]["decision_id"].as_str().unwrap().to_string()
        })
        .collect();
    event_decisions.sort();
    let mut change_decisions = changes.clone();
    change_decisions.sort();
    assert_eq!(event_decisions, change_decisions, "one event per change");
    // Every acknowledged change is among them.
    let announced: HashSet<&String> = event_decisions.iter().collect();
    for id in &acknowledged {
        assert!(
            announced.contains(id),
            "acknowledged change {id} not notified"
        );
    }
    // Every event took effect at the receiver, once, with the body written.
    assert_eq!(effects.len(), events.len(), "events received");
    for (id, body) in &events {
        let seen = effects.get(id).unwrap_or_else(|| panic!("event {id} lost"));
        assert_eq!(seen, &serde_json::from_str::<Value>(body).unwrap());
        let kind = seen["type"].as_str().unwrap();
        let action = seen["data"]["action"].as_str().unwrap();
        let expected = match action {
            "enable_user_mfa" => "mfa.enabled",
            "disable_user_mfa" => "mfa.disabled",
            "reset_user_mfa" => "mfa.reset",
            _ => "organization.mfa_enforcement_changed",
        };
        assert_eq!(kind, expected, "{seen}");
    }
    let inbox = &receiver.inbox;
    assert_eq!(inbox.bad_signatures.load(Ordering::SeqCst), 0);
    let deliveries = inbox.deliveries.load(Ordering::SeqCst);
    let duplicates = inbox.duplicates.load(Ordering::SeqCst);
    assert!(duplicates > 0, "the flaky receiver caused redeliveries");
    // Every duplicate is explained: a delivery applied but not acknowledged,
    // or one acknowledged by a service killed before it recorded that (at
    // most a claimed batch per kill). Replicas delivering the same claim
    // would exceed this (each event twice).
    let explained = inbox.applied_unacknowledged.load(Ordering::SeqCst) + rounds * 16;
    assert!(
        duplicates <= explained,
        "{duplicates} duplicates, {explained} explained: a claim was delivered twice"
    );
    assert_eq!(
        inbox.overlaps.load(Ordering::SeqCst),
        0,
        "an event was delivered by two claims at once"
    );
    println!(
        "{rounds} kills: {} changes acknowledged, {} events, {deliveries} signed deliveries \
         ({duplicates} duplicates absorbed), 0 lost",
        acknowledged.len(),
        events.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_change_is_notified_exactly_once_through_kills_and_outages_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let receiver = Receiver::start().await;
    let mut args = vec!["--data-dir".to_string(), data.display().to_string()];
    args.extend(webhook_args(&receiver));
    let envs = [("MFA_RESET_WEBHOOK_SECRET", SECRET.to_string())];
    let db_url = format!("sqlite://{}", data.join("mfa-reset.db").display());
    kill_and_check(receiver, &db_url, async || {
        Served::start(&args, &envs).await
    })
    .await;
}

/// Two replicas on one PostgreSQL deliver from the same outbox (their
/// claims compete); the one taking the changes is killed each round.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_change_is_notified_exactly_once_through_kills_and_outages_on_postgres() {
    let pg = Postgres::start();
    wait_ready(&pg.url()).await;
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start().await;
    let mut args = vec![
        "--database".to_string(),
        pg.url(),
        "--data-dir".to_string(),
        dir.path().join("data").display().to_string(),
    ];
    args.extend(webhook_args(&receiver));
    let envs = [
        ("MFA_RESET_WEBHOOK_SECRET", SECRET.to_string()),
        ("MFA_RESET_SECRET_KEY", SecretBox::generate_base64()),
    ];
    let _other_replica = Served::start(&args, &envs).await;
    kill_and_check(receiver, &pg.url(), async || {
        Served::start(&args, &envs).await
    })
    .await;
}

/// A receiver that never answers, or none at all, holds up no decision:
/// changes are answered while their events wait in the outbox, failed
/// deliveries are counted, and a denied change makes no event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_or_silent_receiver_never_holds_up_a_decision() {
    // Accepts connections and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_url = format!("http://{}/hook", silent.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = silent.accept().await {
            held.push(stream);
        }
    });
    // Nothing listens.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_url = format!("http://{}/hook", closed.local_addr().unwrap());
    drop(closed);

    for url in [silent_url, closed_url] {
        let service = TestService::start(|c, _| {
            c.webhook = Some(Webhook {
                // Far longer than a decision takes: one that waited for a
                // delivery would miss the bound below.
                timeout: Duration::from_secs(5),
                retry_base: Duration::from_millis(50),
                retry_max: Duration::from_millis(200),
                ..Webhook::new(&url, WebhookKey::parse(SECRET).unwrap()).unwrap()
            });
        })
        .await;
        let ada = login(&service.base, "ada").await;
        for n in 0..10 {
            let action = if n % 2 == 0 { "enable" } else { "disable" };
            let path = format!("/api/org/users/bob/mfa/{action}");
            let answered = tokio::time::timeout(
                Duration::from_secs(3),
                call(&service.base, &ada, "POST", &path, None),
            )
            .await;
            let (status, body) = answered.expect("a change waited for its notification");
            assert_eq!(status, StatusCode::OK, "{url}: {body}");
        }
        // A denied change (a sub-user on the root) is not announced.
        let bob = login(&service.base, "bob").await;
        let (status, _) = call(
            &service.base,
            &bob,
            "POST",
            "/api/org/users/ada/mfa/reset",
            None,
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        // R4, R2/R3, R9: ada turns bob's MFA on, bob enrols at his next
        // login, ada resets it.
        let (status, _) = call(
            &service.base,
            &ada,
            "POST",
            "/api/org/users/bob/mfa/enable",
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let bob = login(&service.base, "bob").await;
        enrol(&service.base, &bob, &service.clock).await;
        let (status, _) = call(
            &service.base,
            &ada,
            "POST",
            "/api/org/users/bob/mfa/reset",
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        // R5: enforcement is announced too (last: it sends ada's
        // password-only session back to MFA).
        let on = json!({"enforce_mfa": true});
        let (status, body) =
            call(&service.base, &ada, "PUT", "/api/org/enforcement", Some(on)).await;
        assert_eq!(status, StatusCode::OK, "{body}");

        let db_url = format!("sqlite://{}", service.dir.path().join("state.db").display());
        let db = database(&db_url).await;
        let rows: i64 = sqlx::query("SELECT COUNT(*) FROM notification_outbox")
            .fetch_one(&db)
            .await
            .unwrap()
            .get(0);
        assert_eq!(
            rows, 14,
            "{url}: one event per allowed change, none for the denial"
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let metrics = metrics(&service.base).await;
            let failed = metrics.lines().any(|l| {
                l.starts_with("mfa_reset_notification_deliveries_total{result=\"failed\"}")
            });
            if failed && metrics.contains("mfa_reset_notifications_pending 14") {
                assert!(!metrics.contains("result=\"delivered\""), "{metrics}");
                break;
            }
            assert!(Instant::now() < deadline, "{url}: {metrics}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(undelivered(&db).await, 14, "{url}: nothing given up");
        // Every body is what the OpenAPI document's `MfaEvent` says.
        let document: Value =
            serde_json::from_str(include_str!("../../host/service/openapi.json")).unwrap();
        let schema = &document["components"]["schemas"]["MfaEvent"];
        let data_schema = &schema["properties"]["data"];
        for body in column(&db, "SELECT body FROM notification_outbox").await {
            let event: Value = serde_json::from_str(&body).unwrap();
            let kinds = schema["properties"]["type"]["enum"].as_array().unwrap();
            assert!(kinds.contains(&event["type"]), "{body}");
            for key in data_schema["required"].as_array().unwrap() {
                assert!(
                    event["data"].get(key.as_str().unwrap()).is_some(),
                    "{key} in {body}"
                );
            }
            for key in event["data"].as_object().unwrap().keys() {
                assert!(
                    data_schema["properties"].get(key).is_some(),
                    "undocumented {key}: {body}"
                );
            }
        }
        let mut kinds = column(&db, "SELECT DISTINCT event_type FROM notification_outbox").await;
        kinds.sort();
        assert_eq!(
            kinds,
            [
                "mfa.disabled",
                "mfa.enabled",
                "mfa.enrolled",
                "mfa.reset",
                "organization.mfa_enforcement_changed"
            ]
        );
        service.service.stop().await;
    }
}

/// A webhook that would send events in the clear, or a secret too weak to
/// sign with, stops `serve` before it starts, saying which and why; the
/// secret itself is never echoed.
#[test]
fn bad_webhook_settings_are_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let run = |url: &str, secret: Option<&str>| {
        let mut command = common::mfa_reset_command();
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path().join("data"))
            .args(["--webhook-url", url])
            .env_remove("MFA_RESET_WEBHOOK_SECRET");
        if let Some(secret) = secret {
            command.env("MFA_RESET_WEBHOOK_SECRET", secret);
        }
        let out = command.output().unwrap();
        assert!(!out.status.success(), "{url} started");
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout)
    };
    let clear = run("http://hooks.example.com/mfa", Some(SECRET));
    assert!(
        clear.contains("plain http only to a loopback address"),
        "{clear}"
    );
    let missing = run("https://hooks.example.com/mfa", None);
    assert!(missing.contains("MFA_RESET_WEBHOOK_SECRET"), "{missing}");
    let weak = run("https://hooks.example.com/mfa", Some("whsec_c2hvcnQ="));
    assert!(
        weak.contains("24 to 64 bytes") && !weak.contains("c2hvcnQ"),
        "{weak}"
    );
    let creds = run("https://user:hunter2@hooks.example.com/mfa", Some(SECRET));
    assert!(
        creds.contains("no credentials") && !creds.contains("hunter2"),
        "{creds}"
    );
}
