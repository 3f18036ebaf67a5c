//! The webhook signing secret and signatures, as the Standard Webhooks
//! specification gives them ([`WebhookKey::sign`]).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The webhook signing secret: `whsec_` and base64 of 24–64 random bytes,
/// as the Standard Webhooks specification gives it (the prefix optional).
#[derive(Clone)]
pub struct WebhookKey(Vec<u8>);

impl std::fmt::Debug for WebhookKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookKey(…)")
    }
}

/// Why a text is not a webhook signing secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookKeyError {
    /// The text (after `whsec_`) does not decode: what the decoder said.
    #[error("the webhook secret is not base64 (after `whsec_`): {0}")]
    NotBase64(String),
    /// It decodes to this many bytes, not 24 to 64.
    #[error("the webhook secret must be 24 to 64 bytes, base64-encoded; it is {0} bytes")]
    Length(usize),
}

impl WebhookKey {
    /// The secret from its text form (`whsec_` optional).
    pub fn parse(text: &str) -> Result<Self, WebhookKeyError> {
        let encoded = text.trim().strip_prefix("whsec_").unwrap_or(text.trim());
        let bytes = BASE64
            .decode(encoded)
            .map_err(|e| WebhookKeyError::NotBase64(e.to_string()))?;
        if !(24..=64).contains(&bytes.len()) {
            return Err(WebhookKeyError::Length(bytes.len()));
        }
        Ok(Self(bytes))
    }

    /// `webhook-signature`: `v1,` and base64 of HMAC-SHA256 over
    /// `{id}.{timestamp}.{body}`; the timestamp (seconds) is sent as
    /// `webhook-timestamp`, so a receiver can refuse replays.
    pub fn sign(&self, id: &str, timestamp: i64, body: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
        format!("v1,{}", BASE64.encode(mac.finalize().into_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Standard Webhooks reference vector (its libraries' test suites):
    /// a receiver using any of them accepts our signatures.
    #[test]
    fn signatures_match_the_standard_webhooks_reference() {
        let key = WebhookKey::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(
            key.sign(
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1614265330,
                r#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn bad_secrets_are_refused_with_the_reason() {
        let short = WebhookKey::parse("whsec_c2hvcnQ=").unwrap_err().to_string();
        assert!(
            short.contains("24 to 64 bytes") && short.contains("5 bytes"),
            "{short}"
        );
        let garbled = WebhookKey::parse("whsec_not base64!")
            .unwrap_err()
            .to_string();
        assert!(garbled.contains("not base64"), "{garbled}");
        assert!(!format!("{:?}", WebhookKey::parse(&"A".repeat(40)).unwrap()).contains("AAA"));
    }
}
