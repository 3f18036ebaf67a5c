//! Demo data for a fresh database, from `host/service/seed/demo.json` by default.

use serde::Deserialize;

use crate::credentials::passwords;
use crate::store::{Store, StoreError};
use mfa_reset::api::{MfaStatus, Organization, Role, User};

pub const DEMO_SEED: &str = include_str!("../seed/demo.json");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seed {
    #[serde(default)]
    pub comment: Option<String>,
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
    pub fn parse(json: &str) -> Result<Self, mfa_reset::Error> {
        mfa_reset::api::from_json(json)
    }

    /// Creates the seed's organizations and users if the database is empty.
    pub async fn apply_if_empty(&self, store: &Store) -> Result<bool, StoreError> {
        if !store.is_empty().await? {
            return Ok(false);
        }
        for org in &self.organizations {
            let organization = Organization {
                id: org.id.clone(),
                enforce_mfa: org.enforce_mfa,
            };
            let mut users = Vec::new();
            for u in &org.users {
                let user = User {
                    id: u.id.clone(),
                    role: u.role,
                    organization: organization.clone(),
                    mfa: MfaStatus::Off,
                };
                users.push((user, passwords::hash(&u.password)));
            }
            store.insert_organization(&organization, &users).await?;
        }
        Ok(true)
    }
}
