//! Recorded decisions decided again under a candidate policy set, in the
//! component: which would flip, grouped by action and outcome, with
//! examples. Each request is decided as recorded (its own `now`), so the
//! set in force at the time gives back every recorded outcome. Compared
//! with what was recorded (`policies replay`), or with a baseline engine
//! deciding the same requests now (the reload gate: records made under an
//! older set must not count against a new edit).

use std::collections::BTreeMap;

use mfa_reset::Engine;

use crate::policy::decision_log::RecordedDecision;

/// A decision's outcome: allowed, or denied with a code.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verdict {
    /// The action went ahead.
    Allowed,
    /// Denied, with the denial code when there was one.
    Denied(Option<String>),
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Allowed => write!(f, "allowed"),
            Self::Denied(Some(code)) => write!(f, "denied [{code}]"),
            Self::Denied(None) => write!(f, "denied"),
        }
    }
}

impl Verdict {
    fn of(allowed: bool, denial_code: Option<&str>) -> Self {
        if allowed {
            Self::Allowed
        } else {
            Self::Denied(denial_code.map(str::to_string))
        }
    }
}

/// Recorded decisions of one action whose outcome changes the same way.
#[derive(Debug, Clone)]
pub struct ChangeGroup {
    /// The Cedar action.
    pub action: String,
    /// What was decided then.
    pub recorded: Verdict,
    /// What the candidate set decides.
    pub replayed: Verdict,
    /// How many recorded decisions changed this way.
    pub count: usize,
    /// A few of them (the first recorded).
    pub examples: Vec<RecordedDecision>,
}

impl ChangeGroup {
    /// Allowed became denied or the reverse (not only another denial code).
    pub fn flips(&self) -> bool {
        (self.recorded == Verdict::Allowed) != (self.replayed == Verdict::Allowed)
    }
}

/// What a candidate set would change in recorded traffic.
#[derive(Debug, Clone, Default)]
pub struct ReplayReport {
    /// Decisions decided again.
    pub replayed: usize,
    /// Login steps: recorded without their request (it holds a code or a
    /// key), so not replayed.
    pub not_replayable: usize,
    /// Requests the candidate could not decide (refused as invalid after a
    /// schema change, say), or that this version cannot read back: each
    /// counts as a flip, with the first error.
    pub errors: usize,
    /// The first of those errors, for the report.
    pub first_error: Option<String>,
    /// Changed outcomes, the largest groups first.
    pub changes: Vec<ChangeGroup>,
}

impl ReplayReport {
    /// Decisions whose allowed/denied would flip, and those the candidate
    /// could not decide.
    pub fn flipped(&self) -> usize {
        self.errors
            + self
                .changes
                .iter()
                .filter(|g| g.flips())
                .map(|g| g.count)
                .sum::<usize>()
    }

    /// The flipped share of the decisions tried (0 when there were none).
    pub fn flipped_share(&self) -> f64 {
        let tried = self.replayed + self.errors;
        if tried == 0 {
            0.0
        } else {
            self.flipped() as f64 / tried as f64
        }
    }
}

/// Examples kept per group.
const EXAMPLES: usize = 3;

/// Decides each recorded request with `candidate` (an engine holding the
/// candidate set) and compares with `baseline`'s decision of it, or with the
/// recorded outcome when there is no baseline.
pub fn replay(
    candidate: &Engine,
    recorded: &[RecordedDecision],
    baseline: Option<&Engine>,
) -> ReplayReport {
    let mut report = ReplayReport::default();
    let mut groups: BTreeMap<(String, Verdict, Verdict), ChangeGroup> = BTreeMap::new();
    for decision in recorded {
        if let Some(why) = &decision.unreadable {
            // Recorded by another version: what it would decide is
            // unknown, so it counts against the candidate.
            report.errors += 1;
            report.first_error.get_or_insert_with(|| {
                format!(
                    "decision `{}`: its recorded request does not read: {why}",
                    decision.id
                )
            });
            continue;
        }
        let Some(request) = &decision.request else {
            report.not_replayable += 1;
            continue;
        };
        let outcome = match candidate.decide(request) {
            Ok(outcome) => outcome,
            Err(e) => {
                report.errors += 1;
                report
                    .first_error
                    .get_or_insert_with(|| format!("decision `{}`: {e}", decision.id));
                continue;
            }
        };
        let was = match baseline.map(|b| b.decide(request)) {
            None => Verdict::of(decision.allowed, decision.denial_code.as_deref()),
            Some(Ok(o)) => Verdict::of(o.decision.allowed, o.decision.denial_code.as_deref()),
            // The set in force cannot decide it either: nothing to compare.
            Some(Err(_)) => continue,
        };
        report.replayed += 1;
        let now = Verdict::of(
            outcome.decision.allowed,
            outcome.decision.denial_code.as_deref(),
        );
        if was == now {
            continue;
        }
        let group = groups
            .entry((decision.action.clone(), was.clone(), now.clone()))
            .or_insert_with(|| ChangeGroup {
                action: decision.action.clone(),
                recorded: was,
                replayed: now,
                count: 0,
                examples: Vec::new(),
            });
        group.count += 1;
        if group.examples.len() < EXAMPLES {
            group.examples.push(decision.clone());
        }
    }
    report.changes = groups.into_values().collect();
    report
        .changes
        .sort_by(|a, b| b.count.cmp(&a.count).then(a.action.cmp(&b.action)));
    report
}
