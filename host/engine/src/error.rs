//! The one error type of the host library.

use std::path::PathBuf;

use crate::api::{Diagnostic, Severity};

/// A request the engine refuses, the same in every host (Rust, Python,
/// Node): `field` is where, as the caller wrote it (`session.login_at`),
/// `message` is why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{field}`: {message}")]
pub struct RequestError {
    /// Where, as the caller wrote it (`session.login_at`).
    pub field: String,
    /// Why.
    pub message: String,
}

/// What can go wrong when using the engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request is malformed: its `field` says where, `message` why.
    #[error("invalid request: {0}")]
    InvalidRequest(RequestError),

    /// The policy set has errors; the set in force keeps deciding.
    #[error("invalid policy set ({}); the policy set in force is unchanged", summary(.0))]
    InvalidPolicies(Vec<Diagnostic>),

    /// A call used up its fuel: the guest looped or worked far too long.
    #[error(
        "the component ran out of fuel ({fuel} units per call) and its instance was discarded; the next call gets a fresh one"
    )]
    OutOfFuel {
        /// The fuel each call gets.
        fuel: u64,
    },

    /// A call ran past its wall-clock deadline (`with_deadline`).
    #[error(
        "the component ran past its {deadline:?} deadline and its instance was discarded; the next call gets a fresh one"
    )]
    DeadlineExceeded {
        /// How long each call may run.
        deadline: std::time::Duration,
    },

    /// The guest trapped (for example at the memory cap).
    #[error(
        "the component trapped and its instance was discarded ({reason}); the next call gets a fresh one"
    )]
    Trapped {
        /// What wasmtime said.
        reason: String,
    },

    /// The component answered something that cannot be the answer to the
    /// request (see `outcome_check.rs`); nothing of it was used.
    #[error(
        "the component's answer does not fit the request ({reason}); it was refused and the instance discarded"
    )]
    BadOutcome {
        /// What in the answer does not fit.
        reason: String,
    },

    /// The component file is not the one the operator pinned.
    #[error("the component's sha256 is {actual}, not the expected {expected}: refusing to load it")]
    ComponentDigest {
        /// The pinned sha256, as given.
        expected: String,
        /// The sha256 of the component found.
        actual: String,
    },

    /// Every instance stayed busy for the acquire timeout
    /// ([`crate::EngineBuilder::with_acquire_timeout`]): the engine is
    /// overloaded; nothing was decided.
    #[error(
        "all {instances} instances of the component stayed busy for {waited:?}: nothing was decided; try again"
    )]
    Busy {
        /// Calls that may run at once.
        instances: usize,
        /// How long this call waited.
        waited: std::time::Duration,
    },

    /// The component could not be compiled or instantiated.
    #[error("cannot load the component: {0}")]
    Component(String),

    /// Policy files could not be read.
    #[error("cannot read `{path}`: {message}")]
    Files {
        /// The file or directory.
        path: PathBuf,
        /// What the system said.
        message: String,
    },
}

fn summary(diagnostics: &[Diagnostic]) -> String {
    let errors = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    match diagnostics.first() {
        Some(first) => format!("{errors} error(s); first: {first}"),
        None => "no diagnostics".into(),
    }
}

impl Error {
    /// A refused request: `field` (as the caller wrote it) and why.
    pub(crate) fn invalid_request(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::InvalidRequest(RequestError {
            field: field.into(),
            message: message.into(),
        })
    }

    pub(crate) fn files(path: impl Into<PathBuf>, message: impl ToString) -> Self {
        Self::Files {
            path: path.into(),
            message: message.to_string(),
        }
    }
}
