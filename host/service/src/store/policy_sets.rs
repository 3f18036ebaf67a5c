//! R16: policy sets published to the database, their activations (one per
//! publish, each the next epoch, its time written once) and the replicas'
//! reports. On PostgreSQL a publish also notifies every listening replica
//! (`LISTEN mfa_reset_policies`) in the same transaction.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::commit::{AuditEntry, insert_audit};
use super::{Store, StoreError};
use mfa_reset::PolicySource;
use mfa_reset::api::SourceFile;

/// The channel a publish notifies.
pub const POLICY_CHANNEL: &str = "mfa_reset_policies";

/// A published set's files, as stored (the support URL is the replica's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct StoredSource {
    policies: Vec<StoredFile>,
    schema: StoredFile,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct StoredFile {
    name: String,
    text: String,
}

impl From<&SourceFile> for StoredFile {
    fn from(f: &SourceFile) -> Self {
        Self {
            name: f.name.clone(),
            text: f.text.clone(),
        }
    }
}

impl From<StoredFile> for SourceFile {
    fn from(f: StoredFile) -> Self {
        Self {
            name: f.name,
            text: f.text,
        }
    }
}

/// The fleet's target: the newest activation, with its set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activation {
    pub epoch: i64,
    pub revision: String,
    /// Milliseconds: from this time on the set decides on every replica.
    pub activate_at: i64,
    pub published_by: String,
    /// The set, with `support_url` left empty (each replica sets its own).
    pub source: PolicySource,
}

/// One replica's report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplicaReport {
    /// The replica's name (`serve --published-policies NAME`).
    pub id: String,
    /// Its last report, milliseconds.
    pub last_seen: i64,
    /// The newest epoch it has seen.
    pub epoch: Option<i64>,
    /// The newest published revision it holds ready (validated).
    pub ready_revision: Option<String>,
    /// The revision deciding on it.
    pub active_revision: Option<String>,
    /// `active`, `ready` (a newer set waits for its time),
    /// `cannot-load-next`, or `refusing` (the set for now does not load).
    pub state: String,
}

/// One published set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublishedSet {
    /// Its content hash.
    pub revision: String,
    /// Who first published it.
    pub published_by: String,
    /// When, milliseconds.
    pub published_at: i64,
}

impl Store {
    /// Publishes `source` (of `revision`) as the epoch after `follows` (the
    /// newest when its checks ran; [`StoreError::Conflict`] if another
    /// publish came in between), to become the fleet's set `lead` ms after
    /// the commit's time and never before the epoch before it: the set (if
    /// new), the activation and its audit row in one transaction, which
    /// also notifies the replicas. The epoch and the activation time.
    pub async fn publish_policy_set(
        &self,
        source: &PolicySource,
        revision: &str,
        follows: Option<i64>,
        lead: i64,
        mut audit: AuditEntry,
    ) -> Result<(i64, i64), StoreError> {
        let stored = StoredSource {
            policies: source.policies.iter().map(Into::into).collect(),
            schema: (&source.schema).into(),
        };
        let json = serde_json::to_string(&stored).expect("a policy set serializes");
        let by = audit.record.actor.clone();
        let at = mfa_reset::timestamp::to_millis(audit.record.at);
        let mut tx = self.pool.begin().await?;
        if self.postgres_url.is_some() {
            // One publish at a time (SQLite serializes writers anyway).
            sqlx::query("SELECT pg_advisory_xact_lock(7316002)")
                .execute(&mut *tx)
                .await?;
        }
        let newest = sqlx::query(
            "SELECT MAX(epoch) AS epoch, MAX(activate_at) AS at FROM policy_activations",
        )
        .fetch_one(&mut *tx)
        .await?;
        let (newest_epoch, newest_at): (Option<i64>, Option<i64>) =
            (newest.try_get("epoch")?, newest.try_get("at")?);
        if newest_epoch != follows {
            return Err(StoreError::Conflict);
        }
        // The time is read now, within the transaction, after every check.
        let now = mfa_reset::timestamp::to_millis(time::OffsetDateTime::now_utc());
        let activate_at = (now + lead).max(newest_at.map_or(i64::MIN, |at| at + 1));
        audit.detail = Some(serde_json::json!({ "activate_at": activate_at }));
        sqlx::query(
            "INSERT INTO policy_sets (revision, source, published_by, published_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (revision) DO NOTHING",
        )
        .bind(revision)
        .bind(&json)
        .bind(&by)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        // Two publishes at once: one gets the epoch, the other a conflict
        // on the key (and its caller publishes again).
        let epoch = newest_epoch.unwrap_or(0) + 1;
        sqlx::query(
            "INSERT INTO policy_activations (epoch, revision, activate_at, published_by, published_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(epoch)
        .bind(revision)
        .bind(activate_at)
        .bind(&by)
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(|e| match e {
            sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict,
            other => other.into(),
        })?;
        insert_audit(&mut tx, &audit).await?;
        if self.postgres_url.is_some() {
            sqlx::query(&format!("NOTIFY {POLICY_CHANNEL}"))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok((epoch, activate_at))
    }

    /// The activations after `epoch`, in order, with their sets.
    pub async fn activations_after(&self, epoch: i64) -> Result<Vec<Activation>, StoreError> {
        let rows = sqlx::query(
            "SELECT a.epoch, a.revision, a.activate_at, a.published_by, s.source \
             FROM policy_activations a JOIN policy_sets s ON s.revision = a.revision \
             WHERE a.epoch > $1 ORDER BY a.epoch",
        )
        .bind(epoch)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let stored: StoredSource = serde_json::from_str(&r.try_get::<String, _>("source")?)
                    .map_err(|e| StoreError::Corrupt(format!("a published policy set: {e}")))?;
                Ok(Activation {
                    epoch: r.try_get("epoch")?,
                    revision: r.try_get("revision")?,
                    activate_at: r.try_get("activate_at")?,
                    published_by: r.try_get("published_by")?,
                    source: PolicySource {
                        policies: stored.policies.into_iter().map(Into::into).collect(),
                        schema: stored.schema.into(),
                        support_url: String::new(),
                    },
                })
            })
            .collect()
    }

    /// The newest activation, if any set was ever published.
    pub async fn newest_activation(&self) -> Result<Option<Activation>, StoreError> {
        let newest: Option<i64> = sqlx::query("SELECT MAX(epoch) AS epoch FROM policy_activations")
            .fetch_one(&self.pool)
            .await?
            .try_get("epoch")?;
        match newest {
            Some(epoch) => Ok(self.activations_after(epoch - 1).await?.pop()),
            None => Ok(None),
        }
    }

    /// Every published set, newest first.
    pub async fn published_policy_sets(&self) -> Result<Vec<PublishedSet>, StoreError> {
        let rows = sqlx::query(
            "SELECT revision, published_by, published_at FROM policy_sets ORDER BY published_at DESC",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(PublishedSet {
                    revision: r.try_get("revision")?,
                    published_by: r.try_get("published_by")?,
                    published_at: r.try_get("published_at")?,
                })
            })
            .collect()
    }

    /// Records what `report.id` holds now.
    pub async fn report_replica(&self, report: &ReplicaReport) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO policy_replicas (id, last_seen, epoch, ready_revision, active_revision, state) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO UPDATE SET \
             last_seen = excluded.last_seen, epoch = excluded.epoch, \
             ready_revision = excluded.ready_revision, active_revision = excluded.active_revision, \
             state = excluded.state",
        )
        .bind(&report.id)
        .bind(report.last_seen)
        .bind(report.epoch)
        .bind(&report.ready_revision)
        .bind(&report.active_revision)
        .bind(&report.state)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Every replica's last report.
    pub async fn replicas(&self) -> Result<Vec<ReplicaReport>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, last_seen, epoch, ready_revision, active_revision, state \
             FROM policy_replicas ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ReplicaReport {
                    id: r.try_get("id")?,
                    last_seen: r.try_get("last_seen")?,
                    epoch: r.try_get("epoch")?,
                    ready_revision: r.try_get("ready_revision")?,
                    active_revision: r.try_get("active_revision")?,
                    state: r.try_get("state")?,
                })
            })
            .collect()
    }
}
