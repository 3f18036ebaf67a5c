//! A webhook receiver on loopback that keeps every correctly signed event
//! (Standard Webhooks), for tests that wait for one notification.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::HeaderMap;
use mfa_reset_service::{Webhook, WebhookKey};
use serde_json::Value;

/// The signing secret the receiver checks.
pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// The events received, in arrival order.
#[derive(Clone, Default)]
pub struct Inbox {
    events: Arc<Mutex<Vec<Value>>>,
    pub addr: Option<SocketAddr>,
}

impl Inbox {
    /// Starts the receiver.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let inbox = Self {
            addr: Some(listener.local_addr().unwrap()),
            ..Self::default()
        };
        let kept = inbox.events.clone();
        let app = axum::Router::new().route(
            "/hooks",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let kept = kept.clone();
                async move {
                    let header = |n: &str| headers.get(n).unwrap().to_str().unwrap().to_string();
                    let body = String::from_utf8(body.to_vec()).unwrap();
                    let key = WebhookKey::parse(SECRET).unwrap();
                    let timestamp: i64 = header("webhook-timestamp").parse().unwrap();
                    assert_eq!(
                        key.sign(&header("webhook-id"), timestamp, &body),
                        header("webhook-signature")
                    );
                    kept.lock()
                        .unwrap()
                        .push(serde_json::from_str(&body).unwrap());
                    axum::http::StatusCode::NO_CONTENT
                }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        inbox
    }

    /// The service's webhook setting for this receiver (quick retries).
    pub fn webhook(&self) -> Webhook {
        Webhook {
            retry_base: Duration::from_millis(50),
            ..Webhook::new(
                &format!("http://{}/hooks", self.addr.unwrap()),
                WebhookKey::parse(SECRET).unwrap(),
            )
            .unwrap()
        }
    }

    /// Every event of `kind` about `user` received so far.
    pub fn all(&self, kind: &str, user: &str) -> Vec<Value> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == kind && e["data"]["user"] == user)
            .cloned()
            .collect()
    }

    /// The first event of `kind` about `user`, waiting up to 30 s (the
    /// suites share two cores; a delivery is usually there at once).
    pub async fn event(&self, kind: &str, user: &str) -> Value {
        for _ in 0..600 {
            let found = self
                .events
                .lock()
                .unwrap()
                .iter()
                .find(|e| e["type"] == kind && e["data"]["user"] == user)
                .cloned();
            if let Some(event) = found {
                return event;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no {kind} event of {user} arrived");
    }
}
