//! Organizations and their users, with the TOTP keys (and the recovery
//! codes' hashes, R15) sealed at rest.

use super::row::Columns;
use super::{Store, StoreError, role_name, status_name, time_of};
use serde::Serialize;
use serde::de::DeserializeOwned;

use mfa_reset::api::{Authenticator, MfaStatus, Organization, User};

/// A user as stored, with the versions its decision depends on. Its TOTP
/// keys stay sealed until [`Store::authenticator`] opens them: only the
/// login steps need them.
#[derive(Debug, Clone)]
#[cfg_attr(test, derive(PartialEq))]
pub struct StoredUser {
    pub user: User,
    sealed: SealedAuthenticator,
    pub password_hash: String,
    pub version: i64,
    pub organization_version: i64,
}

/// The authenticator as stored: keys still sealed.
#[derive(Clone)]
#[cfg_attr(test, derive(PartialEq))]
struct SealedAuthenticator {
    pending: Option<String>,
    active: Option<String>,
    last_accepted_step: Option<u64>,
    failures: u32,
    locked_until: Option<i64>,
    recovery_codes: Option<String>,
}

impl std::fmt::Debug for SealedAuthenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedAuthenticator")
            .field("failures", &self.failures)
            .finish_non_exhaustive()
    }
}

pub(super) const USER_COLUMNS: &str = "u.id, u.role, u.password_hash, u.mfa_status, u.totp_pending, u.totp_active, \
     u.last_accepted_step, u.failures, u.locked_until, u.recovery_codes, u.version, u.active, \
     o.id AS organization_id, o.enforce_mfa, o.version AS organization_version";

impl Store {
    /// Creates organizations and users (with password hashes) in one transaction.
    pub async fn insert_organization(
        &self,
        org: &Organization,
        users: &[(User, String)],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        // Replicas starting together may seed at once: the first one wins.
        sqlx::query(
            "INSERT INTO organizations (id, enforce_mfa) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
        )
            .bind(&org.id)
            .bind(i64::from(org.enforce_mfa))
            .execute(&mut *tx)
            .await?;
        for (user, password_hash) in users {
            sqlx::query(
                "INSERT INTO users (id, organization_id, role, password_hash, mfa_status) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING",
            )
            .bind(&user.id)
            .bind(&org.id)
            .bind(role_name(user.role))
            .bind(password_hash)
            .bind(status_name(user.mfa))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn user(&self, id: &str) -> Result<Option<StoredUser>, StoreError> {
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM users u JOIN organizations o ON o.id = u.organization_id WHERE u.id = $1"
        );
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| user_from_row(&r)).transpose()
    }

    pub async fn organization_users(
        &self,
        organization: &str,
    ) -> Result<Vec<StoredUser>, StoreError> {
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM users u JOIN organizations o ON o.id = u.organization_id \
             WHERE u.organization_id = $1 ORDER BY u.id"
        );
        let rows = sqlx::query(&sql)
            .bind(organization)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(user_from_row).collect()
    }

    /// `user`'s authenticator with its keys opened (login steps only).
    pub fn authenticator(&self, user: &StoredUser) -> Result<Authenticator, StoreError> {
        let id = &user.user.id;
        let sealed = &user.sealed;
        Ok(Authenticator {
            pending: self.open_slot(id, "pending", sealed.pending.clone())?,
            active: self.open_slot(id, "active", sealed.active.clone())?,
            last_accepted_step: sealed.last_accepted_step,
            failures: sealed.failures,
            locked_until: sealed.locked_until.map(time_of),
            recovery_codes: self.open_slot(id, "recovery_codes", sealed.recovery_codes.clone())?,
        })
    }

    /// The sealed value of `user`'s `slot` (a key, the recovery codes' hashes).
    fn open_slot<T: DeserializeOwned>(
        &self,
        user: &str,
        slot: &str,
        sealed: Option<String>,
    ) -> Result<Option<T>, StoreError> {
        let Some(sealed) = sealed else {
            return Ok(None);
        };
        let secret = |message: String| StoreError::Secret {
            user: user.into(),
            message,
        };
        let json = self
            .secrets
            .open(&sealed, &format!("{user}/{slot}"))
            .map_err(|e| secret(e.to_string()))?;
        serde_json::from_slice(&json)
            .map(Some)
            .map_err(|e| secret(e.to_string()))
    }

    /// `value` sealed for `user`'s `slot`: bound to both, so a sealed value
    /// moved to another user or slot does not open.
    pub(super) fn seal_slot<T: Serialize>(
        &self,
        user: &str,
        slot: &str,
        value: Option<&T>,
    ) -> Option<String> {
        value.map(|v| {
            let json = serde_json::to_vec(v).expect("keys and hashes serialize");
            self.secrets.seal(&json, &format!("{user}/{slot}"))
        })
    }
}

/// A user from a row of [`USER_COLUMNS`] (either reader's).
pub(super) fn user_from_row(r: &impl Columns) -> Result<StoredUser, StoreError> {
    let role = super::role_from_name(&r.text("role")?)?;
    let mfa = match r.text("mfa_status")?.as_str() {
        "enrolment_due" => MfaStatus::EnrolmentDue,
        "active" => MfaStatus::Active,
        _ => MfaStatus::Off,
    };
    let sealed = SealedAuthenticator {
        pending: r.optional_text("totp_pending")?,
        active: r.optional_text("totp_active")?,
        last_accepted_step: r.optional_integer("last_accepted_step")?.map(|s| s as u64),
        failures: u32::try_from(r.integer("failures")?).unwrap_or(u32::MAX),
        locked_until: r.optional_integer("locked_until")?,
        recovery_codes: r.optional_text("recovery_codes")?,
    };
    Ok(StoredUser {
        user: User {
            id: r.text("id")?,
            role,
            organization: Organization {
                id: r.text("organization_id")?,
                enforce_mfa: r.integer("enforce_mfa")? != 0,
            },
            mfa,
            active: r.integer("active")? != 0,
        },
        sealed,
        password_hash: r.text("password_hash")?,
        version: r.integer("version")?,
        organization_version: r.integer("organization_version")?,
    })
}
