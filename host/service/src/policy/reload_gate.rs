//! What a reloaded policy set must pass, beyond validation and guardrails,
//! before it replaces the set in force (`serve --no-new-access`,
//! `--max-flipped-share`): no request newly allowed, proven for all
//! requests; and not too many recent decisions flipped, replayed from the
//! decision log. A refusal says why, with the proof's counterexamples or the
//! flipped decisions; the set in force keeps deciding.

use mfa_reset::PolicySource;
use mfa_reset_guardrails::{Direction, diff, on_deep_stack};

use crate::policy::PolicyContext;
use crate::policy::replay::{ReplayReport, replay};

/// Recorded decisions replayed at most (the newest).
const REPLAYED: i64 = 100_000;

/// Why a reloaded set is refused by the gate.
#[derive(Debug, thiserror::Error)]
pub enum GateRefusal {
    /// The candidate allows what the set in force denies: each
    /// counterexample, readable and as a run-tests case.
    #[error("the new set grants access the set in force denies:{0}")]
    NewAccess(String),
    /// Too many recent decisions would flip: the groups, with examples.
    #[error("{0}")]
    TooManyFlips(String),
    /// The gate could not decide (no decision log, a proof or replay that
    /// failed): the set is refused all the same.
    #[error("{0}")]
    Undecided(String),
}

/// Refuses `candidate` if it grants new access (`--no-new-access`) or
/// flips more recent decisions than allowed (`--max-flipped-share`).
pub async fn check(
    state: &PolicyContext,
    in_force: &PolicySource,
    candidate: &PolicySource,
) -> Result<(), GateRefusal> {
    let gate = &state.config.reload_gate;
    if gate.no_new_access {
        no_new_access(in_force, candidate).await?;
    }
    if let Some(max) = gate.max_flipped_share {
        let report = replay_recent(state, candidate).await?;
        let share = report.flipped_share();
        if let Some(error) = &report.first_error {
            tracing::warn!(errors = report.errors, %error, "policy reload: recorded requests the new set cannot decide (counted as flips)");
        }
        tracing::info!(
            replayed = report.replayed,
            flipped = report.flipped(),
            "policy reload: recent decisions replayed under the new set"
        );
        if share > max {
            let mut why = format!(
                "the new set flips {} of {} recent decisions ({:.1}%, more than the {:.1}% allowed):",
                report.flipped(),
                report.replayed,
                share * 100.0,
                max * 100.0
            );
            for group in report.changes.iter().filter(|g| g.flips()) {
                let example = &group.examples[0];
                why.push_str(&format!(
                    "\n  {} × {}: {} → {} (e.g. decision {} by `{}`)",
                    group.count,
                    group.action,
                    group.recorded,
                    group.replayed,
                    example.id,
                    example.actor
                ));
            }
            return Err(GateRefusal::TooManyFlips(why));
        }
    }
    Ok(())
}

/// Refuses `candidate` if it allows any request `in_force` denies, proven
/// for all requests (also `policies publish --no-new-access`).
pub(crate) async fn no_new_access(
    in_force: &PolicySource,
    candidate: &PolicySource,
) -> Result<(), GateRefusal> {
    let (old, new) = (in_force.clone(), candidate.clone());
    let report = tokio::task::spawn_blocking(move || {
        on_deep_stack(|| diff(&old, &new, Direction::NewAccessOnly, None))
    })
    .await
    .map_err(|e| GateRefusal::Undecided(format!("the proof did not finish: {e}")))?
    .map_err(|e| {
        GateRefusal::Undecided(format!(
            "cannot prove that the new set grants no new access: {e}"
        ))
    })?;
    if !report.grants_new_access() {
        return Ok(());
    }
    let mut why = String::new();
    for change in &report.schema_changes {
        why.push_str(&format!("\n  schema: {change} (not provable: refused)"));
    }
    for change in &report.actions {
        if let Some(cex) = &change.newly_allowed {
            why.push_str(&format!(
                "\n  {}: {}\n  run-tests case: {}",
                change.action,
                cex.story.sentence("may now"),
                cex.test_case
            ));
        }
    }
    Err(GateRefusal::NewAccess(why))
}

async fn replay_recent(
    state: &PolicyContext,
    candidate: &PolicySource,
) -> Result<ReplayReport, GateRefusal> {
    let undecided = GateRefusal::Undecided;
    let Some(log) = &state.config.decision_log else {
        return Err(undecided(
            "--max-flipped-share needs the decision log".into(),
        ));
    };
    let retention = i64::try_from(log.retention.as_millis()).unwrap_or(i64::MAX);
    let since = mfa_reset::timestamp::to_millis(state.config.clock.now()).saturating_sub(retention);
    let recorded = state
        .store
        .recorded_decisions(since, REPLAYED)
        .await
        .map_err(|e| undecided(format!("cannot read the decision log: {e}")))?;
    let engine = state
        .config
        .engine
        .clone()
        .with_policies(candidate.clone())
        .build()
        .map_err(|e| undecided(format!("cannot load the new set: {e}")))?;
    let in_force = state.engine.clone();
    tokio::task::spawn_blocking(move || replay(&engine, &recorded, Some(&in_force)))
        .await
        .map_err(|e| undecided(format!("the replay did not finish: {e}")))
}
