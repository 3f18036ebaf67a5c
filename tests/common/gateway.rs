//! Real gateways (nginx, Caddy, Traefik) in front of the sidecar, each with
//! its shipped config from host/service/deploy/: the process, the backend
//! of the application's pages (/app/), and the checks every gateway must
//! pass.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::Json;
use axum::http::{HeaderMap, Method};
use axum::routing::any;
use reqwest::StatusCode;
use serde_json::{Value, json};

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

/// The application's pages' backend: echoes what the gateway told it, and
/// under `headers` every header it got, as `[name, value]` pairs (one per
/// value, names as received, in lower case).
pub async fn start_backend() -> u16 {
    let app = axum::Router::new().fallback(any(|method: Method, headers: HeaderMap| async move {
        let get = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        let all: Vec<(String, String)> = headers
            .iter()
            .map(|(name, value)| {
                let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                (name.as_str().to_string(), value)
            })
            .collect();
        Json(json!({
            "method": method.as_str(),
            "headers": all,
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
    // Not axum::serve: it answers 431 from the 101st header line, and the
    // checks send requests with more.
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let app = app.clone();
            let service = hyper::service::service_fn(
                move |request: hyper::Request<hyper::body::Incoming>| {
                    tower::ServiceExt::oneshot(app.clone(), request)
                },
            );
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .max_headers(1_000)
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service),
            );
        }
    });
    port
}

/// The sidecar's answer, which the backend may get (and nothing else X-Auth-*).
const SUBJECT_HEADERS: [&str; 5] = [
    "x-auth-user",
    "x-auth-organization",
    "x-auth-role",
    "x-auth-decision-id",
    "x-auth-policy-revision",
];

/// A backend honouring one of these would run a method the sidecar was
/// never asked about.
const METHOD_OVERRIDES: [&str; 3] = [
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
];

/// The sidecar's session cookie, over TLS and without.
const SESSION_COOKIES: [&str; 2] = ["__Host-mfa_session", "mfa_session"];

/// A header name as a CGI/WSGI/PHP backend reads it: `X_Auth_User`,
/// `x.auth.user` and `X-Auth-User` are one variable there.
fn read_as(name: &str) -> String {
    name.to_ascii_lowercase().replace(['_', '.'], "-")
}

/// The headers the backend listed, as (name, value).
fn backend_headers(body: &Value) -> Vec<(String, String)> {
    body["headers"]
        .as_array()
        .unwrap_or_else(|| panic!("the backend lists the headers it got: {body}"))
        .iter()
        .map(|pair| {
            let text = |i: usize| pair[i].as_str().unwrap().to_string();
            (text(0), text(1))
        })
        .collect()
}

/// The values of the header spelled exactly `name`.
fn values_of<'a>(headers: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    headers
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

/// The names of the cookies the backend got, over all its Cookie headers.
fn cookie_names(headers: &[(String, String)]) -> Vec<String> {
    headers
        .iter()
        .filter(|(name, _)| read_as(name) == "cookie")
        .flat_map(|(_, value)| value.split(';'))
        .filter_map(|pair| {
            pair.split_once('=')
                .map(|(name, _)| name.trim().to_string())
        })
        .collect()
}

/// What reached the backend is the sidecar's subject (`user`, `role`) and
/// nothing a client forged or the sidecar's credential: no header a
/// CGI/WSGI backend would read as Authorization, a method override or an
/// X-Auth-* other than the sidecar's five (spelled as the sidecar spells
/// them, once each), and no session cookie.
fn assert_backend_got_only_the_subject(body: &Value, user: &str, role: &str, what: &str) {
    let headers = backend_headers(body);
    for (name, value) in &headers {
        let as_read = read_as(name);
        assert_ne!(
            as_read, "authorization",
            "{what}: the sidecar's credential reached the backend as {name}"
        );
        assert!(
            !METHOD_OVERRIDES.contains(&as_read.as_str()),
            "{what}: a method override reached the backend: {name}: {value}"
        );
        assert!(
            !as_read.starts_with("x-auth-") || SUBJECT_HEADERS.contains(&name.as_str()),
            "{what}: {name}: {value} reached the backend"
        );
    }
    for (name, expected) in [
        ("x-auth-user", user),
        ("x-auth-role", role),
        ("x-auth-organization", "acme"),
    ] {
        assert_eq!(values_of(&headers, name), [expected], "{what}: {headers:?}");
    }
    for name in ["x-auth-decision-id", "x-auth-policy-revision"] {
        assert_eq!(values_of(&headers, name).len(), 1, "{what}: {headers:?}");
    }
    let cookies = cookie_names(&headers);
    assert!(
        !cookies
            .iter()
            .any(|c| SESSION_COOKIES.contains(&c.as_str())),
        "{what}: the session cookie reached the backend: {cookies:?}"
    );
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
    // `/console` leads to the console too (the sidecar's relative
    // redirects), at its login page (R13: never an empty profile first).
    let index = c.get(format!("{front}/console")).send().await.unwrap();
    assert_eq!(index.status(), StatusCode::OK, "{}", log());
    assert!(
        index.url().path().ends_with("/console/login"),
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
        // A backend decoding before it splits off the query reads
        // `/app/admin`; a router mapping format suffixes reads the same.
        "/app/admin%3f/",
        "/app/admin%3F/x",
        "/app/admin%23/",
        "/app/admin.json",
        "/app/admin~/",
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

    // Forged additions: what a client adds to an allowed request (the subject
    // in spellings a CGI/WSGI backend merges with the real one, X-Auth-* the
    // sidecar does not answer, method overrides) is refused by the sidecar
    // (403) or removed by the gateway; the sidecar's credential (session
    // cookie, bearer token) never reaches the backend; the application's own
    // cookies do, where the gateway can cut ours out.
    let app_cookies = |token: &str| {
        format!("theme=dark; __Host-mfa_session={token}; mfa_session={token}; lang=fr")
    };
    // nginx and Caddy cut the session cookie out themselves; Traefik takes
    // the Cookie the sidecar answers (the client's, without the session).
    let assert_app_cookies_kept = |body: &Value, what: &str| {
        let cookies = cookie_names(&backend_headers(body));
        assert_eq!(cookies, ["theme", "lang"], "{what}: {body}");
    };
    // Without forgery, the request reaches the backend (so the checks below
    // cannot pass by refusing everything), by cookie and by bearer token.
    let (status, body) = read(
        c.get(format!("{front}/app/home"))
            .header("cookie", app_cookies(&bob))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body} {}", log());
    assert_backend_got_only_the_subject(&body, "bob", "sub_user", "session cookie");
    assert_app_cookies_kept(&body, "session cookie");
    let (status, body) = read(
        c.get(format!("{front}/app/home"))
            .header("cookie", app_cookies(&bob))
            .bearer_auth(&bob)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body} {}", log());
    assert_backend_got_only_the_subject(&body, "bob", "sub_user", "bearer token");
    assert_app_cookies_kept(&body, "bearer token");
    let forgeries: [&[(&str, &str)]; 8] = [
        &[("x_auth_user", "ada"), ("x_auth_role", "root")],
        &[("x.auth.user", "ada"), ("x.auth.role", "root")],
        &[("x-auth-email", "ada@acme.test")],
        &[("x-auth-groups", "admins")],
        &[("x-auth-user-id", "ada")],
        &[("x-http-method-override", "DELETE")],
        &[("x_http_method_override", "DELETE")],
        &[("x-http-method", "DELETE"), ("x-method-override", "DELETE")],
    ];
    for forged in forgeries {
        let mut request = c
            .get(format!("{front}/app/home"))
            .header("cookie", app_cookies(&bob));
        for (name, value) in forged {
            request = request.header(*name, *value);
        }
        let (status, body) = read(request.send().await.unwrap()).await;
        let what = format!("{forged:?}");
        match status {
            StatusCode::FORBIDDEN => {}
            StatusCode::OK => {
                assert_backend_got_only_the_subject(&body, "bob", "sub_user", &what);
                assert_app_cookies_kept(&body, &what);
            }
            other => panic!("{what}: {other} {body} {}", log()),
        }
    }
    // A route that takes only GET stays a GET for the backend: ada (root)
    // may read the audit pages, but no override travels with her GET.
    let (status, body) = read(
        c.get(format!("{front}/app/audit/x"))
            .bearer_auth(&ada)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body} {}", log());
    for name in ["x-http-method-override", "x_http_method_override"] {
        let (status, body) = read(
            c.get(format!("{front}/app/audit/x"))
                .bearer_auth(&ada)
                .header(name, "DELETE")
                .send()
                .await
                .unwrap(),
        )
        .await;
        match status {
            StatusCode::FORBIDDEN => {}
            StatusCode::OK => {
                assert_eq!(body["method"], "GET", "{name}: {body}");
                assert_backend_got_only_the_subject(&body, "ada", "root", name);
            }
            other => panic!("{name}: {other} {body} {}", log()),
        }
    }

    // Many headers: a request with more header lines than a server reads by
    // default (100) is still answered 200 or 403 by the sidecar, never an error
    // the gateway turns into a 500.
    for (path, expected) in [
        ("/app/home", StatusCode::OK),
        ("/app/admin/users", StatusCode::FORBIDDEN),
    ] {
        let mut request = c.get(format!("{front}{path}")).bearer_auth(&bob);
        for n in 0..120 {
            request = request.header(format!("x-extra-{n}"), "1");
        }
        let status = request.send().await.unwrap().status();
        assert_eq!(status, expected, "{path} with 120 headers: {}", log());
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
