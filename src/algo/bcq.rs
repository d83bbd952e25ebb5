//! `bcq`: discrete batch-constrained Q-learning (Fujimoto, Conti,
//! Ghavamzadeh & Pineau 2019, "Benchmarking Batch Deep Reinforcement
//! Learning Algorithms", arXiv:1910.01708; the discrete form of BCQ,
//! Fujimoto, Meger & Precup 2019, arXiv:1812.02900):
//!
//!   f(s,a) ← r + γ max_{a' ∈ A_τ(s')} f(s', a'),
//!   A_τ(s) = { a : π̂_β(a|s) / max_b π̂_β(b|s) ≥ τ },
//!
//! on the observed pairs of the compiled dataset, one sweep an iteration.
//! The policy is greedy over A_τ(s) (ties to the lowest action).
//!
//! τ slides from naive Q-learning to imitation: τ = 0 admits every action
//! (exactly `fqi`'s sweep), τ = 1 only the behaviour's most frequent ones,
//! never an action the data does not show in that state. States the data
//! never visits have a uniform π̂_β, so every action is admitted there;
//! unseen pairs keep their `q_init` value and are only chosen where they
//! are admitted.
//!
//! Keys ([`KEYS`]): `tau`, `q_init` (as `fqi`). Loss: the sweep's
//! largest |ΔQ|.
//!
//! With features (Q = θᵀφ, [`super::linear::Projected`]): least-squares
//! FQI on the observed pairs (weighted by their counts) with bcq's target
//! r + γ max_{a' ∈ A_τ(s')} θ_kᵀφ(s',a'), A_τ from the counts as above.
//! The max stays inside the data's support, but shared features still
//! carry the fit to unseen pairs; it can diverge wherever the features
//! make fqi's fit expand and the behaviour shows the greedy action (on
//! TwoState-v0, one action, it is fqi exactly).

use super::act::Act;
use super::linear::{self, Cells, Projectable};
use super::tabular::{Backup, INIT_SCALE, Q_INIT, QInit, Rule};
use super::{Algorithm, Key, ParamReader, Params, TrainData};
use crate::error::Result;
use crate::mdp::{Policy, solve};
use ndarray::{Array2, ArrayView2};

pub const NAME: &str = "bcq";

const TAU: Key = Key::number("tau", 0.3, 0.0, 1.0).meaning(
    "the share of the behaviour's most frequent action an action needs to be admitted: 0 admits all (fqi), 1 only the most frequent",
);

/// bcq's keys.
pub const KEYS: &[Key] = &[TAU, Q_INIT, INIT_SCALE];

pub struct Config {
    pub tau: f64,
    pub q_init: QInit,
}

impl Config {
    pub fn read(params: &Params) -> Result<(Self, Params)> {
        let mut r = ParamReader::new(NAME, params);
        let tau = r.number_of(&TAU)?;
        let q_init = QInit::read(&mut r)?;
        Ok((Config { tau, q_init }, r.finish()?))
    }
}

pub fn build(params: &Params, data: &TrainData) -> Result<Box<dyn Algorithm>> {
    let (config, _) = Config::read(params)?;
    let behavior = data.compiled.behavior_estimate();
    let admitted = behavior
        .outer_iter()
        .map(|row| {
            let top = solve::max_value(row);
            row.iter().map(|&p| p >= config.tau * top).collect()
        })
        .collect();
    let rule = Bcq {
        tau: config.tau,
        behavior,
        admitted,
        backup: Backup::new(&data.compiled, data.gamma),
        v: vec![0.0; data.compiled.n_states],
    };
    linear::or_table(rule, &config.q_init.table(data), Cells::Observed, data)
}

pub struct Bcq {
    tau: f64,
    behavior: Policy,
    /// A_τ(s) as a flag per action.
    admitted: Vec<Vec<bool>>,
    backup: Backup,
    v: Vec<f64>,
}

impl Rule for Bcq {
    fn step(&mut self, q: &mut Array2<f64>, _iteration: u64) -> f64 {
        for s in self.backup.read_states() {
            self.v[s] = self.best(s, q.row(s).iter().copied());
        }
        self.backup
            .apply(&self.v, q.as_slice_mut().expect("Q is contiguous"))
    }

    fn policy(&self, q: ArrayView2<f64>) -> Policy {
        self.act(q).table(&self.behavior, q)
    }

    fn act(&self, _q: ArrayView2<f64>) -> Act {
        Act::Admitted { tau: self.tau }
    }
}

impl Bcq {
    /// The best admitted action's value at `s`.
    fn best(&self, s: usize, values: impl Iterator<Item = f64>) -> f64 {
        let mut best = f64::NEG_INFINITY;
        for (a, x) in values.enumerate() {
            if self.admitted[s][a] && x > best {
                best = x;
            }
        }
        best
    }
}

impl Projectable for Bcq {}
