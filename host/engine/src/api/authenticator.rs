//! Authenticator (TOTP) types: enrolment, confirmation, login codes.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{AuditRecord, Decision, Session, User};

/// A TOTP key (RFC 6238, HMAC-SHA-1). In JSON the secret is base32, as in
/// otpauth URIs; `Debug` never shows it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TotpKey {
    /// The shared secret: 20 random bytes for keys this engine makes.
    #[serde(with = "base32")]
    pub secret: Vec<u8>,
    /// Digits per code (6).
    pub digits: u8,
    /// Seconds per time step (30).
    pub period: u32,
}

impl std::fmt::Debug for TotpKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpKey")
            .field("secret", &"<redacted>")
            .field("digits", &self.digits)
            .field("period", &self.period)
            .finish()
    }
}

/// A user's authenticator state. It holds secrets: store it encrypted and
/// never show it after enrolment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Authenticator {
    /// Enrolment started, not confirmed yet.
    pub pending: Option<TotpKey>,
    /// The confirmed authenticator.
    pub active: Option<TotpKey>,
    /// Codes of this time step or earlier are refused (replay).
    pub last_accepted_step: Option<u64>,
    /// Consecutive wrong codes, across sessions.
    pub failures: u32,
    /// No code is checked before this time.
    #[serde(with = "time::serde::rfc3339::option")]
    pub locked_until: Option<OffsetDateTime>,
    /// R15: the unused recovery codes, hashed (users only; made when an
    /// enrolment is confirmed, gone with the authenticator). Authenticators
    /// stored before recovery codes existed have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_codes: Option<RecoveryCodeHashes>,
}

impl Authenticator {
    /// R15: how many recovery codes are left unused.
    pub fn recovery_codes_left(&self) -> usize {
        self.recovery_codes.as_ref().map_or(0, |c| c.hashes.len())
    }
}

/// R15: recovery codes as keyed hashes (HMAC-SHA-256), never the codes. In
/// JSON each byte string is base32; `Debug` shows only how many.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecoveryCodeHashes {
    /// The set's random key (32 bytes).
    #[serde(with = "base32")]
    pub key: Vec<u8>,
    /// One hash per unused code.
    #[serde(with = "base32_list")]
    pub hashes: Vec<Vec<u8>>,
}

impl std::fmt::Debug for RecoveryCodeHashes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RecoveryCodeHashes({} unused)", self.hashes.len())
    }
}

/// R15: recovery codes to show once (`XXXX-XXXX-XXXX-XXXX`); `Debug` never
/// shows them, so no log line of a value holding them leaks one.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct RecoveryCodes(pub Vec<String>);

impl std::fmt::Debug for RecoveryCodes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RecoveryCodes(<{} redacted>)", self.0.len())
    }
}

/// How repeated wrong codes lock verification (NIST SP 800-63B 5.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockoutPolicy {
    /// Failures in a row that lock verification.
    pub max_failures: u32,
    /// The first lock; each further failure doubles it.
    pub base_delay_seconds: u32,
    /// The longest lock.
    pub max_delay_seconds: u32,
}

impl Default for LockoutPolicy {
    /// 5 failures lock for 30 s, then 60 s, 120 s, … up to an hour.
    fn default() -> Self {
        Self {
            max_failures: 5,
            base_delay_seconds: 30,
            max_delay_seconds: 3600,
        }
    }
}

/// What a login needs after the password.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoginStep {
    /// Password only.
    None,
    /// Enrol an authenticator first.
    Enrol,
    /// A code from the enrolled authenticator.
    Code,
}

/// Starts (or restarts) an enrolment. The policies decide the step
/// (`start_enrolment`): `session` must be active and belong to `user`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrolmentRequest {
    /// Whose enrolment starts; it must be due (R2, R5, R6).
    pub user: User,
    /// The session asking; it need not have finished MFA yet.
    pub session: Session,
    /// The user's authenticator as stored.
    pub authenticator: Authenticator,
    /// The time of the request (the host's clock, whole milliseconds).
    pub now: OffsetDateTime,
    /// Shown in the authenticator app, e.g. the service's name.
    pub issuer: String,
}

/// A new pending key, to show once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrolmentKey {
    /// `otpauth://totp/…` (Google Authenticator Key URI format).
    pub uri: String,
    /// The URI as a QR code, PNG.
    pub qr_png: Vec<u8>,
    /// The same QR code for a terminal (Unicode half blocks).
    pub qr_text: String,
}

/// The answer to an [`EnrolmentRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrolment {
    /// The policies' decision on `start_enrolment`.
    pub decision: Decision,
    /// The new key, when allowed.
    pub key: Option<EnrolmentKey>,
    /// The state to store (unchanged when denied).
    pub authenticator: Authenticator,
    /// R12: the record of the step, to store.
    pub audit: AuditRecord,
}

/// A code to check, for an enrolment confirmation or a login. The
/// policies decide the step first (`confirm_enrolment`, `verify_code`,
/// `use_recovery_code`). `Debug` never shows the code (a recovery code is
/// good until used).
#[derive(Clone, PartialEq, Eq)]
pub struct CodeRequest {
    /// Whose code it is.
    pub user: User,
    /// The session asking; it need not have finished MFA yet.
    pub session: Session,
    /// The user's authenticator as stored (keys, counters, lockout).
    pub authenticator: Authenticator,
    /// As typed; spaces are ignored.
    pub code: String,
    /// The time of the request (the host's clock, whole milliseconds).
    pub now: OffsetDateTime,
    /// When and for how long failed codes lock the authenticator.
    pub lockout: LockoutPolicy,
}

impl std::fmt::Debug for CodeRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodeRequest")
            .field("user", &self.user)
            .field("session", &self.session)
            .field("authenticator", &self.authenticator)
            .field("code", &"<redacted>")
            .field("now", &self.now)
            .field("lockout", &self.lockout)
            .finish()
    }
}

/// What became of a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeResult {
    /// The code is right: the enrolment is confirmed or the login finished.
    Accepted,
    /// The code is wrong (it counts towards the lockout).
    InvalidCode,
    /// Valid but of a time step already used.
    Replayed,
    /// Too many failures: nothing was checked.
    Locked,
    /// The policies denied the step (an expired session, say): nothing was
    /// checked and nothing counts.
    Denied,
}

/// The answer to a [`CodeRequest`], with the state to store either way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// The policies' decision on the step.
    pub decision: Decision,
    /// What became of the code.
    pub result: CodeResult,
    /// For the person who typed it.
    pub message: String,
    /// The user's new state (MFA active after a confirmed enrolment).
    pub user: User,
    /// The authenticator's new state, to store either way.
    pub authenticator: Authenticator,
    /// R12: the record of the step, to store.
    pub audit: AuditRecord,
    /// R15: after a user's confirmed enrolment, the new recovery codes, to
    /// show once; empty otherwise.
    pub recovery_codes: RecoveryCodes,
    /// R15: recovery codes left unused in `authenticator`.
    pub recovery_codes_left: u32,
}

/// R15: a new set of recovery codes (`regenerate_recovery_codes`), for a
/// user with an enrolled authenticator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryCodesRequest {
    /// Whose codes.
    pub user: User,
    /// The session asking.
    pub session: Session,
    /// The user's authenticator as stored.
    pub authenticator: Authenticator,
    /// The time of the request (the host's clock, whole milliseconds).
    pub now: OffsetDateTime,
}

/// The answer to a [`RecoveryCodesRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRecoveryCodes {
    /// The policies' decision on `regenerate_recovery_codes`.
    pub decision: Decision,
    /// When allowed, the new codes, to show once (the old ones are void).
    pub codes: RecoveryCodes,
    /// The state to store (unchanged when denied).
    pub authenticator: Authenticator,
    /// `EndOtherSessionsOfUser` when allowed: a session opened with a code
    /// of the old set ends.
    pub sessions: super::SessionEffect,
    /// R12: the record of the step, to store.
    pub audit: AuditRecord,
}

/// Base32 (RFC 4648, no padding) for secrets in JSON.
mod base32 {
    use data_encoding::BASE32_NOPAD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&BASE32_NOPAD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        BASE32_NOPAD
            .decode(text.trim_end_matches('=').as_bytes())
            .map_err(|e| serde::de::Error::custom(format!("not base32: {e}")))
    }
}

/// A list of byte strings, each base32 as in [`base32`].
mod base32_list {
    use data_encoding::BASE32_NOPAD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(list: &[Vec<u8>], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(list.iter().map(|bytes| BASE32_NOPAD.encode(bytes)))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<u8>>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|text| {
                BASE32_NOPAD
                    .decode(text.trim_end_matches('=').as_bytes())
                    .map_err(|e| serde::de::Error::custom(format!("not base32: {e}")))
            })
            .collect()
    }
}
