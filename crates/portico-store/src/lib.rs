//! Portico's storage: the SQLite schema, its append-only migrations and every SQL statement.
//!
//! The server sees only the boundary in `src/backend.rs`: [`ReadStore`], [`WriteStore`], [`Backend`] and
//! [`WriteJob`], which a second database can implement; [`Store`] and [`Database`] are the SQLite side.
//!
//! Synchronous rusqlite, nothing async and nothing about HTTP. It persists what portico-domain defines and
//! answers questions with facts; the rules that turn facts into decisions (effective access, scopes) stay in
//! the domain crate. Secrets and tokens arrive here only as digests.

mod access_changes;
mod accounts;
mod apps;
mod audit;
mod backend;
mod credentials;
mod db;
mod desktop;
mod directory;
mod export;
mod maintenance;
pub mod portable;
mod resources;
mod retention;
mod search;
mod shared_state;

use std::path::Path;

use chrono::{DateTime, Utc};
use portico_domain::{format_instant, parse_instant};
use rusqlite::Connection;

pub use access_changes::{AccessChangeRecord, NewAccessChange};
pub use accounts::{NewUser, PatientLink, PatientSummary, UserListing, UserRecord, UserSort};
pub use apps::{AppChange, AppRecord, ApprovalRecord, AuthCodeRecord, RefreshTokenRecord};
pub use backend::{signature_types, Backend, ReadStore, WriteJob, WriteStore};
pub use credentials::{CredentialChange, CredentialRecord, GrantOf, NewCredential, StaffKeyListing, StaffKeySort, TokenRecord};
pub use db::Database;
pub use desktop::{DesktopCode, DesktopRefreshToken};
pub use directory::{birth_date_prefix, PatientQuery, TextQuery, MAX_QUERY_WORDS};
pub use export::Cell;
pub use maintenance::Pruned;
pub use portico_fhir::patient::display_name;
pub use resources::{ImportSummary, PatientFilter, StoredResource, WriteOutcome};

/// What can go wrong in a store, whatever the backend. Nothing here names a driver's type: a backend maps its
/// own failures onto these (see [`StoreError::database`]), so callers never depend on which database runs.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed in a way the caller cannot act on (I/O, a bug in a query, a full disk...).
    #[error("database error: {0}")]
    Database(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Another process held the database's write lock for longer than the busy timeout: try again later.
    #[error("the database is busy")]
    Busy,
    /// A batch this caller's write was part of could not be committed.
    #[error("the write could not be committed: {0}")]
    NotCommitted(String),
    #[error("{0}")]
    Conflict(String),
    #[error("not found")]
    NotFound,
    #[error("version conflict: the resource is at version {current}")]
    VersionConflict { current: i64 },
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// A backend's own failure, kept as the source for logs.
    pub fn database(e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
        StoreError::Database(Box::new(e))
    }

    /// The same failure, for each caller of a batch (the underlying error is not `Clone`).
    fn for_another_caller(&self) -> StoreError {
        match self {
            StoreError::Busy => StoreError::Busy,
            e => StoreError::NotCommitted(e.to_string()),
        }
    }
}

/// rusqlite's error as a [`StoreError`]: a lock held past the busy timeout is `Busy`. A function, not a
/// `From` impl, so no rusqlite type shows in this crate's public surface (`.map_err(sqlite)?` at each call).
pub(crate) fn sqlite(e: rusqlite::Error) -> StoreError {
    match &e {
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(f.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) =>
        {
            StoreError::Busy
        }
        _ => StoreError::database(e),
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// Each entry runs once, in order, tracked by `PRAGMA user_version`. Never edit a shipped entry; append.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_initial.sql"),
    include_str!("migrations/0002_live_index.sql"),
    include_str!("migrations/0003_search_index.sql"),
    include_str!("migrations/0004_defects.sql"),
    include_str!("migrations/0005_auth_failures.sql"),
    include_str!("migrations/0006_audit_rollup.sql"),
    include_str!("migrations/0007_apps.sql"),
    include_str!("migrations/0008_desktop_signin.sql"),
    include_str!("migrations/0009_access_changes.sql"),
    include_str!("migrations/0010_users_table.sql"),
    include_str!("migrations/0011_patient_directory.sql"),
    include_str!("migrations/0012_shared_state.sql"),
];
/// The migration (1-based) that creates the search index; resources stored before it are indexed in the
/// same transaction, so a database is never left half indexed.
const SEARCH_INDEX_MIGRATION: usize = 3;
/// The migration that creates the patient directory; Patients stored before it are added in its transaction.
const PATIENT_DIRECTORY_MIGRATION: usize = 11;

pub struct Store {
    conn: Connection,
}

impl Store {
    /// Opens (creating if needed) the database file, sets the PRAGMAs every connection needs and migrates.
    pub fn open(path: &Path) -> Result<Store> {
        Store::init(Connection::open(path).map_err(sqlite)?)
    }

    pub fn open_in_memory() -> Result<Store> {
        Store::init(Connection::open_in_memory().map_err(sqlite)?)
    }

    fn init(conn: Connection) -> Result<Store> {
        // WAL keeps readers unblocked and makes a crash lose at most an uncommitted transaction.
        conn.pragma_update(None, "journal_mode", "WAL").map_err(sqlite)?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(sqlite)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(sqlite)?;
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(sqlite)?;
        conn.set_prepared_statement_cache_capacity(128);
        let mut store = Store { conn };
        store.migrate()?;
        Ok(store)
    }

    /// For a one-off bulk load (`portico import`, `generate`): a 256 MiB page cache, so the search index's
    /// B-trees stay in memory while a million resources go in instead of being re-read from disk per row.
    pub fn tune_for_bulk_load(&self) -> Result<()> {
        self.conn.pragma_update(None, "cache_size", -262_144).map_err(sqlite)?;
        Ok(())
    }

    fn from_conn(conn: Connection) -> Store {
        Store { conn }
    }

    fn migrate(&mut self) -> Result<()> {
        let version: usize =
            self.conn.pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0)).map_err(sqlite)?.try_into().unwrap_or(0);
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
            let tx = self.conn.savepoint().map_err(sqlite)?;
            tx.execute_batch(sql).map_err(sqlite)?;
            if i + 1 == SEARCH_INDEX_MIGRATION {
                search::backfill_index(&tx)?;
            }
            if i + 1 == PATIENT_DIRECTORY_MIGRATION {
                directory::backfill(&tx)?;
            }
            tx.pragma_update(None, "user_version", (i + 1) as i64).map_err(sqlite)?;
            tx.commit().map_err(sqlite)?;
        }
        self.fill_name_keys()?;
        self.fill_user_folds()
    }

    /// Opens a nested unit of work; [`Store::release`] keeps it, [`Store::rollback_to`] undoes it.
    pub fn savepoint(&mut self) -> Result<()> {
        self.conn.execute_batch("SAVEPOINT atomically").map_err(sqlite)
    }

    /// Ends the innermost unit opened by [`Store::savepoint`], keeping what it wrote.
    pub fn release(&mut self) -> Result<()> {
        self.conn.execute_batch("RELEASE atomically").map_err(sqlite)
    }

    /// Ends the innermost unit opened by [`Store::savepoint`], undoing what it wrote.
    pub fn rollback_to(&mut self) -> Result<()> {
        self.conn.execute_batch("ROLLBACK TO atomically; RELEASE atomically").map_err(sqlite)
    }

    /// Folds the WAL into the main file; used before copying or inspecting the database file.
    pub fn checkpoint(&self) -> Result<()> {
        self.conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);").map_err(sqlite)?;
        Ok(())
    }
}

fn ts(t: DateTime<Utc>) -> String {
    format_instant(t)
}

fn parse_ts(s: &str) -> Result<DateTime<Utc>> {
    parse_instant(s).ok_or_else(|| StoreError::Corrupt(format!("bad timestamp {s:?}")))
}

fn parse_opt_ts(s: Option<String>) -> Result<Option<DateTime<Utc>>> {
    s.as_deref().map(parse_ts).transpose()
}

/// Maps a UNIQUE violation to a readable conflict, leaving other errors as they are.
fn unique_violation(e: rusqlite::Error, message: &str) -> StoreError {
    match &e {
        rusqlite::Error::SqliteFailure(f, _) if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE => {
            StoreError::Conflict(message.to_owned())
        }
        _ => sqlite(e),
    }
}

/// `?, ?, ?` for an IN list of `n` values.
fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The backfills run right after the migrations that create their tables: a migration inserted or
    /// renumbered before them must move these numbers too (branches merged in another order did once).
    #[test]
    fn backfills_follow_the_migrations_that_create_their_tables() {
        for (at, creates) in [
            (SEARCH_INDEX_MIGRATION, "CREATE TABLE search_token"),
            (PATIENT_DIRECTORY_MIGRATION, "CREATE TABLE patient_directory"),
        ] {
            assert!(MIGRATIONS[at - 1].contains(creates), "migration {at} should hold {creates:?}");
        }
    }
}
