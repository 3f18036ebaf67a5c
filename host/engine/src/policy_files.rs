//! Reading a policy set from a directory of files.

use std::path::{Path, PathBuf};

use crate::Error;
use crate::api::{PolicySource, SourceFile};

impl PolicySource {
    /// Reads every `*.cedar` file of `dir` (in name order) and its one
    /// `*.cedarschema` file. File names in diagnostics are shown as
    /// `dir/name`.
    pub fn from_dir(dir: impl AsRef<Path>, support_url: impl Into<String>) -> Result<Self, Error> {
        let dir = dir.as_ref();
        let policies = policy_files(dir)?;
        let schema = schema_file(dir)?;
        Self::from_files(&policies, &schema, support_url)
    }

    /// Reads the policy files `policies` (in the order given) and the
    /// schema file `schema`: the Cedar CLI's `--policies` and `--schema`.
    pub fn from_files(
        policies: &[PathBuf],
        schema: &Path,
        support_url: impl Into<String>,
    ) -> Result<Self, Error> {
        let read = |path: &Path| -> Result<SourceFile, Error> {
            Ok(SourceFile {
                name: path.display().to_string(),
                text: std::fs::read_to_string(path).map_err(|e| Error::files(path, e))?,
            })
        };
        Ok(Self {
            policies: policies
                .iter()
                .map(|p| read(p))
                .collect::<Result<Vec<_>, _>>()?,
            schema: read(schema)?,
            support_url: support_url.into(),
        })
    }
}

/// The files of `dir` with extension `ext`, in name order.
fn files_with_extension(dir: &Path, ext: &str) -> Result<Vec<PathBuf>, Error> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::files(dir, e))?;
    let mut paths = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| Error::files(dir, e))?.path();
        if path.is_file() && path.extension().is_some_and(|e| e == ext) {
            paths.push(path);
        }
    }
    paths.sort();
    Ok(paths)
}

/// Every `*.cedar` file of `dir`, in name order (at least one).
pub fn policy_files(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let paths = files_with_extension(dir, "cedar")?;
    if paths.is_empty() {
        return Err(Error::files(
            dir,
            "no `*.cedar` policy file in this directory",
        ));
    }
    Ok(paths)
}

/// The one `*.cedarschema` file of `dir`.
pub fn schema_file(dir: &Path) -> Result<PathBuf, Error> {
    let mut schemas = files_with_extension(dir, "cedarschema")?;
    match schemas.len() {
        1 => Ok(schemas.remove(0)),
        0 => Err(Error::files(
            dir,
            "no `*.cedarschema` file in this directory",
        )),
        _ => Err(Error::files(
            dir,
            "more than one `*.cedarschema` file in this directory",
        )),
    }
}
