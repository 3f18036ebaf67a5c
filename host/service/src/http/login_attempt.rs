//! A login attempt: throttled per account id and per client address,
//! counted before any password is checked, audited alike whether the id
//! exists or not. Shared by the password login and the ticket login.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;

use crate::app::AppState;
use crate::config::LoginThrottle;
use crate::credentials::{passwords, session};
use crate::decisions::seconds_until;
use crate::error::ApiError;
use crate::store::{AuditEntry, StoredUser, time_of};
use mfa_reset::api::AuditRecord;
use mfa_reset::log_text::Shown;
use mfa_reset::timestamp::to_millis as millis;

/// A login attempt, counted against its account id and its client address
/// before any password is checked, one per account id at a time in this
/// replica: parallel guesses, from any replica, each take a slot; a right
/// password gives it back.
pub(super) struct PasswordAttempt {
    pub now: time::OffsetDateTime,
    address: IpAddr,
    // Hashed: the throttle table never holds what was typed as a user id
    // (sometimes a password).
    account_key: String,
    address_key: String,
    _queued: tokio::sync::OwnedMutexGuard<()>,
}

impl PasswordAttempt {
    /// Claims an attempt for the id `user` typed: 429 while the id or the
    /// address is locked.
    pub(super) async fn claim(
        state: &AppState,
        peer: SocketAddr,
        headers: &HeaderMap,
        user: &str,
    ) -> Result<Self, ApiError> {
        let now = state.config.clock.now();
        let address = client_address(state, peer, headers);
        let account_key = format!("account:{}", session::hash(user));
        let address_key = format!("address:{address}");
        let _queued = state.login_locks.lock(&account_key).await;
        let claimed = claim_login_attempt(state, &account_key, &address_key, millis(now)).await?;
        if let Err(until) = claimed {
            tracing::info!(%address, "login throttled");
            return Err(ApiError::Throttled {
                retry_after_seconds: seconds_until(time_of(until), now),
            });
        }
        Ok(Self {
            now,
            address,
            account_key,
            address_key,
            _queued,
        })
    }

    /// A refused attempt (unknown id, wrong password or ticket, deactivated
    /// user): counted and audited alike; the answer to give.
    pub(super) async fn refuse(&self, state: &AppState, stored: Option<&StoredUser>) -> ApiError {
        let keys = [self.account_key.as_str(), self.address_key.as_str()];
        match refuse_login(state, stored, &keys, self.now, self.address).await {
            Ok(()) => ApiError::InvalidCredentials,
            Err(e) => e,
        }
    }

    /// A right password: the id's failures are forgotten.
    pub(super) async fn release(&self, state: &AppState) -> Result<(), ApiError> {
        let throttle = state.config.login_throttle;
        state
            .store
            .release_login_attempt(
                &self.account_key,
                &self.address_key,
                millis(self.now),
                |failures| login_lock(&throttle, throttle.free_address_failures, failures),
            )
            .await?;
        Ok(())
    }
}

/// Counts this attempt against the account id and the client address
/// before any password is checked; `Err(until)` while either is locked.
async fn claim_login_attempt(
    state: &AppState,
    account_key: &str,
    address_key: &str,
    now_ms: i64,
) -> Result<Result<(), i64>, ApiError> {
    let throttle = state.config.login_throttle;
    let forget_before = now_ms - i64::from(throttle.address_forget_seconds) * 1000;
    let claimed = state
        .store
        .claim_login_attempt(
            // An account's failures count until a right password.
            &[(account_key, i64::MIN), (address_key, forget_before)],
            now_ms,
            |subject, failures| {
                let free = if subject.starts_with("account:") {
                    throttle.free_account_failures
                } else {
                    throttle.free_address_failures
                };
                login_lock(&throttle, free, failures).map(|ms| now_ms + ms)
            },
        )
        .await?;
    Ok(claimed)
}

/// Whether `password` is the user's; an unknown id, and a user who has
/// not used an invitation yet (no password), are checked against a decoy
/// hash, so that they take as long as a wrong password, and never match.
pub(super) async fn check_password(
    state: &AppState,
    stored: Option<&StoredUser>,
    password: String,
) -> Result<bool, ApiError> {
    let (hash, can_match) = match stored {
        Some(u) if !u.password_hash.is_empty() => (u.password_hash.clone(), true),
        _ => (passwords::decoy().to_string(), false),
    };
    // Each check holds ~19 MiB: bound how many run at once.
    let _slot = state
        .password_checks
        .acquire()
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let matches = tokio::task::spawn_blocking(move || passwords::verify(&password, &hash))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(matches && can_match)
}

/// A refused password: the same writes whether the user exists or not (an
/// id that matches no user is recorded as unknown, never as typed).
async fn refuse_login(
    state: &AppState,
    stored: Option<&StoredUser>,
    throttle_keys: &[&str],
    now: time::OffsetDateTime,
    address: IpAddr,
) -> Result<(), ApiError> {
    let (who, organization) = match stored {
        Some(u) => (u.user.id.clone(), u.user.organization.id.clone()),
        None => ("(unknown)".to_string(), String::new()),
    };
    let record = AuditRecord {
        at: now,
        actor: who.clone(),
        organization,
        action: "login".into(),
        target: who.clone(),
        allowed: false,
        policy_ids: Vec::new(),
        denial_code: Some("invalid-credentials".into()),
    };
    // The quiet period after which the counts are forgotten starts now
    // (first: a failed audit write must not leave it unrestarted).
    state.store.login_failed(throttle_keys, millis(now)).await?;
    let entry = AuditEntry::new(record, uuid::Uuid::new_v4().to_string());
    state.store.audit_only(&[entry]).await?;
    tracing::info!(user = %Shown(&who), %address, "login refused");
    Ok(())
}

/// How long (ms) a login throttle subject waits after its `failures`-th
/// failure in a row: nothing for the first `free`, then the base delay
/// doubling to the maximum; from the hard limit on, the hard lock.
fn login_lock(throttle: &LoginThrottle, free: u32, failures: i64) -> Option<i64> {
    let failures = u32::try_from(failures).unwrap_or(u32::MAX);
    if failures >= throttle.hard_limit {
        return Some(i64::from(throttle.hard_lock_seconds) * 1000);
    }
    if failures < free {
        return None;
    }
    let doublings = (failures - free).min(30);
    let seconds = (u64::from(throttle.base_delay_seconds) << doublings)
        .min(u64::from(throttle.max_delay_seconds));
    Some(i64::try_from(seconds * 1000).unwrap_or(i64::MAX))
}

/// The client's address: the peer's, or the last `X-Forwarded-For` entry a
/// trusted proxy added (the address that proxy saw).
fn client_address(state: &AppState, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
    if !state.config.trusted_proxies.contains(&peer.ip()) {
        return peer.ip();
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .next_back()
        .and_then(|a| a.trim().parse().ok())
        .unwrap_or(peer.ip())
}
