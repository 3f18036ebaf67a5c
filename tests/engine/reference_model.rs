//! An independent reference model of R2–R11 and R13's deactivation, written from SPEC (not from
//! the policies), against the real component: random organizations, users,
//! MFA states, sessions (boundaries at exactly 30 days, ±1 ms, and at
//! 1970) and every action. Each decision must agree with the model:
//! allowed, denial code, the new state, the audit record.
//!
//! The suite runs `MODEL_CASES` (default 3 000) cases; the long run is
//! `MFA_RESET_MODEL_CASES=1000000 cargo test --workspace --release --test
//! engine reference_model::` (its figure is in docs/reliability.md).

use crate::common;

use common::engine;
use mfa_reset::{
    Action, Change, MfaStatus, Organization, Outcome, Request, Role, Session, SessionEffect, User,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use time::OffsetDateTime;

const DAY: i64 = 24 * 3600 * 1000;
const LIMIT: i64 = 30 * DAY;
/// 2026-11-22, in milliseconds.
const RECENT: i64 = 1_795_300_000_000;
const MODEL_CASES: u32 = 3_000;

const ROUTES: [&str; 3] = [
    "access_console",
    "administer_console",
    "read_organization_audit",
];

fn ms(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

fn at(millis: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000).unwrap()
}

// ---- The model, from SPEC ------------------------------------------------

#[derive(Debug, PartialEq)]
enum ModelChange {
    /// The user's id and new MFA status.
    User(String, MfaStatus),
    /// The organization's new enforcement switch.
    Enforcement(bool),
}

#[derive(Debug, PartialEq)]
struct Expected {
    allowed: bool,
    code: Option<&'static str>,
    change: Option<ModelChange>,
    /// The audited target (R12), for actions that can change state.
    audit_target: Option<String>,
}

fn deny(code: &'static str) -> Result<Option<ModelChange>, &'static str> {
    Err(code)
}

/// R7/R8: expired 30 days after the last activity or after login, to the
/// millisecond; times before 1970 count as expired.
fn expired(r: &Request) -> bool {
    let (now, login, last) = (
        ms(r.now),
        ms(r.session.login_at),
        ms(r.session.last_activity_at),
    );
    now < 0 || login < 0 || last < 0 || now - last >= LIMIT || now - login >= LIMIT
}

/// What may be done to `user`'s own MFA (R2, R3, R5, R6, R10).
fn own_mfa(action: &Action, user: &User) -> Result<Option<ModelChange>, &'static str> {
    let enforced = user.organization.enforce_mfa;
    let on = user.mfa != MfaStatus::Off;
    let to = |mfa| Ok(Some(ModelChange::User(user.id.clone(), mfa)));
    match action {
        // R6: a reset keeps MFA required; there must be MFA to reset.
        Action::ResetOwnMfa | Action::ResetUserMfa(_) if on || enforced => {
            to(MfaStatus::EnrolmentDue)
        }
        Action::ResetOwnMfa | Action::ResetUserMfa(_) => deny("mfa-not-enabled"),
        // R2/R4: turning it on means enrolling at the next login.
        Action::EnableOwnMfa | Action::EnableUserMfa(_) if !on => to(MfaStatus::EnrolmentDue),
        Action::EnableOwnMfa | Action::EnableUserMfa(_) => deny("mfa-already-enabled"),
        // R5/R10: nobody turns MFA off while the organization enforces it.
        Action::DisableOwnMfa | Action::DisableUserMfa(_) if enforced => {
            deny("enforced-by-organization")
        }
        Action::DisableOwnMfa | Action::DisableUserMfa(_) if on => to(MfaStatus::Off),
        Action::DisableOwnMfa | Action::DisableUserMfa(_) => deny("mfa-not-enabled"),
        _ => unreachable!("not an MFA action"),
    }
}

fn model(r: &Request) -> Expected {
    let actor = &r.actor;
    let root = actor.role == Role::Root;
    let audit_target = match &r.action {
        Action::ResetOwnMfa
        | Action::EnableOwnMfa
        | Action::DisableOwnMfa
        | Action::ChangeOwnPassword => Some(actor.id.clone()),
        Action::ResetUserMfa(t)
        | Action::EnableUserMfa(t)
        | Action::DisableUserMfa(t)
        | Action::DeactivateUser(t)
        | Action::ReactivateUser(t)
        | Action::InviteUser(t) => Some(t.id.clone()),
        Action::SetEnforcement(_) => Some(actor.organization.id.clone()),
        Action::ListUsers(_) | Action::AccessRoute(_) | Action::ViewOwnSession => None,
    };
    let result = if !actor.active {
        // R13: a deactivated user is denied everything, first of all.
        deny("user-deactivated")
    } else if expired(r) {
        deny("session-expired")
    } else if !r.session.mfa_satisfied && r.action != Action::ViewOwnSession {
        // R3: a login that has not finished MFA may only finish it.
        deny("mfa-required")
    } else if r.session.recovery_code_login
        && !matches!(r.action, Action::ViewOwnSession | Action::ResetOwnMfa)
    {
        // R15: a login with a recovery code may only recover: view itself
        // and reset its own MFA (then enrol again).
        deny("recovery-code-login")
    } else {
        match &r.action {
            // R13: anyone's own password, once MFA is finished.
            Action::ViewOwnSession | Action::ChangeOwnPassword => Ok(None),
            Action::AccessRoute(route) if route == "access_console" => Ok(None),
            // R11: the organization-wide functions are for roots only.
            Action::AccessRoute(_) | Action::ListUsers(_) if !root => deny("not-root"),
            Action::AccessRoute(_) | Action::ListUsers(_) => Ok(None),
            Action::SetEnforcement(_) if !root => deny("not-root"),
            Action::SetEnforcement(on) => Ok(Some(ModelChange::Enforcement(*on))),
            Action::ResetOwnMfa | Action::EnableOwnMfa | Action::DisableOwnMfa => {
                own_mfa(&r.action, actor)
            }
            // R4, R9, R13: a root, on a sub-user of its own organization:
            // its MFA, and its account (each when it makes sense).
            Action::ResetUserMfa(t)
            | Action::EnableUserMfa(t)
            | Action::DisableUserMfa(t)
            | Action::DeactivateUser(t)
            | Action::ReactivateUser(t)
            | Action::InviteUser(t) => {
                if !root {
                    deny("not-root")
                } else if t.organization.id != actor.organization.id {
                    deny("other-organization")
                } else if t.role == Role::Root {
                    deny("not-sub-user")
                } else {
                    match (&r.action, t.active) {
                        (Action::DeactivateUser(_), false) => deny("already-deactivated"),
                        (Action::ReactivateUser(_), true) => deny("not-deactivated"),
                        (Action::InviteUser(_), false) => deny("user-deactivated"),
                        (
                            Action::DeactivateUser(_)
                            | Action::ReactivateUser(_)
                            | Action::InviteUser(_),
                            _,
                        ) => Ok(None),
                        _ => own_mfa(&r.action, t),
                    }
                }
            }
        }
    };
    match result {
        Ok(change) => Expected {
            allowed: true,
            code: None,
            change,
            audit_target,
        },
        Err(code) => Expected {
            allowed: false,
            code: Some(code),
            change: None,
            audit_target,
        },
    }
}

// ---- The real component's answer, in the model's terms ------------------

fn observed(r: &Request, outcome: &Outcome) -> Expected {
    let d = &outcome.decision;
    let change = outcome.change.as_ref().map(|c| match c {
        Change::User(u) => ModelChange::User(u.user.id.clone(), u.user.mfa),
        Change::Organization(o) => {
            assert_eq!(
                o.id, r.actor.organization.id,
                "only the caller's organization"
            );
            ModelChange::Enforcement(o.enforce_mfa)
        }
    });
    let audit_target = outcome.audit.as_ref().map(|a| {
        // R12: who, what, when, allowed or denied, which policies.
        assert_eq!(a.actor, r.actor.id);
        assert_eq!(a.organization, r.actor.organization.id);
        assert_eq!(a.at, r.now);
        assert_eq!(a.allowed, d.allowed);
        assert_eq!(a.policy_ids, d.policy_ids);
        assert_eq!(a.denial_code, d.denial_code);
        assert!(!a.policy_ids.is_empty() || a.denial_code.as_deref() == Some("not-permitted"));
        a.target.clone()
    });
    Expected {
        allowed: d.allowed,
        code: d.denial_code.as_deref().map(|c| {
            [
                "user-deactivated",
                "session-expired",
                "mfa-required",
                "not-root",
                "other-organization",
                "not-sub-user",
                "enforced-by-organization",
                "mfa-not-enabled",
                "mfa-already-enabled",
                "already-deactivated",
                "not-deactivated",
                "recovery-code-login",
            ]
            .into_iter()
            .find(|known| *known == c)
            .unwrap_or("an unknown code")
        }),
        change,
        audit_target,
    }
}

/// The properties that must hold whatever the model says.
fn never_across(r: &Request, outcome: &Outcome) {
    if !outcome.decision.allowed {
        assert!(outcome.change.is_none() && outcome.sessions == SessionEffect::None);
        return;
    }
    if let Action::ResetUserMfa(t) | Action::EnableUserMfa(t) | Action::DisableUserMfa(t) =
        &r.action
    {
        assert_eq!(
            t.organization.id, r.actor.organization.id,
            "an action across organizations was allowed"
        );
        assert_eq!(r.actor.role, Role::Root, "a sub-user acted on another user");
        assert_eq!(t.role, Role::SubUser, "a root's MFA was administered");
    }
    if let Some(Change::User(u)) = &outcome.change {
        let own = matches!(
            r.action,
            Action::ResetOwnMfa | Action::EnableOwnMfa | Action::DisableOwnMfa
        );
        assert!(
            own && u.user.id == r.actor.id || r.actor.role == Role::Root,
            "a sub-user changed another user"
        );
    }
}

// ---- Random requests ----------------------------------------------------

fn mfa_status() -> impl Strategy<Value = MfaStatus> {
    prop_oneof![
        Just(MfaStatus::Off),
        Just(MfaStatus::EnrolmentDue),
        Just(MfaStatus::Active)
    ]
}

fn role() -> impl Strategy<Value = Role> {
    prop_oneof![Just(Role::Root), Just(Role::SubUser)]
}

/// An age in milliseconds, mostly at the limits' edges.
fn age() -> impl Strategy<Value = i64> {
    prop_oneof![
        Just(0),
        Just(1),
        Just(LIMIT - 1),
        Just(LIMIT),
        Just(LIMIT + 1),
        0..2 * LIMIT,
    ]
}

/// The request's clock: mostly recent, sometimes days after 1970 (so that
/// a login or an activity can fall before it), sometimes far ahead.
fn now() -> impl Strategy<Value = i64> {
    prop_oneof![
        8 => RECENT..RECENT + 400 * DAY,
        1 => 0..2 * LIMIT,
        1 => 200_000_000_000_000..253_000_000_000_000i64,
    ]
}

#[derive(Debug, Clone)]
struct Draw {
    orgs: [bool; 2],
    actor: (usize, Role, usize, MfaStatus),
    target: Option<(usize, Role, usize, MfaStatus)>,
    listed: Vec<(Role, MfaStatus)>,
    now: i64,
    ages: (i64, i64),
    mfa_satisfied: bool,
    recovery_code_login: bool,
    action: usize,
    flag: bool,
    route: usize,
    actor_active: bool,
}

fn draw() -> impl Strategy<Value = Draw> {
    let user = || (0..3usize, role(), 0..2usize, mfa_status());
    (
        (any::<bool>(), any::<bool>()),
        user(),
        proptest::option::of(user()),
        proptest::collection::vec((role(), mfa_status()), 0..4),
        now(),
        (age(), age()),
        prop_oneof![4 => Just(true), 1 => Just(false)],
        prop_oneof![4 => Just(false), 1 => Just(true)],
        0..14usize,
        any::<bool>(),
        0..ROUTES.len(),
        prop_oneof![9 => Just(true), 1 => Just(false)],
    )
        .prop_map(
            |(
                orgs,
                actor,
                target,
                listed,
                now,
                ages,
                mfa_satisfied,
                recovery_code_login,
                action,
                flag,
                route,
                actor_active,
            )| Draw {
                actor_active,
                orgs: [orgs.0, orgs.1],
                actor,
                target,
                listed,
                now,
                ages,
                mfa_satisfied,
                recovery_code_login,
                action,
                flag,
                route,
            },
        )
}

/// The target of a (de)activation or invitation: active or not as the
/// draw's flag says, unless it is the caller itself (whose record is one).
fn acted_on(target: User, d: &Draw) -> User {
    match d.target {
        Some(_) => User {
            active: d.flag,
            ..target
        },
        None => target,
    }
}

fn request(d: &Draw) -> Request {
    let orgs = [
        Organization {
            id: "acme".into(),
            enforce_mfa: d.orgs[0],
        },
        Organization {
            id: "globex".into(),
            enforce_mfa: d.orgs[1],
        },
    ];
    let make = |prefix: &str, (n, role, org, mfa): (usize, Role, usize, MfaStatus)| User {
        id: format!("{prefix}{n}"),
        role,
        organization: orgs[org].clone(),
        mfa,
        active: true,
    };
    let actor = User {
        active: d.actor_active,
        ..make("actor", d.actor)
    };
    // No target drawn: the caller acts on itself through the admin action.
    let target = d.target.map_or_else(|| actor.clone(), |t| make("user", t));
    let listed = d
        .listed
        .iter()
        .enumerate()
        .map(|(i, (role, mfa))| User {
            id: format!("member{i}"),
            role: *role,
            organization: actor.organization.clone(),
            mfa: *mfa,
            active: true,
        })
        .collect();
    let action = match d.action {
        0 => Action::ResetOwnMfa,
        1 => Action::EnableOwnMfa,
        2 => Action::DisableOwnMfa,
        3 => Action::ResetUserMfa(target),
        4 => Action::EnableUserMfa(target),
        5 => Action::DisableUserMfa(target),
        6 => Action::SetEnforcement(d.flag),
        7 => Action::ListUsers(listed),
        8 => Action::AccessRoute(ROUTES[d.route].into()),
        9 => Action::ChangeOwnPassword,
        // R13: on a target active or not (the draw's flag).
        11 => Action::DeactivateUser(acted_on(target, d)),
        12 => Action::ReactivateUser(acted_on(target, d)),
        13 => Action::InviteUser(acted_on(target, d)),
        _ => Action::ViewOwnSession,
    };
    let (idle, since_login) = (d.ages.0.min(d.ages.1), d.ages.0.max(d.ages.1));
    Request {
        actor,
        session: Session {
            login_at: at(d.now - since_login),
            last_activity_at: at(d.now - idle),
            mfa_satisfied: d.mfa_satisfied,
            recovery_code_login: d.recovery_code_login,
        },
        now: at(d.now),
        action,
    }
}

#[test]
fn r2_to_r15_every_decision_agrees_with_the_reference_model() {
    let cases = std::env::var("MFA_RESET_MODEL_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(MODEL_CASES);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let engine = engine();
    let started = std::time::Instant::now();
    runner
        .run(&draw(), |d| {
            let r = request(&d);
            let outcome = engine
                .decide(&r)
                .map_err(|e| TestCaseError::fail(format!("no decision: {e}")))?;
            never_across(&r, &outcome);
            prop_assert_eq!(observed(&r, &outcome), model(&r), "request {:?}", r);
            Ok(())
        })
        .unwrap();
    println!(
        "{cases} cases agreed with the model in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// The model's boundaries are the product's: exactly 30 days of idleness
/// expires, a millisecond less does not (so the model cannot drift to a
/// lenient reading without this test saying so).
#[test]
fn r7_the_model_expires_at_exactly_thirty_days() {
    let d = Draw {
        orgs: [false, false],
        actor: (0, Role::SubUser, 0, MfaStatus::Active),
        target: None,
        listed: Vec::new(),
        now: RECENT,
        ages: (LIMIT - 1, LIMIT - 1),
        mfa_satisfied: true,
        recovery_code_login: false,
        action: 0,
        flag: false,
        route: 0,
        actor_active: true,
    };
    assert!(model(&request(&d)).allowed);
    let d = Draw {
        ages: (LIMIT, LIMIT),
        ..d
    };
    assert_eq!(model(&request(&d)).code, Some("session-expired"));
}
