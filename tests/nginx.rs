//! A real nginx (Debian's package) in front of the sidecar, with the
//! shipped host/service/deploy/nginx.conf: allowed and denied requests through it.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::gateway::{Gateway, binary, deploy_file, free_port, start_backend};
use common::service::*;
use reqwest::StatusCode;
use serde_json::Value;

fn nginx_binary() -> PathBuf {
    let candidates = ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"];
    binary("nginx", &candidates.map(PathBuf::from))
}

/// nginx with the shipped config, wrapped in a minimal main config that
/// keeps every file inside the gateway's temp dir.
fn start_nginx(listen: u16, sidecar: u16, backend: u16) -> Gateway {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let site = deploy_file("nginx.conf", listen, sidecar, backend);
    assert!(
        site.contains(&format!("listen 127.0.0.1:{listen}")),
        "the shipped config listens where the test expects"
    );
    std::fs::write(root.join("mfa-reset.conf"), site).unwrap();
    let p = |name: &str| root.join(name).display().to_string();
    let main = format!(
        "daemon off;\nmaster_process off;\nerror_log stderr info;\npid {pid};\nevents {{ worker_connections 256; }}\n\
         http {{\n  access_log {access};\n  client_body_temp_path {tmp}/body;\n  proxy_temp_path {tmp}/proxy;\n  \
         fastcgi_temp_path {tmp}/fastcgi;\n  uwsgi_temp_path {tmp}/uwsgi;\n  scgi_temp_path {tmp}/scgi;\n  include {site};\n}}\n",
        pid = p("nginx.pid"),
        access = p("access.log"),
        tmp = p("tmp"),
        site = p("mfa-reset.conf"),
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

#[tokio::test(flavor = "multi_thread")]
async fn console_routes_through_nginx_are_allowed_and_denied_by_the_sidecar() {
    let svc = TestService::start(|_, _| {}).await; // trusts 127.0.0.1, where nginx connects from
    let backend = start_backend().await;
    let port = free_port();
    let nginx = start_nginx(port, svc.addr().port(), backend);
    let front = format!("http://127.0.0.1:{port}");
    let c = client();

    // No session: 401 passes through nginx to the client.
    let response = c.get(format!("{front}/console/home")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    // Logging in through nginx (the /api/ location proxies to the sidecar).
    let bob = login(&front, "bob").await;
    let ada = login(&front, "ada").await;
    let cookie = |token: &str| format!("mfa_session={token}"); // plain HTTP here

    // Allowed: the backend gets the subject from the sidecar's headers,
    // not the ones the client made up.
    let (status, body) = read(
        c.get(format!("{front}/console/home"))
            .header("cookie", cookie(&bob))
            .header("x-auth-user", "ada")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["user"], "bob");
    assert_eq!(body["organization"], "acme");
    assert!(!body["decision_id"].as_str().unwrap().is_empty());

    // A POST with a body: nginx asks with GET and X-Original-Method.
    let (status, _) = read(
        c.post(format!("{front}/console/settings"))
            .header("cookie", cookie(&bob))
            .body("x=1")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    // Denied: a sub-user on the administration pages (R11).
    let response = c
        .get(format!("{front}/console/admin/users"))
        .header("cookie", cookie(&bob))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let (status, body) = read(
        c.get(format!("{front}/console/admin/users"))
            .header("cookie", cookie(&ada))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["role"].as_str()),
        (StatusCode::OK, Some("root"))
    );

    // Bearer tokens work too, and a dot-segment trick is refused.
    let response = c
        .get(format!("{front}/console/home"))
        .bearer_auth(&bob)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // (nginx folds it to /admin/users, which it does not serve at all.)
    let response = c
        .get(format!("{front}/console/%2e%2e/admin/users"))
        .bearer_auth(&bob)
        .send()
        .await
        .unwrap();
    assert!(!response.status().is_success(), "{}", response.status());

    // An expired session: 401 through nginx (R7).
    svc.clock.advance(time::Duration::days(31));
    let response = c
        .get(format!("{front}/console/home"))
        .header("cookie", cookie(&bob))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    // The console API through nginx answers as the sidecar does.
    let (status, body): (StatusCode, Value) =
        call(&front, &ada, "GET", "/api/org/users", None).await;
    assert_eq!(
        (status, body["denial_code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("session-expired"))
    );
    drop(nginx);
    svc.service.stop().await;
}

/// Issue 8.1 and 8.2 through a real nginx with the shipped config: a
/// sub-user's forged forwarding headers, route spellings and methods never
/// open the administration pages, and forged X-Auth-* never reach the backend.
#[tokio::test(flavor = "multi_thread")]
async fn route_spoofing_through_nginx_is_refused() {
    let svc = TestService::start(|_, _| {}).await;
    let backend = start_backend().await;
    let port = free_port();
    let nginx = start_nginx(port, svc.addr().port(), backend);
    let front = format!("http://127.0.0.1:{port}");
    let c = client();
    let bob = login(&front, "bob").await;
    let ada = login(&front, "ada").await;

    // R11: the attack of the issue, header by header.
    for (method, path, forged) in [
        (
            "GET",
            "/console/admin/users",
            ("x-forwarded-uri", "/console/home"),
        ),
        (
            "GET",
            "/console/admin/users",
            ("x-original-uri", "/console/home"),
        ),
        ("GET", "/console/audit", ("x-forwarded-method", "POST")),
        ("GET", "/console/audit", ("x-original-method", "POST")),
        (
            "GET",
            "/console/admin/users",
            ("x-forwarded-host", "elsewhere"),
        ),
    ] {
        let response = c
            .request(method.parse().unwrap(), format!("{front}{path}"))
            .bearer_auth(&bob)
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
    // R11: other spellings of the administration pages, and methods the
    // audit route does not take.
    for path in [
        "/console/admin",
        "/console/Admin/",
        "/console/admin;x=1/",
        "/console/admin./",
        "/console/admin%20/",
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
                .request(method.parse().unwrap(), format!("{front}/console/audit"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::FORBIDDEN, "{method}");
        }
    }
    // Allowed pages reach the backend with the sidecar's subject only, and
    // none of the client's forwarding headers.
    let (status, body) = read(
        c.get(format!("{front}/console/home"))
            .bearer_auth(&bob)
            .header("x-auth-role", "root")
            .header("x-auth-organization", "globex")
            .header("x-auth-user", "ada")
            .header("x-auth-policy-revision", "forged")
            .header("x-original-uri", "/console/admin/")
            .header("x-forwarded-host", "evil.example")
            .header("forwarded", "host=evil.example")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (
            body["user"].as_str(),
            body["organization"].as_str(),
            body["role"].as_str()
        ),
        (Some("bob"), Some("acme"), Some("sub_user"))
    );
    // The revision the backend sees is the one the sidecar decided under.
    assert_eq!(
        body["policy_revision"],
        policy_revision(&svc.base).await,
        "{body}"
    );
    for header in [
        "forwarded_uri",
        "original_uri",
        "forwarded_host",
        "forwarded",
    ] {
        assert_eq!(body[header], "", "{header} reached the backend: {body}");
    }
    // The root still reaches the administration pages.
    let (status, body) = read(
        c.get(format!("{front}/console/Admin/users"))
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
    // CSRF through nginx: this site's page may change state, another may not.
    for (origin, expected) in [
        ("https://evil.example".to_string(), StatusCode::FORBIDDEN),
        (front.clone(), StatusCode::OK),
    ] {
        let response = c
            .post(format!("{front}/api/me/mfa/enable"))
            .bearer_auth(&ada)
            .header("content-type", "application/json")
            .header("origin", origin.as_str())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), expected, "{origin}");
    }
    drop(nginx);
    svc.service.stop().await;
}
