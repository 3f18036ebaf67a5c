//! The audit log (R12): rows are written with the decisions they record
//! (see [`Store::commit`]); here they are read a page at a time, newest
//! first, and purged after their retention.

use sqlx::Row;

use super::{AuditEntry, Store, StoreError, time_of};
use mfa_reset::api::AuditRecord;

/// Which audit records of one organization to read.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    /// `Some(true)` allowed only, `Some(false)` denied only.
    pub allowed: Option<bool>,
    /// From this time on (ms, inclusive).
    pub since: Option<i64>,
    /// Before this time (ms, exclusive).
    pub until: Option<i64>,
    /// Only records older than this one (a page's cursor): `(at, id)`.
    pub before: Option<(i64, String)>,
}

/// One page of audit records, newest first.
#[derive(Debug)]
pub struct AuditPage {
    pub records: Vec<AuditEntry>,
    /// The cursor of the next (older) page, when there may be one.
    pub next: Option<(i64, String)>,
}

impl Store {
    /// The newest `limit` audit records of `organization` that pass
    /// `filter`, newest first.
    pub async fn audit(
        &self,
        organization: &str,
        filter: &AuditFilter,
        limit: i64,
    ) -> Result<AuditPage, StoreError> {
        let mut sql = String::from(
            "SELECT id, at, decision_id, actor, organization_id, action, target, allowed, policy_ids, \
             denial_code, target_version, detail FROM audit_log WHERE organization_id = $1",
        );
        let mut n = 1;
        let mut param = |sql: &mut String, clause: &str| {
            n += 1;
            sql.push_str(&clause.replace('?', &format!("${n}")));
        };
        if filter.actor.is_some() {
            param(&mut sql, " AND actor = ?");
        }
        if filter.action.is_some() {
            param(&mut sql, " AND action = ?");
        }
        if filter.allowed.is_some() {
            param(&mut sql, " AND allowed = ?");
        }
        if filter.since.is_some() {
            param(&mut sql, " AND at >= ?");
        }
        if filter.until.is_some() {
            param(&mut sql, " AND at < ?");
        }
        if filter.before.is_some() {
            param(&mut sql, " AND (at < ?");
            param(&mut sql, " OR (at = ?");
            param(&mut sql, " AND id < ?))");
        }
        param(&mut sql, " ORDER BY at DESC, id DESC LIMIT ?");
        let mut query = sqlx::query(&sql).bind(organization);
        if let Some(actor) = &filter.actor {
            query = query.bind(actor);
        }
        if let Some(action) = &filter.action {
            query = query.bind(action);
        }
        if let Some(allowed) = filter.allowed {
            query = query.bind(i64::from(allowed));
        }
        if let Some(since) = filter.since {
            query = query.bind(since);
        }
        if let Some(until) = filter.until {
            query = query.bind(until);
        }
        if let Some((at, id)) = &filter.before {
            query = query.bind(*at).bind(*at).bind(id);
        }
        // One more than asked: whether an older page exists.
        let rows = query.bind(limit + 1).fetch_all(&self.pool).await?;
        let mut records = rows
            .iter()
            .map(audit_entry)
            .collect::<Result<Vec<_>, _>>()?;
        let next = if records.len() as i64 > limit {
            records.truncate(usize::try_from(limit).unwrap_or(0));
            records.last().map(|last| {
                (
                    mfa_reset::timestamp::to_millis(last.record.at),
                    last.id.clone(),
                )
            })
        } else {
            None
        };
        Ok(AuditPage { records, next })
    }

    /// Forgets audit records made before `before` (ms), in chunks (see
    /// [`Store::purge_decisions`]).
    pub async fn purge_audit(&self, before: i64) -> Result<u64, StoreError> {
        self.purge_in_chunks("audit_log", before).await
    }

    /// Deletes rows of `table` whose `at` is before `before`, a few thousand
    /// per statement: a long delete would hold SQLite's write lock against
    /// the state changes waiting for it.
    pub(super) async fn purge_in_chunks(
        &self,
        table: &'static str,
        before: i64,
    ) -> Result<u64, StoreError> {
        let sql = format!(
            "DELETE FROM {table} WHERE id IN (SELECT id FROM {table} WHERE at < $1 LIMIT 5000)"
        );
        let mut purged = 0;
        loop {
            let done = sqlx::query(&sql).bind(before).execute(&self.pool).await?;
            purged += done.rows_affected();
            if done.rows_affected() == 0 {
                return Ok(purged);
            }
        }
    }
}

fn audit_entry(r: &sqlx::any::AnyRow) -> Result<AuditEntry, StoreError> {
    let ids: String = r.try_get("policy_ids")?;
    Ok(AuditEntry {
        id: r.try_get("id")?,
        decision_id: r.try_get("decision_id")?,
        record: AuditRecord {
            at: time_of(r.try_get("at")?),
            actor: r.try_get("actor")?,
            organization: r.try_get("organization_id")?,
            action: r.try_get("action")?,
            target: r.try_get("target")?,
            allowed: r.try_get::<i64, _>("allowed")? != 0,
            policy_ids: ids
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            denial_code: r.try_get("denial_code")?,
        },
        target_version: r.try_get("target_version")?,
        // Written by the service as JSON; a row it cannot read shows none.
        detail: r
            .try_get::<Option<String>, _>("detail")?
            .and_then(|d| serde_json::from_str(&d).ok()),
    })
}
