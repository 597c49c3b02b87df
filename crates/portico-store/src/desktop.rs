//! The desktop app's browser sign-in (migration 0008): single-use codes, rotating refresh tokens grouped
//! in families (one per sign-in), and the sessions each family minted. Digests only, as everywhere.

use chrono::{DateTime, Utc};
use portico_domain::{Digest, UserId};
use rusqlite::{params, OptionalExtension};

use crate::{parse_opt_ts, parse_ts, sqlite, ts, Result, Store};

/// A code handed to the desktop's loopback redirect, bound to who signed in, where it went and the PKCE
/// challenge.
#[derive(Clone, Debug)]
pub struct DesktopCode {
    pub digest: Digest,
    pub user: UserId,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    /// The refresh-token family its exchange started.
    pub family: Option<String>,
}

#[derive(Clone, Debug)]
pub struct DesktopRefreshToken {
    pub digest: Digest,
    pub family: String,
    pub user: UserId,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl Store {
    pub fn insert_desktop_code(&mut self, c: &DesktopCode) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO desktop_codes(digest, user_id, redirect_uri, code_challenge, issued_at, expires_at)
                 VALUES (?, ?, ?, ?, ?, ?)",
            )
            .map_err(sqlite)?
            .execute(params![&c.digest.0[..], c.user.0, c.redirect_uri, c.code_challenge, ts(c.issued_at), ts(c.expires_at)])
            .map_err(sqlite)?;
        Ok(())
    }

    pub fn desktop_code(&self, digest: &Digest) -> Result<Option<DesktopCode>> {
        let row = self
            .conn
            .prepare_cached(
                "SELECT user_id, redirect_uri, code_challenge, issued_at, expires_at, used_at, family
                 FROM desktop_codes WHERE digest = ?",
            )
            .map_err(sqlite)?
            .query_row([&digest.0[..]], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, Option<String>>(5)?,
                    r.get::<_, Option<String>>(6)?,
                ))
            })
            .optional()
            .map_err(sqlite)?;
        row.map(|(user, redirect_uri, code_challenge, issued, expires, used, family)| {
            Ok(DesktopCode {
                digest: *digest,
                user: UserId(user),
                redirect_uri,
                code_challenge,
                issued_at: parse_ts(&issued)?,
                expires_at: parse_ts(&expires)?,
                used_at: parse_opt_ts(used)?,
                family,
            })
        })
        .transpose()
    }

    /// Marks a code used by the exchange that starts `family`; `false` when it already was used.
    pub fn use_desktop_code(&mut self, digest: &Digest, family: &str, now: DateTime<Utc>) -> Result<bool> {
        let n = self
            .conn
            .prepare_cached("UPDATE desktop_codes SET used_at = ?, family = ? WHERE digest = ? AND used_at IS NULL")
            .map_err(sqlite)?
            .execute(params![ts(now), family, &digest.0[..]])
            .map_err(sqlite)?;
        Ok(n == 1)
    }

    pub fn insert_desktop_refresh_token(&mut self, t: &DesktopRefreshToken) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO desktop_refresh_tokens(digest, family, user_id, issued_at, expires_at) VALUES (?, ?, ?, ?, ?)",
            )
            .map_err(sqlite)?
            .execute(params![&t.digest.0[..], t.family, t.user.0, ts(t.issued_at), ts(t.expires_at)])
            .map_err(sqlite)?;
        Ok(())
    }

    pub fn desktop_refresh_token(&self, digest: &Digest) -> Result<Option<DesktopRefreshToken>> {
        let row = self
            .conn
            .prepare_cached(
                "SELECT family, user_id, issued_at, expires_at, used_at, revoked_at FROM desktop_refresh_tokens WHERE digest = ?",
            )
            .map_err(sqlite)?
            .query_row([&digest.0[..]], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, Option<String>>(5)?,
                ))
            })
            .optional()
            .map_err(sqlite)?;
        row.map(|(family, user, issued, expires, used, revoked)| {
            Ok(DesktopRefreshToken {
                digest: *digest,
                family,
                user: UserId(user),
                issued_at: parse_ts(&issued)?,
                expires_at: parse_ts(&expires)?,
                used_at: parse_opt_ts(used)?,
                revoked_at: parse_opt_ts(revoked)?,
            })
        })
        .transpose()
    }

    /// Marks a refresh token used (rotation); `false` when it already was used or revoked: a replay.
    pub fn use_desktop_refresh_token(&mut self, digest: &Digest, now: DateTime<Utc>) -> Result<bool> {
        let n = self
            .conn
            .prepare_cached(
                "UPDATE desktop_refresh_tokens SET used_at = ? WHERE digest = ? AND used_at IS NULL AND revoked_at IS NULL",
            )
            .map_err(sqlite)?
            .execute(params![ts(now), &digest.0[..]])
            .map_err(sqlite)?;
        Ok(n == 1)
    }

    /// A session minted for a desktop sign-in family.
    pub fn create_family_session(
        &mut self,
        digest: &Digest,
        user: UserId,
        family: &str,
        now: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> Result<()> {
        self.conn
            .prepare_cached("INSERT INTO sessions(digest, user_id, created_at, expires_at, family) VALUES (?, ?, ?, ?, ?)")
            .map_err(sqlite)?
            .execute(params![&digest.0[..], user.0, ts(now), ts(expires), family])
            .map_err(sqlite)?;
        Ok(())
    }

    /// Ends a sign-in: every refresh token of the family and every session it minted.
    pub fn revoke_desktop_family(&mut self, family: &str, now: DateTime<Utc>) -> Result<()> {
        self.conn
            .prepare_cached("UPDATE desktop_refresh_tokens SET revoked_at = ? WHERE family = ? AND revoked_at IS NULL")
            .map_err(sqlite)?
            .execute(params![ts(now), family])
            .map_err(sqlite)?;
        self.conn
            .prepare_cached("UPDATE sessions SET revoked_at = ? WHERE family = ? AND revoked_at IS NULL")
            .map_err(sqlite)?
            .execute(params![ts(now), family])
            .map_err(sqlite)?;
        Ok(())
    }

    /// The family a session was minted for, if it came from a desktop sign-in.
    pub fn session_family(&self, digest: &Digest) -> Result<Option<String>> {
        Ok(self
            .conn
            .prepare_cached("SELECT family FROM sessions WHERE digest = ?")
            .map_err(sqlite)?
            .query_row([&digest.0[..]], |r| r.get::<_, Option<String>>(0))
            .optional()
            .map_err(sqlite)?
            .flatten())
    }
}
