//! `fqe`: fitted Q evaluation (Le, Voloshin & Yue 2019, "Batch
//! Policy Learning under Constraints", arXiv:1903.08738), off-policy
//! evaluation of a fixed target policy π_e from the data, tabular form:
//!
//!   f(s,a) ← r + γ Σ_a' π_e(a'|s') f(s',a')   on the observed pairs,
//!
//! one sweep an iteration, from f = 0. Its q_est is the estimate of J(π_e)
//! and its true_return the exact J(π_e), so the gap is the evaluation error.
//! Where π_e takes actions the data never shows, f keeps 0 there: FQE's
//! bias under distribution shift, on display.
//!
//! With features (Q = θᵀφ) it is least-squares FQE: θ ← argmin Σ_D
//! (θᵀφ(s,a) − r − γ Σ_a' π_e(a'|s') θ_kᵀφ(s',a'))², from θ = 0; with
//! features that can represent Q^π_e and data covering π_e it converges to
//! Q^π_e, otherwise to the projected fixed point (or away from it: the
//! projection is off-policy).
//!
//! Keys ([`KEYS`]): `target` = "behavior" (π̂_β, the cloned behaviour,
//! which makes this `bc`'s critic), "uniform", or "optimal" (π* of the
//! true environment, a target the data may not cover). Loss: the sweep's
//! largest |ΔQ|.

use super::act::Act;
use super::linear::{Fitted, Linear, NextValue};
use super::tabular::{Backup, Rule, Tabular, expected};
use super::{Algorithm, Key, ParamReader, Params, TrainData};
use crate::error::Result;
use crate::mdp::{Policy, solve};
use ndarray::{Array1, Array2, ArrayView2};

pub const NAME: &str = "fqe";

const TARGET: Key = Key::choice("target", "behavior", &["behavior", "uniform", "optimal"])
    .meaning("the policy evaluated: the cloned behaviour π̂_β (bc's critic), uniform, or the true environment's π*");

/// fqe's keys.
pub const KEYS: &[Key] = &[TARGET];

pub struct Config {
    pub target: &'static str,
}

impl Config {
    pub fn read(params: &Params) -> Result<(Self, Params)> {
        let mut r = ParamReader::new(NAME, params);
        let target = r.choice_of(&TARGET)?;
        Ok((Config { target }, r.finish()?))
    }
}

pub fn build(params: &Params, data: &TrainData) -> Result<Box<dyn Algorithm>> {
    let (config, _) = Config::read(params)?;
    let (policy, act) = match config.target {
        "uniform" => {
            let c = &data.compiled;
            let uniform = Array2::from_elem((c.n_states, c.n_actions), 1.0 / c.n_actions as f64);
            (uniform, Act::Uniform)
        }
        "optimal" => {
            let env = data.tabular_env("fqe's `target = \"optimal\"`")?;
            (solve::optimal(env, data.gamma)?.policy, Act::Greedy)
        }
        _ => (data.compiled.behavior_estimate(), Act::Behavior),
    };
    if let Some(phi) = data.phi.clone() {
        let theta = Array1::zeros(phi.dim());
        let rule = Fitted::new(phi.clone(), data, NextValue::Of(policy, act))?;
        return Ok(Linear::boxed(rule, phi, theta));
    }
    Ok(Evaluate::boxed(data, policy))
}

/// Evaluation of a fixed policy; `bc` uses it for its critic.
pub struct Evaluate {
    policy: Policy,
    backup: Backup,
    v: Vec<f64>,
}

impl Rule for Evaluate {
    fn step(&mut self, q: &mut Array2<f64>, _iteration: u64) -> f64 {
        for s in self.backup.read_states() {
            self.v[s] = expected(
                self.policy.row(s).to_slice().expect("row"),
                q.row(s).to_slice().expect("row"),
            );
        }
        self.backup
            .apply(&self.v, q.as_slice_mut().expect("Q is contiguous"))
    }

    fn policy(&self, _q: ArrayView2<f64>) -> Policy {
        self.policy.clone()
    }
}

impl Evaluate {
    /// A learner evaluating `policy` from f = 0.
    pub fn boxed(data: &TrainData, policy: Policy) -> Box<dyn Algorithm> {
        let c = &data.compiled;
        let rule = Evaluate {
            policy,
            backup: Backup::new(c, data.gamma),
            v: vec![0.0; c.n_states],
        };
        Tabular::boxed(rule, &Array2::zeros((c.n_states, c.n_actions)))
    }
}
