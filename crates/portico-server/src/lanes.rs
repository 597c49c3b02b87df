//! Low-priority lanes: a few dedicated threads, run at the lowest scheduling priority, for the work that
//! may take milliseconds of CPU (searches, `$everything`, previews, Argon2). On a busy core the scheduler
//! then gives the short requests (tokens, point reads) the CPU first, and the long ones use what is left,
//! so a burst of searches or sign-ins slows itself down rather than everyone else.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use crate::state::Unavailable;

type Job = Box<dyn FnOnce() + Send>;

pub struct Lane {
    jobs: Mutex<Sender<Job>>,
}

impl Lane {
    /// Starts `threads` threads named `name-N`. If the OS refuses to lower their priority they run at the
    /// normal one; the lane still bounds how many such jobs run at once.
    pub fn new(name: &str, threads: usize) -> Lane {
        let (tx, rx) = channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new().name(format!("{name}-{i}")).spawn(move || work(&rx));
            if let Err(e) = spawned {
                tracing::error!(error = %e, lane = name, "cannot start a lane thread");
            }
        }
        Lane { jobs: Mutex::new(tx) }
    }

    /// Runs `f` on the lane and waits for its result. A panic in `f` is `Unavailable::Broken`.
    pub async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Result<T, Unavailable> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(f());
        });
        self.jobs.lock().unwrap_or_else(std::sync::PoisonError::into_inner).send(job).map_err(|_| Unavailable::Broken)?;
        rx.await.map_err(|_| Unavailable::Broken)
    }
}

/// On the cross-platform 0–99 scale: nice 15 on Linux, about 3.5 % of a normal thread's share of a busy
/// core per lane thread. Measured at 1M resources with tokens flooding one core: at nice 9 (four search
/// threads) tokens kept 49–89 % of their rate; at nice 19 they kept all of it but searches stopped (0/s).
const LANE_PRIORITY: u8 = 10;

fn work(rx: &Mutex<Receiver<Job>>) {
    let lowered = thread_priority::ThreadPriorityValue::try_from(LANE_PRIORITY).map_err(|e| format!("{e:?}")).and_then(|v| {
        thread_priority::set_current_thread_priority(thread_priority::ThreadPriority::Crossplatform(v))
            .map_err(|e| format!("{e:?}"))
    });
    if let Err(e) = lowered {
        tracing::debug!(error = %e, "lane thread keeps the normal priority");
    }
    loop {
        let job = match rx.lock().unwrap_or_else(std::sync::PoisonError::into_inner).recv() {
            Ok(job) => job,
            // The lane (its AppState) is gone.
            Err(_) => return,
        };
        // The caller sees the panic as a dropped answer; the thread lives on for the next job.
        let _ = catch_unwind(AssertUnwindSafe(job));
    }
}
