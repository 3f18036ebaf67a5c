//! Turns Cedar's miette diagnostics into located [`Diagnostic`]s.

use miette::Diagnostic as MietteDiagnostic;

use crate::mfa_reset::engine::types::{Diagnostic, Severity};

/// 1-based line and column of a byte offset in `text` (0, 0 if out of range).
pub fn line_column(text: &str, offset: usize) -> (u32, u32) {
    let Some(before) = text.get(..offset) else {
        return (0, 0);
    };
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (
        u32::try_from(line).unwrap_or(u32::MAX),
        u32::try_from(column).unwrap_or(u32::MAX),
    )
}

/// A diagnostic located at `offset` of `file` (whose text is `text`).
pub fn at(
    severity: Severity,
    file: &str,
    text: &str,
    offset: Option<usize>,
    policy_id: Option<String>,
    message: String,
    help: Option<String>,
) -> Diagnostic {
    let (line, column) = offset.map_or((0, 0), |o| line_column(text, o));
    Diagnostic {
        severity,
        file: file.to_string(),
        line,
        column,
        policy_id,
        message,
        help,
    }
}

/// Converts one miette diagnostic whose labels point into `text`.
pub fn from_miette(
    severity: Severity,
    file: &str,
    text: &str,
    policy_id: Option<String>,
    diagnostic: &dyn MietteDiagnostic,
) -> Diagnostic {
    let label = diagnostic.labels().and_then(|mut labels| labels.next());
    let offset = label.as_ref().map(|label| label.offset());
    // The label says what was expected there ("expected `;` or
    // identifier"): the most useful words of a parse error.
    let label_text = label.and_then(|label| label.label().map(str::to_string));
    let mut message = diagnostic.to_string();
    // Some Cedar errors carry their detail in related diagnostics.
    if let Some(related) = diagnostic.related() {
        for r in related {
            message.push_str("; ");
            message.push_str(&r.to_string());
        }
    }
    let help = match (label_text, diagnostic.help()) {
        (Some(label), Some(help)) => Some(format!("{label}; {help}")),
        (Some(label), None) => Some(label),
        (None, help) => help.map(|h| h.to_string()),
    };
    at(severity, file, text, offset, policy_id, message, help)
}
