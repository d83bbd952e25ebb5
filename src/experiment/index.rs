//! The store's index of ended runs: `runs/.index/<spec>.v3`, one compact
//! binary record per ended run, so that a reader learns what a spec's
//! runs are and how they ended from one sequential read of 186 bytes a
//! run, instead of opening `config.json` and `summary.json` of each.
//!
//! The index is an addition to the store's documented files, never a
//! replacement: everything in it is derived from the run files, it may be
//! deleted at any time, and [`repair`] rebuilds it from them.
//!
//! **Records.** Each is a frame: magic `PXi3`, payload length (u32),
//! kind (u8), CRC-32 of length, kind and payload (u32), payload; numbers
//! little-endian. Two kinds:
//! - a *template*: a run's config with its seeds zeroed, as JSON, keyed by
//!   the first 8 bytes of its SHA-256. The grid points of a spec are few
//!   (its seeds make the runs many), so templates are a small per-spec
//!   dictionary. A writer appends a template before the first record that
//!   uses it (once per process and index file); duplicates are harmless;
//! - a *run*: id, template key, run and dataset seeds, status (or
//!   *cleared*, for a rerun), iterations done, the last eval point's
//!   numbers that the runs and score tables show (with the Monte-Carlo
//!   standard errors of continuous runs), coverage, the dataset's
//!   behaviour score, training seconds, when it was written, and the CRC-32 of the `summary.json`
//!   bytes it was made from (so a reader can tell a summary changed since).
//!   A fixed [`RUN_FRAME`] bytes; the latest record of a run wins.
//!
//! **Writers.** [`super::store::write_summary`] appends a run record when
//! a summary says the run ended, [`super::store::clear`] a *cleared* one,
//! each frame as one `write(2)` on an `O_APPEND` descriptor: processes on
//! one machine (a dashboard's pool, `pessimist run`, Slurm tasks on a
//! node) append concurrently without a lock, as the kernel appends each
//! write whole. No file is rewritten in place, so kill -9 can at worst
//! leave a torn last frame.
//!
//! **Readers** skip what fails its checksum: a frame torn by a crash or a
//! full disk, or mangled by NFS clients appending at once (NFS does not
//! make `O_APPEND` atomic across machines), is skipped by scanning on to
//! the next magic whose frame checks, so the records after it read whole.
//! An incomplete frame at the end may still be being written: an
//! incremental reader ([`Index::read_new`]) stops before it and reads it
//! whole next time.
//!
//! **Repair.** [`repair`] lists a spec's run directories (names only: one
//! `readdir`) and reads the files of those the index does not hold, as
//! ended, appending the records of those that ended. What it cannot see
//! cheaply — a run directory deleted by hand, a `summary.json` edited by
//! hand — a reader that must be exact checks against the run files (the
//! record's summary checksum says whether the summary is the one indexed).
//!
//! An embedded database (SQLite, redb, sled) was the alternative: each
//! needs working byte-range locks or mmap coherence, which NFS and Lustre
//! provide poorly or not at all, a crashed writer can leave it needing
//! recovery, and it is not rebuilt by deleting a file. A log of checked
//! fixed-size frames needs only `O_APPEND`, and one process's damage
//! costs at most its own torn frame.

use super::config::{DatasetSource, RunConfig, RunId};
use super::status::RunStatus;
use super::store::{self, RunDir, Store, Summary};
use crate::error::{Error, Result};
use crate::eval::{DatasetStats, Metrics};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The index's directory in the store (not a spec: [`Store::list`] skips it).
pub const DIR: &str = ".index";
/// The file name's suffix: the format's version.
/// Files of other versions are ignored (`pessimist run` writes this
/// one afresh: [`repair`]).
const SUFFIX: &str = "v3";
const MAGIC: [u8; 4] = *b"PXi3";
/// Magic, length, kind, checksum.
const HEADER: usize = 4 + 4 + 1 + 4;
const TEMPLATE: u8 = 1;
const RUN: u8 = 2;
/// A run record's payload, in bytes (see [`Row::encode`]): id, template,
/// seeds, status, iterations done, the last eval point's iteration and
/// held fields, coverage, behaviour score, seconds, time, checksum.
const RUN_PAYLOAD: usize = 8 + 8 + 8 + 8 + 1 + 8 + 8 + 8 * (HELD - 1) + 8 * 4 + 4;
/// A run record's frame, in bytes.
pub const RUN_FRAME: usize = HEADER + RUN_PAYLOAD;
/// Templates are configs: a frame claiming more is garbage.
const MAX_PAYLOAD: usize = 1 << 20;
/// The status byte of a run cleared for a rerun.
const CLEARED: u8 = 0;

/// The index file of spec `spec` in the store at `root`.
pub fn path(root: &Path, spec: &str) -> PathBuf {
    root.join(DIR).join(format!("{spec}.{SUFFIX}"))
}

/// The specs of the store at `root` that have an index file of this
/// version (none when the index's directory is missing).
pub fn specs(root: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(root.join(DIR)) else {
        return Vec::new();
    };
    let mut specs: Vec<String> = entries
        .filter_map(std::result::Result::ok)
        .filter_map(|e| Some(spec_of(&e.file_name())?.to_string()))
        .collect();
    specs.sort();
    specs
}

/// The spec whose index file (of this version) is named `file_name`.
pub fn spec_of(file_name: &std::ffi::OsStr) -> Option<&str> {
    file_name.to_str()?.strip_suffix(SUFFIX)?.strip_suffix('.')
}

/// The index file of the spec a run's directory is in.
fn path_of(dir: &RunDir) -> Option<PathBuf> {
    let spec_dir = dir.path().parent()?;
    let spec = spec_dir.file_name()?.to_str()?;
    Some(path(spec_dir.parent()?, spec))
}

/// The fields of the last eval point that a record holds: what the runs
/// and score tables show (J, R and the score with their Monte-Carlo
/// standard errors, q_est, the gap and the covered gap's parts). The
/// other fields of a [`Metrics`] read from a record are NaN.
pub const HELD: usize = 12;

/// The held fields of `m` after its iteration, in the record's order.
pub fn held(m: &Metrics) -> [f64; HELD - 1] {
    [
        m.q_est,
        m.true_return,
        m.true_return_se,
        m.gap,
        m.start_coverage,
        m.q_est_covered,
        m.true_return_covered,
        m.episode_return,
        m.episode_return_se,
        m.normalized_score,
        m.normalized_score_se,
    ]
}

/// The eval point `iteration` of held fields `x` ([`held`]), NaN elsewhere.
pub fn from_held(iteration: u64, x: &[f64]) -> Metrics {
    let nan = f64::NAN;
    Metrics {
        iteration,
        q_est: x[0],
        true_return: x[1],
        true_return_se: x[2],
        gap: x[3],
        start_coverage: x[4],
        q_est_covered: x[5],
        true_return_covered: x[6],
        episode_return: x[7],
        episode_return_se: x[8],
        normalized_score: x[9],
        normalized_score_se: x[10],
        q_data: nan,
        q_true_data: nan,
        success_prob: nan,
        bellman_error: nan,
        ood_fraction: nan,
        kl_behavior: nan,
        loss: nan,
        wall_time: nan,
        it_per_sec: nan,
    }
}

/// One ended run as the index holds it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Row {
    /// The run id's 8 bytes (its 16 hex digits).
    pub id: [u8; 8],
    /// The key of the run's config template.
    pub template: u64,
    pub seed: u64,
    /// The collected dataset's seed (0 for a dataset file).
    pub dataset_seed: u64,
    pub status: RunStatus,
    pub iterations_done: u64,
    /// The summary's last eval point, its held fields only (see [`HELD`]).
    pub last: Option<Metrics>,
    /// NaN when unknown.
    pub coverage: f64,
    /// The dataset's behaviour score (what the score table's behaviour
    /// column averages); NaN when there is none.
    pub behavior: f64,
    pub train_seconds: f64,
    /// Seconds since the Unix epoch, as the summary says.
    pub updated: f64,
    /// CRC-32 of the `summary.json` bytes the record was made from.
    pub summary_crc: u32,
}

const STATUSES: [RunStatus; 8] = [
    RunStatus::Queued,
    RunStatus::Waiting,
    RunStatus::Running,
    RunStatus::Paused,
    RunStatus::Done,
    RunStatus::Diverged,
    RunStatus::Failed,
    RunStatus::Cancelled,
];

fn status_byte(status: RunStatus) -> u8 {
    let i = STATUSES.iter().position(|&s| s == status).expect("listed");
    u8::try_from(i + 1).expect("few statuses")
}

impl Row {
    /// The row of an ended run, from its config and summary (and the
    /// summary's bytes, for their checksum).
    pub fn new(config: &RunConfig, summary: &Summary, summary_bytes: &[u8]) -> Row {
        Row {
            id: config.id().bytes(),
            template: template_key(&template_json(config)),
            seed: config.seed,
            dataset_seed: dataset_seed(&config.dataset),
            status: summary.status,
            iterations_done: summary.iterations_done,
            last: summary
                .last
                .as_ref()
                .map(|m| from_held(m.iteration, &held(m))),
            coverage: summary.coverage.unwrap_or(f64::NAN),
            behavior: summary
                .dataset_stats
                .as_ref()
                .and_then(DatasetStats::score)
                .unwrap_or(f64::NAN),
            train_seconds: summary.train_seconds,
            updated: summary.updated,
            summary_crc: crc32fast::hash(summary_bytes),
        }
    }

    /// The summary as far as the record holds it (no error, no dataset
    /// statistics, the last point's held fields only): what the tables
    /// show of a run that ended cleanly, until its files are read.
    pub fn summary(&self, iterations: u64) -> Summary {
        let mut summary = Summary::new(iterations, String::new());
        summary.status = self.status;
        summary.iterations_done = self.iterations_done;
        summary.last = self.last;
        summary.coverage = (!self.coverage.is_nan()).then_some(self.coverage);
        summary.train_seconds = self.train_seconds;
        summary.updated = self.updated;
        summary
    }

    /// The run's id.
    pub fn run_id(&self) -> RunId {
        RunId::from_bytes(self.id)
    }

    /// The payload of a run record; `status` `None` clears the run.
    fn encode(&self, status: Option<RunStatus>) -> Vec<u8> {
        let mut b = Vec::with_capacity(RUN_PAYLOAD);
        b.extend_from_slice(&self.id);
        for n in [self.template, self.seed, self.dataset_seed] {
            b.extend_from_slice(&n.to_le_bytes());
        }
        b.push(status.map_or(CLEARED, status_byte));
        b.extend_from_slice(&self.iterations_done.to_le_bytes());
        let (iteration, last) = self.last.map_or((u64::MAX, [f64::NAN; HELD - 1]), |m| {
            (m.iteration, held(&m))
        });
        b.extend_from_slice(&iteration.to_le_bytes());
        let rest = [
            self.coverage,
            self.behavior,
            self.train_seconds,
            self.updated,
        ];
        for x in last.iter().chain(&rest) {
            b.extend_from_slice(&x.to_bits().to_le_bytes());
        }
        b.extend_from_slice(&self.summary_crc.to_le_bytes());
        debug_assert_eq!(b.len(), RUN_PAYLOAD);
        b
    }

    /// A run record's payload: the row, or `None` inside for a cleared run;
    /// `None` outside when the bytes are no run record (an unknown status).
    fn decode(p: &[u8]) -> Option<([u8; 8], Option<Row>)> {
        let u64_at = |i: usize| u64::from_le_bytes(p[i..i + 8].try_into().expect("8 bytes"));
        let id: [u8; 8] = p[..8].try_into().expect("8 bytes");
        let status = match p[32] {
            CLEARED => return Some((id, None)),
            s => *STATUSES.get(usize::from(s) - 1)?,
        };
        // The numbers after the iteration: the held fields, then the rest.
        let x: [f64; HELD + 3] = std::array::from_fn(|k| f64::from_bits(u64_at(49 + 8 * k)));
        let iteration = u64_at(41);
        Some((
            id,
            Some(Row {
                id,
                template: u64_at(8),
                seed: u64_at(16),
                dataset_seed: u64_at(24),
                status,
                iterations_done: u64_at(33),
                last: (iteration != u64::MAX).then(|| from_held(iteration, &x[..HELD - 1])),
                coverage: x[HELD - 1],
                behavior: x[HELD],
                train_seconds: x[HELD + 1],
                updated: x[HELD + 2],
                summary_crc: u32::from_le_bytes(p[RUN_PAYLOAD - 4..].try_into().expect("4 bytes")),
            }),
        ))
    }
}

fn dataset_seed(dataset: &DatasetSource) -> u64 {
    match dataset {
        DatasetSource::Collect { seed, .. } => *seed,
        DatasetSource::File { .. } => 0,
    }
}

/// A config with its seeds zeroed, as JSON: what the runs of one grid
/// point share.
fn template_json(config: &RunConfig) -> Vec<u8> {
    let mut t = config.clone();
    t.seed = 0;
    if let DatasetSource::Collect { seed, .. } = &mut t.dataset {
        *seed = 0;
    }
    serde_json::to_vec(&t).expect("configs serialize")
}

fn template_key(json: &[u8]) -> u64 {
    u64::from_le_bytes(Sha256::digest(json)[..8].try_into().expect("8 bytes"))
}

/// One frame: header and payload.
fn frame(kind: u8, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len()).expect("payloads are small");
    let mut out = Vec::with_capacity(HEADER + payload.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&len.to_le_bytes());
    out.push(kind);
    out.extend_from_slice(&checksum(len, kind, payload).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

fn checksum(len: u32, kind: u8, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&len.to_le_bytes());
    h.update(&[kind]);
    h.update(payload);
    h.finalize()
}

/// A spec's index as read: its templates and the latest record of each
/// run (`None`: cleared).
#[derive(Debug, Default)]
pub struct Index {
    /// Each a body its runs' configs share (a run's is a clone and seeds).
    templates: HashMap<u64, RunConfig>,
    rows: HashMap<[u8; 8], Option<Row>>,
    /// Bytes of frames that failed their checksum, or were no frame.
    pub skipped: u64,
    /// Where the next read starts: the end of the last whole frame.
    offset: u64,
}

impl Index {
    /// Reads the index file at `path` (a missing one is empty).
    pub fn read(path: &Path) -> Result<Index> {
        let mut index = Index::default();
        index.read_new(path)?;
        Ok(index)
    }

    /// Reads what was appended since the last read; returns the run
    /// records read. A file shorter than what was read (deleted and
    /// written again) is read from its start.
    pub fn read_new(&mut self, path: &Path) -> Result<usize> {
        let cannot = |e| Error::io(format!("cannot read {}", path.display()), e);
        let mut file = match crate::fsio::open_regular(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(cannot(e)),
        };
        let len = file.metadata().map_err(cannot)?.len();
        if len < self.offset {
            *self = Index::default();
        }
        file.seek(SeekFrom::Start(self.offset)).map_err(cannot)?;
        let mut bytes = Vec::new();
        file.take(len - self.offset)
            .read_to_end(&mut bytes)
            .map_err(cannot)?;
        let (runs, used) = self.take(&bytes);
        self.offset += used as u64;
        Ok(runs)
    }

    /// Takes in the frames of `bytes`; returns the run records read and the
    /// bytes consumed (up to an incomplete frame at the end).
    fn take(&mut self, bytes: &[u8]) -> (usize, usize) {
        let mut at = 0;
        let mut runs = 0;
        while at < bytes.len() {
            let rest = &bytes[at..];
            if rest.len() < HEADER {
                // A header's beginning, or garbage: wait unless it is garbage.
                if MAGIC.starts_with(&rest[..rest.len().min(4)]) {
                    break;
                }
                at += 1;
                self.skipped += 1;
                continue;
            }
            let len = u32::from_le_bytes(rest[4..8].try_into().expect("4 bytes"));
            let size = HEADER + len as usize;
            if rest[..4] != MAGIC || len as usize > MAX_PAYLOAD {
                at += 1;
                self.skipped += 1;
                continue;
            }
            if rest.len() < size {
                break; // still being written
            }
            let kind = rest[8];
            let crc = u32::from_le_bytes(rest[9..13].try_into().expect("4 bytes"));
            let payload = &rest[HEADER..size];
            if crc != checksum(len, kind, payload) || !self.apply(kind, payload) {
                at += 1;
                self.skipped += 1;
                continue;
            }
            runs += usize::from(kind == RUN);
            at += size;
        }
        (runs, at)
    }

    /// Applies one checked frame; false when it is no frame of ours.
    fn apply(&mut self, kind: u8, payload: &[u8]) -> bool {
        match kind {
            TEMPLATE if payload.len() > 8 => {
                let key = u64::from_le_bytes(payload[..8].try_into().expect("8 bytes"));
                let Ok(config) = serde_json::from_slice::<RunConfig>(&payload[8..]) else {
                    return false;
                };
                self.templates.entry(key).or_insert(config);
                true
            }
            RUN if payload.len() == RUN_PAYLOAD => match Row::decode(payload) {
                Some((id, row)) => {
                    self.rows.insert(id, row);
                    true
                }
                None => false,
            },
            _ => false,
        }
    }

    /// The ended runs whose template is known (a record whose template
    /// was lost with a torn frame counts as missing: [`repair`] writes
    /// both again).
    pub fn rows(&self) -> impl Iterator<Item = &Row> {
        self.rows
            .values()
            .flatten()
            .filter(|r| self.templates.contains_key(&r.template))
    }

    /// Whether the index holds `id` as ended.
    pub fn holds(&self, id: &RunId) -> bool {
        self.rows
            .get(&id.bytes())
            .and_then(Option::as_ref)
            .is_some_and(|r| self.templates.contains_key(&r.template))
    }

    /// Takes the records read so far, the latest of each run: its row
    /// (`None`: cleared, or its template unknown). What is left is the
    /// templates and where the next read starts: a reader that follows
    /// the file's tail ([`Index::read_new`]) holds no row twice.
    pub fn take_records(&mut self) -> Vec<(RunId, Option<Row>)> {
        let templates = &self.templates;
        // Taken, not drained: the emptied map keeps no capacity.
        std::mem::take(&mut self.rows)
            .into_iter()
            .map(|(id, row)| {
                let known = row.filter(|r| templates.contains_key(&r.template));
                (RunId::from_bytes(id), known)
            })
            .collect()
    }

    /// Forgets the records read, keeping the templates and where the next
    /// read starts (a reader that follows the file's tail from here).
    pub fn forget_records(&mut self) {
        self.rows = HashMap::new();
    }

    /// The run's full config: its template's body (shared) with its seeds.
    pub fn config(&self, row: &Row) -> Option<RunConfig> {
        let mut config = self.templates.get(&row.template)?.clone();
        config.seed = row.seed;
        if let DatasetSource::Collect { seed, .. } = &mut config.dataset {
            *seed = row.dataset_seed;
        }
        Some(config)
    }

    /// How many templates it holds.
    pub fn templates(&self) -> usize {
        self.templates.len()
    }
}

/// A file as this process knows it: device, inode and birth time (an
/// index deleted and made again may reuse the inode, not the birth time).
type FileKey = (u64, u64, std::time::SystemTime);

/// The templates this process has appended to each file, so a template is
/// written once per process and file, ahead of its records. Where a file
/// system gives no birth time, a template goes with every record (in the
/// same write).
static WRITTEN: Mutex<Option<HashSet<(FileKey, u64)>>> = Mutex::new(None);

/// Appends one record of the run in `dir` (the summary's bytes as
/// written: `None` clears the run), its template first if this process
/// has not written it to this file.
fn append(dir: &RunDir, config: &RunConfig, ended: Option<(&Summary, &[u8])>) -> Result<()> {
    let Some(path) = path_of(dir) else {
        return Ok(()); // not in a store's layout: nothing indexes it
    };
    let cannot = |e| Error::io(format!("cannot append to {}", path.display()), e);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(cannot)?;
        // A link planted there would take the write outside the store.
        crate::fsio::check_real_dir(parent).map_err(cannot)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.append(true).create(true);
    let mut file = crate::fsio::open_for_writing(&path, &options).map_err(cannot)?;
    let meta = file.metadata().map_err(cannot)?;
    let key = template_key(&template_json(config));
    let (device, inode) = crate::fsio::device_and_inode(&meta);
    let file_key = meta.created().ok().map(|t| (device, inode, t));
    let written = || {
        WRITTEN
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    };
    let with_template = file_key.is_none_or(|f| {
        !written()
            .get_or_insert_with(HashSet::new)
            .contains(&(f, key))
    });
    let bytes = frames(config, ended, with_template);
    // One write: appended whole, never interleaved with another's.
    let n = file.write(&bytes).map_err(cannot)?;
    if n != bytes.len() {
        return Err(cannot(std::io::Error::new(
            std::io::ErrorKind::WriteZero,
            format!("{n} of {} bytes written", bytes.len()),
        )));
    }
    // Known as written only once it is (two threads may both write it: harmless).
    if let Some(f) = file_key.filter(|_| with_template) {
        written().get_or_insert_with(HashSet::new).insert((f, key));
    }
    Ok(())
}

/// The frames that record the run of `config` as ended (with its summary
/// and the summary's bytes) or, with `None`, as cleared; its template's
/// frame first when `with_template`. For writers of whole index files (a
/// benchmark's store) as for [`append`].
pub fn frames(
    config: &RunConfig,
    ended: Option<(&Summary, &[u8])>,
    with_template: bool,
) -> Vec<u8> {
    let mut bytes = Vec::new();
    if with_template {
        let json = template_json(config);
        let mut payload = template_key(&json).to_le_bytes().to_vec();
        payload.extend_from_slice(&json);
        bytes = frame(TEMPLATE, &payload);
    }
    let row = match ended {
        Some((summary, summary_bytes)) => Row::new(config, summary, summary_bytes),
        None => Row::new(config, &Summary::new(config.iterations, String::new()), b""),
    };
    bytes.extend(frame(RUN, &row.encode(ended.map(|(s, _)| s.status))));
    bytes
}

/// Records that the run in `dir` ended as `summary` says (`bytes`: the
/// `summary.json` written).
pub fn record_ended(dir: &RunDir, summary: &Summary, bytes: &[u8]) -> Result<()> {
    append(dir, &store::read_config(dir)?, Some((summary, bytes)))
}

/// Records that the run in `dir` is trained again: its old record no
/// longer says how it ended. A run without a config has no record.
pub fn record_cleared(dir: &RunDir) -> Result<()> {
    match store::read_config(dir) {
        Ok(config) => append(dir, &config, None),
        Err(_) => Ok(()),
    }
}

/// What [`repair`] did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Repaired {
    /// Ended runs the index did not hold, appended.
    pub appended: usize,
    /// Runs whose files could not be read (left out, named in the errors).
    pub errors: Vec<String>,
}

/// Appends to spec `spec`'s index every ended run in the store that it
/// does not hold: runs ended before the index existed, runs whose record
/// was torn, every run when the index was deleted. One `readdir` of the
/// spec, then the files of those runs only.
pub fn repair(store: &Store, spec: &str) -> Result<Repaired> {
    use rayon::prelude::*;
    let index = Index::read(&path(store.root(), spec))?;
    let missing: Vec<_> = store
        .list(Some(spec))?
        .into_iter()
        .filter(|run| !index.holds(&run.id))
        .collect();
    let results: Vec<Result<bool>> = missing
        .par_iter()
        .map(|run| {
            let Some((summary, bytes)) = store::read_summary_bytes(&run.dir)? else {
                return Ok(false);
            };
            if !summary.status.is_final() {
                return Ok(false);
            }
            record_ended(&run.dir, &summary, &bytes)?;
            Ok(true)
        })
        .collect();
    let mut repaired = Repaired::default();
    for result in results {
        match result {
            Ok(appended) => repaired.appended += usize::from(appended),
            Err(e) => repaired.errors.push(e.to_string()),
        }
    }
    Ok(repaired)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store under `root` with `n` runs of spec `s` that ended (through
    /// [`store::write_summary`], which indexes them), two grid points.
    fn ended_store(root: &Path, n: u64) -> (Store, Vec<RunDir>) {
        let store = Store::new(root);
        let dirs = (0..n)
            .map(|seed| {
                let algo = if seed % 2 == 0 { "fqi" } else { "cql" };
                let config = RunConfig::example("FrozenLake-v1", algo, 100, seed)
                    .with(|c| c.spec = "s".into());
                let dir = store.prepare(&config).unwrap();
                let mut summary = Summary::new(config.iterations, "test:1".into());
                summary.status = if seed == 3 {
                    RunStatus::Failed
                } else {
                    RunStatus::Done
                };
                summary.iterations_done = config.iterations;
                summary.coverage = (seed != 1).then_some(2.5);
                // Odd seeds as continuous runs write them: with standard errors.
                let se = if seed % 2 == 1 { 0.25 } else { f64::NAN };
                summary.last = Some(Metrics {
                    iteration: config.iterations,
                    q_est: 1.5,
                    normalized_score: seed as f64,
                    true_return_se: se,
                    normalized_score_se: 4.0 * se,
                    ..Metrics::default()
                });
                summary.dataset_stats = (seed == 2).then_some(DatasetStats {
                    transitions: 10,
                    episodes: 2,
                    behavior_score: Some(42.0),
                    data_score: 40.0,
                    single_action_share: 1.0,
                    mean_actions: 1.0,
                    visited_states: 3,
                    reachable_states: 4,
                    state_coverage: 0.75,
                    concentrability: f64::INFINITY,
                });
                store::write_summary(&dir, &summary).unwrap();
                dir
            })
            .collect();
        (store, dirs)
    }

    fn index_file(store: &Store) -> PathBuf {
        path(store.root(), "s")
    }

    /// The index's runs, encoded, by id: comparable (NaN included).
    fn encoded(index: &Index) -> Vec<Vec<u8>> {
        let mut rows: Vec<&Row> = index.rows().collect();
        rows.sort_by_key(|r| r.id);
        rows.iter().map(|r| r.encode(Some(r.status))).collect()
    }

    /// What the run files say, as the index would hold it.
    fn from_files(dirs: &[RunDir]) -> Vec<Vec<u8>> {
        let mut rows: Vec<Row> = dirs
            .iter()
            .filter_map(|d| {
                let (summary, bytes) = store::read_summary_bytes(d).unwrap()?;
                Some(Row::new(&store::read_config(d).unwrap(), &summary, &bytes))
            })
            .collect();
        rows.sort_by_key(|r| r.id);
        rows.iter().map(|r| r.encode(Some(r.status))).collect()
    }

    #[test]
    fn ended_runs_round_trip_through_the_index() {
        let tmp = tempfile::tempdir().unwrap();
        let (store, dirs) = ended_store(tmp.path(), 6);
        let index = Index::read(&index_file(&store)).unwrap();
        assert_eq!((index.rows().count(), index.skipped), (6, 0));
        assert_eq!(encoded(&index), from_files(&dirs));
        // Two grid points: two templates, each written once.
        assert_eq!(index.templates(), 2);
        let len = std::fs::metadata(index_file(&store)).unwrap().len();
        let templates = len - 6 * RUN_FRAME as u64;
        assert!(templates < 2 * 1024, "{templates} bytes of templates");
        // The runs of a template share its body: two bodies for six runs.
        let bodies: std::collections::HashSet<*const super::super::ConfigBody> = index
            .rows()
            .map(|r| &raw const *index.config(r).unwrap())
            .collect();
        assert_eq!(bodies.len(), 2);
        for dir in &dirs {
            let config = store::read_config(dir).unwrap();
            assert!(index.holds(&config.id()));
            let row = index.rows().find(|r| r.run_id() == config.id()).unwrap();
            assert_eq!(index.config(row).unwrap(), config);
            // The held fields of the last point, standard errors included.
            let summary = store::read_summary(dir).unwrap().unwrap();
            let (m, held_m) = (summary.last.unwrap(), row.last.unwrap());
            assert_eq!(held(&m).map(f64::to_bits), held(&held_m).map(f64::to_bits));
            assert_eq!(
                held_m.true_return_se.is_nan(),
                config.seed.is_multiple_of(2)
            );
            assert!(held_m.loss.is_nan(), "not held");
            let behavior = if config.seed == 2 { 42.0 } else { f64::NAN };
            assert_eq!(row.behavior.to_bits(), behavior.to_bits());
        }
    }

    /// kill -9 mid-append: the torn record is skipped, [`repair`] appends
    /// the run again from its files, and that record, written after the
    /// torn one, reads whole.
    #[test]
    fn a_torn_last_record_is_skipped_and_repaired() {
        let tmp = tempfile::tempdir().unwrap();
        let (store, dirs) = ended_store(tmp.path(), 4);
        let file = index_file(&store);
        let len = std::fs::metadata(&file).unwrap().len();
        let f = std::fs::OpenOptions::new().write(true).open(&file).unwrap();
        f.set_len(len - 40).unwrap();
        // An incomplete frame at the end may still be being written: not skipped yet.
        let index = Index::read(&file).unwrap();
        assert_eq!((index.rows().count(), index.skipped), (3, 0));
        let repaired = repair(&store, "s").unwrap();
        assert_eq!(
            repaired,
            Repaired {
                appended: 1,
                errors: Vec::new()
            }
        );
        let index = Index::read(&file).unwrap();
        assert_eq!(index.rows().count(), 4);
        assert_eq!(
            index.skipped,
            RUN_FRAME as u64 - 40,
            "the torn frame's bytes"
        );
        assert_eq!(encoded(&index), from_files(&dirs));
        assert_eq!(repair(&store, "s").unwrap().appended, 0, "nothing more");
    }

    /// Garbage amid the records (two NFS clients appending at once): the
    /// records after it read whole.
    #[test]
    fn garbage_amid_records_is_skipped() {
        let tmp = tempfile::tempdir().unwrap();
        let (store, dirs) = ended_store(tmp.path(), 4);
        let file = index_file(&store);
        let mut bytes = std::fs::read(&file).unwrap();
        let at = bytes.len() - 2 * RUN_FRAME;
        let mut mangled = bytes[at..at + 50].to_vec();
        mangled.extend_from_slice(b"PXi3\xff\xff\xff\xffgarbage");
        bytes.splice(at..at, mangled);
        std::fs::write(&file, &bytes).unwrap();
        let index = Index::read(&file).unwrap();
        assert_eq!(index.rows().count(), 4);
        assert!(index.skipped > 0);
        assert_eq!(encoded(&index), from_files(&dirs));
    }

    #[test]
    fn a_deleted_index_is_rebuilt_identically() {
        let tmp = tempfile::tempdir().unwrap();
        let (store, dirs) = ended_store(tmp.path(), 5);
        let before = encoded(&Index::read(&index_file(&store)).unwrap());
        std::fs::remove_file(index_file(&store)).unwrap();
        assert_eq!(repair(&store, "s").unwrap().appended, 5);
        let after = Index::read(&index_file(&store)).unwrap();
        assert_eq!(after.skipped, 0);
        assert_eq!(encoded(&after), before);
        assert_eq!(before, from_files(&dirs));
    }

    /// A rerun clears the run's record; its next ending is recorded.
    #[test]
    fn a_cleared_run_leaves_the_index_until_it_ends_again() {
        let tmp = tempfile::tempdir().unwrap();
        let (store, dirs) = ended_store(tmp.path(), 2);
        let id = store::read_config(&dirs[0]).unwrap().id();
        store::clear(&dirs[0]).unwrap();
        let mut index = Index::read(&index_file(&store)).unwrap();
        assert!(!index.holds(&id));
        let mut summary = Summary::new(7, "test:2".into());
        summary.status = RunStatus::Cancelled;
        store::write_summary(&dirs[0], &summary).unwrap();
        // Read incrementally: only the new record.
        assert_eq!(index.read_new(&index_file(&store)).unwrap(), 1);
        assert!(index.holds(&id));
        assert_eq!(encoded(&index), from_files(&dirs));
    }

    /// Threads appending at once, as the workers of several processes do:
    /// every record reads whole.
    #[test]
    fn concurrent_appenders_leave_every_record_readable() {
        let tmp = tempfile::tempdir().unwrap();
        let (store, dirs) = ended_store(tmp.path(), 64);
        std::fs::remove_file(index_file(&store)).unwrap();
        std::thread::scope(|scope| {
            for chunk in dirs.chunks(8) {
                scope.spawn(move || {
                    for _ in 0..20 {
                        for d in chunk {
                            let (s, bytes) = store::read_summary_bytes(d).unwrap().unwrap();
                            record_ended(d, &s, &bytes).unwrap();
                        }
                    }
                });
            }
        });
        let index = Index::read(&index_file(&store)).unwrap();
        assert_eq!((index.rows().count(), index.skipped), (64, 0));
        assert_eq!(encoded(&index), from_files(&dirs));
    }

    /// A link planted at the index's directory is refused, naming it:
    /// nothing is written through it, and the run's summary still is.
    #[test]
    fn a_link_at_the_index_directory_is_not_written_through() {
        let tmp = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(elsewhere.path(), tmp.path().join(DIR)).unwrap();
        let (_, dirs) = ended_store(tmp.path(), 1);
        assert!(store::read_summary(&dirs[0]).unwrap().is_some());
        let (summary, bytes) = store::read_summary_bytes(&dirs[0]).unwrap().unwrap();
        let error = record_ended(&dirs[0], &summary, &bytes)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains(DIR) && error.contains("not a directory"),
            "{error}"
        );
        assert_eq!(std::fs::read_dir(elsewhere.path()).unwrap().count(), 0);
    }

    /// A store that is not in the layout (a run directory without a spec
    /// above it) has nothing to index, and no error.
    #[test]
    fn index_files_sit_beside_the_specs_not_among_them() {
        let tmp = tempfile::tempdir().unwrap();
        let (store, dirs) = ended_store(tmp.path(), 2);
        assert_eq!(path_of(&dirs[0]), Some(index_file(&store)));
        assert_eq!(store.list(None).unwrap().len(), 2);
        assert!(tmp.path().join(DIR).is_dir());
    }
}
