//! Edits of a `run-tests` file that keep every other byte as it was
//! (order, formatting, line ends, the other cases), so that a change
//! reviews as the few lines it is: `policies test --accept CASE…` replaces
//! the expectations of the accepted cases, `policies case --add` appends
//! a case.

use std::collections::BTreeMap;
use std::ops::Range;

use mfa_reset::TestExpectation;
use serde_json::value::RawValue;

/// `text` (a run-tests file) with the `decision`, `reason` and
/// `num_errors` of each case at the index given replaced.
pub fn accepted(text: &str, accepted: &BTreeMap<usize, TestExpectation>) -> Result<String, String> {
    let cases: Vec<&RawValue> =
        serde_json::from_str(text).map_err(|e| format!("not a run-tests file: {e}"))?;
    let mut edits: Vec<(Range<usize>, String)> = Vec::new();
    for (index, new) in accepted {
        let raw = cases
            .get(*index)
            .ok_or_else(|| format!("no case [{index}]"))?;
        let fields: BTreeMap<&str, &RawValue> = serde_json::from_str(raw.get())
            .map_err(|e| format!("case [{index}] is not an object of plain keys: {e}"))?;
        let values = [
            (
                "decision",
                serde_json::to_string(new.decision).expect("a string"),
            ),
            ("reason", String::new()),
            ("num_errors", new.num_errors.to_string()),
        ];
        for (key, value) in values {
            let old = fields
                .get(key)
                .ok_or_else(|| format!("case [{index}] has no `{key}`"))?;
            let start = offset_in(text, old.get());
            let value = if key == "reason" {
                let style = Style {
                    multi_line: raw.get().contains('\n'),
                    newline: if text.contains("\r\n") { "\r\n" } else { "\n" },
                    indent: indent_at(text, start),
                };
                reasons(&new.reason, old.get(), &style)
            } else {
                value
            };
            edits.push((start..start + old.get().len(), value));
        }
    }
    edits.sort_by_key(|(range, _)| std::cmp::Reverse(range.start));
    let mut out = text.to_string();
    for (range, value) in edits {
        out.replace_range(range, &value);
    }
    Ok(out)
}

/// `text` (a run-tests file) with `case` added after its last case,
/// written as that case is: on its own lines with its indentation, or on
/// one line when the file keeps its cases on one line.
pub fn appended(text: &str, case: &serde_json::Value) -> Result<String, String> {
    let cases: Vec<&RawValue> =
        serde_json::from_str(text).map_err(|e| format!("not a run-tests file: {e}"))?;
    let newline = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let Some(last) = cases.last() else {
        // An empty array: the case on its own lines, indented by two.
        let open = text.find('[').expect("a JSON array starts with `[`");
        let close = text.rfind(']').expect("a JSON array ends with `]`");
        let case = pretty(case, "  ", newline);
        return Ok(format!(
            "{}[{newline}  {case}{newline}]{}",
            &text[..open],
            &text[close + 1..]
        ));
    };
    let start = offset_in(text, last.get());
    let end = start + last.get().len();
    let on_own_lines = text[..start].contains('\n');
    let added = if on_own_lines {
        let indent = indent_at(text, start);
        format!(",{newline}{indent}{}", pretty(case, indent, newline))
    } else {
        format!(",{case}")
    };
    Ok(format!("{}{added}{}", &text[..end], &text[end..]))
}

/// `value` pretty-printed, each level indented by `indent` (the file's
/// unit: its cases are one level in), every line after the first shifted
/// by it too.
fn pretty(value: &serde_json::Value, indent: &str, newline: &str) -> String {
    use serde::Serialize;
    let unit = if indent.is_empty() { "  " } else { indent };
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(unit.as_bytes());
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
    value
        .serialize(&mut serializer)
        .expect("JSON values serialize");
    let text = String::from_utf8(out).expect("serde_json writes UTF-8");
    // A JSON string holds no raw line break: every line is the printer's.
    text.lines()
        .collect::<Vec<_>>()
        .join(&format!("{newline}{indent}"))
}

/// Where `part` (a slice of `text`) starts in it.
fn offset_in(text: &str, part: &str) -> usize {
    part.as_ptr() as usize - text.as_ptr() as usize
}

/// The leading whitespace of the line holding byte `at`.
fn indent_at(text: &str, at: usize) -> &str {
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let line = &text[line_start..];
    &line[..line.len() - line.trim_start().len()]
}

/// How the case is written: over lines or on one, with which line ends,
/// and the indentation of the line holding `reason`.
struct Style<'a> {
    multi_line: bool,
    newline: &'static str,
    indent: &'a str,
}

/// The reasons as the old array was written: one per line (indented as
/// its first item was, else two more than the key) when the case spreads
/// over lines, else on one line.
fn reasons(reasons: &[String], old: &str, style: &Style<'_>) -> String {
    let quoted: Vec<String> = reasons
        .iter()
        .map(|r| serde_json::to_string(r).expect("a string"))
        .collect();
    if quoted.is_empty() {
        return "[]".into();
    }
    if !style.multi_line {
        return format!("[{}]", quoted.join(", "));
    }
    let indent = style.indent;
    let item_indent = old
        .lines()
        .nth(1)
        .filter(|line| !line.trim().is_empty() && line.trim() != "]")
        .map(|line| &line[..line.len() - line.trim_start().len()])
        .map_or_else(|| format!("{indent}  "), str::to_string);
    let newline = style.newline;
    let items: Vec<String> = quoted.iter().map(|q| format!("{item_indent}{q}")).collect();
    format!(
        "[{newline}{}{newline}{indent}]",
        items.join(&format!(",{newline}"))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"[
  {
    "name": "a",
    "request": {"x": 1},
    "decision": "allow",
    "reason": [
      "p1"
    ],
    "num_errors": 0
  },
  {
    "name": "b",
    "decision": "deny",
    "reason": [],
    "num_errors": 0
  }
]
"#;

    /// Only the accepted case's expectation changes; every other byte,
    /// the other case included, stays as it was.
    #[test]
    fn accepting_a_case_changes_only_its_expectation() {
        let got = TestExpectation {
            decision: "allow",
            reason: vec!["p2".into(), "p3".into()],
            num_errors: 1,
        };
        let out = accepted(FILE, &BTreeMap::from([(1, got)])).unwrap();
        let expected = FILE.replace(
            "\"decision\": \"deny\",\n    \"reason\": [],\n    \"num_errors\": 0",
            "\"decision\": \"allow\",\n    \"reason\": [\n      \"p2\",\n      \"p3\"\n    ],\n    \"num_errors\": 1",
        );
        assert_eq!(out, expected);
        let denied = TestExpectation {
            decision: "deny",
            reason: Vec::new(),
            num_errors: 0,
        };
        let out = accepted(FILE, &BTreeMap::from([(0, denied)])).unwrap();
        assert_eq!(
            out,
            FILE.replacen(
                "\"decision\": \"allow\",\n    \"reason\": [\n      \"p1\"\n    ],",
                "\"decision\": \"deny\",\n    \"reason\": [],",
                1
            )
        );
        assert!(
            accepted(
                FILE,
                &BTreeMap::from([(
                    5,
                    TestExpectation {
                        decision: "deny",
                        reason: Vec::new(),
                        num_errors: 0
                    }
                )])
            )
            .is_err()
        );
        assert!(accepted("{}", &BTreeMap::new()).is_err());

        // A case on one line stays on one line; CRLF files keep CRLF.
        let one_line = "[{\"name\":\"x\",\"decision\":\"deny\",\"reason\":[],\"num_errors\":0}]";
        let got = TestExpectation {
            decision: "allow",
            reason: vec!["p".into(), "q".into()],
            num_errors: 0,
        };
        assert_eq!(
            accepted(one_line, &BTreeMap::from([(0, got.clone())])).unwrap(),
            "[{\"name\":\"x\",\"decision\":\"allow\",\"reason\":[\"p\", \"q\"],\"num_errors\":0}]"
        );
        let crlf = FILE.replace('\n', "\r\n");
        let out = accepted(&crlf, &BTreeMap::from([(1, got)])).unwrap();
        assert!(
            !out.replace("\r\n", "").contains('\n'),
            "CRLF throughout: {out:?}"
        );
    }

    /// An added case follows the last one as it is written (indent, line
    /// ends, or one line), and the cases before it keep every byte.
    #[test]
    fn an_added_case_follows_the_last_one_and_keeps_every_other_byte() {
        let case = serde_json::json!({"name": "c", "reason": ["p"], "num_errors": 0});
        let out = appended(FILE, &case).unwrap();
        let before = FILE.trim_end().strip_suffix(']').unwrap().trim_end();
        assert_eq!(
            out,
            format!(
                "{before},\n  {{\n    \"name\": \"c\",\n    \"reason\": [\n      \"p\"\n    ],\n    \"num_errors\": 0\n  }}\n]\n"
            )
        );
        let parsed: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
        assert_eq!(parsed.len(), 3);
        assert_eq!(parsed[2], case);

        let tabs = "[\n\t{\"name\": \"a\"}\n]";
        assert_eq!(
            appended(tabs, &serde_json::json!({"name": "b"})).unwrap(),
            "[\n\t{\"name\": \"a\"},\n\t{\n\t\t\"name\": \"b\"\n\t}\n]"
        );
        let crlf = FILE.replace('\n', "\r\n");
        let out = appended(&crlf, &case).unwrap();
        assert!(
            out.starts_with(
                &crlf.trim_end()[..crlf.trim_end().len() - 1]
                    .trim_end()
                    .to_string()
            )
        );
        assert!(
            !out.replace("\r\n", "").contains('\n'),
            "CRLF throughout: {out:?}"
        );
        assert_eq!(
            appended("[{\"name\":\"a\"}]", &serde_json::json!({"name": "b"})).unwrap(),
            "[{\"name\":\"a\"},{\"name\":\"b\"}]"
        );
        assert_eq!(
            appended("[]\n", &serde_json::json!({"name": "b"})).unwrap(),
            "[\n  {\n    \"name\": \"b\"\n  }\n]\n"
        );
        assert!(appended("{}", &case).is_err());
    }
}
