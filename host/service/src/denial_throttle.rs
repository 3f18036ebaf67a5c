//! The denial throttle: refused state changes and login steps are limited
//! per session and per user, so that nobody can bury an organization's
//! audit trail under refused attempts (each one is audited).
//!
//! A request takes a slot before it is decided (requests sent at once
//! cannot all pass a check made before any was counted) and gives it back
//! unless it was denied. Only a session that finished MFA counts against
//! its user: someone holding just a password, or an old session token,
//! can use up that session's slots, never the user's.

use super::AppState;
use super::error::ApiError;
use super::session::Caller;
use super::store::{AuditEntry, DenialWindow, time_of};
use mfa_reset::api::AuditRecord;
use mfa_reset::log_text::Shown;
use mfa_reset::timestamp::to_millis as millis;

/// What a refused request is recorded as: the audit action, and the target
/// as the caller's organization may read it.
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'a> {
    pub action: &'static str,
    pub target: &'a str,
}

/// Slots taken for one request; [`Claim::settle`] keeps or gives them back.
#[must_use = "a claim is settled once the request is decided"]
pub struct Claim {
    session: (String, i64),
    user: Option<(String, i64)>,
}

/// How a claimed request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// Refused, and audited as such: counts against the session, and
    /// against the user when `by_user` (not when it was refused because the
    /// session itself is expired or unfinished).
    Denied { by_user: bool },
    /// Allowed, or not decided at all (bad input, a conflict, an outage).
    NotDenied,
}

/// Takes a slot for `attempt` by `caller`, or refuses it with 429 when its
/// session or user has none left (the window's first refusal is audited,
/// each is counted in the metrics).
pub async fn claim(
    state: &AppState,
    caller: &Caller,
    attempt: Attempt<'_>,
) -> Result<Claim, ApiError> {
    let limits = state.config.denial_throttle;
    let now = caller.now(&state.config.clock);
    let session = format!("session:{}", caller.session.token_hash);
    let user = caller
        .session
        .mfa_satisfied
        .then(|| format!("actor:{}", caller.user.user.id));
    let subjects: Vec<&str> = std::iter::once(session.as_str())
        .chain(user.as_deref())
        .collect();
    let claimed = state
        .store
        .claim_denials(
            &subjects,
            millis(now),
            i64::from(limits.max_denials),
            limits.window_millis(),
        )
        .await?;
    match claimed {
        Ok(starts) => Ok(Claim {
            session: (session, starts[0]),
            user: user.zip(starts.get(1).copied()),
        }),
        Err(window) => Err(refuse(state, caller, attempt, window, now).await),
    }
}

async fn refuse(
    state: &AppState,
    caller: &Caller,
    attempt: Attempt<'_>,
    window: DenialWindow,
    now: time::OffsetDateTime,
) -> ApiError {
    state.metrics.denials_throttled(attempt.action);
    let actor = &caller.user.user;
    tracing::info!(actor = %Shown(&actor.id), action = attempt.action, "throttled after repeated denials");
    if window.first_refusal {
        let record = AuditRecord {
            at: now,
            actor: actor.id.clone(),
            organization: actor.organization.id.clone(),
            action: attempt.action.into(),
            target: attempt.target.into(),
            allowed: false,
            policy_ids: Vec::new(),
            denial_code: Some("too-many-denials".into()),
        };
        let entry = AuditEntry::new(record, uuid::Uuid::new_v4().to_string());
        if let Err(e) = state.store.audit_only(&[entry]).await {
            return e.into();
        }
    }
    ApiError::TooManyDenials {
        retry_after_seconds: super::decisions::seconds_until(time_of(window.until), now),
    }
}

impl Claim {
    /// Keeps the slots a denial counts against; gives back the others. A
    /// failure to give one back leaves the throttle stricter, never looser:
    /// it is logged, not answered.
    pub async fn settle(self, state: &AppState, settled: Settled) {
        let mut release: Vec<(&str, i64)> = Vec::with_capacity(2);
        let (keep_session, keep_user) = match settled {
            Settled::Denied { by_user } => (true, by_user),
            Settled::NotDenied => (false, false),
        };
        if !keep_session {
            release.push((&self.session.0, self.session.1));
        }
        if let Some((user, start)) = &self.user
            && !keep_user
        {
            release.push((user, *start));
        }
        if release.is_empty() {
            return;
        }
        if let Err(e) = state.store.release_denials(&release).await {
            tracing::warn!(error = %e, "denial throttle: slots not given back");
        }
    }
}
