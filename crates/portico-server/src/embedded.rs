//! The service embedded in another process (the desktop app, `portico demo`): open the database, seed the
//! demo data on first run, bind a free loopback port and serve until told to stop.

use std::path::Path;

use portico_store::Store;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::demo::{self, SeedError, SeedSummary};
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

/// A running embedded service. Dropping it without [`Embedded::shutdown`] stops it as well.
pub struct Embedded {
    pub config: Config,
    pub seeded: Option<SeedSummary>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl Embedded {
    /// Opens (or creates) `db`, seeds the demo data into an empty store when `demo` is set, and serves on
    /// 127.0.0.1 with a port the OS picks. Returns once the listener is bound, so requests can follow at once.
    pub async fn start(db: &Path, demo: bool) -> Result<Embedded, EmbedError> {
        let path = db.to_owned();
        let (store, seeded) = tokio::task::spawn_blocking(move || -> Result<(Store, Option<SeedSummary>), EmbedError> {
            let mut store = Store::open(&path)?;
            let seeded = if demo { Some(demo::seed(&mut store, chrono::Utc::now())?) } else { None };
            Ok((store, seeded))
        })
        .await
        .map_err(|_| EmbedError::Task)??;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let config = Config::new(format!("http://{}", listener.local_addr()?));
        let (stop, stopped) = oneshot::channel::<()>();
        let db = portico_store::Database::new(store)?;
        let task = tokio::spawn(crate::serve(listener, AppState::new(db, config.clone()), async {
            let _ = stopped.await;
        }));
        tracing::info!(base = %config.base_url, "embedded service started");
        Ok(Embedded { config, seeded, stop: Some(stop), task: Some(task) })
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
