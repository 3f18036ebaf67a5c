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

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor, Row};
use time::OffsetDateTime;
use tokio::sync::Notify;

use crate::credentials::SecretBox;
use mfa_reset::api::{MfaStatus, Role};
use mfa_reset::timestamp::from_millis as time;

mod accounts;
mod audit;
mod commit;
mod decision_log;
mod event;
mod outbox;
mod policy_sets;
mod provisioning;
mod recovery_cases;
mod row;
mod scim_users;
mod sessions;
mod sqlite_file;
mod throttle;
pub use accounts::StoredUser;
pub use audit::AuditFilter;
pub use commit::{AuditEntry, Commit};
pub use decision_log::RecordedDecision;
pub use event::Event;
pub use outbox::DueNotification;
pub use policy_sets::{Activation, POLICY_CHANNEL, PublishedSet, ReplicaReport};
pub use provisioning::{
    AccountProfile, InvitationState, NewInvitation, OrganizationSummary, ScimTokenSummary,
};
pub use recovery_cases::{CaseScope, CaseWrite, StoredCase};
pub use scim_users::{ScimFilter, ScimRecord};
pub use sessions::{SessionUse, SessionsChange, StoredSession};
pub use throttle::{DenialRefusal, DenialWindow};

/// The migrations both databases share (`migrations/*.sql`), and the few
/// one of them needs written its own way (`migrations/sqlite/`,
/// `migrations/postgres/`: changing a CHECK constraint), numbered in one
/// sequence and run in its order.
static SHARED: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
static SQLITE_ONLY: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_ONLY: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The migrations of one database kind, in version order.
#[derive(Debug)]
struct Migrations(Vec<sqlx::migrate::Migration>);

impl<'s> sqlx::migrate::MigrationSource<'s> for Migrations {
    fn resolve(
        self,
    ) -> std::pin::Pin<
        Box<
            dyn std::future::Future<
                    Output = Result<Vec<sqlx::migrate::Migration>, sqlx::error::BoxDynError>,
                > + Send
                + 's,
        >,
    > {
        Box::pin(async move { Ok(self.0) })
    }
}

async fn migrator(sqlite: bool) -> Result<sqlx::migrate::Migrator, StoreError> {
    let own = if sqlite { &SQLITE_ONLY } else { &POSTGRES_ONLY };
    let mut all: Vec<_> = SHARED.iter().chain(own.iter()).cloned().collect();
    all.sort_by_key(|m| m.version);
    sqlx::migrate::Migrator::new(Migrations(all))
        .await
        .map_err(|e| StoreError::Database(e.into()))
}

/// Why a read or a write failed.
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
    /// Any other database error.
    #[error("database: {0}")]
    Database(sqlx::Error),
    /// An organization, user or token with this id exists already.
    #[error("{kind} `{id}` exists already")]
    Exists {
        /// `organization`, `user` or `SCIM token`.
        kind: &'static str,
        /// The id asked for.
        id: String,
    },
    /// A stored value this version does not know (written by a newer one?).
    #[error("stored data not understood: {0}")]
    Corrupt(String),
    /// A sealed TOTP key does not open: wrong `MFA_RESET_SECRET_KEY`?
    #[error("stored secret of user `{user}`: {message}")]
    Secret {
        /// Whose key.
        user: String,
        /// Why it does not open.
        message: String,
    },
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

/// The database: a pool of connections, the key that seals TOTP keys, and
/// (with a webhook) the worker to wake when a change writes a notification.

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    secrets: SecretBox,
    /// Set when a webhook is configured: each MFA change then writes its
    /// notification into the outbox, and wakes the worker waiting here.
    outbox: Option<Arc<Notify>>,
    /// PostgreSQL's URL (it may hold a password: never shown): a replica
    /// listens there for published policy sets (R16). None for SQLite.
    postgres_url: Option<Arc<str>>,
    /// SQLite: the file reached directly for the caller's read and the
    /// decision log's writes (`sqlite_file.rs`).
    sqlite_file: Option<Arc<sqlite_file::SqliteFile>>,
}

pub(crate) fn role_name(role: Role) -> &'static str {
    match role {
        Role::Root => "root",
        Role::SubUser => "sub_user",
        Role::SupportAgent => "support_agent",
    }
}

/// The role stored as `name`; an unknown name is an error, never a
/// guess (a support agent read as a sub-user would be a different principal).
pub(crate) fn role_from_name(name: &str) -> Result<Role, StoreError> {
    match name {
        "root" => Ok(Role::Root),
        "sub_user" => Ok(Role::SubUser),
        "support_agent" => Ok(Role::SupportAgent),
        other => Err(StoreError::Corrupt(format!("unknown role `{other}`"))),
    }
}

pub(crate) fn status_name(status: MfaStatus) -> &'static str {
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

/// A pool of at most `max` connections, each set up for the service.
fn pool_options(sqlite: bool, max: u32) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(max)
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
}

/// The file of an SQLite URL; `None` for an in-memory database.
fn sqlite_file_of(url: &str) -> Option<std::path::PathBuf> {
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(url).ok()?;
    let path = options.get_filename();
    (path.as_os_str() != ":memory:" && path.exists()).then(|| path.to_path_buf())
}

/// How long a request waits for a database connection.
pub const DATABASE_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

impl Store {
    /// Connects, creates an SQLite file if needed, and runs the migrations.
    pub async fn open(url: &str, secrets: SecretBox) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let sqlite = url.starts_with("sqlite:");
        let options = AnyConnectOptions::from_str(url)?;
        // Migrations run on a connection of their own, closed after: a
        // connection that changed the schema the way SQLite's CHECK change
        // does (migrations/sqlite/) keeps the old definition until closed.
        let migrating = pool_options(sqlite, 1)
            .connect_with(options.clone())
            .await?;
        migrator(sqlite)
            .await?
            .run(&migrating)
            .await
            .map_err(|e| StoreError::Database(e.into()))?;
        migrating.close().await;
        let pool = pool_options(sqlite, if sqlite { 4 } else { 16 })
            .connect_with(options)
            .await?;
        let direct = if sqlite {
            sqlite_file_of(url).and_then(|path| match sqlite_file::SqliteFile::open(&path) {
                Ok(reader) => Some(Arc::new(reader)),
                Err(e) => {
                    tracing::warn!(error = %e, "SQLite: everything goes through sqlx's pool");
                    None
                }
            })
        } else {
            None
        };
        Ok(Self {
            pool,
            secrets,
            outbox: None,
            postgres_url: (!sqlite).then(|| url.into()),
            sqlite_file: direct,
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
            postgres_url: (!sqlite).then(|| url.as_str().into()),
            sqlite_file: None,
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

    /// PostgreSQL's URL, for a listener of its own; None on SQLite.
    pub(crate) fn postgres_url(&self) -> Option<&str> {
        self.postgres_url.as_deref()
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
}
