//! Picks up edited policies without a restart: the policy directory is
//! read every two seconds and a changed set is loaded. A set with errors is
//! refused with its diagnostics in the log; the set in force keeps deciding.

use std::path::PathBuf;
use std::time::Duration;

use super::AppState;
use crate::PolicySource;

pub const INTERVAL: Duration = Duration::from_secs(2);

pub fn spawn(state: AppState, dir: PathBuf, support_url: String, mut loaded: PolicySource) {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(INTERVAL);
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
                continue;
            }
            match state.engine.load_policies(&source) {
                Ok(info) => {
                    tracing::info!(revision = %info.revision, policies = info.policy_ids.len(), "policy set reloaded");
                    state.metrics.policy_revision(&info.revision);
                }
                Err(crate::Error::InvalidPolicies(diagnostics)) => {
                    let diagnostics: Vec<String> =
                        diagnostics.iter().map(ToString::to_string).collect();
                    tracing::error!(
                        ?diagnostics,
                        "policy reload refused: the policy set in force keeps deciding"
                    );
                }
                Err(e) => tracing::error!(error = %e, "policy reload failed"),
            }
            // Do not retry the same broken set every tick.
            loaded = source;
        }
    });
}
