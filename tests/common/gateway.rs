//! Real gateways (nginx, Caddy, Traefik) in front of the sidecar, each with
//! its shipped config from host/service/deploy/: the process, the backend
//! of the application's pages (/app/), and the checks every gateway must
//! pass.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::Json;
use axum::http::HeaderMap;
use axum::routing::any;
use reqwest::StatusCode;
use serde_json::json;

use super::service::{TestService, call, client, login, policy_revision, read};

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A shipped deployment file, with the example addresses (gateway 8000,
/// sidecar 8080, backend 8081) replaced by the test's.
pub fn deploy_file(name: &str, listen: u16, sidecar: u16, backend: u16) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../service/deploy")
        .join(name);
    let shipped =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    shipped
        .replace("127.0.0.1:8080", &format!("127.0.0.1:{sidecar}"))
        .replace("127.0.0.1:8081", &format!("127.0.0.1:{backend}"))
        .replace("127.0.0.1:8000", &format!("127.0.0.1:{listen}"))
}

/// The first of `candidates` that exists.
pub fn binary(name: &str, candidates: &[PathBuf]) -> PathBuf {
    candidates
        .iter()
        .find(|p| p.exists())
        .cloned()
        .unwrap_or_else(|| panic!("{name} is not installed: run `bash tests/setup`"))
}

/// A gateway process run from a temp dir; killed when dropped (also when
/// the test panics).
pub struct Gateway {
    child: Child,
    pub dir: tempfile::TempDir,
    log: PathBuf,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Gateway {
    /// Starts `command` (its output going to `dir/gateway.log`) and waits
    /// until it listens on `port`.
    pub fn start(mut command: Command, dir: tempfile::TempDir, port: u16) -> Self {
        let log = dir.path().join("gateway.log");
        let out = std::fs::File::create(&log).unwrap();
        let child = command
            .stdout(Stdio::from(out.try_clone().unwrap()))
            .stderr(Stdio::from(out))
            .spawn()
            .expect("the gateway starts");
        let mut gateway = Self { child, dir, log };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return gateway;
            }
            if let Ok(Some(status)) = gateway.child.try_wait() {
                panic!("the gateway exited ({status}): {}", gateway.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the gateway did not listen within 20 s: {}", gateway.log());
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// The application's pages' backend: echoes what the gateway told it.
pub async fn start_backend() -> u16 {
    let app = axum::Router::new().fallback(any(|headers: HeaderMap| async move {
        let get = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        Json(json!({
            "user": get("x-auth-user"),
            "organization": get("x-auth-organization"),
            "role": get("x-auth-role"),
            "decision_id": get("x-auth-decision-id"),
            "policy_revision": get("x-auth-policy-revision"),
            "denial_code": get("x-auth-denial-code"),
            "forwarded_uri": get("x-forwarded-uri"),
            "forwarded_host": get("x-forwarded-host"),
            "forwarded": get("forwarded"),
            "forwarded_method": get("x-forwarded-method"),
            "original_uri": get("x-original-uri"),
            "original_method": get("x-original-method"),
        }))
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    port
}

/// What every gateway with its shipped config must do in front of `svc`
/// (a sidecar reading the header family that config sets, from 127.0.0.1),
/// reached at `front`: pages allowed and denied by the policies, the sidecar's
/// subject reaching the backend and nothing a client forged, 401 and 403
/// passed through; the console's pages served by the sidecar.
pub async fn check_gateway(front: &str, svc: &TestService, gateway: &Gateway) {
    let c = client();
    let log = || gateway.log();

    // The console's pages come from the sidecar, with its headers.
    let page = c
        .get(format!("{front}/console/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK, "{}", log());
    assert!(
        page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("script-src 'self'"),
        "{:?}",
        page.headers()
    );
    // `/console` leads to the console too (the sidecar's relative redirects).
    let index = c.get(format!("{front}/console")).send().await.unwrap();
    assert_eq!(index.status(), StatusCode::OK, "{}", log());
    assert!(
        index.url().path().ends_with("/console/profile"),
        "{}",
        index.url()
    );
    let script = c
        .get(format!("{front}/console/assets/console.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(script.status(), StatusCode::OK, "{}", log());

    // No session: the sidecar's 401 reaches the client.
    let response = c.get(format!("{front}/app/home")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{}", log());

    // Logging in through the gateway (its /api/ route goes to the sidecar).
    let bob = login(front, "bob").await;
    let ada = login(front, "ada").await;
    let cookie = |token: &str| format!("mfa_session={token}"); // plain HTTP here

    // R11: an allowed page; the backend gets the sidecar's subject, not the
    // one the client made up.
    let (status, body) = read(
        c.get(format!("{front}/app/home"))
            .header("cookie", cookie(&bob))
            .header("x-auth-user", "ada")
            .header("x-auth-role", "root")
            .header("x-auth-organization", "globex")
            .header("x-auth-denial-code", "forged")
            .header("x-auth-policy-revision", "forged")
            .header("x-original-uri", "/app/admin/users")
            .header("x-forwarded-uri", "/forged")
            .header("x-forwarded-method", "FORGED")
            .header("forwarded", "for=6.6.6.6;host=elsewhere")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body} {}", log());
    assert_eq!(body["user"], "bob");
    assert_eq!(body["organization"], "acme");
    assert_eq!(body["role"], "sub_user");
    assert!(!body["decision_id"].as_str().unwrap().is_empty());
    // The revision the backend sees is the one the sidecar decided under.
    assert_eq!(
        body["policy_revision"],
        policy_revision(&svc.base).await.as_str()
    );
    for forged in ["denial_code", "original_uri", "forwarded"] {
        assert_eq!(body[forged], "", "{forged} reached the backend: {body}");
    }
    // A gateway may tell the backend these itself, never as the client forged them.
    for forged in ["forwarded_uri", "forwarded_method"] {
        assert!(
            !body[forged].as_str().unwrap().contains("FORGED") && body[forged] != "/forged",
            "{forged} reached the backend: {body}"
        );
    }

    // A POST with a body is asked about with its own method.
    let response = c
        .post(format!("{front}/app/settings"))
        .bearer_auth(&bob)
        .body("x=1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    // R11: a sub-user on the administration pages is denied, a root is not.
    let response = c
        .get(format!("{front}/app/admin/users"))
        .header("cookie", cookie(&bob))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let (status, body) = read(
        c.get(format!("{front}/app/admin/users"))
            .bearer_auth(&ada)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["role"].as_str()),
        (StatusCode::OK, Some("root"))
    );

    // R11: forged forwarding headers never turn a denial into an allow
    // (a sub-user on the administration pages; a root with a method the
    // audit route does not take).
    for (token, method, path, forged) in [
        (
            &bob,
            "GET",
            "/app/admin/users",
            ("x-forwarded-uri", "/app/home"),
        ),
        (
            &bob,
            "GET",
            "/app/admin/users",
            ("x-original-uri", "/app/home"),
        ),
        (&ada, "POST", "/app/audit", ("x-forwarded-method", "GET")),
        (&ada, "DELETE", "/app/audit", ("x-original-method", "GET")),
    ] {
        let response = c
            .request(method.parse().unwrap(), format!("{front}{path}"))
            .bearer_auth(token)
            .header(forged.0, forged.1)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::FORBIDDEN,
            "{method} {path} with {forged:?}"
        );
    }
    // Other spellings of the administration pages, and methods the audit
    // route does not take: never allowed.
    for path in [
        "/app/admin",
        "/app/Admin/",
        "/app/admin;x=1/",
        "/app/admin./",
        "/app/admin%20/",
        "/app/%2e%2e/app/admin/users",
        "/app/./admin/users",
    ] {
        let response = c
            .get(format!("{front}{path}"))
            .bearer_auth(&bob)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
    }
    for method in ["HEAD", "POST", "PUT", "DELETE"] {
        for token in [&bob, &ada] {
            let response = c
                .request(method.parse().unwrap(), format!("{front}/app/audit"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::FORBIDDEN, "{method}");
        }
    }

    // R7: an expired session is 401 through the gateway, pages and API.
    svc.clock.advance(time::Duration::days(31));
    let response = c
        .get(format!("{front}/app/home"))
        .header("cookie", cookie(&bob))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let (status, body) = call(front, &ada, "GET", "/api/org/users", None).await;
    assert_eq!(
        (status, body["denial_code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("session-expired"))
    );
}
