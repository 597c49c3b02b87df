//! Access-change notices on every backend: kept, found by owner and by practice, acknowledged once (also when
//! two servers acknowledge at the same moment), and never otherwise changed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Barrier};

use chrono::{DateTime, Duration, Utc};
use portico_domain::{
    AccessChangeCause, AccessDiff, CredentialKind, Digest, PatientId, PracticeId, Role, UserId, ValidityWindow,
};
use portico_store::{AccessChangeRecord, NewAccessChange, NewCredential, NewUser};
use portico_store_postgres::{PgDatabase, PgSettings};
use portico_store_suite::{backends, create_database, postgres_url, Fresh};

fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_780_000_000, 0).unwrap()
}

/// Two practices, a developer in the first, and their key `k`.
fn setup(b: &Fresh) -> (UserId, PracticeId, PracticeId) {
    b.write_ok(|s| {
        let (one, two) = (s.create_practice("One")?, s.create_practice("Two")?);
        let owner = s.create_user(
            &NewUser {
                username: "dev",
                display_name: "Dev",
                password_hash: "x",
                roles: &[Role::Developer],
                practices: &[one],
                patient: None,
            },
            t0(),
        )?;
        s.insert_credential(
            &NewCredential {
                id: "k",
                kind: CredentialKind::Developer,
                owner,
                name: "Lab sync",
                note: None,
                client_id: "client-k",
                secret_digest: Digest([0; 32]),
                secret_hint: "hint",
                window: ValidityWindow::default(),
                active: true,
                created_by: owner,
                patients: &[],
                grant: None,
            },
            t0(),
        )?;
        Ok((owner, one, two))
    })
    .unwrap()
}

fn ids(v: Vec<AccessChangeRecord>) -> Vec<i64> {
    v.into_iter().map(|c| c.id).collect()
}

#[test]
fn notices_are_kept_found_by_practice_and_acknowledged_once() {
    for b in backends() {
        let (owner, one, two) = setup(&b);
        let diff = AccessDiff {
            practices_lost: vec![one],
            practices_gained: vec![two],
            patients_lost: vec![PatientId("p1".into())],
            ..Default::default()
        };
        let d = diff.clone();
        let (first, second) = b
            .write_ok(move |s| {
                let new = NewAccessChange {
                    credential_id: "k",
                    owner,
                    changed_by: Some(owner),
                    cause: AccessChangeCause::Practices,
                    diff: &d,
                    practices: &[one, two, one],
                };
                let first = s.record_access_change(&new, t0())?;
                let roles = NewAccessChange { practices: &[two], changed_by: None, cause: AccessChangeCause::Roles, ..new };
                Ok((first, s.record_access_change(&roles, t0() + Duration::seconds(1))?))
            })
            .unwrap();
        assert!(second > first, "{}", b.name);
        b.read(|s| {
            let got = s.access_change(first).unwrap().expect("kept");
            assert_eq!(
                got,
                AccessChangeRecord {
                    id: first,
                    credential_id: "k".into(),
                    owner,
                    changed_by: Some(owner),
                    cause: AccessChangeCause::Practices,
                    at: t0(),
                    diff: diff.clone(),
                    acknowledged_at: None,
                },
                "{}",
                b.name
            );
            let roles = s.access_change(second).unwrap().unwrap();
            assert_eq!((roles.changed_by, roles.cause), (None, AccessChangeCause::Roles), "{}", b.name);
            assert!(s.access_change(999).unwrap().is_none(), "{}", b.name);
            assert_eq!(ids(s.unacknowledged_access_changes(owner).unwrap()), [second, first], "{}: newest first", b.name);
            assert!(s.unacknowledged_access_changes(UserId(999)).unwrap().is_empty(), "{}", b.name);
            // By practice, since an instant (inclusive), newest first, each notice once.
            let cases: [(&[PracticeId], DateTime<Utc>, Vec<i64>); 6] = [
                (&[one], t0() - Duration::days(1), vec![first]),
                (&[two], t0(), vec![second, first]),
                (&[one, two], t0(), vec![second, first]),
                (&[one, two], t0() + Duration::seconds(1), vec![second]),
                (&[one], t0() + Duration::seconds(1), vec![]),
                (&[], t0(), vec![]),
            ];
            for (practices, since, want) in cases {
                assert_eq!(
                    ids(s.access_changes_for_practices(practices, since).unwrap()),
                    want,
                    "{}: {practices:?} {since}",
                    b.name
                );
            }
        });
        let later = t0() + Duration::hours(1);
        let acks = b
            .write_ok(move |s| {
                Ok([
                    s.acknowledge_access_change(first, later)?,
                    s.acknowledge_access_change(first, later + Duration::hours(1))?,
                    s.acknowledge_access_change(999, later)?,
                ])
            })
            .unwrap();
        assert_eq!(acks, [true, false, false], "{}: once, and only what exists", b.name);
        b.read(|s| {
            assert_eq!(s.access_change(first).unwrap().unwrap().acknowledged_at, Some(later), "{}", b.name);
            assert_eq!(ids(s.unacknowledged_access_changes(owner).unwrap()), [second], "{}", b.name);
            assert_eq!(ids(s.access_changes_for_practices(&[one], t0()).unwrap()), [first], "{}: acknowledged or not", b.name);
        });
        // A notice is about a real credential.
        let bad = b.write_ok(move |s| {
            let diff = AccessDiff { reaches_nothing: true, ..Default::default() };
            let new = NewAccessChange {
                credential_id: "no such key",
                owner,
                changed_by: None,
                cause: AccessChangeCause::Roles,
                diff: &diff,
                practices: &[one],
            };
            s.record_access_change(&new, t0())
        });
        assert!(bad.is_err(), "{}: {bad:?}", b.name);
    }
}

#[test]
fn two_servers_acknowledging_one_notice_acknowledge_it_once() {
    for b in backends() {
        let other = b.another_server();
        let (owner, one, _) = setup(&b);
        for round in 0..12 {
            let id = b
                .write_ok(move |s| {
                    let diff = AccessDiff { reaches_again: true, ..Default::default() };
                    let new = NewAccessChange {
                        credential_id: "k",
                        owner,
                        changed_by: None,
                        cause: AccessChangeCause::Roles,
                        diff: &diff,
                        practices: &[one],
                    };
                    s.record_access_change(&new, t0())
                })
                .unwrap();
            let barrier = Arc::new(Barrier::new(2));
            let (a, z) = std::thread::scope(|scope| {
                let wait = barrier.clone();
                let b = &b;
                let left = scope.spawn(move || {
                    wait.wait();
                    b.write_ok(move |s| s.acknowledge_access_change(id, t0()))
                });
                barrier.wait();
                let right = other.write_ok(move |s| s.acknowledge_access_change(id, t0() + Duration::seconds(1)));
                (left.join().unwrap().unwrap(), right.unwrap())
            });
            assert!(a ^ z, "{}: round {round}: exactly one acknowledges it ({a}, {z})", b.name);
            let at = b.read(|s| s.access_change(id).unwrap().unwrap().acknowledged_at);
            assert_eq!(at, Some(if a { t0() } else { t0() + Duration::seconds(1) }), "{}: the winner's instant stays", b.name);
        }
        assert!(b.read(|s| s.unacknowledged_access_changes(owner).unwrap()).is_empty(), "{}", b.name);
    }
}

/// The triggers behind "append-only apart from the one acknowledgement", tried with statements the store
/// never runs (SQLite's are tested beside its store; this is PostgreSQL's).
#[test]
fn on_postgres_nothing_but_the_acknowledgement_ever_changes() {
    let Some(admin) = postgres_url() else {
        eprintln!("note: PORTICO_TEST_PG is not set; nothing to check on PostgreSQL");
        return;
    };
    let url = create_database(&admin);
    // Connecting migrates.
    drop(PgDatabase::connect(PgSettings::new(url.clone())).unwrap());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
        let driver = tokio::spawn(conn);
        client
            .batch_execute(
                "INSERT INTO practices(id, name) VALUES (1, 'One'), (2, 'Two');
                 INSERT INTO users(id, username, display_name, password_hash, created_at)
                 VALUES (1, 'dev', 'Dev', 'x', '2026-01-01T00:00:00.000Z');
                 INSERT INTO credentials(id, kind, owner_id, name, name_key, client_id, secret_digest, secret_hint, active,
                     created_at, created_by, updated_at)
                 VALUES ('k', 'developer', 1, 'K', 'k', 'c', '\\x00', 'h', true, '2026-01-01T00:00:00.000Z', 1,
                     '2026-01-01T00:00:00.000Z');
                 INSERT INTO access_changes(credential_id, owner_id, cause, at, diff)
                 VALUES ('k', 1, 'roles', '2026-01-01T00:00:00.000Z', '{}');
                 INSERT INTO access_change_practices(change_id, practice_id) SELECT id, 1 FROM access_changes;",
            )
            .await
            .unwrap();
        const APPEND_ONLY: &str = "access change notices are append-only";
        const ONCE: &str = "an access change notice is only ever acknowledged, once";
        let refused = [
            ("DELETE FROM access_changes", APPEND_ONLY),
            ("UPDATE access_changes SET diff = '{\"reaches_nothing\":true}'", ONCE),
            ("UPDATE access_changes SET acknowledged_at = NULL", ONCE),
            ("UPDATE access_changes SET at = 'later', acknowledged_at = 'now'", ONCE),
            ("TRUNCATE access_changes CASCADE", APPEND_ONLY),
            ("DELETE FROM access_change_practices", APPEND_ONLY),
            ("UPDATE access_change_practices SET practice_id = 2", APPEND_ONLY),
            ("TRUNCATE access_change_practices", APPEND_ONLY),
            ("INSERT INTO access_changes(credential_id, owner_id, cause, at, diff) VALUES ('k', 1, 'other', 'x', '{}')", "check"),
        ];
        for (sql, why) in refused {
            let err = client.batch_execute(sql).await.expect_err(sql);
            let message = err.as_db_error().map(|e| e.message().to_owned()).unwrap_or_default();
            assert!(message.contains(why), "{sql}: {message}");
        }
        client.batch_execute("UPDATE access_changes SET acknowledged_at = 'now'").await.unwrap();
        assert!(client.batch_execute("UPDATE access_changes SET acknowledged_at = 'later'").await.is_err(), "acknowledged once");
        let kept = client.query_one("SELECT count(*) FROM access_change_practices", &[]).await.unwrap();
        assert_eq!(kept.get::<_, i64>(0), 1);
        drop(client);
        let _ = driver.await;
    });
}
