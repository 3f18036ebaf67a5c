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
    if path.exists() && writable_only_by_owner(dir) && writable_only_by_owner(&path) {
        // SAFETY: the file is one this function wrote, named by the hash of
        // the source and of the engine's settings, in a directory no one
        // else can write (a compiled component is native code: a planted
        // one would run whatever the sha256 pin of the wasm says); a
        // corrupt file fails deserialization and is replaced below.
        if let Ok(component) = unsafe { Component::deserialize_file(engine, &path) } {
            return Ok(component);
        }
    }
    let component = compile(engine, wasm)?;
    // A cache that cannot be written only costs time on the next start.
    if let Ok(bytes) = component.serialize() {
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        let written = private_dir(dir)
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

/// Whether only `path`'s owner may write it (always, off unix).
fn writable_only_by_owner(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(path).is_ok_and(|m| m.mode() & 0o022 == 0)
    }
    #[cfg(not(unix))]
    {
        path.exists()
    }
}

/// Creates `dir` (and its parents) readable and writable by its owner only.
fn private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
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

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn a_cache_others_can_write_is_not_trusted() {
        let dir = tempfile_dir();
        let file = dir.join("x.cwasm");
        std::fs::write(&file, b"compiled").unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(writable_only_by_owner(&dir) && writable_only_by_owner(&file));
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(!writable_only_by_owner(&dir), "a world-writable directory");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o664)).unwrap();
        assert!(!writable_only_by_owner(&file), "a group-writable file");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn tempfile_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("mfa-reset-cache-test-{}", std::process::id()));
        private_dir(&dir).unwrap();
        dir
    }
}
