//! Data pipeline: collection, compilation, CSV import and the store's
//! dataset cache.
//!
//! Targets (one core): collection ≥ 50 M transitions/s on FrozenLake8x8-v1,
//! compilation of 10 M transitions ≥ 100 M transitions/s, a dataset cache
//! hit at least 10× faster than building the dataset; reading a dataset CSV
//! ≥ 20 M rows/s (both cores). Observations (issue 24): 1 M MountainCar
//! transitions collected by the expert controller in < 1 s, and written
//! to CSV.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use pessimist::data::{self, EmpiricalMdp, Quality, collect::behavior_policy, observed};
use pessimist::experiment::dataset_cache::DatasetCache;
use pessimist::mdp::envs;
use std::hint::black_box;

const GAMMA: f64 = 0.99;
const SEED: u64 = 42;

fn collection(c: &mut Criterion) {
    let mdp = envs::make("FrozenLake8x8-v1").unwrap();
    let n = 1_000_000;
    let mut group = c.benchmark_group("collect/FrozenLake8x8-v1");
    group.throughput(Throughput::Elements(n as u64));
    group.sample_size(10);
    group.bench_function("random/1M", |b| {
        b.iter(|| data::collect(&mdp, Quality::Random, black_box(n), SEED, GAMMA).unwrap());
    });
    // The medium policy's training (an online Q-learner) is a one-off cost
    // per dataset: it is done here, outside the timing.
    let medium = behavior_policy(&mdp, Quality::Medium, GAMMA, SEED)
        .unwrap()
        .policy;
    group.bench_function("medium/1M", |b| {
        b.iter_batched(
            || medium.clone(),
            |policy| data::collect_with_policy(&mdp, policy, black_box(n), SEED).unwrap(),
            BatchSize::LargeInput,
        );
    });
    group.finish();
}

fn observations(c: &mut Criterion) {
    let n = 1_000_000;
    let mut group = c.benchmark_group("observations/MountainCar-v0");
    group.throughput(Throughput::Elements(n as u64));
    group.sample_size(10);
    let collect = || observed::collect_id("MountainCar-v0", Quality::Expert, black_box(n), SEED);
    group.bench_function("collect/expert/1M", |b| {
        b.iter(|| collect().unwrap().unwrap());
    });
    let (data, _) = collect().unwrap().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("expert-1M.csv");
    // Written once here too, for a run filtered to the reads.
    observed::write_obs_csv(&path, &data).unwrap();
    group.bench_function("write_csv/1M", |b| {
        b.iter(|| observed::write_obs_csv(black_box(&path), &data).unwrap());
    });
    group.bench_function("read_csv/1M", |b| {
        b.iter(|| observed::read_obs_csv(black_box(&path), 2, 3).unwrap());
    });
    group.finish();
}

fn compilation(c: &mut Criterion) {
    let mdp = envs::make("FrozenLake8x8-v1").unwrap();
    let n = 10_000_000;
    let dataset = data::collect(&mdp, Quality::Medium, n, SEED, GAMMA).unwrap();
    let mut group = c.benchmark_group("compile");
    group.throughput(Throughput::Elements(n as u64));
    group.sample_size(10);
    group.bench_function("FrozenLake8x8-v1/medium/10M", |b| {
        b.iter(|| EmpiricalMdp::compile(black_box(&dataset)));
    });
    group.finish();
}

fn csv_import(c: &mut Criterion) {
    let mdp = envs::make("FrozenLake8x8-v1").unwrap();
    let n = 100_000;
    let dataset = data::collect(&mdp, Quality::Medium, n, SEED, GAMMA).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("medium-100k.csv");
    data::write_csv(&path, &dataset).unwrap();
    let mut group = c.benchmark_group("read_csv");
    group.throughput(Throughput::Elements(n as u64));
    group.sample_size(20);
    group.bench_function("FrozenLake8x8-v1/medium/100k", |b| {
        b.iter(|| data::read_csv(black_box(&path), mdp.n_states(), mdp.n_actions()).unwrap());
    });
    group.finish();
}

/// What the store's cache saves a process: building a `medium` dataset
/// (the online learner, then collection) against reading its entry back
/// (checksum, checks, columns).
fn dataset_cache(c: &mut Criterion) {
    let mdp = envs::make("Taxi-v4").unwrap();
    let n = 100_000;
    let dir = tempfile::tempdir().unwrap();
    let cache = DatasetCache::of_store(dir.path());
    let build = || data::collect(&mdp, Quality::Medium, n, SEED, GAMMA).unwrap();
    cache.save("bench", &build());
    let mut group = c.benchmark_group("dataset_cache/Taxi-v4/medium/100k");
    group.throughput(Throughput::Elements(n as u64));
    group.sample_size(10);
    group.bench_function("build", |b| b.iter(build));
    group.bench_function("hit", |b| {
        b.iter(|| {
            let (s, a) = (mdp.n_states(), mdp.n_actions());
            cache.load(black_box("bench"), s, a).unwrap()
        });
    });
    group.finish();
}

criterion_group!(
    benches,
    collection,
    observations,
    compilation,
    csv_import,
    dataset_cache
);
criterion_main!(benches);
