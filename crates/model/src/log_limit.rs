//! A rate limit for repeated warnings (a full disk fails every append: one line per
//! failed request would flood the log while the operator frees space).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Lets one event through per `every`; counts the ones it holds back.
#[derive(Debug)]
pub struct LogLimit {
    every: Duration,
    /// Nanoseconds since `epoch` of the last event let through, plus one (0: none yet).
    last: AtomicU64,
    suppressed: AtomicU64,
    epoch: OnceLock<Instant>,
}

impl LogLimit {
    pub const fn new(every: Duration) -> LogLimit {
        LogLimit {
            every,
            last: AtomicU64::new(0),
            suppressed: AtomicU64::new(0),
            epoch: OnceLock::new(),
        }
    }

    /// `Some(n)` if this event should be logged, `n` being how many were held back
    /// since the last one logged; `None` if it should not.
    pub fn allow(&self) -> Option<u64> {
        self.allow_at(Instant::now())
    }

    fn allow_at(&self, now: Instant) -> Option<u64> {
        let epoch = *self.epoch.get_or_init(|| now);
        let now_ns = u64::try_from(now.saturating_duration_since(epoch).as_nanos())
            .unwrap_or(u64::MAX)
            .saturating_add(1);
        let every_ns = u64::try_from(self.every.as_nanos()).unwrap_or(u64::MAX);
        let last = self.last.load(Ordering::Relaxed);
        let due = last == 0 || now_ns.saturating_sub(last) >= every_ns;
        if due
            && self
                .last
                .compare_exchange(last, now_ns, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            return Some(self.suppressed.swap(0, Ordering::Relaxed));
        }
        self.suppressed.fetch_add(1, Ordering::Relaxed);
        None
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn lets_one_through_per_period_and_counts_the_rest() {
        let limit = LogLimit::new(Duration::from_secs(10));
        let t0 = Instant::now();
        assert_eq!(limit.allow_at(t0), Some(0));
        assert_eq!(limit.allow_at(t0 + Duration::from_secs(1)), None);
        assert_eq!(limit.allow_at(t0 + Duration::from_secs(9)), None);
        assert_eq!(limit.allow_at(t0 + Duration::from_secs(10)), Some(2));
        assert_eq!(limit.allow_at(t0 + Duration::from_secs(11)), None);
        assert_eq!(limit.allow_at(t0 + Duration::from_secs(25)), Some(1));
    }
}
