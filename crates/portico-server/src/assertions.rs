//! Keys, on both sides: the service's own signing key (id_tokens, published at `/oauth/jwks`) and the
//! apps' keys (`private_key_jwt` client assertions, checked against an inline JWKS or a JWKS URL fetched
//! with a timeout and size limit, cached no longer than its `Cache-Control` allows, and fetched again when
//! an unknown `kid` arrives). A `jti` is accepted once within its lifetime, across restarts (the store).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use chrono::{TimeZone, Utc};
use portico_jose::{verify_client_assertion, AssertionError, AssertionExpectations, IdTokenClaims, Jwks, KeyRing};
use portico_store::AppRecord;

use crate::error::OAuthError;
use crate::grants::IdTokenFacts;
use crate::state::{AppState, Unavailable};

/// A fetched JWKS is kept at most this long, and less when its `Cache-Control` says so.
const JWKS_CACHE_MAX: Duration = Duration::from_secs(300);
const JWKS_FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// id_tokens are valid for as long as an access token.
const ID_TOKEN_SECS: i64 = 3600;

/// JWKS fetched from apps' URLs, by URL.
#[derive(Default)]
pub struct JwksCache {
    entries: Mutex<HashMap<String, (Arc<Jwks>, Instant)>>,
}

impl JwksCache {
    fn get(&self, url: &str) -> Option<Arc<Jwks>> {
        let map = self.entries.lock().ok()?;
        map.get(url).filter(|(_, until)| Instant::now() < *until).map(|(j, _)| j.clone())
    }

    fn put(&self, url: &str, jwks: Arc<Jwks>, max_age: Option<u64>) {
        let keep = max_age.map_or(JWKS_CACHE_MAX, |s| Duration::from_secs(s).min(JWKS_CACHE_MAX));
        if let Ok(mut map) = self.entries.lock() {
            // A bound on what many registered URLs can hold.
            if map.len() > 1000 {
                map.clear();
            }
            map.insert(url.to_owned(), (jwks, Instant::now() + keep));
        }
    }
}

/// `GET /oauth/jwks`: the public keys id_tokens are signed with (the previous one too, after a rotation).
pub async fn jwks(State(state): State<AppState>) -> Response {
    match state.keys().await {
        Ok(k) => axum::Json(k.jwks()).into_response(),
        Err(e) => OAuthError::from(e).into_response(),
    }
}

fn refused(e: AssertionError) -> OAuthError {
    OAuthError::new("invalid_client", e.to_string())
}

async fn fetch(state: &AppState, url: &str) -> Result<Arc<Jwks>, OAuthError> {
    let fetched = portico_client::fetch_jwks(url, JWKS_FETCH_TIMEOUT, portico_jose::JWKS_MAX_BYTES)
        .await
        .map_err(|e| OAuthError::new("invalid_client", format!("the app's JWKS could not be fetched: {e}")))?;
    let jwks = Arc::new(
        Jwks::parse(&fetched.body)
            .map_err(|e| OAuthError::new("invalid_client", format!("the app's JWKS is not usable: {e}")))?,
    );
    state.jwks_cache().put(url, jwks.clone(), fetched.max_age);
    Ok(jwks)
}

/// A verified assertion's id and until when it must be remembered.
pub struct Seen {
    pub jti: String,
    pub until: chrono::DateTime<Utc>,
}

impl Seen {
    /// Records the `jti` (inside the caller's write): a replay is `invalid_client`.
    pub fn record(
        &self,
        store: &mut dyn portico_store::WriteStore,
        client_id: &str,
        now: chrono::DateTime<Utc>,
    ) -> Result<(), OAuthError> {
        if store.record_jti(client_id, &self.jti, self.until, now)? {
            Ok(())
        } else {
            Err(refused(AssertionError::Replayed))
        }
    }
}

/// Verifies `assertion` as `app`'s, for the endpoint `aud`, and records its `jti` (a replay is refused).
pub async fn verify(state: &AppState, app: &AppRecord, assertion: &str, aud: &str) -> Result<(), OAuthError> {
    let seen = check(state, app, assertion, aud).await?;
    let client_id = app.client_id.clone();
    state.write(move |store, now| seen.record(store, &client_id, now)).await?
}

/// Verifies `assertion` as `app`'s, for the endpoint `aud`; the caller records the returned `jti` in the
/// same write as what the assertion buys (one writer round trip instead of two).
pub async fn check(state: &AppState, app: &AppRecord, assertion: &str, aud: &str) -> Result<Seen, OAuthError> {
    let expect = AssertionExpectations { client_id: &app.client_id, token_url: aud, jwks_url: app.jwks_url.as_deref() };
    let now = state.now().timestamp();
    let verified = match (&app.jwks, &app.jwks_url) {
        (Some(inline), _) => {
            let keys = Jwks::parse(inline)
                .map_err(|e| OAuthError::new("invalid_client", format!("the app's JWKS is not usable: {e}")))?;
            verify_client_assertion(assertion, &expect, &keys, now).map_err(refused)?
        }
        (None, Some(url)) => {
            let keys = match state.jwks_cache().get(url) {
                Some(k) => k,
                None => fetch(state, url).await?,
            };
            match verify_client_assertion(assertion, &expect, &keys, now) {
                // The app may have rotated its keys since we fetched them: fetch once more.
                Err(AssertionError::UnknownKid(_)) => {
                    let keys = fetch(state, url).await?;
                    verify_client_assertion(assertion, &expect, &keys, now).map_err(refused)?
                }
                other => other.map_err(refused)?,
            }
        }
        (None, None) => return Err(OAuthError::new("invalid_client", "the app has no registered keys")),
    };
    let until = Utc.timestamp_opt(verified.exp + portico_jose::ASSERTION_SKEW_SECS, 0).single().unwrap_or_else(Utc::now);
    Ok(Seen { jti: verified.jti, until })
}

impl AppState {
    /// Signs an id_token with the service's current key, on the hashing lane (an RSA signature is CPU work).
    pub async fn sign_id_token(&self, facts: IdTokenFacts) -> Result<String, OAuthError> {
        let keys = self.keys().await?;
        let now = self.now().timestamp();
        let issuer = self.config().base_url.clone();
        let claims = IdTokenClaims {
            iss: issuer,
            sub: facts.sub,
            aud: facts.aud,
            exp: now + ID_TOKEN_SECS,
            iat: now,
            auth_time: None,
            nonce: facts.nonce,
            fhir_user: facts.fhir_user.unwrap_or_default(),
            name: facts.name,
            given_name: None,
            family_name: None,
        };
        self.hash(move || keys.sign_id_token(&claims)).await?.map_err(|_| OAuthError::server())
    }

    /// The service's signing keys, loaded (or created) on first use.
    pub async fn keys(&self) -> Result<Arc<KeyRing>, Unavailable> {
        self.signing_keys().await.map_err(|e| match e {
            crate::state::KeysUnavailable::Store(u) => u,
            crate::state::KeysUnavailable::Keys(e) => {
                tracing::error!(error = %e, "the signing keys cannot be used");
                Unavailable::Broken
            }
        })
    }
}
