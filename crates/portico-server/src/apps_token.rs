//! The token endpoint's side for registered apps: authenticate the app the way its registration says
//! (a secret, a key, or nothing but PKCE for a public client), then run the grant in `grants`.

use base64::Engine as _;
use chrono::{DateTime, Utc};
use portico_domain::{AuthDoor, ClientAuth, RequestedScopes, Secret, SecretKind};
use portico_store::{AppRecord, ReadStore, WriteStore};

use crate::error::OAuthError;
use crate::grants::{self, CodeExchange, Issued, TokenResponse};
use crate::state::AppState;

/// The client as presented at the token, revocation or introspection endpoint.
pub struct Presented {
    pub client_id: String,
    pub secret: Option<String>,
    pub basic: bool,
    pub assertion: Option<String>,
}

/// The `iss` of a JWT, read without checking anything: only to find whose keys to check it with.
pub fn unverified_issuer(jwt: &str) -> Option<String> {
    let payload = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("iss")?.as_str().map(str::to_owned)
}

/// Checks a secret against the app's current one, or the previous one during a rotation's grace period.
fn secret_matches(app: &AppRecord, presented: &str, now: DateTime<Utc>) -> bool {
    let Some(secret) = Secret::parse(SecretKind::AppSecret, presented) else {
        return false;
    };
    let d = secret.digest();
    let current = app.secret_digest.is_some_and(|c| d.ct_eq(&c));
    let previous = app.previous.as_ref().is_some_and(|(p, until)| now < *until && d.ct_eq(p));
    current || previous
}

/// The app, if it is usable and proved itself the way it registered. A key-authenticated app's assertion
/// is checked by the caller (it needs the JWKS, possibly fetched); here only its method is matched.
pub fn authenticate(store: &dyn ReadStore, p: &Presented, now: DateTime<Utc>) -> Result<Option<AppRecord>, OAuthError> {
    let Some(app) = store.app_by_client_id(&p.client_id)?.filter(AppRecord::usable) else {
        return Ok(None);
    };
    let ok = match (app.client_auth, &p.secret, &p.assertion) {
        (ClientAuth::None, None, None) => true,
        (ClientAuth::SecretBasic | ClientAuth::SecretPost, Some(s), None) => secret_matches(&app, s, now),
        (ClientAuth::PrivateKeyJwt, None, Some(_)) => true,
        _ => false,
    };
    Ok(ok.then_some(app))
}

fn field(form: &[(String, String)], name: &str) -> Option<String> {
    form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
}

/// `POST /oauth/token` for an app: authenticate, then the grant type's flow, then (after the commit, off
/// the writer) sign the id_token.
pub async fn token(
    state: &AppState,
    p: Presented,
    grant_type: String,
    form: Vec<(String, String)>,
) -> Result<TokenResponse, OAuthError> {
    let lifetime = state.config().token_lifetime_secs;
    let fhir_base = state.config().fhir_base();
    let token_url = state.config().token_url();
    let app = state.read(crate::state::Weight::Light, {
        let client_id = p.client_id.clone();
        move |store, _| store.app_by_client_id(&client_id)
    });
    let app = app.await??;
    let seen = match (&p.assertion, &app) {
        (Some(assertion), Some(app)) => Some(crate::assertions::check(state, app, assertion, &token_url).await?),
        _ => None,
    };
    let issued: Result<Issued, OAuthError> = state
        .write(move |store, now| {
            let app = authenticate(store, &p, now)?;
            if let (Some(seen), Some(app)) = (&seen, &app) {
                seen.record(store, &app.client_id, now)?;
            }
            let Some(app) = app else {
                let subject = match store.app_by_client_id(&p.client_id)? {
                    Some(a) => a.client_id,
                    None => "unknown client".to_owned(),
                };
                store.record_auth_failure(AuthDoor::Token, &subject, now)?;
                return Err(OAuthError::new("invalid_client", "client authentication failed"));
            };
            run_grant(store, &app, &grant_type, &form, lifetime, &fhir_base, now)
        })
        .await?;
    let Issued { mut response, id_token } = issued?;
    if let Some(facts) = id_token {
        response.id_token = Some(state.sign_id_token(facts).await?);
    }
    Ok(response)
}

fn run_grant(
    store: &mut dyn WriteStore,
    app: &AppRecord,
    grant_type: &str,
    form: &[(String, String)],
    lifetime: i64,
    fhir_base: &str,
    now: DateTime<Utc>,
) -> Result<Issued, OAuthError> {
    let system = app.app_type == portico_domain::AppType::System;
    match grant_type {
        "authorization_code" if !system => {
            let code = field(form, "code").ok_or_else(|| OAuthError::new("invalid_request", "code is required"))?;
            let x = CodeExchange { code, redirect_uri: field(form, "redirect_uri"), code_verifier: field(form, "code_verifier") };
            grants::exchange_code(store, app, &x, lifetime, fhir_base, now)
        }
        "refresh_token" if !system => {
            let t =
                field(form, "refresh_token").ok_or_else(|| OAuthError::new("invalid_request", "refresh_token is required"))?;
            grants::refresh(store, app, &t, field(form, "scope").as_deref(), lifetime, now)
        }
        "client_credentials" if system => grants::backend_token(store, app, &field(form, "scope").unwrap_or_default(), now),
        "authorization_code" | "refresh_token" | "client_credentials" => Err(OAuthError::new(
            "unauthorized_client",
            if system {
                "a system app uses client_credentials"
            } else {
                "a patient-facing app uses authorization_code and refresh_token"
            },
        )),
        other => Err(OAuthError::new(
            "unsupported_grant_type",
            format!("grant_type '{}' is not supported", other.chars().take(40).collect::<String>()),
        )),
    }
}

/// RFC 7662 introspection, for an app asking about its own tokens. The caller authenticates in the
/// Authorization header (Basic) or with a client assertion; anything it may not see, and anything not
/// active, is exactly `{"active":false}`.
pub fn introspect(
    store: &dyn ReadStore,
    app: &AppRecord,
    token: &str,
    issuer: &str,
    fhir_base: &str,
    now: DateTime<Utc>,
) -> Result<serde_json::Value, OAuthError> {
    let inactive = serde_json::json!({ "active": false });
    let Ok(who) = crate::engine::authorize(store, Some(token), now) else {
        return Ok(inactive);
    };
    if who.credential.app_id.as_deref() != Some(app.id.as_str()) {
        return Ok(inactive);
    }
    let Some(record) =
        Secret::parse(SecretKind::AccessToken, token).map(|t| t.digest()).map(|d| store.token(&d)).transpose()?.flatten()
    else {
        return Ok(inactive);
    };
    let owner = store.user(who.credential.owner)?;
    let mut body = serde_json::json!({
        "active": true,
        "client_id": app.client_id,
        "scope": record.scope,
        "token_type": "Bearer",
        "exp": record.expires_at.timestamp(),
        "iat": record.issued_at.timestamp(),
        "iss": issuer,
        "sub": format!("user-{}", who.credential.owner.0),
    });
    if let Some(p) = &record.patient {
        body["patient"] = p.0.clone().into();
    }
    if let Some(p) = owner.and_then(|u| u.patient) {
        if RequestedScopes::parse(&record.scope).fhir_user {
            body["fhirUser"] = format!("{}/Patient/{}", grants::grant_base(fhir_base, &who.credential), p.0).into();
        }
    }
    Ok(body)
}
