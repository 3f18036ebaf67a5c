//! Conversions between the public types ([`crate::api`]) and the generated
//! WIT types, so no wasmtime-generated type reaches a caller.

use crate::api;
use crate::bindings::types as wit;

use crate::timestamp::{from_millis as time, to_millis as millis};

/// A field path of the component (WIT names, `session.last-activity-at`)
/// as callers of this crate write it (`session.last_activity_at`).
pub(crate) fn field_path(wit_path: &str) -> String {
    wit_path.replace('-', "_")
}

impl From<&api::Session> for wit::Session {
    fn from(s: &api::Session) -> Self {
        Self {
            login_at: millis(s.login_at),
            last_activity_at: millis(s.last_activity_at),
            mfa_satisfied: s.mfa_satisfied,
            recovery_code_login: s.recovery_code_login,
        }
    }
}

impl From<wit::Decision> for api::Decision {
    fn from(d: wit::Decision) -> Self {
        Self {
            allowed: d.allowed,
            policy_ids: d.policy_ids,
            denial_code: d.denial_code,
            message: d.message,
            errors: d.errors,
        }
    }
}

impl From<api::Role> for wit::Role {
    fn from(r: api::Role) -> Self {
        match r {
            api::Role::Root => Self::Root,
            api::Role::SubUser => Self::SubUser,
            api::Role::SupportAgent => Self::SupportAgent,
        }
    }
}

impl From<wit::Role> for api::Role {
    fn from(r: wit::Role) -> Self {
        match r {
            wit::Role::Root => Self::Root,
            wit::Role::SubUser => Self::SubUser,
            wit::Role::SupportAgent => Self::SupportAgent,
        }
    }
}

impl From<api::MfaStatus> for wit::MfaStatus {
    fn from(s: api::MfaStatus) -> Self {
        match s {
            api::MfaStatus::Off => Self::Off,
            api::MfaStatus::EnrolmentDue => Self::EnrolmentDue,
            api::MfaStatus::Active => Self::Active,
        }
    }
}

impl From<wit::MfaStatus> for api::MfaStatus {
    fn from(s: wit::MfaStatus) -> Self {
        match s {
            wit::MfaStatus::Off => Self::Off,
            wit::MfaStatus::EnrolmentDue => Self::EnrolmentDue,
            wit::MfaStatus::Active => Self::Active,
        }
    }
}

impl From<&api::Organization> for wit::Organization {
    fn from(o: &api::Organization) -> Self {
        Self {
            id: o.id.clone(),
            enforce_mfa: o.enforce_mfa,
        }
    }
}

impl From<wit::Organization> for api::Organization {
    fn from(o: wit::Organization) -> Self {
        Self {
            id: o.id,
            enforce_mfa: o.enforce_mfa,
        }
    }
}

impl From<&api::User> for wit::User {
    fn from(u: &api::User) -> Self {
        Self {
            id: u.id.clone(),
            role: u.role.into(),
            organization: (&u.organization).into(),
            mfa: u.mfa.into(),
            active: u.active,
        }
    }
}

impl From<wit::User> for api::User {
    fn from(u: wit::User) -> Self {
        Self {
            id: u.id,
            role: u.role.into(),
            organization: u.organization.into(),
            mfa: u.mfa.into(),
            active: u.active,
        }
    }
}

impl From<&api::Action> for wit::Action {
    fn from(a: &api::Action) -> Self {
        match a {
            api::Action::ResetOwnMfa => Self::ResetOwnMfa,
            api::Action::EnableOwnMfa => Self::EnableOwnMfa,
            api::Action::DisableOwnMfa => Self::DisableOwnMfa,
            api::Action::ResetUserMfa(u) => Self::ResetUserMfa(u.into()),
            api::Action::EnableUserMfa(u) => Self::EnableUserMfa(u.into()),
            api::Action::DisableUserMfa(u) => Self::DisableUserMfa(u.into()),
            api::Action::SetEnforcement(on) => Self::SetEnforcement(*on),
            api::Action::ListUsers(users) => {
                Self::ListUsers(users.iter().map(Into::into).collect())
            }
            api::Action::AccessRoute(name) => Self::AccessRoute(name.clone()),
            api::Action::ViewOwnSession => Self::ViewOwnSession,
            api::Action::ChangeOwnPassword => Self::ChangeOwnPassword,
            api::Action::DeactivateUser(u) => Self::DeactivateUser(u.into()),
            api::Action::ReactivateUser(u) => Self::ReactivateUser(u.into()),
            api::Action::InviteUser(u) => Self::InviteUser(u.into()),
        }
    }
}

impl From<&api::Request> for wit::Request {
    fn from(r: &api::Request) -> Self {
        Self {
            actor: (&r.actor).into(),
            session: (&r.session).into(),
            now: millis(r.now),
            action: (&r.action).into(),
        }
    }
}

impl From<wit::Outcome> for api::Outcome {
    fn from(o: wit::Outcome) -> Self {
        Self {
            decision: o.decision.into(),
            sessions: o.sessions.into(),
            change: o.change.map(|c| match c {
                wit::Change::User(u) => api::Change::User(api::UserChange {
                    user: u.user.into(),
                    authenticator: u.authenticator.into(),
                }),
                wit::Change::Organization(org) => api::Change::Organization(org.into()),
            }),
            users: o
                .users
                .into_iter()
                .map(|u| api::UserStatus {
                    id: u.id,
                    role: u.role.into(),
                    mfa: u.mfa.into(),
                    effective_mfa: u.effective_mfa.into(),
                    active: u.active,
                })
                .collect(),
            audit: o.audit.map(Into::into),
            // The engine knows the revision, the component's answer does not.
            policy_revision: String::new(),
        }
    }
}

impl From<wit::AuditRecord> for api::AuditRecord {
    fn from(a: wit::AuditRecord) -> Self {
        Self {
            at: time(a.at),
            actor: a.actor,
            organization: a.organization,
            action: a.action,
            target: a.target,
            allowed: a.allowed,
            policy_ids: a.policy_ids,
            denial_code: a.denial_code,
        }
    }
}

impl From<&api::TotpKey> for wit::TotpKey {
    fn from(k: &api::TotpKey) -> Self {
        Self {
            secret: k.secret.clone(),
            digits: k.digits,
            period: k.period,
        }
    }
}

impl From<wit::TotpKey> for api::TotpKey {
    fn from(k: wit::TotpKey) -> Self {
        Self {
            secret: k.secret,
            digits: k.digits,
            period: k.period,
        }
    }
}

impl From<&api::Authenticator> for wit::Authenticator {
    fn from(a: &api::Authenticator) -> Self {
        Self {
            pending: a.pending.as_ref().map(Into::into),
            active: a.active.as_ref().map(Into::into),
            last_accepted_step: a.last_accepted_step,
            failures: a.failures,
            locked_until: a.locked_until.map(millis),
            recovery_codes: a.recovery_codes.as_ref().map(|c| wit::RecoveryCodeHashes {
                key: c.key.clone(),
                hashes: c.hashes.clone(),
            }),
        }
    }
}

impl From<wit::Authenticator> for api::Authenticator {
    fn from(a: wit::Authenticator) -> Self {
        Self {
            pending: a.pending.map(Into::into),
            active: a.active.map(Into::into),
            last_accepted_step: a.last_accepted_step,
            failures: a.failures,
            locked_until: a.locked_until.map(time),
            recovery_codes: a.recovery_codes.map(|c| api::RecoveryCodeHashes {
                key: c.key,
                hashes: c.hashes,
            }),
        }
    }
}

impl From<wit::LoginStep> for api::LoginStep {
    fn from(s: wit::LoginStep) -> Self {
        match s {
            wit::LoginStep::None => Self::None,
            wit::LoginStep::Enrol => Self::Enrol,
            wit::LoginStep::Code => Self::Code,
        }
    }
}

impl From<&api::EnrolmentRequest> for wit::EnrolmentRequest {
    fn from(r: &api::EnrolmentRequest) -> Self {
        Self {
            user: (&r.user).into(),
            session: (&r.session).into(),
            authenticator: (&r.authenticator).into(),
            now: millis(r.now),
            issuer: r.issuer.clone(),
        }
    }
}

impl From<wit::Enrolment> for api::Enrolment {
    fn from(e: wit::Enrolment) -> Self {
        Self {
            decision: e.decision.into(),
            key: e.key.map(|k| api::EnrolmentKey {
                uri: k.uri,
                qr_png: k.qr_png,
                qr_text: k.qr_text,
            }),
            authenticator: e.authenticator.into(),
            audit: e.audit.into(),
        }
    }
}

impl From<&api::CodeRequest> for wit::CodeRequest {
    fn from(r: &api::CodeRequest) -> Self {
        Self {
            user: (&r.user).into(),
            session: (&r.session).into(),
            authenticator: (&r.authenticator).into(),
            code: r.code.clone(),
            now: millis(r.now),
            lockout: wit::LockoutPolicy {
                max_failures: r.lockout.max_failures,
                base_delay_seconds: r.lockout.base_delay_seconds,
                max_delay_seconds: r.lockout.max_delay_seconds,
            },
        }
    }
}

impl From<wit::Verification> for api::Verification {
    fn from(v: wit::Verification) -> Self {
        Self {
            result: match v.result {
                wit::CodeResult::Accepted => api::CodeResult::Accepted,
                wit::CodeResult::InvalidCode => api::CodeResult::InvalidCode,
                wit::CodeResult::Replayed => api::CodeResult::Replayed,
                wit::CodeResult::Locked => api::CodeResult::Locked,
                wit::CodeResult::Denied => api::CodeResult::Denied,
            },
            decision: v.decision.into(),
            message: v.message,
            user: v.user.into(),
            authenticator: v.authenticator.into(),
            audit: v.audit.into(),
            recovery_codes: api::RecoveryCodes(v.recovery_codes),
            recovery_codes_left: v.recovery_codes_left,
        }
    }
}

impl From<&api::RecoveryCodesRequest> for wit::RecoveryCodesRequest {
    fn from(r: &api::RecoveryCodesRequest) -> Self {
        Self {
            user: (&r.user).into(),
            session: (&r.session).into(),
            authenticator: (&r.authenticator).into(),
            now: millis(r.now),
        }
    }
}

impl From<wit::NewRecoveryCodes> for api::NewRecoveryCodes {
    fn from(n: wit::NewRecoveryCodes) -> Self {
        Self {
            decision: n.decision.into(),
            codes: api::RecoveryCodes(n.codes),
            authenticator: n.authenticator.into(),
            sessions: n.sessions.into(),
            audit: n.audit.into(),
        }
    }
}

impl From<&api::SourceFile> for wit::SourceFile {
    fn from(f: &api::SourceFile) -> Self {
        Self {
            name: f.name.clone(),
            text: f.text.clone(),
        }
    }
}

impl From<wit::SourceFile> for api::SourceFile {
    fn from(f: wit::SourceFile) -> Self {
        Self {
            name: f.name,
            text: f.text,
        }
    }
}

impl From<&api::PolicySource> for wit::PolicySet {
    fn from(s: &api::PolicySource) -> Self {
        Self {
            policies: s.policies.iter().map(Into::into).collect(),
            schema: (&s.schema).into(),
            support_url: s.support_url.clone(),
        }
    }
}

impl From<wit::PolicySet> for api::PolicySource {
    fn from(s: wit::PolicySet) -> Self {
        Self {
            policies: s.policies.into_iter().map(Into::into).collect(),
            schema: s.schema.into(),
            support_url: s.support_url,
        }
    }
}

impl From<wit::Diagnostic> for api::Diagnostic {
    fn from(d: wit::Diagnostic) -> Self {
        Self {
            severity: match d.severity {
                wit::Severity::Error => api::Severity::Error,
                wit::Severity::Warning => api::Severity::Warning,
            },
            file: d.file,
            line: d.line,
            column: d.column,
            policy_id: d.policy_id,
            message: d.message,
            help: d.help,
        }
    }
}

impl From<wit::PolicySetInfo> for api::PolicySetInfo {
    fn from(i: wit::PolicySetInfo) -> Self {
        Self {
            revision: i.revision,
            policy_ids: i.policy_ids,
            warnings: i.warnings.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<wit::CedarAnswer> for api::CedarAnswer {
    fn from(a: wit::CedarAnswer) -> Self {
        Self {
            allowed: a.allowed,
            policy_ids: a.policy_ids,
            errors: a.errors,
        }
    }
}

impl From<wit::SessionEffect> for api::SessionEffect {
    fn from(e: wit::SessionEffect) -> Self {
        match e {
            wit::SessionEffect::None => Self::None,
            wit::SessionEffect::EndOtherSessionsOfUser => Self::EndOtherSessionsOfUser,
            wit::SessionEffect::EndSessionsOfUser => Self::EndSessionsOfUser,
            wit::SessionEffect::RequireMfaInOrganization => Self::RequireMfaInOrganization,
        }
    }
}

impl From<&api::ProvisioningRequest> for wit::ProvisioningRequest {
    fn from(r: &api::ProvisioningRequest) -> Self {
        use api::ProvisioningAction as A;
        use wit::ProvisioningAction as W;
        Self {
            provisioner: wit::Provisioner {
                id: r.provisioner.id.clone(),
                organization: (&r.provisioner.organization).into(),
            },
            now: millis(r.now),
            action: match &r.action {
                A::ReadUsers => W::ReadUsers,
                A::ReadUser(u) => W::ReadUser(u.into()),
                A::CreateUser(id) => W::CreateUser(id.clone()),
                A::UpdateUser(u) => W::UpdateUser(u.into()),
                A::DeactivateUser(u) => W::DeactivateUser(u.into()),
                A::ReactivateUser(u) => W::ReactivateUser(u.into()),
            },
        }
    }
}

impl From<wit::ProvisioningOutcome> for api::ProvisioningOutcome {
    fn from(o: wit::ProvisioningOutcome) -> Self {
        Self {
            decision: o.decision.into(),
            user: o.user.map(Into::into),
            sessions: o.sessions.into(),
            audit: o.audit.map(Into::into),
            // The engine knows the revision, the component's answer does not.
            policy_revision: String::new(),
        }
    }
}

impl From<api::IdentityCheck> for wit::IdentityCheck {
    fn from(c: api::IdentityCheck) -> Self {
        match c {
            api::IdentityCheck::CodeToEmailOnFile => Self::CodeToEmailOnFile,
            api::IdentityCheck::CallbackToPhoneOnFile => Self::CallbackToPhoneOnFile,
            api::IdentityCheck::ConfirmedByRoot => Self::ConfirmedByRoot,
            api::IdentityCheck::DocumentCheck => Self::DocumentCheck,
        }
    }
}

impl From<wit::IdentityCheck> for api::IdentityCheck {
    fn from(c: wit::IdentityCheck) -> Self {
        match c {
            wit::IdentityCheck::CodeToEmailOnFile => Self::CodeToEmailOnFile,
            wit::IdentityCheck::CallbackToPhoneOnFile => Self::CallbackToPhoneOnFile,
            wit::IdentityCheck::ConfirmedByRoot => Self::ConfirmedByRoot,
            wit::IdentityCheck::DocumentCheck => Self::DocumentCheck,
        }
    }
}

impl From<api::CaseState> for wit::CaseState {
    fn from(s: api::CaseState) -> Self {
        match s {
            api::CaseState::Open => Self::Open,
            api::CaseState::Cancelled => Self::Cancelled,
            api::CaseState::TicketIssued => Self::TicketIssued,
            api::CaseState::Redeemed => Self::Redeemed,
        }
    }
}

impl From<wit::CaseState> for api::CaseState {
    fn from(s: wit::CaseState) -> Self {
        match s {
            wit::CaseState::Open => Self::Open,
            wit::CaseState::Cancelled => Self::Cancelled,
            wit::CaseState::TicketIssued => Self::TicketIssued,
            wit::CaseState::Redeemed => Self::Redeemed,
        }
    }
}

impl From<api::RecoveryAction> for wit::RecoveryAction {
    fn from(a: api::RecoveryAction) -> Self {
        use api::RecoveryAction as A;
        match a {
            A::OpenCase => Self::OpenCase,
            A::ApproveCase => Self::ApproveCase,
            A::IssueTicket => Self::IssueTicket,
            A::CancelCase => Self::CancelCase,
            A::CancelByLink => Self::CancelByLink,
            A::RedeemTicket => Self::RedeemTicket,
        }
    }
}

impl From<&api::RecoveryCase> for wit::RecoveryCase {
    fn from(c: &api::RecoveryCase) -> Self {
        Self {
            id: c.id.clone(),
            account: (&c.account).into(),
            opened_by: c.opened_by.clone(),
            opened_at: millis(c.opened_at),
            checks: c.checks.iter().map(|&c| c.into()).collect(),
            approved_by: c.approved_by.clone(),
            state: c.state.into(),
            ticket_issued_at: c.ticket_issued_at.map(millis),
        }
    }
}

impl From<wit::RecoveryCase> for api::RecoveryCase {
    fn from(c: wit::RecoveryCase) -> Self {
        Self {
            id: c.id,
            account: c.account.into(),
            opened_by: c.opened_by,
            opened_at: time(c.opened_at),
            checks: c.checks.into_iter().map(Into::into).collect(),
            approved_by: c.approved_by,
            state: c.state.into(),
            ticket_issued_at: c.ticket_issued_at.map(time),
        }
    }
}

impl From<&api::RecoveryRequest> for wit::RecoveryRequest {
    fn from(r: &api::RecoveryRequest) -> Self {
        Self {
            caller: r.caller.as_ref().map(Into::into),
            session: (&r.session).into(),
            now: millis(r.now),
            account_has_active_session: r.account_has_active_session,
            action: r.action.into(),
            case: (&r.case).into(),
        }
    }
}

impl From<wit::RecoveryOutcome> for api::RecoveryOutcome {
    fn from(o: wit::RecoveryOutcome) -> Self {
        Self {
            decision: o.decision.into(),
            case: o.case.into(),
            account: o.account.map(|u| api::UserChange {
                user: u.user.into(),
                authenticator: u.authenticator.into(),
            }),
            sessions: o.sessions.into(),
            audit: o.audit.into(),
            // The engine knows the revision, the component's answer does not.
            policy_revision: String::new(),
        }
    }
}
