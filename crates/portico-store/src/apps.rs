//! Registered apps, their practice approvals, and what the OAuth flows keep between requests: grants
//! (credentials of a grant kind), authorization codes, refresh tokens and client-assertion ids.

use chrono::{DateTime, Utc};
use portico_domain::{
    AppFacts, AppType, ApprovalStatus, ClientAuth, CredentialKind, Digest, Platform, PracticeId, RequestedScopes, UserId,
};
use rusqlite::{params, OptionalExtension};

use crate::{parse_opt_ts, parse_ts, placeholders, sqlite, ts, unique_violation, CredentialRecord, Result, Store, StoreError};

/// A registered app. Its secret (if it has one) is stored only as a digest.
#[derive(Clone, Debug)]
pub struct AppRecord {
    pub id: String,
    pub client_id: String,
    pub owner: UserId,
    pub name: String,
    pub description: String,
    pub homepage: Option<String>,
    pub privacy_policy: Option<String>,
    pub app_type: AppType,
    pub platform: Platform,
    pub client_auth: ClientAuth,
    pub secret_digest: Option<Digest>,
    pub secret_hint: Option<String>,
    /// After a rotation with a grace period: the old secret and until when it still works.
    pub previous: Option<(Digest, DateTime<Utc>)>,
    pub jwks: Option<String>,
    pub jwks_url: Option<String>,
    pub redirect_uris: Vec<String>,
    /// The SMART scopes it may ask for (space-separated).
    pub scopes: String,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

impl AppRecord {
    /// Active and not deleted.
    pub fn usable(&self) -> bool {
        self.active && self.deleted_at.is_none()
    }
}

/// A partial update; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct AppChange {
    pub name: Option<String>,
    pub description: Option<String>,
    pub homepage: Option<Option<String>>,
    pub privacy_policy: Option<Option<String>>,
    pub redirect_uris: Option<Vec<String>>,
    pub scopes: Option<String>,
    pub jwks: Option<Option<String>>,
    pub jwks_url: Option<Option<String>>,
    pub active: Option<bool>,
}

#[derive(Clone, Debug)]
pub struct ApprovalRecord {
    pub app_id: String,
    pub practice: PracticeId,
    pub status: ApprovalStatus,
    pub reason: Option<String>,
    pub requested_by: UserId,
    pub requested_at: DateTime<Utc>,
    pub decided_by: Option<UserId>,
    pub decided_at: Option<DateTime<Utc>>,
}

/// An authorization code as stored (the code itself only as a digest).
#[derive(Clone, Debug)]
pub struct AuthCodeRecord {
    pub digest: Digest,
    /// The grant the code was issued for: client, user, scopes and patient context live there.
    pub credential_id: String,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub nonce: Option<String>,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug)]
pub struct RefreshTokenRecord {
    pub digest: Digest,
    pub credential_id: String,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

const APP_COLUMNS: &str = "id, client_id, owner_id, name, description, homepage, privacy_policy, app_type, platform,
    client_auth, secret_digest, secret_hint, previous_digest, previous_valid_until, jwks, jwks_url, redirect_uris, scopes,
    active, created_at, updated_at, deleted_at";

fn app_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<AppRecord>> {
    let id: String = r.get(0)?;
    let corrupt = |what: &str| StoreError::Corrupt(format!("app {id}: {what}"));
    let digest = |v: Option<Vec<u8>>| v.map(|d| Digest::from_slice(&d).ok_or_else(|| corrupt("digest"))).transpose();
    let text = |i: usize| r.get::<_, String>(i);
    let (app_type, platform, auth) = (text(7)?, text(8)?, text(9)?);
    let (secret, previous, previous_until): (Option<Vec<u8>>, Option<Vec<u8>>, Option<String>) =
        (r.get(10)?, r.get(12)?, r.get(13)?);
    let uris: String = r.get(16)?;
    let (created, updated, deleted): (String, String, Option<String>) = (r.get(19)?, r.get(20)?, r.get(21)?);
    let (client_id, owner, name, description, homepage, privacy, hint, jwks, jwks_url, scopes, active) = (
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(11)?,
        r.get(14)?,
        r.get(15)?,
        r.get(17)?,
        r.get::<_, bool>(18)?,
    );
    Ok((|| {
        Ok(AppRecord {
            client_id,
            owner: UserId(owner),
            name,
            description,
            homepage,
            privacy_policy: privacy,
            app_type: AppType::parse(&app_type).ok_or_else(|| corrupt("type"))?,
            platform: Platform::parse(&platform).ok_or_else(|| corrupt("platform"))?,
            client_auth: ClientAuth::parse(&auth).ok_or_else(|| corrupt("client_auth"))?,
            secret_digest: digest(secret)?,
            secret_hint: hint,
            previous: match (digest(previous)?, previous_until) {
                (Some(d), Some(until)) => Some((d, parse_ts(&until)?)),
                _ => None,
            },
            jwks,
            jwks_url,
            redirect_uris: serde_json::from_str(&uris).map_err(|_| corrupt("redirect_uris"))?,
            scopes,
            active,
            created_at: parse_ts(&created)?,
            updated_at: parse_ts(&updated)?,
            deleted_at: parse_opt_ts(deleted)?,
            id: id.clone(),
        })
    })())
}

fn approval_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<ApprovalRecord>> {
    let (app_id, practice, status, reason): (String, i64, String, Option<String>) = (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
    let (by, at, decided_by, decided_at): (i64, String, Option<i64>, Option<String>) =
        (r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?);
    Ok((|| {
        Ok(ApprovalRecord {
            status: ApprovalStatus::parse(&status).ok_or_else(|| StoreError::Corrupt(format!("approval status {status}")))?,
            app_id,
            practice: PracticeId(practice),
            reason,
            requested_by: UserId(by),
            requested_at: parse_ts(&at)?,
            decided_by: decided_by.map(UserId),
            decided_at: parse_opt_ts(decided_at)?,
        })
    })())
}

const APPROVAL_COLUMNS: &str = "app_id, practice_id, status, reason, requested_by, requested_at, decided_by, decided_at";

impl Store {
    pub fn insert_app(&mut self, a: &AppRecord) -> Result<()> {
        let uris = serde_json::to_string(&a.redirect_uris).map_err(StoreError::database)?;
        self.conn
            .prepare_cached(&format!(
                "INSERT INTO apps({APP_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?, ?, ?, ?, ?, ?, ?, NULL)"
            ))
            .map_err(sqlite)?
            .execute(params![
                a.id,
                a.client_id,
                a.owner.0,
                a.name,
                a.description,
                a.homepage,
                a.privacy_policy,
                a.app_type.as_str(),
                a.platform.as_str(),
                a.client_auth.as_str(),
                a.secret_digest.map(|d| d.0.to_vec()),
                a.secret_hint,
                a.jwks,
                a.jwks_url,
                uris,
                a.scopes,
                a.active,
                ts(a.created_at),
                ts(a.updated_at),
            ])
            .map_err(|e| unique_violation(e, "an app with this client id exists"))?;
        Ok(())
    }

    pub fn app(&self, id: &str) -> Result<Option<AppRecord>> {
        self.app_where("id = ?", id)
    }

    pub fn app_by_client_id(&self, client_id: &str) -> Result<Option<AppRecord>> {
        self.app_where("client_id = ?", client_id)
    }

    fn app_where(&self, cond: &str, arg: &str) -> Result<Option<AppRecord>> {
        let sql = format!("SELECT {APP_COLUMNS} FROM apps WHERE {cond}");
        self.conn.prepare_cached(&sql).map_err(sqlite)?.query_row([arg], app_row).optional().map_err(sqlite)?.transpose()
    }

    /// The apps a developer registered that still exist, newest first.
    pub fn apps_of(&self, owner: UserId) -> Result<Vec<AppRecord>> {
        let sql =
            format!("SELECT {APP_COLUMNS} FROM apps WHERE owner_id = ? AND deleted_at IS NULL ORDER BY created_at DESC, id");
        let mut st = self.conn.prepare_cached(&sql).map_err(sqlite)?;
        let rows = st.query_map([owner.0], app_row).map_err(sqlite)?;
        rows.map(|r| r.map_err(sqlite)?).collect()
    }

    pub fn update_app(&mut self, id: &str, c: &AppChange, now: DateTime<Utc>) -> Result<()> {
        let uris = c.redirect_uris.as_ref().map(serde_json::to_string).transpose().map_err(StoreError::database)?;
        // COALESCE keeps a column when its new value is NULL; the flags say whether an optional column is
        // being set (possibly to NULL).
        let n = self
            .conn
            .prepare_cached(
                "UPDATE apps SET name = COALESCE(?, name), description = COALESCE(?, description),
                   homepage = CASE WHEN ? THEN ? ELSE homepage END,
                   privacy_policy = CASE WHEN ? THEN ? ELSE privacy_policy END,
                   redirect_uris = COALESCE(?, redirect_uris), scopes = COALESCE(?, scopes),
                   jwks = CASE WHEN ? THEN ? ELSE jwks END, jwks_url = CASE WHEN ? THEN ? ELSE jwks_url END,
                   active = COALESCE(?, active), updated_at = ?
                 WHERE id = ? AND deleted_at IS NULL",
            )
            .map_err(sqlite)?
            .execute(params![
                c.name,
                c.description,
                c.homepage.is_some(),
                c.homepage.clone().flatten(),
                c.privacy_policy.is_some(),
                c.privacy_policy.clone().flatten(),
                uris,
                c.scopes,
                c.jwks.is_some(),
                c.jwks.clone().flatten(),
                c.jwks_url.is_some(),
                c.jwks_url.clone().flatten(),
                c.active,
                ts(now),
                id
            ])
            .map_err(sqlite)?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Installs a new secret; the old one keeps working until `grace_until` (or dies now without one).
    pub fn replace_app_secret(
        &mut self,
        id: &str,
        digest: Digest,
        hint: &str,
        grace_until: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let n = self
            .conn
            .prepare_cached(
                "UPDATE apps SET previous_digest = CASE WHEN ? IS NULL THEN NULL ELSE secret_digest END,
                   previous_valid_until = ?, secret_digest = ?, secret_hint = ?,
                   secret_generation = secret_generation + 1, updated_at = ?
                 WHERE id = ? AND deleted_at IS NULL",
            )
            .map_err(sqlite)?
            .execute(params![grace_until.map(ts), grace_until.map(ts), &digest.0[..], hint, ts(now), id])
            .map_err(sqlite)?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Soft-deletes the app and every grant made to it (their tokens with them). Returns the grants
    /// revoked, or `None` when the app was already gone.
    pub fn delete_app(&mut self, id: &str, now: DateTime<Utc>) -> Result<Option<usize>> {
        let n = self
            .conn
            .prepare_cached("UPDATE apps SET deleted_at = ?, active = 0, updated_at = ? WHERE id = ? AND deleted_at IS NULL")
            .map_err(sqlite)?
            .execute(params![ts(now), ts(now), id])
            .map_err(sqlite)?;
        if n == 0 {
            return Ok(None);
        }
        let grants = self.live_grants_of_app(id)?;
        for g in &grants {
            self.delete_credential(g, now)?;
        }
        Ok(Some(grants.len()))
    }

    fn live_grants_of_app(&self, app_id: &str) -> Result<Vec<String>> {
        let mut st =
            self.conn.prepare_cached("SELECT id FROM credentials WHERE app_id = ? AND deleted_at IS NULL").map_err(sqlite)?;
        let rows = st.query_map([app_id], |r| r.get(0)).map_err(sqlite)?;
        rows.collect::<std::result::Result<_, _>>().map_err(sqlite)
    }

    /// How many live grants (people's consents, or a backend app's standing access) an app has.
    pub fn live_grant_count(&self, app_id: &str) -> Result<i64> {
        self.conn
            .prepare_cached("SELECT count(*) FROM credentials WHERE app_id = ? AND deleted_at IS NULL")
            .map_err(sqlite)?
            .query_row([app_id], |r| r.get(0))
            .map_err(sqlite)
    }

    /// Every redirect URI of every usable app (for CORS: their origins may call the token endpoint and FHIR).
    pub fn registered_redirect_uris(&self) -> Result<Vec<String>> {
        let mut st =
            self.conn.prepare_cached("SELECT redirect_uris FROM apps WHERE active = 1 AND deleted_at IS NULL").map_err(sqlite)?;
        let rows: Vec<String> =
            st.query_map([], |r| r.get(0)).map_err(sqlite)?.collect::<std::result::Result<_, _>>().map_err(sqlite)?;
        let mut out = Vec::new();
        for r in rows {
            let uris: Vec<String> = serde_json::from_str(&r).map_err(|_| StoreError::Corrupt("apps.redirect_uris".into()))?;
            out.extend(uris);
        }
        Ok(out)
    }

    /// The live grant `owner` made to `app_id` (a patient or staff consent), if any.
    pub fn grant_of(&self, app_id: &str, owner: UserId) -> Result<Option<CredentialRecord>> {
        let id: Option<String> = self
            .conn
            .prepare_cached(
                "SELECT id FROM credentials WHERE app_id = ? AND owner_id = ? AND deleted_at IS NULL ORDER BY created_at DESC LIMIT 1",
            )
            .map_err(sqlite)?
            .query_row(params![app_id, owner.0], |r| r.get(0))
            .optional()
            .map_err(sqlite)?;
        id.map(|id| self.credential(&id)).transpose().map(Option::flatten)
    }

    /// Creates or replaces the (app, practice) request. A new request resets any decision.
    pub fn request_approval(&mut self, app_id: &str, practice: PracticeId, by: UserId, now: DateTime<Utc>) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO app_approvals(app_id, practice_id, status, reason, requested_by, requested_at)
                 VALUES (?, ?, 'pending', NULL, ?, ?)
                 ON CONFLICT(app_id, practice_id) DO UPDATE SET status = 'pending', reason = NULL,
                   requested_by = excluded.requested_by, requested_at = excluded.requested_at, decided_by = NULL, decided_at = NULL",
            )
            .map_err(sqlite)?
            .execute(params![app_id, practice.0, by.0, ts(now)])
            .map_err(sqlite)?;
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
        let n = self
            .conn
            .prepare_cached(
                "UPDATE app_approvals SET status = ?, reason = ?, decided_by = ?, decided_at = ? WHERE app_id = ? AND practice_id = ?",
            )
            .map_err(sqlite)?
            .execute(params![status.as_str(), reason, by.0, ts(now), app_id, practice.0])
            .map_err(sqlite)?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    pub fn approvals_of_app(&self, app_id: &str) -> Result<Vec<ApprovalRecord>> {
        let sql = format!("SELECT {APPROVAL_COLUMNS} FROM app_approvals WHERE app_id = ? ORDER BY practice_id");
        let mut st = self.conn.prepare_cached(&sql).map_err(sqlite)?;
        let rows = st.query_map([app_id], approval_row).map_err(sqlite)?;
        rows.map(|r| r.map_err(sqlite)?).collect()
    }

    /// Requests and decisions for apps of live registrations at any of `practices`, newest request first.
    pub fn approvals_for_practices(&self, practices: &[PracticeId]) -> Result<Vec<ApprovalRecord>> {
        let sql = format!(
            "SELECT {APPROVAL_COLUMNS} FROM app_approvals WHERE practice_id IN ({}) AND app_id IN
               (SELECT id FROM apps WHERE deleted_at IS NULL) ORDER BY requested_at DESC, app_id",
            placeholders(practices.len())
        );
        let mut st = self.conn.prepare_cached(&sql).map_err(sqlite)?;
        let rows = st.query_map(rusqlite::params_from_iter(practices.iter().map(|p| p.0)), approval_row).map_err(sqlite)?;
        rows.map(|r| r.map_err(sqlite)?).collect()
    }

    /// The practices that currently approve `app_id`.
    pub fn approved_practices(&self, app_id: &str) -> Result<Vec<PracticeId>> {
        let mut st = self
            .conn
            .prepare_cached("SELECT practice_id FROM app_approvals WHERE app_id = ? AND status = 'approved' ORDER BY practice_id")
            .map_err(sqlite)?;
        let rows = st.query_map([app_id], |r| r.get(0).map(PracticeId)).map_err(sqlite)?;
        rows.collect::<std::result::Result<_, _>>().map_err(sqlite)
    }

    /// What effective access needs of a grant's app: whether it is usable now, who approves it, and the
    /// scopes the grant carries (a backend app: the scopes registered now; a consent: what was consented).
    pub(crate) fn app_facts(&self, app_id: &str, grant: &CredentialRecord) -> Result<AppFacts> {
        let Some(app) = self.app(app_id)? else {
            return Ok(AppFacts::default());
        };
        let scope_text = match grant.kind {
            CredentialKind::BackendApp => app.scopes.clone(),
            _ => grant.scope.clone().unwrap_or_default(),
        };
        // The grant's text also holds `openid`, `offline_access` and the like; access needs its resource scopes.
        let scope = RequestedScopes::parse(&scope_text).resources;
        Ok(AppFacts { active: app.usable(), approved: self.approved_practices(app_id)?, scope, practice: grant.practice })
    }

    pub fn insert_auth_code(&mut self, c: &AuthCodeRecord) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO auth_codes(digest, credential_id, redirect_uri, code_challenge, nonce, issued_at, expires_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?)",
            )
            .map_err(sqlite)?
            .execute(params![
                &c.digest.0[..],
                c.credential_id,
                c.redirect_uri,
                c.code_challenge,
                c.nonce,
                ts(c.issued_at),
                ts(c.expires_at)
            ])
            .map_err(sqlite)?;
        Ok(())
    }

    pub fn auth_code(&self, digest: &Digest) -> Result<Option<AuthCodeRecord>> {
        let row = self
            .conn
            .prepare_cached(
                "SELECT credential_id, redirect_uri, code_challenge, nonce, issued_at, expires_at, used_at FROM auth_codes WHERE digest = ?",
            )
            .map_err(sqlite)?
            .query_row([&digest.0[..]], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, Option<String>>(6)?,
                ))
            })
            .optional()
            .map_err(sqlite)?;
        row.map(|(credential_id, redirect_uri, code_challenge, nonce, issued, expires, used)| {
            Ok(AuthCodeRecord {
                digest: *digest,
                credential_id,
                redirect_uri,
                code_challenge,
                nonce,
                issued_at: parse_ts(&issued)?,
                expires_at: parse_ts(&expires)?,
                used_at: parse_opt_ts(used)?,
            })
        })
        .transpose()
    }

    /// Marks a code used; `false` when it already was (the caller then treats the grant as compromised).
    pub fn use_auth_code(&mut self, digest: &Digest, now: DateTime<Utc>) -> Result<bool> {
        let n = self
            .conn
            .prepare_cached("UPDATE auth_codes SET used_at = ? WHERE digest = ? AND used_at IS NULL")
            .map_err(sqlite)?
            .execute(params![ts(now), &digest.0[..]])
            .map_err(sqlite)?;
        Ok(n == 1)
    }

    pub fn insert_refresh_token(&mut self, t: &RefreshTokenRecord) -> Result<()> {
        self.conn
            .prepare_cached("INSERT INTO refresh_tokens(digest, credential_id, issued_at, expires_at) VALUES (?, ?, ?, ?)")
            .map_err(sqlite)?
            .execute(params![&t.digest.0[..], t.credential_id, ts(t.issued_at), ts(t.expires_at)])
            .map_err(sqlite)?;
        Ok(())
    }

    pub fn refresh_token(&self, digest: &Digest) -> Result<Option<RefreshTokenRecord>> {
        let row = self
            .conn
            .prepare_cached(
                "SELECT credential_id, issued_at, expires_at, used_at, revoked_at FROM refresh_tokens WHERE digest = ?",
            )
            .map_err(sqlite)?
            .query_row([&digest.0[..]], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, Option<String>>(4)?,
                ))
            })
            .optional()
            .map_err(sqlite)?;
        row.map(|(credential_id, issued, expires, used, revoked)| {
            Ok(RefreshTokenRecord {
                digest: *digest,
                credential_id,
                issued_at: parse_ts(&issued)?,
                expires_at: parse_ts(&expires)?,
                used_at: parse_opt_ts(used)?,
                revoked_at: parse_opt_ts(revoked)?,
            })
        })
        .transpose()
    }

    /// Marks a refresh token used (rotation); `false` when it already was: a replay.
    pub fn use_refresh_token(&mut self, digest: &Digest, now: DateTime<Utc>) -> Result<bool> {
        let n = self
            .conn
            .prepare_cached("UPDATE refresh_tokens SET used_at = ? WHERE digest = ? AND used_at IS NULL AND revoked_at IS NULL")
            .map_err(sqlite)?
            .execute(params![ts(now), &digest.0[..]])
            .map_err(sqlite)?;
        Ok(n == 1)
    }

    /// Refresh tokens of a grant that would be accepted now.
    pub fn live_refresh_tokens(&self, credential_id: &str, now: DateTime<Utc>) -> Result<i64> {
        self.conn
            .prepare_cached(
                "SELECT count(*) FROM refresh_tokens WHERE credential_id = ? AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?",
            )
            .map_err(sqlite)?
            .query_row(params![credential_id, ts(now)], |r| r.get(0))
            .map_err(sqlite)
    }

    /// Records a client assertion's `jti` until `expires_at`; `false` when it was seen before and has not
    /// expired (a replay). Expired entries are pruned by housekeeping.
    pub fn record_jti(&mut self, client_id: &str, jti: &str, expires_at: DateTime<Utc>, now: DateTime<Utc>) -> Result<bool> {
        let tx = self.conn.savepoint().map_err(sqlite)?;
        let seen: Option<String> = tx
            .prepare_cached("SELECT expires_at FROM assertion_jtis WHERE client_id = ? AND jti = ?")
            .map_err(sqlite)?
            .query_row(params![client_id, jti], |r| r.get(0))
            .optional()
            .map_err(sqlite)?;
        if let Some(until) = seen {
            if parse_ts(&until)? > now {
                return Ok(false);
            }
        }
        tx.prepare_cached("INSERT OR REPLACE INTO assertion_jtis(client_id, jti, expires_at) VALUES (?, ?, ?)")
            .map_err(sqlite)?
            .execute(params![client_id, jti, ts(expires_at)])
            .map_err(sqlite)?;
        tx.commit().map_err(sqlite)?;
        Ok(true)
    }
}
