//! Provisioning types (R13): an organization's identity provider (its SCIM
//! token) as a principal of its own, what it asks, and what an allow means.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{AuditRecord, Decision, Organization, SessionEffect, User};

/// An organization's identity provider, known by its SCIM token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provisioner {
    /// The token's id (`scim-…`), never its secret.
    pub id: String,
    /// The organization whose users it provisions.
    pub organization: Organization,
}

/// What an identity provider asks. None changes MFA or makes a root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProvisioningAction {
    /// List or search the organization's users.
    ReadUsers,
    /// Read one user, as stored.
    ReadUser(User),
    /// Create the user of this id: an active sub-user, MFA off.
    CreateUser(String),
    /// Change what the identity provider knows of a user (kept by the host).
    UpdateUser(User),
    /// Deactivate a user: its sessions end, its requests are denied.
    DeactivateUser(User),
    /// Reactivate a deactivated user.
    ReactivateUser(User),
}

impl ProvisioningAction {
    /// The Cedar action this asks for, as the host names it.
    pub fn cedar_name(&self) -> &'static str {
        match self {
            Self::ReadUsers => "provision_read_users",
            Self::ReadUser(_) => "provision_read_user",
            Self::CreateUser(_) => "provision_create_user",
            Self::UpdateUser(_) => "provision_update_user",
            Self::DeactivateUser(_) => "provision_deactivate_user",
            Self::ReactivateUser(_) => "provision_reactivate_user",
        }
    }
}

/// One identity provider's request to decide.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvisioningRequest {
    /// Who asks.
    pub provisioner: Provisioner,
    /// The time of the request (the host's clock).
    #[serde(with = "time::serde::rfc3339")]
    pub now: OffsetDateTime,
    /// What it asks for.
    pub action: ProvisioningAction,
}

/// The decision and, when allowed, the user's new state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvisioningOutcome {
    /// Cedar's answer.
    pub decision: Decision,
    /// The new state of the user created, deactivated or reactivated.
    pub user: Option<User>,
    /// What the host must do to sessions: end the user's on deactivation.
    pub sessions: SessionEffect,
    /// R12: for every action but reads.
    pub audit: Option<AuditRecord>,
    /// The revision of the policy set that decided.
    pub policy_revision: String,
}
