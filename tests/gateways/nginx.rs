//! A real nginx (Debian's package) in front of the sidecar, with the
//! shipped host/service/deploy/nginx.conf: allowed and denied requests through it.

use crate::common;

use std::path::PathBuf;
use std::process::Command;

use common::browser::{run_story, story_service};
use common::gateway::{Gateway, binary, check_gateway, deploy_file, free_port, start_backend};
use common::service::TestService;

fn nginx_binary() -> PathBuf {
    let candidates = ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"];
    binary("nginx", &candidates.map(PathBuf::from))
}

/// nginx with the shipped config, wrapped in a minimal main config that
/// keeps every file inside the gateway's temp dir.
fn start_nginx(listen: u16, sidecar: u16, backend: u16) -> Gateway {
    start_nginx_with(listen, sidecar, backend, None)
}

/// The TLS server's addresses and files, for nginx-tls.conf.
struct Tls {
    https: u16,
    http: u16,
    certificate: PathBuf,
    key: PathBuf,
}

/// nginx with the shipped nginx.conf and its locations, and with `tls` the
/// shipped nginx-tls.conf beside them.
fn start_nginx_with(listen: u16, sidecar: u16, backend: u16, tls: Option<&Tls>) -> Gateway {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let site = deploy_file("nginx.conf", listen, sidecar, backend);
    assert!(
        site.contains(&format!("listen 127.0.0.1:{listen}"))
            && site.contains("include snippets/mfa-reset-locations.conf;"),
        "the shipped config listens where the test expects"
    );
    std::fs::write(root.join("mfa-reset.conf"), site).unwrap();
    std::fs::create_dir_all(root.join("snippets")).unwrap();
    let locations = deploy_file("nginx-locations.conf", listen, sidecar, backend);
    std::fs::write(root.join("snippets/mfa-reset-locations.conf"), locations).unwrap();
    let mut sites = vec![root.join("mfa-reset.conf")];
    if let Some(tls) = tls {
        let shipped = deploy_file("nginx-tls.conf", listen, sidecar, backend);
        let site = shipped
            .replace("127.0.0.1:8443", &format!("127.0.0.1:{}", tls.https))
            .replace("127.0.0.1:8088", &format!("127.0.0.1:{}", tls.http))
            .replace(
                "/etc/nginx/tls/mfa-reset.crt",
                &tls.certificate.display().to_string(),
            )
            .replace(
                "/etc/nginx/tls/mfa-reset.key",
                &tls.key.display().to_string(),
            );
        assert!(
            site.contains(&tls.key.display().to_string()),
            "the shipped TLS config names its key"
        );
        std::fs::write(root.join("mfa-reset-tls.conf"), site).unwrap();
        sites.push(root.join("mfa-reset-tls.conf"));
    }
    let p = |name: &str| root.join(name).display().to_string();
    let includes: String = sites
        .iter()
        .map(|s| format!("  include {};\n", s.display()))
        .collect();
    let main = format!(
        "daemon off;\nmaster_process off;\nerror_log stderr info;\npid {pid};\nevents {{ worker_connections 256; }}\n\
         http {{\n  access_log {access};\n  client_body_temp_path {tmp}/body;\n  proxy_temp_path {tmp}/proxy;\n  \
         fastcgi_temp_path {tmp}/fastcgi;\n  uwsgi_temp_path {tmp}/uwsgi;\n  scgi_temp_path {tmp}/scgi;\n{includes}}}\n",
        pid = p("nginx.pid"),
        access = p("access.log"),
        tmp = p("tmp"),
    );
    std::fs::create_dir_all(root.join("tmp")).unwrap();
    std::fs::write(root.join("nginx.conf"), main).unwrap();
    let mut command = Command::new(nginx_binary());
    command
        .arg("-p")
        .arg(root)
        .arg("-e")
        .arg("stderr")
        .arg("-c")
        .arg(root.join("nginx.conf"));
    Gateway::start(command, dir, listen)
}

/// R7, R11 through nginx (`auth_request`, the sidecar reading
/// `X-Original-*`): pages allowed and denied by the policies, the sidecar's
/// subject (and nothing a client forged) reaching the backend, every
/// spelling of a denied route denied, 401 and 403 passed through.
#[tokio::test(flavor = "multi_thread")]
async fn console_routes_through_nginx_are_decided_by_the_sidecar() {
    let svc = TestService::start(|_, _| {}).await; // trusts 127.0.0.1, where nginx connects from
    let backend = start_backend().await;
    let port = free_port();
    let nginx = start_nginx(port, svc.addr().port(), backend);
    check_gateway(&format!("http://127.0.0.1:{port}"), &svc, &nginx).await;
    drop(nginx);
    svc.service.stop().await;
}

/// R1–R11 in the console's pages behind nginx with the shipped config: the
/// whole browser story of tests/gateways/browser.rs, through the gateway —
/// cookies, CSRF checks (Origin against the forwarded Host) and the client's
/// address for throttling as nginx passes them.
#[tokio::test(flavor = "multi_thread")]
async fn r1_to_r11_the_browser_story_passes_behind_nginx_with_the_shipped_config() {
    let (svc, inbox) = story_service().await;
    let port = free_port();
    let nginx = start_nginx(port, svc.addr().port(), start_backend().await);
    let base = format!("http://127.0.0.1:{port}");
    let shots = svc.dir.path().join("screenshots");
    let clock = svc.clock.clone();
    let database = svc.database();
    tokio::task::spawn_blocking(move || run_story(&base, &clock, &database, &inbox, &shots))
        .await
        .unwrap();
    drop(nginx);
    svc.service.stop().await;
}

/// R13 through nginx with the shipped config: bob's identity provider
/// deactivates him by SCIM (through the gateway, as an IdP on the internet
/// would reach it) and his session ends at once: the next page and the
/// console API through nginx answer 401.
#[tokio::test(flavor = "multi_thread")]
async fn r13_a_scim_deactivation_ends_the_session_at_once_behind_nginx() {
    use common::service::{client, login};
    use reqwest::StatusCode;
    use serde_json::json;

    let svc = TestService::start(|_, _| {}).await;
    let token = svc
        .accounts(&svc.base)
        .await
        .create_scim_token("acme")
        .await
        .unwrap()
        .secret;
    let port = free_port();
    let nginx = start_nginx(port, svc.addr().port(), start_backend().await);
    let front = format!("http://127.0.0.1:{port}");
    let bob = login(&front, "bob").await;
    let page = || {
        client()
            .get(format!("{front}/app/home"))
            .header("cookie", format!("mfa_session={bob}"))
            .send()
    };
    assert_eq!(
        page().await.unwrap().status(),
        StatusCode::OK,
        "{}",
        nginx.log()
    );

    let patched = client()
        .patch(format!("{front}/scim/v2/Users/bob"))
        .bearer_auth(&token)
        .header("content-type", "application/scim+json")
        .body(
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "active", "value": false}]
            })
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), StatusCode::OK, "{}", nginx.log());

    assert_eq!(page().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    let session = client()
        .get(format!("{front}/api/session"))
        .header("cookie", format!("mfa_session={bob}"))
        .send()
        .await
        .unwrap();
    assert_eq!(session.status(), StatusCode::UNAUTHORIZED);
    drop(nginx);
    svc.service.stop().await;
}

/// The TLS variant (nginx-tls.conf) with the sidecar's default, secure
/// cookies: the login over HTTPS sets `__Host-mfa_session` with `Secure`,
/// `HttpOnly`, path `/` and no domain, under HSTS; the page behind it is
/// decided with that cookie; plain HTTP only redirects to HTTPS; and the
/// cookie under its plain-HTTP name (a downgrade) lets nobody in.
#[tokio::test(flavor = "multi_thread")]
async fn tls_through_nginx_the_session_cookie_is_host_bound_and_secure() {
    use reqwest::StatusCode;

    let svc = TestService::start(|config, _| config.secure_cookies = true).await;
    let dir = tempfile::tempdir().unwrap();
    let (certificate, key) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args(["-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        // A server's certificate, not a CA's (rustls refuses a CA as the peer).
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .args(["-addext", "extendedKeyUsage=serverAuth", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&certificate)
        .output()
        .expect("openssl runs");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let tls = Tls {
        https: free_port(),
        http: free_port(),
        certificate: certificate.clone(),
        key,
    };
    let plain = free_port();
    let nginx = start_nginx_with(plain, svc.addr().port(), start_backend().await, Some(&tls));
    let root = reqwest::Certificate::from_pem(&std::fs::read(&certificate).unwrap()).unwrap();
    let https = reqwest::Client::builder()
        .add_root_certificate(root)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let front = format!("https://127.0.0.1:{}", tls.https);
    // nginx may still be loading its TLS server after the plain one answers.
    let mut login = Err(String::new());
    for _ in 0..100 {
        login = https
            .post(format!("{front}/api/login"))
            .json(&serde_json::json!({"user": "bob", "password": "bob-demo-password"}))
            .send()
            .await
            .map_err(|e| format!("{e:?}"));
        if login.is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let login = login.unwrap_or_else(|e| panic!("nginx answers over HTTPS: {e}\n{}", nginx.log()));
    assert_eq!(login.status(), StatusCode::OK, "{}", nginx.log());
    let hsts = login.headers().get("strict-transport-security");
    assert_eq!(hsts.and_then(|v| v.to_str().ok()), Some("max-age=63072000"));
    let cookie = login
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("a session cookie")
        .to_string();
    let attributes: Vec<&str> = cookie.split(';').map(str::trim).collect();
    assert!(attributes[0].starts_with("__Host-mfa_session="), "{cookie}");
    for wanted in ["Secure", "HttpOnly", "Path=/"] {
        assert!(attributes.contains(&wanted), "{wanted} in {cookie}");
    }
    assert!(
        !cookie.to_ascii_lowercase().contains("domain="),
        "host-only: {cookie}"
    );
    let session = attributes[0];

    let page = https
        .get(format!("{front}/app/home"))
        .header("cookie", session)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK, "{}", nginx.log());
    let seen: serde_json::Value = page.json().await.unwrap();
    assert_eq!(seen["user"], "bob");
    let cookies_seen = seen["headers"].to_string();
    assert!(
        !cookies_seen.contains("mfa_session"),
        "the backend never gets the session: {cookies_seen}"
    );

    let redirect = https
        .get(format!("http://127.0.0.1:{}/app/home?x=1", tls.http))
        .send()
        .await
        .unwrap();
    assert_eq!(redirect.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(
        redirect.headers()["location"].to_str().unwrap(),
        "https://mfa.example.com/app/home?x=1",
        "to the configured name, not the client's Host"
    );
    let forged_host = https
        .get(format!("http://127.0.0.1:{}/app/home", tls.http))
        .header("host", "evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(
        forged_host.headers()["location"].to_str().unwrap(),
        "https://mfa.example.com/app/home"
    );

    // The session under the cookie name of plain-HTTP trials
    // (--insecure-cookies): a sidecar with secure cookies takes only
    // `__Host-mfa_session`, which browsers send over HTTPS only.
    let token = session.trim_start_matches("__Host-mfa_session=");
    let plain_name = https
        .get(format!("http://127.0.0.1:{plain}/app/home"))
        .header("cookie", format!("mfa_session={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(plain_name.status(), StatusCode::UNAUTHORIZED);
    drop(nginx);
    svc.service.stop().await;
}
