//! Sealing TOTP keys at rest with XChaCha20-Poly1305.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;

/// Why a text is not a secret key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretKeyError {
    /// The text does not decode: what the decoder said.
    #[error("the secret key is not base64: {0}")]
    NotBase64(String),
    /// It decodes to this many bytes, not 32.
    #[error("the secret key must be 32 bytes, got {0}")]
    Length(usize),
}

/// Why a sealed value does not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The stored text is not base64.
    #[error("sealed value is not base64")]
    NotBase64,
    /// Shorter than its nonce.
    #[error("sealed value is too short")]
    TooShort,
    /// Sealed with another key, or for another row, or altered.
    #[error("sealed value does not open with this key (wrong key or tampered row)")]
    WrongKeyOrTampered,
}

/// An AEAD key; sealed values are `base64(nonce ‖ ciphertext)`, bound to
/// an associated string (the user and the slot) so they cannot be moved
/// between rows.
#[derive(Clone)]
pub struct SecretBox {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(<key>)")
    }
}

impl SecretBox {
    /// A key from its base64 form (32 bytes).
    pub fn from_base64(text: &str) -> Result<Self, SecretKeyError> {
        let bytes = B64
            .decode(text.trim())
            .map_err(|e| SecretKeyError::NotBase64(e.to_string()))?;
        if bytes.len() != 32 {
            return Err(SecretKeyError::Length(bytes.len()));
        }
        Ok(Self {
            cipher: XChaCha20Poly1305::new_from_slice(&bytes).expect("32 bytes"),
        })
    }

    /// A new random key, in base64.
    pub fn generate_base64() -> String {
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        B64.encode(key)
    }

    /// `plaintext` sealed with a fresh random nonce, bound to `bound_to`.
    pub fn seal(&self, plaintext: &[u8], bound_to: &str) -> String {
        let mut nonce = [0u8; 24];
        rand::rng().fill_bytes(&mut nonce);
        let ciphertext = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: bound_to.as_bytes(),
                },
            )
            .expect("encryption of a small buffer cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ciphertext);
        B64.encode(out)
    }

    /// What [`SecretBox::seal`] sealed for `bound_to`, if this key sealed it.
    pub fn open(&self, sealed: &str, bound_to: &str) -> Result<Vec<u8>, SealError> {
        let bytes = B64.decode(sealed).map_err(|_| SealError::NotBase64)?;
        if bytes.len() < 24 {
            return Err(SealError::TooShort);
        }
        let (nonce, ciphertext) = bytes.split_at(24);
        self.cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: bound_to.as_bytes(),
                },
            )
            .map_err(|_| SealError::WrongKeyOrTampered)
    }
}
