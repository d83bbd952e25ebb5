//! `brac`: behaviour-regularised actor-critic (Wu, Tucker & Nachum 2019,
//! arXiv:1911.11361),
//! tabular form with the actor in closed form. The actor maximises
//! E_π f(s,·) − α KL(π(·|s) ‖ π̂_β(·|s)), so
//!
//!   π(a|s) ∝ π̂_β(a|s) exp(f(s,a) / α),
//!
//! and the critic, one sweep on the observed pairs an iteration, is
//! - `variant = "value"` (BRAC-v, default): the penalty in the target,
//!   f(s,a) ← r + γ (E_π f(s',·) − α KL(π(·|s') ‖ π̂_β(·|s'))), which is
//!   r + γ α log Σ_a' π̂_β(a'|s') exp(f(s',a') / α) in closed form;
//! - `variant = "policy"` (BRAC-p): the penalty on the actor only,
//!   f(s,a) ← r + γ E_π f(s',·).
//!
//! α slides from imitation to naive Q-learning: α → ∞ gives π̂_β, α → 0 the
//! greedy policy over the behaviour's support (which is `fqi`'s greedy
//! policy where the data shows every action). Actions the data never shows
//! in a visited state have π̂_β = 0, so the KL keeps π off them (their
//! `q_init` value is never used there); states the data never visits have a
//! uniform π̂_β.
//!
//! Keys ([`KEYS`]): `variant`, `alpha` (in the data's value unit,
//! [`super::scale`]: the temperature is α times the spread of
//! the values the data supports, so it means the same on FrozenLake, whose
//! values stay below 1, as on Taxi, whose values span a hundred; chosen on
//! `experiments/defaults_panel.toml`), `q_init` (as `fqi`). Loss: the
//! sweep's largest |ΔQ|. The paper states α in absolute units (tuned per
//! D4RL task); it has no normalisation of its own.
//!
//! With features (Q = θᵀφ, [`super::linear::Projected`]): least-squares
//! fitted iteration on the observed pairs (weighted by their counts) with
//! the target above computed from Φθ_k; the actor stays in closed form on
//! Φθ. The KL keeps the backup on the behaviour's actions but not the fit's
//! extrapolation. The next state's value v(s') is clipped to
//! the returns the rewards allow, [min(0, r_min), max(0, r_max)] / (1 − γ)
//! (atac's F): a no-op on tables, whose values never leave that range from
//! q_init = "zero", but on 1k transitions of Acrobot (512 slots an action
//! for about 330 pairs each) the fitted iteration ran Q to 1e3–1e15 on two
//! seeds of three and the cold tilt followed it (0 against bc's 80). On
//! TwoState-v0 (one action, π = π̂_β, no penalty) the clip, to [0, 0], is
//! what keeps it from running away as fqi does.
//!
//! Off the data's states (features of observations) the actor is the same
//! tilt on clip(Q) − U·u ([`Act::tilted`], Q clipped to the returns the
//! rewards allow): π̂_β(a|o) is small on an action the data rarely shows
//! near o, but θ's extrapolation there is not, and at these temperatures
//! the tilt on Q alone followed it below bc (docs/scores.md); the data's
//! uncertainty u prices it.

use super::act::Act;
use super::linear::{self, Cells, Projectable};
use super::scale::value_unit;
use super::tabular::{Backup, INIT_SCALE, Q_INIT, QInit, Rule, expected, soft_value, tilt};
use super::{Algorithm, Key, ParamReader, Params, TrainData};
use crate::error::Result;
use crate::mdp::Policy;
use ndarray::{Array2, ArrayView2};

pub const NAME: &str = "brac";

const VARIANT: Key = Key::choice("variant", "value", &["value", "policy"]).meaning(
    "where the KL penalty acts: in the critic's target too (BRAC-v) or on the actor only (BRAC-p)",
);
const ALPHA: Key = Key::number("alpha", 0.03, 1e-9, 1e12)
    .unit("U")
    .meaning("the KL's weight, the actor's temperature: ∞ imitates, 0 is greedy within the data");

/// brac's keys.
pub const KEYS: &[Key] = &[VARIANT, ALPHA, Q_INIT, INIT_SCALE];

/// Where BRAC's KL penalty acts (the key `variant`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Penalty {
    /// BRAC-v: in the critic's target as well as on the actor.
    Value,
    /// BRAC-p: on the actor only (`awac`'s tabular form).
    Policy,
}

pub struct Config {
    pub penalty: Penalty,
    pub alpha: f64,
    pub q_init: QInit,
}

impl Config {
    pub fn read(params: &Params) -> Result<(Self, Params)> {
        let mut r = ParamReader::new(NAME, params);
        let penalty = match r.choice_of(&VARIANT)? {
            "value" => Penalty::Value,
            _ => Penalty::Policy,
        };
        let alpha = r.number_of(&ALPHA)?;
        let q_init = QInit::read(&mut r)?;
        let config = Config {
            penalty,
            alpha,
            q_init,
        };
        Ok((config, r.finish()?))
    }
}

pub fn build(params: &Params, data: &TrainData) -> Result<Box<dyn Algorithm>> {
    let (config, _) = Config::read(params)?;
    let init = config.q_init.table(data);
    let rule = Brac::new(data, config.alpha, config.penalty);
    linear::or_table(rule, &init, Cells::Observed, data)
}

/// BRAC's rule; `awac` is its policy variant.
pub struct Brac {
    behavior: Policy,
    /// The temperature in the rewards' units.
    alpha: f64,
    /// The data's value unit, the scale of the penalty off the data.
    unit: f64,
    /// The lowest and highest returns the rewards allow, v's range.
    bounds: (f64, f64),
    penalty: Penalty,
    backup: Backup,
    v: Vec<f64>,
    pi: Vec<f64>,
}

impl Rule for Brac {
    fn step(&mut self, q: &mut Array2<f64>, _iteration: u64) -> f64 {
        for s in self.backup.read_states() {
            let b = self.behavior.row(s);
            let (b, f) = (
                b.as_slice().expect("row"),
                q.row(s).to_slice().expect("row"),
            );
            // ALGO LOGIC: v(s') with or without the KL, within the returns
            // the rewards allow, then y = r̂ + γ P̂ v.
            let v = match self.penalty {
                Penalty::Value => soft_value(b, f, self.alpha),
                Penalty::Policy => {
                    tilt(b, f, self.alpha, &mut self.pi);
                    expected(&self.pi, f)
                }
            };
            self.v[s] = v.clamp(self.bounds.0, self.bounds.1);
        }
        self.backup
            .apply(&self.v, q.as_slice_mut().expect("Q is contiguous"))
    }

    fn policy(&self, q: ArrayView2<f64>) -> Policy {
        self.act(q).table(&self.behavior, q)
    }

    fn act(&self, _q: ArrayView2<f64>) -> Act {
        Act::tilted(self.alpha, self.unit, self.bounds)
    }
}

impl Brac {
    /// BRAC's rule at the temperature `alpha` in the data's value unit.
    pub fn new(data: &TrainData, alpha: f64, penalty: Penalty) -> Self {
        let c = &data.compiled;
        let unit = value_unit(data);
        Brac {
            behavior: c.behavior_estimate(),
            alpha: alpha * unit,
            unit,
            bounds: data.return_bounds(),
            penalty,
            backup: Backup::new(c, data.gamma),
            v: vec![0.0; c.n_states],
            pi: vec![0.0; c.n_actions],
        }
    }
}

impl Projectable for Brac {}
