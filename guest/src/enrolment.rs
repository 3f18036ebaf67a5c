//! Enrolment start: a new 160-bit key, its otpauth:// URI and QR codes.

use qrcodegen::{QrCode, QrCodeEcc};
use totp_rs::{Algorithm, Secret, Totp};

use crate::authenticator::{audit, decide_step, login_step};
use crate::mfa_reset::engine::types::{
    Enrolment, EnrolmentKey, EnrolmentRequest, LoginStep, RequestError, TotpKey,
};
use crate::policy_store::PolicyStore;

/// Key parameters every authenticator app accepts (Google Key URI format).
const DIGITS: u8 = 6;
const PERIOD: u32 = 30;

fn error(field: &str, message: impl Into<String>) -> RequestError {
    RequestError {
        field: field.into(),
        message: message.into(),
    }
}

pub fn start(store: &PolicyStore, request: &EnrolmentRequest) -> Result<Enrolment, RequestError> {
    const ACTION: &str = "start_enrolment";
    let decision = decide_step(store, &request.user, &request.session, request.now, ACTION)?;
    if !decision.allowed {
        return Ok(Enrolment {
            audit: audit(&request.user, request.now, ACTION, &decision, None),
            decision,
            key: None,
            authenticator: request.authenticator.clone(),
        });
    }
    if login_step(&request.user) != LoginStep::Enrol {
        return Err(error(
            "user.mfa",
            "enrolment is not due: MFA must be on (or enforced) with no authenticator confirmed",
        ));
    }
    let issuer = request.issuer.trim();
    if issuer.is_empty() || issuer.contains(':') {
        return Err(error("issuer", "must be non-empty and contain no `:`"));
    }
    if request.user.id.contains(':') {
        return Err(error(
            "user.id",
            "an account name in an otpauth URI cannot contain `:`",
        ));
    }

    // 160 bits from the host's WASI randomness (getrandom → wasi:random).
    let key = TotpKey {
        secret: Secret::generate().as_bytes().to_vec(),
        digits: DIGITS,
        period: PERIOD,
    };
    let totp = labelled(&key, issuer, &request.user.id).map_err(|e| error("issuer", e))?;
    let uri = format!(
        "{}&algorithm=SHA1&digits={DIGITS}&period={PERIOD}",
        totp.to_url().map_err(|e| error("user.id", e.to_string()))?
    );
    let qr_png = totp
        .to_qr_png()
        .map_err(|e| error("user.id", e.to_string()))?;
    let qr_text = terminal_qr(&uri).ok_or_else(|| error("user.id", "too long for a QR code"))?;

    let mut authenticator = request.authenticator.clone();
    authenticator.pending = Some(key);
    Ok(Enrolment {
        audit: audit(&request.user, request.now, ACTION, &decision, None),
        decision,
        key: Some(EnrolmentKey {
            uri,
            qr_png,
            qr_text,
        }),
        authenticator,
    })
}

/// The key with the issuer and account name an app shows.
fn labelled(key: &TotpKey, issuer: &str, account: &str) -> Result<Totp, String> {
    totp_rs::Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(key.digits)
        .with_step_duration(u64::from(key.period))
        .with_secret(key.secret.clone())
        .with_issuer(Some(issuer))
        .with_account_name(account)
        .build()
        .map_err(|e| e.to_string())
}

/// Draws `text` as a QR code with Unicode half blocks, two modules a
/// character cell, light modules drawn (for dark terminals, like `qrencode -t UTF8`).
fn terminal_qr(text: &str) -> Option<String> {
    const QUIET: i32 = 2;
    let qr = QrCode::encode_text(text, QrCodeEcc::Medium).ok()?;
    let size = qr.size();
    let light = |x: i32, y: i32| !qr.get_module(x, y); // out of range reads as light
    let mut out = String::new();
    let mut y = -QUIET;
    while y < size + QUIET {
        for x in -QUIET..size + QUIET {
            out.push(match (light(x, y), light(x, y + 1)) {
                (true, true) => '█',
                (true, false) => '▀',
                (false, true) => '▄',
                (false, false) => ' ',
            });
        }
        out.push('\n');
        y += 2;
    }
    Some(out)
}
