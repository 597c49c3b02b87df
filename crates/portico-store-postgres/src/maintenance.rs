//! Housekeeping: expired access tokens and sessions (and the OAuth flows' leftovers) are deleted some time
//! after they expire, a batch at a time, so the tables do not grow with every token ever issued.
//!
//! Each batch is picked by `ctid` with `FOR UPDATE SKIP LOCKED`: two servers pruning at once take disjoint
//! rows (neither waits for the other, nothing is counted twice), and a row some other write holds (a token
//! being revoked, a session being extended) is left for the next pass instead of being deleted from a stale
//! read. The outer condition repeats the expiry for the same reason. `ctid = ANY(ARRAY(...))` is a TID scan
//! of just the chosen rows, where `ctid IN (SELECT ...)` may be planned as a scan of the whole table.

use portico_store::signature_types::*;

use crate::audit::limit_param;
use crate::{ts, PgStore};

/// `DELETE` of up to `$2` rows of one table that expired before `$1` (instants compare as text, binary).
macro_rules! prune {
    ($table:literal) => {
        concat!(
            "DELETE FROM ",
            $table,
            " WHERE ctid = ANY(ARRAY(SELECT ctid FROM ",
            $table,
            " WHERE expires_at COLLATE \"C\" < $1 LIMIT $2 FOR UPDATE SKIP LOCKED))",
            " AND expires_at COLLATE \"C\" < $1"
        )
    };
}

const PRUNE_TOKENS: &str = prune!("access_tokens");
const PRUNE_SESSIONS: &str = prune!("sessions");
/// The OAuth flows' leftovers: codes and refresh tokens past their expiry (a used or expired one is refused
/// by its row's state until then), and assertion ids whose assertions have expired; the desktop's browser
/// sign-in likewise (a used refresh token stays until its own expiry, so a replay within its lifetime is
/// still recognised and ends the family).
const PRUNE_LEFTOVERS: [&str; 5] = [
    prune!("auth_codes"),
    prune!("refresh_tokens"),
    prune!("assertion_jtis"),
    prune!("desktop_codes"),
    prune!("desktop_refresh_tokens"),
];

impl PgStore {
    /// Deletes up to `batch` access tokens and `batch` sessions that expired before `now - keep`. Kept for
    /// `keep` after expiry so a late request is still answered "expired" with its credential on record.
    pub fn prune_expired(&mut self, now: DateTime<Utc>, keep: Duration, batch: usize) -> Result<Pruned> {
        let cutoff = ts(now - keep);
        let batch = limit_param(batch);
        let tokens = self.execute(PRUNE_TOKENS, &[&cutoff, &batch])?;
        let sessions = self.execute(PRUNE_SESSIONS, &[&cutoff, &batch])?;
        for sql in PRUNE_LEFTOVERS {
            self.execute(sql, &[&cutoff, &batch])?;
        }
        let count = |n: u64| usize::try_from(n).map_err(|_| StoreError::Corrupt(format!("pruned {n} rows")));
        Ok(Pruned { tokens: count(tokens)?, sessions: count(sessions)? })
    }

    /// How many access tokens and sessions are stored (for tests and the bench).
    pub fn token_and_session_rows(&self) -> Result<(i64, i64)> {
        let row = self.query_one("SELECT (SELECT count(*) FROM access_tokens), (SELECT count(*) FROM sessions)", &[])?;
        Ok((crate::col(&row, 0)?, crate::col(&row, 1)?))
    }
}
