//! Behaviour policies and seeded collection.
//!
//! The qualities follow D4RL: `random` is uniform; `medium` and `expert` mix
//! the optimal policy with uniform play, (1 − ε)·π* + ε·uniform, with ε
//! found by bisection on the *exact* return: `medium` so that J sits at the
//! midpoint of J(random) and J*, `expert` as the largest ε whose normalized
//! score is still ≥ 95 (a fixed 5% noise scores only 80 on FrozenLake8x8,
//! where slips compound); `medium-replay` is the replay buffer of online
//! Q-learners stopped when they reach the medium target (see [`Replay`]);
//! `medium-expert` is half medium, half expert data; `behavior` is the
//! environment's documented behaviour policy (the lecture's toy problems).

use super::{Dataset, Quality};
use crate::error::{Error, Result};
use crate::mdp::sample::{PolicySampler, Sampler};
use crate::mdp::solve::{self, evaluate_policy};
use crate::mdp::{Policy, TabularMdp};
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;

/// The normalized score the expert's noise is calibrated to keep.
pub const EXPERT_SCORE: f64 = 95.0;

/// A stationary behaviour policy and how it was calibrated.
#[derive(Debug, Clone)]
pub struct Behavior {
    pub policy: Policy,
    /// Its exact discounted return.
    pub j: f64,
    /// The weight of the uniform policy in the optimal/uniform mixture, for
    /// `medium` and `expert`.
    pub epsilon: Option<f64>,
    /// The return ε was calibrated to reach, for `medium` and `expert`.
    pub target: Option<f64>,
}

/// How a dataset's behaviour was chosen, for `data collect`'s report.
#[derive(Debug, Clone)]
pub enum Calibration {
    /// One stationary policy.
    Stationary(Behavior),
    /// Online learners (`medium-replay`).
    Replay(Replay),
    /// The first `medium_transitions` from `medium`, the rest from `expert`.
    MediumExpert {
        medium: Behavior,
        expert: Behavior,
        medium_transitions: usize,
    },
}

/// (1 − ε)·π* + ε·uniform.
fn mixture(optimal: &Policy, epsilon: f64) -> Policy {
    let n_actions = optimal.ncols() as f64;
    optimal.mapv(|p| (1.0 - epsilon) * p + epsilon / n_actions)
}

/// The stationary policy of `quality` (all but the two mixtures of data).
pub fn behavior_policy(mdp: &TabularMdp, quality: Quality, gamma: f64) -> Result<Behavior> {
    let with_return = |policy: Policy, epsilon, target| -> Result<Behavior> {
        let j = evaluate_policy(mdp, &policy, gamma)?.j;
        Ok(Behavior {
            policy,
            j,
            epsilon,
            target,
        })
    };
    match quality {
        Quality::Random => with_return(mdp.uniform_policy(), None, None),
        Quality::Medium | Quality::Expert => {
            let optimal = solve::optimal(mdp, gamma)?;
            let random = evaluate_policy(mdp, &mdp.uniform_policy(), gamma)?.j;
            let share = if quality == Quality::Medium {
                0.5
            } else {
                EXPERT_SCORE / 100.0
            };
            let target = random + share * (optimal.values.j - random);
            let epsilon = calibrate(mdp, &optimal.policy, gamma, target)?;
            with_return(
                mixture(&optimal.policy, epsilon),
                Some(epsilon),
                Some(target),
            )
        }
        Quality::Behavior => match mdp.behavior() {
            Some(policy) => with_return(policy.clone(), None, None),
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

/// The largest ε (within 1e-6) whose mixture's return is still ≥ `target`,
/// by bisection (J falls as ε grows from the optimum at ε = 0 to random
/// play at ε = 1).
fn calibrate(mdp: &TabularMdp, optimal: &Policy, gamma: f64, target: f64) -> Result<f64> {
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    while hi - lo >= 1e-6 {
        let mid = 0.5 * (lo + hi);
        let j = evaluate_policy(mdp, &mixture(optimal, mid), gamma)?.j;
        if j >= target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(lo)
}

/// Gymnasium's TimeLimit: an episode is truncated when its step count
/// reaches the limit, even if that last step also terminated it. A dataset
/// that is full cuts its last episode too (marked truncated unless it
/// terminated).
#[inline(always)]
fn truncated(step: usize, time_limit: usize, budget: usize, terminated: bool) -> bool {
    step >= time_limit || (!terminated && step >= budget)
}

/// Plays a stationary policy into a dataset, numbering episodes and cutting
/// them at the time limit: the general loop (any number of outcomes per pair).
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

    /// Plays episodes until the dataset holds `until` transitions.
    fn run<R: Rng>(&mut self, actions: &PolicySampler, until: usize, rng: &mut R) {
        while self.data.len() < until {
            let mut s = self.sampler.reset(rng);
            let mut step = 0u32;
            let budget = until - self.data.len();
            loop {
                let a = actions.action(s, rng);
                let o = self.sampler.step(s, a, rng);
                step += 1;
                let truncated = truncated(step as usize, self.time_limit, budget, o.terminated);
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
    collect_calibrated(mdp, quality, size, seed, gamma).map(|(data, _)| data)
}

/// [`collect`], also returning how the behaviour was calibrated.
pub fn collect_calibrated(
    mdp: &TabularMdp,
    quality: Quality,
    size: usize,
    seed: u64,
    gamma: f64,
) -> Result<(Dataset, Calibration)> {
    if !matches!(quality, Quality::MediumExpert | Quality::MediumReplay) {
        let behavior = behavior_policy(mdp, quality, gamma)?;
        let data = collect_with_policy(mdp, behavior.policy.clone(), size, seed)?;
        return Ok((data, Calibration::Stationary(behavior)));
    }
    let mut data = Dataset::new(mdp.n_states(), mdp.n_actions());
    data.try_reserve(size)?;
    let calibration = if quality == Quality::MediumExpert {
        let mut rng = Pcg64Mcg::seed_from_u64(seed);
        let medium = behavior_policy(mdp, Quality::Medium, gamma)?;
        let expert = behavior_policy(mdp, Quality::Expert, gamma)?;
        collect_with(mdp, &medium.policy, size / 2, &mut rng, &mut data);
        let medium_transitions = data.len();
        collect_with(mdp, &expert.policy, size, &mut rng, &mut data);
        Calibration::MediumExpert {
            medium,
            expert,
            medium_transitions,
        }
    } else {
        Calibration::Replay(replay(mdp, size, seed, gamma, &mut data)?)
    };
    Ok((data, calibration))
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
    data.try_reserve(size)?;
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
        _ => Collector::new(mdp, data).run(&actions, until, rng),
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
            let budget = until - data.len();
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
                let truncated = truncated(step as usize, time_limit, budget, terminated);
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

/// The ε of the replay learner's ε-greedy behaviour.
const REPLAY_EPSILON: f64 = 0.1;
/// The replay learner's constant step size.
const REPLAY_STEP_SIZE: f64 = 0.1;
/// Episodes between two exact evaluations of the learner's behaviour.
const REPLAY_EVAL_EVERY: usize = 10;

/// One online learner of a `medium-replay` dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct Learner {
    pub episodes: usize,
    pub transitions: usize,
    /// Exact J of its ε-greedy behaviour when it stopped.
    pub final_j: f64,
    /// Whether that J reached the target (false: the data filled up first).
    pub reached: bool,
}

/// How a `medium-replay` dataset was made: tabular Q-learning online (zero
/// initialisation, step size 0.1, updated after every step), behaving
/// ε-greedily (ε = 0.1, ties broken at random, seeded). Every 10 episodes
/// its behaviour is evaluated exactly; the learner stops once that J
/// reaches the medium target, and a fresh learner (next seed) takes over
/// until the data holds `size` transitions. The dataset is thus the
/// concatenated replay buffers of several training runs, each from scratch
/// to medium; the last one is cut by the size.
#[derive(Debug, Clone, PartialEq)]
pub struct Replay {
    /// The medium target J (midpoint of random and optimal).
    pub target: f64,
    /// Episodes are cut at this many steps (the time limit, else see [`replay_horizon`]).
    pub horizon: usize,
    pub learners: Vec<Learner>,
}

/// The replay learner's episode cap: Gymnasium's time limit, or where none
/// is registered (CliffWalking) four steps per state, Chain-vN's own rule,
/// which lets a learner cross the state space several times while one
/// stuck episode cannot fill the whole buffer.
pub fn replay_horizon(mdp: &TabularMdp) -> usize {
    mdp.time_limit().unwrap_or(4 * mdp.n_states())
}

/// ε-greedy over `q[s]` with ties broken uniformly at random, as a policy:
/// what the learner plays, for exact evaluation.
fn epsilon_greedy(q: &Array2<f64>, epsilon: f64) -> Policy {
    let na = q.ncols() as f64;
    let mut pi = Array2::from_elem(q.dim(), epsilon / na);
    for (row, mut out) in q.outer_iter().zip(pi.outer_iter_mut()) {
        let best = solve::max_value(row);
        let ties = row.iter().filter(|&&x| x == best).count() as f64;
        for (&x, p) in row.iter().zip(out.iter_mut()) {
            if x == best {
                *p += (1.0 - epsilon) / ties;
            }
        }
    }
    pi
}

/// Collects a `medium-replay` dataset (see [`Replay`]).
fn replay(
    mdp: &TabularMdp,
    size: usize,
    seed: u64,
    gamma: f64,
    data: &mut Dataset,
) -> Result<Replay> {
    let optimal = solve::optimal(mdp, gamma)?.values.j;
    let random = evaluate_policy(mdp, &mdp.uniform_policy(), gamma)?.j;
    let target = 0.5 * (random + optimal);
    let horizon = replay_horizon(mdp);
    let sampler = Sampler::new(mdp);
    let (ns, na) = (mdp.n_states(), mdp.n_actions());
    let mut report = Replay {
        target,
        horizon,
        learners: Vec::new(),
    };
    let mut episode = 0u32;
    while data.len() < size {
        let mut rng = Pcg64Mcg::seed_from_u64(seed.wrapping_add(report.learners.len() as u64));
        let mut q = vec![0.0; ns * na];
        let started = data.len();
        let mut learner = Learner {
            episodes: 0,
            transitions: 0,
            final_j: random,
            reached: false,
        };
        while data.len() < size && !learner.reached {
            let mut s = sampler.reset(&mut rng);
            let budget = size - data.len();
            for step in 0..horizon.min(budget) {
                let row = &q[s * na..(s + 1) * na];
                let a = if rng.random::<f64>() < REPLAY_EPSILON {
                    rng.random_range(0..na)
                } else {
                    random_argmax(row, &mut rng)
                };
                let o = sampler.step(s, a, &mut rng);
                let next = o.next as usize;
                let bootstrap = if o.terminated {
                    0.0
                } else {
                    solve::max_value(&q[next * na..(next + 1) * na])
                };
                let cell = &mut q[s * na + a];
                *cell += REPLAY_STEP_SIZE * (o.reward + gamma * bootstrap - *cell);
                let truncated = truncated(step + 1, horizon, budget, o.terminated);
                data.push(
                    episode,
                    step as u32,
                    s as u32,
                    a as u32,
                    o.reward,
                    o.next,
                    o.terminated,
                    truncated,
                );
                s = next;
                if o.terminated {
                    break;
                }
            }
            episode += 1;
            learner.episodes += 1;
            if learner.episodes.is_multiple_of(REPLAY_EVAL_EVERY) || data.len() >= size {
                let table =
                    Array2::from_shape_vec((ns, na), q.clone()).expect("the shape is the table's");
                let behavior = epsilon_greedy(&table, REPLAY_EPSILON);
                learner.final_j = evaluate_policy(mdp, &behavior, gamma)?.j;
                learner.reached = learner.final_j >= target;
            }
        }
        learner.transitions = data.len() - started;
        report.learners.push(learner);
    }
    Ok(report)
}

/// Index of the largest value, ties broken uniformly at random (a learner
/// that starts from zeros would otherwise always try action 0 first).
#[inline]
fn random_argmax<R: Rng>(row: &[f64], rng: &mut R) -> usize {
    let (mut best, mut choice, mut ties) = (f64::NEG_INFINITY, 0, 0u32);
    for (i, &x) in row.iter().enumerate() {
        if x > best {
            (best, choice, ties) = (x, i, 1);
        } else if x == best {
            ties += 1;
            if rng.random_range(0..ties) == 0 {
                choice = i;
            }
        }
    }
    choice
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::EmpiricalMdp;
    use crate::mdp::envs;

    #[test]
    fn medium_sits_at_the_midpoint_and_expert_keeps_95() {
        for id in ["ThreeState-v0", "FrozenLake8x8-v1", "Taxi-v4"] {
            let mdp = envs::make(id).unwrap();
            let gamma = 0.99;
            let random = behavior_policy(&mdp, Quality::Random, gamma).unwrap().j;
            let optimal = solve::optimal(&mdp, gamma).unwrap();
            let score = |j| crate::eval::normalized_score(j, random, optimal.values.j);
            let medium = behavior_policy(&mdp, Quality::Medium, gamma).unwrap();
            assert!(
                (score(medium.j) - 50.0).abs() < 1e-3,
                "{id}: {}",
                score(medium.j)
            );
            let expert = behavior_policy(&mdp, Quality::Expert, gamma).unwrap();
            assert!(score(expert.j) >= EXPERT_SCORE, "{id}: {}", score(expert.j));
            // The largest such ε: a little more noise drops below 95.
            let noisier = mixture(&optimal.policy, expert.epsilon.unwrap() + 1e-5);
            let j = evaluate_policy(&mdp, &noisier, gamma).unwrap().j;
            assert!(score(j) < EXPERT_SCORE, "{id}: {}", score(j));
        }
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

    /// Gymnasium's TimeLimit sets `truncated` on the step that reaches the
    /// limit even when that step also terminates: ImitationTrap's single
    /// decision (limit 1) is both.
    #[test]
    fn truncation_follows_gymnasium_time_limit() {
        let mdp = envs::make("ImitationTrap-v0").unwrap();
        for quality in [Quality::Behavior, Quality::MediumReplay] {
            let data = collect(&mdp, quality, 100, 0, 0.9).unwrap();
            assert!(data.terminated.iter().all(|&t| t), "{quality}");
            assert!(data.truncated.iter().all(|&t| t), "{quality}");
        }
        // Chain-v5 (limit 20) under uniform play: an episode that ends early
        // by termination is not truncated; one that reaches step 20 is.
        let mdp = envs::make("Chain-v5").unwrap();
        let data = collect(&mdp, Quality::Random, 50_000, 0, 0.9).unwrap();
        for i in 0..data.len() - 1 {
            let at_limit = data.step[i] + 1 == 20;
            assert_eq!(data.truncated[i], at_limit, "row {i}");
        }
        assert!(data.truncated.iter().any(|&t| t));
    }

    /// The replay learners learn online: their buffers contain successes,
    /// and the first learner's behaviour reached the medium target (its J
    /// evaluated exactly) before the next one started from scratch.
    #[test]
    fn medium_replay_learners_reach_medium() {
        for (id, size, success) in [
            ("FrozenLake8x8-v1", 400_000, 1.0),
            ("Taxi-v4", 100_000, 20.0),
        ] {
            let mdp = envs::make(id).unwrap();
            let gamma = 0.99;
            let (data, calibration) =
                collect_calibrated(&mdp, Quality::MediumReplay, size, 0, gamma).unwrap();
            assert_eq!(data.len(), size);
            let Calibration::Replay(replay) = calibration else {
                panic!("{id}: medium-replay reports its learners");
            };
            let medium = behavior_policy(&mdp, Quality::Medium, gamma).unwrap();
            assert!((replay.target - medium.target.unwrap()).abs() < 1e-12);
            assert!(replay.learners.len() >= 2, "{id}: {replay:?}");
            for learner in &replay.learners[..replay.learners.len() - 1] {
                assert!(
                    learner.reached && learner.final_j >= replay.target,
                    "{id}: {learner:?}"
                );
            }
            let total: usize = replay.learners.iter().map(|l| l.transitions).sum();
            assert_eq!(total, size);
            let successes = data.reward.iter().filter(|&&r| r == success).count();
            assert!(successes >= 50, "{id}: {successes} successes");
            // Episodes never pass the time limit.
            assert!(data.step.iter().all(|&t| (t as usize) < replay.horizon));
        }
    }

    /// Statistical check of collection on the slippery FrozenLake: per
    /// state the action frequencies match π_β, and per (s, a) the successor
    /// frequencies match P, each within 5 binomial standard deviations.
    #[test]
    fn collected_frequencies_match_the_policy_and_the_dynamics() {
        let mdp = envs::make("FrozenLake-v1").unwrap();
        let data = collect(&mdp, Quality::Medium, 300_000, 5, 0.99).unwrap();
        let pi = data.behavior.clone().unwrap();
        let (ns, na) = (mdp.n_states(), mdp.n_actions());
        let within = |count: usize, n: usize, p: f64, what: &str| {
            let expected = n as f64 * p;
            let sigma = (n as f64 * p * (1.0 - p)).sqrt();
            assert!(
                (count as f64 - expected).abs() <= 5.0 * sigma + 1e-9,
                "{what}: {count} of {n}, expected {expected:.1} ± {sigma:.1}"
            );
        };
        let mut pair = vec![0usize; ns * na];
        let mut next = vec![0usize; ns * na * ns];
        for i in 0..data.len() {
            let (s, a, t) = (
                data.state[i] as usize,
                data.action[i] as usize,
                data.next_state[i] as usize,
            );
            pair[s * na + a] += 1;
            next[(s * na + a) * ns + t] += 1;
        }
        let mut checked = 0;
        for s in 0..ns {
            let n_s: usize = pair[s * na..(s + 1) * na].iter().sum();
            if n_s < 1_000 {
                continue;
            }
            for a in 0..na {
                within(
                    pair[s * na + a],
                    n_s,
                    pi[[s, a]],
                    &format!("action {a} in {s}"),
                );
                let n = pair[s * na + a];
                for t in 0..ns {
                    let p: f64 = mdp
                        .outcomes(s, a)
                        .iter()
                        .filter(|o| o.next as usize == t)
                        .map(|o| o.prob)
                        .sum();
                    within(
                        next[(s * na + a) * ns + t],
                        n,
                        p,
                        &format!("{s} -{a}-> {t}"),
                    );
                }
                checked += 1;
            }
        }
        assert!(checked >= 30, "only {checked} pairs had enough data");
    }
}
