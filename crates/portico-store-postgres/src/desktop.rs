//! The desktop app's browser sign-in: single-use codes, rotating refresh tokens grouped in families (one per
//! sign-in), and the sessions each family minted (SQLite: `desktop.rs`).
//!
//! A family has no row of its own that writers could lock, yet ending one must catch every token and
//! session of it, including those a refresh on another server is minting at that moment (under READ
//! COMMITTED a statement does not see rows another transaction commits while it runs, so a token minted
//! meanwhile would outlive the sign-out). Every change to a family's rows therefore first takes a
//! transaction-scoped advisory lock named by the family: a refresh holds it from marking its token used
//! until its new token and session are committed, and an ending of the family holds it while it revokes.
//! Whichever comes second sees all the first one did: a refresh after a sign-out finds its token revoked.

use chrono::{DateTime, Utc};
use portico_domain::{Digest, UserId};
use portico_store::{DesktopCode, DesktopRefreshToken, Result};

use crate::{col, parse_opt_ts, parse_ts, ts, PgStore};

impl PgStore {
    /// Waits for, then holds until this transaction ends, the lock of a desktop sign-in family. The
    /// two-key form with a fixed first key ("desk") keeps these apart from every one-key advisory lock
    /// (the migrations' among them).
    fn lock_family(&self, family: &str) -> Result<()> {
        self.execute("SELECT pg_advisory_xact_lock(1684370283, hashtext($1))", &[&family])?;
        Ok(())
    }

    pub fn insert_desktop_code(&mut self, c: &DesktopCode) -> Result<()> {
        let d: &[u8] = &c.digest.0;
        self.execute(
            "INSERT INTO desktop_codes(digest, user_id, redirect_uri, code_challenge, issued_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[&d, &c.user.0, &c.redirect_uri, &c.code_challenge, &ts(c.issued_at), &ts(c.expires_at)],
        )?;
        Ok(())
    }

    pub fn desktop_code(&self, digest: &Digest) -> Result<Option<DesktopCode>> {
        let d: &[u8] = &digest.0;
        let Some(r) = self.query_opt(
            "SELECT user_id, redirect_uri, code_challenge, issued_at, expires_at, used_at, family
             FROM desktop_codes WHERE digest = $1",
            &[&d],
        )?
        else {
            return Ok(None);
        };
        let (issued, expires): (String, String) = (col(&r, 3)?, col(&r, 4)?);
        Ok(Some(DesktopCode {
            digest: *digest,
            user: UserId(col(&r, 0)?),
            redirect_uri: col(&r, 1)?,
            code_challenge: col(&r, 2)?,
            issued_at: parse_ts(&issued)?,
            expires_at: parse_ts(&expires)?,
            used_at: parse_opt_ts(col(&r, 5)?)?,
            family: col(&r, 6)?,
        }))
    }

    /// Marks a code used by the exchange that starts `family`; `false` when it already was used. One
    /// conditional statement: of concurrent exchanges exactly one wins, and the code keeps the winner's family.
    pub fn use_desktop_code(&mut self, digest: &Digest, family: &str, now: DateTime<Utc>) -> Result<bool> {
        let d: &[u8] = &digest.0;
        let n = self.execute(
            "UPDATE desktop_codes SET used_at = $1, family = $2 WHERE digest = $3 AND used_at IS NULL",
            &[&ts(now), &family, &d],
        )?;
        Ok(n == 1)
    }

    pub fn insert_desktop_refresh_token(&mut self, t: &DesktopRefreshToken) -> Result<()> {
        self.lock_family(&t.family)?;
        let d: &[u8] = &t.digest.0;
        self.execute(
            "INSERT INTO desktop_refresh_tokens(digest, family, user_id, issued_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
            &[&d, &t.family, &t.user.0, &ts(t.issued_at), &ts(t.expires_at)],
        )?;
        Ok(())
    }

    pub fn desktop_refresh_token(&self, digest: &Digest) -> Result<Option<DesktopRefreshToken>> {
        let d: &[u8] = &digest.0;
        let Some(r) = self.query_opt(
            "SELECT family, user_id, issued_at, expires_at, used_at, revoked_at FROM desktop_refresh_tokens WHERE digest = $1",
            &[&d],
        )?
        else {
            return Ok(None);
        };
        let (issued, expires): (String, String) = (col(&r, 2)?, col(&r, 3)?);
        Ok(Some(DesktopRefreshToken {
            digest: *digest,
            family: col(&r, 0)?,
            user: UserId(col(&r, 1)?),
            issued_at: parse_ts(&issued)?,
            expires_at: parse_ts(&expires)?,
            used_at: parse_opt_ts(col(&r, 4)?)?,
            revoked_at: parse_opt_ts(col(&r, 5)?)?,
        }))
    }

    /// Marks a refresh token used (rotation); `false` when it already was used or revoked: a replay. The
    /// family's lock comes first (see the module's note), then one conditional statement: one of several
    /// concurrent uses wins.
    pub fn use_desktop_refresh_token(&mut self, digest: &Digest, now: DateTime<Utc>) -> Result<bool> {
        let d: &[u8] = &digest.0;
        let Some(row) = self.query_opt("SELECT family FROM desktop_refresh_tokens WHERE digest = $1", &[&d])? else {
            return Ok(false);
        };
        let family: String = col(&row, 0)?;
        self.lock_family(&family)?;
        let n = self.execute(
            "UPDATE desktop_refresh_tokens SET used_at = $1 WHERE digest = $2 AND used_at IS NULL AND revoked_at IS NULL",
            &[&ts(now), &d],
        )?;
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
        self.lock_family(family)?;
        let d: &[u8] = &digest.0;
        self.execute(
            "INSERT INTO sessions(digest, user_id, created_at, expires_at, family) VALUES ($1, $2, $3, $4, $5)",
            &[&d, &user.0, &ts(now), &ts(expires), &family],
        )?;
        Ok(())
    }

    /// Ends a sign-in: every refresh token of the family and every session it minted. Under the family's
    /// lock, so a refresh in flight on another server either finished first (its new token and session are
    /// seen here and revoked) or comes after (and finds its token revoked).
    pub fn revoke_desktop_family(&mut self, family: &str, now: DateTime<Utc>) -> Result<()> {
        self.lock_family(family)?;
        self.execute(
            "UPDATE desktop_refresh_tokens SET revoked_at = $1 WHERE family = $2 AND revoked_at IS NULL",
            &[&ts(now), &family],
        )?;
        self.execute("UPDATE sessions SET revoked_at = $1 WHERE family = $2 AND revoked_at IS NULL", &[&ts(now), &family])?;
        Ok(())
    }

    /// The family a session was minted for, if it came from a desktop sign-in.
    pub fn session_family(&self, digest: &Digest) -> Result<Option<String>> {
        let d: &[u8] = &digest.0;
        match self.query_opt("SELECT family FROM sessions WHERE digest = $1", &[&d])? {
            Some(r) => col(&r, 0),
            None => Ok(None),
        }
    }
}
