//! End to end `pessimist train --env FrozenLake8x8-v1 --algo fqi --data
//! FILE.csv --iterations N` on 100k random transitions: read the CSV,
//! compile it, train, evaluate exactly. Target ≤ 50 ms with a normalized
//! score ≥ 90. (Random data, because D4RL's narrow `medium` does not
//! cover the optimal policy: naive fqi tops out near 83 on it.)
//!
//! `in-process` builds and trains as `src/cli/train.rs` does (one
//! [`Setup::build`], the steps, one evaluation); `binary` spawns the built executable (process start and
//! output included).

use criterion::{Criterion, criterion_group, criterion_main};
use pessimist::algo::{ParamValue, Params};
use pessimist::data::{self, Quality};
use pessimist::eval::Metrics;
use pessimist::experiment::pipeline::{Data, Setup, Training};
use pessimist::features::FeatureSpec;
use pessimist::mdp::envs;
use std::hint::black_box;
use std::path::Path;
use std::process::Command;

const ENV: &str = "FrozenLake8x8-v1";
const GAMMA: f64 = 0.99;
/// Seed of the collected data (the learner's seed is the CLI's default, 0).
const DATA_SEED: u64 = 0;
/// The fewest sweeps after which fqi's greedy policy scores ≥ 90 on this
/// dataset (checked in setup).
const ITERATIONS: u64 = 61;

/// What `pessimist train` does, without the printing.
fn train(path: &Path, iterations: u64) -> Metrics {
    train_with(path, "fqi", &Params::new(), iterations)
}

/// [`train`] for any algorithm and parameters.
fn train_with(path: &Path, algo: &str, params: &Params, iterations: u64) -> Metrics {
    let Training {
        mut learner, judge, ..
    } = Setup {
        env: ENV,
        data: Data::File(path),
        algo,
        params,
        gamma: GAMMA,
        seed: 0,
        features: &FeatureSpec::tabular(),
        rollouts: None,
    }
    .build()
    .unwrap();
    for _ in 0..iterations {
        learner.step().unwrap();
    }
    judge
        .evaluate(
            &learner.q(),
            &learner.policy(),
            learner.weights(),
            learner.act(),
        )
        .unwrap()
}

/// The first iteration count whose policy scores ≥ 90.
fn fewest_iterations(path: &Path) -> Option<u64> {
    (1..=200).find(|&n| train(path, n).normalized_score >= 90.0)
}

fn end_to_end(c: &mut Criterion) {
    let mdp = envs::make(ENV).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("random-100k.csv");
    let dataset = data::collect(&mdp, Quality::Random, 100_000, DATA_SEED, GAMMA).unwrap();
    data::write_csv(&path, &dataset).unwrap();

    assert_eq!(fewest_iterations(&path), Some(ITERATIONS));
    let score = train(&path, ITERATIONS).normalized_score;
    eprintln!("fqi, {ITERATIONS} iterations: normalized score {score:.2}");

    let binary = env!("CARGO_BIN_EXE_pessimist");
    let args = [
        "train",
        "--env",
        ENV,
        "--algo",
        "fqi",
        "--data",
        path.to_str().unwrap(),
        "--iterations",
        &ITERATIONS.to_string(),
        "--json",
    ];
    let output = Command::new(binary).args(args).output().unwrap();
    assert!(output.status.success(), "{output:?}");
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["normalized_score"].as_f64(), Some(score));

    let mut group = c.benchmark_group(format!(
        "train/{ENV}/fqi/random-100k/{ITERATIONS}-iterations"
    ));
    group.sample_size(20);
    group.bench_function("in-process", |b| {
        b.iter(|| train(black_box(&path), ITERATIONS));
    });
    group.bench_function("binary", |b| {
        b.iter(|| {
            let output = Command::new(binary).args(args).output().unwrap();
            assert!(output.status.success());
            output
        });
    });
    group.finish();
}

/// CQL's fewest iterations to a score ≥ 90 on the same data, with the
/// settings that reach it: CQL's default α = 0.1 (in units of the reward
/// range) is built for a lower bound and keeps π near the uniform behaviour
/// here (score ≈ 0), as the penalty α(Σπ²/π̂_β − 1) per step dwarfs
/// FrozenLake's value gaps; α = 1e-4, τ = 1e-3 still acts by CQL's update.
const CQL_SETTINGS: [(&str, f64); 2] = [("alpha", 1e-4), ("tau", 1e-3)];
const CQL_ITERATIONS: u64 = 84;

fn cql_end_to_end(c: &mut Criterion) {
    let mdp = envs::make(ENV).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("random-100k.csv");
    let dataset = data::collect(&mdp, Quality::Random, 100_000, DATA_SEED, GAMMA).unwrap();
    data::write_csv(&path, &dataset).unwrap();
    let params: Params = CQL_SETTINGS
        .iter()
        .map(|(k, v)| (k.to_string(), ParamValue::Number(*v)))
        .collect();
    let fewest = (1..=200).find(|&n| train_with(&path, "cql", &params, n).normalized_score >= 90.0);
    assert_eq!(fewest, Some(CQL_ITERATIONS));
    let score = train_with(&path, "cql", &params, CQL_ITERATIONS).normalized_score;
    eprintln!("cql, {CQL_ITERATIONS} iterations: normalized score {score:.2}");
    let binary = env!("CARGO_BIN_EXE_pessimist");
    let iterations = CQL_ITERATIONS.to_string();
    let sets: Vec<String> = CQL_SETTINGS
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let mut args = vec![
        "train",
        "--env",
        ENV,
        "--algo",
        "cql",
        "--data",
        path.to_str().unwrap(),
        "--iterations",
        &iterations,
        "--json",
    ];
    for set in &sets {
        args.extend(["--set", set]);
    }
    let output = Command::new(binary).args(&args).output().unwrap();
    assert!(output.status.success(), "{output:?}");
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["normalized_score"].as_f64(), Some(score));

    let mut group = c.benchmark_group(format!(
        "train/{ENV}/cql/random-100k/{CQL_ITERATIONS}-iterations"
    ));
    group.sample_size(20);
    group.bench_function("in-process", |b| {
        b.iter(|| train_with(black_box(&path), "cql", &params, CQL_ITERATIONS));
    });
    group.bench_function("binary", |b| {
        b.iter(|| {
            let output = Command::new(binary).args(&args).output().unwrap();
            assert!(output.status.success());
            output
        });
    });
    group.finish();
}

criterion_group!(benches, end_to_end, cql_end_to_end);
criterion_main!(benches);
