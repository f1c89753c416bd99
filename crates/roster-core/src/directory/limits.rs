//! Rate limits, decided where every front-end passes: authentication.
//!
//! Two limits, each a GCRA bucket (`governor`): requests per API key, and
//! failed authentications per source address. A source over its failure
//! budget is refused before its key is even looked up, so a guesser cannot
//! tell a right guess from a wrong one while refused. Both answer
//! [`CoreError::RateLimited`] with how long to wait.

use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use moka::sync::Cache;

use crate::error::CoreError;
use crate::ids::KeyId;

/// A sustained rate with a burst: `burst` at once, then one more every
/// `every`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    pub every: Duration,
    pub burst: NonZeroU32,
}

impl Rate {
    /// `n` a second, up to `burst` at once; `None` when `n` or `burst` is 0 (off).
    pub fn per_second(n: u32, burst: u32) -> Option<Self> {
        Self::per(Duration::from_secs(1), n, burst)
    }

    /// `n` a minute, up to `burst` at once; `None` when `n` or `burst` is 0 (off).
    pub fn per_minute(n: u32, burst: u32) -> Option<Self> {
        Self::per(Duration::from_secs(60), n, burst)
    }

    fn per(period: Duration, n: u32, burst: u32) -> Option<Self> {
        let burst = NonZeroU32::new(burst)?;
        (n > 0).then(|| Rate { every: period / n, burst })
    }

    fn quota(self) -> Option<Quota> {
        Quota::with_period(self.every).map(|q| q.allow_burst(self.burst))
    }
}

/// Which rate limits the directory enforces; `None` turns one off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimits {
    /// Requests per API key.
    pub per_key: Option<Rate>,
    /// Failed authentications per source address.
    pub failed_auth_per_source: Option<Rate>,
}

/// Requests per key a second by default, and the burst.
pub const DEFAULT_KEY_RATE: u32 = 200;
pub const DEFAULT_KEY_BURST: u32 = 1000;
/// Failed authentications per source a minute by default, and the burst.
pub const DEFAULT_AUTH_FAILURE_RATE: u32 = 10;
pub const DEFAULT_AUTH_FAILURE_BURST: u32 = 20;

impl Default for RateLimits {
    /// Limits that real clients do not reach: 200 requests a second per
    /// key (bursts of 1 000), 10 failed authentications a minute per source
    /// (bursts of 20).
    fn default() -> Self {
        Self {
            per_key: Rate::per_second(DEFAULT_KEY_RATE, DEFAULT_KEY_BURST),
            failed_auth_per_source: Rate::per_minute(DEFAULT_AUTH_FAILURE_RATE, DEFAULT_AUTH_FAILURE_BURST),
        }
    }
}

impl RateLimits {
    /// No limit at all (tests that need speed).
    pub fn off() -> Self {
        Self { per_key: None, failed_auth_per_source: None }
    }
}

/// How many keys or sources a limiter remembers before it forgets the
/// ones whose buckets are full again.
const REMEMBERED: usize = 10_000;

/// The limiters themselves, shared by every clone of a `Directory`.
#[derive(Clone)]
pub(crate) struct Limiter {
    per_key: Option<Arc<DefaultKeyedRateLimiter<KeyId>>>,
    failures: Option<Arc<DefaultKeyedRateLimiter<IpAddr>>>,
    /// Sources refused for failing too often, and until when.
    blocked: Cache<IpAddr, Instant>,
}

impl Limiter {
    pub(crate) fn new(limits: RateLimits) -> Self {
        Self {
            per_key: keyed(limits.per_key),
            failures: keyed(limits.failed_auth_per_source),
            blocked: Cache::builder().max_capacity(REMEMBERED as u64).time_to_live(Duration::from_secs(3600)).build(),
        }
    }

    /// Refuses a source that failed too often, until its bucket refills.
    pub(crate) fn admit_source(&self, source: Option<IpAddr>) -> Result<(), CoreError> {
        let Some(ip) = source else { return Ok(()) };
        match self.blocked.get(&ip) {
            Some(until) => match until.checked_duration_since(Instant::now()) {
                Some(wait) if !wait.is_zero() => Err(CoreError::RateLimited { retry_after: wait }),
                _ => {
                    self.blocked.invalidate(&ip);
                    Ok(())
                }
            },
            None => Ok(()),
        }
    }

    /// Counts a failed authentication from `source`; the one that empties
    /// its bucket is refused already.
    pub(crate) fn failed(&self, source: Option<IpAddr>) -> CoreError {
        let (Some(ip), Some(limiter)) = (source, &self.failures) else { return CoreError::Unauthenticated };
        match check(limiter, &ip) {
            Ok(()) => CoreError::Unauthenticated,
            Err(wait) => {
                self.blocked.insert(ip, Instant::now() + wait);
                CoreError::RateLimited { retry_after: wait }
            }
        }
    }

    /// Counts one request made with `key`.
    pub(crate) fn admit_key(&self, key: Option<KeyId>) -> Result<(), CoreError> {
        let (Some(key), Some(limiter)) = (key, &self.per_key) else { return Ok(()) };
        check(limiter, &key).map_err(|retry_after| CoreError::RateLimited { retry_after })
    }
}

fn keyed<K: Clone + Hash + Eq>(rate: Option<Rate>) -> Option<Arc<DefaultKeyedRateLimiter<K>>> {
    rate.and_then(Rate::quota).map(|q| Arc::new(RateLimiter::keyed(q)))
}

/// Takes one cell from `key`'s bucket, or says how long until one is free.
fn check<K: Clone + Hash + Eq>(limiter: &DefaultKeyedRateLimiter<K>, key: &K) -> Result<(), Duration> {
    if limiter.len() > REMEMBERED {
        limiter.retain_recent();
    }
    // The limiter's own clock: a new one calibrates itself (CPUID and a
    // timing loop), which made every refusal dearer than the request it
    // refused.
    limiter.check_key(key).map_err(|not_until| not_until.wait_time_from(limiter.clock().now()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_refusals_that_say_how_long() {
        let limiter = Limiter::new(RateLimits { per_key: Rate::per_minute(1, 3), failed_auth_per_source: None });
        let key = Some(KeyId::new());
        for _ in 0..3 {
            assert_eq!(limiter.admit_key(key), Ok(()));
        }
        match limiter.admit_key(key) {
            Err(CoreError::RateLimited { retry_after }) => assert!(retry_after <= Duration::from_secs(60)),
            other => panic!("expected a refusal, got {other:?}"),
        }
        assert_eq!(limiter.admit_key(Some(KeyId::new())), Ok(()), "keys have buckets of their own");
    }

    #[test]
    fn a_source_that_fails_too_often_is_refused_before_its_key_is_checked() {
        let limiter = Limiter::new(RateLimits { per_key: None, failed_auth_per_source: Rate::per_minute(1, 2) });
        let ip = Some(IpAddr::from([10, 0, 0, 1]));
        assert_eq!(limiter.admit_source(ip), Ok(()));
        assert_eq!(limiter.failed(ip), CoreError::Unauthenticated);
        assert_eq!(limiter.failed(ip), CoreError::Unauthenticated);
        assert!(matches!(limiter.failed(ip), CoreError::RateLimited { .. }));
        assert!(matches!(limiter.admit_source(ip), Err(CoreError::RateLimited { .. })));
        assert_eq!(limiter.admit_source(Some(IpAddr::from([10, 0, 0, 2]))), Ok(()));
        assert_eq!(limiter.failed(None), CoreError::Unauthenticated, "no address, no limit");
    }

    #[test]
    fn zero_turns_a_limit_off() {
        assert_eq!(Rate::per_second(0, 10), None);
        assert_eq!(Rate::per_second(10, 0), None);
        assert_eq!(Rate::per_second(4, 1).map(|r| r.every), Some(Duration::from_millis(250)));
    }
}
