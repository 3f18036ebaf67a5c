//! Reading a column by name from a row of either reader: sqlx's `Any`
//! rows and the synchronous SQLite reader's rows (`sqlite_file.rs`), so that
//! one function turns a row into a user or a session for both.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::StoreError;

/// The column types the store keeps: text and 64-bit integers, either
/// possibly NULL.
pub(super) trait Columns {
    fn text(&self, name: &str) -> Result<String, StoreError>;
    fn optional_text(&self, name: &str) -> Result<Option<String>, StoreError>;
    fn integer(&self, name: &str) -> Result<i64, StoreError>;
    fn optional_integer(&self, name: &str) -> Result<Option<i64>, StoreError>;
}

impl Columns for AnyRow {
    fn text(&self, name: &str) -> Result<String, StoreError> {
        Ok(self.try_get(name)?)
    }
    fn optional_text(&self, name: &str) -> Result<Option<String>, StoreError> {
        Ok(self.try_get(name)?)
    }
    fn integer(&self, name: &str) -> Result<i64, StoreError> {
        Ok(self.try_get(name)?)
    }
    fn optional_integer(&self, name: &str) -> Result<Option<i64>, StoreError> {
        Ok(self.try_get(name)?)
    }
}

impl Columns for rusqlite::Row<'_> {
    fn text(&self, name: &str) -> Result<String, StoreError> {
        self.get(name).map_err(read_error)
    }
    fn optional_text(&self, name: &str) -> Result<Option<String>, StoreError> {
        self.get(name).map_err(read_error)
    }
    fn integer(&self, name: &str) -> Result<i64, StoreError> {
        self.get(name).map_err(read_error)
    }
    fn optional_integer(&self, name: &str) -> Result<Option<i64>, StoreError> {
        self.get(name).map_err(read_error)
    }
}

/// A column the synchronous reader cannot read as the store wrote it.
pub(super) fn read_error(e: rusqlite::Error) -> StoreError {
    StoreError::Corrupt(format!("synchronous read: {e}"))
}
