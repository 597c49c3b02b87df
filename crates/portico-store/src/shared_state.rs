//! State that every server sharing a database must agree on: the throttle of failed authentication and the
//! service's signing keys (migration 0012).

use chrono::{DateTime, Utc};
use portico_domain::{ThrottleEntry, ThrottlePolicy};
use rusqlite::{params, OptionalExtension};

use crate::{parse_opt_ts, parse_ts, sqlite, ts, Result, Store, StoreError};

impl Store {
    /// What is remembered of each of `keys` that has failed lately (keys without failures are absent).
    pub fn throttle_entries(&self, keys: &[String]) -> Result<Vec<(String, ThrottleEntry)>> {
        let mut st = self
            .conn
            .prepare_cached("SELECT failures, last_failure, locked_until FROM throttle WHERE key = ?")
            .map_err(sqlite)?;
        let mut out = Vec::new();
        for key in keys {
            let row = st
                .query_row([key], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, Option<String>>(2)?)))
                .optional()
                .map_err(sqlite)?;
            if let Some(raw) = row {
                out.push((key.clone(), entry(raw)?));
            }
        }
        Ok(out)
    }

    /// Counts one more failure of `key` under `policy`; returns the key's entry after it.
    pub fn record_throttle_failure(&mut self, key: &str, policy: ThrottlePolicy, now: DateTime<Utc>) -> Result<ThrottleEntry> {
        let prev = self.throttle_entries(&[key.to_owned()])?.pop().map(|(_, e)| e);
        let next = policy.after_failure(prev, now);
        self.conn
            .prepare_cached(
                "INSERT INTO throttle(key, failures, last_failure, locked_until) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(key) DO UPDATE SET failures = ?2, last_failure = ?3, locked_until = ?4",
            )
            .map_err(sqlite)?
            .execute(params![key, i64::from(next.failures), ts(next.last_failure), next.locked_until.map(ts)])
            .map_err(sqlite)?;
        Ok(next)
    }

    /// A success forgets the key's failures.
    pub fn clear_throttle(&mut self, key: &str) -> Result<()> {
        self.conn.prepare_cached("DELETE FROM throttle WHERE key = ?").map_err(sqlite)?.execute([key]).map_err(sqlite)?;
        Ok(())
    }

    /// Forgets keys whose last failure is older than `before` and that are not locked past it, at most
    /// `batch` of them; returns how many.
    pub fn prune_throttle(&mut self, before: DateTime<Utc>, batch: usize) -> Result<usize> {
        let before = ts(before);
        self.conn
            .prepare_cached(
                "DELETE FROM throttle WHERE key IN (SELECT key FROM throttle WHERE last_failure < ?1
                   AND (locked_until IS NULL OR locked_until < ?1) LIMIT ?2)",
            )
            .map_err(sqlite)?
            .execute(params![before, i64::try_from(batch).unwrap_or(i64::MAX)])
            .map_err(sqlite)
    }

    /// The signing keys stored in the database (PEM), if any server has stored them yet.
    pub fn signing_keys(&self) -> Result<Option<String>> {
        self.conn
            .prepare_cached("SELECT pem FROM signing_keys WHERE id = 1")
            .map_err(sqlite)?
            .query_row([], |r| r.get(0))
            .optional()
            .map_err(sqlite)
    }

    /// Stores signing keys: only when none are stored yet (`replace` false: the first server to start
    /// wins, and the others load its keys), or in place of the current ones (a rotation). Returns whether
    /// `pem` was stored.
    pub fn store_signing_keys(&mut self, pem: &str, replace: bool, now: DateTime<Utc>) -> Result<bool> {
        let sql = if replace {
            "INSERT INTO signing_keys(id, pem, updated_at) VALUES (1, ?1, ?2)
             ON CONFLICT(id) DO UPDATE SET pem = ?1, updated_at = ?2"
        } else {
            "INSERT INTO signing_keys(id, pem, updated_at) VALUES (1, ?1, ?2) ON CONFLICT(id) DO NOTHING"
        };
        let n = self.conn.prepare_cached(sql).map_err(sqlite)?.execute(params![pem, ts(now)]).map_err(sqlite)?;
        Ok(n > 0)
    }
}

fn entry((failures, last, locked): (i64, String, Option<String>)) -> Result<ThrottleEntry> {
    Ok(ThrottleEntry {
        failures: u32::try_from(failures).map_err(|_| StoreError::Corrupt(format!("throttle failures {failures}")))?,
        last_failure: parse_ts(&last)?,
        locked_until: parse_opt_ts(locked)?,
    })
}
