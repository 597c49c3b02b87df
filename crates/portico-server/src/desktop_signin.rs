//! The Portico desktop app's sign-in through the system browser (RFC 8252): a public native client that
//! every server knows by the well-known id [`portico_api::DESKTOP_CLIENT_ID`], so no per-install
//! registration is needed. Authorization code + PKCE S256 to a loopback redirect (any port); the code buys
//! a management-API session (the access token, short-lived) and a rotating refresh token. One sign-in is
//! one *family*: signing out (revoking the refresh token) or presenting a used refresh token again ends every
//! refresh token and session of the family at once.
//!
//! The sign-in page always asks for the password, even when the browser holds an `/oauth` session cookie: a
//! desktop sign-in is never completed without the person typing it, so another program on the computer
//! cannot start one and collect a code silently (RFC 8252 §8.6).

use std::collections::BTreeMap;
use std::net::IpAddr;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use portico_api as wire;
use portico_domain::{is_s256_challenge, pkce_matches, AuditEvent, AuditKind, Secret, SecretKind, UserId};
use portico_store::{DesktopCode, DesktopRefreshToken, WriteStore};

use crate::error::OAuthError;
use crate::grants::TokenResponse;
use crate::pages::{self, ErrorView, SignInView};
use crate::state::AppState;

/// Access tokens (sessions) live 15 minutes; the desktop refreshes them before they end.
pub const ACCESS_SECS: i64 = 15 * 60;
/// A sign-in lasts 30 days from the last refresh (each rotation starts a new 30 days).
const REFRESH_DAYS: i64 = 30;
const CODE_SECS: i64 = 60;
/// What a desktop token may do: the management API as the signed-in person.
pub const SCOPE: &str = "portico/manage";

/// `http://127.0.0.1:PORT/…` or `http://[::1]:PORT/…`: the only return addresses a desktop sign-in has.
pub fn is_loopback_redirect(uri: &str) -> bool {
    let Ok(url) = url::Url::parse(uri) else { return false };
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        _ => false,
    };
    url.scheme() == "http"
        && loopback
        && url.port().is_some()
        && url.username().is_empty()
        && url.password().is_none()
        && url.fragment().is_none()
        && uri.len() <= 512
}

fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    let view = ErrorView { title: title.into(), message: message.into(), details: Some(format!("HTTP {}", status.as_u16())) };
    match pages::error_page(&view) {
        Ok(body) => pages::html(status, body),
        Err(e) => e.into_response(),
    }
}

fn back_to_app(redirect_uri: &str, pairs: &[(&str, &str)]) -> Response {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        q.append_pair(k, v);
    }
    let location = format!("{redirect_uri}{}{}", if redirect_uri.contains('?') { '&' } else { '?' }, q.finish());
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// `/oauth/authorize` for the desktop client. `params` is the authorization request (carried from step to
/// step in `hidden`), `form` what this step posted.
pub async fn authorize(
    state: &AppState,
    addr: Option<IpAddr>,
    params: &BTreeMap<String, String>,
    form: &BTreeMap<String, String>,
    hidden: Vec<(String, String)>,
) -> Response {
    let Some(redirect_uri) = params.get("redirect_uri").filter(|r| is_loopback_redirect(r)).cloned() else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Unregistered return address",
            "The Portico desktop app signs in through an address on this computer (http://127.0.0.1:PORT/…) only.",
        );
    };
    let app_state = params.get("state").cloned();
    let fail = |error: &str, description: &str| {
        let mut pairs = vec![("error", error), ("error_description", description)];
        if let Some(s) = &app_state {
            pairs.push(("state", s));
        }
        back_to_app(&redirect_uri, &pairs)
    };
    if params.get("response_type").map(String::as_str) != Some("code") {
        return fail("unsupported_response_type", "response_type must be code");
    }
    let challenge = params.get("code_challenge").cloned().unwrap_or_default();
    if params.get("code_challenge_method").map(String::as_str) != Some("S256") || !is_s256_challenge(&challenge) {
        return fail("invalid_request", "PKCE is required: code_challenge_method=S256 with a 43-character code_challenge");
    }
    let sign_in_page = |username: String, error: Option<(StatusCode, Option<u64>, String)>| {
        let (status, retry_after, error) = match error {
            Some((status, retry, message)) => (status, retry, Some(message)),
            None => (StatusCode::OK, None, None),
        };
        let view = SignInView {
            app_name: "Portico desktop app".into(),
            app_homepage: None,
            error,
            username,
            hidden: hidden.clone(),
            action: "/oauth/authorize".into(),
            desktop: true,
        };
        let mut response = match pages::sign_in(&view) {
            Ok(body) => pages::html(status, body),
            Err(e) => e.into_response(),
        };
        if let Some(v) = retry_after.and_then(|s| HeaderValue::from_str(&s.to_string()).ok()) {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        response
    };
    if form.get("action").map(String::as_str) != Some("sign_in") {
        return sign_in_page(String::new(), None);
    }
    let username = form.get("username").cloned().unwrap_or_default();
    let password = form.get("password").cloned().unwrap_or_default();
    // The management API's own sign-in: throttled per account and address, Argon2 off the writer.
    let session = match crate::manage::sign_in(state, wire::SignIn { username: username.clone(), password }, addr).await {
        Ok(s) => s,
        // Wrong password: 401; throttled: 429 with Retry-After, the same lock as every other sign-in door.
        Err(e) => return sign_in_page(username, Some((e.status, e.retry_after, e.message))),
    };
    let code = Secret::generate(SecretKind::AuthCode, &mut rand::rngs::OsRng);
    let record_redirect = redirect_uri.clone();
    let digest = code.digest();
    let issued = state
        .write(move |store, now| {
            // The sign-in made a session of its own that nobody holds; the desktop's comes from the code.
            if let Some(t) = Secret::parse(SecretKind::Session, &session.token) {
                store.revoke_session(&t.digest(), now)?;
            }
            store.insert_desktop_code(&DesktopCode {
                digest,
                user: UserId(session.user.id),
                redirect_uri: record_redirect,
                code_challenge: challenge,
                issued_at: now,
                expires_at: now + Duration::seconds(CODE_SECS),
                used_at: None,
                family: None,
            })
        })
        .await;
    match issued {
        Ok(Ok(())) => {
            let mut pairs = vec![("code", code.expose())];
            if let Some(s) = &app_state {
                pairs.push(("state", s));
            }
            back_to_app(&redirect_uri, &pairs)
        }
        _ => error_page(StatusCode::SERVICE_UNAVAILABLE, "Please try again", "The service is busy. Try again in a moment."),
    }
}

fn invalid_grant(m: &str) -> OAuthError {
    OAuthError::new("invalid_grant", m)
}

fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// `POST /oauth/token` for the desktop client: `authorization_code` and `refresh_token`.
pub fn token(
    store: &mut dyn WriteStore,
    grant_type: &str,
    form: &[(String, String)],
    now: DateTime<Utc>,
) -> Result<TokenResponse, OAuthError> {
    match grant_type {
        "authorization_code" => exchange_code(store, form, now),
        "refresh_token" => refresh(store, form, now),
        "client_credentials" => Err(OAuthError::new("unauthorized_client", "the desktop app signs in with authorization_code")),
        other => Err(OAuthError::new(
            "unsupported_grant_type",
            format!("grant_type '{}' is not supported", other.chars().take(40).collect::<String>()),
        )),
    }
}

fn exchange_code(store: &mut dyn WriteStore, form: &[(String, String)], now: DateTime<Utc>) -> Result<TokenResponse, OAuthError> {
    let unknown = || invalid_grant("the authorization code is invalid or expired");
    let presented = field(form, "code").ok_or_else(|| OAuthError::new("invalid_request", "code is required"))?;
    let digest = Secret::parse(SecretKind::AuthCode, presented).ok_or_else(unknown)?.digest();
    let code = store.desktop_code(&digest)?.ok_or_else(unknown)?;
    if code.used_at.is_some() {
        // A code exchanged twice leaked: the sign-in it started ends too.
        if let Some(family) = &code.family {
            store.revoke_desktop_family(family, now)?;
        }
        return Err(invalid_grant("this authorization code was already used; the sign-in it started is ended"));
    }
    let family = uuid::Uuid::new_v4().to_string();
    // Used from here on, whatever follows: a code survives no failed exchange. Not used by this call:
    // another server sharing the database exchanged it meanwhile, and that sign-in ends as above.
    if !store.use_desktop_code(&digest, &family, now)? {
        if let Some(family) = store.desktop_code(&digest)?.and_then(|c| c.family) {
            store.revoke_desktop_family(&family, now)?;
        }
        return Err(invalid_grant("this authorization code was already used; the sign-in it started is ended"));
    }
    if code.expires_at <= now {
        return Err(unknown());
    }
    if field(form, "redirect_uri") != Some(code.redirect_uri.as_str()) {
        return Err(invalid_grant("redirect_uri differs from the one used at authorization"));
    }
    if !field(form, "code_verifier").is_some_and(|v| pkce_matches(v, &code.code_challenge)) {
        return Err(invalid_grant("code_verifier does not match the code_challenge (PKCE S256)"));
    }
    if store.user(code.user)?.is_none() {
        return Err(unknown());
    }
    let mut e = AuditEvent::new(AuditKind::SignIn, now);
    e.actor = Some(code.user);
    e.client_id = Some(wire::DESKTOP_CLIENT_ID.into());
    e.detail = Some("desktop app, through the browser".into());
    store.append_audit(&[e])?;
    mint(store, code.user, &family, now)
}

fn refresh(store: &mut dyn WriteStore, form: &[(String, String)], now: DateTime<Utc>) -> Result<TokenResponse, OAuthError> {
    let unknown = || invalid_grant("the refresh token is invalid, expired or revoked; sign in again");
    let presented =
        field(form, "refresh_token").ok_or_else(|| OAuthError::new("invalid_request", "refresh_token is required"))?;
    let digest = Secret::parse(SecretKind::RefreshToken, presented).ok_or_else(unknown)?.digest();
    let record = store.desktop_refresh_token(&digest)?.ok_or_else(unknown)?;
    if record.revoked_at.is_some() || record.expires_at <= now {
        return Err(unknown());
    }
    if record.used_at.is_some() || !store.use_desktop_refresh_token(&digest, now)? {
        store.revoke_desktop_family(&record.family, now)?;
        let mut e = AuditEvent::new(AuditKind::TokenRevoked, now);
        e.actor = Some(record.user);
        e.client_id = Some(wire::DESKTOP_CLIENT_ID.into());
        e.outcome = "refresh token reused".into();
        e.detail = Some("a desktop refresh token was presented twice: that sign-in is ended".into());
        store.append_audit(&[e])?;
        return Err(invalid_grant("this refresh token was already used; the sign-in is ended"));
    }
    if store.user(record.user)?.is_none() {
        return Err(unknown());
    }
    mint(store, record.user, &record.family, now)
}

fn mint(store: &mut dyn WriteStore, user: UserId, family: &str, now: DateTime<Utc>) -> Result<TokenResponse, OAuthError> {
    let access = Secret::generate(SecretKind::Session, &mut rand::rngs::OsRng);
    store.create_family_session(&access.digest(), user, family, now, now + Duration::seconds(ACCESS_SECS))?;
    let refresh = Secret::generate(SecretKind::RefreshToken, &mut rand::rngs::OsRng);
    store.insert_desktop_refresh_token(&DesktopRefreshToken {
        digest: refresh.digest(),
        family: family.to_owned(),
        user,
        issued_at: now,
        expires_at: now + Duration::days(REFRESH_DAYS),
        used_at: None,
        revoked_at: None,
    })?;
    let mut response = TokenResponse::bearer(access.expose().to_owned(), ACCESS_SECS, SCOPE.into(), None);
    response.refresh_token = Some(refresh.expose().to_owned());
    Ok(response)
}

/// RFC 7009 for the desktop client: a refresh token or an access token (session) of a desktop sign-in ends
/// the whole sign-in. Unknown tokens are answered 200 all the same.
pub fn revoke(store: &mut dyn WriteStore, token: &str, now: DateTime<Utc>) -> Result<(), OAuthError> {
    let family = if let Some(t) = Secret::parse(SecretKind::RefreshToken, token) {
        store.desktop_refresh_token(&t.digest())?.map(|r| (r.family, r.user))
    } else if let Some(t) = Secret::parse(SecretKind::Session, token) {
        let digest = t.digest();
        match (store.session_family(&digest)?, store.session_user(&digest, now)?) {
            (Some(f), Some(u)) => Some((f, u)),
            _ => None,
        }
    } else {
        None
    };
    if let Some((family, user)) = family {
        store.revoke_desktop_family(&family, now)?;
        let mut e = AuditEvent::new(AuditKind::TokenRevoked, now);
        e.actor = Some(user);
        e.client_id = Some(wire::DESKTOP_CLIENT_ID.into());
        e.outcome = "signed out".into();
        e.detail = Some("desktop app signed out: its refresh token and sessions are revoked".into());
        store.append_audit(&[e])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_loopback_http_with_a_port_is_a_desktop_return_address() {
        for (uri, ok) in [
            ("http://127.0.0.1:49152/callback", true),
            ("http://[::1]:5000/cb", true),
            ("http://127.0.0.1/callback", false),
            ("https://127.0.0.1:5000/callback", false),
            ("http://localhost:5000/callback", false),
            ("http://127.0.0.1.evil.example:5000/", false),
            ("http://user@127.0.0.1:5000/", false),
            ("http://127.0.0.1:5000/cb#frag", false),
            ("portico://callback", false),
            ("not a url", false),
        ] {
            assert_eq!(super::is_loopback_redirect(uri), ok, "{uri}");
        }
    }
}
