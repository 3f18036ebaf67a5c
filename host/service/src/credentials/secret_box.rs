//! Sealing TOTP keys at rest with XChaCha20-Poly1305.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;

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
    pub fn from_base64(text: &str) -> Result<Self, String> {
        let bytes = B64
            .decode(text.trim())
            .map_err(|e| format!("the secret key is not base64: {e}"))?;
        if bytes.len() != 32 {
            return Err(format!(
                "the secret key must be 32 bytes, got {}",
                bytes.len()
            ));
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

    pub fn open(&self, sealed: &str, bound_to: &str) -> Result<Vec<u8>, String> {
        let bytes = B64
            .decode(sealed)
            .map_err(|_| "sealed value is not base64".to_string())?;
        if bytes.len() < 24 {
            return Err("sealed value is too short".into());
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
            .map_err(|_| {
                "sealed value does not open with this key (wrong key or tampered row)".into()
            })
    }
}
