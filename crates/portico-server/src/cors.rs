//! CORS for browser apps (SMART App Launch §"Considerations for browser apps"). The discovery documents,
//! the JWKS and `metadata` are public: any origin may read them. The token, revocation and introspection
//! endpoints and the FHIR API answer cross-origin requests only from an origin of a registered, active
//! app's redirect URIs. The management API (`/api`) and the authorization pages are never cross-origin.
//! Preflight requests are answered by the layer. No credentials mode: apps carry bearer tokens, not cookies.

use axum::http::{header, HeaderName, HeaderValue, Method};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::state::{AppState, Weight};

/// Paths any origin may read.
fn public(path: &str) -> bool {
    path.starts_with("/.well-known/")
        || path == "/oauth/jwks"
        || path.ends_with("/metadata")
        || path.ends_with("/.well-known/smart-configuration")
}

/// Paths that speak to apps: tokens and FHIR.
fn for_apps(path: &str) -> bool {
    matches!(path, "/oauth/token" | "/oauth/revoke" | "/oauth/introspect")
        || path == "/fhir"
        || path.starts_with("/fhir/")
        || path.starts_with("/t/")
}

pub fn layer(state: AppState) -> CorsLayer {
    let origin = AllowOrigin::async_predicate(move |origin: HeaderValue, parts: &axum::http::request::Parts| {
        let path = parts.uri.path().to_owned();
        let state = state.clone();
        async move {
            if public(&path) {
                return true;
            }
            if !for_apps(&path) {
                return false;
            }
            let Ok(origin) = origin.to_str().map(str::to_owned) else {
                return false;
            };
            let allowed = state.read(Weight::Light, move |store, _| store.registered_redirect_uris()).await;
            matches!(allowed, Ok(Ok(uris)) if uris.iter().any(|u| portico_domain::origin_of_redirect_matches(u, &origin)))
        }
    });
    CorsLayer::new()
        .allow_origin(origin)
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            header::IF_MATCH,
            header::IF_NONE_MATCH,
            HeaderName::from_static("prefer"),
        ])
        .expose_headers([header::LOCATION, header::ETAG, header::WWW_AUTHENTICATE, header::CONTENT_LOCATION])
        .max_age(std::time::Duration::from_secs(600))
}
