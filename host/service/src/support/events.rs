//! The support desk's notifications (R14), through the webhook outbox
//! with the same signing as every other event. NIST SP 800-63B-4 §4.2
//! asks that every recovery event is notified, §4.6 that a notification
//! says how to repudiate it: the opening carries a single-use cancel link.
//! The ticket goes out only in `recovery.ticket_issued`, to the account
//! holder (the receiver mails it); both are sealed at rest in the outbox
//! and forgotten once delivered.

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::store::Event;
use mfa_reset::api::{RecoveryCase, User};
use mfa_reset::timestamp::to_millis as millis;

/// What an event says of its case: ids, states and times, never a secret.
fn case_data(id: &str, case: &RecoveryCase) -> Value {
    json!({
        "event_id": id,
        "case": case.id,
        "user": case.account.id,
        "role": case.account.role,
        "organization": case.account.organization.id,
        "opened_by": case.opened_by,
        "approved_by": case.approved_by,
        "checks": case.checks,
        "state": case.state,
    })
}

fn event(kind: &'static str, at: OffsetDateTime, data: Value, holds_secret: bool) -> Event {
    let id = data["event_id"].as_str().unwrap_or_default().to_string();
    let body = json!({
        "type": kind,
        "timestamp": at.format(&Rfc3339).unwrap_or_default(),
        "data": data,
    });
    Event {
        id,
        kind,
        created_at: millis(at),
        body: body.to_string(),
        holds_secret,
    }
}

fn new_id() -> String {
    format!("evt_{}", uuid::Uuid::now_v7().simple())
}

/// `recovery.case_opened`: to the account holder and their organization's
/// roots (`notify`), with the link that cancels the case.
pub fn case_opened(case: &RecoveryCase, notify: &[&User], cancel_link: &str) -> Event {
    let id = new_id();
    let mut data = case_data(&id, case);
    data["notify"] = notify.iter().map(|u| Value::from(u.id.as_str())).collect();
    data["cancel_link"] = Value::from(cancel_link);
    data["message"] = Value::from(
        "A support agent opened a case to remove this account's authenticator. If nobody asked for it, open the cancel link (or cancel it from the console) and it will never be carried out.",
    );
    event("recovery.case_opened", case.opened_at, data, true)
}

/// `recovery.case_approved`: a second agent approved the case.
pub fn case_approved(case: &RecoveryCase, at: OffsetDateTime) -> Event {
    let id = new_id();
    event("recovery.case_approved", at, case_data(&id, case), false)
}

/// `recovery.ticket_issued`: the ticket, for the account holder only.
pub fn ticket_issued(case: &RecoveryCase, ticket: &str, login_url: &str) -> Event {
    let id = new_id();
    let mut data = case_data(&id, case);
    data["ticket"] = Value::from(ticket);
    data["login_url"] = Value::from(login_url);
    data["message"] = Value::from(
        "Log in with your password and this recovery ticket (choose \"Recover with a ticket\"); you then set up a new authenticator. The ticket works once and expires soon.",
    );
    let at = case.ticket_issued_at.unwrap_or(case.opened_at);
    event("recovery.ticket_issued", at, data, true)
}

/// `recovery.case_cancelled`: by `by` (the holder, a root, an agent, or
/// the cancel link).
pub fn case_cancelled(case: &RecoveryCase, by: &str, at: OffsetDateTime) -> Event {
    let id = new_id();
    let mut data = case_data(&id, case);
    data["cancelled_by"] = Value::from(by);
    event("recovery.case_cancelled", at, data, false)
}

/// `recovery.ticket_redeemed`: the authenticator is gone, enrolment is
/// due, every session of the account ended.
pub fn ticket_redeemed(case: &RecoveryCase, at: OffsetDateTime) -> Event {
    let id = new_id();
    let mut data = case_data(&id, case);
    data["mfa"] = Value::from("enrolment_due");
    event("recovery.ticket_redeemed", at, data, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mfa_reset::api::{CaseState, IdentityCheck, MfaStatus, Organization, Role};

    fn case() -> RecoveryCase {
        RecoveryCase {
            id: "rc_1".into(),
            account: User {
                id: "gina".into(),
                role: Role::SubUser,
                organization: Organization {
                    id: "globex".into(),
                    enforce_mfa: true,
                },
                mfa: MfaStatus::Active,
                active: true,
            },
            opened_by: "sam".into(),
            opened_at: OffsetDateTime::UNIX_EPOCH,
            checks: vec![IdentityCheck::ConfirmedByRoot],
            approved_by: None,
            state: CaseState::Open,
            ticket_issued_at: None,
        }
    }

    #[test]
    fn only_the_opening_and_the_ticket_carry_a_secret_and_are_sealed() {
        let c = case();
        let opened = case_opened(&c, &[&c.account], "https://x/console/cancel-case#T");
        assert!(opened.holds_secret);
        let body: Value = serde_json::from_str(&opened.body).unwrap();
        assert_eq!(body["type"], "recovery.case_opened");
        assert_eq!(body["data"]["notify"][0], "gina");
        assert_eq!(body["data"]["checks"][0], "confirmed_by_root");
        let issued = ticket_issued(&c, "TICKET", "https://x/console/");
        assert!(issued.holds_secret && issued.body.contains("TICKET"));
        for plain in [
            case_approved(&c, OffsetDateTime::UNIX_EPOCH),
            case_cancelled(&c, "gina", OffsetDateTime::UNIX_EPOCH),
            ticket_redeemed(&c, OffsetDateTime::UNIX_EPOCH),
        ] {
            assert!(!plain.holds_secret, "{}", plain.kind);
            assert!(!plain.body.contains("cancel_link") && !plain.body.contains("ticket\""));
        }
    }
}
