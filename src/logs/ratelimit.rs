//! A token bucket for log bytes, sans-IO: time is passed in, so the
//! arithmetic is tested exactly and the reactor decides how to wait.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// What happens to output beyond the budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    /// Stop reading the pipe, so the container's writes block: nothing is lost.
    #[default]
    Block,
    /// Read and discard the excess, and say so in the log.
    Drop,
}

/// A rate limit: bytes per second with a burst allowance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Limit {
    /// Sustained rate in bytes per second (> 0).
    pub bytes_per_second: u64,
    /// Bytes that may be written at once after a quiet spell (> 0).
    pub burst: u64,
    /// What to do with output beyond the budget.
    #[serde(default)]
    pub policy: Policy,
}

/// The bucket's state.
#[derive(Debug, Clone)]
pub struct Bucket {
    limit: Limit,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    /// A full bucket.
    pub fn new(limit: Limit, now: Instant) -> Self {
        Bucket {
            limit,
            tokens: limit.burst as f64,
            last: now,
        }
    }

    /// The limit in force.
    pub fn limit(&self) -> Limit {
        self.limit
    }

    /// Changes the limit, keeping the tokens (capped at the new burst).
    pub fn set_limit(&mut self, limit: Limit, now: Instant) {
        self.refill(now);
        self.limit = limit;
        self.tokens = self.tokens.min(limit.burst as f64);
    }

    fn refill(&mut self, now: Instant) {
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens =
            (self.tokens + dt * self.limit.bytes_per_second as f64).min(self.limit.burst as f64);
    }

    /// Bytes that may pass now (whole bytes only).
    pub fn available(&mut self, now: Instant) -> u64 {
        self.refill(now);
        self.tokens.max(0.0) as u64
    }

    /// Spends `n` bytes; the balance may go negative (a read larger than the
    /// budget under the block policy), which `wait_for` then pays back.
    pub fn spend(&mut self, n: u64, now: Instant) {
        self.refill(now);
        self.tokens -= n as f64;
    }

    /// How long until at least `n` bytes (at most the burst) may pass.
    pub fn wait_for(&mut self, n: u64, now: Instant) -> Duration {
        self.refill(now);
        let want = (n.min(self.limit.burst)) as f64;
        if self.tokens >= want {
            return Duration::ZERO;
        }
        Duration::from_secs_f64((want - self.tokens) / self.limit.bytes_per_second as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(rate: u64, burst: u64) -> Limit {
        Limit {
            bytes_per_second: rate,
            burst,
            policy: Policy::Block,
        }
    }

    #[test]
    fn starts_full_and_refills_at_the_rate() {
        let t0 = Instant::now();
        let mut b = Bucket::new(limit(1000, 500), t0);
        assert_eq!(b.available(t0), 500);
        b.spend(500, t0);
        assert_eq!(b.available(t0), 0);
        assert_eq!(b.available(t0 + Duration::from_millis(100)), 100);
        assert_eq!(
            b.available(t0 + Duration::from_secs(10)),
            500,
            "capped at the burst"
        );
    }

    #[test]
    fn debt_is_paid_back_before_more_passes() {
        let t0 = Instant::now();
        let mut b = Bucket::new(limit(1000, 100), t0);
        b.spend(1100, t0); // balance -1000
        assert_eq!(b.available(t0), 0);
        let w = b.wait_for(1, t0);
        assert!((w.as_secs_f64() - 1.001).abs() < 1e-9, "{w:?}");
        assert_eq!(b.available(t0 + Duration::from_secs(1)), 0);
        assert_eq!(b.available(t0 + Duration::from_millis(1050)), 50);
    }

    #[test]
    fn wait_is_capped_at_the_burst() {
        let t0 = Instant::now();
        let mut b = Bucket::new(limit(100, 10), t0);
        b.spend(10, t0);
        assert_eq!(b.wait_for(1_000_000, t0), Duration::from_millis(100));
    }

    #[test]
    fn long_run_rate_holds() {
        // Feed 64 KiB reads for 5 simulated seconds; what passes must be
        // rate*5 + burst within a read.
        let t0 = Instant::now();
        let mut b = Bucket::new(limit(1 << 20, 64 << 10), t0);
        let mut now = t0;
        let mut passed = 0u64;
        while now < t0 + Duration::from_secs(5) {
            now += b.wait_for(64 << 10, now);
            let n = b.available(now).min(64 << 10);
            b.spend(n, now);
            passed += n;
            now += Duration::from_micros(10);
        }
        let expect = 5 * (1u64 << 20) + (64 << 10);
        assert!(passed.abs_diff(expect) <= 64 << 10, "{passed} vs {expect}");
    }

    #[test]
    fn lowering_the_limit_caps_the_tokens() {
        let t0 = Instant::now();
        let mut b = Bucket::new(limit(1000, 1000), t0);
        b.set_limit(limit(10, 10), t0);
        assert_eq!(b.available(t0), 10);
    }
}
