//! The shared handle: a pool of connections on the store's own runtime, reads on snapshots, and writer
//! threads that commit jobs in groups before answering them.
//!
//! Several `portico serve` processes may share the database, so nothing here assumes it is the only
//! writer: each job's statements are written to be correct under PostgreSQL's `READ COMMITTED` beside other
//! servers' transactions (conditional updates, `ON CONFLICT`), and a batch that loses a deadlock or a lock
//! timeout reports `Busy` to its callers instead of hanging.

use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use portico_store::{Backend, ReadStore, Result, StoreError, WriteJob};
use tokio::runtime::Runtime;

use crate::PgStore;

/// At most this many jobs share one commit.
const MAX_BATCH: usize = 64;

/// How to reach and use a PostgreSQL database.
#[derive(Clone)]
pub struct PgSettings {
    /// `postgres://user:password@host:port/dbname?...`; the password is never logged or shown by `Debug`.
    pub url: String,
    /// Connections this process keeps at most (readers and writers together).
    pub pool_size: usize,
    /// A statement running longer than this is cancelled (and its request answered 503).
    pub statement_timeout: Duration,
    /// Writer threads, each committing a batch of jobs at a time.
    pub writers: usize,
}

impl PgSettings {
    pub fn new(url: impl Into<String>) -> PgSettings {
        PgSettings { url: url.into(), pool_size: 16, statement_timeout: Duration::from_secs(30), writers: 2 }
    }

    /// The URL without its password, for logs and banners.
    pub fn redacted_url(&self) -> String {
        redact(&self.url)
    }
}

impl std::fmt::Debug for PgSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgSettings")
            .field("url", &self.redacted_url())
            .field("pool_size", &self.pool_size)
            .field("statement_timeout", &self.statement_timeout)
            .field("writers", &self.writers)
            .finish()
    }
}

/// `scheme://user:secret@host/...` → `scheme://user:***@host/...`; a `password=` parameter likewise.
fn redact(url: &str) -> String {
    let mut out = url.to_owned();
    if let Some(scheme_end) = out.find("://") {
        let rest_start = scheme_end + 3;
        let authority_end = out[rest_start..].find(['/', '?']).map_or(out.len(), |i| rest_start + i);
        if let Some(at) = out[rest_start..authority_end].rfind('@') {
            let userinfo = &out[rest_start..rest_start + at];
            if let Some(colon) = userinfo.find(':') {
                out.replace_range(rest_start + colon + 1..rest_start + at, "***");
            }
        }
    }
    if let Some(q) = out.find('?') {
        let (head, query) = out.split_at(q + 1);
        let query: Vec<String> = query
            .split('&')
            .map(|p| if p.to_ascii_lowercase().starts_with("password=") { "password=***".to_owned() } else { p.to_owned() })
            .collect();
        out = format!("{head}{}", query.join("&"));
    }
    out
}

/// A shared handle to one PostgreSQL database.
#[derive(Clone)]
pub struct PgDatabase {
    inner: Arc<Shared>,
}

/// What hands out connections: the pool and the runtime that drives them. Writer threads hold one of
/// their own, not the database handle, so dropping the last handle ends them (its job queue closes).
#[derive(Clone)]
struct Connector {
    pool: Pool,
    rt: tokio::runtime::Handle,
}

impl Connector {
    fn store(&self) -> Result<PgStore> {
        // A new connection is made (and its task spawned) on the store's runtime; waiting for it needs none.
        let pool = self.pool.clone();
        let got = futures_executor::block_on(self.rt.spawn(async move { pool.get().await }))
            .map_err(|e| StoreError::Corrupt(format!("the connection task failed: {e}")))?;
        let client = got.map_err(|e| match e {
            deadpool_postgres::PoolError::Backend(e) => crate::pg(e),
            deadpool_postgres::PoolError::Timeout(_) => StoreError::Busy,
            e => StoreError::database(e),
        })?;
        Ok(PgStore::new(client))
    }

    fn write_loop(self, rx: &Mutex<Receiver<Box<dyn WriteJob>>>) {
        loop {
            let batch = {
                let rx = rx.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                let Ok(first) = rx.recv() else { return };
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(job) => batch.push(job),
                        Err(_) => break,
                    }
                }
                batch
            };
            self.commit_batch(batch);
        }
    }

    /// Runs each job in its own savepoint inside one transaction, commits once, then answers each.
    fn commit_batch(&self, mut batch: Vec<Box<dyn WriteJob>>) {
        let committed = self.store().and_then(|mut store| {
            store.begin()?;
            for job in batch.iter_mut() {
                store.run_job(job.as_mut());
            }
            let committed = store.commit();
            if committed.is_err() {
                let _ = store.rollback();
            }
            committed
        });
        for job in batch {
            job.finish(match &committed {
                Ok(()) => Ok(()),
                Err(StoreError::Busy) => Err(StoreError::Busy),
                Err(e) => Err(StoreError::NotCommitted(e.to_string())),
            });
        }
    }
}

struct Shared {
    connector: Connector,
    /// Drives the connections; shut down in the background when the last handle goes (a runtime must not
    /// be dropped, blocking, inside another runtime's task).
    rt: Option<Runtime>,
    jobs: Mutex<Option<Sender<Box<dyn WriteJob>>>>,
    settings: PgSettings,
}

impl Drop for Shared {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

impl std::fmt::Debug for PgDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgDatabase").field("settings", &self.inner.settings).finish()
    }
}

impl PgDatabase {
    /// Connects, applies pending migrations and starts the writer threads. Blocking (it waits for the
    /// database), so on an async runtime prefer a blocking thread; it works on any thread.
    pub fn connect(settings: PgSettings) -> Result<PgDatabase> {
        let target = crate::tls::Target::parse(&settings.url, &settings.redacted_url())?;
        let tls = if target.wants_tls() { Some(target.connector()?) } else { None };
        let mut config = target.config;
        let timeout_ms = settings.statement_timeout.as_millis();
        config.application_name("portico");
        config.options(format!("-c statement_timeout={timeout_ms} -c lock_timeout={timeout_ms}"));
        config.connect_timeout(Duration::from_secs(10));
        let recycling = ManagerConfig { recycling_method: RecyclingMethod::Fast };
        let manager = match tls {
            Some(tls) => Manager::from_config(config, tls, recycling),
            None => Manager::from_config(config, tokio_postgres::NoTls, recycling),
        };
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("portico-pg")
            .enable_all()
            .build()
            .map_err(|e| StoreError::Corrupt(format!("cannot start the database runtime: {e}")))?;
        let pool = Pool::builder(manager)
            .max_size(settings.pool_size.max(settings.writers + 1))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(|e| StoreError::Corrupt(format!("cannot build the connection pool: {e}")))?;
        let connector = Connector { pool, rt: rt.handle().clone() };
        connector.store()?.migrate()?;
        let (tx, rx) = mpsc::channel::<Box<dyn WriteJob>>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..settings.writers.max(1) {
            let connector = connector.clone();
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("portico-pg-writer-{i}"))
                .spawn(move || connector.write_loop(&rx))
                .map_err(|e| StoreError::Corrupt(format!("cannot start a writer thread: {e}")))?;
        }
        Ok(PgDatabase { inner: Arc::new(Shared { connector, rt: Some(rt), jobs: Mutex::new(Some(tx)), settings }) })
    }

    /// A connection from the pool, as a store (outside any transaction).
    pub fn store(&self) -> Result<PgStore> {
        self.inner.connector.store()
    }

    /// Whether this process's connections to the database are encrypted (TLS), as the server reports it.
    pub fn connection_is_encrypted(&self) -> Result<bool> {
        let store = self.store()?;
        let row = store.query_one("SELECT coalesce((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), false)", &[])?;
        crate::col(&row, 0)
    }

    /// Stops taking jobs: the writer threads finish what is queued and end.
    pub fn close(&self) {
        self.inner.jobs.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
    }
}

impl PgStore {
    /// One job in its own savepoint: a job that panics (or leaves a failed statement) leaves nothing behind.
    fn run_job(&mut self, job: &mut dyn WriteJob) {
        if self.batch("SAVEPOINT job").is_err() {
            return;
        }
        let ran = catch_unwind(AssertUnwindSafe(|| job.run(self)));
        let end = if ran.is_ok() { "RELEASE job" } else { "ROLLBACK TO job; RELEASE job" };
        if self.batch(end).is_err() {
            // The job left the transaction failed (a statement error it swallowed): undo it alone.
            let _ = self.batch("ROLLBACK TO job; RELEASE job");
        }
    }
}

impl Backend for PgDatabase {
    /// Runs `f` in a read-only, repeatable-read transaction on a pooled connection: one snapshot throughout.
    fn read(&self, f: &mut dyn FnMut(&dyn ReadStore)) -> Result<()> {
        let store = self.store()?;
        store.begin_snapshot()?;
        let ran = catch_unwind(AssertUnwindSafe(|| f(&store)));
        if store.rollback().is_err() {
            // Never hand a connection with an open transaction back to the pool.
            drop(deadpool_postgres::Object::take(store.client));
        }
        if let Err(panic) = ran {
            resume_unwind(panic);
        }
        Ok(())
    }

    /// Queues a write job; a writer thread runs it and calls its `finish` after the commit.
    fn submit(&self, job: Box<dyn WriteJob>) -> Result<()> {
        let jobs = self.inner.jobs.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let sender = jobs.as_ref().ok_or_else(|| StoreError::Corrupt("the database is closed".into()))?;
        sender.send(job).map_err(|_| StoreError::Corrupt("the writer threads have stopped".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show_in_the_redacted_url_or_debug() {
        for (url, shown) in [
            ("postgres://portico:s3cret@db.example:5432/portico", "postgres://portico:***@db.example:5432/portico"),
            (
                "postgres://portico@db/portico?password=s3cret&sslmode=require",
                "postgres://portico@db/portico?password=***&sslmode=require",
            ),
            ("postgresql://u:p%40ss@h/d", "postgresql://u:***@h/d"),
            ("postgres://h/d", "postgres://h/d"),
        ] {
            assert_eq!(redact(url), shown);
            let settings = PgSettings::new(url);
            assert!(!format!("{settings:?}").contains("s3cret"));
        }
    }
}
