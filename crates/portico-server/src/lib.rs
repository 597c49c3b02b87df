//! Portico's service as a library: the OAuth 2 token and revocation endpoints, the FHIR R4 API and the
//! management API, on axum.
//!
//! `router(state)` builds the routes and `serve(listener, state, shutdown)` runs them on a listener the
//! caller already bound, so tests and the desktop app start it on port 0 with no sleeps. Handlers are thin:
//! they parse the request, call one function of `oauth`, `engine` or `manage`, and map its error to the
//! protocol's wire format. Every FHIR request, and every preview, passes through `engine::authorize` and
//! `engine::execute`: there is no second enforcement path. This crate never logs secrets, tokens or
//! health data: only ids, counts and outcomes.

mod api;
mod apps_token;
mod assertions;
mod authorize;
mod cors;
pub mod demo;
mod desktop_signin;
pub mod embedded;
pub mod engine;
mod error;
mod fhir;
mod grants;
mod guard;
mod health;
mod lanes;
mod maintenance;
pub mod manage;
mod oauth;
pub mod pages;
mod sample_app;
mod state;
pub mod tls;

use std::future::Future;

use axum::routing::{get, post};
use axum::Router;
use tokio::net::TcpListener;

pub use portico_store::Database;
pub use state::{AppState, Clock, Config};

/// Request bodies larger than these are refused with the protocol's own error, before parsing.
pub const FHIR_BODY_LIMIT: usize = 1024 * 1024;
pub const FORM_BODY_LIMIT: usize = 16 * 1024;
pub const API_BODY_LIMIT: usize = 64 * 1024;

/// Reads a whole request body, refusing one whose declared or actual size exceeds `limit` without
/// reading further (the declared length is checked first, so a client is answered before it sends it all).
pub(crate) async fn read_limited(body: axum::body::Body, limit: usize) -> Result<axum::body::Bytes, ()> {
    use axum::body::HttpBody as _;
    if body.size_hint().lower() > limit as u64 {
        return Err(());
    }
    axum::body::to_bytes(body, limit).await.map_err(|_| ())
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/oauth/token", post(oauth::token))
        .route("/oauth/revoke", post(oauth::revoke))
        .route("/oauth/introspect", post(oauth::introspect))
        .route("/oauth/authorize", get(authorize::get).post(authorize::post))
        .route("/oauth/jwks", get(assertions::jwks))
        .route(health::ALIVE_PATH, get(health::alive))
        .route(health::READY_PATH, get(health::ready))
        .route(pages::STYLESHEET_PATH, get(pages::stylesheet))
        .route(pages::CONSENT_SCRIPT_PATH, get(pages::consent_script))
        .route("/.well-known/smart-configuration", get(fhir::smart_configuration))
        .route("/.well-known/openid-configuration", get(fhir::openid_configuration))
        .nest("/fhir", fhir::routes())
        .route("/t/{practice}/fhir", axum::routing::any(fhir::tenant_dispatch))
        .route("/t/{practice}/fhir/{*rest}", axum::routing::any(fhir::tenant_dispatch))
        .nest("/api", api::routes())
        .merge(sample_app::routes())
        // Outside /fhir and /api the only endpoints are OAuth's, so stray requests get OAuth's error format.
        .fallback(|| async {
            let e = error::OAuthError {
                status: axum::http::StatusCode::NOT_FOUND,
                ..error::OAuthError::new("invalid_request", "no such endpoint")
            };
            axum::response::IntoResponse::into_response(e)
        })
        .method_not_allowed_fallback(|| async {
            let e = error::OAuthError {
                status: axum::http::StatusCode::METHOD_NOT_ALLOWED,
                ..error::OAuthError::new("invalid_request", "use POST for this endpoint")
            };
            axum::response::IntoResponse::into_response(e)
        })
        .layer(cors::layer(state.clone()))
        // Before any handler: requests for another host, or cross-site requests to /api (see `guard`).
        .layer(axum::middleware::from_fn_with_state(state.clone(), guard::check))
        .layer(axum::middleware::from_fn(state::log_request))
        .with_state(state)
}

/// Serves until `shutdown` resolves, then finishes in-flight requests and returns. Housekeeping (pruning
/// expired tokens and sessions) runs beside it.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let _housekeeping = AbortOnDrop(tokio::spawn(maintenance::run(state.clone())));
    let _memory = AbortOnDrop(tokio::spawn(maintenance::release_when_quiet(state.clone())));
    let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}

/// [`serve`] over TLS (see `tls`): the same routes, housekeeping and graceful shutdown, with handshakes
/// completed beside the accept loop under a timeout, so a stalled or refused client affects no one else.
pub async fn serve_tls(
    listener: TcpListener,
    tls: std::sync::Arc<rustls::ServerConfig>,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::serve::ListenerExt as _;
    let _housekeeping = AbortOnDrop(tokio::spawn(maintenance::run(state.clone())));
    let _memory = AbortOnDrop(tokio::spawn(maintenance::release_when_quiet(state.clone())));
    // `tap_io` does nothing to the connection; axum gives a tapped listener the peer's `SocketAddr` as
    // `ConnectInfo`, which the per-address throttles read, and a listener of our own cannot get it otherwise.
    let listener = tls::TlsListener::new(listener, tls)?.tap_io(|_| {});
    let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
