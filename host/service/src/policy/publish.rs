//! R16: publishing a policy set to the fleet (`mfa-reset policies
//! publish`) and reading the fleet's state (`mfa-reset policies status`).
//! A publish is checked as a reload is (validation, its test cases, the
//! guardrails, the gates against the fleet's newest set), then
//! stored with its revision as the next epoch, to become every replica's set
//! at one time; it is audited with the publisher's name. Rolling back is
//! publishing an earlier set again.

use std::path::Path;

use mfa_reset::api::AuditRecord;
use mfa_reset::timestamp::{from_millis, to_millis};
use mfa_reset::{Engine, PolicySource};
use time::OffsetDateTime;

use crate::credentials::SecretBox;
use crate::policy::fleet::MIN_LEAD;
use crate::policy::reload::{GuardrailRefusal, check_guardrails};
use crate::policy::reload_gate::{GateRefusal, no_new_access};
use crate::store::{AuditEntry, PublishedSet, ReplicaReport, Store, StoreError};

/// The longest lead (milliseconds): a typo cannot freeze the fleet's
/// publishes behind an activation years ahead.
const MAX_LEAD: i64 = 3_600_000;

/// Recorded decisions replayed at most (the newest).
const REPLAYED: i64 = 100_000;

/// The audit trail publishes are written to (no customer organization's).
pub const FLEET_AUDIT: &str = ".fleet";

/// Why a set was not published; nothing changed.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The set does not load: its diagnostics.
    #[error("the policy set is invalid: {0}")]
    Invalid(mfa_reset::Error),
    /// The set breaks a guardrail.
    #[error(transparent)]
    Guardrails(#[from] GuardrailRefusal),
    /// The set grants access the fleet's newest set denies (`--no-new-access`).
    #[error(transparent)]
    Gate(#[from] GateRefusal),
    /// A test case of the set fails, or too many recorded decisions flip.
    #[error("{0}")]
    Refused(String),
    /// The database refused or cannot be reached.
    #[error("database: {0}")]
    Store(#[from] StoreError),
    /// The secret key is not one.
    #[error("MFA_RESET_SECRET_KEY: {0}")]
    SecretKey(String),
}

/// A published set: its epoch, revision and the time it decides from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// The publish's number: the fleet's newest.
    pub epoch: i64,
    /// The set's content hash.
    pub revision: String,
    /// From this time on the set decides on every replica.
    pub activate_at: OffsetDateTime,
}

/// What to publish, by whom, and how long the replicas get to be ready.
pub struct Publication<'a> {
    /// The set.
    pub source: &'a PolicySource,
    /// Who publishes (audited).
    pub publisher: &'a str,
    /// Proven within these guardrails first, when given (needs cvc5).
    pub guardrails: Option<&'a Path>,
    /// Refused if it allows any request the fleet's newest set denies,
    /// proven for all requests (needs cvc5).
    pub no_new_access: bool,
    /// Test cases (the Cedar CLI's `run-tests` JSON) the set must pass.
    pub tests: Option<&'a str>,
    /// Refused if more than this share of the decisions recorded in the
    /// last `replay_window` would flip under the set (the decision log).
    pub max_flipped_share: Option<f64>,
    /// How far back `max_flipped_share` replays.
    pub replay_window: time::Duration,
    /// From now to the activation: time for every replica to hear of the
    /// set and compile it (at least 250 ms; a replica not ready then loads
    /// it at the activation, or refuses).
    pub lead: time::Duration,
    /// The publisher's clock.
    pub now: OffsetDateTime,
}

/// Checks and publishes a set; the epoch it got.
pub async fn publish(
    database: &str,
    secret_key: &str,
    engine: &Engine,
    p: Publication<'_>,
) -> Result<Published, PublishError> {
    let info = engine
        .load_policies(p.source)
        .map_err(PublishError::Invalid)?;
    if let Some(json) = p.tests {
        let results = mfa_reset::run_policy_tests(engine, json).map_err(PublishError::Invalid)?;
        if let Some(failed) = results.iter().find(|r| r.failure.is_some()) {
            return Err(PublishError::Refused(format!(
                "test case `{}` fails: {}",
                failed.name,
                failed.failure.as_deref().unwrap_or_default()
            )));
        }
    }
    if let Some(dir) = p.guardrails {
        check_guardrails(p.source, dir).await?;
    }
    let store = open(database, secret_key).await?;
    // The epoch this publish follows: checked again when it commits, so a
    // gate is never proven against a set another publish has replaced.
    let newest = store.newest_activation().await?;
    let follows = newest.as_ref().map(|a| a.epoch);
    if p.no_new_access
        && let Some(newest) = newest
    {
        let in_force = PolicySource {
            support_url: p.source.support_url.clone(),
            ..newest.source
        };
        no_new_access(&in_force, p.source).await?;
    }
    if let Some(max) = p.max_flipped_share {
        // The engine holds the candidate: each recorded decision is decided
        // again under it.
        let since = to_millis(p.now - p.replay_window);
        let recorded = store.recorded_decisions(since, REPLAYED).await?;
        let report = crate::policy::replay::replay(engine, &recorded, None);
        if report.flipped_share() > max {
            return Err(PublishError::Refused(format!(
                "the set flips {} of {} recorded decisions ({:.1}%, more than the {:.1}% allowed)",
                report.flipped(),
                report.replayed,
                report.flipped_share() * 100.0,
                max * 100.0
            )));
        }
    }
    let lead = to_millis_lead(p.lead).clamp(MIN_LEAD, MAX_LEAD);
    let record = AuditRecord {
        at: p.now,
        actor: p.publisher.to_string(),
        organization: FLEET_AUDIT.into(),
        action: "publish_policies".into(),
        target: info.revision.clone(),
        allowed: true,
        policy_ids: Vec::new(),
        denial_code: None,
    };
    let audit = AuditEntry::new(record, uuid::Uuid::new_v4().to_string());
    // The activation time is set as the publish commits, from then: the
    // checks above may take long (a proof, a replay).
    let (epoch, activate_at) = store
        .publish_policy_set(p.source, &info.revision, follows, lead, audit)
        .await
        .map_err(|e| match e {
            StoreError::Conflict => PublishError::Refused(
                "another set was published meanwhile: check and publish again".into(),
            ),
            other => other.into(),
        })?;
    Ok(Published {
        epoch,
        revision: info.revision,
        activate_at: from_millis(activate_at),
    })
}

/// The fleet as the database has it: published sets, newest first, and
/// every replica's last report.
pub async fn status(
    database: &str,
    secret_key: &str,
) -> Result<(Vec<PublishedSet>, Vec<ReplicaReport>), PublishError> {
    let store = open(database, secret_key).await?;
    Ok((
        store.published_policy_sets().await?,
        store.replicas().await?,
    ))
}

fn to_millis_lead(lead: time::Duration) -> i64 {
    i64::try_from(lead.whole_milliseconds()).unwrap_or(i64::MAX / 2)
}

async fn open(database: &str, secret_key: &str) -> Result<Store, PublishError> {
    let secrets =
        SecretBox::from_base64(secret_key).map_err(|e| PublishError::SecretKey(e.to_string()))?;
    Ok(Store::open(database, secrets).await?)
}
