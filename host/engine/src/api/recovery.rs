//! Support desk types (R14): a recovery case as the host stores it, a
//! step of it, and what an allowed step changes.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{AuditRecord, Decision, Session, SessionEffect, User, UserChange};

/// An identity check a support agent performed before opening a case: a
/// closed list, so nothing the agent types reaches a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityCheck {
    /// A one-time code sent to the e-mail address on file, read back.
    CodeToEmailOnFile,
    /// A call-back to the phone number on file.
    CallbackToPhoneOnFile,
    /// The organization's root confirmed the request.
    ConfirmedByRoot,
    /// An identity document checked against the records.
    DocumentCheck,
}

impl IdentityCheck {
    /// Every check, in the order forms list them.
    pub const ALL: [Self; 4] = [
        Self::CodeToEmailOnFile,
        Self::CallbackToPhoneOnFile,
        Self::ConfirmedByRoot,
        Self::DocumentCheck,
    ];

    /// The check's name in JSON and in storage.
    pub fn name(self) -> &'static str {
        match self {
            Self::CodeToEmailOnFile => "code_to_email_on_file",
            Self::CallbackToPhoneOnFile => "callback_to_phone_on_file",
            Self::ConfirmedByRoot => "confirmed_by_root",
            Self::DocumentCheck => "document_check",
        }
    }

    /// The check named `name`, if it is one.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }
}

/// Where a case stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseState {
    /// Waiting: for its period to pass, an approval, or its ticket.
    Open,
    /// Vetoed or withdrawn: it never recovers anything.
    Cancelled,
    /// The ticket went to the account holder.
    TicketIssued,
    /// The ticket was redeemed: the authenticator is gone.
    Redeemed,
}

/// A support agent's case to remove a locked-out account's authenticator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecoveryCase {
    /// The case's id.
    pub id: String,
    /// The locked-out account: a user, or a support agent.
    pub account: User,
    /// The support agent who opened it.
    pub opened_by: String,
    /// When it was opened.
    #[serde(with = "time::serde::rfc3339")]
    pub opened_at: OffsetDateTime,
    /// The identity checks performed.
    pub checks: Vec<IdentityCheck>,
    /// The support agent who approved it.
    pub approved_by: Option<String>,
    /// Where it stands.
    pub state: CaseState,
    /// When its ticket was issued.
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub ticket_issued_at: Option<OffsetDateTime>,
}

/// A step of a case (actions of the schema's `recovery_case_steps` group).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecoveryAction {
    /// A support agent opens the case (as it would be opened: state open,
    /// opened by the agent, now).
    OpenCase,
    /// A second support agent approves it.
    ApproveCase,
    /// A support agent issues its ticket (sent to the account holder only).
    IssueTicket,
    /// A support agent, the account holder or their root cancels it.
    CancelCase,
    /// The notification's cancel link cancels it (no caller).
    CancelByLink,
    /// The account holder redeems the ticket (ticket and password checked
    /// by the host): authenticator removed, enrolment due, sessions end.
    RedeemTicket,
}

impl RecoveryAction {
    /// The Cedar action this asks for.
    pub fn cedar_name(self) -> &'static str {
        match self {
            Self::OpenCase => "open_recovery_case",
            Self::ApproveCase => "approve_recovery_case",
            Self::IssueTicket => "issue_recovery_ticket",
            Self::CancelCase => "cancel_recovery_case",
            Self::CancelByLink => "cancel_recovery_case_by_link",
            Self::RedeemTicket => "redeem_recovery_ticket",
        }
    }
}

/// One step of a case to decide.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecoveryRequest {
    /// Who asks; none for the cancel link.
    pub caller: Option<User>,
    /// The caller's session (for a redemption, the login that checked the
    /// password); ignored for the cancel link.
    pub session: Session,
    /// The time of the request (the host's clock).
    #[serde(with = "time::serde::rfc3339")]
    pub now: OffsetDateTime,
    /// The case's account has an active session of its own (R6: it can
    /// reset itself), asked when a case is opened. Required: left out, it
    /// would quietly mean "no session".
    pub account_has_active_session: bool,
    /// The step.
    pub action: RecoveryAction,
    /// The case as stored (for `open_case`, as it would be opened).
    pub case: RecoveryCase,
}

/// The decision and, when allowed, the new state of the case and account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryOutcome {
    /// Cedar's answer.
    pub decision: Decision,
    /// The case's new state (as given when denied).
    pub case: RecoveryCase,
    /// After an allowed redemption: the account, authenticator removed,
    /// enrolment due.
    pub account: Option<UserChange>,
    /// `EndSessionsOfUser` for an allowed redemption.
    pub sessions: SessionEffect,
    /// R12: every step, in the account's organization.
    pub audit: AuditRecord,
    /// The revision of the policy set that decided.
    pub policy_revision: String,
}
