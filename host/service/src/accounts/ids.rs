//! What an organization or user id may be: short, printable, unambiguous
//! in a URL, an audit row and a Cedar entity id.

use super::{AccountError, OPERATOR};

/// The audit trail's actor when a case's cancel link cancels it (R14).
const CANCEL_LINK: &str = "cancel-link";

/// The agent the support desk imagines when it asks the policies when a
/// ticket would be ready (`support/probe.rs`): no account may be it.
pub(crate) const SUPPORT_DESK_PROBE: &str = "support-desk-probe";

/// Longest id accepted.
pub const MAX_ID_CHARS: usize = 128;

/// Why a string cannot be an id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdProblem {
    /// Nothing typed.
    #[error("is empty")]
    Empty,
    /// Over 128 characters.
    #[error("is longer than {MAX_ID_CHARS} characters")]
    TooLong,
    /// A character ids may not hold.
    #[error(
        "holds `{0}`: ids are ASCII letters, digits and . _ - @ +, starting with a letter or digit"
    )]
    Character(char),
    /// A name the audit trail uses for something else.
    #[error(
        "is reserved (a name the service uses for operators, cancel links or its own questions)"
    )]
    Reserved,
    /// Another organization or user has it.
    #[error("is taken (ids are unique, letter case aside)")]
    Taken,
}

/// Checks `value` as the id named `field` (`organization`, `user` …).
pub fn check_id(field: &'static str, value: &str) -> Result<(), AccountError> {
    let problem = if value.is_empty() {
        Some(IdProblem::Empty)
    } else if value.chars().count() > MAX_ID_CHARS {
        Some(IdProblem::TooLong)
    } else if let Some(c) = value.chars().enumerate().find_map(|(i, c)| {
        let allowed = c.is_ascii_alphanumeric() || (i > 0 && "._-@+".contains(c));
        (!allowed).then_some(c)
    }) {
        Some(IdProblem::Character(c))
    } else if [OPERATOR, CANCEL_LINK, SUPPORT_DESK_PROBE]
        .iter()
        .any(|reserved| value.eq_ignore_ascii_case(reserved))
    {
        Some(IdProblem::Reserved)
    } else {
        None
    };
    match problem {
        None => Ok(()),
        Some(problem) => Err(AccountError::BadId {
            field,
            value: value.into(),
            problem,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(value: &str) -> Option<IdProblem> {
        match check_id("user", value) {
            Ok(()) => None,
            Err(AccountError::BadId { problem, .. }) => Some(problem),
            Err(other) => panic!("{other}"),
        }
    }

    #[test]
    fn ids_are_short_printable_ascii_and_not_reserved() {
        assert_eq!(problem("bob"), None);
        assert_eq!(problem("bob.smith+it@example.com"), None);
        assert_eq!(problem(""), Some(IdProblem::Empty));
        assert_eq!(problem(&"a".repeat(129)), Some(IdProblem::TooLong));
        assert_eq!(problem("-bob"), Some(IdProblem::Character('-')));
        assert_eq!(problem("bob/../ada"), Some(IdProblem::Character('/')));
        assert_eq!(problem("bob smith"), Some(IdProblem::Character(' ')));
        assert_eq!(problem("bób"), Some(IdProblem::Character('ó')));
        assert_eq!(problem("Operator"), Some(IdProblem::Reserved));
        assert_eq!(problem("Cancel-Link"), Some(IdProblem::Reserved));
        assert_eq!(problem("support-desk-probe"), Some(IdProblem::Reserved));
    }
}
