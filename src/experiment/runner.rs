//! Trains one run into the store: build its data and learner, resume from
//! the last checkpoint, step, evaluate every `eval_every` iterations, and
//! leave the run in a state a later process can continue from.

use super::config::RunConfig;
use super::dataset_cache::DatasetCache;
use super::pipeline::{Setup, Training};
use super::status::RunStatus;
use super::store::{self, Checkpoint, CheckpointOwner, MetricsWriter, RunDir, Summary};
use crate::algo;
use crate::error::Result;
use crate::eval::Metrics;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

/// A request from outside to a running run, checked between iterations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Request {
    Continue = 0,
    /// Checkpoint and give the worker back; `resume` queues it again.
    Pause = 1,
    Cancel = 2,
    /// The process is quitting: checkpoint, and resume next time.
    Stop = 3,
}

/// The remote control of one run.
#[derive(Debug, Default)]
pub struct Control(AtomicU8);

impl Control {
    pub fn request(&self, r: Request) {
        self.0.store(r as u8, Ordering::SeqCst);
    }

    pub fn get(&self) -> Request {
        match self.0.load(Ordering::Relaxed) {
            1 => Request::Pause,
            2 => Request::Cancel,
            3 => Request::Stop,
            _ => Request::Continue,
        }
    }
}

/// Progress readable at any time by the dashboard.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Progress {
    pub iteration: u64,
    pub total: u64,
    pub it_per_sec: f64,
    pub eta_seconds: f64,
}

/// How a call to [`execute`] ended.
#[derive(Debug)]
pub enum Outcome {
    Finished(RunStatus),
    /// Trained to its end (done or diverged): its summary is written by
    /// [`Ending::commit`], which the caller may leave to another thread
    /// while this one trains the next run.
    Ending(Box<Ending>),
    /// Checkpointed on request (pause or stop); resumable.
    Interrupted(Request),
    /// Another process holds the run's lock.
    Busy,
}

/// A run trained to its end, its last checkpoint staged: what is left is
/// waiting on the disk (making the outputs durable, [`store::Staged`]) and
/// then writing the summary. The run's lock is held until then, so no
/// other process takes the run over meanwhile.
#[derive(Debug)]
pub struct Ending {
    dir: RunDir,
    _lock: store::RunLock,
    metrics: MetricsWriter,
    staged: store::Staged,
    summary: Summary,
}

impl Ending {
    /// Makes the metrics and the last checkpoint durable, then writes the
    /// summary (saying the run failed, and why, when they cannot be
    /// written) and lets the run go. Returns the run's status.
    pub fn commit(self: Box<Self>) -> Result<RunStatus> {
        let Ending {
            dir,
            _lock,
            mut metrics,
            staged,
            mut summary,
        } = *self;
        match make_durable(&mut metrics, staged, &mut summary) {
            Ok(()) => {
                let _ = store::log(
                    &dir,
                    &format!(
                        "{} at iteration {}: setup {:.6} s, train {:.6} s, eval {:.6} s, metrics {:.6} s, checkpoints and files {:.6} s",
                        summary.status,
                        summary.iterations_done,
                        summary.setup_seconds,
                        summary.train_seconds,
                        summary.eval_seconds,
                        summary.metrics_seconds,
                        summary.io_seconds
                    ),
                );
            }
            Err(e) => fail(&dir, &mut summary, &e),
        }
        summary.updated = store::now();
        store::write_summary(&dir, &summary)?;
        Ok(summary.status)
    }
}

/// How [`train`] stopped.
enum Stop {
    /// Trained to the end, the last checkpoint staged.
    End {
        metrics: MetricsWriter,
        staged: store::Staged,
    },
    /// Before the end (cancelled, paused, stopping), checkpointed.
    Early(Outcome),
}

/// How often a running run checkpoints (and syncs its metrics).
pub const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(1);

/// Trains `config` in `dir` (prepared by [`store::Store::prepare`]) until it
/// ends or `control` asks it to stop. `on_eval` sees every new eval point.
/// A collected dataset comes from `cache` when another process built it.
pub fn execute(
    dir: &RunDir,
    config: &RunConfig,
    cache: &DatasetCache,
    control: &Control,
    progress: &Mutex<Progress>,
    mut on_eval: impl FnMut(&Metrics),
) -> Result<Outcome> {
    let Some(lock) = lock_patiently(dir)? else {
        return Ok(Outcome::Busy);
    };
    if let Some(s) = store::read_summary_to_repair(dir)
        && s.status.is_final()
    {
        return Ok(Outcome::Finished(s.status));
    }
    let worker = format!("{}:{}", store::host_name(), std::process::id());
    let mut summary = Summary::new(config.iterations, worker);
    let result = train(
        dir,
        config,
        cache,
        control,
        progress,
        &mut summary,
        &mut on_eval,
    );
    let outcome = match result {
        Ok(Stop::End { metrics, staged }) => {
            return Ok(Outcome::Ending(Box::new(Ending {
                dir: dir.clone(),
                _lock: lock,
                metrics,
                staged,
                summary,
            })));
        }
        Ok(Stop::Early(outcome)) => outcome,
        Err(e) => {
            fail(dir, &mut summary, &e);
            Outcome::Finished(RunStatus::Failed)
        }
    };
    summary.updated = store::now();
    store::write_summary(dir, &summary)?;
    Ok(outcome)
}

/// Records in the log and the summary that the run failed with `e`.
fn fail(dir: &RunDir, summary: &mut Summary, e: &crate::Error) {
    let _ = store::log(dir, &format!("failed: {e}"));
    summary.status = RunStatus::Failed;
    summary.error = Some(e.to_string());
}

/// Takes the run's lock, allowing for a few milliseconds of contention:
/// [`store::is_locked`] probes (a dashboard checking on the run) hold it
/// for microseconds, a trainer for the whole run.
fn lock_patiently(dir: &RunDir) -> Result<Option<store::RunLock>> {
    for _ in 0..5 {
        if let Some(lock) = store::try_lock(dir)? {
            return Ok(Some(lock));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(None)
}

fn train(
    dir: &RunDir,
    config: &RunConfig,
    cache: &DatasetCache,
    control: &Control,
    progress: &Mutex<Progress>,
    summary: &mut Summary,
    on_eval: &mut impl FnMut(&Metrics),
) -> Result<Stop> {
    let started = Instant::now();
    let Training {
        mut learner,
        judge,
        dataset,
        survey,
    } = Setup::of(config).with_cache(cache).build()?;
    // The dataset's statistics hold its concentrability (the coverage).
    summary.dataset_stats = match judge.dataset_stats(&dataset) {
        Ok(stats) => Some(stats),
        Err(e) => {
            let _ = store::log(dir, &format!("no dataset statistics: {e}"));
            None
        }
    };
    summary.coverage = match &summary.dataset_stats {
        Some(stats) => Some(stats.concentrability),
        None => Some(judge.coverage()),
    };
    summary.unvisited_states = Some(judge.unvisited_states());
    let mut checkpoints = Checkpoints {
        dir,
        owner: CheckpointOwner::of(config),
        landscape: None,
    };
    let checkpoint = store::read_checkpoint_to_repair(dir, &checkpoints.owner);
    let (mut iteration, kept) = match &checkpoint {
        Some(c) => {
            learner.load_state(&c.algorithm)?;
            summary.train_seconds = c.train_seconds;
            summary.eval_seconds = c.eval_seconds;
            summary.metrics_seconds = c.metrics_seconds;
            summary.io_seconds = c.io_seconds;
            summary.setup_seconds = c.setup_seconds;
            (c.iteration, c.metrics_lines)
        }
        None => (0, 0),
    };
    summary.setup_seconds += started.elapsed().as_secs_f64();
    let mut metrics = MetricsWriter::resume(dir, kept)?;
    if let Some(last) = store::read_metrics(dir)?.last() {
        summary.last = Some(*last);
    }
    store::log(
        dir,
        &format!(
            "{} at iteration {iteration} on {}",
            if checkpoint.is_some() {
                "resumed"
            } else {
                "started"
            },
            summary.worker
        ),
    )?;
    summary.iterations_done = iteration;
    summary.status = RunStatus::Running;
    // A resumed run says at once that it runs (its old status must not
    // stand); a fresh one at its first checkpoint or its end, so a run of
    // less than a second writes one summary and replaces no file (each
    // replaced file frees an inode, and ext4 without a journal then reads
    // past every inode freed in the last 35 s at each file it creates).
    if checkpoint.is_some() {
        store::write_summary(dir, summary)?;
    }

    let hold = test_hold();
    let mut held = false;
    let mut last_checkpoint = Instant::now();
    let mut interval = (Instant::now(), iteration);
    let mut it_per_sec = 0.0;
    let mut loss = f64::NAN;
    loop {
        let mut ended = None;
        let due = iteration % config.eval_every == 0 || iteration == config.iterations;
        if due && metrics.lines() == eval_index(iteration, config) {
            let started = Instant::now();
            let (q, policy) = (learner.q(), learner.policy());
            // Checked first: a non-finite Q can make its policy invalid, and
            // divergence is a result, not a failure.
            let finite = q.iter().all(|x| x.is_finite());
            let mut m = match judge.evaluate(&q, &policy, learner.weights(), learner.act()) {
                Ok(m) => m,
                Err(e) => match (!finite).then(|| judge.believed_max(&q)).flatten() {
                    Some(q_est) => {
                        let _ =
                            store::log(dir, &format!("cannot evaluate the diverged policy: {e}"));
                        believed(q_est)
                    }
                    None => return Err(e),
                },
            };
            // The landscape of this eval point, written with the next checkpoint.
            if let (Some(survey), Some(theta), true) =
                (&survey, learner.weights(), m.true_return.is_finite())
            {
                match survey.landscape(iteration, theta) {
                    Ok(l) => checkpoints.landscape = Some(l),
                    Err(e) => {
                        let _ = store::log(dir, &format!("no landscape: {e}"));
                    }
                }
            }
            summary.eval_seconds += started.elapsed().as_secs_f64();
            m.iteration = iteration;
            m.wall_time = summary.train_seconds;
            m.it_per_sec = it_per_sec;
            m.loss = loss;
            timed(&mut summary.metrics_seconds, || metrics.append(&m));
            summary.last = Some(m);
            on_eval(&m);
            if !finite || !m.q_est.is_finite() {
                let _ = store::log(
                    dir,
                    &format!("diverged at iteration {iteration}: Q is not finite"),
                );
                ended = Some(RunStatus::Diverged);
            }
        }
        if iteration >= config.iterations {
            ended = ended.or(Some(RunStatus::Done));
        }
        if let Some(status) = ended {
            let staged = checkpoints.stage(&mut metrics, learner.as_ref(), summary, iteration)?;
            summary.status = status;
            return Ok(Stop::End { metrics, staged });
        }
        let request = control.get();
        let holding = iteration > 0 && hold.as_ref().is_some_and(|gate| gate.exists());
        if request != Request::Continue
            || (!held && (holding || last_checkpoint.elapsed() >= CHECKPOINT_INTERVAL))
        {
            checkpoints.write(&mut metrics, learner.as_ref(), summary, iteration)?;
            // A run that goes on shows its progress; one that stops here
            // has its summary written once, with its status, by `execute`.
            if request == Request::Continue {
                store::write_summary(dir, summary)?;
            }
            last_checkpoint = Instant::now();
            match request {
                Request::Continue => {}
                Request::Cancel => {
                    let _ = store::log(dir, &format!("cancelled at iteration {iteration}"));
                    summary.status = RunStatus::Cancelled;
                    return Ok(Stop::Early(Outcome::Finished(RunStatus::Cancelled)));
                }
                Request::Pause | Request::Stop => {
                    let _ = store::log(
                        dir,
                        &format!("{request:?} at iteration {iteration}").to_lowercase(),
                    );
                    summary.status = if request == Request::Pause {
                        RunStatus::Paused
                    } else {
                        RunStatus::Queued
                    };
                    return Ok(Stop::Early(Outcome::Interrupted(request)));
                }
            }
        }
        held = holding;
        if holding {
            std::thread::sleep(Duration::from_millis(10));
            continue;
        }
        let started = Instant::now();
        let report = learner.step()?;
        summary.train_seconds += started.elapsed().as_secs_f64();
        loss = report.loss;
        iteration += 1;
        summary.iterations_done = iteration;
        let elapsed = interval.0.elapsed().as_secs_f64();
        if elapsed >= 0.2 || iteration == config.iterations {
            // Live views see new eval points at this pace; checkpoints make them durable.
            timed(&mut summary.metrics_seconds, || metrics.flush())?;
            it_per_sec = (iteration - interval.1) as f64 / elapsed.max(1e-9);
            interval = (Instant::now(), iteration);
            let eta = (config.iterations - iteration) as f64 / it_per_sec.max(1e-9);
            *progress
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Progress {
                iteration,
                total: config.iterations,
                it_per_sec,
                eta_seconds: eta,
            };
        }
    }
}

/// For tests only, in a build with the `test-hooks` feature (the shipped
/// binary never reads it): while the file named by `PESSIMIST_TEST_HOLD`
/// exists, a run that has taken a step checkpoints once and waits (pause,
/// cancel and stop still work), so a test can catch a process mid-run by
/// construction instead of by a wall-clock margin.
pub(super) fn test_hold() -> Option<std::path::PathBuf> {
    if !cfg!(feature = "test-hooks") {
        return None;
    }
    std::env::var_os("PESSIMIST_TEST_HOLD").map(Into::into)
}

/// The eval point of a Q that cannot be evaluated: what the learner
/// believes ([`crate::eval::Judge::believed_max`]), nothing else.
fn believed(q_est: f64) -> Metrics {
    Metrics {
        q_est,
        true_return: f64::NAN,
        gap: f64::NAN,
        q_data: f64::NAN,
        q_true_data: f64::NAN,
        episode_return: f64::NAN,
        normalized_score: f64::NAN,
        success_prob: f64::NAN,
        bellman_error: f64::NAN,
        ood_fraction: f64::NAN,
        kl_behavior: f64::NAN,
        ..Metrics::default()
    }
}

/// Number of eval points before `iteration`: 0, eval_every, 2·eval_every, …
fn eval_index(iteration: u64, config: &RunConfig) -> u64 {
    iteration.div_ceil(config.eval_every)
}

fn timed<T>(total: &mut f64, f: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let out = f();
    *total += started.elapsed().as_secs_f64();
    out
}

/// Syncs the metrics a staged checkpoint counts, then commits it: what a
/// checkpoint and a run's end share, counted as the run's file time.
fn make_durable(
    metrics: &mut MetricsWriter,
    staged: store::Staged,
    summary: &mut Summary,
) -> Result<()> {
    timed(&mut summary.io_seconds, || {
        metrics.sync().and_then(|()| staged.commit())
    })
}

/// Where and as whose a run's checkpoints are written, and the landscape
/// of the latest eval point not written yet.
struct Checkpoints<'a> {
    dir: &'a RunDir,
    owner: CheckpointOwner,
    landscape: Option<crate::eval::landscape::Landscape>,
}

impl Checkpoints<'_> {
    /// Flushes the metrics, then writes the landscape (if a new one),
    /// policy, Q and checkpoint, durable when this returns. The summary is
    /// the caller's: a run that stops here has [`execute`] write it once,
    /// with its status, after these are durable.
    fn write(
        &mut self,
        metrics: &mut MetricsWriter,
        learner: &dyn algo::Algorithm,
        summary: &mut Summary,
        iteration: u64,
    ) -> Result<()> {
        let staged = self.stage(metrics, learner, summary, iteration)?;
        make_durable(metrics, staged, summary)?;
        summary.updated = store::now();
        Ok(())
    }

    /// Flushes the metrics, then stages the landscape (if a new one),
    /// policy, Q and checkpoint. The current Q and policy too: the
    /// dashboard's detail view shows a running run's heatmap from them.
    fn stage(
        &mut self,
        metrics: &mut MetricsWriter,
        learner: &dyn algo::Algorithm,
        summary: &mut Summary,
        iteration: u64,
    ) -> Result<store::Staged> {
        timed(&mut summary.metrics_seconds, || metrics.flush())?;
        let started = Instant::now();
        let staged = store::stage_checkpoint(
            self.dir,
            &Checkpoint {
                owner: Some(self.owner.clone()),
                iteration,
                metrics_lines: metrics.lines(),
                train_seconds: summary.train_seconds,
                eval_seconds: summary.eval_seconds,
                metrics_seconds: summary.metrics_seconds,
                io_seconds: summary.io_seconds,
                setup_seconds: summary.setup_seconds,
                algorithm: learner.save_state(),
            },
            &learner.policy(),
            &learner.q(),
            self.landscape.take().as_ref(),
        )?;
        summary.io_seconds += started.elapsed().as_secs_f64();
        Ok(staged)
    }
}

/// Makes a thread's panic into a message for the run's summary.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(std::string::ToString::to_string)
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panicked".to_string())
}

/// Records a failure that happened outside [`execute`] (a panic).
pub fn mark_failed(dir: &RunDir, config: &RunConfig, message: &str) -> Result<()> {
    let _ = store::log(dir, &format!("failed: {message}"));
    let mut summary = store::read_summary(dir)
        .ok()
        .flatten()
        .unwrap_or_else(|| Summary::new(config.iterations, String::new()));
    summary.status = RunStatus::Failed;
    summary.error = Some(message.to_string());
    summary.updated = store::now();
    store::write_summary(dir, &summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unevaluable_q_still_records_what_the_learner_believes() {
        use crate::data::{Dataset, EmpiricalMdp};
        use crate::eval::{Evaluator, Judge};
        use std::sync::Arc;
        let mdp = crate::mdp::envs::make("ImitationTrap-v0").unwrap();
        let mut q = ndarray::Array2::zeros((mdp.n_states(), mdp.n_actions()));
        let start = mdp.initial().iter().position(|d| *d > 0.0).unwrap();
        let no_data = EmpiricalMdp::compile(&Dataset::new(mdp.n_states(), mdp.n_actions()));
        let judge = Judge::Exact(Evaluator::new(Arc::new(mdp), 0.9, Arc::new(no_data)).unwrap());
        q[[start, 0]] = f64::INFINITY;
        let m = believed(judge.believed_max(&q).unwrap());
        assert_eq!(m.q_est, f64::INFINITY);
        assert!(m.true_return.is_nan() && m.episode_return.is_nan());
        q[[start, 1]] = f64::NAN;
        assert!(believed(judge.believed_max(&q).unwrap()).q_est.is_nan());
    }
}
