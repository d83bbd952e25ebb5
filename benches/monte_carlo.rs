//! Monte-Carlo evaluation (issue 24 item 5).
//!
//! Target: a tile-coded linear greedy policy (8 tilings of 8×8 over
//! MountainCar-v0's observation bounds) evaluated by rollouts on all cores
//! at ≥ 5 M environment steps per second on 2 cores. The weights are
//! random, so most episodes run to the 200-step limit; throughput is
//! counted in environment steps. The same again with every observation
//! counted for the run's landscape ([`pessimist::eval::landscape`]), as
//! the judge counts its rollouts'.
//!
//! Also one eval point of a run ([`pessimist::eval::MonteCarlo`] behind
//! the run's judge): fqi on 100k MountainCar transitions (expert, ε =
//! 0.3) with the same tiles, its policy looked up on the data's sample
//! states and greedy on θ off them, [`DEFAULT_ROLLOUTS`] episodes and the
//! data-side metrics. MountainCar pays −1 a step, so the steps an eval
//! point plays are −episode_return × rollouts.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pessimist::algo::Params;
use pessimist::data::Quality;
use pessimist::env::monte_carlo::{Plan, TileGreedy, evaluate};
use pessimist::env::{MountainCar, mountain_car};
use pessimist::eval::landscape::Survey;
use pessimist::experiment::DatasetSource;
use pessimist::experiment::pipeline::{DEFAULT_ROLLOUTS, Data, Setup};
use pessimist::features::{FeatureSpec, TileCoder};
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;
use std::hint::black_box;

fn tile_coded_mountain_car(c: &mut Criterion) {
    let slots = TileCoder::new(2, 8, 8, usize::MAX).slots();
    let mut rng = Pcg64Mcg::seed_from_u64(0);
    let weights = (0..3 * slots).map(|_| rng.random()).collect();
    let policy = TileGreedy::new(&mountain_car::DESCRIPTION, 8, 8, weights).unwrap();
    let plan = Plan {
        episodes: 10_000,
        seed: 0,
        gamma: 0.99,
    };
    let act = |o: &[f64; 2], _: &mut Pcg64Mcg| policy.act(o);
    let steps = evaluate(&MountainCar, act, plan).unwrap().steps;
    let mut group = c.benchmark_group("monte-carlo/MountainCar-v0");
    group.throughput(Throughput::Elements(steps));
    group.sample_size(20);
    group.bench_function(
        "tile-coded greedy, 10k episodes (elements = env steps)",
        |b| {
            b.iter(|| evaluate(&MountainCar, act, black_box(plan)).unwrap());
        },
    );
    // The same with every observation counted for the run's landscape, as
    // the judge counts its rollouts' (the cost of the visitation panel).
    let features = FeatureSpec::tile(8, 8, 4096)
        .unwrap()
        .observations(&mountain_car::DESCRIPTION)
        .unwrap();
    let survey = Survey::new(
        &mountain_car::DESCRIPTION,
        &features,
        ndarray::Array2::zeros((0, 2)).view(),
    )
    .unwrap();
    let visits = survey.visits();
    let counted = |o: &[f64; 2], rng: &mut Pcg64Mcg| {
        visits.record(o);
        act(o, rng)
    };
    group.bench_function(
        "tile-coded greedy, visits counted (elements = env steps)",
        |b| {
            b.iter(|| evaluate(&MountainCar, counted, black_box(plan)).unwrap());
        },
    );
    group.finish();
}

fn eval_point(c: &mut Criterion) {
    let source = DatasetSource::Collect {
        policy: Quality::Expert.with_epsilon(0.3).unwrap(),
        size: 100_000,
        seed: 0,
    };
    let features = FeatureSpec::tile(8, 8, 4096).unwrap();
    let params = pessimist::algo::resolve_params("fqi", &Params::new()).unwrap();
    let mut training = Setup {
        env: mountain_car::ID,
        data: Data::Source(&source, None),
        algo: "fqi",
        params: &params,
        gamma: 0.99,
        seed: 0,
        features: &features,
        rollouts: None,
    }
    .build()
    .unwrap();
    for _ in 0..100 {
        training.learner.step().unwrap();
    }
    let learner = &training.learner;
    let (q, policy, theta) = (learner.q(), learner.policy(), learner.weights());
    let point = || {
        training
            .judge
            .evaluate(&q, &policy, theta, learner.act())
            .unwrap()
    };
    let m = point();
    let steps = (-m.episode_return * DEFAULT_ROLLOUTS as f64).round() as u64;
    println!(
        "eval point: {DEFAULT_ROLLOUTS} rollouts, {steps} steps, J = {:.3} ± {:.3}, return {:.2} ± {:.2}",
        m.true_return, m.true_return_se, m.episode_return, m.episode_return_se
    );
    let mut group = c.benchmark_group("monte-carlo/MountainCar-v0");
    group.throughput(Throughput::Elements(steps));
    group.sample_size(20);
    group.bench_function(
        "eval point of fqi on 100k sample states (elements = env steps)",
        |b| b.iter(point),
    );
    group.finish();
}

criterion_group!(benches, tile_coded_mountain_car, eval_point);
criterion_main!(benches);
