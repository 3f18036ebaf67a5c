//! A file replaced whole, through a temporary file beside it: what `policies
//! fmt`, `policies test --accept` and `policies case --add` write to an
//! author's files.

use std::path::Path;

use super::error::CliError;

/// Replaces `path`'s content whole (a symlink's target), keeping its
/// permissions: a crash leaves the old file or the new one, never half of
/// each, and no temporary file behind.
pub fn write_atomically(path: &Path, text: &str) -> Result<(), CliError> {
    use std::io::Write;

    let failed = |e: std::io::Error| CliError::file(path, e);
    let target = std::fs::canonicalize(path).map_err(failed)?;
    let dir = target.parent().unwrap_or(Path::new("."));
    let permissions = std::fs::metadata(&target).map_err(failed)?.permissions();
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(failed)?;
    tmp.write_all(text.as_bytes()).map_err(failed)?;
    tmp.as_file().set_permissions(permissions).map_err(failed)?;
    tmp.as_file().sync_all().map_err(failed)?;
    tmp.persist(&target).map_err(|e| failed(e.error))?;
    Ok(())
}
