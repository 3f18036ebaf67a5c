//! Organizations and users as operators and identity providers create
//! them (R13): accounts without a password and their single-use
//! invitations, (de)activation, and the organizations' SCIM tokens. Every
//! change commits with its audit row; tokens are kept as SHA-256 only.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::commit::{AuditEntry, insert_audit};
use super::{Store, StoreError, role_name, status_name};
use mfa_reset::api::{Organization, User};

/// What an identity provider knows of a user besides its id (SCIM).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountProfile {
    /// Its id at the identity provider.
    pub external_id: Option<String>,
    /// `name`, `displayName` and `emails` as the identity provider sent
    /// them: a JSON object.
    pub profile: Option<String>,
}

/// A new invitation: the token's hash and its lifetime (milliseconds).
#[derive(Debug, Clone)]
pub struct NewInvitation {
    pub token_hash: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// What an invitation token leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvitationState {
    /// Unused and unexpired: it may set the user's password.
    Open { user: String },
    /// Used already, expired, or its user deactivated.
    Closed,
}

/// One organization as `orgs list` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct OrganizationSummary {
    /// The organization's id.
    pub id: String,
    /// Whether it enforces MFA for all users (R5).
    pub enforce_mfa: bool,
    /// Its users, deactivated ones included.
    pub users: i64,
    /// Its users not deactivated.
    pub active_users: i64,
}

/// One SCIM token, without its secret.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ScimTokenSummary {
    /// The token's id (not its secret), to revoke it by.
    pub id: String,
    /// The organization whose users it provisions.
    pub organization: String,
    /// Milliseconds since the epoch.
    pub created_at: i64,
    /// Milliseconds since the epoch, once revoked.
    pub revoked_at: Option<i64>,
}

type Tx<'t> = sqlx::Transaction<'t, sqlx::Any>;

/// A creation that lost a race for its id (the unique indexes: PostgreSQL
/// 23505, SQLite 2067 and 1555) is the id taken, not a failure.
fn taken_on_race(e: sqlx::Error, kind: &'static str, id: &str) -> StoreError {
    let unique = e
        .as_database_error()
        .and_then(|d| d.code())
        .is_some_and(|code| matches!(code.as_ref(), "23505" | "2067" | "1555"));
    if unique {
        StoreError::Exists {
            kind,
            id: id.into(),
        }
    } else {
        e.into()
    }
}

pub(super) async fn insert_user(
    tx: &mut Tx<'_>,
    user: &User,
    profile: &AccountProfile,
    now: i64,
) -> Result<(), StoreError> {
    let taken = sqlx::query("SELECT 1 FROM users WHERE LOWER(id) = LOWER($1)")
        .bind(&user.id)
        .fetch_optional(&mut **tx)
        .await?;
    if taken.is_some() {
        return Err(StoreError::Exists {
            kind: "user",
            id: user.id.clone(),
        });
    }
    // No password: '' never verifies; the invitation sets one.
    sqlx::query(
        "INSERT INTO users (id, organization_id, role, password_hash, mfa_status, active, \
         external_id, profile, created_at, updated_at) \
         VALUES ($1, $2, $3, '', $4, $5, $6, $7, $8, $8)",
    )
    .bind(&user.id)
    .bind(&user.organization.id)
    .bind(role_name(user.role))
    .bind(status_name(user.mfa))
    .bind(i64::from(user.active))
    .bind(&profile.external_id)
    .bind(&profile.profile)
    .bind(now)
    .execute(&mut **tx)
    .await
    .map_err(|e| taken_on_race(e, "user", &user.id))?;
    Ok(())
}

/// Voids the open invitations of `user` as of `now`.
pub(super) async fn void_invitations(
    tx: &mut Tx<'_>,
    user: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE invitations SET used_at = $1 WHERE user_id = $2 AND used_at IS NULL")
        .bind(now)
        .bind(user)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Ends every session of `user`.
pub(super) async fn end_sessions(tx: &mut Tx<'_>, user: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(user)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// What a deactivation does to `user`'s ways in, in its transaction:
/// every session ends, every open invitation is void.
pub(super) async fn lock_out(tx: &mut Tx<'_>, user: &str, now: i64) -> Result<(), StoreError> {
    end_sessions(tx, user).await?;
    void_invitations(tx, user, now).await
}

pub(super) async fn insert_invitation(
    tx: &mut Tx<'_>,
    user: &str,
    invitation: &NewInvitation,
) -> Result<(), StoreError> {
    // A new invitation voids the user's older ones.
    void_invitations(tx, user, invitation.created_at).await?;
    sqlx::query(
        "INSERT INTO invitations (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(&invitation.token_hash)
    .bind(user)
    .bind(invitation.created_at)
    .bind(invitation.expires_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Store {
    /// Creates `organization` with its root `root` (no password yet) and
    /// the root's invitation.
    pub async fn create_organization(
        &self,
        organization: &Organization,
        root: &User,
        invitation: &NewInvitation,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let taken = sqlx::query("SELECT 1 FROM organizations WHERE LOWER(id) = LOWER($1)")
            .bind(&organization.id)
            .fetch_optional(&mut *tx)
            .await?;
        if taken.is_some() {
            return Err(StoreError::Exists {
                kind: "organization",
                id: organization.id.clone(),
            });
        }
        sqlx::query("INSERT INTO organizations (id, enforce_mfa) VALUES ($1, $2)")
            .bind(&organization.id)
            .bind(i64::from(organization.enforce_mfa))
            .execute(&mut *tx)
            .await
            .map_err(|e| taken_on_race(e, "organization", &organization.id))?;
        let now = invitation.created_at;
        insert_user(&mut tx, root, &AccountProfile::default(), now).await?;
        insert_invitation(&mut tx, &root.id, invitation).await?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Creates `organization` unless it exists (the support desk, made on
    /// its first agent).
    pub async fn ensure_organization(&self, organization: &Organization) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO organizations (id, enforce_mfa) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
        )
        .bind(&organization.id)
        .bind(i64::from(organization.enforce_mfa))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Creates `user` (no password yet) in its organization, which must
    /// exist, with its invitation.
    pub async fn create_user(
        &self,
        user: &User,
        profile: &AccountProfile,
        invitation: &NewInvitation,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        insert_user(&mut tx, user, profile, invitation.created_at).await?;
        insert_invitation(&mut tx, &user.id, invitation).await?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A new invitation for `user`, voiding its older ones.
    pub async fn reinvite(
        &self,
        user: &str,
        invitation: &NewInvitation,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        insert_invitation(&mut tx, user, invitation).await?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deactivates or reactivates `user` (R13). Deactivation ends every
    /// session of the user and voids its open invitations, in the same
    /// transaction; the version bump makes any decision that read the
    /// user active fail its commit and decide again. False: no such user.
    pub async fn set_active(
        &self,
        user: &str,
        active: bool,
        now: i64,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        // Reactivation also brings back a user its identity provider
        // deleted (an operator's decision).
        let changed = sqlx::query(
            "UPDATE users SET active = $1, deprovisioned = CASE WHEN $1 = 1 THEN 0 ELSE deprovisioned END, \
             updated_at = $2, version = version + 1 WHERE id = $3",
        )
        .bind(i64::from(active))
        .bind(now)
        .bind(user)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed != 1 {
            return Ok(false);
        }
        if !active {
            lock_out(&mut tx, user, now).await?;
        }
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Where an invitation token (by its hash) leads at `now`.
    pub async fn invitation(
        &self,
        token_hash: &str,
        now: i64,
    ) -> Result<InvitationState, StoreError> {
        let row = sqlx::query(
            "SELECT i.user_id FROM invitations i JOIN users u ON u.id = i.user_id \
             WHERE i.token_hash = $1 AND i.used_at IS NULL AND i.expires_at > $2 AND u.active = 1",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(r) => InvitationState::Open {
                user: r.try_get("user_id")?,
            },
            None => InvitationState::Closed,
        })
    }

    /// Uses an open invitation once: sets its user's password and ends
    /// any session of the user, with the audit row. False when the
    /// invitation was used, expired or voided meanwhile (nothing written).
    pub async fn accept_invitation(
        &self,
        token_hash: &str,
        user: &str,
        password_hash: &str,
        now: i64,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let claimed = sqlx::query(
            "UPDATE invitations SET used_at = $1 \
             WHERE token_hash = $2 AND user_id = $3 AND used_at IS NULL AND expires_at > $1",
        )
        .bind(now)
        .bind(token_hash)
        .bind(user)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if claimed != 1 {
            return Ok(false);
        }
        let updated = sqlx::query(
            "UPDATE users SET password_hash = $1, updated_at = $2, version = version + 1 \
             WHERE id = $3 AND active = 1",
        )
        .bind(password_hash)
        .bind(now)
        .bind(user)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated != 1 {
            return Ok(false);
        }
        end_sessions(&mut tx, user).await?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Every organization with its user counts, by id.
    pub async fn organizations(&self) -> Result<Vec<OrganizationSummary>, StoreError> {
        let rows = sqlx::query(
            "SELECT o.id, o.enforce_mfa, COUNT(u.id) AS users, \
             COALESCE(SUM(u.active), 0) AS active_users \
             FROM organizations o LEFT JOIN users u ON u.organization_id = o.id \
             GROUP BY o.id, o.enforce_mfa ORDER BY o.id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(OrganizationSummary {
                    id: r.try_get("id")?,
                    enforce_mfa: r.try_get::<i64, _>("enforce_mfa")? != 0,
                    users: r.try_get("users")?,
                    active_users: r.try_get("active_users")?,
                })
            })
            .collect()
    }

    /// The organization `id` as the engine sees it, if it exists.
    pub async fn organization(&self, id: &str) -> Result<Option<Organization>, StoreError> {
        let row = sqlx::query("SELECT id, enforce_mfa FROM organizations WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(Organization {
                id: r.try_get("id")?,
                enforce_mfa: r.try_get::<i64, _>("enforce_mfa")? != 0,
            })
        })
        .transpose()
    }

    /// Stores a new SCIM token of `organization` (its hash only).
    pub async fn create_scim_token(
        &self,
        token: &ScimTokenSummary,
        token_hash: &str,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO scim_tokens (id, organization_id, token_hash, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&token.id)
        .bind(&token.organization)
        .bind(token_hash)
        .bind(token.created_at)
        .execute(&mut *tx)
        .await?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Revokes the SCIM token `id` of `organization`; false if it was not
    /// there or revoked already.
    pub async fn revoke_scim_token(
        &self,
        id: &str,
        organization: &str,
        now: i64,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let revoked = sqlx::query(
            "UPDATE scim_tokens SET revoked_at = $1 \
             WHERE id = $2 AND organization_id = $3 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(id)
        .bind(organization)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if revoked != 1 {
            return Ok(false);
        }
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The SCIM tokens of `organization`, newest first, without secrets.
    pub async fn scim_tokens(
        &self,
        organization: &str,
    ) -> Result<Vec<ScimTokenSummary>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, organization_id, created_at, revoked_at FROM scim_tokens \
             WHERE organization_id = $1 ORDER BY created_at DESC, id",
        )
        .bind(organization)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(scim_token_from_row).collect()
    }
}

impl Store {
    /// The unrevoked SCIM token with this hash.
    pub async fn scim_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<ScimTokenSummary>, StoreError> {
        let row = sqlx::query(
            "SELECT id, organization_id, created_at, revoked_at FROM scim_tokens \
             WHERE token_hash = $1 AND revoked_at IS NULL",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(scim_token_from_row).transpose()
    }
}

fn scim_token_from_row(r: &AnyRow) -> Result<ScimTokenSummary, StoreError> {
    Ok(ScimTokenSummary {
        id: r.try_get("id")?,
        organization: r.try_get("organization_id")?,
        created_at: r.try_get("created_at")?,
        revoked_at: r.try_get("revoked_at")?,
    })
}
