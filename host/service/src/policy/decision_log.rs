//! The decision log: each decision the service makes, with the engine
//! request it decided (no secret) and the policy revision, so that a
//! candidate policy set can be replayed against real traffic. Entries are
//! sampled, queued and written in batches by a background task: recording
//! never delays or fails a decision (a full queue drops, and counts, the
//! entry). Entries older than the retention are purged.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tokio::sync::mpsc;

use crate::config::{Clock, DecisionLogConfig};
use crate::credentials::SecretBox;
use crate::metrics::Metrics;
pub use crate::store::RecordedDecision;
use crate::store::{Store, StoreError};

/// Entries waiting for the writer; beyond this they are dropped.
const QUEUE: usize = 16_384;
/// Entries written per batch.
const BATCH: usize = 1_000;
/// How often old entries are purged.
const PURGE_EVERY: Duration = Duration::from_secs(600);

/// The handle the decision paths record through (cheap to clone).
#[derive(Clone)]
pub struct DecisionLog {
    queue: mpsc::Sender<RecordedDecision>,
    sample: f64,
    metrics: Arc<Metrics>,
}

/// The writer task: [`DecisionLogWriter::flush`] writes what is queued and
/// ends it.
pub struct DecisionLogWriter {
    close: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<usize>,
}

impl DecisionLogWriter {
    /// Refuses new entries, writes every queued one, and returns how many
    /// were written after the call.
    pub async fn flush(self) -> usize {
        let _ = self.close.send(());
        self.task.await.unwrap_or(0)
    }
}

impl DecisionLog {
    /// Starts the writer for `store`.
    pub fn spawn(
        store: Store,
        config: DecisionLogConfig,
        clock: Clock,
        metrics: Arc<Metrics>,
    ) -> (Self, DecisionLogWriter) {
        let (queue, mut entries) = mpsc::channel(QUEUE);
        let (close, closing) = tokio::sync::oneshot::channel::<()>();
        let writer_metrics = metrics.clone();
        let task = tokio::spawn(async move {
            let mut batch = Vec::with_capacity(BATCH);
            let mut last_purge = None::<std::time::Instant>;
            let mut closing = std::pin::pin!(closing);
            let mut closed = false;
            let mut written_after_close = 0;
            loop {
                let received = tokio::select! {
                    n = entries.recv_many(&mut batch, BATCH) => n,
                    // Stopping: no new entries; the queued ones are drained below.
                    _ = &mut closing, if !closed => {
                        entries.close();
                        closed = true;
                        continue;
                    }
                };
                if received == 0 {
                    return written_after_close;
                }
                if let Err(e) = store.append_decisions(&batch).await {
                    tracing::warn!(error = %e, lost = batch.len(), "decision log: a batch could not be written");
                    writer_metrics.decisions_unlogged(batch.len());
                } else if closed {
                    written_after_close += batch.len();
                }
                batch.clear();
                if !closed && last_purge.is_none_or(|at| at.elapsed() >= PURGE_EVERY) {
                    last_purge = Some(std::time::Instant::now());
                    let retention = i64::try_from(config.retention.as_millis()).unwrap_or(i64::MAX);
                    let before =
                        mfa_reset::timestamp::to_millis(clock.now()).saturating_sub(retention);
                    if let Err(e) = store.purge_decisions(before).await {
                        tracing::warn!(error = %e, "decision log: purge failed");
                    }
                }
            }
        });
        let log = Self {
            queue,
            sample: config.sample,
            metrics,
        };
        (log, DecisionLogWriter { close, task })
    }

    /// Records the decision `entry` builds, if it is sampled (unsampled
    /// decisions build nothing: this is the forward-auth path); never waits.
    pub fn record(&self, entry: impl FnOnce() -> RecordedDecision) {
        if self.sample < 1.0 && rand::rng().random::<f64>() >= self.sample {
            return;
        }
        if self.queue.try_send(entry()).is_err() {
            self.metrics.decisions_unlogged(1);
        }
    }
}

/// The decisions recorded in the database at `url` since `since` (ms),
/// oldest first, at most `limit` (the newest): what `policies replay` reads.
pub async fn read_recorded_decisions(
    url: &str,
    since: i64,
    limit: i64,
) -> Result<Vec<RecordedDecision>, StoreError> {
    // No sealed secret is read: any key opens the store for this.
    let key = SecretBox::generate_base64();
    let secrets = SecretBox::from_base64(&key).expect("a generated key reads back");
    let store = Store::open_read_only(url, secrets).await?;
    store.recorded_decisions(since, limit).await
}
