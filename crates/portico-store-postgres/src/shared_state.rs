//! State every server sharing the database agrees on: the throttle of failed authentication and the
//! service's signing keys (SQLite: `shared_state.rs`).

use chrono::{DateTime, Utc};
use portico_domain::{ThrottleEntry, ThrottlePolicy};
use portico_store::{Result, StoreError};
use tokio_postgres::Row;

use crate::{col, nul_free, parse_opt_ts, parse_ts, ts, PgStore};

impl PgStore {
    pub fn throttle_entries(&self, keys: &[String]) -> Result<Vec<(String, ThrottleEntry)>> {
        let stored: Vec<String> = keys.iter().map(|k| nul_free(k).into_owned()).collect();
        // Answered under the keys as asked (a key with a NUL is stored with U+FFFD in its place).
        self.query("SELECT key, failures, last_failure, locked_until FROM throttle WHERE key = ANY($1)", &[&stored])?
            .iter()
            .map(|r| {
                let key: String = col(r, 0)?;
                let asked = stored.iter().position(|s| *s == key).and_then(|i| keys.get(i)).cloned().unwrap_or(key);
                Ok((asked, entry(r, 1)?))
            })
            .collect()
    }

    /// Two servers counting failures of one key at once take turns on its row (created first if needed, then
    /// locked), so neither count is lost and the lock each computes includes the other's failure.
    pub fn record_throttle_failure(&mut self, key: &str, policy: ThrottlePolicy, now: DateTime<Utc>) -> Result<ThrottleEntry> {
        let key = &*nul_free(key);
        self.execute(
            "INSERT INTO throttle(key, failures, last_failure) VALUES ($1, 0, $2) ON CONFLICT (key) DO NOTHING",
            &[&key, &ts(now)],
        )?;
        let row =
            self.query_one("SELECT failures, last_failure, locked_until FROM throttle WHERE key = $1 FOR UPDATE", &[&key])?;
        let prev = entry(&row, 0)?;
        // A row just created above holds no failure yet.
        let next = policy.after_failure((prev.failures > 0).then_some(prev), now);
        self.execute(
            "UPDATE throttle SET failures = $2, last_failure = $3, locked_until = $4 WHERE key = $1",
            &[&key, &i64::from(next.failures), &ts(next.last_failure), &next.locked_until.map(ts)],
        )?;
        Ok(next)
    }

    pub fn clear_throttle(&mut self, key: &str) -> Result<()> {
        self.execute("DELETE FROM throttle WHERE key = $1", &[&nul_free(key)])?;
        Ok(())
    }

    pub fn prune_throttle(&mut self, before: DateTime<Utc>, batch: usize) -> Result<usize> {
        let n = self.execute(
            "DELETE FROM throttle WHERE key IN (SELECT key FROM throttle WHERE last_failure < $1
               AND (locked_until IS NULL OR locked_until < $1) LIMIT $2)",
            &[&ts(before), &i64::try_from(batch).unwrap_or(i64::MAX)],
        )?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    pub fn signing_keys(&self) -> Result<Option<String>> {
        self.query_opt("SELECT pem FROM signing_keys WHERE id = 1", &[])?.map(|r| col(&r, 0)).transpose()
    }

    pub fn store_signing_keys(&mut self, pem: &str, replace: bool, now: DateTime<Utc>) -> Result<bool> {
        let sql = if replace {
            "INSERT INTO signing_keys(id, pem, updated_at) VALUES (1, $1, $2)
             ON CONFLICT (id) DO UPDATE SET pem = EXCLUDED.pem, updated_at = EXCLUDED.updated_at"
        } else {
            "INSERT INTO signing_keys(id, pem, updated_at) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING"
        };
        Ok(self.execute(sql, &[&pem, &ts(now)])? > 0)
    }
}

/// A throttle entry from columns `at..at+3` (failures, last failure, locked until).
fn entry(row: &Row, at: usize) -> Result<ThrottleEntry> {
    let failures: i64 = col(row, at)?;
    let last: String = col(row, at + 1)?;
    Ok(ThrottleEntry {
        failures: u32::try_from(failures).map_err(|_| StoreError::Corrupt(format!("throttle failures {failures}")))?,
        last_failure: parse_ts(&last)?,
        locked_until: parse_opt_ts(col(row, at + 2)?)?,
    })
}
