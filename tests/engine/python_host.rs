//! The Python package `mfa-reset` as a user installs it: its wheel built
//! by host/python/build-wheel.sh (with the component this build embeds),
//! installed into a fresh venv beside pytest (offline, from the wheels
//! tests/setup downloaded at the pins of tests/requirements.txt), and run
//! by pytest (tests/python/) against the whole conformance suite, a custom
//! policy set and the test-only misbehaving component.

use crate::common;

use common::{CONFORMANCE_CASES, repo, run_ok as run};

use std::path::Path;
use std::process::Command;

/// The wheel, built as the README says, in `dir`.
fn build_wheel(tools: &Path, dir: &Path) -> std::path::PathBuf {
    let wasm = dir.join("mfa-reset.wasm");
    std::fs::write(&wasm, mfa_reset::embedded_component()).unwrap();
    let said = run(
        "build-wheel.sh",
        Command::new("bash")
            .arg(repo("host/python/build-wheel.sh"))
            .arg("--component")
            .arg(&wasm)
            .arg("--out")
            .arg(dir.join("dist"))
            // flit_core from the tools' venv, not from the network.
            .arg("--no-build-isolation")
            .env("PYTHON", tools.join("bin/python")),
    );
    said.lines()
        .last()
        .map(std::path::PathBuf::from)
        .expect("the wheel's path")
}

#[test]
fn the_python_package_installed_from_its_wheel_answers_every_conformance_case() {
    let tools = repo(".tools/venv");
    assert!(
        tools.join("bin/python").exists() && repo(".tools/wheels").exists(),
        "no {}: run `bash tests/setup` first",
        tools.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let wheel = build_wheel(&tools, dir.path());
    let venv = dir.path().join("venv");
    run(
        "python3 -m venv",
        Command::new("python3")
            .args(["-m", "venv", "--without-pip"])
            .arg(&venv),
    );
    run(
        "pip install",
        Command::new(tools.join("bin/pip"))
            .arg("--python")
            .arg(venv.join("bin/python"))
            .args(["install", "-q", "--disable-pip-version-check", "--no-index"])
            .arg("--find-links")
            .arg(repo(".tools/wheels"))
            .arg(&wheel)
            .arg("pytest"),
    );
    let custom = common::policy_edits::bob_may_not_reset(dir.path(), "custom");
    let out = Command::new(venv.join("bin/python"))
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .arg(repo("tests/python"))
        .current_dir(dir.path())
        .env_remove("PYTHONPATH")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("MFA_RESET_INSTALLED_IN", &venv)
        .env("MFA_RESET_CUSTOM_POLICIES", &custom)
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
    // Every conformance case ran (and the package's own tests).
    let count = common::conformance_case_count();
    let passed: usize = stdout
        .lines()
        .last()
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .expect("a pytest summary");
    assert!(passed > count, "{passed} passed, {count} conformance cases");
}
