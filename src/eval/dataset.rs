//! What a dataset offers a learner, shown with every dataset: how good its
//! behaviour is, how narrow its actions are, how much of the state space it
//! covers, and how well it covers the optimal policy.

use super::Evaluator;
use crate::data::{Dataset, EmpiricalMdp};
use crate::env::Reference;
use crate::error::Result;
use crate::mdp::TabularMdp;
use serde::{Deserialize, Serialize};

/// Statistics of one dataset against its environment.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DatasetStats {
    pub transitions: usize,
    pub episodes: usize,
    /// D4RL's score of the behaviour policy, exact, when the data records
    /// one stationary policy (not `medium-replay` or `medium-expert`).
    #[serde(with = "super::json_float::option")]
    pub behavior_score: Option<f64>,
    /// D4RL's score of the mean undiscounted return of the data's complete
    /// episodes (ended by termination or at the time limit, not cut by the
    /// size); NaN when there is none.
    #[serde(with = "super::json_float")]
    pub data_score: f64,
    /// Share of visited states where only one action was ever taken.
    #[serde(with = "super::json_float")]
    pub single_action_share: f64,
    /// Mean number of distinct actions taken per visited state.
    #[serde(with = "super::json_float")]
    pub mean_actions: f64,
    /// States acted in by the data.
    pub visited_states: usize,
    /// States some policy can act in: reachable from the start
    /// distribution, not absorbing (FrozenLake's holes and goal are not).
    pub reachable_states: usize,
    /// visited_states / reachable_states.
    #[serde(with = "super::json_float")]
    pub state_coverage: f64,
    /// max_{s,a} d^{π*}(s,a) / d^D(s,a) ([`Evaluator::coverage`]); ∞ when
    /// π* leaves the data's support.
    #[serde(with = "super::json_float")]
    pub concentrability: f64,
}

impl DatasetStats {
    /// The behaviour's score: exact where the data records one stationary
    /// policy, else (`medium-replay`, `medium-expert`, imported files) the
    /// score of its episodes' mean return, as ATAC's table does.
    pub fn score(&self) -> Option<f64> {
        self.behavior_score
            .or(Some(self.data_score))
            .filter(|s| s.is_finite())
    }
}

impl Evaluator {
    /// [`DatasetStats`] of `data`, the dataset this evaluator was built on.
    pub fn dataset_stats(&self, data: &Dataset) -> Result<DatasetStats> {
        let mdp = &*self.mdp;
        let support = ActionSupport::of(&self.compiled);
        let reachable = reachable_states(mdp);
        let behavior_score = match &data.behavior {
            // The truth memo's: the data's runs share one behaviour.
            Some(policy) => Some(self.scale.score(self.truth_of(policy)?.episode_return)),
            None => None,
        };
        Ok(DatasetStats {
            transitions: data.len(),
            episodes: data.n_episodes(),
            behavior_score,
            data_score: self
                .scale
                .score(complete_episode_return(data, mdp.horizon())),
            single_action_share: support.per_visited(support.single),
            mean_actions: support.per_visited(support.distinct),
            visited_states: support.visited,
            reachable_states: reachable,
            state_coverage: support.visited as f64 / reachable.max(1) as f64,
            concentrability: self.coverage(),
        })
    }
}

/// [`DatasetStats`] of a dataset of observations (the sample-based form,
/// `compiled` from it, episodes of at most `horizon` steps) on a
/// continuous environment: no table of states to reach or cover, so
/// `reachable_states` is 0 and `state_coverage` and `concentrability` are
/// NaN. The behaviour's score is that of the data's complete episodes'
/// mean return (`data_score`), for every quality: each observation is a
/// state of its own, so the behaviour's action support reads one action
/// per state.
pub(super) fn observed_stats(
    data: &Dataset,
    compiled: &EmpiricalMdp,
    reference: &Reference,
    horizon: usize,
) -> DatasetStats {
    let support = ActionSupport::of(compiled);
    DatasetStats {
        transitions: data.len(),
        episodes: data.n_episodes(),
        behavior_score: None,
        data_score: reference
            .score(complete_episode_return(data, horizon))
            .unwrap_or(f64::NAN),
        single_action_share: support.per_visited(support.single),
        mean_actions: support.per_visited(support.distinct),
        visited_states: support.visited,
        reachable_states: 0,
        state_coverage: f64::NAN,
        concentrability: f64::NAN,
    }
}

/// How many actions the data takes in the states it acts in.
struct ActionSupport {
    visited: usize,
    /// States with one action, as a float to divide.
    single: f64,
    /// Distinct (state, action) pairs.
    distinct: f64,
}

impl ActionSupport {
    fn of(c: &EmpiricalMdp) -> Self {
        let mut actions_seen = vec![0u32; c.n_states];
        for pair in &c.pairs {
            actions_seen[pair.state as usize] += 1;
        }
        ActionSupport {
            visited: actions_seen.iter().filter(|&&k| k > 0).count(),
            single: actions_seen.iter().filter(|&&k| k == 1).count() as f64,
            distinct: f64::from(actions_seen.iter().sum::<u32>()),
        }
    }

    /// `x` per visited state; NaN when none is.
    fn per_visited(&self, x: f64) -> f64 {
        if self.visited == 0 {
            f64::NAN
        } else {
            x / self.visited as f64
        }
    }
}

/// The number of non-absorbing states reachable from the start distribution
/// by some sequence of actions (terminating outcomes lead nowhere).
pub fn reachable_states(mdp: &TabularMdp) -> usize {
    let mut seen = vec![false; mdp.n_states()];
    let mut stack: Vec<usize> = (0..mdp.n_states())
        .filter(|&s| mdp.initial()[s] > 0.0)
        .collect();
    for &s in &stack {
        seen[s] = true;
    }
    while let Some(s) = stack.pop() {
        for a in 0..mdp.n_actions() {
            for o in mdp.outcomes(s, a) {
                let t = o.next as usize;
                if o.prob > 0.0 && !o.terminated && !seen[t] {
                    seen[t] = true;
                    stack.push(t);
                }
            }
        }
    }
    (0..mdp.n_states())
        .filter(|&s| seen[s] && !mdp.is_absorbing(s))
        .count()
}

/// Mean undiscounted return of the episodes that ended by termination or at
/// the `horizon`-th step; NaN when none did.
fn complete_episode_return(data: &Dataset, horizon: usize) -> f64 {
    let (mut total, mut episodes, mut running) = (0.0, 0usize, 0.0);
    for i in 0..data.len() {
        running += data.reward[i];
        let last = i + 1 == data.len() || data.episode[i + 1] != data.episode[i];
        if last {
            if data.terminated[i] || data.step[i] as usize + 1 >= horizon {
                total += running;
                episodes += 1;
            }
            running = 0.0;
        }
    }
    if episodes == 0 {
        f64::NAN
    } else {
        total / episodes as f64
    }
}
