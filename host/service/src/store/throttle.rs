//! Throttles kept in the database, so that every replica counts alike:
//! password attempts (per account id and per client address) and denied
//! state changes (per session and per actor).

use sqlx::Row;

use super::{Store, StoreError};

/// Why a request got no slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenialRefusal {
    /// A subject used up its refusals: wait for the window's end.
    UsedUp(DenialWindow),
    /// Requests of the subject being decided would reach the limit if
    /// refused: wait for them (a moment), nothing is audited.
    Busy,
}

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

    /// Takes a slot of each subject's window running at `now` (at most
    /// `limit` refusals per `window` ms) before a request is decided: the
    /// request is counted in flight until [`Store::settle_denials`], so
    /// that requests sent at once cannot all pass a check made before any
    /// of them was counted. `Ok` with each subject's window start, or `Err`
    /// when a subject has no slot left: nothing is then counted.
    pub async fn claim_denials(
        &self,
        subjects: &[&str],
        now: i64,
        limit: i64,
        window: i64,
    ) -> Result<Result<Vec<i64>, DenialRefusal>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let mut starts = Vec::with_capacity(subjects.len());
        let mut used_up: Vec<(&str, i64, Option<i64>)> = Vec::new();
        let mut busy = false;
        for subject in subjects {
            // The upsert locks the row: concurrent claims go one by one.
            let row = sqlx::query(
                "INSERT INTO denial_throttle (subject, window_start, denials, in_flight, audited_window) \
                 VALUES ($1, $2, 0, 1, NULL) ON CONFLICT (subject) DO UPDATE SET \
                 denials = CASE WHEN denial_throttle.window_start <= $3 THEN 0 \
                                ELSE denial_throttle.denials END, \
                 in_flight = CASE WHEN denial_throttle.window_start <= $4 THEN 1 \
                                  ELSE denial_throttle.in_flight + 1 END, \
                 window_start = CASE WHEN denial_throttle.window_start <= $5 THEN $6 \
                                     ELSE denial_throttle.window_start END \
                 RETURNING denials, in_flight, window_start, audited_window",
            )
            .bind(*subject)
            .bind(now)
            .bind(now - window)
            .bind(now - window)
            .bind(now - window)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            let denials: i64 = row.try_get("denials")?;
            let in_flight: i64 = row.try_get("in_flight")?;
            let start: i64 = row.try_get("window_start")?;
            if denials >= limit {
                used_up.push((subject, start, row.try_get("audited_window")?));
            } else if denials + in_flight > limit {
                busy = true;
            }
            starts.push(start);
        }
        if used_up.is_empty() && !busy {
            tx.commit().await?;
            return Ok(Ok(starts));
        }
        // A refused request is not counted.
        tx.rollback().await?;
        if used_up.is_empty() {
            return Ok(Err(DenialRefusal::Busy));
        }
        let until = used_up
            .iter()
            .map(|(_, start, _)| start.saturating_add(window))
            .max()
            .unwrap_or(now);
        let mut first_refusal = false;
        for (subject, start, audited) in used_up {
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
        Ok(Err(DenialRefusal::UsedUp(DenialWindow {
            until,
            first_refusal,
        })))
    }

    /// Ends claimed requests (`(subject, window start, refused)`): no longer
    /// in flight, and counted as a refusal where `refused`. A window that
    /// has started again since is left alone.
    pub async fn settle_denials(&self, claims: &[(&str, i64, bool)]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for (subject, start, refused) in claims {
            sqlx::query(
                "UPDATE denial_throttle SET in_flight = in_flight - 1, denials = denials + $1 \
                 WHERE subject = $2 AND window_start = $3 AND in_flight > 0",
            )
            .bind(i64::from(*refused))
            .bind(*subject)
            .bind(*start)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
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
