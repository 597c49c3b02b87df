//! Throttling of failed authentication: sign-ins per account, token requests per client, and both per
//! network address. A few failures are free; after that each failure locks the key for twice as long as
//! the last, up to a ceiling. While a key is locked, attempts are refused without being checked or counted,
//! so an attacker cannot lengthen a lockout: it always ends at most `max_lock` after the last counted
//! failure, and the right password works after it. Failures are forgotten after a quiet period, and a
//! success clears its key.

use std::collections::HashMap;

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

#[derive(Clone, Copy, Debug)]
struct Entry {
    failures: u32,
    last_failure: DateTime<Utc>,
    locked_until: Option<DateTime<Utc>>,
}

/// Keeps at most this many keys; beyond it, forgotten and then the oldest entries are dropped, so a flood
/// of distinct keys cannot grow memory without bound.
const MAX_KEYS: usize = 100_000;

#[derive(Debug)]
pub struct Throttle {
    policy: ThrottlePolicy,
    entries: HashMap<String, Entry>,
}

impl Throttle {
    pub fn new(policy: ThrottlePolicy) -> Throttle {
        Throttle { policy, entries: HashMap::new() }
    }

    /// `Err(seconds)` while `key` is locked: refuse the attempt without checking it.
    pub fn check(&self, key: &str, now: DateTime<Utc>) -> Result<(), u64> {
        match self.entries.get(key).and_then(|e| e.locked_until) {
            Some(until) if until > now => Err(seconds_until(until, now)),
            _ => Ok(()),
        }
    }

    /// Counts a failed attempt; `Some(seconds)` when the key is now locked.
    pub fn failed(&mut self, key: &str, now: DateTime<Utc>) -> Option<u64> {
        if self.entries.len() >= MAX_KEYS && !self.entries.contains_key(key) {
            self.prune(now);
        }
        let policy = self.policy;
        let e = self.entries.entry(key.to_owned()).or_insert(Entry { failures: 0, last_failure: now, locked_until: None });
        if now - e.last_failure > policy.forget_after {
            *e = Entry { failures: 0, last_failure: now, locked_until: None };
        }
        e.failures = e.failures.saturating_add(1);
        e.last_failure = now;
        if e.failures > policy.free_failures {
            let until = now + policy.lock_for(e.failures);
            e.locked_until = Some(until);
            return Some(seconds_until(until, now));
        }
        None
    }

    pub fn succeeded(&mut self, key: &str) {
        self.entries.remove(key);
    }

    fn prune(&mut self, now: DateTime<Utc>) {
        let forget = self.policy.forget_after;
        self.entries.retain(|_, e| now - e.last_failure <= forget);
        if self.entries.len() >= MAX_KEYS {
            let mut ages: Vec<DateTime<Utc>> = self.entries.values().map(|e| e.last_failure).collect();
            ages.sort();
            let cut = ages[ages.len() / 2];
            self.entries.retain(|_, e| e.last_failure > cut);
        }
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

    #[test]
    fn locks_grow_exponentially_after_the_free_failures_and_are_capped() {
        let mut th = Throttle::new(ThrottlePolicy::PER_KEY);
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
        let mut n = 0;
        for &(upto, lock) in table {
            let mut last = None;
            while n < upto {
                n += 1;
                last = th.failed("user:a", now);
            }
            assert_eq!(last, lock, "failure {upto}");
        }
    }

    #[test]
    fn a_lock_ends_and_cannot_be_extended_by_refused_attempts() {
        let mut th = Throttle::new(ThrottlePolicy::PER_KEY);
        let now = t0();
        for _ in 0..6 {
            th.failed("user:a", now);
        }
        assert_eq!(th.check("user:a", now), Err(1));
        // Refused attempts are not counted (the caller does not call `failed` for them), so the lock ends.
        let later = now + Duration::milliseconds(1001);
        assert_eq!(th.check("user:a", later), Ok(()));
        // Another key is unaffected throughout.
        assert_eq!(th.check("user:b", now), Ok(()));
        // A success clears the key entirely.
        th.succeeded("user:a");
        assert_eq!(th.failed("user:a", later), None);
    }

    #[test]
    fn failures_are_forgotten_after_a_quiet_period() {
        let mut th = Throttle::new(ThrottlePolicy::PER_KEY);
        let now = t0();
        for _ in 0..5 {
            th.failed("k", now);
        }
        let much_later = now + Duration::seconds(901);
        assert_eq!(th.failed("k", much_later), None);
    }

    #[test]
    fn memory_stays_bounded_under_a_flood_of_keys() {
        let mut th = Throttle::new(ThrottlePolicy::PER_KEY);
        let now = t0();
        for i in 0..(MAX_KEYS + 10) {
            th.failed(&format!("client:{i}"), now + Duration::milliseconds(i as i64));
        }
        assert!(th.entries.len() <= MAX_KEYS);
    }
}
