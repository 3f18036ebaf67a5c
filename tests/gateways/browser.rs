//! The console under /console/: its pages over HTTP, and the
//! help centre's whole story in Debian's chromium (tests/browser/story.mjs).
//! The same story behind nginx is in tests/gateways/nginx.rs.

use crate::common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use common::browser::{run_story, screenshot_dir, story_service};
use common::service::{TestService, client};
use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, LOCATION};

/// R1–R11 as people meet them: bob enrols from the QR code, logs in with
/// codes, resets his MFA and enrols again; carol finds the organization
/// page closed; ada resets bob and enforces MFA; gina's session expires;
/// later she loses her phone and recovers through the support desk (R14:
/// sam opens a case, gus sees it, the ticket reaches gina only, she enrols
/// again), carol vetoes a case from her session and bob's cancel link
/// cancels another.
/// Screenshots of every page land in `MFA_RESET_SCREENSHOTS` (docs/console.md's:
/// `MFA_RESET_SCREENSHOTS=docs/console cargo test --workspace --test gateways browser::`).
#[tokio::test(flavor = "multi_thread")]
async fn r1_to_r11_the_help_centre_story_passes_in_a_browser() {
    let (svc, inbox) = story_service().await;
    let shots = screenshot_dir(&svc.dir.path().join("screenshots"));
    let (base, clock) = (svc.base.clone(), svc.clock.clone());
    let database = svc.database();
    tokio::task::spawn_blocking(move || run_story(&base, &clock, &database, &inbox, &shots))
        .await
        .unwrap();
    for page in [
        "login",
        "enrol",
        "code",
        "profile",
        "profile-reset",
        "organization",
        "organization-root-only",
        "profile-phone",
        "invitation",
        "expired",
        "support",
        "case-banner",
        "ticket-login",
        "cancel-case",
    ] {
        let shot = screenshot_dir(&svc.dir.path().join("screenshots")).join(format!("{page}.png"));
        assert!(shot.exists(), "{} was saved", shot.display());
    }
}

/// The pages are the same static shell for everyone (no data, no session
/// needed), locked down: no inline code, no framing, no referrer, nothing
/// but this site's scripts; other paths and methods are refused.
#[tokio::test(flavor = "multi_thread")]
async fn console_pages_hold_no_data_and_are_locked_down() {
    let svc = TestService::start(|_, _| {}).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let login = http.get(svc.url("/console/login")).send().await.unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    let headers = login.headers().clone();
    let csp = headers[CONTENT_SECURITY_POLICY].to_str().unwrap();
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "frame-ancestors 'none'",
        "connect-src 'self'",
    ] {
        assert!(csp.contains(directive), "{directive} in {csp}");
    }
    assert!(!csp.contains("unsafe"), "{csp}");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert!(
        headers[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let shell = login.text().await.unwrap();

    // One shell for every page; a session changes nothing in it.
    let token = common::service::login(&svc.base, "ada").await;
    for page in [
        "profile",
        "organization",
        "expired",
        "support",
        "cancel-case",
    ] {
        let with_session = http
            .get(svc.url(&format!("/console/{page}")))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(with_session.status(), StatusCode::OK);
        assert_eq!(with_session.text().await.unwrap(), shell, "{page}");
    }
    assert!(!shell.contains("ada") && !shell.contains("acme"));

    for file in ["console.js", "common.js", "support.js", "codes.js"] {
        let script = http
            .get(svc.url(&format!("/console/assets/{file}")))
            .send()
            .await
            .unwrap();
        assert_eq!(script.status(), StatusCode::OK, "{file}");
        assert!(
            script.headers()[CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/javascript")
        );
        assert_eq!(script.headers()[CACHE_CONTROL], "no-store");
        assert!(
            !script.text().await.unwrap().contains("innerHTML"),
            "{file}: text goes in as text"
        );
    }

    let index = http.get(svc.url("/console/")).send().await.unwrap();
    assert_eq!(index.status(), StatusCode::SEE_OTHER);
    // R13: an anonymous visitor sees the login page first, never an empty profile.
    assert_eq!(index.headers()[LOCATION], "login");

    // Sent exactly as written: an HTTP client would resolve dot segments.
    let addr = svc.addr();
    let statuses = tokio::task::spawn_blocking(move || {
        [
            "/console/admin",
            "/console/assets/../console.js",
            "/console/assets/..%2fconsole.js",
            "/console/assets/%2e%2e/%2e%2e/Cargo.toml",
            "/console/assets/secret.key",
            "/console/login/extra",
            "/console/assets/console.js%00",
            "/console/Login",
        ]
        .map(|path| (path, raw_get_status(addr, path)))
    })
    .await
    .unwrap();
    for (path, status) in statuses {
        assert_eq!(status, 404, "{path}");
    }
    let post = client()
        .post(svc.url("/console/login"))
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
}

/// The status of `GET path`, the path sent byte for byte as given.
fn raw_get_status(addr: SocketAddr, path: &str) -> u16 {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {response}"))
}
