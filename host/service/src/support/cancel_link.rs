//! The cancel link of a case's notification (R14, NIST SP 800-63B-4 §4.6:
//! a notification says how to repudiate the event): whoever holds it may
//! cancel that case and nothing else, once — a cancelled case is closed.
//! The link's token (256 bits) is kept as SHA-256 only.

use serde_json::Value;

use super::cases::answer;
use super::events;
use super::step::{self, StepWrites};
use crate::app::AppState;
use crate::credentials::session;
use crate::decisions::retry;
use crate::error::ApiError;
use mfa_reset::api::RecoveryAction;

/// The refusal of a token that names no case.
fn unknown() -> ApiError {
    ApiError::Invalid {
        field: "token".into(),
        message: "this cancel link names no recovery case: check that it was copied whole".into(),
    }
}

/// Cancels the case whose cancel link holds `token`.
pub async fn cancel_by_link(state: &AppState, token: &str) -> Result<(u16, Value), ApiError> {
    if token.is_empty() || token.len() > 128 {
        return Err(unknown());
    }
    let hash = session::hash(token);
    retry::on_conflict(|_| async {
        let stored = state
            .store
            .case_by_cancel_link(&hash)
            .await?
            .ok_or_else(unknown)?;
        let now = state.config.clock.now();
        let request =
            step::sessionless(None, RecoveryAction::CancelByLink, stored.case.clone(), now);
        let decision_id = uuid::Uuid::new_v4().to_string();
        let outcome = step::decide(state, request, &decision_id).await?;
        let writes = StepWrites {
            caller: None,
            account: &stored.account,
            case_version: Some(stored.version),
            ticket_reference: &stored.ticket_reference,
            cancel_link_hash: "",
            ticket_hash: None,
            events: vec![events::case_cancelled(
                &outcome.case,
                &outcome.audit.actor,
                now,
            )],
        };
        step::commit(state, &outcome, &decision_id, writes).await?;
        Ok(answer(decision_id, outcome, &stored))
    })
    .await
}
