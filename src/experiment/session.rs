//! A live view of an experiments directory and its store, and the remote
//! control the dashboard drives: specs are loaded and watched, their runs
//! queued on this process's pool, and runs trained by any process (a
//! headless `pessimist run`, a Slurm array on a shared directory) are read
//! back from the store as their files change.

use super::config::{PlannedRun, RunConfig, RunId};
use super::index::{self, Index};
use super::pool::{Adoption, Pool, PoolEvent, RunHandle};
use super::runner::Progress;
use super::spec::{self, SpecError};
use super::status::RunStatus;
use super::store::{self, History, RunDir, Store, Summary};
use super::watcher::{self, DirWatcher, WatchDir};
use crate::error::{Error, Result};
use crate::eval::{DatasetStats, Metrics};
use itertools::Itertools;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
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
    /// Inline: a few words, its body shared with its spec's other runs.
    pub config: RunConfig,
    pub status: RunStatus,
    pub progress: Progress,
    pub latest: Option<Metrics>,
    /// The eval points read so far, at most [`store::MAX_POINTS`] and the
    /// latest (thinned evenly while read).
    pub history: Arc<Vec<Metrics>>,
    /// Boxed, as `dataset_stats`: a view of a million is a few words.
    pub error: Option<Box<str>>,
    /// Trained by this process's pool (else another process trains it).
    pub owned_here: bool,
    /// The summary's concentrability ([`Summary::coverage`]); NaN when
    /// unknown, as in the index record: not an `Option`, whose tag puts
    /// a million shared views a malloc size class up (16 MB).
    pub coverage: f64,
    /// The dataset's statistics, from the run's summary (none in summaries
    /// written before they existed, nor while the run is known from the
    /// index alone).
    pub dataset_stats: Option<Box<DatasetStats>>,
    /// The dataset's behaviour score ([`DatasetStats::score`]), which the
    /// index holds too.
    pub behavior: Option<f64>,
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
    /// The loader read a spec, or listed more of its runs.
    Loaded {
        key: PathBuf,
        generation: u64,
        part: Part,
    },
}

/// The shards [`Runs`] keeps its runs in, by their ids' leading bits.
const SHARDS: usize = 64;

/// The fewest runs a shard's `recent` holds before it is merged.
const MERGE_AFTER: usize = 16;

/// The session's runs by id, in [`SHARDS`] shards by the ids' leading
/// bits (ids are hashes: the shards are alike in size), each in two maps:
/// `bulk`, built whole (the index's runs at open: its nodes full), and
/// `recent`, the runs inserted since, merged into `bulk` once they are a
/// 16th of it (or [`MERGE_AFTER`], if more). A run inserted into a full
/// node splits it (a 544-byte node for a 48-byte entry): runs streamed
/// into `bulk` cost about 750 bytes each until it was built again (1.2 MB
/// for 1,600 runs into 100,000, that the heap kept). In a small map of
/// their own, its nodes about two-thirds full, they cost about what an
/// entry does; the merge frees the old nodes as it builds the new ones.
/// A merge builds one shard again: the dashboard's poll that makes it
/// waits 0.1 ms at 100,000 runs, where one map built again was 4.5 ms.
struct Runs<E> {
    shards: Vec<Shard<E>>,
}

struct Shard<E> {
    bulk: BTreeMap<RunId, E>,
    recent: BTreeMap<RunId, E>,
}

impl<E> Default for Runs<E> {
    fn default() -> Self {
        let shard = || Shard {
            bulk: BTreeMap::new(),
            recent: BTreeMap::new(),
        };
        Runs {
            shards: std::iter::repeat_with(shard).take(SHARDS).collect(),
        }
    }
}

/// The shard of run `id`: its leading bits (shards in order hold the
/// runs in id order).
fn shard_of(id: &RunId) -> usize {
    (id.number() >> (u64::BITS - SHARDS.ilog2())) as usize
}

impl<E> Runs<E> {
    fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.bulk.len() + s.recent.len())
            .sum()
    }

    fn get(&self, id: &RunId) -> Option<&E> {
        let shard = &self.shards[shard_of(id)];
        shard.bulk.get(id).or_else(|| shard.recent.get(id))
    }

    fn get_mut(&mut self, id: &RunId) -> Option<&mut E> {
        let shard = &mut self.shards[shard_of(id)];
        match shard.bulk.get_mut(id) {
            Some(entry) => Some(entry),
            None => shard.recent.get_mut(id),
        }
    }

    fn contains_key(&self, id: &RunId) -> bool {
        self.get(id).is_some()
    }

    /// Adds run `id`, or replaces its entry (in place: no node split).
    fn insert(&mut self, id: RunId, entry: E) {
        let shard = &mut self.shards[shard_of(&id)];
        if let Some(old) = shard.bulk.get_mut(&id) {
            *old = entry;
            return;
        }
        shard.recent.insert(id, entry);
        if shard.recent.len() > (shard.bulk.len() / 16).max(MERGE_AFTER) {
            shard.bulk.append(&mut shard.recent);
        }
    }

    /// Adds the runs of `sorted` (by id, each once), none of them here,
    /// each shard's built whole.
    fn append(&mut self, sorted: Vec<(RunId, E)>) {
        let mut runs = sorted.into_iter().peekable();
        for (k, shard) in self.shards.iter_mut().enumerate() {
            let mut built: BTreeMap<RunId, E> =
                std::iter::from_fn(|| runs.next_if(|(id, _)| shard_of(id) == k)).collect();
            shard.bulk.append(&mut built);
            shard.bulk.append(&mut shard.recent);
        }
    }

    /// The runs in id order.
    fn iter(&self) -> impl Iterator<Item = (&RunId, &E)> {
        self.shards.iter().flat_map(|shard| {
            shard
                .bulk
                .iter()
                .merge_by(&shard.recent, |(a, _), (b, _)| a < b)
        })
    }
}

impl<E> std::ops::Index<&RunId> for Runs<E> {
    type Output = E;

    fn index(&self, id: &RunId) -> &E {
        self.get(id).expect("a run the session knows")
    }
}

/// Runs the loader hands the session at a time: the dashboard takes in one
/// batch between frames, so it draws and answers keys while a spec of
/// 100,000 runs loads.
pub const LOAD_BATCH: usize = 10_000;

/// What the loader found in a spec, in the order it sends them.
enum Part {
    /// Read and checked: its runs follow in batches, as many as the grid's
    /// `points` (fewer where points resolve to one run).
    Plan {
        name: String,
        points: usize,
    },
    Runs(Vec<PlannedRun>),
    /// Every run listed.
    Done,
    Failed(SpecError),
    /// It waits for the hasher, for these dataset files.
    Hashing(Vec<PathBuf>),
}

/// A spec being loaded.
struct Load {
    generation: u64,
    /// Set when a newer save replaces this load: the loader stops listing.
    cancelled: Arc<AtomicBool>,
    /// The runs the spec listed before: those no spec lists any more are
    /// held when it is done.
    old: BTreeSet<RunId>,
    /// The spec's name before.
    name_before: Option<String>,
    /// The grid's points, once the spec is read, and the runs listed so far.
    points: Option<usize>,
    listed: usize,
}

impl Load {
    /// "loading 20000/100000 runs".
    fn progress(&self) -> String {
        match self.points {
            None => "reading".into(),
            Some(points) => format!("loading {}/{points} runs", self.listed),
        }
    }
}

/// A run's config is its view's (indexed) or its files' state's: not
/// held twice.
struct Entry {
    /// Set when this process's pool knows the run.
    handle: Option<Arc<RunHandle>>,
    /// What the store says of it: its index record, or its files.
    state: State,
}

/// A few words a run (a million runs of an index are a million entries).
enum State {
    /// Known from the store's index alone: its view, made once from the
    /// record and shared with the dashboard (no history, no directory of
    /// its own), until its files are read (the first
    /// [`Session::refresh`], when the dashboard shows it or a file of it
    /// changes). Opening a store of a million ended runs reads their
    /// index, not their two million files.
    Indexed(Indexed),
    /// Read from its files (or waiting for them: a run of this process's
    /// pool before it starts).
    Read(Box<Files>),
}

/// A run known from its index record alone ([`State::Indexed`]).
struct Indexed {
    /// Every field the record gives a view (the status, iterations done,
    /// the last point's held fields, coverage, behaviour score).
    view: Arc<RunView>,
    /// Its spec's directory in the store (one a spec): the run's is made
    /// when needed. A thin pointer: a million entries, 8 bytes each less.
    spec_dir: Arc<PathBuf>,
    /// When the record was written, which the view does not show: what
    /// tells a new record from a repeated one ([`fingerprint`]).
    updated: f64,
}

/// A run as read from its files ([`State::Read`]).
struct Files {
    config: RunConfig,
    dir: RunDir,
    /// The eval points read so far, thinned to a bounded number.
    history: History,
    /// Boxed: most of 100,000 waiting runs have none.
    summary: Option<Box<Summary>>,
    /// Whether the run's lock was held when its summary said "running".
    locked: bool,
    /// The dataset's behaviour score, from the summary.
    behavior: Option<f64>,
}

impl State {
    /// A run of `config` in `dir` whose files are to be read.
    fn unread(config: RunConfig, dir: RunDir) -> State {
        State::Read(Box::new(Files {
            config,
            dir,
            history: History::default(),
            summary: None,
            locked: false,
            behavior: None,
        }))
    }
}

/// What the store says of a run (its summary, or its index record).
#[derive(Clone, Copy)]
struct Said<'a> {
    status: RunStatus,
    iterations_done: u64,
    iterations: u64,
    updated: f64,
    last: Option<Metrics>,
    error: Option<&'a str>,
    coverage: Option<f64>,
    dataset_stats: Option<&'a DatasetStats>,
}

/// The history of every run whose files are not read: one, shared.
static NO_HISTORY: std::sync::LazyLock<Arc<Vec<Metrics>>> = std::sync::LazyLock::new(Arc::default);

impl Entry {
    fn indexed(&self) -> bool {
        matches!(self.state, State::Indexed(_))
    }

    fn config(&self) -> &RunConfig {
        match &self.state {
            State::Indexed(i) => &i.view.config,
            State::Read(f) => &f.config,
        }
    }

    /// What the store says of the run, if anything.
    fn said(&self) -> Option<Said<'_>> {
        match &self.state {
            State::Indexed(i) => Some(Said {
                status: i.view.status,
                iterations_done: i.view.progress.iteration,
                iterations: i.view.progress.total,
                updated: i.updated,
                last: i.view.latest,
                error: None,
                coverage: (!i.view.coverage.is_nan()).then_some(i.view.coverage),
                dataset_stats: None,
            }),
            State::Read(f) => f.summary.as_deref().map(|s| Said {
                status: s.status,
                iterations_done: s.iterations_done,
                iterations: s.iterations,
                updated: s.updated,
                last: s.last,
                error: s.error.as_deref(),
                coverage: s.coverage,
                dataset_stats: s.dataset_stats.as_ref(),
            }),
        }
    }

    /// The status the store says (without the rest of [`Entry::said`]).
    fn stored_status(&self) -> Option<RunStatus> {
        match &self.state {
            State::Indexed(i) => Some(i.view.status),
            State::Read(f) => f.summary.as_ref().map(|s| s.status),
        }
    }

    /// Whether this process's pool found another process training the run.
    fn held_elsewhere(&self) -> bool {
        self.handle.as_ref().is_some_and(|h| h.elsewhere())
    }

    /// Whether the run ended (its files change no more until it is rerun).
    fn ended(&self) -> bool {
        self.stored_status().is_some_and(RunStatus::is_final)
    }

    /// The run's directory (made anew for a run known from the index).
    fn dir(&self, id: &RunId) -> RunDir {
        match &self.state {
            State::Indexed(i) => RunDir::new(i.spec_dir.join(id)),
            State::Read(f) => f.dir.clone(),
        }
    }

    /// Its files' state, a run known from the index made one to be read.
    fn files(&mut self, id: &RunId) -> &mut Files {
        if let State::Indexed(i) = &self.state {
            let dir = RunDir::new(i.spec_dir.join(id));
            self.state = State::unread(i.view.config.clone(), dir);
        }
        match &mut self.state {
            State::Read(f) => f,
            State::Indexed(_) => unreachable!("made above"),
        }
    }

    fn history(&self) -> &Arc<Vec<Metrics>> {
        match &self.state {
            State::Indexed(_) => &NO_HISTORY,
            State::Read(f) => f.history.points(),
        }
    }

    /// The pool's handle while this process trains, or will train, the
    /// run: not when another process held it, nor when it only waits or
    /// is queued here and another process has finished it (`pessimist
    /// run` beside a `--no-autostart` dashboard: the store says how it
    /// ended, the idle handle knows nothing).
    fn owned(&self) -> Option<&Arc<RunHandle>> {
        // Idle here: never started by this process, so it knows nothing.
        let idle = |h: &RunHandle| matches!(h.status(), RunStatus::Waiting | RunStatus::Queued);
        let theirs = |h: &RunHandle| h.elsewhere() || (self.ended() && idle(h));
        self.handle.as_ref().filter(|h| !theirs(h))
    }
}

/// What a view of a run shows, to tell a real change from a repeated event.
fn fingerprint(e: &Entry) -> (Option<(RunStatus, u64, u64)>, usize, Option<u64>) {
    let history = e.history();
    (
        e.said()
            .map(|s| (s.status, s.iterations_done, s.updated.to_bits())),
        history.len(),
        history.last().map(|m| m.iteration),
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
    runs: Runs<Entry>,
    /// Kept alive: dropping it stops the watch.
    dir_watcher: Option<DirWatcher>,
    /// Where the watcher sends file events (a new watcher, when the
    /// watched directories are replaced, sends there too).
    files: Sender<Event>,
    /// The watched directories' identities ([`watcher::identity`]).
    watched: [Option<(u64, u64)>; 2],
    /// When to look next for runs whose other process died.
    next_orphan_check: Instant,
    /// The runs this process's pool found another process training (their
    /// lock held), as its events said: what that look probes, not a walk
    /// over every run each second (3 ms at 100,000).
    elsewhere: BTreeSet<RunId>,
    /// Hashes large dataset files off the dashboard's thread.
    hasher: Arc<Hasher>,
    /// The specs waiting for the hasher, and the files each waits for.
    waiting: BTreeMap<PathBuf, Vec<PathBuf>>,
    /// Reads specs and lists their runs off the dashboard's thread.
    loader: Loader,
    /// The specs being loaded.
    loads: BTreeMap<PathBuf, Load>,
    /// Numbers the loads, so a replaced one's late batches are known.
    generation: u64,
    /// The store is to be scanned for runs no spec lists once the specs
    /// loading now are loaded (the runs they list are known by then, and
    /// not read twice).
    scan_pending: bool,
    /// The store's index files as far as read (their templates and where
    /// the next read starts, no rows): a run another process ended comes
    /// in from the record appended to its spec's index, as at open, not
    /// from its files.
    tails: HashMap<String, Index>,
    /// Why watching failed, if it did (the session still works, without live updates).
    pub watch_error: Option<String>,
}

impl Session {
    /// Reads every spec and the store, queues what needs training, and
    /// starts watching both directories; returns when every spec is loaded.
    pub fn open(opts: SessionOptions) -> Result<Session> {
        let mut session = Session::start(opts)?;
        session.finish_loading();
        Ok(session)
    }

    /// As [`Session::open`], but returns at once: the specs load in the
    /// background, in batches of [`LOAD_BATCH`] runs that [`Session::poll`]
    /// takes in one at a time ([`SpecView::loading`] says how far each is).
    pub fn start(opts: SessionOptions) -> Result<Session> {
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
        let hasher = Arc::new(Hasher::start(tx.clone()));
        let mut session = Session {
            loader: Loader::start(hasher.clone(), tx.clone()),
            hasher,
            waiting: BTreeMap::new(),
            loads: BTreeMap::new(),
            generation: 0,
            scan_pending: true,
            watched: watched_identities(&opts),
            opts,
            pool,
            events: rx,
            specs: BTreeMap::new(),
            names: HashMap::new(),
            runs: Runs::default(),
            tails: HashMap::new(),
            dir_watcher: watcher,
            files: tx,
            next_orphan_check: Instant::now() + ORPHAN_CHECK,
            elsewhere: BTreeSet::new(),
            watch_error,
        };
        session.watch_store();
        for path in spec_files(&session.opts.experiments_dir) {
            session.load_spec(&path);
        }
        session.settle_loads();
        Ok(session)
    }

    /// Whether some spec is still being read or its runs listed.
    pub fn loading(&self) -> bool {
        !self.loads.is_empty()
    }

    /// Takes in every spec being loaded, and what happens meanwhile, up to
    /// the last load's end (what comes after it waits for the next poll).
    pub fn finish_loading(&mut self) {
        while self.loading() {
            let Ok(event) = self.events.recv() else {
                return;
            };
            self.handle(event);
        }
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
        let mut taken = 0;
        while let Ok(event) = self.events.try_recv() {
            if let Event::Loaded {
                part: Part::Runs(runs),
                ..
            } = &event
            {
                taken += runs.len();
            }
            changes.extend(self.handle(event));
            // A batch's worth of runs at a time (one large spec's batch, or
            // the runs of many small specs): the dashboard draws between.
            if taken >= LOAD_BATCH {
                break;
            }
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
                self.watch_store();
            }
            Err(e) => {
                self.dir_watcher = None;
                self.watch_error = Some(e.to_string());
            }
        }
        tracing::info!("a watched directory was replaced: watching the new one");
        let known: Vec<PathBuf> = self.specs.keys().cloned().collect();
        self.scan_pending = true;
        for path in known.iter().chain(&spec_files(&self.opts.experiments_dir)) {
            self.load_spec(path);
        }
        self.settle_loads();
        vec![Change::Specs]
    }

    /// Takes over the runs of our specs that another process was training
    /// and left unfinished (it died: the kernel released its lock, and no
    /// file event says so, hence the periodic look). Runs whose summary
    /// already says they ended are not probed again.
    fn adopt_orphans(&mut self) -> Vec<Change> {
        self.next_orphan_check = Instant::now() + ORPHAN_CHECK;
        let runs = &self.runs;
        self.elsewhere.retain(|id| {
            let e = &runs[id];
            e.held_elsewhere() && !e.ended()
        });
        let mut changed = Vec::new();
        for id in self.elsewhere.clone() {
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
                if self.runs.get(&id).is_some_and(Entry::held_elsewhere) {
                    self.elsewhere.insert(id);
                }
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
            Event::Loaded {
                key,
                generation,
                part,
            } => {
                // A load a newer save replaced: what it sends is stale.
                if self.loads.get(&key).map(|l| l.generation) != Some(generation) {
                    return Vec::new();
                }
                self.loaded(&key, part);
                vec![Change::Specs]
            }
        }
    }

    fn files_changed(&mut self, paths: &[PathBuf]) -> Vec<Change> {
        let mut changes = Vec::new();
        let mut specs_changed = false;
        let mut files = BTreeMap::new();
        let mut tails = BTreeSet::new();
        let experiments = canonical(&self.opts.experiments_dir);
        let store_root = canonical(&self.opts.runs_dir);
        for path in paths {
            let full = canonical_parent_join(path);
            // The watched directories themselves are reported when events
            // were lost ([`DirWatcher`]): everything is looked at again.
            if full == experiments {
                let known: Vec<PathBuf> = self.specs.keys().cloned().collect();
                for spec in known.iter().chain(&spec_files(&experiments)) {
                    self.load_spec(spec);
                }
                specs_changed = true;
            } else if full.parent() == Some(experiments.as_path()) && is_spec(path) {
                self.load_spec(path);
                specs_changed = true;
            } else if let Ok(rest) = full.strip_prefix(&store_root) {
                let mut parts = rest.components();
                match (parts.next(), parts.next()) {
                    (None, _) => {
                        self.watch_dir(&store_root.join(index::DIR));
                        tails.extend(index::specs(&store_root));
                        for spec in spec_dirs(&store_root) {
                            self.watch_spec_dir(&spec, &mut files);
                        }
                    }
                    // The index's directory made: its first files may be
                    // written before it is watched.
                    (Some(dir), None) if dir.as_os_str() == index::DIR => {
                        self.watch_dir(&store_root.join(index::DIR));
                        tails.extend(index::specs(&store_root));
                    }
                    (Some(spec), None) if store::is_spec_dir_name(spec.as_os_str()) => {
                        self.watch_spec_dir(&store_root.join(spec), &mut files);
                    }
                    (Some(_), None) => {}
                    (Some(spec), Some(name)) => {
                        if spec.as_os_str() == index::DIR {
                            tails.extend(index::spec_of(name.as_os_str()).map(str::to_string));
                        } else if let Some(id) = name.as_os_str().to_str().and_then(RunId::parse) {
                            files.insert(id, RunDir::new(store_root.join(spec).join(id)));
                        }
                    }
                }
            }
        }
        // The index first: the files of a run it holds as ended are not read.
        let mut moved: BTreeSet<RunId> = tails
            .iter()
            .flat_map(|spec| self.read_index_tail(spec))
            .collect();
        for (id, dir) in files {
            // Only runs whose state moved are a change: file events can
            // arrive after the pool already reported what they say.
            let changed = match self.runs.get(&id) {
                Some(e) if e.indexed() => false,
                Some(e) => {
                    let before = fingerprint(e);
                    self.refresh(&id);
                    self.runs.get(&id).map(fingerprint) != Some(before)
                }
                // New to us: a change whatever its files say.
                None => {
                    self.add_stored(&id, &dir);
                    true
                }
            };
            if changed {
                moved.insert(id);
            }
        }
        if specs_changed {
            changes.push(Change::Specs);
        }
        if !moved.is_empty() {
            changes.push(Change::Runs(moved.into_iter().collect()));
        }
        changes
    }

    /// Reads what spec `spec`'s index gained since it was last read; returns
    /// the runs that changed. A run that ended done or cancelled is taken
    /// from its record, as at open, in place of what its files said (its
    /// history is read again once it is shown): its files are not read,
    /// and ended runs cost what the index's runs do, however they arrived;
    /// its directory is no longer watched. A run cleared for a rerun, or
    /// that failed or diverged, is read from its files (and watched again
    /// if it is live: an ended run's directory is not watched). Runs this
    /// process's pool knows are left to the pool, but for a rerun.
    fn read_index_tail(&mut self, spec: &str) -> Vec<RunId> {
        let root = &self.opts.runs_dir;
        let spec_dir = Arc::new(root.join(spec));
        let tail = self.tails.entry(spec.to_string()).or_default();
        // Unreadable: its runs' own file events still bring them.
        if tail.read_new(&index::path(root, spec)).is_err() {
            return Vec::new();
        }
        let mut records = tail.take_records();
        records.sort_unstable_by_key(|(id, _)| *id);
        let mut changed = Vec::new();
        let mut from_files = Vec::new();
        let mut unwatch = Vec::new();
        for (id, row) in records {
            let entry = self.runs.get(&id);
            let row = row.filter(|r| matches!(r.status, RunStatus::Done | RunStatus::Cancelled));
            if entry.is_some_and(|e| e.handle.is_some()) {
                if row.is_none() {
                    from_files.push(id);
                }
                continue;
            }
            let ended = row.and_then(|r| Some(indexed_entry(&spec_dir, &r, tail.config(&r)?)));
            match ended {
                Some(new) => {
                    if entry.map(fingerprint) != Some(fingerprint(&new)) {
                        changed.push(id);
                    }
                    unwatch.push(new.dir(&id));
                    self.runs.insert(id, new);
                }
                None => from_files.push(id),
            }
        }
        for dir in unwatch {
            self.unwatch_dir(dir.path());
        }
        for id in from_files {
            if self.runs.contains_key(&id) {
                self.refresh(&id);
            } else {
                let dir = RunDir::new(self.opts.runs_dir.join(spec).join(id));
                self.add_stored(&id, &dir);
            }
            changed.push(id);
        }
        changed
    }

    /// (Re)loads one spec file, in the background: its new runs (and runs
    /// a spec dropped earlier) are queued as the loader lists them
    /// ([`Session::loaded`]); once all are listed, queued runs no spec lists
    /// any more are held. A spec gone is forgotten at once.
    fn load_spec(&mut self, path: &Path) {
        let key = canonical_parent_join(path);
        let mut old: BTreeSet<RunId> = self
            .specs
            .get(&key)
            .map(|s| s.run_ids.iter().copied().collect())
            .unwrap_or_default();
        let mut name_before = self.specs.get(&key).map(|v| v.name.clone());
        // A newer save replaces a load under way: what it listed counts
        // as listed before.
        if let Some(earlier) = self.loads.remove(&key) {
            earlier.cancelled.store(true, Ordering::Relaxed);
            old.extend(earlier.old);
            name_before = earlier.name_before;
        }
        if !path.exists() {
            self.waiting.remove(&key);
            self.forget_spec(&key);
            self.hold_dropped(&old);
            self.reload_refused(name_before);
            return;
        }
        self.generation += 1;
        let cancelled = Arc::new(AtomicBool::new(false));
        self.loader.load(LoadJob {
            path: path.to_path_buf(),
            key: key.clone(),
            generation: self.generation,
            cancelled: cancelled.clone(),
        });
        self.loads.insert(
            key.clone(),
            Load {
                generation: self.generation,
                cancelled,
                old,
                name_before,
                points: None,
                listed: 0,
            },
        );
        // Listed at once (its runs follow), by its file's name until read.
        if !self.specs.contains_key(&key) {
            self.put_spec(
                key.clone(),
                SpecView {
                    name: file_stem(&key),
                    path: key,
                    error: None,
                    run_ids: Vec::new(),
                    loading: None,
                },
            );
        }
    }

    /// Takes in what the loader found in the spec at `key`: its name (a
    /// name another spec holds refuses it), a batch of runs to queue, the
    /// end of the list, an error, or the dataset files it waits for.
    fn loaded(&mut self, key: &Path, part: Part) {
        match part {
            Part::Plan { name, points } => {
                self.waiting.remove(key);
                if let Some(load) = self.loads.get_mut(key) {
                    load.points = Some(points);
                }
                let error = self.owner_of(&name, key).map(|owner| SpecError {
                    path: key.to_path_buf(),
                    line: 1,
                    column: 1,
                    message: format!(
                        "the name `{name}` is taken by {}: a spec's name is its directory in \
                         the store, and two specs of one name would mix their runs and tables; \
                         rename one (its runs start when the name is free)",
                        owner.display()
                    ),
                });
                let refused = error.is_some();
                let view = SpecView {
                    name,
                    path: key.to_path_buf(),
                    error,
                    run_ids: Vec::new(),
                    loading: None,
                };
                if refused {
                    self.finish_load(key, Some(view));
                } else {
                    // Its runs follow.
                    self.put_spec(key.to_path_buf(), view);
                }
            }
            Part::Runs(batch) => {
                if let Some(load) = self.loads.get_mut(key) {
                    load.listed += batch.len();
                }
                let mut ids = Vec::with_capacity(batch.len());
                for run in batch {
                    let handle = self.pool.submit(run, self.opts.autostart);
                    if self.opts.autostart && handle.status() == RunStatus::Waiting {
                        self.pool.resume(&handle.id); // held when a spec dropped it
                    }
                    ids.push(handle.id);
                    self.track(handle);
                }
                if let Some(view) = self.specs.get_mut(key) {
                    view.run_ids.extend(ids);
                }
            }
            Part::Done => self.finish_load(key, None),
            Part::Failed(error) => {
                self.waiting.remove(key);
                // A broken save keeps the runs it had: they go on training.
                let run_ids = self
                    .specs
                    .get_mut(key)
                    .map(|v| std::mem::take(&mut v.run_ids))
                    .unwrap_or_default();
                let view = SpecView {
                    name: file_stem(key),
                    path: key.to_path_buf(),
                    // Named as the spec is known here (`…/x/../y` resolved).
                    error: Some(SpecError {
                        path: key.to_path_buf(),
                        ..error
                    }),
                    run_ids,
                    loading: None,
                };
                self.finish_load(key, Some(view));
            }
            // Read again when the hasher is done; its runs keep going.
            Part::Hashing(files) => {
                self.waiting.insert(key.to_path_buf(), files);
                if let Some(view) = self.specs.get_mut(key) {
                    view.error = None;
                }
                self.finish_load(key, None);
            }
        }
    }

    /// Ends the load of the spec at `key`, setting its view if given: runs
    /// it dropped are held, and specs refused for the name it gave up load.
    fn finish_load(&mut self, key: &Path, view: Option<SpecView>) {
        let Some(load) = self.loads.remove(key) else {
            return;
        };
        load.cancelled.store(true, Ordering::Relaxed);
        if let Some(view) = view {
            self.put_spec(key.to_path_buf(), view);
        }
        let name = self.specs.get(key).map(|v| v.name.clone());
        let renamed = load
            .name_before
            .filter(|before| Some(before) != name.as_ref());
        self.hold_dropped(&load.old);
        self.reload_refused(renamed);
        self.settle_loads();
    }

    /// Once no spec is loading, scans the store if that is due.
    fn settle_loads(&mut self) {
        if self.loads.is_empty() && std::mem::take(&mut self.scan_pending) {
            self.scan_store();
        }
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
        let id = handle.id;
        if let Some(entry) = self.runs.get_mut(&id) {
            entry.handle = Some(handle);
        } else {
            self.runs.insert(
                id,
                Entry {
                    state: State::unread((*handle.config).clone(), handle.dir.clone()),
                    handle: Some(handle),
                },
            );
        }
        self.refresh(&id);
    }

    /// Adds every run in the store that no spec of ours lists (trained by
    /// another process, or from a spec since removed): first those the
    /// index holds as done or cancelled, from their records (exact for
    /// the tables; a failed run's error and a diverged run's history are
    /// in its files), then the others from their files.
    fn scan_store(&mut self) {
        let root = &self.opts.runs_dir;
        let mut found = Vec::new();
        for spec in index::specs(root) {
            let spec_dir = Arc::new(root.join(&spec));
            let Ok(mut read) = Index::read(&index::path(root, &spec)) else {
                continue; // unreadable: its runs are read from their files
            };
            let mut rows: Vec<&index::Row> = read
                .rows()
                .filter(|row| matches!(row.status, RunStatus::Done | RunStatus::Cancelled))
                .collect();
            // Made in id order, as the map holds them: a run's entry and
            // config lie next to its neighbours', and the views, which
            // read them in that order, are not a cache miss each.
            rows.sort_unstable_by_key(|row| row.id);
            for row in rows {
                let id = row.run_id();
                if self.runs.contains_key(&id) {
                    continue;
                }
                if let Some(config) = read.config(row) {
                    found.push((id, indexed_entry(&spec_dir, row, config)));
                }
            }
            // Kept without its rows, to read what is appended next.
            read.forget_records();
            self.tails.insert(spec, read);
        }
        // Stable: of a run two specs' indexes hold, the first spec's.
        found.sort_by_key(|(id, _)| *id);
        found.dedup_by_key(|(id, _)| *id);
        // Built in one pass from the sorted runs, its nodes full: a
        // million inserts at random places took longer and left them a
        // third empty.
        self.runs.append(found);
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
        let config = match store::read_config(dir) {
            Ok(config) => config,
            // Not complete yet: watched, so that its config.json brings it
            // (read again in case it came before the watch).
            Err(_) if self.watch_dir(dir.path()) => match store::read_config(dir) {
                Ok(config) => config,
                Err(_) => return,
            },
            Err(_) => {
                // Gone (or not a run): not watched.
                if !dir.path().is_dir() {
                    self.unwatch_dir(dir.path());
                }
                return;
            }
        };
        self.runs.insert(
            *id,
            Entry {
                state: State::unread(config, dir.clone()),
                handle: None,
            },
        );
        self.refresh(id);
    }

    /// Reads the files of the runs among `ids` known from the index
    /// alone (the dashboard shows them: selected, or in the chart);
    /// returns their new views ([`Session::views`]).
    pub fn read_shown(&mut self, ids: &[RunId]) -> Vec<Arc<RunView>> {
        let indexed: Vec<RunId> = ids
            .iter()
            .filter(|id| self.runs.get(id).is_some_and(Entry::indexed))
            .copied()
            .collect();
        for id in &indexed {
            self.refresh(id);
        }
        self.views(&indexed)
    }

    /// The views of the runs among `ids` (those of [`Session::runs`], each
    /// named by its config's spec): what the dashboard takes in when the
    /// session says these runs changed, instead of every run.
    pub fn views(&self, ids: &[RunId]) -> Vec<Arc<RunView>> {
        let known = ids.iter().filter_map(|id| Some((id, self.runs.get(id)?)));
        known.map(|(id, e)| view(id, e)).collect()
    }

    /// Re-reads a run's summary and new metrics lines, and watches its
    /// directory while it is live ([`Session::sync_watch`]).
    fn refresh(&mut self, id: &RunId) {
        self.read_files(id);
        self.sync_watch(id);
    }

    /// Watches a run's directory while the run is live (not ended: queued
    /// or running, here or elsewhere, its files change) and the directory
    /// exists; stops once it ended, so the watches scale with the live
    /// runs, not the stored ones. A directory newly watched is read once
    /// more: what was written before the watch took hold brings no event.
    fn sync_watch(&mut self, id: &RunId) {
        let Some(entry) = self.runs.get(id) else {
            return;
        };
        let dir = entry.dir(id);
        let mut live = !entry.ended() && dir.path().is_dir();
        if live && self.watch_dir(dir.path()) {
            self.read_files(id);
            live = !self.runs.get(id).is_some_and(Entry::ended);
        }
        if !live {
            self.unwatch_dir(dir.path());
        }
    }

    /// How many directories are watched (natively or polled): the
    /// experiments directory, the store's root, its index and spec
    /// directories, and the live runs' directories.
    pub fn watched_dirs(&self) -> usize {
        self.dir_watcher.as_ref().map_or(0, DirWatcher::len)
    }

    /// Watches `dir` unless it is watched; returns whether it is newly
    /// watched. Past the native watch limit it is polled, and
    /// [`Session::watch_error`] says so.
    fn watch_dir(&mut self, dir: &Path) -> bool {
        let Some(watcher) = &mut self.dir_watcher else {
            return false;
        };
        if watcher.contains(dir) {
            return false;
        }
        let added = watcher.add(WatchDir {
            path: dir,
            compare_contents: false,
        });
        if let Some(why) = watcher.degraded() {
            self.watch_error = Some(why);
        }
        match added {
            Ok(()) => true,
            // Gone meanwhile, or unreadable: nothing to watch.
            Err(e) => {
                tracing::debug!("{e}");
                false
            }
        }
    }

    fn unwatch_dir(&mut self, dir: &Path) {
        if let Some(watcher) = &mut self.dir_watcher {
            watcher.remove(dir);
            if let Some(why) = watcher.degraded() {
                self.watch_error = Some(why);
            }
        }
    }

    /// Watches what a new watcher needs beside the two directories it
    /// starts with: the store's index and spec directories (new run
    /// directories and index files appear there) and the live runs'
    /// directories.
    fn watch_store(&mut self) {
        let root = self.opts.runs_dir.clone();
        if root.join(index::DIR).is_dir() {
            self.watch_dir(&root.join(index::DIR));
        }
        for spec in spec_dirs(&root) {
            self.watch_dir(&spec);
        }
        let live: Vec<RunId> = self
            .runs
            .iter()
            .filter(|(_, e)| !e.ended())
            .map(|(id, _)| *id)
            .collect();
        for id in live {
            self.sync_watch(&id);
        }
    }

    /// Watches a spec's directory in the store, then lists it, so a run
    /// directory made before the watch is found: the runs new to us and
    /// the live ones (events may have been lost) go to `files`.
    fn watch_spec_dir(&mut self, dir: &Path, files: &mut BTreeMap<RunId, RunDir>) {
        // Not a file of the root (the dashboard's log is written there).
        if !dir.is_dir() {
            return;
        }
        self.watch_dir(dir);
        let Some(spec) = dir.file_name().and_then(|n| n.to_str()) else {
            return;
        };
        let runs = Store::new(&self.opts.runs_dir)
            .list(Some(spec))
            .unwrap_or_default();
        for run in runs {
            if !self.runs.get(&run.id).is_some_and(Entry::ended) {
                files.insert(run.id, run.dir);
            }
        }
    }

    /// Reads a run's summary and new metrics lines.
    fn read_files(&mut self, id: &RunId) {
        let Some(entry) = self.runs.get_mut(id) else {
            return;
        };
        let files = entry.files(id);
        files.summary = store::read_summary(&files.dir).ok().flatten().map(Box::new);
        files.behavior = files
            .summary
            .as_ref()
            .and_then(|s| s.dataset_stats.as_ref())
            .and_then(crate::eval::DatasetStats::score);
        // An unreadable file keeps what was read; the next read starts over.
        let _ = files.history.read_new(&files.dir);
        let dir = files.dir.clone();
        // Probed only for runs another process trains (ours are known).
        let locked = entry.owned().is_none()
            && entry.stored_status() == Some(RunStatus::Running)
            && store::is_locked(&dir);
        entry.files(id).locked = locked;
    }

    /// Every run of every spec, in spec order then grid order; runs of no
    /// current spec last. A run two specs list (the same configuration, so
    /// the same id) is trained and stored once but listed under each, named
    /// by the spec listing it: each spec's rows and table hold all its runs.
    /// A run known from the index is its own view, shared, not a copy.
    pub fn runs(&self) -> Vec<Arc<RunView>> {
        // Only the runs specs list: the others are each listed once, below.
        let listed = self.specs.values().map(|s| s.run_ids.len()).sum();
        let mut seen = std::collections::HashSet::with_capacity(listed);
        let mut out = Vec::with_capacity(self.runs.len());
        for spec in self.specs.values() {
            for id in &spec.run_ids {
                if let Some(e) = self.runs.get(id) {
                    seen.insert(id);
                    let run = view(id, e);
                    if *run.config.spec == *spec.name {
                        out.push(run);
                    } else {
                        let mut run = (*run).clone();
                        run.config.spec = spec.name.as_str().into();
                        out.push(Arc::new(run));
                    }
                }
            }
        }
        for (id, e) in self.runs.iter() {
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
                loading: self
                    .waiting
                    .get(key)
                    .map(|files| {
                        files
                            .iter()
                            .map(|f| self.hasher.progress(f))
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .or_else(|| self.loads.get(key).map(Load::progress)),
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
            let run = PlannedRun {
                id: *id,
                config: Arc::new(entry.config().clone()),
            };
            let handle = self.pool.submit(run, false);
            self.track(handle);
        }
        self.pool.rerun(id);
    }
    /// Queues every [`RunStatus::Waiting`] run (`--no-autostart`, or dropped
    /// by its spec); runs the user paused stay paused.
    pub fn start_queued(&self) {
        self.pool.start_waiting();
    }

    pub fn run_dir(&self, id: &RunId) -> Option<RunDir> {
        self.runs.get(id).map(|e| e.dir(id))
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
    /// A spec still loading is left: what it listed is queued in no file,
    /// and it loads again next time.
    pub fn quit(self) {
        for (key, load) in &self.loads {
            tracing::info!("quitting while {}: {}", key.display(), load.progress());
        }
        self.pool.shutdown_within(QUIT_GRACE);
    }
}

/// A run known from its index record alone ([`State::Indexed`]), in the
/// spec directory `spec_dir`: its view made here, once.
fn indexed_entry(spec_dir: &Arc<PathBuf>, row: &index::Row, config: RunConfig) -> Entry {
    let said = Said {
        status: row.status,
        iterations_done: row.iterations_done,
        iterations: config.iterations,
        updated: row.updated,
        last: row.last,
        error: None,
        coverage: (!row.coverage.is_nan()).then_some(row.coverage),
        dataset_stats: None,
    };
    let behavior = (!row.behavior.is_nan()).then_some(row.behavior);
    let view = stored_view(
        row.run_id(),
        config,
        Some(said),
        &NO_HISTORY,
        behavior,
        false,
    );
    Entry {
        handle: None,
        state: State::Indexed(Indexed {
            view: Arc::new(view),
            spec_dir: spec_dir.clone(),
            updated: row.updated,
        }),
    }
}

/// Run `id`'s view: an indexed run's own (shared, not copied) unless
/// this process trains it.
fn view(id: &RunId, e: &Entry) -> Arc<RunView> {
    let owned = e.owned();
    let stored = match (&e.state, owned) {
        (State::Indexed(i), None) => return i.view.clone(),
        (State::Indexed(i), Some(_)) => (*i.view).clone(),
        (State::Read(f), _) => stored_view(
            *id,
            f.config.clone(),
            e.said(),
            f.history.points(),
            f.behavior,
            f.locked,
        ),
    };
    Arc::new(match owned {
        Some(h) => trained_view(stored, h),
        None => stored,
    })
}

/// A run's view as the store says it is (`said`; `locked`: its lock is
/// held), before this process's pool has its say ([`trained_view`]).
fn stored_view(
    id: RunId,
    config: RunConfig,
    said: Option<Said>,
    history: &Arc<Vec<Metrics>>,
    behavior: Option<f64>,
    locked: bool,
) -> RunView {
    let status = match said.map(|s| s.status) {
        // "running" with nobody holding the lock: its process died; it
        // resumes from its checkpoint when someone trains it again.
        Some(RunStatus::Running) if !locked => RunStatus::Queued,
        Some(s) => s,
        None => RunStatus::Queued,
    };
    let total = said.map_or(config.iterations, |s| s.iterations);
    RunView {
        id,
        config,
        status,
        progress: Progress {
            iteration: said.map_or(0, |s| s.iterations_done),
            total,
            it_per_sec: said.and_then(|s| s.last).map_or(0.0, |m| m.it_per_sec),
            eta_seconds: 0.0,
        },
        latest: history.last().copied().or(said.and_then(|s| s.last)),
        history: history.clone(),
        error: said.and_then(|s| s.error).map(Box::from),
        owned_here: false,
        coverage: said.and_then(|s| s.coverage).unwrap_or(f64::NAN),
        dataset_stats: said.and_then(|s| s.dataset_stats).map(|d| Box::new(*d)),
        behavior,
    }
}

/// `stored`, as this process's pool, which trains the run, has it.
fn trained_view(stored: RunView, h: &RunHandle) -> RunView {
    let status = h.status();
    RunView {
        status,
        progress: if status == RunStatus::Running {
            h.progress()
        } else {
            stored.progress
        },
        error: h.error().map(String::into_boxed_str).or(stored.error),
        owned_here: true,
        ..stored
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
    let (dev, ino) = crate::fsio::device_and_inode(meta);
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

/// What the loader is asked to load.
struct LoadJob {
    /// The spec file as found, and as the session knows it.
    path: PathBuf,
    key: PathBuf,
    generation: u64,
    cancelled: Arc<AtomicBool>,
}

/// A thread that reads specs and lists their runs, one spec at a time in
/// the order asked, sending what it finds to the session's channel in
/// batches ([`Part`]). It stops with the session.
struct Loader {
    jobs: Sender<LoadJob>,
    stop: Arc<AtomicBool>,
}

impl Loader {
    fn start(hasher: Arc<Hasher>, events: Sender<Event>) -> Loader {
        let (jobs, rx) = channel::<LoadJob>();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        std::thread::spawn(move || {
            for job in rx {
                let cancelled =
                    || job.cancelled.load(Ordering::Relaxed) || stopped.load(Ordering::Relaxed);
                if !load(&job, &hasher, &events, &cancelled) {
                    return;
                }
            }
        });
        Loader { jobs, stop }
    }

    fn load(&self, job: LoadJob) {
        // The thread ends only with the session.
        let _ = self.jobs.send(job);
    }
}

impl Drop for Loader {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Reads one spec and sends the session what it finds: its plan, then its
/// runs in batches of [`LOAD_BATCH`] (each hashed once, here), until they
/// are all listed or the load is `cancelled`. Returns `false` once the
/// session is gone.
fn load(
    job: &LoadJob,
    hasher: &Hasher,
    events: &Sender<Event>,
    cancelled: &dyn Fn() -> bool,
) -> bool {
    let send = |part| {
        events
            .send(Event::Loaded {
                key: job.key.clone(),
                generation: job.generation,
                part,
            })
            .is_ok()
    };
    let pending = std::cell::RefCell::new(Vec::new());
    let plan = spec::plan_with(&job.path, &|file| {
        let digest = hasher.digest(file)?;
        if digest.is_none() {
            pending.borrow_mut().push(file.to_path_buf());
        }
        Ok(digest)
    });
    let pending = pending.into_inner();
    let plan = match plan {
        _ if !pending.is_empty() => return send(Part::Hashing(pending)),
        Err(e) => return send(Part::Failed(e)),
        Ok(plan) => plan,
    };
    if !send(Part::Plan {
        name: plan.name.clone(),
        points: plan.points(),
    }) {
        return false;
    }
    let mut runs = plan.runs().peekable();
    while !cancelled() {
        let batch: Vec<PlannedRun> = runs.by_ref().take(LOAD_BATCH).collect();
        if !send(Part::Runs(batch)) {
            return false;
        }
        if runs.peek().is_none() {
            return send(Part::Done);
        }
        hold_loading(cancelled);
    }
    true
}

/// Tests only: while the file [`super::runner::test_hold`] names exists, a spec
/// with runs left to list waits after each batch (as a run waits after its
/// first step), so a test catches the dashboard loading by construction
/// instead of by a wall-clock margin.
fn hold_loading(cancelled: &dyn Fn() -> bool) {
    let Some(gate) = super::runner::test_hold() else {
        return;
    };
    while gate.exists() && !cancelled() {
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A spec file's name without `.toml`: its name until it is read.
fn file_stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The identities of the experiments and runs directories.
fn watched_identities(opts: &SessionOptions) -> [Option<(u64, u64)>; 2] {
    [&opts.experiments_dir, &opts.runs_dir].map(|d| watcher::identity(d))
}

/// A watcher of the experiments directory and the store's root; the
/// session adds the rest ([`Session::watch_store`]).
fn start_watching(opts: &SessionOptions, tx: Sender<Event>) -> Result<DirWatcher> {
    let mut watcher = DirWatcher::new(opts.poll, move |paths| {
        let _ = tx.send(Event::Files(paths));
    })?;
    watcher.add(WatchDir {
        path: &opts.experiments_dir,
        compare_contents: true,
    })?;
    watcher.add(WatchDir {
        path: &opts.runs_dir,
        compare_contents: false,
    })?;
    Ok(watcher)
}

/// The spec directories of the store at `root`.
fn spec_dirs(root: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(root)
        .map(|entries| {
            entries
                .filter_map(std::result::Result::ok)
                .filter(|e| store::is_spec_dir_name(&e.file_name()))
                .map(|e| e.path())
                // Followed, as `Store::list` does: a symlinked spec directory.
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default()
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
    use proptest::prelude::*;

    proptest! {
        /// Runs appended in bulk, then inserted, replaced and changed in
        /// place, read as one map of them does, across merges (ids spread
        /// over every shard; 2,500 inserts put over [`MERGE_AFTER`] new
        /// runs in shards in most cases).
        #[test]
        fn runs_in_two_maps_read_as_one(
            bulk in proptest::collection::btree_map(0u64..4000, 0u32..9, 0..1500),
            inserts in proptest::collection::vec((0u64..4000, 0u32..9), 0..2500),
        ) {
            // The low bits lead: a shard each.
            let id = |k: u64| RunId::from_bytes(k.rotate_right(6).to_be_bytes());
            let mut runs = Runs::default();
            let one: BTreeMap<RunId, u32> = bulk.iter().map(|(&k, &v)| (id(k), v)).collect();
            runs.append(one.clone().into_iter().collect());
            let mut one = one;
            for (k, v) in inserts {
                if v == 0 && let Some(e) = runs.get_mut(&id(k)) {
                    *e += 10;
                    *one.get_mut(&id(k)).expect("in both") += 10;
                } else {
                    runs.insert(id(k), v);
                    one.insert(id(k), v);
                }
            }
            prop_assert_eq!(runs.len(), one.len());
            prop_assert!(runs.iter().eq(one.iter()));
            for k in 0..4000 {
                prop_assert_eq!(runs.get(&id(k)), one.get(&id(k)));
                prop_assert_eq!(runs.contains_key(&id(k)), one.contains_key(&id(k)));
            }
        }
    }

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
        while session.specs()[0].run_ids.is_empty() || session.loading() {
            session.wait(Duration::from_secs(60));
        }
        let spec = &session.specs()[0];
        assert_eq!(spec.loading, None);
        assert_eq!(spec.run_ids.len(), 1);
        let expected =
            crate::experiment::config::sha256_file(&experiments.join("big.csv")).unwrap();
        let config = &session.runs()[0].config;
        assert!(
            matches!(&config.dataset, crate::experiment::DatasetSource::File { sha256, .. } if **sha256 == *expected)
        );
        session.shutdown();
    }

    /// A spec of more runs than a batch loads in the background: `start`
    /// returns before any run is listed, the spec says how far it is, the
    /// runs arrive in batches, and in the end they are the eager
    /// expansion's, in its order. Issue 20: one spec of 100,000 runs kept
    /// the dashboard from its first frame for 7.5 s of CPU.
    #[test]
    fn a_large_spec_loads_in_batches_and_lists_the_eager_expansions_runs() {
        let dir = tempfile::tempdir().unwrap();
        let experiments = dir.path().join("experiments");
        std::fs::create_dir(&experiments).unwrap();
        let seeds: Vec<String> = (0..2 * LOAD_BATCH + 500).map(|s| s.to_string()).collect();
        let path = experiments.join("big.toml");
        std::fs::write(
            &path,
            format!(
                "env = \"ImitationTrap-v0\"\nseeds = [{}]\ndataset = {{ policy = \"behavior\", size = 100 }}\n[[algo]]\nname = \"bc\"\n",
                seeds.join(", ")
            ),
        )
        .unwrap();
        let eager: Vec<RunId> = spec::load(&path)
            .unwrap()
            .runs
            .iter()
            .map(RunConfig::id)
            .collect();
        assert_eq!(eager.len(), 2 * LOAD_BATCH + 500);
        let mut session = Session::start(SessionOptions {
            experiments_dir: experiments,
            runs_dir: dir.path().join("runs"),
            jobs: 1,
            poll: true,
            autostart: false,
        })
        .unwrap();
        // Nothing is taken in before the session handles the loader's events.
        let view = &session.specs()[0];
        assert_eq!(view.name, "big");
        assert_eq!(view.loading.as_deref(), Some("reading"));
        assert!(view.run_ids.is_empty() && session.loading());
        // Synchronised on the session's own events: a call takes in at
        // most two batches, so some state between is seen.
        let mut seen = Vec::new();
        while session.loading() {
            session.wait(Duration::from_secs(60));
            let view = &session.specs()[0];
            seen.push((view.run_ids.len(), view.loading.clone()));
        }
        let total = eager.len();
        assert!(
            seen.iter().any(|(n, loading)| *n > 0
                && *n < total
                && *loading == Some(format!("loading {n}/{total} runs"))),
            "{seen:?}"
        );
        let view = &session.specs()[0];
        assert_eq!(view.loading, None);
        assert_eq!(view.run_ids, eager);
        let runs = session.runs();
        assert_eq!(runs.len(), total);
        assert!(runs.iter().all(|r| r.status == RunStatus::Waiting));
        session.shutdown();
    }

    /// A session watching (natively) an empty store under `dir`, and the
    /// store's path.
    fn watching_an_empty_store(dir: &Path) -> (Session, PathBuf) {
        let runs_dir = dir.join("runs");
        let session = Session::open(SessionOptions {
            experiments_dir: dir.join("experiments"),
            runs_dir: runs_dir.clone(),
            jobs: 1,
            poll: false,
            autostart: false,
        })
        .unwrap();
        (session, runs_dir)
    }

    /// A run another process ends comes in from its spec's index record,
    /// as at open (its history is read once it is shown); trained again
    /// elsewhere (its record cleared), it is read from its files, and its
    /// next ending comes from the index again. Synchronised on the
    /// session's own events, not on time.
    #[test]
    fn a_run_ended_elsewhere_comes_in_from_the_index() {
        let dir = tempfile::tempdir().unwrap();
        let (mut session, runs_dir) = watching_an_empty_store(dir.path());
        let config = RunConfig::example("FrozenLake-v1", "fqi", 100, 7)
            .with(|c| c.spec = "elsewhere".into());
        let id = config.id();
        let run = Store::new(&runs_dir).prepare(&config).unwrap();
        let end = |status: RunStatus| {
            let point = Metrics {
                iteration: 100,
                normalized_score: 42.0,
                ..Metrics::default()
            };
            let mut metrics = store::MetricsWriter::resume(&run, 0).unwrap();
            metrics.append(&point);
            metrics.flush().unwrap();
            let mut summary = Summary::new(100, "elsewhere:1".into());
            summary.status = status;
            summary.iterations_done = 100;
            summary.last = Some(point);
            store::write_summary(&run, &summary).unwrap();
        };
        let until = |session: &mut Session, done: &dyn Fn(&RunView) -> bool| {
            while !session.runs().iter().any(|r| r.id == id && done(r)) {
                session.wait(Duration::from_secs(60));
            }
        };
        end(RunStatus::Done);
        let indexed = |r: &RunView| r.status == RunStatus::Done && r.history.is_empty();
        until(&mut session, &indexed);

        // Trained again elsewhere: cleared, then running under its lock.
        store::clear(&run).unwrap();
        let lock = store::try_lock(&run).unwrap().unwrap();
        let mut summary = Summary::new(100, "elsewhere:2".into());
        summary.status = RunStatus::Running;
        store::write_summary(&run, &summary).unwrap();
        until(&mut session, &|r| r.status == RunStatus::Running);
        end(RunStatus::Done);
        drop(lock);
        until(&mut session, &indexed);
        let shown = session.read_shown(&[id]);
        assert_eq!(shown[0].history.len(), 1, "its files read once shown");
        session.shutdown();
    }

    /// A run directory that appears with its files already in it (moved
    /// in whole, or written before the watch on it took hold) is read at
    /// once, in a new spec directory and in a watched one; it is watched
    /// while it runs and no longer once it ended. Synchronised on the
    /// session's own events, not on time.
    #[test]
    fn a_run_directory_that_appears_with_its_files_is_read_and_watched_while_live() {
        let dir = tempfile::tempdir().unwrap();
        let (mut session, runs_dir) = watching_an_empty_store(dir.path());
        let staging = dir.path().join("staging");
        // The experiments directory and the store's root.
        assert_eq!(session.watched_dirs(), 2);
        // Run `seed` of spec `moved`, running elsewhere (its lock held),
        // two eval points written, all in the staging directory.
        let running = |seed: u64| {
            let config = RunConfig::example("FrozenLake-v1", "fqi", 100, seed)
                .with(|c| c.spec = "moved".into());
            let run = Store::new(&staging).prepare(&config).unwrap();
            let lock = store::try_lock(&run).unwrap().unwrap();
            let mut metrics = store::MetricsWriter::resume(&run, 0).unwrap();
            for iteration in [0, 10] {
                metrics.append(&Metrics {
                    iteration,
                    ..Metrics::default()
                });
            }
            metrics.flush().unwrap();
            let mut summary = Summary::new(100, "elsewhere:1".into());
            summary.status = RunStatus::Running;
            store::write_summary(&run, &summary).unwrap();
            (config.id(), lock, summary)
        };
        let shown_running = |session: &mut Session, id: RunId| {
            while !session
                .runs()
                .iter()
                .any(|r| r.id == id && r.status == RunStatus::Running && r.history.len() == 2)
            {
                session.wait(Duration::from_secs(60));
            }
        };
        // A file of the store's root (the dashboard's log) is no spec.
        std::fs::write(runs_dir.join("pessimist.log"), "started\n").unwrap();
        // A spec directory moved in whole, its run in it.
        let (first, first_lock, first_summary) = running(1);
        std::fs::rename(staging.join("moved"), runs_dir.join("moved")).unwrap();
        shown_running(&mut session, first);
        // Then a run directory moved into the now watched spec directory.
        let (second, second_lock, second_summary) = running(2);
        std::fs::rename(
            staging.join("moved").join(second),
            runs_dir.join("moved").join(second),
        )
        .unwrap();
        shown_running(&mut session, second);
        // The spec directory and the two live runs' directories (not the log).
        assert_eq!(session.watched_dirs(), 5);
        // Both end: their directories are no longer watched (the index's
        // directory, made by their records, is).
        for (id, summary, lock) in [
            (first, first_summary, first_lock),
            (second, second_summary, second_lock),
        ] {
            let summary = Summary {
                status: RunStatus::Done,
                ..summary
            };
            store::write_summary(&RunDir::new(runs_dir.join("moved").join(id)), &summary).unwrap();
            drop(lock);
        }
        while !session.runs().iter().all(|r| r.status == RunStatus::Done)
            || session.watched_dirs() != 4
        {
            session.wait(Duration::from_secs(60));
        }
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
