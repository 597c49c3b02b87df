//! `POST /oauth/token` (client_credentials, client_secret_basic / client_secret_post) and
//! `POST /oauth/revoke` (RFC 7009).

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use portico_domain::{effective_access, AuditEvent, AuditKind, AuthDoor, Digest, ScopeSet, Secret, SecretKind};
use portico_store::{CredentialRecord, ReadStore, TokenRecord, WriteStore};

use crate::error::{no_store, OAuthError};
use crate::state::{throttle_keys, AppState, ClientAddr};
use crate::FORM_BODY_LIMIT;

pub use crate::grants::TokenResponse;

/// Client authentication as presented, before it is checked.
struct ClientAuth {
    client_id: String,
    /// Empty for a public client (client_id alone) and for an assertion.
    secret: String,
    basic: bool,
    /// A `private_key_jwt` client assertion (RFC 7523), not yet verified.
    assertion: Option<String>,
}

impl ClientAuth {
    fn presented(self) -> crate::apps_token::Presented {
        crate::apps_token::Presented {
            secret: Some(self.secret).filter(|s| !s.is_empty()),
            client_id: self.client_id,
            basic: self.basic,
            assertion: self.assertion,
        }
    }
}

/// The prefix of registered apps' client ids; anything else is a credential's.
const APP_PREFIX: &str = "pci_smart_";

pub async fn token(State(state): State<AppState>, ClientAddr(addr): ClientAddr, headers: HeaderMap, body: Body) -> Response {
    let result = async {
        let form = read_form(&headers, body).await?;
        let auth = client_auth(&headers, &form)?;
        let basic = auth.basic;
        let grant_type =
            single(&form, "grant_type")?.ok_or_else(|| OAuthError::new("invalid_request", "grant_type is required"))?;
        let scope = single(&form, "scope")?.unwrap_or_default();
        let keys = throttle_keys(&format!("client:{}", auth.client_id), addr);
        let had_failures = state.throttle_check(&keys).await?.map_err(OAuthError::throttled)?;
        let lifetime = state.config().token_lifetime_secs;
        let issued = if auth.client_id == portico_api::DESKTOP_CLIENT_ID {
            if !auth.secret.is_empty() || auth.assertion.is_some() {
                Err(OAuthError::new("invalid_client", "the desktop app is a public client: it presents no secret"))
            } else {
                state.write(move |store, now| crate::desktop_signin::token(store, &grant_type, &form, now)).await?
            }
        } else if auth.client_id.starts_with(APP_PREFIX) {
            crate::apps_token::token(&state, auth.presented(), grant_type, form).await
        } else if auth.assertion.is_some() {
            Err(OAuthError::new("invalid_client", "client assertions are accepted only from registered system apps"))
        } else {
            state.write(move |store, now| issue(store, &auth, &grant_type, &scope, lifetime, now)).await?
        };
        match issued {
            Ok(t) => {
                state.throttle_succeeded(&keys[0], had_failures).await;
                Ok(t)
            }
            Err(mut e) => {
                if e.error == "invalid_client" {
                    if let Some(wait) = state.throttle_failed(&keys).await {
                        e = OAuthError::throttled(wait);
                    }
                }
                e.basic_challenge = basic;
                Err(e)
            }
        }
    }
    .await;
    match result {
        Ok(t) => no_store(Json(t).into_response()),
        Err(e) => e.into_response(),
    }
}

pub async fn revoke(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let result = async {
        let form = read_form(&headers, body).await?;
        let auth = client_auth(&headers, &form)?;
        let basic = auth.basic;
        let token = single(&form, "token")?.ok_or_else(|| OAuthError::new("invalid_request", "token is required"))?;
        if auth.client_id == portico_api::DESKTOP_CLIENT_ID {
            return state.write(move |store, now| crate::desktop_signin::revoke(store, &token, now)).await?;
        }
        if auth.client_id.starts_with(APP_PREFIX) {
            let p = auth.presented();
            if let Some(assertion) = &p.assertion {
                let app = state.read(crate::state::Weight::Light, {
                    let id = p.client_id.clone();
                    move |store, _| store.app_by_client_id(&id)
                });
                if let Some(app) = app.await?? {
                    crate::assertions::verify(&state, &app, assertion, &state.config().revoke_url()).await?;
                }
            }
            return state
                .write(move |store, now| match crate::apps_token::authenticate(store, &p, now)? {
                    Some(app) => crate::grants::revoke(store, &app, &token, now),
                    None => Err(OAuthError {
                        basic_challenge: basic,
                        ..OAuthError::new("invalid_client", "client authentication failed")
                    }),
                })
                .await?;
        }
        state.write(move |store, now| revoke_token(store, &auth, &token, now)).await?.map_err(|mut e| {
            e.basic_challenge = basic;
            e
        })
    }
    .await;
    match result {
        Ok(()) => no_store(axum::http::StatusCode::OK.into_response()),
        Err(e) => e.into_response(),
    }
}

/// `POST /oauth/introspect` (RFC 7662): the caller is a registered app authenticating in the Authorization
/// header (Basic) or with a client assertion; it learns about its own tokens only.
pub async fn introspect(State(state): State<AppState>, ClientAddr(addr): ClientAddr, headers: HeaderMap, body: Body) -> Response {
    let result = async {
        let form = read_form(&headers, body).await?;
        let auth = client_auth(&headers, &form).map_err(|mut e| {
            e.basic_challenge = true;
            e
        })?;
        if !auth.basic && auth.assertion.is_none() {
            return Err(OAuthError {
                basic_challenge: true,
                ..OAuthError::new("invalid_client", "authenticate in the Authorization header (Basic) or with a client assertion")
            });
        }
        let keys = throttle_keys(&format!("client:{}", auth.client_id), addr);
        let had_failures = state.throttle_check(&keys).await?.map_err(OAuthError::throttled)?;
        let token = single(&form, "token")?.ok_or_else(|| OAuthError::new("invalid_request", "token is required"))?;
        let p = auth.presented();
        let basic = p.basic;
        if let Some(assertion) = &p.assertion {
            let app = state.read(crate::state::Weight::Light, {
                let id = p.client_id.clone();
                move |store, _| store.app_by_client_id(&id)
            });
            if let Some(app) = app.await?? {
                crate::assertions::verify(&state, &app, assertion, &state.config().token_url()).await?;
            }
        }
        let (issuer, fhir_base) = (state.config().base_url.clone(), state.config().fhir_base());
        let answer = state
            .read(crate::state::Weight::Light, move |store, now| match crate::apps_token::authenticate(store, &p, now)? {
                Some(app) => {
                    let body = crate::apps_token::introspect(store, &app, &token, &issuer, &fhir_base, now)?;
                    // On record (the token's digest, never the token), committed before the answer leaves.
                    let mut e = AuditEvent::new(AuditKind::TokenIntrospected, now);
                    e.client_id = Some(app.client_id.clone());
                    e.token_digest = Secret::parse(SecretKind::AccessToken, &token).map(|t| t.digest().to_hex());
                    e.outcome = if body["active"] == true { "active".into() } else { "inactive".into() };
                    e.patient = body["patient"].as_str().map(|p| portico_domain::PatientId(p.to_owned()));
                    Ok::<_, OAuthError>(Some((body, e)))
                }
                None => Ok(None),
            })
            .await??;
        match answer {
            Some((body, event)) => {
                state.throttle_succeeded(&keys[0], had_failures).await;
                state.write(move |store, _| store.append_audit(&[event])).await??;
                Ok(body)
            }
            None => {
                let e =
                    OAuthError { basic_challenge: basic, ..OAuthError::new("invalid_client", "client authentication failed") };
                Err(match state.throttle_failed(&keys).await {
                    Some(wait) => OAuthError::throttled(wait),
                    None => e,
                })
            }
        }
    }
    .await;
    match result {
        Ok(body) => no_store(Json(body).into_response()),
        Err(e) => e.into_response(),
    }
}

async fn read_form(headers: &HeaderMap, body: Body) -> Result<Vec<(String, String)>, OAuthError> {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !ct.trim_start().to_ascii_lowercase().starts_with("application/x-www-form-urlencoded") {
        return Err(OAuthError::new("invalid_request", "the body must be application/x-www-form-urlencoded"));
    }
    let bytes = crate::read_limited(body, FORM_BODY_LIMIT)
        .await
        .map_err(|_| OAuthError::new("invalid_request", format!("the request body exceeds {FORM_BODY_LIMIT} bytes")))?;
    Ok(url::form_urlencoded::parse(&bytes).into_owned().collect())
}

/// A parameter that may appear at most once (RFC 6749 §3.1).
fn single(form: &[(String, String)], name: &str) -> Result<Option<String>, OAuthError> {
    let mut values = form.iter().filter(|(k, _)| k == name).map(|(_, v)| v.clone());
    let first = values.next();
    if values.next().is_some() {
        return Err(OAuthError::new("invalid_request", format!("{name} is repeated")));
    }
    Ok(first)
}

fn client_auth(headers: &HeaderMap, form: &[(String, String)]) -> Result<ClientAuth, OAuthError> {
    let form_id = single(form, "client_id")?;
    let form_secret = single(form, "client_secret")?;
    let basic = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| {
        let (scheme, rest) = v.split_once(' ')?;
        scheme.eq_ignore_ascii_case("basic").then(|| rest.trim().to_owned())
    });
    let assertion_type = single(form, "client_assertion_type")?;
    let assertion = single(form, "client_assertion")?;
    if assertion.is_some() || assertion_type.is_some() {
        if assertion_type.as_deref() != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer") {
            return Err(OAuthError::new(
                "invalid_client",
                "client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ));
        }
        let Some(assertion) = assertion else {
            return Err(OAuthError::new("invalid_request", "client_assertion is required with client_assertion_type"));
        };
        if basic.is_some() || form_secret.is_some() {
            return Err(OAuthError::new("invalid_request", "use one client authentication method, not two"));
        }
        // The client is the assertion's issuer (checked against its signature later); client_id may repeat it.
        let issuer = crate::apps_token::unverified_issuer(&assertion)
            .ok_or_else(|| OAuthError::new("invalid_client", "the client assertion is not a readable JWT"))?;
        if form_id.as_ref().is_some_and(|f| *f != issuer) {
            return Err(OAuthError::new("invalid_client", "client_id differs from the assertion's issuer"));
        }
        return Ok(ClientAuth { client_id: issuer, secret: String::new(), basic: false, assertion: Some(assertion) });
    }
    match (basic, form_secret) {
        (Some(_), Some(_)) => Err(OAuthError::new("invalid_request", "use one client authentication method, not two")),
        (Some(b), None) => {
            let bad = || OAuthError { basic_challenge: true, ..OAuthError::new("invalid_client", "malformed Basic credentials") };
            let decoded = base64::engine::general_purpose::STANDARD.decode(b).map_err(|_| bad())?;
            let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
            let (id, secret) = decoded.split_once(':').ok_or_else(bad)?;
            // RFC 6749 §2.3.1: both parts are form-urlencoded before Basic encoding.
            let unescape = |s: &str| {
                url::form_urlencoded::parse(format!("v={s}").as_bytes()).next().map(|(_, v)| v.into_owned()).unwrap_or_default()
            };
            let (client_id, secret) = (unescape(id), unescape(secret));
            if form_id.as_ref().is_some_and(|f| *f != client_id) {
                return Err(OAuthError::new("invalid_request", "client_id in the body differs from the Basic credentials"));
            }
            Ok(ClientAuth { client_id, secret, basic: true, assertion: None })
        }
        (None, Some(secret)) => {
            let client_id = form_id.ok_or_else(|| OAuthError::new("invalid_client", "client_id is required"))?;
            Ok(ClientAuth { client_id, secret, basic: false, assertion: None })
        }
        // A public client (a registered app without a secret, or the desktop app) names itself only; PKCE stands in for a secret.
        (None, None) => match form_id {
            Some(client_id) if client_id.starts_with(APP_PREFIX) || client_id == portico_api::DESKTOP_CLIENT_ID => {
                Ok(ClientAuth { client_id, secret: String::new(), basic: false, assertion: None })
            }
            _ => Err(OAuthError::new("invalid_client", "client authentication is required")),
        },
    }
}

/// Finds the credential and checks the secret in constant time (the current one, or the previous one
/// during a regeneration grace period). Also says which secret generation matched: tokens it mints stop
/// with that secret.
fn authenticate(
    store: &dyn ReadStore,
    auth: &ClientAuth,
    now: DateTime<Utc>,
) -> Result<Option<(CredentialRecord, i64)>, OAuthError> {
    let Some(cred) = store.credential_by_client_id(&auth.client_id)? else {
        return Ok(None);
    };
    let Some(secret) = Secret::parse(cred.kind.secret_kind(), &auth.secret) else {
        return Ok(None);
    };
    let presented = secret.digest();
    let current = presented.ct_eq(&cred.secret_digest);
    let previous = cred.previous.as_ref().is_some_and(|(d, until)| now < *until && presented.ct_eq(d));
    let generation = if current { cred.secret_generation } else { cred.secret_generation - 1 };
    Ok((current || previous).then_some((cred, generation)))
}

fn refused(cred: &CredentialRecord, reason: String, now: DateTime<Utc>) -> AuditEvent {
    let mut e = AuditEvent::new(AuditKind::TokenRefused, now);
    e.outcome = reason;
    e.credential_id = Some(cred.id.clone());
    e.client_id = Some(cred.client_id.clone());
    e
}

fn issue(
    store: &mut dyn WriteStore,
    auth: &ClientAuth,
    grant_type: &str,
    scope: &str,
    lifetime: i64,
    now: DateTime<Utc>,
) -> Result<TokenResponse, OAuthError> {
    if grant_type != "client_credentials" {
        return Err(OAuthError::new(
            "unsupported_grant_type",
            format!("grant_type '{}' is not supported; use client_credentials", truncate(grant_type)),
        ));
    }
    let Some((cred, secret_generation)) = authenticate(store, auth, now)? else {
        // Counted per client per minute, not stored as an event each: nobody authenticated. Only ids we
        // issued are recorded; an arbitrary presented string could be a pasted secret.
        let subject = match store.credential_by_client_id(&auth.client_id)? {
            Some(c) => c.client_id,
            None => "unknown client".to_owned(),
        };
        store.record_auth_failure(AuthDoor::Token, &subject, now)?;
        return Err(OAuthError::new("invalid_client", "client authentication failed"));
    };
    let owner = store.user(cred.owner)?.map(|u| u.facts()).unwrap_or_default();
    let access = match effective_access(&store.credential_facts(&cred)?, &owner, now) {
        Ok(a) => a,
        Err(refusal) => {
            store.append_audit(&[refused(&cred, format!("invalid_client: {refusal}"), now)])?;
            return Err(OAuthError::new("invalid_client", "this client may not obtain tokens now"));
        }
    };
    let requested = ScopeSet::parse(scope).map_err(|e| OAuthError::new("invalid_scope", e.to_string()))?;
    let granted = match ScopeSet::grant(&access.allowed, &requested) {
        Ok(g) => g,
        Err(e) => {
            store.append_audit(&[refused(&cred, format!("invalid_scope: {e}"), now)])?;
            return Err(OAuthError::new(
                "invalid_scope",
                format!("scope {} is beyond this credential (it allows {})", e.0, access.allowed),
            ));
        }
    };
    let token = Secret::generate(SecretKind::AccessToken, &mut rand::rngs::OsRng);
    let digest = token.digest();
    let mut e = AuditEvent::new(AuditKind::TokenIssued, now);
    e.credential_id = Some(cred.id.clone());
    e.client_id = Some(cred.client_id.clone());
    e.token_digest = Some(digest.to_hex());
    e.patient = access.patient_context.clone();
    // The scope asked for is on record beside the scope granted (they differ when the request was narrower
    // or named none).
    e.detail = Some(format!(
        "granted {granted}; requested {}",
        if scope.trim().is_empty() { "(none)".to_owned() } else { requested.to_string() }
    ));
    let record = TokenRecord {
        digest,
        credential_id: cred.id.clone(),
        scope: granted.to_string(),
        patient: access.patient_context.clone(),
        issued_at: now,
        expires_at: now + Duration::seconds(lifetime),
        revoked_at: None,
        secret_generation,
    };
    // A token exists only together with the audit entry that records its issue.
    store.atomically(|store| {
        store.insert_token(&record)?;
        store.append_audit(&[e])
    })?;
    Ok(TokenResponse::bearer(token.expose().to_owned(), lifetime, granted.to_string(), access.patient_context.map(|p| p.0)))
}

fn revoke_token(store: &mut dyn WriteStore, auth: &ClientAuth, token: &str, now: DateTime<Utc>) -> Result<(), OAuthError> {
    let Some((cred, _)) = authenticate(store, auth, now)? else {
        return Err(OAuthError::new("invalid_client", "client authentication failed"));
    };
    // A client that may not obtain tokens now (deactivated, outside its window, owner without the role) is
    // not an authenticated client for revocation either.
    let owner = store.user(cred.owner)?.map(|u| u.facts()).unwrap_or_default();
    if effective_access(&store.credential_facts(&cred)?, &owner, now).is_err() {
        return Err(OAuthError::new("invalid_client", "this client may not use the service now"));
    }
    // RFC 7009 §2.2: an unknown or foreign token is answered with 200 all the same.
    if let Some(t) = Secret::parse(SecretKind::AccessToken, token) {
        let digest: Digest = t.digest();
        if store.revoke_token(&digest, &cred.id, now)? {
            let mut e = AuditEvent::new(AuditKind::TokenRevoked, now);
            e.credential_id = Some(cred.id.clone());
            e.client_id = Some(cred.client_id.clone());
            e.token_digest = Some(digest.to_hex());
            e.detail = Some("revoked by the client".into());
            store.append_audit(&[e])?;
        }
    }
    Ok(())
}

fn truncate(s: &str) -> String {
    s.chars().take(40).collect()
}
