//! Client-side pacing of Cognito calls. Cognito allows about 15 requests per second per
//! category (reads, writes) per account and region, shared with every other tool; the operator
//! stays below a configured budget instead of relying on TooManyRequests and retries.

use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::cognito::Operation;

/// Longest wait for budget before a pass gives up and retries later, so that a reconcile slot
/// is never held indefinitely.
pub const MAX_WAIT: Duration = Duration::from_secs(30);

/// Separate read and write budgets, each per region.
pub struct Pacer {
    reads: Option<DefaultKeyedRateLimiter<String>>,
    writes: Option<DefaultKeyedRateLimiter<String>>,
}

impl Pacer {
    /// Rates in requests per second; 0 means unlimited.
    pub fn new(reads_per_second: f64, writes_per_second: f64, burst: u32) -> Self {
        let limiter = |rate: f64| {
            let period = Duration::try_from_secs_f64(1.0 / rate).ok()?;
            let quota = Quota::with_period(period)?.allow_burst(NonZeroU32::new(burst.max(1))?);
            Some(RateLimiter::keyed(quota))
        };
        Self {
            reads: (reads_per_second > 0.0)
                .then(|| limiter(reads_per_second))
                .flatten(),
            writes: (writes_per_second > 0.0)
                .then(|| limiter(writes_per_second))
                .flatten(),
        }
    }

    /// Waits for budget for one call in `region`; returns how long it waited, or `None` when
    /// no budget came within `MAX_WAIT`.
    pub async fn acquire(&self, op: Operation, region: &str) -> Option<Duration> {
        let limiter = match op {
            Operation::GetUserPoolMfaConfig => &self.reads,
            Operation::SetUserPoolMfaConfig => &self.writes,
        };
        let Some(limiter) = limiter else {
            return Some(Duration::ZERO);
        };
        let started = Instant::now();
        tokio::time::timeout(MAX_WAIT, limiter.until_key_ready(&region.to_owned()))
            .await
            .ok()
            .map(|_| started.elapsed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn budgets_are_per_category_and_region() {
        let pacer = Pacer::new(2.0, 0.0, 1);
        let set = Operation::SetUserPoolMfaConfig;
        let get = Operation::GetUserPoolMfaConfig;
        for _ in 0..20 {
            assert_eq!(
                pacer.acquire(set, "us-east-1").await,
                Some(Duration::ZERO),
                "writes unlimited"
            );
        }
        assert!(pacer.acquire(get, "us-east-1").await.unwrap() < Duration::from_millis(50));
        assert!(
            pacer.acquire(get, "eu-west-1").await.unwrap() < Duration::from_millis(50),
            "own budget per region"
        );
        let waited = pacer.acquire(get, "us-east-1").await.unwrap();
        assert!(
            waited >= Duration::from_millis(400),
            "second read in the region waits ~0.5 s, waited {waited:?}"
        );
    }
}
