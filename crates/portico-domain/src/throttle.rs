//! Throttling of failed authentication: sign-ins per account, token requests per client, and both per
//! network address. A few failures are free; after that each failure locks the key for twice as long as
//! the last, up to a ceiling. While a key is locked, attempts are refused without being checked or counted,
//! so an attacker cannot lengthen a lockout: it always ends at most `max_lock` after the last counted
//! failure, and the right password works after it. Failures are forgotten after a quiet period, and a
//! success clears its key.

use chrono::{DateTime, Duration, Utc};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Failures allowed before the first lock.
    pub free_failures: u32,
    /// The first lock; each further failure doubles it.
    pub first_lock: Duration,
    /// No lock lasts longer than this.
    pub max_lock: Duration,
    /// Failures older than this (with none since) are forgotten.
    pub forget_after: Duration,
}

impl ThrottlePolicy {
    /// For one account or one client id.
    pub const PER_KEY: ThrottlePolicy = ThrottlePolicy {
        free_failures: 5,
        first_lock: Duration::seconds(1),
        max_lock: Duration::seconds(300),
        forget_after: Duration::seconds(900),
    };
    /// For one network address, which many people may share (a clinic behind one router).
    pub const PER_ADDRESS: ThrottlePolicy = ThrottlePolicy {
        free_failures: 50,
        first_lock: Duration::seconds(1),
        max_lock: Duration::seconds(300),
        forget_after: Duration::seconds(900),
    };

    fn lock_for(&self, failures: u32) -> Duration {
        let beyond = failures.saturating_sub(self.free_failures + 1).min(30);
        let lock = self.first_lock * (1i32 << beyond.min(20));
        lock.min(self.max_lock)
    }
}

/// What is remembered of one key's failures (in the store, so every server sharing it counts them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThrottleEntry {
    pub failures: u32,
    pub last_failure: DateTime<Utc>,
    pub locked_until: Option<DateTime<Utc>>,
}

impl ThrottlePolicy {
    /// The policy of a key: an address (`addr:...`), which many people may share, or one account or client.
    pub fn for_key(key: &str) -> ThrottlePolicy {
        if key.starts_with("addr:") {
            ThrottlePolicy::PER_ADDRESS
        } else {
            ThrottlePolicy::PER_KEY
        }
    }

    /// The entry after one more failure at `now`: counted from scratch when the last one is older than
    /// `forget_after`, locked once past the free failures.
    pub fn after_failure(&self, prev: Option<ThrottleEntry>, now: DateTime<Utc>) -> ThrottleEntry {
        let failures = match prev {
            Some(e) if now - e.last_failure <= self.forget_after => e.failures.saturating_add(1),
            _ => 1,
        };
        let locked_until = (failures > self.free_failures).then(|| now + self.lock_for(failures));
        ThrottleEntry { failures, last_failure: now, locked_until }
    }
}

impl ThrottleEntry {
    /// `Some(seconds)` while the key is locked at `now`: refuse the attempt without checking it.
    pub fn locked_for(&self, now: DateTime<Utc>) -> Option<u64> {
        self.locked_until.filter(|until| *until > now).map(|until| seconds_until(until, now))
    }
}

fn seconds_until(until: DateTime<Utc>, now: DateTime<Utc>) -> u64 {
    let ms = (until - now).num_milliseconds().max(0) as u64;
    ms.div_ceil(1000).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    }

    /// `n` failures at `now`, one after another; the last entry.
    fn fail(policy: ThrottlePolicy, mut entry: Option<ThrottleEntry>, n: u32, now: DateTime<Utc>) -> ThrottleEntry {
        for _ in 0..n {
            entry = Some(policy.after_failure(entry, now));
        }
        entry.unwrap()
    }

    #[test]
    fn locks_grow_exponentially_after_the_free_failures_and_are_capped() {
        let now = t0();
        // (failure number, lock in seconds it causes)
        let table: &[(u32, Option<u64>)] = &[
            (1, None),
            (5, None),
            (6, Some(1)),
            (7, Some(2)),
            (8, Some(4)),
            (9, Some(8)),
            (14, Some(256)),
            (15, Some(300)),
            (40, Some(300)),
        ];
        for &(n, lock) in table {
            let e = fail(ThrottlePolicy::PER_KEY, None, n, now);
            assert_eq!((e.failures, e.locked_for(now)), (n, lock), "failure {n}");
        }
        // An address may fail fifty times before its first lock.
        assert_eq!(fail(ThrottlePolicy::for_key("addr:10.0.0.1"), None, 50, now).locked_for(now), None);
        assert_eq!(fail(ThrottlePolicy::for_key("addr:10.0.0.1"), None, 51, now).locked_for(now), Some(1));
    }

    #[test]
    fn a_lock_ends_by_itself() {
        let now = t0();
        let e = fail(ThrottlePolicy::PER_KEY, None, 6, now);
        assert_eq!(e.locked_for(now), Some(1));
        // Refused attempts are not counted (the caller records no failure for them), so the lock ends.
        assert_eq!(e.locked_for(now + Duration::milliseconds(1001)), None);
    }

    #[test]
    fn failures_are_forgotten_after_a_quiet_period() {
        let now = t0();
        let e = fail(ThrottlePolicy::PER_KEY, None, 5, now);
        let much_later = now + Duration::seconds(901);
        let next = ThrottlePolicy::PER_KEY.after_failure(Some(e), much_later);
        assert_eq!((next.failures, next.locked_for(much_later)), (1, None));
        let soon = ThrottlePolicy::PER_KEY.after_failure(Some(e), now + Duration::seconds(899));
        assert_eq!(soon.failures, 6);
    }
}
