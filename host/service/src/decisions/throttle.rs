//! The denial throttle: refused state changes and login steps are limited
//! per session and per user, so that nobody can bury an organization's
//! audit trail under refused attempts (each one is audited).
//!
//! A request takes a slot before it is decided (requests sent at once
//! cannot all pass a check made before any was counted) and its refusal,
//! if it is refused, is counted against:
//! - its session, always;
//! - `pending:<user>` when the session has not finished MFA: someone
//!   holding only a password cannot loop logins and wrong codes, each new
//!   session with fresh slots;
//! - `actor:<user>` when a finished session acts on others (a user's
//!   resets, enforcement), unless the policies refused the session itself
//!   (expired, unfinished, stale): a stolen or old token cannot use up its
//!   user's slots, and a user's actions on their own account never wait
//!   for another session's refusals.

use crate::app::AppState;
use crate::decisions::caller::Caller;
use crate::error::ApiError;
use crate::store::{AuditEntry, DenialRefusal, DenialWindow, Store, time_of};
use mfa_reset::api::AuditRecord;
use mfa_reset::log_text::Shown;
use mfa_reset::timestamp::to_millis as millis;

/// What a request is, for the throttle and for the record of its refusal.
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'a> {
    /// The audit action.
    pub action: &'static str,
    /// The target as the caller's organization may read it.
    pub target: &'a str,
    /// It acts on others (users of the organization, enforcement), so a
    /// refusal from a finished session counts against its user too.
    pub on_others: bool,
}

/// Denial codes by which the policies refuse the session itself, not what
/// it asked for.
const SESSION_REFUSALS: [&str; 3] = [
    "session-expired",
    "mfa-required",
    "reauthentication-required",
];

/// Whether a refusal with `denial_code` counts against the user's
/// `actor:` slots (see the module's documentation).
pub fn refusal_counts_for_user(denial_code: Option<&str>) -> bool {
    !denial_code.is_some_and(|code| SESSION_REFUSALS.contains(&code))
}

/// Slots taken for one request; [`Claim::settle`] ends them. A claim
/// dropped unsettled (the client went away mid-request) ends them as not
/// refused, in the background.
#[must_use = "a claim is settled once the request is decided"]
pub struct Claim {
    store: Store,
    /// `(subject, window start, counts a refusal)`.
    slots: Vec<(String, i64, bool)>,
}

/// How a claimed request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// Refused and audited; `for_user`: counts against `actor:` too.
    Refused { for_user: bool },
    /// Allowed, or not decided at all (bad input, a conflict, an outage).
    NotRefused,
}

/// Takes a slot for `attempt` by `caller`, or refuses it with 429 when a
/// subject has none left (the window's first refusal is audited, each is
/// counted in the metrics) or would reach the limit with the requests
/// being decided (a second's wait, not audited).
pub async fn claim(
    state: &AppState,
    caller: &Caller,
    attempt: Attempt<'_>,
) -> Result<Claim, ApiError> {
    let user = &caller.user.user.id;
    let mut subjects = vec![format!("session:{}", caller.session.token_hash)];
    if !caller.session.mfa_satisfied {
        subjects.push(format!("pending:{user}"));
    } else if attempt.on_others {
        subjects.push(format!("actor:{user}"));
    }
    let now = caller.now(&state.config.clock);
    let refusal = take(state, &subjects, millis(now)).await?;
    match refusal {
        Ok(slots) => Ok(slots),
        Err(refusal) => Err(refuse(state, caller, attempt, refusal, now).await),
    }
}

/// A login whose password was right but whose MFA is not finished counts as
/// one refusal of the user's `pending:` slots: logging in again and again
/// opens no new slots for wrong codes. 429 when they are used up.
pub async fn count_unfinished_login(
    state: &AppState,
    user: &mfa_reset::api::User,
    now: time::OffsetDateTime,
) -> Result<(), ApiError> {
    let subjects = [format!("pending:{}", user.id)];
    match take(state, &subjects, millis(now)).await? {
        Ok(claim) => {
            claim.settle(Settled::Refused { for_user: true }).await;
            Ok(())
        }
        Err(DenialRefusal::Busy) => Err(ApiError::TooManyDenials {
            retry_after_seconds: 1,
        }),
        Err(DenialRefusal::UsedUp(window)) => {
            state.metrics.denials_throttled("login");
            if window.first_refusal {
                let record = AuditRecord {
                    at: now,
                    actor: user.id.clone(),
                    organization: user.organization.id.clone(),
                    action: "login".into(),
                    target: user.id.clone(),
                    allowed: false,
                    policy_ids: Vec::new(),
                    denial_code: Some("too-many-denials".into()),
                };
                let entry = AuditEntry::new(record, uuid::Uuid::new_v4().to_string());
                state.store.audit_only(&[entry]).await?;
            }
            Err(ApiError::TooManyDenials {
                retry_after_seconds: crate::decisions::seconds_until(time_of(window.until), now),
            })
        }
    }
}

async fn take(
    state: &AppState,
    subjects: &[String],
    now: i64,
) -> Result<Result<Claim, DenialRefusal>, ApiError> {
    let limits = state.config.denial_throttle;
    let names: Vec<&str> = subjects.iter().map(String::as_str).collect();
    let claimed = state
        .store
        .claim_denials(
            &names,
            now,
            i64::from(limits.max_denials),
            limits.window_millis(),
        )
        .await?;
    Ok(claimed.map(|starts| Claim {
        store: state.store.clone(),
        slots: subjects
            .iter()
            .zip(starts)
            .map(|(subject, start)| (subject.clone(), start, false))
            .collect(),
    }))
}

async fn refuse(
    state: &AppState,
    caller: &Caller,
    attempt: Attempt<'_>,
    refusal: DenialRefusal,
    now: time::OffsetDateTime,
) -> ApiError {
    let DenialRefusal::UsedUp(DenialWindow {
        until,
        first_refusal,
    }) = refusal
    else {
        // Others of its requests are being decided: a moment, not a window.
        return ApiError::TooManyDenials {
            retry_after_seconds: 1,
        };
    };
    state.metrics.denials_throttled(attempt.action);
    let actor = &caller.user.user;
    tracing::info!(actor = %Shown(&actor.id), action = attempt.action, "throttled after repeated refusals");
    if first_refusal {
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
        retry_after_seconds: crate::decisions::seconds_until(time_of(until), now),
    }
}

impl Claim {
    /// Ends the request's slots: a refusal counts against the session and
    /// `pending:` always, against `actor:` when `for_user`. A failure to
    /// write it is logged, not answered (the request was decided).
    pub async fn settle(mut self, settled: Settled) {
        for (subject, _, refused) in &mut self.slots {
            *refused = match settled {
                Settled::NotRefused => false,
                Settled::Refused { for_user } => for_user || !subject.starts_with("actor:"),
            };
        }
        let slots = std::mem::take(&mut self.slots);
        end(&self.store, &slots).await;
    }
}

async fn end(store: &Store, slots: &[(String, i64, bool)]) {
    let slots: Vec<(&str, i64, bool)> = slots
        .iter()
        .map(|(subject, start, refused)| (subject.as_str(), *start, *refused))
        .collect();
    if let Err(e) = store.settle_denials(&slots).await {
        tracing::warn!(error = %e, "denial throttle: slots not ended");
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        if self.slots.is_empty() {
            return;
        }
        let (store, slots) = (self.store.clone(), std::mem::take(&mut self.slots));
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move { end(&store, &slots).await });
        }
    }
}
