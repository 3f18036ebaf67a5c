//! The npm package `mfa-reset` as a user installs it: its tarball built by
//! host/node/build-package.sh (the component this build embeds, transpiled
//! by the jco pinned in tests/node/package.json), installed into a fresh
//! project, and run there by Node's own test runner (tests/node/) against
//! the whole conformance suite, a custom policy set and the test-only
//! misbehaving component; `tsc --noEmit` type-checks a consumer against
//! the package's declarations.

use crate::common;

use common::{CONFORMANCE_CASES, repo, run_ok as run};

use std::path::{Path, PathBuf};
use std::process::Command;

fn jco() -> PathBuf {
    let jco = repo("tests/node/node_modules/.bin/jco");
    assert!(
        jco.exists(),
        "no {}: run `bash tests/setup` first",
        jco.display()
    );
    jco
}

/// The package's tarball, built as the README says, in `dir`.
fn build_package(dir: &Path) -> PathBuf {
    let wasm = dir.join("mfa-reset.wasm");
    std::fs::write(&wasm, mfa_reset::embedded_component()).unwrap();
    let said = run(
        "build-package.sh",
        Command::new("bash")
            .arg(repo("host/node/build-package.sh"))
            .arg("--component")
            .arg(&wasm)
            .arg("--out")
            .arg(dir.join("dist"))
            .env("JCO", jco()),
    );
    said.lines()
        .last()
        .map(PathBuf::from)
        .expect("the tarball's path")
}

#[test]
fn the_npm_package_installed_from_its_tarball_answers_every_conformance_case() {
    let dir = tempfile::tempdir().unwrap();
    let tarball = build_package(dir.path());
    let misbehaving = dir.path().join("misbehaving-js");
    run(
        "jco transpile",
        Command::new(jco())
            .arg("transpile")
            .arg(common::misbehaving::misbehaving_component())
            .arg("-o")
            .arg(&misbehaving)
            .args(["--instantiation", "async", "--name", "mfa-reset", "--quiet"]),
    );

    // A fresh project that installs the tarball (it depends on nothing).
    let project = dir.path().join("project");
    std::fs::create_dir(&project).unwrap();
    std::fs::write(
        project.join("package.json"),
        r#"{"name": "consumer", "private": true, "type": "module"}"#,
    )
    .unwrap();
    run(
        "npm install",
        Command::new("npm")
            .args(["install", "--offline", "--no-audit", "--no-fund"])
            .args(["--loglevel=error"])
            .arg(&tarball)
            .current_dir(&project),
    );
    for file in [
        "host.test.mjs",
        "consumer/consumer.ts",
        "consumer/tsconfig.json",
    ] {
        let from = repo("tests/node").join(file);
        std::fs::copy(&from, project.join(from.file_name().unwrap())).unwrap();
    }
    run(
        "tsc --noEmit",
        Command::new(repo("tests/node/node_modules/.bin/tsc"))
            .args(["--noEmit", "-p"])
            .arg(project.join("tsconfig.json")),
    );

    let custom = common::policy_edits::bob_may_not_reset(dir.path(), "custom");
    let out = Command::new("node")
        .args(["--test", "host.test.mjs"])
        .current_dir(&project)
        .env("MFA_RESET_MISBEHAVING_JS_DIR", &misbehaving)
        .env("MFA_RESET_CUSTOM_POLICIES", &custom)
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
