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
