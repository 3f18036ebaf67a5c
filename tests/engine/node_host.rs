//! The Node host (host/node/mfa-reset.mjs): the component this build embeds
//! and the test-only misbehaving one, transpiled by jco (pinned in
//! tests/node/package.json, installed by tests/setup), run by Node's own
//! test runner (tests/node/) against the whole conformance suite.

use crate::common;

use common::{CONFORMANCE_CASES, repo};

use std::path::Path;
use std::process::Command;

/// `jco transpile`s `wasm` into `out` as the Node host loads it.
fn transpile(wasm: &Path, out: &Path) {
    let jco = repo("tests/node/node_modules/.bin/jco");
    assert!(
        jco.exists(),
        "no {}: run `bash tests/setup` first",
        jco.display()
    );
    let done = Command::new(jco)
        .arg("transpile")
        .arg(wasm)
        .arg("-o")
        .arg(out)
        .args(["--instantiation", "async", "--name", "mfa-reset", "--quiet"])
        .output()
        .expect("jco runs");
    assert!(
        done.status.success(),
        "jco transpile {}: {}",
        wasm.display(),
        String::from_utf8_lossy(&done.stderr)
    );
}

#[test]
fn the_node_host_answers_every_conformance_case_as_the_rust_host_does() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = dir.path().join("mfa-reset.wasm");
    std::fs::write(&wasm, mfa_reset::embedded_component()).unwrap();
    transpile(&wasm, &dir.path().join("js"));
    transpile(
        common::misbehaving::misbehaving_component(),
        &dir.path().join("misbehaving-js"),
    );
    let out = Command::new("node")
        .arg("--test")
        .arg(repo("tests/node"))
        .env("MFA_RESET_JS_DIR", dir.path().join("js"))
        .env(
            "MFA_RESET_MISBEHAVING_JS_DIR",
            dir.path().join("misbehaving-js"),
        )
        .env("MFA_RESET_CONFORMANCE", repo(CONFORMANCE_CASES))
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let count = |label: &str| -> usize {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(label)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("no `{label}` in {stdout}"))
    };
    assert!(
        out.status.success() && count("# fail ") == 0,
        "node --test failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let total = common::conformance_case_count();
    let passed = count("# pass ");
    println!("node: {passed} passed ({total} conformance cases)");
    assert!(passed > total, "{passed} passed, {total} conformance cases");
}
