//! The outcome check against answers that break the contract.

use super::*;

/// [`super::check`] with the Cedar names of the actions used here.
fn check(request: &Request, outcome: &Outcome) -> Result<(), Fault> {
    let action = match &request.action {
        Action::ResetUserMfa(_) => "reset_user_mfa",
        Action::SetEnforcement(_) => "set_enforcement",
        Action::ListUsers(_) => "list_users",
        other => unreachable!("no test asks for {other:?}"),
    };
    super::check(request, outcome, action)
}
use crate::bindings::types::{
    AuditRecord, Authenticator, Decision, MfaStatus, Organization, Role, Session, User, UserChange,
    UserStatus,
};

/// An authenticator with no key, as every change leaves it.
fn no_authenticator() -> Authenticator {
    Authenticator {
        pending: None,
        active: None,
        last_accepted_step: None,
        failures: 0,
        locked_until: None,
        recovery_codes: None,
    }
}

fn user(id: &str, org: &str) -> User {
    User {
        id: id.into(),
        role: Role::SubUser,
        organization: Organization {
            id: org.into(),
            enforce_mfa: false,
        },
        mfa: MfaStatus::Active,
        active: true,
    }
}

fn request(action: Action) -> Request {
    Request {
        actor: User {
            role: Role::Root,
            ..user("ada", "acme")
        },
        session: Session {
            login_at: 0,
            last_activity_at: 0,
            mfa_satisfied: true,
            recovery_code_login: false,
        },
        now: 1_000,
        action,
    }
}

/// The allowed reset of bob by ada, as the real component answers it.
fn allowed_reset() -> (Request, Outcome) {
    let bob = user("bob", "acme");
    let request = request(Action::ResetUserMfa(bob.clone()));
    let ids = vec!["root-manages-sub-users".to_string()];
    let outcome = Outcome {
        decision: Decision {
            allowed: true,
            policy_ids: ids.clone(),
            denial_code: None,
            message: "reset".into(),
            errors: Vec::new(),
        },
        change: Some(Change::User(UserChange {
            user: User {
                mfa: MfaStatus::EnrolmentDue,
                ..bob
            },
            authenticator: no_authenticator(),
        })),
        sessions: SessionEffect::EndSessionsOfUser,
        users: Vec::new(),
        audit: Some(AuditRecord {
            at: 1_000,
            actor: "ada".into(),
            organization: "acme".into(),
            action: "reset_user_mfa".into(),
            target: "bob".into(),
            allowed: true,
            policy_ids: ids,
            denial_code: None,
        }),
    };
    (request, outcome)
}

fn refused(request: &Request, outcome: &Outcome, why: &str) {
    let err = check(request, outcome).expect_err(why);
    assert!(err.to_string().contains(why), "{err}");
}

#[test]
fn a_consistent_answer_passes() {
    let (request, outcome) = allowed_reset();
    check(&request, &outcome).unwrap();
}

#[test]
fn an_allow_must_be_made_by_a_policy_and_carry_no_denial_code() {
    let (request, mut outcome) = allowed_reset();
    outcome.decision.policy_ids.clear();
    refused(&request, &outcome, "no policy made");
    let (request, mut outcome) = allowed_reset();
    outcome.decision.denial_code = Some("not-root".into());
    refused(&request, &outcome, "denial code");
}

#[test]
fn a_denial_changes_nothing() {
    let (request, mut outcome) = allowed_reset();
    outcome.decision.allowed = false;
    outcome.decision.denial_code = Some("not-root".into());
    refused(&request, &outcome, "a denial that changes state");
}

#[test]
fn a_change_must_be_of_the_user_the_request_names() {
    for (id, org) in [("carol", "acme"), ("bob", "globex")] {
        let (request, mut outcome) = allowed_reset();
        if let Some(Change::User(changed)) = &mut outcome.change {
            changed.user.id = id.into();
            changed.user.organization.id = org.into();
        }
        refused(&request, &outcome, "for a request about `bob`");
    }
    let (request, mut outcome) = allowed_reset();
    if let Some(Change::User(changed)) = &mut outcome.change {
        changed.user.role = Role::Root;
    }
    refused(&request, &outcome, "for a request about `bob`");
    let (request, mut outcome) = allowed_reset();
    outcome.change = Some(Change::Organization(Organization {
        id: "acme".into(),
        enforce_mfa: false,
    }));
    refused(&request, &outcome, "without the user's new state");
}

#[test]
fn a_change_must_be_the_one_the_action_means() {
    let (request, mut outcome) = allowed_reset();
    if let Some(Change::User(changed)) = &mut outcome.change {
        changed.user.mfa = MfaStatus::Active;
    }
    refused(&request, &outcome, "leading to MFA");
    let (request, mut outcome) = allowed_reset();
    if let Some(Change::User(changed)) = &mut outcome.change {
        changed.authenticator.active = Some(crate::bindings::types::TotpKey {
            secret: vec![7; 20],
            digits: 6,
            period: 30,
        });
    }
    refused(&request, &outcome, "plants an authenticator");
    let (request, mut outcome) = allowed_reset();
    outcome.sessions = SessionEffect::None;
    refused(&request, &outcome, "session effect");
    let (request, mut outcome) = allowed_reset();
    outcome.change = None;
    outcome.sessions = SessionEffect::None;
    refused(&request, &outcome, "without the user's new state");
}

#[test]
fn r15_a_reset_that_keeps_recovery_codes_is_refused() {
    // Codes never outlive a reset: whatever the component answers.
    let (request, mut outcome) = allowed_reset();
    if let Some(Change::User(changed)) = &mut outcome.change {
        changed.authenticator.recovery_codes = Some(crate::bindings::types::RecoveryCodeHashes {
            key: vec![1; 32],
            hashes: vec![vec![2; 32]],
        });
    }
    refused(&request, &outcome, "plants an authenticator");
}

#[test]
fn enforcement_changes_only_the_callers_organization_as_asked() {
    let request = request(Action::SetEnforcement(true));
    let (_, mut outcome) = allowed_reset();
    outcome.sessions = SessionEffect::RequireMfaInOrganization;
    let audit = outcome.audit.as_mut().unwrap();
    audit.target = "acme".into();
    audit.action = "set_enforcement".into();
    for (org, on) in [("acme", true), ("globex", true), ("acme", false)] {
        outcome.change = Some(Change::Organization(Organization {
            id: org.into(),
            enforce_mfa: on,
        }));
        let result = check(&request, &outcome);
        assert_eq!(
            result.is_ok(),
            org == "acme" && on,
            "{org} {on}: {result:?}"
        );
    }
}

#[test]
fn the_audit_record_must_be_of_this_request_and_decision() {
    type Edit = fn(&mut AuditRecord);
    let edits: [(&str, Edit); 6] = [
        ("action", |a| a.action = "enable_user_mfa".into()),
        ("actor", |a| a.actor = "mallory".into()),
        ("organization", |a| a.organization = "globex".into()),
        ("target", |a| a.target = "carol".into()),
        ("time", |a| a.at = 999),
        ("allowed", |a| a.allowed = false),
    ];
    for (what, edit) in edits {
        let (request, mut outcome) = allowed_reset();
        edit(outcome.audit.as_mut().unwrap());
        assert!(check(&request, &outcome).is_err(), "a wrong {what} passed");
    }
    let (request, mut outcome) = allowed_reset();
    outcome.audit = None;
    refused(&request, &outcome, "without its audit record");
}

/// R13: only operators and identity providers (de)activate users; an
/// MFA change that also flips `active` is not the engine's to make.
#[test]
fn an_mfa_change_never_deactivates_or_reactivates_its_user() {
    let (request, mut outcome) = allowed_reset();
    if let Some(Change::User(change)) = outcome.change.as_mut() {
        change.user.active = false;
    }
    assert!(matches!(
        check(&request, &outcome),
        Err(Fault::Activation { active: false, .. })
    ));
}

#[test]
fn a_listing_holds_only_users_of_the_request_and_reads_change_nothing() {
    let acme_bob = user("bob", "acme");
    let request = request(Action::ListUsers(vec![acme_bob]));
    let status = |id: &str| UserStatus {
        id: id.into(),
        role: Role::SubUser,
        mfa: MfaStatus::Active,
        effective_mfa: MfaStatus::Active,
        active: true,
    };
    let (_, mut outcome) = allowed_reset();
    outcome.change = None;
    outcome.sessions = SessionEffect::None;
    outcome.audit = None;
    outcome.users = vec![status("bob")];
    check(&request, &outcome).unwrap();
    outcome.users.push(status("gina"));
    refused(&request, &outcome, "`gina` in the listing");
    outcome.users.pop();
    outcome.change = Some(Change::User(UserChange {
        user: user("bob", "acme"),
        authenticator: no_authenticator(),
    }));
    refused(&request, &outcome, "changes nothing");
    outcome.change = None;
    outcome.users[0].effective_mfa = MfaStatus::Off;
    refused(&request, &outcome, "as stored");
}

/// A listing's check looks at each listed user a bounded number of times:
/// once when the listing fits, at most three times when it holds a
/// stranger (a set of the request's users, then one pass). Counted, not
/// timed: 10 times the users is 10 times the steps.
#[test]
fn a_listings_check_is_linear_in_the_number_of_users() {
    let steps_for = |n: usize, stranger: bool| {
        let users: Vec<User> = (0..n).map(|i| user(&format!("u{i}"), "acme")).collect();
        let request = request(Action::ListUsers(users.clone()));
        let (_, mut outcome) = allowed_reset();
        outcome.change = None;
        outcome.sessions = SessionEffect::None;
        outcome.audit = None;
        outcome.users = users
            .iter()
            .map(|u| UserStatus {
                id: u.id.clone(),
                role: u.role,
                mfa: u.mfa,
                effective_mfa: effective_mfa(u),
                active: u.active,
            })
            .collect();
        if stranger {
            outcome.users.last_mut().unwrap().id = "stranger".into();
        }
        super::LISTING_STEPS.with(|s| s.set(0));
        let result = check(&request, &outcome);
        assert_eq!(result.is_ok(), !stranger);
        super::LISTING_STEPS.with(|s| s.get())
    };
    for n in [1_000, 10_000] {
        assert_eq!(steps_for(n, false), n, "a listing that fits, {n} users");
        assert!(
            steps_for(n, true) <= 3 * n,
            "a listing with a stranger, {n} users"
        );
    }
    assert!(steps_for(10_000, true) <= 10 * steps_for(1_000, true));
}
