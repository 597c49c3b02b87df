//! The service embedded in another process (the desktop app, `portico demo`): open the database, seed the
//! demo data on first run, bind a free loopback port and serve until told to stop. It answers only requests
//! addressed to that loopback address and port, and refuses cross-origin requests to `/api` (see `guard`),
//! so a web page in the user's browser cannot use it.

use std::path::{Path, PathBuf};

use portico_store::Store;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::demo::{self, DemoPassword, SeedError, SeedSummary};
use crate::{AppState, Config};

#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error("cannot open the database: {0}")]
    Store(#[from] portico_store::StoreError),
    #[error("cannot seed the demo data: {0}")]
    Seed(#[from] SeedError),
    #[error("cannot listen on 127.0.0.1: {0}")]
    Bind(#[from] std::io::Error),
    #[error("the service task failed")]
    Task,
}

/// Whether the store gets the demo data, and which password its demo accounts have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Demo {
    /// No demo data (an existing store is served as it is).
    Off,
    /// The documented [`demo::DEMO_PASSWORD`], for `portico demo`, which prints it anyway.
    DocumentedPassword,
    /// A random password set at every start and returned in [`Embedded::demo_password`], for the desktop
    /// app, which hands it to itself.
    PerLaunchPassword,
}

/// A running embedded service. Dropping it without [`Embedded::shutdown`] stops it as well.
pub struct Embedded {
    pub config: Config,
    pub seeded: Option<SeedSummary>,
    /// The demo accounts' password, when the demo data is on.
    pub demo_password: Option<DemoPassword>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl Embedded {
    /// Opens (or creates) `db`, seeds the demo data into an empty store unless `demo` is off, and serves on
    /// 127.0.0.1 with a port the OS picks. Returns once the listener is bound, so requests can follow at once.
    pub async fn start(db: &Path, demo: Demo) -> Result<Embedded, EmbedError> {
        Embedded::start_with(db, demo, None).await
    }

    /// [`Embedded::start`], also serving the built sample SMART app in `sample_app_dir` at `/sample-app/`.
    pub async fn start_with(db: &Path, demo: Demo, sample_app_dir: Option<PathBuf>) -> Result<Embedded, EmbedError> {
        let path = db.to_owned();
        let key_file = key_file_beside(db);
        let (store, seeded, demo_password) = tokio::task::spawn_blocking(move || -> Result<_, EmbedError> {
            let mut store = Store::open(&path)?;
            let (seeded, password) = match demo {
                Demo::Off => (None, None),
                Demo::DocumentedPassword => (Some(demo::seed(&mut store, chrono::Utc::now())?), Some(DemoPassword::documented())),
                Demo::PerLaunchPassword => {
                    let seeded = demo::seed(&mut store, chrono::Utc::now())?;
                    // Also on a store seeded before (by an earlier launch, or with the documented password).
                    let password = DemoPassword::per_launch();
                    demo::set_demo_password(&mut store, &password)?;
                    (Some(seeded), Some(password))
                }
            };
            Ok((store, seeded, password))
        })
        .await
        .map_err(|_| EmbedError::Task)??;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let mut config = Config::new(format!("http://{}", listener.local_addr()?)).trusting_only([]);
        config.key_file = Some(key_file);
        // The demo shows the whole app-developer journey, which starts with creating an account.
        config.allow_signup = demo != Demo::Off;
        config.sample_app_dir = sample_app_dir;
        let (stop, stopped) = oneshot::channel::<()>();
        let db = portico_store::Database::new(store)?;
        let task = tokio::spawn(crate::serve(listener, AppState::new(db, config.clone()), async {
            let _ = stopped.await;
        }));
        tracing::info!(base = %config.base_url, "embedded service started");
        Ok(Embedded { config, seeded, demo_password, stop: Some(stop), task: Some(task) })
    }

    /// Stops accepting, finishes in-flight requests, and waits for the server to end.
    pub async fn shutdown(mut self) -> Result<(), EmbedError> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        match self.task.take() {
            Some(t) => t.await.map_err(|_| EmbedError::Task)?.map_err(EmbedError::Bind),
            None => Ok(()),
        }
    }
}

impl Drop for Embedded {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// The id_token signing keys live beside the database they sign for (mode 0600).
pub fn key_file_beside(db: &Path) -> std::path::PathBuf {
    let mut name = db.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".signing-keys.pem");
    db.with_file_name(name)
}
