//! The decision log table: appended in batches by the decision log's
//! writer, read back for replays, trimmed to its retention.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::{Store, StoreError};
use mfa_reset::api::{Action, MfaStatus, Organization, Request, Role, Session, User};
use mfa_reset::timestamp::{from_millis, to_millis};

/// One recorded decision.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedDecision {
    /// The decision id the caller was answered with.
    pub id: String,
    /// When it was decided (ms since 1970, the service's clock).
    pub at: i64,
    /// The Cedar action: `reset_user_mfa`, a route's action, a login step.
    pub action: String,
    /// The caller's user id.
    pub actor: String,
    /// The caller's organization.
    pub organization: String,
    /// Whether it was allowed.
    pub allowed: bool,
    /// Why it was denied, when it was.
    pub denial_code: Option<String>,
    /// Empty for login steps (their engine calls do not report it).
    pub policy_revision: String,
    /// The request as the engine got it; `None` for login steps, whose
    /// requests carry codes and keys: they are counted, never replayed.
    pub request: Option<Request>,
    /// Why the stored request does not read back (recorded by another
    /// version): a replay counts it against the candidate, never as a
    /// login step, so a gate cannot pass on decisions it could not read.
    pub unreadable: Option<String>,
}

impl RecordedDecision {
    /// A login step (start or confirm an enrolment, verify a code), from
    /// its audit record: its request is not kept.
    pub fn login_step(decision_id: &str, audit: &mfa_reset::api::AuditRecord) -> Self {
        Self {
            id: decision_id.to_string(),
            at: mfa_reset::timestamp::to_millis(audit.at),
            action: audit.action.clone(),
            actor: audit.actor.clone(),
            organization: audit.organization.clone(),
            allowed: audit.allowed,
            denial_code: audit.denial_code.clone(),
            policy_revision: String::new(),
            request: None,
            unreadable: None,
        }
    }
}

/// Rows per INSERT on PostgreSQL: 9 parameters each stays far below its
/// limit on parameters per statement.
const ROWS_PER_INSERT: usize = 200;

/// A recorded decision as a table row: the request encoded.
pub(super) struct DecisionRow {
    pub(super) id: String,
    pub(super) at: i64,
    pub(super) action: String,
    pub(super) actor: String,
    pub(super) organization: String,
    pub(super) allowed: bool,
    pub(super) denial_code: Option<String>,
    pub(super) policy_revision: String,
    pub(super) request: Option<String>,
}

impl DecisionRow {
    fn of(d: &RecordedDecision) -> Self {
        Self {
            id: d.id.clone(),
            at: d.at,
            action: d.action.clone(),
            actor: d.actor.clone(),
            organization: d.organization.clone(),
            allowed: d.allowed,
            denial_code: d.denial_code.clone(),
            policy_revision: d.policy_revision.clone(),
            request: d.request.as_ref().map(|r| {
                // The compact form takes the actor from the row's columns.
                if r.actor.id == d.actor && r.actor.organization.id == d.organization {
                    encoded_request(r)
                } else {
                    serde_json::to_string(r).expect("a request serializes")
                }
            }),
        }
    }
}

impl Store {
    /// Appends `decisions` (ids already present are skipped), in one
    /// transaction.
    pub async fn append_decisions(&self, decisions: &[RecordedDecision]) -> Result<(), StoreError> {
        let rows: Vec<DecisionRow> = decisions.iter().map(DecisionRow::of).collect();
        if let Some(file) = self.sqlite_file.clone() {
            return tokio::task::spawn_blocking(move || file.append_decisions(&rows))
                .await
                .map_err(|e| StoreError::Corrupt(format!("decision log writer: {e}")))?;
        }
        let mut tx = self.pool.begin().await?;
        for chunk in rows.chunks(ROWS_PER_INSERT) {
            let placeholders: Vec<String> = (0..chunk.len())
                .map(|i| {
                    let p: Vec<String> = (1..=9).map(|k| format!("${}", i * 9 + k)).collect();
                    format!("({})", p.join(", "))
                })
                .collect();
            let sql = format!(
                "INSERT INTO decision_log (id, at, action, actor, organization, allowed, denial_code, \
                 policy_revision, request) VALUES {} ON CONFLICT (id) DO NOTHING",
                placeholders.join(", ")
            );
            // Only full chunks share one statement: a prepared statement
            // kept for every tail length was most of the log's memory.
            let mut query = sqlx::query(&sql).persistent(chunk.len() == ROWS_PER_INSERT);
            for d in chunk {
                query = query
                    .bind(d.id.clone())
                    .bind(d.at)
                    .bind(d.action.clone())
                    .bind(d.actor.clone())
                    .bind(d.organization.clone())
                    .bind(i64::from(d.allowed))
                    .bind(d.denial_code.clone())
                    .bind(d.policy_revision.clone())
                    .bind(d.request.clone());
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Decisions made at or after `since` (ms), oldest first, at most `limit`
    /// (the newest ones when there are more).
    pub async fn recorded_decisions(
        &self,
        since: i64,
        limit: i64,
    ) -> Result<Vec<RecordedDecision>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, at, action, actor, organization, allowed, denial_code, policy_revision, request \
             FROM decision_log WHERE at >= $1 ORDER BY at DESC, id DESC LIMIT $2",
        )
        .bind(since)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut decisions = Vec::with_capacity(rows.len());
        for row in rows.iter().rev() {
            let request: Option<String> = row.try_get("request")?;
            let id: String = row.try_get("id")?;
            let actor: String = row.try_get("actor")?;
            let organization: String = row.try_get("organization")?;
            // A request that does not read (recorded by another version)
            // cannot be replayed: it says why.
            let (request, unreadable) = match request
                .map(|json| decoded_request(&json, &actor, &organization))
            {
                None => (None, None),
                Some(Ok(request)) => (Some(request), None),
                Some(Err(e)) => {
                    tracing::warn!(decision = %id, error = %e, "decision log: a recorded request does not read back");
                    (None, Some(e.to_string()))
                }
            };
            decisions.push(RecordedDecision {
                id,
                at: row.try_get("at")?,
                action: row.try_get("action")?,
                actor,
                organization,
                allowed: row.try_get::<i64, _>("allowed")? != 0,
                denial_code: row.try_get("denial_code")?,
                policy_revision: row.try_get("policy_revision")?,
                request,
                unreadable,
            });
        }
        Ok(decisions)
    }

    /// Forgets decisions made before `before` (ms), in chunks.
    pub async fn purge_decisions(&self, before: i64) -> Result<u64, StoreError> {
        self.purge_in_chunks("decision_log", before).await
    }
}

/// How a request is stored: what replay needs and the row's other
/// columns do not already hold (the actor's id and organization), times as
/// milliseconds (the engine takes whole milliseconds only). About half
/// the size of the request's own JSON, and no date formatting.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CompactRequest {
    /// The format: 2 (format 1 is the request's own JSON).
    v: u8,
    role: Role,
    enforce_mfa: bool,
    mfa: MfaStatus,
    active: bool,
    login_at: i64,
    last_activity_at: i64,
    mfa_satisfied: bool,
    recovery_code_login: bool,
    now: i64,
    action: Action,
}

const COMPACT: u8 = 2;

fn encoded_request(request: &Request) -> String {
    let actor = &request.actor;
    let compact = CompactRequest {
        v: COMPACT,
        role: actor.role,
        enforce_mfa: actor.organization.enforce_mfa,
        mfa: actor.mfa,
        active: actor.active,
        login_at: to_millis(request.session.login_at),
        last_activity_at: to_millis(request.session.last_activity_at),
        mfa_satisfied: request.session.mfa_satisfied,
        recovery_code_login: request.session.recovery_code_login,
        now: to_millis(request.now),
        action: request.action.clone(),
    };
    serde_json::to_string(&compact).expect("a request serializes")
}

/// A stored request, of either format, with the row's actor and
/// organization.
fn decoded_request(
    json: &str,
    actor: &str,
    organization: &str,
) -> Result<Request, serde_json::Error> {
    if !json.starts_with("{\"v\":") {
        return serde_json::from_str(json);
    }
    let c: CompactRequest = serde_json::from_str(json)?;
    if c.v != COMPACT {
        return Err(serde::de::Error::custom(format!(
            "request format {} is not known to this version",
            c.v
        )));
    }
    Ok(Request {
        actor: User {
            id: actor.to_string(),
            role: c.role,
            organization: Organization {
                id: organization.to_string(),
                enforce_mfa: c.enforce_mfa,
            },
            mfa: c.mfa,
            active: c.active,
        },
        session: Session {
            login_at: from_millis(c.login_at),
            last_activity_at: from_millis(c.last_activity_at),
            mfa_satisfied: c.mfa_satisfied,
            recovery_code_login: c.recovery_code_login,
        },
        now: from_millis(c.now),
        action: c.action,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(action: Action) -> Request {
        Request {
            actor: User {
                id: "ada".into(),
                role: Role::Root,
                organization: Organization {
                    id: "acme".into(),
                    enforce_mfa: true,
                },
                mfa: MfaStatus::Active,
                active: true,
            },
            session: Session {
                login_at: from_millis(1_700_000_000_123),
                last_activity_at: from_millis(1_700_000_100_456),
                mfa_satisfied: true,
                recovery_code_login: true,
            },
            now: from_millis(1_700_000_200_789),
            action,
        }
    }

    fn target() -> User {
        User {
            id: "bob".into(),
            role: Role::SubUser,
            organization: Organization {
                id: "acme".into(),
                enforce_mfa: true,
            },
            mfa: MfaStatus::EnrolmentDue,
            active: false,
        }
    }

    /// Replay reads back exactly the request that was decided, from the
    /// compact form (with the row's actor and organization) and from the
    /// request's own JSON that earlier versions stored: the same requests,
    /// so the same flips.
    #[test]
    fn both_stored_forms_read_back_as_the_request_decided() {
        for action in [
            Action::AccessRoute("console_home".into()),
            Action::ViewOwnSession,
            Action::ResetUserMfa(target()),
            Action::DeactivateUser(target()),
            Action::SetEnforcement(false),
            Action::ListUsers(Vec::new()),
            Action::ChangeOwnPassword,
        ] {
            let decided = request(action);
            let compact = encoded_request(&decided);
            let full = serde_json::to_string(&decided).unwrap();
            assert!(compact.len() < full.len(), "{compact} vs {full}");
            assert_eq!(decoded_request(&compact, "ada", "acme").unwrap(), decided);
            assert_eq!(decoded_request(&full, "ada", "acme").unwrap(), decided);
        }
    }

    /// A form this version does not know is an error (counted as not
    /// replayable), never a request guessed at.
    #[test]
    fn an_unknown_stored_form_is_refused() {
        let compact = encoded_request(&request(Action::ViewOwnSession));
        let newer = compact.replacen("{\"v\":2", "{\"v\":3", 1);
        let error = decoded_request(&newer, "ada", "acme").unwrap_err();
        assert!(error.to_string().contains("format 3"), "{error}");
        assert!(decoded_request("{\"v\":2}", "ada", "acme").is_err());
        assert!(decoded_request("not json", "ada", "acme").is_err());
    }
}
