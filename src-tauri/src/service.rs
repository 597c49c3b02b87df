//! The desktop's state: the embedded service (starting, ready or failed), the signed-in client, the
//! keychain, and start-up timing.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use portico_client::Client;
use portico_server::demo::DemoPassword;
use portico_server::embedded::{Demo, Embedded};
use portico_server::Config;
use tokio::sync::{watch, Mutex};

use crate::error::CommandError;
use crate::keychain::Keychain;

#[derive(Clone)]
pub enum ServiceState {
    Starting,
    Ready(Config),
    Failed(String),
}

pub struct Desktop {
    pub started: Instant,
    pub state: watch::Sender<ServiceState>,
    embedded: Arc<Mutex<Option<Embedded>>>,
    pub client: Mutex<Option<Client>>,
    /// The embedded demo's per-launch password, which the app hands to itself for one-click sign-in; set
    /// once the service is ready.
    pub demo_password: Arc<OnceLock<DemoPassword>>,
    pub keychain: Keychain,
    pub ui_ready_reported: AtomicBool,
    /// Bumped on every secret copy, so only the newest secret's 60-second timer clears the clipboard.
    pub clipboard_generation: AtomicU64,
}

impl Desktop {
    pub fn new(started: Instant) -> Desktop {
        Desktop {
            started,
            state: watch::channel(ServiceState::Starting).0,
            embedded: Arc::new(Mutex::new(None)),
            client: Mutex::new(None),
            demo_password: Arc::new(OnceLock::new()),
            keychain: Keychain::open(),
            ui_ready_reported: AtomicBool::new(false),
            clipboard_generation: AtomicU64::new(0),
        }
    }

    /// Starts the embedded service in the background; the window opens meanwhile and commands wait for it.
    pub fn start_service(&self, db: PathBuf) {
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

    /// Waits until the service is up.
    pub async fn ready(&self) -> Result<Config, CommandError> {
        let mut rx = self.state.subscribe();
        loop {
            match &*rx.borrow_and_update() {
                ServiceState::Ready(c) => return Ok(c.clone()),
                ServiceState::Failed(m) => {
                    return Err(CommandError::new("unavailable", format!("The Portico service could not start: {m}")))
                }
                ServiceState::Starting => {}
            }
            if rx.changed().await.is_err() {
                return Err(CommandError::new("unavailable", "The Portico service stopped."));
            }
        }
    }

    /// The signed-in client, or `unauthenticated`.
    pub async fn signed_in(&self) -> Result<Client, CommandError> {
        self.client.lock().await.clone().ok_or_else(CommandError::unauthenticated)
    }

    pub fn next_clipboard_generation(&self) -> u64 {
        self.clipboard_generation.fetch_add(1, Ordering::SeqCst) + 1
    }
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
