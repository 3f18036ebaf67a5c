//! Prometheus metrics: decisions by action and outcome, decision latency,
//! forward-auth answers, the policy set revision in force, webhook
//! deliveries, and state changes throttled after repeated denials.

use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DecisionLabels {
    action: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RevisionLabels {
    revision: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    status: String,
}

pub struct Metrics {
    registry: Mutex<Registry>,
    decisions: Family<DecisionLabels, Counter>,
    latency: Histogram,
    forward_auth: Family<StatusLabels, Counter>,
    revision: Family<RevisionLabels, Gauge>,
    reloads: Family<ResultLabels, Counter>,
    deliveries: Family<ResultLabels, Counter>,
    pending: Gauge,
    oldest_pending: Gauge,
    unlogged: Counter,
    throttled: Family<ActionLabels, Counter>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActionLabels {
    action: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: &'static str,
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("mfa_reset");
        let decisions = Family::<DecisionLabels, Counter>::default();
        // 20 µs … ~0.65 s.
        let latency = Histogram::new(exponential_buckets(0.000_02, 2.0, 16));
        let forward_auth = Family::<StatusLabels, Counter>::default();
        let revision = Family::<RevisionLabels, Gauge>::default();
        let reloads = Family::<ResultLabels, Counter>::default();
        registry.register(
            "policy_reloads",
            "Changed policy sets seen by hot reload: installed, refused (errors or guardrails), failed",
            reloads.clone(),
        );
        registry.register(
            "decisions",
            "Decisions by Cedar action and outcome",
            decisions.clone(),
        );
        registry.register(
            "decision_duration_seconds",
            "Time to decide one request in the component",
            latency.clone(),
        );
        registry.register(
            "forward_auth_responses",
            "Forward-auth answers by HTTP status",
            forward_auth.clone(),
        );
        registry.register(
            "policy_set_info",
            "The policy set revision in force (value 1)",
            revision.clone(),
        );
        let deliveries = Family::<ResultLabels, Counter>::default();
        let pending = Gauge::default();
        let oldest_pending = Gauge::default();
        registry.register(
            "notification_deliveries",
            "Webhook delivery attempts: delivered (acknowledged with 2xx) or failed (retried later)",
            deliveries.clone(),
        );
        registry.register(
            "notifications_pending",
            "Notifications in the outbox not yet acknowledged by the webhook",
            pending.clone(),
        );
        registry.register(
            "notification_oldest_pending_seconds",
            "Age of the oldest unacknowledged notification (0 when none)",
            oldest_pending.clone(),
        );
        let unlogged = Counter::default();
        registry.register(
            "decisions_unlogged",
            "Decisions the decision log dropped (queue full, or a batch failed to write)",
            unlogged.clone(),
        );
        let throttled = Family::<ActionLabels, Counter>::default();
        registry.register(
            "refusals_throttled",
            "Requests refused undecided (429: state changes, login steps, logins) because their session or user used up its refusals",
            throttled.clone(),
        );
        Self {
            registry: Mutex::new(registry),
            unlogged,
            throttled,
            deliveries,
            pending,
            oldest_pending,
            decisions,
            latency,
            forward_auth,
            revision,
            reloads,
        }
    }

    /// A request refused by the denial throttle.
    pub fn denials_throttled(&self, action: &'static str) {
        self.throttled.get_or_create(&ActionLabels { action }).inc();
    }

    pub fn decisions_unlogged(&self, n: usize) {
        self.unlogged.inc_by(n as u64);
    }

    /// `result`: `installed`, `refused` or `failed`.
    pub fn policy_reload(&self, result: &'static str) {
        self.reloads.get_or_create(&ResultLabels { result }).inc();
    }

    /// `result`: `delivered` or `failed`.
    pub fn notification_delivery(&self, result: &'static str) {
        self.deliveries
            .get_or_create(&ResultLabels { result })
            .inc();
    }

    pub fn notifications_pending(&self, pending: i64, oldest_seconds: i64) {
        self.pending.set(pending);
        self.oldest_pending.set(oldest_seconds);
    }

    pub fn decision(&self, action: &str, allowed: bool, denial_code: Option<&str>, seconds: f64) {
        let outcome = if allowed {
            "allow".to_string()
        } else {
            format!("deny:{}", denial_code.unwrap_or("none"))
        };
        self.decisions
            .get_or_create(&DecisionLabels {
                action: action.into(),
                outcome,
            })
            .inc();
        self.latency.observe(seconds);
    }

    pub fn forward_auth(&self, status: u16) {
        self.forward_auth
            .get_or_create(&StatusLabels {
                status: status.to_string(),
            })
            .inc();
    }

    pub fn policy_revision(&self, revision: &str) {
        self.revision.clear();
        self.revision
            .get_or_create(&RevisionLabels {
                revision: revision.into(),
            })
            .set(1);
    }

    pub fn encode(&self) -> String {
        let mut text = String::new();
        let registry = self
            .registry
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        prometheus_client::encoding::text::encode(&mut text, &registry)
            .expect("writing to a String cannot fail");
        text
    }
}
