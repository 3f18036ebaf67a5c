//! Crash safety: the service (the real `mfa-reset serve` process) is killed
//! with SIGKILL while it processes concurrent state changes, restarted on
//! the same database, and then every acknowledged change and its audit
//! record are there, and nothing is half-written: each user's stored MFA
//! agrees with the allowed changes its audit log holds. On SQLite and on
//! PostgreSQL. `MFA_RESET_CRASH_KILLS` sets the kills per backend (3 in the
//! suite; the long run is `MFA_RESET_CRASH_KILLS=20 cargo test --workspace --test service crash::`).
//! And the clean stop a rolling restart sends (SIGTERM, SIGINT): requests
//! in flight are answered, queued decisions written, exit 0.

use crate::common;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::postgres::{Postgres, wait_ready};
use common::served::Served;
use common::service::{call, client, login};
use mfa_reset_service::SecretBox;
use reqwest::StatusCode;
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const USERS: [&str; 2] = ["bob", "carol"];

fn kills() -> usize {
    std::env::var("MFA_RESET_CRASH_KILLS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(3)
}

/// Whether each user's stored MFA is on (anything but `off`).
async fn mfa_on(base: &str, ada: &str) -> HashMap<String, bool> {
    let (status, body) = call(base, ada, "GET", "/api/org/users", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (u["id"].as_str().unwrap().to_string(), u["mfa"] != "off"))
        .collect()
}

/// Changes per user and round at most, so that a round's audit records fit
/// in one page of `/api/audit` (1 000).
const MOST_PER_ROUND: usize = 300;

/// ada turns `user`'s MFA on and off, one request after another, until the
/// service dies (or `MOST_PER_ROUND`, then it waits for the kill); returns
/// the decision ids of the acknowledged changes. `first` is counted down at
/// the first acknowledgement.
async fn toggle_until_killed(
    base: String,
    ada: String,
    user: &str,
    mut on: bool,
    first: Arc<AtomicUsize>,
) -> Vec<String> {
    let http = reqwest::Client::new();
    let mut acknowledged = Vec::new();
    loop {
        if acknowledged.len() == MOST_PER_ROUND {
            while http.get(format!("{base}/health")).send().await.is_ok() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            return acknowledged;
        }
        let action = if on { "disable" } else { "enable" };
        let sent = http
            .post(format!("{base}/api/org/users/{user}/mfa/{action}"))
            .bearer_auth(&ada)
            .header("content-type", "application/json")
            .send()
            .await;
        let Ok(response) = sent else {
            return acknowledged; // killed
        };
        let status = response.status();
        let Ok(body) = response.json::<Value>().await else {
            return acknowledged; // killed while answering: not acknowledged
        };
        assert_eq!(status, StatusCode::OK, "{user} {action}: {body}");
        acknowledged.push(body["decision_id"].as_str().unwrap().to_string());
        if acknowledged.len() == 1 {
            first.fetch_sub(1, Ordering::SeqCst);
        }
        on = !on;
    }
}

async fn kill_and_check(start: impl AsyncFn() -> Served) {
    let mut served = start().await;
    let ada = login(&served.base, "ada").await;
    for round in 0..kills() {
        let before = mfa_on(&served.base, &ada).await;
        let started = OffsetDateTime::now_utc();
        let first = Arc::new(AtomicUsize::new(USERS.len()));
        let togglers: Vec<_> = USERS
            .iter()
            .map(|user| {
                let (base, ada, first) = (served.base.clone(), ada.clone(), first.clone());
                let on = before[*user];
                tokio::spawn(async move { toggle_until_killed(base, ada, user, on, first).await })
            })
            .collect();
        // Mid-flight, once every toggler has had a change acknowledged, at a
        // different moment each round.
        while first.load(Ordering::SeqCst) > 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::time::sleep(Duration::from_millis(100 + 137 * (round as u64 % 5))).await;
        served.kill();
        let mut acknowledged = HashMap::new();
        for (user, toggler) in USERS.iter().zip(togglers) {
            acknowledged.insert(*user, toggler.await.unwrap());
        }

        served = start().await;
        let after = mfa_on(&served.base, &ada).await;
        let (status, body) = call(&served.base, &ada, "GET", "/api/audit?limit=1000", None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let records = body["records"].as_array().unwrap();
        // Newest first: the page reaches back before the round began.
        let at = |r: &Value| OffsetDateTime::parse(r["at"].as_str().unwrap(), &Rfc3339).unwrap();
        assert!(
            records.len() < 1000 || records.last().is_some_and(|r| at(r) < started),
            "round {round}: its audit records fit in one page"
        );
        for user in USERS {
            let acked = &acknowledged[user];
            assert!(
                !acked.is_empty(),
                "round {round}: no change of {user} was acknowledged"
            );
            // Every acknowledged change has its audit record.
            for id in acked {
                assert!(
                    records.iter().any(|r| r["decision_id"] == id.as_str()
                        && r["target"] == user
                        && r["allowed"] == true),
                    "round {round}: acknowledged change {id} of {user} lost"
                );
            }
            // The allowed changes the log holds since the round began: the
            // acknowledged ones, and at most the one in flight at the kill.
            let audited = records
                .iter()
                .filter(|r| {
                    r["target"] == user
                        && r["allowed"] == true
                        && matches!(
                            r["action"].as_str(),
                            Some("enable_user_mfa" | "disable_user_mfa")
                        )
                        && at(r) >= started
                })
                .count();
            assert!(
                audited == acked.len() || audited == acked.len() + 1,
                "round {round}: {user}: {audited} audited, {} acknowledged",
                acked.len()
            );
            // Nothing half-written: the stored state is the audited changes'.
            assert_eq!(
                after[user],
                before[user] ^ (audited % 2 == 1),
                "round {round}: {user}'s state does not match its audit log"
            );
        }
        println!(
            "round {round}: killed after {} acknowledged changes; all present",
            acknowledged.values().map(Vec::len).sum::<usize>()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_during_state_changes_loses_nothing_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let args = vec![
        "--data-dir".to_string(),
        dir.path().join("data").display().to_string(),
    ];
    kill_and_check(async || Served::start(&args, &[]).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_during_state_changes_loses_nothing_on_postgres() {
    let pg = Postgres::start();
    wait_ready(&pg.url()).await;
    let dir = tempfile::tempdir().unwrap();
    let args = vec![
        "--database".to_string(),
        pg.url(),
        "--data-dir".to_string(),
        dir.path().join("data").display().to_string(),
    ];
    let envs = [("MFA_RESET_SECRET_KEY", SecretBox::generate_base64())];
    kill_and_check(async || Served::start(&args, &envs).await).await;
}

/// A login begun on a raw connection: the request line, headers and half
/// the body are sent; `finish` sends the rest and reads the answer's status
/// line. It is in flight once the server has accepted the connection and
/// read the head: `start` returns after a request on another connection,
/// made later, was answered (the server accepts in order), and a moment for
/// the connection's task to read what was sent. (A connection still in the
/// listen backlog when the signal comes is never accepted: seen once, with
/// the suites sharing two cores.)
struct HalfSentLogin {
    stream: tokio::net::TcpStream,
    rest: Vec<u8>,
}

impl HalfSentLogin {
    async fn start(base: &str, user: &str) -> Self {
        use tokio::io::AsyncWriteExt;
        let address = base.trim_start_matches("http://");
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        let body = format!(r#"{{"user":"{user}","password":"{user}-demo-password"}}"#);
        let head = format!(
            "POST /api/login HTTP/1.1\r\nHost: {address}\r\ncontent-type: application/json\r\n\
             content-length: {}\r\n\r\n",
            body.len()
        );
        let (first, rest) = body.as_bytes().split_at(body.len() / 2);
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(first).await.unwrap();
        stream.flush().await.unwrap();
        let health = client().get(format!("{base}/health")).send().await.unwrap();
        assert_eq!(health.status(), StatusCode::OK);
        tokio::time::sleep(Duration::from_millis(200)).await;
        Self {
            stream,
            rest: rest.to_vec(),
        }
    }

    async fn finish(mut self) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        self.stream.write_all(&self.rest).await.unwrap();
        let mut answer = Vec::new();
        let mut buffer = [0u8; 4096];
        // Until the status line is complete (the server closes after it
        // answers, since it is stopping).
        while !answer.windows(2).any(|w| w == b"\r\n") {
            let n = self.stream.read(&mut buffer).await.unwrap();
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&buffer[..n]);
        }
        String::from_utf8_lossy(&answer)
            .lines()
            .next()
            .unwrap_or("")
            .to_string()
    }
}

fn sqlite_args(dir: &tempfile::TempDir, drain_seconds: u32) -> Vec<String> {
    vec![
        "--data-dir".to_string(),
        dir.path().join("data").display().to_string(),
        "--drain-seconds".to_string(),
        drain_seconds.to_string(),
    ]
}

/// SIGTERM with five logins in flight and forward-auth decisions just made: no
/// new connection is taken, every login in flight is answered 200, every
/// decision is in the decision log, the process exits 0 and says it drained.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_answers_the_requests_in_flight_and_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let args = sqlite_args(&dir, 20);
    let mut served = Served::start(&args, &[]).await;
    let base = served.base.clone();
    let bob = login(&base, "bob").await;
    let http = reqwest::Client::new();
    let decided = 50;
    for _ in 0..decided {
        let response = http
            .get(format!("{base}/forward-auth"))
            .bearer_auth(&bob)
            .header("x-original-method", "GET")
            .header("x-original-uri", "/app/home")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    let mut in_flight = Vec::new();
    for user in ["ada", "bob", "carol", "gus", "gina"] {
        in_flight.push(HalfSentLogin::start(&base, user).await);
    }
    served.signal("TERM");
    // Stopping: the listener is closed, the requests in flight wait.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let address = base.trim_start_matches("http://").to_string();
    while tokio::net::TcpStream::connect(&address).await.is_ok() {
        assert!(std::time::Instant::now() < deadline, "still accepting");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for login in in_flight {
        assert_eq!(login.finish().await, "HTTP/1.1 200 OK");
    }
    assert_eq!(
        served.exit_code(Duration::from_secs(20)),
        Some(0),
        "{}",
        served.log()
    );
    let log = served.log();
    assert!(log.contains("SIGTERM"), "{log}");
    assert!(
        log.contains("drained: every request in flight was answered"),
        "{log}"
    );
    // Every decision answered before the signal is in the decision log.
    let url = format!(
        "sqlite://{}",
        dir.path().join("data").join("mfa-reset.db").display()
    );
    let recorded = mfa_reset_service::read_recorded_decisions(&url, 0, 10_000)
        .await
        .unwrap();
    let forward_auth = recorded
        .iter()
        .filter(|d| d.action == "access_console")
        .count();
    assert_eq!(forward_auth, decided);
}

/// A request that never completes is given the drain timeout, then the process
/// exits 0 all the same; a second signal exits at once (143: 128 + SIGTERM).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stuck_request_is_given_the_drain_timeout_and_a_second_signal_ends_the_wait() {
    let dir = tempfile::tempdir().unwrap();
    let args = sqlite_args(&dir, 1);
    let mut served = Served::start(&args, &[]).await;
    let stuck = HalfSentLogin::start(&served.base, "bob").await;
    served.signal("INT");
    assert_eq!(
        served.exit_code(Duration::from_secs(15)),
        Some(0),
        "{}",
        served.log()
    );
    assert!(served.log().contains("drain timeout"), "{}", served.log());
    drop(stuck);

    let dir = tempfile::tempdir().unwrap();
    let args = sqlite_args(&dir, 600);
    let mut served = Served::start(&args, &[]).await;
    let stuck = HalfSentLogin::start(&served.base, "bob").await;
    served.signal("TERM");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        served.exit_code(Duration::from_millis(200)),
        None,
        "waits for the request"
    );
    served.signal("TERM");
    assert_eq!(
        served.exit_code(Duration::from_secs(5)),
        Some(143),
        "{}",
        served.log()
    );
    assert!(served.log().contains("second signal"), "{}", served.log());
    drop(stuck);
}
