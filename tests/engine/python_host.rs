//! The Python host (host/python/mfa_reset.py, on PyPI's `wasmtime` pinned
//! in tests/requirements.txt) run by pytest (tests/python/) against the
//! whole conformance suite, with the component this build embeds and the
//! test-only misbehaving one.

use crate::common;

use common::{CONFORMANCE_CASES, repo};

use std::process::Command;

#[test]
fn the_python_host_answers_every_conformance_case_as_the_rust_host_does() {
    let python = repo(".tools/venv/bin/python");
    assert!(
        python.exists(),
        "no {}: run `bash tests/setup` first",
        python.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let wasm = dir.path().join("mfa-reset.wasm");
    std::fs::write(&wasm, mfa_reset::embedded_component()).unwrap();
    let out = Command::new(python)
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .arg(repo("tests/python"))
        .env("PYTHONPATH", repo("host/python"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("MFA_RESET_WASM", &wasm)
        .env(
            "MFA_RESET_MISBEHAVING_WASM",
            common::misbehaving::misbehaving_component(),
        )
        .env("MFA_RESET_CONFORMANCE", repo(CONFORMANCE_CASES))
        .env("MFA_RESET_CACHE_DIR", dir.path().join("cache"))
        .output()
        .expect("pytest runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{}", stdout.lines().last().unwrap_or_default());
    assert!(
        out.status.success(),
        "pytest failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Every conformance case ran (and the host's own tests).
    let count = common::conformance_case_count();
    let passed: usize = stdout
        .lines()
        .last()
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .expect("a pytest summary");
    assert!(passed > count, "{passed} passed, {count} conformance cases");
}
