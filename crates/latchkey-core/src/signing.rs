//! The JWS algorithms Latchkey signs with (the `alg` values of RFC 7518 and RFC 8037).
use std::fmt;
use std::str::FromStr;

/// A signing algorithm. Every tenant keeps a current key of each; the tenant's own algorithm signs its
/// access tokens, and each client's `id_token_signed_response_alg` its ID tokens.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub enum SigningAlg {
    /// RSASSA-PKCS1-v1_5 with SHA-256 and a 2048-bit key: what every relying party accepts, what OpenID
    /// Connect Discovery requires a provider to support, and what a client that says nothing expects.
    #[default]
    RS256,
    /// ECDSA with P-256 and SHA-256: a signature costs a small fraction of an RSA one.
    ES256,
    /// EdDSA with Ed25519 (RFC 8037).
    EdDSA,
}

impl SigningAlg {
    /// Every algorithm, RS256 first (the order discovery lists them in).
    pub const ALL: [SigningAlg; 3] = [SigningAlg::RS256, SigningAlg::ES256, SigningAlg::EdDSA];

    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlg::RS256 => "RS256",
            SigningAlg::ES256 => "ES256",
            SigningAlg::EdDSA => "EdDSA",
        }
    }

    /// A stored value. Only what this type wrote is stored, so anything else falls back to RS256, the
    /// one algorithm every party accepts.
    pub fn from_stored(s: &str) -> Self {
        s.parse().unwrap_or_default()
    }
}

impl fmt::Display for SigningAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SigningAlg {
    type Err = String;
    /// Exact `alg` spelling (JOSE names are case-sensitive).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SigningAlg::ALL.into_iter().find(|a| a.as_str() == s).ok_or_else(|| {
            let known: Vec<&str> = SigningAlg::ALL.iter().map(|a| a.as_str()).collect();
            format!(
                "unknown signing algorithm '{}' (supported: {})",
                s.chars().take(40).collect::<String>(),
                known.join(", ")
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_exact() {
        for a in SigningAlg::ALL {
            assert_eq!(a.as_str().parse::<SigningAlg>(), Ok(a));
            assert_eq!(serde_json::to_value(a).expect("json"), serde_json::json!(a.as_str()));
        }
        for bad in ["HS256", "none", "es256", "rs256", "", "RS256 "] {
            assert!(bad.parse::<SigningAlg>().is_err(), "{bad}");
        }
        assert_eq!(SigningAlg::from_stored("garbage"), SigningAlg::RS256);
    }
}
