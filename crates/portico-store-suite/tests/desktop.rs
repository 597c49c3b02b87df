//! The desktop app's browser sign-in on every backend: single-use codes, rotating refresh tokens in families
//! and the sessions a family minted; one-shot uses raced from several writers, and a sign-out racing a refresh.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Barrier};

use chrono::{DateTime, Duration, TimeZone, Utc};
use portico_domain::{Digest, UserId};
use portico_store::{DesktopCode, DesktopRefreshToken, NewUser, Result, WriteStore};
use portico_store_suite::{backends, Fresh};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap()
}

fn person(b: &Fresh, username: &'static str) -> UserId {
    b.write_ok(move |s| {
        s.create_user(
            &NewUser { username, display_name: "P", password_hash: "x", roles: &[], practices: &[], patient: None },
            t0(),
        )
    })
    .unwrap()
}

fn code(n: u8, user: UserId) -> DesktopCode {
    DesktopCode {
        digest: Digest([n; 32]),
        user,
        redirect_uri: "http://127.0.0.1:5000/callback".into(),
        code_challenge: "c".into(),
        issued_at: t0(),
        expires_at: t0() + Duration::seconds(60),
        used_at: None,
        family: None,
    }
}

fn refresh(n: u8, family: &str, user: UserId) -> DesktopRefreshToken {
    DesktopRefreshToken {
        digest: Digest([n; 32]),
        family: family.into(),
        user,
        issued_at: t0(),
        expires_at: t0() + Duration::days(30),
        used_at: None,
        revoked_at: None,
    }
}

/// Runs `f` as `n` write jobs submitted at the same moment from `n` threads, alternately to two servers
/// sharing the database (each with its own writer threads); what each answered.
fn race<T: Send + 'static>(
    servers: [&Fresh; 2],
    n: usize,
    f: impl Fn(usize, &mut dyn WriteStore) -> Result<T> + Clone + Send + 'static,
) -> Vec<T> {
    let start = Arc::new(Barrier::new(n));
    std::thread::scope(|scope| {
        let runs: Vec<_> = (0..n)
            .map(|i| {
                let (f, start, b) = (f.clone(), start.clone(), servers[i % 2]);
                scope.spawn(move || {
                    start.wait();
                    b.write_ok(move |s| f(i, s)).unwrap()
                })
            })
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    })
}

#[test]
fn a_family_ends_with_its_sessions_and_codes_are_single_use() {
    for b in backends() {
        let now = t0();
        let user = person(&b, "p");
        let c = code(1, user);
        let stored = c.clone();
        b.write_ok(move |s| s.insert_desktop_code(&stored)).unwrap();
        let got = b.read(|s| s.desktop_code(&Digest([1; 32])).unwrap()).unwrap();
        assert_eq!(format!("{got:?}"), format!("{c:?}"), "{}", b.name);
        assert!(b.read(|s| s.desktop_code(&Digest([9; 32])).unwrap()).is_none(), "{}", b.name);
        assert!(b.write_ok(move |s| s.use_desktop_code(&Digest([1; 32]), "fam", now)).unwrap(), "{}", b.name);
        assert!(!b.write_ok(move |s| s.use_desktop_code(&Digest([1; 32]), "fam2", now)).unwrap(), "{}", b.name);
        assert!(!b.write_ok(move |s| s.use_desktop_code(&Digest([9; 32]), "fam3", now)).unwrap(), "{}: unknown", b.name);
        let used = b.read(|s| s.desktop_code(&Digest([1; 32])).unwrap()).unwrap();
        assert_eq!((used.family.as_deref(), used.used_at), (Some("fam"), Some(now)), "{}", b.name);

        let rt = refresh(2, "fam", user);
        let stored = rt.clone();
        b.write_ok(move |s| {
            s.insert_desktop_refresh_token(&stored)?;
            s.insert_desktop_refresh_token(&refresh(5, "other", user))?;
            s.create_family_session(&Digest([3; 32]), user, "fam", now, now + Duration::minutes(15))?;
            s.create_family_session(&Digest([6; 32]), user, "other", now, now + Duration::minutes(15))?;
            s.create_session(&Digest([4; 32]), user, now, now + Duration::minutes(15))
        })
        .unwrap();
        let got = b.read(|s| s.desktop_refresh_token(&Digest([2; 32])).unwrap()).unwrap();
        assert_eq!(format!("{got:?}"), format!("{rt:?}"), "{}", b.name);
        assert!(b.read(|s| s.desktop_refresh_token(&Digest([9; 32])).unwrap()).is_none(), "{}", b.name);
        assert_eq!(b.read(|s| s.session_user(&Digest([3; 32]), now).unwrap()), Some(user), "{}", b.name);
        let family = |n: u8| b.read(move |s| s.session_family(&Digest([n; 32])).unwrap());
        assert_eq!(family(3).as_deref(), Some("fam"), "{}", b.name);
        assert_eq!(family(4), None, "{}: a password session has no family", b.name);
        assert_eq!(family(9), None, "{}: no such session", b.name);

        let later = now + Duration::minutes(1);
        b.write_ok(move |s| s.revoke_desktop_family("fam", later)).unwrap();
        assert_eq!(b.read(|s| s.session_user(&Digest([3; 32]), later).unwrap()), None, "{}: the family's session ends", b.name);
        assert_eq!(
            b.read(|s| s.session_user(&Digest([4; 32]), later).unwrap()),
            Some(user),
            "{}: another session does not",
            b.name
        );
        assert_eq!(b.read(|s| s.session_user(&Digest([6; 32]), later).unwrap()), Some(user), "{}: nor another family's", b.name);
        assert!(!b.write_ok(move |s| s.use_desktop_refresh_token(&Digest([2; 32]), later)).unwrap(), "{}: revoked", b.name);
        assert_eq!(b.read(|s| s.desktop_refresh_token(&Digest([2; 32])).unwrap()).unwrap().revoked_at, Some(later), "{}", b.name);
        // Revoking again keeps the first instant.
        b.write_ok(move |s| s.revoke_desktop_family("fam", later + Duration::hours(1))).unwrap();
        assert_eq!(b.read(|s| s.desktop_refresh_token(&Digest([2; 32])).unwrap()).unwrap().revoked_at, Some(later), "{}", b.name);

        // The other family's token rotates once.
        assert!(b.write_ok(move |s| s.use_desktop_refresh_token(&Digest([5; 32]), later)).unwrap(), "{}", b.name);
        assert!(!b.write_ok(move |s| s.use_desktop_refresh_token(&Digest([5; 32]), later)).unwrap(), "{}: a replay", b.name);
        assert!(!b.write_ok(move |s| s.use_desktop_refresh_token(&Digest([9; 32]), later)).unwrap(), "{}: unknown", b.name);
        let other = b.read(|s| s.desktop_refresh_token(&Digest([5; 32])).unwrap()).unwrap();
        assert_eq!((other.used_at, other.revoked_at), (Some(later), None), "{}", b.name);
    }
}

/// Housekeeping (the maintenance area's `prune_expired`) keeps the sign-in's rows until a day past expiry.
#[test]
fn expired_sign_in_rows_are_pruned_after_the_grace() {
    for b in backends() {
        let now = t0();
        let user = person(&b, "p");
        b.write_ok(move |s| {
            s.insert_desktop_code(&code(1, user))?;
            s.insert_desktop_refresh_token(&refresh(2, "fam", user))?;
            s.use_desktop_refresh_token(&Digest([2; 32]), now).map(drop)
        })
        .unwrap();
        b.write_ok(move |s| s.prune_expired(now + Duration::days(30), Duration::days(1), 100)).unwrap();
        assert!(
            b.read(|s| s.desktop_refresh_token(&Digest([2; 32])).unwrap()).is_some(),
            "{}: kept through its lifetime",
            b.name
        );
        b.write_ok(move |s| s.prune_expired(now + Duration::days(32), Duration::days(1), 100)).unwrap();
        assert!(b.read(|s| s.desktop_refresh_token(&Digest([2; 32])).unwrap()).is_none(), "{}", b.name);
        assert!(b.read(|s| s.desktop_code(&Digest([1; 32])).unwrap()).is_none(), "{}", b.name);
    }
}

#[test]
fn a_code_or_refresh_token_used_by_several_writers_at_once_is_used_once() {
    const FAMILIES: [&str; 4] = ["f0", "f1", "f2", "f3"];
    for b in backends() {
        let other = b.another_server();
        let user = person(&b, "p");
        for round in 0..5u8 {
            b.write_ok(move |s| {
                s.insert_desktop_code(&code(10 + round, user))?;
                s.insert_desktop_refresh_token(&refresh(20 + round, "fam", user))
            })
            .unwrap();
            let won = race([&b, &other], 4, move |i, s| s.use_desktop_code(&Digest([10 + round; 32]), FAMILIES[i], t0()));
            assert_eq!(won.iter().filter(|w| **w).count(), 1, "{}: code, round {round}", b.name);
            // The code names the winner's family, no other.
            let winner = won.iter().position(|w| *w).unwrap();
            let family = b.read(|s| s.desktop_code(&Digest([10 + round; 32])).unwrap()).unwrap().family;
            assert_eq!(family.as_deref(), Some(FAMILIES[winner]), "{}: round {round}", b.name);

            let won = race([&b, &other], 4, move |_, s| s.use_desktop_refresh_token(&Digest([20 + round; 32]), t0()));
            assert_eq!(won.iter().filter(|w| **w).count(), 1, "{}: refresh token, round {round}", b.name);
        }
    }
}

/// A sign-out on one writer while a refresh of the same sign-in is halfway on another: whichever comes
/// first, nothing of the family outlives the sign-out (no refresh token the refresh minted stays usable,
/// no session it minted stays live).
#[test]
fn a_sign_out_racing_a_refresh_leaves_nothing_of_the_sign_in() {
    for b in backends() {
        let other = b.another_server();
        let user = person(&b, "p");
        for round in 0..10u8 {
            let family: &'static str = ["s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9"][round as usize];
            let (old, new, session) = (Digest([30 + round; 32]), Digest([60 + round; 32]), Digest([90 + round; 32]));
            b.write_ok(move |s| s.insert_desktop_refresh_token(&refresh(30 + round, family, user))).unwrap();
            // Alternate who starts first; the refresh pauses between marking its token used and minting, as a
            // server does while it checks the user, so the sign-out lands in the middle.
            let refresh_first = round % 2 == 0;
            race([&b, &other], 2, move |i, s| -> Result<bool> {
                let is_refresh = (i == 0) == refresh_first;
                if is_refresh {
                    if !refresh_first {
                        std::thread::sleep(std::time::Duration::from_millis(30));
                    }
                    if !s.use_desktop_refresh_token(&old, t0())? {
                        s.revoke_desktop_family(family, t0())?;
                        return Ok(false);
                    }
                    std::thread::sleep(std::time::Duration::from_millis(120));
                    s.create_family_session(&session, user, family, t0(), t0() + Duration::minutes(15))?;
                    s.insert_desktop_refresh_token(&refresh(60 + round, family, user))?;
                    Ok(true)
                } else {
                    if refresh_first {
                        std::thread::sleep(std::time::Duration::from_millis(30));
                    }
                    s.revoke_desktop_family(family, t0())?;
                    Ok(false)
                }
            });
            let minted = b.read(|s| s.desktop_refresh_token(&new).unwrap());
            if let Some(t) = minted {
                assert!(t.revoked_at.is_some(), "{}: round {round}: a token minted by the refresh outlived the sign-out", b.name);
            }
            assert_eq!(b.read(|s| s.session_user(&session, t0()).unwrap()), None, "{}: round {round}: a live session", b.name);
            let spent = b.read(|s| s.desktop_refresh_token(&old).unwrap()).unwrap();
            assert!(spent.revoked_at.is_some() || spent.used_at.is_some(), "{}: round {round}", b.name);
            assert!(!b.write_ok(move |s| s.use_desktop_refresh_token(&old, t0())).unwrap(), "{}: round {round}", b.name);
        }
    }
}
