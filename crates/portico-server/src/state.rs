//! Shared server state: the database (reader pool + writer thread), the public URLs, the clock, and the
//! bounded pools that keep expensive work from crowding out everyone else.

use std::sync::Arc;
use std::time::Instant;

use crate::lanes::Lane;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use chrono::{DateTime, Utc};
use portico_domain::ThrottlePolicy;
use portico_store::{Backend, ReadStore, StoreError, WriteJob, WriteStore};
use tokio::sync::{oneshot, Semaphore};

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
    /// Successful reads (and previews) are kept one audit row each for this many days, then rolled into
    /// per-day counts that the history views still show (see `maintenance`). Everything else is kept forever.
    pub audit_read_retention_days: u32,
    /// The PEM file holding the id_token signing keys (created with mode 0600 on first use). `None`: a key
    /// made for this process only (tests).
    pub key_file: Option<std::path::PathBuf>,
    /// Keep the signing keys in the database instead (`key_file` is then unused): servers that share a
    /// database must sign with the same key, and none of them has the others' files.
    pub keys_in_store: bool,
    /// Whether anyone may create an app-developer account (`POST /api/signup`, `portico serve
    /// --allow-signup`, on in the embedded demo). Off by default: a clinic's service has no strangers' accounts.
    pub allow_signup: bool,
    /// The built sample SMART app (`sample-app/dist`) served at `/sample-app/`; `None` or a directory
    /// without `index.html`: not served, and `/api/info` says `sample_app_url: null`.
    pub sample_app_dir: Option<std::path::PathBuf>,
    /// What people call this server ("Riverside Clinic"), shown by the desktop app when it connects.
    pub name: String,
}

impl Config {
    /// How long reads keep one audit row each unless configured otherwise (`portico serve --audit-retention-days`).
    pub const DEFAULT_AUDIT_READ_RETENTION_DAYS: u32 = 90;

    pub fn new(base_url: impl Into<String>) -> Config {
        Config {
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            token_lifetime_secs: 3600,
            session_lifetime_secs: 12 * 3600,
            trusted_hosts: None,
            audit_read_retention_days: Config::DEFAULT_AUDIT_READ_RETENTION_DAYS,
            key_file: None,
            keys_in_store: false,
            allow_signup: false,
            sample_app_dir: None,
            name: "Portico".into(),
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
    /// Whichever backend the database was opened with; nothing here depends on which.
    db: Arc<dyn Backend>,
    config: Config,
    clock: Clock,
    /// Reads in flight at once. Each holds a pooled connection and a blocking thread; past this they queue
    /// for a few microseconds instead of growing memory without bound.
    reads: Semaphore,
    /// Searches, `$everything` and previews: their own low-priority threads, so however many arrive, point
    /// reads keep their permits and short requests get the CPU first.
    heavy: Lane,
    /// Argon2 verifications (each ~20 ms of one core and 19 MiB), on low-priority threads of their own.
    hashing: Lane,
    /// The service's signing keys, loaded from `Config::key_file` on first use.
    keys: std::sync::OnceLock<Arc<portico_jose::KeyRing>>,
    /// Apps' JWKS fetched from their URLs.
    jwks: crate::assertions::JwksCache,
}

const MAX_READS: usize = 16;
const MAX_HEAVY: usize = 2;
const MAX_HASHING: usize = 2;

/// The store could not answer: `Busy` when another process held the database's write lock past the busy
/// timeout (worth retrying), `Broken` for anything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Unavailable {
    #[error("the database is busy")]
    Busy,
    #[error("the store is unavailable")]
    Broken,
}

impl From<StoreError> for Unavailable {
    fn from(e: StoreError) -> Unavailable {
        match e {
            StoreError::Busy => Unavailable::Busy,
            e => {
                tracing::error!(error = %e, "store failure");
                Unavailable::Broken
            }
        }
    }
}

/// Why the signing keys could not be had: the key file or stored keys are unusable, or the store is down.
#[derive(Debug, thiserror::Error)]
pub enum KeysUnavailable {
    #[error(transparent)]
    Keys(#[from] portico_jose::KeyError),
    #[error(transparent)]
    Store(#[from] Unavailable),
}

impl From<StoreError> for KeysUnavailable {
    fn from(e: StoreError) -> KeysUnavailable {
        KeysUnavailable::Store(e.into())
    }
}

/// How heavy a read is: a search may scan an index, a point read touches a few rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Weight {
    Light,
    Heavy,
}

impl AppState {
    pub fn new(db: impl Backend + 'static, config: Config) -> AppState {
        AppState::with_clock(db, config, Arc::new(Utc::now))
    }

    pub fn with_clock(db: impl Backend + 'static, config: Config, clock: Clock) -> AppState {
        AppState {
            inner: Arc::new(Inner {
                db: Arc::new(db),
                config,
                clock,
                reads: Semaphore::new(MAX_READS),
                heavy: Lane::new("portico-search", MAX_HEAVY),
                hashing: Lane::new("portico-hash", MAX_HASHING),
                keys: std::sync::OnceLock::new(),
                jwks: Default::default(),
            }),
        }
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Loads (or creates) the signing keys once: from the database when they are kept there, else from the key
    /// file; without either configured, a key made for this process.
    pub(crate) async fn signing_keys(&self) -> Result<Arc<portico_jose::KeyRing>, KeysUnavailable> {
        if let Some(k) = self.inner.keys.get() {
            return Ok(k.clone());
        }
        let ring = if self.inner.config.keys_in_store {
            self.keys_from_store().await?
        } else {
            let path = match &self.inner.config.key_file {
                Some(p) => p.clone(),
                None => {
                    std::env::temp_dir().join(format!("portico-signing-key-{}-{}.pem", std::process::id(), uuid::Uuid::new_v4()))
                }
            };
            let ring = portico_jose::KeyRing::load_or_create(&path)?;
            if self.inner.config.key_file.is_none() {
                // The key lives in memory; the file was only its way in.
                let _ = std::fs::remove_file(&path);
            }
            ring
        };
        Ok(self.inner.keys.get_or_init(|| Arc::new(ring)).clone())
    }

    /// The keys every server sharing the database signs with: the stored ones, or, on the very first start,
    /// new ones offered to the store; when another server stored its own first, those are the ones used.
    async fn keys_from_store(&self) -> Result<portico_jose::KeyRing, KeysUnavailable> {
        if let Some(pem) = self.read(Weight::Light, |store, _| store.signing_keys()).await?? {
            return Ok(portico_jose::KeyRing::from_pem(&pem)?);
        }
        let ring = self.hash(portico_jose::KeyRing::generate).await??;
        let pem = ring.to_pem()?;
        if self.write(move |store, now| store.store_signing_keys(&pem, false, now)).await?? {
            return Ok(ring);
        }
        let pem = self.read(Weight::Light, |store, _| store.signing_keys()).await??;
        let pem = pem.ok_or(KeysUnavailable::Store(Unavailable::Broken))?;
        Ok(portico_jose::KeyRing::from_pem(&pem)?)
    }

    pub(crate) fn jwks_cache(&self) -> &crate::assertions::JwksCache {
        &self.inner.jwks
    }

    pub fn now(&self) -> DateTime<Utc> {
        (self.inner.clock)()
    }

    /// Runs `f` on a pooled reader connection, off the async runtime. Readers never wait for the writer.
    pub async fn read<T: Send + 'static>(
        &self,
        weight: Weight,
        f: impl FnOnce(&dyn ReadStore, DateTime<Utc>) -> T + Send + 'static,
    ) -> Result<T, Unavailable> {
        let state = self.clone();
        let job = move || {
            let now = state.now();
            state.inner.db.with_reader(|store| f(store, now)).map_err(Unavailable::from)
        };
        match weight {
            Weight::Heavy => self.inner.heavy.run(job).await?,
            // A point read is tens of microseconds of SQLite: it runs right here on the async worker, as handing
            // it to a blocking thread and back would cost more (two context switches) than the read itself. A
            // backend that waits on a network (PostgreSQL) blocks a thread of the blocking pool instead.
            Weight::Light => {
                let _permit = self.inner.reads.acquire().await.map_err(|_| Unavailable::Broken)?;
                if self.inner.db.inline_reads() {
                    job()
                } else {
                    tokio::task::spawn_blocking(job).await.map_err(|_| Unavailable::Broken)?
                }
            }
        }
    }

    /// Runs `f` on the writer thread, in its own savepoint, and answers once the write is committed. `f`
    /// decides what a failure undoes (use `<dyn WriteStore>::atomically`); a panic undoes everything `f` wrote.
    pub async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut dyn WriteStore, DateTime<Utc>) -> T + Send + 'static,
    ) -> Result<T, Unavailable> {
        let (tx, rx) = oneshot::channel();
        let clock = self.inner.clock.clone();
        self.inner.db.submit(Box::new(Job { f: Some(f), clock, out: None, tx: Some(tx) }))?;
        rx.await.map_err(|_| Unavailable::Broken)?
    }

    /// Gives the idle readers' memory back (see `Database::release_idle_readers`).
    pub fn release_idle_readers(&self) -> usize {
        self.inner.db.release_idle_readers()
    }

    /// Whether no read is in flight right now.
    pub fn reads_idle(&self) -> bool {
        self.inner.reads.available_permits() == MAX_READS
    }

    /// Runs a CPU-heavy computation (password hashing) on a small bounded pool, holding nothing else.
    pub async fn hash<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Result<T, Unavailable> {
        self.inner.hashing.run(f).await
    }
}

impl AppState {
    /// Whether any of `keys` is locked out, from the failures every server sharing the database counted:
    /// `Err(seconds)` while one is (refuse the attempt unchecked), `Ok(true)` when the first key (the account
    /// or client) has failures on record, which a success then clears.
    pub async fn throttle_check(&self, keys: &[String]) -> Result<Result<bool, u64>, Unavailable> {
        let wanted = keys.to_vec();
        let entries = self.read(Weight::Light, move |store, _| store.throttle_entries(&wanted)).await??;
        let now = self.now();
        if let Some(wait) = entries.iter().filter_map(|(_, e)| e.locked_for(now)).max() {
            return Ok(Err(wait));
        }
        Ok(Ok(keys.first().is_some_and(|first| entries.iter().any(|(k, _)| k == first))))
    }

    /// Counts a failure against each key; `Some(seconds)` when that locked any of them. A store that cannot
    /// count leaves the attempt refused as it was (it failed), without a lock.
    pub async fn throttle_failed(&self, keys: &[String]) -> Option<u64> {
        let keys = keys.to_vec();
        let counted = self
            .write(move |store, now| {
                keys.iter()
                    .map(|k| store.record_throttle_failure(k, ThrottlePolicy::for_key(k), now).map(|e| e.locked_for(now)))
                    .collect::<Result<Vec<_>, StoreError>>()
            })
            .await;
        match counted {
            Ok(Ok(locks)) => locks.into_iter().flatten().max(),
            Ok(Err(e)) => {
                tracing::error!(error = %e, "counting a failed authentication");
                None
            }
            Err(e) => {
                tracing::error!(error = %e, "counting a failed authentication");
                None
            }
        }
    }

    /// A success clears the account's (or client's) failures, when `throttle_check` saw some; the address
    /// keeps its count.
    pub async fn throttle_succeeded(&self, key: &str, had_failures: bool) {
        if !had_failures {
            return;
        }
        let key = key.to_owned();
        if let Err(e) = self.write(move |store, _| store.clear_throttle(&key)).await.and_then(|r| r.map_err(Unavailable::from)) {
            tracing::warn!(error = %e, "clearing a throttle after a success");
        }
    }
}

/// The throttle keys of one attempt: the account (or client) itself, and the address it came from.
pub fn throttle_keys(subject: &str, addr: Option<std::net::IpAddr>) -> Vec<String> {
    let mut keys: Vec<String> = vec![subject.chars().take(128).collect()];
    if let Some(a) = addr {
        keys.push(format!("addr:{a}"));
    }
    keys
}

struct Job<F, T> {
    f: Option<F>,
    clock: Clock,
    out: Option<T>,
    tx: Option<oneshot::Sender<Result<T, Unavailable>>>,
}

impl<F, T> WriteJob for Job<F, T>
where
    F: FnOnce(&mut dyn WriteStore, DateTime<Utc>) -> T + Send,
    T: Send,
{
    fn run(&mut self, store: &mut dyn WriteStore) {
        if let Some(f) = self.f.take() {
            self.out = Some(f(store, (self.clock)()));
        }
    }

    fn finish(mut self: Box<Self>, committed: portico_store::Result<()>) {
        let answer = match (committed, self.out.take()) {
            (Ok(()), Some(out)) => Ok(out),
            // The job panicked: what it wrote was rolled back.
            (Ok(()), None) => Err(Unavailable::Broken),
            (Err(e), _) => Err(Unavailable::from(e)),
        };
        if let Some(tx) = self.tx.take() {
            let _ = tx.send(answer);
        }
    }
}

/// One line per request: method, path (never the query, which may carry patient names), status, latency.
pub async fn log_request(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let started = Instant::now();
    let response = next.run(req).await;
    let (status, ms) = (response.status().as_u16(), started.elapsed().as_millis() as u64);
    if crate::health::is_probe(&path) {
        // A load balancer probes every few seconds; at info level that would drown the requests that matter.
        tracing::debug!(%method, %path, status, ms, "request");
    } else {
        tracing::info!(%method, %path, status, ms, "request");
    }
    response
}

/// The peer's address, when the server was started with connect info (`serve` does; a bare router in a
/// unit test does not, and then per-address throttling simply does not apply).
pub struct ClientAddr(pub Option<std::net::IpAddr>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        let info = parts.extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>();
        Ok(ClientAddr(info.map(|i| i.0.ip())))
    }
}
