//! The support desk's steps through the shipped policies (R14).

use super::*;
use crate::decide;
use crate::default_source;
use crate::mfa_reset::engine::types::{
    Action, IdentityCheck, Organization, Request, Role, Session,
};

const HOUR: i64 = 3600 * 1000;
const OPENED: i64 = 1_795_000_000_000;

fn account(id: &str, org: &str, role: Role) -> User {
    User {
        id: id.into(),
        role,
        organization: Organization {
            id: org.into(),
            enforce_mfa: false,
        },
        mfa: MfaStatus::Active,
        active: true,
    }
}

fn agent(id: &str) -> User {
    account(id, "provider", Role::SupportAgent)
}

fn session(now: i64) -> Session {
    Session {
        login_at: now - 1000,
        last_activity_at: now,
        mfa_satisfied: true,
        recovery_code_login: false,
    }
}

fn case_for(target: User, checks: Vec<IdentityCheck>) -> RecoveryCase {
    RecoveryCase {
        id: "case-1".into(),
        account: target,
        opened_by: "sam".into(),
        opened_at: OPENED,
        checks,
        approved_by: None,
        state: CaseState::Open,
        ticket_issued_at: None,
    }
}

fn step(
    caller: Option<&User>,
    action: RecoveryAction,
    case: &RecoveryCase,
    now: i64,
) -> RecoveryOutcome {
    let store = PolicyStore::compile(&default_source()).unwrap();
    let request = RecoveryRequest {
        caller: caller.cloned(),
        session: session(now),
        now,
        account_has_active_session: false,
        action,
        case: case.clone(),
    };
    decide(&store, &request).unwrap()
}

fn code(outcome: &RecoveryOutcome) -> Option<&str> {
    outcome.decision.denial_code.as_deref()
}

const EMAIL_AND_CALL: [IdentityCheck; 2] = [
    IdentityCheck::CodeToEmailOnFile,
    IdentityCheck::CallbackToPhoneOnFile,
];

#[test]
fn r14_a_sub_users_case_waits_24_hours_then_its_ticket_redeems_once_within_an_hour() {
    let sam = agent("sam");
    let gina = account("gina", "globex", Role::SubUser);
    let case = case_for(gina.clone(), EMAIL_AND_CALL.to_vec());
    let opened = step(Some(&sam), RecoveryAction::OpenCase, &case, OPENED);
    assert!(opened.decision.allowed, "{:?}", opened.decision);
    assert_eq!(opened.audit.organization, "globex", "in gina's audit");

    let early = step(
        Some(&sam),
        RecoveryAction::IssueTicket,
        &case,
        OPENED + 23 * HOUR,
    );
    assert_eq!(code(&early), Some("waiting-period"));
    let issued = step(
        Some(&sam),
        RecoveryAction::IssueTicket,
        &case,
        OPENED + 24 * HOUR,
    );
    assert!(issued.decision.allowed, "{:?}", issued.decision);
    let case = issued.case;
    assert_eq!(case.state, CaseState::TicketIssued);
    let again = step(
        Some(&sam),
        RecoveryAction::IssueTicket,
        &case,
        OPENED + 25 * HOUR,
    );
    assert_eq!(code(&again), Some("ticket-issued"));

    let at = OPENED + 24 * HOUR + HOUR / 2;
    let bob = account("bob", "globex", Role::SubUser);
    assert!(
        !step(Some(&bob), RecoveryAction::RedeemTicket, &case, at)
            .decision
            .allowed
    );
    assert!(
        !step(Some(&sam), RecoveryAction::RedeemTicket, &case, at)
            .decision
            .allowed
    );
    let redeemed = step(Some(&gina), RecoveryAction::RedeemTicket, &case, at);
    assert!(redeemed.decision.allowed, "{:?}", redeemed.decision);
    let change = redeemed.account.unwrap();
    assert_eq!(change.user.mfa, MfaStatus::EnrolmentDue);
    assert!(change.authenticator.active.is_none());
    assert_eq!(redeemed.sessions, SessionEffect::EndSessionsOfUser);
    let twice = step(
        Some(&gina),
        RecoveryAction::RedeemTicket,
        &redeemed.case,
        at,
    );
    assert_eq!(code(&twice), Some("case-closed"));

    let late = step(Some(&gina), RecoveryAction::RedeemTicket, &case, at + HOUR);
    assert_eq!(code(&late), Some("ticket-expired"));
}

#[test]
fn r14_checks_must_suffice_and_no_case_opens_while_the_holder_has_a_session() {
    let sam = agent("sam");
    let gina = account("gina", "globex", Role::SubUser);
    let weak = case_for(gina.clone(), vec![IdentityCheck::CodeToEmailOnFile]);
    let denied = step(Some(&sam), RecoveryAction::OpenCase, &weak, OPENED);
    assert_eq!(code(&denied), Some("checks-insufficient"));
    let ada = account("ada", "acme", Role::Root);
    let root_case = case_for(ada, EMAIL_AND_CALL.to_vec());
    let denied = step(Some(&sam), RecoveryAction::OpenCase, &root_case, OPENED);
    assert_eq!(
        code(&denied),
        Some("checks-insufficient"),
        "a root needs a document check too"
    );

    let store = PolicyStore::compile(&default_source()).unwrap();
    let request = RecoveryRequest {
        caller: Some(sam),
        session: session(OPENED),
        now: OPENED,
        account_has_active_session: true,
        action: RecoveryAction::OpenCase,
        case: case_for(gina, EMAIL_AND_CALL.to_vec()),
    };
    let outcome = decide(&store, &request).unwrap();
    assert_eq!(code(&outcome), Some("holder-has-session"));
}

#[test]
fn r14_a_roots_case_needs_a_second_agent_and_72_hours() {
    let sam = agent("sam");
    let tess = agent("tess");
    let ada = account("ada", "acme", Role::Root);
    let mut checks = EMAIL_AND_CALL.to_vec();
    checks.push(IdentityCheck::DocumentCheck);
    let case = case_for(ada, checks);
    assert!(
        step(Some(&sam), RecoveryAction::OpenCase, &case, OPENED)
            .decision
            .allowed
    );
    let alone = step(
        Some(&sam),
        RecoveryAction::IssueTicket,
        &case,
        OPENED + 100 * HOUR,
    );
    assert_eq!(code(&alone), Some("approval-required"));
    let own = step(
        Some(&sam),
        RecoveryAction::ApproveCase,
        &case,
        OPENED + HOUR,
    );
    assert_eq!(code(&own), Some("opened-by-you"));
    let approved = step(
        Some(&tess),
        RecoveryAction::ApproveCase,
        &case,
        OPENED + HOUR,
    );
    assert!(approved.decision.allowed, "{:?}", approved.decision);
    let case = approved.case;
    assert_eq!(case.approved_by.as_deref(), Some("tess"));
    let early = step(
        Some(&tess),
        RecoveryAction::IssueTicket,
        &case,
        OPENED + 71 * HOUR,
    );
    assert_eq!(code(&early), Some("waiting-period"));
    let issued = step(
        Some(&sam),
        RecoveryAction::IssueTicket,
        &case,
        OPENED + 72 * HOUR,
    );
    assert!(issued.decision.allowed, "{:?}", issued.decision);
}

#[test]
fn r14_the_holder_their_root_or_the_link_cancel_and_a_cancelled_case_never_redeems() {
    let gina = account("gina", "globex", Role::SubUser);
    let gus = account("gus", "globex", Role::Root);
    let ada = account("ada", "acme", Role::Root);
    let case = case_for(gina.clone(), EMAIL_AND_CALL.to_vec());
    for caller in [Some(&gina), Some(&gus), None] {
        let action = if caller.is_some() {
            RecoveryAction::CancelCase
        } else {
            RecoveryAction::CancelByLink
        };
        let outcome = step(caller, action, &case, OPENED + HOUR);
        assert!(
            outcome.decision.allowed,
            "{caller:?}: {:?}",
            outcome.decision
        );
        assert_eq!(outcome.case.state, CaseState::Cancelled);
        let after = step(
            Some(&agent("sam")),
            RecoveryAction::IssueTicket,
            &outcome.case,
            OPENED + 48 * HOUR,
        );
        assert_eq!(code(&after), Some("case-closed"));
    }
    let other_root = step(Some(&ada), RecoveryAction::CancelCase, &case, OPENED + HOUR);
    assert!(!other_root.decision.allowed);
    assert_eq!(other_root.case.state, CaseState::Open);
}

#[test]
fn r14_an_agent_never_acts_on_their_own_account_nor_administers_users() {
    let sam = agent("sam");
    let case = case_for(
        sam.clone(),
        vec![
            IdentityCheck::CallbackToPhoneOnFile,
            IdentityCheck::DocumentCheck,
        ],
    );
    let own = step(Some(&sam), RecoveryAction::OpenCase, &case, OPENED);
    assert_eq!(code(&own), Some("own-account"));

    let store = PolicyStore::compile(&default_source()).unwrap();
    let carol = account("carol", "acme", Role::SubUser);
    for action in [
        Action::ResetUserMfa(carol.clone()),
        Action::DeactivateUser(carol),
        Action::AccessRoute("access_console".into()),
        Action::ResetOwnMfa,
        Action::ListUsers(Vec::new()),
    ] {
        let request = Request {
            actor: sam.clone(),
            session: session(OPENED),
            now: OPENED,
            action,
        };
        let outcome = decide::decide(&store, &request).unwrap();
        assert_eq!(
            outcome.decision.denial_code.as_deref(),
            Some("not-permitted")
        );
        assert!(outcome.change.is_none());
    }
    let mut ada = account("ada", "acme", Role::Root);
    ada.organization.id = "provider".into();
    let request = Request {
        actor: ada,
        session: session(OPENED),
        now: OPENED,
        action: Action::ResetUserMfa(sam),
    };
    let outcome = decide::decide(&store, &request).unwrap();
    assert!(!outcome.decision.allowed, "a root never reaches an agent");
}

#[test]
fn r14_agents_need_mfa_and_short_sessions() {
    let sam = agent("sam");
    let gina = account("gina", "globex", Role::SubUser);
    let case = case_for(gina, EMAIL_AND_CALL.to_vec());
    let store = PolicyStore::compile(&default_source()).unwrap();
    let ask = |session: Session| {
        let request = RecoveryRequest {
            caller: Some(sam.clone()),
            session,
            now: OPENED,
            account_has_active_session: false,
            action: RecoveryAction::OpenCase,
            case: case.clone(),
        };
        decide(&store, &request).unwrap()
    };
    let half_logged_in = ask(Session {
        mfa_satisfied: false,
        recovery_code_login: false,
        ..session(OPENED)
    });
    assert_eq!(code(&half_logged_in), Some("mfa-required"));
    let old = ask(Session {
        login_at: OPENED - 13 * HOUR,
        last_activity_at: OPENED - 1000,
        mfa_satisfied: true,
        recovery_code_login: false,
    });
    assert_eq!(code(&old), Some("session-expired"));
    let idle = ask(Session {
        login_at: OPENED - 3 * HOUR,
        last_activity_at: OPENED - 2 * HOUR,
        mfa_satisfied: true,
        recovery_code_login: false,
    });
    assert_eq!(code(&idle), Some("session-expired"));
}

#[test]
fn r14_malformed_cases_are_request_errors() {
    let store = PolicyStore::compile(&default_source()).unwrap();
    let gina = account("gina", "globex", Role::SubUser);
    let mut case = case_for(gina, EMAIL_AND_CALL.to_vec());
    case.state = CaseState::TicketIssued;
    let request = RecoveryRequest {
        caller: Some(agent("sam")),
        session: session(OPENED),
        now: OPENED,
        account_has_active_session: false,
        action: RecoveryAction::CancelCase,
        case: case.clone(),
    };
    let err = decide(&store, &request).unwrap_err();
    assert_eq!(err.field, "case.ticket-issued-at");
    let link_with_caller = RecoveryRequest {
        action: RecoveryAction::CancelByLink,
        case: RecoveryCase {
            state: CaseState::Open,
            ..case.clone()
        },
        ..request.clone()
    };
    assert_eq!(
        decide(&store, &link_with_caller).unwrap_err().field,
        "caller"
    );
    let open_by_other = RecoveryRequest {
        caller: Some(agent("tess")),
        action: RecoveryAction::OpenCase,
        case: RecoveryCase {
            state: CaseState::Open,
            ticket_issued_at: None,
            ..case
        },
        ..request
    };
    assert_eq!(decide(&store, &open_by_other).unwrap_err().field, "case");
}

/// A caller that is the case's account by Cedar id (a root and a
/// sub-user are both `User::"id"`) but another record is refused: it
/// would redeem someone else's case.
#[test]
fn r14_a_caller_posing_as_the_holder_is_a_request_error() {
    let store = PolicyStore::compile(&default_source()).unwrap();
    let gina = account("gina", "globex", Role::SubUser);
    let mut case = case_for(gina, EMAIL_AND_CALL.to_vec());
    case.state = CaseState::TicketIssued;
    case.ticket_issued_at = Some(OPENED + 24 * HOUR);
    let impostor = account("gina", "evil", Role::Root);
    let request = RecoveryRequest {
        caller: Some(impostor),
        session: session(OPENED + 24 * HOUR + 1000),
        now: OPENED + 24 * HOUR + 1000,
        account_has_active_session: false,
        action: RecoveryAction::RedeemTicket,
        case,
    };
    assert_eq!(decide(&store, &request).unwrap_err().field, "caller");
}
