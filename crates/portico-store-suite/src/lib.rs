//! The harness of the shared store suite: every backend, opened fresh, and the two ways the server uses a
//! store (a read on a snapshot, a write job answered after its commit), so a test is written once against
//! the boundary and runs on each backend.
//!
//! PostgreSQL joins when `PORTICO_TEST_PG` holds a URL whose user may create databases (the README's test
//! command starts a throwaway cluster and sets it); each backend then gets a database of its own. Without
//! it the PostgreSQL half is skipped with a note, unless `PORTICO_REQUIRE_PG` is set (as in the test
//! command), where a missing server fails the run instead of passing it quietly.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test harness: a failure here is a failed test

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Arc;

use portico_store::{Backend, Database, ReadStore, Result, StoreError, WriteJob, WriteStore};
use portico_store_postgres::{PgDatabase, PgSettings};

/// One backend, freshly created and migrated, and what keeps its files alive.
pub struct Fresh {
    pub name: &'static str,
    pub db: Arc<dyn Backend>,
    /// Where the database is, for [`Fresh::another_server`].
    place: Place,
    _dir: Option<Arc<tempfile::TempDir>>,
}

/// A connection of a backend's own (see [`Fresh::direct`]).
pub enum Direct {
    Sqlite(portico_store::Store),
    /// The connection, and the pool (and runtime) it belongs to.
    Postgres(portico_store_postgres::PgStore, PgDatabase),
}

impl Direct {
    pub fn store(&mut self) -> &mut dyn WriteStore {
        match self {
            Direct::Sqlite(s) => s,
            Direct::Postgres(s, _) => s,
        }
    }
}

/// Where a backend's database lives.
#[derive(Clone)]
enum Place {
    Sqlite(std::path::PathBuf),
    Postgres(String),
}

impl Fresh {
    /// The URL of this backend's own database when it is PostgreSQL (for a raw connection that checks what
    /// the database itself enforces); `None` for SQLite.
    pub fn pg_url(&self) -> Option<&str> {
        match &self.place {
            Place::Postgres(url) => Some(url),
            Place::Sqlite(_) => None,
        }
    }

    /// The same database opened again, as a second server sharing it would (its own connections and writer
    /// threads): for races between servers, which one server's writer threads may put in one transaction.
    pub fn another_server(&self) -> Fresh {
        let db: Arc<dyn Backend> = match &self.place {
            Place::Sqlite(path) => Arc::new(Database::open(path).expect("open SQLite again")),
            Place::Postgres(url) => Arc::new(connect_postgres(url)),
        };
        Fresh { name: self.name, db, place: self.place.clone(), _dir: self._dir.clone() }
    }

    /// A connection of its own, outside the writer threads (as the CLI and tests use one): each write is
    /// committed as it returns, and `atomically` makes one transaction.
    pub fn direct(&self) -> Direct {
        match &self.place {
            Place::Sqlite(path) => Direct::Sqlite(portico_store::Store::open(path).expect("open SQLite again")),
            Place::Postgres(url) => {
                let db = connect_postgres(url);
                let store = db.store().expect("a connection");
                Direct::Postgres(store, db)
            }
        }
    }

    /// Runs `f` on a read snapshot.
    pub fn read<T>(&self, f: impl FnOnce(&dyn ReadStore) -> T) -> T {
        self.db.with_reader(f).expect("read")
    }

    /// Runs `f` as a write job and returns what it returned once the job is committed (`Err` when the
    /// commit failed).
    pub fn write<T: Send + 'static>(&self, f: impl FnOnce(&mut dyn WriteStore) -> T + Send + 'static) -> Result<T> {
        let (tx, rx) = mpsc::channel();
        self.db.submit(Box::new(Job { f: Some(f), out: None, tx }))?;
        let (out, committed) = rx.recv().map_err(|_| StoreError::NotCommitted("the job was dropped".into()))?;
        committed?;
        out.ok_or_else(|| StoreError::NotCommitted("the job panicked".into()))
    }

    /// Like [`Fresh::write`] for a job that returns a store result: both failures as one.
    pub fn write_ok<T: Send + 'static>(&self, f: impl FnOnce(&mut dyn WriteStore) -> Result<T> + Send + 'static) -> Result<T> {
        self.write(f)?
    }
}

struct Job<F, T> {
    f: Option<F>,
    out: Option<T>,
    tx: mpsc::Sender<(Option<T>, Result<()>)>,
}

impl<T: Send, F: FnOnce(&mut dyn WriteStore) -> T + Send> WriteJob for Job<F, T> {
    fn run(&mut self, store: &mut dyn WriteStore) {
        if let Some(f) = self.f.take() {
            self.out = Some(f(store));
        }
    }
    fn finish(self: Box<Self>, committed: Result<()>) {
        let _ = self.tx.send((self.out, committed));
    }
}

/// Every backend this run can reach, each empty and migrated.
pub fn backends() -> Vec<Fresh> {
    let mut all = vec![sqlite()];
    match postgres_url() {
        Some(url) => all.push(postgres(&url)),
        None if std::env::var_os("PORTICO_REQUIRE_PG").is_some() => {
            panic!("PORTICO_REQUIRE_PG is set but PORTICO_TEST_PG names no server (run under scripts/with-postgres)")
        }
        None => eprintln!("note: PORTICO_TEST_PG is not set; this test ran on SQLite only"),
    }
    all
}

/// A fresh SQLite database file (the shared handle needs a file: readers open their own connections).
pub fn sqlite() -> Fresh {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("portico.db");
    let db = Database::open(&path).expect("open SQLite");
    Fresh { name: "sqlite", db: Arc::new(db), place: Place::Sqlite(path), _dir: Some(Arc::new(dir)) }
}

/// The server named by `PORTICO_TEST_PG`, if any.
pub fn postgres_url() -> Option<String> {
    std::env::var("PORTICO_TEST_PG").ok().filter(|u| !u.is_empty())
}

/// A fresh database on the server at `admin_url`, migrated.
pub fn postgres(admin_url: &str) -> Fresh {
    let url = create_database(admin_url);
    Fresh { name: "postgres", db: Arc::new(connect_postgres(&url)), place: Place::Postgres(url), _dir: None }
}

fn connect_postgres(url: &str) -> PgDatabase {
    PgDatabase::connect(PgSettings { pool_size: 4, ..PgSettings::new(url) }).expect("connect to PostgreSQL")
}

/// A fresh database on the server at `admin_url` whose own collation is a language's (ICU en-US: `_x` before
/// `a`, `a` before `B`, hyphens ignored at first), migrated: PostgreSQL must answer as SQLite (bytewise)
/// whatever the server's locale.
pub fn postgres_with_language_collation(admin_url: &str) -> Fresh {
    let url = create_database_with(admin_url, "LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8' TEMPLATE template0");
    Fresh { name: "postgres (ICU en-US)", db: Arc::new(connect_postgres(&url)), place: Place::Postgres(url), _dir: None }
}

/// Creates an empty database on the server at `admin_url` and returns its URL (the same server and user).
/// Databases are left for the throwaway cluster to take with it.
pub fn create_database(admin_url: &str) -> String {
    create_database_with(admin_url, "")
}

/// [`create_database`] with further `CREATE DATABASE` options (fixed text, from tests).
fn create_database_with(admin_url: &str, options: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let name = format!(
        "portico_t{}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0)
    );
    // On a thread of its own: the caller may be running async tasks, where a runtime cannot block.
    let (admin, create) = (admin_url.to_owned(), format!("CREATE DATABASE {name} {options}"));
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(async {
            let (client, conn) = tokio_postgres::connect(&admin, tokio_postgres::NoTls).await.expect("connect as admin");
            let driver = tokio::spawn(conn);
            client.batch_execute(&create).await.expect("create database");
            drop(client);
            let _ = driver.await;
        });
    })
    .join()
    .expect("create database");
    with_database(admin_url, &name)
}

/// Runs `sql` (one or more statements, no parameters) on its own connection to the database at `url`,
/// outside any store: what the database itself allows or refuses. The rows of every statement as text
/// (NULL is `None`), or the server's error message.
pub fn pg_simple_query(url: &str, sql: &str) -> std::result::Result<Vec<Vec<Option<String>>>, String> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.expect("connect");
        let driver = tokio::spawn(conn);
        let out = client.simple_query(sql).await.map_err(|e| match e.as_db_error() {
            Some(db) => db.message().to_owned(),
            None => e.to_string(),
        });
        drop(client);
        let _ = driver.await;
        let rows = out?
            .into_iter()
            .filter_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(r) => Some((0..r.len()).map(|i| r.get(i).map(str::to_owned)).collect()),
                _ => None,
            })
            .collect();
        Ok(rows)
    })
}

/// `admin_url` with its database name replaced.
fn with_database(admin_url: &str, name: &str) -> String {
    let (base, query) = match admin_url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (admin_url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_name_replaces_the_admin_one() {
        assert_eq!(with_database("postgres://u@h:1/postgres", "x"), "postgres://u@h:1/x");
        assert_eq!(with_database("postgres://u@h:1/postgres?sslmode=disable", "x"), "postgres://u@h:1/x?sslmode=disable");
        assert_eq!(with_database("postgres://u@h:1", "x"), "postgres://u@h:1/x");
    }
}
