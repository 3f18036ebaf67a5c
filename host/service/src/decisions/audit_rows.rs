//! Where a decision's audit record goes (R12), and what each organization's
//! copy may say.

use crate::store::AuditEntry;
use mfa_reset::api::AuditRecord;

/// The audit rows of one decision (R12). An attempt on a user outside the
/// caller's organization (another organization's, or an id that names no
/// one) goes in full to the target's organization; the caller's
/// organization keeps only what its caller was answered: a fixed
/// placeholder for the target and the deciding policy, alike for every
/// such id, so that its trail reveals neither who exists elsewhere nor
/// their MFA state. Within the organization, the record is kept whole.
pub(super) fn audit_rows(
    audit: AuditRecord,
    decision_id: &str,
    actor_organization: &str,
    target_organization: Option<&str>,
    unknown_target: bool,
) -> Vec<AuditEntry> {
    let elsewhere = target_organization.filter(|org| *org != actor_organization);
    if !unknown_target && elsewhere.is_none() {
        return vec![AuditEntry::new(audit, decision_id.to_string())];
    }
    let mut rows = Vec::with_capacity(2);
    let callers_copy = if audit.allowed && !unknown_target {
        // Allowed (a policy author may let roots act across organizations):
        // the caller was answered with the user, so may read it here too.
        audit.clone()
    } else {
        let mut policy_ids = audit.policy_ids.clone();
        policy_ids.truncate(1);
        AuditRecord {
            target: OUTSIDE_TARGET.into(),
            policy_ids,
            ..audit.clone()
        }
    };
    rows.push(AuditEntry::new(callers_copy, decision_id.to_string()));
    if let Some(org) = elsewhere {
        let full = AuditRecord {
            organization: org.to_string(),
            ..audit
        };
        rows.push(AuditEntry::unseen(full, decision_id.to_string()));
    }
    rows
}

/// The target of a denied attempt outside the caller's organization, as its
/// organization's audit trail shows it.
pub const OUTSIDE_TARGET: &str = "(outside the organization)";
