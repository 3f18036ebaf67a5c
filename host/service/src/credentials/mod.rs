//! Credentials, pure functions of their inputs: session tokens, TOTP keys
//! sealed at rest, password hashes and the rules for new passwords,
//! invitation and SCIM tokens, the webhook signing secret.

pub(crate) mod password_rules;
pub(crate) mod passwords;
mod secret_box;
pub(crate) mod session;
mod webhook_key;

pub use secret_box::{SealError, SecretBox, SecretKeyError};
pub use webhook_key::{WebhookKey, WebhookKeyError};
