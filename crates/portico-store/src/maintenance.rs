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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TokenRecord;

    #[test]
    fn prunes_only_what_expired_long_enough_ago_in_batches() {
        let mut store = Store::open_in_memory().unwrap();
        let now = Utc::now();
        let user = store
            .create_user(
                &crate::NewUser {
                    username: "u",
                    display_name: "u",
                    password_hash: "x",
                    roles: &[portico_domain::Role::Developer],
                    practices: &[],
                    patient: None,
                },
                now,
            )
            .unwrap();
        store
            .insert_credential(
                &crate::NewCredential {
                    id: "c",
                    kind: portico_domain::CredentialKind::Developer,
                    owner: user,
                    name: "n",
                    note: None,
                    client_id: "pci_dev_x",
                    secret_digest: portico_domain::Digest([0; 32]),
                    secret_hint: "h",
                    window: portico_domain::ValidityWindow::default(),
                    active: true,
                    created_by: user,
                    patients: &[],
                    grant: None,
                },
                now,
            )
            .unwrap();
        // (expired how long ago, in hours; negative = still valid)
        let ages = [-1i64, 1, 23, 25, 48, 72];
        for (i, age) in ages.iter().enumerate() {
            let expires = now - Duration::hours(*age);
            store
                .insert_token(&TokenRecord {
                    digest: portico_domain::Digest([i as u8 + 1; 32]),
                    credential_id: "c".into(),
                    scope: "system/*.rs".into(),
                    patient: None,
                    issued_at: expires - Duration::hours(1),
                    expires_at: expires,
                    revoked_at: None,
                    secret_generation: 0,
                })
                .unwrap();
        }
        let first = store.prune_expired(now, Duration::days(1), 2).unwrap();
        assert_eq!(first.tokens, 2, "a batch at a time");
        let second = store.prune_expired(now, Duration::days(1), 2).unwrap();
        assert_eq!(second.tokens, 1);
        assert_eq!(store.token_and_session_rows().unwrap().0, 3, "valid and recently expired tokens stay");
    }
}
