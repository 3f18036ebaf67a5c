//! The caller of a request: its session and its stored user, read in one
//! query, and read again where a decision needs the state as it is now.

use crate::app::AppState;
use crate::config::Clock;
use crate::credentials::session;
use crate::error::ApiError;
use crate::store::{StoredSession, StoredUser, time_of};
use mfa_reset::api::Session;

/// The caller of a request: its session and its stored user.
#[derive(Clone)]
pub struct Caller {
    pub session: StoredSession,
    pub user: StoredUser,
}

impl Caller {
    /// The time of this request: the clock, but never before the session's
    /// last activity (replicas' clocks may differ by a little; a request
    /// cannot precede the one before it).
    pub fn now(&self, clock: &Clock) -> time::OffsetDateTime {
        clock.now().max(time_of(self.session.last_activity_at))
    }

    pub fn session(&self) -> Session {
        Session {
            login_at: time_of(self.session.login_at),
            last_activity_at: time_of(self.session.last_activity_at),
            mfa_satisfied: self.session.mfa_satisfied,
            recovery_code_login: self.session.recovery_code_login,
        }
    }
}

/// Loads the caller of `token` (a hashed lookup, one query).
pub async fn caller(state: &AppState, token: &str) -> Result<Caller, ApiError> {
    caller_of_hash(state, &session::hash(token)).await
}

/// The caller again, as stored now (after a conflict, or after queueing).
pub async fn reload(state: &AppState, caller: &Caller) -> Result<Caller, ApiError> {
    caller_of_hash(state, &caller.session.token_hash).await
}

async fn caller_of_hash(state: &AppState, token_hash: &str) -> Result<Caller, ApiError> {
    let (session, user) = state
        .store
        .caller(token_hash)
        .await?
        .ok_or(ApiError::NoSession)?;
    Ok(Caller { session, user })
}

/// Queues behind other state changes of the caller's organization in this
/// replica (see `keyed_locks.rs`); hold the guard until the change commits.
pub async fn queue_for_org(state: &AppState, caller: &Caller) -> tokio::sync::OwnedMutexGuard<()> {
    state
        .org_locks
        .lock(&caller.user.user.organization.id)
        .await
}
