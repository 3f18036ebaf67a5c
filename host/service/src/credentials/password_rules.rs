//! What a new password must be (NIST SP 800-63B-4, 3.1.1.2): long enough
//! (15 characters for an account that logs in with a password only, 8
//! when MFA protects it), at most 256 characters, not a common or breached
//! password, not the account's name or the service's, not one character
//! repeated or a plain run (`12345678…`, `abcdefgh…`). No composition
//! rules: any Unicode text counts, normalized (NFKC) before it is hashed,
//! so the same password typed on another keyboard still matches.

use std::collections::HashSet;
use std::sync::OnceLock;

use unicode_normalization::UnicodeNormalization;

/// Shortest password of an account without MFA.
pub const MIN_CHARS_PASSWORD_ONLY: usize = 15;
/// Shortest password of an account whose logins need MFA.
pub const MIN_CHARS_WITH_MFA: usize = 8;
/// Longest password accepted (NIST: at least 64).
pub const MAX_CHARS: usize = 256;

/// The shipped blocklist (`host/service/passwords/`: 17 950 passwords of
/// 8 characters or more from breach corpora, lower-cased, MIT licensed).
const BLOCKLIST: &str = include_str!("../../passwords/common-passwords.txt");

/// Why a password is refused; the message says what to do instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordProblem {
    #[error(
        "is {chars} characters long; it needs at least {min}{}",
        if *min == MIN_CHARS_PASSWORD_ONLY { " (8 once MFA is on)" } else { "" }
    )]
    TooShort { chars: usize, min: usize },
    #[error("is {chars} characters long; at most {MAX_CHARS} are accepted")]
    TooLong { chars: usize },
    #[error(
        "is a commonly used or breached password; choose another (a few unrelated words work well)"
    )]
    Common,
    #[error("is the account's name or the service's; choose another")]
    ContextWord,
    #[error("is one character repeated or a simple sequence; choose another")]
    Pattern,
}

/// A password as it is hashed and checked: NFKC-normalized.
pub fn normalized(password: &str) -> String {
    password.nfkc().collect()
}

/// Checks a new password for `user_id`; `with_mfa` when the account's
/// logins need a second factor (its MFA is on, or its organization
/// enforces MFA).
pub fn check(
    password: &str,
    user_id: &str,
    issuer: &str,
    with_mfa: bool,
) -> Result<(), PasswordProblem> {
    let password = normalized(password);
    let chars = password.chars().count();
    let min = if with_mfa {
        MIN_CHARS_WITH_MFA
    } else {
        MIN_CHARS_PASSWORD_ONLY
    };
    if chars < min {
        return Err(PasswordProblem::TooShort { chars, min });
    }
    if chars > MAX_CHARS {
        return Err(PasswordProblem::TooLong { chars });
    }
    let lower = password.to_lowercase();
    let context = [user_id.to_lowercase(), issuer.to_lowercase()];
    if context.iter().any(|w| !w.is_empty() && *w == lower) {
        return Err(PasswordProblem::ContextWord);
    }
    if blocklist().contains(lower.as_str()) {
        return Err(PasswordProblem::Common);
    }
    if is_pattern(&lower) {
        return Err(PasswordProblem::Pattern);
    }
    Ok(())
}

fn blocklist() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| {
        BLOCKLIST
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect()
    })
}

/// One character repeated, or every character one code point above (or
/// below) the one before it.
fn is_pattern(password: &str) -> bool {
    let points: Vec<u32> = password.chars().map(u32::from).collect();
    let steps: HashSet<i64> = points
        .windows(2)
        .map(|w| i64::from(w[1]) - i64::from(w[0]))
        .collect();
    steps.len() == 1 && steps.iter().all(|s| s.abs() <= 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_depends_on_mfa_and_counts_characters_not_bytes() {
        let fourteen = "correct horse ";
        assert_eq!(
            check(fourteen, "bob", "mfa-reset", false),
            Err(PasswordProblem::TooShort { chars: 14, min: 15 })
        );
        assert_eq!(check(fourteen, "bob", "mfa-reset", true), Ok(()));
        // 15 characters, 28 bytes: long enough.
        let accented = format!("{} {} {}", "é".repeat(4), "é".repeat(4), "é".repeat(5));
        assert_eq!((accented.chars().count(), accented.len()), (15, 28));
        assert_eq!(check(&accented, "bob", "x", false), Ok(()));
        assert_eq!(
            check(&"é".repeat(15), "bob", "x", false),
            Err(PasswordProblem::Pattern)
        );
        let long = "a b".repeat(100);
        assert_eq!(
            check(&long, "bob", "x", true),
            Err(PasswordProblem::TooLong { chars: 300 })
        );
    }

    #[test]
    fn common_context_and_pattern_passwords_are_refused_in_any_case() {
        assert_eq!(
            check("PassWord", "bob", "x", true),
            Err(PasswordProblem::Common)
        );
        assert_eq!(
            check("baseball", "bob", "x", true),
            Err(PasswordProblem::Common)
        );
        assert_eq!(
            check("Robert-the-builder", "robert-the-builder", "x", false),
            Err(PasswordProblem::ContextWord)
        );
        assert_eq!(
            check("aaaaaaaa", "bob", "x", true),
            Err(PasswordProblem::Pattern)
        );
        assert_eq!(
            check("abcdefghij", "bob", "x", true),
            Err(PasswordProblem::Pattern)
        );
        assert_eq!(
            check("87654321", "bob", "x", true),
            Err(PasswordProblem::Pattern)
        );
        assert_eq!(
            check("no composition rules at all", "bob", "x", false),
            Ok(())
        );
    }

    #[test]
    fn normalization_makes_compatible_spellings_one_password() {
        // "ﬁ" (U+FB01) is "fi" under NFKC.
        assert_eq!(normalized("ﬁne"), "fine");
        assert_eq!(normalized("fine"), "fine");
    }
}
