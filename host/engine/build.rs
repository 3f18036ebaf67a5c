//! Builds the guest component for wasm32-wasip2 so that `cargo build` of the
//! host is the one command that builds everything. The component's bytes are
//! embedded into the host (see `component::EMBEDDED`).
//!
//! Set `MFA_RESET_GUEST_WASM` to a prebuilt component to skip this build.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::{env, fs};

const TARGET: &str = "wasm32-wasip2";

/// The guest's cargo profile: `guest` (fully optimized, as measured in
/// BENCHMARKS.md) for release builds, `guest-dev` (quicker to build) for
/// debug builds and so for the tests; see the workspace's Cargo.toml.
fn guest_profile() -> &'static str {
    match env::var("PROFILE").as_deref() {
        Ok("release") => "guest",
        _ => "guest-dev",
    }
}

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let embedded = out.join("mfa_reset_guest.wasm");
    println!("cargo:rerun-if-env-changed=MFA_RESET_GUEST_WASM");
    if let Some(prebuilt) = env::var_os("MFA_RESET_GUEST_WASM") {
        let prebuilt = PathBuf::from(prebuilt);
        println!("cargo:rerun-if-changed={}", prebuilt.display());
        copy(&prebuilt, &embedded);
        return;
    }

    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let root = manifest_dir
        .ancestors()
        .nth(2)
        .expect("host/engine/ sits two levels below the workspace root");
    for watched in [
        "guest/src",
        "guest/Cargo.toml",
        "wit",
        "policies",
        "Cargo.lock",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }

    ensure_target();
    let profile = guest_profile();
    // A separate target dir: the outer cargo holds the lock on its own.
    let target_dir = target_dir(&out).join("wasm");
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .current_dir(root)
        .args([
            "build",
            "-p",
            "mfa-reset-guest",
            "--target",
            TARGET,
            "--profile",
            profile,
        ])
        .arg("--target-dir")
        .arg(&target_dir);
    // Flags meant for the host build must not leak into the wasm build.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_BUILD_TARGET",
        "CARGO_TARGET_DIR",
        "CARGO_PROFILE_RELEASE_DEBUG",
    ] {
        build.env_remove(var);
    }
    let status = build
        .status()
        .expect("failed to run cargo for the guest component");
    if !status.success() {
        panic!("building the guest component for {TARGET} failed (see the output above)");
    }
    copy(
        &target_dir
            .join(TARGET)
            .join(profile)
            .join("mfa_reset_guest.wasm"),
        &embedded,
    );
}

/// The workspace target dir, from `OUT_DIR` = `<target>/<profile>/build/<pkg>/out`.
fn target_dir(out: &Path) -> PathBuf {
    if let Some(dir) = env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    out.ancestors()
        .nth(4)
        .expect("OUT_DIR is nested in the target dir")
        .to_path_buf()
}

/// Installs the wasm32-wasip2 target through rustup if it is missing: rustup
/// does not add targets on its own here (RUSTUP_AUTO_INSTALL=0).
fn ensure_target() {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l.trim() == TARGET)
        });
    match installed {
        Ok(true) => {}
        Ok(false) => {
            println!(
                "cargo:warning=installing the {TARGET} Rust target (rustup target add {TARGET})"
            );
            let ok = Command::new("rustup")
                .args(["target", "add", TARGET])
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                panic!("the {TARGET} target is missing and `rustup target add {TARGET}` failed");
            }
        }
        // No rustup: let cargo report a missing target itself.
        Err(_) => {}
    }
}

fn copy(from: &Path, to: &Path) {
    fs::copy(from, to)
        .unwrap_or_else(|e| panic!("cannot copy the component {}: {e}", from.display()));
}
