//! Password-guessing throttle, shared by every place that checks a password: the end users' sign-in
//! page, dashboard sign-in, and accepting an invitation with an existing account.
//!
//! Failures are counted per (account, client address). Past a few free tries, each further failure
//! makes that pair wait twice as long as the last (1 s, 2 s, 4 s … up to the window). A source can
//! therefore never lock an account for anyone else: the owner signing in from another address is not
//! slowed. Failures are also counted per client address across accounts, so one address cannot
//! spray many accounts.
use latchkey_core::hashing::secret_hash;
use std::time::Duration;

use crate::AuthServer;
use crate::error::ServiceResult;

/// Where a password is checked; each has its own counters.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Door<'a> {
    /// A tenant's end-user sign-in page.
    EndUser(&'a latchkey_core::TenantId),
    /// Dashboard accounts and operators (sign-in and invitations).
    Dashboard,
}

struct Keys {
    pair_count: String,
    pair_wait: String,
    ip_count: String,
}

fn keys(door: Door<'_>, account: &str, ip: &str) -> Keys {
    let prefix = match door {
        Door::EndUser(t) => format!("rl:login:{t}"),
        Door::Dashboard => "rl:dash".to_owned(),
    };
    let pair = format!("{prefix}:pair:{}:{ip}", secret_hash(&account.trim().to_lowercase()));
    Keys { pair_count: format!("{pair}:n"), pair_wait: format!("{pair}:wait"), ip_count: format!("{prefix}:ip:{ip}") }
}

/// How long a pair waits after its `n`th failure: nothing for the free tries, then 1 s, doubling, at
/// most `window`.
pub(crate) fn delay_after(n: i64, free: i64, window: Duration) -> Option<Duration> {
    if n < free {
        return None;
    }
    let exp = u32::try_from((n - free).min(20)).unwrap_or(20);
    Some(Duration::from_secs(2u64.saturating_pow(exp)).min(window))
}

/// "Try again in …" for a wait in seconds.
pub(crate) fn try_again_in(wait: i64) -> String {
    if wait < 60 {
        format!("{wait} second{}", if wait == 1 { "" } else { "s" })
    } else {
        let m = (wait + 59) / 60;
        format!("{m} minute{}", if m == 1 { "" } else { "s" })
    }
}

impl AuthServer {
    /// Seconds this address must wait before trying this account again, if it must.
    pub(crate) async fn login_wait(&self, door: Door<'_>, account: &str, ip: &str) -> ServiceResult<Option<i64>> {
        let k = keys(door, account, ip);
        if self.kv.get(&k.pair_wait).await?.is_some() {
            return Ok(Some(self.kv.ttl(&k.pair_wait).await?.unwrap_or(1).max(1)));
        }
        if !self.config.per_ip_limits {
            return Ok(None);
        }
        let n = self
            .kv
            .get(&k.ip_count)
            .await?
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.parse::<i64>().ok())
            .unwrap_or(0);
        if n >= self.config.login_failures_per_ip {
            return Ok(Some(self.kv.ttl(&k.ip_count).await?.unwrap_or(60).max(1)));
        }
        Ok(None)
    }

    /// Counts a failure for the pair and for the address; past the free tries the pair waits.
    pub(crate) async fn login_failed(&self, door: Door<'_>, account: &str, ip: &str) -> ServiceResult<()> {
        let k = keys(door, account, ip);
        let window = self.config.login_window;
        let n = self.kv.incr(&k.pair_count, window).await?;
        self.kv.incr(&k.ip_count, window).await?;
        if let Some(wait) = delay_after(n, self.config.login_free_failures, window) {
            self.kv.set(&k.pair_wait, b"1", wait).await?;
        }
        Ok(())
    }

    /// A success clears the pair's count (the address's count keeps running).
    pub(crate) async fn login_succeeded(&self, door: Door<'_>, account: &str, ip: &str) -> ServiceResult<()> {
        self.kv.delete(&keys(door, account, ip).pair_count).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_start_after_the_free_tries_and_double_up_to_the_window() {
        let w = Duration::from_secs(900);
        assert_eq!(delay_after(4, 5, w), None);
        assert_eq!(delay_after(5, 5, w), Some(Duration::from_secs(1)));
        assert_eq!(delay_after(6, 5, w), Some(Duration::from_secs(2)));
        assert_eq!(delay_after(8, 5, w), Some(Duration::from_secs(8)));
        assert_eq!(delay_after(40, 5, w), Some(w));
        assert_eq!(delay_after(i64::MAX, 5, w), Some(w));
    }

    #[test]
    fn waits_read_well() {
        assert_eq!(try_again_in(1), "1 second");
        assert_eq!(try_again_in(30), "30 seconds");
        assert_eq!(try_again_in(61), "2 minutes");
        assert_eq!(try_again_in(60), "1 minute");
    }
}
