//! Sessions: created by a login, read with their user by every request,
//! ended by logout or by a change of MFA.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::accounts::USER_COLUMNS;
use super::commit::{AuditEntry, insert_audit};
use super::{Store, StoreError, StoredUser};

/// A session as stored; times in milliseconds.
#[derive(Debug, Clone)]
pub struct StoredSession {
    pub token_hash: String,
    pub user_id: String,
    pub login_at: i64,
    pub last_activity_at: i64,
    pub mfa_satisfied: bool,
    /// The login verified a code (or confirmed an enrolment).
    pub mfa_verified: bool,
    /// R15: the code the login verified was a recovery code.
    pub recovery_code_login: bool,
}

const SESSION_COLUMNS: &str = "token_hash, user_id, login_at, last_activity_at, mfa_satisfied, \
                               mfa_verified, recovery_code_login";

fn session_from_row(r: &AnyRow) -> Result<StoredSession, StoreError> {
    Ok(StoredSession {
        token_hash: r.try_get("token_hash")?,
        user_id: r.try_get("user_id")?,
        login_at: r.try_get("login_at")?,
        last_activity_at: r.try_get("last_activity_at")?,
        mfa_satisfied: r.try_get::<i64, _>("mfa_satisfied")? != 0,
        mfa_verified: r.try_get::<i64, _>("mfa_verified")? != 0,
        recovery_code_login: r.try_get::<i64, _>("recovery_code_login")? != 0,
    })
}

impl Store {
    /// Creates a session and writes the login's audit row with it, if the
    /// user and its organization are still at the versions its login step
    /// was read at (else [`StoreError::Conflict`]: decide the step again).
    pub async fn create_session(
        &self,
        session: &StoredSession,
        (user_version, organization_version): (i64, i64),
        audit: AuditEntry,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let user = sqlx::query("UPDATE users SET version = version WHERE id = $1 AND version = $2")
            .bind(&session.user_id)
            .bind(user_version)
            .execute(&mut *tx)
            .await?;
        let organization = sqlx::query(
            "UPDATE organizations SET version = version WHERE version = $1 AND id = \
             (SELECT organization_id FROM users WHERE id = $2)",
        )
        .bind(organization_version)
        .bind(&session.user_id)
        .execute(&mut *tx)
        .await?;
        if user.rows_affected() != 1 || organization.rows_affected() != 1 {
            return Err(StoreError::Conflict);
        }
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, login_at, last_activity_at, mfa_satisfied, \
             mfa_verified, recovery_code_login) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&session.token_hash)
        .bind(&session.user_id)
        .bind(session.login_at)
        .bind(session.last_activity_at)
        .bind(i64::from(session.mfa_satisfied))
        .bind(i64::from(session.mfa_verified))
        .bind(i64::from(session.recovery_code_login))
        .execute(&mut *tx)
        .await?;
        insert_audit(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A session and its user, in one query (every request that uses a
    /// session needs both).
    pub async fn caller(
        &self,
        token_hash: &str,
    ) -> Result<Option<(StoredSession, StoredUser)>, StoreError> {
        let sql = format!(
            "SELECT s.token_hash, s.user_id, s.login_at, s.last_activity_at, s.mfa_satisfied, \
             s.mfa_verified, s.recovery_code_login, {USER_COLUMNS} FROM sessions s JOIN users u ON u.id = s.user_id \
             JOIN organizations o ON o.id = u.organization_id WHERE s.token_hash = $1"
        );
        let row = sqlx::query(&sql)
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok((session_from_row(&r)?, self.user_from_row(&r)?)))
            .transpose()
    }

    /// Every stored session of `user` (expired ones too: whether one is
    /// still active is the policies' call).
    pub async fn sessions_of_user(&self, user: &str) -> Result<Vec<StoredSession>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE user_id = $1"
        ))
        .bind(user)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(session_from_row).collect()
    }

    #[cfg(test)]
    pub async fn session(&self, token_hash: &str) -> Result<Option<StoredSession>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE token_hash = $1"
        ))
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| session_from_row(&r)).transpose()
    }

    /// Ends a session; returns whether there was one.
    pub async fn delete_session(&self, token_hash: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Marks a session used (for reads that commit nothing else).
    pub async fn touch_session(&self, token_hash: &str, now: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE sessions SET last_activity_at = $1 WHERE token_hash = $2 AND last_activity_at < $3")
            .bind(now)
            .bind(token_hash)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
