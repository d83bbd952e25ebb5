//! The big store the store and open benches share: a million ended
//! runs' index files, written once under `target/`.

use pessimist::eval::Metrics;
use pessimist::experiment::index;
use pessimist::experiment::store::Summary;
use pessimist::experiment::{RunConfig, RunStatus};
use std::path::{Path, PathBuf};
use std::time::Instant;

pub fn config(spec: &str, seed: u64) -> RunConfig {
    RunConfig::example("FrozenLake8x8-v1", "fqi", 100_000, seed).with(|c| c.spec = spec.into())
}

/// The runs of the big store (`PESSIMIST_BENCH_STORE_RUNS`, default a
/// million), in 100 specs.
pub fn big_store_runs() -> u64 {
    std::env::var("PESSIMIST_BENCH_STORE_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

/// An ended run's summary, and its bytes as `summary.json` holds them.
pub fn ended(config: &RunConfig) -> (Summary, Vec<u8>) {
    let mut summary = Summary::new(config.iterations, "bench:1".to_string());
    summary.status = RunStatus::Done;
    summary.iterations_done = config.iterations;
    summary.last = Some(Metrics {
        iteration: config.iterations,
        normalized_score: (config.seed % 101) as f64,
        ..Metrics::default()
    });
    let bytes = serde_json::to_vec_pretty(&summary).unwrap();
    (summary, bytes)
}

/// Writes (once: reused while its `complete` marker is there) the indexes
/// of a store of `runs` ended runs in 100 specs under `target/`: the index
/// files only, the bytes `pessimist run` appends, not the run directories
/// (13 GB and 5 minutes for a million) that only [`index::repair`] reads.
pub fn big_index(runs: u64) -> PathBuf {
    use rayon::prelude::*;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join(format!("bench-index-{runs}"));
    let marker = root.join("complete");
    // Complete, and in the index's current format.
    if marker.exists() && index::path(&root, "sweep-099").exists() {
        return root;
    }
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join(index::DIR)).unwrap();
    let started = Instant::now();
    (0..100u64).into_par_iter().for_each(|spec| {
        let name = format!("sweep-{spec:03}");
        let mut bytes = Vec::new();
        for seed in (spec..runs).step_by(100) {
            let config = config(&name, seed);
            let (summary, json) = ended(&config);
            bytes.extend(index::frames(
                &config,
                Some((&summary, &json)),
                seed == spec,
            ));
        }
        std::fs::write(index::path(&root, &name), bytes).unwrap();
    });
    eprintln!(
        "indexes of {runs} runs written in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    std::fs::write(&marker, b"").unwrap();
    root
}

/// This process's resident memory now and at its peak, in MB.
pub fn rss_mb() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}
