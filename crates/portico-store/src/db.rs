//! The concurrent face of the store: a pool of reader connections and one writer thread that commits
//! writes in groups.
//!
//! SQLite in WAL mode lets any number of readers run beside one writer, each reader on its own snapshot.
//! So reads never wait for writes or for each other: each takes a connection from the pool (opening one
//! when none is idle). Writes are jobs sent to the one writer thread, which drains whatever jobs are
//! waiting, runs each in its own savepoint inside one transaction, commits once, and only then tells each
//! job's caller how the commit went. Under load many small writes (audit events of reads, issued tokens)
//! share one commit; a caller is answered only after its write is committed, so an answer never reports
//! something a crash could still take back (with `synchronous=NORMAL` a committed transaction survives a
//! process crash; an operating-system crash or power loss may lose the last commits).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};

use crate::{sqlite, Backend, ReadStore, Result, Store, StoreError, WriteJob};

/// At most this many jobs share one commit, so one batch never holds the lock for long.
const MAX_BATCH: usize = 512;
/// Idle reader connections kept open; more are opened under load and closed when returned.
const MAX_IDLE_READERS: usize = 8;

/// A shared handle to one database file: readers from a pool, writes through the writer thread.
#[derive(Clone)]
pub struct Database {
    inner: Arc<Shared>,
}

struct Shared {
    path: PathBuf,
    idle: Mutex<Vec<Store>>,
    jobs: Sender<Box<dyn WriteJob>>,
}

impl Database {
    /// Opens the file (creating and migrating it if needed) and starts the writer thread.
    pub fn open(path: &Path) -> Result<Database> {
        Database::new(Store::open(path)?)
    }

    /// Takes an open store as the writer connection. Readers are opened on the same file as needed.
    pub fn new(writer: Store) -> Result<Database> {
        let path = writer.path().ok_or_else(|| StoreError::Corrupt("a shared database needs a file".into()))?;
        let (jobs, rx) = mpsc::channel::<Box<dyn WriteJob>>();
        std::thread::Builder::new()
            .name("portico-writer".into())
            .spawn(move || write_loop(writer, rx))
            .map_err(|e| StoreError::Corrupt(format!("cannot start the writer thread: {e}")))?;
        Ok(Database { inner: Arc::new(Shared { path, idle: Mutex::new(Vec::new()), jobs }) })
    }
}

impl Backend for Database {
    /// A point read is tens of microseconds in this process: no thread hand-off is worth it.
    fn inline_reads(&self) -> bool {
        true
    }

    /// Closes the idle reader connections (and their page caches); new ones are opened as reads arrive.
    /// The housekeeping calls it when the service is quiet, so memory taken under load is given back.
    fn release_idle_readers(&self) -> usize {
        let mut idle = self.inner.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = idle.len();
        idle.clear();
        n
    }

    /// Runs `f` on a reader connection from the pool (opening one when none is idle).
    fn read(&self, f: &mut dyn FnMut(&dyn ReadStore)) -> Result<()> {
        let reader = self.inner.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner).pop();
        let reader = match reader {
            Some(r) => r,
            None => Store::open_reader(&self.inner.path)?,
        };
        f(&reader);
        reader.end_read();
        let mut idle = self.inner.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if idle.len() < MAX_IDLE_READERS {
            idle.push(reader);
        }
        Ok(())
    }

    /// Queues a write job. Its `finish` is called from the writer thread after its batch commits.
    fn submit(&self, job: Box<dyn WriteJob>) -> Result<()> {
        self.inner.jobs.send(job).map_err(|_| StoreError::Corrupt("the writer thread has stopped".into()))
    }
}

fn write_loop(mut store: Store, rx: Receiver<Box<dyn WriteJob>>) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        if let Err(e) = store.begin_immediate() {
            // Another process holds the write lock past the busy timeout: every caller is told so.
            for job in batch {
                job.finish(Err(e.for_another_caller()));
            }
            continue;
        }
        for job in batch.iter_mut() {
            store.run_job(job.as_mut());
        }
        let committed = store.commit();
        if committed.is_err() {
            store.rollback();
        }
        for job in batch {
            job.finish(match &committed {
                Ok(()) => Ok(()),
                Err(e) => Err(e.for_another_caller()),
            });
        }
    }
}

impl Store {
    /// A connection that only reads, for the pool.
    fn open_reader(path: &Path) -> Result<Store> {
        let conn = rusqlite::Connection::open(path).map_err(sqlite)?;
        conn.pragma_update(None, "query_only", "ON").map_err(sqlite)?;
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(sqlite)?;
        // A modest page cache per reader: the pool can grow under load, and memory must stay bounded.
        conn.pragma_update(None, "cache_size", -4096).map_err(sqlite)?;
        // Searches come in many shapes (one statement per combination of criteria); keep them prepared.
        conn.set_prepared_statement_cache_capacity(128);
        Ok(Store::from_conn(conn))
    }

    /// Makes sure no read transaction outlives its request (a statement left mid-step would pin a snapshot).
    fn end_read(&self) {
        if !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }

    /// How long a write waits for a lock another process holds before giving up with `Busy`.
    pub fn set_busy_timeout(&self, timeout: std::time::Duration) -> Result<()> {
        self.conn.busy_timeout(timeout).map_err(sqlite)?;
        Ok(())
    }

    fn path(&self) -> Option<PathBuf> {
        self.conn.path().filter(|p| !p.is_empty() && *p != ":memory:").map(PathBuf::from)
    }

    fn begin_immediate(&mut self) -> Result<()> {
        self.conn.execute_batch("BEGIN IMMEDIATE").map_err(sqlite)?;
        Ok(())
    }

    fn commit(&mut self) -> Result<()> {
        self.conn.execute_batch("COMMIT").map_err(sqlite)?;
        Ok(())
    }

    fn rollback(&mut self) {
        if !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }

    /// One job in its own savepoint: a job that panics leaves nothing behind and the batch goes on.
    fn run_job(&mut self, job: &mut dyn WriteJob) {
        if self.conn.execute_batch("SAVEPOINT job").is_err() {
            return;
        }
        let ran = catch_unwind(AssertUnwindSafe(|| job.run(self)));
        let end = if ran.is_ok() { "RELEASE job" } else { "ROLLBACK TO job; RELEASE job" };
        let _ = self.conn.execute_batch(end);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::WriteStore;
    use std::sync::mpsc::{channel, Sender};

    /// A job that runs a closure and reports (its result, the commit outcome) on a channel.
    struct Job<F> {
        f: Option<F>,
        out: Option<bool>,
        tx: Sender<(Option<bool>, bool)>,
    }

    impl<F: FnOnce(&mut dyn WriteStore) -> bool + Send> WriteJob for Job<F> {
        fn run(&mut self, store: &mut dyn WriteStore) {
            if let Some(f) = self.f.take() {
                self.out = Some(f(store));
            }
        }
        fn finish(self: Box<Self>, committed: Result<()>) {
            let _ = self.tx.send((self.out, committed.is_ok()));
        }
    }

    fn job<F: FnOnce(&mut dyn WriteStore) -> bool + Send + 'static>(
        tx: &Sender<(Option<bool>, bool)>,
        f: F,
    ) -> Box<dyn WriteJob> {
        Box::new(Job { f: Some(f), out: None, tx: tx.clone() })
    }

    fn names(db: &Database) -> Vec<String> {
        let db: &dyn Backend = db;
        db.with_reader(|s| s.practices().unwrap().into_iter().map(|(_, n)| n).collect()).unwrap()
    }

    #[test]
    fn writes_commit_before_their_callers_hear_and_a_panicking_job_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(&dir.path().join("p.db")).unwrap();
        let (tx, rx) = channel();
        db.submit(job(&tx, |s| s.create_practice("One").is_ok())).unwrap();
        db.submit(job(&tx, |s| {
            s.create_practice("Half").unwrap();
            panic!("a bug in one request")
        }))
        .unwrap();
        db.submit(job(&tx, |s| s.create_practice("Two").is_ok())).unwrap();
        let answers: Vec<(Option<bool>, bool)> = (0..3).map(|_| rx.recv().unwrap()).collect();
        assert_eq!(answers, vec![(Some(true), true), (None, true), (Some(true), true)]);
        // Each caller heard only after its write was visible to every reader.
        assert_eq!(names(&db), vec!["One".to_owned(), "Two".to_owned()]);
    }

    #[test]
    fn readers_run_beside_an_open_write_and_see_only_committed_data() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.db");
        let db = Database::open(&path).unwrap();
        let (tx, rx) = channel();
        let (hold_tx, hold_rx) = channel::<()>();
        let (started_tx, started_rx) = channel::<()>();
        db.submit(job(&tx, move |s| {
            s.create_practice("Slow").unwrap();
            started_tx.send(()).unwrap();
            hold_rx.recv().unwrap();
            true
        }))
        .unwrap();
        started_rx.recv().unwrap();
        // The writer is mid-transaction; a reader is not blocked and does not see the uncommitted row.
        assert!(names(&db).is_empty());
        hold_tx.send(()).unwrap();
        assert_eq!(rx.recv().unwrap(), (Some(true), true));
        assert_eq!(names(&db), vec!["Slow".to_owned()]);
    }

    #[test]
    fn a_write_lock_held_elsewhere_past_the_timeout_is_reported_as_busy() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.db");
        let writer = Store::open(&path).unwrap();
        writer.set_busy_timeout(std::time::Duration::from_millis(50)).unwrap();
        let db = Database::new(writer).unwrap();
        let other = rusqlite::Connection::open(&path).unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        let (tx, rx) = channel();
        db.submit(job(&tx, |s| s.create_practice("Blocked").is_ok())).unwrap();
        assert_eq!(rx.recv().unwrap(), (None, false));
        other.execute_batch("COMMIT").unwrap();
        db.submit(job(&tx, |s| s.create_practice("Later").is_ok())).unwrap();
        assert_eq!(rx.recv().unwrap(), (Some(true), true));
    }
}
