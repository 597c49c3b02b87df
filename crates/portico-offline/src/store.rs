//! The SQLite file: opening it, the cache and the outbox.

use std::path::Path;

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{list_change, sqlite, Account, Action, ListChange, OfflineError, Outcome};

/// Each entry runs once, in order, tracked by `PRAGMA user_version`. Never edit a shipped entry; append.
const MIGRATIONS: &[&str] = &[include_str!("migrations/0001_initial.sql")];

type Result<T> = std::result::Result<T, OfflineError>;

/// The desktop's local store: one SQLite connection, used by one process at a time (opening it puts
/// entries a crashed run left in `sending` back to `pending`).
pub struct OfflineStore {
    conn: Connection,
}

/// A cached value and when it was fetched from the server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cached {
    /// The value as the server answered it.
    pub value: Value,
    /// When it was fetched.
    pub fetched_at: DateTime<Utc>,
}

/// Where an outbox entry stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryState {
    /// Waiting to be sent.
    Pending,
    /// Handed out by [`OfflineStore::next_to_send`], not yet finished.
    Sending,
    /// The server did it.
    Done,
    /// It had already happened.
    AlreadyDone,
    /// The server refused it (see `reason`).
    Refused,
}

impl EntryState {
    fn as_str(self) -> &'static str {
        match self {
            EntryState::Pending => "pending",
            EntryState::Sending => "sending",
            EntryState::Done => "done",
            EntryState::AlreadyDone => "already_done",
            EntryState::Refused => "refused",
        }
    }

    fn parse(s: &str) -> Option<EntryState> {
        [EntryState::Pending, EntryState::Sending, EntryState::Done, EntryState::AlreadyDone, EntryState::Refused]
            .into_iter()
            .find(|state| state.as_str() == s)
    }
}

/// One action in the outbox, as the UI lists it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutboxEntry {
    /// Its id; the order of ids is the enqueue order.
    pub id: i64,
    /// What to send.
    pub action: Action,
    /// `action.describe()`, for the UI.
    pub description: String,
    /// Where it stands.
    pub state: EntryState,
    /// The server's reason, when it refused.
    pub reason: Option<String>,
    /// When the person took the action.
    pub queued_at: DateTime<Utc>,
    /// When it was last handed out to be sent.
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// When the server's answer settled it (done, already done or refused).
    pub finished_at: Option<DateTime<Utc>>,
    /// How many times it has been handed out to be sent (a send cut short by a crash counts).
    pub attempts: u32,
}

const ENTRY_COLUMNS: &str = "id, action, state, reason, queued_at, last_attempt_at, finished_at, attempts";

impl OfflineStore {
    /// Opens (creating if needed) the file, readable by its owner only on unix, with WAL, foreign keys and a
    /// busy timeout; migrates it; puts entries a crashed run left in `sending` back to `pending`, in their
    /// places (replay is safe: every action is idempotent at the server).
    pub fn open(path: &Path) -> Result<Self> {
        owner_only(path)?;
        let store = OfflineStore::init(Connection::open(path).map_err(sqlite)?)?;
        // SQLite gives the -wal and -shm files the main file's mode; an older file is narrowed here too.
        owner_only(path)?;
        Ok(store)
    }

    /// A store that lives in memory only (tests, or a session that must leave nothing on disk).
    pub fn open_in_memory() -> Result<Self> {
        OfflineStore::init(Connection::open_in_memory().map_err(sqlite)?)
    }

    fn init(conn: Connection) -> Result<Self> {
        conn.pragma_update(None, "journal_mode", "WAL").map_err(sqlite)?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(sqlite)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(sqlite)?;
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(sqlite)?;
        let mut store = OfflineStore { conn };
        store.migrate()?;
        store.conn.execute("UPDATE outbox SET state = 'pending' WHERE state = 'sending'", []).map_err(sqlite)?;
        Ok(store)
    }

    fn migrate(&mut self) -> Result<()> {
        let version: i64 = self.conn.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(sqlite)?;
        let known = MIGRATIONS.len() as i64;
        if version > known {
            return Err(OfflineError::NewerSchema { found: version, known });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(usize::try_from(version).unwrap_or(0)) {
            let tx = self.conn.transaction().map_err(sqlite)?;
            tx.execute_batch(sql).map_err(sqlite)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64).map_err(sqlite)?;
            tx.commit().map_err(sqlite)?;
        }
        Ok(())
    }

    // ---- cache ----

    /// Stores `value` under `key` for `who`, fetched at `fetched_at`. Returns what changed since the previous
    /// value of that key when both are lists of objects ([`list_change`]); `None` when there was no previous
    /// value or either is not such a list.
    pub fn put(&mut self, who: &Account, key: &str, value: &Value, fetched_at: DateTime<Utc>) -> Result<Option<ListChange>> {
        let tx = self.conn.transaction().map_err(sqlite)?;
        let account = account_id(&tx, who)?;
        let previous: Option<String> = tx
            .prepare_cached("SELECT value FROM cache WHERE account = ?1 AND key = ?2")
            .and_then(|mut s| s.query_row(params![account, key], |r| r.get(0)).optional())
            .map_err(sqlite)?;
        tx.prepare_cached(
            "INSERT INTO cache (account, key, value, fetched_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (account, key) DO UPDATE SET value = excluded.value, fetched_at = excluded.fetched_at",
        )
        .and_then(|mut s| s.execute(params![account, key, value.to_string(), ts(fetched_at)]))
        .map_err(sqlite)?;
        tx.commit().map_err(sqlite)?;
        // An unreadable previous value compares as no previous value: the new one has replaced it anyway.
        Ok(previous.and_then(|p| serde_json::from_str::<Value>(&p).ok()).and_then(|before| list_change(&before, value)))
    }

    /// The value cached under `key` for `who`, with when it was fetched.
    pub fn get(&self, who: &Account, key: &str) -> Result<Option<Cached>> {
        let row: Option<(String, String)> = self
            .conn
            .prepare_cached(
                "SELECT c.value, c.fetched_at FROM cache c JOIN accounts a ON a.id = c.account
                 WHERE a.server = ?1 AND a.user = ?2 AND c.key = ?3",
            )
            .and_then(|mut s| s.query_row(params![who.server, who.user, key], |r| Ok((r.get(0)?, r.get(1)?))).optional())
            .map_err(sqlite)?;
        let Some((value, fetched_at)) = row else { return Ok(None) };
        let value = serde_json::from_str(&value).map_err(|e| OfflineError::Corrupt(format!("cached {key:?}: {e}")))?;
        Ok(Some(Cached { value, fetched_at: parse_ts(&fetched_at)? }))
    }

    /// When anything of `who` was last fetched: the newest `fetched_at` in their cache.
    pub fn last_synced(&self, who: &Account) -> Result<Option<DateTime<Utc>>> {
        let newest: Option<String> = self
            .conn
            .prepare_cached(
                "SELECT MAX(c.fetched_at) FROM cache c JOIN accounts a ON a.id = c.account WHERE a.server = ?1 AND a.user = ?2",
            )
            .and_then(|mut s| s.query_row(params![who.server, who.user], |r| r.get(0)))
            .map_err(sqlite)?;
        newest.as_deref().map(parse_ts).transpose()
    }

    /// Sign-out: everything of `who` (cache, waiting actions, outcomes) is gone.
    pub fn forget(&mut self, who: &Account) -> Result<()> {
        // The cache and the outbox go with the account row (ON DELETE CASCADE).
        self.conn
            .execute("DELETE FROM accounts WHERE server = ?1 AND user = ?2", params![who.server, who.user])
            .map_err(sqlite)?;
        Ok(())
    }

    // ---- outbox ----

    /// Adds `action` at the end of `who`'s outbox, taken at `now`.
    pub fn enqueue(&mut self, who: &Account, action: &Action, now: DateTime<Utc>) -> Result<OutboxEntry> {
        let json = serde_json::to_string(action).map_err(|e| OfflineError::Corrupt(format!("an action as JSON: {e}")))?;
        let tx = self.conn.transaction().map_err(sqlite)?;
        let account = account_id(&tx, who)?;
        tx.prepare_cached("INSERT INTO outbox (account, action, state, queued_at) VALUES (?1, ?2, 'pending', ?3)")
            .and_then(|mut s| s.execute(params![account, json, ts(now)]))
            .map_err(sqlite)?;
        let id = tx.last_insert_rowid();
        tx.commit().map_err(sqlite)?;
        Ok(OutboxEntry {
            id,
            description: action.describe(),
            action: action.clone(),
            state: EntryState::Pending,
            reason: None,
            queued_at: now,
            last_attempt_at: None,
            finished_at: None,
            attempts: 0,
        })
    }

    /// `who`'s actions not yet settled (pending and sending), in enqueue order.
    pub fn waiting(&self, who: &Account) -> Result<Vec<OutboxEntry>> {
        self.entries(who, "o.state IN ('pending', 'sending') ORDER BY o.id", None)
    }

    /// Takes back a pending entry of `who` (it is never sent and leaves no outcome). `false` when there is
    /// no such pending entry: unknown, another account's, already being sent, or settled.
    pub fn cancel(&mut self, who: &Account, id: i64) -> Result<bool> {
        let n = self
            .conn
            .execute(
                "DELETE FROM outbox WHERE id = ?1 AND state = 'pending'
                 AND account = (SELECT id FROM accounts WHERE server = ?2 AND user = ?3)",
                params![id, who.server, who.user],
            )
            .map_err(sqlite)?;
        Ok(n == 1)
    }

    /// The oldest pending entry of `who`, now marked `sending` (attempt counted at `now`); `None` when nothing
    /// is pending. Send it, then call [`OfflineStore::finish`] before asking for the next, so the server sees
    /// the actions in the order they were taken.
    pub fn next_to_send(&mut self, who: &Account, now: DateTime<Utc>) -> Result<Option<OutboxEntry>> {
        let tx = self.conn.transaction().map_err(sqlite)?;
        let next = {
            let sql = format!(
                "SELECT {cols} FROM outbox o JOIN accounts a ON a.id = o.account
                 WHERE a.server = ?1 AND a.user = ?2 AND o.state = 'pending' ORDER BY o.id LIMIT 1",
                cols = prefixed(ENTRY_COLUMNS)
            );
            let mut stmt = tx.prepare_cached(&sql).map_err(sqlite)?;
            let row = stmt.query_row(params![who.server, who.user], Row::read).optional().map_err(sqlite)?;
            row.map(Row::into_entry).transpose()?
        };
        let Some(mut entry) = next else { return Ok(None) };
        tx.prepare_cached("UPDATE outbox SET state = 'sending', attempts = attempts + 1, last_attempt_at = ?2 WHERE id = ?1")
            .and_then(|mut s| s.execute(params![entry.id, ts(now)]))
            .map_err(sqlite)?;
        tx.commit().map_err(sqlite)?;
        entry.state = EntryState::Sending;
        entry.attempts += 1;
        entry.last_attempt_at = Some(now);
        Ok(Some(entry))
    }

    /// Records the server's answer to an entry being sent. `Done`, `AlreadyDone` and `Refused` settle it (it
    /// leaves [`waiting`](OfflineStore::waiting) and shows in [`outcomes`](OfflineStore::outcomes));
    /// `RetryLater` puts it back to pending in its place, so it is the next one handed out again.
    /// [`OfflineError::NotSending`] when the entry is not being sent (e.g. forgotten meanwhile).
    pub fn finish(&mut self, id: i64, outcome: Outcome, now: DateTime<Utc>) -> Result<()> {
        let (state, reason) = match outcome {
            Outcome::Done => (EntryState::Done, None),
            Outcome::AlreadyDone => (EntryState::AlreadyDone, None),
            Outcome::Refused { reason } => (EntryState::Refused, Some(reason)),
            Outcome::RetryLater => (EntryState::Pending, None),
        };
        let finished_at = (state != EntryState::Pending).then(|| ts(now));
        let n = self
            .conn
            .prepare_cached("UPDATE outbox SET state = ?2, reason = ?3, finished_at = ?4 WHERE id = ?1 AND state = 'sending'")
            .and_then(|mut s| s.execute(params![id, state.as_str(), reason, finished_at]))
            .map_err(sqlite)?;
        if n == 1 {
            Ok(())
        } else {
            Err(OfflineError::NotSending { id })
        }
    }

    /// `who`'s settled entries (done, already done, refused), newest first, at most `limit`.
    pub fn outcomes(&self, who: &Account, limit: usize) -> Result<Vec<OutboxEntry>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.entries(
            who,
            "o.state IN ('done', 'already_done', 'refused') ORDER BY o.finished_at DESC, o.id DESC LIMIT ?3",
            Some(limit),
        )
    }

    /// Clears `who`'s settled entries (the person has read them); waiting ones stay.
    pub fn dismiss_outcomes(&mut self, who: &Account) -> Result<()> {
        self.conn
            .execute(
                "DELETE FROM outbox WHERE state IN ('done', 'already_done', 'refused')
                 AND account = (SELECT id FROM accounts WHERE server = ?1 AND user = ?2)",
                params![who.server, who.user],
            )
            .map_err(sqlite)?;
        Ok(())
    }

    fn entries(&self, who: &Account, filter_and_order: &str, limit: Option<i64>) -> Result<Vec<OutboxEntry>> {
        let sql = format!(
            "SELECT {cols} FROM outbox o JOIN accounts a ON a.id = o.account WHERE a.server = ?1 AND a.user = ?2 AND {filter_and_order}",
            cols = prefixed(ENTRY_COLUMNS)
        );
        let mut stmt = self.conn.prepare_cached(&sql).map_err(sqlite)?;
        let rows = match limit {
            Some(limit) => stmt.query_map(params![who.server, who.user, limit], Row::read),
            None => stmt.query_map(params![who.server, who.user], Row::read),
        }
        .map_err(sqlite)?;
        rows.map(|row| row.map_err(sqlite).and_then(Row::into_entry)).collect()
    }
}

/// An outbox row as stored, before its JSON and timestamps are read.
struct Row {
    id: i64,
    action: String,
    state: String,
    reason: Option<String>,
    queued_at: String,
    last_attempt_at: Option<String>,
    finished_at: Option<String>,
    attempts: i64,
}

impl Row {
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
        Ok(Row {
            id: r.get(0)?,
            action: r.get(1)?,
            state: r.get(2)?,
            reason: r.get(3)?,
            queued_at: r.get(4)?,
            last_attempt_at: r.get(5)?,
            finished_at: r.get(6)?,
            attempts: r.get(7)?,
        })
    }

    fn into_entry(self) -> Result<OutboxEntry> {
        let id = self.id;
        let unreadable = |detail: String| OfflineError::UnreadableEntry { id, detail };
        let action: Action = serde_json::from_str(&self.action).map_err(|e| unreadable(format!("action: {e}")))?;
        let state = EntryState::parse(&self.state).ok_or_else(|| unreadable(format!("state {:?}", self.state)))?;
        Ok(OutboxEntry {
            id,
            description: action.describe(),
            action,
            state,
            reason: self.reason,
            queued_at: parse_ts(&self.queued_at)?,
            last_attempt_at: self.last_attempt_at.as_deref().map(parse_ts).transpose()?,
            finished_at: self.finished_at.as_deref().map(parse_ts).transpose()?,
            attempts: u32::try_from(self.attempts).map_err(|_| unreadable(format!("attempts {}", self.attempts)))?,
        })
    }
}

/// `o.id, o.action, ...`: the outbox's columns, qualified for a join.
fn prefixed(columns: &str) -> String {
    columns.split(", ").map(|c| format!("o.{c}")).collect::<Vec<_>>().join(", ")
}

/// The row id of `who`, created on first use.
fn account_id(conn: &Connection, who: &Account) -> Result<i64> {
    conn.prepare_cached("INSERT INTO accounts (server, user) VALUES (?1, ?2) ON CONFLICT (server, user) DO NOTHING")
        .and_then(|mut s| s.execute(params![who.server, who.user]))
        .map_err(sqlite)?;
    conn.prepare_cached("SELECT id FROM accounts WHERE server = ?1 AND user = ?2")
        .and_then(|mut s| s.query_row(params![who.server, who.user], |r| r.get(0)))
        .map_err(sqlite)
}

/// RFC 3339 with nanoseconds and `Z`: lossless, and of fixed width, so text order is time order.
fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

fn parse_ts(s: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| OfflineError::Corrupt(format!("timestamp {s:?}: {e}")))
}

/// Creates the file with mode 0600 if it does not exist, and narrows an existing one to 0600: the cache
/// holds health-adjacent data (names of apps, keys and patients) that no other local user should read.
#[cfg(unix)]
fn owner_only(path: &Path) -> Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    std::fs::OpenOptions::new().write(true).create(true).truncate(false).mode(0o600).open(path)?;
    for file in [path.to_owned(), sidecar(path, "-wal"), sidecar(path, "-shm")] {
        if file.exists() {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    Ok(())
}

#[cfg(not(unix))]
fn owner_only(_path: &Path) -> Result<()> {
    Ok(())
}

#[cfg(unix)]
fn sidecar(path: &Path, suffix: &str) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    name.into()
}
