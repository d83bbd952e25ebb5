//! The experiment store and the watcher.
//!
//! Targets: loading the summaries of 10,000 runs (`Store::load_all`) < 1 s;
//! a spec saved by rename (temp file + rename, as editors save) is seen by
//! a `watcher::DirWatcher` within 250 ms (median); opening a session on 10,000
//! one-run specs (the dashboard's start before its first frame) < 1 s; a
//! session on one spec of 100,000 runs (the documented maximum) has its
//! first batch of runs at once and all of them well within 2 s; the
//! indexes of a store of 1,000,000 ended runs (100 specs of 10,000, the
//! files written once under `target/`) read whole < 2 s with < 500 MB
//! resident, and one record appended to a spec of 10,000 read by the
//! incremental reader in microseconds, whatever the spec's size (issue 21).

use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use pessimist::eval::Metrics;
use pessimist::experiment::index;
use pessimist::experiment::store::{self, Store, Summary};
use pessimist::experiment::{RunStatus, Session, SessionOptions, watcher};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const RUNS: u64 = 10_000;

mod big_store;
use big_store::{big_index, big_store_runs, config, ended, rss_mb};

fn load_all(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::new(dir.path());
    let started = Instant::now();
    for seed in 0..RUNS {
        // Ten specs of a thousand runs each.
        let config = config(&format!("spec-{}", seed % 10), seed);
        let run = store.prepare(&config).unwrap();
        let mut summary = Summary::new(config.iterations, "bench:1".to_string());
        summary.status = RunStatus::Done;
        summary.iterations_done = config.iterations;
        summary.last = Some(Metrics {
            iteration: config.iterations,
            normalized_score: 90.0,
            ..Metrics::default()
        });
        store::write_summary(&run, &summary).unwrap();
    }
    eprintln!(
        "store of {RUNS} runs written in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let (runs, errors) = store.load_all().unwrap();
    assert_eq!((runs.len(), errors.len()), (RUNS as usize, 0));
    assert!(runs.iter().all(|r| r.summary.is_some()));

    let mut group = c.benchmark_group("store");
    group.sample_size(10);
    group.bench_function("load_all/10k-runs", |b| {
        b.iter(|| store.load_all().unwrap());
    });
    group.finish();
}

/// A session over `dir`'s experiments that leaves its runs waiting
/// (`--no-autostart`), on one worker, polling.
fn looking(dir: &Path) -> SessionOptions {
    SessionOptions {
        experiments_dir: dir.join("experiments"),
        runs_dir: dir.join("runs"),
        jobs: 1,
        poll: true,
        autostart: false,
    }
}

/// 10,000 one-run specs, the runs waiting (`--no-autostart`): what the
/// dashboard does before its first frame on a large experiments directory
/// (quadratic in the specs until the name check was indexed: 38 s of CPU).
fn open_many_specs(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let experiments = dir.path().join("experiments");
    std::fs::create_dir(&experiments).unwrap();
    for i in 0..10_000 {
        let spec = format!(
            "name = \"s{i:05}\"\nenv = \"ImitationTrap-v0\"\ngamma = 0.9\nseeds = [{i}]\n\
             iterations = 20\neval_every = 5\ndataset = {{ policy = \"behavior\", size = 200 }}\n\
             [[algo]]\nname = \"bc\"\n"
        );
        std::fs::write(experiments.join(format!("s{i:05}.toml")), spec).unwrap();
    }
    let options = || looking(dir.path());
    let mut group = c.benchmark_group("session");
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.bench_function("open/10k-specs", |b| {
        b.iter(|| {
            let session = Session::open(options()).unwrap();
            assert_eq!(session.specs().len(), 10_000);
            session.shutdown();
        });
    });
    group.finish();
}

/// One spec of 100,000 runs, waiting (`--no-autostart`): the session's
/// start until the first batch of runs is taken in (what the dashboard's
/// first frames show while the rest loads), and the whole spec loaded.
fn open_large_spec(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let experiments = dir.path().join("experiments");
    std::fs::create_dir(&experiments).unwrap();
    let seeds: Vec<String> = (0..10_000).map(|s| s.to_string()).collect();
    let sizes: Vec<String> = (1..=10).map(|k| (100 * k).to_string()).collect();
    std::fs::write(
        experiments.join("big.toml"),
        format!(
            "env = \"ImitationTrap-v0\"\ngamma = 0.9\nseeds = [{}]\niterations = 20\n\
             eval_every = 5\ndataset = {{ policy = \"behavior\", size = [{}] }}\n\
             [[algo]]\nname = \"bc\"\n",
            seeds.join(", "),
            sizes.join(", ")
        ),
    )
    .unwrap();
    let options = || looking(dir.path());
    let mut group = c.benchmark_group("session");
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.bench_function("start/100k-run-spec/first-batch", |b| {
        b.iter(|| {
            let mut session = Session::start(options()).unwrap();
            while session.specs()[0].run_ids.is_empty() {
                session.wait(Duration::from_secs(60));
            }
            session.shutdown();
        });
    });
    group.bench_function("open/100k-run-spec", |b| {
        b.iter(|| {
            let session = Session::open(options()).unwrap();
            assert_eq!(session.specs()[0].run_ids.len(), 100_000);
            session.shutdown();
        });
    });
    group.finish();
}

fn watch(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("grid.toml");
    std::fs::write(&spec, "# version 0\n").unwrap();
    let (tx, rx) = mpsc::channel::<Vec<PathBuf>>();
    let mut watcher = watcher::DirWatcher::new(false, move |paths| {
        let _ = tx.send(paths);
    })
    .unwrap();
    watcher
        .add(watcher::WatchDir {
            path: dir.path(),
            compare_contents: true,
        })
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let mut version = 0u64;
    let mut latencies = Vec::new();
    // Saves the spec by rename and returns how long the watcher took to
    // report it.
    let mut save = || -> Duration {
        while rx.try_recv().is_ok() {} // earlier saves' late events
        version += 1;
        let tmp = dir.path().join(".grid.toml.swp");
        let started = Instant::now();
        std::fs::write(&tmp, format!("# version {version}\n")).unwrap();
        std::fs::rename(&tmp, &spec).unwrap();
        loop {
            let paths = rx
                .recv_timeout(Duration::from_secs(5))
                .expect("the watcher reports the save within 5 s");
            if paths.contains(&spec) {
                let latency = started.elapsed();
                latencies.push(latency);
                return latency;
            }
        }
    };
    let mut group = c.benchmark_group("watcher");
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.bench_function("save-by-rename/latency", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| save()).sum());
    });
    group.finish();
    // Filtered out (`cargo bench -- session`): nothing was measured.
    if latencies.is_empty() {
        return;
    }
    latencies.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    eprintln!(
        "watcher latency over {} saves: median {:.1} ms, min {:.1} ms, max {:.1} ms",
        latencies.len(),
        ms(latencies[latencies.len() / 2]),
        ms(latencies[0]),
        ms(latencies[latencies.len() - 1]),
    );
}

/// Reading every spec's index of the big store (what opening it costs
/// before anything is drawn), and following one spec's index as records
/// are appended (what a watcher reads per run that ends elsewhere).
fn read_index(c: &mut Criterion) {
    let runs = big_store_runs();
    let root = big_index(runs);
    let read_all = || -> Vec<index::Index> {
        (0..100)
            .map(|spec| {
                index::Index::read(&index::path(&root, &format!("sweep-{spec:03}"))).unwrap()
            })
            .collect()
    };
    let (before, _) = rss_mb();
    let started = Instant::now();
    let all = read_all();
    let seconds = started.elapsed().as_secs_f64();
    let held: usize = all.iter().map(|i| i.rows().count()).sum();
    assert_eq!(held as u64, runs);
    let (after, peak) = rss_mb();
    eprintln!(
        "{runs} runs read from their indexes in {seconds:.2} s; resident {before:.0} MB before, \
         {after:.0} MB after ({:.0} B a run), peak {peak:.0} MB",
        (after - before) * 1024.0 * 1024.0 / runs as f64
    );
    drop(all);
    let mut group = c.benchmark_group("store");
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.bench_function(format!("index/read-{runs}-runs"), |b| b.iter(read_all));
    group.finish();

    // One spec of 10,000 runs followed as another process appends.
    let dir = tempfile::tempdir().unwrap();
    let file = index::path(dir.path(), "followed");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let mut bytes = Vec::new();
    for seed in 0..RUNS {
        let config = config("followed", seed);
        let (summary, json) = ended(&config);
        bytes.extend(index::frames(&config, Some((&summary, &json)), seed == 0));
    }
    std::fs::write(&file, bytes).unwrap();
    let mut followed = index::Index::read(&file).unwrap();
    let mut appender = std::fs::OpenOptions::new()
        .append(true)
        .open(&file)
        .unwrap();
    let mut seed = RUNS;
    c.bench_function("store/index/read-appended-record", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let config = config("followed", seed);
                seed += 1;
                let (summary, json) = ended(&config);
                std::io::Write::write_all(
                    &mut appender,
                    &index::frames(&config, Some((&summary, &json)), false),
                )
                .unwrap();
                let started = Instant::now();
                assert_eq!(followed.read_new(&file).unwrap(), 1);
                total += started.elapsed();
            }
            total
        });
    });
}

criterion_group!(
    benches,
    load_all,
    open_many_specs,
    open_large_spec,
    watch,
    read_index
);
criterion_main!(benches);
