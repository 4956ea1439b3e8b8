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
    /// Earlier master keys, tried when the current one does not open a value: during a master-key
    /// rotation every instance reads both until `keys rotate-master` has re-sealed everything.
    previous: Arc<Vec<RandomizedNonceKey>>,
}

impl fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretBox(..)")
    }
}

fn key_from_base64(text: &str) -> Result<RandomizedNonceKey, StoreError> {
    let text = text.trim();
    let bytes = STANDARD
        .decode(text)
        .or_else(|_| URL_SAFE_NO_PAD.decode(text))
        .map_err(|_| StoreError::Invalid("master key must be base64 of 32 bytes".into()))?;
    if bytes.len() != 32 {
        return Err(StoreError::Invalid("master key must be 32 bytes".into()));
    }
    RandomizedNonceKey::new(&AES_256_GCM, &bytes).map_err(|_| StoreError::Invalid("master key rejected".into()))
}

impl SecretBox {
    /// From 32 raw key bytes.
    pub fn new(key: &[u8]) -> Result<Self, StoreError> {
        if key.len() != 32 {
            return Err(StoreError::Invalid("master key must be 32 bytes".into()));
        }
        let key = RandomizedNonceKey::new(&AES_256_GCM, key)
            .map_err(|_| StoreError::Invalid("master key rejected".into()))?;
        Ok(Self { key: Arc::new(key), previous: Arc::new(Vec::new()) })
    }

    /// From the base64 text form used in `LATCHKEY_MASTER_KEY` and the key file.
    pub fn from_base64(text: &str) -> Result<Self, StoreError> {
        Ok(Self { key: Arc::new(key_from_base64(text)?), previous: Arc::new(Vec::new()) })
    }

    /// Adds earlier master keys (base64) that can still open values sealed before a rotation.
    pub fn with_previous(self, previous: &[&str]) -> Result<Self, StoreError> {
        let keys = previous
            .iter()
            .filter(|p| !p.trim().is_empty())
            .map(|p| key_from_base64(p))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { key: self.key, previous: Arc::new(keys) })
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
        for key in std::iter::once(self.key.as_ref()).chain(self.previous.iter()) {
            let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| StoreError::Decrypt)?;
            let mut buf = ct.to_vec();
            if let Ok(plain) = key.open_in_place(nonce, Aad::from(context.as_bytes()), &mut buf) {
                return Ok(plain.to_vec());
            }
        }
        Err(StoreError::Decrypt)
    }

    /// Re-seals a value under the current key (it may have been sealed under a previous one).
    pub fn reseal(&self, context: &str, sealed: &str) -> Result<String, StoreError> {
        self.seal(context, &self.open(context, sealed)?)
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
    fn previous_keys_open_old_values_until_resealed() {
        let old_key = SecretBox::generate_base64().expect("key");
        let new_key = SecretBox::generate_base64().expect("key");
        let old = SecretBox::from_base64(&old_key).expect("box");
        let sealed = old.seal_str("ctx", "secret").expect("seal");
        let rotating = SecretBox::from_base64(&new_key).expect("box").with_previous(&[&old_key]).expect("prev");
        assert_eq!(rotating.open_str("ctx", &sealed).expect("old value opens"), "secret");
        let resealed = rotating.reseal("ctx", &sealed).expect("reseal");
        let new_only = SecretBox::from_base64(&new_key).expect("box");
        assert_eq!(new_only.open_str("ctx", &resealed).expect("new key alone opens it"), "secret");
        assert!(new_only.open_str("ctx", &sealed).is_err());
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

/// The additional data each kind of sealed value is bound to. One place, so sealing, opening and
/// re-sealing (`Store::reseal_all`) cannot drift apart.
pub(crate) mod context {
    pub fn signing_key(tenant: &str, kid: &str) -> String {
        format!("signing_key:{tenant}:{kid}")
    }
    pub fn skill_lwa_secret(tenant: &str, skill_id: &str) -> String {
        format!("skill_lwa_secret:{tenant}:{skill_id}")
    }
    pub fn upstream_secret(tenant: &str, provider_id: &str) -> String {
        format!("upstream_secret:{tenant}:{provider_id}")
    }
    /// Bound to the Alexa grant; grants moved from links kept the link's id, so these held.
    pub fn amazon_access(tenant: &str, grant_id: &str) -> String {
        format!("lwa_access:{tenant}:{grant_id}")
    }
    pub fn amazon_refresh(tenant: &str, grant_id: &str) -> String {
        format!("lwa_refresh:{tenant}:{grant_id}")
    }
    pub fn smapi_secret(tenant: &str) -> String {
        format!("smapi_secret:{tenant}")
    }
    pub fn smapi_refresh(tenant: &str) -> String {
        format!("smapi_refresh:{tenant}")
    }
}
