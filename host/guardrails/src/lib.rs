//! Proofs about mfa-reset policy sets, for all inputs, with Cedar's
//! symbolic compiler and the cvc5 solver.
//!
//! - `verify.rs`: the policies stay within their guardrails. A guardrail is
//!   a policy set stating an upper bound: it allows everything except what a
//!   safety property forbids. For every request environment of the schema
//!   (principal type, action, resource type), [`verify`] checks that the
//!   policies imply each guardrail (whatever they allow, it allows) and that
//!   no policy can raise an error.
//! - `diff.rs`: what an edit changes. [`diff`] proves, action by action,
//!   whether two sets decide alike, and finds requests newly allowed and
//!   newly denied.
//! - `counterexample.rs`: a request on which a property fails, readable,
//!   told as a sentence, and as a ready-to-paste `run-tests` case.
//! - `story.rs`: a request of the mfa-reset schema told in words.
//! - `sets.rs`: parsing, validation, the solver.

#![deny(missing_docs)]

mod counterexample;
mod diff;
mod sets;
mod story;
mod verify;

use std::path::PathBuf;

pub use counterexample::Counterexample;
pub use diff::{ActionDiff, DiffReport, Direction, diff};
pub use story::Story;
pub use verify::{Guardrail, PropertyResult, VerifyReport, read_guardrails, verify};

/// Whether the solver can be started: `cvc5` if given, else `$CVC5`, else
/// `cvc5` on the PATH.
pub fn check_solver(cvc5: Option<&std::path::Path>) -> Result<(), VerifyError> {
    sets::solver(cvc5).map(|_| ())
}

/// Runs a proof to its end on a thread of its own with a deep stack: the
/// symbolic compiler recurses over the whole policy set, and a thousand
/// policies overflow a main thread's 8 MiB. Blocks the calling thread.
pub fn on_deep_stack<T: Send, F: Future<Output = Result<T, VerifyError>>>(
    proof: impl FnOnce() -> F + Send,
) -> Result<T, VerifyError> {
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .stack_size(1 << 30)
            .spawn_scoped(scope, || {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| VerifyError::Symcc(format!("runtime: {e}")))?
                    .block_on(proof())
            })
            .map_err(|e| VerifyError::Symcc(format!("proof thread: {e}")))?
            .join()
            .map_err(|_| VerifyError::Symcc("the proof panicked".into()))?
    })
}

/// What stops a verification from running at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// cvc5 cannot be run: why.
    #[error(
        "the cvc5 solver is not available ({0}); install Debian's `cvc5` package or set CVC5=/path/to/cvc5"
    )]
    SolverMissing(String),
    /// A guardrail or policy file is not a valid policy set.
    #[error("`{file}`: {message}")]
    Invalid {
        /// The file, as named.
        file: String,
        /// What is wrong with it.
        message: String,
    },
    /// A file or directory cannot be read.
    #[error("cannot read `{path}`: {message}")]
    Files {
        /// The file or directory.
        path: PathBuf,
        /// What the system said.
        message: String,
    },
    /// Cedar's symbolic compiler failed on the policies: why.
    #[error("symbolic compiler: {0}")]
    Symcc(String),
}
