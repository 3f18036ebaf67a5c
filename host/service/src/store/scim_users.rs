//! Users as an identity provider sees them (SCIM, R13): the account with
//! what the provider told us of it, by id or by filter, a page at a time;
//! profile updates and deletions (deprovisioning). Users the provider
//! deleted are gone for it, never for the operator or the audit trail.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::commit::{AuditEntry, insert_audit};
use super::event::Event;
use super::outbox;
use super::provisioning::{
    AccountProfile, NewInvitation, insert_invitation, insert_user, lock_out,
};
use super::{Store, StoreError};
use mfa_reset::api::{MfaStatus, Organization, User};

/// One user as a SCIM answer needs it.
#[derive(Debug, Clone)]
pub struct ScimRecord {
    /// The account, as the engine sees it.
    pub user: User,
    /// What the identity provider told us of it.
    pub profile: AccountProfile,
    /// Milliseconds; `None` for accounts older than provisioning.
    pub created_at: Option<i64>,
    pub updated_at: Option<i64>,
    /// Bumped by every change of the row.
    pub version: i64,
}

/// Which users a listing holds: all, or those one attribute equals
/// (letter case aside, as SCIM's `caseExact: false` says).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScimFilter {
    All,
    UserName(String),
    ExternalId(String),
}

const SCIM_COLUMNS: &str = "u.id, u.role, u.mfa_status, u.active, u.external_id, u.profile, \
     u.created_at, u.updated_at, u.version, o.id AS organization_id, o.enforce_mfa";

fn record_from_row(r: &AnyRow) -> Result<ScimRecord, StoreError> {
    Ok(ScimRecord {
        user: User {
            id: r.try_get("id")?,
            role: super::role_from_name(&r.try_get::<String, _>("role")?)?,
            organization: Organization {
                id: r.try_get("organization_id")?,
                enforce_mfa: r.try_get::<i64, _>("enforce_mfa")? != 0,
            },
            mfa: match r.try_get::<String, _>("mfa_status")?.as_str() {
                "enrolment_due" => MfaStatus::EnrolmentDue,
                "active" => MfaStatus::Active,
                _ => MfaStatus::Off,
            },
            active: r.try_get::<i64, _>("active")? != 0,
        },
        profile: AccountProfile {
            external_id: r.try_get("external_id")?,
            profile: r.try_get("profile")?,
        },
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        version: r.try_get("version")?,
    })
}

impl Store {
    /// The user `id` as SCIM sees it: `None` if there is none, or its
    /// identity provider deleted it.
    pub async fn scim_user(&self, id: &str) -> Result<Option<ScimRecord>, StoreError> {
        let sql = format!(
            "SELECT {SCIM_COLUMNS} FROM users u JOIN organizations o ON o.id = u.organization_id \
             WHERE u.id = $1 AND u.deprovisioned = 0"
        );
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(record_from_row).transpose()
    }

    /// A page of `organization`'s users that pass `filter` (by id), and how
    /// many pass it in all.
    pub async fn scim_users(
        &self,
        organization: &str,
        filter: &ScimFilter,
        offset: i64,
        limit: i64,
    ) -> Result<(i64, Vec<ScimRecord>), StoreError> {
        let (condition, value) = match filter {
            ScimFilter::All => ("", None),
            ScimFilter::UserName(v) => (" AND LOWER(u.id) = LOWER($2)", Some(v)),
            ScimFilter::ExternalId(v) => (" AND LOWER(u.external_id) = LOWER($2)", Some(v)),
        };
        let from = format!(
            "FROM users u JOIN organizations o ON o.id = u.organization_id \
             WHERE u.organization_id = $1 AND u.deprovisioned = 0{condition}"
        );
        let count_sql = format!("SELECT COUNT(*) AS n {from}");
        let mut count = sqlx::query(&count_sql).bind(organization);
        if let Some(v) = value {
            count = count.bind(v);
        }
        let total: i64 = count.fetch_one(&self.pool).await?.try_get("n")?;
        let (l, o) = if value.is_some() {
            ("$3", "$4")
        } else {
            ("$2", "$3")
        };
        let page_sql = format!("SELECT {SCIM_COLUMNS} {from} ORDER BY u.id LIMIT {l} OFFSET {o}");
        let mut page = sqlx::query(&page_sql).bind(organization);
        if let Some(v) = value {
            page = page.bind(v);
        }
        let rows = page.bind(limit).bind(offset).fetch_all(&self.pool).await?;
        let records = rows.iter().map(record_from_row).collect::<Result<_, _>>()?;
        Ok((total, records))
    }

    /// Creates a provisioned user with its invitation, its audit row and
    /// the event that delivers the invitation (sealed at rest: it holds
    /// the link), atomically.
    pub async fn create_provisioned_user(
        &self,
        user: &User,
        profile: &AccountProfile,
        invitation: &NewInvitation,
        audit: &AuditEntry,
        event: Option<&Event>,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        insert_user(&mut tx, user, profile, invitation.created_at).await?;
        insert_invitation(&mut tx, &user.id, invitation).await?;
        insert_audit(&mut tx, audit).await?;
        if let (Some(event), Some(_)) = (event, &self.outbox) {
            outbox::insert(&mut tx, event, &self.secrets).await?;
        }
        tx.commit().await?;
        if let (Some(worker), Some(_)) = (&self.outbox, event) {
            worker.notify_one();
        }
        Ok(())
    }

    /// Replaces what the identity provider knows of `id`; false when the
    /// row changed since `version` was read (decide again).
    pub async fn update_profile(
        &self,
        id: &str,
        profile: &AccountProfile,
        version: i64,
        now: i64,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let updated = sqlx::query(
            "UPDATE users SET external_id = $1, profile = $2, updated_at = $3, version = version + 1 \
             WHERE id = $4 AND version = $5 AND deprovisioned = 0",
        )
        .bind(&profile.external_id)
        .bind(&profile.profile)
        .bind(now)
        .bind(id)
        .bind(version)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated != 1 {
            return Ok(false);
        }
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The identity provider deactivates (`false`: sessions end, open
    /// invitations void) or reactivates `id`, as it read it at `version`;
    /// false when the row changed since (or was deleted): decide again.
    pub async fn provision_active(
        &self,
        id: &str,
        active: bool,
        version: i64,
        now: i64,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let updated = sqlx::query(
            "UPDATE users SET active = $1, updated_at = $2, version = version + 1 \
             WHERE id = $3 AND version = $4 AND deprovisioned = 0",
        )
        .bind(i64::from(active))
        .bind(now)
        .bind(id)
        .bind(version)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated != 1 {
            return Ok(false);
        }
        if !active {
            lock_out(&mut tx, id, now).await?;
        }
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The identity provider deleted `id`: deactivated (sessions end,
    /// invitations void) and gone for SCIM. False if it was gone already.
    pub async fn deprovision(
        &self,
        id: &str,
        now: i64,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let updated = sqlx::query(
            "UPDATE users SET active = 0, deprovisioned = 1, updated_at = $1, version = version + 1 \
             WHERE id = $2 AND deprovisioned = 0",
        )
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated != 1 {
            return Ok(false);
        }
        lock_out(&mut tx, id, now).await?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(true)
    }
}
