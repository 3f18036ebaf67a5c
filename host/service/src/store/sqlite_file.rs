//! The SQLite file reached directly (rusqlite), beside sqlx's pool, for
//! the two paths that run for every forward-auth question. sqlx runs each
//! SQLite connection on a thread of its own, reached over a channel: a
//! read there and back is two thread hand-offs, the largest cost of a
//! forward-auth question (BENCHMARKS.md).
//! - The caller of a request is read here, in the request's own task.
//!   Nothing is cached: every read is a new read transaction, and in WAL
//!   mode it sees every transaction committed before it began, so a
//!   logout, a reset or a deactivation is seen by the very next request.
//! - The decision log's batches are written here, one prepared statement
//!   in one transaction per batch.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension};

use super::accounts::user_from_row;
use super::decision_log::DecisionRow;
use super::row::read_error;
use super::sessions::{CALLER_QUERY, session_from_row};
use super::{StoreError, StoredSession, StoredUser};

/// Idle connections kept; more are opened under load and closed after.
const IDLE: usize = 8;
/// A read never waits long for a lock (WAL readers normally never do);
/// past this the store reads through sqlx's pool instead.
const BUSY_WAIT: Duration = Duration::from_millis(50);
/// The decision log's writer queues on the write lock like sqlx's
/// connections do.
const WRITE_WAIT: Duration = Duration::from_secs(5);

/// Read-only connections to one SQLite file, and one to write with.
pub(super) struct SqliteFile {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    writer: Mutex<Option<Connection>>,
    /// Reads that failed here (and went through sqlx's pool instead).
    failed_reads: AtomicU64,
}

impl SqliteFile {
    /// The database file at `path`, if it opens.
    pub(super) fn open(path: &Path) -> Result<Self, StoreError> {
        let reader = Self {
            path: path.to_path_buf(),
            idle: Mutex::new(Vec::new()),
            writer: Mutex::new(None),
            failed_reads: AtomicU64::new(0),
        };
        let first = reader.connect()?;
        // Outside WAL mode a read could wait on a writer, on an async
        // worker: then everything goes through sqlx's pool.
        let mode: String = first
            .query_row("PRAGMA journal_mode", [], |row| row.get(0))
            .map_err(read_error)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Corrupt(format!(
                "journal mode `{mode}`, not WAL: no direct reads"
            )));
        }
        reader.put_back(first);
        Ok(reader)
    }

    fn connect(&self) -> Result<Connection, StoreError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let connection = Connection::open_with_flags(&self.path, flags).map_err(read_error)?;
        connection.busy_timeout(BUSY_WAIT).map_err(read_error)?;
        Ok(connection)
    }

    fn put_back(&self, connection: Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < IDLE {
            idle.push(connection);
        }
    }

    /// Counts a failed direct read; says so in the log the first time and
    /// every 1 000th after, not on every request.
    pub(super) fn read_failed(&self, error: &StoreError) {
        let n = self.failed_reads.fetch_add(1, Ordering::Relaxed);
        if n.is_multiple_of(1_000) {
            tracing::warn!(%error, failed_reads = n + 1, "SQLite: a direct read failed; read through sqlx's pool");
        }
    }

    /// The session with this token hash and its user, as committed now.
    pub(super) fn caller(
        &self,
        token_hash: &str,
    ) -> Result<Option<(StoredSession, StoredUser)>, StoreError> {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let connection = match idle {
            Some(connection) => connection,
            None => self.connect()?,
        };
        let found = {
            let mut statement = connection
                .prepare_cached(&CALLER_QUERY)
                .map_err(read_error)?;
            statement
                .query_row([token_hash], |row| {
                    Ok((session_from_row(row), user_from_row(row)))
                })
                .optional()
                .map_err(read_error)?
        };
        self.put_back(connection);
        match found {
            None => Ok(None),
            Some((session, user)) => Ok(Some((session?, user?))),
        }
    }
}

impl SqliteFile {
    /// Appends `rows` to the decision log in one transaction (ids already
    /// present are skipped). Blocking: run it off the async workers.
    pub(super) fn append_decisions(&self, rows: &[DecisionRow]) -> Result<(), StoreError> {
        let mut writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        if writer.is_none() {
            let connection = Connection::open(&self.path).map_err(write_error)?;
            connection.busy_timeout(WRITE_WAIT).map_err(write_error)?;
            *writer = Some(connection);
        }
        let connection = writer.as_mut().expect("opened above");
        let result = write_batch(connection, rows);
        if result.is_err() {
            // A connection in an unknown state is not kept.
            *writer = None;
        }
        result
    }
}

fn write_batch(connection: &mut Connection, rows: &[DecisionRow]) -> Result<(), StoreError> {
    let tx = connection
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(write_error)?;
    {
        let mut insert = tx
            .prepare_cached(
                "INSERT INTO decision_log (id, at, action, actor, organization, allowed, \
                 denial_code, policy_revision, request) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) \
                 ON CONFLICT (id) DO NOTHING",
            )
            .map_err(write_error)?;
        for row in rows {
            insert
                .execute(rusqlite::params![
                    row.id,
                    row.at,
                    row.action,
                    row.actor,
                    row.organization,
                    i64::from(row.allowed),
                    row.denial_code,
                    row.policy_revision,
                    row.request,
                ])
                .map_err(write_error)?;
        }
    }
    tx.commit().map_err(write_error)
}

/// A write that failed: busy past the wait is a conflict like sqlx's.
fn write_error(e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
            StoreError::Conflict
        }
        _ => StoreError::Corrupt(format!("decision log write: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{AuditEntry, Store};
    use super::*;
    use crate::credentials::SecretBox;
    use mfa_reset::api::{AuditRecord, MfaStatus, Organization, Role, User};

    /// The caller read on the request's thread is the caller sqlx's pool
    /// reads, and a session deleted through the pool is gone for the very
    /// next direct read (no cache, no stale snapshot).
    #[tokio::test]
    async fn the_file_reads_the_caller_as_the_pool_does_and_sees_a_logout_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let key = SecretBox::from_base64(&SecretBox::generate_base64()).unwrap();
        let store = Store::open(&url, key).await.unwrap();
        let org = Organization {
            id: "acme".into(),
            enforce_mfa: true,
        };
        let bob = User {
            id: "bob".into(),
            role: Role::SubUser,
            organization: org.clone(),
            mfa: MfaStatus::EnrolmentDue,
            active: true,
        };
        store
            .insert_organization(&org, &[(bob, "hash".into())])
            .await
            .unwrap();
        let read = store.user("bob").await.unwrap().unwrap();
        let session = StoredSession {
            token_hash: "h".into(),
            user_id: "bob".into(),
            login_at: 1_000,
            last_activity_at: 2_000,
            mfa_satisfied: true,
            mfa_verified: true,
            recovery_code_login: true,
        };
        let audit = AuditRecord {
            at: time::OffsetDateTime::UNIX_EPOCH,
            actor: "bob".into(),
            organization: "acme".into(),
            action: "login".into(),
            target: "bob".into(),
            allowed: true,
            policy_ids: Vec::new(),
            denial_code: None,
        };
        store
            .create_session(
                &session,
                (read.version, read.organization_version),
                AuditEntry::new(audit, "d".into()),
            )
            .await
            .unwrap();

        // Every column as an enrolled, locked user with recovery codes has
        // it (sealed slots are opaque text here).
        sqlx::query(
            "UPDATE users SET totp_pending = 'p', totp_active = 'a', last_accepted_step = 42, \
             failures = 3, locked_until = 99, recovery_codes = 'c', version = version + 1 \
             WHERE id = 'bob'",
        )
        .execute(&store.pool)
        .await
        .unwrap();
        let file = store.sqlite_file.clone().expect("a file is read directly");
        let direct = file.caller("h").unwrap().expect("found directly");
        let pool_only = Store {
            sqlite_file: None,
            ..store.clone()
        };
        let pooled = pool_only
            .caller("h")
            .await
            .unwrap()
            .expect("found in the pool");
        assert_eq!(direct, pooled);
        assert_eq!(direct.1.password_hash, "hash");
        assert!(direct.0.recovery_code_login);
        assert!(file.caller("no such hash").unwrap().is_none());

        assert!(store.delete_session("h").await.unwrap());
        assert!(
            file.caller("h").unwrap().is_none(),
            "a logout is seen at once"
        );
        assert!(store.caller("h").await.unwrap().is_none());
    }
}
