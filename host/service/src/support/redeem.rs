//! Redeeming a recovery ticket (R14): the account holder, whose password
//! and ticket the login page checked, asks for the case's last step. An
//! allowed redemption removes the authenticator, makes enrolment due and
//! ends every session of the account (R6's end state), in one commit
//! with the case moving from `ticket_issued` to `redeemed`: of two
//! redemptions racing, one commits.

use serde_json::Value;

use super::cases::{denied, no_case};
use super::events;
use super::step::{self, StepWrites};
use crate::app::AppState;
use crate::decisions::retry;
use crate::error::ApiError;
use crate::store::StoredUser;
use mfa_reset::api::RecoveryAction;

/// Redeems the case `case_id` of `account` at `now`: `Ok(None)` when it
/// is redeemed (the caller opens the login's session next), else the
/// denial to answer with its status.
pub async fn redeem_ticket(
    state: &AppState,
    account: &StoredUser,
    case_id: &str,
    now: time::OffsetDateTime,
) -> Result<Option<(u16, Value)>, ApiError> {
    retry::on_conflict(|n| async move {
        let stored = state
            .store
            .case(case_id)
            .await?
            .ok_or_else(|| no_case(case_id))?;
        // The account as stored now (the password was checked on this row).
        let account = match n {
            0 => account.clone(),
            _ => stored.account.clone(),
        };
        if account.user.id != stored.case.account.id {
            return Err(no_case(case_id));
        }
        // The login that checked password and ticket starts now.
        let caller = Some(account.user.clone());
        let request = step::sessionless(
            caller,
            RecoveryAction::RedeemTicket,
            stored.case.clone(),
            now,
        );
        let decision_id = uuid::Uuid::new_v4().to_string();
        let outcome = step::decide(state, request, &decision_id).await?;
        let writes = StepWrites {
            caller: None,
            account: &account,
            case_version: Some(stored.version),
            ticket_reference: &stored.ticket_reference,
            cancel_link_hash: "",
            ticket_hash: None,
            events: vec![events::ticket_redeemed(&outcome.case, now)],
        };
        step::commit(state, &outcome, &decision_id, writes).await?;
        if outcome.decision.allowed {
            return Ok(None);
        }
        Ok(Some(denied(decision_id, outcome.decision)))
    })
    .await
}
