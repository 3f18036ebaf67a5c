//! One console action: load the caller and the target, let the component
//! decide, commit the new state with its audit record. A concurrent change
//! to what the decision read makes the commit fail; the action is then
//! decided again on fresh state (no update is ever lost).

use std::time::Instant;

use axum::http::StatusCode;
use serde::Serialize;
use time::OffsetDateTime;

mod audit_rows;
pub(crate) mod caller;
pub(crate) mod retry;
pub(crate) mod throttle;

use self::audit_rows::audit_rows;
use self::caller::Caller;
use self::throttle::{Attempt, Settled};
use crate::app::AppState;
use crate::error::ApiError;
use crate::policy::decision_log::RecordedDecision;
use crate::store::{Commit, SessionUse, SessionsChange, StoredUser};
use mfa_reset::api::{
    Action, AuditRecord, Change, Decision, MfaStatus, Organization, Outcome, Request, Role,
    SessionEffect, User, UserStatus,
};
use mfa_reset::log_text::Shown;
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
    let decision_id = uuid::Uuid::new_v4().to_string();
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

/// Which of the console's per-user actions the caller may take on each of
/// `users`, decided by the engine in one batch, as of now: nothing is
/// committed, audited or logged (each action taken is decided again). An
/// invitation is only ever offered for a user without a password.
pub async fn allowed_actions(
    state: &AppState,
    caller: &Caller,
    users: Vec<StoredUser>,
) -> Result<std::collections::BTreeMap<String, Vec<&'static str>>, ApiError> {
    let now = caller.now(&state.config.clock);
    let mut asked: Vec<(String, &'static str)> = Vec::new();
    let mut requests: Vec<Request> = Vec::new();
    for stored in &users {
        let u = &stored.user;
        let mut candidates = vec![
            Action::ResetUserMfa(u.clone()),
            Action::EnableUserMfa(u.clone()),
            Action::DisableUserMfa(u.clone()),
            Action::DeactivateUser(u.clone()),
            Action::ReactivateUser(u.clone()),
        ];
        if stored.password_hash.is_empty() {
            candidates.push(Action::InviteUser(u.clone()));
        }
        for action in candidates {
            asked.push((u.id.clone(), cedar_static_name(&action)));
            requests.push(Request {
                actor: caller.user.user.clone(),
                session: caller.session(),
                now,
                action,
            });
        }
    }
    let answers = state
        .engine_call(move |engine| engine.decide_batch(&requests))
        .await??;
    let mut allowed: std::collections::BTreeMap<String, Vec<&'static str>> = users
        .iter()
        .map(|u| (u.user.id.clone(), Vec::new()))
        .collect();
    for ((user, action), answer) in asked.into_iter().zip(answers) {
        if answer.is_ok_and(|o| o.decision.allowed) {
            allowed.entry(user).or_default().push(action);
        }
    }
    Ok(allowed)
}

/// The Cedar name of a per-user action the console offers.
fn cedar_static_name(action: &Action) -> &'static str {
    match action {
        Action::ResetUserMfa(_) => "reset_user_mfa",
        Action::EnableUserMfa(_) => "enable_user_mfa",
        Action::DisableUserMfa(_) => "disable_user_mfa",
        Action::DeactivateUser(_) => "deactivate_user",
        Action::ReactivateUser(_) => "reactivate_user",
        _ => "invite_user",
    }
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

/// What an audited decision writes.
struct Written<'a> {
    change: &'a Option<Change>,
    /// The caller's new password hash (an allowed password change).
    password: Option<&'a str>,
    /// A user deactivated (false) or reactivated (true).
    activation: Option<(&'a User, bool)>,
    /// A user's new invitation.
    invitation: Option<(&'a User, &'a crate::store::NewInvitation)>,
    sessions: SessionEffect,
    audit: AuditRecord,
    decision_id: &'a str,
    /// The target id named nobody (audited as outside the organization).
    unknown_target: bool,
    /// The caller's session, when the decision allowed its use.
    session_use: Option<SessionUse<'a>>,
}

/// Commits an audited decision in one transaction: its change (if
/// allowed), its audit rows, the session's use and what it does to other
/// sessions, if the users and organizations it read are unchanged.
async fn commit_decision(
    state: &AppState,
    caller: &Caller,
    read_users: &[&StoredUser],
    written: Written<'_>,
) -> Result<(), ApiError> {
    let (user, organization) = match written.change {
        Some(Change::User(c)) => (Some((&c.user, &c.authenticator)), None),
        Some(Change::Organization(o)) => (None, Some(o)),
        None => (None, None),
    };
    let audit = audit_rows(
        written.audit,
        written.decision_id,
        &caller.user.user.organization.id,
        read_users.get(1).map(|u| u.user.organization.id.as_str()),
        written.unknown_target,
    );
    state
        .store
        .commit(Commit {
            read_users: read_users
                .iter()
                .map(|u| (u.user.id.as_str(), u.version))
                .collect(),
            read_organizations: organizations_read(read_users),
            user,
            organization,
            password: written.password.map(|hash| (&caller.user.user, hash)),
            activation: written.activation,
            invitation: written.invitation,
            audit,
            session: written.session_use,
            sessions_change: sessions_change(
                written.sessions,
                written.change,
                written.activation.map(|(u, _)| u),
                caller,
            ),
            case: None,
            events: Vec::new(),
        })
        .await?;
    Ok(())
}

/// The organizations of the users a decision read, at their versions.
fn organizations_read<'a>(users: &[&'a StoredUser]) -> Vec<(&'a str, i64)> {
    let mut read: Vec<(&str, i64)> = users
        .iter()
        .map(|u| (u.user.organization.id.as_str(), u.organization_version))
        .collect();
    read.dedup_by_key(|(id, _)| *id);
    read
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

/// The component decides `request` (on the blocking pool); the decision
/// goes to the log and, if configured, the decision log.
async fn decide_and_log(
    state: &AppState,
    request: Request,
    decision_id: &str,
    unknown_target: bool,
) -> Result<Outcome, ApiError> {
    let started = Instant::now();
    let (request, outcome) = state
        .engine_call(move |engine| {
            let outcome = engine.decide(&request);
            (request, outcome)
        })
        .await?;
    let outcome = outcome?;
    log_decision(
        state,
        &request,
        &outcome,
        decision_id,
        started,
        unknown_target,
    );
    Ok(outcome)
}

/// An allowed read used the session: its last activity moves, at most
/// once per `activity_interval` (a write per read would be the cost).
async fn touch_session(
    state: &AppState,
    caller: &Caller,
    used: Option<SessionUse<'_>>,
) -> Result<(), ApiError> {
    let interval = i64::try_from(state.config.activity_interval.as_millis()).unwrap_or(i64::MAX);
    if let Some(used) = used
        && used.at.saturating_sub(caller.session.last_activity_at) >= interval
    {
        state.store.touch_session(used.token_hash, used.at).await?;
    }
    Ok(())
}

/// What an allowed change does to other sessions (the engine's
/// `SessionEffect`), bound to the rows it applies to.
fn sessions_change<'a>(
    effect: SessionEffect,
    change: &'a Option<Change>,
    deactivated: Option<&'a User>,
    caller: &'a Caller,
) -> Option<SessionsChange<'a>> {
    match (effect, change) {
        // A deactivation: every session of the user ends.
        (SessionEffect::EndSessionsOfUser, None) => {
            deactivated.map(|u| SessionsChange::EndAll { user: &u.id })
        }
        (SessionEffect::EndOtherSessionsOfUser, Some(Change::User(c))) => {
            Some(SessionsChange::EndOthers {
                user: &c.user.id,
                keep: &caller.session.token_hash,
            })
        }
        (SessionEffect::EndSessionsOfUser, Some(Change::User(c))) => {
            Some(SessionsChange::EndAll { user: &c.user.id })
        }
        // A password change: the caller's own other sessions end.
        (SessionEffect::EndOtherSessionsOfUser, None) => Some(SessionsChange::EndOthers {
            user: &caller.user.user.id,
            keep: &caller.session.token_hash,
        }),
        (SessionEffect::RequireMfaInOrganization, Some(Change::Organization(org))) => {
            Some(SessionsChange::RequireMfa {
                organization: &org.id,
            })
        }
        _ => None,
    }
}

fn log_decision(
    state: &AppState,
    request: &Request,
    outcome: &Outcome,
    decision_id: &str,
    started: Instant,
    unknown_target: bool,
) {
    let elapsed = started.elapsed().as_secs_f64();
    let action = request.action.cedar_name();
    let d = &outcome.decision;
    state
        .metrics
        .decision(action, d.allowed, d.denial_code.as_deref(), elapsed);
    if let Some(log) = &state.decision_log {
        log.record(|| {
            // A listing's decision depends on the organization, not on its
            // users: the log keeps the request without them (uncopied).
            let mut request = Request {
                action: match &request.action {
                    Action::ListUsers(_) => Action::ListUsers(Vec::new()),
                    other => other.clone(),
                },
                actor: request.actor.clone(),
                session: request.session,
                now: request.now,
            };
            // An id that names no user is the caller's free text: kept as
            // unknown, like the audit log (the policies see its organization).
            if let Action::ResetUserMfa(u) | Action::EnableUserMfa(u) | Action::DisableUserMfa(u) =
                &mut request.action
                && unknown_target
            {
                u.id = "(unknown)".into();
            }
            RecordedDecision {
                id: decision_id.to_string(),
                at: millis(request.now),
                action: action.to_string(),
                actor: request.actor.id.clone(),
                organization: request.actor.organization.id.clone(),
                allowed: d.allowed,
                denial_code: d.denial_code.clone(),
                policy_revision: outcome.policy_revision.clone(),
                request: Some(request),
            }
        });
    }
    tracing::info!(
        decision_id,
        actor = %Shown(&request.actor.id),
        organization = %Shown(&request.actor.organization.id),
        action,
        allowed = d.allowed,
        denial_code = d.denial_code.as_deref().unwrap_or(""),
        policy_ids = %d.policy_ids.join(","),
        policy_revision = %outcome.policy_revision,
        micros = (elapsed * 1e6) as u64,
        "decision"
    );
}

/// Whole seconds until `until`, rounded up (a `Retry-After` that is never
/// too early), at least 1.
pub fn seconds_until(until: OffsetDateTime, now: OffsetDateTime) -> i64 {
    let ms = (until - now).whole_milliseconds();
    i64::try_from((ms + 999).div_euclid(1000))
        .unwrap_or(i64::MAX)
        .max(1)
}
