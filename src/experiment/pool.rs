//! Background training: a priority queue of runs and worker threads that
//! take from it. A run that panics or errs is marked failed with its message
//! and nothing else is touched; pause, resume, cancel and rerun act on
//! single runs; progress is readable at any time.

use super::config::{PlannedRun, RunConfig, RunId};
use super::runner::{self, Control, Outcome, Progress, Request};
use super::status::RunStatus;
use super::store::{self, RunDir, Store};
use crate::eval::Metrics;
use std::collections::{BinaryHeap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What [`Pool::adopt`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adoption {
    /// This process trains the run (or does not know it).
    NotElsewhere,
    /// The other process still holds the run.
    Held,
    /// The other process let go of it, ended.
    Ended,
    /// The other process let go of it unfinished: queued here now.
    Adopted,
}

/// What the pool tells its owner.
#[derive(Debug, Clone, PartialEq)]
pub enum PoolEvent {
    Status(RunId, RunStatus),
    Eval(RunId, Metrics),
}

/// One run known to the pool.
#[derive(Debug)]
pub struct RunHandle {
    pub id: RunId,
    pub config: Arc<RunConfig>,
    pub dir: RunDir,
    pub control: Control,
    pub progress: Mutex<Progress>,
    state: Mutex<HandleState>,
}

#[derive(Debug, Clone, Default)]
struct HandleState {
    status: Option<RunStatus>,
    error: Option<String>,
    /// Trained by another process (its lock was held when we tried).
    elsewhere: bool,
    rerun_after_cancel: bool,
}

impl RunHandle {
    pub fn status(&self) -> RunStatus {
        lock(&self.state).status.unwrap_or(RunStatus::Queued)
    }
    pub fn error(&self) -> Option<String> {
        lock(&self.state).error.clone()
    }
    /// Whether another process was training this run when a worker tried it.
    pub fn elsewhere(&self) -> bool {
        lock(&self.state).elsewhere
    }
    pub fn progress(&self) -> Progress {
        *lock(&self.progress)
    }
}

/// A poisoned lock only means another thread panicked while holding it;
/// the data is plain state, still usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Job {
    priority: i64,
    /// Earlier submissions first among equal priorities.
    order: std::cmp::Reverse<u64>,
    id: RunId,
}

struct Shared {
    store: Store,
    queue: Mutex<(BinaryHeap<Job>, u64)>,
    wake: Condvar,
    handles: Mutex<HashMap<RunId, Arc<RunHandle>>>,
    events: Mutex<Option<Sender<PoolEvent>>>,
    stopping: AtomicBool,
}

/// The most worker threads a pool starts. Each trains one run with its
/// own memory, and past the cores more threads only share them; 1024 is
/// room for the largest machines, while `--jobs 100000` ran out of the
/// threads the system allows and panicked.
pub const MAX_JOBS: usize = 1024;

pub struct Pool {
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
}

impl Pool {
    /// Starts `jobs` worker threads (at least one, at most [`MAX_JOBS`]) over `store`.
    pub fn new(store: Store, jobs: usize, events: Option<Sender<PoolEvent>>) -> Self {
        let shared = Arc::new(Shared {
            store,
            queue: Mutex::new((BinaryHeap::new(), 0)),
            wake: Condvar::new(),
            handles: Mutex::new(HashMap::new()),
            events: Mutex::new(events),
            stopping: AtomicBool::new(false),
        });
        let workers = (0..jobs.clamp(1, MAX_JOBS))
            .map(|i| {
                let shared = shared.clone();
                std::thread::Builder::new()
                    .name(format!("pessimist-worker-{i}"))
                    .spawn(move || worker(&shared))
                    .expect("spawning a worker thread")
            })
            .collect();
        Pool { shared, workers }
    }

    /// Registers a run; queues it (or, without `autostart`, leaves it
    /// waiting) unless the store says it has ended or is paused. Returns its
    /// handle. Submitting a known run again changes nothing: its state is kept.
    /// The store is only read: the run's directory is prepared when the run
    /// starts (a run whose directory cannot be prepared, a file in its
    /// place or no permission, fails then, with the reason, and the others
    /// train), so queueing 100,000 runs writes nothing, and a dashboard
    /// that only looks (`tui --headless`) never writes.
    pub fn submit(&self, run: impl Into<PlannedRun>, autostart: bool) -> Arc<RunHandle> {
        let PlannedRun { id, config } = run.into();
        if let Some(h) = lock(&self.shared.handles).get(&id) {
            return h.clone();
        }
        let dir = self.shared.store.run_dir(&config.spec, &id);
        let summary = store::read_summary(&dir).ok().flatten();
        let status = summary.as_ref().map(|s| s.status);
        let handle = Arc::new(RunHandle {
            id,
            config,
            dir,
            control: Control::default(),
            progress: Mutex::new(Progress::default()),
            state: Mutex::new(HandleState {
                error: summary.as_ref().and_then(|s| s.error.clone()),
                ..Default::default()
            }),
        });
        if let Some(s) = &summary {
            *lock(&handle.progress) = Progress {
                iteration: s.iterations_done,
                total: s.iterations,
                ..Default::default()
            };
        }
        let priority = handle.config.priority;
        lock(&self.shared.handles).insert(id, handle.clone());
        match status {
            Some(s) if s.is_final() || s == RunStatus::Paused => {
                lock(&handle.state).status = Some(s);
            }
            _ if autostart => {
                lock(&handle.state).status = Some(RunStatus::Queued);
                self.shared.enqueue(id, priority);
            }
            _ => lock(&handle.state).status = Some(RunStatus::Waiting),
        }
        handle
    }

    pub fn handle(&self, id: &RunId) -> Option<Arc<RunHandle>> {
        lock(&self.shared.handles).get(id).cloned()
    }

    /// Pauses a running run at its next iteration (it checkpoints), or keeps a
    /// queued one from starting.
    pub fn pause(&self, id: &RunId) {
        let Some(h) = self.handle(id) else { return };
        match h.status() {
            RunStatus::Running => h.control.request(Request::Pause),
            RunStatus::Queued | RunStatus::Waiting => self.shared.set(&h, RunStatus::Paused),
            _ => {}
        }
    }

    /// Takes a queued run off the queue until it is started again (its spec
    /// no longer lists it): unlike a pause, nobody asked for it.
    pub fn hold(&self, id: &RunId) {
        let Some(h) = self.handle(id) else { return };
        if h.status() == RunStatus::Queued {
            self.shared.set(&h, RunStatus::Waiting);
        }
    }

    /// Queues a paused or waiting run; it resumes from its checkpoint.
    pub fn resume(&self, id: &RunId) {
        let Some(h) = self.handle(id) else { return };
        if matches!(h.status(), RunStatus::Paused | RunStatus::Waiting) {
            h.control.request(Request::Continue);
            self.shared.set(&h, RunStatus::Queued);
            self.shared.enqueue(h.id, h.config.priority);
        }
    }

    /// Cancels a run: a running one stops at its next iteration.
    pub fn cancel(&self, id: &RunId) {
        let Some(h) = self.handle(id) else { return };
        match h.status() {
            RunStatus::Running => h.control.request(Request::Cancel),
            RunStatus::Queued | RunStatus::Waiting | RunStatus::Paused => {
                if let Ok(Some(_lock)) = self.shared.lock_prepared(&h) {
                    let mut s = store::read_summary(&h.dir)
                        .ok()
                        .flatten()
                        .unwrap_or_else(|| store::Summary::new(h.config.iterations, String::new()));
                    s.status = RunStatus::Cancelled;
                    let _ = store::write_summary(&h.dir, &s);
                }
                self.shared.set(&h, RunStatus::Cancelled);
            }
            _ => {}
        }
    }

    /// Discards a run's results and trains it again from the start.
    pub fn rerun(&self, id: &RunId) {
        let Some(h) = self.handle(id) else { return };
        if h.status() == RunStatus::Running {
            lock(&h.state).rerun_after_cancel = true;
            h.control.request(Request::Cancel);
            return;
        }
        self.shared.restart(&h);
    }

    /// Takes over a run another process was training when a worker tried
    /// it, once that process let go of it (its lock is free: it stopped,
    /// or died, and the kernel released the lock) without ending it: the
    /// run is queued again (or waits, without `autostart`) and resumes
    /// from its last checkpoint. The summary is read after the lock was
    /// seen free, so it holds that process's last words.
    pub fn adopt(&self, id: &RunId, autostart: bool) -> Adoption {
        let Some(h) = self.handle(id).filter(|h| h.elsewhere()) else {
            return Adoption::NotElsewhere;
        };
        if store::is_locked(&h.dir) {
            return Adoption::Held;
        }
        match store::read_summary(&h.dir).ok().flatten() {
            Some(s) if s.status.is_final() => Adoption::Ended,
            // Taken once, should two threads adopt at the same time.
            _ if std::mem::take(&mut lock(&h.state).elsewhere) => {
                if autostart {
                    self.shared.set(&h, RunStatus::Queued);
                    self.shared.enqueue(h.id, h.config.priority);
                } else {
                    self.shared.set(&h, RunStatus::Waiting);
                }
                Adoption::Adopted
            }
            _ => Adoption::NotElsewhere,
        }
    }

    /// Queues every waiting run (not the ones the user paused).
    pub fn start_waiting(&self) {
        let waiting: Vec<RunId> = lock(&self.shared.handles)
            .values()
            .filter(|h| h.status() == RunStatus::Waiting)
            .map(|h| h.id)
            .collect();
        for id in waiting {
            self.resume(&id);
        }
    }

    /// Asks running runs to checkpoint and stop (they resume next time),
    /// and joins the workers.
    pub fn shutdown(mut self) {
        self.stop(None);
    }

    /// As [`Pool::shutdown`], but waits at most `grace` for the workers: one
    /// still in a phase with no stopping point (a medium learner on a large
    /// map trains for minutes, k-means, an exact solve) is left to end with
    /// the process. Its run is then as after `kill -9`: its lock goes with
    /// the process and it resumes from its last checkpoint (or starts over,
    /// if it had none) the next time it is trained. For a process that is
    /// quitting (the dashboard's `q`, SIGTERM): nothing is lost by not
    /// waiting, and the user is not kept waiting.
    pub fn shutdown_within(mut self, grace: Duration) {
        self.stop(Some(Instant::now() + grace));
    }

    fn stop(&mut self, deadline: Option<Instant>) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        for h in lock(&self.shared.handles).values() {
            if h.status() == RunStatus::Running {
                h.control.request(Request::Stop);
            }
        }
        self.shared.wake.notify_all();
        let mut left = 0;
        for w in self.workers.drain(..) {
            if let Some(deadline) = deadline {
                while !w.is_finished() && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(5));
                }
                if !w.is_finished() {
                    left += 1;
                    continue;
                }
            }
            let _ = w.join();
        }
        if left > 0 {
            tracing::warn!(
                "quitting with {left} worker(s) still setting up a run; those runs resume next time"
            );
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.stop(None);
    }
}

impl Shared {
    fn enqueue(&self, id: RunId, priority: i64) {
        let mut q = lock(&self.queue);
        q.1 += 1;
        let order = std::cmp::Reverse(q.1);
        q.0.push(Job {
            priority,
            order,
            id,
        });
        self.wake.notify_one();
    }

    fn set(&self, h: &RunHandle, status: RunStatus) {
        lock(&h.state).status = Some(status);
        self.emit(PoolEvent::Status(h.id, status));
    }

    /// Clears a run's results and queues it from the start (unless another
    /// process trains it right now).
    fn restart(&self, h: &RunHandle) {
        match self.lock_prepared(h) {
            Ok(Some(_lock)) => {
                if let Err(e) = store::clear(&h.dir) {
                    lock(&h.state).error = Some(e.to_string());
                    self.set(h, RunStatus::Failed);
                    return;
                }
            }
            _ => return,
        }
        h.control.request(Request::Continue);
        *lock(&h.progress) = Progress::default();
        lock(&h.state).error = None;
        self.set(h, RunStatus::Queued);
        self.enqueue(h.id, h.config.priority);
    }

    /// Records how a run's training ended (committing a run trained to
    /// its end), tells the pool's owner, and queues a run rerun meanwhile.
    fn conclude(&self, h: &RunHandle, result: std::thread::Result<crate::Result<Outcome>>) {
        let (status, error) = settle(h, result);
        let rerun = {
            let mut st = lock(&h.state);
            st.status = Some(status);
            st.error = error;
            std::mem::take(&mut st.rerun_after_cancel)
        };
        self.emit(PoolEvent::Status(h.id, status));
        if rerun {
            self.restart(h);
        }
    }

    /// Locks a run's directory, preparing it first: a run submitted
    /// without autostart has none until it starts, is cancelled or rerun.
    fn lock_prepared(&self, h: &RunHandle) -> crate::Result<Option<store::RunLock>> {
        self.store.prepare(&h.config)?;
        store::try_lock(&h.dir)
    }

    fn emit(&self, event: PoolEvent) {
        if let Some(tx) = lock(&self.events).as_ref() {
            let _ = tx.send(event);
        }
    }

    /// The next queued run, or `None` when the pool is stopping.
    fn next(&self) -> Option<Arc<RunHandle>> {
        let mut q = lock(&self.queue);
        loop {
            if self.stopping.load(Ordering::SeqCst) {
                return None;
            }
            if let Some(job) = q.0.pop() {
                let handle = lock(&self.handles).get(&job.id).cloned();
                if let Some(h) = handle.filter(|h| h.status() == RunStatus::Queued) {
                    return Some(h);
                }
                continue; // paused or cancelled while queued
            }
            q = self
                .wake
                .wait(q)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }
}

/// Trains runs until the pool stops. A run trained to its end is
/// committed (its outputs made durable, its summary written) on a thread
/// of its own while the worker trains the next, so the disk's latency
/// overlaps the next run's work; one commit at a time per worker.
fn worker(shared: &Shared) {
    std::thread::scope(|scope| {
        let mut committing: Option<std::thread::ScopedJoinHandle<()>> = None;
        while let Some(h) = shared.next() {
            lock(&h.state).status = Some(RunStatus::Running);
            shared.emit(PoolEvent::Status(h.id, RunStatus::Running));
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                // Submitted without autostart, the run has no directory yet.
                shared.store.prepare(&h.config)?;
                let cache = shared.store.dataset_cache();
                runner::execute(&h.dir, &h.config, &cache, &h.control, &h.progress, |m| {
                    shared.emit(PoolEvent::Eval(h.id, *m));
                })
            }));
            if let Ok(Ok(Outcome::Ending(_))) = &result {
                if let Some(previous) = committing.take() {
                    let _ = previous.join();
                }
                committing = Some(scope.spawn(move || shared.conclude(&h, result)));
            } else {
                shared.conclude(&h, result);
            }
        }
    });
}

/// A run's status and error once its training ended as `result`.
fn settle(
    h: &RunHandle,
    result: std::thread::Result<crate::Result<Outcome>>,
) -> (RunStatus, Option<String>) {
    match result {
        Ok(Ok(Outcome::Ending(ending))) => settle(
            h,
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                ending.commit().map(Outcome::Finished)
            })),
        ),
        Ok(Ok(Outcome::Finished(s))) => {
            let error = (s == RunStatus::Failed)
                .then(|| {
                    store::read_summary(&h.dir)
                        .ok()
                        .flatten()
                        .and_then(|s| s.error)
                })
                .flatten();
            (s, error)
        }
        Ok(Ok(Outcome::Interrupted(Request::Pause))) => (RunStatus::Paused, None),
        Ok(Ok(Outcome::Interrupted(_))) => (RunStatus::Queued, None),
        Ok(Ok(Outcome::Busy)) => {
            lock(&h.state).elsewhere = true;
            (RunStatus::Running, None)
        }
        Ok(Err(e)) => (RunStatus::Failed, Some(e.to_string())),
        Err(payload) => {
            let message = format!("panicked: {}", runner::panic_message(payload.as_ref()));
            let _ = runner::mark_failed(&h.dir, &h.config, &message);
            (RunStatus::Failed, Some(message))
        }
    }
}
