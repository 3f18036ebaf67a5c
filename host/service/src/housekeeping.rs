//! Periodic clean-up of the state tables: audit records past their
//! retention, and denial windows long over.

use std::time::Duration;

use crate::config::Clock;
use crate::store::Store;
use mfa_reset::timestamp::to_millis as millis;

/// How often the clean-up runs (and once at start).
const EVERY: Duration = Duration::from_secs(600);
/// Denial windows are forgotten this long after they started (any window
/// is far shorter).
const KEEP_DENIAL_WINDOWS: Duration = Duration::from_secs(86_400);

/// Starts the clean-up; abort the handle to stop it.
pub fn spawn(
    store: Store,
    clock: Clock,
    audit_retention: Option<Duration>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(EVERY);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let now = millis(clock.now());
            if let Some(retention) = audit_retention {
                let before = now.saturating_sub(as_millis(retention));
                match store.purge_audit(before).await {
                    Ok(0) => {}
                    Ok(purged) => {
                        tracing::info!(purged, "audit records past their retention purged")
                    }
                    Err(e) => tracing::warn!(error = %e, "audit retention: purge failed"),
                }
            }
            let before = now.saturating_sub(as_millis(KEEP_DENIAL_WINDOWS));
            if let Err(e) = store.purge_denial_windows(before).await {
                tracing::warn!(error = %e, "denial windows not purged");
            }
        }
    })
}

fn as_millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}
