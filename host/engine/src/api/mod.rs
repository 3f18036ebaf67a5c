//! The public request and answer types, as Rust values and as JSON.
//!
//! JSON uses snake_case names and RFC 3339 times; unknown fields are
//! refused, so a typo in a request is an error, never silently ignored.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

mod authenticator;
mod provisioning;
mod recovery;
pub use authenticator::*;
pub use provisioning::*;
pub use recovery::*;

/// Whether a user is the root of its organization or one of its
/// sub-users, or one of the provider's support agents (R14).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The organization's root user: manages its sub-users' MFA (R4, R9).
    Root,
    /// A user managed by the organization's root.
    SubUser,
    /// One of the provider's support agents: in no customer organization
    /// (its `organization` is the provider's own); only the login steps
    /// and the support desk's actions apply to it, always with MFA.
    SupportAgent,
}

/// A user's stored MFA status; `Off` is every user's default (R1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MfaStatus {
    /// Password only.
    #[default]
    Off,
    /// MFA is required and no authenticator is enrolled yet: the next login
    /// enrols one.
    EnrolmentDue,
    /// An authenticator is enrolled: every login needs a code.
    Active,
}

/// An organization and its "enforce MFA for all users" switch (R5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Organization {
    /// The organization's id.
    pub id: String,
    /// Whether every user must use MFA (R5).
    pub enforce_mfa: bool,
}

/// A user as the host has it stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    /// The user's id, unique across organizations.
    pub id: String,
    /// Root or sub-user of its organization.
    pub role: Role,
    /// The organization it belongs to, with its switch.
    pub organization: Organization,
    /// Its MFA status as stored.
    pub mfa: MfaStatus,
    /// False once the user is deactivated: every request of theirs is
    /// denied (R13). In JSON it may be left out, meaning `true`.
    #[serde(default = "active_by_default")]
    pub active: bool,
}

fn active_by_default() -> bool {
    true
}

/// The caller's console session (R7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Session {
    /// When the session's login happened (R7: absolute limit).
    #[serde(with = "time::serde::rfc3339")]
    pub login_at: OffsetDateTime,
    /// When the session was last used (R7: idle limit).
    #[serde(with = "time::serde::rfc3339")]
    pub last_activity_at: OffsetDateTime,
    /// The login completed what MFA demanded (a code, or nothing when MFA is
    /// off); until then the session may do nothing but finish the login.
    pub mfa_satisfied: bool,
    /// R15: the login's MFA was a recovery code, not the authenticator's
    /// code; the policies decide what such a session may do. In JSON it may
    /// be left out, meaning `false`.
    #[serde(default)]
    pub recovery_code_login: bool,
}

/// What the caller asks for. In JSON a plain string (`"reset_own_mfa"`) or
/// a one-key object (`{"reset_user_mfa": {…user…}}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// R6.
    ResetOwnMfa,
    /// R2.
    EnableOwnMfa,
    /// R2, R10.
    DisableOwnMfa,
    /// R9: the sub-user whose MFA is reset.
    ResetUserMfa(User),
    /// R4.
    EnableUserMfa(User),
    /// R4, R5.
    DisableUserMfa(User),
    /// R5: the new value of the organization's switch.
    SetEnforcement(bool),
    /// R11: the organization's users as stored.
    ListUsers(Vec<User>),
    /// A gateway route: the Cedar action its route map names (an action of
    /// the schema's `console_routes` group, or `view_support_desk`), on the
    /// caller's organization.
    AccessRoute(String),
    /// The caller's own session (what its login still needs); allowed
    /// before MFA is finished, like the login steps.
    ViewOwnSession,
    /// R13: the caller's own password (checked by the host); allowed, the
    /// caller's other sessions end.
    ChangeOwnPassword,
    /// R13: a root deactivates a sub-user (its sessions end).
    DeactivateUser(User),
    /// R13: a root reactivates a deactivated sub-user.
    ReactivateUser(User),
    /// R13: a root invites a sub-user who has no password yet.
    InviteUser(User),
}

impl Action {
    /// The Cedar action this asks for (`MfaReset::Action::"…"`), as audit
    /// records and decision logs name it; a route's action is the one its
    /// route map names. The guest names actions with its own table, on the
    /// other side of the WIT contract: the host checks the guest's answers
    /// against this one.
    pub fn cedar_name(&self) -> &str {
        match self {
            Self::ResetOwnMfa => "reset_own_mfa",
            Self::EnableOwnMfa => "enable_own_mfa",
            Self::DisableOwnMfa => "disable_own_mfa",
            Self::ResetUserMfa(_) => "reset_user_mfa",
            Self::EnableUserMfa(_) => "enable_user_mfa",
            Self::DisableUserMfa(_) => "disable_user_mfa",
            Self::SetEnforcement(_) => "set_enforcement",
            Self::ListUsers(_) => "list_users",
            Self::AccessRoute(name) => name,
            Self::ViewOwnSession => "view_session",
            Self::ChangeOwnPassword => "change_own_password",
            Self::DeactivateUser(_) => "deactivate_user",
            Self::ReactivateUser(_) => "reactivate_user",
            Self::InviteUser(_) => "invite_user",
        }
    }
}

/// One request to decide.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// Who asks.
    pub actor: User,
    /// The session the caller asks with.
    pub session: Session,
    /// The time of the request (the host's clock).
    #[serde(with = "time::serde::rfc3339")]
    pub now: OffsetDateTime,
    /// What the caller asks for.
    pub action: Action,
}

/// Cedar's answer, with the deciding policies and a message for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// Whether the action may go ahead.
    pub allowed: bool,
    /// `@id`s of the deciding policies, in policy-file order.
    pub policy_ids: Vec<String>,
    /// Why it was denied, e.g. `session-expired`, `other-organization`,
    /// `not-root`, `enforced-by-organization`, `mfa-not-enabled`.
    pub denial_code: Option<String>,
    /// For people: what happened, or why not and what to do.
    pub message: String,
    /// Policies that failed to evaluate.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}

/// One user of a `list_users` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserStatus {
    /// The user's id.
    pub id: String,
    /// Root or sub-user.
    pub role: Role,
    /// As stored.
    pub mfa: MfaStatus,
    /// What the next login demands, enforcement included (R5).
    pub effective_mfa: MfaStatus,
    /// False for a deactivated user (R13).
    pub active: bool,
}

/// The state to store after an allowed change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// A user's MFA changed; the authenticator starts afresh (a reset
    /// removes it, R6). In JSON the authenticator is left out: store it,
    /// never show it.
    User(UserChange),
    /// The organization's enforcement switch changed (R5).
    Organization(Organization),
}

/// A user's new state after an allowed change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserChange {
    /// The user with its new MFA status.
    #[serde(flatten)]
    pub user: User,
    /// Its authenticator afresh: store it, never show it.
    #[serde(skip)]
    pub authenticator: Authenticator,
}

/// R12: who did what to whom, when, and which policies decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// When it was decided.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The caller's user id.
    pub actor: String,
    /// The caller's organization.
    pub organization: String,
    /// The Cedar action, e.g. `reset_user_mfa`.
    pub action: String,
    /// The user or organization acted on.
    pub target: String,
    /// Whether it was allowed.
    pub allowed: bool,
    /// `@id`s of the deciding policies.
    pub policy_ids: Vec<String>,
    /// Why it was denied, when it was.
    pub denial_code: Option<String>,
}

/// What an allowed change means for the sessions a host keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionEffect {
    /// Sessions stay as they are.
    #[default]
    None,
    /// End every session of the changed user but the caller's current one.
    EndOtherSessionsOfUser,
    /// End every session of the changed user.
    EndSessionsOfUser,
    /// Sessions of the organization whose login verified no code must
    /// finish MFA before anything else (enforcement switched on, R5).
    RequireMfaInOrganization,
}

/// Everything a decision produces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// Whether it is allowed, by which policies, and what to tell the caller.
    pub decision: Decision,
    /// The new state, when the decision allows a change.
    pub change: Option<Change>,
    /// What storing `change` means for sessions.
    #[serde(default)]
    pub sessions: SessionEffect,
    /// Filled for an allowed `list_users`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<UserStatus>,
    /// Present for every action that can change state.
    pub audit: Option<AuditRecord>,
    /// The revision of the policy set this was decided under (see
    /// [`PolicySetInfo`]); filled by the engine.
    #[serde(default)]
    pub policy_revision: String,
}

/// One source file of a policy set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceFile {
    /// Shown in diagnostics, e.g. `policies/mfa.cedar`.
    pub name: String,
    /// The file's contents.
    pub text: String,
}

/// Policies, their schema, and the support URL that denial messages cite.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicySource {
    /// The `*.cedar` files, in the order their policies decide ties.
    pub policies: Vec<SourceFile>,
    /// The `*.cedarschema` file the policies are validated against.
    pub schema: SourceFile,
    /// Replaces `{support_url}` in `@message` annotations (R8).
    pub support_url: String,
}

/// How bad a [`Diagnostic`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The set cannot be installed.
    Error,
    /// The set installs, but something in it is likely a mistake.
    Warning,
}

/// A problem in a policy set, located in its file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The file, as named in the [`PolicySource`].
    pub file: String,
    /// 1-based; 0 when Cedar gives no location.
    pub line: u32,
    /// 1-based; 0 when Cedar gives no location.
    pub column: u32,
    /// The policy's `@id`, when the problem is in one.
    pub policy_id: Option<String>,
    /// What is wrong.
    pub message: String,
    /// How to fix it, when Cedar or the engine knows.
    pub help: Option<String>,
}

impl std::fmt::Display for Diagnostic {
    /// `file:line:column: error: message`, compiler style, then the help.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let severity = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{}:{}:{}: {severity}", self.file, self.line, self.column)?;
        if let Some(id) = &self.policy_id {
            write!(f, " in policy `{id}`")?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(help) = &self.help {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}

/// The policy set in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicySetInfo {
    /// Content hash, to tell revisions apart.
    pub revision: String,
    /// `@id`s of the policies in force, in policy-file order.
    pub policy_ids: Vec<String>,
    /// Warnings the set was installed with.
    pub warnings: Vec<Diagnostic>,
}

/// Cedar's raw answer to a request written in Cedar terms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CedarAnswer {
    /// Whether Cedar allows the request.
    pub allowed: bool,
    /// `@id`s of the policies that decided it.
    pub policy_ids: Vec<String>,
    /// Policies that failed to evaluate, with why.
    pub errors: Vec<String>,
}

impl Request {
    /// Parses a request from JSON; the error names the offending field.
    ///
    /// ```
    /// let json = r#"{"actor": {"id": "bob", "role": "sub_user",
    ///     "organization": {"id": "acme", "enforce_mfa": false}, "mfa": "active"},
    ///   "session": {"login_at": "2026-11-20T09:00:00Z", "last_activity_at": "2026-11-22T09:00:00Z",
    ///               "mfa_satisfied": true},
    ///   "now": "2026-11-22T10:00:00Z", "action": "reset_own_mfa"}"#;
    /// let request = mfa_reset::Request::from_json(json).unwrap();
    /// assert_eq!(request.action, mfa_reset::Action::ResetOwnMfa);
    ///
    /// let err = mfa_reset::Request::from_json(&json.replace("\"now\"", "\"when\"")).unwrap_err();
    /// assert!(err.to_string().contains("unknown field `when`"));
    /// ```
    pub fn from_json(text: &str) -> Result<Self, crate::Error> {
        from_json(text)
    }
}

/// Deserializes JSON (any of this crate's types, or a host's own request
/// bodies), reporting the path of the field that failed.
pub fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, crate::Error> {
    let mut de = serde_json::Deserializer::from_str(text);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        // "." is the document itself; an empty path is a key with no
        // name (`{""` cut short): neither names a field, so say so.
        let field = if path == "." || path.is_empty() {
            "(request)".into()
        } else {
            path
        };
        crate::Error::invalid_request(field, e.into_inner().to_string())
    })?;
    de.end()
        .map_err(|e| crate::Error::invalid_request("(request)", e.to_string()))?;
    Ok(value)
}
