//! Shape checks on a request: that it is well-formed and self-consistent.
//! Permissions are never decided here; Cedar decides them.

use crate::cedar_request::{RequestBuilder, datetime};
use crate::mfa_reset::engine::types::{Action, Organization, Request, RequestError, Session, User};

pub fn error(field: impl Into<String>, message: impl Into<String>) -> RequestError {
    RequestError {
        field: field.into(),
        message: message.into(),
    }
}

pub fn check(request: &Request, names: &RequestBuilder) -> Result<(), RequestError> {
    check_user("actor", &request.actor)?;
    check_session(&request.session, request.now)?;
    match &request.action {
        Action::ResetUserMfa(target)
        | Action::EnableUserMfa(target)
        | Action::DisableUserMfa(target)
        | Action::DeactivateUser(target)
        | Action::ReactivateUser(target)
        | Action::InviteUser(target) => {
            let field = format!("action.{}", variant_name(&request.action));
            check_user(&field, target)?;
            check_consistent(&field, target, &request.actor)?;
        }
        Action::ListUsers(users) => {
            let mut seen = std::collections::HashSet::new();
            for (i, user) in users.iter().enumerate() {
                let field = format!("action.list-users[{i}]");
                check_user(&field, user)?;
                if user.organization.id != request.actor.organization.id {
                    return Err(error(
                        format!("{field}.organization.id"),
                        format!(
                            "`{}` is not the caller's organization `{}`: list the caller's organization only",
                            user.organization.id, request.actor.organization.id
                        ),
                    ));
                }
                check_consistent(&field, user, &request.actor)?;
                if !seen.insert(user.id.as_str()) {
                    return Err(error(
                        format!("{field}.id"),
                        format!("user `{}` is listed twice", user.id),
                    ));
                }
            }
        }
        Action::AccessRoute(name) => {
            if !names.is_route_action(name) {
                return Err(error(
                    "action.access-route",
                    format!(
                        "`{name}` is not an action of the schema's `console_routes` or `support_desk` group"
                    ),
                ));
            }
        }
        Action::ResetOwnMfa
        | Action::EnableOwnMfa
        | Action::DisableOwnMfa
        | Action::SetEnforcement(_)
        | Action::ViewOwnSession
        | Action::ChangeOwnPassword => {}
    }
    Ok(())
}

/// Times must be representable and in order: login, last activity, now.
pub fn check_session(session: &Session, now: i64) -> Result<(), RequestError> {
    for (field, value) in [
        ("now", now),
        ("session.login-at", session.login_at),
        ("session.last-activity-at", session.last_activity_at),
    ] {
        datetime(value).map_err(|e| error(field, e))?;
    }
    if session.last_activity_at < session.login_at {
        return Err(error(
            "session.last-activity-at",
            "is before the session's login: a session has no activity before its login",
        ));
    }
    if now < session.last_activity_at {
        return Err(error(
            "now",
            "is before the session's last activity: a request cannot precede it",
        ));
    }
    Ok(())
}

fn variant_name(action: &Action) -> &'static str {
    match action {
        Action::ResetUserMfa(_) => "reset-user-mfa",
        Action::EnableUserMfa(_) => "enable-user-mfa",
        Action::DisableUserMfa(_) => "disable-user-mfa",
        Action::DeactivateUser(_) => "deactivate-user",
        Action::ReactivateUser(_) => "reactivate-user",
        Action::InviteUser(_) => "invite-user",
        _ => "",
    }
}

pub fn check_user(field: &str, user: &User) -> Result<(), RequestError> {
    check_id(&format!("{field}.id"), &user.id)?;
    check_id(&format!("{field}.organization.id"), &user.organization.id)
}

pub fn check_id(field: &str, id: &str) -> Result<(), RequestError> {
    if id.trim().is_empty() {
        return Err(error(field, "must not be empty"));
    }
    if id.chars().any(char::is_control) {
        return Err(error(field, "must not contain control characters"));
    }
    Ok(())
}

/// Two records of one user, or of one organization, must agree.
fn check_consistent(field: &str, user: &User, actor: &User) -> Result<(), RequestError> {
    if user.id == actor.id && user != actor {
        return Err(error(
            field,
            format!(
                "user `{}` is the caller but its record differs from `actor`",
                user.id
            ),
        ));
    }
    check_same_organization(
        &format!("{field}.organization"),
        &user.organization,
        &actor.organization,
    )
}

fn check_same_organization(
    field: &str,
    org: &Organization,
    actor_org: &Organization,
) -> Result<(), RequestError> {
    if org.id == actor_org.id && org.enforce_mfa != actor_org.enforce_mfa {
        return Err(error(
            format!("{field}.enforce-mfa"),
            format!(
                "organization `{}` appears with two different enforcement values",
                org.id
            ),
        ));
    }
    Ok(())
}
