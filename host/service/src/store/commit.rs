//! One decision's writes, atomically: the rows it read checked unchanged,
//! the new state, its audit rows, its notification, and what it does to
//! sessions — or nothing at all.

use sqlx::any::AnyQueryResult;
use sqlx::{Any, Transaction};

use super::event::Event;
use super::outbox;
use super::provisioning::{NewInvitation, insert_invitation, void_invitations};
use super::recovery_cases::{CaseWrite, checks_text, state_name};
use super::sessions::{SessionUse, SessionsChange, change_sessions, use_session};
use super::{Store, StoreError, status_name};
use mfa_reset::api::{AuditRecord, Authenticator, Organization, User};
use mfa_reset::timestamp::to_millis as millis;

pub(super) type Tx<'t> = Transaction<'t, Any>;

/// One row of the audit log: the engine's record, with the row's id and
/// the decision id that the logs also carry.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AuditEntry {
    pub id: String,
    pub decision_id: String,
    #[serde(flatten)]
    pub record: AuditRecord,
    /// The target's version after the change, when something changed.
    pub target_version: Option<i64>,
    /// What the action was about beyond actor and target (a recovery
    /// case's id, checks and approvals), as the service wrote it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<serde_json::Value>,
}

impl AuditEntry {
    /// A new row for `record`; ids are time-ordered, so rows of one second
    /// still list in the order they were written.
    pub fn new(record: AuditRecord, decision_id: String) -> Self {
        Self {
            id: uuid::Uuid::now_v7().to_string(),
            decision_id,
            record,
            target_version: None,
            detail: None,
        }
    }

    /// A row another organization must not see being written: its id is
    /// time-ordered to the millisecond but takes no step of the process's
    /// id counter, whose gaps the rows a caller can read would show.
    pub fn unseen(record: AuditRecord, decision_id: String) -> Self {
        Self {
            id: uuid::Uuid::new_v7(uuid::Timestamp::now(uuid::NoContext)).to_string(),
            ..Self::new(record, decision_id)
        }
    }
}

/// Everything one decision writes, atomically.
#[derive(Debug, Default)]
pub struct Commit<'a> {
    /// Users the decision read, at these versions; a change aborts.
    pub read_users: Vec<(&'a str, i64)>,
    /// Organizations the decision read, at these versions.
    pub read_organizations: Vec<(&'a str, i64)>,
    /// New state of one user (must be among `read_users`).
    pub user: Option<(&'a User, &'a Authenticator)>,
    /// New state of one organization (must be among `read_organizations`).
    pub organization: Option<&'a Organization>,
    /// A user's new password hash (must be among `read_users`).
    pub password: Option<(&'a User, &'a str)>,
    /// A user deactivated (`false`: its open invitations void too) or
    /// reactivated (must be among `read_users`).
    pub activation: Option<(&'a User, bool)>,
    /// A user's new invitation (its older ones void).
    pub invitation: Option<(&'a User, &'a NewInvitation)>,
    /// Audit rows: the decision's, and a copy for the target's
    /// organization when the caller acted across organizations.
    pub audit: Vec<AuditEntry>,
    /// The caller's session, when the decision allowed its use.
    pub session: Option<SessionUse<'a>>,
    pub sessions_change: Option<SessionsChange<'a>>,
    /// A recovery case opened or moved on (R14).
    pub case: Option<CaseWrite<'a>>,
    /// Notifications beyond the one the first audit row makes.
    pub events: Vec<Event>,
}

/// The version at which a decision read `user`: a row it changes must be
/// one it read.
fn read_version(read_users: &[(&str, i64)], user: &str) -> Result<i64, StoreError> {
    read_users
        .iter()
        .find(|(id, _)| *id == user)
        .map(|(_, v)| *v)
        .ok_or(StoreError::Conflict)
}

/// A version-checked update must touch exactly its one row; a changed row's
/// new version is the checked one plus one.
fn checked(
    rows: u64,
    changed: bool,
    version: i64,
    new_version: &mut Option<i64>,
) -> Result<(), StoreError> {
    if rows != 1 {
        return Err(StoreError::Conflict);
    }
    if changed {
        *new_version = Some(version + 1);
    }
    Ok(())
}

pub(super) async fn insert_audit(tx: &mut Tx<'_>, audit: &AuditEntry) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO audit_log (id, at, decision_id, actor, organization_id, action, target, allowed, \
         policy_ids, denial_code, target_version, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(&audit.id)
    .bind(millis(audit.record.at))
    .bind(&audit.decision_id)
    .bind(&audit.record.actor)
    .bind(&audit.record.organization)
    .bind(&audit.record.action)
    .bind(&audit.record.target)
    .bind(i64::from(audit.record.allowed))
    .bind(audit.record.policy_ids.join(","))
    .bind(&audit.record.denial_code)
    .bind(audit.target_version)
    .bind(audit.detail.as_ref().map(|d| d.to_string()))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Store {
    /// Writes audit rows on their own (decisions that change nothing else).
    pub async fn audit_only(&self, entries: &[AuditEntry]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for entry in entries {
            insert_audit(&mut tx, entry).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Writes one decision's changes and audit record together, if the rows
    /// it read are unchanged. Returns the changed row's new version.
    ///
    /// Rows are locked in one global order (users by id, then organizations
    /// by id), whoever the actor and the target are: two decisions reading
    /// the same rows in opposite roles (two roots acting on each other) then
    /// queue instead of deadlocking. A commit that changes no row and uses
    /// no session (a denial) writes its audit rows only, locking nothing:
    /// a denial decided on a read that changed since is the decision as of
    /// that read.
    pub async fn commit(&self, mut c: Commit<'_>) -> Result<Option<i64>, StoreError> {
        let changes_nothing = c.user.is_none()
            && c.password.is_none()
            && c.activation.is_none()
            && c.invitation.is_none()
            && c.organization.is_none()
            && c.session.is_none()
            && c.sessions_change.is_none()
            && c.case.is_none()
            && c.events.is_empty();
        if changes_nothing {
            self.audit_only(&c.audit).await?;
            return Ok(None);
        }
        c.read_users.sort_unstable();
        c.read_users.dedup();
        c.read_organizations.sort_unstable();
        c.read_organizations.dedup();
        let mut tx = self.pool.begin().await?;
        let mut new_version = None;
        for &(id, version) in &c.read_users {
            let changed = c.user.filter(|(u, _)| u.id == id);
            let done = self.write_user(&mut tx, id, version, changed).await?;
            checked(
                done.rows_affected(),
                changed.is_some(),
                version,
                &mut new_version,
            )?;
        }
        if let Some((user, hash)) = c.password {
            let version = read_version(&c.read_users, &user.id)?;
            let done = sqlx::query(
                "UPDATE users SET password_hash = $1, version = version + 1 WHERE id = $2 AND version = $3",
            )
            .bind(hash)
            .bind(&user.id)
            .bind(version)
            .execute(&mut *tx)
            .await?;
            checked(done.rows_affected(), true, version, &mut new_version)?;
        }
        let at = c.audit.first().map_or(0, |a| millis(a.record.at));
        if let Some((user, active)) = c.activation {
            let version = read_version(&c.read_users, &user.id)?;
            let done = sqlx::query(
                "UPDATE users SET active = $1, \
                 deprovisioned = CASE WHEN $1 = 1 THEN 0 ELSE deprovisioned END, \
                 updated_at = $2, version = version + 1 WHERE id = $3 AND version = $4",
            )
            .bind(i64::from(active))
            .bind(at)
            .bind(&user.id)
            .bind(version)
            .execute(&mut *tx)
            .await?;
            checked(done.rows_affected(), true, version, &mut new_version)?;
            // Its sessions end by the decision's session effect.
            if !active {
                void_invitations(&mut tx, &user.id, at).await?;
            }
        }
        if let Some((user, invitation)) = c.invitation {
            insert_invitation(&mut tx, &user.id, invitation).await?;
        }
        for &(id, version) in &c.read_organizations {
            let changed = c.organization.filter(|o| o.id == id);
            let done = write_organization(&mut tx, id, version, changed).await?;
            checked(
                done.rows_affected(),
                changed.is_some(),
                version,
                &mut new_version,
            )?;
        }
        if let Some(case) = c.case {
            write_case(&mut tx, case, at).await?;
        }
        // The first audit row is the decision's (a copy for another
        // organization is never an allowed change).
        let event = c
            .audit
            .first()
            .filter(|_| self.outbox.is_some())
            .and_then(|a| {
                Event::of(
                    &a.record,
                    &a.decision_id,
                    c.user
                        .map(|(u, _)| u)
                        .or(c.password.map(|(u, _)| u))
                        .or(c.activation.map(|(u, _)| u)),
                    c.organization,
                    new_version,
                    a.detail.as_ref(),
                )
            });
        for mut audit in c.audit {
            audit.target_version = new_version;
            insert_audit(&mut tx, &audit).await?;
        }
        let events: Vec<&Event> = match &self.outbox {
            Some(_) => event.iter().chain(&c.events).collect(),
            None => Vec::new(),
        };
        for event in &events {
            outbox::insert(&mut tx, event, &self.secrets).await?;
        }
        if let Some(used) = c.session {
            use_session(&mut tx, used).await?;
        }
        if let Some(change) = c.sessions_change {
            change_sessions(&mut tx, change).await?;
        }
        tx.commit().await?;
        if let (Some(worker), false) = (&self.outbox, events.is_empty()) {
            worker.notify_one();
        }
        Ok(new_version)
    }

    /// Writes a user's new state, or (`changed` empty) locks its row
    /// (PostgreSQL) and proves it unchanged; either only at `version`.
    async fn write_user(
        &self,
        tx: &mut Tx<'_>,
        id: &str,
        version: i64,
        changed: Option<(&User, &Authenticator)>,
    ) -> Result<AnyQueryResult, StoreError> {
        let done = match changed {
            Some((user, a)) => {
                sqlx::query(
                    "UPDATE users SET mfa_status = $1, totp_pending = $2, totp_active = $3, \
                     last_accepted_step = $4, failures = $5, locked_until = $6, recovery_codes = $7, \
                     version = version + 1 WHERE id = $8 AND version = $9",
                )
                .bind(status_name(user.mfa))
                .bind(self.seal_slot(id, "pending", a.pending.as_ref()))
                .bind(self.seal_slot(id, "active", a.active.as_ref()))
                .bind(a.last_accepted_step.map(|s| s as i64))
                .bind(i64::from(a.failures))
                .bind(a.locked_until.map(millis))
                .bind(self.seal_slot(id, "recovery_codes", a.recovery_codes.as_ref()))
                .bind(id)
                .bind(version)
                .execute(&mut **tx)
                .await?
            }
            None => {
                sqlx::query("UPDATE users SET version = version WHERE id = $1 AND version = $2")
                    .bind(id)
                    .bind(version)
                    .execute(&mut **tx)
                    .await?
            }
        };
        Ok(done)
    }
}

/// Writes an organization's new state, or locks and proves it unchanged.
async fn write_organization(
    tx: &mut Tx<'_>,
    id: &str,
    version: i64,
    changed: Option<&Organization>,
) -> Result<AnyQueryResult, StoreError> {
    let done = match changed {
        Some(org) => {
            sqlx::query(
                "UPDATE organizations SET enforce_mfa = $1, version = version + 1 WHERE id = $2 AND version = $3",
            )
            .bind(i64::from(org.enforce_mfa))
            .bind(id)
            .bind(version)
            .execute(&mut **tx)
            .await?
        }
        None => {
            sqlx::query("UPDATE organizations SET version = version WHERE id = $1 AND version = $2")
                .bind(id)
                .bind(version)
                .execute(&mut **tx)
                .await?
        }
    };
    Ok(done)
}

/// Inserts a new case, or moves one on if it is still at the version its
/// step read (else the step conflicts: decide it again).
async fn write_case(tx: &mut Tx<'_>, w: CaseWrite<'_>, at: i64) -> Result<(), StoreError> {
    let case = w.case;
    let Some(version) = w.read_version else {
        sqlx::query(
            "INSERT INTO recovery_cases (id, account_id, organization_id, ticket_reference, opened_by, \
             opened_at, checks, state, cancel_link_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&case.id)
        .bind(&case.account.id)
        .bind(&case.account.organization.id)
        .bind(w.ticket_reference)
        .bind(&case.opened_by)
        .bind(millis(case.opened_at))
        .bind(checks_text(&case.checks))
        .bind(state_name(case.state))
        .bind(w.cancel_link_hash)
        .execute(&mut **tx)
        .await?;
        return Ok(());
    };
    let done = sqlx::query(
        "UPDATE recovery_cases SET state = $1, approved_by = $2, ticket_issued_at = $3, \
         ticket_hash = COALESCE($4, ticket_hash), closed_by = COALESCE($5, closed_by), \
         closed_at = CASE WHEN $6 = 1 THEN $7 ELSE closed_at END, version = version + 1 \
         WHERE id = $8 AND version = $9",
    )
    .bind(state_name(case.state))
    .bind(&case.approved_by)
    .bind(case.ticket_issued_at.map(millis))
    .bind(w.ticket_hash)
    .bind(w.closed_by)
    .bind(i64::from(w.closed_by.is_some()))
    .bind(at)
    .bind(&case.id)
    .bind(version)
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() != 1 {
        return Err(StoreError::Conflict);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::SecretBox;
    use crate::store::{AuditFilter, StoredSession};
    use mfa_reset::api::{MfaStatus, Role};
    use time::OffsetDateTime;

    /// Two decisions made on the same read: the second commit must fail
    /// (no lost update) and leave no audit record behind.
    #[tokio::test]
    async fn a_commit_on_a_stale_version_conflicts_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let store = Store::open(
            &url,
            SecretBox::from_base64(&SecretBox::generate_base64()).unwrap(),
        )
        .await
        .unwrap();
        let org = Organization {
            id: "acme".into(),
            enforce_mfa: false,
        };
        let bob = User {
            id: "bob".into(),
            role: Role::SubUser,
            organization: org.clone(),
            mfa: MfaStatus::Off,
            active: true,
        };
        store
            .insert_organization(&org, &[(bob.clone(), "hash".into())])
            .await
            .unwrap();
        let read = store.user("bob").await.unwrap().unwrap();
        let audit = |action: &str| {
            let record = AuditRecord {
                at: OffsetDateTime::UNIX_EPOCH,
                actor: "bob".into(),
                organization: "acme".into(),
                action: action.into(),
                target: "bob".into(),
                allowed: true,
                policy_ids: vec!["self-service".into()],
                denial_code: None,
            };
            AuditEntry::new(record, "d".into())
        };
        let none = Authenticator::default();
        let on = User {
            mfa: MfaStatus::EnrolmentDue,
            ..bob.clone()
        };
        let off = User {
            mfa: MfaStatus::Off,
            ..bob.clone()
        };
        for (new, action, expected_ok) in [
            (&on, "enable_own_mfa", true),
            (&off, "disable_own_mfa", false),
        ] {
            let result = store
                .commit(Commit {
                    read_users: vec![("bob", read.version)],
                    read_organizations: vec![("acme", read.organization_version)],
                    user: Some((new, &none)),
                    organization: None,
                    password: None,
                    activation: None,
                    invitation: None,
                    audit: vec![audit(action)],
                    session: None,
                    sessions_change: None,
                    case: None,
                    events: Vec::new(),
                })
                .await;
            if expected_ok {
                assert_eq!(result.unwrap(), Some(1));
            } else {
                assert!(matches!(result, Err(StoreError::Conflict)), "{result:?}");
            }
        }
        let after = store.user("bob").await.unwrap().unwrap();
        assert_eq!(
            (after.user.mfa, after.version),
            (MfaStatus::EnrolmentDue, 1)
        );
        let log = store
            .audit("acme", &AuditFilter::default(), 10)
            .await
            .unwrap()
            .records;
        assert_eq!(log.len(), 1, "the failed commit left no audit record");

        // A login decided on the state before that change cannot create its
        // session (it would skip the enrolment the change made due).
        let session = StoredSession {
            token_hash: "h".into(),
            user_id: "bob".into(),
            login_at: 0,
            last_activity_at: 0,
            mfa_satisfied: true,
            recovery_code_login: false,
            mfa_verified: false,
        };
        let stale = (read.version, read.organization_version);
        let created = store.create_session(&session, stale, audit("login")).await;
        assert!(matches!(created, Err(StoreError::Conflict)), "{created:?}");
        assert!(store.session("h").await.unwrap().is_none());
        assert_eq!(
            store
                .audit("acme", &AuditFilter::default(), 10)
                .await
                .unwrap()
                .records
                .len(),
            1
        );
        let fresh = (after.version, after.organization_version);
        store
            .create_session(&session, fresh, audit("login"))
            .await
            .unwrap();
        assert!(store.session("h").await.unwrap().is_some());
        assert_eq!(
            (log[0].record.action.as_str(), log[0].target_version),
            ("enable_own_mfa", Some(1))
        );
    }
}
