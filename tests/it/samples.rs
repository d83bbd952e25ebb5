//! The sample-based form of a continuous dataset against the tabular form
//! of the same data discretised: with one-hot features of a grid's cells
//! (tile coding with one tiling), the sample states in one cell share one
//! feature row, so they are one state of the sample-based empirical MDP
//! (their data pooled: the count-weighted means, π̂_β and n(s,a) of the
//! cell), and the linear form on one-hot features is the table. So every
//! learner with a linear form gives the tabular Q on the cells the data
//! visits, to rounding, and the same policy there.

use crate::support::learning::{params, text, trained};
use pessimist::algo::{Algorithm, ParamValue, Params, TrainData};
use pessimist::data::observed::collect::collect_obs;
use pessimist::data::{Dataset, EmpiricalMdp, Quality, Samples};
use pessimist::env::{MountainCar, mountain_car};
use pessimist::features::{FeatureSpec, TileCoder};
use std::sync::Arc;

const TILES: usize = 6;
const GAMMA: f64 = 0.9;

/// The sample-based data with one-hot cell features, the tabular data on
/// the cells, and each sample state's cell (read off the transitions).
fn both_forms() -> (TrainData, TrainData, Vec<usize>) {
    let quality = Quality::Expert.with_epsilon(0.3).unwrap();
    let (data, _) = collect_obs(&MountainCar, quality, 20_000, 4).unwrap();
    let t = data.transitions();
    let samples = Samples::new(&t, 3).unwrap();
    let spec = FeatureSpec::read(&params(&[
        ("kind", text("tile")),
        ("tilings", ParamValue::Number(1.0)),
        ("tiles", ParamValue::Number(TILES as f64)),
    ]))
    .unwrap();
    let features = spec.observations(&mountain_car::DESCRIPTION).unwrap();
    // The grid: one tiling's tile of each scaled observation.
    let coder = TileCoder::new(2, 1, TILES, usize::MAX);
    let cell = |o: ndarray::ArrayView2<f64>| {
        let x = features.coordinates(o).unwrap();
        coder
            .active(x.view())
            .iter()
            .map(|&c| c as usize)
            .collect::<Vec<_>>()
    };
    // The cells the data visits, numbered in order of first sight (each
    // transition's observation, then its next): a grid cell the data never
    // visits is no state of either form (vi-lcb's bonus counts the states).
    let mut number = std::collections::HashMap::new();
    let mut id = |c: usize| {
        let next = number.len();
        *number.entry(c).or_insert(next)
    };
    let (mut from, mut to) = (Vec::new(), Vec::new());
    for (o, next) in cell(t.obs).into_iter().zip(cell(t.next_obs)) {
        from.push(id(o));
        to.push(id(next));
    }
    let mut cells = Dataset::new(number.len(), 3);
    for i in 0..t.action.len() {
        cells.push(
            0,
            i as u32,
            from[i] as u32,
            t.action[i],
            t.reward[i],
            to[i] as u32,
            t.terminated[i],
            false,
        );
    }
    let tabular = TrainData {
        env: None,
        compiled: Arc::new(EmpiricalMdp::compile(&cells)),
        dataset: Arc::new(cells),
        gamma: GAMMA,
        seed: 0,
        phi: None,
    };
    let phi = features.phi(samples.points.view()).unwrap();
    let sampled = TrainData::samples(samples, phi, GAMMA, 0).unwrap();
    let mut state_cell = vec![usize::MAX; sampled.compiled.n_states];
    let d = &sampled.dataset;
    for i in 0..d.len() {
        for (s, c) in [(d.state[i], from[i]), (d.next_state[i], to[i])] {
            let known = &mut state_cell[s as usize];
            assert!(
                *known == usize::MAX || *known == c,
                "state {s} in two cells"
            );
            *known = c;
        }
    }
    // The sample form merges the points of a cell in the same order.
    assert!(state_cell.iter().enumerate().all(|(s, &c)| s == c));
    (sampled, tabular, state_cell)
}

/// Q on the cells the data visits: the sample form's at each visited
/// state equals the tabular form's at its cell, to 1e-9, and so do the
/// policies (to 1e-6), except where two actions' values, or a value and a bound of
/// the returns, are within 1e-9 without being equal (rounding may break
/// such a tie either way).
fn assert_same(
    name: &str,
    sampled: &dyn Algorithm,
    tabular: &dyn Algorithm,
    data: &TrainData,
    cell: &[usize],
) {
    let (q, table) = (sampled.q(), tabular.q());
    let (pi, pi_table) = (sampled.policy(), tabular.policy());
    let visited: Vec<usize> = (0..cell.len())
        .filter(|&s| data.compiled.state_count[s] > 0)
        .collect();
    let mut near_ties = 0;
    for &s in &visited {
        let c = cell[s];
        for a in 0..3 {
            assert!(
                (q[[s, a]] - table[[c, a]]).abs() < 1e-9,
                "{name}: state {s} (cell {c}) action {a}: {} vs {}",
                q[[s, a]],
                table[[c, a]]
            );
        }
        // Thresholds a rule compares values with: each other, and the
        // bounds of the returns (vi-lcb acts by π̂_β at its floor). Where
        // the two rows are not the same bits, a comparison within 1e-9 may
        // come out either way.
        let (lo, hi) = data.return_bounds();
        let row = table.row(c);
        let same_bits = (0..3).all(|a| q[[s, a]].to_bits() == row[a].to_bits());
        let near_tie = !same_bits
            && row.iter().enumerate().any(|(a, &x)| {
                row.iter()
                    .take(a)
                    .chain([&lo, &hi])
                    .any(|&y| (x - y).abs() <= 1e-9)
            });
        if near_tie {
            near_ties += 1;
            continue;
        }
        for a in 0..3 {
            // atac's actor accumulates its mirror-descent steps: 4e-8.
            assert!(
                (pi[[s, a]] - pi_table[[c, a]]).abs() < 1e-6,
                "{name}: state {s}: π {} vs {}",
                pi.row(s),
                pi_table.row(c)
            );
        }
    }
    assert!(
        near_ties < visited.len(),
        "{name}: every state at a near tie"
    );
}

#[test]
fn learners_on_sample_states_are_tabular_on_the_cells() {
    let (sampled, tabular, cell) = both_forms();
    assert_eq!(sampled.compiled.n_transitions, 20_000);
    // One state per cell visited: 7 × 7 tiles at most.
    assert!(cell.len() <= 49, "{} sample states", cell.len());
    assert_eq!(cell.len(), tabular.compiled.n_states);
    for (name, p, iterations) in [
        // γ = 0.9: 400 iterations leave 0.9^400 of the start, far below 1e-9.
        ("fqi", Params::new(), 400),
        ("fqe", Params::new(), 400),
        ("fqe", params(&[("target", text("uniform"))]), 400),
        ("cql", Params::new(), 30),
        ("iql", Params::new(), 30),
        ("bcq", Params::new(), 30),
        ("brac", Params::new(), 30),
        ("awac", Params::new(), 30),
        ("td3bc", Params::new(), 30),
        ("vi-lcb", Params::new(), 30),
        ("atac", Params::new(), 30),
        ("fisher-brc", Params::new(), 30),
        ("combo", Params::new(), 30),
    ] {
        let s = trained(name, &p, &sampled, iterations);
        let t = trained(name, &p, &tabular, iterations);
        assert_same(name, &*s, &*t, &sampled, &cell);
    }
}

/// Learners that need the true model say so on sample states.
#[test]
fn sample_states_have_no_model() {
    let (sampled, _, _) = both_forms();
    for (name, p, says) in [
        ("online", Params::new(), "the online baseline"),
        ("fqe", params(&[("target", text("optimal"))]), "optimal"),
    ] {
        let e = pessimist::algo::build(name, &p, &sampled)
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains(says) && e.contains("table of states"),
            "{name}: {e}"
        );
    }
}
