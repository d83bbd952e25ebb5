//! The run store: `runs/<spec>/<run-id>/`, a [`RunDir`] with `config.json`,
//! `metrics.jsonl` (append-only), `checkpoint.json` and `summary.json`
//! (atomic: temp file, rename), `policy.json`, `q.npy`, `log.txt`,
//! `landscape.json` (continuous runs only: max_a Q, the data's density and
//! the policy's visitation over pairs of observation components,
//! [`crate::eval::landscape`], rewritten with each checkpoint),
//! and `lock` (an OS file lock, released by the kernel when its process dies,
//! so a killed worker never leaves a stale lock behind).
//!
//! No write follows a link or opens a FIFO or device (see [`crate::fsio`]):
//! every file is opened through [`RunDir::file_to_write`], which refuses a
//! run or spec directory replaced by a link, and the fsio openers, which
//! refuse a link or non-regular file at the file itself, naming the path.
//!
//! Crash safety: metrics lines are appended as they are computed, and a
//! checkpoint records how many lines it covers. A resumed run truncates
//! `metrics.jsonl` back to that count (dropping a torn line, or lines the
//! crash left past the checkpoint) and recomputes the rest deterministically,
//! so no eval point is lost or duplicated.
//!
//! Power loss: a killed process loses nothing it wrote, but the kernel
//! may lose what was not synced. A sync costs a journal commit and a disk
//! flush, so only what a later reader relies on is synced, at a checkpoint
//! ([`Staged::commit`]): the metrics it counts, then the policy, Q and
//! checkpoint and their directory. A summary saying a run ended is written
//! after its last checkpoint is, so it never outlives what it vouches for.
//! The config (rewritten from the spec by [`Store::prepare`]) and the
//! summary are not synced: a power loss may leave the older one, or an
//! empty file, which every reader takes for absent; the run then resumes
//! from its checkpoint, deterministically.

use super::config::{RunConfig, RunId};
use super::dataset_cache::DatasetCache;
use super::status::RunStatus;
use crate::error::{Error, Result};
use crate::eval::landscape::Landscape;
use crate::eval::{DatasetStats, Metrics};
use crate::mdp::Policy;
use ndarray::Array2;
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

const CONFIG: &str = "config.json";
const METRICS: &str = "metrics.jsonl";
const SUMMARY: &str = "summary.json";
const CHECKPOINT: &str = "checkpoint.json";
const POLICY: &str = "policy.json";
const Q_TABLE: &str = "q.npy";
const LOG: &str = "log.txt";
const LANDSCAPE: &str = "landscape.json";
const LOCK: &str = "lock";

/// One run's directory. The functions of this module that read and write
/// a run's files take it, so nothing else names those files or mistakes
/// another directory for a run's. Shared (`Arc`): every view of a run
/// the dashboard takes holds it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct RunDir(Arc<Path>);

impl RunDir {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        RunDir(path.into().into())
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// `name` in this run's directory, for a write: refused, naming the
    /// directory, when the run's directory or its spec's is not a real
    /// directory (a link there would take the write outside the store).
    fn file_to_write(&self, name: &str) -> Result<PathBuf> {
        for dir in [Some(&*self.0), self.0.parent()]
            .into_iter()
            .flatten()
            .filter(|d| !d.as_os_str().is_empty())
        {
            crate::fsio::check_real_dir(dir)
                .map_err(io(|| format!("cannot write into {}", dir.display())))?;
        }
        Ok(self.file(name))
    }
}

impl From<PathBuf> for RunDir {
    fn from(path: PathBuf) -> Self {
        RunDir::new(path)
    }
}

/// What a run's `summary.json` says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub status: RunStatus,
    pub iterations_done: u64,
    pub iterations: u64,
    /// The last eval point.
    pub last: Option<Metrics>,
    pub error: Option<String>,
    /// Seconds since the Unix epoch.
    pub updated: f64,
    /// Seconds spent in the algorithm's steps, in evaluation, and writing
    /// the store (so the cost of bookkeeping is visible).
    #[serde(default)]
    pub train_seconds: f64,
    #[serde(default)]
    pub eval_seconds: f64,
    #[serde(default)]
    pub io_seconds: f64,
    /// Serializing and writing `metrics.jsonl` (its fsyncs count as io).
    #[serde(default)]
    pub metrics_seconds: f64,
    /// Building the environment, the data and the learner (each start).
    #[serde(default)]
    pub setup_seconds: f64,
    /// Who trains or trained it (`host:pid`).
    #[serde(default)]
    pub worker: String,
    /// Concentrability of the data for the optimal policy (docs/architecture.md,
    /// "Evaluation"); infinite (written `"inf"`) when π* leaves the data's
    /// support.
    #[serde(default, with = "crate::eval::json_float::option")]
    pub coverage: Option<f64>,
    /// What the run's dataset offers ([`DatasetStats`]): the behaviour's
    /// score, its action support, state coverage, concentrability. Absent
    /// in summaries written before it existed.
    #[serde(default)]
    pub dataset_stats: Option<DatasetStats>,
    /// The states the data never acts in, ascending: the detail's heatmap
    /// marks them, as their Q is the learner's convention for unseen
    /// states. Absent in summaries written before it existed.
    #[serde(default)]
    pub unvisited_states: Option<Vec<usize>>,
}

impl Summary {
    /// Every second the run has cost so far: setup, training, evaluation,
    /// metrics and the other files.
    pub fn total_seconds(&self) -> f64 {
        self.setup_seconds
            + self.train_seconds
            + self.eval_seconds
            + self.metrics_seconds
            + self.io_seconds
    }

    /// A run about to start.
    pub fn new(iterations: u64, worker: String) -> Self {
        Summary {
            status: RunStatus::Running,
            iterations_done: 0,
            iterations,
            last: None,
            error: None,
            updated: now(),
            train_seconds: 0.0,
            eval_seconds: 0.0,
            io_seconds: 0.0,
            metrics_seconds: 0.0,
            setup_seconds: 0.0,
            worker,
            coverage: None,
            dataset_stats: None,
            unvisited_states: None,
        }
    }
}

/// Everything needed to resume a run exactly.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Whose state this is; `None` in checkpoints written before it was
    /// recorded, which are not resumed from.
    #[serde(default)]
    pub owner: Option<CheckpointOwner>,
    pub iteration: u64,
    /// Lines of `metrics.jsonl` this checkpoint covers.
    pub metrics_lines: u64,
    pub train_seconds: f64,
    /// The other costs so far, restored on resume with `train_seconds`.
    #[serde(default)]
    pub eval_seconds: f64,
    #[serde(default)]
    pub metrics_seconds: f64,
    #[serde(default)]
    pub io_seconds: f64,
    #[serde(default)]
    pub setup_seconds: f64,
    pub algorithm: serde_json::Value,
}

/// What a checkpoint's learner state belongs to. The state is an
/// algorithm's own JSON: loaded into another run (a copied file, a
/// directory reused) or by another format, it would resume with values
/// that mean something else, silently. A mismatch trains from the start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointOwner {
    /// The run id: the hash of the run's whole config.
    pub run: String,
    pub algo: String,
    /// [`CHECKPOINT_FORMAT`] when written.
    pub format: u32,
    /// The crate version that wrote it.
    pub version: String,
}

/// The checkpoint layout's version: raised when a learner's saved state
/// changes meaning, so that older checkpoints are not resumed from.
pub const CHECKPOINT_FORMAT: u32 = 1;

impl CheckpointOwner {
    /// The owner of checkpoints `config`'s run writes now.
    pub fn of(config: &RunConfig) -> Self {
        CheckpointOwner {
            run: config.id().to_string(),
            algo: config.algo.to_string(),
            format: CHECKPOINT_FORMAT,
            version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

/// The store's root directory.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

/// One run found in the store.
#[derive(Debug, Clone)]
pub struct StoredRun {
    pub id: RunId,
    pub dir: RunDir,
}

fn io(context: impl FnOnce() -> String) -> impl FnOnce(std::io::Error) -> Error {
    move |e| Error::io(context(), e)
}

impl Store {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Store { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The store's cache of collected datasets ([`DatasetCache`]).
    pub fn dataset_cache(&self) -> DatasetCache {
        DatasetCache::of_store(&self.root)
    }

    pub fn run_dir(&self, spec: &str, id: &RunId) -> RunDir {
        RunDir::new(self.root.join(spec).join(id))
    }

    /// Creates the run's directory and writes its `config.json`, again
    /// whenever the file on disk is not the config's own bytes (missing,
    /// truncated, garbage): the run id names the config, so the spec's copy
    /// is the truth.
    pub fn prepare(&self, config: &RunConfig) -> Result<RunDir> {
        let dir = self.run_dir(&config.spec, &config.id());
        std::fs::create_dir_all(dir.path()).map_err(io(|| {
            format!("cannot create run directory {}", dir.path().display())
        }))?;
        let path = dir.file(CONFIG);
        let json = serde_json::to_vec_pretty(config).expect("configs serialize");
        // Bounded: a config is a few hundred bytes, so a longer file is
        // wrong without reading it all.
        let on_disk = crate::fsio::open_regular(&path).ok().and_then(|f| {
            let mut bytes = Vec::new();
            f.take(json.len() as u64 + 1)
                .read_to_end(&mut bytes)
                .ok()
                .map(|_| bytes)
        });
        if on_disk.as_deref() != Some(json.as_slice()) {
            if on_disk.is_some() {
                log(
                    &dir,
                    "config.json did not match the run's config: rewritten",
                )?;
            }
            replace(&dir, CONFIG, &json)?;
        }
        Ok(dir)
    }

    /// Every run directory under `spec` (or under every spec), skipping
    /// names that are not run ids.
    pub fn list(&self, spec: Option<&str>) -> Result<Vec<StoredRun>> {
        let specs: Vec<PathBuf> = match spec {
            Some(s) => vec![self.root.join(s)],
            None => match std::fs::read_dir(&self.root) {
                Ok(entries) => entries
                    .filter_map(std::result::Result::ok)
                    // `Path::is_dir` follows a symlinked `runs/<spec>`; a `DirEntry`'s type would not.
                    .filter(|e| e.path().is_dir())
                    .filter(|e| is_spec_dir_name(&e.file_name()))
                    .map(|e| e.path())
                    .collect(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
                Err(e) => return Err(Error::io(format!("cannot list {}", self.root.display()), e)),
            },
        };
        let mut runs = Vec::new();
        // Pointed at one spec's directory: its children are the runs.
        let specs = if spec.is_none() && specs.iter().any(|d| d.join(CONFIG).is_file()) {
            vec![self.root.clone()]
        } else {
            specs
        };
        for dir in specs {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.filter_map(std::result::Result::ok) {
                if let Some(id) = entry.file_name().to_str().and_then(RunId::parse) {
                    runs.push(StoredRun {
                        id,
                        dir: RunDir::new(entry.path()),
                    });
                }
            }
        }
        runs.sort_by(|a, b| a.dir.cmp(&b.dir));
        Ok(runs)
    }
}

/// Whether a directory of the store's root named `name` holds a spec's
/// runs: not the dataset cache nor the index.
pub fn is_spec_dir_name(name: &std::ffi::OsStr) -> bool {
    name != super::dataset_cache::DIR && name != super::index::DIR
}

/// Writes `bytes` to the run's file `name` so that readers see the old or
/// the new content, never a mix: a temp file in the same directory, then a
/// rename. Not synced: after a power loss the file may hold the old
/// content, the new, or nothing, which readers take for absent
/// ([`read_json`]). What must survive a power loss is [`Staged`].
fn replace(dir: &RunDir, name: &str, bytes: &[u8]) -> Result<()> {
    let temp = Temp::write(dir, name, bytes)?;
    temp.put_in_place()
}

/// A file written under a temp name beside the one it will replace
/// (created exclusively, under a name no other writer uses). Dropped
/// before it is put in place, it is deleted.
#[derive(Debug)]
struct Temp {
    file: File,
    staging: PathBuf,
    path: PathBuf,
    placed: bool,
}

impl Temp {
    /// Whatever sits at the file must be a regular file: a link there is
    /// refused, not replaced, so the user hears of it.
    fn write(dir: &RunDir, name: &str, bytes: &[u8]) -> Result<Temp> {
        static TEMP: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let path = dir.file_to_write(name)?;
        let staging = dir.file(&format!(
            "{name}.tmp-{}-{}",
            std::process::id(),
            TEMP.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        let context = |path: &Path| format!("cannot write {}", path.display());
        crate::fsio::check_writable(&path).map_err(io(|| context(&path)))?;
        let file = crate::fsio::create_new(&staging).map_err(io(|| context(&path)))?;
        let mut written = Temp {
            file,
            staging,
            path,
            placed: false,
        };
        written
            .file
            .write_all(bytes)
            .map_err(io(|| context(&written.path)))?;
        Ok(written)
    }

    /// Renames the file into place (a rename never writes through a link).
    fn put_in_place(mut self) -> Result<()> {
        std::fs::rename(&self.staging, &self.path)
            .map_err(io(|| format!("cannot write {}", self.path.display())))?;
        self.placed = true;
        Ok(())
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        if !self.placed {
            let _ = std::fs::remove_file(&self.staging);
        }
    }
}

/// A checkpoint's files, written under temp names: [`Staged::commit`]
/// syncs them, renames them into place and syncs their directory, so that
/// once it returns they are durable and a summary written after it never
/// outlives them in a power loss. Until then readers see the previous
/// checkpoint's files, and a loss leaves them (a resume starts from the
/// older checkpoint). Dropped uncommitted, the temp files are deleted.
#[must_use = "a staged checkpoint is written by its commit"]
#[derive(Debug)]
pub struct Staged {
    dir: RunDir,
    files: Vec<Temp>,
}

impl Staged {
    pub fn commit(self) -> Result<()> {
        for temp in &self.files {
            temp.file
                .sync_all()
                .map_err(io(|| format!("cannot write {}", temp.path.display())))?;
        }
        for temp in self.files {
            temp.put_in_place()?;
        }
        sync_dir(self.dir.path())
            .map_err(io(|| format!("cannot sync {}", self.dir.path().display())))
    }
}

/// Makes the entries of `dir` (renames) durable. File systems that cannot
/// sync a directory say `InvalidInput`: nothing to do.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    match File::open(dir).and_then(|d| d.sync_all()) {
        Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => Ok(()),
        other => other,
    }
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Option<T>> {
    Ok(read_json_and_bytes(path)?.map(|(value, _)| value))
}

/// [`read_json`], with the bytes read. An empty file is absent: it is what
/// a power loss leaves of a [`replace`] not yet written out.
fn read_json_and_bytes<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Option<(T, Vec<u8>)>> {
    match crate::fsio::read_bounded(path, crate::fsio::JSON) {
        Ok(bytes) if bytes.is_empty() => Ok(None),
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(|value| Some((value, bytes)))
            .map_err(|e| Error::File {
                path: path.to_path_buf(),
                message: format!("corrupt JSON: {e}"),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(format!("cannot read {}", path.display()), e)),
    }
}

pub fn read_config(dir: &RunDir) -> Result<RunConfig> {
    let path = dir.file(CONFIG);
    read_json(&path)?.ok_or_else(|| Error::File {
        path,
        message: "missing".into(),
    })
}

pub fn read_summary(dir: &RunDir) -> Result<Option<Summary>> {
    read_json(&dir.file(SUMMARY))
}

/// The run's summary and the bytes it was read from (for their checksum
/// in the index).
pub fn read_summary_bytes(dir: &RunDir) -> Result<Option<(Summary, Vec<u8>)>> {
    read_json_and_bytes(&dir.file(SUMMARY))
}

/// The summary of a run about to be trained. An unreadable one (garbage,
/// a torn write by hand) is a cache of the checkpoint and the metrics,
/// which training rebuilds: it counts as absent, and the log says so.
pub fn read_summary_to_repair(dir: &RunDir) -> Option<Summary> {
    read_summary(dir).unwrap_or_else(|e| {
        let _ = log(dir, &format!("{e}; rebuilding it from the checkpoint"));
        None
    })
}

/// The checkpoint of a run about to be trained, if it is `owner`'s. An
/// unreadable one, or one written for another run, algorithm or format,
/// cannot be resumed from: the run trains again from the start (its
/// metrics are cut back to none), and the log says why.
pub fn read_checkpoint_to_repair(dir: &RunDir, owner: &CheckpointOwner) -> Option<Checkpoint> {
    let refuse = |why: String| {
        let _ = log(dir, &format!("{why}; training again from the start"));
        None
    };
    match read_checkpoint(dir) {
        Ok(Some(checkpoint)) => match &checkpoint.owner {
            Some(written) if written == owner => Some(checkpoint),
            Some(written) => refuse(format!(
                "the checkpoint is {} run {}'s (format {}, version {}), not this {} run {}'s (format {}, version {})",
                written.algo,
                written.run,
                written.format,
                written.version,
                owner.algo,
                owner.run,
                owner.format,
                owner.version
            )),
            None => refuse("the checkpoint does not say whose it is (written before checkpoints recorded their run)".into()),
        },
        Ok(None) => None,
        Err(e) => refuse(e.to_string()),
    }
}

/// Writes the run's `summary.json`; a summary saying the run ended is also
/// appended to its spec's index ([`super::index`]). The index is derived:
/// when it cannot be written, the log says so and [`super::index::repair`]
/// adds the run later.
pub fn write_summary(dir: &RunDir, summary: &Summary) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(summary).expect("summaries serialize");
    replace(dir, SUMMARY, &bytes)?;
    if summary.status.is_final()
        && let Err(e) = super::index::record_ended(dir, summary, &bytes)
    {
        tracing::warn!("{e}");
    }
    Ok(())
}

pub fn read_checkpoint(dir: &RunDir) -> Result<Option<Checkpoint>> {
    read_json(&dir.file(CHECKPOINT))
}

/// Writes a checkpoint with the policy and Q it was taken at (and the
/// landscape of its last eval point, if new), staged: [`Staged::commit`]
/// makes them durable and puts them in place.
pub fn stage_checkpoint(
    dir: &RunDir,
    checkpoint: &Checkpoint,
    policy: &Policy,
    q: &Array2<f64>,
    landscape: Option<&Landscape>,
) -> Result<Staged> {
    let rows: Vec<Vec<f64>> = policy.outer_iter().map(|r| r.to_vec()).collect();
    let json =
        serde_json::to_vec(&serde_json::json!({ "policy": rows })).expect("policies serialize");
    let mut bytes = Vec::new();
    ndarray_npy::WriteNpyExt::write_npy(q, &mut bytes).map_err(|e| Error::File {
        path: dir.file(Q_TABLE),
        message: e.to_string(),
    })?;
    let mut files = vec![
        Temp::write(dir, POLICY, &json)?,
        Temp::write(dir, Q_TABLE, &bytes)?,
    ];
    if let Some(landscape) = landscape {
        let bytes = serde_json::to_vec(landscape).expect("landscapes serialize");
        files.push(Temp::write(dir, LANDSCAPE, &bytes)?);
    }
    // Last, so a reader that sees the new checkpoint sees its files.
    files.push(Temp::write(
        dir,
        CHECKPOINT,
        &serde_json::to_vec(checkpoint).expect("checkpoints serialize"),
    )?);
    Ok(Staged {
        dir: dir.clone(),
        files,
    })
}

/// Reads a `{"policy": [[...], ...]}` file.
pub fn read_policy(dir: &RunDir) -> Result<Policy> {
    #[derive(Deserialize)]
    struct File {
        policy: Vec<Vec<f64>>,
    }
    let path = dir.file(POLICY);
    let f: File = read_json(&path)?.ok_or_else(|| Error::File {
        path: path.clone(),
        message: "missing".into(),
    })?;
    let cols = f.policy.first().map_or(0, Vec::len);
    Array2::from_shape_vec((f.policy.len(), cols), f.policy.concat()).map_err(|e| Error::File {
        path,
        message: format!("ragged policy: {e}"),
    })
}

/// Where the run's landscape is (for an error naming a missing one).
pub fn landscape_file(dir: &RunDir) -> PathBuf {
    dir.file(LANDSCAPE)
}

/// The run's landscape; `None` when it has none (a tabular run, one
/// stored before landscapes were, or one not yet at a checkpoint). A
/// file that does not parse or fit is an error naming it.
pub fn read_landscape(dir: &RunDir) -> Result<Option<Landscape>> {
    let path = dir.file(LANDSCAPE);
    let Some(landscape) = read_json::<Landscape>(&path)? else {
        return Ok(None);
    };
    landscape
        .check()
        .map_err(|message| Error::File { path, message })?;
    Ok(Some(landscape))
}

pub fn read_q(dir: &RunDir) -> Result<Array2<f64>> {
    crate::data::npy::read_q_table(&dir.file(Q_TABLE))
}

/// The most eval points a reader keeps of one run (the dashboard's chart,
/// `plot`), besides the latest: a chart is a few hundred columns wide, and
/// a 1 GB `metrics.jsonl` (3 million points) read in full took 710 MB.
/// The full history stays on disk.
pub const MAX_POINTS: usize = 4096;

/// Thins a run's eval points while they are read, so memory is bounded
/// whatever the file's size: every point is kept until [`MAX_POINTS`] are,
/// then every other one is dropped and only every second point from then
/// on is kept, and so on (the stride doubles each time the buffer fills).
/// The points kept are evenly spaced from the first, and the latest point
/// is always kept too (it replaces the previous latest when it falls
/// between two kept points). A history of at most [`MAX_POINTS`] points is
/// kept whole, so figures of ordinary runs are exact.
#[derive(Debug, Clone, Copy, Default)]
pub struct Thinning {
    /// Points seen so far.
    seen: u64,
    /// Keep the points whose index is a multiple of `2^halvings`.
    halvings: u32,
    /// The last point kept is only there as the latest (between strides).
    latest_extra: bool,
}

impl Thinning {
    /// Adds the next point `m` of a run to `points`, the points kept so far.
    pub fn push(&mut self, points: &mut Vec<Metrics>, m: Metrics) {
        if self.latest_extra {
            points.pop();
        }
        let stride = 1u64 << self.halvings;
        self.latest_extra = !self.seen.is_multiple_of(stride);
        self.seen += 1;
        points.push(m);
        if !self.latest_extra && points.len() > MAX_POINTS {
            // Points 0, s, 2s, …, MAX_POINTS·s: every other one is a
            // multiple of 2s, the newest among them (MAX_POINTS is even).
            let mut i = 0;
            points.retain(|_| {
                i += 1;
                i % 2 == 1
            });
            self.halvings += 1;
        }
    }
}

/// A run's complete metrics lines, thinned to at most [`MAX_POINTS`] and
/// the latest ([`Thinning`]). A torn or garbled last line (a writer killed
/// mid-line) is skipped; garbage before the end is an error.
pub fn read_metrics(dir: &RunDir) -> Result<Vec<Metrics>> {
    let mut points = Vec::new();
    let mut thinning = Thinning::default();
    MetricsTail::default().read_new(dir, |m| thinning.push(&mut points, m))?;
    Ok(points)
}

/// The last eval point of a run for which `keep` holds, read without
/// keeping the others.
pub fn last_metrics_where(
    dir: &RunDir,
    keep: impl Fn(&Metrics) -> bool,
) -> Result<Option<Metrics>> {
    let mut last = None;
    MetricsTail::default().read_new(dir, |m| {
        if keep(&m) {
            last = Some(m);
        }
    })?;
    Ok(last)
}

/// Incremental reader of `metrics.jsonl`: each call hands over only the
/// lines completed since the last one (a line without its newline is left
/// for later), so watching a growing file costs only what was appended.
///
/// A resuming writer cuts the file back to its checkpoint and appends
/// again, possibly past where this reader stopped between two reads: the
/// last line read is checked to be still in place (one small read), and
/// if it is not, reading starts over.
#[derive(Debug, Clone, Default)]
pub struct MetricsTail {
    offset: u64,
    lines: u64,
    /// The last complete line read, ending at `offset`.
    last_line: Vec<u8>,
    /// The last read started over (earlier lines are void).
    restarted: bool,
    /// The last read failed: the next one starts over.
    start_over: bool,
}

impl MetricsTail {
    /// Hands each new eval point to `each`, one at a time (the caller
    /// decides what to keep: a file can hold millions). Returns how many.
    pub fn read_new(&mut self, dir: &RunDir, each: impl FnMut(Metrics)) -> Result<u64> {
        match self.open(dir)? {
            Some(reader) => self.read_lines(dir, reader, each),
            None => Ok(0),
        }
    }

    /// Opens the file where the new lines start (from the top when it
    /// was rewritten behind this reader: see [`MetricsTail::restarted`]);
    /// `None` when there is no file yet.
    fn open(&mut self, dir: &RunDir) -> Result<Option<BufReader<File>>> {
        let path = dir.file(METRICS);
        let cannot = || format!("cannot read {}", path.display());
        let mut file = match crate::fsio::open_regular(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(cannot(), e)),
        };
        let len = file.metadata().map_or(0, |m| m.len());
        self.restarted = std::mem::take(&mut self.start_over)
            || len < self.offset
            || !self.last_line_in_place(&mut file).map_err(io(cannot))?;
        if self.restarted {
            self.offset = 0;
            self.lines = 0;
            self.last_line.clear();
        }
        file.seek(SeekFrom::Start(self.offset))
            .map_err(io(cannot))?;
        Ok(Some(BufReader::new(file)))
    }

    fn read_lines(
        &mut self,
        dir: &RunDir,
        mut reader: BufReader<File>,
        mut each: impl FnMut(Metrics),
    ) -> Result<u64> {
        let path = dir.file(METRICS);
        let cannot = || format!("cannot read {}", path.display());
        let mut count = 0;
        let mut line = Vec::new();
        loop {
            line.clear();
            let n = crate::fsio::read_line_bounded(&mut reader, &mut line, crate::fsio::LINE)
                .map_err(io(cannot))?;
            if n == 0 || line.last() != Some(&b'\n') {
                break; // end, or a line still being written
            }
            match serde_json::from_slice::<Metrics>(&line) {
                Ok(m) => {
                    each(m);
                    count += 1;
                }
                Err(e) => {
                    let mut rest = Vec::new();
                    let _ = reader.take(crate::fsio::LINE.bytes).read_to_end(&mut rest);
                    if !rest.iter().all(u8::is_ascii_whitespace) {
                        // Maybe a rewrite this reader misread: start over next time.
                        self.start_over = true;
                        return Err(Error::File {
                            path,
                            message: format!("line {}: {e}", self.lines + 1),
                        });
                    }
                    break; // a garbled last line: skipped, as if torn
                }
            }
            self.offset += n as u64;
            self.lines += 1;
            std::mem::swap(&mut self.last_line, &mut line);
        }
        Ok(count)
    }

    /// Whether the file still holds the last line read where it was.
    fn last_line_in_place(&self, file: &mut File) -> std::io::Result<bool> {
        if self.last_line.is_empty() {
            return Ok(true);
        }
        let mut found = vec![0; self.last_line.len()];
        file.seek(SeekFrom::Start(self.offset - found.len() as u64))?;
        file.read_exact(&mut found)?;
        Ok(found == self.last_line)
    }

    /// Whether the last [`MetricsTail::read_new`] started over (earlier lines
    /// were cut by a resuming writer and must be dropped).
    pub fn restarted(&self) -> bool {
        self.restarted
    }
}

/// A run's eval points as a watcher keeps them: read incrementally,
/// thinned while read ([`Thinning`]), and started over when a resuming
/// writer cut the file. Shared with views without copying.
#[derive(Debug, Clone, Default)]
pub struct History {
    tail: MetricsTail,
    thinning: Thinning,
    points: std::sync::Arc<Vec<Metrics>>,
}

impl History {
    /// Reads the lines appended since the last call; returns whether the
    /// points changed.
    pub fn read_new(&mut self, dir: &RunDir) -> Result<bool> {
        let Some(reader) = self.tail.open(dir)? else {
            return Ok(false);
        };
        let restarted = self.tail.restarted();
        if restarted {
            self.points = std::sync::Arc::default();
            self.thinning = Thinning::default();
        }
        let (thinning, points) = (&mut self.thinning, &mut self.points);
        // Copied only when a view holds the points and there is something new.
        let read = self.tail.read_lines(dir, reader, |m| {
            thinning.push(std::sync::Arc::make_mut(points), m);
        })?;
        Ok(restarted || read > 0)
    }

    /// The points kept (at most [`MAX_POINTS`] and the latest).
    pub fn points(&self) -> &std::sync::Arc<Vec<Metrics>> {
        &self.points
    }
}

/// Appends eval points to `metrics.jsonl`.
#[derive(Debug)]
pub struct MetricsWriter {
    file: File,
    lines: u64,
    /// Serialized lines not yet written: appends cost a memcpy, and the
    /// file gets whole lines in one write at each flush.
    pending: Vec<u8>,
}

impl MetricsWriter {
    /// Opens the run's metrics for appending after its first `keep` lines,
    /// cutting anything beyond them (a torn line, or points a crash left
    /// past the last checkpoint).
    pub fn resume(dir: &RunDir, keep: u64) -> Result<Self> {
        let path = dir.file_to_write(METRICS)?;
        let context = || format!("cannot open {}", path.display());
        let mut file = crate::fsio::open_for_writing(
            &path,
            OpenOptions::new()
                .create(true)
                .truncate(false)
                .read(true)
                .write(true),
        )
        .map_err(io(context))?;
        let mut offset = 0u64;
        let mut lines = 0u64;
        {
            let mut reader = BufReader::new(&mut file);
            let mut line = Vec::new();
            while lines < keep {
                line.clear();
                let n = crate::fsio::read_line_bounded(&mut reader, &mut line, crate::fsio::LINE)
                    .map_err(io(context))?;
                if n == 0 || line.last() != Some(&b'\n') {
                    break;
                }
                offset += n as u64;
                lines += 1;
            }
        }
        if lines < keep {
            return Err(Error::File {
                path,
                message: format!("holds {lines} complete lines, the checkpoint expects {keep}"),
            });
        }
        file.set_len(offset).map_err(io(context))?;
        file.seek(SeekFrom::Start(offset)).map_err(io(context))?;
        Ok(MetricsWriter {
            file,
            lines,
            pending: Vec::new(),
        })
    }

    /// Queues one line; [`MetricsWriter::flush`] writes it.
    pub fn append(&mut self, m: &Metrics) {
        serde_json::to_writer(&mut self.pending, m).expect("metrics serialize");
        self.pending.push(b'\n');
        self.lines += 1;
    }

    /// Writes the queued lines (readers see whole lines, or a torn tail if
    /// the process dies mid-write, which the next writer cuts).
    pub fn flush(&mut self) -> Result<()> {
        if !self.pending.is_empty() {
            self.file
                .write_all(&self.pending)
                .map_err(|e| Error::io("cannot append to metrics.jsonl", e))?;
            self.pending.clear();
        }
        Ok(())
    }

    /// Makes the appended lines durable (before a checkpoint counts them).
    pub fn sync(&mut self) -> Result<()> {
        self.flush()?;
        self.file
            .sync_data()
            .map_err(|e| Error::io("cannot sync metrics.jsonl", e))
    }

    pub fn lines(&self) -> u64 {
        self.lines
    }
}

/// Holds a run's `lock` file locked; dropping it (or dying) releases it.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

/// Locks the run for this process, or returns `None` if another holds it.
pub fn try_lock(dir: &RunDir) -> Result<Option<RunLock>> {
    lock_file(dir, true)
}

/// [`try_lock`], creating the lock file only when `create` is set.
fn lock_file(dir: &RunDir, create: bool) -> Result<Option<RunLock>> {
    let path = dir.file_to_write(LOCK)?;
    let file = crate::fsio::open_for_writing(
        &path,
        OpenOptions::new()
            .create(create)
            .truncate(false)
            .write(true),
    )
    .map_err(io(|| format!("cannot open {}", path.display())))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(RunLock { _file: file })),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(Error::io(format!("cannot lock {}", path.display()), e))
        }
    }
}

/// Whether some process holds the run's lock right now. A probe, not a
/// writer: where there is no lock file nobody holds the lock, and none is
/// created (a dashboard that only looks leaves the store as it is).
pub fn is_locked(dir: &RunDir) -> bool {
    matches!(lock_file(dir, false), Ok(None))
}

/// Appends a line to the run's `log.txt`. Callers that log on the way to
/// another error ignore a failure; the line that starts a run does not,
/// so a log that cannot be written (a link, a FIFO) stops the run.
pub fn log(dir: &RunDir, message: &str) -> Result<()> {
    let path = dir.file_to_write(LOG)?;
    crate::fsio::open_for_writing(&path, OpenOptions::new().create(true).append(true))
        .and_then(|mut f| writeln!(f, "{} {message}", utc_timestamp(now())))
        .map_err(io(|| format!("cannot write {}", path.display())))
}

/// The last `n` lines of the run's log.
pub fn log_tail(dir: &RunDir, n: usize) -> Vec<String> {
    let bytes = crate::fsio::read_tail(&dir.file(LOG), crate::fsio::LOG_TAIL).unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(std::string::ToString::to_string)
        .collect()
}

/// `2026-11-25T01:25:14.234Z` (RFC 3339, UTC, milliseconds) for Unix time `secs`.
pub fn utc_timestamp(secs: f64) -> String {
    let millis = (secs * 1000.0).round() as i64;
    let (days, ms) = (millis.div_euclid(86_400_000), millis.rem_euclid(86_400_000));
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

/// This machine's name, for `host:pid` worker ids (bash does not export
/// `HOSTNAME`, so the environment is the last resort).
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// Seconds since the Unix epoch.
pub fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Removes a run's results (not its config), for a rerun. Its spec's index
/// hears of it first: an index that cannot say so would keep the old
/// ending as the run's, so then nothing is removed.
pub fn clear(dir: &RunDir) -> Result<()> {
    super::index::record_cleared(dir)?;
    for name in [
        METRICS, SUMMARY, CHECKPOINT, POLICY, Q_TABLE, LOG, LANDSCAPE,
    ] {
        let path = dir.file(name);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(Error::io(format!("cannot remove {}", path.display()), e));
            }
        }
    }
    Ok(())
}

/// A run read back from the store.
#[derive(Debug, Clone)]
pub struct LoadedRun {
    pub config: RunConfig,
    pub summary: Option<Summary>,
    pub dir: RunDir,
}

impl Store {
    /// Config and summary of every run, read in parallel; unreadable runs
    /// come back as errors beside the others, never instead of them.
    pub fn load_all(&self) -> Result<(Vec<LoadedRun>, Vec<Error>)> {
        use rayon::prelude::*;
        let read: Vec<Result<LoadedRun>> = self
            .list(None)?
            .into_par_iter()
            .map(|run| {
                Ok(LoadedRun {
                    config: read_config(&run.dir)?,
                    summary: read_summary(&run.dir)?,
                    dir: run.dir,
                })
            })
            .collect();
        let (ok, bad): (Vec<_>, Vec<_>) = read.into_iter().partition(Result::is_ok);
        Ok((
            ok.into_iter().filter_map(Result::ok).collect(),
            bad.into_iter().filter_map(Result::err).collect(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(iteration: u64, q_est: f64) -> Vec<u8> {
        let mut line = serde_json::to_vec(&Metrics {
            iteration,
            q_est,
            ..Default::default()
        })
        .unwrap();
        line.push(b'\n');
        line
    }

    /// A staged checkpoint is invisible until committed: readers see the
    /// previous one, and one dropped uncommitted leaves nothing behind.
    #[test]
    fn a_staged_checkpoint_is_put_in_place_by_its_commit_only() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = RunDir::new(tmp.path());
        let checkpoint = |iteration| Checkpoint {
            owner: None,
            iteration,
            metrics_lines: iteration,
            train_seconds: 0.0,
            eval_seconds: 0.0,
            metrics_seconds: 0.0,
            io_seconds: 0.0,
            setup_seconds: 0.0,
            algorithm: serde_json::Value::Null,
        };
        let stage = |iteration, value| {
            let policy = Policy::from_elem((2, 2), 0.5);
            let q = Array2::from_elem((2, 2), value);
            stage_checkpoint(&dir, &checkpoint(iteration), &policy, &q, None).unwrap()
        };
        let files = || {
            let mut names: Vec<String> = std::fs::read_dir(tmp.path())
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect();
            names.sort();
            names
        };
        stage(1, 1.0).commit().unwrap();
        let committed = files();
        assert_eq!(committed, [CHECKPOINT, POLICY, Q_TABLE]);
        let staged = stage(2, 2.0);
        assert_eq!(files().len(), 6, "{:?}", files());
        assert_eq!(read_checkpoint(&dir).unwrap().unwrap().iteration, 1);
        assert_eq!(read_q(&dir).unwrap()[[0, 0]], 1.0);
        drop(staged);
        assert_eq!(files(), committed);
        assert_eq!(read_checkpoint(&dir).unwrap().unwrap().iteration, 1);
        stage(3, 3.0).commit().unwrap();
        assert_eq!(files(), committed);
        assert_eq!(read_checkpoint(&dir).unwrap().unwrap().iteration, 3);
        assert_eq!(read_q(&dir).unwrap()[[0, 0]], 3.0);
    }

    #[test]
    fn a_summary_written_before_dataset_stats_still_loads() {
        let mut old = serde_json::to_value(Summary::new(10, "h:1".into())).unwrap();
        let fields = old.as_object_mut().unwrap();
        fields.remove("dataset_stats");
        fields.remove("coverage");
        fields.remove("unvisited_states");
        let back: Summary = serde_json::from_value(old).unwrap();
        assert_eq!(back.dataset_stats, None);
        assert_eq!(back.coverage, None);
        assert_eq!(back.unvisited_states, None);
    }

    /// A writer that resumes, cuts the file and appends past the reader's
    /// offset between two reads: the reader notices and starts over.
    #[test]
    fn a_tail_starts_over_when_the_file_was_rewritten_behind_it() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = RunDir::new(tmp.path());
        let path = dir.file(METRICS);
        std::fs::write(&path, [point(0, 1.0), point(5, 2.0)].concat()).unwrap();
        let mut history = History::default();
        history.read_new(&dir).unwrap();
        assert_eq!(history.points().len(), 2);
        // Resumed from the first line; the new lines are longer (the file
        // grows past the old offset, so its length alone says nothing).
        let rewritten = [point(0, 1.0), point(5, 2.000_001), point(10, 3.000_001)].concat();
        std::fs::write(&path, rewritten).unwrap();
        assert!(history.read_new(&dir).unwrap());
        assert!(history.tail.restarted());
        let iterations: Vec<u64> = history.points().iter().map(|m| m.iteration).collect();
        assert_eq!(iterations, [0, 5, 10]);
        // Appending as usual continues where it left off.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&point(15, 4.0)).unwrap();
        assert!(history.read_new(&dir).unwrap());
        assert!(!history.tail.restarted());
        let iterations: Vec<u64> = history.points().iter().map(|m| m.iteration).collect();
        assert_eq!(iterations, [0, 5, 10, 15]);
        assert!(!history.read_new(&dir).unwrap(), "nothing new");
    }

    #[test]
    fn log_timestamps_are_utc_rfc3339() {
        assert_eq!(utc_timestamp(0.0), "1970-01-01T00:00:00.000Z");
        assert_eq!(utc_timestamp(951_782_400.5), "2000-02-29T00:00:00.500Z");
        assert_eq!(utc_timestamp(1_795_569_914.234), "2026-11-25T01:25:14.234Z");
    }

    /// After an error (garbage mid-file), the next read starts from the top.
    #[test]
    fn a_tail_starts_over_after_a_parse_error() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = RunDir::new(tmp.path());
        let path = dir.file(METRICS);
        std::fs::write(
            &path,
            [point(0, 1.0), b"garbage\n".to_vec(), point(5, 2.0)].concat(),
        )
        .unwrap();
        let mut tail = MetricsTail::default();
        assert!(tail.read_new(&dir, |_| {}).is_err());
        std::fs::write(&path, [point(0, 1.0), point(5, 2.0)].concat()).unwrap();
        assert_eq!(tail.read_new(&dir, |_| {}).unwrap(), 2);
        assert!(tail.restarted());
    }

    /// However long the file, a reader keeps at most MAX_POINTS evenly
    /// spaced points and the latest; a file within the bound is kept whole.
    #[test]
    fn metrics_are_thinned_while_read() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = RunDir::new(tmp.path());
        let write = |n: u64| {
            let lines: Vec<u8> = (0..n).flat_map(|i| point(i, i as f64)).collect();
            std::fs::write(dir.file(METRICS), lines).unwrap();
        };
        write(MAX_POINTS as u64);
        let whole = read_metrics(&dir).unwrap();
        assert!(whole.iter().map(|m| m.iteration).eq(0..MAX_POINTS as u64));
        let n = 10 * MAX_POINTS as u64 + 3;
        write(n);
        let thinned = read_metrics(&dir).unwrap();
        assert!(thinned.len() <= MAX_POINTS + 1, "{}", thinned.len());
        assert!(thinned.len() > MAX_POINTS / 4, "{}", thinned.len());
        let iterations: Vec<u64> = thinned.iter().map(|m| m.iteration).collect();
        assert_eq!(iterations.first(), Some(&0));
        assert_eq!(iterations.last(), Some(&(n - 1)), "the latest is kept");
        // Evenly spaced: one stride between the kept points, the latest aside.
        let stride = iterations[1] - iterations[0];
        assert!(stride.is_power_of_two() && stride >= 8, "{stride}");
        let body = &iterations[..iterations.len() - 1];
        assert!(body.windows(2).all(|w| w[1] - w[0] == stride));
        // Read in pieces as a watcher reads a growing file: the same points.
        let mut history = History::default();
        std::fs::write(dir.file(METRICS), b"").unwrap();
        let mut f = OpenOptions::new()
            .append(true)
            .open(dir.file(METRICS))
            .unwrap();
        for chunk in (0..n).collect::<Vec<_>>().chunks(777) {
            for &i in chunk {
                f.write_all(&point(i, i as f64)).unwrap();
            }
            history.read_new(&dir).unwrap();
            assert!(history.points().len() <= MAX_POINTS + 1);
        }
        let watched: Vec<u64> = history.points().iter().map(|m| m.iteration).collect();
        assert_eq!(watched, iterations);
    }
}
