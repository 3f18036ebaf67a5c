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

/// What stops a verification from running at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    #[error(
        "the cvc5 solver is not available ({0}); install Debian's `cvc5` package or set CVC5=/path/to/cvc5"
    )]
    SolverMissing(String),
    #[error("`{file}`: {message}")]
    Invalid { file: String, message: String },
    #[error("cannot read `{path}`: {message}")]
    Files { path: PathBuf, message: String },
    #[error("symbolic compiler: {0}")]
    Symcc(String),
}
