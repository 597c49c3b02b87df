//! The token endpoint for registered apps: authorization codes exchanged (PKCE S256), refresh tokens
//! rotated with reuse detection, and backend services' `client_credentials`. Every token belongs to a grant
//! (a credential of kind `connected_app` or `backend_app`), so `engine::authorize`, previews, history and
//! revocation treat app tokens exactly as they treat credential tokens.

use chrono::{DateTime, Duration, Utc};
use portico_domain::{
    effective_access, pkce_matches, random_id, Access, AuditEvent, AuditKind, CredentialKind, Digest, PatientId, RequestedScopes,
    ScopeSet, Secret, SecretKind, ValidityWindow,
};
use portico_store::{AppRecord, CredentialRecord, GrantOf, NewCredential, RefreshTokenRecord, TokenRecord, WriteStore};
use serde::Serialize;

use crate::error::OAuthError;

/// Backend-services tokens live at most five minutes (SMART Backend Services).
pub const BACKEND_TOKEN_SECS: i64 = 300;
/// An `online_access` refresh token lasts a working day; `offline_access` lasts as long as the grant.
const ONLINE_REFRESH_HOURS: i64 = 12;

/// Deliberately not `Debug`: it holds tokens.
#[derive(Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patient: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub need_patient_banner: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    /// When the grant ends (ISO 8601 UTC), for grants with an end date.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_grant_expiration: Option<String>,
}

impl TokenResponse {
    pub fn bearer(access_token: String, expires_in: i64, scope: String, patient: Option<String>) -> TokenResponse {
        TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in,
            scope,
            patient,
            need_patient_banner: None,
            refresh_token: None,
            id_token: None,
            access_grant_expiration: None,
        }
    }
}

/// What an id_token says, gathered inside the write and signed after it (off the writer thread).
#[derive(Clone, Debug)]
pub struct IdTokenFacts {
    pub sub: String,
    pub aud: String,
    pub nonce: Option<String>,
    pub fhir_user: Option<String>,
    pub name: Option<String>,
}

pub struct Issued {
    pub response: TokenResponse,
    pub id_token: Option<IdTokenFacts>,
}

fn invalid_grant(m: &str) -> OAuthError {
    OAuthError::new("invalid_grant", m)
}

fn event(kind: AuditKind, app: &AppRecord, grant: &CredentialRecord, now: DateTime<Utc>) -> AuditEvent {
    let mut e = AuditEvent::new(kind, now);
    e.credential_id = Some(grant.id.clone());
    e.client_id = Some(app.client_id.clone());
    e.actor = Some(grant.owner);
    e.patient = grant.patients.first().cloned();
    e
}

/// A reused code or refresh token means one of them leaked: the whole grant (every access and refresh token
/// issued under it) is revoked (RFC 6749 §10.5, OAuth 2.0 Security BCP §4.14).
fn revoke_family(
    store: &mut dyn WriteStore,
    app: &AppRecord,
    grant: &CredentialRecord,
    what: &str,
    now: DateTime<Utc>,
) -> Result<OAuthError, OAuthError> {
    if let Some(n) = store.delete_credential(&grant.id, now)? {
        let mut e = event(AuditKind::TokenRevoked, app, grant, now);
        e.outcome = format!("{what} reused");
        e.count = Some(n as i64);
        e.detail = Some(format!("{what} presented twice: the grant and its {n} access tokens are revoked"));
        store.append_audit(&[e])?;
    }
    Ok(invalid_grant(&format!("this {what} was already used; every token issued from it is revoked")))
}

/// The grant as it stands now, or `invalid_grant` (a withdrawn approval, a revoked grant, a disabled app).
fn live_access(
    store: &mut dyn WriteStore,
    app: &AppRecord,
    grant: &CredentialRecord,
    now: DateTime<Utc>,
) -> Result<Access, OAuthError> {
    let owner = store.user(grant.owner)?.map(|u| u.facts()).unwrap_or_default();
    match effective_access(&store.credential_facts(grant)?, &owner, now) {
        Ok(a) => Ok(a),
        Err(refusal) => {
            let mut e = event(AuditKind::TokenRefused, app, grant, now);
            e.outcome = format!("invalid_grant: {refusal}");
            store.append_audit(&[e])?;
            Err(invalid_grant("this authorization no longer holds"))
        }
    }
}

/// The FHIR base a grant was made at: the practice's own base, or the service's.
pub fn grant_base(fhir_base: &str, grant: &CredentialRecord) -> String {
    match grant.practice {
        Some(p) => tenant_base(fhir_base, p.0),
        None => fhir_base.to_owned(),
    }
}

/// `{base_url}/t/{practice}/fhir` for a service whose `/fhir` base is `fhir_base`.
pub fn tenant_base(fhir_base: &str, practice: i64) -> String {
    format!("{}/t/{practice}/fhir", fhir_base.trim_end_matches("/fhir"))
}

/// Mints an access token (and, when asked, the next refresh token) for a grant.
#[allow(clippy::too_many_arguments)]
fn mint(
    store: &mut dyn WriteStore,
    app: &AppRecord,
    grant: &CredentialRecord,
    access: &Access,
    granted: &RequestedScopes,
    lifetime: i64,
    refresh_until: Option<DateTime<Utc>>,
    detail: String,
    now: DateTime<Utc>,
) -> Result<TokenResponse, OAuthError> {
    let token = Secret::generate(SecretKind::AccessToken, &mut rand::rngs::OsRng);
    let digest = token.digest();
    let record = TokenRecord {
        digest,
        credential_id: grant.id.clone(),
        scope: granted.to_string(),
        patient: access.patient_context.clone(),
        issued_at: now,
        expires_at: now + Duration::seconds(lifetime),
        revoked_at: None,
        secret_generation: grant.secret_generation,
    };
    let refresh = refresh_until.map(|until| (Secret::generate(SecretKind::RefreshToken, &mut rand::rngs::OsRng), until));
    let mut e = event(AuditKind::TokenIssued, app, grant, now);
    e.token_digest = Some(digest.to_hex());
    e.patient = access.patient_context.clone();
    e.detail = Some(detail);
    store.atomically(|store| {
        store.insert_token(&record)?;
        if let Some((r, until)) = &refresh {
            store.insert_refresh_token(&RefreshTokenRecord {
                digest: r.digest(),
                credential_id: grant.id.clone(),
                issued_at: now,
                expires_at: *until,
                used_at: None,
                revoked_at: None,
            })?;
        }
        store.append_audit(&[e])
    })?;
    let mut response = TokenResponse::bearer(
        token.expose().to_owned(),
        lifetime,
        granted.to_string(),
        access.patient_context.as_ref().map(|p| p.0.clone()),
    );
    response.need_patient_banner = access.patient_context.as_ref().map(|_| true);
    response.refresh_token = refresh.map(|(r, _)| r.expose().to_owned());
    response.access_grant_expiration = grant.window.to.map(portico_domain::format_instant);
    Ok(response)
}

fn id_token_facts(
    store: &mut dyn WriteStore,
    app: &AppRecord,
    grant: &CredentialRecord,
    granted: &RequestedScopes,
    nonce: Option<String>,
    fhir_base: &str,
) -> Result<Option<IdTokenFacts>, OAuthError> {
    if !(granted.openid && (granted.fhir_user || granted.profile)) {
        return Ok(None);
    }
    let owner = store.user(grant.owner)?;
    let base = grant_base(fhir_base, grant);
    // A patient's fhirUser is their Patient resource, readable with the token when Patient is granted.
    let fhir_user = owner.as_ref().and_then(|u| u.patient.as_ref()).map(|p: &PatientId| format!("{base}/Patient/{}", p.0));
    // SMART's id_token names the user's FHIR resource; a user without one (staff) gets none.
    if fhir_user.is_none() {
        return Ok(None);
    }
    Ok(Some(IdTokenFacts {
        sub: format!("user-{}", grant.owner.0),
        aud: app.client_id.clone(),
        nonce,
        fhir_user: fhir_user.filter(|_| granted.fhir_user),
        name: owner.map(|u| u.display_name).filter(|_| granted.profile),
    }))
}

/// When a grant's refresh tokens end, if it gets any: only apps registered for `offline_access` or
/// `online_access` and granted it (public clients included, since their registration asked for it).
fn refresh_until(grant: &CredentialRecord, granted: &RequestedScopes, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if granted.offline {
        Some(grant.window.to.unwrap_or(now + Duration::days(90)))
    } else if granted.online {
        let day = now + Duration::hours(ONLINE_REFRESH_HOURS);
        Some(grant.window.to.map_or(day, |to| to.min(day)))
    } else {
        None
    }
}

pub struct CodeExchange {
    pub code: String,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
}

/// `grant_type=authorization_code` for an authenticated `app`.
pub fn exchange_code(
    store: &mut dyn WriteStore,
    app: &AppRecord,
    x: &CodeExchange,
    lifetime: i64,
    fhir_base: &str,
    now: DateTime<Utc>,
) -> Result<Issued, OAuthError> {
    let unknown = || invalid_grant("the authorization code is invalid or expired");
    let digest: Digest = Secret::parse(SecretKind::AuthCode, &x.code).ok_or_else(unknown)?.digest();
    let code = store.auth_code(&digest)?.ok_or_else(unknown)?;
    let grant = store.credential(&code.credential_id)?.ok_or_else(unknown)?;
    if grant.app_id.as_deref() != Some(app.id.as_str()) {
        return Err(invalid_grant("the authorization code was issued to another client"));
    }
    if code.used_at.is_some() {
        return Err(revoke_family(store, app, &grant, "authorization code", now)?);
    }
    // Used from here on, whatever follows: a code survives no failed exchange (PKCE failures included). Not
    // used by this call: another server sharing the database exchanged it between the read above and now.
    if !store.use_auth_code(&digest, now)? {
        return Err(revoke_family(store, app, &grant, "authorization code", now)?);
    }
    if code.expires_at <= now || grant.deleted_at.is_some() {
        return Err(unknown());
    }
    if x.redirect_uri.as_deref() != Some(code.redirect_uri.as_str()) {
        return Err(invalid_grant("redirect_uri differs from the one used at authorization"));
    }
    if !x.code_verifier.as_deref().is_some_and(|v| pkce_matches(v, &code.code_challenge)) {
        return Err(invalid_grant("code_verifier does not match the code_challenge (PKCE S256)"));
    }
    let access = live_access(store, app, &grant, now)?;
    let granted = RequestedScopes::parse(grant.scope.as_deref().unwrap_or_default());
    let until = refresh_until(&grant, &granted, now);
    let id_token = id_token_facts(store, app, &grant, &granted, code.nonce.clone(), fhir_base)?;
    let response =
        mint(store, app, &grant, &access, &granted, lifetime, until, format!("granted {granted} (authorization_code)"), now)?;
    Ok(Issued { response, id_token })
}

/// `grant_type=refresh_token`: rotates the refresh token; an old one presented again revokes the grant.
pub fn refresh(
    store: &mut dyn WriteStore,
    app: &AppRecord,
    presented: &str,
    scope: Option<&str>,
    lifetime: i64,
    now: DateTime<Utc>,
) -> Result<Issued, OAuthError> {
    let unknown = || invalid_grant("the refresh token is invalid, expired or revoked");
    let digest = Secret::parse(SecretKind::RefreshToken, presented).ok_or_else(unknown)?.digest();
    let record = store.refresh_token(&digest)?.ok_or_else(unknown)?;
    let grant = store.credential(&record.credential_id)?.ok_or_else(unknown)?;
    if grant.app_id.as_deref() != Some(app.id.as_str()) {
        return Err(invalid_grant("the refresh token was issued to another client"));
    }
    if record.revoked_at.is_some() || grant.deleted_at.is_some() || record.expires_at <= now {
        return Err(unknown());
    }
    if record.used_at.is_some() {
        return Err(revoke_family(store, app, &grant, "refresh token", now)?);
    }
    let access = live_access(store, app, &grant, now)?;
    let original = RequestedScopes::parse(grant.scope.as_deref().unwrap_or_default());
    let granted = match scope.map(str::trim).filter(|s| !s.is_empty()) {
        None => original.clone(),
        Some(s) => {
            let asked = RequestedScopes::parse(s);
            let flags_within = (!asked.openid || original.openid)
                && (!asked.fhir_user || original.fhir_user)
                && (!asked.profile || original.profile)
                && (!asked.offline || original.offline)
                && (!asked.online || original.online)
                && (!asked.launch_patient || original.launch_patient);
            if !asked.unknown.is_empty() || !flags_within || ScopeSet::grant(&original.resources, &asked.resources).is_err() {
                return Err(OAuthError::new("invalid_scope", "a refresh may only narrow the scopes originally granted"));
            }
            asked
        }
    };
    if !store.use_refresh_token(&digest, now)? {
        return Err(revoke_family(store, app, &grant, "refresh token", now)?);
    }
    // The next refresh token ends when the family does: rotation never extends a grant.
    let response = mint(
        store,
        app,
        &grant,
        &access,
        &granted,
        lifetime,
        Some(record.expires_at),
        format!("granted {granted} (refresh_token)"),
        now,
    )?;
    Ok(Issued { response, id_token: None })
}

/// `grant_type=client_credentials` for a system app that proved itself with a key: its standing grant
/// (created on first use) capped by what the approving practices reach.
pub fn backend_token(store: &mut dyn WriteStore, app: &AppRecord, scope: &str, now: DateTime<Utc>) -> Result<Issued, OAuthError> {
    let grant = match backend_grant(store, app)? {
        Some(g) => g,
        None => {
            let id = uuid::Uuid::new_v4().to_string();
            let secret = Secret::generate(SecretKind::AppSecret, &mut rand::rngs::OsRng);
            let client_id = random_id(CredentialKind::BackendApp.client_id_prefix(), &mut rand::rngs::OsRng);
            store.insert_credential(
                &NewCredential {
                    id: &id,
                    kind: CredentialKind::BackendApp,
                    owner: app.owner,
                    name: &app.name,
                    note: None,
                    client_id: &client_id,
                    // Never disclosed: a grant has no secret of its own; the app authenticates as itself.
                    secret_digest: secret.digest(),
                    secret_hint: "",
                    window: ValidityWindow::default(),
                    active: true,
                    created_by: app.owner,
                    patients: &[],
                    grant: Some(GrantOf { app_id: &app.id, scope: &app.scopes, practice: None }),
                },
                now,
            )?;
            store.credential(&id)?.ok_or_else(OAuthError::server)?
        }
    };
    let owner = store.user(grant.owner)?.map(|u| u.facts()).unwrap_or_default();
    let access = match effective_access(&store.credential_facts(&grant)?, &owner, now) {
        Ok(a) => a,
        Err(refusal) => {
            let mut e = event(AuditKind::TokenRefused, app, &grant, now);
            e.outcome = format!("unauthorized_client: {refusal}");
            store.append_audit(&[e])?;
            return Err(OAuthError::new("unauthorized_client", "no practice has approved this app (or it is disabled)"));
        }
    };
    let asked = RequestedScopes::parse(scope);
    let resources = ScopeSet::grant(&access.allowed, &asked.resources).map_err(|e| {
        OAuthError::new("invalid_scope", format!("scope {} is beyond what this app is approved for ({})", e.0, access.allowed))
    })?;
    let granted = RequestedScopes::parse(&resources.to_string());
    let response = mint(
        store,
        app,
        &grant,
        &access,
        &granted,
        BACKEND_TOKEN_SECS,
        None,
        format!("granted {granted} (client_credentials)"),
        now,
    )?;
    Ok(Issued { response, id_token: None })
}

fn backend_grant(store: &dyn portico_store::ReadStore, app: &AppRecord) -> Result<Option<CredentialRecord>, OAuthError> {
    Ok(store.grant_of(&app.id, app.owner)?.filter(|g| g.kind == CredentialKind::BackendApp))
}

/// RFC 7009 for an app: a refresh token revokes its whole grant (every access and refresh token of that
/// person and app); an access token revokes itself. Someone else's token is left alone (answered 200).
pub fn revoke(store: &mut dyn WriteStore, app: &AppRecord, token: &str, now: DateTime<Utc>) -> Result<(), OAuthError> {
    if let Some(r) = Secret::parse(SecretKind::RefreshToken, token) {
        if let Some(rec) = store.refresh_token(&r.digest())? {
            if let Some(grant) = store.credential(&rec.credential_id)?.filter(|g| g.app_id.as_deref() == Some(app.id.as_str())) {
                if let Some(n) = store.delete_credential(&grant.id, now)? {
                    let mut e = event(AuditKind::TokenRevoked, app, &grant, now);
                    e.count = Some(n as i64);
                    e.detail = Some(format!("refresh token revoked by the app: the grant and its {n} access tokens"));
                    store.append_audit(&[e])?;
                }
            }
        }
    } else if let Some(t) = Secret::parse(SecretKind::AccessToken, token) {
        let digest = t.digest();
        if let Some(rec) = store.token(&digest)? {
            if let Some(grant) = store.credential(&rec.credential_id)?.filter(|g| g.app_id.as_deref() == Some(app.id.as_str())) {
                if store.revoke_token(&digest, &grant.id, now)? {
                    let mut e = event(AuditKind::TokenRevoked, app, &grant, now);
                    e.token_digest = Some(digest.to_hex());
                    e.detail = Some("revoked by the app".into());
                    store.append_audit(&[e])?;
                }
            }
        }
    }
    Ok(())
}
