//! One console action: load the caller and the target, let the component
//! decide, commit the new state with its audit record. A concurrent change
//! to what the decision read makes the commit fail; the action is then
//! decided again on fresh state (no update is ever lost).

use axum::http::StatusCode;
use serde::Serialize;
use time::OffsetDateTime;

mod audit_rows;
pub(crate) mod caller;
mod commit;
mod log;
pub(crate) mod retry;
pub(crate) mod throttle;
mod user_actions;

use self::commit::{Written, commit_decision, touch_session};
use self::log::decide_and_log;
pub use self::user_actions::allowed_actions;

use self::caller::Caller;
use self::throttle::{Attempt, Settled};
use crate::app::AppState;
use crate::error::ApiError;
use crate::store::{SessionUse, StoredUser};
use mfa_reset::api::{
    Action, AuditRecord, Change, Decision, MfaStatus, Organization, Outcome, Request, Role,
    SessionEffect, User, UserStatus,
};
use mfa_reset::timestamp::to_millis as millis;

/// What the caller asks for, before the stored state is read.
#[derive(Debug, Clone)]
pub enum Intent {
    ResetOwn,
    EnableOwn,
    DisableOwn,
    ResetUser(String),
    EnableUser(String),
    DisableUser(String),
    /// R13: a root on a sub-user's account.
    DeactivateUser(String),
    ReactivateUser(String),
    InviteUser(String),
    SetEnforcement(bool),
    ListUsers,
    /// A gateway route or a read-only console function.
    Route(String),
    /// The caller's own session (allowed before MFA is finished).
    ViewSession,
    /// The caller's own password (R13): whether the current one was typed
    /// right, and the new one's hash.
    ChangePassword(NewPassword),
}

/// A password change as the handler checked it.
#[derive(Clone)]
pub struct NewPassword {
    /// The caller typed the current password right.
    pub current_matches: bool,
    /// Argon2id hash of the new password (already within the rules).
    pub hash: String,
}

impl std::fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewPassword")
            .field("current_matches", &self.current_matches)
            .finish_non_exhaustive()
    }
}

/// The answer to a decided action.
#[derive(Debug, Serialize)]
pub struct Decided {
    pub decision_id: String,
    #[serde(flatten)]
    pub decision: Decision,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<UserView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization: Option<Organization>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<UserStatus>,
    /// A new invitation (R13), shown once to the root who asked for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invitation: Option<crate::accounts::Invitation>,
    /// For a listing: what the caller may do to each listed user, by id,
    /// as the policies decide it now (the console shows only these).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actions: Option<std::collections::BTreeMap<String, Vec<&'static str>>>,
    #[serde(skip)]
    pub caller: Option<mfa_reset::api::User>,
    /// The policy set this was decided under (empty for login steps, whose
    /// engine calls do not report it).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub policy_revision: String,
}

/// A user as the API shows it: no secrets.
#[derive(Debug, Serialize)]
pub struct UserView {
    pub id: String,
    pub role: mfa_reset::api::Role,
    pub organization: String,
    pub mfa: mfa_reset::api::MfaStatus,
}

impl From<&mfa_reset::api::User> for UserView {
    fn from(u: &mfa_reset::api::User) -> Self {
        Self {
            id: u.id.clone(),
            role: u.role,
            organization: u.organization.id.clone(),
            mfa: u.mfa,
        }
    }
}

impl Decided {
    /// A denial as the caller sees it: the deciding policy's id, code and
    /// message only (the audit record keeps every policy that denied), and
    /// no evaluation errors.
    pub fn denied(decision_id: String, mut decision: Decision) -> Self {
        decision.policy_ids.truncate(1);
        decision.errors.clear();
        Self {
            decision_id,
            decision,
            user: None,
            organization: None,
            users: Vec::new(),
            invitation: None,
            actions: None,
            caller: None,
            policy_revision: String::new(),
        }
    }

    fn under(self, policy_revision: String) -> Self {
        Self {
            policy_revision,
            ..self
        }
    }

    /// 200 when allowed; 401 when the session is expired or its login is
    /// unfinished; 403 for every other denial.
    pub fn status(&self) -> StatusCode {
        match (self.decision.allowed, self.decision.denial_code.as_deref()) {
            (true, _) => StatusCode::OK,
            (false, Some("session-expired" | "mfa-required")) => StatusCode::UNAUTHORIZED,
            (false, _) => StatusCode::FORBIDDEN,
        }
    }
}

/// Decides `intent` for `caller` (as loaded by the extractor) and commits
/// its outcome; on a concurrent change, decides again on fresh state.
pub async fn decide(
    state: &AppState,
    caller: Caller,
    intent: &Intent,
) -> Result<Decided, ApiError> {
    let mut caller = caller;
    let Some(attempt) = intent.changes_state(&caller) else {
        return decide_again_on_conflict(state, caller, intent).await;
    };
    // A session or user past its denials waits, undecided: nobody can
    // bury an audit trail under refused attempts.
    let claim = throttle::claim(state, &caller, attempt).await?;
    // State changes of one organization queue here. The caller as read
    // before the queue is stale by its turn (each change ahead of it moved
    // the versions it read, so a decision on it could not commit): it is
    // read once more, under the lock, the request's only second read.
    let _queued = caller::queue_for_org(state, &caller).await;
    let decided = match caller::reload(state, &caller).await {
        Ok(fresh) => {
            caller = fresh;
            decide_again_on_conflict(state, caller, intent).await
        }
        Err(e) => Err(e),
    };
    let settled = match &decided {
        Ok(d) if !d.decision.allowed => Settled::Refused {
            for_user: throttle::refusal_counts_for_user(d.decision.denial_code.as_deref()),
        },
        _ => Settled::NotRefused,
    };
    claim.settle(settled).await;
    decided
}

async fn decide_again_on_conflict(
    state: &AppState,
    caller: Caller,
    intent: &Intent,
) -> Result<Decided, ApiError> {
    let caller = &caller;
    retry::on_conflict(|n| async move {
        if n == 0 {
            return attempt(state, caller, intent).await;
        }
        let fresh = caller::reload(state, caller).await?;
        attempt(state, &fresh, intent).await
    })
    .await
}

impl Intent {
    /// For a state change, what a refusal by the denial throttle is audited
    /// as (the target as the caller's organization may read it: an id the
    /// caller sent is never recorded as typed); `None` for reads.
    fn changes_state<'a>(&self, caller: &'a Caller) -> Option<Attempt<'a>> {
        let user = &caller.user.user;
        let (action, target, on_others) = match self {
            Self::ResetOwn => ("reset_own_mfa", user.id.as_str(), false),
            Self::EnableOwn => ("enable_own_mfa", user.id.as_str(), false),
            Self::DisableOwn => ("disable_own_mfa", user.id.as_str(), false),
            Self::ResetUser(_) => ("reset_user_mfa", UNDECIDED_TARGET, true),
            Self::EnableUser(_) => ("enable_user_mfa", UNDECIDED_TARGET, true),
            Self::DisableUser(_) => ("disable_user_mfa", UNDECIDED_TARGET, true),
            Self::DeactivateUser(_) => ("deactivate_user", UNDECIDED_TARGET, true),
            Self::ReactivateUser(_) => ("reactivate_user", UNDECIDED_TARGET, true),
            Self::InviteUser(_) => ("invite_user", UNDECIDED_TARGET, true),
            Self::SetEnforcement(_) => ("set_enforcement", user.organization.id.as_str(), true),
            Self::ChangePassword(_) => ("change_own_password", user.id.as_str(), false),
            Self::ListUsers | Self::Route(_) | Self::ViewSession => return None,
        };
        Some(Attempt {
            action,
            target,
            on_others,
        })
    }
}

/// The target of a refused state change that was never decided.
const UNDECIDED_TARGET: &str = "(not decided)";

/// Longest user id accepted in a path (no stored id is longer).
const MAX_ID_CHARS: usize = 256;

/// The user acted on. An unknown id is decided as a user of no organization
/// the caller could see, so that the answer is the one a user of another
/// organization gets: existence is never revealed before the policies speak.
async fn target(state: &AppState, id: &str, actor: &StoredUser) -> Result<Target, ApiError> {
    if id.chars().count() > MAX_ID_CHARS {
        return Err(ApiError::Invalid {
            field: "id".into(),
            message: format!("longer than {MAX_ID_CHARS} characters"),
        });
    }
    if id.trim().is_empty() || id.chars().any(char::is_control) {
        return Err(ApiError::Invalid {
            field: "id".into(),
            message: "must be a user id: not empty, no control characters".into(),
        });
    }
    Ok(match state.store.user(id).await? {
        Some(stored) => Target::Stored(stored),
        None => Target::Unknown(User {
            id: id.to_string(),
            role: Role::SubUser,
            organization: Organization {
                // Never the caller's organization, whatever its id.
                id: format!("{}/(unknown)", actor.user.organization.id),
                enforce_mfa: false,
            },
            mfa: MfaStatus::Off,
            active: true,
        }),
    })
}

enum Target {
    Stored(StoredUser),
    Unknown(User),
}

impl Target {
    fn user(&self) -> &User {
        match self {
            Self::Stored(s) => &s.user,
            Self::Unknown(u) => u,
        }
    }
}

/// One decision on one read: the engine decides, the outcome commits if
/// what it read still holds (else [`ApiError::Concurrent`]).
async fn attempt(state: &AppState, caller: &Caller, intent: &Intent) -> Result<Decided, ApiError> {
    let actor = &caller.user;
    let (action, target) = action_of(state, actor, intent).await?;
    // An id that names no user is audited like another organization's
    // user, never as typed: the audit log is no place for a caller's free
    // text (see `audit_rows`).
    let unknown_target = matches!(target, Some(Target::Unknown(_)));
    let mut read_users = vec![actor];
    if let Some(Target::Stored(stored)) = &target
        && stored.user.id != actor.user.id
    {
        read_users.push(stored);
    }
    let now = caller.now(&state.config.clock);
    let request = Request {
        actor: actor.user.clone(),
        session: caller.session(),
        now,
        action,
    };
    // Time-ordered: the decision log's key grows at its end instead of at
    // random places (the time it holds is the answer's own `Date`).
    let decision_id = uuid::Uuid::now_v7().to_string();
    let outcome = decide_and_log(state, request, &decision_id, unknown_target).await?;
    // The policies allow a password change; the current password must
    // still have been typed right (authentication, not authorization).
    let (outcome, new_password) = match intent {
        Intent::ChangePassword(p) if !p.current_matches => (wrong_password(outcome), None),
        Intent::ChangePassword(p) => (outcome, Some(p.hash.as_str())),
        _ => (outcome, None),
    };
    // An invitation is for a user who has not chosen a password: one for
    // an account with a password would hand it to whoever reads the link.
    let outcome = match (intent, &target) {
        (Intent::InviteUser(_), Some(Target::Stored(t))) if !t.password_hash.is_empty() => refused(
            outcome,
            "has-password",
            "This user has chosen a password already: an invitation would let whoever holds it take the account over.",
        ),
        _ => outcome,
    };
    let (activation, invitation) = match (intent, &target) {
        (_, _) if !outcome.decision.allowed => (None, None),
        (Intent::DeactivateUser(_), Some(t)) => (Some((t.user(), false)), None),
        (Intent::ReactivateUser(_), Some(t)) => (Some((t.user(), true)), None),
        (Intent::InviteUser(_), Some(t)) => {
            let (shown, stored) =
                crate::accounts::new_invitation(&t.user().id, now, &state.config.public_url);
            (None, Some((t.user(), shown, stored)))
        }
        _ => (None, None),
    };
    // Only an allowed use counts as activity: a denied request (an expired
    // session above all) never moves the session's last activity.
    let allowed = outcome.decision.allowed;
    let session_use = allowed.then_some(SessionUse {
        token_hash: caller.session.token_hash.as_str(),
        at: millis(now),
        verified: false,
        recovery_code: false,
    });
    let Outcome {
        decision,
        change,
        sessions,
        users,
        audit,
        policy_revision,
    } = outcome;
    match audit {
        // Reads change nothing; an allowed one used the session all the
        // same (recorded once per interval).
        None => touch_session(state, caller, session_use).await?,
        Some(audit) => {
            let written = Written {
                change: &change,
                password: new_password.filter(|_| allowed),
                activation,
                invitation: invitation.as_ref().map(|(u, _, stored)| (*u, stored)),
                sessions,
                audit,
                decision_id: &decision_id,
                unknown_target,
                session_use,
            };
            commit_decision(state, caller, &read_users, written).await?;
        }
    }
    if !allowed {
        return Ok(Decided::denied(decision_id, decision).under(policy_revision));
    }
    Ok(Decided {
        invitation: invitation.map(|(_, shown, _)| shown),
        decision_id,
        decision,
        user: match &change {
            Some(Change::User(c)) => Some(UserView::from(&c.user)),
            _ => None,
        },
        organization: match change {
            Some(Change::Organization(o)) => Some(o),
            _ => None,
        },
        users,
        actions: None,
        caller: Some(actor.user.clone()),
        policy_revision,
    })
}

/// An allowed password change whose current password was typed wrong:
/// refused, audited as such, nothing changes.
fn wrong_password(outcome: Outcome) -> Outcome {
    refused(
        outcome,
        "wrong-password",
        "The current password is not right.",
    )
}

/// An allowed decision the host cannot carry out (what it knows and the
/// engine does not: a password): refused with `code`, audited as such.
fn refused(outcome: Outcome, code: &str, message: &str) -> Outcome {
    if !outcome.decision.allowed {
        return outcome;
    }
    let decision = Decision {
        allowed: false,
        policy_ids: Vec::new(),
        denial_code: Some(code.into()),
        message: message.into(),
        errors: Vec::new(),
    };
    Outcome {
        audit: outcome.audit.map(|a| AuditRecord {
            allowed: false,
            policy_ids: Vec::new(),
            denial_code: decision.denial_code.clone(),
            ..a
        }),
        decision,
        change: None,
        sessions: SessionEffect::None,
        ..outcome
    }
}

/// The engine's action for `intent`, with the target user it names (read
/// here: the only other read a decision makes).
async fn action_of(
    state: &AppState,
    actor: &StoredUser,
    intent: &Intent,
) -> Result<(Action, Option<Target>), ApiError> {
    let action = match intent {
        Intent::ResetOwn => Action::ResetOwnMfa,
        Intent::EnableOwn => Action::EnableOwnMfa,
        Intent::DisableOwn => Action::DisableOwnMfa,
        Intent::ResetUser(id)
        | Intent::EnableUser(id)
        | Intent::DisableUser(id)
        | Intent::DeactivateUser(id)
        | Intent::ReactivateUser(id)
        | Intent::InviteUser(id) => {
            let found = target(state, id, actor).await?;
            let user = found.user().clone();
            let action = match intent {
                Intent::ResetUser(_) => Action::ResetUserMfa(user),
                Intent::EnableUser(_) => Action::EnableUserMfa(user),
                Intent::DisableUser(_) => Action::DisableUserMfa(user),
                Intent::DeactivateUser(_) => Action::DeactivateUser(user),
                Intent::ReactivateUser(_) => Action::ReactivateUser(user),
                _ => Action::InviteUser(user),
            };
            return Ok((action, Some(found)));
        }
        Intent::SetEnforcement(on) => Action::SetEnforcement(*on),
        Intent::ListUsers => {
            let users = state
                .store
                .organization_users(&actor.user.organization.id)
                .await?;
            Action::ListUsers(users.into_iter().map(|u| u.user).collect())
        }
        Intent::Route(name) => Action::AccessRoute(name.clone()),
        Intent::ViewSession => Action::ViewOwnSession,
        Intent::ChangePassword(_) => Action::ChangeOwnPassword,
    };
    Ok((action, None))
}

/// Whole seconds until `until`, rounded up (a `Retry-After` that is never
/// too early), at least 1.
pub fn seconds_until(until: OffsetDateTime, now: OffsetDateTime) -> i64 {
    let ms = (until - now).whole_milliseconds();
    i64::try_from((ms + 999).div_euclid(1000))
        .unwrap_or(i64::MAX)
        .max(1)
}
