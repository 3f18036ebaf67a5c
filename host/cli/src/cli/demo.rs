//! `mfa-reset demo`: the help centre's story, decided by the real component.

use std::process::ExitCode;

use mfa_reset::{
    Action, Change, Engine, Error, MfaStatus, Organization, Outcome, Request, Role, Session, User,
};
use time::{Duration, OffsetDateTime, macros::datetime};

use super::error::CliError;

const NOW: OffsetDateTime = datetime!(2026-11-22 10:00 UTC);

fn user(id: &str, role: Role, org: &Organization, mfa: MfaStatus) -> User {
    User {
        id: id.into(),
        role,
        organization: org.clone(),
        mfa,
        active: true,
    }
}

/// A session that logged in `login_days` ago and was last used `idle_days` ago.
fn session(login_days: i64, idle_days: i64) -> Session {
    Session {
        login_at: NOW - Duration::days(login_days),
        last_activity_at: NOW - Duration::days(idle_days),
        mfa_satisfied: true,
        recovery_code_login: false,
    }
}

fn step(
    engine: &Engine,
    n: u32,
    title: &str,
    actor: &User,
    session: Session,
    action: Action,
) -> Result<Outcome, Error> {
    println!("{n}. {title}");
    let request = Request {
        actor: actor.clone(),
        session,
        now: NOW,
        action,
    };
    let outcome = engine.decide(&request)?;
    let d = &outcome.decision;
    let verdict = if d.allowed { "ALLOWED" } else { "DENIED" };
    let by = if d.policy_ids.is_empty() {
        "no policy".into()
    } else {
        d.policy_ids.join(", ")
    };
    match &d.denial_code {
        Some(code) => println!("   -> {verdict} [{code}] by {by}"),
        None => println!("   -> {verdict} by {by}"),
    }
    println!("   \"{}\"", d.message);
    match &outcome.change {
        Some(Change::User(c)) => {
            println!("   new state: {} MFA = {}", c.user.id, status(c.user.mfa))
        }
        Some(Change::Organization(o)) => {
            println!("   new state: {} enforces MFA = {}", o.id, o.enforce_mfa)
        }
        None => {}
    }
    if let Some(a) = &outcome.audit {
        let result = if a.allowed { "allowed" } else { "denied" };
        println!(
            "   audit: {} {} on {} -> {result} ({})",
            a.actor,
            a.action,
            a.target,
            a.policy_ids.join(", ")
        );
    }
    println!();
    Ok(outcome)
}

fn status(s: MfaStatus) -> &'static str {
    match s {
        MfaStatus::Off => "off",
        MfaStatus::EnrolmentDue => "enrolment due at next login",
        MfaStatus::Active => "active",
    }
}

pub fn run(engine: &Engine) -> Result<ExitCode, CliError> {
    let mut acme = Organization {
        id: "acme".into(),
        enforce_mfa: false,
    };
    let globex = Organization {
        id: "globex".into(),
        enforce_mfa: false,
    };
    let ada = user("ada", Role::Root, &acme, MfaStatus::Active);
    let bob = user("bob", Role::SubUser, &acme, MfaStatus::Active);
    let carol = user("carol", Role::SubUser, &acme, MfaStatus::Active);
    let gus = user("gus", Role::Root, &globex, MfaStatus::Active);
    let active = session(2, 0);

    println!("mfa-reset demo: acme (root ada; sub-users bob, carol) and globex (root gus).");
    println!("Every decision below comes from the Cedar policies inside the component.");
    println!(
        "Now is {}.\n",
        NOW.format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    );

    let before_enforcement = [
        (
            "bob lost his phone and resets his own MFA; his session is active",
            &bob,
            active,
            Action::ResetOwnMfa,
        ),
        (
            "bob tries the same after 31 days without activity",
            &bob,
            session(40, 31),
            Action::ResetOwnMfa,
        ),
        (
            "ada, root of acme, resets the MFA of her sub-user carol",
            &ada,
            active,
            Action::ResetUserMfa(carol.clone()),
        ),
        (
            "gus, root of globex, tries to reset carol's MFA",
            &gus,
            active,
            Action::ResetUserMfa(carol.clone()),
        ),
        (
            "ada enforces MFA for all users of acme",
            &ada,
            active,
            Action::SetEnforcement(true),
        ),
    ];
    let mut number = 0;
    for (what, who, session, action) in before_enforcement {
        number += 1;
        let outcome = step(engine, number, what, who, session, action)?;
        if let Some(Change::Organization(org)) = outcome.change {
            acme = org;
        }
    }
    let bob = user("bob", Role::SubUser, &acme, MfaStatus::Active);
    for (what, action) in [
        (
            "bob tries to turn his MFA off while acme enforces it",
            Action::DisableOwnMfa,
        ),
        (
            "bob can still reset his own MFA under enforcement",
            Action::ResetOwnMfa,
        ),
    ] {
        number += 1;
        step(engine, number, what, &bob, active, action)?;
    }
    Ok(ExitCode::SUCCESS)
}
