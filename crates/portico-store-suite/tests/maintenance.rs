//! Housekeeping through the boundary: expired tokens, sessions and the OAuth flows' leftovers pruned a
//! batch at a time once they have been expired long enough, and two servers pruning at once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Duration, Utc};
use portico_domain::{CredentialKind, Digest, Role, UserId, ValidityWindow};
use portico_store::{
    AuthCodeRecord, DesktopCode, DesktopRefreshToken, NewCredential, NewUser, Pruned, RefreshTokenRecord, StoreError, TokenRecord,
};
use portico_store_suite::{backends, Fresh};

/// How long an expired row is kept, as the server keeps them.
fn keep() -> Duration {
    Duration::days(1)
}

/// A user with credential "c" (the owner of every row below); returns the user.
fn owner(b: &Fresh, now: DateTime<Utc>) -> UserId {
    b.write_ok(move |s| {
        let roles = [Role::Developer];
        let user = NewUser { username: "u", display_name: "u", password_hash: "x", roles: &roles, practices: &[], patient: None };
        let user = s.create_user(&user, now)?;
        s.insert_credential(
            &NewCredential {
                id: "c",
                kind: CredentialKind::Developer,
                owner: user,
                name: "n",
                note: None,
                client_id: "pci_dev_x",
                secret_digest: Digest([0; 32]),
                secret_hint: "h",
                window: ValidityWindow::default(),
                active: true,
                created_by: user,
                patients: &[],
                grant: None,
            },
            now,
        )?;
        Ok(user)
    })
    .unwrap()
}

/// A digest unique to (`kind`, `i`).
fn digest(kind: u8, i: usize) -> Digest {
    let mut d = [kind; 32];
    d[..8].copy_from_slice(&(i as u64).to_be_bytes());
    Digest(d)
}

fn token(i: usize, expires: DateTime<Utc>) -> TokenRecord {
    TokenRecord {
        digest: digest(1, i),
        credential_id: "c".into(),
        scope: "system/*.rs".into(),
        patient: None,
        issued_at: expires - Duration::hours(1),
        expires_at: expires,
        revoked_at: None,
        secret_generation: 0,
    }
}

/// Access token `i` and session `i`, both expiring at `expires`.
fn token_and_session(b: &Fresh, user: UserId, i: usize, expires: DateTime<Utc>) {
    b.write_ok(move |s| {
        s.insert_token(&token(i, expires))?;
        s.create_session(&digest(2, i), user, expires - Duration::hours(1), expires)
    })
    .unwrap();
}

#[test]
fn prunes_only_what_expired_long_enough_ago_a_batch_at_a_time() {
    // (expired how long ago, in hours (negative: still valid), pruned?)
    let ages = [(-1i64, false), (1, false), (23, false), (25, true), (48, true), (72, true)];
    for b in backends() {
        let now = Utc::now();
        let user = owner(&b, now);
        for (i, (age, _)) in ages.iter().enumerate() {
            token_and_session(&b, user, i, now - Duration::hours(*age));
        }
        let prune = |batch: usize| b.write_ok(move |s| s.prune_expired(now, keep(), batch)).unwrap();
        assert_eq!(prune(2), Pruned { tokens: 2, sessions: 2 }, "{}: a batch at a time", b.name);
        assert_eq!(prune(2), Pruned { tokens: 1, sessions: 1 }, "{}", b.name);
        assert_eq!(prune(2), Pruned { tokens: 0, sessions: 0 }, "{}", b.name);
        assert_eq!(b.read(|s| s.token_and_session_rows()).unwrap(), (3, 3), "{}: valid and recently expired stay", b.name);
        for (i, (age, pruned)) in ages.iter().enumerate() {
            let t = b.read(|s| s.token(&digest(1, i))).unwrap();
            assert_eq!(t.is_none(), *pruned, "{}: token expired {age} h ago", b.name);
        }
    }
}

#[test]
fn a_batch_of_nothing_prunes_nothing() {
    for b in backends() {
        let now = Utc::now();
        let user = owner(&b, now);
        token_and_session(&b, user, 0, now - Duration::days(3));
        assert_eq!(b.write_ok(move |s| s.prune_expired(now, keep(), 0)).unwrap(), Pruned::default(), "{}", b.name);
        assert_eq!(b.read(|s| s.token_and_session_rows()).unwrap(), (1, 1), "{}", b.name);
    }
}

#[test]
fn the_oauth_flows_leftovers_go_too() {
    for b in backends() {
        let now = Utc::now();
        let user = owner(&b, now);
        // Row 0 expired two days ago (pruned), row 1 an hour ago (kept for a late request).
        let expiries = [now - Duration::days(2), now - Duration::hours(1)];
        b.write_ok(move |s| {
            for (i, expires) in expiries.into_iter().enumerate() {
                let issued = expires - Duration::minutes(5);
                s.insert_auth_code(&AuthCodeRecord {
                    digest: digest(3, i),
                    credential_id: "c".into(),
                    redirect_uri: "https://app.example/cb".into(),
                    code_challenge: "challenge".into(),
                    nonce: None,
                    issued_at: issued,
                    expires_at: expires,
                    used_at: None,
                })?;
                s.insert_refresh_token(&RefreshTokenRecord {
                    digest: digest(4, i),
                    credential_id: "c".into(),
                    issued_at: issued,
                    expires_at: expires,
                    used_at: None,
                    revoked_at: None,
                })?;
                s.insert_desktop_code(&DesktopCode {
                    digest: digest(5, i),
                    user,
                    redirect_uri: "http://127.0.0.1:9/cb".into(),
                    code_challenge: "challenge".into(),
                    issued_at: issued,
                    expires_at: expires,
                    used_at: None,
                    family: None,
                })?;
                s.insert_desktop_refresh_token(&DesktopRefreshToken {
                    digest: digest(6, i),
                    family: format!("family-{i}"),
                    user,
                    issued_at: issued,
                    expires_at: expires,
                    used_at: None,
                    revoked_at: None,
                })?;
            }
            Ok(())
        })
        .unwrap();
        b.write_ok(move |s| s.prune_expired(now, keep(), 100)).unwrap();
        for (i, kept) in [(0, false), (1, true)] {
            let found = b.read(|s| {
                [
                    s.auth_code(&digest(3, i)).unwrap().is_some(),
                    s.refresh_token(&digest(4, i)).unwrap().is_some(),
                    s.desktop_code(&digest(5, i)).unwrap().is_some(),
                    s.desktop_refresh_token(&digest(6, i)).unwrap().is_some(),
                ]
            });
            assert_eq!(found, [kept; 4], "{}: row {i} (auth code, refresh token, desktop code, desktop refresh)", b.name);
        }
    }
}

#[test]
fn servers_pruning_at_once_delete_each_row_once() {
    const EXPIRED: usize = 60;
    const VALID: usize = 7;
    const THREADS: usize = 4;
    for b in backends() {
        let now = Utc::now();
        let user = owner(&b, now);
        b.write_ok(move |s| {
            for i in 0..EXPIRED + VALID {
                let expires = if i < EXPIRED { now - Duration::days(2) } else { now + Duration::hours(1) };
                s.insert_token(&token(i, expires))?;
                s.create_session(&digest(2, i), user, expires - Duration::hours(1), expires)?;
            }
            Ok(())
        })
        .unwrap();
        // Two servers on one database, each with its own connections and writer threads, pruning small batches at once.
        let other = b.another_server();
        let servers = [&b, &other];
        let pruned = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..THREADS)
                .map(|t| {
                    let server = servers[t % servers.len()];
                    scope.spawn(move || {
                        let mut total = Pruned::default();
                        loop {
                            match server.write_ok(move |s| s.prune_expired(now, keep(), 3)) {
                                Ok(p) if p == Pruned::default() => return total,
                                Ok(p) => {
                                    total.tokens += p.tokens;
                                    total.sessions += p.sessions;
                                }
                                // A lock timeout or deadlock is the caller's to retry, as the server does.
                                Err(StoreError::Busy) => {}
                                Err(e) => panic!("{e}"),
                            }
                        }
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap())
                .fold(Pruned::default(), |a, p| Pruned { tokens: a.tokens + p.tokens, sessions: a.sessions + p.sessions })
        });
        assert_eq!(pruned, Pruned { tokens: EXPIRED, sessions: EXPIRED }, "{}: each row counted once", b.name);
        assert_eq!(b.read(|s| s.token_and_session_rows()).unwrap(), (VALID as i64, VALID as i64), "{}", b.name);
    }
}
