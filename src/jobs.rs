//! CPU-heavy work off the async workers: a bounded queue of jobs run on
//! blocking threads, a few at a time.
//!
//! Guarantees: at most `running` jobs run at once, the others wait their
//! turn; at most `queued` jobs run or wait, more are refused at once
//! ([`JobError::Busy`]); a job whose request timed out while it waited is
//! not run; a job that panics is logged and answered [`JobError::Failed`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

/// Why [`Jobs::run`] did not give an answer.
#[derive(Debug)]
pub enum JobError {
    /// As many jobs as allowed are running or queued: answer 503.
    Busy,
    /// The job panicked (logged): answer 500.
    Failed,
}

/// The permits of CPU-heavy jobs; cloning shares them.
#[derive(Clone, Debug)]
pub struct Jobs {
    /// Permits of jobs running or queued.
    queued: Arc<Semaphore>,
    /// Permits of jobs running.
    running: Arc<Semaphore>,
    /// How long a request may take; a job's deadline.
    timeout: Duration,
}

impl Jobs {
    /// `max_jobs` running or queued, `workers` running, each with `timeout`.
    pub fn new(max_jobs: usize, workers: usize, timeout: Duration) -> Jobs {
        Jobs {
            queued: Arc::new(Semaphore::new(max_jobs.max(1))),
            running: Arc::new(Semaphore::new(workers.max(1))),
            timeout,
        }
    }

    /// The deadline of a request starting now.
    pub fn deadline(&self) -> Instant {
        Instant::now() + self.timeout
    }

    /// Runs `work` on a blocking thread, so that the async workers keep
    /// answering (health checks, light requests) meanwhile. `work` is given
    /// the time by which the request times out, to stop early.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(Instant) -> T + Send + 'static,
    ) -> Result<T, JobError> {
        let queued = self.queued.clone().try_acquire_owned().map_err(|_| JobError::Busy)?;
        let deadline = self.deadline();
        // Waiting here is cancelled with the request (timeout, client gone).
        let running = self.running.clone().acquire_owned().await.map_err(|_| JobError::Busy)?;
        tokio::task::spawn_blocking(move || {
            let _permits = (queued, running);
            work(deadline)
        })
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "a blocking job failed");
            JobError::Failed
        })
    }
}
