//! The throttle of failed authentication and the signing keys: state every server sharing a database
//! agrees on, so each is checked with writers racing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{Duration, Utc};
use portico_domain::ThrottlePolicy;
use portico_store_suite::backends;

#[test]
fn failures_counted_at_once_are_all_counted_and_lock_the_key() {
    for b in backends() {
        let now = Utc::now();
        let policy = ThrottlePolicy::PER_KEY;
        // Twenty failures of one key from eight writers at once (as from several servers): none is lost.
        std::thread::scope(|scope| {
            for _ in 0..4 {
                let b = &b;
                scope.spawn(move || {
                    for _ in 0..5 {
                        b.write_ok(move |s| s.record_throttle_failure("user:ada", policy, now)).unwrap();
                    }
                });
            }
        });
        let keys = vec!["user:ada".to_owned(), "addr:10.0.0.1".to_owned()];
        let entries = b.read(|s| s.throttle_entries(&keys).unwrap());
        assert_eq!(entries.len(), 1, "{}: a key that never failed is absent", b.name);
        let (key, e) = &entries[0];
        assert_eq!((key.as_str(), e.failures), ("user:ada", 20), "{}", b.name);
        assert_eq!(e.locked_for(now), Some(300), "{}: 20 failures lock for the longest", b.name);
        // A success forgets them; another key is untouched.
        b.write_ok(move |s| {
            s.record_throttle_failure("addr:10.0.0.1", ThrottlePolicy::PER_ADDRESS, now)?;
            s.clear_throttle("user:ada")
        })
        .unwrap();
        let entries = b.read(|s| s.throttle_entries(&keys).unwrap());
        assert_eq!(
            entries.iter().map(|(k, e)| (k.as_str(), e.failures)).collect::<Vec<_>>(),
            [("addr:10.0.0.1", 1)],
            "{}",
            b.name
        );
    }
}

#[test]
fn quiet_unlocked_keys_are_pruned_and_locked_ones_kept() {
    for b in backends() {
        let now = Utc::now();
        let long_ago = now - Duration::hours(1);
        let pruned = b
            .write_ok(move |s| {
                s.record_throttle_failure("quiet", ThrottlePolicy::PER_KEY, long_ago)?;
                s.record_throttle_failure("recent", ThrottlePolicy::PER_KEY, now)?;
                s.prune_throttle(now - Duration::minutes(15), 100)
            })
            .unwrap();
        assert_eq!(pruned, 1, "{}", b.name);
        let keys = vec!["quiet".to_owned(), "recent".to_owned()];
        let left: Vec<String> = b.read(|s| s.throttle_entries(&keys).unwrap().into_iter().map(|(k, _)| k).collect());
        assert_eq!(left, ["recent"], "{}", b.name);
    }
}

#[test]
fn the_first_signing_keys_stored_win_until_replaced() {
    for b in backends() {
        assert_eq!(b.read(|s| s.signing_keys().unwrap()), None, "{}", b.name);
        let now = Utc::now();
        // Servers starting at once each offer keys; exactly one set is stored and all of them read it.
        let stored: Vec<bool> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..4)
                .map(|i| {
                    let b = &b;
                    scope.spawn(move || b.write_ok(move |s| s.store_signing_keys(&format!("pem {i}"), false, now)).unwrap())
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(stored.iter().filter(|s| **s).count(), 1, "{}: {stored:?}", b.name);
        let winner = stored.iter().position(|s| *s).unwrap();
        assert_eq!(b.read(|s| s.signing_keys().unwrap()), Some(format!("pem {winner}")), "{}", b.name);
        assert!(b.write_ok(move |s| s.store_signing_keys("rotated", true, now)).unwrap(), "{}", b.name);
        assert_eq!(b.read(|s| s.signing_keys().unwrap()).as_deref(), Some("rotated"), "{}", b.name);
    }
}

/// Keys presented from outside may hold a NUL (a client id, a username, a `jti`, a throttle key); nothing
/// stored does, so each finds nothing and is counted like any other, on PostgreSQL (whose TEXT cannot hold
/// a NUL) as on SQLite, instead of failing the statement.
#[test]
fn keys_holding_a_nul_find_nothing_and_fail_nothing() {
    for b in backends() {
        let now = Utc::now();
        let k = "client:\0x".to_owned();
        b.read(|s| {
            assert!(s.user_by_username("ad\0a").unwrap().is_none(), "{}", b.name);
            assert!(s.credential_by_client_id("pci\0").unwrap().is_none(), "{}", b.name);
            assert!(s.credential("\0").unwrap().is_none(), "{}", b.name);
            assert!(s.app_by_client_id("pci_smart_\0").unwrap().is_none(), "{}", b.name);
            assert!(s.app("\0").unwrap().is_none(), "{}", b.name);
            assert!(s.read_resource("Patient", "a\0b").unwrap().is_none(), "{}", b.name);
        });
        let key = k.clone();
        let (fresh, replay) = b
            .write_ok(move |s| {
                s.record_throttle_failure(&key, ThrottlePolicy::PER_KEY, now)?;
                s.record_auth_failure(portico_domain::AuthDoor::Token, "client \0", now)?;
                let fresh = s.record_jti("pci\0", "j\0ti", now + Duration::minutes(5), now)?;
                let replay = s.record_jti("pci\0", "j\0ti", now + Duration::minutes(5), now)?;
                Ok((fresh, replay))
            })
            .unwrap();
        assert_eq!((fresh, replay), (true, false), "{}: a jti with a NUL is spent once", b.name);
        let entries = b.read(|s| s.throttle_entries(std::slice::from_ref(&k)).unwrap());
        assert_eq!(entries.iter().map(|(key, e)| (key.clone(), e.failures)).collect::<Vec<_>>(), [(k.clone(), 1)], "{}", b.name);
        let key = k.clone();
        b.write_ok(move |s| s.clear_throttle(&key)).unwrap();
        assert!(b.read(|s| s.throttle_entries(std::slice::from_ref(&k)).unwrap()).is_empty(), "{}", b.name);
    }
}
