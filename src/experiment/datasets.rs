//! Each dataset definition built once per process: the behaviour (the
//! medium learner is trained online, most of a tabular run's cost), the
//! collected or read transitions and their compiled empirical MDP are
//! shared by every run of the definition, on every worker thread. A sweep
//! of 13 learners on one dataset collects and compiles it once, not 13
//! times, and the results are the same bits: collection is a pure
//! function of the definition.
//!
//! The key is the definition as the run id hashes it (environment, source
//! with its seed or the file's sha256, and γ, which the medium learner
//! trains with). Threads asking for a definition being built wait for it
//! instead of building it again; different definitions build in parallel.
//! Datasets no run holds any more are kept, most recently used first, up
//! to [`KEPT_BYTES`]; beyond that the oldest are dropped (a run still
//! holding one keeps it alive).
//!
//! Across processes, a collected dataset goes through the store's
//! [`DatasetCache`]: the thread that would build it reads it from there
//! first, and writes it there after building it.

use super::config::{DatasetSource, PIPELINE_VERSION};
use super::dataset_cache::DatasetCache;
use crate::data::observed::ObsDataset;
use crate::data::{Dataset, EmpiricalMdp};
use crate::error::Result;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

/// How many bytes of datasets that no run is using the process keeps for
/// the next run that asks (1 GiB: a hundred 1M-transition datasets, with
/// their compiled form).
pub const KEPT_BYTES: usize = 1 << 30;

/// A dataset as runs share it.
#[derive(Debug)]
pub enum Built {
    /// A tabular dataset and its compiled empirical MDP.
    Table {
        dataset: Arc<Dataset>,
        compiled: Arc<EmpiricalMdp>,
    },
    /// A continuous environment's observations, shared in this process
    /// only (the on-disk cache holds tabular datasets): collecting 1M
    /// transitions takes under a second, and each run builds its own
    /// sample-based form, which depends on its features.
    Observations(Arc<ObsDataset>),
}

impl Built {
    /// A tabular dataset, compiled.
    pub fn new(dataset: Dataset) -> Self {
        Built::Table {
            compiled: Arc::new(EmpiricalMdp::compile(&dataset)),
            dataset: Arc::new(dataset),
        }
    }

    /// About what it takes in memory.
    fn bytes(&self) -> usize {
        match self {
            Built::Table { dataset, compiled } => {
                let (d, c) = (&**dataset, &**compiled);
                let transitions = d.len() * (5 * size_of::<u32>() + size_of::<f64>() + 2);
                let compiled = std::mem::size_of_val(c.pairs.as_slice())
                    + std::mem::size_of_val(c.successors.as_slice())
                    + std::mem::size_of_val(c.pair_index.as_slice())
                    + std::mem::size_of_val(c.state_count.as_slice());
                transitions + compiled
            }
            Built::Observations(d) => {
                d.len() * (2 * d.obs_dim * size_of::<f64>() + 3 * size_of::<u32>() + 10)
            }
        }
    }
}

/// What a dataset is a function of: the parts of a run's config that the
/// run id hashes for its data.
#[derive(Debug, Clone, Copy)]
pub struct Definition<'a> {
    /// The environment as the config names it (a file's id pinned to its
    /// contents).
    pub env: &'a str,
    pub source: &'a DatasetSource,
    /// The medium learner trains with it.
    pub gamma: f64,
}

impl Definition<'_> {
    /// The canonical JSON of the definition, as the run id hashes it
    /// (with the pipeline's version): a key and a content address.
    pub fn key(&self) -> String {
        serde_json::to_string(&(
            PIPELINE_VERSION,
            crate::mdp::envs::hashed_id(self.env),
            self.gamma.to_bits(),
            self.source.hashed(self.env),
        ))
        .expect("a dataset definition serialises")
    }
}

/// One definition's slot: filled once, by the first thread that asks.
type Slot = Arc<Mutex<Option<Arc<Built>>>>;

#[derive(Default)]
struct Cache {
    slots: HashMap<String, (Slot, u64)>,
    /// A counter that orders the slots by last use.
    clock: u64,
}

fn cache() -> &'static Mutex<Cache> {
    static CACHE: OnceLock<Mutex<Cache>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// The dataset of `definition` on an environment of `shape` (states,
/// actions), built by `build` unless this process has it already or, for
/// a collected tabular one, `disk` does. An error is not kept: the next
/// run asking tries again (a file may have been fixed).
pub fn shared(
    definition: &Definition,
    shape: (usize, usize),
    disk: Option<&DatasetCache>,
    build: impl FnOnce() -> Result<Built>,
) -> Result<Arc<Built>> {
    let key = definition.key();
    // A file is a file already: only what is collected is cached on disk.
    let disk = disk.filter(|_| matches!(definition.source, DatasetSource::Collect { .. }));
    let slot = {
        let mut cache = cache().lock().unwrap_or_else(PoisonError::into_inner);
        cache.clock += 1;
        let now = cache.clock;
        let entry = cache.slots.entry(key.clone()).or_default();
        entry.1 = now;
        entry.0.clone()
    };
    // Held while building: other threads asking for this definition wait here.
    let mut held = slot.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(built) = &*held {
        return Ok(built.clone());
    }
    let built = if let Some(dataset) = disk.and_then(|d| d.load(&key, shape.0, shape.1)) {
        Built::new(dataset)
    } else {
        let built = build()?;
        if let (Some(disk), Built::Table { dataset, .. }) = (disk, &built) {
            disk.save(&key, dataset);
        }
        built
    };
    let built = Arc::new(built);
    *held = Some(built.clone());
    drop(held);
    evict(KEPT_BYTES);
    Ok(built)
}

/// Drops the least recently used datasets that no run holds until those
/// kept take at most `budget` bytes.
fn evict(budget: usize) {
    let mut cache = cache().lock().unwrap_or_else(PoisonError::into_inner);
    let mut idle: Vec<(u64, String, usize)> = cache
        .slots
        .iter()
        .filter_map(|(key, (slot, used))| {
            let held = slot.try_lock().ok()?;
            let built = held.as_ref()?;
            // Only the cache's own reference left: no run is using it.
            (Arc::strong_count(built) == 1).then(|| (*used, key.clone(), built.bytes()))
        })
        .collect();
    let mut total: usize = idle.iter().map(|(_, _, bytes)| bytes).sum();
    idle.sort_unstable();
    for (_, key, bytes) in idle {
        if total <= budget {
            break;
        }
        cache.slots.remove(&key);
        total -= bytes;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Quality;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn tiny(n_states: usize) -> Dataset {
        let mut d = Dataset::new(n_states, 2);
        d.episode.push(0);
        d.step.push(0);
        d.state.push(0);
        d.action.push(1);
        d.reward.push(1.0);
        d.next_state.push(1);
        d.terminated.push(true);
        d.truncated.push(false);
        d
    }

    /// [`shared`] without a disk cache.
    fn in_process(
        env: &str,
        source: &DatasetSource,
        gamma: f64,
        build: impl FnOnce() -> Result<Built>,
    ) -> Result<Arc<Built>> {
        let definition = Definition { env, source, gamma };
        shared(&definition, (3, 2), None, build)
    }

    #[test]
    fn a_definition_is_built_once_whatever_the_threads() {
        let source = DatasetSource::Collect {
            policy: Quality::Random,
            size: 1,
            seed: 9_000_001,
        };
        let builds = AtomicUsize::new(0);
        let got: Vec<Arc<Built>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    scope.spawn(|| {
                        in_process("cache-test-env", &source, 0.9, || {
                            builds.fetch_add(1, Ordering::SeqCst);
                            Ok(Built::new(tiny(3)))
                        })
                        .unwrap()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(builds.load(Ordering::SeqCst), 1);
        assert!(got.iter().all(|b| Arc::ptr_eq(b, &got[0])));
        // Another γ is another definition.
        let other = in_process("cache-test-env", &source, 0.8, || Ok(Built::new(tiny(3)))).unwrap();
        assert!(!Arc::ptr_eq(&other, &got[0]));
    }

    #[test]
    fn a_failed_build_is_tried_again() {
        let source = DatasetSource::Collect {
            policy: Quality::Random,
            size: 1,
            seed: 9_000_002,
        };
        let failed = in_process("cache-test-env", &source, 0.9, || {
            Err(crate::error::Error::Invalid("no".into()))
        });
        assert!(failed.is_err());
        assert!(in_process("cache-test-env", &source, 0.9, || Ok(Built::new(tiny(3)))).is_ok());
    }

    #[test]
    fn idle_datasets_beyond_the_budget_are_dropped_oldest_first() {
        let source = |seed| DatasetSource::Collect {
            policy: Quality::Random,
            size: 1,
            seed,
        };
        let builds = AtomicUsize::new(0);
        let get = |seed| {
            in_process("cache-evict-env", &source(seed), 0.9, || {
                builds.fetch_add(1, Ordering::SeqCst);
                Ok(Built::new(tiny(3)))
            })
            .unwrap()
        };
        let held = get(9_100_000);
        drop(get(9_100_001));
        evict(0);
        // The one a run holds stays shared; the idle one is built again.
        assert!(Arc::ptr_eq(&held, &get(9_100_000)));
        drop(get(9_100_001));
        assert_eq!(builds.load(Ordering::SeqCst), 3);
    }
}
