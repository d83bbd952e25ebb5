//! The numbers the dashboard plots: what the learner believes (q_est) against
//! what its policy really gets (true_return, exact on tabular problems).

pub mod json_float;
mod metrics;

pub use metrics::Metrics;

use crate::data::EmpiricalMdp;
use crate::error::Result;
use crate::mdp::solve::Optimum;
use crate::mdp::{Policy, TabularMdp, solve};
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
    /// π̂_β(a|s) from the data's counts.
    behavior: Policy,
}

impl Evaluator {
    pub fn new(mdp: Arc<TabularMdp>, gamma: f64, compiled: Arc<EmpiricalMdp>) -> Result<Self> {
        let optimum = solve::optimal(&mdp, gamma)?;
        let random_return = solve::evaluate_policy(&mdp, &mdp.uniform_policy(), gamma)?.j;
        Ok(Evaluator {
            behavior: compiled.behavior_estimate(),
            mdp,
            gamma,
            optimum,
            random_return,
            compiled,
        })
    }

    /// Every metric of [`Metrics`] except `iteration`, `loss`, `wall_time`
    /// and `it_per_sec`, which the caller (the runner) fills.
    pub fn evaluate(&self, q: &Array2<f64>, policy: &Policy) -> Result<Metrics> {
        let truth = solve::evaluate_policy(&self.mdp, policy, self.gamma)?;
        let believed = solve::state_values(q, policy);
        let q_est: f64 = self
            .mdp
            .initial()
            .iter()
            .zip(&believed)
            .map(|(d, v)| d * v)
            .sum();
        let c = &*self.compiled;
        let n = c.n_transitions.max(1) as f64;
        let (mut q_data, mut q_true_data, mut bellman) = (0.0, 0.0, 0.0);
        for pair in &c.pairs {
            let (s, a) = (pair.state as usize, pair.action as usize);
            let weight = pair.count as f64 / n;
            let backup: f64 = pair.mean_reward
                + self.gamma
                    * c.successors_of(pair)
                        .iter()
                        .filter(|x| !x.terminated)
                        .map(|x| x.prob * believed[x.next_state as usize])
                        .sum::<f64>();
            q_data += weight * q[[s, a]];
            q_true_data += weight * truth.q[[s, a]];
            bellman += weight * (q[[s, a]] - backup).powi(2);
        }
        let (mut visited, mut ood, mut kl) = (0usize, 0usize, 0.0);
        for (s, &n_s) in c.state_count.iter().enumerate() {
            if n_s == 0 {
                continue;
            }
            visited += 1;
            let mut leaves_support = false;
            let mut divergence = 0.0;
            for a in 0..c.n_actions {
                let (p, b) = (policy[[s, a]], self.behavior[[s, a]]);
                if p > 0.0 {
                    if b == 0.0 {
                        leaves_support = true;
                        divergence = f64::INFINITY;
                    } else {
                        divergence += p * (p / b).ln();
                    }
                }
            }
            ood += usize::from(leaves_support);
            kl += n_s as f64 / n * divergence;
        }
        let success_prob = match self.mdp.time_limit() {
            Some(h) if (0..self.mdp.n_states()).any(|s| self.mdp.is_goal(s)) => {
                solve::success_probability(&self.mdp, policy, h)?
            }
            _ => f64::NAN,
        };
        Ok(Metrics {
            q_est,
            true_return: truth.j,
            gap: q_est - truth.j,
            q_data,
            q_true_data,
            normalized_score: normalized_score(truth.j, self.random_return, self.optimum.values.j),
            success_prob,
            bellman_error: bellman,
            ood_fraction: ood as f64 / visited.max(1) as f64,
            kl_behavior: kl,
            ..Metrics::default()
        })
    }

    /// Per state: max_a f(s,a) − V^π(s), where the learner fools itself.
    pub fn overestimation_by_state(&self, q: &Array2<f64>, policy: &Policy) -> Result<Array1<f64>> {
        let truth = solve::evaluate_policy(&self.mdp, policy, self.gamma)?;
        Ok(Array1::from_iter(q.outer_iter().zip(truth.v.iter()).map(
            |(row, v)| row.fold(f64::NEG_INFINITY, |m, &x| m.max(x)) - v,
        )))
    }

    /// Concentrability max_{s,a} d^{π*}(s,a) / d^D(s,a) over pairs π* visits;
    /// infinite when π* leaves the data's support.
    pub fn coverage(&self) -> Result<f64> {
        let d = solve::occupancy(&self.mdp, &self.optimum.policy, self.gamma)?;
        let total: f64 = d.sum();
        let n = self.compiled.n_transitions.max(1) as f64;
        let mut worst = 0.0f64;
        for ((s, a), &mass) in d.indexed_iter() {
            // Pairs below float noise of the propagation are not "visited".
            if mass <= 1e-12 * total || self.mdp.is_absorbing(s) {
                continue;
            }
            let data_share = self.compiled.count(s, a) as f64 / n;
            worst = worst.max(mass / total / data_share);
        }
        Ok(worst)
    }
}
