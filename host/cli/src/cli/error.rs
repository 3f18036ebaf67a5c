//! The one error of the command line: what failed, where (the file, the
//! flag or the variable, as the user wrote it) and why. Every command
//! exits 2 with it.

use std::path::{Path, PathBuf};

/// Why a command could not do its work.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The engine refused: a request, a policy set, the component.
    #[error(transparent)]
    Engine(#[from] mfa_reset::Error),
    /// An operator's command that cannot be done as asked (which id, why).
    #[error("{0}")]
    Refused(String),
    /// A file (or standard input) could not be read or written.
    #[error("`{}`: {message}", path.display())]
    File {
        /// The file as named on the command line or derived from it.
        path: PathBuf,
        /// What the system said.
        message: String,
    },
    /// A flag or environment variable whose value cannot be used.
    #[error("{setting} {message}")]
    Setting {
        /// The flag or variable, as the user writes it (`--since`).
        setting: &'static str,
        /// Why, with the value as written where that is safe; read after
        /// the setting's name (`` `7 days`: a number and a unit``).
        message: String,
    },
    /// A database (its URL without the password) could not be read.
    #[error("database `{url}`: {message}")]
    Database {
        /// The URL, its password removed.
        url: String,
        /// Why, with the password removed.
        message: String,
    },
    /// A policy set named by a git revision could not be read from git.
    #[error("`{spec}`: {message}")]
    Revision {
        /// The directory or revision as written.
        spec: String,
        /// What git said, or why it is not a revision.
        message: String,
    },
    /// What the process runs on (a runtime, the signal handlers) failed.
    #[error("{0}")]
    System(#[from] std::io::Error),
}

impl CliError {
    /// A file that could not be read or written.
    pub fn file(path: &Path, e: impl ToString) -> Self {
        Self::File {
            path: path.to_path_buf(),
            message: e.to_string(),
        }
    }

    /// A flag or variable whose value cannot be used.
    pub fn setting(setting: &'static str, message: impl Into<String>) -> Self {
        Self::Setting {
            setting,
            message: message.into(),
        }
    }
}
