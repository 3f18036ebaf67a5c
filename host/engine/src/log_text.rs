//! User-supplied text in log lines: shortened and stripped of control
//! characters, so a caller cannot flood or forge log lines with a long or
//! multi-line id.

use std::fmt;

/// Characters of a user-supplied value kept in a log line.
const MAX_CHARS: usize = 64;

/// Displays `text` cut to 64 characters (with `…`), control characters
/// replaced by `?`.
pub struct Shown<'a>(pub &'a str);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut chars = self.0.chars();
        for c in chars.by_ref().take(MAX_CHARS) {
            let c = if c.is_control() { '?' } else { c };
            write!(f, "{c}")?;
        }
        if chars.next().is_some() {
            write!(f, "…")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Shown;

    #[test]
    fn long_and_multi_line_ids_are_cut_and_cleaned() {
        let forged = format!("bob\n{{\"level\":\"INFO\"}}{}", "x".repeat(500));
        let shown = Shown(&forged).to_string();
        assert!(!shown.contains('\n'));
        assert_eq!(shown.chars().count(), 65);
        assert!(shown.ends_with('…'));
        assert_eq!(Shown("ada").to_string(), "ada");
    }
}
