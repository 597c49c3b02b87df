//! Where the data lives, as `--db`, `PORTICO_DB` or the config file's `db` give it: a SQLite file (a plain
//! path or `sqlite:PATH`) or a PostgreSQL database (`postgres://…` or `postgresql://…`); and a store opened
//! on it for one command.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{bail, Context, Result};
use portico_store::{Backend, PatientLink, ReadStore, Store, WriteStore};
use portico_store_postgres::{PgDatabase, PgSettings, PgStore};

#[derive(Clone, PartialEq, Eq)]
pub enum DbLocation {
    Sqlite(PathBuf),
    /// The URL as given (its password included: show it only through `Display`, which hides it).
    Postgres(String),
}

impl FromStr for DbLocation {
    type Err = String;

    fn from_str(s: &str) -> Result<DbLocation, String> {
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            return Ok(DbLocation::Postgres(s.to_owned()));
        }
        let path = s.strip_prefix("sqlite:").unwrap_or(s);
        if path.is_empty() {
            return Err("the database is empty: give a file (portico.db, sqlite:PATH) or a postgres:// URL".into());
        }
        if path.contains("://") {
            return Err(format!("{s:?}: only sqlite: paths and postgres:// URLs are understood"));
        }
        Ok(DbLocation::Sqlite(PathBuf::from(path)))
    }
}

/// In the config file: `db = "portico.db"`, `"sqlite:PATH"` or `"postgres://…"`.
impl<'de> serde::Deserialize<'de> for DbLocation {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<DbLocation, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for DbLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbLocation::Sqlite(p) => write!(f, "{}", p.display()),
            DbLocation::Postgres(url) => write!(f, "{}", PgSettings::new(url.clone()).redacted_url()),
        }
    }
}

impl fmt::Debug for DbLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DbLocation({self})")
    }
}

impl DbLocation {
    /// A SQLite file's path, relative to `base` when it is relative (a config file's folder).
    pub fn relative_to(self, base: &Path) -> DbLocation {
        match self {
            DbLocation::Sqlite(p) if p.is_relative() => DbLocation::Sqlite(base.join(p)),
            other => other,
        }
    }

    /// Whether there is anything to open: a SQLite file that exists (PostgreSQL is asked when connecting).
    pub fn exists(&self) -> bool {
        match self {
            DbLocation::Sqlite(p) => p.exists(),
            DbLocation::Postgres(_) => true,
        }
    }
}

/// Settings of a PostgreSQL pool for `portico serve` (see README, "Scaling out").
#[derive(Clone, Copy, Debug)]
pub struct PoolSettings {
    pub size: usize,
    pub statement_timeout: std::time::Duration,
}

impl Default for PoolSettings {
    fn default() -> PoolSettings {
        let d = PgSettings::new("");
        PoolSettings { size: d.pool_size, statement_timeout: d.statement_timeout }
    }
}

/// A store opened for one command: SQLite's own connection, or a transaction on a PostgreSQL connection
/// that [`Opened::finish`] commits (a command that fails part-way leaves nothing behind there).
pub enum Opened {
    Sqlite(Store),
    Postgres { db: PgDatabase, tx: PgStore },
}

impl Opened {
    /// Opens (creating and migrating as needed) the database at `at`.
    pub fn open(at: &DbLocation) -> Result<Opened> {
        Opened::open_with(at, PoolSettings::default())
    }

    pub fn open_with(at: &DbLocation, pool: PoolSettings) -> Result<Opened> {
        match at {
            DbLocation::Sqlite(path) => Ok(Opened::Sqlite(Store::open(path).with_context(|| format!("opening {at}"))?)),
            DbLocation::Postgres(url) => {
                let settings =
                    PgSettings { pool_size: pool.size, statement_timeout: pool.statement_timeout, ..PgSettings::new(url) };
                let db = PgDatabase::connect(settings).with_context(|| format!("connecting to {at}"))?;
                let tx = db.store()?;
                tx.begin()?;
                Ok(Opened::Postgres { db, tx })
            }
        }
    }

    /// For a bulk load (import, generate): SQLite takes a larger page cache; PostgreSQL needs nothing.
    pub fn tune_for_bulk_load(&self) -> Result<()> {
        if let Opened::Sqlite(s) = self {
            s.tune_for_bulk_load()?;
        }
        Ok(())
    }

    pub fn store(&mut self) -> &mut dyn WriteStore {
        match self {
            Opened::Sqlite(s) => s,
            Opened::Postgres { tx, .. } => tx,
        }
    }

    pub fn reader(&self) -> &dyn ReadStore {
        match self {
            Opened::Sqlite(s) => s,
            Opened::Postgres { tx, .. } => tx,
        }
    }

    pub fn patient_links(&self) -> Result<Vec<PatientLink>> {
        Ok(match self {
            Opened::Sqlite(s) => s.patient_links()?,
            Opened::Postgres { tx, .. } => tx.patient_links()?,
        })
    }

    /// Commits what was written so far and goes on in a new transaction (a bulk load's progress survives a
    /// failure later on, as on SQLite, whose writes commit as they go).
    pub fn commit_so_far(&mut self) -> Result<()> {
        if let Opened::Postgres { tx, .. } = self {
            tx.commit().context("committing")?;
            tx.begin()?;
        }
        Ok(())
    }

    /// Commits what the command wrote (SQLite's writes are committed as they go).
    pub fn finish(self) -> Result<()> {
        if let Opened::Postgres { tx, .. } = &self {
            tx.commit().context("committing")?;
        }
        Ok(())
    }

    /// Commits, then hands the database to the server: SQLite's connection becomes its writer; PostgreSQL's
    /// pool is shared by its readers and writer threads.
    pub fn into_backend(self) -> Result<Box<dyn Backend>> {
        Ok(match self {
            Opened::Sqlite(s) => Box::new(portico_store::Database::new(s).context("starting the database writer")?),
            Opened::Postgres { db, tx } => {
                tx.commit().context("committing")?;
                drop(tx);
                Box::new(db)
            }
        })
    }

    /// How the database is reached, for the banner: a file, or PostgreSQL with or without TLS.
    pub fn transport(&self) -> &'static str {
        match self {
            Opened::Sqlite(_) => "SQLite file",
            Opened::Postgres { db, .. } => match db.connection_is_encrypted() {
                Ok(true) => "PostgreSQL over TLS",
                Ok(false) => "PostgreSQL, not encrypted",
                Err(_) => "PostgreSQL",
            },
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, Opened::Postgres { .. })
    }
}

/// Opens an existing store for an account or key command; a SQLite file that does not exist is an error
/// that says how to make one.
pub fn open_existing(at: &DbLocation) -> Result<Opened> {
    if !at.exists() {
        bail!("{at} does not exist (run `portico seed` or `portico serve --demo` first)");
    }
    Opened::open(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_are_told_apart_by_their_form() {
        let table: &[(&str, Result<DbLocation, ()>)] = &[
            ("portico.db", Ok(DbLocation::Sqlite("portico.db".into()))),
            ("sqlite:/var/lib/portico/p.db", Ok(DbLocation::Sqlite("/var/lib/portico/p.db".into()))),
            ("postgres://p:secret@db/portico", Ok(DbLocation::Postgres("postgres://p:secret@db/portico".into()))),
            ("postgresql://db/portico", Ok(DbLocation::Postgres("postgresql://db/portico".into()))),
            ("mysql://db/portico", Err(())),
            ("sqlite:", Err(())),
            ("", Err(())),
        ];
        for (given, want) in table {
            assert_eq!(given.parse::<DbLocation>().map_err(drop), *want, "{given}");
        }
        let shown = DbLocation::Postgres("postgres://p:secret@db/portico".into()).to_string();
        assert!(!shown.contains("secret"), "{shown}");
        assert!(!format!("{:?}", DbLocation::Postgres("postgres://p:secret@db/x".into())).contains("secret"));
    }
}
