//! The truth of a continuous environment, by Monte-Carlo: no table of
//! states to solve, so J(π) is the mean discounted return of `rollouts`
//! seeded episodes ± its standard error ([`crate::env::monte_carlo`]).
//!
//! The learner's policy at any observation o:
//! - if ψ(o) equals the features of one of the data's (merged) sample
//!   states, that state's row of the learner's own `policy()`: the learner
//!   cannot tell o from it, so this is exactly the policy it learned;
//! - otherwise the learner's own rule ([`crate::algo::act::Act`]) on
//!   Q(o, ·) = φ(o, ·)ᵀθ and π̂_β(·|o) from the features
//!   ([`crate::algo::behavior`]): greedy for fqi and cql, the admitted
//!   actions' best for bcq, the tilt towards π̂_β for brac, awac, iql and
//!   atac, π̂_β itself for bc, π̂_β on the actions the lower bound Q − Γ
//!   does not eliminate for vi-lcb (Γ from the data's uncertainty there,
//!   [`crate::algo::support`]). It
//!   is what discrete-action deep offline RL does
//!   with a Q network and a behaviour network, and it is where
//!   overestimation lives: θ extrapolates to observations the data never
//!   shows, and a constraint holds there only through π̂_β(·|o).
//!
//! [`Actor::policy_at`] is that policy at one observation, for anything
//! that reads a learner off the data (the rollouts, a heatmap).
//!
//! Every run on an environment plays from the same start states, those of
//! episodes 0..rollouts of [`START_SEED`], so runs compare on common
//! starts. `q_est` is what the learner believes of those starts,
//! the mean over them of Σ_a π(a|o) Q(o, a). The data-side metrics are the
//! tabular evaluator's on the sample-based empirical MDP; `q_true_data`
//! (Q^π at the data's pairs) would need rollouts from every pair, and is
//! NaN (`null`).

use super::landscape::Visits;
use super::{Metrics, OnData};
use crate::algo::TrainData;
use crate::algo::act::Act;
use crate::algo::behavior::Behavior;
use crate::algo::support::Support;
use crate::data::EmpiricalMdp;
use crate::env::monte_carlo::{self as mc, Plan, episode_rng};
use crate::env::{self, Description, Env, Observation, Visit};
use crate::error::{Error, Result};
use crate::features::{ObservationFeatures, Phi, PsiRow, StateIndex};
use crate::mdp::Policy;
use crate::mdp::sample::{PolicySampler, draw_from};
use crate::mdp::solve;
use ndarray::{Array2, ArrayView1};
use rand::Rng;
use rand_pcg::Pcg64Mcg;
use std::cell::RefCell;
use std::sync::Arc;

/// The seed of the start states every run is evaluated from (episode i
/// starts from [`episode_rng`]`(START_SEED, i)`). Not the reference
/// returns' seed, so a run's starts are not those its score is scaled by.
pub const START_SEED: u64 = 0x5EED_57A2;

/// Evaluates (f, π, θ) of one run on a continuous environment.
pub struct MonteCarlo {
    env: &'static Description,
    features: ObservationFeatures,
    /// φ of the (merged) sample states the learner trains on.
    phi: Arc<Phi>,
    index: StateIndex,
    plan: Plan,
    compiled: Arc<EmpiricalMdp>,
    /// π̂_β(a|s) from the data's counts.
    behavior: Policy,
    /// Where the rollouts' observations are counted, if anyone asked
    /// ([`MonteCarlo::record_visits`]); no metric reads them.
    visits: Option<Arc<Visits>>,
    /// The data, for π̂_β off its states ([`TrainData::behavior`]),
    /// fitted when a learner first needs it: greedy ones never do.
    data: TrainData,
    /// The lowest return the data's rewards allow
    /// ([`TrainData::return_bounds`]), read at every evaluation.
    return_floor: f64,
}

impl MonteCarlo {
    /// For learners on `data` (the sample-based form, with `features` of
    /// `env`'s observations), `rollouts` episodes an eval point.
    pub fn new(
        env: &'static Description,
        features: ObservationFeatures,
        data: &TrainData,
        rollouts: usize,
    ) -> Result<Self> {
        let phi = data
            .phi
            .clone()
            .ok_or_else(|| Error::Invalid(format!("{}: the data has no features", env.id)))?;
        let index = phi.state_index().ok_or_else(|| {
            Error::Invalid(format!(
                "{}: features of a table, not of observations",
                env.id
            ))
        })?;
        if rollouts < 2 {
            return Err(Error::Invalid(format!(
                "rollouts = {rollouts}: a standard error needs at least 2 episodes"
            )));
        }
        Ok(MonteCarlo {
            env,
            features,
            phi,
            index,
            plan: Plan {
                episodes: rollouts,
                seed: START_SEED,
                gamma: data.gamma,
            },
            behavior: data.compiled.behavior_estimate(),
            compiled: data.compiled.clone(),
            visits: None,
            data: data.clone(),
            return_floor: data.return_bounds().0,
        })
    }

    /// [`super::DatasetStats`] of `data`, the dataset this evaluator was
    /// built on (`data_score` is the behaviour's, see
    /// [`super::dataset::observed_stats`]).
    pub fn dataset_stats(&self, data: &crate::data::Dataset) -> super::DatasetStats {
        let (reference, horizon) = (&self.env.reference, self.env.time_limit);
        super::dataset::observed_stats(data, &self.compiled, reference, horizon)
    }

    /// Counts, at every evaluation, the observations the policy acts at
    /// into `visits` (cleared first): the run's landscape draws them.
    pub fn record_visits(&mut self, visits: Arc<Visits>) {
        self.visits = Some(visits);
    }

    /// The learner's policy at any observation (module doc), from its Q
    /// table and policy on the data's states, its weights θ
    /// ([`crate::algo::Algorithm::weights`]) and its rule off them
    /// ([`crate::algo::Algorithm::act`]); an error if π̂_β, which a rule
    /// other than greedy reads, cannot be fitted.
    pub fn actor<'a>(
        &'a self,
        q: &'a Array2<f64>,
        policy: &'a Policy,
        theta: &'a [f64],
        act: Act,
    ) -> Result<Actor<'a>> {
        let behavior = if act == Act::Greedy {
            None
        } else {
            Some(self.data.behavior()?)
        };
        let support = if act.reads_support() {
            crate::algo::support::of(&self.data)?
        } else {
            None
        };
        Ok(Actor {
            features: &self.features,
            phi: &self.phi,
            index: &self.index,
            sampler: PolicySampler::new(policy),
            theta,
            q,
            policy,
            act,
            behavior,
            support,
            floor: if act.reads_support() {
                self.return_floor
            } else {
                f64::NEG_INFINITY
            },
        })
    }

    /// Every metric of [`Metrics`] except those the runner fills, for
    /// the learner of [`MonteCarlo::actor`].
    pub fn evaluate(
        &self,
        q: &Array2<f64>,
        policy: &Policy,
        weights: Option<ArrayView1<f64>>,
        act: Act,
    ) -> Result<Metrics> {
        let theta = weights.ok_or_else(|| {
            Error::Invalid(format!(
                "{}: the learner keeps no weights θ, and off the data a continuous \
                 environment's Q is φ(o,·)ᵀθ",
                self.env.id
            ))
        })?;
        let theta = theta.as_standard_layout();
        let actor = self.actor(q, policy, theta.as_slice().expect("contiguous"), act)?;
        if let Some(visits) = &self.visits {
            visits.clear();
        }
        let (played, q_est) = env::visit_continuous(
            self.env.id,
            &Play {
                actor: &actor,
                plan: self.plan,
                visits: self.visits.as_deref(),
            },
        )
        .expect("a continuous environment")?;
        let believed = solve::state_values(q, policy);
        let data = OnData {
            compiled: &self.compiled,
            behavior: &self.behavior,
            gamma: self.plan.gamma,
        }
        .metrics(q, policy, &believed, None);
        let (j, episode) = (played.discounted_return, played.episode_return);
        let reference = &self.env.reference;
        Ok(Metrics {
            q_est,
            true_return: j.mean,
            true_return_se: j.se,
            gap: q_est - j.mean,
            episode_return: episode.mean,
            episode_return_se: episode.se,
            normalized_score: reference.score(episode.mean).unwrap_or(f64::NAN),
            normalized_score_se: reference.score_se(episode.se),
            success_prob: self.env.success.share(played.terminated),
            ..data
        })
    }
}

/// The learner's policy and beliefs at any observation (module doc).
pub struct Actor<'a> {
    features: &'a ObservationFeatures,
    phi: &'a Phi,
    index: &'a StateIndex,
    sampler: PolicySampler,
    theta: &'a [f64],
    q: &'a Array2<f64>,
    policy: &'a Policy,
    act: Act,
    /// π̂_β off the data, for a rule that reads it (`None` for greedy).
    behavior: Option<Arc<Behavior>>,
    /// The data's uncertainty off the data, for a rule that reads it.
    support: Option<Arc<Support>>,
    /// The lowest return the data's rewards allow, where the rule's values
    /// off the data are a lower bound (Q − β·u): what the learner believes
    /// of an observation is no lower, as no policy earns less.
    floor: f64,
}

/// One thread's buffers: the observation as numbers, its ψ, its Q row,
/// π̂_β, the data's uncertainty and π there.
#[derive(Default)]
struct Scratch {
    obs: Vec<f64>,
    psi: PsiRow,
    q: Vec<f64>,
    behavior: Vec<f64>,
    width: Vec<f64>,
    pi: Vec<f64>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::default();
}

impl Actor<'_> {
    /// Runs `f` on (π(·|o), Q(o,·)) of the observation `obs`, with the
    /// thread's buffers: a sample state's rows, or off the data Q(o,·) =
    /// φ(o,·)ᵀθ and the learner's rule on it (module doc). A greedy rule
    /// leaves π empty: the action is Q's argmax, and drawing it would use
    /// a random number the policy does not need.
    fn at<T>(&self, obs: impl FnOnce(&mut Vec<f64>), f: impl FnOnce(Row<'_>) -> T) -> T {
        SCRATCH.with_borrow_mut(|scratch| {
            scratch.obs.clear();
            obs(&mut scratch.obs);
            self.features.psi_into(&scratch.obs, &mut scratch.psi);
            if let Some(s) = self.phi.state_of(self.index, &scratch.psi) {
                return f(Row::State(s));
            }
            let na = self.phi.n_actions();
            scratch.q.resize(na, 0.0);
            self.phi.q_of_row(&scratch.psi, self.theta, &mut scratch.q);
            let Some(behavior) = &self.behavior else {
                return f(Row::Greedy(&scratch.q));
            };
            scratch.behavior.resize(na, 0.0);
            scratch.pi.resize(na, 0.0);
            behavior.at(&scratch.psi, &mut scratch.behavior);
            scratch.width.clear();
            if let Some(support) = &self.support {
                scratch.width.resize(na, 0.0);
                support.at(&scratch.psi, &mut scratch.width);
                self.act.bound(&mut scratch.q, &scratch.width);
            }
            self.act.row(
                &scratch.q,
                &scratch.width,
                &scratch.behavior,
                &mut scratch.pi,
            );
            f(Row::Off(&scratch.pi, &scratch.q))
        })
    }

    /// π(·|o) into `pi` and Q(o,·) into `q` (one entry per action each).
    pub fn policy_at(&self, obs: &[f64], pi: &mut [f64], q: &mut [f64]) {
        self.at(
            |out| out.extend_from_slice(obs),
            |row| match row {
                Row::State(s) => {
                    pi.copy_from_slice(self.policy.row(s).as_slice().expect("row"));
                    q.copy_from_slice(self.q.row(s).as_slice().expect("row"));
                }
                Row::Greedy(values) => {
                    pi.fill(0.0);
                    pi[solve::argmax(values.iter().copied())] = 1.0;
                    q.copy_from_slice(values);
                }
                Row::Off(p, values) => {
                    pi.copy_from_slice(p);
                    q.copy_from_slice(values);
                }
            },
        );
    }

    fn act<O: Observation>(&self, obs: &O, rng: &mut Pcg64Mcg) -> usize {
        self.at(
            |out| obs.extend(out),
            |row| match row {
                Row::State(s) => self.sampler.action(s, rng),
                Row::Greedy(q) => solve::argmax(q.iter().copied()),
                Row::Off(pi, _) => draw_from(pi, rng.random()),
            },
        )
    }

    /// Σ_a π(a|o) Q(o, a): max_a Q(o, a) where greedy; no lower than the
    /// return floor where Q off the data is a lower bound.
    fn believed<O: Observation>(&self, obs: &O) -> f64 {
        self.at(
            |out| obs.extend(out),
            |row| match row {
                Row::State(s) => self.q.row(s).dot(&self.policy.row(s)),
                Row::Greedy(q) => solve::max_value(q),
                Row::Off(pi, q) => pi
                    .iter()
                    .zip(q)
                    .map(|(p, x)| p * x)
                    .sum::<f64>()
                    .max(self.floor),
            },
        )
    }
}

/// Where an observation falls, and the learner's rows there.
enum Row<'a> {
    /// A sample state of the data.
    State(usize),
    /// Off the data, a greedy learner: Q(o,·).
    Greedy(&'a [f64]),
    /// Off the data: π(·|o) and Q(o,·).
    Off(&'a [f64], &'a [f64]),
}

/// Plays the plan and reads q_est off its start states.
struct Play<'a> {
    actor: &'a Actor<'a>,
    plan: Plan,
    visits: Option<&'a Visits>,
}

impl Visit for Play<'_> {
    type Out = Result<(mc::Evaluation, f64)>;

    fn visit<E: Env>(&self, env: &E) -> Self::Out {
        let act = |obs: &E::Obs, rng: &mut Pcg64Mcg| {
            if let Some(visits) = self.visits {
                visits.record(obs);
            }
            self.actor.act(obs, rng)
        };
        let played = mc::evaluate(env, act, self.plan)?;
        let n = self.plan.episodes;
        let believed: f64 = (0..n as u64)
            .map(|i| {
                let start = env.reset(&mut episode_rng(self.plan.seed, i));
                self.actor.believed(&env.observe(&start))
            })
            .sum();
        Ok((played, believed / n as f64))
    }
}
