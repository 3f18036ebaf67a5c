//! Picks up edited policies without a restart: the policy directory is
//! read every `policy_poll_interval` (2 s by default), and a changed set is
//! loaded once two reads in a row agree: an editor that writes a file in
//! place can be caught half-way, and a truncated file may still be a valid
//! set that lacks its last forbids. A set with errors is refused with its
//! diagnostics in the log; the set in force keeps deciding.

use std::path::{Path, PathBuf};

use crate::policy::{PolicyContext, reload_gate};
use mfa_reset::PolicySource;

/// Polls `dir` and installs each changed set that passes its checks.
pub fn spawn(
    state: PolicyContext,
    dir: PathBuf,
    support_url: String,
    mut loaded: PolicySource,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        // What decides now; `loaded` is the last set read (maybe refused).
        let mut in_force = loaded.clone();
        let mut ticker = tokio::time::interval(state.config.policy_poll_interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // A changed set read once, waiting for a second read to agree.
        let mut settling: Option<PolicySource> = None;
        loop {
            ticker.tick().await;
            let source = match PolicySource::from_dir(&dir, support_url.clone()) {
                Ok(source) => source,
                Err(e) => {
                    tracing::warn!(error = %e, "policy reload: cannot read the policy directory");
                    continue;
                }
            };
            if source == loaded {
                settling = None;
                continue;
            }
            if settling.as_ref() != Some(&source) {
                settling = Some(source);
                continue;
            }
            settling = None;
            // Do not retry the same set every tick, whatever becomes of it.
            loaded = source.clone();
            if install(&state, &in_force, &source).await {
                in_force = source;
            }
        }
    })
}

/// Installs `source` if it passes its guardrails, validates and passes the
/// gate against `in_force`; whether it did. A refusal is logged and
/// counted; the set in force keeps deciding.
async fn install(state: &PolicyContext, in_force: &PolicySource, source: &PolicySource) -> bool {
    let refused = |why: &dyn std::fmt::Display| {
        tracing::error!(refusal = %why, "policy reload refused: the policy set in force keeps deciding");
        state.metrics.policy_reload("refused");
        false
    };
    if let Some(guardrails) = &state.config.guardrails_dir
        && let Err(refusal) = check_guardrails(source, guardrails).await
    {
        return refused(&refusal);
    }
    // Diagnostics first: a gate's proof about an invalid set means nothing
    // (loading refuses it below, with its diagnostics).
    let valid = match state.engine.validate_policies(source) {
        Ok(diagnostics) => diagnostics
            .iter()
            .all(|d| d.severity != mfa_reset::Severity::Error),
        Err(e) => return refused(&format!("cannot validate the set: {e}")),
    };
    if valid && let Err(refusal) = reload_gate::check(state, in_force, source).await {
        return refused(&refusal);
    }
    match state.engine.load_policies(source) {
        Ok(info) => {
            tracing::info!(revision = %info.revision, policies = info.policy_ids.len(), "policy set reloaded");
            state.metrics.policy_revision(&info.revision);
            state.metrics.policy_reload("installed");
            true
        }
        Err(mfa_reset::Error::InvalidPolicies(diagnostics)) => {
            let diagnostics: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
            refused(&diagnostics.join("; "))
        }
        Err(e) => {
            tracing::error!(error = %e, "policy reload failed");
            state.metrics.policy_reload("failed");
            false
        }
    }
}

/// Why a policy set is refused by its guardrails.
#[derive(Debug, thiserror::Error)]
pub enum GuardrailRefusal {
    /// The guardrails do not load, or the prover cannot run.
    #[error(transparent)]
    Prover(#[from] mfa_reset_guardrails::VerifyError),
    /// A guardrail does not hold: the counterexamples, each readable and as
    /// a run-tests case.
    #[error("the policy set breaks its guardrails{0}")]
    Broken(String),
}

/// Proves `source` within the guardrails of `dir`; the refusal says why,
/// with every counterexample (readable, and as a run-tests case).
pub async fn check_guardrails(source: &PolicySource, dir: &Path) -> Result<(), GuardrailRefusal> {
    use mfa_reset_guardrails::{read_guardrails, verify};
    let guardrails = read_guardrails(dir)?;
    let report = verify(source, &guardrails, None).await?;
    if report.holds() {
        return Ok(());
    }
    let mut why = String::new();
    for r in report.counterexamples() {
        let cex = r.counterexample.as_ref().expect("a counterexample");
        why.push_str(&format!(
            "\n{} for action `{}`:\n{}\nrun-tests case: {}",
            r.property, r.action, cex.readable, cex.test_case
        ));
    }
    Err(GuardrailRefusal::Broken(why))
}
