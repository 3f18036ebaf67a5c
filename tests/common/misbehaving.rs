//! The test-only misbehaving component (`tests/misbehaving-guest`), built
//! for wasm32-wasip2 by the first test process that needs it (cargo finds it
//! up to date for the others) the way the engine's build script
//! builds the real guest (same profile, same wasm target dir, so the
//! dependencies they share are compiled once).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::LazyLock;

/// The profile host/engine/build.rs builds the real guest with in this kind
/// of build (`guest-dev` in debug builds, `guest` in release ones).
const PROFILE: &str = if cfg!(debug_assertions) {
    "guest-dev"
} else {
    "guest"
};

pub fn misbehaving_component() -> &'static Path {
    static WASM: LazyLock<PathBuf> = LazyLock::new(build);
    &WASM
}

fn build() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let target_dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target dir")
        .join("wasm");
    let mut cargo = Command::new(env!("CARGO"));
    cargo
        .current_dir(&root)
        .args(["build", "-q", "-p", "mfa-reset-misbehaving-guest"])
        .args(["--target", "wasm32-wasip2", "--profile", PROFILE])
        .arg("--target-dir")
        .arg(&target_dir);
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "CARGO_TARGET_DIR",
    ] {
        cargo.env_remove(var);
    }
    let status = cargo.status().expect("cargo runs");
    assert!(
        status.success(),
        "building the misbehaving component failed"
    );
    target_dir.join(format!(
        "wasm32-wasip2/{PROFILE}/mfa_reset_misbehaving_guest.wasm"
    ))
}
