//! What an organization's identity provider may do (SCIM 2.0, R13), each
//! request decided by the policies with the provider's token as the
//! principal: read the organization's users, create sub-users (each gets an
//! invitation, delivered by the webhook as a `user.invited` event), update
//! what the provider knows of them, deactivate, reactivate, delete. A user
//! of another organization is, for the provider, a user that does not
//! exist.

use time::OffsetDateTime;

use super::{AccountError, busy_retry, check_id, invitations};
use crate::app::AppState;
use crate::credentials::session;
use crate::error::ApiError;
use crate::store::{AccountProfile, AuditEntry, Event, ScimFilter, ScimRecord, StoreError};
use mfa_reset::api::{AuditRecord, Provisioner, ProvisioningAction, ProvisioningOutcome, User};
use mfa_reset::timestamp::to_millis as millis;

/// Why an identity provider's request did nothing.
#[derive(Debug)]
pub enum ProvisioningError {
    /// No token, or not an unrevoked one (the same answer for both).
    Unauthorized,
    /// No such user in the provider's organization: unknown, deleted, or
    /// another organization's (the same answer for all).
    NotFound(String),
    /// The policies denied it (`root-not-provisioned`, …).
    Denied {
        /// The denial code.
        code: String,
        /// The policies' message.
        message: String,
    },
    /// The id is taken (ids are unique across organizations).
    Taken(String),
    /// The request cannot be done as written: SCIM's `scimType` and why.
    Invalid {
        /// `invalidValue`, `mutability`, …
        scim_type: &'static str,
        /// Which attribute, as the caller wrote it, and why.
        detail: String,
    },
    /// The engine or the database failed (nothing was changed).
    Failed(ApiError),
}

impl From<ApiError> for ProvisioningError {
    fn from(e: ApiError) -> Self {
        Self::Failed(e)
    }
}

impl From<StoreError> for ProvisioningError {
    fn from(e: StoreError) -> Self {
        Self::Failed(e.into())
    }
}

impl From<mfa_reset::Error> for ProvisioningError {
    fn from(e: mfa_reset::Error) -> Self {
        Self::Failed(e.into())
    }
}

/// What a user's update asks for: the provider's data, and (if given) the
/// user's new `active`.
#[derive(Debug, Clone)]
pub struct UserUpdate {
    pub profile: AccountProfile,
    pub active: Option<bool>,
}

/// The identity provider whose bearer token this is.
pub async fn provisioner(state: &AppState, token: &str) -> Result<Provisioner, ProvisioningError> {
    let Some(token) = state.store.scim_token(&session::hash(token)).await? else {
        return Err(ProvisioningError::Unauthorized);
    };
    let organization = state
        .store
        .organization(&token.organization)
        .await?
        .ok_or(ProvisioningError::Unauthorized)?;
    Ok(Provisioner {
        id: token.id,
        organization,
    })
}

async fn decide(
    state: &AppState,
    provisioner: &Provisioner,
    action: ProvisioningAction,
) -> Result<ProvisioningOutcome, ProvisioningError> {
    let request = mfa_reset::api::ProvisioningRequest {
        provisioner: provisioner.clone(),
        now: state.config.clock.now(),
        action,
    };
    Ok(state
        .engine_call(move |engine| engine.decide_provisioning(&request))
        .await??)
}

/// The outcome's denial as the provider sees it: another organization's
/// user is one that does not exist.
fn refused(outcome: &ProvisioningOutcome, id: &str) -> Option<ProvisioningError> {
    let decision = &outcome.decision;
    if decision.allowed {
        return None;
    }
    Some(match decision.denial_code.as_deref() {
        Some("other-organization") => ProvisioningError::NotFound(id.into()),
        code => ProvisioningError::Denied {
            code: code.unwrap_or("not-permitted").into(),
            message: decision.message.clone(),
        },
    })
}

/// The audit row of an outcome that has one.
fn audit_entry(outcome: &ProvisioningOutcome) -> Option<AuditEntry> {
    let record: AuditRecord = outcome.audit.clone()?;
    Some(AuditEntry::new(record, uuid::Uuid::new_v4().to_string()))
}

/// Denied changes are audited too (R12).
async fn audit_denial(state: &AppState, outcome: &ProvisioningOutcome) -> Result<(), StoreError> {
    match audit_entry(outcome) {
        Some(entry) => state.store.audit_only(&[entry]).await,
        None => Ok(()),
    }
}

/// The user `id` if the provider may read it.
pub async fn read_user(
    state: &AppState,
    provisioner: &Provisioner,
    id: &str,
) -> Result<ScimRecord, ProvisioningError> {
    let record = state.store.scim_user(id).await?;
    // An unknown id is decided too, as a user of no organization the
    // provider could see: its answer takes as long as another
    // organization's user's, and is the same.
    let user = record.as_ref().map_or_else(
        || User {
            id: id.into(),
            role: mfa_reset::api::Role::SubUser,
            organization: mfa_reset::api::Organization {
                id: format!("{}/(unknown)", provisioner.organization.id),
                enforce_mfa: false,
            },
            mfa: mfa_reset::api::MfaStatus::Off,
            active: true,
        },
        |r| r.user.clone(),
    );
    let outcome = decide(state, provisioner, ProvisioningAction::ReadUser(user)).await?;
    match (refused(&outcome, id), record) {
        (Some(e), _) => Err(e),
        (None, Some(record)) => Ok(record),
        (None, None) => Err(ProvisioningError::NotFound(id.into())),
    }
}

/// A page of the organization's users that pass `filter`, and how many do.
pub async fn read_users(
    state: &AppState,
    provisioner: &Provisioner,
    filter: &ScimFilter,
    offset: i64,
    limit: i64,
) -> Result<(i64, Vec<ScimRecord>), ProvisioningError> {
    let outcome = decide(state, provisioner, ProvisioningAction::ReadUsers).await?;
    if let Some(e) = refused(&outcome, &provisioner.organization.id) {
        return Err(e);
    }
    Ok(state
        .store
        .scim_users(&provisioner.organization.id, filter, offset, limit)
        .await?)
}

/// Creates sub-user `id` with what the provider knows of it; the user gets
/// an invitation, delivered as a `user.invited` event with `emails`.
pub async fn create_user(
    state: &AppState,
    provisioner: &Provisioner,
    id: &str,
    profile: AccountProfile,
    emails: Vec<String>,
) -> Result<ScimRecord, ProvisioningError> {
    check_id("user", id).map_err(|e| match e {
        AccountError::BadId { problem, .. } => ProvisioningError::Invalid {
            scim_type: "invalidValue",
            detail: format!("userName `{id}` {problem}"),
        },
        other => ProvisioningError::Failed(ApiError::Internal(other.to_string())),
    })?;
    let outcome = decide(
        state,
        provisioner,
        ProvisioningAction::CreateUser(id.into()),
    )
    .await?;
    if let Some(e) = refused(&outcome, id) {
        audit_denial(state, &outcome).await?;
        return Err(e);
    }
    let user: User = outcome
        .user
        .clone()
        .ok_or_else(|| ApiError::Internal("an allowed creation without its user".into()))?;
    let now = state.config.clock.now();
    let (invitation, stored) = invitations::new(
        id,
        now,
        super::DEFAULT_INVITATION_LIFETIME,
        &state.config.public_url,
    );
    let audit = audit_entry(&outcome)
        .ok_or_else(|| ApiError::Internal("an allowed creation without its audit".into()))?;
    let event = Event::invitation(
        &audit.record,
        emails,
        &invitation.link,
        invitation.expires_at,
    );
    match busy_retry(|| {
        state
            .store
            .create_provisioned_user(&user, &profile, &stored, &audit, event.as_ref())
    })
    .await
    {
        Err(StoreError::Exists { id, .. }) => return Err(ProvisioningError::Taken(id)),
        other => other?,
    }
    tracing::info!(user = %id, provisioner = %provisioner.id, "provisioned a user; invitation sent to the webhook");
    read_back(state, id).await
}

/// Replaces what the provider knows of `id` and, if `update.active` says
/// so, deactivates or reactivates it; each change decided and audited.
pub async fn update_user(
    state: &AppState,
    provisioner: &Provisioner,
    id: &str,
    update: UserUpdate,
) -> Result<ScimRecord, ProvisioningError> {
    let current = read_user(state, provisioner, id).await?;
    // Each write checks the version its decision read (+1 after the first).
    let mut version = current.version;
    if current.profile != update.profile {
        let outcome = decide(
            state,
            provisioner,
            ProvisioningAction::UpdateUser(current.user.clone()),
        )
        .await?;
        if let Some(e) = refused(&outcome, id) {
            audit_denial(state, &outcome).await?;
            return Err(e);
        }
        let audit = audit_entry(&outcome)
            .ok_or_else(|| ApiError::Internal("an allowed update without its audit".into()))?;
        let now = millis(state.config.clock.now());
        let written = busy_retry(|| {
            state
                .store
                .update_profile(id, &update.profile, current.version, now, &audit)
        })
        .await?;
        if !written {
            return Err(ApiError::Concurrent.into());
        }
        version += 1;
    }
    if let Some(active) = update.active.filter(|a| *a != current.user.active) {
        set_active(state, provisioner, (&current.user, version), active).await?;
    }
    read_back(state, id).await
}

async fn set_active(
    state: &AppState,
    provisioner: &Provisioner,
    (user, version): (&User, i64),
    active: bool,
) -> Result<(), ProvisioningError> {
    let action = if active {
        ProvisioningAction::ReactivateUser(user.clone())
    } else {
        ProvisioningAction::DeactivateUser(user.clone())
    };
    let outcome = decide(state, provisioner, action).await?;
    if let Some(e) = refused(&outcome, &user.id) {
        audit_denial(state, &outcome).await?;
        return Err(e);
    }
    let audit = audit_entry(&outcome)
        .ok_or_else(|| ApiError::Internal("an allowed change without its audit".into()))?;
    let now = millis(state.config.clock.now());
    let written = busy_retry(|| {
        state
            .store
            .provision_active(&user.id, active, version, now, &audit)
    })
    .await?;
    if !written {
        return Err(ApiError::Concurrent.into());
    }
    tracing::info!(user = %user.id, provisioner = %provisioner.id, active, "provisioning changed a user's activation");
    Ok(())
}

/// The provider deletes `id`: it is deactivated (sessions end) and gone
/// for SCIM; the account and its audit trail stay.
pub async fn delete_user(
    state: &AppState,
    provisioner: &Provisioner,
    id: &str,
) -> Result<(), ProvisioningError> {
    let current = read_user(state, provisioner, id).await?;
    let outcome = decide(
        state,
        provisioner,
        ProvisioningAction::DeactivateUser(current.user.clone()),
    )
    .await?;
    if let Some(e) = refused(&outcome, id) {
        audit_denial(state, &outcome).await?;
        return Err(e);
    }
    let audit = audit_entry(&outcome)
        .ok_or_else(|| ApiError::Internal("an allowed deletion without its audit".into()))?;
    let now = millis(state.config.clock.now());
    if !busy_retry(|| state.store.deprovision(id, now, &audit)).await? {
        return Err(ProvisioningError::NotFound(id.into()));
    }
    tracing::info!(user = %id, provisioner = %provisioner.id, "provisioning deleted (deactivated) a user");
    Ok(())
}

async fn read_back(state: &AppState, id: &str) -> Result<ScimRecord, ProvisioningError> {
    state
        .store
        .scim_user(id)
        .await?
        .ok_or_else(|| ProvisioningError::NotFound(id.into()))
}

/// When a record was made or changed, for `meta` (the epoch when unknown).
pub fn time_of(millis: Option<i64>) -> OffsetDateTime {
    crate::store::time_of(millis.unwrap_or(0))
}
