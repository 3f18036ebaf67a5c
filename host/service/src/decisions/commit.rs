//! Committing a decided action: its change, audit rows, the session's use
//! and what it does to other sessions, in one transaction.

use super::audit_rows::audit_rows;
use super::caller::Caller;
use crate::app::AppState;
use crate::error::ApiError;
use crate::store::{Commit, SessionUse, SessionsChange, StoredUser};
use mfa_reset::api::{AuditRecord, Change, SessionEffect, User};

/// What an audited decision writes.
pub(super) struct Written<'a> {
    pub change: &'a Option<Change>,
    /// The caller's new password hash (an allowed password change).
    pub password: Option<&'a str>,
    /// A user deactivated (false) or reactivated (true).
    pub activation: Option<(&'a User, bool)>,
    /// A user's new invitation.
    pub invitation: Option<(&'a User, &'a crate::store::NewInvitation)>,
    pub sessions: SessionEffect,
    pub audit: AuditRecord,
    pub decision_id: &'a str,
    /// The target id named nobody (audited as outside the organization).
    pub unknown_target: bool,
    /// The caller's session, when the decision allowed its use.
    pub session_use: Option<SessionUse<'a>>,
}

/// Commits an audited decision in one transaction: its change (if
/// allowed), its audit rows, the session's use and what it does to other
/// sessions, if the users and organizations it read are unchanged.
pub(super) async fn commit_decision(
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

/// An allowed read used the session: its last activity moves, at most
/// once per `activity_interval` (a write per read would be the cost).
pub(super) async fn touch_session(
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
