//! Password hashes (Argon2id, PHC strings) of NFKC-normalized passwords.

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

use super::password_rules::normalized;

pub fn hash(password: &str) -> String {
    Argon2::default()
        .hash_password(
            normalized(password).as_bytes(),
            &SaltString::generate(&mut OsRng),
        )
        .expect("hashing with default parameters cannot fail")
        .to_string()
}

/// Checks `password`; a malformed stored hash never matches.
pub fn verify(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|h| {
        Argon2::default()
            .verify_password(normalized(password).as_bytes(), &h)
            .is_ok()
    })
}

/// A hash to check against when the user does not exist, so that an
/// unknown user takes as long to refuse as a wrong password.
pub fn decoy() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash("decoy password"))
}
