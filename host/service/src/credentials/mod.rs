//! Credentials: session tokens (and the `Caller` every request that uses a
//! session is read as), TOTP keys sealed at rest, password hashes.

pub(crate) mod passwords;
mod secret_box;
pub(crate) mod session;

pub use secret_box::SecretBox;
