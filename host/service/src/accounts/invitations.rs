//! Single-use invitations: a 256-bit token shown once (in a link whose
//! fragment carries it, so no server or gateway log ever sees it), kept
//! as SHA-256, that lets its user choose a password before it expires.

use serde::Serialize;
use time::{Duration, OffsetDateTime};

use super::operator_audit;
use crate::app::AppState;
use crate::credentials::{password_rules, passwords, session};
use crate::error::ApiError;
use crate::store::{AuditEntry, InvitationState, NewInvitation};
use mfa_reset::LoginStep;
use mfa_reset::api::AuditRecord;
use mfa_reset::timestamp::to_millis as millis;

/// An invitation as its maker sees it, once: the link holds the token.
#[derive(Debug, Clone, Serialize)]
pub struct Invitation {
    /// Whose it is.
    pub user: String,
    /// `PUBLIC_URL/console/invitation#TOKEN`: the token in the fragment,
    /// which browsers never send.
    pub link: String,
    /// After this it is refused.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// What the console learns of an open invitation before the password is
/// chosen: whose it is and how long the password must be.
#[derive(Debug, Clone, Serialize)]
pub struct InvitationAnswer {
    /// Whose invitation it is.
    pub user: String,
    /// The shortest password the rules accept for this account.
    pub min_password_chars: usize,
    /// The first login enrols an authenticator (MFA on or enforced).
    pub mfa_required: bool,
}

pub(super) fn new(
    user: &str,
    now: OffsetDateTime,
    lifetime: Duration,
    public_url: &str,
) -> (Invitation, NewInvitation) {
    let token = session::new_token();
    let expires_at = now + lifetime;
    let stored = NewInvitation {
        token_hash: session::hash(&token),
        created_at: millis(now),
        expires_at: millis(expires_at),
    };
    let invitation = Invitation {
        user: user.into(),
        link: format!("{public_url}/console/invitation#{token}"),
        expires_at,
    };
    (invitation, stored)
}

/// The refusal of every invitation that cannot be used: unknown, used,
/// expired, voided, or of a deactivated user alike.
fn closed() -> ApiError {
    ApiError::Invalid {
        field: "token".into(),
        message: "this invitation cannot be used: it was used already, expired, or replaced by a newer one. Ask your organization's administrator for a new invitation".into(),
    }
}

/// The open invitation `token` leads to, with what its password needs.
pub async fn peek_invitation(state: &AppState, token: &str) -> Result<InvitationAnswer, ApiError> {
    let now = millis(state.config.clock.now());
    let InvitationState::Open { user } = state.store.invitation(&session::hash(token), now).await?
    else {
        return Err(closed());
    };
    let stored = state.store.user(&user).await?.ok_or_else(closed)?;
    let mfa_required = state.engine.login_step(&stored.user)? != LoginStep::None;
    Ok(InvitationAnswer {
        user,
        min_password_chars: if mfa_required {
            password_rules::MIN_CHARS_WITH_MFA
        } else {
            password_rules::MIN_CHARS_PASSWORD_ONLY
        },
        mfa_required,
    })
}

/// Uses `token` once to set its user's password, if the password is one
/// the rules accept. The user then logs in as usual (and enrols at once
/// when MFA is required).
pub async fn accept_invitation(
    state: &AppState,
    token: &str,
    password: String,
) -> Result<InvitationAnswer, ApiError> {
    let answer = peek_invitation(state, token).await?;
    password_rules::check(
        &password,
        &answer.user,
        &state.config.issuer,
        answer.mfa_required,
    )
    .map_err(|problem| ApiError::Invalid {
        field: "password".into(),
        message: format!("the password {problem}"),
    })?;
    let _permit = state
        .password_checks
        .acquire()
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let hash = tokio::task::spawn_blocking(move || passwords::hash(&password))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let now = state.config.clock.now();
    let stored = state.store.user(&answer.user).await?.ok_or_else(closed)?;
    let record = AuditRecord {
        actor: answer.user.clone(),
        ..operator_audit(
            now,
            "accept_invitation",
            &stored.user.organization.id,
            &answer.user,
        )
        .record
    };
    let audit = AuditEntry::new(record, uuid::Uuid::new_v4().to_string());
    let used = state
        .store
        .accept_invitation(
            &session::hash(token),
            &answer.user,
            &hash,
            millis(now),
            &audit,
        )
        .await?;
    if !used {
        return Err(closed());
    }
    tracing::info!(user = %answer.user, "invitation used: password chosen");
    Ok(answer)
}
