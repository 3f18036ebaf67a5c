//! The guardrails, proven with Cedar SymCC and cvc5 (Debian's `cvc5`): the
//! shipped policies verify; broken copies yield counterexamples, and each
//! counterexample, replayed through the real component, is indeed allowed:
//! the prover and the engine agree.

use crate::common;

use std::path::Path;

use common::*;
use mfa_reset::PolicySource;
use mfa_reset_guardrails::{Guardrail, VerifyError, VerifyReport, read_guardrails, verify};

const POLICY_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../policies");

fn shipped() -> PolicySource {
    PolicySource::from_dir(POLICY_DIR, "https://support.example.com/mfa").unwrap()
}

fn guardrails() -> Vec<Guardrail> {
    read_guardrails(format!("{POLICY_DIR}/guardrails")).unwrap()
}

fn prove(policies: &PolicySource) -> VerifyReport {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime
        .block_on(verify(policies, &guardrails(), None))
        .expect("cvc5 runs (apt-get install cvc5)")
}

/// The shipped policies with `edit` applied to their text.
fn broken(edit: impl FnOnce(&str) -> String) -> PolicySource {
    let mut source = shipped();
    let edited = edit(&source.policies[0].text);
    assert_ne!(edited, source.policies[0].text, "the edit applies");
    source.policies[0].text = edited;
    source
}

/// Removes the policy whose `@id` is `id` (up to the next blank line).
fn without_policy(text: &str, id: &str) -> String {
    let start = text.find(&format!("@id(\"{id}\")")).expect("policy exists");
    let end = text[start..].find("\n\n").map_or(text.len(), |e| start + e);
    format!("{}{}", &text[..start], &text[end..])
}

/// The component loaded with `policies` allows the counterexample too, and
/// the shipped policies deny it: the prover and the engine agree.
fn engine_agrees(policies: &PolicySource, case: &serde_json::Value) {
    assert!(
        replay(policies, case),
        "the component allows the counterexample too"
    );
    assert!(!replay(&shipped(), case), "the shipped policies deny it");
}

/// Replays a counterexample's run-tests case through the component loaded
/// with `policies`; returns whether it was allowed.
fn replay(policies: &PolicySource, case: &serde_json::Value) -> bool {
    let engine = builder()
        .with_policies(policies.clone())
        .build()
        .expect("the broken set is valid Cedar");
    engine
        .authorize_cedar(&case.to_string())
        .expect("the case evaluates")
        .allowed
}

#[test]
fn every_guardrail_is_verified_for_the_shipped_policies() {
    let report = prove(&shipped());
    let failures: Vec<_> = report
        .counterexamples()
        .map(|r| (&r.property, &r.action))
        .collect();
    assert!(report.holds(), "counterexamples: {failures:?}");
    for name in [
        "sessions",
        "user-administration",
        "sub-users",
        "enforcement",
        "organization-functions",
        "reset-needs-mfa",
        "deactivated-users",
        "provisioning",
        "support-desk",
        "recovery-codes",
    ] {
        let property = format!("guardrail {name}");
        let checked: Vec<&str> = report
            .results
            .iter()
            .filter(|r| r.property == property)
            .map(|r| r.action.as_str())
            .collect();
        let actions: std::collections::BTreeSet<&str> = checked.iter().copied().collect();
        assert_eq!(
            (actions.len(), checked.len()),
            (34, 48),
            "{property} is checked for every action of the schema (the login steps, provisioning and the support desk included), for every kind of principal and resource"
        );
    }
    assert!(
        report
            .results
            .iter()
            .any(|r| r.property == "never-errors session-idle-limit")
    );
}

#[test]
fn r9_a_root_rule_without_its_organization_check_is_caught_and_the_engine_agrees() {
    let policies = broken(|t| {
        without_policy(t, "users-of-own-organization-only").replace(
            "  resource.organization == principal.organization\n",
            "  true\n",
        )
    });
    let report = prove(&policies);
    let found = report
        .counterexamples()
        .find(|r| r.property == "guardrail user-administration" && r.action == "reset_user_mfa")
        .expect("a cross-organization reset is found");
    let cex = found.counterexample.as_ref().unwrap();
    assert!(
        cex.policy_ids
            .contains(&"root-manages-sub-users".to_string()),
        "{}",
        cex.readable
    );
    assert_eq!(
        cex.test_case["decision"], "deny",
        "the case states what the guardrail demands"
    );

    engine_agrees(&policies, &cex.test_case);
}

#[test]
fn r7_a_removed_session_rule_is_caught_and_the_engine_agrees() {
    let policies = broken(|t| {
        without_policy(
            &without_policy(t, "session-idle-limit"),
            "session-absolute-limit",
        )
    });
    let report = prove(&policies);
    let found = report
        .counterexamples()
        .find(|r| r.property == "guardrail sessions")
        .expect("an expired session is found");
    let cex = found.counterexample.as_ref().unwrap();
    assert!(cex.readable.contains("context:"), "{}", cex.readable);
    engine_agrees(&policies, &cex.test_case);
}

/// R7: a set that lets the login steps past the idle limit (an expired
/// token could then enrol a device) breaks the `sessions` guardrail, and
/// the component allows the counterexample too.
#[test]
fn r7_login_steps_exempt_from_the_session_rules_are_caught_and_the_engine_agrees() {
    let marker = "context.now.durationSince(context.session.last_activity_at) >= duration(\"30d\")";
    let policies = broken(|t| {
        t.replace(
            marker,
            &format!("({marker} && !(action in MfaReset::Action::\"login_steps\"))"),
        )
    });
    let report = prove(&policies);
    let steps: Vec<&str> = report
        .counterexamples()
        .filter(|r| r.property == "guardrail sessions")
        .map(|r| r.action.as_str())
        .collect();
    for step in [
        "start_enrolment",
        "confirm_enrolment",
        "verify_code",
        "view_session",
    ] {
        assert!(steps.contains(&step), "{step} not caught: {steps:?}");
    }
    let found = report
        .counterexamples()
        .find(|r| r.property == "guardrail sessions" && r.action == "start_enrolment")
        .unwrap();
    let cex = found.counterexample.as_ref().unwrap();
    engine_agrees(&policies, &cex.test_case);
}

/// R15: a set without the forbid that holds a recovery-code login to
/// recovering breaks the `recovery-codes` guardrail — such a login could
/// administer the organization — and the component allows it too.
#[test]
fn r15_a_recovery_code_login_let_past_recovery_is_caught_and_the_engine_agrees() {
    let policies = broken(|t| without_policy(t, "recovery-code-login-only-recovers"));
    let report = prove(&policies);
    let caught: Vec<&str> = report
        .counterexamples()
        .filter(|r| r.property == "guardrail recovery-codes")
        .map(|r| r.action.as_str())
        .collect();
    for action in [
        "reset_user_mfa",
        "disable_own_mfa",
        "regenerate_recovery_codes",
        "access_console",
    ] {
        assert!(caught.contains(&action), "{action} not caught: {caught:?}");
    }
    let found = report
        .counterexamples()
        .find(|r| r.property == "guardrail recovery-codes" && r.action == "reset_user_mfa")
        .unwrap();
    let cex = found.counterexample.as_ref().unwrap();
    engine_agrees(&policies, &cex.test_case);
}

#[test]
fn r5_disabling_under_enforcement_is_caught_and_the_engine_agrees() {
    let policies = broken(|t| without_policy(t, "enforced-mfa-stays-on"));
    let report = prove(&policies);
    let found = report
        .counterexamples()
        .find(|r| r.property == "guardrail enforcement")
        .expect("a disable under enforcement is found");
    let cex = found.counterexample.as_ref().unwrap();
    engine_agrees(&policies, &cex.test_case);
}

#[test]
fn a_policy_that_can_err_is_caught() {
    // Unguarded arithmetic overflows on extreme times; Cedar would skip the
    // erring forbid and allow (fail-open).
    let policies = broken(|t| {
        t.replacen(
            "  !(context.now >= datetime(\"1970-01-01\") &&\n   context.session.last_activity_at >= datetime(\"1970-01-01\")) ||\n",
            "",
            1,
        )
    });
    let report = prove(&policies);
    let found = report
        .counterexamples()
        .find(|r| r.property == "never-errors session-idle-limit")
        .expect("the overflow is found");
    let case = &found.counterexample.as_ref().unwrap().test_case;
    let engine = builder().with_policies(policies.clone()).build().unwrap();
    let answer = engine.authorize_cedar(&case.to_string()).unwrap();
    assert!(
        !answer.errors.is_empty(),
        "the component hits the same error: {answer:?}"
    );
}

#[test]
fn a_missing_solver_is_a_clear_error() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let err = runtime
        .block_on(verify(
            &shipped(),
            &guardrails(),
            Some(Path::new("/nonexistent/cvc5")),
        ))
        .expect_err("no solver there");
    assert!(matches!(err, VerifyError::SolverMissing(_)), "{err}");
    assert!(err.to_string().contains("install Debian's `cvc5`"), "{err}");
}

/// A copy of the shipped policies in a temp dir, for the service to watch.
fn policy_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for name in ["mfa.cedar", "mfa.cedarschema"] {
        std::fs::copy(format!("{POLICY_DIR}/{name}"), dir.path().join(name)).unwrap();
    }
    dir
}

#[tokio::test(flavor = "multi_thread")]
async fn the_service_refuses_a_reload_that_breaks_a_guardrail() {
    use common::service::*;
    let policies = policy_copy();
    let (dir, guardrail_dir) = (
        policies.path().to_path_buf(),
        Path::new(POLICY_DIR).join("guardrails"),
    );
    let svc = TestService::start(|c, _| {
        c.policies_dir = Some(dir);
        c.guardrails_dir = Some(guardrail_dir);
    })
    .await;
    let before = common::service::policy_revision(&svc.base).await;

    // Valid Cedar, but a root may now reset any organization's users.
    let file = policies.path().join("mfa.cedar");
    let shipped_text = std::fs::read_to_string(&file).unwrap();
    let breaking = without_policy(&shipped_text, "users-of-own-organization-only").replace(
        "  resource.organization == principal.organization\n",
        "  true\n",
    );
    std::fs::write(&file, &breaking).unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(3000)).await;
    assert_eq!(
        common::service::policy_revision(&svc.base).await,
        before,
        "the breaking set was refused"
    );
    let gus = login(&svc.base, "gus").await;
    let (status, body) = call(
        &svc.base,
        &gus,
        "POST",
        "/api/org/users/bob/mfa/reset",
        None,
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::FORBIDDEN, "{body}");

    // A stricter edit stays within the guardrails and is installed.
    std::fs::write(
        &file,
        shipped_text.replace("duration(\"30d\")", "duration(\"7d\")"),
    )
    .unwrap();
    let after = common::service::changed_policy_revision(&svc.base, &before).await;
    assert_ne!(after, before, "the stricter set was installed");
    svc.service.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_service_does_not_start_on_a_set_that_breaks_a_guardrail() {
    let policies = policy_copy();
    let file = policies.path().join("mfa.cedar");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, without_policy(&text, "enforced-mfa-stays-on")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("s.db").display());
    let mut config = common::service::config(url, mfa_reset_service::SecretBox::generate_base64());
    config.policies_dir = Some(policies.path().to_path_buf());
    config.guardrails_dir = Some(Path::new(POLICY_DIR).join("guardrails"));
    let err = match mfa_reset_service::Service::start(config).await {
        Err(e) => e.to_string(),
        Ok(_) => panic!("started on a set that breaks a guardrail"),
    };
    assert!(err.contains("guardrail enforcement"), "{err}");
    assert!(
        err.contains("run-tests case"),
        "the counterexample comes along: {err}"
    );
}

/// The shipped set with the optional step-up policy switched on.
fn with_step_up() -> PolicySource {
    let mut source = shipped();
    let file = format!("{POLICY_DIR}/optional/step-up.cedar");
    source.policies.push(mfa_reset::SourceFile {
        name: file.clone(),
        text: std::fs::read_to_string(&file).unwrap(),
    });
    source
}

fn prove_with_step_up_guardrail(policies: &PolicySource) -> VerifyReport {
    let mut all = guardrails();
    all.extend(read_guardrails(format!("{POLICY_DIR}/optional/guardrails")).unwrap());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime
        .block_on(verify(policies, &all, None))
        .expect("cvc5 runs")
}

#[test]
fn r6_step_up_is_off_by_default_and_when_switched_on_needs_a_recent_password() {
    use mfa_reset::{Action, MfaStatus, Role};
    use time::Duration;
    let bob = user("bob", Role::SubUser, &org("acme", false), MfaStatus::Active);
    let ada = root("ada", &org("acme", false));
    let logged_in = |ago: Duration, actor: &mfa_reset::User, action: Action| mfa_reset::Request {
        session: session(ago, Duration::minutes(1)),
        ..request(actor, action)
    };
    let stale = logged_in(Duration::minutes(16), &bob, Action::ResetOwnMfa);
    let fresh = logged_in(Duration::minutes(14), &bob, Action::ResetOwnMfa);

    // Off by default: the seed's story, a reset with an active session alone.
    assert!(engine().decide(&stale).unwrap().decision.allowed);

    let engine = builder().with_policies(with_step_up()).build().unwrap();
    let denied = engine.decide(&stale).unwrap();
    assert_denied(
        &denied,
        "reauthentication-required",
        "step-up-for-own-mfa-changes",
    );
    assert!(denied.decision.message.contains("log in again"));
    assert!(engine.decide(&fresh).unwrap().decision.allowed);
    let disable = logged_in(Duration::minutes(16), &bob, Action::DisableOwnMfa);
    assert_denied(
        &engine.decide(&disable).unwrap(),
        "reauthentication-required",
        "step-up-for-own-mfa-changes",
    );
    // A root's reset of a sub-user is not a change of its own MFA.
    let by_root = logged_in(
        Duration::minutes(16),
        &ada,
        Action::ResetUserMfa(bob.clone()),
    );
    assert!(engine.decide(&by_root).unwrap().decision.allowed);

    // Its guardrail: proven with the policy on, broken (with a counterexample
    // the component agrees with) with it off.
    let on = prove_with_step_up_guardrail(&with_step_up());
    assert!(on.holds(), "{:?}", on.counterexamples().collect::<Vec<_>>());
    let off = prove_with_step_up_guardrail(&shipped());
    let found = off
        .counterexamples()
        .find(|r| r.property == "guardrail step-up")
        .expect("without the policy a stale session resets");
    assert!(replay(
        &shipped(),
        &found.counterexample.as_ref().unwrap().test_case
    ));
}

/// R14: without the two-person rule, one agent alone recovers a root: the
/// support-desk guardrail yields the counterexample (a ticket issued, or
/// redeemed, for a root's case no second agent approved), and the
/// component allows it too.
#[test]
fn r14_a_root_recovered_by_one_agent_is_caught_and_the_engine_agrees() {
    let policies = broken(|t| without_policy(t, "second-agent-for-roots"));
    let report = prove(&policies);
    let found: Vec<_> = report
        .counterexamples()
        .filter(|r| r.property == "guardrail support-desk")
        .collect();
    let actions: Vec<&str> = found.iter().map(|r| r.action.as_str()).collect();
    for action in ["issue_recovery_ticket", "redeem_recovery_ticket"] {
        assert!(
            actions.contains(&action),
            "{action} not caught: {actions:?}"
        );
    }
    let cex = found[0].counterexample.as_ref().unwrap();
    assert!(
        cex.readable.contains("recovery case for")
            && (cex.readable.contains("the root") || cex.readable.contains("a support agent")),
        "{}",
        cex.readable
    );
    engine_agrees(&policies, &cex.test_case);
}

/// R14: an opener who may approve their own case is caught too.
#[test]
fn r14_an_opener_approving_their_own_case_is_caught() {
    let policies = broken(|t| without_policy(t, "opener-never-approves"));
    let report = prove(&policies);
    let found = report
        .counterexamples()
        .find(|r| r.property == "guardrail support-desk" && r.action == "approve_recovery_case")
        .expect("self-approval is found");
    let cex = found.counterexample.as_ref().unwrap();
    assert!(cex.readable.contains("opened"), "{}", cex.readable);
    engine_agrees(&policies, &cex.test_case);
}

/// R14: without the ticket's hour (or its issue at all), a holder could
/// redeem a case no agent ever released: the guardrail catches it.
#[test]
fn r14_a_redemption_without_a_live_ticket_is_caught() {
    let policies = broken(|t| without_policy(t, "ticket-valid-for-an-hour"));
    let report = prove(&policies);
    let found = report
        .counterexamples()
        .find(|r| r.property == "guardrail support-desk" && r.action == "redeem_recovery_ticket")
        .expect("a redemption without a live ticket is found");
    let cex = found.counterexample.as_ref().unwrap();
    engine_agrees(&policies, &cex.test_case);
}
