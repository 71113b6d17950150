//! How long an item waits before it is retried.

use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::clock::Clock;

/// Decides how long a failed item waits before its next attempt.
pub trait RateLimiter<T>: Send + Sync + fmt::Debug {
    /// The wait before the next attempt of `item`; records one more failure.
    fn when(&self, item: &T) -> Duration;
    /// Forgets `item`'s failures (it succeeded): its next wait starts over.
    fn forget(&self, item: &T);
    /// How many failures of `item` are recorded.
    fn retries(&self, item: &T) -> u32;
}

/// Per-item exponential backoff: `base × 2^failures`, at most `max`; reset
/// by [`forget`](RateLimiter::forget). client-go's default is 5 ms to 1,000 s.
#[derive(Debug)]
pub struct ItemExponential<T> {
    base: Duration,
    max: Duration,
    failures: Mutex<HashMap<T, u32>>,
}

impl<T> ItemExponential<T> {
    /// Backoff from `base`, doubling up to `max`.
    pub fn new(base: Duration, max: Duration) -> Self {
        ItemExponential { base, max, failures: Mutex::new(HashMap::new()) }
    }
}

impl<T: Eq + Hash + Clone + Send + fmt::Debug> RateLimiter<T> for ItemExponential<T> {
    fn when(&self, item: &T) -> Duration {
        let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        let count = failures.entry(item.clone()).or_insert(0);
        let exponent = *count;
        *count = count.saturating_add(1);
        let factor = 2u32.checked_pow(exponent).unwrap_or(u32::MAX);
        self.base.checked_mul(factor).map_or(self.max, |d| d.min(self.max))
    }

    fn forget(&self, item: &T) {
        self.failures.lock().unwrap_or_else(PoisonError::into_inner).remove(item);
    }

    fn retries(&self, item: &T) -> u32 {
        self.failures.lock().unwrap_or_else(PoisonError::into_inner).get(item).copied().unwrap_or(0)
    }
}

/// A token bucket shared by all items: `qps` tokens a second, at most
/// `burst` saved. Each attempt takes a token, waiting for it if none is left
/// (client-go's default: 10 per second, burst 100).
#[derive(Debug)]
pub struct TokenBucket {
    qps: f64,
    burst: f64,
    clock: Arc<dyn Clock>,
    /// (tokens, when they were counted); tokens go negative when attempts
    /// are booked ahead.
    state: Mutex<(f64, Instant)>,
}

impl TokenBucket {
    /// A full bucket of `burst` tokens refilled at `qps` a second.
    pub fn new(qps: f64, burst: u32, clock: Arc<dyn Clock>) -> Self {
        let now = clock.now();
        TokenBucket { qps, burst: f64::from(burst), clock, state: Mutex::new((f64::from(burst), now)) }
    }
}

impl TokenBucket {
    /// Takes a token if one is there (without booking one ahead, as
    /// [`when`](RateLimiter::when) does): a filter that drops what exceeds
    /// the rate.
    pub fn try_take(&self) -> bool {
        let now = self.clock.now();
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let (tokens, at) = *state;
        let refilled = (tokens + now.saturating_duration_since(at).as_secs_f64() * self.qps).min(self.burst);
        if refilled >= 1.0 {
            *state = (refilled - 1.0, now);
            true
        } else {
            *state = (refilled, now);
            false
        }
    }
}

impl<T> RateLimiter<T> for TokenBucket {
    fn when(&self, _: &T) -> Duration {
        let now = self.clock.now();
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let (tokens, at) = *state;
        let refilled = (tokens + now.saturating_duration_since(at).as_secs_f64() * self.qps).min(self.burst);
        let left = refilled - 1.0;
        *state = (left, now);
        if left >= 0.0 || self.qps <= 0.0 { Duration::ZERO } else { Duration::from_secs_f64(-left / self.qps) }
    }

    fn forget(&self, _: &T) {}

    fn retries(&self, _: &T) -> u32 {
        0
    }
}

/// The longest wait of several limiters (each records every failure).
#[derive(Debug)]
pub struct MaxOf<T> {
    limiters: Vec<Box<dyn RateLimiter<T>>>,
}

impl<T> MaxOf<T> {
    /// The larger wait of `limiters`.
    pub fn new(limiters: Vec<Box<dyn RateLimiter<T>>>) -> Self {
        MaxOf { limiters }
    }
}

impl<T: fmt::Debug> RateLimiter<T> for MaxOf<T> {
    fn when(&self, item: &T) -> Duration {
        self.limiters.iter().map(|l| l.when(item)).max().unwrap_or_default()
    }

    fn forget(&self, item: &T) {
        for l in &self.limiters {
            l.forget(item);
        }
    }

    fn retries(&self, item: &T) -> u32 {
        self.limiters.iter().map(|l| l.retries(item)).max().unwrap_or(0)
    }
}

/// client-go's default controller rate limiter: the larger of a per-item
/// exponential backoff (5 ms to 1,000 s) and a 10 qps / 100 burst bucket.
pub fn default_controller_rate_limiter<T>(clock: Arc<dyn Clock>) -> MaxOf<T>
where
    T: Eq + Hash + Clone + Send + Sync + fmt::Debug + 'static,
{
    MaxOf::new(vec![
        Box::new(ItemExponential::new(Duration::from_millis(5), Duration::from_secs(1000))),
        Box::new(TokenBucket::new(10.0, 100, clock)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::FakeClock;

    #[test]
    fn exponential_doubles_caps_and_resets() {
        let limiter = ItemExponential::new(Duration::from_millis(5), Duration::from_secs(1000));
        let waits: Vec<u128> = (0..5).map(|_| limiter.when(&"a").as_millis()).collect();
        assert_eq!(waits, [5, 10, 20, 40, 80]);
        assert_eq!(limiter.retries(&"a"), 5);
        assert_eq!(limiter.when(&"b"), Duration::from_millis(5), "items back off on their own");
        for _ in 0..40 {
            limiter.when(&"a");
        }
        assert_eq!(limiter.when(&"a"), Duration::from_secs(1000), "capped, without overflow");
        limiter.forget(&"a");
        assert_eq!(limiter.retries(&"a"), 0);
        assert_eq!(limiter.when(&"a"), Duration::from_millis(5), "a success starts over");
    }

    #[test]
    fn bucket_spends_its_burst_then_paces() {
        let clock = FakeClock::new();
        let bucket = TokenBucket::new(10.0, 3, Arc::new(clock.clone()));
        let waits: Vec<u128> = (0..5).map(|_| RateLimiter::<()>::when(&bucket, &()).as_millis()).collect();
        assert_eq!(waits, [0, 0, 0, 100, 200], "three from the burst, then one every 100 ms, booked ahead");
        clock.advance(Duration::from_secs(1));
        assert_eq!(RateLimiter::<()>::when(&bucket, &()), Duration::ZERO, "refilled after a second");
    }

    #[test]
    fn the_default_takes_the_larger_wait() {
        let clock = FakeClock::new();
        let limiter = default_controller_rate_limiter::<&str>(Arc::new(clock));
        assert_eq!(limiter.when(&"a"), Duration::from_millis(5));
        assert_eq!(limiter.when(&"a"), Duration::from_millis(10));
        assert_eq!(limiter.retries(&"a"), 2);
        limiter.forget(&"a");
        assert_eq!(limiter.retries(&"a"), 0);
        // 98 more attempts spend the bucket; then it paces every item.
        for i in 0..98 {
            limiter.when(&if i % 2 == 0 { "x" } else { "y" });
        }
        assert!(limiter.when(&"fresh") >= Duration::from_millis(5));
        assert!(limiter.when(&"fresh2") >= Duration::from_millis(100), "the bucket is empty");
    }
}
