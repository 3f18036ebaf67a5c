//! The decision log table: appended in batches by the decision log's
//! writer, read back for replays, trimmed to its retention.

use sqlx::Row;

use super::{Store, StoreError};
use mfa_reset::api::Request;

/// One recorded decision.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedDecision {
    /// The decision id the caller was answered with.
    pub id: String,
    /// When it was decided (ms since 1970, the service's clock).
    pub at: i64,
    /// The Cedar action: `reset_user_mfa`, a route's action, a login step.
    pub action: String,
    /// The caller's user id.
    pub actor: String,
    /// The caller's organization.
    pub organization: String,
    /// Whether it was allowed.
    pub allowed: bool,
    /// Why it was denied, when it was.
    pub denial_code: Option<String>,
    /// Empty for login steps (their engine calls do not report it).
    pub policy_revision: String,
    /// The request as the engine got it; `None` for login steps, whose
    /// requests carry codes and keys: they are counted, never replayed.
    pub request: Option<Request>,
}

impl RecordedDecision {
    /// A login step (start or confirm an enrolment, verify a code), from
    /// its audit record: its request is not kept.
    pub fn login_step(decision_id: &str, audit: &mfa_reset::api::AuditRecord) -> Self {
        Self {
            id: decision_id.to_string(),
            at: mfa_reset::timestamp::to_millis(audit.at),
            action: audit.action.clone(),
            actor: audit.actor.clone(),
            organization: audit.organization.clone(),
            allowed: audit.allowed,
            denial_code: audit.denial_code.clone(),
            policy_revision: String::new(),
            request: None,
        }
    }
}

/// Rows per INSERT: 9 parameters each stays far below SQLite's and
/// PostgreSQL's limits on parameters per statement.
const ROWS_PER_INSERT: usize = 200;

impl Store {
    /// Appends `decisions` (ids already present are skipped).
    pub async fn append_decisions(&self, decisions: &[RecordedDecision]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for chunk in decisions.chunks(ROWS_PER_INSERT) {
            let rows: Vec<String> = (0..chunk.len())
                .map(|i| {
                    let p: Vec<String> = (1..=9).map(|k| format!("${}", i * 9 + k)).collect();
                    format!("({})", p.join(", "))
                })
                .collect();
            let sql = format!(
                "INSERT INTO decision_log (id, at, action, actor, organization, allowed, denial_code, \
                 policy_revision, request) VALUES {} ON CONFLICT (id) DO NOTHING",
                rows.join(", ")
            );
            let mut query = sqlx::query(&sql);
            for d in chunk {
                let request = d
                    .request
                    .as_ref()
                    .map(|r| serde_json::to_string(r).expect("a request serializes"));
                query = query
                    .bind(d.id.clone())
                    .bind(d.at)
                    .bind(d.action.clone())
                    .bind(d.actor.clone())
                    .bind(d.organization.clone())
                    .bind(i64::from(d.allowed))
                    .bind(d.denial_code.clone())
                    .bind(d.policy_revision.clone())
                    .bind(request);
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Decisions made at or after `since` (ms), oldest first, at most `limit`
    /// (the newest ones when there are more).
    pub async fn recorded_decisions(
        &self,
        since: i64,
        limit: i64,
    ) -> Result<Vec<RecordedDecision>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, at, action, actor, organization, allowed, denial_code, policy_revision, request \
             FROM decision_log WHERE at >= $1 ORDER BY at DESC, id DESC LIMIT $2",
        )
        .bind(since)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut decisions = Vec::with_capacity(rows.len());
        for row in rows.iter().rev() {
            let request: Option<String> = row.try_get("request")?;
            let id: String = row.try_get("id")?;
            // A request that no longer reads (recorded by another version)
            // cannot be replayed: counted with the login steps.
            let request = request.and_then(|json| match serde_json::from_str(&json) {
                Ok(request) => Some(request),
                Err(e) => {
                    tracing::warn!(decision = %id, error = %e, "decision log: a recorded request does not read back");
                    None
                }
            });
            decisions.push(RecordedDecision {
                id,
                at: row.try_get("at")?,
                action: row.try_get("action")?,
                actor: row.try_get("actor")?,
                organization: row.try_get("organization")?,
                allowed: row.try_get::<i64, _>("allowed")? != 0,
                denial_code: row.try_get("denial_code")?,
                policy_revision: row.try_get("policy_revision")?,
                request,
            });
        }
        Ok(decisions)
    }

    /// Forgets decisions made before `before` (ms), in chunks.
    pub async fn purge_decisions(&self, before: i64) -> Result<u64, StoreError> {
        self.purge_in_chunks("decision_log", before).await
    }
}
