//! Behaviour policies and seeded collection.
//!
//! The qualities follow D4RL: `random` is uniform; `expert` is the optimal
//! policy mixed with 5% uniform noise; `medium` mixes optimal and uniform
//! with the weight ε found by bisection on the *exact* return, so that J sits
//! at the midpoint of J(random) and J*; `medium-replay` is the replay buffer
//! of an online ε-greedy Q-learner stopped when it reaches that midpoint
//! (learners restart until the size is reached); `medium-expert` is half
//! medium, half expert data; `behavior` is the environment's documented
//! behaviour policy (the lecture's toy problems).

use super::{Dataset, Quality};
use crate::error::{Error, Result};
use crate::mdp::sample::{PolicySampler, Sampler};
use crate::mdp::solve::{self, evaluate_policy};
use crate::mdp::{Policy, TabularMdp};
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;

/// The noise of the expert policy (share of uniform actions).
pub const EXPERT_NOISE: f64 = 0.05;

/// A stationary behaviour policy and how it was calibrated.
#[derive(Debug, Clone)]
pub struct Behavior {
    pub policy: Policy,
    /// Its exact discounted return.
    pub j: f64,
    /// The weight of the uniform policy in the optimal/uniform mixture, for
    /// `medium` and `expert`.
    pub epsilon: Option<f64>,
}

/// (1 − ε)·π* + ε·uniform.
fn mixture(optimal: &Policy, epsilon: f64) -> Policy {
    let n_actions = optimal.ncols() as f64;
    optimal.mapv(|p| (1.0 - epsilon) * p + epsilon / n_actions)
}

/// The stationary policy of `quality` (all but the two mixtures of data).
pub fn behavior_policy(mdp: &TabularMdp, quality: Quality, gamma: f64) -> Result<Behavior> {
    let with_return = |policy: Policy, epsilon| -> Result<Behavior> {
        let j = evaluate_policy(mdp, &policy, gamma)?.j;
        Ok(Behavior { policy, j, epsilon })
    };
    match quality {
        Quality::Random => with_return(mdp.uniform_policy(), None),
        Quality::Expert => {
            let optimal = solve::optimal(mdp, gamma)?.policy;
            with_return(mixture(&optimal, EXPERT_NOISE), Some(EXPERT_NOISE))
        }
        Quality::Medium => {
            let optimal = solve::optimal(mdp, gamma)?;
            let random = evaluate_policy(mdp, &mdp.uniform_policy(), gamma)?.j;
            let target = 0.5 * (random + optimal.values.j);
            let epsilon = calibrate(mdp, &optimal.policy, gamma, target)?;
            with_return(mixture(&optimal.policy, epsilon), Some(epsilon))
        }
        Quality::Behavior => match mdp.behavior() {
            Some(policy) => with_return(policy.clone(), None),
            None => Err(Error::Invalid(format!(
                "{} defines no behaviour policy; use random, medium, expert, medium-replay or medium-expert",
                mdp.id()
            ))),
        },
        Quality::MediumReplay | Quality::MediumExpert => Err(Error::Invalid(format!(
            "`{quality}` data comes from several policies, not one stationary policy"
        ))),
    }
}

/// The ε whose mixture has return `target`, by bisection (J falls as ε grows
/// from the optimum at ε = 0 to random play at ε = 1).
fn calibrate(mdp: &TabularMdp, optimal: &Policy, gamma: f64, target: f64) -> Result<f64> {
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    for _ in 0..40 {
        let mid = 0.5 * (lo + hi);
        let j = evaluate_policy(mdp, &mixture(optimal, mid), gamma)?.j;
        if j > target {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo < 1e-6 {
            break;
        }
    }
    Ok(0.5 * (lo + hi))
}

/// Appends transitions to a dataset, numbering episodes and cutting them at
/// the time limit.
struct Collector<'a> {
    sampler: Sampler,
    time_limit: usize,
    data: &'a mut Dataset,
    episode: u32,
}

impl<'a> Collector<'a> {
    fn new(mdp: &TabularMdp, data: &'a mut Dataset) -> Self {
        let episode = data.episode.last().map_or(0, |e| e + 1);
        Collector {
            sampler: Sampler::new(mdp),
            time_limit: mdp.time_limit().unwrap_or(usize::MAX),
            data,
            episode,
        }
    }

    /// Plays episodes until the dataset holds `until` transitions or
    /// `choose` says stop (it sees each transition and may learn from it).
    fn run<R: Rng>(
        &mut self,
        until: usize,
        rng: &mut R,
        mut choose: impl FnMut(usize, &mut R) -> usize,
        mut observe: impl FnMut(&Dataset) -> bool,
    ) {
        while self.data.len() < until {
            let mut s = self.sampler.reset(rng);
            let mut step = 0u32;
            // The episode is cut at the time limit or when the data is full.
            let budget = self.time_limit.min(until - self.data.len());
            loop {
                let a = choose(s, rng);
                let o = self.sampler.step(s, a, rng);
                step += 1;
                let truncated = !o.terminated && step as usize >= budget;
                self.data.push(
                    self.episode,
                    step - 1,
                    s as u32,
                    a as u32,
                    o.reward,
                    o.next,
                    o.terminated,
                    truncated,
                );
                s = o.next as usize;
                if o.terminated || truncated {
                    break;
                }
            }
            self.episode += 1;
            if observe(self.data) {
                return;
            }
        }
    }
}

/// Collects `size` transitions with the behaviour policy named by `quality`
/// (calibrated with discount `gamma`), deterministically from `seed`.
/// Episodes are truncated at the environment's time limit; the last episode
/// is cut (truncated) when `size` is reached.
pub fn collect(
    mdp: &TabularMdp,
    quality: Quality,
    size: usize,
    seed: u64,
    gamma: f64,
) -> Result<Dataset> {
    if !matches!(quality, Quality::MediumExpert | Quality::MediumReplay) {
        let behavior = behavior_policy(mdp, quality, gamma)?;
        return collect_with_policy(mdp, behavior.policy, size, seed);
    }
    let mut rng = Pcg64Mcg::seed_from_u64(seed);
    let mut data = Dataset::new(mdp.n_states(), mdp.n_actions());
    data.reserve(size);
    if quality == Quality::MediumExpert {
        let medium = behavior_policy(mdp, Quality::Medium, gamma)?;
        let expert = behavior_policy(mdp, Quality::Expert, gamma)?;
        collect_with(mdp, &medium.policy, size / 2, &mut rng, &mut data);
        collect_with(mdp, &expert.policy, size, &mut rng, &mut data);
    } else {
        replay(mdp, size, gamma, &mut rng, &mut data)?;
    }
    Ok(data)
}

/// Collects `size` transitions with a given stationary `policy`,
/// deterministically from `seed`, and records it as the data's behaviour
/// policy. [`collect`] with a stationary quality is this function applied to
/// [`behavior_policy`]'s result (same seed, same data), so callers that reuse
/// one calibrated policy skip the calibration.
pub fn collect_with_policy(
    mdp: &TabularMdp,
    policy: Policy,
    size: usize,
    seed: u64,
) -> Result<Dataset> {
    mdp.check_policy(&policy)?;
    let mut rng = Pcg64Mcg::seed_from_u64(seed);
    let mut data = Dataset::new(mdp.n_states(), mdp.n_actions());
    data.reserve(size);
    collect_with(mdp, &policy, size, &mut rng, &mut data);
    data.behavior = Some(policy);
    Ok(data)
}

/// Plays `policy` until `data` holds `until` transitions.
fn collect_with<R: Rng>(
    mdp: &TabularMdp,
    policy: &Policy,
    until: usize,
    rng: &mut R,
    data: &mut Dataset,
) {
    let actions = PolicySampler::new(policy);
    let widest = (0..mdp.n_states())
        .flat_map(|s| (0..mdp.n_actions()).map(move |a| (s, a)))
        .map(|(s, a)| mdp.outcomes(s, a).len())
        .max()
        .unwrap_or(1);
    match widest {
        1 => Padded::<1>::new(mdp).run(mdp, &actions, until, rng, data),
        2 => Padded::<2>::new(mdp).run(mdp, &actions, until, rng, data),
        3 => Padded::<3>::new(mdp).run(mdp, &actions, until, rng, data),
        4 => Padded::<4>::new(mdp).run(mdp, &actions, until, rng, data),
        _ => Collector::new(mdp, data).run(until, rng, |s, rng| actions.action(s, rng), |_| false),
    }
}

/// The MDP's outcomes padded to `K` per (s, a): the collection loop finds a
/// pair's outcomes by arithmetic rather than through an offset table, which
/// shortens the chain of dependent loads from one state to the next. Draws
/// consume the random stream exactly as [`Sampler::step`] does, so the data
/// is the same as [`Collector`]'s.
struct Padded<const K: usize> {
    n_actions: usize,
    /// Cumulative probabilities, padded with +∞ (never `<= u`).
    cumulative: Vec<[f64; K]>,
    next: Vec<[u32; K]>,
    reward: Vec<[f64; K]>,
    terminated: Vec<[bool; K]>,
    /// Index of the pair's last outcome (0: no draw at all).
    last: Vec<u8>,
}

impl<const K: usize> Padded<K> {
    fn new(mdp: &TabularMdp) -> Self {
        let pairs = mdp.n_states() * mdp.n_actions();
        let mut table = Padded {
            n_actions: mdp.n_actions(),
            cumulative: vec![[f64::INFINITY; K]; pairs],
            next: vec![[0; K]; pairs],
            reward: vec![[0.0; K]; pairs],
            terminated: vec![[false; K]; pairs],
            last: vec![0; pairs],
        };
        for s in 0..mdp.n_states() {
            for a in 0..mdp.n_actions() {
                let i = s * mdp.n_actions() + a;
                let outcomes = mdp.outcomes(s, a);
                let mut sum = 0.0;
                for (k, o) in outcomes.iter().enumerate() {
                    sum += o.prob;
                    table.cumulative[i][k] = sum;
                    table.next[i][k] = o.next;
                    table.reward[i][k] = o.reward;
                    table.terminated[i][k] = o.terminated;
                }
                table.last[i] = (outcomes.len() - 1) as u8;
            }
        }
        table
    }

    /// [`Collector::run`] with a stationary policy, specialised.
    fn run<R: Rng>(
        &self,
        mdp: &TabularMdp,
        actions: &PolicySampler,
        until: usize,
        rng: &mut R,
        data: &mut Dataset,
    ) {
        let sampler = Sampler::new(mdp);
        let time_limit = mdp.time_limit().unwrap_or(usize::MAX);
        let mut episode = data.episode.last().map_or(0, |e| e + 1);
        while data.len() < until {
            let mut s = sampler.reset(rng);
            let budget = time_limit.min(until - data.len());
            let mut step = 0u32;
            loop {
                let a = actions.action(s, rng);
                let i = s * self.n_actions + a;
                let last = self.last[i] as usize;
                let k = if last == 0 {
                    0
                } else {
                    let u: f64 = rng.random();
                    let below: usize = self.cumulative[i]
                        .iter()
                        .map(|&c| usize::from(c <= u))
                        .sum();
                    below.min(last)
                };
                let (next, terminated) = (self.next[i][k], self.terminated[i][k]);
                step += 1;
                let truncated = !terminated && step as usize >= budget;
                data.push(
                    episode,
                    step - 1,
                    s as u32,
                    a as u32,
                    self.reward[i][k],
                    next,
                    terminated,
                    truncated,
                );
                s = next as usize;
                if terminated || truncated {
                    break;
                }
            }
            episode += 1;
        }
    }
}

/// Online ε-greedy Q-learning (ε = 0.1, step size 0.1, zero initialisation),
/// restarted each time its behaviour reaches the medium return.
fn replay<R: Rng>(
    mdp: &TabularMdp,
    size: usize,
    gamma: f64,
    rng: &mut R,
    data: &mut Dataset,
) -> Result<()> {
    const EPSILON: f64 = 0.1;
    const STEP_SIZE: f64 = 0.1;
    let optimal = solve::optimal(mdp, gamma)?.values.j;
    let random = evaluate_policy(mdp, &mdp.uniform_policy(), gamma)?.j;
    let target = 0.5 * (random + optimal);
    let (ns, na) = (mdp.n_states(), mdp.n_actions());
    while data.len() < size {
        let q = std::cell::RefCell::new(Array2::<f64>::zeros((ns, na)));
        let mut learned = data.len();
        let mut episodes = 0usize;
        let mut reached = Ok(false);
        Collector::new(mdp, data).run(
            size,
            rng,
            |s, rng| {
                if rng.random::<f64>() < EPSILON {
                    rng.random_range(0..na)
                } else {
                    let q = q.borrow();
                    solve::argmax(q.row(s).iter().copied())
                }
            },
            |data| {
                let mut q = q.borrow_mut();
                for i in learned..data.len() {
                    let (s, a, s2) = (
                        data.state[i] as usize,
                        data.action[i] as usize,
                        data.next_state[i] as usize,
                    );
                    let bootstrap = if data.terminated[i] {
                        0.0
                    } else {
                        q.row(s2).fold(f64::NEG_INFINITY, |m, &x| m.max(x))
                    };
                    let target = data.reward[i] + gamma * bootstrap;
                    q[[s, a]] += STEP_SIZE * (target - q[[s, a]]);
                }
                learned = data.len();
                episodes += 1;
                // Exact evaluation is the costly part: check every 10 episodes.
                if !episodes.is_multiple_of(10) {
                    return false;
                }
                let behavior = mixture(&solve::greedy(&q), EPSILON);
                reached = evaluate_policy(mdp, &behavior, gamma).map(|v| v.j >= target);
                !matches!(reached, Ok(false))
            },
        );
        reached?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::EmpiricalMdp;
    use crate::mdp::envs;

    #[test]
    fn medium_sits_at_the_midpoint() {
        let mdp = envs::make("ThreeState-v0").unwrap();
        let gamma = 0.9;
        let medium = behavior_policy(&mdp, Quality::Medium, gamma).unwrap();
        let random = behavior_policy(&mdp, Quality::Random, gamma).unwrap().j;
        let optimal = solve::optimal(&mdp, gamma).unwrap().values.j;
        assert!((medium.j - 0.5 * (random + optimal)).abs() < 1e-4);
        let expert = behavior_policy(&mdp, Quality::Expert, gamma).unwrap();
        assert!(expert.j > medium.j && expert.j <= optimal);
    }

    #[test]
    fn collection_is_seeded_and_matches_the_behaviour() {
        let mdp = envs::make("ThreeState-v0").unwrap();
        let a = collect(&mdp, Quality::Behavior, 20_000, 3, 0.9).unwrap();
        let b = collect(&mdp, Quality::Behavior, 20_000, 3, 0.9).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.len(), 20_000);
        // Each episode is S0 then S1 or S2: two steps, terminated at the end.
        assert!(a.terminated.iter().filter(|&&t| t).count() >= 9_999);
        let compiled = EmpiricalMdp::compile(&a);
        assert_eq!(compiled.count(1, 1), 0);
        assert_eq!(compiled.count(2, 1), 0);
        let estimate = compiled.behavior_estimate();
        // π̂(a1|S0) = 1/2 within 5 sigma of ~10k draws.
        assert!((estimate[[0, 1]] - 0.5).abs() < 5.0 * (0.25f64 / 10_000.0).sqrt());
    }

    #[test]
    fn a_given_policy_collects_what_its_quality_does() {
        let mdp = envs::make("FrozenLake-v1").unwrap();
        let medium = behavior_policy(&mdp, Quality::Medium, 0.99).unwrap().policy;
        let a = collect_with_policy(&mdp, medium, 5_000, 11).unwrap();
        assert_eq!(a, collect(&mdp, Quality::Medium, 5_000, 11, 0.99).unwrap());
        let wrong = Array2::from_elem((3, 4), 0.25);
        assert!(collect_with_policy(&mdp, wrong, 10, 0).is_err());
    }

    #[test]
    fn truncates_at_time_limit_and_at_size() {
        let mdp = envs::make("ThreeState-v0").unwrap();
        let data = collect(&mdp, Quality::Random, 7, 0, 0.9).unwrap();
        assert_eq!(data.len(), 7);
        let last = data.len() - 1;
        assert!(data.terminated[last] || data.truncated[last]);
        for i in 0..last {
            let ends = data.terminated[i] || data.truncated[i];
            assert_eq!(ends, data.episode[i + 1] != data.episode[i]);
        }
    }

    #[test]
    fn replay_and_mixture_have_the_requested_size() {
        let mdp = envs::make("ThreeState-v0").unwrap();
        for quality in [Quality::MediumReplay, Quality::MediumExpert] {
            let data = collect(&mdp, quality, 5_000, 1, 0.9).unwrap();
            assert_eq!(data.len(), 5_000, "{quality}");
            assert!(data.behavior.is_none());
        }
    }
}
