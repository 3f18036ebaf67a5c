//! A real Caddy (Debian's package, its `forward_auth` directive) in front of
//! the sidecar, with the shipped host/service/deploy/Caddyfile.

use crate::common;

use std::path::PathBuf;
use std::process::Command;

use common::gateway::{Gateway, binary, check_gateway, deploy_file, free_port, start_backend};
use common::service::TestService;
use mfa_reset_service::ForwardedHeaders;

fn start_caddy(listen: u16, sidecar: u16, backend: u16) -> Gateway {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("Caddyfile");
    std::fs::write(&config, deploy_file("Caddyfile", listen, sidecar, backend)).unwrap();
    let candidates = ["/usr/bin/caddy", "/usr/local/bin/caddy"].map(PathBuf::from);
    let mut command = Command::new(binary("caddy", &candidates));
    command
        .args(["run", "--adapter", "caddyfile", "--config"])
        .arg(&config)
        // Caddy keeps its state under these; the temp dir, not $HOME.
        .env("HOME", dir.path())
        .env("XDG_DATA_HOME", dir.path().join("data"))
        .env("XDG_CONFIG_HOME", dir.path().join("config"));
    Gateway::start(command, dir, listen)
}

/// R7, R11 through Caddy: pages allowed and denied by the policies, the
/// sidecar's subject (and nothing a client forged) reaching the backend,
/// 401 and 403 passed through.
#[tokio::test(flavor = "multi_thread")]
async fn console_routes_through_caddy_are_decided_by_the_sidecar() {
    let svc = TestService::start(|c, _| c.forwarded_headers = ForwardedHeaders::Forwarded).await;
    let backend = start_backend().await;
    let port = free_port();
    let caddy = start_caddy(port, svc.addr().port(), backend);
    check_gateway(&format!("http://127.0.0.1:{port}"), &svc, &caddy).await;
    drop(caddy);
    svc.service.stop().await;
}
