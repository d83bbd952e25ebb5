//! Linear function approximation.
//!
//! Targets (one core): one least-squares FQI iteration on 1M transitions ×
//! 64 state features × 4 actions ≤ 20 ms (the Gram matrix is factored
//! once; an iteration is one pass over the compiled pairs and two
//! triangular solves); tile coding of 1M two-dimensional states with 8
//! tilings ≤ 10 ms. Also one projected iteration of cql (every action of
//! the data's states) and of vi-lcb (the observed pairs) on the same data:
//! Φθ as a table, the tabular rule's step, the projection (two fits). Each
//! of these iterations no slower than numpy's over the compiled pairs
//! (`python3 benches/linear_numpy.py`, run in the same minute).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ndarray::Array2;
use pessimist::algo::{self, ParamValue, Params, TrainData};
use pessimist::data::{self, Quality};
use pessimist::features::{FeatureSpec, TileCoder};
use pessimist::mdp::envs;
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;
use std::hint::black_box;
use std::sync::Arc;

/// FrozenLake8x8, 1M random transitions, one-hot state features in
/// per-action blocks: 64 states × 4 actions = 256 weights.
fn frozen_lake_1m() -> TrainData {
    let mdp = envs::make("FrozenLake8x8-v1").unwrap();
    let dataset = data::collect(&mdp, Quality::Random, 1_000_000, 0, 0.99).unwrap();
    let features = FeatureSpec::read(&Params::from([(
        "kind".to_string(),
        ParamValue::Text("onehot".into()),
    )]))
    .unwrap();
    let phi = features.build(&mdp, 0).unwrap();
    TrainData::new(Arc::new(mdp), dataset, 0.99, 0).with_features(phi)
}

fn least_squares_fqi(c: &mut Criterion) {
    let data = frozen_lake_1m();
    let mut group = c.benchmark_group("linear-fqi/FrozenLake8x8-v1/random-1M");
    group.bench_function("build (Gram + Cholesky)", |b| {
        b.iter(|| algo::build("fqi", &Params::new(), &data).unwrap());
    });
    let mut learner = algo::build("fqi", &Params::new(), &data).unwrap();
    group.bench_function("iteration", |b| b.iter(|| learner.step().unwrap()));
    group.finish();
}

/// One projected iteration of cql and of vi-lcb.
fn projected(c: &mut Criterion) {
    let data = frozen_lake_1m();
    let mut group = c.benchmark_group("linear-projected/FrozenLake8x8-v1/random-1M");
    for name in ["cql", "vi-lcb"] {
        let mut learner = algo::build(name, &Params::new(), &data).unwrap();
        group.bench_function(format!("{name} iteration"), |b| {
            b.iter(|| learner.step().unwrap());
        });
    }
    group.finish();
}

fn tile_coding(c: &mut Criterion) {
    let n = 1_000_000;
    let mut rng = Pcg64Mcg::seed_from_u64(0);
    let states = Array2::from_shape_simple_fn((n, 2), || rng.random::<f64>());
    let coder = TileCoder::new(2, 8, 8, 4096);
    let mut group = c.benchmark_group("tile-coding");
    group.throughput(Throughput::Elements(n as u64));
    group.bench_function("1M states × 8 tilings", |b| {
        b.iter(|| black_box(coder.active(states.view())));
    });
    group.finish();
}

criterion_group!(benches, least_squares_fqi, projected, tile_coding);
criterion_main!(benches);
