//! Registered apps, their practice approvals, and what the OAuth flows keep between requests: grants
//! (credentials of a grant kind), authorization codes, refresh tokens and client-assertion ids (SQLite:
//! `apps.rs`).
//!
//! Several servers share the database, so every one-shot change is one conditional statement whose row
//! count (or returned row) says whether this caller won: PostgreSQL makes a second `UPDATE ... WHERE used_at
//! IS NULL` wait for the first one's commit and then re-check its condition, so exactly one sees the row.

use chrono::{DateTime, Utc};
use portico_domain::{AppType, ApprovalStatus, ClientAuth, Digest, Platform, PracticeId, UserId};
use portico_store::{
    AppChange, AppRecord, ApprovalRecord, AuthCodeRecord, CredentialRecord, RefreshTokenRecord, Result, StoreError,
};
use tokio_postgres::Row;

use crate::{col, nul_free, parse_opt_ts, parse_ts, ts, unique_violation, PgStore};

const APP_COLUMNS: &str = "id, client_id, owner_id, name, description, homepage, privacy_policy, app_type, platform,
    client_auth, secret_digest, secret_hint, previous_digest, previous_valid_until, jwks, jwks_url, redirect_uris, scopes,
    active, created_at, updated_at, deleted_at";

const APPROVAL_COLUMNS: &str = "app_id, practice_id, status, reason, requested_by, requested_at, decided_by, decided_at";

/// A stored digest as a [`Digest`]; any other length is a corrupt row.
pub(crate) fn digest_col(row: &Row, i: usize, what: &str) -> Result<Option<Digest>> {
    let bytes: Option<Vec<u8>> = col(row, i)?;
    bytes.map(|d| Digest::from_slice(&d).ok_or_else(|| StoreError::Corrupt(format!("{what}: digest")))).transpose()
}

fn app_row(r: &Row) -> Result<AppRecord> {
    let id: String = col(r, 0)?;
    let corrupt = |what: &str| StoreError::Corrupt(format!("app {id}: {what}"));
    let (app_type, platform, auth): (String, String, String) = (col(r, 7)?, col(r, 8)?, col(r, 9)?);
    let previous_until: Option<String> = col(r, 13)?;
    let uris: String = col(r, 16)?;
    let created: String = col(r, 19)?;
    let updated: String = col(r, 20)?;
    Ok(AppRecord {
        client_id: col(r, 1)?,
        owner: UserId(col(r, 2)?),
        name: col(r, 3)?,
        description: col(r, 4)?,
        homepage: col(r, 5)?,
        privacy_policy: col(r, 6)?,
        app_type: AppType::parse(&app_type).ok_or_else(|| corrupt("type"))?,
        platform: Platform::parse(&platform).ok_or_else(|| corrupt("platform"))?,
        client_auth: ClientAuth::parse(&auth).ok_or_else(|| corrupt("client_auth"))?,
        secret_digest: digest_col(r, 10, &format!("app {id}"))?,
        secret_hint: col(r, 11)?,
        previous: match (digest_col(r, 12, &format!("app {id}"))?, previous_until) {
            (Some(d), Some(until)) => Some((d, parse_ts(&until)?)),
            _ => None,
        },
        jwks: col(r, 14)?,
        jwks_url: col(r, 15)?,
        redirect_uris: serde_json::from_str(&uris).map_err(|_| corrupt("redirect_uris"))?,
        scopes: col(r, 17)?,
        active: col(r, 18)?,
        created_at: parse_ts(&created)?,
        updated_at: parse_ts(&updated)?,
        deleted_at: parse_opt_ts(col(r, 21)?)?,
        id,
    })
}

fn approval_row(r: &Row) -> Result<ApprovalRecord> {
    let status: String = col(r, 2)?;
    let requested_at: String = col(r, 5)?;
    let decided_by: Option<i64> = col(r, 6)?;
    Ok(ApprovalRecord {
        status: ApprovalStatus::parse(&status).ok_or_else(|| StoreError::Corrupt(format!("approval status {status}")))?,
        app_id: col(r, 0)?,
        practice: PracticeId(col(r, 1)?),
        reason: col(r, 3)?,
        requested_by: UserId(col(r, 4)?),
        requested_at: parse_ts(&requested_at)?,
        decided_by: decided_by.map(UserId),
        decided_at: parse_opt_ts(col(r, 7)?)?,
    })
}

impl PgStore {
    pub fn insert_app(&mut self, a: &AppRecord) -> Result<()> {
        let uris = serde_json::to_string(&a.redirect_uris).map_err(StoreError::database)?;
        let secret = a.secret_digest.map(|d| d.0.to_vec());
        // A taken client id (or id) is refused by the unique index, however many servers insert at once.
        self.execute(
            &format!(
                "INSERT INTO apps({APP_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, NULL, NULL,
                   $13, $14, $15, $16, $17, $18, $19, NULL)"
            ),
            &[
                &a.id,
                &a.client_id,
                &a.owner.0,
                &a.name,
                &a.description,
                &a.homepage,
                &a.privacy_policy,
                &a.app_type.as_str(),
                &a.platform.as_str(),
                &a.client_auth.as_str(),
                &secret,
                &a.secret_hint,
                &a.jwks,
                &a.jwks_url,
                &uris,
                &a.scopes,
                &a.active,
                &ts(a.created_at),
                &ts(a.updated_at),
            ],
        )
        .map_err(|e| unique_violation(e, "an app with this client id exists"))?;
        Ok(())
    }

    pub fn app(&self, id: &str) -> Result<Option<AppRecord>> {
        self.query_opt(&format!("SELECT {APP_COLUMNS} FROM apps WHERE id = $1"), &[&nul_free(id)])?
            .as_ref()
            .map(app_row)
            .transpose()
    }

    pub fn app_by_client_id(&self, client_id: &str) -> Result<Option<AppRecord>> {
        self.query_opt(&format!("SELECT {APP_COLUMNS} FROM apps WHERE client_id = $1"), &[&nul_free(client_id)])?
            .as_ref()
            .map(app_row)
            .transpose()
    }

    /// The apps a developer registered that still exist, newest first.
    pub fn apps_of(&self, owner: UserId) -> Result<Vec<AppRecord>> {
        self.query(
            &format!(
                "SELECT {APP_COLUMNS} FROM apps WHERE owner_id = $1 AND deleted_at IS NULL
                 ORDER BY created_at COLLATE \"C\" DESC, id COLLATE \"C\""
            ),
            &[&owner.0],
        )?
        .iter()
        .map(app_row)
        .collect()
    }

    /// One statement: a concurrent deletion either happened first (then nothing matches: `NotFound`) or waits.
    pub fn update_app(&mut self, id: &str, c: &AppChange, now: DateTime<Utc>) -> Result<()> {
        let uris = c.redirect_uris.as_ref().map(serde_json::to_string).transpose().map_err(StoreError::database)?;
        let (homepage, privacy) = (c.homepage.clone().flatten(), c.privacy_policy.clone().flatten());
        let (jwks, jwks_url) = (c.jwks.clone().flatten(), c.jwks_url.clone().flatten());
        // COALESCE keeps a column when its new value is NULL; the flags say whether an optional column is
        // being set (possibly to NULL).
        let n = self.execute(
            "UPDATE apps SET name = COALESCE($1, name), description = COALESCE($2, description),
               homepage = CASE WHEN $3 THEN $4 ELSE homepage END,
               privacy_policy = CASE WHEN $5 THEN $6 ELSE privacy_policy END,
               redirect_uris = COALESCE($7, redirect_uris), scopes = COALESCE($8, scopes),
               jwks = CASE WHEN $9 THEN $10 ELSE jwks END, jwks_url = CASE WHEN $11 THEN $12 ELSE jwks_url END,
               active = COALESCE($13, active), updated_at = $14
             WHERE id = $15 AND deleted_at IS NULL",
            &[
                &c.name,
                &c.description,
                &c.homepage.is_some(),
                &homepage,
                &c.privacy_policy.is_some(),
                &privacy,
                &uris,
                &c.scopes,
                &c.jwks.is_some(),
                &jwks,
                &c.jwks_url.is_some(),
                &jwks_url,
                &c.active,
                &ts(now),
                &id,
            ],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Installs a new secret; the old one keeps working until `grace_until` (or dies now without one). One
    /// statement, so two rotations at once chain (the second keeps the first one's secret as the previous).
    pub fn replace_app_secret(
        &mut self,
        id: &str,
        digest: Digest,
        hint: &str,
        grace_until: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let d: &[u8] = &digest.0;
        let n = self.execute(
            "UPDATE apps SET previous_digest = CASE WHEN $1::text IS NULL THEN NULL ELSE secret_digest END,
               previous_valid_until = $1, secret_digest = $2, secret_hint = $3,
               secret_generation = secret_generation + 1, updated_at = $4
             WHERE id = $5 AND deleted_at IS NULL",
            &[&grace_until.map(ts), &d, &hint, &ts(now), &id],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Soft-deletes the app and every grant made to it (their tokens with them). Returns the grants
    /// revoked, or `None` when the app was already gone. Of two servers deleting at once, the second waits
    /// for the first's commit and then finds the app gone (`None`).
    pub fn delete_app(&mut self, id: &str, now: DateTime<Utc>) -> Result<Option<usize>> {
        let n = self.execute(
            "UPDATE apps SET deleted_at = $1, active = FALSE, updated_at = $1 WHERE id = $2 AND deleted_at IS NULL",
            &[&ts(now), &id],
        )?;
        if n == 0 {
            return Ok(None);
        }
        let grants: Vec<String> = self
            .query("SELECT id FROM credentials WHERE app_id = $1 AND deleted_at IS NULL ORDER BY id COLLATE \"C\"", &[&id])?
            .iter()
            .map(|r| col(r, 0))
            .collect::<Result<_>>()?;
        let mut revoked = 0;
        for g in &grants {
            // A grant another server revoked meanwhile is not counted as revoked here.
            if self.delete_credential(g, now)?.is_some() {
                revoked += 1;
            }
        }
        Ok(Some(revoked))
    }

    /// How many live grants (people's consents, or a backend app's standing access) an app has.
    pub fn live_grant_count(&self, app_id: &str) -> Result<i64> {
        col(&self.query_one("SELECT count(*) FROM credentials WHERE app_id = $1 AND deleted_at IS NULL", &[&app_id])?, 0)
    }

    /// Every redirect URI of every usable app (for CORS: their origins may call the token endpoint and FHIR).
    pub fn registered_redirect_uris(&self) -> Result<Vec<String>> {
        let rows = self.query(
            "SELECT redirect_uris FROM apps WHERE active AND deleted_at IS NULL ORDER BY created_at COLLATE \"C\", id COLLATE \"C\"",
            &[],
        )?;
        let mut out = Vec::new();
        for r in &rows {
            let text: String = col(r, 0)?;
            let uris: Vec<String> = serde_json::from_str(&text).map_err(|_| StoreError::Corrupt("apps.redirect_uris".into()))?;
            out.extend(uris);
        }
        Ok(out)
    }

    /// The live grant `owner` made to `app_id` (a patient or staff consent), if any.
    pub fn grant_of(&self, app_id: &str, owner: UserId) -> Result<Option<CredentialRecord>> {
        let row = self.query_opt(
            "SELECT id FROM credentials WHERE app_id = $1 AND owner_id = $2 AND deleted_at IS NULL
             ORDER BY created_at COLLATE \"C\" DESC LIMIT 1",
            &[&app_id, &owner.0],
        )?;
        let Some(row) = row else { return Ok(None) };
        let id: String = col(&row, 0)?;
        self.credential(&id)
    }

    /// Creates or replaces the (app, practice) request. A new request resets any decision. One upsert: two
    /// requests at once leave one row, the later one's.
    pub fn request_approval(&mut self, app_id: &str, practice: PracticeId, by: UserId, now: DateTime<Utc>) -> Result<()> {
        self.execute(
            "INSERT INTO app_approvals(app_id, practice_id, status, reason, requested_by, requested_at)
             VALUES ($1, $2, 'pending', NULL, $3, $4)
             ON CONFLICT (app_id, practice_id) DO UPDATE SET status = 'pending', reason = NULL,
               requested_by = excluded.requested_by, requested_at = excluded.requested_at, decided_by = NULL, decided_at = NULL",
            &[&app_id, &practice.0, &by.0, &ts(now)],
        )?;
        Ok(())
    }

    /// Records an administrator's decision on an existing request.
    pub fn decide_approval(
        &mut self,
        app_id: &str,
        practice: PracticeId,
        status: ApprovalStatus,
        reason: Option<&str>,
        by: UserId,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let n = self.execute(
            "UPDATE app_approvals SET status = $1, reason = $2, decided_by = $3, decided_at = $4
             WHERE app_id = $5 AND practice_id = $6",
            &[&status.as_str(), &reason, &by.0, &ts(now), &app_id, &practice.0],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    pub fn approvals_of_app(&self, app_id: &str) -> Result<Vec<ApprovalRecord>> {
        self.query(&format!("SELECT {APPROVAL_COLUMNS} FROM app_approvals WHERE app_id = $1 ORDER BY practice_id"), &[&app_id])?
            .iter()
            .map(approval_row)
            .collect()
    }

    /// Requests and decisions for apps of live registrations at any of `practices`, newest request first.
    pub fn approvals_for_practices(&self, practices: &[PracticeId]) -> Result<Vec<ApprovalRecord>> {
        let ids: Vec<i64> = practices.iter().map(|p| p.0).collect();
        self.query(
            &format!(
                "SELECT {APPROVAL_COLUMNS} FROM app_approvals WHERE practice_id = ANY($1) AND app_id IN
                   (SELECT id FROM apps WHERE deleted_at IS NULL)
                 ORDER BY requested_at COLLATE \"C\" DESC, app_id COLLATE \"C\""
            ),
            &[&ids],
        )?
        .iter()
        .map(approval_row)
        .collect()
    }

    /// The practices that currently approve `app_id`.
    pub fn approved_practices(&self, app_id: &str) -> Result<Vec<PracticeId>> {
        self.query(
            "SELECT practice_id FROM app_approvals WHERE app_id = $1 AND status = 'approved' ORDER BY practice_id",
            &[&app_id],
        )?
        .iter()
        .map(|r| col(r, 0).map(PracticeId))
        .collect()
    }

    pub fn insert_auth_code(&mut self, c: &AuthCodeRecord) -> Result<()> {
        let d: &[u8] = &c.digest.0;
        self.execute(
            "INSERT INTO auth_codes(digest, credential_id, redirect_uri, code_challenge, nonce, issued_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[&d, &c.credential_id, &c.redirect_uri, &c.code_challenge, &c.nonce, &ts(c.issued_at), &ts(c.expires_at)],
        )?;
        Ok(())
    }

    pub fn auth_code(&self, digest: &Digest) -> Result<Option<AuthCodeRecord>> {
        let d: &[u8] = &digest.0;
        let Some(r) = self.query_opt(
            "SELECT credential_id, redirect_uri, code_challenge, nonce, issued_at, expires_at, used_at
             FROM auth_codes WHERE digest = $1",
            &[&d],
        )?
        else {
            return Ok(None);
        };
        let (issued, expires): (String, String) = (col(&r, 4)?, col(&r, 5)?);
        Ok(Some(AuthCodeRecord {
            digest: *digest,
            credential_id: col(&r, 0)?,
            redirect_uri: col(&r, 1)?,
            code_challenge: col(&r, 2)?,
            nonce: col(&r, 3)?,
            issued_at: parse_ts(&issued)?,
            expires_at: parse_ts(&expires)?,
            used_at: parse_opt_ts(col(&r, 6)?)?,
        }))
    }

    /// Marks a code used; `false` when it already was (the caller then treats the grant as compromised).
    /// Of several servers using it at once exactly one changes the row: the others wait for its commit,
    /// re-check `used_at IS NULL` and change nothing.
    pub fn use_auth_code(&mut self, digest: &Digest, now: DateTime<Utc>) -> Result<bool> {
        let d: &[u8] = &digest.0;
        let n = self.execute("UPDATE auth_codes SET used_at = $1 WHERE digest = $2 AND used_at IS NULL", &[&ts(now), &d])?;
        Ok(n == 1)
    }

    pub fn insert_refresh_token(&mut self, t: &RefreshTokenRecord) -> Result<()> {
        let d: &[u8] = &t.digest.0;
        self.execute(
            "INSERT INTO refresh_tokens(digest, credential_id, issued_at, expires_at) VALUES ($1, $2, $3, $4)",
            &[&d, &t.credential_id, &ts(t.issued_at), &ts(t.expires_at)],
        )?;
        Ok(())
    }

    pub fn refresh_token(&self, digest: &Digest) -> Result<Option<RefreshTokenRecord>> {
        let d: &[u8] = &digest.0;
        let Some(r) = self.query_opt(
            "SELECT credential_id, issued_at, expires_at, used_at, revoked_at FROM refresh_tokens WHERE digest = $1",
            &[&d],
        )?
        else {
            return Ok(None);
        };
        let (issued, expires): (String, String) = (col(&r, 1)?, col(&r, 2)?);
        Ok(Some(RefreshTokenRecord {
            digest: *digest,
            credential_id: col(&r, 0)?,
            issued_at: parse_ts(&issued)?,
            expires_at: parse_ts(&expires)?,
            used_at: parse_opt_ts(col(&r, 3)?)?,
            revoked_at: parse_opt_ts(col(&r, 4)?)?,
        }))
    }

    /// Marks a refresh token used (rotation); `false` when it already was, or was revoked: a replay. One
    /// conditional statement, so one of several concurrent uses wins.
    pub fn use_refresh_token(&mut self, digest: &Digest, now: DateTime<Utc>) -> Result<bool> {
        let d: &[u8] = &digest.0;
        let n = self.execute(
            "UPDATE refresh_tokens SET used_at = $1 WHERE digest = $2 AND used_at IS NULL AND revoked_at IS NULL",
            &[&ts(now), &d],
        )?;
        Ok(n == 1)
    }

    /// Refresh tokens of a grant that would be accepted now.
    pub fn live_refresh_tokens(&self, credential_id: &str, now: DateTime<Utc>) -> Result<i64> {
        col(
            &self.query_one(
                "SELECT count(*) FROM refresh_tokens
                 WHERE credential_id = $1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $2",
                &[&credential_id, &ts(now)],
            )?,
            0,
        )
    }

    /// Records a client assertion's `jti` until `expires_at`; `false` when it was seen before and has not
    /// expired (a replay). Expired entries are pruned by housekeeping, or replaced here.
    ///
    /// One upsert instead of SQLite's read-then-write: of two servers recording the same new `jti` at once,
    /// the second waits on the first's uncommitted row, then meets it as a conflict whose `expires_at` is
    /// still ahead, updates nothing and returns no row. An expired entry is overwritten (reused) exactly once
    /// the same way: the loser re-checks the winner's fresh `expires_at`.
    pub fn record_jti(&mut self, client_id: &str, jti: &str, expires_at: DateTime<Utc>, now: DateTime<Utc>) -> Result<bool> {
        let row = self.query_opt(
            "INSERT INTO assertion_jtis(client_id, jti, expires_at) VALUES ($1, $2, $3)
             ON CONFLICT (client_id, jti) DO UPDATE SET expires_at = excluded.expires_at
               WHERE assertion_jtis.expires_at <= $4
             RETURNING 1",
            &[&nul_free(client_id), &nul_free(jti), &ts(expires_at), &ts(now)],
        )?;
        Ok(row.is_some())
    }
}
