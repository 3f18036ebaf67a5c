//! The service's state in SQLite or PostgreSQL: one code path through
//! sqlx's `Any` driver, numbered migrations, optimistic version checks.
//!
//! Every state change commits in one transaction with its audit record and
//! with a check that the rows its decision read are unchanged; a concurrent
//! change makes the commit fail with [`StoreError::Conflict`] and the caller
//! decides again on fresh state. No update is ever lost, also with several
//! replicas on one PostgreSQL.

use std::str::FromStr;
use std::sync::Arc;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Executor, Row};
use time::OffsetDateTime;
use tokio::sync::Notify;

use super::notifications::Event;
use super::secret_box::SecretBox;
use mfa_reset::api::{AuditRecord, Authenticator, MfaStatus, Organization, Role, TotpKey, User};
use mfa_reset::timestamp::{from_millis as time, to_millis as millis};

mod audit;
mod decision_log;
mod outbox;
mod throttle;
pub use audit::AuditFilter;
pub use outbox::DueNotification;
pub use throttle::{DenialRefusal, DenialWindow};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The rows a decision read changed before it committed.
    #[error("the state changed concurrently")]
    Conflict,
    /// The caller's session ended before its decision committed.
    #[error("the session has ended")]
    SessionEnded,
    /// The database cannot be reached (down, restarting, connections
    /// lost, or none free in time): nothing was read or written; retry.
    #[error("database unreachable: {0}")]
    Unreachable(sqlx::Error),
    #[error("database: {0}")]
    Database(sqlx::Error),
    /// A sealed TOTP key does not open: wrong `MFA_RESET_SECRET_KEY`?
    #[error("stored secret of user `{user}`: {message}")]
    Secret { user: String, message: String },
}

impl From<sqlx::Error> for StoreError {
    /// Lock timeouts and serialization failures are conflicts: retryable.
    fn from(e: sqlx::Error) -> Self {
        let retryable = e.as_database_error().is_some_and(|d| {
            let code = d.code().unwrap_or_default();
            // SQLite BUSY/LOCKED (and extended codes), PostgreSQL
            // serialization failure and deadlock.
            matches!(code.as_ref(), "5" | "6" | "517" | "261" | "40001" | "40P01")
                || d.message().contains("database is locked")
        });
        // PostgreSQL's shutdown, crash-recovery and connection classes.
        let gone = matches!(
            e,
            sqlx::Error::Io(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed
        ) || e.as_database_error().is_some_and(|d| {
            let code = d.code().unwrap_or_default();
            code.starts_with("08") || code.starts_with("57P")
        });
        if retryable {
            Self::Conflict
        } else if gone {
            Self::Unreachable(e)
        } else {
            Self::Database(e)
        }
    }
}

/// A user as stored, with the versions its decision depends on. Its TOTP
/// keys stay sealed until [`Store::authenticator`] opens them: only the
/// login steps need them.
#[derive(Debug, Clone)]
pub struct StoredUser {
    pub user: User,
    sealed: SealedAuthenticator,
    pub password_hash: String,
    pub version: i64,
    pub organization_version: i64,
}

/// A session as stored; times in milliseconds.
/// The authenticator as stored: keys still sealed.
#[derive(Clone)]
struct SealedAuthenticator {
    pending: Option<String>,
    active: Option<String>,
    last_accepted_step: Option<u64>,
    failures: u32,
    locked_until: Option<i64>,
}

impl std::fmt::Debug for SealedAuthenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedAuthenticator")
            .field("failures", &self.failures)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone)]
pub struct StoredSession {
    pub token_hash: String,
    pub user_id: String,
    pub login_at: i64,
    pub last_activity_at: i64,
    pub mfa_satisfied: bool,
    /// The login verified a code (or confirmed an enrolment).
    pub mfa_verified: bool,
}

/// The caller's session used by an allowed decision.
#[derive(Debug, Clone, Copy)]
pub struct SessionUse<'a> {
    pub token_hash: &'a str,
    /// Its new last activity, in milliseconds (never moved back).
    pub at: i64,
    /// The decision verified a code: the login has finished MFA.
    pub verified: bool,
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

/// One row of the audit log: the engine's record, with the row's id and
/// the decision id that the logs also carry.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AuditEntry {
    pub id: String,
    pub decision_id: String,
    #[serde(flatten)]
    pub record: AuditRecord,
    /// The target's version after the change, when something changed.
    pub target_version: Option<i64>,
}

impl AuditEntry {
    /// A new row for `record`; ids are time-ordered, so rows of one second
    /// still list in the order they were written.
    pub fn new(record: AuditRecord, decision_id: String) -> Self {
        Self {
            id: uuid::Uuid::now_v7().to_string(),
            decision_id,
            record,
            target_version: None,
        }
    }

    /// A row another organization must not see being written: its id is
    /// time-ordered to the millisecond but takes no step of the process's
    /// id counter, whose gaps the rows a caller can read would show.
    pub fn unseen(record: AuditRecord, decision_id: String) -> Self {
        Self {
            id: uuid::Uuid::new_v7(uuid::Timestamp::now(uuid::NoContext)).to_string(),
            ..Self::new(record, decision_id)
        }
    }
}

/// Everything one decision writes, atomically.
#[derive(Debug, Default)]
pub struct Commit<'a> {
    /// Users the decision read, at these versions; a change aborts.
    pub read_users: Vec<(&'a str, i64)>,
    /// Organizations the decision read, at these versions.
    pub read_organizations: Vec<(&'a str, i64)>,
    /// New state of one user (must be among `read_users`).
    pub user: Option<(&'a User, &'a Authenticator)>,
    /// New state of one organization (must be among `read_organizations`).
    pub organization: Option<&'a Organization>,
    /// Audit rows: the decision's, and a copy for the target's
    /// organization when the caller acted across organizations.
    pub audit: Vec<AuditEntry>,
    /// The caller's session, when the decision allowed its use.
    pub session: Option<SessionUse<'a>>,
    pub sessions_change: Option<SessionsChange<'a>>,
}

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    secrets: SecretBox,
    /// Set when a webhook is configured: each MFA change then writes its
    /// notification into the outbox, and wakes the worker waiting here.
    outbox: Option<Arc<Notify>>,
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Root => "root",
        Role::SubUser => "sub_user",
    }
}

fn status_name(status: MfaStatus) -> &'static str {
    match status {
        MfaStatus::Off => "off",
        MfaStatus::EnrolmentDue => "enrolment_due",
        MfaStatus::Active => "active",
    }
}

/// A stored time (milliseconds since the epoch).
pub fn time_of(millis: i64) -> OffsetDateTime {
    time(millis)
}

/// A version-checked update must touch exactly its one row; a changed row's
/// new version is the checked one plus one.
fn checked(
    rows: u64,
    changed: bool,
    version: i64,
    new_version: &mut Option<i64>,
) -> Result<(), StoreError> {
    if rows != 1 {
        return Err(StoreError::Conflict);
    }
    if changed {
        *new_version = Some(version + 1);
    }
    Ok(())
}

fn session_from_row(r: &AnyRow) -> Result<StoredSession, StoreError> {
    Ok(StoredSession {
        token_hash: r.try_get("token_hash")?,
        user_id: r.try_get("user_id")?,
        login_at: r.try_get("login_at")?,
        last_activity_at: r.try_get("last_activity_at")?,
        mfa_satisfied: r.try_get::<i64, _>("mfa_satisfied")? != 0,
        mfa_verified: r.try_get::<i64, _>("mfa_verified")? != 0,
    })
}

async fn insert_audit(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    audit: &AuditEntry,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO audit_log (id, at, decision_id, actor, organization_id, action, target, allowed, \
         policy_ids, denial_code, target_version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(&audit.id)
    .bind(millis(audit.record.at))
    .bind(&audit.decision_id)
    .bind(&audit.record.actor)
    .bind(&audit.record.organization)
    .bind(&audit.record.action)
    .bind(&audit.record.target)
    .bind(i64::from(audit.record.allowed))
    .bind(audit.record.policy_ids.join(","))
    .bind(&audit.record.denial_code)
    .bind(audit.target_version)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// How long a request waits for a database connection.
pub const DATABASE_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

const USER_COLUMNS: &str = "u.id, u.role, u.password_hash, u.mfa_status, u.totp_pending, u.totp_active, \
     u.last_accepted_step, u.failures, u.locked_until, u.version, \
     o.id AS organization_id, o.enforce_mfa, o.version AS organization_version";

impl Store {
    /// Connects, creates an SQLite file if needed, and runs the migrations.
    pub async fn open(url: &str, secrets: SecretBox) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let sqlite = url.starts_with("sqlite:");
        let options = AnyConnectOptions::from_str(url)?;
        let pool = AnyPoolOptions::new()
            .max_connections(if sqlite { 4 } else { 16 })
            // A ping before every query is a round trip to SQLite's worker
            // thread (7% of a forward-auth's CPU, profiled) that cannot find
            // a dead connection to a local file; a server connection can die.
            .test_before_acquire(!sqlite)
            // Without a database a request fails after this long (503)
            // instead of queueing for sqlx's default 30 s.
            .acquire_timeout(DATABASE_WAIT)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if sqlite {
                        // WAL lets readers run beside the writer; writers
                        // queue on the lock for up to 5 s.
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA busy_timeout = 5000").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| StoreError::Database(e.into()))?;
        Ok(Self {
            pool,
            secrets,
            outbox: None,
        })
    }

    /// Connects for reading only (`policies replay`): no migration runs,
    /// SQLite is opened read-only, PostgreSQL sessions are read-only.
    pub async fn open_read_only(url: &str, secrets: SecretBox) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let sqlite = url.starts_with("sqlite:");
        let url = if sqlite {
            let (path, query) = url.split_once('?').unwrap_or((url, ""));
            let kept: Vec<&str> = query
                .split('&')
                .filter(|p| !p.is_empty() && !p.starts_with("mode="))
                .chain(["mode=ro"])
                .collect();
            format!("{path}?{}", kept.join("&"))
        } else {
            url.to_string()
        };
        let pool = AnyPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(DATABASE_WAIT)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if !sqlite {
                        conn.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(AnyConnectOptions::from_str(&url)?)
            .await?;
        Ok(Self {
            pool,
            secrets,
            outbox: None,
        })
    }

    /// From now on every MFA change also writes its notification (in the
    /// same transaction) and wakes `worker`.
    pub fn with_outbox(self, worker: Arc<Notify>) -> Self {
        Self {
            outbox: Some(worker),
            ..self
        }
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn is_empty(&self) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM organizations")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get::<i64, _>("n")? == 0)
    }

    /// Creates organizations and users (with password hashes) in one transaction.
    pub async fn insert_organization(
        &self,
        org: &Organization,
        users: &[(User, String)],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        // Replicas starting together may seed at once: the first one wins.
        sqlx::query(
            "INSERT INTO organizations (id, enforce_mfa) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
        )
            .bind(&org.id)
            .bind(i64::from(org.enforce_mfa))
            .execute(&mut *tx)
            .await?;
        for (user, password_hash) in users {
            sqlx::query(
                "INSERT INTO users (id, organization_id, role, password_hash, mfa_status) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING",
            )
            .bind(&user.id)
            .bind(&org.id)
            .bind(role_name(user.role))
            .bind(password_hash)
            .bind(status_name(user.mfa))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn user(&self, id: &str) -> Result<Option<StoredUser>, StoreError> {
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM users u JOIN organizations o ON o.id = u.organization_id WHERE u.id = $1"
        );
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| self.user_from_row(&r)).transpose()
    }

    pub async fn organization_users(
        &self,
        organization: &str,
    ) -> Result<Vec<StoredUser>, StoreError> {
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM users u JOIN organizations o ON o.id = u.organization_id \
             WHERE u.organization_id = $1 ORDER BY u.id"
        );
        let rows = sqlx::query(&sql)
            .bind(organization)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| self.user_from_row(r)).collect()
    }

    fn user_from_row(&self, r: &AnyRow) -> Result<StoredUser, StoreError> {
        let id: String = r.try_get("id")?;
        let role = match r.try_get::<String, _>("role")?.as_str() {
            "root" => Role::Root,
            _ => Role::SubUser,
        };
        let mfa = match r.try_get::<String, _>("mfa_status")?.as_str() {
            "enrolment_due" => MfaStatus::EnrolmentDue,
            "active" => MfaStatus::Active,
            _ => MfaStatus::Off,
        };
        let sealed = SealedAuthenticator {
            pending: r.try_get("totp_pending")?,
            active: r.try_get("totp_active")?,
            last_accepted_step: r
                .try_get::<Option<i64>, _>("last_accepted_step")?
                .map(|s| s as u64),
            failures: u32::try_from(r.try_get::<i64, _>("failures")?).unwrap_or(u32::MAX),
            locked_until: r.try_get("locked_until")?,
        };
        Ok(StoredUser {
            user: User {
                id: id.clone(),
                role,
                organization: Organization {
                    id: r.try_get("organization_id")?,
                    enforce_mfa: r.try_get::<i64, _>("enforce_mfa")? != 0,
                },
                mfa,
            },
            sealed,
            password_hash: r.try_get("password_hash")?,
            version: r.try_get("version")?,
            organization_version: r.try_get("organization_version")?,
        })
    }

    /// `user`'s authenticator with its keys opened (login steps only).
    pub fn authenticator(&self, user: &StoredUser) -> Result<Authenticator, StoreError> {
        let id = &user.user.id;
        let sealed = &user.sealed;
        Ok(Authenticator {
            pending: self.open_key(id, "pending", sealed.pending.clone())?,
            active: self.open_key(id, "active", sealed.active.clone())?,
            last_accepted_step: sealed.last_accepted_step,
            failures: sealed.failures,
            locked_until: sealed.locked_until.map(time_of),
        })
    }

    fn open_key(
        &self,
        user: &str,
        slot: &str,
        sealed: Option<String>,
    ) -> Result<Option<TotpKey>, StoreError> {
        let Some(sealed) = sealed else {
            return Ok(None);
        };
        let secret = |message: String| StoreError::Secret {
            user: user.into(),
            message,
        };
        let json = self
            .secrets
            .open(&sealed, &format!("{user}/{slot}"))
            .map_err(secret)?;
        serde_json::from_slice(&json)
            .map(Some)
            .map_err(|e| secret(e.to_string()))
    }

    fn seal_key(&self, user: &str, slot: &str, key: Option<&TotpKey>) -> Option<String> {
        key.map(|k| {
            let json = serde_json::to_vec(k).expect("keys serialize");
            self.secrets.seal(&json, &format!("{user}/{slot}"))
        })
    }

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
            "INSERT INTO sessions (token_hash, user_id, login_at, last_activity_at, mfa_satisfied, mfa_verified) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&session.token_hash)
        .bind(&session.user_id)
        .bind(session.login_at)
        .bind(session.last_activity_at)
        .bind(i64::from(session.mfa_satisfied))
        .bind(i64::from(session.mfa_verified))
        .execute(&mut *tx)
        .await?;
        insert_audit(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Writes audit rows on their own (decisions that change nothing else).
    pub async fn audit_only(&self, entries: &[AuditEntry]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for entry in entries {
            insert_audit(&mut tx, entry).await?;
        }
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
             s.mfa_verified, {USER_COLUMNS} FROM sessions s JOIN users u ON u.id = s.user_id \
             JOIN organizations o ON o.id = u.organization_id WHERE s.token_hash = $1"
        );
        let row = sqlx::query(&sql)
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok((session_from_row(&r)?, self.user_from_row(&r)?)))
            .transpose()
    }

    #[cfg(test)]
    pub async fn session(&self, token_hash: &str) -> Result<Option<StoredSession>, StoreError> {
        let row = sqlx::query(
            "SELECT token_hash, user_id, login_at, last_activity_at, mfa_satisfied, mfa_verified \
             FROM sessions WHERE token_hash = $1",
        )
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

    /// Writes one decision's changes and audit record together, if the rows
    /// it read are unchanged. Returns the changed row's new version.
    ///
    /// Rows are locked in one global order (users by id, then organizations
    /// by id), whoever the actor and the target are: two decisions reading
    /// the same rows in opposite roles (two roots acting on each other) then
    /// queue instead of deadlocking. A commit that changes no row and uses
    /// no session (a denial) writes its audit rows only, locking nothing:
    /// a denial decided on a read that changed since is the decision as of
    /// that read.
    pub async fn commit(&self, mut c: Commit<'_>) -> Result<Option<i64>, StoreError> {
        let changes_nothing = c.user.is_none()
            && c.organization.is_none()
            && c.session.is_none()
            && c.sessions_change.is_none();
        if changes_nothing {
            self.audit_only(&c.audit).await?;
            return Ok(None);
        }
        c.read_users.sort_unstable();
        c.read_users.dedup();
        c.read_organizations.sort_unstable();
        c.read_organizations.dedup();
        let mut tx = self.pool.begin().await?;
        let mut new_version = None;
        for &(id, version) in &c.read_users {
            let changed = c.user.filter(|(u, _)| u.id == id);
            let done = match changed {
                Some((user, a)) => {
                    sqlx::query(
                        "UPDATE users SET mfa_status = $1, totp_pending = $2, totp_active = $3, \
                         last_accepted_step = $4, failures = $5, locked_until = $6, version = version + 1 \
                         WHERE id = $7 AND version = $8",
                    )
                    .bind(status_name(user.mfa))
                    .bind(self.seal_key(id, "pending", a.pending.as_ref()))
                    .bind(self.seal_key(id, "active", a.active.as_ref()))
                    .bind(a.last_accepted_step.map(|s| s as i64))
                    .bind(i64::from(a.failures))
                    .bind(a.locked_until.map(millis))
                    .bind(id)
                    .bind(version)
                    .execute(&mut *tx)
                    .await?
                }
                // Locks the row (PostgreSQL) and proves it unchanged.
                None => {
                    sqlx::query("UPDATE users SET version = version WHERE id = $1 AND version = $2")
                        .bind(id)
                        .bind(version)
                        .execute(&mut *tx)
                        .await?
                }
            };
            checked(
                done.rows_affected(),
                changed.is_some(),
                version,
                &mut new_version,
            )?;
        }
        for &(id, version) in &c.read_organizations {
            let changed = c.organization.filter(|o| o.id == id);
            let done = match changed {
                Some(org) => {
                    sqlx::query(
                        "UPDATE organizations SET enforce_mfa = $1, version = version + 1 WHERE id = $2 AND version = $3",
                    )
                    .bind(i64::from(org.enforce_mfa))
                    .bind(id)
                    .bind(version)
                    .execute(&mut *tx)
                    .await?
                }
                None => {
                    sqlx::query("UPDATE organizations SET version = version WHERE id = $1 AND version = $2")
                        .bind(id)
                        .bind(version)
                        .execute(&mut *tx)
                        .await?
                }
            };
            checked(
                done.rows_affected(),
                changed.is_some(),
                version,
                &mut new_version,
            )?;
        }
        // The first audit row is the decision's (a copy for another
        // organization is never an allowed change).
        let event = c
            .audit
            .first()
            .filter(|_| self.outbox.is_some())
            .and_then(|a| {
                Event::of(
                    &a.record,
                    &a.decision_id,
                    c.user.map(|(u, _)| u),
                    c.organization,
                    new_version,
                )
            });
        for mut audit in c.audit {
            audit.target_version = new_version;
            insert_audit(&mut tx, &audit).await?;
        }
        if let Some(event) = &event {
            outbox::insert(&mut tx, event).await?;
        }
        if let Some(used) = c.session {
            let done = sqlx::query(
                "UPDATE sessions SET \
                 last_activity_at = CASE WHEN last_activity_at < $1 THEN $2 ELSE last_activity_at END, \
                 mfa_satisfied = CASE WHEN $3 = 1 THEN 1 ELSE mfa_satisfied END, \
                 mfa_verified = CASE WHEN $4 = 1 THEN 1 ELSE mfa_verified END \
                 WHERE token_hash = $5",
            )
            .bind(used.at)
            .bind(used.at)
            .bind(i64::from(used.verified))
            .bind(i64::from(used.verified))
            .bind(used.token_hash)
            .execute(&mut *tx)
            .await?;
            // Ended (logout, an MFA change) since the decision read it:
            // nothing the decision allowed may commit.
            if done.rows_affected() != 1 {
                return Err(StoreError::SessionEnded);
            }
        }
        match c.sessions_change {
            None => {}
            Some(SessionsChange::EndOthers { user, keep }) => {
                sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2")
                    .bind(user)
                    .bind(keep)
                    .execute(&mut *tx)
                    .await?;
            }
            Some(SessionsChange::EndAll { user }) => {
                sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                    .bind(user)
                    .execute(&mut *tx)
                    .await?;
            }
            Some(SessionsChange::RequireMfa { organization }) => {
                sqlx::query(
                    "UPDATE sessions SET mfa_satisfied = 0 WHERE mfa_verified = 0 AND user_id IN \
                     (SELECT id FROM users WHERE organization_id = $1)",
                )
                .bind(organization)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        if let (Some(worker), Some(_)) = (&self.outbox, &event) {
            worker.notify_one();
        }
        Ok(new_version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two decisions made on the same read: the second commit must fail
    /// (no lost update) and leave no audit record behind.
    #[tokio::test]
    async fn a_commit_on_a_stale_version_conflicts_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let store = Store::open(
            &url,
            SecretBox::from_base64(&SecretBox::generate_base64()).unwrap(),
        )
        .await
        .unwrap();
        let org = Organization {
            id: "acme".into(),
            enforce_mfa: false,
        };
        let bob = User {
            id: "bob".into(),
            role: Role::SubUser,
            organization: org.clone(),
            mfa: MfaStatus::Off,
        };
        store
            .insert_organization(&org, &[(bob.clone(), "hash".into())])
            .await
            .unwrap();
        let read = store.user("bob").await.unwrap().unwrap();
        let audit = |action: &str| {
            let record = AuditRecord {
                at: OffsetDateTime::UNIX_EPOCH,
                actor: "bob".into(),
                organization: "acme".into(),
                action: action.into(),
                target: "bob".into(),
                allowed: true,
                policy_ids: vec!["self-service".into()],
                denial_code: None,
            };
            AuditEntry::new(record, "d".into())
        };
        let none = Authenticator::default();
        let on = User {
            mfa: MfaStatus::EnrolmentDue,
            ..bob.clone()
        };
        let off = User {
            mfa: MfaStatus::Off,
            ..bob.clone()
        };
        for (new, action, expected_ok) in [
            (&on, "enable_own_mfa", true),
            (&off, "disable_own_mfa", false),
        ] {
            let result = store
                .commit(Commit {
                    read_users: vec![("bob", read.version)],
                    read_organizations: vec![("acme", read.organization_version)],
                    user: Some((new, &none)),
                    organization: None,
                    audit: vec![audit(action)],
                    session: None,
                    sessions_change: None,
                })
                .await;
            if expected_ok {
                assert_eq!(result.unwrap(), Some(1));
            } else {
                assert!(matches!(result, Err(StoreError::Conflict)), "{result:?}");
            }
        }
        let after = store.user("bob").await.unwrap().unwrap();
        assert_eq!(
            (after.user.mfa, after.version),
            (MfaStatus::EnrolmentDue, 1)
        );
        let log = store
            .audit("acme", &AuditFilter::default(), 10)
            .await
            .unwrap()
            .records;
        assert_eq!(log.len(), 1, "the failed commit left no audit record");

        // A login decided on the state before that change cannot create its
        // session (it would skip the enrolment the change made due).
        let session = StoredSession {
            token_hash: "h".into(),
            user_id: "bob".into(),
            login_at: 0,
            last_activity_at: 0,
            mfa_satisfied: true,
            mfa_verified: false,
        };
        let stale = (read.version, read.organization_version);
        let created = store.create_session(&session, stale, audit("login")).await;
        assert!(matches!(created, Err(StoreError::Conflict)), "{created:?}");
        assert!(store.session("h").await.unwrap().is_none());
        assert_eq!(
            store
                .audit("acme", &AuditFilter::default(), 10)
                .await
                .unwrap()
                .records
                .len(),
            1
        );
        let fresh = (after.version, after.organization_version);
        store
            .create_session(&session, fresh, audit("login"))
            .await
            .unwrap();
        assert!(store.session("h").await.unwrap().is_some());
        assert_eq!(
            (log[0].record.action.as_str(), log[0].target_version),
            ("enable_own_mfa", Some(1))
        );
    }
}
