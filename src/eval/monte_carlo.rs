//! The truth of a continuous environment, by Monte-Carlo: no table of
//! states to solve, so J(π) is the mean discounted return of `rollouts`
//! seeded episodes ± its standard error ([`crate::env::monte_carlo`]).
//!
//! The learner's policy at any observation o:
//! - if ψ(o) equals the features of one of the data's (merged) sample
//!   states, that state's row of the learner's own `policy()`: the learner
//!   cannot tell o from it, so this is exactly the policy it learned;
//! - otherwise greedy on Q(o, ·) = φ(o, ·)ᵀθ (ties to the lowest action):
//!   the continuous form's rule off the data. It is what discrete-action
//!   deep offline RL does with a Q network, and it is where overestimation
//!   lives: θ extrapolates to observations the data never shows.
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
use crate::data::EmpiricalMdp;
use crate::env::monte_carlo::{self as mc, Plan, episode_rng};
use crate::env::{self, Description, Env, Observation, Visit};
use crate::error::{Error, Result};
use crate::features::{ObservationFeatures, Phi, PsiRow, StateIndex};
use crate::mdp::Policy;
use crate::mdp::sample::PolicySampler;
use crate::mdp::solve;
use ndarray::{Array2, ArrayView1};
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

    /// Every metric of [`Metrics`] except those the runner fills; θ is the
    /// learner's weights ([`crate::algo::Algorithm::weights`]).
    pub fn evaluate(
        &self,
        q: &Array2<f64>,
        policy: &Policy,
        weights: Option<ArrayView1<f64>>,
    ) -> Result<Metrics> {
        let theta = weights.ok_or_else(|| {
            Error::Invalid(format!(
                "{}: the learner keeps no weights θ, and off the data a continuous \
                 environment's policy is greedy on φ(o,·)ᵀθ",
                self.env.id
            ))
        })?;
        let theta = theta.as_standard_layout();
        let actor = Actor {
            features: &self.features,
            phi: &self.phi,
            index: &self.index,
            sampler: PolicySampler::new(policy),
            theta: theta.as_slice().expect("contiguous"),
            q,
            policy,
        };
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
struct Actor<'a> {
    features: &'a ObservationFeatures,
    phi: &'a Phi,
    index: &'a StateIndex,
    sampler: PolicySampler,
    theta: &'a [f64],
    q: &'a Array2<f64>,
    policy: &'a Policy,
}

/// One thread's buffers: the observation as numbers, its ψ, its Q row.
#[derive(Default)]
struct Scratch {
    obs: Vec<f64>,
    psi: PsiRow,
    q: Vec<f64>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::default();
}

/// Where an observation falls: a sample state, or off the data with its
/// Q row (in the scratch's `q`).
enum Place {
    State(usize),
    Off,
}

impl Actor<'_> {
    /// Runs `f` on where `obs` falls, with the thread's buffers.
    fn at<O: Observation, T>(&self, obs: &O, f: impl FnOnce(Place, &[f64]) -> T) -> T {
        SCRATCH.with_borrow_mut(|scratch| {
            scratch.obs.clear();
            obs.extend(&mut scratch.obs);
            self.features.psi_into(&scratch.obs, &mut scratch.psi);
            if let Some(s) = self.phi.state_of(self.index, &scratch.psi) {
                return f(Place::State(s), &[]);
            }
            scratch.q.resize(self.phi.n_actions(), 0.0);
            self.phi.q_of_row(&scratch.psi, self.theta, &mut scratch.q);
            f(Place::Off, &scratch.q)
        })
    }

    fn act<O: Observation>(&self, obs: &O, rng: &mut Pcg64Mcg) -> usize {
        self.at(obs, |place, q| match place {
            Place::State(s) => self.sampler.action(s, rng),
            Place::Off => solve::argmax(q.iter().copied()),
        })
    }

    /// Σ_a π(a|o) Q(o, a): max_a Q(o, a) off the data.
    fn believed<O: Observation>(&self, obs: &O) -> f64 {
        self.at(obs, |place, q| match place {
            Place::State(s) => self.q.row(s).dot(&self.policy.row(s)),
            Place::Off => solve::max_value(q),
        })
    }
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
