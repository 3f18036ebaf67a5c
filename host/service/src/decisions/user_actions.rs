//! What the console offers per listed user: the actions the policies
//! would allow the caller on each, decided in one batch.

use super::caller::Caller;
use crate::app::AppState;
use crate::error::ApiError;
use crate::store::StoredUser;
use mfa_reset::api::{Action, Request};

/// Which of the console's per-user actions the caller may take on each of
/// `users`, decided by the engine in one batch, as of now: nothing is
/// committed, audited or logged (each action taken is decided again). An
/// invitation is only ever offered for a user without a password.
pub async fn allowed_actions(
    state: &AppState,
    caller: &Caller,
    users: Vec<StoredUser>,
) -> Result<std::collections::BTreeMap<String, Vec<&'static str>>, ApiError> {
    let now = caller.now(&state.config.clock);
    let mut asked: Vec<(String, &'static str)> = Vec::new();
    let mut requests: Vec<Request> = Vec::new();
    for stored in &users {
        let u = &stored.user;
        let mut candidates = vec![
            Action::ResetUserMfa(u.clone()),
            Action::EnableUserMfa(u.clone()),
            Action::DisableUserMfa(u.clone()),
            Action::DeactivateUser(u.clone()),
            Action::ReactivateUser(u.clone()),
        ];
        if stored.password_hash.is_empty() {
            candidates.push(Action::InviteUser(u.clone()));
        }
        for action in candidates {
            asked.push((u.id.clone(), cedar_static_name(&action)));
            requests.push(Request {
                actor: caller.user.user.clone(),
                session: caller.session(),
                now,
                action,
            });
        }
    }
    let answers = state
        .engine_call(move |engine| engine.decide_batch(&requests))
        .await??;
    let mut allowed: std::collections::BTreeMap<String, Vec<&'static str>> = users
        .iter()
        .map(|u| (u.user.id.clone(), Vec::new()))
        .collect();
    for ((user, action), answer) in asked.into_iter().zip(answers) {
        if answer.is_ok_and(|o| o.decision.allowed) {
            allowed.entry(user).or_default().push(action);
        }
    }
    Ok(allowed)
}

/// The Cedar name of a per-user action the console offers.
fn cedar_static_name(action: &Action) -> &'static str {
    match action {
        Action::ResetUserMfa(_) => "reset_user_mfa",
        Action::EnableUserMfa(_) => "enable_user_mfa",
        Action::DisableUserMfa(_) => "disable_user_mfa",
        Action::DeactivateUser(_) => "deactivate_user",
        Action::ReactivateUser(_) => "reactivate_user",
        _ => "invite_user",
    }
}
