//! R16: one policy set across the fleet — three real `serve` processes on
//! one PostgreSQL follow the sets published to it, and switch together at
//! each publish's activation point; a replica restarted meanwhile catches
//! up before it answers; a set no replica can load is refused from its
//! activation on, never decided by the set before.

use std::path::Path;
use std::time::Duration;

use reqwest::StatusCode;

use crate::common::postgres::{Postgres, wait_ready};
use crate::common::served::Served;
use crate::common::service::{client, login};
use mfa_reset::PolicySource;
use mfa_reset_service::{Publication, SecretBox, publish};

const POLICY_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../policies");

fn now_ms() -> i64 {
    mfa_reset::timestamp::to_millis(time::OffsetDateTime::now_utc())
}

/// The shipped set, and one that forbids the console to everybody.
fn sets() -> (PolicySource, PolicySource) {
    let open = PolicySource::from_dir(POLICY_DIR, String::new()).unwrap();
    let mut closed = open.clone();
    closed.policies[0].text.push_str(
        "\n@id(\"console-closed\")\n@code(\"console-closed\")\n\
         forbid (principal, action == MfaReset::Action::\"access_console\", resource);\n",
    );
    (open, closed)
}

/// A PostgreSQL for a fleet, its secret key, and the replicas' data dirs.
struct FleetDatabase {
    _pg: Postgres,
    url: String,
    key: String,
    data: tempfile::TempDir,
}

impl FleetDatabase {
    async fn start() -> Self {
        let pg = Postgres::start();
        let url = pg.url();
        wait_ready(&url).await;
        Self {
            _pg: pg,
            url,
            key: SecretBox::generate_base64(),
            data: tempfile::tempdir().unwrap(),
        }
    }

    fn envs(&self) -> [(&'static str, String); 1] {
        [("MFA_RESET_SECRET_KEY", self.key.clone())]
    }
}

/// Publishes `source` to become the fleet's set `lead_ms` from now; its
/// revision and activation time (milliseconds).
async fn publish_set(url: &str, key: &str, source: &PolicySource, lead_ms: i64) -> (String, i64) {
    let published = publish(
        url,
        key,
        crate::common::engine(),
        Publication {
            source,
            publisher: "ops-test",
            guardrails: None,
            no_new_access: false,
            tests: None,
            max_flipped_share: None,
            replay_window: time::Duration::days(7),
            lead: time::Duration::milliseconds(lead_ms),
            now: time::OffsetDateTime::now_utc(),
        },
    )
    .await
    .expect("published");
    (
        published.revision,
        mfa_reset::timestamp::to_millis(published.activate_at),
    )
}

/// A gateway's question: status and the revision that decided.
async fn ask(base: &str, token: &str) -> (StatusCode, String) {
    let response = client()
        .get(format!("{base}/forward-auth"))
        .bearer_auth(token)
        .header("x-original-method", "GET")
        .header("x-original-uri", "/app/home")
        .send()
        .await
        .unwrap();
    let revision = response
        .headers()
        .get("x-auth-policy-revision")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (response.status(), revision)
}

fn replica_args(url: &str, data: &Path, id: &str) -> Vec<String> {
    [
        "--database",
        url,
        "--data-dir",
        &data.join(id).display().to_string(),
        "--published-policies",
        id,
    ]
    .map(String::from)
    .to_vec()
}

/// R16: 100 publishes alternating a tightening and a widening, each 300 ms
/// ahead; every replica polled every 10 ms. A question sent from the
/// activation point on is decided by the new set on every replica; one
/// answered before it, by the old set: 0 splits.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn r16_replicas_switch_policy_sets_together_at_the_activation_point() {
    let db = FleetDatabase::start().await;
    let (url, key, data, envs) = (&db.url, &db.key, db.data.path(), db.envs());
    let (open, closed) = sets();
    let (mut old, _) = publish_set(url, key, &open, 0).await;
    let first = Served::start(&replica_args(url, data, "r1"), &envs).await;
    let mut replicas = vec![first];
    for id in ["r2", "r3"] {
        replicas.push(Served::start_without_demo(&replica_args(url, data, id), &envs).await);
    }
    let bases: Vec<String> = replicas.iter().map(|r| r.base.clone()).collect();
    let bob = login(&bases[0], "bob").await;
    for base in &bases {
        assert_eq!(ask(base, &bob).await, (StatusCode::OK, old.clone()));
    }

    let (mut before, mut after) = (0, 0);
    for round in 0..100 {
        let (source, status) = match round % 2 {
            0 => (&closed, StatusCode::FORBIDDEN),
            _ => (&open, StatusCode::OK),
        };
        let (new, at) = publish_set(url, key, source, 300).await;
        assert_ne!(new, old);
        while now_ms() < at + 100 {
            for base in &bases {
                let sent = now_ms();
                let (got, revision) = ask(base, &bob).await;
                let answered = now_ms();
                if sent >= at {
                    assert_eq!(
                        (got, &revision),
                        (status, &new),
                        "round {round}: {base} decided with the old set after the activation point"
                    );
                    after += 1;
                } else if answered < at {
                    assert_eq!(
                        revision, old,
                        "round {round}: {base} decided with the new set before the activation point"
                    );
                    before += 1;
                }
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        old = new;
    }
    // At least one answer per round on each side of the point, on average
    // (on a loaded machine a publish takes a while: fewer before it).
    assert!(
        before >= 100 && after >= 100,
        "{before} answers checked before the activation points, {after} after"
    );
}

/// R16: a replica stopped while a set is published catches up when it
/// starts again, before it answers anything; `policies status` shows the
/// fleet. A set that no replica can load refuses every decision from its
/// activation point on (503; forward-auth 403) — never the set before.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn r16_a_restarted_replica_catches_up_and_an_unloadable_set_refuses() {
    let db = FleetDatabase::start().await;
    let (url, key, data, envs) = (&db.url, &db.key, db.data.path(), db.envs());
    let (open, closed) = sets();
    publish_set(url, key, &open, 0).await;
    let first = Served::start(&replica_args(url, data, "r1"), &envs).await;
    let bob = login(&first.base, "bob").await;
    let second = Served::start_without_demo(&replica_args(url, data, "r2"), &envs).await;
    drop(second);

    let (closed_revision, at) = publish_set(url, key, &closed, 200).await;
    while now_ms() < at {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let second = Served::start_without_demo(&replica_args(url, data, "r2"), &envs).await;
    assert_eq!(
        ask(&second.base, &bob).await,
        (StatusCode::FORBIDDEN, closed_revision.clone()),
        "the restarted replica decides with the fleet's set at once"
    );

    // Each replica reports every second: both on the new set soon.
    let mut fleet = serde_json::Value::Null;
    for _ in 0..50 {
        let status = crate::common::mfa_reset_command()
            .args(["policies", "status", "--json", "--database", url])
            .env("MFA_RESET_SECRET_KEY", key)
            .output()
            .unwrap();
        assert!(status.status.success(), "{status:?}");
        fleet = serde_json::from_slice(&status.stdout).unwrap();
        let on_new_set = |r: &serde_json::Value| {
            r["active_revision"] == closed_revision.as_str() && r["state"] == "active"
        };
        let replicas = fleet["replicas"].as_array().unwrap();
        if replicas.len() == 2 && replicas.iter().all(on_new_set) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(fleet["published"].as_array().unwrap().len(), 2, "{fleet}");
    let replicas = fleet["replicas"].as_array().unwrap();
    assert_eq!(replicas.len(), 2, "{fleet}");
    assert!(
        replicas
            .iter()
            .all(|r| r["active_revision"] == closed_revision.as_str() && r["state"] == "active"),
        "{fleet}"
    );

    // A set the component refuses, written past the publisher's checks.
    let mut broken = open.clone();
    broken.policies[0]
        .text
        .push_str("\nforbid (principal, action, resource) when { nonsense };\n");
    let at = now_ms() + 300;
    publish_unchecked(url, &broken, at).await;
    while now_ms() < at + 1_500 {
        let (got, revision) = ask(&first.base, &bob).await;
        if now_ms() > at + 50 {
            assert_eq!(got, StatusCode::FORBIDDEN, "refused, fail closed");
            assert_eq!(revision, "", "no set decided it");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let health = client()
        .get(format!("{}/health", first.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::SERVICE_UNAVAILABLE);
}

/// Writes an activation of `source` straight into the database, as a
/// publisher that skipped the checks (or another version's) would.
async fn publish_unchecked(url: &str, source: &PolicySource, at: i64) {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    let json = serde_json::json!({
        "policies": source.policies.iter().map(|f| serde_json::json!({"name": f.name, "text": f.text})).collect::<Vec<_>>(),
        "schema": {"name": source.schema.name, "text": source.schema.text},
    });
    sqlx::query("INSERT INTO policy_sets (revision, source, published_by, published_at) VALUES ('broken', $1, 'x', 0)")
        .bind(json.to_string())
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO policy_activations (epoch, revision, activate_at, published_by, published_at) \
         SELECT MAX(epoch) + 1, 'broken', $1, 'x', 0 FROM policy_activations",
    )
    .bind(at)
    .execute(&mut conn)
    .await
    .unwrap();
    sqlx::query("NOTIFY mfa_reset_policies")
        .execute(&mut conn)
        .await
        .unwrap();
}

/// R16: a publish that breaks a guardrail, fails a test case, or (with
/// `--no-new-access`) grants access the fleet's newest set denies, is refused; nothing is
/// published. Byte-identical sets published from elsewhere are one
/// revision.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn r16_a_publish_breaking_a_guardrail_or_the_gate_is_refused_and_changes_nothing() {
    let db = FleetDatabase::start().await;
    let (url, key) = (&db.url, &db.key);
    let (open, _) = sets();
    let (revision, _) = publish_set(url, key, &open, 0).await;
    let guardrails = Path::new(POLICY_DIR).join("guardrails");
    let without = |id: &str| {
        let mut set = open.clone();
        let text = &set.policies[0].text;
        let start = text.find(&format!("@id(\"{id}\")")).unwrap();
        let end = text[start..].find("\n\n").map_or(text.len(), |e| start + e);
        set.policies[0].text = format!("{}{}", &text[..start], &text[end..]);
        set
    };
    let attempt = |source: PolicySource, guardrails: Option<&Path>, no_new_access: bool| {
        let (url, key) = (url.clone(), key.clone());
        let guardrails = guardrails.map(Path::to_path_buf);
        async move {
            publish(
                &url,
                &key,
                crate::common::engine(),
                Publication {
                    source: &source,
                    publisher: "mallory",
                    guardrails: guardrails.as_deref(),
                    no_new_access,
                    tests: None,
                    max_flipped_share: None,
                    replay_window: time::Duration::days(7),
                    lead: time::Duration::milliseconds(0),
                    now: time::OffsetDateTime::now_utc(),
                },
            )
            .await
        }
    };
    let err = attempt(without("session-idle-limit"), Some(&guardrails), false)
        .await
        .expect_err("breaks the sessions guardrail");
    assert!(err.to_string().contains("guardrail"), "{err}");
    let err = attempt(without("recovery-code-login-only-recovers"), None, true)
        .await
        .expect_err("grants new access");
    assert!(err.to_string().contains("grants access"), "{err}");
    let tests = std::fs::read_to_string(Path::new(POLICY_DIR).join("tests.json")).unwrap();
    let (_, closed) = sets();
    let err = publish(
        url,
        key,
        crate::common::engine(),
        Publication {
            source: &closed,
            publisher: "mallory",
            guardrails: None,
            no_new_access: false,
            tests: Some(&tests),
            max_flipped_share: None,
            replay_window: time::Duration::days(7),
            lead: time::Duration::milliseconds(0),
            now: time::OffsetDateTime::now_utc(),
        },
    )
    .await
    .expect_err("the console's test cases fail under the closed set");
    assert!(err.to_string().contains("test case"), "{err}");
    let (published, _) = mfa_reset_service::fleet_status(url, key).await.unwrap();
    assert_eq!(published.len(), 1, "nothing was published: {published:?}");

    // The same files from another directory: the same revision, republished.
    let copy = tempfile::tempdir().unwrap();
    for file in open.policies.iter().chain([&open.schema]) {
        let name = Path::new(&file.name).file_name().unwrap();
        std::fs::write(copy.path().join(name), &file.text).unwrap();
    }
    let elsewhere = PolicySource::from_dir(copy.path(), String::new()).unwrap();
    let (again, _) = publish_set(url, key, &elsewhere, 0).await;
    assert_eq!(again, revision);
    let (published, _) = mfa_reset_service::fleet_status(url, key).await.unwrap();
    assert_eq!(published.len(), 1, "one revision: {published:?}");
}
