//! R1–R12 through the real component: decisions, deciding policies, new
//! state and audit records for typed requests.

use crate::common;

use common::*;
use mfa_reset::{Action, Change, MfaStatus, Role, Session, SessionEffect, User};

fn changed(user: User) -> Change {
    Change::User(mfa_reset::UserChange {
        user,
        authenticator: Default::default(),
    })
}
use time::Duration;

#[test]
fn r1_a_user_record_defaults_to_mfa_off() {
    assert_eq!(MfaStatus::default(), MfaStatus::Off);
}

#[test]
fn r2_turning_own_mfa_on_makes_enrolment_due() {
    let acme = org("acme", false);
    let dave = user("dave", Role::SubUser, &acme, MfaStatus::Off);
    let outcome = decide(&request(&dave, Action::EnableOwnMfa));
    assert_allowed(&outcome, &["self-service"]);
    assert_eq!(
        outcome.change,
        Some(changed(user(
            "dave",
            Role::SubUser,
            &acme,
            MfaStatus::EnrolmentDue
        )))
    );
}

#[test]
fn r2_r3_turning_own_mfa_off_reverts_to_password_only() {
    let acme = org("acme", false);
    let outcome = decide(&request(&sub("bob", &acme), Action::DisableOwnMfa));
    assert_allowed(&outcome, &["self-service"]);
    assert_eq!(
        outcome.change,
        Some(changed(user("bob", Role::SubUser, &acme, MfaStatus::Off)))
    );
    assert!(outcome.decision.message.contains("password only"));
}

#[test]
fn r2_turning_on_mfa_that_is_on_is_refused() {
    let outcome = decide(&request(
        &sub("bob", &org("acme", false)),
        Action::EnableOwnMfa,
    ));
    assert_denied(&outcome, "mfa-already-enabled", "enable-needs-mfa-off");
}

#[test]
fn r2_own_mfa_cannot_change_from_an_expired_session() {
    let mut req = request(&sub("bob", &org("acme", false)), Action::DisableOwnMfa);
    req.session = session(Duration::days(40), Duration::days(31));
    assert_denied(&decide(&req), "session-expired", "session-idle-limit");
}

#[test]
fn r4_root_turns_a_sub_users_mfa_on_and_off() {
    let acme = org("acme", false);
    let dave = user("dave", Role::SubUser, &acme, MfaStatus::Off);
    let on = decide(&request(
        &root("ada", &acme),
        Action::EnableUserMfa(dave.clone()),
    ));
    assert_allowed(&on, &["root-manages-sub-users"]);
    assert_eq!(
        on.change,
        Some(changed(User {
            mfa: MfaStatus::EnrolmentDue,
            ..dave
        }))
    );

    let bob = sub("bob", &acme);
    let off = decide(&request(
        &root("ada", &acme),
        Action::DisableUserMfa(bob.clone()),
    ));
    assert_allowed(&off, &["root-manages-sub-users"]);
    assert_eq!(
        off.change,
        Some(changed(User {
            mfa: MfaStatus::Off,
            ..bob
        }))
    );
}

#[test]
fn r4_a_sub_user_cannot_switch_another_users_mfa() {
    let acme = org("acme", false);
    let dave = user("dave", Role::SubUser, &acme, MfaStatus::Off);
    let outcome = decide(&request(&sub("bob", &acme), Action::EnableUserMfa(dave)));
    assert_denied(&outcome, "not-root", "administration-is-root-only");
}

#[test]
fn r4_root_of_another_organization_cannot_switch_mfa() {
    let outcome = decide(&request(
        &root("gus", &org("globex", false)),
        Action::DisableUserMfa(sub("bob", &org("acme", false))),
    ));
    assert_denied(
        &outcome,
        "other-organization",
        "users-of-own-organization-only",
    );
}

#[test]
fn r5_root_switches_enforcement_on_and_off() {
    let acme = org("acme", false);
    let on = decide(&request(&root("ada", &acme), Action::SetEnforcement(true)));
    assert_allowed(&on, &["root-administers-organization"]);
    assert_eq!(on.change, Some(Change::Organization(org("acme", true))));

    let enforced = org("acme", true);
    let off = decide(&request(
        &root("ada", &enforced),
        Action::SetEnforcement(false),
    ));
    assert_allowed(&off, &["root-administers-organization"]);
    assert_eq!(off.change, Some(Change::Organization(org("acme", false))));
}

#[test]
fn r5_a_sub_user_cannot_switch_enforcement() {
    let outcome = decide(&request(
        &sub("bob", &org("acme", false)),
        Action::SetEnforcement(true),
    ));
    assert_denied(&outcome, "not-root", "administration-is-root-only");
}

#[test]
fn r5_nobody_turns_mfa_off_under_enforcement_not_even_the_root() {
    let initech = org("initech", true);
    let own = decide(&request(&root("ivy", &initech), Action::DisableOwnMfa));
    assert_denied(&own, "enforced-by-organization", "enforced-mfa-stays-on");
    let by_root = decide(&request(
        &root("ivy", &initech),
        Action::DisableUserMfa(sub("ian", &initech)),
    ));
    assert_denied(
        &by_root,
        "enforced-by-organization",
        "enforced-mfa-stays-on",
    );
    assert!(by_root.decision.message.contains("enforces MFA"));
}

#[test]
fn r5_under_enforcement_users_without_mfa_must_enrol() {
    let initech = org("initech", true);
    let iris = user("iris", Role::SubUser, &initech, MfaStatus::Off);
    let users = vec![root("ivy", &initech), iris.clone(), sub("ian", &initech)];
    let outcome = decide(&request(&root("ivy", &initech), Action::ListUsers(users)));
    assert_allowed(&outcome, &["root-administers-organization"]);
    let iris_status = outcome
        .users
        .iter()
        .find(|u| u.id == "iris")
        .expect("iris is listed");
    assert_eq!(iris_status.mfa, MfaStatus::Off);
    assert_eq!(iris_status.effective_mfa, MfaStatus::EnrolmentDue);

    // And her MFA, mandatory now, can be reset although she never enrolled.
    let reset = decide(&request(&root("ivy", &initech), Action::ResetUserMfa(iris)));
    assert_allowed(&reset, &["root-manages-sub-users"]);
}

#[test]
fn r6_self_reset_removes_the_authenticator_and_keeps_mfa_required() {
    let acme = org("acme", false);
    let outcome = decide(&request(&sub("bob", &acme), Action::ResetOwnMfa));
    assert_allowed(&outcome, &["self-service"]);
    assert_eq!(
        outcome.change,
        Some(changed(user(
            "bob",
            Role::SubUser,
            &acme,
            MfaStatus::EnrolmentDue
        )))
    );
    assert!(
        outcome.decision.message.contains("has been reset"),
        "a confirmation: {}",
        outcome.decision.message
    );
}

#[test]
fn r6_reset_of_an_account_without_mfa_is_a_clear_error() {
    let dave = user("dave", Role::SubUser, &org("acme", false), MfaStatus::Off);
    let outcome = decide(&request(&dave, Action::ResetOwnMfa));
    assert_denied(&outcome, "mfa-not-enabled", "reset-needs-mfa");
    assert!(outcome.decision.message.contains("not enabled"));
}

#[test]
fn r7_idle_limit_is_thirty_days_to_the_second() {
    let bob = sub("bob", &org("acme", false));
    let thirty_days = Duration::days(30);
    let mut req = request(&bob, Action::ResetOwnMfa);

    req.session = session(
        thirty_days - Duration::SECOND,
        thirty_days - Duration::SECOND,
    );
    assert_allowed(&decide(&req), &["self-service"]);

    req.session = session(
        thirty_days + Duration::SECOND,
        thirty_days + Duration::SECOND,
    );
    assert_denied(&decide(&req), "session-expired", "session-idle-limit");
}

/// R7, R12: times keep their milliseconds end to end: a session 1 ms short
/// of 30 days idle is still active, the audit record's time keeps the
/// milliseconds, and at exactly 30 days the session has expired.
#[test]
fn r7_limits_hold_to_the_millisecond_and_audit_times_keep_them() {
    let bob = user("bob", Role::SubUser, &org("acme", false), MfaStatus::Off);
    let thirty_days = Duration::days(30);
    let ms = Duration::milliseconds(1);
    let mut req = request(&bob, Action::EnableOwnMfa);
    req.now += Duration::milliseconds(123);
    req.session = Session {
        login_at: req.now - thirty_days + ms,
        last_activity_at: req.now - thirty_days + ms,
        mfa_satisfied: true,
        recovery_code_login: false,
    };
    let outcome = decide(&req);
    assert!(
        outcome.decision.allowed,
        "1 ms short of 30 days: {:?}",
        outcome.decision
    );
    let at = outcome.audit.expect("audited").at;
    assert_eq!(at, req.now, "the audit time keeps its milliseconds");
    assert_eq!(at.millisecond(), 123);

    req.session.last_activity_at = req.now - thirty_days;
    req.session.login_at = req.session.last_activity_at;
    assert_denied(&decide(&req), "session-expired", "session-idle-limit");
}

/// R5, R6, R9: each allowed change says what it means for sessions (the
/// host ends them or sends them back to MFA).
#[test]
fn r5_r6_r9_changes_say_which_sessions_end() {
    let acme = org("acme", false);
    let (ada, bob) = (root("ada", &acme), sub("bob", &acme));
    for (actor, action, effect) in [
        (
            &bob,
            Action::ResetOwnMfa,
            SessionEffect::EndOtherSessionsOfUser,
        ),
        (
            &bob,
            Action::DisableOwnMfa,
            SessionEffect::EndOtherSessionsOfUser,
        ),
        (
            &ada,
            Action::ResetUserMfa(bob.clone()),
            SessionEffect::EndSessionsOfUser,
        ),
        (
            &ada,
            Action::DisableUserMfa(bob.clone()),
            SessionEffect::EndSessionsOfUser,
        ),
        (
            &ada,
            Action::SetEnforcement(true),
            SessionEffect::RequireMfaInOrganization,
        ),
        (&ada, Action::SetEnforcement(false), SessionEffect::None),
        (
            &ada,
            Action::AccessRoute("access_console".into()),
            SessionEffect::None,
        ),
    ] {
        let outcome = decide(&request(actor, action.clone()));
        assert!(outcome.decision.allowed, "{action:?}");
        assert_eq!(outcome.sessions, effect, "{action:?}");
    }
    let off = user("dave", Role::SubUser, &acme, MfaStatus::Off);
    let outcome = decide(&request(&off, Action::EnableOwnMfa));
    assert_eq!(outcome.sessions, SessionEffect::EndOtherSessionsOfUser);
    // A denial ends nothing.
    let outcome = decide(&request(&bob, Action::ResetUserMfa(ada.clone())));
    assert_eq!(outcome.sessions, SessionEffect::None);
}

#[test]
fn r7_absolute_lifetime_ends_an_active_session() {
    let bob = sub("bob", &org("acme", false));
    let mut req = request(&bob, Action::ResetOwnMfa);
    req.session = session(Duration::days(30) + Duration::SECOND, Duration::minutes(5));
    let outcome = decide(&req);
    assert_denied(&outcome, "session-expired", "session-absolute-limit");
    assert_eq!(
        outcome.decision.policy_ids,
        ["session-absolute-limit"],
        "the idle limit is not the reason"
    );

    req.session = session(Duration::days(30) - Duration::SECOND, Duration::minutes(5));
    assert_allowed(&decide(&req), &["self-service"]);
}

#[test]
fn r8_expired_session_denial_points_to_the_configured_support_url() {
    let engine = builder().build().expect("engine");
    let mut policies = engine.default_policies().expect("defaults");
    policies.support_url = "https://help.acme.test/mfa-locked-out".into();
    engine.load_policies(&policies).expect("valid");

    let mut req = request(&sub("bob", &org("acme", false)), Action::ResetOwnMfa);
    req.session = session(Duration::days(45), Duration::days(31));
    let outcome = engine.decide(&req).expect("decision");
    assert_denied(&outcome, "session-expired", "session-idle-limit");
    assert!(
        outcome
            .decision
            .message
            .contains("https://help.acme.test/mfa-locked-out"),
        "{}",
        outcome.decision.message
    );
}

#[test]
fn r9_root_resets_a_sub_user_of_its_organization() {
    let acme = org("acme", false);
    let carol = sub("carol", &acme);
    let outcome = decide(&request(
        &root("ada", &acme),
        Action::ResetUserMfa(carol.clone()),
    ));
    assert_allowed(&outcome, &["root-manages-sub-users"]);
    assert_eq!(
        outcome.change,
        Some(changed(User {
            mfa: MfaStatus::EnrolmentDue,
            ..carol
        }))
    );
}

#[test]
fn r9_root_of_organization_a_cannot_reset_a_sub_user_of_organization_b() {
    let outcome = decide(&request(
        &root("gus", &org("globex", false)),
        Action::ResetUserMfa(sub("carol", &org("acme", false))),
    ));
    assert_denied(
        &outcome,
        "other-organization",
        "users-of-own-organization-only",
    );
}

#[test]
fn r9_a_sub_user_never_resets_anyone_else() {
    let acme = org("acme", false);
    let on_sub = decide(&request(
        &sub("bob", &acme),
        Action::ResetUserMfa(sub("carol", &acme)),
    ));
    assert_denied(&on_sub, "not-root", "administration-is-root-only");
    let on_root = decide(&request(
        &sub("bob", &acme),
        Action::ResetUserMfa(root("ada", &acme)),
    ));
    assert_denied(&on_root, "not-root", "administration-is-root-only");
    assert!(
        on_root
            .decision
            .policy_ids
            .contains(&"sub-users-only".to_string())
    );
}

#[test]
fn r9_root_cannot_use_the_sub_user_reset_on_itself() {
    let acme = org("acme", false);
    let ada = root("ada", &acme);
    let outcome = decide(&request(&ada, Action::ResetUserMfa(ada.clone())));
    assert_denied(&outcome, "not-sub-user", "sub-users-only");
}

#[test]
fn r9_root_needs_an_active_session_of_its_own() {
    let acme = org("acme", false);
    let mut req = request(&root("ada", &acme), Action::ResetUserMfa(sub("bob", &acme)));
    req.session = session(Duration::days(31), Duration::days(30) + Duration::SECOND);
    assert_denied(&decide(&req), "session-expired", "session-idle-limit");
}

#[test]
fn r10_under_enforcement_a_sub_user_may_reset_but_not_disable() {
    let initech = org("initech", true);
    let ian = sub("ian", &initech);
    assert_allowed(
        &decide(&request(&ian, Action::ResetOwnMfa)),
        &["self-service"],
    );
    assert_denied(
        &decide(&request(&ian, Action::DisableOwnMfa)),
        "enforced-by-organization",
        "enforced-mfa-stays-on",
    );
}

#[test]
fn r11_organization_listing_is_for_roots_only() {
    let acme = org("acme", false);
    let users = vec![
        root("ada", &acme),
        sub("bob", &acme),
        user("dave", Role::SubUser, &acme, MfaStatus::Off),
    ];
    let listed = decide(&request(
        &root("ada", &acme),
        Action::ListUsers(users.clone()),
    ));
    assert_allowed(&listed, &["root-administers-organization"]);
    let statuses: Vec<_> = listed
        .users
        .iter()
        .map(|u| (u.id.as_str(), u.effective_mfa))
        .collect();
    assert_eq!(
        statuses,
        [
            ("ada", MfaStatus::Active),
            ("bob", MfaStatus::Active),
            ("dave", MfaStatus::Off)
        ]
    );

    let denied = decide(&request(&sub("bob", &acme), Action::ListUsers(users)));
    assert_denied(&denied, "not-root", "administration-is-root-only");
    assert!(denied.users.is_empty(), "a denied listing reveals no users");
}

#[test]
fn r12_every_state_change_decision_is_audited_allowed_or_denied() {
    let acme = org("acme", false);
    let allowed = decide(&request(
        &root("ada", &acme),
        Action::ResetUserMfa(sub("bob", &acme)),
    ));
    let audit = allowed.audit.expect("audited");
    assert_eq!(
        (
            audit.at,
            audit.actor.as_str(),
            audit.organization.as_str(),
            audit.action.as_str(),
            audit.target.as_str()
        ),
        (NOW, "ada", "acme", "reset_user_mfa", "bob")
    );
    assert!(audit.allowed);
    assert_eq!(audit.policy_ids, ["root-manages-sub-users"]);
    assert_eq!(audit.denial_code, None);

    let denied = decide(&request(&sub("bob", &acme), Action::SetEnforcement(true)));
    let audit = denied.audit.expect("denials are audited too");
    assert!(!audit.allowed);
    assert_eq!(
        (audit.action.as_str(), audit.target.as_str()),
        ("set_enforcement", "acme")
    );
    assert_eq!(audit.denial_code.as_deref(), Some("not-root"));
    assert_eq!(audit.policy_ids, ["administration-is-root-only"]);

    for action in [
        Action::EnableOwnMfa,
        Action::DisableOwnMfa,
        Action::ResetOwnMfa,
    ] {
        assert!(decide(&request(&sub("bob", &acme), action)).audit.is_some());
    }
    let listing = decide(&request(&root("ada", &acme), Action::ListUsers(vec![])));
    assert!(listing.audit.is_none(), "a listing changes no state");
}

#[test]
fn r3_a_session_that_has_not_finished_mfa_can_do_nothing_else() {
    let mut req = request(&sub("bob", &org("acme", false)), Action::ResetOwnMfa);
    req.session.mfa_satisfied = false;
    let outcome = decide(&req);
    assert_denied(&outcome, "mfa-required", "login-needs-mfa");
    req.action = Action::AccessRoute("access_console".into());
    assert_denied(&decide(&req), "mfa-required", "login-needs-mfa");
}

#[test]
fn r11_gateway_routes_are_decided_by_the_policies() {
    let acme = org("acme", false);
    let console = Action::AccessRoute("access_console".into());
    let admin = Action::AccessRoute("administer_console".into());
    let outcome = decide(&request(&sub("bob", &acme), console.clone()));
    assert_allowed(&outcome, &["console-of-own-organization"]);
    assert!(
        outcome.audit.is_none() && outcome.change.is_none(),
        "a route changes nothing"
    );
    assert_allowed(
        &decide(&request(&root("ada", &acme), admin.clone())),
        &["root-administers-organization"],
    );
    assert_denied(
        &decide(&request(&sub("bob", &acme), admin)),
        "not-root",
        "administration-is-root-only",
    );

    let mut expired = request(&sub("bob", &acme), console);
    expired.session = session(Duration::days(40), Duration::days(31));
    assert_denied(&decide(&expired), "session-expired", "session-idle-limit");
}

#[test]
fn a_route_must_name_a_console_route_action() {
    let acme = org("acme", false);
    for name in ["reset_own_mfa", "no_such_action"] {
        let err = engine()
            .decide(&request(
                &root("ada", &acme),
                Action::AccessRoute(name.into()),
            ))
            .expect_err("not a route action");
        assert!(
            matches!(&err, mfa_reset::Error::InvalidRequest(mfa_reset::RequestError { field, .. }) if field == "action.access_route"),
            "{err}"
        );
    }
}
