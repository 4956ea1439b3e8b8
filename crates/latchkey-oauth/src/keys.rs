//! Signing keys and compact JWS (RFC 7515) with RS256.
//!
//! We sign with aws-lc-rs directly, keeping each tenant's parsed key pair in memory: the `jsonwebtoken`
//! crate re-parses (and re-validates) the RSA private key on every signature, which costs about as much
//! as the signature itself. Verification of our own tokens also stays here; the test suite checks our
//! tokens with `jsonwebtoken` as an independent implementation.
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self, KeyPair, RsaKeyPair, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use latchkey_store::records::SigningKey;
use latchkey_store::repo::NewSigningKey;
use serde_json::{Value, json};
use sha2_free::sha256;

use crate::error::ServiceError;

/// Generates an RSA-2048 key for RS256 with a fresh `kid`.
pub fn generate_rs256() -> Result<NewSigningKey, ServiceError> {
    let kp = RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| ServiceError::internal("RSA key generation failed"))?;
    let der = kp.as_der().map_err(|_| ServiceError::internal("RSA key export failed"))?;
    let public = kp.public_key();
    let n = URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero());
    let e = URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero());
    // RFC 7638 thumbprint as the kid: stable, and derived from the key itself.
    let thumb_input = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
    let kid = URL_SAFE_NO_PAD.encode(sha256(thumb_input.as_bytes()));
    let jwk = json!({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": n, "e": e});
    Ok(NewSigningKey { kid, alg: "RS256".into(), private_pkcs8: der.as_ref().to_vec(), public_jwk: jwk })
}

/// One tenant's keys, parsed and ready.
pub struct TenantKeys {
    signer: Option<(String, RsaKeyPair)>,
    verifiers: Vec<(String, Vec<u8>)>,
    jwks: Value,
}

impl TenantKeys {
    pub fn load(keys: &[SigningKey]) -> Result<Self, ServiceError> {
        let mut signer = None;
        let mut verifiers = Vec::new();
        let mut published = Vec::new();
        for k in keys {
            let kp = RsaKeyPair::from_pkcs8(&k.private_pkcs8)
                .map_err(|_| ServiceError::internal("stored signing key is not valid PKCS#8"))?;
            verifiers.push((k.kid.clone(), kp.public_key().as_ref().to_vec()));
            published.push(k.public_jwk.clone());
            if k.state == latchkey_store::records::KeyState::Current && signer.is_none() {
                signer = Some((k.kid.clone(), kp));
            }
        }
        Ok(Self { signer, verifiers, jwks: json!({ "keys": published }) })
    }

    pub fn jwks(&self) -> &Value {
        &self.jwks
    }

    /// Signs `claims` as a compact JWS with header `typ`.
    pub fn sign(&self, typ: &str, claims: &Value) -> Result<String, ServiceError> {
        let (kid, kp) =
            self.signer.as_ref().ok_or_else(|| ServiceError::internal("tenant has no current signing key"))?;
        let header = json!({"alg": "RS256", "typ": typ, "kid": kid});
        let mut input = URL_SAFE_NO_PAD.encode(header.to_string());
        input.push('.');
        input.push_str(&URL_SAFE_NO_PAD.encode(claims.to_string()));
        let mut sig = vec![0u8; kp.public_modulus_len()];
        kp.sign(&signature::RSA_PKCS1_SHA256, &aws_lc_rs::rand::SystemRandom::new(), input.as_bytes(), &mut sig)
            .map_err(|_| ServiceError::internal("signing failed"))?;
        input.push('.');
        input.push_str(&URL_SAFE_NO_PAD.encode(sig));
        Ok(input)
    }

    /// Verifies a compact JWS signed by one of this tenant's published keys and returns its header
    /// `typ` and claims. Expiry and audience are the caller's business.
    pub fn verify(&self, token: &str) -> Option<(Option<String>, Value)> {
        if token.len() > 8192 {
            return None;
        }
        let mut parts = token.split('.');
        let (h, p, s) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).ok()?).ok()?;
        if header.get("alg")?.as_str()? != "RS256" {
            return None;
        }
        let kid = header.get("kid")?.as_str()?;
        let (_, public) = self.verifiers.iter().find(|(k, _)| k == kid)?;
        let sig = URL_SAFE_NO_PAD.decode(s).ok()?;
        let signed = &token[..h.len() + 1 + p.len()];
        UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, public).verify(signed.as_bytes(), &sig).ok()?;
        let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).ok()?).ok()?;
        let typ = header.get("typ").and_then(Value::as_str).map(str::to_owned);
        Some((typ, claims))
    }
}

/// SHA-256 without pulling a second hash crate into this one.
mod sha2_free {
    pub fn sha256(data: &[u8]) -> Vec<u8> {
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data).as_ref().to_vec()
    }
}

pub use sha2_free::sha256 as digest_sha256;

#[cfg(test)]
mod tests {
    use super::*;
    use latchkey_store::records::KeyState;

    fn stored(k: &NewSigningKey, state: KeyState) -> SigningKey {
        SigningKey {
            kid: k.kid.clone(),
            alg: k.alg.clone(),
            private_pkcs8: k.private_pkcs8.clone(),
            public_jwk: k.public_jwk.clone(),
            state,
            created_at: 0,
        }
    }

    #[test]
    fn signs_and_verifies_and_rejects_tampering() {
        let a = generate_rs256().expect("key");
        let b = generate_rs256().expect("key");
        let keys = TenantKeys::load(&[stored(&a, KeyState::Current), stored(&b, KeyState::Previous)]).expect("load");
        assert_eq!(keys.jwks()["keys"].as_array().map(Vec::len), Some(2));
        let t = keys.sign("at+jwt", &json!({"sub": "u1"})).expect("sign");
        let (typ, claims) = keys.verify(&t).expect("verifies");
        assert_eq!(typ.as_deref(), Some("at+jwt"));
        assert_eq!(claims["sub"], "u1");
        // Change one claim byte: the signature no longer matches.
        let mut parts: Vec<String> = t.split('.').map(str::to_owned).collect();
        parts[1] = URL_SAFE_NO_PAD.encode(json!({"sub": "u2"}).to_string());
        assert!(keys.verify(&parts.join(".")).is_none());
        // A key set without the signer does not verify it.
        let other = TenantKeys::load(&[stored(&b, KeyState::Current)]).expect("load");
        assert!(other.verify(&t).is_none());
        for junk in ["", "a.b", "a.b.c", "...", "a.b.c.d"] {
            assert!(keys.verify(junk).is_none());
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
        /// Arbitrary token-shaped input, and real tokens with one part replaced, never verify or panic.
        #[test]
        fn jws_parser_rejects_garbage(s in "[A-Za-z0-9_.=-]{0,300}", part in 0usize..3, junk in "[A-Za-z0-9_-]{0,80}") {
            let keys = fixed_keys();
            proptest::prop_assert!(keys.verify(&s).is_none());
            let t = keys.sign("at+jwt", &json!({"sub": "u"})).expect("sign");
            let mut parts: Vec<String> = t.split('.').map(str::to_owned).collect();
            if parts[part] != junk {
                parts[part] = junk;
                proptest::prop_assert!(keys.verify(&parts.join(".")).is_none());
            }
        }
    }

    fn fixed_keys() -> &'static TenantKeys {
        static KEYS: std::sync::OnceLock<TenantKeys> = std::sync::OnceLock::new();
        KEYS.get_or_init(|| {
            let k = generate_rs256().expect("key");
            TenantKeys::load(&[stored(&k, KeyState::Current)]).expect("load")
        })
    }
}
