//! Learners and exact solvers.
//!
//! Targets (one core): sample-based Q-learning (`fqi`, variant `sample`)
//! ≥ 250 M updates/s; one `fqi` sweep over compiled Taxi-v4 data ≤ 5 µs,
//! whatever the dataset's size; one iteration of every algorithm on compiled
//! Taxi-v4 medium data ≤ 10× one `fqi` sweep there; exact policy evaluation
//! on Taxi-v4 ≤ 200 µs.

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use pessimist::algo::{self, Algorithm, ParamValue, Params, TrainData};
use pessimist::data::{self, Quality};
use pessimist::mdp::{Policy, TabularMdp, envs, solve};
use std::hint::black_box;
use std::sync::Arc;

const GAMMA: f64 = 0.99;
const SEED: u64 = 42;

fn train_data(mdp: &TabularMdp, quality: Quality, size: usize) -> TrainData {
    let dataset = data::collect(mdp, quality, size, SEED, GAMMA).unwrap();
    TrainData::new(Arc::new(mdp.clone()), dataset, GAMMA, SEED)
}

fn fqi(variant: &str, data: &TrainData) -> Box<dyn Algorithm> {
    let params = Params::from([("variant".to_string(), ParamValue::Text(variant.into()))]);
    algo::build("fqi", &params, data).unwrap()
}

fn q_learning(c: &mut Criterion) {
    let mdp = envs::make("FrozenLake8x8-v1").unwrap();
    let n = 1_000_000;
    let mut learner = fqi("sample", &train_data(&mdp, Quality::Medium, n));
    let mut group = c.benchmark_group("fqi-sample/FrozenLake8x8-v1");
    group.throughput(Throughput::Elements(n as u64));
    group.sample_size(20);
    group.bench_function("epoch/1M", |b| b.iter(|| learner.step().unwrap()));
    group.finish();
}

fn sweep(c: &mut Criterion) {
    let mdp = envs::make("Taxi-v4").unwrap();
    let mut group = c.benchmark_group("fqi-sweep/Taxi-v4/random");
    for (label, n) in [("1M", 1_000_000), ("10M", 10_000_000)] {
        let data = train_data(&mdp, Quality::Random, n);
        eprintln!(
            "Taxi-v4 random {label}: {} observed pairs, {} successors",
            data.compiled.pairs.len(),
            data.compiled.successors.len()
        );
        let mut learner = fqi("sweep", &data);
        group.bench_function(BenchmarkId::from_parameter(label), |b| {
            b.iter(|| learner.step().unwrap());
        });
    }
    group.finish();
}

/// One iteration of every algorithm on the same compiled dataset (target:
/// none more than 10× one `fqi` sweep; `online` steps the environment
/// |D| / budget_iterations times instead, so it is no sweep).
fn every_algorithm(c: &mut Criterion) {
    let mdp = envs::make("Taxi-v4").unwrap();
    let data = train_data(&mdp, Quality::Medium, 1_000_000);
    eprintln!(
        "Taxi-v4 medium 1M: {} observed pairs, {} successors",
        data.compiled.pairs.len(),
        data.compiled.successors.len()
    );
    let mut group = c.benchmark_group("iteration/Taxi-v4/medium-1M");
    for name in algo::names().into_iter().filter(|n| *n != "online") {
        let mut learner = algo::build(name, &Params::new(), &data).unwrap();
        group.bench_function(name, |b| b.iter(|| learner.step().unwrap()));
    }
    // Its iterations end with its budget: time the first, on a fresh learner.
    group.bench_function("online/10k-steps", |b| {
        b.iter_batched(
            || algo::build("online", &Params::new(), &data).unwrap(),
            |mut learner| learner.step().unwrap(),
            BatchSize::LargeInput,
        );
    });
    group.finish();
}

/// The optimal, ε-greedy (ε = 0.1) and uniform policies of `mdp`.
fn three_policies(mdp: &TabularMdp) -> [(&'static str, Policy); 3] {
    let optimal = solve::optimal(mdp, GAMMA).unwrap().policy;
    let uniform = mdp.uniform_policy();
    let epsilon = 0.1;
    let mixture = &optimal * (1.0 - epsilon) + &uniform * epsilon;
    [
        ("optimal", optimal),
        ("epsilon-greedy-0.1", mixture),
        ("uniform", uniform),
    ]
}

fn evaluation(c: &mut Criterion) {
    let mdp = envs::make("Taxi-v4").unwrap();
    let mut group = c.benchmark_group("evaluate_policy/Taxi-v4");
    for (label, policy) in three_policies(&mdp) {
        group.bench_function(label, |b| {
            b.iter(|| solve::evaluate_policy(&mdp, black_box(&policy), GAMMA).unwrap());
        });
    }
    group.finish();
}

/// The finite-horizon truths every eval point computes for a new policy
/// (D4RL's episode return and the success probability, over the time limit).
fn episode_truths(c: &mut Criterion) {
    for id in ["FrozenLake8x8-v1", "Taxi-v4"] {
        let mdp = envs::make(id).unwrap();
        let horizon = mdp.horizon();
        let mut group = c.benchmark_group(format!("episode_return/{id}"));
        for (label, policy) in three_policies(&mdp) {
            group.bench_function(label, |b| {
                b.iter(|| solve::episode_return(&mdp, black_box(&policy), horizon).unwrap());
            });
            group.bench_function(format!("{label}/with-success"), |b| {
                b.iter(|| {
                    solve::episode_return_and_success(&mdp, black_box(&policy), horizon).unwrap()
                });
            });
        }
        group.finish();
    }
}

criterion_group!(
    benches,
    q_learning,
    sweep,
    every_algorithm,
    evaluation,
    episode_truths
);
criterion_main!(benches);
