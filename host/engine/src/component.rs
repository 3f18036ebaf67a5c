//! Compiling the component, once, with the compiled form cached on disk.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::component::Component;

use crate::Error;

/// The component built from `guest/` by `host/engine/build.rs`.
pub(crate) static EMBEDDED: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/mfa_reset_guest.wasm"));

/// The default cache dir: `$XDG_CACHE_HOME/mfa-reset` or `~/.cache/mfa-reset`.
pub(crate) fn default_cache_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .map(|d| d.join("mfa-reset"))
}

/// Compiles `wasm`, or loads its compiled form from `cache_dir` when this
/// engine compiled the same bytes before (~0.3 ms instead of ~50 ms).
pub(crate) fn load(
    engine: &wasmtime::Engine,
    wasm: &[u8],
    cache_dir: Option<&Path>,
) -> Result<Component, Error> {
    let Some(dir) = cache_dir else {
        return compile(engine, wasm);
    };
    let path = dir.join(format!("{}.cwasm", cache_key(engine, wasm)));
    if path.exists() {
        // SAFETY: the file is one this function wrote, named by the hash of
        // the source and of the engine's settings; a corrupt or foreign file
        // fails deserialization and is replaced below.
        if let Ok(component) = unsafe { Component::deserialize_file(engine, &path) } {
            return Ok(component);
        }
    }
    let component = compile(engine, wasm)?;
    // A cache that cannot be written only costs time on the next start.
    if let Ok(bytes) = component.serialize() {
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        let written = std::fs::create_dir_all(dir)
            .and_then(|()| std::fs::write(&tmp, bytes))
            .and_then(|()| std::fs::rename(&tmp, &path));
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        } else {
            prune(dir, &path);
        }
    }
    Ok(component)
}

/// Keeps the cache from growing with every rebuild: compiled components
/// are ~20 MB, so only the newest few stay.
fn prune(dir: &Path, keep: &Path) {
    const KEEP: usize = 4;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut cached: Vec<(std::time::SystemTime, PathBuf)> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "cwasm") && p != keep)
        .filter_map(|p| Some((p.metadata().ok()?.modified().ok()?, p)))
        .collect();
    cached.sort_by_key(|(modified, _)| std::cmp::Reverse(*modified));
    for (_, old) in cached.into_iter().skip(KEEP - 1) {
        let _ = std::fs::remove_file(old);
    }
}

fn compile(engine: &wasmtime::Engine, wasm: &[u8]) -> Result<Component, Error> {
    Component::new(engine, wasm).map_err(|e| Error::Component(format!("{e:#}")))
}

/// The sha256 of `wasm`, lower-case hex: what an operator pins.
pub(crate) fn sha256_hex(wasm: &[u8]) -> String {
    Sha256::digest(wasm)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Hash of the component and of everything in the engine that affects its
/// compiled form.
fn cache_key(engine: &wasmtime::Engine, wasm: &[u8]) -> String {
    let mut settings = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut settings);
    let mut hash = Sha256::new();
    hash.update(wasm);
    hash.update(settings.finish().to_le_bytes());
    hash.update(env!("CARGO_PKG_VERSION"));
    hash.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
