//! Sessions: created by a login, read with their user by every request,
//! used and ended by the decisions a commit writes, ended by logout.

use super::accounts::{USER_COLUMNS, user_from_row};
use super::commit::{AuditEntry, Tx, insert_audit};
use super::row::Columns;
use super::{Store, StoreError, StoredUser};

/// A session as stored; times in milliseconds.
#[derive(Debug, Clone)]
#[cfg_attr(test, derive(PartialEq))]
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

/// A session and its user, by the session's token hash (`$1`).
pub(super) static CALLER_QUERY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "SELECT s.token_hash, s.user_id, s.login_at, s.last_activity_at, s.mfa_satisfied, \
         s.mfa_verified, s.recovery_code_login, {USER_COLUMNS} FROM sessions s JOIN users u ON u.id = s.user_id \
         JOIN organizations o ON o.id = u.organization_id WHERE s.token_hash = $1"
    )
});

/// A session from a row of [`SESSION_COLUMNS`] (either reader's).
pub(super) fn session_from_row(r: &impl Columns) -> Result<StoredSession, StoreError> {
    Ok(StoredSession {
        token_hash: r.text("token_hash")?,
        user_id: r.text("user_id")?,
        login_at: r.integer("login_at")?,
        last_activity_at: r.integer("last_activity_at")?,
        mfa_satisfied: r.integer("mfa_satisfied")? != 0,
        mfa_verified: r.integer("mfa_verified")? != 0,
        recovery_code_login: r.integer("recovery_code_login")? != 0,
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
        // SQLite: read on this thread, no hand-off to sqlx's worker (the
        // hot path of forward-auth); sqlx's pool if that reader fails.
        if let Some(reader) = &self.sqlite_file {
            match reader.caller(token_hash) {
                Ok(found) => return Ok(found),
                Err(e) => reader.read_failed(&e),
            }
        }
        let row = sqlx::query(&CALLER_QUERY)
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok((session_from_row(&r)?, user_from_row(&r)?)))
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

/// The caller's session used by an allowed decision.
#[derive(Debug, Clone, Copy)]
pub struct SessionUse<'a> {
    pub token_hash: &'a str,
    /// Its new last activity, in milliseconds (never moved back).
    pub at: i64,
    /// The decision verified a code: the login has finished MFA.
    pub verified: bool,
    /// R15: the code verified was a recovery code; a code from the
    /// authenticator (or a confirmed enrolment) clears the mark.
    pub recovery_code: bool,
}

/// What a change does to other sessions (the engine's `SessionEffect`,
/// bound to the rows it applies to).
#[derive(Debug, Clone, Copy)]
pub enum SessionsChange<'a> {
    /// End every session of `user` except `keep`.
    EndOthers { user: &'a str, keep: &'a str },
    /// End every session of `user`.
    EndAll { user: &'a str },
    /// Sessions of the organization's users whose login verified no code
    /// must finish MFA again.
    RequireMfa { organization: &'a str },
}

/// Marks the caller's session used; a session ended (logout, an MFA
/// change) since the decision read it fails the whole commit: nothing the
/// decision allowed may commit.
pub(super) async fn use_session(tx: &mut Tx<'_>, used: SessionUse<'_>) -> Result<(), StoreError> {
    let done = sqlx::query(
        "UPDATE sessions SET \
         last_activity_at = CASE WHEN last_activity_at < $1 THEN $2 ELSE last_activity_at END, \
         mfa_satisfied = CASE WHEN $3 = 1 THEN 1 ELSE mfa_satisfied END, \
         mfa_verified = CASE WHEN $4 = 1 THEN 1 ELSE mfa_verified END, \
         recovery_code_login = CASE WHEN $5 = 1 THEN $6 ELSE recovery_code_login END \
         WHERE token_hash = $7",
    )
    .bind(used.at)
    .bind(used.at)
    .bind(i64::from(used.verified))
    .bind(i64::from(used.verified))
    .bind(i64::from(used.verified))
    .bind(i64::from(used.verified && used.recovery_code))
    .bind(used.token_hash)
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() != 1 {
        return Err(StoreError::SessionEnded);
    }
    Ok(())
}

/// Applies what a change does to other sessions.
pub(super) async fn change_sessions(
    tx: &mut Tx<'_>,
    change: SessionsChange<'_>,
) -> Result<(), StoreError> {
    match change {
        SessionsChange::EndOthers { user, keep } => {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2")
                .bind(user)
                .bind(keep)
                .execute(&mut **tx)
                .await?;
        }
        SessionsChange::EndAll { user } => {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(user)
                .execute(&mut **tx)
                .await?;
        }
        SessionsChange::RequireMfa { organization } => {
            sqlx::query(
                "UPDATE sessions SET mfa_satisfied = 0 WHERE mfa_verified = 0 AND user_id IN \
                 (SELECT id FROM users WHERE organization_id = $1)",
            )
            .bind(organization)
            .execute(&mut **tx)
            .await?;
        }
    }
    Ok(())
}
