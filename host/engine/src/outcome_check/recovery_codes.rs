//! R15: a recovery code or a regeneration changes the recovery codes and
//! nothing else of the authenticator — an accepted code removes exactly
//! one unused hash, a regeneration replaces the set with as many hashes as
//! codes shown, and neither touches a key or the user.

use super::Fault;
use crate::api::{self, Authenticator};
use crate::bindings::types::{
    CodeRequest, CodeResult, NewRecoveryCodes, RecoveryCodesRequest, SessionEffect, Verification,
};

fn fault(action: &str, why: &'static str) -> Fault {
    Fault::WrongRecoveryCodes {
        action: action.into(),
        why,
    }
}

/// The keys and replay state, which no recovery-code step may change.
fn same_keys(a: &Authenticator, b: &Authenticator) -> bool {
    a.pending == b.pending && a.active == b.active && a.last_accepted_step == b.last_accepted_step
}

/// An answer to `use_recovery_code`.
pub fn check_recovery_code(request: &CodeRequest, answer: &Verification) -> Result<(), Fault> {
    const ACTION: &str = "use_recovery_code";
    // Compared as the public types, which have equality.
    let before = Authenticator::from(request.authenticator.clone());
    let after = Authenticator::from(answer.authenticator.clone());
    let (before, after) = (&before, &after);
    let same_user = api::User::from(answer.user.clone()) == api::User::from(request.user.clone());
    if !same_user || !same_keys(before, after) {
        return Err(fault(ACTION, "changes the user or an authenticator key"));
    }
    if !answer.recovery_codes.is_empty() {
        return Err(fault(ACTION, "shows recovery codes"));
    }
    match answer.result {
        CodeResult::Accepted => {
            if !answer.decision.allowed {
                return Err(Fault::AllowWithoutPolicy);
            }
            let (Some(old), Some(new)) = (&before.recovery_codes, &after.recovery_codes) else {
                return Err(fault(ACTION, "accepts a code of no stored set"));
            };
            let one_removed = new.key == old.key
                && new.hashes.len() + 1 == old.hashes.len()
                && new.hashes.iter().all(|h| old.hashes.contains(h));
            if !one_removed {
                return Err(fault(ACTION, "does not use up exactly one stored code"));
            }
        }
        CodeResult::Denied if before != after => {
            return Err(fault(ACTION, "changes state on a denial"));
        }
        _ if before.recovery_codes != after.recovery_codes => {
            return Err(fault(ACTION, "changes the codes on a refusal"));
        }
        _ => {}
    }
    if usize::try_from(answer.recovery_codes_left) != Ok(after.recovery_codes_left()) {
        return Err(fault(ACTION, "miscounts the codes left"));
    }
    Ok(())
}

/// An answer to `regenerate_recovery_codes`.
pub fn check_regeneration(
    request: &RecoveryCodesRequest,
    answer: &NewRecoveryCodes,
) -> Result<(), Fault> {
    const ACTION: &str = "regenerate_recovery_codes";
    let before = Authenticator::from(request.authenticator.clone());
    let after = Authenticator::from(answer.authenticator.clone());
    let (before, after) = (&before, &after);
    if !answer.decision.allowed {
        let no_effect = matches!(answer.sessions, SessionEffect::None);
        if before != after || !answer.codes.is_empty() || !no_effect {
            return Err(fault(ACTION, "changes state on a denial"));
        }
        return Ok(());
    }
    if answer.decision.policy_ids.is_empty() {
        return Err(Fault::AllowWithoutPolicy);
    }
    let unchanged = same_keys(before, after)
        && before.failures == after.failures
        && before.locked_until == after.locked_until;
    if !unchanged {
        return Err(fault(ACTION, "changes more than the recovery codes"));
    }
    if !matches!(answer.sessions, SessionEffect::EndOtherSessionsOfUser) {
        return Err(fault(
            ACTION,
            "leaves the user's other sessions (a stolen code's) alive",
        ));
    }
    let new_set = after.recovery_codes.as_ref().is_some_and(|new| {
        new.hashes.len() == answer.codes.len()
            && !answer.codes.is_empty()
            && before.recovery_codes.as_ref().is_none_or(|old| {
                old.key != new.key && new.hashes.iter().all(|h| !old.hashes.contains(h))
            })
    });
    if !new_set {
        return Err(fault(
            ACTION,
            "does not replace the set with the codes shown",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::types::{
        AuditRecord, Decision, LockoutPolicy, MfaStatus, Organization, RecoveryCodeHashes, Role,
        Session, TotpKey, User,
    };

    fn codes(hashes: &[u8]) -> Option<RecoveryCodeHashes> {
        Some(RecoveryCodeHashes {
            key: vec![9; 32],
            hashes: hashes.iter().map(|&h| vec![h; 32]).collect(),
        })
    }

    fn authenticator(hashes: &[u8]) -> crate::bindings::types::Authenticator {
        crate::bindings::types::Authenticator {
            pending: None,
            active: Some(TotpKey {
                secret: vec![7; 20],
                digits: 6,
                period: 30,
            }),
            last_accepted_step: Some(5),
            failures: 2,
            locked_until: None,
            recovery_codes: codes(hashes),
        }
    }

    fn gina() -> User {
        User {
            id: "gina".into(),
            role: Role::SubUser,
            organization: Organization {
                id: "globex".into(),
                enforce_mfa: false,
            },
            mfa: MfaStatus::Active,
            active: true,
        }
    }

    fn decision(allowed: bool) -> Decision {
        Decision {
            allowed,
            policy_ids: vec!["login-steps-of-own-account".into()],
            denial_code: None,
            message: String::new(),
            errors: Vec::new(),
        }
    }

    fn audit() -> AuditRecord {
        AuditRecord {
            at: 0,
            actor: "gina".into(),
            organization: "globex".into(),
            action: "use_recovery_code".into(),
            target: "gina".into(),
            allowed: true,
            policy_ids: Vec::new(),
            denial_code: None,
        }
    }

    fn used(hashes_after: &[u8]) -> (CodeRequest, Verification) {
        let request = CodeRequest {
            user: gina(),
            session: Session {
                login_at: 0,
                last_activity_at: 0,
                mfa_satisfied: false,
                recovery_code_login: false,
            },
            authenticator: authenticator(&[1, 2, 3]),
            code: "X".into(),
            now: 0,
            lockout: LockoutPolicy {
                max_failures: 5,
                base_delay_seconds: 30,
                max_delay_seconds: 60,
            },
        };
        let mut after = authenticator(hashes_after);
        after.failures = 0;
        let answer = Verification {
            decision: decision(true),
            result: CodeResult::Accepted,
            message: String::new(),
            user: gina(),
            authenticator: after,
            audit: audit(),
            recovery_codes: Vec::new(),
            recovery_codes_left: hashes_after.len() as u32,
        };
        (request, answer)
    }

    #[test]
    fn r15_an_accepted_recovery_code_uses_up_exactly_one_stored_code() {
        let (request, answer) = used(&[1, 3]);
        check_recovery_code(&request, &answer).unwrap();
        for wrong in [&[1, 2, 3][..], &[1][..], &[1, 4][..]] {
            let (request, answer) = used(wrong);
            let err = check_recovery_code(&request, &answer).unwrap_err();
            assert!(err.to_string().contains("exactly one"), "{wrong:?}: {err}");
        }
    }

    #[test]
    fn r15_a_recovery_code_step_never_touches_keys_or_shows_codes() {
        let (request, mut answer) = used(&[1, 3]);
        answer.authenticator.active = None;
        assert!(check_recovery_code(&request, &answer).is_err());
        let (request, mut answer) = used(&[1, 3]);
        answer.recovery_codes = vec!["AAAA-AAAA-AAAA-AAAA".into()];
        assert!(check_recovery_code(&request, &answer).is_err());
        let (request, mut answer) = used(&[1, 3]);
        answer.recovery_codes_left = 10;
        assert!(check_recovery_code(&request, &answer).is_err());
        // A refusal keeps every code.
        let (request, mut answer) = used(&[1, 3]);
        answer.result = CodeResult::InvalidCode;
        let err = check_recovery_code(&request, &answer).unwrap_err();
        assert!(err.to_string().contains("on a refusal"), "{err}");
    }

    #[test]
    fn r15_a_regeneration_replaces_the_set_with_the_codes_shown_and_nothing_else() {
        let request = RecoveryCodesRequest {
            user: gina(),
            session: Session {
                login_at: 0,
                last_activity_at: 0,
                mfa_satisfied: true,
                recovery_code_login: false,
            },
            authenticator: authenticator(&[1, 2]),
            now: 0,
        };
        let mut after = authenticator(&[5, 6, 7]);
        after.recovery_codes.as_mut().unwrap().key = vec![8; 32];
        let good = NewRecoveryCodes {
            decision: decision(true),
            codes: vec!["A".into(), "B".into(), "C".into()],
            authenticator: after,
            sessions: SessionEffect::EndOtherSessionsOfUser,
            audit: audit(),
        };
        check_regeneration(&request, &good).unwrap();
        let mut sessions_kept = good.clone();
        sessions_kept.sessions = SessionEffect::None;
        assert!(check_regeneration(&request, &sessions_kept).is_err());
        let mut same_key = good.clone();
        same_key.authenticator.recovery_codes.as_mut().unwrap().key = vec![9; 32];
        assert!(check_regeneration(&request, &same_key).is_err());
        let mut fewer_shown = good.clone();
        fewer_shown.codes.pop();
        assert!(check_regeneration(&request, &fewer_shown).is_err());
        let mut unlocked = good.clone();
        unlocked.authenticator.failures = 0;
        assert!(check_regeneration(&request, &unlocked).is_err());
        let mut denied = good;
        denied.decision = decision(false);
        assert!(check_regeneration(&request, &denied).is_err());
    }
}
