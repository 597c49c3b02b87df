//! The desktop app's own small local store for remote mode: a cache of what the person has seen (one JSON
//! value per key, with when it was fetched) and an outbox of actions they took while the server was out of
//! reach, sent later in the order they were taken. Both are partitioned by [`Account`] (server and person),
//! and signing out forgets that account's part.
//!
//! It owns one SQLite file (WAL, append-only migrations, 0600 on unix) and nothing else. It is never the
//! server's schema and knows nothing of HTTP, Tauri or the management API's types: cached values are plain
//! `serde_json::Value`, actions carry the ids and names the UI showed, and turning an HTTP answer into an
//! [`Outcome`] is the pure [`outcome_of`]. No clock and no global state: every time comes in as an argument.

mod action;
mod changes;
mod store;

use serde::{Deserialize, Serialize};

pub use action::{outcome_of, Action, Outcome};
pub use changes::{list_change, ListChange};
pub use store::{Cached, EntryState, OfflineStore, OutboxEntry};

/// The partition of the cache and the outbox: one person on one server. Pass the same spelling each time.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Account {
    /// The server's base URL.
    pub server: String,
    /// The person's username or id on that server.
    pub user: String,
}

/// What can go wrong with the local store. No rusqlite type shows here.
#[derive(Debug, thiserror::Error)]
pub enum OfflineError {
    /// SQLite failed (I/O, a full disk, a lock held past the busy timeout...).
    #[error("local store error: {0}")]
    Database(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The file or its permissions could not be set up.
    #[error("local store file: {0}")]
    Io(#[from] std::io::Error),
    /// The file was written by a newer version of the app (schema `found`, this one knows `known`).
    #[error("the local store is from a newer version of the app (schema {found}, this version knows {known})")]
    NewerSchema { found: i64, known: i64 },
    /// A stored value or timestamp cannot be read back.
    #[error("the local store holds unreadable data: {0}")]
    Corrupt(String),
    /// An outbox entry cannot be read back (its action is not one this version knows). `cancel(id)` or
    /// `forget` removes it.
    #[error("outbox entry {id} is unreadable: {detail}")]
    UnreadableEntry { id: i64, detail: String },
    /// `finish` was called for an entry that is not being sent (unknown, finished, or forgotten meanwhile).
    #[error("outbox entry {id} is not being sent")]
    NotSending { id: i64 },
}

/// rusqlite's error as an [`OfflineError`]; a function, not `From`, so no driver type is public.
pub(crate) fn sqlite(e: rusqlite::Error) -> OfflineError {
    OfflineError::Database(Box::new(e))
}
