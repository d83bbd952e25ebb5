//! Behaviour policies and seeded collection.
//!
//! The qualities follow D4RL, whose datasets come from single trained
//! policies with narrow actions (distribution shift needs narrow data):
//! - `random`: the uniform policy;
//! - `expert`: the optimal policy (ties to the lowest action) played
//!   ε-greedily with the fixed noise [`NOISE`] = 0.05: with probability
//!   0.05 a uniformly random action;
//! - `medium`: the greedy policy of one online Q-learner (see [`Learner`])
//!   stopped when that policy, played with the same noise, reaches a third
//!   of the expert's normalized score ([`MEDIUM_FRACTION`]; D4RL's medium
//!   policies are trained to about a third of the expert), played with the
//!   same noise;
//! - `medium-replay`: that learner's replay buffer up to the stop: every
//!   transition it played while learning, in order. A smaller `size` keeps
//!   the buffer's beginning; a larger one gets the whole buffer and no more
//!   (the dataset is shorter than asked, and `data collect` says so);
//! - `medium-expert`: the first half `medium`, the second half `expert`;
//! - `behavior`: the environment's documented behaviour policy (the
//!   lecture's toy problems);
//! - the coverage knob `optimal`/`medium` with an ε: that greedy policy
//!   played ε-greedily, from narrow (ε = 0) to uniform (ε = 1) data.
//!
//! Scores are D4RL's, of the exact undiscounted return of one episode
//! within the time limit ([`EpisodeScale`]). The learner is seeded by the
//! dataset's seed (each seed replicates the whole pipeline: train a policy,
//! then collect with it), on a random stream of its own.

use super::{Dataset, Greedy, Quality};
use crate::error::{Error, Result};
use crate::mdp::sample::{PolicySampler, Sampler};
use crate::mdp::solve::{self, EpisodeScale, evaluate_policy};
use crate::mdp::{Policy, TabularMdp};
use crate::memo::Memo;
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;
use std::sync::Arc;

/// The exploration noise of `expert` and `medium`: the probability of a
/// uniformly random action instead of the policy's.
pub const NOISE: f64 = 0.05;
/// `medium`'s target, as a share of the expert's normalized score.
pub const MEDIUM_FRACTION: f64 = 1.0 / 3.0;
/// The learner's own ε-greedy exploration while it learns.
pub const LEARNER_EPSILON: f64 = 0.1;
/// The learner's constant step size.
const LEARNER_STEP_SIZE: f64 = 0.1;
/// The learner's policy is evaluated exactly after 20 transitions, then
/// after every 20 more or 1% more, whichever is more: on Taxi one episode
/// is enough to pass a third of the expert's score (checking only at
/// episode ends overshoots), while FrozenLake8x8 needs ~75k transitions
/// (evaluating every 20 of them would cost a second).
const LEARNER_EVAL_EVERY: usize = 20;
const LEARNER_EVAL_GROWTH: f64 = 1.01;
/// The most transitions the learner plays to reach `medium` before giving up.
pub const LEARNER_BUDGET: usize = 20_000_000;
/// Added to the dataset seed for the learner's random stream, so that the
/// learner and the collection of its policy draw independent numbers.
const LEARNER_STREAM: u64 = 0x9e37_79b9_7f4a_7c15;

/// A stationary behaviour policy and what it is worth.
#[derive(Debug, Clone)]
pub struct Behavior {
    pub policy: Policy,
    /// Its exact discounted return J.
    pub j: f64,
    /// Its exact episode return within the horizon.
    pub episode_return: f64,
    /// D4RL's normalized score of that return.
    pub score: f64,
    /// The probability of a uniformly random action (expert, medium and
    /// the coverage knob).
    pub epsilon: Option<f64>,
    /// How the medium policy was learned.
    pub learner: Option<Learner>,
}

/// Where a dataset's transitions came from, for `data collect`'s report.
#[derive(Debug, Clone)]
pub enum Provenance {
    /// One stationary policy.
    Stationary(Behavior),
    /// The online learner's buffer (`medium-replay`); `requested` is the size asked for.
    Replay { learner: Learner, requested: usize },
    /// The first `medium_transitions` from `medium`, the rest from `expert`.
    MediumExpert {
        medium: Behavior,
        expert: Behavior,
        medium_transitions: usize,
    },
}

/// The online learner behind `medium` and `medium-replay`: tabular
/// Q-learning (zero initialisation, step size 0.1, updated after every
/// step), behaving ε-greedily with ε = [`LEARNER_EPSILON`] (ties broken at
/// random), episodes cut at the MDP's horizon. Every 20 transitions, or
/// every 1% more transitions later on, its greedy policy (ties broken by a random order of the actions drawn once
/// per state), with the [`NOISE`] of the
/// data, is evaluated exactly; it stops once that policy's score reaches
/// the target (its buffer's last episode is then cut: truncated).
#[derive(Debug, Clone, PartialEq)]
pub struct Learner {
    pub episodes: usize,
    pub transitions: usize,
    /// The score the learner stops at: a third of the expert's.
    pub target: f64,
    /// The score of its noisy greedy policy when it stopped.
    pub score: f64,
    /// Whether that score reached the target (false: cut by the size).
    pub reached: bool,
    /// Episodes are cut at this many steps.
    pub horizon: usize,
}

/// (1 − ε)·π + ε·uniform.
pub fn with_noise(policy: &Policy, epsilon: f64) -> Policy {
    let n_actions = policy.ncols() as f64;
    policy.mapv(|p| (1.0 - epsilon) * p + epsilon / n_actions)
}

/// The stationary behaviour of `quality` (all but `medium-replay` and
/// `medium-expert`); `seed` seeds the `medium` learner.
pub fn behavior_policy(
    mdp: &TabularMdp,
    quality: Quality,
    gamma: f64,
    seed: u64,
) -> Result<Behavior> {
    let scale = EpisodeScale::new(mdp)?;
    let describe = |policy: Policy, epsilon, learner| -> Result<Behavior> {
        let episode_return = scale.episode_return(mdp, &policy)?;
        Ok(Behavior {
            j: evaluate_policy(mdp, &policy, gamma)?.j,
            episode_return,
            score: scale.score(episode_return),
            policy,
            epsilon,
            learner,
        })
    };
    let optimal = |epsilon: f64| -> Result<Behavior> {
        let policy = with_noise(&solve::optimal(mdp, gamma)?.policy, epsilon);
        describe(policy, Some(epsilon), None)
    };
    let medium = |epsilon: f64| -> Result<Behavior> {
        let target = MEDIUM_FRACTION * optimal(NOISE)?.score;
        let learned = stationary_learner(mdp, gamma, seed, &scale, target);
        let learner = learned.learner.clone();
        if !learner.reached {
            return Err(Error::Invalid(format!(
                "{}: the online Q-learner did not reach the medium score {target:.1} within {LEARNER_BUDGET} transitions (it got {:.1})",
                mdp.id(),
                learner.score
            )));
        }
        describe(
            with_noise(&learned.policy, epsilon),
            Some(epsilon),
            Some(learner),
        )
    };
    match quality {
        Quality::Random => describe(mdp.uniform_policy(), None, None),
        Quality::Expert => optimal(NOISE),
        Quality::Medium => medium(NOISE),
        Quality::EpsilonGreedy { policy, epsilon } => match policy {
            Greedy::Optimal => optimal(epsilon),
            Greedy::Medium => medium(epsilon),
            Greedy::Expert => Err(Error::Invalid(format!(
                "`expert` with an epsilon is the coverage knob of continuous-state environments; {} has an exact optimal policy: use `optimal` with an epsilon",
                mdp.id()
            ))),
        },
        Quality::Behavior => match mdp.behavior() {
            Some(policy) => describe(policy.clone(), None, None),
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

/// Gymnasium's TimeLimit: an episode is truncated when its step count
/// reaches the limit ([`TabularMdp::horizon`]: the collector caps episodes
/// where Gymnasium sets no limit), even if that last step also terminated it. A dataset
/// that is full cuts its last episode too (marked truncated unless it
/// terminated).
#[inline(always)]
pub(crate) fn truncated(step: usize, time_limit: usize, budget: usize, terminated: bool) -> bool {
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
            time_limit: mdp.horizon(),
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
/// (optimal values at discount `gamma`), deterministically from `seed`.
/// Episodes are truncated at the environment's time limit; the last episode
/// is cut (truncated) when `size` is reached. `medium-replay` may hold
/// fewer (see the module doc).
pub fn collect(
    mdp: &TabularMdp,
    quality: Quality,
    size: usize,
    seed: u64,
    gamma: f64,
) -> Result<Dataset> {
    collect_with_provenance(mdp, quality, size, seed, gamma).map(|(data, _)| data)
}

/// [`collect`], also returning where the transitions came from.
pub fn collect_with_provenance(
    mdp: &TabularMdp,
    quality: Quality,
    size: usize,
    seed: u64,
    gamma: f64,
) -> Result<(Dataset, Provenance)> {
    if !matches!(quality, Quality::MediumExpert | Quality::MediumReplay) {
        let behavior = behavior_policy(mdp, quality, gamma, seed)?;
        let data = collect_with_policy(mdp, behavior.policy.clone(), size, seed)?;
        return Ok((data, Provenance::Stationary(behavior)));
    }
    let mut data = Dataset::new(mdp.n_states(), mdp.n_actions());
    data.try_reserve(size)?;
    let provenance = if quality == Quality::MediumExpert {
        let mut rng = Pcg64Mcg::seed_from_u64(seed);
        let medium = behavior_policy(mdp, Quality::Medium, gamma, seed)?;
        let expert = behavior_policy(mdp, Quality::Expert, gamma, seed)?;
        collect_with(mdp, &medium.policy, size / 2, &mut rng, &mut data);
        let medium_transitions = data.len();
        collect_with(mdp, &expert.policy, size, &mut rng, &mut data);
        Provenance::MediumExpert {
            medium,
            expert,
            medium_transitions,
        }
    } else {
        let scale = EpisodeScale::new(mdp)?;
        let target = MEDIUM_FRACTION * behavior_policy(mdp, Quality::Expert, gamma, seed)?.score;
        // The stationary learner's checks, when a `medium` dataset on
        // this key trained it already.
        let known = KEPT.get(learner_key(mdp, gamma, seed, target));
        let known = known.as_ref().map_or(&[][..], |l| &l.checks);
        let learned = learn(
            mdp,
            gamma,
            seed,
            &scale,
            target,
            Some((&mut data, size)),
            known,
        );
        Provenance::Replay {
            learner: learned.learner,
            requested: size,
        }
    };
    Ok((data, provenance))
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
        let time_limit = mdp.horizon();
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

/// How many stationary learners a process keeps: a sweep has one per
/// (environment, γ, data seed); past this, the oldest is dropped.
const KEPT_LEARNERS: usize = 64;

/// One stationary learner's key: the MDP (compared whole), γ, the seed
/// and the target, of which [`learn`] without a buffer is a pure function.
type LearnerKey = (TabularMdp, u64, u64, u64);

/// The stationary learners of this process by key.
static KEPT: Memo<LearnerKey, Arc<Learned>> = Memo::new(KEPT_LEARNERS);

fn learner_key(
    mdp: &TabularMdp,
    gamma: f64,
    seed: u64,
    target: f64,
) -> impl Fn(&LearnerKey) -> bool {
    let (g, t) = (gamma.to_bits(), target.to_bits());
    move |(m, kg, ks, kt)| *kg == g && *ks == seed && *kt == t && m == mdp
}

/// [`learn`] without a buffer, once per process for each key: `medium`
/// and `medium-expert` data of every size (and every coverage ε) train the
/// same learner, which a sweep would otherwise retrain for each of them.
fn stationary_learner(
    mdp: &TabularMdp,
    gamma: f64,
    seed: u64,
    scale: &EpisodeScale,
    target: f64,
) -> Arc<Learned> {
    KEPT.get_or_compute(
        learner_key(mdp, gamma, seed, target),
        || (mdp.clone(), gamma.to_bits(), seed, target.to_bits()),
        || Arc::new(learn(mdp, gamma, seed, scale, target, None, &[])),
    )
}

/// What [`learn`] leaves: the greedy policy, how it went, and the score
/// of each check by the transitions played then.
struct Learned {
    policy: Policy,
    learner: Learner,
    checks: Vec<(usize, f64)>,
}

/// Runs the online learner (see [`Learner`]) until its noisy greedy policy
/// scores `target` or it has played its budget: [`LEARNER_BUDGET`], or the
/// size of `buffer`, which then receives every transition it plays.
///
/// The learner of a key plays the same transitions whatever its budget, so
/// `known`, the checks of a run on the same key, gives the scores of the
/// checks it shares (all but a check at a smaller budget): the exact
/// evaluations that are most of its cost.
fn learn(
    mdp: &TabularMdp,
    gamma: f64,
    seed: u64,
    scale: &EpisodeScale,
    target: f64,
    mut buffer: Option<(&mut Dataset, usize)>,
    known: &[(usize, f64)],
) -> Learned {
    let budget = buffer.as_ref().map_or(LEARNER_BUDGET, |(_, size)| *size);
    let horizon = mdp.horizon();
    let sampler = Sampler::new(mdp);
    let (ns, na) = (mdp.n_states(), mdp.n_actions());
    let mut rng = Pcg64Mcg::seed_from_u64(seed.wrapping_add(LEARNER_STREAM));
    let mut q = Array2::<f64>::zeros((ns, na));
    // A random order of the actions in each state, drawn once: the greedy
    // policy breaks ties by it (ties to the lowest action would make the
    // untrained learner's policy "always action 0", which on Taxi and
    // CliffWalking already scores far above random play).
    let order = Array2::from_shape_fn((ns, na), |_| rng.random::<u32>());
    let mut learner = Learner {
        episodes: 0,
        transitions: 0,
        target,
        score: f64::NAN,
        reached: false,
        horizon,
    };
    let noisy_return = NoisyReturn::new(mdp, horizon);
    let mut checks = Vec::new();
    let mut next_eval = LEARNER_EVAL_EVERY;
    while learner.transitions < budget && !learner.reached {
        let mut s = sampler.reset(&mut rng);
        let left = budget - learner.transitions;
        let episode = learner.episodes as u32;
        for step in 0..horizon.min(left) {
            let row = q.row(s);
            let a = if rng.random::<f64>() < LEARNER_EPSILON {
                rng.random_range(0..na)
            } else {
                random_argmax(row.as_slice().expect("rows are contiguous"), &mut rng)
            };
            let o = sampler.step(s, a, &mut rng);
            let next = o.next as usize;
            let bootstrap = if o.terminated {
                0.0
            } else {
                solve::max_value(q.row(next))
            };
            let cell = &mut q[[s, a]];
            *cell += LEARNER_STEP_SIZE * (o.reward + gamma * bootstrap - *cell);
            learner.transitions += 1;
            if learner.transitions == next_eval || learner.transitions == budget {
                let grown = (next_eval as f64 * LEARNER_EVAL_GROWTH).ceil() as usize;
                next_eval = grown.max(next_eval + LEARNER_EVAL_EVERY);
                learner.score = match known.get(checks.len()) {
                    Some(&(at, score)) if at == learner.transitions => score,
                    _ => {
                        scale.score(noisy_return.episode_return(&greedy_actions(&q, &order), NOISE))
                    }
                };
                checks.push((learner.transitions, learner.score));
                learner.reached = learner.score >= target;
            }
            if let Some((data, _)) = buffer.as_mut() {
                let cut = learner.reached && !o.terminated;
                let truncated = cut || truncated(step + 1, horizon, left, o.terminated);
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
            }
            s = next;
            if o.terminated || learner.reached {
                break;
            }
        }
        learner.episodes += 1;
    }
    Learned {
        policy: greedy_by(&q, &order),
        learner,
        checks,
    }
}

/// The episode return of a deterministic policy played with noise ε,
/// exactly, for the learner's frequent checks: [`solve::episode_return`]
/// for this one shape of policy, with the MDP flattened once and every
/// state updated at every step (the noise reaches every action).
struct NoisyReturn {
    n_actions: usize,
    horizon: usize,
    /// Per (s, a): expected reward, and its outcomes' range in `next`/`prob`.
    reward: Vec<f64>,
    offsets: Vec<u32>,
    /// Non-terminal outcomes only (V = 0 after termination).
    next: Vec<u32>,
    prob: Vec<f64>,
    initial: Vec<f64>,
}

impl NoisyReturn {
    fn new(mdp: &TabularMdp, horizon: usize) -> Self {
        let (ns, na) = (mdp.n_states(), mdp.n_actions());
        let mut table = NoisyReturn {
            n_actions: na,
            horizon,
            reward: Vec::with_capacity(ns * na),
            offsets: vec![0],
            next: Vec::new(),
            prob: Vec::new(),
            initial: mdp.initial().to_vec(),
        };
        for s in 0..ns {
            for a in 0..na {
                table.reward.push(mdp.expected_reward(s, a));
                for o in mdp.outcomes(s, a).iter().filter(|o| !o.terminated) {
                    table.next.push(o.next);
                    table.prob.push(o.prob);
                }
                table.offsets.push(table.next.len() as u32);
            }
        }
        table
    }

    /// R of (1 − ε)·`greedy` + ε·uniform, `greedy[s]` the action in s.
    fn episode_return(&self, greedy: &[usize], epsilon: f64) -> f64 {
        let na = self.n_actions;
        let ns = greedy.len();
        let (mut v, mut next_v) = (vec![0.0; ns], vec![0.0; ns]);
        for _ in 0..self.horizon {
            for (s, out) in next_v.iter_mut().enumerate() {
                let (mut mean, mut chosen) = (0.0, 0.0);
                for a in 0..na {
                    let i = s * na + a;
                    let range = self.offsets[i] as usize..self.offsets[i + 1] as usize;
                    let after: f64 = self.next[range.clone()]
                        .iter()
                        .zip(&self.prob[range])
                        .map(|(&t, &p)| p * v[t as usize])
                        .sum();
                    let q = self.reward[i] + after;
                    mean += q;
                    if a == greedy[s] {
                        chosen = q;
                    }
                }
                *out = (1.0 - epsilon) * chosen + epsilon * mean / na as f64;
            }
            std::mem::swap(&mut v, &mut next_v);
        }
        self.initial.iter().zip(&v).map(|(d, x)| d * x).sum()
    }
}

/// The greedy action of every state of `q`, ties broken by the larger `order`.
fn greedy_actions(q: &Array2<f64>, order: &Array2<u32>) -> Vec<usize> {
    q.outer_iter()
        .zip(order.outer_iter())
        .map(|(row, rank)| {
            (0..row.len())
                .max_by(|&a, &b| row[a].total_cmp(&row[b]).then(rank[a].cmp(&rank[b])))
                .expect("a state has actions")
        })
        .collect()
}

/// The deterministic greedy policy of `q`, ties broken by the larger `order`.
fn greedy_by(q: &Array2<f64>, order: &Array2<u32>) -> Policy {
    let mut pi = Array2::zeros(q.dim());
    for (s, a) in greedy_actions(q, order).into_iter().enumerate() {
        pi[[s, a]] = 1.0;
    }
    pi
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

    /// `expert` is π* with the fixed noise; `medium` is one learner's greedy
    /// policy with the same noise, at a third of the expert's score or a
    /// little above (it is checked every 10 episodes), genuinely worse.
    #[test]
    fn expert_and_medium_are_noisy_single_policies() {
        for id in ["FrozenLake8x8-v1", "Taxi-v4"] {
            let mdp = envs::make(id).unwrap();
            let gamma = 0.99;
            let optimal = solve::optimal(&mdp, gamma).unwrap();
            let expert = behavior_policy(&mdp, Quality::Expert, gamma, 0).unwrap();
            assert_eq!(expert.policy, with_noise(&optimal.policy, NOISE));
            let medium = behavior_policy(&mdp, Quality::Medium, gamma, 0).unwrap();
            let learner = medium.learner.clone().unwrap();
            assert!(learner.reached, "{id}: {learner:?}");
            assert!((learner.target - expert.score / 3.0).abs() < 1e-9);
            assert!((medium.score - learner.score).abs() < 1e-9);
            assert!(medium.score >= learner.target, "{id}: {}", medium.score);
            assert!(
                medium.score < expert.score - 10.0,
                "{id}: {} vs {}",
                medium.score,
                expert.score
            );
            let top = 1.0 - NOISE + NOISE / mdp.n_actions() as f64;
            for row in medium.policy.outer_iter() {
                let max = solve::max_value(row);
                assert!((max - top).abs() < 1e-12, "{id}: {row}");
            }
            // The seed seeds the learner: another seed, another policy.
            let other = behavior_policy(&mdp, Quality::Medium, gamma, 1).unwrap();
            assert_ne!(other.policy, medium.policy, "{id}");
        }
    }

    /// The learner's dense check is the exact finite-horizon evaluation.
    #[test]
    fn the_learners_check_is_the_exact_episode_return() {
        for id in ["Taxi-v4", "FrozenLake8x8-v1", "ThreeState-v0"] {
            let mdp = envs::make(id).unwrap();
            let dense = NoisyReturn::new(&mdp, mdp.horizon());
            let mut rng = Pcg64Mcg::seed_from_u64(1);
            let q =
                Array2::from_shape_fn((mdp.n_states(), mdp.n_actions()), |_| rng.random::<f64>());
            let order = Array2::from_elem(q.dim(), 0u32);
            for epsilon in [0.0, NOISE, 0.3] {
                let exact = solve::episode_return(
                    &mdp,
                    &with_noise(&greedy_by(&q, &order), epsilon),
                    mdp.horizon(),
                )
                .unwrap();
                let fast = dense.episode_return(&greedy_actions(&q, &order), epsilon);
                assert!(
                    (fast - exact).abs() < 1e-9 * (1.0 + exact.abs()),
                    "{id}: {fast} vs {exact}"
                );
            }
        }
    }

    /// The knob: ε = 0 is π* itself, ε = 1 uniform play; `medium` with an ε
    /// is the medium learner's policy with that noise.
    #[test]
    fn the_coverage_knob_slides_from_narrow_to_uniform() {
        let mdp = envs::make("FrozenLake-v1").unwrap();
        let knob = |policy, epsilon| Quality::EpsilonGreedy { policy, epsilon };
        let optimal = solve::optimal(&mdp, 0.99).unwrap().policy;
        let narrow = behavior_policy(&mdp, knob(Greedy::Optimal, 0.0), 0.99, 0).unwrap();
        assert_eq!(narrow.policy, optimal);
        let broad = behavior_policy(&mdp, knob(Greedy::Optimal, 1.0), 0.99, 0).unwrap();
        assert_eq!(broad.policy, mdp.uniform_policy());
        assert!(broad.score.abs() < 1e-9, "{}", broad.score);
        let medium = behavior_policy(&mdp, Quality::Medium, 0.99, 3).unwrap();
        let noisy = behavior_policy(&mdp, knob(Greedy::Medium, NOISE), 0.99, 3).unwrap();
        assert_eq!(noisy.policy, medium.policy);
        assert!(Quality::Random.with_epsilon(0.1).is_err());
        assert!(Quality::Medium.with_epsilon(1.5).is_err());
        assert_eq!(
            Quality::parse("optimal").unwrap(),
            knob(Greedy::Optimal, 0.0)
        );
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
        let medium = behavior_policy(&mdp, Quality::Medium, 0.99, 11)
            .unwrap()
            .policy;
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
    fn mixture_has_the_requested_size_and_replay_at_most() {
        let mdp = envs::make("ThreeState-v0").unwrap();
        let data = collect(&mdp, Quality::MediumExpert, 5_000, 1, 0.9).unwrap();
        assert_eq!(data.len(), 5_000);
        assert!(data.behavior.is_none());
        let data = collect(&mdp, Quality::MediumReplay, 5_000, 1, 0.9).unwrap();
        assert!(data.len() <= 5_000 && !data.is_empty());
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

    /// `medium-replay` is the buffer of the learner behind `medium`, up to
    /// its stop: a larger size gets no more, a smaller one its beginning.
    #[test]
    fn medium_replay_is_the_medium_learners_buffer() {
        for (id, success, least) in [("FrozenLake8x8-v1", 1.0, 10), ("Taxi-v4", 20.0, 1)] {
            let mdp = envs::make(id).unwrap();
            let gamma = 0.99;
            let (data, provenance) =
                collect_with_provenance(&mdp, Quality::MediumReplay, 10_000_000, 0, gamma).unwrap();
            let Provenance::Replay { learner, requested } = provenance else {
                panic!("{id}: medium-replay reports its learner");
            };
            assert_eq!(requested, 10_000_000);
            let medium = behavior_policy(&mdp, Quality::Medium, gamma, 0).unwrap();
            assert_eq!(Some(&learner), medium.learner.as_ref(), "{id}");
            assert!(learner.reached, "{id}: {learner:?}");
            assert_eq!(data.len(), learner.transitions);
            assert_eq!(data.n_episodes(), learner.episodes);
            let successes = data.reward.iter().filter(|&&r| r == success).count();
            assert!(successes >= least, "{id}: {successes} successes");
            // Episodes never pass the horizon.
            assert!(data.step.iter().all(|&t| (t as usize) < learner.horizon));
            let half = collect(&mdp, Quality::MediumReplay, data.len() / 2, 0, gamma).unwrap();
            assert_eq!(half.len(), data.len() / 2);
            assert_eq!(half.state[..], data.state[..half.len()]);
            assert_eq!(half.action[..], data.action[..half.len()]);
        }
    }

    /// A buffered learner given the stationary learner's checks plays and
    /// scores exactly as one that evaluates every check itself: smaller
    /// than the stop (a check of its own at the end), at it, and past it.
    #[test]
    fn known_checks_change_no_replay_buffer() {
        for id in ["FrozenLake8x8-v1", "Taxi-v4", "CliffWalkingSlippery-v1"] {
            let mdp = envs::make(id).unwrap();
            let (gamma, seed) = (0.99, 17);
            let scale = EpisodeScale::new(&mdp).unwrap();
            let target = MEDIUM_FRACTION
                * behavior_policy(&mdp, Quality::Expert, gamma, seed)
                    .unwrap()
                    .score;
            let full = learn(&mdp, gamma, seed, &scale, target, None, &[]);
            let stop = full.learner.transitions;
            for size in [stop / 3, stop / 3 + 7, stop, stop + 1000] {
                let replay = |known: &[(usize, f64)]| {
                    let mut data = Dataset::new(mdp.n_states(), mdp.n_actions());
                    let learned = learn(
                        &mdp,
                        gamma,
                        seed,
                        &scale,
                        target,
                        Some((&mut data, size)),
                        known,
                    );
                    (data, learned.learner, learned.checks)
                };
                let (alone, shared) = (replay(&[]), replay(&full.checks));
                assert_eq!(alone.0, shared.0, "{id} size {size}: data");
                assert_eq!(alone.1, shared.1, "{id} size {size}: learner");
                let bits = |c: &[(usize, f64)]| -> Vec<(usize, u64)> {
                    c.iter().map(|&(t, x)| (t, x.to_bits())).collect()
                };
                assert_eq!(bits(&alone.2), bits(&shared.2), "{id} size {size}: checks");
            }
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
