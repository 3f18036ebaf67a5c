//! Demo data for a fresh database, from `host/service/seed/demo.json` by default.

use serde::Deserialize;

use crate::credentials::passwords;
use mfa_reset::api::{MfaStatus, Organization, Role, User};

/// The demo organizations (`host/service/seed/demo.json`).
pub const DEMO_SEED: &str = include_str!("../seed/demo.json");

/// Organizations and users for an empty database (demo data).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seed {
    /// Free text for the file's reader.
    #[serde(default)]
    pub comment: Option<String>,
    /// The organizations, each with its users.
    pub organizations: Vec<SeedOrganization>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedOrganization {
    pub id: String,
    pub enforce_mfa: bool,
    pub users: Vec<SeedUser>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedUser {
    pub id: String,
    pub role: Role,
    pub password: String,
}

impl Seed {
    /// A seed from its JSON form; unknown fields are refused.
    pub fn parse(json: &str) -> Result<Self, mfa_reset::Error> {
        mfa_reset::api::from_json(json)
    }

    /// The seed's organizations with their users and password hashes, as
    /// the store creates them.
    pub(crate) fn accounts(&self) -> Vec<(Organization, Vec<(User, String)>)> {
        self.organizations
            .iter()
            .map(|org| {
                let organization = Organization {
                    id: org.id.clone(),
                    enforce_mfa: org.enforce_mfa,
                };
                let users = org
                    .users
                    .iter()
                    .map(|u| {
                        let user = User {
                            id: u.id.clone(),
                            role: u.role,
                            organization: organization.clone(),
                            mfa: MfaStatus::Off,
                            active: true,
                        };
                        (user, passwords::hash(&u.password))
                    })
                    .collect();
                (organization, users)
            })
            .collect()
    }
}
