//! The decision log: each decision the service makes, with the engine
//! request it decided (no secret) and the policy revision, so that a
//! candidate policy set can be replayed against real traffic. Entries are
//! sampled, buffered and written in batches by a background task:
//! recording never delays or fails a decision, and wakes nobody (a full
//! buffer drops, and counts, the entry). Entries older than the retention
//! are purged.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::Rng;
use tokio::sync::Notify;

use crate::config::{Clock, DecisionLogConfig};
use crate::credentials::SecretBox;
use crate::metrics::Metrics;
pub use crate::store::RecordedDecision;
use crate::store::{Store, StoreError};

/// Entries waiting for the writer; beyond this they are dropped (~4 MB
/// of route decisions).
const QUEUE: usize = 16_384;
/// Entries written per batch; a buffer this full wakes the writer early.
const BATCH: usize = 2_000;
/// How often the writer looks at the buffer otherwise.
const WRITE_EVERY: Duration = Duration::from_millis(250);
/// A batch that failed is tried once more after this.
const RETRY_AFTER: Duration = Duration::from_millis(200);
/// How often old entries are purged.
const PURGE_EVERY: Duration = Duration::from_secs(600);

/// The handle the decision paths record through (cheap to clone).
#[derive(Clone)]
pub struct DecisionLog {
    buffer: Arc<Buffer>,
    sample: f64,
    metrics: Arc<Metrics>,
}

/// Recorded entries not yet written. A plain mutex: recording takes it
/// for one push, and the writer for one swap.
struct Buffer {
    pending: Mutex<Pending>,
    /// Woken when the buffer holds a batch.
    full: Notify,
}

#[derive(Default)]
struct Pending {
    entries: Vec<RecordedDecision>,
    /// Stopping: entries recorded from now on are dropped (and counted).
    closed: bool,
}

impl Buffer {
    /// The entries recorded so far; with `close`, the last ones.
    fn take(&self, close: bool) -> Vec<RecordedDecision> {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        pending.closed |= close;
        std::mem::take(&mut pending.entries)
    }
}

/// The writer task: [`DecisionLogWriter::flush`] writes what is buffered
/// and ends it.
pub struct DecisionLogWriter {
    close: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<usize>,
}

impl DecisionLogWriter {
    /// Refuses new entries, writes every buffered one, and returns how many
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
        let buffer = Arc::new(Buffer {
            pending: Mutex::new(Pending::default()),
            full: Notify::new(),
        });
        let (close, closing) = tokio::sync::oneshot::channel::<()>();
        let writer_buffer = buffer.clone();
        let writer_metrics = metrics.clone();
        let task = tokio::spawn(async move {
            let mut last_purge = None::<std::time::Instant>;
            let mut closing = std::pin::pin!(closing);
            loop {
                let closed = tokio::select! {
                    // Stopping comes first: what is buffered is the last.
                    biased;
                    _ = &mut closing => true,
                    _ = writer_buffer.full.notified() => false,
                    _ = tokio::time::sleep(WRITE_EVERY) => false,
                };
                let entries = writer_buffer.take(closed);
                let mut written = 0;
                for batch in entries.chunks(BATCH) {
                    let mut appended = store.append_decisions(batch).await;
                    if appended.is_err() {
                        // Once more after a pause (a writer holding the
                        // lock past the wait, a connection lost).
                        tokio::time::sleep(RETRY_AFTER).await;
                        appended = store.append_decisions(batch).await;
                    }
                    match appended {
                        Ok(()) => written += batch.len(),
                        Err(e) => {
                            tracing::warn!(error = %e, lost = batch.len(), "decision log: a batch could not be written");
                            writer_metrics.decisions_unlogged(batch.len());
                        }
                    }
                }
                if closed {
                    return written;
                }
                if last_purge.is_none_or(|at| at.elapsed() >= PURGE_EVERY) {
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
            buffer,
            sample: config.sample,
            metrics,
        };
        (log, DecisionLogWriter { close, task })
    }

    /// Records the decision `entry` builds, if it is sampled (unsampled
    /// decisions build nothing: this is the forward-auth path); never
    /// waits on the writer.
    pub fn record(&self, entry: impl FnOnce() -> RecordedDecision) {
        if self.sample < 1.0 && rand::rng().random::<f64>() >= self.sample {
            return;
        }
        let entry = entry();
        let mut pending = self
            .buffer
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if pending.closed || pending.entries.len() >= QUEUE {
            drop(pending);
            self.metrics.decisions_unlogged(1);
            return;
        }
        pending.entries.push(entry);
        let wake = pending.entries.len() == BATCH;
        drop(pending);
        if wake {
            self.buffer.full.notify_one();
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

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: usize) -> RecordedDecision {
        RecordedDecision {
            id: format!("d{n}"),
            at: 1_700_000_000_000,
            action: "console_home".into(),
            actor: "bob".into(),
            organization: "acme".into(),
            allowed: true,
            denial_code: None,
            policy_revision: "r".into(),
            request: None,
            unreadable: None,
        }
    }

    fn unlogged(metrics: &Metrics) -> u64 {
        let text = metrics.encode();
        let line = text
            .lines()
            .find(|l| l.starts_with("mfa_reset_decisions_unlogged_total "))
            .expect("the counter is exported");
        line.rsplit(' ').next().unwrap().parse().unwrap()
    }

    /// A burst faster than the writer: recording never waits, the buffer
    /// stops at its bound, every entry past it is dropped and counted, and
    /// what was kept is written when the log is flushed.
    #[tokio::test(flavor = "current_thread")]
    async fn a_burst_past_the_buffer_drops_and_counts_and_never_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let key = SecretBox::from_base64(&SecretBox::generate_base64()).unwrap();
        let store = Store::open(&url, key).await.unwrap();
        let metrics = Arc::new(Metrics::new());
        let (log, writer) = DecisionLog::spawn(
            store.clone(),
            DecisionLogConfig::default(),
            Clock::default(),
            metrics.clone(),
        );
        // One thread, no await: the writer cannot run during the burst.
        let burst = QUEUE + 5_000;
        for n in 0..burst {
            log.record(|| entry(n));
        }
        assert_eq!(unlogged(&metrics), 5_000);
        let pending = log.buffer.pending.lock().unwrap().entries.len();
        assert_eq!(pending, QUEUE, "the buffer never grows past its bound");

        assert_eq!(writer.flush().await, QUEUE);
        assert_eq!(
            store.recorded_decisions(0, 1_000_000).await.unwrap().len(),
            QUEUE
        );
        // After the flush nothing more is taken, and that is counted too.
        log.record(|| entry(burst));
        assert_eq!(unlogged(&metrics), 5_001);
    }
}
