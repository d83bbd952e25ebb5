//! Sampling from a [`TabularMdp`] and from policies: the inner loop of data
//! collection and Monte-Carlo checks, so everything is flattened into
//! cumulative-probability arrays built once.

use super::{Outcome, Policy, TabularMdp};
use crate::env::{Env, Step};
use crate::error::{Error, Result};
use rand::Rng;

/// Draws an index from a cumulative distribution (last index on rounding):
/// the first `i` with `u < cumulative[i]`.
///
/// The sums are non-decreasing, so the entries `<= u` form a prefix whose
/// length is that index: short lists count it without branches (a random
/// `u` makes an early-exit loop mispredict), long ones binary-search it.
#[inline]
fn draw(cumulative: &[f64], u: f64) -> usize {
    let below = if cumulative.len() <= 8 {
        cumulative.iter().map(|&c| usize::from(c <= u)).sum()
    } else {
        cumulative.partition_point(|&c| c <= u)
    };
    below.min(cumulative.len() - 1)
}

/// An action drawn from the probabilities `p` with the uniform number
/// `u`: the action [`PolicySampler::action`] draws from a row `p` with
/// the same `u`, without a table.
pub fn draw_from(p: &[f64], u: f64) -> usize {
    let mut cumulative = 0.0;
    let below = p
        .iter()
        .map(|&x| {
            cumulative += x;
            usize::from(cumulative <= u)
        })
        .sum::<usize>();
    below.min(p.len() - 1)
}

/// Cumulative sums of `p`.
fn cumulate(p: impl IntoIterator<Item = f64>) -> Vec<f64> {
    p.into_iter()
        .scan(0.0, |acc, x| {
            *acc += x;
            Some(*acc)
        })
        .collect()
}

/// Draws initial states and transitions of one MDP.
#[derive(Debug, Clone)]
pub struct Sampler {
    n_actions: usize,
    /// Per (s, a): the range of its outcomes (CSR, as in the MDP).
    offsets: Vec<u32>,
    /// Cumulative probability of each outcome within its (s, a) list.
    cumulative: Vec<f64>,
    outcomes: Vec<Outcome>,
    initial: Vec<f64>,
}

impl Sampler {
    pub fn new(mdp: &TabularMdp) -> Self {
        let (ns, na) = (mdp.n_states(), mdp.n_actions());
        let mut offsets = Vec::with_capacity(ns * na + 1);
        let mut cumulative = Vec::new();
        let mut outcomes = Vec::new();
        offsets.push(0);
        for s in 0..ns {
            for a in 0..na {
                let list = mdp.outcomes(s, a);
                cumulative.extend(cumulate(list.iter().map(|o| o.prob)));
                outcomes.extend_from_slice(list);
                offsets.push(outcomes.len() as u32);
            }
        }
        Sampler {
            n_actions: na,
            offsets,
            cumulative,
            outcomes,
            initial: cumulate(mdp.initial().iter().copied()),
        }
    }

    /// Draws an initial state from the MDP's initial distribution.
    pub fn reset<R: Rng>(&self, rng: &mut R) -> usize {
        draw(&self.initial, rng.random())
    }

    /// Draws the outcome of taking `a` in `s`.
    #[inline]
    pub fn step<R: Rng>(&self, s: usize, a: usize, rng: &mut R) -> Outcome {
        let i = s * self.n_actions + a;
        let (lo, hi) = (self.offsets[i] as usize, self.offsets[i + 1] as usize);
        if hi - lo == 1 {
            return self.outcomes[lo];
        }
        self.outcomes[lo + draw(&self.cumulative[lo..hi], rng.random())]
    }
}

/// A [`TabularMdp`] as an [`Env`]: the state, and what it observes, is
/// the state index.
#[derive(Debug, Clone)]
pub struct Tabular<'a> {
    mdp: &'a TabularMdp,
    sampler: Sampler,
}

impl<'a> Tabular<'a> {
    pub fn new(mdp: &'a TabularMdp) -> Self {
        Tabular {
            mdp,
            sampler: Sampler::new(mdp),
        }
    }
}

impl Env for Tabular<'_> {
    type State = usize;
    type Obs = usize;

    fn id(&self) -> &str {
        self.mdp.id()
    }
    fn n_actions(&self) -> usize {
        self.mdp.n_actions()
    }
    fn obs_dim(&self) -> usize {
        1
    }
    fn time_limit(&self) -> Option<usize> {
        self.mdp.time_limit()
    }
    fn reset<R: Rng>(&self, rng: &mut R) -> usize {
        self.sampler.reset(rng)
    }
    fn parse_state(&self, text: &str) -> Result<usize> {
        let s: usize = text
            .trim()
            .parse()
            .map_err(|_| Error::Invalid("expected a state index".into()))?;
        if s >= self.mdp.n_states() {
            return Err(Error::Invalid(format!(
                "{} has states 0..={}",
                self.mdp.id(),
                self.mdp.n_states() - 1
            )));
        }
        Ok(s)
    }
    fn step<R: Rng>(&self, state: &mut usize, action: usize, rng: &mut R) -> Step {
        let o = self.sampler.step(*state, action, rng);
        *state = o.next as usize;
        Step {
            reward: o.reward,
            terminated: o.terminated,
        }
    }
    fn observe(&self, state: &usize) -> usize {
        *state
    }
}

/// Draws actions from a fixed stochastic policy.
#[derive(Debug, Clone)]
pub struct PolicySampler {
    n_actions: usize,
    /// Row-major cumulative π(·|s).
    cumulative: Vec<f64>,
}

impl PolicySampler {
    pub fn new(policy: &Policy) -> Self {
        let n_actions = policy.ncols();
        let cumulative = policy
            .outer_iter()
            .flat_map(|row| cumulate(row.iter().copied()))
            .collect();
        PolicySampler {
            n_actions,
            cumulative,
        }
    }

    #[inline]
    pub fn action<R: Rng>(&self, s: usize, rng: &mut R) -> usize {
        let row = &self.cumulative[s * self.n_actions..(s + 1) * self.n_actions];
        draw(row, rng.random())
    }
}

/// One episode's states, rewards and end flags.
#[derive(Debug, Clone, PartialEq)]
pub struct Episode {
    pub states: Vec<usize>,
    pub rewards: Vec<f64>,
    pub terminated: bool,
    pub truncated: bool,
}

/// Plays `policy` from a sampled initial state until termination or
/// `time_limit` steps.
pub fn rollout<R: Rng>(
    sampler: &Sampler,
    policy: &PolicySampler,
    time_limit: usize,
    rng: &mut R,
) -> Episode {
    let mut s = sampler.reset(rng);
    let mut episode = Episode {
        states: vec![s],
        rewards: Vec::new(),
        terminated: false,
        truncated: false,
    };
    while episode.rewards.len() < time_limit {
        let o = sampler.step(s, policy.action(s, rng), rng);
        episode.rewards.push(o.reward);
        s = o.next as usize;
        episode.states.push(s);
        if o.terminated {
            episode.terminated = true;
            return episode;
        }
    }
    episode.truncated = true;
    episode
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mdp::envs;
    use crate::mdp::solve::evaluate_policy;
    use crate::mdp::{Policy, TabularMdp};
    use rand::SeedableRng;
    use rand_pcg::Pcg64Mcg;

    /// Mean discounted Monte-Carlo return of `policy` over `n` episodes
    /// (cut at `steps`, where γ^steps is negligible) and its 5-sigma bound.
    fn monte_carlo(
        mdp: &TabularMdp,
        policy: &Policy,
        gamma: f64,
        n: usize,
        steps: usize,
    ) -> (f64, f64) {
        let (sampler, actions) = (Sampler::new(mdp), PolicySampler::new(policy));
        let mut rng = Pcg64Mcg::seed_from_u64(7);
        let returns: Vec<f64> = (0..n)
            .map(|_| {
                let ep = rollout(&sampler, &actions, steps, &mut rng);
                ep.rewards.iter().rev().fold(0.0, |acc, r| r + gamma * acc)
            })
            .collect();
        let mean = returns.iter().sum::<f64>() / n as f64;
        let var = returns.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        (mean, 5.0 * (var / n as f64).sqrt())
    }

    /// Exact evaluation agrees with Monte-Carlo returns within a 5-sigma
    /// bound: on the acyclic ThreeState, and with stochastic policies on
    /// FrozenLake8x8 and Taxi, whose policy graphs have cyclic components
    /// (solved densely and banded).
    #[test]
    fn monte_carlo_matches_exact_evaluation() {
        let mdp = envs::make("ThreeState-v0").unwrap();
        let policy = mdp.behavior().unwrap().clone();
        let exact = evaluate_policy(&mdp, &policy, 0.9).unwrap().j;
        // 0.5·0.9·1 + 0.5·0.9·(−10)
        assert!((exact - (-4.05)).abs() < 1e-12);
        let mut cases = vec![("ThreeState-v0", policy, 0.9)];
        for id in ["FrozenLake8x8-v1", "Taxi-v4"] {
            let mdp = envs::make(id).unwrap();
            let optimal = crate::mdp::solve::optimal(&mdp, 0.99).unwrap().policy;
            cases.push((id, optimal * 0.7 + mdp.uniform_policy() * 0.3, 0.99));
        }
        for (id, policy, gamma) in cases {
            let mdp = envs::make(id).unwrap();
            let exact = evaluate_policy(&mdp, &policy, gamma).unwrap().j;
            // γ^5000 < 1e-21: the cut changes nothing visible.
            let (mean, bound) = monte_carlo(&mdp, &policy, gamma, 20_000, 5_000);
            assert!(
                (mean - exact).abs() < bound,
                "{id}: MC {mean} vs exact {exact} (bound {bound})"
            );
            assert!(
                bound < 0.05 * (1.0 + exact.abs()),
                "{id}: bound {bound} too loose"
            );
        }
    }

    #[test]
    fn sampler_frequencies_follow_probabilities() {
        let mdp = envs::make("ImitationTrap-v0").unwrap();
        let pi = mdp.uniform_policy();
        let actions = PolicySampler::new(&pi);
        let mut rng = Pcg64Mcg::seed_from_u64(1);
        let n = 100_000;
        let ones = (0..n).filter(|_| actions.action(0, &mut rng) == 1).count();
        let p = ones as f64 / f64::from(n);
        assert!((p - 0.5).abs() < 5.0 * (0.25 / f64::from(n)).sqrt());
        let sampler = Sampler::new(&mdp);
        assert_eq!(sampler.reset(&mut rng), 0);
        assert_eq!(sampler.step(0, 1, &mut rng).next, 2);
    }
}
