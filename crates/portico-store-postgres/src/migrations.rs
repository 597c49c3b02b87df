//! The PostgreSQL schema's own append-only migrations (`src/migrations/`), tracked in `portico_schema`.
//!
//! They are not the SQLite ones translated one by one: PostgreSQL starts from the schema SQLite reached, in
//! one file per area, and grows by appending files from here on. Several servers may start at once against
//! one database, so the whole run holds a transaction-scoped advisory lock: one server migrates, the others
//! wait and then find nothing left to do.

use portico_store::{Result, StoreError};

use crate::{col, ts, PgStore};

/// Each entry runs once, in order, in a transaction of its own. Never edit a shipped entry; append.
pub(crate) const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_accounts.sql"),
    include_str!("migrations/0002_resources.sql"),
    include_str!("migrations/0003_credentials.sql"),
    include_str!("migrations/0004_audit.sql"),
    include_str!("migrations/0005_apps.sql"),
    include_str!("migrations/0006_shared_state.sql"),
];

/// An arbitrary key for `pg_advisory_xact_lock`: "portico" in ASCII.
const MIGRATION_LOCK: i64 = 0x0070_6f72_7469_636f;

impl PgStore {
    /// Applies the migrations this database has not had yet; returns how many ran.
    pub(crate) fn migrate(&mut self) -> Result<usize> {
        self.batch("CREATE TABLE IF NOT EXISTS portico_schema (version BIGINT PRIMARY KEY, applied_at TEXT NOT NULL)")?;
        let mut applied = 0;
        loop {
            self.batch("BEGIN")?;
            let step = self.migrate_one();
            match step {
                Ok(ran) => {
                    self.batch("COMMIT")?;
                    if !ran {
                        return Ok(applied);
                    }
                    applied += 1;
                }
                Err(e) => {
                    let _ = self.batch("ROLLBACK");
                    return Err(e);
                }
            }
        }
    }

    /// Inside a transaction: takes the lock, applies the next pending migration; `false` when none is left.
    fn migrate_one(&mut self) -> Result<bool> {
        self.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
        let row = self.query_one("SELECT coalesce(max(version), 0) FROM portico_schema", &[])?;
        let done: i64 = col(&row, 0)?;
        let done = usize::try_from(done).map_err(|_| StoreError::Corrupt(format!("schema version {done}")))?;
        if done > MIGRATIONS.len() {
            return Err(StoreError::Corrupt(format!(
                "the database's schema is at version {done}, newer than this program knows ({}): upgrade Portico",
                MIGRATIONS.len()
            )));
        }
        let Some(sql) = MIGRATIONS.get(done) else { return Ok(false) };
        self.batch(sql)?;
        let version = (done + 1) as i64;
        self.execute("INSERT INTO portico_schema (version, applied_at) VALUES ($1, $2)", &[&version, &ts(chrono::Utc::now())])?;
        Ok(true)
    }
}
