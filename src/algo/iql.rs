//! `iql`: implicit Q-learning (Kostrikov, Nair & Levine 2022,
//! arXiv:2110.06169), tabular form.
//! Never queries an action the data does not show:
//!
//!   V(s)   = argmin_v E_{a~π̂_β(·|s)} L_τ(f(s,a) − v),  L_τ(u) = |τ − 1(u<0)| u²,
//!   f(s,a) ← r + γ V(s')                          on the observed pairs,
//!   π(a|s) ∝ π̂_β(a|s) exp(β (f(s,a) − V(s)))       (advantage-weighted extraction).
//!
//! V(s) is the τ-expectile of f(s,·) under the data's action frequencies,
//! solved exactly each sweep (piecewise linear in v, ≤ |A| pieces). τ = 0.5
//! gives the mean, so f evaluates the behaviour (SARSA); τ → 1 gives the
//! maximum over the actions the data shows, so f approaches the optimum
//! within the data's support. β = 0 extracts π̂_β (behaviour cloning).
//!
//! Unseen pairs: their values stay 0 and enter neither V nor π (π̂_β = 0 on
//! them); states the data never visits have a uniform π̂_β, so V there is the
//! expectile of their (zero) values.
//!
//! Keys ([`KEYS`]): `tau`, `beta` (the inverse temperature in the data's
//! value unit, [`super::scale`]: π ∝ π̂_β exp(β (f − V) / unit)). The
//! paper's β = 3 goes with rewards rescaled so that the dataset's returns
//! span 1000; here the unit is the spread of the values the data supports,
//! and β's default was chosen on `experiments/defaults_panel.toml`.
//! Loss: the sweep's largest |ΔQ|.
//!
//! With features (Q = θᵀφ, [`super::linear::Projected`]): least-squares
//! fitted iteration on the observed pairs with the expectile target, V(s')
//! from Φθ_k on the data's actions of s'. The target never reads an unseen
//! action, but the fit extrapolates like fqi's: with one action
//! (TwoState-v0) the expectile is that action's value. V(s') is clipped to
//! the returns the rewards allow, as `brac`'s v(s') (a no-op on tables; on
//! TwoState-v0 and on 1k transitions of Acrobot it stops the fit running
//! away).
//! Off the data's states the extraction tilts π̂_β(·|o) on clip(Q) − U·u, as
//! `brac`'s actor does ([`Act::tilted`]).

use super::act::Act;
use super::linear::{self, Cells, Projectable};
use super::scale::value_unit;
use super::tabular::{Backup, Rule};
use super::{Algorithm, Key, ParamReader, Params, TrainData};
use crate::error::Result;
use crate::mdp::Policy;
use ndarray::{Array2, ArrayView2};

pub const NAME: &str = "iql";

const TAU: Key = Key::number("tau", 0.7, 0.5, 0.999_999)
    .meaning("V's expectile of f over the data's actions: 0.5 evaluates the behaviour, → 1 the best data action");
const BETA: Key = Key::number("beta", 30.0, 0.0, 1e12)
    .unit("1/U")
    .meaning("the extraction's inverse temperature, π ∝ π̂_β exp(β (f − V)): 0 is bc");

/// iql's keys.
pub const KEYS: &[Key] = &[TAU, BETA];

pub struct Config {
    pub tau: f64,
    pub beta: f64,
}

impl Config {
    pub fn read(params: &Params) -> Result<(Self, Params)> {
        let mut r = ParamReader::new(NAME, params);
        let tau = r.number_of(&TAU)?;
        let beta = r.number_of(&BETA)?;
        Ok((Config { tau, beta }, r.finish()?))
    }
}

pub fn build(params: &Params, data: &TrainData) -> Result<Box<dyn Algorithm>> {
    let (config, _) = Config::read(params)?;
    let c = &data.compiled;
    let unit = value_unit(data);
    let rule = Iql {
        behavior: c.behavior_estimate(),
        tau: config.tau,
        temperature: unit / config.beta,
        unit,
        bounds: data.return_bounds(),
        backup: Backup::new(c, data.gamma),
        v: vec![0.0; c.n_states],
        sorted: Vec::with_capacity(c.n_actions),
    };
    let init = Array2::zeros((c.n_states, c.n_actions));
    linear::or_table(rule, &init, Cells::Observed, data)
}

pub struct Iql {
    behavior: Policy,
    tau: f64,
    /// The extraction's temperature in value units, unit / β.
    temperature: f64,
    /// The data's value unit, the scale of the penalty off the data.
    unit: f64,
    /// The lowest and highest returns the rewards allow, V's range.
    bounds: (f64, f64),
    backup: Backup,
    v: Vec<f64>,
    /// Scratch for the expectile: (value, weight) sorted by value.
    sorted: Vec<(f64, f64)>,
}

impl Rule for Iql {
    fn step(&mut self, q: &mut Array2<f64>, _iteration: u64) -> f64 {
        for s in self.backup.read_states() {
            let (f, w) = (q.row(s), self.behavior.row(s));
            self.v[s] = expectile(
                self.tau,
                f.to_slice().expect("row"),
                w.to_slice().expect("row"),
                &mut self.sorted,
            )
            .clamp(self.bounds.0, self.bounds.1);
        }
        self.backup
            .apply(&self.v, q.as_slice_mut().expect("Q is contiguous"))
    }

    fn policy(&self, q: ArrayView2<f64>) -> Policy {
        self.act(q).table(&self.behavior, q)
    }

    /// exp(β (f − V)) / Z = exp(β f) / Z': V cancels in the normalisation.
    fn act(&self, _q: ArrayView2<f64>) -> Act {
        Act::tilted(self.temperature, self.unit, self.bounds)
    }
}

/// The τ-expectile of the values `f` weighted by `w`: the root of
/// τ Σ_{f>v} w (f − v) = (1 − τ) Σ_{f<v} w (v − f), found on the linear
/// piece between two consecutive sorted values (`sorted` is scratch).
fn expectile(tau: f64, f: &[f64], w: &[f64], sorted: &mut Vec<(f64, f64)>) -> f64 {
    sorted.clear();
    sorted.extend(
        f.iter()
            .zip(w)
            .filter(|(_, w)| **w > 0.0)
            .map(|(&x, &w)| (x, w)),
    );
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (mut below_w, mut below_x) = (0.0, 0.0);
    let mut above_w: f64 = sorted.iter().map(|p| p.1).sum();
    let mut above_x: f64 = sorted.iter().map(|p| p.0 * p.1).sum();
    for (k, &(x, w)) in sorted.iter().enumerate() {
        below_w += w;
        below_x += w * x;
        above_w -= w;
        above_x -= w * x;
        // On [x_k, x_{k+1}] the values ≤ x_k are below v, the rest above.
        let v = (tau * above_x + (1.0 - tau) * below_x) / (tau * above_w + (1.0 - tau) * below_w);
        let next = sorted.get(k + 1).map_or(f64::INFINITY, |p| p.0);
        if v <= next {
            return v.max(x);
        }
    }
    unreachable!("the last piece always holds the root")
}

impl Projectable for Iql {}

#[cfg(test)]
mod tests {
    use super::*;

    /// The expectile satisfies its first-order condition.
    #[test]
    fn expectile_solves_the_asymmetric_least_squares() {
        let (f, w) = ([3.0, -1.0, 7.0, 100.0], [0.2, 0.5, 0.3, 0.0]);
        for tau in [0.5, 0.7, 0.9, 0.99] {
            let v = expectile(tau, &f, &w, &mut Vec::new());
            let residual: f64 = f
                .iter()
                .zip(&w)
                .map(|(x, p)| p * (x - v) * if *x > v { tau } else { 1.0 - tau })
                .sum();
            assert!(
                residual.abs() < 1e-12,
                "τ = {tau}: v = {v}, residual {residual}"
            );
            assert!(v < 7.0, "the unseen action's 100 must not count");
        }
        let mean = 0.2 * 3.0 - 0.5 + 0.3 * 7.0;
        assert!((expectile(0.5, &f, &w, &mut Vec::new()) - mean).abs() < 1e-12);
    }
}
