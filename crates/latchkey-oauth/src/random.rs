//! Random tokens and identifiers.
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::{ServiceError, ServiceResult};

/// `n` random bytes, base64url: 32 bytes gives the 256 bits we use for codes, secrets and tokens.
pub fn token(n: usize) -> ServiceResult<String> {
    let mut b = vec![0u8; n];
    aws_lc_rs::rand::fill(&mut b).map_err(|_| ServiceError::internal("no randomness"))?;
    Ok(URL_SAFE_NO_PAD.encode(b))
}

pub fn secret() -> ServiceResult<String> {
    token(32)
}

/// A client id: short, readable, unique enough within a tenant.
pub fn client_id() -> ServiceResult<String> {
    let mut b = [0u8; 12];
    aws_lc_rs::rand::fill(&mut b).map_err(|_| ServiceError::internal("no randomness"))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}
