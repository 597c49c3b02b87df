//! Shared server state: the store behind a mutex, the public URLs and the clock.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use chrono::{DateTime, Utc};
use portico_store::Store;

/// Where "now" comes from; tests substitute a fixed or movable clock.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

#[derive(Clone)]
pub struct Config {
    /// Scheme, host and port the service is reached at, without a trailing slash, e.g. `http://127.0.0.1:8080`.
    pub base_url: String,
    pub token_lifetime_secs: i64,
    pub session_lifetime_secs: i64,
    /// When set, the only `host[:port]` authorities the service answers to; `/api` then also refuses other
    /// origins and non-JSON bodies (see `guard`). `None` (the default) answers any host.
    pub trusted_hosts: Option<Vec<String>>,
}

impl Config {
    pub fn new(base_url: impl Into<String>) -> Config {
        Config {
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            token_lifetime_secs: 3600,
            session_lifetime_secs: 12 * 3600,
            trusted_hosts: None,
        }
    }

    /// Answers only requests addressed to the base URL's own authority (e.g. `127.0.0.1:49152`) or to one of
    /// `also`: what a service on a loopback port needs against DNS rebinding.
    pub fn trusting_only(mut self, also: impl IntoIterator<Item = String>) -> Config {
        let own = self.base_url.split_once("://").map_or(self.base_url.as_str(), |(_, rest)| rest);
        let own = own.split('/').next().unwrap_or(own).to_ascii_lowercase();
        let mut hosts = vec![own];
        for h in also {
            let h = h.trim().to_ascii_lowercase();
            if !h.is_empty() && !hosts.contains(&h) {
                hosts.push(h);
            }
        }
        self.trusted_hosts = Some(hosts);
        self
    }

    pub fn fhir_base(&self) -> String {
        format!("{}/fhir", self.base_url)
    }

    pub fn token_url(&self) -> String {
        format!("{}/oauth/token", self.base_url)
    }

    pub fn revoke_url(&self) -> String {
        format!("{}/oauth/revoke", self.base_url)
    }
}

#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    store: Mutex<Store>,
    config: Config,
    clock: Clock,
}

#[derive(Debug, thiserror::Error)]
#[error("the store is unavailable")]
pub struct Unavailable;

impl AppState {
    pub fn new(store: Store, config: Config) -> AppState {
        AppState::with_clock(store, config, Arc::new(Utc::now))
    }

    pub fn with_clock(store: Store, config: Config, clock: Clock) -> AppState {
        AppState { inner: Arc::new(Inner { store: Mutex::new(store), config, clock }) }
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub fn now(&self) -> DateTime<Utc> {
        (self.inner.clock)()
    }

    /// Runs blocking store work off the async runtime, with the store locked and the current time.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store, DateTime<Utc>) -> T + Send + 'static,
    ) -> Result<T, Unavailable> {
        let state = self.clone();
        tokio::task::spawn_blocking(move || {
            let now = state.now();
            // A panic in an earlier request poisons the lock; the store itself is still consistent (an
            // unfinished rusqlite transaction rolls back when dropped), so carry on rather than fail forever.
            let mut store = state.inner.store.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            Ok(f(&mut store, now))
        })
        .await
        .map_err(|_| Unavailable)?
    }
}

/// One line per request: method, path (never the query, which may carry patient names), status, latency.
pub async fn log_request(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let started = Instant::now();
    let response = next.run(req).await;
    tracing::info!(%method, %path, status = response.status().as_u16(), ms = started.elapsed().as_millis() as u64, "request");
    response
}
