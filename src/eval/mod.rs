//! The numbers the dashboard plots: what the learner believes (q_est) against
//! what its policy really gets (true_return, exact on tabular problems).
//!
//! Two returns, both exact: `true_return` is the discounted J(π), what Q
//! estimates (the overestimation chart compares q_est with it);
//! `episode_return` is the undiscounted return of one episode within the
//! time limit, and `normalized_score` is D4RL's score of it.

pub mod controller;
mod dataset;
pub mod json_float;
pub mod landscape;
mod metrics;
pub mod monte_carlo;
mod reference;

pub use controller::{ControllerScore, controller_score};
pub use dataset::{DatasetStats, reachable_states};
pub use metrics::Metrics;
pub use monte_carlo::MonteCarlo;

use crate::algo::act::Act;
use crate::data::EmpiricalMdp;
use crate::error::Result;
use crate::mdp::solve::EpisodeScale;
use crate::mdp::{Policy, TabularMdp, solve};
use ndarray::{Array1, Array2, ArrayView1};
use reference::Reference;
use std::sync::Arc;

pub use crate::mdp::solve::normalized_score;

/// Per state, max_a f(s,a) − V^π(s) of a learned Q table and policy on
/// `mdp`, V^π exact: where the learner fools itself. For the dashboard's
/// heatmap and `plot --layout heatmap`, which have a run's saved table but
/// not the dataset an [`Evaluator`] is built from.
pub fn overestimation(
    mdp: &TabularMdp,
    gamma: f64,
    q: &Array2<f64>,
    policy: &Policy,
) -> Result<Array1<f64>> {
    if q.dim() != policy.dim() {
        return Err(crate::Error::Invalid(
            "the Q table and the policy differ in shape".into(),
        ));
    }
    if q.dim() != (mdp.n_states(), mdp.n_actions()) {
        return Err(crate::Error::Invalid(format!(
            "the Q table is {}×{}, the environment has {} states × {} actions",
            q.nrows(),
            q.ncols(),
            mdp.n_states(),
            mdp.n_actions()
        )));
    }
    let truth = solve::evaluate_policy(mdp, policy, gamma)?;
    Ok(solve::row_maxima(q) - &truth.v)
}

/// What measures a run: the exact [`Evaluator`] of a tabular environment,
/// or the [`MonteCarlo`] one of a continuous environment. The runner and
/// `pessimist train` ask it the same questions.
pub enum Judge {
    Exact(Evaluator),
    MonteCarlo(Box<MonteCarlo>),
}

impl Judge {
    /// The metrics of the learner's (f, π) and, for a linear learner, its
    /// weights θ and its rule off the data ([`crate::algo::Algorithm::act`]),
    /// which Monte-Carlo rollouts need off the data.
    pub fn evaluate(
        &self,
        q: &Array2<f64>,
        policy: &Policy,
        weights: Option<ArrayView1<f64>>,
        act: Act,
    ) -> Result<Metrics> {
        match self {
            Judge::Exact(e) => e.evaluate(q, policy),
            Judge::MonteCarlo(m) => m.evaluate(q, policy, weights, act),
        }
    }

    /// What the learner believes from the start when its policy cannot be
    /// evaluated (a diverged Q): E_{s0}[max_a f(s0, a)], NaN if any value
    /// is. `None` on a continuous environment: its evaluation reads Q at
    /// the start observations itself, whatever Q's values, and fails only
    /// for causes they are not (a learner without weights θ, a π̂_β that
    /// cannot be fitted), so its error is the run's, not a divergence.
    pub fn believed_max(&self, q: &Array2<f64>) -> Option<f64> {
        let Judge::Exact(e) = self else {
            return None;
        };
        let believed = e
            .mdp
            .initial()
            .iter()
            .enumerate()
            .filter(|(_, d)| **d > 0.0)
            .map(|(s, d)| {
                d * q.row(s).iter().fold(f64::NEG_INFINITY, |a, &b| {
                    if a.is_nan() || b.is_nan() {
                        f64::NAN
                    } else {
                        a.max(b)
                    }
                })
            })
            .sum();
        Some(believed)
    }

    /// The dataset's statistics; a continuous environment has no table
    /// of states, so no coverage of it ([`MonteCarlo::dataset_stats`]).
    pub fn dataset_stats(&self, data: &crate::data::Dataset) -> Result<DatasetStats> {
        match self {
            Judge::Exact(e) => e.dataset_stats(data),
            Judge::MonteCarlo(m) => Ok(m.dataset_stats(data)),
        }
    }

    /// [`Evaluator::coverage`]; NaN (unknown) without a table.
    pub fn coverage(&self) -> f64 {
        match self {
            Judge::Exact(e) => e.coverage(),
            Judge::MonteCarlo(_) => f64::NAN,
        }
    }

    /// [`Evaluator::unvisited_states`]; none to mark without a table.
    pub fn unvisited_states(&self) -> Vec<usize> {
        match self {
            Judge::Exact(e) => e.unvisited_states(),
            Judge::MonteCarlo(_) => Vec::new(),
        }
    }
}

/// Evaluates (f, π) pairs of one run against the true MDP. Built once per
/// run; the optimum and the random policy's return are solved once per
/// process for each MDP and γ ([`Reference`]).
pub struct Evaluator {
    pub mdp: Arc<TabularMdp>,
    pub gamma: f64,
    /// J of the uniform random policy.
    pub random_return: f64,
    /// The episode returns that score 0 and 100.
    pub scale: EpisodeScale,
    pub compiled: Arc<EmpiricalMdp>,
    /// π̂_β(a|s) from the data's counts.
    behavior: Policy,
    /// The optimum, and what the policies evaluated lately get, shared by
    /// the runs on this MDP and γ: once a learner's policy settles, every
    /// later point has the same π bit for bit, and learners on one MDP
    /// often meet the same policies, so an eval point's exact evaluation
    /// and finite-horizon returns (most of its cost) are often known.
    reference: Arc<Reference>,
}

/// Everything an eval point computes from π alone.
struct PolicyTruth {
    values: solve::Values,
    success_prob: f64,
    episode_return: f64,
}

/// What the learner believes π is worth from the start: q_est =
/// Σ_s d0(s) Σ_a π(a|s) f(s,a), with the per-state values Σ_a π(a|s) f(s,a)
/// it averages. One definition for a run's eval points and for `eval --q`,
/// whose Q another library learned.
pub fn q_est(mdp: &TabularMdp, q: &Array2<f64>, policy: &Policy) -> (f64, Vec<f64>) {
    let believed = solve::state_values(q, policy);
    let start = mdp
        .initial()
        .iter()
        .zip(&believed)
        .map(|(d, v)| d * v)
        .sum();
    (start, believed)
}

/// What an eval point reads off the data alone, on the compiled
/// empirical MDP, tabular or sample-based alike ([`Evaluator`],
/// [`MonteCarlo`]).
struct OnData<'a> {
    compiled: &'a EmpiricalMdp,
    /// π̂_β(a|s) from the data's counts.
    behavior: &'a Policy,
    gamma: f64,
}

impl OnData<'_> {
    /// `q_data`, `q_true_data` (NaN without the true `Q^π`, `truth_q`),
    /// `bellman_error`, `ood_fraction` and `kl_behavior` of (f, π), with
    /// `believed` = Σ_a π(a|s) f(s,a) per state; every other field default.
    fn metrics(
        &self,
        q: &Array2<f64>,
        policy: &Policy,
        believed: &[f64],
        truth_q: Option<&Array2<f64>>,
    ) -> Metrics {
        let c = self.compiled;
        let n = c.n_transitions.max(1) as f64;
        let (mut q_data, mut q_true_data, mut bellman) = (0.0, 0.0, 0.0);
        for pair in &c.pairs {
            let (s, a) = (pair.state as usize, pair.action as usize);
            let weight = f64::from(pair.count) / n;
            let backup: f64 = pair.mean_reward
                + self.gamma
                    * c.successors_of(pair)
                        .iter()
                        .filter(|x| !x.terminated)
                        .map(|x| x.prob * believed[x.next_state as usize])
                        .sum::<f64>();
            q_data += weight * q[[s, a]];
            q_true_data += weight * truth_q.map_or(f64::NAN, |t| t[[s, a]]);
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
            kl += f64::from(n_s) / n * divergence;
        }
        Metrics {
            q_data,
            q_true_data,
            bellman_error: bellman,
            ood_fraction: ood as f64 / visited.max(1) as f64,
            kl_behavior: kl,
            ..Metrics::default()
        }
    }
}

impl Evaluator {
    pub fn new(mdp: Arc<TabularMdp>, gamma: f64, compiled: Arc<EmpiricalMdp>) -> Result<Self> {
        let reference = Reference::of(&mdp, gamma)?;
        Ok(Evaluator {
            scale: reference.scale,
            random_return: reference.random_return,
            behavior: compiled.behavior_estimate(),
            mdp,
            gamma,
            compiled,
            reference,
        })
    }

    /// Every metric of [`Metrics`] except `iteration`, `loss`, `wall_time`
    /// and `it_per_sec`, which the caller (the runner) fills.
    pub fn evaluate(&self, q: &Array2<f64>, policy: &Policy) -> Result<Metrics> {
        let known = self.truth_of(policy)?;
        let truth = &known.values;
        let (q_est, believed) = q_est(&self.mdp, q, policy);
        let covered = self.covered_starts(ArrayView1::from(&believed), truth.v.view());
        let (start_coverage, q_est_covered, true_return_covered) =
            covered.unwrap_or((1.0, q_est, truth.j));
        let data = OnData {
            compiled: &self.compiled,
            behavior: &self.behavior,
            gamma: self.gamma,
        }
        .metrics(q, policy, &believed, Some(&truth.q));
        let (success_prob, episode_return) = (known.success_prob, known.episode_return);
        Ok(Metrics {
            q_est,
            true_return: truth.j,
            gap: q_est - truth.j,
            start_coverage,
            q_est_covered,
            true_return_covered,
            episode_return,
            normalized_score: self.scale.score(episode_return),
            success_prob,
            ..data
        })
    }

    /// [`PolicyTruth`] of `policy`: the last one's when π is the same bit
    /// for bit, else computed (and kept in its place).
    fn truth_of(&self, policy: &Policy) -> Result<Arc<PolicyTruth>> {
        self.reference.truth(policy, || {
            let values = solve::evaluate_policy(&self.mdp, policy, self.gamma)?;
            // Success needs a goal and a time limit, which is then the
            // episodes' horizon too.
            let has_goal = (0..self.mdp.n_states()).any(|s| self.mdp.is_goal(s));
            let (episode_return, success_prob) = match self.mdp.time_limit() {
                Some(h) if has_goal && h == self.scale.horizon => {
                    solve::episode_return_and_success(&self.mdp, policy, h)?
                }
                _ => (self.scale.episode_return(&self.mdp, policy)?, f64::NAN),
            };
            Ok(PolicyTruth {
                values,
                success_prob,
                episode_return,
            })
        })
    }

    /// Where the data misses some start state: the share of d0 on the start
    /// states it acts in, and the means of `believed` and `true_v` over
    /// those (d0 renormalised; NaN when there is none). `None` when it acts
    /// in every start state, so that full coverage changes no number.
    fn covered_starts(
        &self,
        believed: ArrayView1<f64>,
        true_v: ArrayView1<f64>,
    ) -> Option<(f64, f64, f64)> {
        let d0 = self.mdp.initial();
        let starts = || (0..d0.len()).filter(|&s| d0[s] > 0.0);
        if starts().all(|s| self.visited(s)) {
            return None;
        }
        let covered = || starts().filter(|&s| self.visited(s));
        let mass: f64 = covered().map(|s| d0[s]).sum();
        let mean = |x: ArrayView1<f64>| covered().map(|s| d0[s] * x[s]).sum::<f64>() / mass;
        Some((mass / d0.iter().sum::<f64>(), mean(believed), mean(true_v)))
    }

    /// Whether the data acts in state `s` (has a transition from it).
    fn visited(&self, s: usize) -> bool {
        self.compiled.state_count[s] > 0
    }

    /// The states the data never acts in, ascending: there Q holds the
    /// learner's convention for unseen states, which the heatmap marks.
    pub fn unvisited_states(&self) -> Vec<usize> {
        (0..self.compiled.n_states)
            .filter(|&s| !self.visited(s))
            .collect()
    }

    /// Per state: max_a f(s,a) − V^π(s), where the learner fools itself.
    pub fn overestimation_by_state(&self, q: &Array2<f64>, policy: &Policy) -> Result<Array1<f64>> {
        Ok(solve::row_maxima(q) - &self.truth_of(policy)?.values.v)
    }

    /// Concentrability max_{s,a} d^{π*}(s,a) / d^D(s,a) over pairs π* visits;
    /// infinite when π* leaves the data's support.
    pub fn coverage(&self) -> f64 {
        let d = &self.reference.optimal_occupancy;
        let total: f64 = d.sum();
        let n = self.compiled.n_transitions.max(1) as f64;
        let mut worst = 0.0f64;
        for ((s, a), &mass) in d.indexed_iter() {
            // Pairs below float noise of the propagation are not "visited".
            if mass <= 1e-12 * total || self.mdp.is_absorbing(s) {
                continue;
            }
            let data_share = f64::from(self.compiled.count(s, a)) / n;
            worst = worst.max(mass / total / data_share);
        }
        worst
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Dataset;
    use crate::mdp::{Outcome, envs};
    use ndarray::array;

    /// ThreeState with six hand-made transitions: (S0,a0)→S1 twice,
    /// (S1,a0)→won (+1) twice, (S0,a1)→S2 once, (S2,a0)→lost (−10) once;
    /// those from the states `without` left out.
    fn tiny(without: &[u32]) -> Evaluator {
        let mdp = Arc::new(envs::make("ThreeState-v0").unwrap());
        let mut data = Dataset::new(5, 2);
        let rows = [
            (0, 0, 0, 0, 0.0, 1, false),
            (0, 1, 1, 0, 1.0, 3, true),
            (1, 0, 0, 1, 0.0, 2, false),
            (1, 1, 2, 0, -10.0, 4, true),
            (2, 0, 0, 0, 0.0, 1, false),
            (2, 1, 1, 0, 1.0, 3, true),
        ];
        for (e, t, s, a, r, s2, term) in rows {
            if !without.contains(&s) {
                data.push(e, t, s, a, r, s2, term, false);
            }
        }
        let compiled = Arc::new(EmpiricalMdp::compile(&data));
        Evaluator::new(mdp, 0.9, compiled).unwrap()
    }

    fn close(got: f64, want: f64) {
        assert!((got - want).abs() < 1e-12, "{got} vs {want}");
    }

    /// The policy-only numbers kept from the last eval point are reused
    /// only for the same π: a changed π, then the first again, give what a
    /// fresh evaluator gives.
    #[test]
    fn a_kept_evaluation_serves_only_its_own_policy() {
        let evaluator = tiny(&[]);
        let f = array![[1.0, 2.0], [3.0, 5.0], [-4.0, 0.0], [0.0, 0.0], [0.0, 0.0]];
        let mixed = array![[0.5, 0.5], [0.0, 1.0], [1.0, 0.0], [1.0, 0.0], [1.0, 0.0]];
        let greedy = array![[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [1.0, 0.0]];
        for pi in [&mixed, &greedy, &greedy, &mixed] {
            let kept = evaluator.evaluate(&f, pi).unwrap();
            let fresh = tiny(&[]).evaluate(&f, pi).unwrap();
            assert_eq!(kept, fresh);
        }
    }

    /// Every metric against its value worked out on paper (γ = 0.9).
    #[test]
    fn metrics_match_hand_computed_values() {
        let evaluator = tiny(&[]);
        let f = array![[1.0, 2.0], [3.0, 5.0], [-4.0, 0.0], [0.0, 0.0], [0.0, 0.0]];
        // 50/50 in S0, the unseen a1 in S1, a0 elsewhere.
        let pi = array![[0.5, 0.5], [0.0, 1.0], [1.0, 0.0], [1.0, 0.0], [1.0, 0.0]];
        let m = evaluator.evaluate(&f, &pi).unwrap();
        close(m.q_est, 1.5); // ½·1 + ½·2
        close(m.true_return, -4.05); // ½·0.9·1 + ½·0.9·(−10)
        close(m.gap, 5.55);
        // Weights 2/6, 1/6, 2/6, 1/6 on (S0,a0), (S0,a1), (S1,a0), (S2,a0).
        close(m.q_data, (2.0 * 1.0 + 2.0 + 2.0 * 3.0 - 4.0) / 6.0);
        // Q^π there: 0.9, −9, 1, −10.
        close(m.q_true_data, (2.0 * 0.9 - 9.0 + 2.0 * 1.0 - 10.0) / 6.0);
        // Believed V = (1.5, 5, −4, 0, 0); residuals f − (r + γV(s')):
        // 1 − 4.5, 2 + 3.6, 3 − 1, −4 + 10.
        let residuals = 2.0 * 3.5f64.powi(2) + 5.6f64.powi(2) + 2.0 * 4.0 + 36.0;
        close(m.bellman_error, residuals / 6.0);
        close(m.ood_fraction, 1.0 / 3.0); // S1 of S0, S1, S2
        assert_eq!(m.kl_behavior, f64::INFINITY);
        close(m.episode_return, -4.5); // ½·(+1) + ½·(−10), undiscounted
        close(m.normalized_score, 0.0); // π plays as randomly as uniform where it matters
        close(m.success_prob, 0.5);
        // In support: only S0 diverges from π̂_β = (2/3, 1/3), with weight 3/6.
        let in_support = array![[0.5, 0.5], [1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [1.0, 0.0]];
        let m = evaluator.evaluate(&f, &in_support).unwrap();
        let kl = 0.5 * (0.5 * (0.5f64 / (2.0 / 3.0)).ln() + 0.5 * (0.5f64 / (1.0 / 3.0)).ln());
        close(m.kl_behavior, kl);
        close(m.ood_fraction, 0.0);
        // π*: (S0,a0) then (S1,a0): occupancy shares 1/1.9 and 0.9/1.9 over
        // data shares 2/6 each, so the first is the worst, 3/1.9.
        close(evaluator.coverage(), 3.0 / 1.9);
        // Without S1's data π* leaves the support.
        assert_eq!(tiny(&[1]).coverage(), f64::INFINITY);
        // Per state: max_a f − V^π = (2 + 4.05, 5 − 1, 0 + 10, 0, 0).
        let over = evaluator.overestimation_by_state(&f, &pi).unwrap();
        for (got, want) in over.iter().zip([6.05, 4.0, 10.0, 0.0, 0.0]) {
            close(*got, want);
        }
    }

    /// Two starts, A (d0 ¼, ends with +1) and B (d0 ¾, ends with −10), and
    /// data from A only: B's value 0 is the learner's convention, which the
    /// covered metrics leave out.
    #[test]
    fn covered_metrics_leave_out_the_starts_the_data_never_visits() {
        let end = |reward| {
            vec![Outcome {
                prob: 1.0,
                next: 2,
                reward,
                terminated: true,
            }]
        };
        let table = vec![vec![end(1.0)], vec![end(-10.0)], vec![end(0.0)]];
        let mdp = TabularMdp::new("two-starts", table, vec![0.25, 0.75, 0.0], None).unwrap();
        let mut data = Dataset::new(3, 1);
        data.push(0, 0, 0, 0, 1.0, 2, true, false);
        let compiled = Arc::new(EmpiricalMdp::compile(&data));
        let evaluator = Evaluator::new(Arc::new(mdp), 0.9, compiled).unwrap();
        let (f, pi) = (array![[4.0], [0.0], [0.0]], array![[1.0], [1.0], [1.0]]);
        let m = evaluator.evaluate(&f, &pi).unwrap();
        close(m.q_est, 1.0); // ¼·4 + ¾·0
        close(m.true_return, -7.25); // ¼·1 + ¾·(−10)
        close(m.start_coverage, 0.25);
        close(m.q_est_covered, 4.0);
        close(m.true_return_covered, 1.0);
        assert_eq!(m.covered_gap(), Some(3.0));
        assert_eq!(evaluator.unvisited_states(), [1, 2]);
    }

    /// Data in every start state changes no number; data in none leaves the
    /// covered metrics undefined.
    #[test]
    fn full_coverage_keeps_the_plain_metrics_and_none_has_no_covered_ones() {
        let f = array![[1.0, 2.0], [3.0, 5.0], [-4.0, 0.0], [0.0, 0.0], [0.0, 0.0]];
        let pi = array![[0.5, 0.5], [0.0, 1.0], [1.0, 0.0], [1.0, 0.0], [1.0, 0.0]];
        let m = tiny(&[]).evaluate(&f, &pi).unwrap();
        assert_eq!(m.start_coverage, 1.0);
        assert_eq!(
            (m.q_est_covered, m.true_return_covered),
            (m.q_est, m.true_return)
        );
        assert_eq!(m.covered_gap(), None);
        let m = tiny(&[0]).evaluate(&f, &pi).unwrap();
        assert_eq!(m.start_coverage, 0.0);
        assert!(m.q_est_covered.is_nan() && m.true_return_covered.is_nan());
        close(m.gap, 5.55);
    }

    /// The dataset's statistics on the six hand-made transitions: S0 saw
    /// both actions, S1 and S2 one each; S0, S1, S2 are the reachable
    /// states that are not absorbing (won and lost are).
    #[test]
    fn dataset_stats_match_hand_computed_values() {
        let evaluator = tiny(&[]);
        let mut data = Dataset::new(5, 2);
        let c = &*evaluator.compiled;
        // Only the size and the episodes are read from the data itself.
        for (e, s, a, r, s2) in [(0, 0, 0, 0.0, 1), (0, 1, 0, 1.0, 3), (1, 0, 1, 0.0, 2)] {
            data.push(e, u32::from(s == 1), s, a, r, s2, s == 1, false);
        }
        let stats = evaluator.dataset_stats(&data).unwrap();
        assert_eq!(c.n_transitions, 6);
        assert_eq!((stats.visited_states, stats.reachable_states), (3, 3));
        close(stats.state_coverage, 1.0);
        close(stats.single_action_share, 2.0 / 3.0);
        close(stats.mean_actions, 4.0 / 3.0);
        close(stats.concentrability, 3.0 / 1.9);
        assert_eq!(stats.behavior_score, None);
        // One complete episode (+1, the best): score 100; the cut one is left out.
        close(stats.data_score, 100.0);
        assert_eq!((stats.transitions, stats.episodes), (3, 2));
    }
}
