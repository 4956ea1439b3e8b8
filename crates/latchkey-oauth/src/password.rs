//! Password hashing with argon2id at OWASP's recommended cost (m = 19 MiB, t = 2, p = 1).
//!
//! Hashing takes tens of milliseconds of CPU and 19 MiB of memory, so it runs on a small pool of
//! dedicated threads, one per core: a burst of logins queues there instead of stalling the async
//! workers that serve the token endpoint, and only that many threads ever hold argon2's buffers (on
//! tokio's blocking pool, every new thread kept its own 19 MiB malloc arena: 250 MB RSS under load).
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{Output, PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::{Arc, Mutex, mpsc};
use tokio::sync::oneshot;

use crate::error::{ServiceError, ServiceResult};

type Job = Box<dyn FnOnce() + Send>;

#[derive(Clone)]
pub struct PasswordHasher {
    jobs: mpsc::Sender<Job>,
    /// A well-formed hash that matches nothing (`dummy_hash`): verifying against it makes an unknown
    /// email take as long as a wrong password.
    dummy_hash: Arc<String>,
}

fn argon() -> Result<Argon2<'static>, ServiceError> {
    let params = Params::new(19 * 1024, 2, 1, None).map_err(|e| ServiceError::internal(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

fn hash_sync(password: &str) -> ServiceResult<String> {
    let salt = SaltString::generate(&mut OsRng);
    argon()?
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ServiceError::internal(e.to_string()))
}

/// An argon2id hash string with this module's parameters, a random salt and a random output: verifying
/// any password against it costs one full argon2id run, as against a user's hash, and it matches
/// nothing anyone knows. It is assembled rather than computed: computing one at startup took 19 MiB
/// that the allocator then kept, a third of the idle server's memory.
fn dummy_hash() -> ServiceResult<String> {
    let mut output = [0u8; 32];
    aws_lc_rs::rand::fill(&mut output).map_err(|_| ServiceError::internal("no randomness"))?;
    let output = Output::new(&output).map_err(|e| ServiceError::internal(e.to_string()))?;
    let salt = SaltString::generate(&mut OsRng);
    let p = argon()?.params().clone();
    Ok(format!("$argon2id$v=19$m={},t={},p={}${}${output}", p.m_cost(), p.t_cost(), p.p_cost(), salt.as_str()))
}

fn verify_sync(password: &str, hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    argon().is_ok_and(|a| a.verify_password(password.as_bytes(), &parsed).is_ok())
}

pub const MIN_PASSWORD_LEN: usize = 8;
pub const MAX_PASSWORD_LEN: usize = 1024;

impl PasswordHasher {
    pub fn new() -> ServiceResult<Self> {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        let dummy = dummy_hash()?;
        let (jobs, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..cores {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    loop {
                        // The lock is held only while waiting for the next job.
                        let job = match rx.lock() {
                            Ok(r) => r.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            // Every sender is gone: the server shut down.
                            Err(_) => return,
                        }
                    }
                })
                .map_err(|e| ServiceError::internal(e.to_string()))?;
        }
        Ok(Self { jobs, dummy_hash: Arc::new(dummy) })
    }

    pub fn check_policy(password: &str) -> ServiceResult<()> {
        if password.chars().count() < MIN_PASSWORD_LEN {
            return Err(ServiceError::Invalid(format!("password must be at least {MIN_PASSWORD_LEN} characters")));
        }
        if password.len() > MAX_PASSWORD_LEN {
            return Err(ServiceError::Invalid("password is too long".into()));
        }
        Ok(())
    }

    async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> ServiceResult<T> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(f());
        });
        self.jobs.send(job).map_err(|_| ServiceError::internal("hasher stopped"))?;
        rx.await.map_err(|_| ServiceError::internal("hasher stopped"))
    }

    pub async fn hash(&self, password: &str) -> ServiceResult<String> {
        let p = password.to_owned();
        self.run(move || hash_sync(&p)).await?
    }

    /// Verifies `password` against `hash`, or against the dummy hash when there is no user, so both
    /// cases cost the same.
    pub async fn verify(&self, password: &str, hash: Option<&str>) -> ServiceResult<bool> {
        let p = password.chars().take(MAX_PASSWORD_LEN).collect::<String>();
        let (h, real) = match hash {
            Some(h) => (h.to_owned(), true),
            None => (self.dummy_hash.as_str().to_owned(), false),
        };
        let ok = self.run(move || verify_sync(&p, &h)).await?;
        Ok(ok && real)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_and_verifies() {
        let h = PasswordHasher::new().expect("hasher");
        let hash = h.hash("correct horse").await.expect("hash");
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(h.verify("correct horse", Some(&hash)).await.expect("verify"));
        assert!(!h.verify("wrong horse", Some(&hash)).await.expect("verify"));
        assert!(!h.verify("correct horse", None).await.expect("verify"));
        assert!(!h.verify("x", Some("not a hash")).await.expect("verify"));
    }

    /// The hash an unknown email is checked against has a real hash's shape: the same algorithm and
    /// parameters (so the same cost), a salt and an output of the same lengths; it parses, so verifying
    /// runs argon2id instead of failing early; and it is fresh each time.
    #[test]
    fn the_dummy_hash_costs_what_a_real_one_does() {
        let real = hash_sync("correct horse").expect("hash");
        let dummy = dummy_hash().expect("dummy");
        let shape = |h: &str| h.split('$').map(str::len).collect::<Vec<_>>();
        assert_eq!(real.split('$').take(4).collect::<Vec<_>>(), dummy.split('$').take(4).collect::<Vec<_>>());
        assert_eq!(shape(&real), shape(&dummy), "{real} / {dummy}");
        let parsed = PasswordHash::new(&dummy).expect("parses");
        assert_eq!(parsed.hash.map(|o| o.len()), Some(32));
        assert!(!verify_sync("correct horse", &dummy));
        assert_ne!(dummy, dummy_hash().expect("dummy"));
    }

    #[test]
    fn policy() {
        assert!(PasswordHasher::check_policy("short").is_err());
        assert!(PasswordHasher::check_policy("long enough").is_ok());
    }
}
