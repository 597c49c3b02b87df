//! Units of work through the boundary: nested units, a failed write undone alone, jobs answered after commit.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use portico_store::{Result, StoreError, WriteStore};
use portico_store_suite::backends;

fn practice_names(store: &dyn portico_store::ReadStore) -> Vec<String> {
    store.practices().unwrap().into_iter().map(|(_, n)| n).collect()
}

#[test]
fn units_nest_and_an_inner_failure_undoes_only_itself() {
    for b in backends() {
        b.write_ok(|store: &mut dyn WriteStore| {
            store.atomically(|s| -> Result<()> {
                s.create_practice("Kept")?;
                let inner: Result<()> = s.atomically(|s| {
                    s.create_practice("Undone")?;
                    Err(StoreError::Conflict("changed my mind".into()))
                });
                assert!(inner.is_err());
                s.create_practice("Also kept").map(drop)
            })
        })
        .unwrap();
        let outer: Result<()> = b.write_ok(|store| {
            store.atomically(|s| {
                s.create_practice("Gone")?;
                Err(StoreError::NotFound)
            })
        });
        assert!(outer.is_err(), "{}", b.name);
        assert_eq!(b.read(practice_names), ["Kept", "Also kept"], "{}", b.name);
    }
}

#[test]
fn a_refused_write_leaves_the_rest_of_its_job_usable() {
    for b in backends() {
        let outcome = b
            .write_ok(|s| {
                s.create_practice("Riverside")?;
                // The second one is refused (the name is taken); on PostgreSQL that must not poison the job.
                let taken = s.create_practice("Riverside");
                s.create_practice("Hillcrest")?;
                Ok(matches!(taken, Err(StoreError::Conflict(_))))
            })
            .unwrap();
        assert!(outcome, "{}: a taken name is a conflict", b.name);
        assert_eq!(b.read(practice_names), ["Riverside", "Hillcrest"], "{}", b.name);
    }
}

#[test]
fn a_panicking_job_leaves_nothing_and_the_next_job_commits() {
    for b in backends() {
        let panicked = b.write(|s| {
            s.create_practice("Half").unwrap();
            panic!("a bug in one request")
        });
        assert!(panicked.is_err(), "{}", b.name);
        b.write_ok(|s| s.create_practice("Whole").map(drop)).unwrap();
        assert_eq!(b.read(practice_names), ["Whole"], "{}", b.name);
    }
}

#[test]
fn a_connection_on_its_own_commits_each_write_and_each_unit() {
    for b in backends() {
        let mut direct = b.direct();
        let store = direct.store();
        store.create_practice("Riverside").unwrap();
        assert!(matches!(store.create_practice("Riverside"), Err(StoreError::Conflict(_))), "{}", b.name);
        // The refusal left the connection usable, and the first write was committed on its own.
        store.create_practice("Hillcrest").unwrap();
        let undone: Result<()> = store.atomically(|s| {
            s.create_practice("Undone")?;
            Err(StoreError::NotFound)
        });
        assert!(undone.is_err(), "{}", b.name);
        store
            .atomically(|s| -> Result<()> {
                s.create_practice("Kept")?;
                let inner: Result<()> = s.atomically(|s| {
                    s.create_practice("Inner undone")?;
                    Err(StoreError::NotFound)
                });
                assert!(inner.is_err());
                Ok(())
            })
            .unwrap();
        // What another connection sees: the committed writes only.
        assert_eq!(b.read(practice_names), ["Riverside", "Hillcrest", "Kept"], "{}", b.name);
    }
}

/// A store used from a thread that runs async tasks (an async test, a command inside a runtime) answers
/// instead of refusing to block there.
#[tokio::test]
async fn a_store_answers_on_a_thread_running_async_tasks() {
    for b in backends() {
        let mut direct = b.direct();
        direct.store().create_practice("From async").unwrap();
        assert_eq!(practice_names(direct.store()), ["From async"], "{}", b.name);
    }
}

/// TLS to PostgreSQL: with `sslmode=require` the connection is encrypted and the server's certificate is
/// checked against `sslrootcert`; a certificate from another CA is refused. (The test command's throwaway
/// cluster serves TLS with a CA of its own, named by PORTICO_TEST_PG_CA.)
#[test]
fn the_database_is_reached_over_verified_tls_when_the_url_asks() {
    let (Some(admin), Ok(ca)) = (portico_store_suite::postgres_url(), std::env::var("PORTICO_TEST_PG_CA")) else {
        assert!(std::env::var_os("PORTICO_REQUIRE_PG").is_none(), "PORTICO_TEST_PG_CA names no CA");
        eprintln!("note: no PostgreSQL with TLS here; skipped");
        return;
    };
    let url = portico_store_suite::create_database(&admin);
    let tls = format!("{url}?sslmode=require&sslrootcert={ca}");
    let db = portico_store_postgres::PgDatabase::connect(portico_store_postgres::PgSettings::new(tls)).expect("TLS connect");
    let backend: &dyn portico_store::Backend = &db;
    let ssl = backend.with_reader(|_| ()).map(|_| db.connection_is_encrypted().expect("pg_stat_ssl"));
    assert_eq!(ssl.ok(), Some(true));
    // A CA that did not sign the server's certificate: refused before anything is sent.
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("other-ca.pem");
    std::fs::write(&other, include_str!("other-ca.pem")).unwrap();
    let wrong = format!("{url}?sslmode=require&sslrootcert={}", other.display());
    let refused = portico_store_postgres::PgDatabase::connect(portico_store_postgres::PgSettings::new(wrong));
    assert!(refused.is_err(), "a server certificate from another CA was accepted");
}
