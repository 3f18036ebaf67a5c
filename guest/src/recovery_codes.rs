//! R15: recovery codes — made from the host's randomness, kept as keyed
//! hashes, each accepted once.
//!
//! A code is 80 random bits written as 16 characters of Crockford's base32
//! (digits and letters without I, L, O and U; an I or L typed is read as 1,
//! an O as 0), in four groups: `7KQ2-M9XD-4TRB-H0ZC`. 80 bits are far
//! beyond guessing through a throttled, locking login, and beyond an
//! offline search of a stolen hash, so a fast hash (HMAC-SHA-256) is enough:
//! a slow password hash would only slow every login down. The key, random
//! per set, makes one user's hashes useless for another's.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::mfa_reset::engine::types::RecoveryCodeHashes;

/// Codes in a set (Auth0, GitHub and Keycloak hand out 10 to 16).
pub const CODES_PER_SET: usize = 10;
/// Fewer left than this: the login answer says to make new ones.
pub const FEW_LEFT: u32 = 3;

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// 16 characters of 5 bits.
const CODE_CHARS: usize = 16;
const CODE_BYTES: usize = CODE_CHARS * 5 / 8;

type HmacSha256 = Hmac<Sha256>;

/// A new set: the codes to show once, and what to store.
pub fn new_set() -> Result<(Vec<String>, RecoveryCodeHashes), String> {
    let mut key = vec![0u8; 32];
    getrandom::fill(&mut key).map_err(|e| format!("no randomness: {e}"))?;
    let mut codes = Vec::with_capacity(CODES_PER_SET);
    let mut hashes = Vec::with_capacity(CODES_PER_SET);
    for _ in 0..CODES_PER_SET {
        let mut bits = [0u8; CODE_BYTES];
        getrandom::fill(&mut bits).map_err(|e| format!("no randomness: {e}"))?;
        let chars = encode(&bits);
        hashes.push(hash(&key, &chars));
        codes.push(grouped(&chars));
    }
    Ok((codes, RecoveryCodeHashes { key, hashes }))
}

/// Removes the code `typed` from `set` if it is one of its unused codes;
/// true if it was.
pub fn take(set: &mut RecoveryCodeHashes, typed: &str) -> bool {
    let Some(chars) = normalized(typed) else {
        return false;
    };
    // Every stored hash is compared, in constant time each, so the time
    // taken says nothing about which code (or how much of one) matched.
    let mut found = None;
    for (n, stored) in set.hashes.iter().enumerate() {
        let mut mac = HmacSha256::new_from_slice(&set.key).expect("HMAC takes any key length");
        mac.update(chars.as_bytes());
        if mac.verify_slice(stored).is_ok() {
            found = Some(n);
        }
    }
    found.map(|n| set.hashes.remove(n)).is_some()
}

/// Unused codes of an authenticator's set.
pub fn left(set: Option<&RecoveryCodeHashes>) -> u32 {
    set.map_or(0, |s| u32::try_from(s.hashes.len()).unwrap_or(u32::MAX))
}

fn hash(key: &[u8], chars: &str) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(chars.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

fn encode(bits: &[u8; CODE_BYTES]) -> String {
    let mut value: u128 = 0;
    for &b in bits {
        value = (value << 8) | u128::from(b);
    }
    (0..CODE_CHARS)
        .rev()
        .map(|n| char::from(ALPHABET[((value >> (n * 5)) & 31) as usize]))
        .collect()
}

/// `XXXX-XXXX-XXXX-XXXX`.
fn grouped(chars: &str) -> String {
    chars
        .as_bytes()
        .chunks(4)
        .map(|g| std::str::from_utf8(g).expect("ASCII"))
        .collect::<Vec<_>>()
        .join("-")
}

/// The 16 characters of a code as typed: spaces and dashes dropped, any
/// case, and Crockford's look-alikes (O → 0, I and L → 1) read as meant.
/// None if it cannot be a code.
fn normalized(typed: &str) -> Option<String> {
    let chars: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            other => other,
        })
        .collect();
    let valid = chars.len() == CODE_CHARS && chars.bytes().all(|b| ALPHABET.contains(&b));
    valid.then_some(chars)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r15_a_set_has_ten_distinct_80_bit_codes_in_four_groups() {
        let (codes, set) = new_set().unwrap();
        assert_eq!(codes.len(), 10);
        assert_eq!(set.hashes.len(), 10);
        assert_eq!(set.key.len(), 32);
        let distinct: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(distinct.len(), 10);
        for code in &codes {
            assert_eq!(code.len(), 19, "{code}");
            assert!(code.split('-').all(|g| g.len() == 4), "{code}");
            assert!(
                code.bytes().all(|b| b == b'-' || ALPHABET.contains(&b)),
                "{code}"
            );
        }
        // Nothing of a code is in what is stored.
        for code in &codes {
            let plain = code.replace('-', "");
            assert!(!set.hashes.iter().any(|h| h == plain.as_bytes()));
        }
    }

    #[test]
    fn r15_each_code_is_taken_once_however_it_is_typed() {
        let (codes, mut set) = new_set().unwrap();
        let typed = codes[3].to_lowercase().replace('-', " ").replace('0', "o");
        assert!(take(&mut set, &typed));
        assert_eq!(left(Some(&set)), 9);
        assert!(!take(&mut set, &codes[3]), "used once");
        assert!(take(&mut set, &codes[0]));
        assert_eq!(left(Some(&set)), 8);
    }

    #[test]
    fn r15_wrong_malformed_and_foreign_codes_take_nothing() {
        let (codes, mut set) = new_set().unwrap();
        let (other_codes, _) = new_set().unwrap();
        for typed in [
            "",
            "123456",
            &other_codes[0],
            &codes[0][..18],
            &format!("{}X", codes[0]),
            "UUUU-UUUU-UUUU-UUUU",
            "ÄÄÄÄ-ÄÄÄÄ-ÄÄÄÄ-ÄÄÄÄ",
        ] {
            assert!(!take(&mut set, typed), "{typed:?}");
        }
        assert_eq!(left(Some(&set)), 10);
    }

    #[test]
    fn the_same_code_hashes_differently_under_another_key() {
        assert_ne!(
            hash(&[1; 32], "0000000000000000"),
            hash(&[2; 32], "0000000000000000")
        );
    }
}
