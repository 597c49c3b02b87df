//! Portico's PostgreSQL backend: the same store boundary as the SQLite one ([`portico_store::ReadStore`],
//! [`portico_store::WriteStore`], [`portico_store::Backend`]), for deployments where several `portico serve`
//! processes share one database.
//!
//! The boundary is synchronous (the server calls it from blocking threads), the driver is not: a
//! [`PgDatabase`] owns a small Tokio runtime that drives `tokio-postgres` connections from a
//! `deadpool-postgres` pool, and each store call blocks its (blocking) thread on one statement. Statements
//! are prepared once per connection (`prepare_cached`). Reads run in a `REPEATABLE READ READ ONLY`
//! transaction, so a reader sees one snapshot; writes run as jobs on writer threads, each job in a savepoint
//! inside a transaction that commits before its caller is answered, as on SQLite.
//!
//! Conventions shared with the SQLite schema, so both answer alike: ids are `BIGINT` (i64), flags
//! `BOOLEAN`, instants `TEXT` in `portico_domain::format_instant`'s fixed-width UTC form (so they compare
//! and sort as text, as in SQLite), digests `BYTEA`, FHIR JSON `TEXT` (served verbatim). Text is ordered
//! with `COLLATE "C"` (SQLite's binary order) wherever an order is visible.
//!
//! Unlike SQLite, a failed statement aborts the whole PostgreSQL transaction. Every write method therefore
//! runs in a savepoint of its own (see `backend.rs`), so a refused write (a unique name taken, say) leaves
//! the enclosing job usable, as it does on SQLite.

mod access_changes;
mod accounts;
mod apps;
mod audit;
mod backend;
mod credentials;
mod db;
mod desktop;
mod directory;
mod load;
mod maintenance;
mod migrations;
mod resources;
mod retention;
mod search;
mod shared_state;
mod tls;

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use portico_domain::{format_instant, parse_instant};
use portico_store::{Result, StoreError};
use tokio_postgres::types::{FromSql, ToSql};
use tokio_postgres::Row;

pub use db::{PgDatabase, PgSettings};
pub use load::{Column, TableShape};

/// A parameter of a statement.
pub(crate) type Param<'a> = &'a (dyn ToSql + Sync);

/// One pooled connection seen as a store: what a read or a write job is lent.
pub struct PgStore {
    client: deadpool_postgres::Object,
    /// Whether a transaction is open on the connection. Outside one, each write method is a transaction of
    /// its own (as a SQLite connection in autocommit mode); inside, a savepoint.
    in_tx: std::cell::Cell<bool>,
    /// Units of `atomically` open; `Some(depth)` of the one that began the transaction itself (on a
    /// connection used on its own), which commits or rolls back instead of releasing a savepoint.
    units: std::cell::Cell<(usize, Option<usize>)>,
}

impl PgStore {
    fn new(client: deadpool_postgres::Object) -> PgStore {
        PgStore { client, in_tx: std::cell::Cell::new(false), units: std::cell::Cell::new((0, None)) }
    }

    /// Starts a transaction on this connection (the writer threads' batches; the CLI's commands, which
    /// write outside them); [`PgStore::commit`] ends it, and dropping the store undoes it.
    pub fn begin(&self) -> Result<()> {
        self.batch("BEGIN")?;
        self.in_tx.set(true);
        Ok(())
    }

    pub fn commit(&self) -> Result<()> {
        self.in_tx.set(false);
        self.batch("COMMIT")
    }

    pub fn rollback(&self) -> Result<()> {
        self.in_tx.set(false);
        self.batch("ROLLBACK")
    }

    /// A read-only transaction on one snapshot, for a read; [`PgStore::rollback`] ends it.
    pub(crate) fn begin_snapshot(&self) -> Result<()> {
        self.batch("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")?;
        self.in_tx.set(true);
        Ok(())
    }

    /// Waits for a statement's answer, blocking this thread. A client's futures only exchange messages with
    /// its connection's task (which the store's runtime drives), so any thread may wait on them, one running
    /// async tasks included (a test, a CLI command), where the runtime's own `block_on` would refuse.
    fn block<T>(&self, f: impl std::future::Future<Output = std::result::Result<T, tokio_postgres::Error>>) -> Result<T> {
        futures_executor::block_on(f).map_err(pg)
    }

    async fn statement(&self, sql: &str) -> std::result::Result<tokio_postgres::Statement, tokio_postgres::Error> {
        self.client.prepare_cached(sql).await
    }

    /// Every row the statement returns.
    pub(crate) fn query(&self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>> {
        self.block(async {
            let st = self.statement(sql).await?;
            self.client.query(&st, params).await
        })
    }

    /// The statement's one row, or `None`; more than one row is a bug in the query.
    pub(crate) fn query_opt(&self, sql: &str, params: &[Param<'_>]) -> Result<Option<Row>> {
        self.block(async {
            let st = self.statement(sql).await?;
            self.client.query_opt(&st, params).await
        })
    }

    /// The statement's one row; none (or several) is an error.
    pub(crate) fn query_one(&self, sql: &str, params: &[Param<'_>]) -> Result<Row> {
        self.block(async {
            let st = self.statement(sql).await?;
            self.client.query_one(&st, params).await
        })
    }

    /// Runs a statement; returns how many rows it changed.
    pub(crate) fn execute(&self, sql: &str, params: &[Param<'_>]) -> Result<u64> {
        self.block(async {
            let st = self.statement(sql).await?;
            self.client.execute(&st, params).await
        })
    }

    /// Runs statements without parameters (transaction control, DDL), unprepared.
    pub(crate) fn batch(&self, sql: &str) -> Result<()> {
        self.block(self.client.batch_execute(sql))
    }

    /// Loads rows with `COPY ... FROM STDIN (FORMAT text)`; `data` is the text-format payload (see
    /// [`copy_text`] for escaping a field). Returns the number of rows loaded.
    pub(crate) fn copy_in(&self, sql: &str, data: bytes::Bytes) -> Result<u64> {
        use futures_util::SinkExt;
        self.block(async {
            let sink = self.client.copy_in::<_, bytes::Bytes>(sql).await?;
            futures_util::pin_mut!(sink);
            sink.send(data).await?;
            sink.finish().await
        })
    }
}

/// Column `i` of a row, as `T`; a type that does not match is a [`StoreError::Corrupt`], never a panic.
pub(crate) fn col<'a, T: FromSql<'a>>(row: &'a Row, i: usize) -> Result<T> {
    row.try_get(i).map_err(|e| StoreError::Corrupt(format!("column {i}: {e}")))
}

/// The driver's error as a [`StoreError`]: a lock or statement timeout, a deadlock or a serialization
/// failure is `Busy` (try again later); anything else is a database error kept as the source.
pub(crate) fn pg(e: tokio_postgres::Error) -> StoreError {
    use tokio_postgres::error::SqlState;
    match e.code() {
        Some(c)
            if *c == SqlState::LOCK_NOT_AVAILABLE
                || *c == SqlState::QUERY_CANCELED
                || *c == SqlState::T_R_DEADLOCK_DETECTED
                || *c == SqlState::T_R_SERIALIZATION_FAILURE =>
        {
            StoreError::Busy
        }
        _ => StoreError::database(e),
    }
}

/// Maps a unique violation to a readable conflict, leaving other errors as [`pg`] maps them.
pub(crate) fn unique_violation(e: StoreError, message: &str) -> StoreError {
    match &e {
        StoreError::Database(source) => match source.downcast_ref::<tokio_postgres::Error>().and_then(|e| e.code()) {
            Some(c) if *c == tokio_postgres::error::SqlState::UNIQUE_VIOLATION => StoreError::Conflict(message.to_owned()),
            _ => e,
        },
        _ => e,
    }
}

/// PostgreSQL's TEXT cannot hold U+0000, which a JSON string may (and SQLite's TEXT does). The JSON itself
/// is stored escaped (`\u0000`), so it is served as written; text that is compared (index entries, the
/// directory, ids and compartments) has each NUL replaced by U+FFFD, both when stored and when looked up, so
/// a value with a NUL still finds itself, as on SQLite, instead of failing the statement. Keys presented
/// from outside (a client id, a username, a `jti`, a throttle key) pass through it too: nothing stored holds a
/// NUL, so such a key finds nothing, as on SQLite, where it would otherwise fail the statement (a 500).
pub(crate) fn nul_free(s: &str) -> Cow<'_, str> {
    if s.contains('\0') {
        Cow::Owned(s.replace('\0', "\u{FFFD}"))
    } else {
        Cow::Borrowed(s)
    }
}

pub(crate) fn ts(t: DateTime<Utc>) -> String {
    format_instant(t)
}

pub(crate) fn parse_ts(s: &str) -> Result<DateTime<Utc>> {
    parse_instant(s).ok_or_else(|| StoreError::Corrupt(format!("bad timestamp {s:?}")))
}

pub(crate) fn parse_opt_ts(s: Option<String>) -> Result<Option<DateTime<Utc>>> {
    s.as_deref().map(parse_ts).transpose()
}

/// One field of a `COPY ... (FORMAT text)` row: backslash, tab, newline and carriage return escaped;
/// `None` is `\N` (NULL).
pub(crate) fn copy_text(out: &mut String, field: Option<&str>) {
    let Some(s) = field else {
        out.push_str("\\N");
        return;
    };
    for ch in s.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_fields_escape_what_the_text_format_treats_specially() {
        let mut out = String::new();
        copy_text(&mut out, Some("a\tb\\c\nd\re"));
        out.push('\t');
        copy_text(&mut out, None);
        assert_eq!(out, "a\\tb\\\\c\\nd\\re\t\\N");
    }
}
