//! Hashing and comparison of high-entropy secrets (client secrets, refresh tokens, API keys).
//!
//! These secrets carry 256 bits of randomness, so a single SHA-256 is as strong as a slow password hash
//! against guessing, and keeps the token endpoint fast. Passwords, which are low-entropy, use argon2id
//! elsewhere.
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// SHA-256 of a secret, base64url without padding: the form stored in the database.
pub fn secret_hash(secret: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(secret.as_bytes()))
}

/// Compares two byte strings in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// Whether `secret` hashes to `stored_hash`, compared in constant time.
pub fn verify_secret(secret: &str, stored_hash: &str) -> bool {
    constant_time_eq(secret_hash(secret).as_bytes(), stored_hash.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_round_trips_and_rejects_other_secrets() {
        let h = secret_hash("s3cret");
        assert!(verify_secret("s3cret", &h));
        assert!(!verify_secret("s3cret ", &h));
        assert!(!verify_secret("", &h));
        assert_ne!(secret_hash("a"), secret_hash("b"));
    }
}
