//! R15: a recovery code or a regeneration changes the recovery codes and
//! nothing else of the authenticator — an accepted code removes exactly
//! one unused hash, a regeneration replaces the set with as many hashes as
//! codes shown, and neither touches a key or the user.

use super::Fault;
use crate::api::{self, Authenticator};
use crate::bindings::types::{
    CodeRequest, CodeResult, NewRecoveryCodes, RecoveryCodesRequest, Verification,
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
        if before != after || !answer.codes.is_empty() {
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
    let new_set = after.recovery_codes.as_ref().is_some_and(|new| {
        new.hashes.len() == answer.codes.len()
            && !answer.codes.is_empty()
            && before.recovery_codes.as_ref().is_none_or(|old| {
                old.key != new.key && new.hashes.iter().all(|h| !old.hashes.contains(h))
            })
    });
    if !new_set {
        return Err(fault(ACTION, "does not replace the set with the codes shown"));
    }
    Ok(())
}
