//! Linear function approximation.
//!
//! Targets (one core): one least-squares FQI iteration on 1M transitions ×
//! 64 state features × 4 actions ≤ 20 ms (the Gram matrix is factored
//! once; an iteration is one pass over the compiled pairs and two
//! triangular solves); tile coding of 1M two-dimensional states with 8
//! tilings ≤ 10 ms; one least-squares FQI iteration on the sample states
//! of 1M MountainCar transitions (its controller with ε = 0.3) with 8
//! tilings of 8×8 hashed into 512 slots, 3 action blocks = 1536 features,
//! ≤ 20 ms: O(nonzeros) a pass, ψ computed once (the one-off costs, the
//! features and the Gram matrix with its factor, are measured too; and the
//! same with Fourier features, whose states do not merge). Also one projected iteration of cql (every action of
//! the data's states) and of vi-lcb (the observed pairs) on the same data:
//! Φθ as a table, the tabular rule's step, the projection (two fits). Each
//! of these iterations no slower than numpy's over the compiled pairs
//! (`python3 benches/linear_numpy.py`, run in the same minute). And π̂_β
//! of 1M such transitions (ε = 0.05) well under 5 s (issue 24).

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use ndarray::Array2;
use pessimist::algo::{self, ParamValue, Params, TrainData};
use pessimist::data::{self, Quality, Samples};
use pessimist::env::{MountainCar, mountain_car};
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

/// `n` MountainCar transitions of its controller, each action replaced by
/// a uniform one with probability `epsilon` (the coverage knob), seeded.
fn mountain_car(epsilon: f64, n: usize) -> Samples {
    let quality = Quality::Expert.with_epsilon(epsilon).unwrap();
    let (data, _) = data::observed::collect::collect_obs(&MountainCar, quality, n, 0).unwrap();
    Samples::new(&data.transitions(), 3).unwrap()
}

/// Tile coding is piecewise constant, so its 1M sample states merge into
/// the few thousand cells of the tilings' common refinement; Fourier
/// features (order 3: 16 a state) tell every point apart, so its pass is
/// over every sample state: O(states × nonzeros).
fn sample_states_fqi(c: &mut Criterion) {
    let samples = mountain_car(0.3, 1_000_000);
    let spec = |pairs: [(&str, ParamValue); 2]| {
        FeatureSpec::read(&pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()).unwrap()
    };
    let text = |s: &str| ParamValue::Text(s.into());
    for (name, spec) in [
        (
            "tile-8x8x8",
            spec([("kind", text("tile")), ("tiles", ParamValue::Number(8.0))]),
        ),
        (
            "fourier-3",
            spec([
                ("kind", text("fourier")),
                ("order", ParamValue::Number(3.0)),
            ]),
        ),
    ] {
        let features = spec.observations(&mountain_car::DESCRIPTION).unwrap();
        let mut group = c.benchmark_group(format!("linear-fqi/MountainCar-v0/samples-1M/{name}"));
        group.sample_size(10);
        group.bench_function("features (ψ of every sample state)", |b| {
            b.iter(|| black_box(features.phi(samples.points.view()).unwrap()));
        });
        let phi = features.phi(samples.points.view()).unwrap();
        let data = TrainData::samples(samples.clone(), phi, 0.99, 0).unwrap();
        eprintln!("{name}: {} states after merging", data.compiled.n_states);
        group.bench_function("build (Gram + Cholesky)", |b| {
            b.iter(|| algo::build("fqi", &Params::new(), &data).unwrap());
        });
        let mut learner = algo::build("fqi", &Params::new(), &data).unwrap();
        group.bench_function("iteration", |b| b.iter(|| learner.step().unwrap()));
        group.finish();
    }
}

/// π̂_β, the behaviour estimate every policy-constrained learner reads
/// once per dataset, on MountainCar's narrow data (its controller with
/// ε = 0.05) with 8 tilings of 8×8 hashed into 512 slots: the sparse
/// logistic fit over the merged sample states and π̂_β's table. Each
/// sample gets fresh data (the estimate is kept per dataset), built
/// outside the timed call.
fn behaviour_estimate(c: &mut Criterion) {
    let spec = FeatureSpec::tile(8, 8, 512).unwrap();
    let features = spec.observations(&mountain_car::DESCRIPTION).unwrap();
    let mut group = c.benchmark_group("behaviour/MountainCar-v0/expert-0.05/tile-8x8x8");
    group.sample_size(10);
    for (label, n) in [("100k", 100_000), ("1M", 1_000_000)] {
        let samples = mountain_car(0.05, n);
        let phi = features.phi(samples.points.view()).unwrap();
        let data = || TrainData::samples(samples.clone(), phi.clone(), 0.99, 0).unwrap();
        eprintln!("{label}: {} states after merging", data().compiled.n_states);
        group.bench_function(format!("fit {label}"), |b| {
            b.iter_batched(
                data,
                |data| black_box(data.behavior().unwrap()),
                BatchSize::PerIteration,
            );
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

criterion_group!(
    benches,
    least_squares_fqi,
    projected,
    tile_coding,
    sample_states_fqi,
    behaviour_estimate
);
criterion_main!(benches);
