//! The data's own unit of value, in which every temperature, penalty and
//! bonus of the pessimistic learners is stated.
//!
//! A temperature in absolute reward units means something else on every
//! environment: α = 0.1 is a cold actor on Taxi, whose values span about a
//! hundred, and a frozen one on FrozenLake, whose values stay below 1, where
//! it copies the behaviour. The unit here is the spread of the values the
//! data supports, max − min of Q̂*(s,a) over the observed pairs, where Q̂*
//! is the optimal value of the empirical MDP restricted to the data's
//! actions (value iteration at build time; states the data never leaves
//! from are worth 0). It scales with the rewards (multiplying every reward
//! by c > 0 multiplies it by c, so no policy changes), it does not move
//! with a constant shift of the values, and it needs nothing the data does
//! not show. `vi-lcb`'s bonus uses the same spread, as its ΔV.
//!
//! On overlapping features of observations ([`super::linear::generalises`])
//! the unit is instead H = f_max − f_min, the return range the rewards
//! allow (PEVI's horizon, as `vi-lcb` there). There the data's pairs are
//! sample states of a few trajectories, and their spread is an accident
//! of whether the data shows a failure: CartPole's controller earns +1 a
//! step and its pole never falls, so every pair's Q̂* is 1/(1 − γ) and the
//! spread is 9e-13 (seed 0 at 10k), every temperature and penalty in it
//! goes to 0, and the tilted actor is greedy on regression noise (0–26
//! where bc scores 96, docs/scores.md). H scales with the rewards as the
//! spread does and does not depend on what the data happens to show.

use super::TrainData;
use super::tabular::Backup;
use crate::data::EmpiricalMdp;
use crate::mdp::solve::max_value;
use crate::memo::Memo;
use std::sync::{Arc, Weak};

/// At most this many sweeps of the restricted value iteration; it stops
/// earlier when a sweep changes no value by more than [`TOLERANCE`] of the
/// spread (a relative test, so the stopping sweep does not depend on the
/// rewards' scale).
const MAX_SWEEPS: usize = 100_000;
const TOLERANCE: f64 = 1e-10;
/// How many (dataset, γ) spreads a process keeps: the learners of a sweep
/// share each dataset (see [`crate::experiment::datasets`]).
const KEPT_SPREADS: usize = 64;

/// The spread of Q̂* over the observed pairs, or H on overlapping features
/// of observations (see the module doc); 1 where it is 0 (no reward, or a
/// single value), where no policy depends on a temperature's unit.
pub fn value_unit(data: &TrainData) -> f64 {
    let unit = if super::linear::generalises(data) {
        let (lo, hi) = data.return_bounds();
        hi - lo
    } else {
        value_spread(data)
    };
    if unit > 0.0 { unit } else { 1.0 }
}

/// The spread itself, 0 where the data supports a single value (or none):
/// the scale of a penalty that must vanish when there is nothing to be
/// pessimistic about (`vi-lcb`'s bonus on reward-free data).
pub fn value_spread(data: &TrainData) -> f64 {
    let spread = shared_spread(data);
    if spread.is_finite() { spread } else { 0.0 }
}

/// [`restricted_optimum_spread`], once per compiled dataset and γ while
/// the dataset lives: every learner on a shared dataset asks for it, and
/// its value iteration is a good part of a short run's setup. A pure
/// function of (data, γ), so sharing changes no number.
fn shared_spread(data: &TrainData) -> f64 {
    // A weak key: the memo keeps no dataset alive, and a dropped one's
    // entry matches nothing.
    static KEPT: Memo<(Weak<EmpiricalMdp>, u64), f64> = Memo::new(KEPT_SPREADS);
    let gamma = data.gamma.to_bits();
    KEPT.get_or_compute(
        |(c, g)| *g == gamma && c.upgrade().is_some_and(|c| Arc::ptr_eq(&c, &data.compiled)),
        || (Arc::downgrade(&data.compiled), gamma),
        || restricted_optimum_spread(data),
    )
}

/// max − min of Q̂* over the observed pairs, by value iteration on the
/// empirical MDP over the data's actions only (−∞ with no pairs).
fn restricted_optimum_spread(data: &TrainData) -> f64 {
    let c = &data.compiled;
    let (ns, na) = (c.n_states, c.n_actions);
    let backup = Backup::new(c, data.gamma);
    let observed: Vec<usize> = c
        .pairs
        .iter()
        .map(|p| p.state as usize * na + p.action as usize)
        .collect();
    let mut q = vec![f64::NEG_INFINITY; ns * na];
    for &cell in &observed {
        q[cell] = 0.0;
    }
    let mut v = vec![0.0; ns];
    let spread_of = |q: &[f64]| {
        let (lo, hi) = observed
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &i| {
                (lo.min(q[i]), hi.max(q[i]))
            });
        hi - lo
    };
    for _ in 0..MAX_SWEEPS {
        for s in backup.read_states() {
            let best = max_value(&q[s * na..(s + 1) * na]);
            // A successor the data never leaves from is worth 0.
            v[s] = if best.is_finite() { best } else { 0.0 };
        }
        let change = backup.apply(&v, &mut q);
        if change <= TOLERANCE * spread_of(&q) {
            break;
        }
    }
    spread_of(&q)
}
