//! The authenticator state machine: what a login needs, enrolment
//! confirmation, login codes and recovery codes (R15), with replay
//! protection and one lockout for both kinds of code.

use totp_rs::{Algorithm, Totp};

use crate::cedar_request::Query;
use crate::decide::evaluate;
use crate::mfa_reset::engine::types::{
    AuditRecord, Authenticator, CodeRequest, CodeResult, Decision, LockoutPolicy, LoginStep,
    MfaStatus, NewRecoveryCodes, RecoveryCodesRequest, RequestError, Role, Session, SessionEffect,
    TotpKey, User, Verification,
};
use crate::policy_store::PolicyStore;
use crate::recovery_codes;
use crate::request_check::{check_session, check_user};
use crate::transition::effective_mfa;

/// Skew tolerated: one time step either side (RFC 6238 section 5.2).
const SKEW: u16 = 1;

fn error(field: &str, message: impl Into<String>) -> RequestError {
    RequestError {
        field: field.into(),
        message: message.into(),
    }
}

/// R3, R5: enforcement makes MFA mandatory for everybody, the root included.
pub fn login_step(user: &User) -> LoginStep {
    match effective_mfa(user) {
        MfaStatus::Off => LoginStep::None,
        MfaStatus::EnrolmentDue => LoginStep::Enrol,
        MfaStatus::Active => LoginStep::Code,
    }
}

/// A `Totp` for checking codes of `key` (no label needed).
pub fn key_totp(key: &TotpKey) -> Result<Totp, String> {
    totp_rs::Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(key.digits)
        .with_skew(SKEW)
        .with_step_duration(u64::from(key.period))
        .with_secret(key.secret.clone())
        .build()
        .map_err(|e| e.to_string())
}

/// Asks the policies whether `session` may take the login step `action`
/// on `user`'s own account (an expired session may not, R7).
pub fn decide_step(
    store: &PolicyStore,
    user: &User,
    session: &Session,
    now: i64,
    action: &str,
) -> Result<Decision, RequestError> {
    check_user("user", user)?;
    check_session(session, now)?;
    let query = Query {
        actor: user,
        action,
        target: Some(user),
        session,
        now,
    };
    evaluate(store, &query, None)
}

/// An audit record of a login step, on the user's own account. It never
/// holds the code or the secret. `denial` overrides the decision's code
/// when the policies allowed the step but the code failed.
pub fn audit(
    user: &User,
    now: i64,
    action: &str,
    decision: &Decision,
    denial: Option<&str>,
) -> AuditRecord {
    AuditRecord {
        at: now,
        actor: user.id.clone(),
        organization: user.organization.id.clone(),
        action: action.into(),
        target: user.id.clone(),
        allowed: decision.allowed && denial.is_none(),
        policy_ids: decision.policy_ids.clone(),
        denial_code: denial
            .map(str::to_string)
            .or_else(|| decision.denial_code.clone()),
    }
}

/// Confirms a pending enrolment with its first code.
pub fn confirm(store: &PolicyStore, request: &CodeRequest) -> Result<Verification, RequestError> {
    const ACTION: &str = "confirm_enrolment";
    let decision = check(store, request, ACTION)?;
    if !decision.allowed {
        return Ok(denied(request, ACTION, decision));
    }
    check_step(request, LoginStep::Enrol)?;
    let key = request
        .authenticator
        .pending
        .as_ref()
        .ok_or_else(|| error("authenticator.pending", "no enrolment was started"))?;
    let mut v = check_code(request, key, ACTION, decision)?;
    if v.result == CodeResult::Accepted {
        v.authenticator.active = v.authenticator.pending.take();
        v.user.mfa = MfaStatus::Active;
        v.message = "Your authenticator app is set up: every login now asks for its code.".into();
        // R15: a new authenticator comes with new recovery codes (support
        // agents get none: the support desk recovers them, two agents deciding).
        v.authenticator.recovery_codes = None;
        if request.user.role != Role::SupportAgent {
            let (codes, hashes) = recovery_codes::new_set().map_err(|e| error("now", e))?;
            v.authenticator.recovery_codes = Some(hashes);
            v.recovery_codes = codes;
            v.message.push_str(
                " Save your recovery codes now: each logs you in once if you lose the app, and they are not shown again.",
            );
        }
        v.recovery_codes_left = recovery_codes::left(v.authenticator.recovery_codes.as_ref());
    }
    Ok(v)
}

/// Checks a login code against the active key.
pub fn verify(store: &PolicyStore, request: &CodeRequest) -> Result<Verification, RequestError> {
    const ACTION: &str = "verify_code";
    let decision = check(store, request, ACTION)?;
    if !decision.allowed {
        return Ok(denied(request, ACTION, decision));
    }
    check_step(request, LoginStep::Code)?;
    let key = request.authenticator.active.as_ref().ok_or_else(|| {
        error(
            "authenticator.active",
            "MFA is active but no authenticator is stored",
        )
    })?;
    check_code(request, key, ACTION, decision)
}

/// R15: a recovery code instead of a login code. Each is accepted once; a
/// wrong one is a failed code like any other (one counter, one lockout).
pub fn use_recovery_code(
    store: &PolicyStore,
    request: &CodeRequest,
) -> Result<Verification, RequestError> {
    const ACTION: &str = "use_recovery_code";
    let decision = check(store, request, ACTION)?;
    if !decision.allowed {
        return Ok(denied(request, ACTION, decision));
    }
    check_step(request, LoginStep::Code)?;
    if let Some(locked) = locked(request, ACTION, &decision) {
        return Ok(locked);
    }
    let mut authenticator = request.authenticator.clone();
    let taken = authenticator
        .recovery_codes
        .as_mut()
        .is_some_and(|set| recovery_codes::take(set, &request.code));
    let left = recovery_codes::left(authenticator.recovery_codes.as_ref());
    let (result, message, denial) = if taken {
        authenticator.failures = 0;
        authenticator.locked_until = None;
        let message = match left {
            0 => "Recovery code accepted. It was your last one: make new codes once your authenticator app is set up again.".to_string(),
            n if n < recovery_codes::FEW_LEFT => format!("Recovery code accepted. Only {n} left: make new ones soon."),
            n => format!("Recovery code accepted ({n} left)."),
        };
        (CodeResult::Accepted, message, None)
    } else {
        register_failure(&mut authenticator, request.now, &request.lockout);
        let message = "Wrong or used recovery code.".to_string();
        (CodeResult::InvalidCode, message, Some("invalid-code"))
    };
    Ok(Verification {
        result,
        message,
        audit: audit(&request.user, request.now, ACTION, &decision, denial),
        decision,
        user: request.user.clone(),
        authenticator,
        recovery_codes: Vec::new(),
        recovery_codes_left: left,
    })
}

/// R15: a new set of recovery codes; the old set is void.
pub fn regenerate(
    store: &PolicyStore,
    request: &RecoveryCodesRequest,
) -> Result<NewRecoveryCodes, RequestError> {
    const ACTION: &str = "regenerate_recovery_codes";
    if request.now < 0 {
        return Err(error("now", "must not be before 1970"));
    }
    let decision = decide_step(store, &request.user, &request.session, request.now, ACTION)?;
    let mut authenticator = request.authenticator.clone();
    let mut codes = Vec::new();
    let mut sessions = SessionEffect::None;
    if decision.allowed {
        if request.user.mfa != MfaStatus::Active || authenticator.active.is_none() {
            return Err(error(
                "user.mfa",
                "recovery codes come with an enrolled authenticator, and there is none",
            ));
        }
        let (new_codes, hashes) = recovery_codes::new_set().map_err(|e| error("now", e))?;
        authenticator.recovery_codes = Some(hashes);
        codes = new_codes;
        // Whoever logged in with a code of the old set is logged out.
        sessions = SessionEffect::EndOtherSessionsOfUser;
    }
    Ok(NewRecoveryCodes {
        audit: audit(&request.user, request.now, ACTION, &decision, None),
        decision,
        codes,
        authenticator,
        sessions,
    })
}

/// A step the policies denied: no code checked, nothing counted.
fn denied(request: &CodeRequest, action: &str, decision: Decision) -> Verification {
    Verification {
        result: CodeResult::Denied,
        message: decision.message.clone(),
        audit: audit(&request.user, request.now, action, &decision, None),
        decision,
        user: request.user.clone(),
        authenticator: request.authenticator.clone(),
        recovery_codes: Vec::new(),
        recovery_codes_left: recovery_codes::left(request.authenticator.recovery_codes.as_ref()),
    }
}

/// While the authenticator is locked, no code of either kind is checked.
fn locked(request: &CodeRequest, action: &str, decision: &Decision) -> Option<Verification> {
    let now = request.now;
    let until = request
        .authenticator
        .locked_until
        .filter(|&until| now < until)?;
    Some(Verification {
        result: CodeResult::Locked,
        message: format!(
            "Too many wrong codes: try again in {} seconds.",
            (until - now + 999) / 1000
        ),
        audit: audit(&request.user, now, action, decision, Some("locked")),
        decision: decision.clone(),
        user: request.user.clone(),
        authenticator: request.authenticator.clone(),
        recovery_codes: Vec::new(),
        recovery_codes_left: recovery_codes::left(request.authenticator.recovery_codes.as_ref()),
    })
}

/// Shape checks, then the policies' decision on the step.
fn check(
    store: &PolicyStore,
    request: &CodeRequest,
    action: &str,
) -> Result<Decision, RequestError> {
    if request.now < 0 {
        return Err(error("now", "must not be before 1970"));
    }
    let l = &request.lockout;
    if l.max_failures == 0
        || l.base_delay_seconds == 0
        || l.max_delay_seconds < l.base_delay_seconds
    {
        return Err(error(
            "lockout",
            "needs max-failures > 0 and 0 < base-delay-seconds <= max-delay-seconds",
        ));
    }
    decide_step(store, &request.user, &request.session, request.now, action)
}

/// The step asked for must be the one the user's state calls for.
fn check_step(request: &CodeRequest, step: LoginStep) -> Result<(), RequestError> {
    let needed = login_step(&request.user);
    if needed != step {
        let what = match needed {
            LoginStep::None => "this login needs no code: MFA is off",
            LoginStep::Enrol => "this login needs enrolment, not a login code",
            LoginStep::Code => "MFA is already active: confirm nothing, verify the login code",
        };
        return Err(error("user.mfa", what));
    }
    Ok(())
}

fn check_code(
    request: &CodeRequest,
    key: &TotpKey,
    action: &str,
    decision: Decision,
) -> Result<Verification, RequestError> {
    let totp = key_totp(key).map_err(|e| error("authenticator", e))?;
    let now = request.now;
    let mut authenticator = request.authenticator.clone();
    let user = request.user.clone();
    if let Some(locked) = locked(request, action, &decision) {
        return Ok(locked);
    }

    let code: String = request
        .code
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    // TOTP counts whole seconds; `now` is in milliseconds (checked >= 0).
    let matched = totp.check(&code, now.unsigned_abs() / 1000);
    let result = match matched {
        Some(step)
            if authenticator
                .last_accepted_step
                .is_some_and(|last| step <= last) =>
        {
            CodeResult::Replayed
        }
        Some(step) => {
            authenticator.last_accepted_step = Some(step);
            authenticator.failures = 0;
            authenticator.locked_until = None;
            CodeResult::Accepted
        }
        None => CodeResult::InvalidCode,
    };
    let (message, denial) = match result {
        CodeResult::Accepted => ("Code accepted.".to_string(), None),
        // Not a failure: a replay guesses nothing (the code was right
        // once), and counting it would let anyone who saw one used code
        // lock its owner out by sending it again. It is refused and audited.
        CodeResult::Replayed => (
            "This code was already used: wait for the next one.".to_string(),
            Some("replayed"),
        ),
        _ => {
            register_failure(&mut authenticator, now, &request.lockout);
            ("Wrong code.".to_string(), Some("invalid-code"))
        }
    };
    Ok(Verification {
        result,
        message,
        audit: audit(&user, now, action, &decision, denial),
        decision,
        user,
        recovery_codes_left: recovery_codes::left(authenticator.recovery_codes.as_ref()),
        authenticator,
        recovery_codes: Vec::new(),
    })
}

/// Counts a failure; from the limit on, each failure locks for twice as
/// long as the one before, up to the maximum.
fn register_failure(a: &mut Authenticator, now: i64, policy: &LockoutPolicy) {
    a.failures = a.failures.saturating_add(1);
    if a.failures >= policy.max_failures {
        let doublings = (a.failures - policy.max_failures).min(31);
        let delay_seconds = u64::from(policy.base_delay_seconds)
            .saturating_mul(1u64 << doublings)
            .min(u64::from(policy.max_delay_seconds));
        let delay_ms = i64::try_from(delay_seconds.saturating_mul(1000)).unwrap_or(i64::MAX);
        a.locked_until = Some(now.saturating_add(delay_ms));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_lock_from_the_limit_doubling_to_the_maximum() {
        let policy = LockoutPolicy {
            max_failures: 3,
            base_delay_seconds: 30,
            max_delay_seconds: 100,
        };
        let mut a = Authenticator {
            pending: None,
            active: None,
            last_accepted_step: None,
            failures: 0,
            locked_until: None,
            recovery_codes: None,
        };
        let now = 1_000_000;
        let mut locks = Vec::new();
        for _ in 0..5 {
            register_failure(&mut a, now, &policy);
            locks.push(a.locked_until.map(|until| until - now));
        }
        assert_eq!(
            locks,
            [None, None, Some(30_000), Some(60_000), Some(100_000)],
            "milliseconds"
        );
    }
}
