//! The desktop's state: which server it works with (the embedded service, started only when it is the
//! current one, or a remote Portico server), the signed-in session, the keychain, the offline cache and
//! outbox, and start-up timing.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use portico_client::signin::{self, Http, ServerInfo};
use portico_client::Client;
use portico_offline::{Account, OfflineStore};
use portico_server::demo::DemoPassword;
use portico_server::embedded::{Demo, Embedded};
use portico_server::Config;
use tokio::sync::{oneshot, watch, Mutex};

use crate::error::CommandError;
use crate::keychain::{remote_account, Keychain};
use crate::servers::{SavedServer, SavedServers, ServerFile};

#[derive(Clone)]
pub enum ServiceState {
    /// Not started: the current server is a remote one.
    Idle,
    Starting,
    Ready(Config),
    Failed(String),
}

/// A remote sign-in: the management-API client with the current access token, and the refresh token
/// that renews it (also in the keychain).
pub struct RemoteSession {
    pub client: Client,
    pub server: ServerInfo,
    pub username: String,
    pub refresh_token: String,
    /// When to renew the access token (a minute before it ends); now, when it was never obtained (offline
    /// at start-up).
    pub renew_at: Instant,
}

pub enum Session {
    Embedded(Client),
    Remote(Box<RemoteSession>),
}

/// What the desktop knows about reaching a remote server.
#[derive(Default)]
pub struct Offline {
    /// `None` when `offline.db` could not be opened (logged; the app then works online only).
    pub store: Option<OfflineStore>,
    pub online: bool,
    pub offline_since: Option<DateTime<Utc>>,
    /// Plain-words lines of what changed on the server meanwhile, until the UI asks for them.
    pub changes: Vec<String>,
    /// Cache keys the person changed themselves since they were last fetched: their next change is no news.
    pub own_changes: HashSet<String>,
}

pub struct Desktop {
    pub started: Instant,
    pub state: watch::Sender<ServiceState>,
    embedded: Arc<Mutex<Option<Embedded>>>,
    embedded_db: OnceLock<PathBuf>,
    /// The embedded demo's per-launch password, which the app hands to itself for one-click sign-in; set
    /// once the service is ready.
    pub demo_password: Arc<OnceLock<DemoPassword>>,
    pub keychain: Keychain,
    pub ui_ready_reported: AtomicBool,
    /// Bumped on every secret copy, so only the newest secret's 60-second timer clears the clipboard.
    pub clipboard_generation: AtomicU64,
    pub servers: std::sync::Mutex<SavedServers>,
    server_file: OnceLock<ServerFile>,
    pub session: Mutex<Option<Session>>,
    pub offline: std::sync::Mutex<Offline>,
    /// Ends a browser sign-in that is waiting for the browser.
    pub sign_in_cancel: std::sync::Mutex<Option<oneshot::Sender<()>>>,
    pub http: Http,
}

impl Desktop {
    pub fn new(started: Instant) -> Desktop {
        let keychain = Keychain::open();
        tracing::debug!(ms = started.elapsed().as_millis() as u64, kind = keychain.kind(), "keychain chosen");
        Desktop {
            started,
            state: watch::channel(ServiceState::Idle).0,
            embedded: Arc::new(Mutex::new(None)),
            embedded_db: OnceLock::new(),
            demo_password: Arc::new(OnceLock::new()),
            keychain,
            ui_ready_reported: AtomicBool::new(false),
            clipboard_generation: AtomicU64::new(0),
            servers: std::sync::Mutex::new(SavedServers::default()),
            server_file: OnceLock::new(),
            session: Mutex::new(None),
            offline: std::sync::Mutex::new(Offline { online: true, ..Offline::default() }),
            sign_in_cancel: std::sync::Mutex::new(None),
            // Built without TLS configuration beyond the defaults, so it cannot fail in practice; if it
            // did, remote servers would say why when added.
            http: signin::http_client().unwrap_or_default(),
        }
    }

    /// Reads the saved servers and opens the offline cache in `dir`; starts the embedded service when it is
    /// the current server (in remote mode it is not started at all).
    pub fn open(&self, dir: PathBuf) {
        tracing::debug!(ms = self.started.elapsed().as_millis() as u64, "opening the saved servers and the offline cache");
        let file = ServerFile::new(&dir);
        if let Ok(mut s) = self.servers.lock() {
            *s = file.load();
        }
        let _ = self.server_file.set(file);
        match OfflineStore::open(&dir.join("offline.db")) {
            Ok(store) => {
                if let Ok(mut o) = self.offline.lock() {
                    o.store = Some(store);
                }
            }
            Err(e) => tracing::warn!(error = %e, "the offline cache could not be opened; remote mode works online only"),
        }
        let _ = self.embedded_db.set(dir.join("portico.db"));
        tracing::debug!(ms = self.started.elapsed().as_millis() as u64, "opened");
        if self.current_server().is_none() {
            self.start_service();
        }
    }

    pub fn save_servers(&self) {
        let (Some(file), Ok(s)) = (self.server_file.get(), self.servers.lock()) else { return };
        if let Err(e) = file.save(&s) {
            tracing::warn!(error = %e, "could not save the list of servers");
        }
    }

    /// The current remote server, or `None` for the embedded service.
    pub fn current_server(&self) -> Option<SavedServer> {
        self.servers.lock().ok().and_then(|s| s.current().cloned())
    }

    /// Starts the embedded service in the background (once); the window opens meanwhile and commands wait.
    pub fn start_service(&self) {
        let Some(db) = self.embedded_db.get().cloned() else { return };
        if !matches!(*self.state.borrow(), ServiceState::Idle) {
            return;
        }
        self.state.send_replace(ServiceState::Starting);
        let state = self.state.clone();
        let slot = self.embedded.clone();
        let demo_password = self.demo_password.clone();
        tauri::async_runtime::spawn(async move {
            match Embedded::start_with(&db, Demo::PerLaunchPassword, sample_app_dir()).await {
                Ok(e) => {
                    let config = e.config.clone();
                    if let Some(p) = e.demo_password.clone() {
                        let _ = demo_password.set(p);
                    }
                    *slot.lock().await = Some(e);
                    state.send_replace(ServiceState::Ready(config));
                }
                Err(e) => {
                    tracing::error!(error = %e, "embedded service failed to start");
                    state.send_replace(ServiceState::Failed(e.to_string()));
                }
            }
        });
    }

    pub async fn stop_service(&self) {
        let embedded = self.embedded.lock().await.take();
        if let Some(e) = embedded {
            if let Err(err) = e.shutdown().await {
                tracing::warn!(error = %err, "embedded service did not stop cleanly");
            }
        }
    }

    /// Waits until the embedded service is up (starting it if it was not).
    pub async fn ready(&self) -> Result<Config, CommandError> {
        self.start_service();
        let mut rx = self.state.subscribe();
        loop {
            match &*rx.borrow_and_update() {
                ServiceState::Ready(c) => return Ok(c.clone()),
                ServiceState::Failed(m) => {
                    return Err(CommandError::new("unavailable", format!("The Portico service could not start: {m}")))
                }
                ServiceState::Starting | ServiceState::Idle => {}
            }
            if rx.changed().await.is_err() {
                return Err(CommandError::new("unavailable", "The Portico service stopped."));
            }
        }
    }

    /// The current server's base URL: the remote one's, or the embedded service's once it is up.
    pub async fn base_url(&self) -> Result<String, CommandError> {
        match self.current_server() {
            Some(s) => Ok(s.info.base_url),
            None => Ok(self.ready().await?.base_url),
        }
    }

    /// The signed-in client, or `unauthenticated`. A remote session's access token is renewed first when
    /// it is about to end; when the server cannot be reached, the old client is handed out all the same
    /// (its calls then fail as unreachable and the cache answers).
    pub async fn signed_in(&self) -> Result<Client, CommandError> {
        let mut guard = self.session.lock().await;
        match guard.as_mut() {
            None => Err(CommandError::unauthenticated()),
            Some(Session::Embedded(c)) => Ok(c.clone()),
            Some(Session::Remote(r)) => {
                // Offline, renewing would only wait for the network again; `sync` renews once it is back.
                if Instant::now() >= r.renew_at && !self.known_offline() {
                    match self.renew(r).await {
                        Ok(()) => {}
                        Err(signin::ConnectError::Refused(_)) => {
                            // The sign-in is over (signed out elsewhere, expired, replayed): forget it.
                            self.keychain.forget(&remote_account(&r.server.base_url, &r.username));
                            *guard = None;
                            return Err(CommandError::new("unauthenticated", "Your sign-in has ended. Please sign in again."));
                        }
                        Err(_) => self.went_offline(),
                    }
                }
                match guard.as_ref() {
                    Some(Session::Remote(r)) => Ok(r.client.clone()),
                    _ => Err(CommandError::unauthenticated()),
                }
            }
        }
    }

    /// Renews a remote session's access token (rotating the refresh token, kept in the keychain).
    pub async fn renew(&self, r: &mut RemoteSession) -> Result<(), signin::ConnectError> {
        let t = signin::refresh(&self.http, &r.server, &r.refresh_token).await?;
        r.refresh_token = t.refresh_token;
        self.keychain.save(&remote_account(&r.server.base_url, &r.username), &r.refresh_token);
        r.client = Client::new(&r.server.base_url)
            .map_err(|e| signin::ConnectError::InvalidUrl(e.to_string()))?
            .with_session(t.access_token);
        r.renew_at = renew_at(t.expires_in);
        Ok(())
    }

    /// The cache partition of the remote sign-in, if there is one (embedded mode caches nothing).
    pub async fn account(&self) -> Option<Account> {
        match self.session.lock().await.as_ref() {
            Some(Session::Remote(r)) => Some(Account { server: r.server.base_url.clone(), user: r.username.clone() }),
            _ => None,
        }
    }

    pub fn went_offline(&self) {
        if let Ok(mut o) = self.offline.lock() {
            if o.online {
                o.online = false;
                o.offline_since = Some(Utc::now());
            }
        }
    }

    pub fn went_online(&self) {
        if let Ok(mut o) = self.offline.lock() {
            o.online = true;
            o.offline_since = None;
        }
    }

    pub fn known_offline(&self) -> bool {
        self.offline.lock().map(|o| !o.online).unwrap_or(false)
    }

    pub fn next_clipboard_generation(&self) -> u64 {
        self.clipboard_generation.fetch_add(1, Ordering::SeqCst) + 1
    }
}

/// A minute before the token ends (at least 10 s from now).
pub fn renew_at(expires_in: Duration) -> Instant {
    Instant::now() + expires_in.saturating_sub(Duration::from_secs(60)).max(Duration::from_secs(10))
}

/// Where the built sample SMART app is: `PORTICO_SAMPLE_APP_DIR`, else the repository's `sample-app/dist`
/// this binary was built from (scripts/run and scripts/test build it first). A packaged app without either
/// serves none, and the UI hides "Try a sample app".
fn sample_app_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("PORTICO_SAMPLE_APP_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../sample-app/dist")));
    dir.join("index.html").is_file().then_some(dir)
}
