//! The webhook worker: delivers the outbox's notifications, signed, until
//! the receiver answers 2xx. It runs beside the request handlers and only
//! ever reads the outbox, so a slow, failing or absent receiver never
//! blocks or fails a decision. Failed deliveries wait (doubling, with
//! jitter) and go again; restarts and other replicas pick up where a
//! worker left off. Delivery is at least once: receivers deduplicate on
//! `webhook-id`, the event id.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

use crate::config::{Clock, Webhook};
use crate::metrics::Metrics;
use crate::store::{DueNotification, Store};
use mfa_reset::timestamp::to_millis as millis;

/// Notifications claimed at a time (delivered concurrently).
const BATCH: i64 = 16;
/// How often the outbox is read when no change wakes the worker (a change
/// made by another replica, a retry coming due).
const POLL: Duration = Duration::from_millis(500);
/// How often the pending gauge is refreshed and old rows are purged.
const HOUSEKEEPING: Duration = Duration::from_secs(1);
/// Acknowledged notifications are kept this long, then purged.
const KEEP_DELIVERED: Duration = Duration::from_secs(7 * 24 * 3600);

/// The running worker: [`WebhookWorker::stop`] ends it.
pub struct WebhookWorker {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<usize>,
}

impl WebhookWorker {
    /// Stops claiming, abandons the deliveries in flight and gives their
    /// claims back (another replica, or the next start, delivers them at
    /// once: a receiver may see one twice, never none). Returns how many
    /// claims were given back.
    pub async fn stop(self) -> usize {
        let _ = self.stop.send(true);
        self.task.await.unwrap_or(0)
    }
}

/// Starts the worker.
pub fn spawn(
    store: Store,
    webhook: Webhook,
    clock: Clock,
    metrics: Arc<Metrics>,
    wake: Arc<Notify>,
) -> Result<WebhookWorker, reqwest::Error> {
    let mut http = reqwest::Client::builder();
    if webhook.url.starts_with("http:") {
        // Plain http is for loopback only: never through a proxy (HTTP_PROXY).
        http = http.no_proxy();
    }
    let http = http
        // A redirect would send the signed event somewhere not configured.
        .redirect(reqwest::redirect::Policy::none())
        .timeout(webhook.timeout)
        .user_agent(concat!("mfa-reset/", env!("CARGO_PKG_VERSION")))
        .build()?;
    let worker = Worker {
        store,
        webhook: Arc::new(webhook),
        clock,
        metrics,
        http,
    };
    let (stop, stopping) = watch::channel(false);
    let task = tokio::spawn(worker.run(wake, stopping));
    Ok(WebhookWorker { stop, task })
}

struct Worker {
    store: Store,
    webhook: Arc<Webhook>,
    clock: Clock,
    metrics: Arc<Metrics>,
    http: reqwest::Client,
}

impl Worker {
    /// Delivers until `stopping` turns true; returns how many claims it
    /// gave back then.
    async fn run(self, wake: Arc<Notify>, mut stopping: watch::Receiver<bool>) -> usize {
        // A claim outlives any delivery of it, so no two run at once.
        let lease = self.webhook.timeout * 2 + Duration::from_secs(1);
        let mut last_housekeeping = None::<std::time::Instant>;
        loop {
            if *stopping.borrow() {
                return 0;
            }
            let now = millis(self.clock.now());
            if last_housekeeping.is_none_or(|at| at.elapsed() >= HOUSEKEEPING) {
                self.housekeeping(now).await;
                last_housekeeping = Some(std::time::Instant::now());
            }
            let claimed = self
                .store
                .claim_notifications(now, now + as_millis(lease), BATCH)
                .await;
            let pause = match claimed {
                Ok(due) if !due.is_empty() => {
                    if let Some(released) = self.deliver_all(due, &mut stopping).await {
                        return released;
                    }
                    continue;
                }
                Ok(_) => POLL,
                Err(e) => {
                    // The database is away: the rows wait for it.
                    tracing::warn!(error = %e, "webhook worker cannot read the outbox");
                    POLL
                }
            };
            tokio::select! {
                () = wake.notified() => {}
                () = tokio::time::sleep(pause) => {}
                // Told to stop, or its handle dropped: either ends it.
                changed = stopping.changed() => if changed.is_err() { return 0 },
            }
        }
    }

    /// Delivers `due` at once; if the service stops meanwhile, abandons the
    /// deliveries not finished and returns how many claims it gave back.
    async fn deliver_all(
        &self,
        due: Vec<DueNotification>,
        stopping: &mut watch::Receiver<bool>,
    ) -> Option<usize> {
        let mut deliveries = JoinSet::new();
        let mut unfinished = std::collections::HashMap::new();
        for notification in due {
            let (http, webhook) = (self.http.clone(), self.webhook.clone());
            unfinished.insert(notification.id.clone(), notification.clone());
            deliveries.spawn(async move {
                let result = deliver(&http, &webhook, &notification).await;
                (notification, result)
            });
        }
        loop {
            let done = tokio::select! {
                done = deliveries.join_next() => done,
                _ = stopping.changed() => {
                    deliveries.abort_all();
                    return Some(self.release(unfinished.into_values()).await);
                }
            };
            // All delivered: `None`, nothing was given back.
            let done = done?;
            if let Ok((notification, _)) = &done {
                unfinished.remove(&notification.id);
            }
            let Ok((notification, result)) = done else {
                continue; // a delivery task panicked: its lease runs out, it goes again
            };
            let now = millis(self.clock.now());
            let recorded = match &result {
                Ok(()) => {
                    self.metrics.notification_delivery("delivered");
                    self.store
                        .notification_delivered(&notification.id, now)
                        .await
                }
                Err(error) => {
                    self.metrics.notification_delivery("failed");
                    let wait = retry_delay(&self.webhook, notification.attempts + 1);
                    tracing::warn!(
                        event_id = %notification.id,
                        attempts = notification.attempts + 1,
                        retry_in_ms = wait.as_millis() as u64,
                        error = %error,
                        "webhook delivery failed"
                    );
                    self.store
                        .notification_failed(
                            &notification.id,
                            now + as_millis(wait),
                            &error.to_string(),
                        )
                        .await
                }
            };
            if let Err(e) = recorded {
                // Not recorded: the lease runs out and it goes again.
                tracing::warn!(event_id = %notification.id, error = %e, "webhook outcome not recorded");
            }
        }
    }

    /// Gives back the claims of `abandoned` deliveries; returns how many.
    async fn release(&self, abandoned: impl Iterator<Item = DueNotification>) -> usize {
        let mut released = 0;
        for notification in abandoned {
            match self.store.release_notification(&notification).await {
                Ok(true) => released += 1,
                Ok(false) => {}
                // The lease runs out instead.
                Err(e) => {
                    tracing::warn!(event_id = %notification.id, error = %e, "claim not given back")
                }
            }
        }
        released
    }

    /// The pending gauge, and old acknowledged rows purged.
    async fn housekeeping(&self, now: i64) {
        if let Ok((pending, oldest)) = self.store.notifications_pending().await {
            let age = oldest.map_or(0, |at| (now - at).max(0) / 1000);
            self.metrics.notifications_pending(pending, age);
        }
        let before = now - as_millis(KEEP_DELIVERED);
        if let Err(e) = self.store.purge_notifications(before).await {
            tracing::warn!(error = %e, "delivered notifications not purged");
        }
    }
}

/// Why a delivery failed, without the receiver's body (it is not ours to
/// store).
#[derive(Debug, thiserror::Error)]
enum DeliveryFailure {
    #[error("HTTP {0}")]
    Status(u16),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("cannot connect")]
    Connect,
    #[error("connection failed")]
    Connection,
}

/// One delivery: `Ok` only for a 2xx answer.
async fn deliver(
    http: &reqwest::Client,
    webhook: &Webhook,
    notification: &DueNotification,
) -> Result<(), DeliveryFailure> {
    // The receiver checks it against its own clock: the real time, not
    // the (test-shiftable) service clock.
    let timestamp = time::OffsetDateTime::now_utc().unix_timestamp();
    let signature = webhook
        .key
        .sign(&notification.id, timestamp, &notification.body);
    let sent = http
        .post(&webhook.url)
        .header("content-type", "application/json")
        .header("webhook-id", &notification.id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(notification.body.clone())
        .send()
        .await;
    match sent {
        Ok(response) if response.status().is_success() => Ok(()),
        Ok(response) => Err(DeliveryFailure::Status(response.status().as_u16())),
        Err(e) if e.is_timeout() => Err(DeliveryFailure::Timeout(webhook.timeout)),
        Err(e) if e.is_connect() => Err(DeliveryFailure::Connect),
        Err(_) => Err(DeliveryFailure::Connection),
    }
}

/// The wait before delivery number `attempt + 1`: `retry_base` doubled per
/// failure up to `retry_max`, the upper half drawn at random so that
/// retries after an outage do not all arrive at once.
pub fn retry_delay(webhook: &Webhook, attempt: i64) -> Duration {
    use rand::Rng;
    let doublings = u32::try_from(attempt.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
    let full = webhook
        .retry_base
        .saturating_mul(1 << doublings)
        .min(webhook.retry_max);
    let half = full / 2;
    half + half.mul_f64(rand::rng().random_range(0.0..=1.0))
}

fn as_millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::WebhookKey;

    fn webhook(url: &str) -> Result<Webhook, String> {
        Webhook::new(url, WebhookKey::parse(&"A".repeat(40)).unwrap()).map_err(|e| e.to_string())
    }

    #[test]
    fn retries_double_up_to_the_limit_with_jitter_in_the_upper_half() {
        let w = webhook("https://hooks.example.com/mfa").unwrap();
        for (attempt, full) in [(1, 1), (2, 2), (3, 4), (10, 512), (11, 900), (500, 900)] {
            let d = retry_delay(&w, attempt);
            let full = Duration::from_secs(full);
            assert!(d >= full / 2 && d <= full, "attempt {attempt}: {d:?}");
        }
    }

    #[test]
    fn webhook_urls_must_be_https_or_loopback_and_carry_no_credentials() {
        assert!(webhook("https://hooks.example.com/x").is_ok());
        assert!(webhook("http://127.0.0.1:9000/x").is_ok());
        assert!(webhook("http://[::1]:9000/x").is_ok());
        assert!(webhook("http://localhost/x").is_ok());
        let clear = webhook("http://hooks.example.com/x").unwrap_err();
        assert!(clear.contains("use https"), "{clear}");
        let scheme = webhook("ftp://hooks.example.com/x").unwrap_err();
        assert!(scheme.contains("scheme `ftp`"), "{scheme}");
        let creds = webhook("https://u:p@hooks.example.com/x").unwrap_err();
        assert!(creds.contains("no credentials"), "{creds}");
        let junk = webhook("not a url").unwrap_err();
        assert!(junk.contains("not a URL"), "{junk}");
        let clear_creds = webhook("http://u:hunter2@hooks.example.com/x").unwrap_err();
        assert!(clear_creds.contains("no credentials") && !clear_creds.contains("hunter2"));
    }
}
