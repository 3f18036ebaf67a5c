//! The sidecar behind real gateways (nginx, Caddy, Traefik) with the
//! shipped configurations, and the console in a real browser (Chromium).

#[path = "../common/mod.rs"]
mod common;

mod browser;
mod caddy;
mod nginx;
mod traefik;
