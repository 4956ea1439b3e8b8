//! Encryption of secrets at rest (signing keys, upstream and Amazon credentials) with the master key.
//!
//! AES-256-GCM with a random 96-bit nonce per value; the additional data binds each ciphertext to where
//! it is stored (e.g. `signing_key:{kid}`), so a ciphertext copied into another row does not decrypt.
use aws_lc_rs::aead::{AES_256_GCM, Aad, NONCE_LEN, Nonce, RandomizedNonceKey};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use std::fmt;
use std::sync::Arc;

use crate::error::StoreError;

const PREFIX: &str = "v1.";

#[derive(Clone)]
pub struct SecretBox {
    key: Arc<RandomizedNonceKey>,
}

impl fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretBox(..)")
    }
}

impl SecretBox {
    /// From 32 raw key bytes.
    pub fn new(key: &[u8]) -> Result<Self, StoreError> {
        if key.len() != 32 {
            return Err(StoreError::Invalid("master key must be 32 bytes".into()));
        }
        let key = RandomizedNonceKey::new(&AES_256_GCM, key)
            .map_err(|_| StoreError::Invalid("master key rejected".into()))?;
        Ok(Self { key: Arc::new(key) })
    }

    /// From the base64 text form used in `LATCHKEY_MASTER_KEY` and the key file.
    pub fn from_base64(text: &str) -> Result<Self, StoreError> {
        let text = text.trim();
        let bytes = STANDARD
            .decode(text)
            .or_else(|_| URL_SAFE_NO_PAD.decode(text))
            .map_err(|_| StoreError::Invalid("master key must be base64 of 32 bytes".into()))?;
        Self::new(&bytes)
    }

    /// A fresh random key in base64, for first start.
    pub fn generate_base64() -> Result<String, StoreError> {
        let mut k = [0u8; 32];
        aws_lc_rs::rand::fill(&mut k).map_err(|_| StoreError::Invalid("no randomness".into()))?;
        Ok(STANDARD.encode(k))
    }

    pub fn seal(&self, context: &str, plaintext: &[u8]) -> Result<String, StoreError> {
        let mut buf = plaintext.to_vec();
        let nonce = self
            .key
            .seal_in_place_append_tag(Aad::from(context.as_bytes()), &mut buf)
            .map_err(|_| StoreError::Invalid("encryption failed".into()))?;
        let mut out = nonce.as_ref().to_vec();
        out.extend_from_slice(&buf);
        Ok(format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(out)))
    }

    pub fn open(&self, context: &str, sealed: &str) -> Result<Vec<u8>, StoreError> {
        let body = sealed.strip_prefix(PREFIX).ok_or(StoreError::Decrypt)?;
        let raw = URL_SAFE_NO_PAD.decode(body).map_err(|_| StoreError::Decrypt)?;
        if raw.len() < NONCE_LEN {
            return Err(StoreError::Decrypt);
        }
        let (nonce, ct) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| StoreError::Decrypt)?;
        let mut ct = ct.to_vec();
        let plain =
            self.key.open_in_place(nonce, Aad::from(context.as_bytes()), &mut ct).map_err(|_| StoreError::Decrypt)?;
        Ok(plain.to_vec())
    }

    pub fn seal_str(&self, context: &str, plaintext: &str) -> Result<String, StoreError> {
        self.seal(context, plaintext.as_bytes())
    }

    pub fn open_str(&self, context: &str, sealed: &str) -> Result<String, StoreError> {
        String::from_utf8(self.open(context, sealed)?).map_err(|_| StoreError::Decrypt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sb() -> SecretBox {
        SecretBox::from_base64(&SecretBox::generate_base64().expect("key")).expect("box")
    }

    #[test]
    fn seals_and_opens() {
        let b = sb();
        let c = b.seal_str("ctx", "hello").expect("seal");
        assert!(!c.contains("hello"));
        assert_eq!(b.open_str("ctx", &c).expect("open"), "hello");
        assert_ne!(b.seal_str("ctx", "hello").expect("seal"), c, "nonces are random");
    }

    #[test]
    fn wrong_context_or_key_fails() {
        let b = sb();
        let c = b.seal_str("ctx", "hello").expect("seal");
        assert!(b.open_str("other", &c).is_err());
        assert!(sb().open_str("ctx", &c).is_err());
        assert!(b.open_str("ctx", "v1.").is_err());
        assert!(b.open_str("ctx", "garbage").is_err());
    }
}
