//! Throttles kept in the database, so that every replica counts alike:
//! password attempts (per account id and per client address) and denied
//! state changes (per session and per actor).

use sqlx::Row;

use super::{Store, StoreError};

/// Where a subject stands in its denial window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DenialWindow {
    /// When the window ends (ms): until then further state changes wait.
    pub until: i64,
    /// This refusal is the window's first: audit it (once per window).
    pub first_refusal: bool,
}

impl Store {
    /// Counts a password attempt for each subject before it is checked,
    /// and sets each subject's lock from its new count (`lock` maps a
    /// subject and count to the lock's end). If a subject is locked, nothing
    /// is counted and the lock's end comes back as `Err`. A count whose last
    /// failure is older than its `forget_before` starts again at 1: only
    /// [`Store::login_failed`] moves that time, so right passwords never
    /// keep a count alive.
    pub async fn claim_login_attempt(
        &self,
        subjects: &[(&str, i64)],
        now: i64,
        lock: impl Fn(&str, i64) -> Option<i64>,
    ) -> Result<Result<(), i64>, StoreError> {
        let mut tx = self.pool.begin().await?;
        for &(subject, forget_before) in subjects {
            // The upsert locks the row: concurrent claims go one by one. A
            // forgotten count starts again from this attempt (its failure
            // time is then the attempt's, so it is not forgotten twice).
            let row = sqlx::query(
                "INSERT INTO login_throttle (subject, failures, locked_until, last_failure_at) \
                 VALUES ($1, 1, NULL, $2) ON CONFLICT (subject) DO UPDATE SET \
                 failures = CASE WHEN login_throttle.last_failure_at < $3 THEN 1 \
                                 ELSE login_throttle.failures + 1 END, \
                 last_failure_at = CASE WHEN login_throttle.last_failure_at < $4 THEN $5 \
                                        ELSE login_throttle.last_failure_at END \
                 RETURNING failures, locked_until",
            )
            .bind(subject)
            .bind(now)
            .bind(forget_before)
            .bind(forget_before)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            let failures: i64 = row.try_get("failures")?;
            let locked: Option<i64> = row.try_get("locked_until")?;
            if let Some(until) = locked.filter(|until| *until > now) {
                tx.rollback().await?;
                return Ok(Err(until));
            }
            sqlx::query("UPDATE login_throttle SET locked_until = $1 WHERE subject = $2")
                .bind(lock(subject, failures))
                .bind(subject)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(Ok(()))
    }

    /// A wrong password: its claimed attempts stay counted, and the quiet
    /// period after which the counts are forgotten starts again.
    pub async fn login_failed(&self, subjects: &[&str], now: i64) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for subject in subjects {
            sqlx::query("UPDATE login_throttle SET last_failure_at = $1 WHERE subject = $2")
                .bind(now)
                .bind(*subject)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A right password: the account's count starts again, and the address
    /// gets its attempt back, with the lock its remaining failures earned
    /// from the last of them (`lock` maps a count to the lock's length),
    /// not the one this attempt's claim set.
    pub async fn release_login_attempt(
        &self,
        account: &str,
        address: &str,
        now: i64,
        lock: impl Fn(i64) -> Option<i64>,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM login_throttle WHERE subject = $1")
            .bind(account)
            .execute(&mut *tx)
            .await?;
        let row = sqlx::query(
            "UPDATE login_throttle SET failures = failures - 1 \
             WHERE subject = $1 AND failures > 0 RETURNING failures, last_failure_at",
        )
        .bind(address)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = row {
            let failures: i64 = row.try_get("failures")?;
            let last_failure: i64 = row.try_get("last_failure_at")?;
            let until = lock(failures)
                .map(|ms| last_failure.saturating_add(ms))
                .filter(|until| *until > now);
            sqlx::query("UPDATE login_throttle SET locked_until = $1 WHERE subject = $2")
                .bind(until)
                .bind(address)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Takes one of each subject's denials in the window running at `now`
    /// (at most `limit` per `window` ms), before the request is decided, so
    /// that requests sent at once cannot all pass a check made before any
    /// of them was counted. `Ok` with each subject's window start (to give
    /// the slot back with [`Store::release_denials`] when the request is not
    /// denied), or `Err` when a subject has none left: then nothing is
    /// counted, and the window's end comes back with whether this is its
    /// first refusal (audited once per window).
    pub async fn claim_denials(
        &self,
        subjects: &[&str],
        now: i64,
        limit: i64,
        window: i64,
    ) -> Result<Result<Vec<i64>, DenialWindow>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let mut starts = Vec::with_capacity(subjects.len());
        let mut refused: Vec<(&str, i64, Option<i64>)> = Vec::new();
        for subject in subjects {
            // The upsert locks the row: concurrent claims go one by one.
            let row = sqlx::query(
                "INSERT INTO denial_throttle (subject, window_start, denials, audited_window) \
                 VALUES ($1, $2, 1, NULL) ON CONFLICT (subject) DO UPDATE SET \
                 denials = CASE WHEN denial_throttle.window_start <= $3 THEN 1 \
                                ELSE denial_throttle.denials + 1 END, \
                 window_start = CASE WHEN denial_throttle.window_start <= $4 THEN $5 \
                                     ELSE denial_throttle.window_start END \
                 RETURNING denials, window_start, audited_window",
            )
            .bind(*subject)
            .bind(now)
            .bind(now - window)
            .bind(now - window)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            let denials: i64 = row.try_get("denials")?;
            let start: i64 = row.try_get("window_start")?;
            if denials > limit {
                refused.push((subject, start, row.try_get("audited_window")?));
            }
            starts.push(start);
        }
        if refused.is_empty() {
            tx.commit().await?;
            return Ok(Ok(starts));
        }
        // A refused request is not counted.
        tx.rollback().await?;
        let until = refused
            .iter()
            .map(|(_, start, _)| start.saturating_add(window))
            .max()
            .unwrap_or(now);
        let mut first_refusal = false;
        for (subject, start, audited) in refused {
            if audited == Some(start) {
                continue;
            }
            // One replica, one request wins the window's audit.
            first_refusal |= sqlx::query(
                "UPDATE denial_throttle SET audited_window = $1 WHERE subject = $2 \
                 AND window_start = $3 AND (audited_window IS NULL OR audited_window <> $4)",
            )
            .bind(start)
            .bind(subject)
            .bind(start)
            .bind(start)
            .execute(&self.pool)
            .await?
            .rows_affected()
                == 1;
        }
        Ok(Err(DenialWindow {
            until,
            first_refusal,
        }))
    }

    /// Gives back claimed denials (`(subject, window start)`): the request
    /// was not denied, or its denial does not count against that subject.
    /// A window that has started again since keeps its count.
    pub async fn release_denials(&self, claims: &[(&str, i64)]) -> Result<(), StoreError> {
        for (subject, start) in claims {
            sqlx::query(
                "UPDATE denial_throttle SET denials = denials - 1 \
                 WHERE subject = $1 AND window_start = $2 AND denials > 0",
            )
            .bind(*subject)
            .bind(*start)
            .execute(&self.pool)
            .await?;
        }
        Ok(())
    }

    /// Forgets denial windows that ended before `before` (ms).
    pub async fn purge_denial_windows(&self, before: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM denial_throttle WHERE window_start < $1")
            .bind(before)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}
