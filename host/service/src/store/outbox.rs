//! The notification outbox table: written with each MFA change, drained by
//! the webhook worker. A row is claimed by moving its `next_attempt_at`
//! past the delivery's timeout (a lease) with a compare-and-set, so two
//! replicas never deliver it at once and a killed one's claim simply runs
//! out: a row is delivered at least once, never lost.

use sqlx::Row;

use super::event::Event;
use super::{Store, StoreError};
use crate::credentials::SecretBox;

/// The prefix of a body sealed at rest.
const SEALED: &str = "sealed:";

/// A notification due for delivery, claimed by this worker.
#[derive(Debug, Clone)]
pub struct DueNotification {
    pub id: String,
    pub body: String,
    /// Deliveries tried before this one.
    pub attempts: i64,
    /// When it was due before this claim, and the claim's lease: a released
    /// claim puts the first back if the row still holds the second.
    due_at: i64,
    lease_until: i64,
}

/// Writes `event` into the outbox; a body holding a secret is sealed at
/// rest (opened for its delivery only, forgotten once delivered).
pub(super) async fn insert(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    event: &Event,
    secrets: &SecretBox,
) -> Result<(), StoreError> {
    let sealed;
    let body = if event.holds_secret {
        sealed = format!("{SEALED}{}", secrets.seal(event.body.as_bytes(), &event.id));
        &sealed
    } else {
        &event.body
    };
    sqlx::query(
        "INSERT INTO notification_outbox (id, created_at, event_type, body, attempts, next_attempt_at) \
         VALUES ($1, $2, $3, $4, 0, $5)",
    )
    .bind(&event.id)
    .bind(event.created_at)
    .bind(event.kind)
    .bind(body)
    .bind(event.created_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Store {
    /// Claims up to `limit` undelivered notifications due at `now` (oldest
    /// first) until `lease_until`.
    pub async fn claim_notifications(
        &self,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> Result<Vec<DueNotification>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, body, attempts, next_attempt_at FROM notification_outbox \
             WHERE delivered_at IS NULL AND next_attempt_at <= $1 \
             ORDER BY next_attempt_at, id LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut claimed = Vec::with_capacity(rows.len());
        for row in rows {
            let id: String = row.try_get("id")?;
            let seen: i64 = row.try_get("next_attempt_at")?;
            let done = sqlx::query(
                "UPDATE notification_outbox SET next_attempt_at = $1 \
                 WHERE id = $2 AND next_attempt_at = $3 AND delivered_at IS NULL",
            )
            .bind(lease_until)
            .bind(&id)
            .bind(seen)
            .execute(&self.pool)
            .await?;
            // Another replica claimed it first.
            if done.rows_affected() == 1 {
                let stored: String = row.try_get("body")?;
                // A body sealed at rest (an invitation's link) is opened
                // for its delivery only.
                let body = match stored.strip_prefix(SEALED) {
                    Some(sealed) => {
                        let opened =
                            self.secrets
                                .open(sealed, &id)
                                .map_err(|e| StoreError::Secret {
                                    user: format!("(notification {id})"),
                                    message: e.to_string(),
                                })?;
                        String::from_utf8_lossy(&opened).into_owned()
                    }
                    None => stored,
                };
                claimed.push(DueNotification {
                    id,
                    body,
                    attempts: row.try_get("attempts")?,
                    due_at: seen,
                    lease_until,
                });
            }
        }
        Ok(claimed)
    }

    /// Gives a claim back undelivered (the service is stopping): the row is
    /// due again at once for any replica, instead of when the lease runs
    /// out. Returns whether the claim was still this worker's.
    pub async fn release_notification(&self, n: &DueNotification) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE notification_outbox SET next_attempt_at = $1 \
             WHERE id = $2 AND next_attempt_at = $3 AND delivered_at IS NULL",
        )
        .bind(n.due_at)
        .bind(&n.id)
        .bind(n.lease_until)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The receiver acknowledged `id` (kept for a while, then purged; a
    /// sealed body, which holds a secret, is forgotten at once).
    pub async fn notification_delivered(&self, id: &str, at: i64) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE notification_outbox SET delivered_at = $1, attempts = attempts + 1, \
             last_error = NULL, body = CASE WHEN body LIKE 'sealed:%' THEN '' ELSE body END \
             WHERE id = $2 AND delivered_at IS NULL",
        )
        .bind(at)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A delivery of `id` failed: try again at `retry_at`.
    pub async fn notification_failed(
        &self,
        id: &str,
        retry_at: i64,
        error: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE notification_outbox SET next_attempt_at = $1, attempts = attempts + 1, \
             last_error = $2 WHERE id = $3 AND delivered_at IS NULL",
        )
        .bind(retry_at)
        .bind(error)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Notifications not yet acknowledged, and the creation time of the
    /// oldest (milliseconds).
    pub async fn notifications_pending(&self) -> Result<(i64, Option<i64>), StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS pending, MIN(created_at) AS oldest FROM notification_outbox \
             WHERE delivered_at IS NULL",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok((row.try_get("pending")?, row.try_get("oldest")?))
    }

    /// Forgets notifications acknowledged before `before`; undelivered
    /// ones stay whatever their age.
    pub async fn purge_notifications(&self, before: i64) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "DELETE FROM notification_outbox WHERE delivered_at IS NOT NULL AND delivered_at < $1",
        )
        .bind(before)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }
}
