//! The notification of an MFA change, as the outbox stores it: OWASP and
//! NIST SP 800-63B (6.1.2) ask that users learn when their authenticators
//! change. Each allowed change writes its event into the outbox in its own
//! transaction ([`Event::of`]); the webhook worker (`notify/`) delivers it.
//! The event id is the receiver's idempotency key.

use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;

use mfa_reset::api::{AuditRecord, Organization, User};
use mfa_reset::timestamp::to_millis as millis;

/// One notification, as the outbox stores it.
#[derive(Debug, Clone)]
pub struct Event {
    /// `webhook-id`: time-ordered, unique; receivers deduplicate on it.
    pub id: String,
    pub kind: &'static str,
    /// Milliseconds, the change's time.
    pub created_at: i64,
    /// The JSON body sent, fixed when the change commits.
    pub body: String,
    /// The body holds a secret (a link, a ticket): the outbox seals it at
    /// rest and forgets it once delivered.
    pub holds_secret: bool,
}

/// The event type of an audited action that changes MFA; `None` for actions
/// nobody needs to hear of (login steps, reads).
fn kind_of(action: &str) -> Option<&'static str> {
    Some(match action {
        "reset_own_mfa" | "reset_user_mfa" => "mfa.reset",
        "enable_own_mfa" | "enable_user_mfa" => "mfa.enabled",
        "disable_own_mfa" | "disable_user_mfa" => "mfa.disabled",
        "confirm_enrolment" => "mfa.enrolled",
        // R15: the holder hears of every recovery code used (NIST SP
        // 800-63B-4 §4.2.1.1), and of every new set.
        "use_recovery_code" => "mfa.recovery_code_used",
        "regenerate_recovery_codes" => "mfa.recovery_codes_regenerated",
        "set_enforcement" => "organization.mfa_enforcement_changed",
        "change_own_password" => "user.password_changed",
        "deactivate_user" => "user.deactivated",
        "reactivate_user" => "user.reactivated",
        _ => return None,
    })
}

impl Event {
    /// The event of a committed decision: only an allowed change of MFA
    /// makes one. `user` / `organization` are the new state, `version` the
    /// changed row's new version (receivers order events of one user by it);
    /// the fields of the audit row's `detail` are added (how many recovery
    /// codes are left, say). Never a secret: ids, states, counts and times.
    pub fn of(
        audit: &AuditRecord,
        decision_id: &str,
        user: Option<&User>,
        organization: Option<&Organization>,
        version: Option<i64>,
        detail: Option<&Value>,
    ) -> Option<Self> {
        let kind = kind_of(&audit.action)?;
        if !audit.allowed || (user.is_none() && organization.is_none()) {
            return None;
        }
        let id = format!("evt_{}", uuid::Uuid::now_v7().simple());
        let mut data = json!({
            "event_id": id,
            "decision_id": decision_id,
            "action": audit.action,
            "actor": audit.actor,
            "organization": audit.organization,
            "version": version,
        });
        if let Some(user) = user {
            data["user"] = Value::from(user.id.as_str());
            data["mfa"] = serde_json::to_value(user.mfa).ok()?;
        }
        if let Some(organization) = organization {
            data["enforce_mfa"] = Value::from(organization.enforce_mfa);
        }
        for (field, value) in detail.and_then(Value::as_object).into_iter().flatten() {
            data[field] = value.clone();
        }
        let body = json!({
            "type": kind,
            "timestamp": audit.at.format(&Rfc3339).ok()?,
            "data": data,
        });
        Some(Self {
            id,
            kind,
            created_at: millis(audit.at),
            body: body.to_string(),
            holds_secret: false,
        })
    }
}

impl Event {
    /// `user.invited`: a user an identity provider created, with the
    /// invitation link the receiver mails to them (R13). It holds a secret:
    /// the store seals it at rest and forgets it once delivered.
    pub fn invitation(
        audit: &AuditRecord,
        emails: Vec<String>,
        link: &str,
        expires_at: time::OffsetDateTime,
    ) -> Option<Self> {
        let id = format!("evt_{}", uuid::Uuid::now_v7().simple());
        let body = json!({
            "type": "user.invited",
            "timestamp": audit.at.format(&Rfc3339).ok()?,
            "data": {
                "event_id": id,
                "organization": audit.organization,
                "user": audit.target,
                "emails": emails,
                "invited_by": audit.actor,
                "invitation_link": link,
                "expires_at": expires_at.format(&Rfc3339).ok()?,
            },
        });
        Some(Self {
            id,
            kind: "user.invited",
            created_at: millis(audit.at),
            body: body.to_string(),
            holds_secret: true,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mfa_reset::api::{MfaStatus, Role};
    use time::macros::datetime;

    fn audit(action: &str, allowed: bool) -> AuditRecord {
        AuditRecord {
            at: datetime!(2026-11-23 10:00:00.250 UTC),
            actor: "ada".into(),
            organization: "acme".into(),
            action: action.into(),
            target: "bob".into(),
            allowed,
            policy_ids: vec![],
            denial_code: None,
        }
    }

    #[test]
    fn only_allowed_mfa_changes_make_events_and_they_hold_no_secret() {
        let bob = User {
            id: "bob".into(),
            role: Role::SubUser,
            organization: Organization {
                id: "acme".into(),
                enforce_mfa: false,
            },
            mfa: MfaStatus::EnrolmentDue,
            active: true,
        };
        let event = Event::of(
            &audit("reset_user_mfa", true),
            "d1",
            Some(&bob),
            None,
            Some(7),
            None,
        )
        .expect("an allowed reset is notified");
        let body: Value = serde_json::from_str(&event.body).unwrap();
        assert_eq!(body["type"], "mfa.reset");
        assert_eq!(body["timestamp"], "2026-11-23T10:00:00.25Z");
        assert_eq!(body["data"]["event_id"], event.id.as_str());
        assert_eq!(body["data"]["user"], "bob");
        assert_eq!(body["data"]["mfa"], "enrolment_due");
        assert_eq!(body["data"]["version"], 7);
        assert_eq!(body["data"]["decision_id"], "d1");
        // Denied, a login step, or nothing changed: no event.
        assert!(
            Event::of(
                &audit("reset_user_mfa", false),
                "d",
                Some(&bob),
                None,
                None,
                None
            )
            .is_none()
        );
        assert!(
            Event::of(
                &audit("verify_code", true),
                "d",
                Some(&bob),
                None,
                None,
                None
            )
            .is_none()
        );
        assert!(
            Event::of(
                &audit("disable_user_mfa", true),
                "d",
                None,
                None,
                None,
                None
            )
            .is_none()
        );
        let org = bob.organization.clone();
        let e = Event::of(
            &audit("set_enforcement", true),
            "d",
            None,
            Some(&org),
            Some(2),
            None,
        )
        .unwrap();
        assert_eq!(e.kind, "organization.mfa_enforcement_changed");
        assert!(e.body.contains(r#""enforce_mfa":false"#), "{}", e.body);
        // R15: a recovery code used is notified with how many are left.
        let left = serde_json::json!({ "recovery_codes_left": 2 });
        let used = Event::of(
            &audit("use_recovery_code", true),
            "d",
            Some(&bob),
            None,
            Some(8),
            Some(&left),
        )
        .expect("a recovery code used is notified");
        let body: Value = serde_json::from_str(&used.body).unwrap();
        assert_eq!(body["type"], "mfa.recovery_code_used");
        assert_eq!(body["data"]["recovery_codes_left"], 2);
        assert!(
            Event::of(
                &audit("use_recovery_code", false),
                "d",
                Some(&bob),
                None,
                None,
                Some(&left)
            )
            .is_none()
        );
    }
}
