//! Where the service's state is: the database (`serve` and the operators'
//! commands open the same one) and the key that seals TOTP keys in it.

use std::path::{Path, PathBuf};

use clap::Args;
use mfa_reset_service::SecretBox;

use super::error::CliError;

/// The database flags every command that opens it shares.
#[derive(Args)]
pub struct DatabaseArgs {
    /// Directory for the embedded SQLite database and its generated key.
    #[arg(
        long,
        env = "MFA_RESET_DATA_DIR",
        default_value = ".mfa-reset",
        global = true
    )]
    data_dir: PathBuf,
    /// `postgres://user:password@host/db` or `sqlite://file`; SQLite in the data dir if not given.
    #[arg(long, env = "MFA_RESET_DATABASE", global = true)]
    database: Option<String>,
    /// AEAD key sealing TOTP secrets at rest (base64, 32 bytes). Required with
    /// PostgreSQL (all replicas share it); generated into the data dir for SQLite.
    #[arg(
        long,
        env = "MFA_RESET_SECRET_KEY",
        hide_env_values = true,
        global = true
    )]
    secret_key: Option<String>,
}

pub fn read(path: &Path) -> Result<String, CliError> {
    std::fs::read_to_string(path).map_err(|e| CliError::file(path, e))
}

/// The key for SQLite: generated once into the data dir, readable by us only.
fn key_file(data_dir: &Path) -> Result<String, CliError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path = data_dir.join("secret.key");
    if path.exists() {
        return read(&path);
    }
    let key = SecretBox::generate_base64();
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| CliError::file(&path, e))?;
    file.write_all(key.as_bytes())
        .map_err(|e| CliError::file(&path, e))?;
    tracing::warn!(path = %path.display(), "generated a new secret key for TOTP secrets at rest; back it up");
    Ok(key)
}

/// The data directory, readable by us only (it holds the database and the key).
fn private_dir(dir: &Path) -> Result<(), CliError> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let error = |e: std::io::Error| CliError::file(dir, e);
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(error)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(error)
}

/// Creates the SQLite file 0600 before SQLite does (its journal files take
/// the database file's mode), and tightens an existing one.
fn private_file(path: &Path) -> Result<(), CliError> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let error = |e: std::io::Error| CliError::file(path, e);
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
        .map_err(error)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(error)
}

impl DatabaseArgs {
    /// The database URL (a private SQLite file in the data directory unless
    /// one is given) and the key that seals TOTP keys in it.
    pub fn url_and_key(&self) -> Result<(String, String), CliError> {
        private_dir(&self.data_dir)?;
        let database = match &self.database {
            Some(url) => url.clone(),
            None => {
                let file = self.data_dir.join("mfa-reset.db");
                private_file(&file)?;
                format!("sqlite://{}?mode=rwc", file.display())
            }
        };
        let secret_key = match (&self.secret_key, database.starts_with("sqlite:")) {
            (Some(key), _) => key.clone(),
            (None, true) => key_file(&self.data_dir)?,
            (None, false) => {
                return Err(CliError::setting(
                    "MFA_RESET_SECRET_KEY",
                    "is required with PostgreSQL: every replica must share it",
                ));
            }
        };
        Ok((database, secret_key))
    }
}
