//! A live view of an experiments directory and its store, and the remote
//! control the dashboard drives: specs are loaded and watched, their runs
//! queued on this process's pool, and runs trained by any process (a
//! headless `pessimist run`, a Slurm array on a shared directory) are read
//! back from the store as their files change.

use super::config::{RunConfig, RunId};
use super::pool::{Adoption, Pool, PoolEvent, RunHandle};
use super::runner::Progress;
use super::spec::{self, SpecError};
use super::status::RunStatus;
use super::store::{self, History, RunDir, Store, Summary};
use super::watcher::{self, DirWatcher, WatchDir};
use crate::error::{Error, Result};
use crate::eval::{DatasetStats, Metrics};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct SessionOptions {
    pub experiments_dir: PathBuf,
    pub runs_dir: PathBuf,
    pub jobs: usize,
    /// Poll the file system instead of native events (network file systems).
    pub poll: bool,
    /// Queue new runs at once (else they wait for [`Session::start_queued`]).
    pub autostart: bool,
}

/// One run as the dashboard sees it (cheap to clone: the history is shared).
#[derive(Debug, Clone)]
pub struct RunView {
    pub id: RunId,
    pub config: Arc<RunConfig>,
    pub status: RunStatus,
    pub progress: Progress,
    pub latest: Option<Metrics>,
    /// The eval points read so far, at most [`store::MAX_POINTS`] and the
    /// latest (thinned evenly while read).
    pub history: Arc<Vec<Metrics>>,
    pub error: Option<String>,
    /// Trained by this process's pool (else another process trains it).
    pub owned_here: bool,
    pub dir: RunDir,
    pub coverage: Option<f64>,
    /// The dataset's statistics, from the run's summary (none in summaries
    /// written before they existed).
    pub dataset_stats: Option<DatasetStats>,
}

#[derive(Debug, Clone)]
pub struct SpecView {
    pub name: String,
    pub path: PathBuf,
    pub error: Option<SpecError>,
    pub run_ids: Vec<RunId>,
    /// What the spec waits for before its runs are known: "hashing
    /// big.csv 42%" while a large dataset file is hashed in the background.
    pub loading: Option<String>,
}

/// How long a quitting process waits for its workers to checkpoint: a run
/// between iterations stops in microseconds; one in a phase with no stopping
/// point is left to end with the process, and resumes next time.
pub const QUIT_GRACE: std::time::Duration = std::time::Duration::from_millis(500);

/// What changed (so a view redraws only on change).
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Specs,
    Runs(Vec<RunId>),
}

enum Event {
    Pool(PoolEvent),
    Files(Vec<PathBuf>),
    /// The background hasher moved on a file (another percent, or done).
    Hashing {
        done: bool,
    },
}

struct Entry {
    config: Arc<RunConfig>,
    dir: RunDir,
    /// The eval points read so far, thinned to a bounded number.
    history: History,
    summary: Option<Summary>,
    /// Set when this process's pool knows the run.
    handle: Option<Arc<RunHandle>>,
    /// Whether the run's lock was held when its summary said "running".
    locked: bool,
}

impl Entry {
    /// The pool's handle while this process trains, or will train, the
    /// run: not when another process held it, nor when it only waits or
    /// is queued here and another process has finished it (`pessimist
    /// run` beside a `--no-autostart` dashboard: the store says how it
    /// ended, the idle handle knows nothing).
    fn owned(&self) -> Option<&Arc<RunHandle>> {
        let ended_elsewhere = self.summary.as_ref().is_some_and(|s| s.status.is_final());
        // Idle here: never started by this process, so it knows nothing.
        let idle = |h: &RunHandle| matches!(h.status(), RunStatus::Waiting | RunStatus::Queued);
        let theirs = |h: &RunHandle| h.elsewhere() || (ended_elsewhere && idle(h));
        self.handle.as_ref().filter(|h| !theirs(h))
    }
}

/// What a view of a run shows, to tell a real change from a repeated event.
fn fingerprint(e: &Entry) -> (Option<(RunStatus, u64, u64)>, usize, Option<u64>) {
    (
        e.summary
            .as_ref()
            .map(|s| (s.status, s.iterations_done, s.updated.to_bits())),
        e.history.points().len(),
        e.history.points().last().map(|m| m.iteration),
    )
}

pub struct Session {
    opts: SessionOptions,
    pool: Pool,
    events: Receiver<Event>,
    specs: BTreeMap<PathBuf, SpecView>,
    /// The spec files of each name (the check that a name is free looks
    /// here, not through every spec: 10,000 specs open in linear time).
    names: HashMap<String, BTreeSet<PathBuf>>,
    runs: BTreeMap<RunId, Entry>,
    /// Kept alive: dropping it stops the watch.
    dir_watcher: Option<DirWatcher>,
    /// Where the watcher sends file events (a new watcher, when the
    /// watched directories are replaced, sends there too).
    files: Sender<Event>,
    /// The watched directories' identities ([`watcher::identity`]).
    watched: [Option<(u64, u64)>; 2],
    /// When to look next for runs whose other process died.
    next_orphan_check: Instant,
    /// Hashes large dataset files off the dashboard's thread.
    hasher: Hasher,
    /// The specs waiting for the hasher, and the files each waits for.
    waiting: BTreeMap<PathBuf, Vec<PathBuf>>,
    /// Why watching failed, if it did (the session still works, without live updates).
    pub watch_error: Option<String>,
}

impl Session {
    /// Reads every spec and the store, queues what needs training, and
    /// starts watching both directories.
    pub fn open(opts: SessionOptions) -> Result<Session> {
        for dir in [&opts.experiments_dir, &opts.runs_dir] {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
        }
        let (tx, rx) = channel();
        let (pool_tx, pool_rx) = channel();
        forward(pool_rx, tx.clone(), Event::Pool);
        let pool = Pool::new(Store::new(&opts.runs_dir), opts.jobs, Some(pool_tx));
        let (watcher, watch_error) = match start_watching(&opts, tx.clone()) {
            Ok(w) => (Some(w), None),
            Err(e) => (None, Some(e.to_string())),
        };
        let hasher = Hasher::start(tx.clone());
        let mut session = Session {
            hasher,
            waiting: BTreeMap::new(),
            watched: watched_identities(&opts),
            opts,
            pool,
            events: rx,
            specs: BTreeMap::new(),
            names: HashMap::new(),
            runs: BTreeMap::new(),
            dir_watcher: watcher,
            files: tx,
            next_orphan_check: Instant::now() + ORPHAN_CHECK,
            watch_error,
        };
        for path in spec_files(&session.opts.experiments_dir) {
            session.load_spec(&path);
        }
        session.scan_store();
        Ok(session)
    }

    /// Blocks up to `timeout` for something to change; returns what changed
    /// (empty on timeout).
    pub fn wait(&mut self, timeout: Duration) -> Vec<Change> {
        let deadline = Instant::now() + timeout;
        loop {
            let changes = self.poll();
            if !changes.is_empty() {
                return changes;
            }
            let now = Instant::now();
            if now >= deadline {
                return changes;
            }
            let until = deadline.min(self.next_orphan_check);
            match self
                .events
                .recv_timeout(until.saturating_duration_since(now))
            {
                Ok(first) => {
                    let mut changes = self.handle(first);
                    changes.extend(self.poll());
                    return merge(changes);
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return Vec::new(),
            }
        }
    }

    /// What changed since the last call, without blocking.
    pub fn poll(&mut self) -> Vec<Change> {
        let mut changes = Vec::new();
        while let Ok(event) = self.events.try_recv() {
            changes.extend(self.handle(event));
        }
        if Instant::now() >= self.next_orphan_check {
            changes.extend(self.rewatch_replaced());
            changes.extend(self.adopt_orphans());
        }
        merge(changes)
    }

    /// Watches again when a watched directory was replaced (`mv
    /// experiments experiments.old; mkdir experiments`): the old watch
    /// follows the moved directory, so new specs would never appear. The
    /// specs are then read afresh; a directory gone is said, not hidden.
    fn rewatch_replaced(&mut self) -> Vec<Change> {
        let now = watched_identities(&self.opts);
        if now == self.watched {
            return Vec::new();
        }
        self.watched = now;
        if now.contains(&None) {
            self.dir_watcher = None;
            self.watch_error = Some(format!(
                "{} or {} is gone",
                self.opts.experiments_dir.display(),
                self.opts.runs_dir.display()
            ));
            return vec![Change::Specs];
        }
        match start_watching(&self.opts, self.files.clone()) {
            Ok(w) => {
                self.dir_watcher = Some(w);
                self.watch_error = None;
            }
            Err(e) => {
                self.dir_watcher = None;
                self.watch_error = Some(e.to_string());
            }
        }
        tracing::info!("a watched directory was replaced: watching the new one");
        let known: Vec<PathBuf> = self.specs.keys().cloned().collect();
        for path in known.iter().chain(&spec_files(&self.opts.experiments_dir)) {
            self.load_spec(path);
        }
        self.scan_store();
        vec![Change::Specs]
    }

    /// Takes over the runs of our specs that another process was training
    /// and left unfinished (it died: the kernel released its lock, and no
    /// file event says so, hence the periodic look). Runs whose summary
    /// already says they ended are not probed again.
    fn adopt_orphans(&mut self) -> Vec<Change> {
        self.next_orphan_check = Instant::now() + ORPHAN_CHECK;
        let candidates: Vec<RunId> = self
            .runs
            .iter()
            .filter(|(_, e)| {
                e.handle.as_ref().is_some_and(|h| h.elsewhere())
                    && !e.summary.as_ref().is_some_and(|s| s.status.is_final())
            })
            .map(|(id, _)| id.clone())
            .collect();
        let mut changed = Vec::new();
        for id in candidates {
            let adoption = self.pool.adopt(&id, self.opts.autostart);
            if matches!(adoption, Adoption::Held | Adoption::NotElsewhere) {
                continue;
            }
            // Its last words may have come after our last refresh.
            let before = fingerprint(&self.runs[&id]);
            self.refresh(&id);
            // Only what moved is a change: an idle dashboard stays idle.
            if adoption == Adoption::Adopted || fingerprint(&self.runs[&id]) != before {
                changed.push(id);
            }
        }
        if changed.is_empty() {
            Vec::new()
        } else {
            vec![Change::Runs(changed)]
        }
    }

    fn handle(&mut self, event: Event) -> Vec<Change> {
        match event {
            Event::Pool(PoolEvent::Status(id, _) | PoolEvent::Eval(id, _)) => {
                self.refresh(&id);
                vec![Change::Runs(vec![id])]
            }
            Event::Files(paths) => self.files_changed(&paths),
            Event::Hashing { done: false } => vec![Change::Specs],
            Event::Hashing { done: true } => {
                let waiting: Vec<PathBuf> = self.waiting.keys().cloned().collect();
                for spec in waiting {
                    self.load_spec(&spec);
                }
                vec![Change::Specs]
            }
        }
    }

    fn files_changed(&mut self, paths: &[PathBuf]) -> Vec<Change> {
        let mut changes = Vec::new();
        let mut specs_changed = false;
        let mut runs = BTreeSet::new();
        let mut new_runs = BTreeSet::new();
        let experiments = canonical(&self.opts.experiments_dir);
        let store_root = canonical(&self.opts.runs_dir);
        for path in paths {
            let parent = path.parent().map(canonical);
            if parent.as_deref() == Some(experiments.as_path()) && is_spec(path) {
                self.load_spec(path);
                specs_changed = true;
            } else if let Ok(rest) = canonical_parent_join(path).strip_prefix(&store_root) {
                let mut parts = rest.components();
                let (Some(spec), Some(id)) = (parts.next(), parts.next()) else {
                    continue;
                };
                let Some(id) = id.as_os_str().to_str().and_then(RunId::parse) else {
                    continue;
                };
                let dir = RunDir::new(store_root.join(spec).join(&id.0));
                if !self.runs.contains_key(&id) {
                    self.add_stored(&id, &dir);
                    // New to us: a change whatever its files say.
                    new_runs.insert(id.clone());
                }
                runs.insert(id);
            }
        }
        // Only runs whose state moved are a change: file events can arrive
        // after the pool already reported what they say.
        let moved: Vec<RunId> = runs
            .into_iter()
            .filter(|id| {
                let before = self.runs.get(id).map(fingerprint);
                self.refresh(id);
                new_runs.contains(id) || self.runs.get(id).map(fingerprint) != before
            })
            .collect();
        if specs_changed {
            changes.push(Change::Specs);
        }
        if !moved.is_empty() {
            changes.push(Change::Runs(moved));
        }
        changes
    }

    /// (Re)loads one spec file: queues its new runs (and runs a spec
    /// dropped earlier), holds queued runs no spec lists any more, or
    /// records its error.
    fn load_spec(&mut self, path: &Path) {
        let key = canonical_parent_join(path);
        let old: BTreeSet<RunId> = self
            .specs
            .get(&key)
            .map(|s| s.run_ids.iter().cloned().collect())
            .unwrap_or_default();
        let name_before = self.specs.get(&key).map(|v| v.name.clone());
        if !path.exists() {
            self.waiting.remove(&key);
            self.forget_spec(&key);
            self.hold_dropped(&old);
            self.reload_refused(name_before);
            return;
        }
        // A large dataset file is hashed in the background; the spec is
        // read again when it is done (its runs keep going meanwhile).
        let pending = std::cell::RefCell::new(Vec::new());
        let loaded = spec::load_with(path, &|file| {
            let digest = self.hasher.digest(file)?;
            if digest.is_none() {
                pending.borrow_mut().push(file.to_path_buf());
            }
            Ok(digest)
        });
        let pending = pending.into_inner();
        if !pending.is_empty() {
            self.waiting.insert(key.clone(), pending);
            let name = self.specs.get(&key).map_or_else(
                || {
                    path.file_stem()
                        .map(|s| s.to_string_lossy().into_owned())
                        .unwrap_or_default()
                },
                |v| v.name.clone(),
            );
            self.put_spec(
                key.clone(),
                SpecView {
                    name,
                    path: key,
                    error: None,
                    run_ids: old.into_iter().collect(),
                    loading: None,
                },
            );
            return;
        }
        self.waiting.remove(&key);
        let view = match loaded {
            Ok(spec) if let Some(owner) = self.owner_of(&spec.name, &key) => SpecView {
                error: Some(SpecError {
                    path: key.clone(),
                    line: 1,
                    column: 1,
                    message: format!(
                        "the name `{}` is taken by {}: a spec's name is its directory in the \
                         store, and two specs of one name would mix their runs and tables; \
                         rename one (its runs start when the name is free)",
                        spec.name,
                        owner.display()
                    ),
                }),
                name: spec.name,
                path: key.clone(),
                run_ids: Vec::new(),
                loading: None,
            },
            Ok(spec) => {
                let mut ids = Vec::new();
                let mut failure = None;
                for config in spec.runs {
                    let id = config.id();
                    match self.pool.submit(config, self.opts.autostart) {
                        Ok(handle) => {
                            if self.opts.autostart && handle.status() == RunStatus::Waiting {
                                self.pool.resume(&id); // held when a spec dropped it
                            }
                            self.track(handle);
                            ids.push(id);
                        }
                        Err(e) => failure = Some(e),
                    }
                }
                SpecView {
                    name: spec.name,
                    path: key.clone(),
                    error: failure.map(|e| SpecError {
                        path: key.clone(),
                        line: 1,
                        column: 1,
                        message: e.to_string(),
                    }),
                    run_ids: ids,
                    loading: None,
                }
            }
            Err(error) => SpecView {
                name: path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                path: key.clone(),
                // Named as the spec is known here (`…/x/../y` resolved).
                error: Some(SpecError {
                    path: key.clone(),
                    ..error
                }),
                // A broken save keeps the runs it had: they go on training.
                run_ids: old.iter().cloned().collect(),
                loading: None,
            },
        };
        let renamed = name_before.filter(|before| *before != view.name);
        self.put_spec(key, view);
        self.hold_dropped(&old);
        self.reload_refused(renamed);
    }

    /// The other spec file that holds `name` (it has runs, or loads
    /// cleanly), if any: a spec refused for its name holds none.
    fn owner_of(&self, name: &str, key: &Path) -> Option<PathBuf> {
        self.names
            .get(name)?
            .iter()
            .filter(|k| k.as_path() != key)
            .find(|k| {
                self.specs
                    .get(*k)
                    .is_some_and(|v| v.error.is_none() || !v.run_ids.is_empty())
            })
            .cloned()
    }

    /// Sets the spec at `key`, keeping the index of names.
    fn put_spec(&mut self, key: PathBuf, view: SpecView) {
        self.forget_spec(&key);
        self.names
            .entry(view.name.clone())
            .or_default()
            .insert(key.clone());
        self.specs.insert(key, view);
    }

    fn forget_spec(&mut self, key: &Path) {
        if let Some(view) = self.specs.remove(key)
            && let Some(keys) = self.names.get_mut(&view.name)
        {
            keys.remove(key);
            if keys.is_empty() {
                self.names.remove(&view.name);
            }
        }
    }

    /// Loads again the specs refused because `name` was taken, now that the
    /// spec that held it is gone or renamed.
    fn reload_refused(&mut self, name: Option<String>) {
        let Some(name) = name else { return };
        let refused: Vec<PathBuf> = self
            .names
            .get(&name)
            .into_iter()
            .flatten()
            .filter(|k| {
                self.specs
                    .get(*k)
                    .is_some_and(|v| v.error.is_some() && v.run_ids.is_empty())
            })
            .cloned()
            .collect();
        for path in refused {
            self.load_spec(&path);
        }
    }

    /// Takes off the queue the runs of `old` that no spec lists any more
    /// (a spec renamed lists them under its new name: they stay queued).
    fn hold_dropped(&self, old: &BTreeSet<RunId>) {
        // A spec loaded for the first time dropped nothing (and collecting
        // every spec's ids for each of 10,000 new specs was quadratic).
        if old.is_empty() {
            return;
        }
        let listed: BTreeSet<&RunId> = self.specs.values().flat_map(|s| &s.run_ids).collect();
        for id in old.iter().filter(|id| !listed.contains(id)) {
            self.pool.hold(id);
        }
    }

    fn track(&mut self, handle: Arc<RunHandle>) {
        let id = handle.id.clone();
        if let Some(entry) = self.runs.get_mut(&id) {
            entry.handle = Some(handle);
        } else {
            let dir = handle.dir.clone();
            self.runs.insert(
                id.clone(),
                Entry {
                    config: handle.config.clone(),
                    dir,
                    history: History::default(),
                    summary: None,
                    handle: Some(handle),
                    locked: false,
                },
            );
        }
        self.refresh(&id);
    }

    /// Adds every run in the store that no spec of ours lists (trained by
    /// another process, or from a spec since removed).
    fn scan_store(&mut self) {
        let stored = Store::new(&self.opts.runs_dir)
            .list(None)
            .unwrap_or_default();
        for run in stored {
            if !self.runs.contains_key(&run.id) {
                self.add_stored(&run.id, &run.dir);
            }
        }
    }

    fn add_stored(&mut self, id: &RunId, dir: &RunDir) {
        let Ok(config) = store::read_config(dir) else {
            return; // not complete yet: its config.json will trigger another event
        };
        self.runs.insert(
            id.clone(),
            Entry {
                config: Arc::new(config),
                dir: dir.clone(),
                history: History::default(),
                summary: None,
                handle: None,
                locked: false,
            },
        );
        self.refresh(id);
    }

    /// Re-reads a run's summary and new metrics lines.
    fn refresh(&mut self, id: &RunId) {
        let Some(entry) = self.runs.get_mut(id) else {
            return;
        };
        entry.summary = store::read_summary(&entry.dir).ok().flatten();
        // An unreadable file keeps what was read; the next read starts over.
        let _ = entry.history.read_new(&entry.dir);
        // Probed only for runs another process trains (ours are known).
        entry.locked = entry.owned().is_none()
            && entry
                .summary
                .as_ref()
                .is_some_and(|s| s.status == RunStatus::Running)
            && store::is_locked(&entry.dir);
    }

    /// Every run of every spec, in spec order then grid order; runs of no
    /// current spec last. A run two specs list (the same configuration, so
    /// the same id) is trained and stored once but listed under each, named
    /// by the spec listing it: each spec's rows and table hold all its runs.
    pub fn runs(&self) -> Vec<RunView> {
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for spec in self.specs.values() {
            for id in &spec.run_ids {
                if let Some(e) = self.runs.get(id) {
                    seen.insert(id.clone());
                    let mut run = view(id, e);
                    if run.config.spec != spec.name {
                        let mut config = (*run.config).clone();
                        config.spec.clone_from(&spec.name);
                        run.config = Arc::new(config);
                    }
                    out.push(run);
                }
            }
        }
        for (id, e) in &self.runs {
            if !seen.contains(id) {
                out.push(view(id, e));
            }
        }
        out
    }

    pub fn specs(&self) -> Vec<SpecView> {
        self.specs
            .iter()
            .map(|(key, view)| SpecView {
                loading: self.waiting.get(key).map(|files| {
                    files
                        .iter()
                        .map(|f| self.hasher.progress(f))
                        .collect::<Vec<_>>()
                        .join(", ")
                }),
                ..view.clone()
            })
            .collect()
    }

    pub fn pause(&self, id: &RunId) {
        self.pool.pause(id);
    }
    pub fn resume(&self, id: &RunId) {
        self.pool.resume(id);
    }
    pub fn cancel(&self, id: &RunId) {
        self.pool.cancel(id);
    }
    pub fn rerun(&mut self, id: &RunId) {
        if let Some(entry) = self.runs.get(id)
            && entry.handle.is_none()
        {
            // A run of no current spec: adopt it so this process can train it.
            let config = (*entry.config).clone();
            if let Ok(handle) = self.pool.submit(config, false) {
                self.track(handle);
            }
        }
        self.pool.rerun(id);
    }
    /// Queues every [`RunStatus::Waiting`] run (`--no-autostart`, or dropped
    /// by its spec); runs the user paused stay paused.
    pub fn start_queued(&self) {
        self.pool.start_waiting();
    }

    pub fn run_dir(&self, id: &RunId) -> Option<RunDir> {
        self.runs.get(id).map(|e| e.dir.clone())
    }

    pub fn log_tail(&self, id: &RunId, lines: usize) -> Vec<String> {
        self.run_dir(id)
            .map(|d| store::log_tail(&d, lines))
            .unwrap_or_default()
    }

    pub fn options(&self) -> &SessionOptions {
        &self.opts
    }

    /// Running runs checkpoint and stop; they resume next time.
    pub fn shutdown(self) {
        self.pool.shutdown();
    }

    /// Stops as [`Session::shutdown`], waiting at most [`QUIT_GRACE`] for
    /// workers (see [`Pool::shutdown_within`]): for a process that quits.
    pub fn quit(self) {
        self.pool.shutdown_within(QUIT_GRACE);
    }
}

fn view(id: &RunId, e: &Entry) -> RunView {
    let summary = e.summary.as_ref();
    let owned = e.owned();
    let status = match owned {
        Some(h) => h.status(),
        None => match summary.map(|s| s.status) {
            // "running" with nobody holding the lock: its process died; it
            // resumes from its checkpoint when someone trains it again.
            Some(RunStatus::Running) if !e.locked => RunStatus::Queued,
            Some(s) => s,
            None => RunStatus::Queued,
        },
    };
    let progress = match owned {
        Some(h) if h.status() == RunStatus::Running => h.progress(),
        _ => Progress {
            iteration: summary.map_or(0, |s| s.iterations_done),
            total: summary.map_or(e.config.iterations, |s| s.iterations),
            it_per_sec: summary.and_then(|s| s.last).map_or(0.0, |m| m.it_per_sec),
            eta_seconds: 0.0,
        },
    };
    RunView {
        id: id.clone(),
        config: e.config.clone(),
        status,
        progress,
        latest: e
            .history
            .points()
            .last()
            .copied()
            .or(summary.and_then(|s| s.last)),
        history: e.history.points().clone(),
        error: owned
            .and_then(|h| h.error())
            .or_else(|| summary.and_then(|s| s.error.clone())),
        owned_here: owned.is_some(),
        dir: e.dir.clone(),
        coverage: summary.and_then(|s| s.coverage),
        dataset_stats: summary.and_then(|s| s.dataset_stats),
    }
}

/// Dataset files up to this size are hashed where the spec is read (in a
/// few milliseconds); larger ones in the background, with progress, so
/// the dashboard draws and answers keys while an 8 GB file is hashed.
pub const INLINE_HASH_BYTES: u64 = 16 << 20;

/// What identifies a file's contents without reading them: if none of
/// these changed, neither did the hash (an editor saving in place changes
/// the modification time).
type FileKey = (PathBuf, u64, u64, Option<std::time::SystemTime>);

fn file_key(path: &Path, meta: &std::fs::Metadata) -> FileKey {
    #[cfg(unix)]
    let (dev, ino) = {
        use std::os::unix::fs::MetadataExt;
        (meta.dev(), meta.ino())
    };
    #[cfg(not(unix))]
    let (dev, ino) = (0, 0);
    (
        path.to_path_buf(),
        dev ^ ino.rotate_left(32),
        meta.len(),
        meta.modified().ok(),
    )
}

#[derive(Default)]
struct HashState {
    /// Finished hashes (or why hashing failed), by file identity.
    done: BTreeMap<FileKey, std::result::Result<String, String>>,
    /// Files queued or being hashed: bytes hashed, and the length.
    running: BTreeMap<PathBuf, (u64, u64)>,
}

/// A background thread that hashes large dataset files one at a time,
/// reporting each percent to the session's channel, and remembers the
/// hashes so a spec read again costs nothing. It stops with the session.
struct Hasher {
    state: Arc<std::sync::Mutex<HashState>>,
    jobs: Sender<(PathBuf, FileKey)>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl Hasher {
    fn start(events: Sender<Event>) -> Hasher {
        let state = Arc::new(std::sync::Mutex::new(HashState::default()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (jobs, rx) = channel::<(PathBuf, FileKey)>();
        let (shared, stopped) = (state.clone(), stop.clone());
        std::thread::spawn(move || {
            let lock = || {
                shared
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
            };
            for (path, key) in rx {
                let mut percent = 0;
                let hashed = super::config::sha256_file_with(&path, |done, len| {
                    lock().running.insert(path.clone(), (done, len));
                    let now = (done * 100).checked_div(len).unwrap_or(100);
                    if now > percent {
                        percent = now;
                        let _ = events.send(Event::Hashing { done: false });
                    }
                    !stopped.load(std::sync::atomic::Ordering::Relaxed)
                });
                if stopped.load(std::sync::atomic::Ordering::Relaxed) {
                    return;
                }
                {
                    let mut state = lock();
                    state.running.remove(&path);
                    state.done.insert(key, hashed.map_err(|e| e.to_string()));
                }
                if events.send(Event::Hashing { done: true }).is_err() {
                    return;
                }
            }
        });
        Hasher { state, jobs, stop }
    }

    /// The hash of a dataset file: at once for a small file or one hashed
    /// before, else `None` while it is queued for the background thread.
    /// A file over the dataset limit is refused from its length.
    fn digest(&self, path: &Path) -> std::io::Result<Option<String>> {
        let meta = std::fs::metadata(path)?;
        if !meta.is_file() || meta.len() <= INLINE_HASH_BYTES {
            return super::config::sha256_file(path).map(Some);
        }
        crate::fsio::open_bounded(path, crate::fsio::DATASET)?;
        let key = file_key(path, &meta);
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match state.done.get(&key) {
            Some(Ok(hash)) => return Ok(Some(hash.clone())),
            Some(Err(e)) => return Err(std::io::Error::other(e.clone())),
            None => {}
        }
        if !state.running.contains_key(path) {
            state.running.insert(path.to_path_buf(), (0, meta.len()));
            let _ = self.jobs.send((path.to_path_buf(), key));
        }
        Ok(None)
    }

    /// "hashing big.csv 42%".
    fn progress(&self, path: &Path) -> String {
        let state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (done, len) = state.running.get(path).copied().unwrap_or((0, 0));
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let percent = (done * 100).checked_div(len).unwrap_or(100);
        format!("hashing {name} {percent}%")
    }
}

impl Drop for Hasher {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// The identities of the experiments and runs directories.
fn watched_identities(opts: &SessionOptions) -> [Option<(u64, u64)>; 2] {
    [&opts.experiments_dir, &opts.runs_dir].map(|d| watcher::identity(d))
}

fn start_watching(opts: &SessionOptions, tx: Sender<Event>) -> Result<DirWatcher> {
    watcher::watch(
        &[
            WatchDir {
                path: &opts.experiments_dir,
                recursive: false,
                compare_contents: true,
            },
            WatchDir {
                path: &opts.runs_dir,
                recursive: true,
                compare_contents: false,
            },
        ],
        opts.poll,
        move |paths| {
            let _ = tx.send(Event::Files(paths));
        },
    )
}

/// Moves messages of one channel into another, wrapped.
fn forward<T: Send + 'static>(rx: Receiver<T>, tx: Sender<Event>, wrap: fn(T) -> Event) {
    std::thread::spawn(move || {
        for item in rx {
            if tx.send(wrap(item)).is_err() {
                break;
            }
        }
    });
}

fn is_spec(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "toml")
}

/// The spec files of a directory, sorted.
pub fn spec_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(std::result::Result::ok)
                .map(|e| e.path())
                .filter(|p| is_spec(p) && p.is_file())
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

fn canonical(path: impl AsRef<Path>) -> PathBuf {
    let path = path.as_ref();
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}

/// Canonicalizes the parent (the file itself may be gone).
fn canonical_parent_join(path: &Path) -> PathBuf {
    match (path.parent(), path.file_name()) {
        (Some(parent), Some(name)) => canonical(parent).join(name),
        _ => path.to_path_buf(),
    }
}

/// How often runs another process trains are checked for a dead trainer.
const ORPHAN_CHECK: Duration = Duration::from_secs(1);

/// Folds several `Runs` changes into one and drops duplicates.
fn merge(changes: Vec<Change>) -> Vec<Change> {
    let mut specs = false;
    let mut runs = BTreeSet::new();
    for c in changes {
        match c {
            Change::Specs => specs = true,
            Change::Runs(ids) => runs.extend(ids),
        }
    }
    let mut out = Vec::new();
    if specs {
        out.push(Change::Specs);
    }
    if !runs.is_empty() {
        out.push(Change::Runs(runs.into_iter().collect()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A spec naming a dataset file above the inline size is read without
    /// hashing it: `open` returns with the spec waiting ("hashing big.csv
    /// N%", nothing hashed on the caller's thread), and its runs appear
    /// when the background hash is done. Issue 20: an 8 GB file blanked
    /// the dashboard for 31 s.
    #[test]
    fn a_large_dataset_is_hashed_in_the_background_with_progress() {
        let dir = tempfile::tempdir().unwrap();
        let experiments = dir.path().join("experiments");
        std::fs::create_dir(&experiments).unwrap();
        let mut csv =
            String::from("episode,step,state,action,reward,next_state,terminated,truncated\n");
        while csv.len() as u64 <= INLINE_HASH_BYTES {
            csv.push_str("0,0,0,0,1,1,true,false\n");
        }
        std::fs::write(experiments.join("big.csv"), &csv).unwrap();
        std::fs::write(
            experiments.join("big.toml"),
            "env = \"ImitationTrap-v0\"\ndataset = { file = \"big.csv\" }\n[[algo]]\nname = \"bc\"\n",
        )
        .unwrap();
        let mut session = Session::open(SessionOptions {
            experiments_dir: experiments.clone(),
            runs_dir: dir.path().join("runs"),
            jobs: 1,
            poll: true,
            autostart: false,
        })
        .unwrap();
        // Nothing reloads the spec before the session handles the hasher's
        // event, so it is waiting now whatever the hasher has done.
        let specs = session.specs();
        let loading = specs[0].loading.clone().unwrap_or_default();
        assert!(loading.starts_with("hashing big.csv "), "{loading}");
        assert!(specs[0].error.is_none() && specs[0].run_ids.is_empty());
        // Synchronised on the session's own events, not on time.
        while session.specs()[0].run_ids.is_empty() {
            session.wait(Duration::from_secs(60));
        }
        let spec = &session.specs()[0];
        assert_eq!(spec.loading, None);
        assert_eq!(spec.run_ids.len(), 1);
        let expected =
            crate::experiment::config::sha256_file(&experiments.join("big.csv")).unwrap();
        let config = &session.runs()[0].config;
        assert!(
            matches!(&config.dataset, crate::experiment::DatasetSource::File { sha256, .. } if *sha256 == expected)
        );
        session.shutdown();
    }

    /// A dataset file above the documented limit is refused from its
    /// length, naming the limit, before a byte is read.
    #[test]
    fn a_dataset_over_the_limit_is_refused_before_it_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("huge.csv");
        let file = std::fs::File::create(&big).unwrap();
        // Sparse: its length says 20 GiB, nothing is written.
        file.set_len(crate::fsio::DATASET.bytes + 1).unwrap();
        std::fs::write(
            dir.path().join("s.toml"),
            "env = \"ImitationTrap-v0\"\ndataset = { file = \"huge.csv\" }\n[[algo]]\nname = \"bc\"\n",
        )
        .unwrap();
        let e = spec::load(&dir.path().join("s.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("huge.csv") && e.contains("larger than the 16 GiB limit"),
            "{e}"
        );
        let (tx, _rx) = channel();
        let e = Hasher::start(tx).digest(&big).unwrap_err().to_string();
        assert!(e.contains("larger than the 16 GiB limit"), "{e}");
    }
}
