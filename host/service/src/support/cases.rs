//! The support desk's use cases from a session (R14): an agent opens,
//! approves, issues a ticket for, or cancels a case; the account holder or
//! their root cancels it ("this wasn't me"); each lists what they may see.
//! Every step is the component's decision; the host adds only what the
//! policies cannot know (a ticket's secret, who hears of it).

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::step::{self, StepWrites};
use super::{events, probe};
use crate::app::AppState;
use crate::credentials::session;
use crate::decisions::caller::{self, Caller};
use crate::decisions::throttle::{self, Attempt, Settled};
use crate::decisions::{Decided, Intent, retry};
use crate::error::ApiError;
use crate::store::{CaseScope, StoredCase};
use mfa_reset::api::{
    CaseState, IdentityCheck, RecoveryAction, RecoveryCase, RecoveryOutcome, RecoveryRequest, Role,
};

/// What an agent sends to open a case.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenCase {
    /// The locked-out account's id.
    pub account: String,
    /// The support system's reference (shown and audited, never decides).
    pub ticket_reference: String,
    /// The identity checks performed, by name.
    pub checks: Vec<String>,
}

/// A case as the console shows it: never a ticket, never a cancel link.
#[derive(Debug, Serialize)]
pub struct CaseView {
    pub id: String,
    pub account: String,
    pub role: Role,
    pub organization: String,
    pub ticket_reference: String,
    pub opened_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub opened_at: OffsetDateTime,
    pub checks: Vec<IdentityCheck>,
    pub approved_by: Option<String>,
    pub state: CaseState,
    #[serde(with = "time::serde::rfc3339::option")]
    pub ticket_issued_at: Option<OffsetDateTime>,
    pub closed_by: Option<String>,
    /// For an open case, on the support desk: when its waiting period ends,
    /// as the policies set it.
    #[serde(
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub ticket_ready_at: Option<OffsetDateTime>,
}

impl CaseView {
    pub(super) fn of(stored: &StoredCase, case: &RecoveryCase) -> Self {
        Self {
            id: case.id.clone(),
            account: case.account.id.clone(),
            role: case.account.role,
            organization: case.account.organization.id.clone(),
            ticket_reference: stored.ticket_reference.clone(),
            opened_by: case.opened_by.clone(),
            opened_at: case.opened_at,
            checks: case.checks.clone(),
            approved_by: case.approved_by.clone(),
            state: case.state,
            ticket_issued_at: case.ticket_issued_at,
            closed_by: stored.closed.as_ref().map(|(by, _)| by.clone()),
            ticket_ready_at: None,
        }
    }
}

/// Open cases per listing shown with the time their waiting period ends.
const MAX_READINESS_ESTIMATES: usize = 25;

/// Longest ticket reference accepted.
const MAX_REFERENCE_CHARS: usize = 64;

/// A reference is a support system's id: letters, digits and `-_.#:/`.
fn check_reference(reference: &str) -> Result<(), ApiError> {
    let bad = |message: &str| ApiError::Invalid {
        field: "ticket_reference".into(),
        message: format!("`{}` {message}", reference.escape_debug()),
    };
    if reference.is_empty() || reference.chars().count() > MAX_REFERENCE_CHARS {
        return Err(bad("must be 1 to 64 characters"));
    }
    if let Some(c) = reference
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "-_.#:/".contains(*c)))
    {
        return Err(bad(&format!(
            "holds `{}`: a reference is letters, digits and - _ . # : /",
            c.escape_debug()
        )));
    }
    Ok(())
}

/// The checks as named, each once, from the schema's closed list.
fn parse_checks(names: &[String]) -> Result<Vec<IdentityCheck>, ApiError> {
    let mut checks = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let check = IdentityCheck::from_name(name).ok_or_else(|| ApiError::Invalid {
            field: format!("checks[{i}]"),
            message: format!(
                "`{}` is not an identity check; one of: {}",
                name.escape_debug(),
                IdentityCheck::ALL.map(IdentityCheck::name).join(", ")
            ),
        })?;
        if checks.contains(&check) {
            return Err(ApiError::Invalid {
                field: format!("checks[{i}]"),
                message: format!("`{name}` is listed twice"),
            });
        }
        checks.push(check);
    }
    Ok(checks)
}

/// A denied step as the caller sees it (the deciding policy's code and
/// message), with its status.
pub(super) fn denied(decision_id: String, decision: mfa_reset::api::Decision) -> (u16, Value) {
    let denied = Decided::denied(decision_id, decision);
    let body = serde_json::to_value(&denied).unwrap_or_default();
    (denied.status().as_u16(), body)
}

/// The answer to a step: the decision, and the case as it now stands.
pub(super) fn answer(
    decision_id: String,
    outcome: RecoveryOutcome,
    stored: &StoredCase,
) -> (u16, Value) {
    if !outcome.decision.allowed {
        return denied(decision_id, outcome.decision);
    }
    let view = CaseView::of(stored, &outcome.case);
    let body = json!({
        "decision_id": decision_id,
        "allowed": true,
        "policy_ids": outcome.decision.policy_ids,
        "message": outcome.decision.message,
        "case": view,
    });
    (200, body)
}

/// Runs a step from a session under the denial throttle: a refused step
/// uses up a slot of the session and of the caller.
async fn throttled(
    state: &AppState,
    caller: Caller,
    action: &'static str,
    step: impl AsyncFnOnce(Caller) -> Result<(u16, Value), ApiError>,
) -> Result<(u16, Value), ApiError> {
    let attempt = Attempt {
        action,
        target: "(a recovery case)",
        on_others: true,
    };
    let claim = throttle::claim(state, &caller, attempt).await?;
    let answer = step(caller).await;
    claim
        .settle(match &answer {
            Ok((status, _)) if *status != 200 => Settled::Refused { for_user: true },
            _ => Settled::NotRefused,
        })
        .await;
    answer
}

/// A support agent opens a case for `form.account`.
pub async fn open_case(
    state: &AppState,
    caller: Caller,
    form: OpenCase,
) -> Result<(u16, Value), ApiError> {
    check_reference(&form.ticket_reference)?;
    let checks = parse_checks(&form.checks)?;
    // Only whom the policies let use the support desk learns whether an
    // account exists, or leaves a trace in its organization's audit trail.
    let desk = Intent::Route("view_support_desk".into());
    let gate = crate::decisions::decide(state, caller.clone(), &desk).await?;
    if !gate.decision.allowed {
        let status = gate.status().as_u16();
        return Ok((status, serde_json::to_value(&gate).unwrap_or_default()));
    }
    if state.config.webhook.is_none() {
        return Err(no_webhook());
    }
    throttled(state, caller, "open_recovery_case", async |caller| {
        let (caller, form, checks) = (&caller, &form, &checks);
        retry::on_conflict(|_| async move {
            let caller = caller::reload(state, caller).await?;
            let account =
                state
                    .store
                    .user(&form.account)
                    .await?
                    .ok_or_else(|| ApiError::Invalid {
                        field: "account".into(),
                        message: format!("no account `{}`", form.account.escape_debug()),
                    })?;
            let now = caller.now(&state.config.clock);
            let case = RecoveryCase {
                id: format!("rc_{}", uuid::Uuid::now_v7().simple()),
                account: account.user.clone(),
                opened_by: caller.user.user.id.clone(),
                opened_at: now,
                checks: checks.clone(),
                approved_by: None,
                state: CaseState::Open,
                ticket_issued_at: None,
            };
            let request = RecoveryRequest {
                caller: Some(caller.user.user.clone()),
                session: caller.session(),
                now,
                account_has_active_session: probe::has_active_session(state, &account, now).await?,
                action: RecoveryAction::OpenCase,
                case,
            };
            let decision_id = uuid::Uuid::new_v4().to_string();
            let outcome = step::decide(state, request, &decision_id).await?;
            let cancel_token = session::new_token();
            let cancel_link = format!(
                "{}/console/cancel-case#{cancel_token}",
                state.config.public_url
            );
            let mut notify = vec![&account.user];
            let organization = state
                .store
                .organization_users(&account.user.organization.id)
                .await?;
            notify.extend(
                organization
                    .iter()
                    .map(|u| &u.user)
                    .filter(|u| u.role == Role::Root && u.active && u.id != account.user.id),
            );
            let writes = StepWrites {
                caller: Some(&caller),
                account: &account,
                case_version: None,
                ticket_reference: &form.ticket_reference,
                cancel_link_hash: &session::hash(&cancel_token),
                ticket_hash: None,
                events: vec![events::case_opened(&outcome.case, &notify, &cancel_link)],
            };
            step::commit(state, &outcome, &decision_id, writes).await?;
            let stored = StoredCase {
                case: outcome.case.clone(),
                account: account.clone(),
                ticket_reference: form.ticket_reference.clone(),
                closed: None,
                version: 0,
            };
            Ok(answer(decision_id, outcome, &stored))
        })
        .await
    })
    .await
}

/// A later step of case `id` from a session: an agent approves it or
/// issues its ticket; an agent, the account holder or their root cancels.
pub async fn case_step(
    state: &AppState,
    caller: Caller,
    id: &str,
    action: RecoveryAction,
) -> Result<(u16, Value), ApiError> {
    if action == RecoveryAction::IssueTicket && state.config.webhook.is_none() {
        return Err(no_webhook());
    }
    let name = action.cedar_name();
    throttled(state, caller, name, async |caller| {
        let caller = &caller;
        retry::on_conflict(|_| async move {
            let caller = caller::reload(state, caller).await?;
            let stored = state.store.case(id).await?.ok_or_else(|| no_case(id))?;
            let now = caller.now(&state.config.clock);
            let request = RecoveryRequest {
                caller: Some(caller.user.user.clone()),
                session: caller.session(),
                now,
                account_has_active_session: false,
                action,
                case: stored.case.clone(),
            };
            let decision_id = uuid::Uuid::new_v4().to_string();
            let outcome = step::decide(state, request, &decision_id).await?;
            let ticket = session::new_token();
            let ticket_hash = session::hash(&ticket);
            let login_url = format!("{}/console/", state.config.public_url);
            let event = match action {
                RecoveryAction::ApproveCase => events::case_approved(&outcome.case, now),
                RecoveryAction::IssueTicket => {
                    events::ticket_issued(&outcome.case, &ticket, &login_url)
                }
                _ => events::case_cancelled(&outcome.case, &caller.user.user.id, now),
            };
            let writes = StepWrites {
                caller: Some(&caller),
                account: &stored.account,
                case_version: Some(stored.version),
                ticket_reference: &stored.ticket_reference,
                cancel_link_hash: "",
                ticket_hash: (action == RecoveryAction::IssueTicket).then_some(&ticket_hash),
                events: vec![event],
            };
            step::commit(state, &outcome, &decision_id, writes).await?;
            Ok(answer(decision_id, outcome, &stored))
        })
        .await
    })
    .await
}

/// Without a webhook nobody would hear of a case, and no ticket could
/// reach its holder: the support desk refuses to open or issue.
fn no_webhook() -> ApiError {
    ApiError::Conflict(
        "the support desk needs a webhook (--webhook-url): the account holder must hear of a case, and its ticket reaches them only that way".into(),
    )
}

/// The refusal of a case id that names none.
pub(super) fn no_case(id: &str) -> ApiError {
    ApiError::Invalid {
        field: "id".into(),
        message: format!("no recovery case `{}`", id.escape_debug()),
    }
}

/// The cases the caller may see, each decided by the policies: the
/// support desk's (an agent, `view_support_desk`), the caller's own
/// pending cases (`access_console`) and, for a root, those of the
/// organization's users (`administer_console`).
pub async fn list_cases(state: &AppState, caller: Caller) -> Result<(u16, Value), ApiError> {
    // (route, whether it widens to the organization: only a root's
    // second route may be denied without the whole listing being refused)
    let routes: &[(&str, bool)] = match caller.user.user.role {
        Role::SupportAgent => &[("view_support_desk", false)],
        Role::Root => &[("access_console", false), ("administer_console", true)],
        Role::SubUser => &[("access_console", false)],
    };
    let mut cases: Vec<StoredCase> = Vec::new();
    let now = caller.now(&state.config.clock);
    for (route, wide) in routes {
        let decided =
            crate::decisions::decide(state, caller.clone(), &Intent::Route(route.to_string()))
                .await?;
        if !decided.decision.allowed {
            if *wide {
                break;
            }
            let status = decided.status().as_u16();
            return Ok((status, serde_json::to_value(&decided).unwrap_or_default()));
        }
        let user = &caller.user.user;
        let scope = match (user.role, wide) {
            (Role::SupportAgent, _) => CaseScope::All,
            (_, true) => CaseScope::PendingInOrganization(&user.organization.id),
            (_, false) => CaseScope::PendingOfAccount(&user.id),
        };
        for found in state.store.cases(scope).await? {
            if !cases.iter().any(|c| c.case.id == found.case.id) {
                cases.push(found);
            }
        }
    }
    let mut views = Vec::with_capacity(cases.len());
    let mut probed = 0;
    for stored in &cases {
        let mut view = CaseView::of(stored, &stored.case);
        // Each estimate is up to 18 decisions: the newest open cases get one.
        if caller.user.user.role == Role::SupportAgent
            && stored.case.state == CaseState::Open
            && probed < MAX_READINESS_ESTIMATES
        {
            probed += 1;
            view.ticket_ready_at = probe::ticket_ready_at(state, &stored.case, now).await?;
        }
        views.push(view);
    }
    // The service's clock, for the time left until each ticket is ready.
    let now = now
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    Ok((200, json!({ "cases": views, "now": now })))
}
