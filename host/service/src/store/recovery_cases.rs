//! The support desk's recovery cases (R14), read with the account as it
//! is stored now. Their changes commit with the decision that allowed
//! them ([`super::Commit::case`]), by a compare-and-set on the case's
//! version: a step decided on a case that moved since is refused.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::accounts::USER_COLUMNS;
use super::{Store, StoreError, StoredUser, time_of};
use mfa_reset::api::{CaseState, IdentityCheck, RecoveryCase};

/// A case as stored, with its account as stored now.
#[derive(Debug, Clone)]
pub struct StoredCase {
    /// The case as the engine decides on it.
    pub case: RecoveryCase,
    /// The account, with the versions a decision on it depends on.
    pub account: StoredUser,
    /// The support system's reference the agent gave (shown, never decides).
    pub ticket_reference: String,
    /// Who closed it (cancelled or redeemed), and when (milliseconds).
    pub closed: Option<(String, i64)>,
    /// The row's version: a step commits only on this one.
    pub version: i64,
}

/// What a decided step writes to its case.
#[derive(Debug, Clone, Copy)]
pub struct CaseWrite<'a> {
    /// The case's new state.
    pub case: &'a RecoveryCase,
    /// `None`: a new case (inserted); else the version its step read.
    pub read_version: Option<i64>,
    /// For a new case: the support system's reference.
    pub ticket_reference: &'a str,
    /// For a new case: SHA-256 of its cancel link's token.
    pub cancel_link_hash: &'a str,
    /// For an issued ticket: SHA-256 of the ticket.
    pub ticket_hash: Option<&'a str>,
    /// For a step that closes the case: who closed it.
    pub closed_by: Option<&'a str>,
}

const CASE_COLUMNS: &str = "c.id AS case_id, c.ticket_reference, c.opened_by, c.opened_at, c.checks, \
     c.approved_by, c.state, c.ticket_issued_at, c.closed_by, c.closed_at, c.version AS case_version";

/// Which cases a listing shows.
#[derive(Debug, Clone, Copy)]
pub enum CaseScope<'a> {
    /// Every case (the support desk), newest first.
    All,
    /// The cases still open or with a ticket out, of one account.
    PendingOfAccount(&'a str),
    /// The cases still open or with a ticket out, of an organization's users.
    PendingInOrganization(&'a str),
}

/// Most cases a listing returns.
pub const MAX_LISTED_CASES: i64 = 200;

pub(super) fn state_name(state: CaseState) -> &'static str {
    match state {
        CaseState::Open => "open",
        CaseState::Cancelled => "cancelled",
        CaseState::TicketIssued => "ticket_issued",
        CaseState::Redeemed => "redeemed",
    }
}

fn state_from_name(name: &str) -> Result<CaseState, StoreError> {
    Ok(match name {
        "open" => CaseState::Open,
        "cancelled" => CaseState::Cancelled,
        "ticket_issued" => CaseState::TicketIssued,
        "redeemed" => CaseState::Redeemed,
        other => return Err(StoreError::Corrupt(format!("unknown case state `{other}`"))),
    })
}

pub(super) fn checks_text(checks: &[IdentityCheck]) -> String {
    checks
        .iter()
        .map(|c| c.name())
        .collect::<Vec<_>>()
        .join(",")
}

fn checks_from_text(text: &str) -> Result<Vec<IdentityCheck>, StoreError> {
    text.split(',')
        .filter(|c| !c.is_empty())
        .map(|c| {
            IdentityCheck::from_name(c)
                .ok_or_else(|| StoreError::Corrupt(format!("unknown identity check `{c}`")))
        })
        .collect()
}

impl Store {
    /// The case `id`, if there is one.
    pub async fn case(&self, id: &str) -> Result<Option<StoredCase>, StoreError> {
        self.one_case("c.id = $1", id).await
    }

    /// The case whose cancel link's token hashes to `hash`.
    pub async fn case_by_cancel_link(&self, hash: &str) -> Result<Option<StoredCase>, StoreError> {
        self.one_case("c.cancel_link_hash = $1", hash).await
    }

    /// The case of `account` whose ticket hashes to `hash` (a ticket is
    /// bound to its account: another account's right ticket finds nothing).
    pub async fn case_by_ticket(
        &self,
        account: &str,
        hash: &str,
    ) -> Result<Option<StoredCase>, StoreError> {
        let found = self.one_case("c.ticket_hash = $1", hash).await?;
        Ok(found.filter(|c| c.case.account.id == account))
    }

    async fn one_case(
        &self,
        condition: &str,
        value: &str,
    ) -> Result<Option<StoredCase>, StoreError> {
        let sql = format!(
            "SELECT {CASE_COLUMNS}, {USER_COLUMNS} FROM recovery_cases c \
             JOIN users u ON u.id = c.account_id JOIN organizations o ON o.id = u.organization_id \
             WHERE {condition}"
        );
        let row = sqlx::query(&sql)
            .bind(value)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| self.case_from_row(&r)).transpose()
    }

    /// The cases `scope` names, newest first, at most [`MAX_LISTED_CASES`].
    pub async fn cases(&self, scope: CaseScope<'_>) -> Result<Vec<StoredCase>, StoreError> {
        let (condition, value) = match scope {
            CaseScope::All => ("1 = 1 OR $1 = ''", ""),
            CaseScope::PendingOfAccount(id) => (
                "c.account_id = $1 AND c.state IN ('open', 'ticket_issued')",
                id,
            ),
            CaseScope::PendingInOrganization(id) => (
                "c.organization_id = $1 AND c.state IN ('open', 'ticket_issued')",
                id,
            ),
        };
        let sql = format!(
            "SELECT {CASE_COLUMNS}, {USER_COLUMNS} FROM recovery_cases c \
             JOIN users u ON u.id = c.account_id JOIN organizations o ON o.id = u.organization_id \
             WHERE {condition} ORDER BY c.opened_at DESC, c.id LIMIT {MAX_LISTED_CASES}"
        );
        let rows = sqlx::query(&sql).bind(value).fetch_all(&self.pool).await?;
        rows.iter().map(|r| self.case_from_row(r)).collect()
    }

    fn case_from_row(&self, r: &AnyRow) -> Result<StoredCase, StoreError> {
        let account = super::accounts::user_from_row(r)?;
        let closed_by: Option<String> = r.try_get("closed_by")?;
        let closed_at: Option<i64> = r.try_get("closed_at")?;
        Ok(StoredCase {
            case: RecoveryCase {
                id: r.try_get("case_id")?,
                account: account.user.clone(),
                opened_by: r.try_get("opened_by")?,
                opened_at: time_of(r.try_get("opened_at")?),
                checks: checks_from_text(&r.try_get::<String, _>("checks")?)?,
                approved_by: r.try_get("approved_by")?,
                state: state_from_name(&r.try_get::<String, _>("state")?)?,
                ticket_issued_at: r
                    .try_get::<Option<i64>, _>("ticket_issued_at")?
                    .map(time_of),
            },
            account,
            ticket_reference: r.try_get("ticket_reference")?,
            closed: closed_by.zip(closed_at),
            version: r.try_get("case_version")?,
        })
    }
}
