//! Monte-Carlo evaluation (issue 24 item 5).
//!
//! Target: a tile-coded linear greedy policy (8 tilings of 8×8 over
//! MountainCar-v0's observation bounds) evaluated by rollouts on all cores
//! at ≥ 5 M environment steps per second on 2 cores. The weights are
//! random, so most episodes run to the 200-step limit; throughput is
//! counted in environment steps.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pessimist::env::monte_carlo::{Plan, TileGreedy, evaluate};
use pessimist::env::{MountainCar, mountain_car};
use pessimist::features::TileCoder;
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
    group.finish();
}

criterion_group!(benches, tile_coded_mountain_car);
criterion_main!(benches);
