//! Reading a policy set from a directory of files.

use std::path::Path;

use crate::Error;
use crate::api::{PolicySource, SourceFile};

impl PolicySource {
    /// Reads every `*.cedar` file of `dir` (in name order) and its one
    /// `*.cedarschema` file. File names in diagnostics are shown as
    /// `dir/name`.
    pub fn from_dir(dir: impl AsRef<Path>, support_url: impl Into<String>) -> Result<Self, Error> {
        let dir = dir.as_ref();
        let entries = std::fs::read_dir(dir).map_err(|e| Error::files(dir, e))?;
        let mut paths = Vec::new();
        for entry in entries {
            paths.push(entry.map_err(|e| Error::files(dir, e))?.path());
        }
        paths.sort();
        let read = |path: &Path| -> Result<SourceFile, Error> {
            Ok(SourceFile {
                name: path.display().to_string(),
                text: std::fs::read_to_string(path).map_err(|e| Error::files(path, e))?,
            })
        };
        let with_extension = |ext: &'static str| {
            paths
                .iter()
                .filter(move |p| p.is_file() && p.extension().is_some_and(|e| e == ext))
        };
        let policies = with_extension("cedar")
            .map(|p| read(p))
            .collect::<Result<Vec<_>, _>>()?;
        if policies.is_empty() {
            return Err(Error::files(
                dir,
                "no `*.cedar` policy file in this directory",
            ));
        }
        let schemas: Vec<_> = with_extension("cedarschema").collect();
        let schema = match schemas.as_slice() {
            [one] => read(one)?,
            [] => {
                return Err(Error::files(
                    dir,
                    "no `*.cedarschema` file in this directory",
                ));
            }
            _ => {
                return Err(Error::files(
                    dir,
                    "more than one `*.cedarschema` file in this directory",
                ));
            }
        };
        Ok(Self {
            policies,
            schema,
            support_url: support_url.into(),
        })
    }
}
