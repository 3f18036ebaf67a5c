//! The MFA state machine: the new state that an allowed action leads to, and
//! the confirmation the caller sees. Only runs after Cedar allowed.

use crate::mfa_reset::engine::types::{
    Action, Authenticator, Change, MfaStatus, Organization, Request, Role, SessionEffect, User,
    UserChange, UserStatus,
};

/// What an allowed request changes.
pub struct Applied {
    pub message: String,
    pub change: Option<Change>,
    pub users: Vec<UserStatus>,
    pub sessions: SessionEffect,
}

impl Applied {
    /// An answer that changes nothing (a read), with the users it lists.
    fn read(message: String, users: Vec<UserStatus>) -> Self {
        Self {
            message,
            change: None,
            users,
            sessions: SessionEffect::None,
        }
    }

    /// Every change of a user's MFA starts the authenticator afresh: no
    /// key, no counters (a reset also lifts a lockout). Sessions
    /// authenticated under the old state end: all of them when someone else
    /// made the change, all but the caller's own when the user did.
    fn user(user: &User, by_self: bool, mfa: MfaStatus, message: String) -> Self {
        let change = UserChange {
            user: User {
                mfa,
                ..user.clone()
            },
            authenticator: fresh_authenticator(),
        };
        Self {
            message,
            change: Some(Change::User(change)),
            users: Vec::new(),
            sessions: if by_self {
                SessionEffect::EndOtherSessionsOfUser
            } else {
                SessionEffect::EndSessionsOfUser
            },
        }
    }
}

/// No key, no counters, no lock, no recovery codes: the authenticator after
/// any change of a user's MFA (a reset also lifts a lockout, and voids the
/// recovery codes, R15).
pub fn fresh_authenticator() -> Authenticator {
    Authenticator {
        pending: None,
        active: None,
        last_accepted_step: None,
        failures: 0,
        locked_until: None,
        recovery_codes: None,
    }
}

/// What the next login demands of `user`: enforcement makes MFA mandatory
/// for everybody in the organization (R5).
pub fn effective_mfa(user: &User) -> MfaStatus {
    match user.mfa {
        // R14: MFA is always required of support agents.
        MfaStatus::Off if user.role == Role::SupportAgent => MfaStatus::EnrolmentDue,
        MfaStatus::Off if user.organization.enforce_mfa => MfaStatus::EnrolmentDue,
        status => status,
    }
}

/// What an allowed `request` changes, and the message its caller reads.
pub fn apply(request: &Request) -> Applied {
    let actor = &request.actor;
    match &request.action {
        // R6: the authenticator goes, MFA stays required, enrolment is due.
        Action::ResetOwnMfa => Applied::user(
            actor,
            true,
            MfaStatus::EnrolmentDue,
            "Your MFA has been reset. At your next login you will set up a new authenticator app."
                .into(),
        ),
        // R9.
        Action::ResetUserMfa(target) => Applied::user(
            target,
            false,
            MfaStatus::EnrolmentDue,
            format!(
                "The MFA of `{}` has been reset. They will set up a new authenticator app at their next login.",
                target.id
            ),
        ),
        // R2: enabling means enrolling at the next login.
        Action::EnableOwnMfa => Applied::user(
            actor,
            true,
            MfaStatus::EnrolmentDue,
            "MFA is on. At your next login you will set up an authenticator app.".into(),
        ),
        // R4.
        Action::EnableUserMfa(target) => Applied::user(
            target,
            false,
            MfaStatus::EnrolmentDue,
            format!(
                "MFA is on for `{}`. They will set up an authenticator app at their next login.",
                target.id
            ),
        ),
        // R2, R3: login reverts to password only.
        Action::DisableOwnMfa => Applied::user(
            actor,
            true,
            MfaStatus::Off,
            "MFA is off. You will log in with your password only.".into(),
        ),
        Action::DisableUserMfa(target) => Applied::user(
            target,
            false,
            MfaStatus::Off,
            format!(
                "MFA is off for `{}`. They will log in with their password only.",
                target.id
            ),
        ),
        // R5: users keep their own setting; the effect of enforcement shows
        // in `effective_mfa` at their next login.
        Action::SetEnforcement(enforce) => enforcement(actor, *enforce),
        Action::ViewOwnSession => Applied::read("Your session.".into(), Vec::new()),
        // R13: a user's activation and invitations are the host's to
        // store; a deactivated user's sessions all end.
        Action::DeactivateUser(target) => Applied {
            sessions: SessionEffect::EndSessionsOfUser,
            ..Applied::read(
                format!(
                    "`{}` is deactivated: their sessions have ended and every request of theirs is refused.",
                    target.id
                ),
                Vec::new(),
            )
        },
        Action::ReactivateUser(target) => {
            Applied::read(format!("`{}` is active again.", target.id), Vec::new())
        }
        Action::InviteUser(target) => Applied::read(
            format!(
                "A new invitation for `{}`: send them the link; older invitations stop working.",
                target.id
            ),
            Vec::new(),
        ),
        // R13: the password is the host's to store; every other session of
        // the user, opened with the old password, ends.
        Action::ChangeOwnPassword => Applied {
            sessions: SessionEffect::EndOtherSessionsOfUser,
            ..Applied::read(
                "Your password has been changed. Your other sessions have ended.".into(),
                Vec::new(),
            )
        },
        Action::AccessRoute(name) => Applied::read(format!("`{name}` allowed."), Vec::new()),
        // R11.
        Action::ListUsers(users) => Applied::read(
            format!("{} users in `{}`.", users.len(), actor.organization.id),
            users
                .iter()
                .map(|u| UserStatus {
                    id: u.id.clone(),
                    role: u.role,
                    mfa: u.mfa,
                    effective_mfa: effective_mfa(u),
                    active: u.active,
                })
                .collect(),
        ),
    }
}

/// R5: the organization's switch set to `enforce`. Sessions that logged in
/// with a password only must then finish MFA before anything else.
fn enforcement(actor: &User, enforce: bool) -> Applied {
    let org = Organization {
        enforce_mfa: enforce,
        ..actor.organization.clone()
    };
    let message = if enforce {
        format!(
            "MFA is now enforced for all users of `{}`. Users without MFA will set it up at their next login.",
            org.id
        )
    } else {
        format!(
            "MFA is no longer enforced for `{}`. Users keep their MFA and may now turn it off.",
            org.id
        )
    };
    Applied {
        message,
        change: Some(Change::Organization(org)),
        users: Vec::new(),
        sessions: if enforce {
            SessionEffect::RequireMfaInOrganization
        } else {
            SessionEffect::None
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mfa_reset::engine::types::Session;

    fn user(id: &str, role: Role, mfa: MfaStatus, enforce: bool) -> User {
        User {
            id: id.into(),
            role,
            organization: Organization {
                id: "acme".into(),
                enforce_mfa: enforce,
            },
            mfa,
            active: true,
        }
    }

    fn request(actor: &User, action: Action) -> Request {
        Request {
            actor: actor.clone(),
            session: Session {
                login_at: 0,
                last_activity_at: 0,
                mfa_satisfied: true,
                recovery_code_login: false,
            },
            now: 0,
            action,
        }
    }

    #[test]
    fn r5_enforcement_makes_mfa_due_for_users_without_it() {
        assert_eq!(
            effective_mfa(&user("a", Role::Root, MfaStatus::Off, true)),
            MfaStatus::EnrolmentDue
        );
        assert_eq!(
            effective_mfa(&user("b", Role::SubUser, MfaStatus::Off, false)),
            MfaStatus::Off
        );
        assert_eq!(
            effective_mfa(&user("c", Role::SubUser, MfaStatus::Active, true)),
            MfaStatus::Active
        );
    }

    #[test]
    fn r6_r9_a_reset_empties_the_authenticator_and_ends_sessions() {
        let bob = user("bob", Role::SubUser, MfaStatus::Active, false);
        let ada = user("ada", Role::Root, MfaStatus::Active, false);
        for (actor, action, effect) in [
            (
                &bob,
                Action::ResetOwnMfa,
                SessionEffect::EndOtherSessionsOfUser,
            ),
            (
                &ada,
                Action::ResetUserMfa(bob.clone()),
                SessionEffect::EndSessionsOfUser,
            ),
        ] {
            let applied = apply(&request(actor, action));
            assert_eq!(applied.sessions, effect);
            let Some(Change::User(change)) = applied.change else {
                panic!("a user change");
            };
            assert_eq!(change.user.id, "bob");
            assert_eq!(change.user.mfa, MfaStatus::EnrolmentDue);
            assert!(
                change.authenticator.active.is_none() && change.authenticator.pending.is_none()
            );
        }
        let on = apply(&request(&ada, Action::SetEnforcement(true)));
        assert_eq!(on.sessions, SessionEffect::RequireMfaInOrganization);
        let off = apply(&request(&ada, Action::SetEnforcement(false)));
        assert_eq!(off.sessions, SessionEffect::None);
    }
}
