//! The rooms' order, checked: each room names only rooms below it (see the
//! map in `lib.rs`), so that nothing low depends on what is built on it.

use std::path::Path;

/// Rooms from the bottom up; a room may use any room before it.
const ROOMS: &[&str] = &[
    "credentials",
    "routes",
    "keyed_locks",
    "metrics",
    "seed",
    "config",
    "store",
    "error",
    "housekeeping",
    "notify",
    "policy",
    "app",
    "accounts",
    "decisions",
    "support",
    "http",
    "service",
    "lib",
];

fn rank(room: &str) -> usize {
    ROOMS
        .iter()
        .position(|r| *r == room)
        .unwrap_or_else(|| panic!("room `{room}` is not in the layering table"))
}

/// Every `crate::room` a file's product code names (comments and test
/// modules aside).
fn named_rooms(text: &str) -> Vec<String> {
    let code = text.split("#[cfg(test)]").next().unwrap_or_default();
    let mut named = Vec::new();
    for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
        for (at, _) in line.match_indices("crate::") {
            let rest = &line[at + "crate::".len()..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            let name = &rest[..end];
            // `crate::Thing` is a re-export of the crate root's.
            if name.starts_with(|c: char| c.is_ascii_uppercase()) {
                named.push("lib".to_string());
            } else if !name.is_empty() {
                named.push(name.to_string());
            }
        }
    }
    named
}

fn visit(dir: &Path, src: &Path, upward: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            visit(&path, src, upward);
            continue;
        }
        let relative = path.strip_prefix(src).unwrap();
        let first = relative.components().next().unwrap().as_os_str();
        let room = first.to_str().unwrap().trim_end_matches(".rs");
        if room == "layering" {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for named in named_rooms(&text) {
            if named != room && rank(&named) >= rank(room) {
                upward.push(format!("{} names crate::{named}", relative.display()));
            }
        }
    }
}

#[test]
fn every_room_names_only_the_rooms_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut upward = Vec::new();
    visit(&src, &src, &mut upward);
    assert!(
        upward.is_empty(),
        "imports pointing up:\n{}",
        upward.join("\n")
    );
}

#[test]
fn an_import_from_above_is_found() {
    let text = "use crate::http::router;\n// crate::service in a comment\nuse crate::Clock;\n";
    assert_eq!(named_rooms(text), ["http", "lib"]);
    assert!(rank("http") >= rank("store"), "store must not name http");
}
