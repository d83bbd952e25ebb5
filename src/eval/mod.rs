//! The numbers the dashboard plots: what the learner believes (q_est) against
//! what its policy really gets (true_return, exact on tabular problems).

mod metrics;

pub use metrics::Metrics;

use crate::data::{Dataset, EmpiricalMdp};
use crate::error::Result;
use crate::mdp::{Policy, TabularMdp, solve::Optimum};
use ndarray::{Array1, Array2};
use std::sync::Arc;

/// D4RL's normalized score with the true optimum:
/// 100 · (J − J_random) / (J* − J_random). Where random play is already
/// optimal (J* = J_random) every policy that matches it scores 100.
pub fn normalized_score(j: f64, random: f64, optimum: f64) -> f64 {
    let span = optimum - random;
    if span.abs() <= 1e-12 * (1.0 + optimum.abs()) {
        if (j - optimum).abs() <= 1e-9 * (1.0 + optimum.abs()) {
            100.0
        } else {
            100.0 + 100.0 * (j - optimum) / (1.0 + optimum.abs())
        }
    } else {
        100.0 * (j - random) / span
    }
}

/// Evaluates (f, π) pairs of one run against the true MDP. Built once per
/// run: it solves the optimum and the random policy's return up front.
pub struct Evaluator {
    pub mdp: Arc<TabularMdp>,
    pub gamma: f64,
    pub optimum: Optimum,
    /// J of the uniform random policy (the 0 of the normalized score).
    pub random_return: f64,
    pub compiled: Arc<EmpiricalMdp>,
}

impl Evaluator {
    pub fn new(mdp: Arc<TabularMdp>, gamma: f64, compiled: Arc<EmpiricalMdp>) -> Result<Self> {
        let _ = (mdp, gamma, compiled);
        todo!("eval helper")
    }

    /// Every metric of [`Metrics`] except `iteration`, `loss`, `wall_time`
    /// and `it_per_sec`, which the caller (the runner) fills.
    pub fn evaluate(&self, q: &Array2<f64>, policy: &Policy) -> Result<Metrics> {
        let _ = (q, policy);
        todo!("eval helper")
    }

    /// Per state: max_a f(s,a) − V^π(s), where the learner fools itself.
    pub fn overestimation_by_state(&self, q: &Array2<f64>, policy: &Policy) -> Result<Array1<f64>> {
        let _ = (q, policy);
        todo!("eval helper")
    }

    /// Concentrability max_{s,a} d^{π*}(s,a) / d^D(s,a) over pairs π* visits;
    /// infinite when π* leaves the data's support.
    pub fn coverage(&self, data: &Dataset) -> f64 {
        let _ = data;
        todo!("eval helper")
    }
}
