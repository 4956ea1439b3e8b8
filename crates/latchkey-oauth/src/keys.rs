//! Signing keys and compact JWS (RFC 7515): RS256, ES256 (RFC 7518 §3.4) and EdDSA with Ed25519
//! (RFC 8037).
//!
//! We sign with aws-lc-rs directly, keeping each tenant's parsed key pair in memory: the `jsonwebtoken`
//! crate re-parses (and re-validates) the private key on every signature, which for RSA costs about as
//! much as the signature itself. Verification of our own tokens also stays here; the test suite checks
//! our tokens with `jsonwebtoken` and `openidconnect` as independent implementations.
//!
//! A tenant keeps a current key of every algorithm, rotated together. The tenant's signing algorithm
//! picks the key that signs its access tokens; each client's `id_token_signed_response_alg` (RS256
//! unless it registered another, as OpenID Connect Registration §2 says) picks the key that signs its
//! ID tokens. RS256 is therefore always there, as OpenID Connect Discovery requires. A rotation makes
//! the current keys "previous" (still published, so the tokens they signed keep verifying until they
//! expire).

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    self, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair, UnparsedPublicKey,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use latchkey_store::records::SigningKey;
use latchkey_store::repo::NewSigningKey;
use serde_json::{Value, json};

use crate::error::ServiceError;

pub use latchkey_core::signing::SigningAlg;

/// Generates a key for `alg` with a fresh `kid`. RSA generation takes tens of milliseconds: call it
/// off the async threads.
pub fn generate(alg: SigningAlg) -> Result<NewSigningKey, ServiceError> {
    let failed = |what: &str| ServiceError::internal(format!("{alg} key {what} failed"));
    let (der, members): (Vec<u8>, Vec<(&str, String)>) = match alg {
        SigningAlg::RS256 => {
            let kp = RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| failed("generation"))?;
            let der = kp.as_der().map_err(|_| failed("export"))?.as_ref().to_vec();
            let public = kp.public_key();
            let n = URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero());
            let e = URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero());
            (der, vec![("e", e), ("kty", "RSA".into()), ("n", n)])
        }
        SigningAlg::ES256 => {
            let kp = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).map_err(|_| failed("generation"))?;
            let der = kp.to_pkcs8v1().map_err(|_| failed("export"))?.as_ref().to_vec();
            // The public key is the uncompressed point: 0x04, then x and y (32 bytes each).
            let point = kp.public_key().as_ref();
            let (x, y) = point.get(1..33).zip(point.get(33..65)).ok_or_else(|| failed("export"))?;
            let (x, y) = (URL_SAFE_NO_PAD.encode(x), URL_SAFE_NO_PAD.encode(y));
            (der, vec![("crv", "P-256".into()), ("kty", "EC".into()), ("x", x), ("y", y)])
        }
        SigningAlg::EdDSA => {
            let kp = Ed25519KeyPair::generate().map_err(|_| failed("generation"))?;
            let der = kp.to_pkcs8().map_err(|_| failed("export"))?.as_ref().to_vec();
            let x = URL_SAFE_NO_PAD.encode(kp.public_key().as_ref());
            (der, vec![("crv", "Ed25519".into()), ("kty", "OKP".into()), ("x", x)])
        }
    };
    // RFC 7638 thumbprint as the kid: the required members in lexicographic order, no whitespace.
    // Stable, and derived from the key itself.
    let thumb_input = Value::Object(members.iter().map(|(k, v)| ((*k).to_owned(), Value::from(v.as_str()))).collect());
    let kid = URL_SAFE_NO_PAD.encode(sha256(thumb_input.to_string().as_bytes()));
    let mut jwk = serde_json::Map::new();
    for (k, v) in members {
        jwk.insert(k.to_owned(), Value::from(v));
    }
    jwk.insert("use".into(), "sig".into());
    jwk.insert("alg".into(), alg.as_str().into());
    jwk.insert("kid".into(), kid.clone().into());
    Ok(NewSigningKey { kid, alg: alg.as_str().into(), private_pkcs8: der, public_jwk: Value::Object(jwk) })
}

/// An RS256 key, for benchmarks and test providers.
pub fn generate_rs256() -> Result<NewSigningKey, ServiceError> {
    generate(SigningAlg::RS256)
}

/// [`generate`] on the blocking pool, for async callers (RSA generation would stall a worker): one key
/// of each algorithm in `algs`.
pub async fn generate_off_thread(algs: Vec<SigningAlg>) -> Result<Vec<NewSigningKey>, ServiceError> {
    tokio::task::spawn_blocking(move || algs.into_iter().map(generate).collect())
        .await
        .map_err(|e| ServiceError::internal(e.to_string()))?
}

/// A key of every algorithm: what a tenant starts with, and what each rotation makes.
pub async fn generate_key_set() -> Result<Vec<NewSigningKey>, ServiceError> {
    generate_off_thread(SigningAlg::ALL.to_vec()).await
}

/// The hash of OpenID Connect's `at_hash` and `c_hash` for an ID token signed with `alg`: the hash its
/// signature uses (OIDC Core §3.1.3.6), which for Ed25519 is SHA-512: what the `openidconnect` crate
/// checks and npm `oidc-provider` (a certified provider) issues.
pub fn token_hash(alg: SigningAlg, token: &str) -> String {
    use aws_lc_rs::digest::{SHA256, SHA512, digest};
    let d = digest(if alg == SigningAlg::EdDSA { &SHA512 } else { &SHA256 }, token.as_bytes());
    let bytes = d.as_ref();
    URL_SAFE_NO_PAD.encode(&bytes[..bytes.len() / 2])
}

enum Signer {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

impl Signer {
    fn parse(alg: SigningAlg, pkcs8: &[u8]) -> Result<Self, ServiceError> {
        let bad = |_| ServiceError::internal(format!("stored {alg} signing key is not valid PKCS#8"));
        Ok(match alg {
            SigningAlg::RS256 => Signer::Rsa(RsaKeyPair::from_pkcs8(pkcs8).map_err(bad)?),
            SigningAlg::ES256 => {
                Signer::Ec(EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8).map_err(bad)?)
            }
            SigningAlg::EdDSA => Signer::Ed(Ed25519KeyPair::from_pkcs8(pkcs8).map_err(bad)?),
        })
    }

    fn public_key(&self) -> Vec<u8> {
        match self {
            Signer::Rsa(kp) => kp.public_key().as_ref().to_vec(),
            Signer::Ec(kp) => kp.public_key().as_ref().to_vec(),
            Signer::Ed(kp) => kp.public_key().as_ref().to_vec(),
        }
    }

    fn sign(&self, input: &[u8]) -> Result<Vec<u8>, ServiceError> {
        let failed = |_| ServiceError::internal("signing failed");
        let rng = aws_lc_rs::rand::SystemRandom::new();
        Ok(match self {
            Signer::Rsa(kp) => {
                let mut sig = vec![0u8; kp.public_modulus_len()];
                kp.sign(&signature::RSA_PKCS1_SHA256, &rng, input, &mut sig).map_err(failed)?;
                sig
            }
            // FIXED: JWS wants r and s concatenated (RFC 7518 §3.4), not the DER sequence.
            Signer::Ec(kp) => kp.sign(&rng, input).map_err(failed)?.as_ref().to_vec(),
            Signer::Ed(kp) => kp.sign(input).as_ref().to_vec(),
        })
    }
}

fn verification_alg(alg: SigningAlg) -> &'static dyn signature::VerificationAlgorithm {
    match alg {
        SigningAlg::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
        SigningAlg::ES256 => &signature::ECDSA_P256_SHA256_FIXED,
        SigningAlg::EdDSA => &signature::ED25519,
    }
}

struct Verifier {
    kid: String,
    alg: SigningAlg,
    public: Vec<u8>,
}

/// One tenant's keys, parsed and ready: the newest current key of each algorithm signs, every
/// published key verifies.
pub struct TenantKeys {
    /// The tenant's signing algorithm (its access tokens').
    default: SigningAlg,
    signers: Vec<(String, SigningAlg, Signer)>,
    verifiers: Vec<Verifier>,
    jwks: Value,
}

impl TenantKeys {
    /// `keys` newest first (as the store lists them); `default` is the tenant's signing algorithm.
    pub fn load(keys: &[SigningKey], default: SigningAlg) -> Result<Self, ServiceError> {
        let mut signers: Vec<(String, SigningAlg, Signer)> = Vec::new();
        let mut verifiers = Vec::new();
        let mut published = Vec::new();
        for k in keys {
            let alg: SigningAlg = k.alg.parse().map_err(ServiceError::internal)?;
            let parsed = Signer::parse(alg, &k.private_pkcs8)?;
            verifiers.push(Verifier { kid: k.kid.clone(), alg, public: parsed.public_key() });
            published.push(k.public_jwk.clone());
            if k.state == latchkey_store::records::KeyState::Current && !signers.iter().any(|(_, a, _)| *a == alg) {
                signers.push((k.kid.clone(), alg, parsed));
            }
        }
        Ok(Self { default, signers, verifiers, jwks: json!({ "keys": published }) })
    }

    /// A key set of one freshly generated key that signs: for benchmarks and test providers, which
    /// have no stored keys.
    pub fn with_new_key(k: NewSigningKey) -> Result<Self, ServiceError> {
        let state = latchkey_store::records::KeyState::Current;
        let default = SigningAlg::from_stored(&k.alg);
        let (kid, alg, private_pkcs8, public_jwk) = (k.kid, k.alg, k.private_pkcs8, k.public_jwk);
        Self::load(&[SigningKey { kid, alg, private_pkcs8, public_jwk, state, created_at: 0 }], default)
    }

    /// The algorithms this tenant has no current key for: a tenant created before every tenant kept a
    /// key of each (the server adds them when it loads the keys).
    pub fn missing_algs(&self) -> Vec<SigningAlg> {
        SigningAlg::ALL.into_iter().filter(|a| !self.signers.iter().any(|(_, s, _)| s == a)).collect()
    }

    pub fn jwks(&self) -> &Value {
        &self.jwks
    }

    /// The tenant's signing algorithm: the one [`sign`](Self::sign) uses.
    pub fn signing_alg(&self) -> SigningAlg {
        self.default
    }

    /// Signs `claims` as a compact JWS with header `typ`, with the tenant's algorithm.
    pub fn sign(&self, typ: &str, claims: &Value) -> Result<String, ServiceError> {
        self.sign_with(self.default, typ, claims)
    }

    /// Signs `claims` as a compact JWS with header `typ`, with the current key of `alg`.
    pub fn sign_with(&self, alg: SigningAlg, typ: &str, claims: &Value) -> Result<String, ServiceError> {
        let (kid, alg, signer) = self
            .signers
            .iter()
            .find(|(_, a, _)| *a == alg)
            .ok_or_else(|| ServiceError::internal(format!("tenant has no current {alg} signing key")))?;
        let header = json!({"alg": alg.as_str(), "typ": typ, "kid": kid});
        let mut input = URL_SAFE_NO_PAD.encode(header.to_string());
        input.push('.');
        input.push_str(&URL_SAFE_NO_PAD.encode(claims.to_string()));
        let sig = signer.sign(input.as_bytes())?;
        input.push('.');
        input.push_str(&URL_SAFE_NO_PAD.encode(sig));
        Ok(input)
    }

    /// Whether the key `kid` is published (next, current or previous): what a token it signed needs to
    /// keep verifying.
    pub fn publishes(&self, kid: &str) -> bool {
        self.verifiers.iter().any(|v| v.kid == kid)
    }

    /// Verifies a compact JWS signed by one of this tenant's published keys and returns its header
    /// `typ` and claims. Expiry and audience are the caller's business. The header's `alg` must be the
    /// algorithm of the key its `kid` names, so a token cannot pick how it is checked.
    pub fn verify(&self, token: &str) -> Option<(Option<String>, Value)> {
        self.verify_with_kid(token).map(|(_, typ, claims)| (typ, claims))
    }

    /// [`verify`](Self::verify), with the `kid` of the key that signed the token.
    pub fn verify_with_kid(&self, token: &str) -> Option<(String, Option<String>, Value)> {
        if token.len() > 8192 {
            return None;
        }
        let mut parts = token.split('.');
        let (h, p, s) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).ok()?).ok()?;
        let kid = header.get("kid")?.as_str()?;
        let key = self.verifiers.iter().find(|v| v.kid == kid)?;
        if header.get("alg")?.as_str()? != key.alg.as_str() {
            return None;
        }
        let sig = URL_SAFE_NO_PAD.decode(s).ok()?;
        let signed = &token[..h.len() + 1 + p.len()];
        UnparsedPublicKey::new(verification_alg(key.alg), &key.public).verify(signed.as_bytes(), &sig).ok()?;
        let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).ok()?).ok()?;
        let typ = header.get("typ").and_then(Value::as_str).map(str::to_owned);
        Some((key.kid.clone(), typ, claims))
    }
}

/// SHA-256 (aws-lc's, without pulling a second hash crate into this one): key thumbprints, and the
/// key under which caches remember a token (so they hold no token itself).
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    // A SHA-256 digest is always 32 bytes, so the lengths match.
    out.copy_from_slice(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data).as_ref());
    out
}

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
        for alg in SigningAlg::ALL {
            let a = generate(alg).expect("key");
            let b = generate(alg).expect("key");
            assert_eq!(a.alg, alg.as_str());
            assert_eq!(a.public_jwk["alg"], alg.as_str());
            let keys =
                TenantKeys::load(&[stored(&a, KeyState::Current), stored(&b, KeyState::Previous)], alg).expect("load");
            assert_eq!(keys.signing_alg(), alg);
            assert_eq!(keys.jwks()["keys"].as_array().map(Vec::len), Some(2));
            let t = keys.sign("at+jwt", &json!({"sub": "u1"})).expect("sign");
            let header: Value =
                serde_json::from_slice(&URL_SAFE_NO_PAD.decode(t.split('.').next().expect("header")).expect("b64"))
                    .expect("json");
            assert_eq!(header["alg"], alg.as_str());
            assert_eq!(header["kid"], a.kid.as_str());
            let (typ, claims) = keys.verify(&t).expect("verifies");
            assert_eq!(typ.as_deref(), Some("at+jwt"));
            assert_eq!(claims["sub"], "u1");
            // Change one claim byte: the signature no longer matches.
            let mut parts: Vec<String> = t.split('.').map(str::to_owned).collect();
            parts[1] = URL_SAFE_NO_PAD.encode(json!({"sub": "u2"}).to_string());
            assert!(keys.verify(&parts.join(".")).is_none(), "{alg}");
            // A key set without the signer does not verify it.
            let other = TenantKeys::load(&[stored(&b, KeyState::Current)], alg).expect("load");
            assert!(other.verify(&t).is_none());
            for junk in ["", "a.b", "a.b.c", "...", "a.b.c.d"] {
                assert!(keys.verify(junk).is_none());
            }
        }
    }

    #[test]
    fn jwk_members_and_kid_follow_the_rfcs() {
        let rs = generate(SigningAlg::RS256).expect("key").public_jwk;
        assert_eq!((rs["kty"].as_str(), rs["e"].as_str()), (Some("RSA"), Some("AQAB")));
        let ec = generate(SigningAlg::ES256).expect("key");
        assert_eq!((ec.public_jwk["kty"].as_str(), ec.public_jwk["crv"].as_str()), (Some("EC"), Some("P-256")));
        for c in ["x", "y"] {
            let bytes = URL_SAFE_NO_PAD.decode(ec.public_jwk[c].as_str().expect("coordinate")).expect("b64");
            assert_eq!(bytes.len(), 32, "{c}");
        }
        // RFC 7638: the thumbprint covers exactly the required members, in order.
        let j = &ec.public_jwk;
        let input = format!(
            r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
            j["x"].as_str().unwrap_or(""),
            j["y"].as_str().unwrap_or("")
        );
        assert_eq!(ec.kid, URL_SAFE_NO_PAD.encode(sha256(input.as_bytes())));
        let ed = generate(SigningAlg::EdDSA).expect("key");
        assert_eq!((ed.public_jwk["kty"].as_str(), ed.public_jwk["crv"].as_str()), (Some("OKP"), Some("Ed25519")));
        let x = ed.public_jwk["x"].as_str().unwrap_or("");
        assert_eq!(URL_SAFE_NO_PAD.decode(x).expect("b64").len(), 32);
        let input = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
        assert_eq!(ed.kid, URL_SAFE_NO_PAD.encode(sha256(input.as_bytes())));
        for j in [&rs, &ec.public_jwk, &ed.public_jwk] {
            assert!(j.get("d").is_none() && j.get("p").is_none(), "no private member is published");
        }
    }

    /// A token cannot choose how it is checked: its header's alg must be the named key's algorithm
    /// (no "none", no HS256 keyed with the public key, no algorithm from another key).
    #[test]
    fn header_alg_must_match_the_key() {
        let ec = generate(SigningAlg::ES256).expect("key");
        let rs = generate(SigningAlg::RS256).expect("key");
        let keys =
            TenantKeys::load(&[stored(&ec, KeyState::Current), stored(&rs, KeyState::Previous)], SigningAlg::ES256)
                .expect("load");
        let t = keys.sign("at+jwt", &json!({"sub": "u"})).expect("sign");
        let parts: Vec<&str> = t.split('.').collect();
        for alg in ["RS256", "EdDSA", "HS256", "none", "es256"] {
            let h = URL_SAFE_NO_PAD.encode(json!({"alg": alg, "typ": "at+jwt", "kid": ec.kid}).to_string());
            assert!(keys.verify(&format!("{h}.{}.{}", parts[1], parts[2])).is_none(), "{alg}");
        }
        // The ES256 signature under the RSA key's kid does not verify either.
        let h = URL_SAFE_NO_PAD.encode(json!({"alg": "ES256", "typ": "at+jwt", "kid": rs.kid}).to_string());
        assert!(keys.verify(&format!("{h}.{}.{}", parts[1], parts[2])).is_none());
        assert!("HS256".parse::<SigningAlg>().is_err());
        assert!("es256".parse::<SigningAlg>().is_err());
        assert_eq!("EdDSA".parse::<SigningAlg>(), Ok(SigningAlg::EdDSA));
    }

    /// A current key of each algorithm: the tenant's algorithm signs by default, each other one on
    /// request, the newest current key of an algorithm wins, and an algorithm without a current key
    /// is reported missing rather than silently replaced.
    #[test]
    fn one_signer_per_algorithm() {
        let set: Vec<NewSigningKey> = SigningAlg::ALL.into_iter().map(|a| generate(a).expect("key")).collect();
        let older_es = generate(SigningAlg::ES256).expect("key");
        let mut stored_keys: Vec<SigningKey> = set.iter().map(|k| stored(k, KeyState::Current)).collect();
        stored_keys.push(stored(&older_es, KeyState::Current));
        let keys = TenantKeys::load(&stored_keys, SigningAlg::EdDSA).expect("load");
        assert!(keys.missing_algs().is_empty());
        let header = |t: &str| -> Value {
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(t.split('.').next().expect("header")).expect("b64"))
                .expect("json")
        };
        let t = keys.sign("at+jwt", &json!({"sub": "u"})).expect("sign");
        assert_eq!(
            (header(&t)["alg"].as_str(), header(&t)["kid"].as_str()),
            (Some("EdDSA"), Some(set[2].kid.as_str()))
        );
        for (k, alg) in set.iter().zip(SigningAlg::ALL) {
            let t = keys.sign_with(alg, "JWT", &json!({"sub": "u"})).expect("sign");
            assert_eq!(header(&t)["kid"].as_str(), Some(k.kid.as_str()), "{alg}: the newest current key signs");
            assert!(keys.verify(&t).is_some());
        }
        let only_es = TenantKeys::load(&[stored(&older_es, KeyState::Current)], SigningAlg::ES256).expect("load");
        assert_eq!(only_es.missing_algs(), vec![SigningAlg::RS256, SigningAlg::EdDSA]);
        assert!(only_es.sign_with(SigningAlg::RS256, "JWT", &json!({})).is_err());
    }

    /// `at_hash` is half the hash the ID token's signature uses: SHA-256 for RS256 and ES256, SHA-512
    /// for Ed25519. The values are worked out with the `sha2` crate, not with our digest.
    #[test]
    fn token_hash_follows_the_signature_hash() {
        use sha2::Digest;
        let at = "an access token";
        let half256 = URL_SAFE_NO_PAD.encode(&sha2::Sha256::digest(at.as_bytes())[..16]);
        let half512 = URL_SAFE_NO_PAD.encode(&sha2::Sha512::digest(at.as_bytes())[..32]);
        assert_eq!(token_hash(SigningAlg::RS256, at), half256);
        assert_eq!(token_hash(SigningAlg::ES256, at), half256);
        assert_eq!(token_hash(SigningAlg::EdDSA, at), half512);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
        /// Arbitrary token-shaped input, and real tokens with one part replaced, never verify or panic.
        #[test]
        fn jws_parser_rejects_garbage(s in "[A-Za-z0-9_.=-]{0,300}", part in 0usize..3, junk in "[A-Za-z0-9_-]{0,80}", which in 0usize..3) {
            let keys = &fixed_keys()[which];
            proptest::prop_assert!(keys.verify(&s).is_none());
            let t = keys.sign("at+jwt", &json!({"sub": "u"})).expect("sign");
            let mut parts: Vec<String> = t.split('.').map(str::to_owned).collect();
            if parts[part] != junk {
                parts[part] = junk;
                proptest::prop_assert!(keys.verify(&parts.join(".")).is_none());
            }
        }
    }

    /// One key set per algorithm.
    fn fixed_keys() -> &'static [TenantKeys; 3] {
        static KEYS: std::sync::OnceLock<[TenantKeys; 3]> = std::sync::OnceLock::new();
        KEYS.get_or_init(|| {
            SigningAlg::ALL.map(|alg| TenantKeys::with_new_key(generate(alg).expect("key")).expect("load"))
        })
    }
}
