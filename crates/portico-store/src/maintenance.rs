//! Housekeeping: expired access tokens and sessions are deleted some time after they expire, a batch at a
//! time, so the tables (and the file) do not grow with every token ever issued.

use chrono::{DateTime, Duration, Utc};
use rusqlite::params;

use crate::{sqlite, ts, Result, Store};

/// What one pruning pass removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    pub tokens: usize,
    pub sessions: usize,
}

impl Store {
    /// Deletes up to `batch` access tokens and `batch` sessions that expired before `now - keep`. Kept for
    /// `keep` after expiry so a late request is still answered "expired" with its credential on record.
    pub fn prune_expired(&mut self, now: DateTime<Utc>, keep: Duration, batch: usize) -> Result<Pruned> {
        let cutoff = ts(now - keep);
        let tokens = self
            .conn
            .prepare_cached(
                "DELETE FROM access_tokens WHERE rowid IN (SELECT rowid FROM access_tokens WHERE expires_at < ? LIMIT ?)",
            )
            .map_err(sqlite)?
            .execute(params![cutoff, batch as i64])
            .map_err(sqlite)?;
        let sessions = self
            .conn
            .prepare_cached("DELETE FROM sessions WHERE rowid IN (SELECT rowid FROM sessions WHERE expires_at < ? LIMIT ?)")
            .map_err(sqlite)?
            .execute(params![cutoff, batch as i64])
            .map_err(sqlite)?;
        // The OAuth flows' leftovers: codes and refresh tokens past their expiry (a used or expired one is
        // refused by its row's state until then), and assertion ids whose assertions have expired.
        for sql in [
            "DELETE FROM auth_codes WHERE rowid IN (SELECT rowid FROM auth_codes WHERE expires_at < ? LIMIT ?)",
            "DELETE FROM refresh_tokens WHERE rowid IN (SELECT rowid FROM refresh_tokens WHERE expires_at < ? LIMIT ?)",
            "DELETE FROM assertion_jtis WHERE rowid IN (SELECT rowid FROM assertion_jtis WHERE expires_at < ? LIMIT ?)",
            // The desktop's browser sign-in: a used refresh token stays until its own expiry, so a replay within
            // its lifetime is still recognised (and ends the family).
            "DELETE FROM desktop_codes WHERE rowid IN (SELECT rowid FROM desktop_codes WHERE expires_at < ? LIMIT ?)",
            "DELETE FROM desktop_refresh_tokens WHERE rowid IN (SELECT rowid FROM desktop_refresh_tokens WHERE expires_at < ? LIMIT ?)",
        ] {
            self.conn.prepare_cached(sql).map_err(sqlite)?.execute(params![cutoff, batch as i64]).map_err(sqlite)?;
        }
        Ok(Pruned { tokens, sessions })
    }

    /// How many access tokens and sessions are stored (for tests and the bench).
    pub fn token_and_session_rows(&self) -> Result<(i64, i64)> {
        let t = self
            .conn
            .prepare_cached("SELECT count(*) FROM access_tokens")
            .map_err(sqlite)?
            .query_row([], |r| r.get(0))
            .map_err(sqlite)?;
        let s = self
            .conn
            .prepare_cached("SELECT count(*) FROM sessions")
            .map_err(sqlite)?
            .query_row([], |r| r.get(0))
            .map_err(sqlite)?;
        Ok((t, s))
    }
}
