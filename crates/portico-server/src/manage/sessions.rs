//! Sessions: sign-in (throttled, the password checked off the store), sign-out, the session's user.

use chrono::{DateTime, Duration, Utc};
use portico_api as wire;
use portico_api::ErrorCode;
use portico_domain::{verify_password, AuditEvent, AuditKind, Secret, SecretKind};
use portico_store::{ReadStore, UserRecord, WriteStore};

use crate::error::ApiFailure;

use std::net::IpAddr;

use portico_domain::AuthDoor;

use super::*;
use crate::state::{throttle_keys, AppState, Weight};

fn unauthenticated() -> ApiFailure {
    ApiFailure::new(ErrorCode::Unauthenticated, "sign in first (the session is missing, expired or signed out)")
}

/// Signs in: throttled per account and per address, the user looked up on a reader, the password checked
/// on the bounded hashing pool (holding no connection and no lock), and only then the session written.
/// A failure is counted (per account per minute), not stored as an event of its own.
pub async fn sign_in(state: &AppState, req: wire::SignIn, addr: Option<IpAddr>) -> Result<wire::Session> {
    let username = req.username.trim().to_owned();
    let keys = throttle_keys(&format!("user:{}", username.to_lowercase()), addr);
    let had_failures = state.throttle_check(&keys).await?.map_err(ApiFailure::throttled)?;
    let name = username.clone();
    let user = state.read(Weight::Light, move |store, _| store.user_by_username(&name)).await??;
    // Unknown names cost the same time as known ones, so timing does not reveal which usernames exist.
    let hash = user.as_ref().map_or_else(|| DUMMY_HASH.to_owned(), |u| u.password_hash.clone());
    let password = req.password;
    let ok = state.hash(move || verify_password(&password, &hash)).await? && user.is_some();
    let subject = user.as_ref().map_or_else(|| "unknown user".to_owned(), |u| format!("user {}", u.id.0));
    let Some(user) = user.filter(|_| ok) else {
        state.write(move |store, now| store.record_auth_failure(AuthDoor::SignIn, &subject, now)).await??;
        return Err(match state.throttle_failed(&keys).await {
            Some(wait) => ApiFailure::throttled(wait),
            None => ApiFailure::new(ErrorCode::Unauthenticated, "wrong username or password"),
        });
    };
    state.throttle_succeeded(&keys[0], had_failures).await;
    let lifetime = state.config().session_lifetime_secs;
    state
        .write(move |store, now| {
            store.atomically(|store| {
                let mut e = AuditEvent::new(AuditKind::SignIn, now);
                e.actor = Some(user.id);
                store.append_audit(&[e])?;
                // Every door (this API, the desktop's browser sign-in, the SMART authorization pages) signs in
                // here, so this is the one place that keeps "last sign-in".
                store.record_sign_in(user.id, now)?;
                let token = Secret::generate(SecretKind::Session, &mut rand::rngs::OsRng);
                let expires_at = now + Duration::seconds(lifetime);
                store.create_session(&token.digest(), user.id, now, expires_at)?;
                Ok(wire::Session { token: token.expose().to_owned(), expires_at, user: to_user(store, &user)? })
            })
        })
        .await?
}

/// An Argon2id hash of a random string nobody knows, used only to equalize sign-in timing.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Yc7AXv2bYhXyM1lTnUQ8r0Mf1lWq7Rr8r4LjUvVwP2U";

pub fn session_user(store: &dyn ReadStore, bearer: Option<&str>, now: DateTime<Utc>) -> Result<UserRecord> {
    let token = bearer.and_then(|b| Secret::parse(SecretKind::Session, b)).ok_or_else(unauthenticated)?;
    let id = store.session_user(&token.digest(), now)?.ok_or_else(unauthenticated)?;
    store.user(id)?.ok_or_else(unauthenticated)
}

pub fn sign_out(store: &mut dyn WriteStore, bearer: Option<&str>, now: DateTime<Utc>) -> Result<()> {
    if let Some(token) = bearer.and_then(|b| Secret::parse(SecretKind::Session, b)) {
        store.revoke_session(&token.digest(), now)?;
    }
    Ok(())
}
