//! Data pipeline: collection, compilation and CSV import.
//!
//! Targets (one core): collection ≥ 50 M transitions/s on FrozenLake8x8-v1,
//! compilation of 10 M transitions ≥ 100 M transitions/s.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use pessimist::data::{self, EmpiricalMdp, Quality, collect::behavior_policy};
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
        b.iter(|| data::collect(&mdp, Quality::Random, black_box(n), SEED, GAMMA).unwrap())
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
        )
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
        b.iter(|| EmpiricalMdp::compile(black_box(&dataset)))
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
        b.iter(|| data::read_csv(black_box(&path), mdp.n_states(), mdp.n_actions()).unwrap())
    });
    group.finish();
}

criterion_group!(benches, collection, compilation, csv_import);
criterion_main!(benches);
