//! Offline RL algorithms, all behind one trait.
//!
//! An algorithm is built from the training data, its hyper-parameters and a
//! seed; [`Algorithm::step`] advances one iteration; [`Algorithm::q`] and
//! [`Algorithm::policy`] read the current estimates at any time (the
//! dashboard samples them while training runs). Q is f(s,a) = θᵀφ(s,a); the
//! tabular form is the one-hot case. Each algorithm lives in its own file,
//! with its update rule, citation and the reasons for its defaults in the
//! file's doc comment and its keys in one table, `KEYS` (default, range,
//! unit, meaning), which its `Config::read` reads through;
//! what they share lives beside them: [`tabular`] and [`linear`] (the
//! table, the backup, the linear form), [`scale`] (the value unit), and
//! the speed kernels [`newton`] (a row objective's safeguarded Newton step)
//! and [`settled`] (skipping rows a step would leave alone). In each update,
//! `ALGO LOGIC` marks the algorithm and `SPEED` what only makes it fast.

pub mod act;
pub mod atac;
pub mod awac;
pub mod bc;
pub mod bcq;
pub mod behavior;
pub mod brac;
pub mod combo;
pub mod cql;
pub mod fisher_brc;
pub mod fqe;
pub mod fqi;
pub mod iql;
pub mod linear;
pub mod logistic;
pub mod newton;
pub mod online;
pub mod scale;
pub mod settled;
pub mod support;
pub mod tabular;
pub mod td3bc;
pub mod vi_lcb;

pub use crate::params::{Key, ParamReader, ParamValue, Params};

use crate::data::{Dataset, EmpiricalMdp, Samples};
use crate::error::{Error, Result, did_you_mean};
use crate::features::Phi;
use crate::mdp::{Policy, TabularMdp};
use ndarray::{Array2, ArrayView1};
use std::sync::Arc;

/// What an algorithm trains on. The dataset is shared, never copied, so
/// many runs can train on one dataset at once.
#[derive(Debug, Clone)]
pub struct TrainData {
    /// The environment the data came from. Offline learners never read it;
    /// it is here for the online baseline, which interacts with it on the
    /// dataset's budget, and for targets defined by the true model. `None`
    /// for a continuous environment's sample-based form ([`TrainData::samples`]),
    /// which has no table.
    pub env: Option<Arc<TabularMdp>>,
    pub dataset: Arc<Dataset>,
    pub compiled: Arc<EmpiricalMdp>,
    pub gamma: f64,
    /// Every random choice of a run derives from this seed (and, for
    /// resumable runs, from the iteration number), so runs are reproducible.
    pub seed: u64,
    /// φ(s,a) for learners with Q = θᵀφ; `None` keeps a table.
    pub phi: Option<Arc<Phi>>,
}

impl TrainData {
    /// Compiles `dataset` once; every learner of the run shares the result.
    pub fn new(env: Arc<TabularMdp>, dataset: Dataset, gamma: f64, seed: u64) -> Self {
        let compiled = Arc::new(EmpiricalMdp::compile(&dataset));
        Self::compiled(env, Arc::new(dataset), compiled, gamma, seed)
    }

    /// A dataset compiled already (shared by runs, see
    /// [`crate::experiment::datasets`]): `compiled` must be `dataset`'s.
    pub fn compiled(
        env: Arc<TabularMdp>,
        dataset: Arc<Dataset>,
        compiled: Arc<EmpiricalMdp>,
        gamma: f64,
        seed: u64,
    ) -> Self {
        TrainData {
            env: Some(env),
            dataset,
            compiled,
            gamma,
            seed,
            phi: None,
        }
    }

    /// The sample-based form of a continuous environment's data: `samples`
    /// (its states are the observations, [`crate::data::samples`]) with
    /// `phi`, the features of those observations
    /// ([`crate::features::ObservationFeatures::phi`] of `samples.points`).
    ///
    /// Sample states with the same features are merged into one: no
    /// learner on span(Φ) can tell them apart, so their data is pooled,
    /// as a table pools a cell's visits (π̂_β and the counts n(s,a) are
    /// then the pooled ones). With features that partition the
    /// observations (one tiling: a grid's cells) this is the tabular
    /// empirical MDP of the discretised data; with overlapping ones
    /// (several tilings, RBF, Fourier) nearly every point stays its own
    /// state. Every learner with a linear form runs on it unchanged; those
    /// that need the true model (the online baseline, `fqe`'s optimal
    /// target) refuse it.
    pub fn samples(samples: Samples, phi: Phi, gamma: f64, seed: u64) -> Result<Self> {
        let mut dataset = samples.dataset;
        if phi.n_states() != dataset.n_states || phi.n_actions() != dataset.n_actions {
            return Err(Error::Invalid(format!(
                "features of {} observations × {} actions for {} sample states × {} actions",
                phi.n_states(),
                phi.n_actions(),
                dataset.n_states,
                dataset.n_actions
            )));
        }
        let (of_state, phi) = phi.merge_equal_states();
        for s in dataset
            .state
            .iter_mut()
            .chain(dataset.next_state.iter_mut())
        {
            *s = of_state[*s as usize];
        }
        dataset.n_states = phi.n_states();
        let compiled = Arc::new(EmpiricalMdp::compile(&dataset));
        Ok(TrainData {
            env: None,
            dataset: Arc::new(dataset),
            compiled,
            gamma,
            seed,
            phi: Some(Arc::new(phi)),
        })
    }

    /// π̂_β on the data's states and off them ([`behavior`]): the count
    /// ratio on a table, the logistic regression on features of
    /// observations.
    pub fn behavior(&self) -> Result<Arc<behavior::Behavior>> {
        behavior::of(self)
    }

    /// The tabular environment, or an error saying that `what` needs one.
    pub fn tabular_env(&self, what: &str) -> Result<&Arc<TabularMdp>> {
        self.env.as_ref().ok_or_else(|| {
            Error::Invalid(format!(
                "{what} needs the environment's table of states, which a continuous \
                 environment has not"
            ))
        })
    }

    /// The same data for a linear learner on `phi`.
    pub fn with_features(self, phi: Option<Phi>) -> Self {
        TrainData {
            phi: phi.map(Arc::new),
            ..self
        }
    }

    /// The lowest and highest discounted returns the dataset's rewards
    /// allow, (min(0, r_min), max(0, r_max)) / (1 − γ): the range of any
    /// value a learner may claim.
    pub fn return_bounds(&self) -> (f64, f64) {
        let (lo, hi) = self
            .dataset
            .reward
            .iter()
            .fold((0.0f64, 0.0f64), |(lo, hi), &r| (lo.min(r), hi.max(r)));
        (lo / (1.0 - self.gamma), hi / (1.0 - self.gamma))
    }

    /// The mean discounted return of the data's episodes from their first
    /// step, Σ_t γ^t r_t: the behaviour's J by Monte-Carlo. An episode the
    /// data holds from step 0 counts once it ends (terminated or
    /// truncated), but for the data's last one, which the budget may have
    /// cut, unless it terminated. `None` without such an episode.
    pub fn episode_return(&self) -> Option<f64> {
        let d = &self.dataset;
        let last = d.episode.last().copied();
        let mut open: std::collections::HashMap<u32, f64> = std::collections::HashMap::new();
        let (mut total, mut episodes) = (0.0, 0usize);
        for i in 0..d.len() {
            let e = d.episode[i];
            if d.step[i] == 0 {
                open.insert(e, 0.0);
            }
            let Some(g) = open.get_mut(&e) else { continue };
            *g += self.gamma.powf(f64::from(d.step[i])) * d.reward[i];
            let ends = d.terminated[i] || (d.truncated[i] && Some(e) != last);
            if ends {
                total += open.remove(&e).expect("open");
                episodes += 1;
            }
        }
        (episodes > 0).then(|| total / episodes as f64)
    }
}

/// What one iteration reports.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StepReport {
    /// The algorithm's own training loss for this iteration; each
    /// algorithm's doc says what it is (fqi's sweep: the largest |ΔQ| of the
    /// sweep; fqi's sample variant: the epoch's mean squared TD error; bc: the
    /// largest |ΔQ| of its evaluation sweep). Losses with several terms report their sum.
    pub loss: f64,
}

/// An offline RL learner, stepped by a worker thread.
pub trait Algorithm: Send {
    /// Advances one iteration.
    fn step(&mut self) -> Result<StepReport>;
    /// The current Q estimate f(s, a), states × actions.
    fn q(&self) -> Array2<f64>;
    /// The current policy π(a|s), states × actions.
    fn policy(&self) -> Policy;
    /// How the learner acts at an observation off the data's states, from
    /// Q(o,·) and π̂_β(·|o) there ([`act`]).
    fn act(&self) -> act::Act {
        act::Act::Greedy
    }
    /// Everything needed to resume after a crash, as JSON (exact: f64s round-trip).
    fn save_state(&self) -> serde_json::Value;
    /// Restores what [`Algorithm::save_state`] wrote.
    fn load_state(&mut self, state: &serde_json::Value) -> Result<()>;
    /// The weights θ of Q = θᵀφ, for a linear learner: off the data's
    /// sample states a continuous environment's Q is φ(o,·)ᵀθ, which the
    /// table [`Algorithm::q`] does not hold. `None` for a table.
    fn weights(&self) -> Option<ArrayView1<'_, f64>> {
        None
    }
}

/// The registry entry of the algorithm module `$m`: its `NAME`, its
/// `KEYS`, its `Config::read` (whose resolved parameters are the canonical
/// form) and its `build`.
macro_rules! entry {
    ($m:ident) => {
        Entry {
            name: $m::NAME,
            keys: $m::KEYS,
            resolve: |params| $m::Config::read(params).map(|(_, resolved)| resolved),
            build: $m::build,
        }
    };
}

/// One registered algorithm.
struct Entry {
    name: &'static str,
    /// Every key `resolve` may read, with its default, range and meaning.
    keys: &'static [Key],
    /// Validates the parameters and fills in every default.
    resolve: fn(&Params) -> Result<Params>,
    build: fn(&Params, &TrainData) -> Result<Box<dyn Algorithm>>,
}

/// Every algorithm, in the order listings show them.
const REGISTRY: &[Entry] = &[
    entry!(fqi),
    entry!(bc),
    entry!(bcq),
    entry!(brac),
    entry!(td3bc),
    entry!(awac),
    entry!(fisher_brc),
    entry!(iql),
    entry!(vi_lcb),
    entry!(atac),
    entry!(cql),
    entry!(combo),
    entry!(fqe),
    entry!(online),
];

/// The names of every algorithm, as specs and `--algo` spell them.
pub fn names() -> Vec<&'static str> {
    REGISTRY.iter().map(|e| e.name).collect()
}

fn entry(name: &str) -> Result<&'static Entry> {
    REGISTRY
        .iter()
        .find(|e| e.name == name)
        .ok_or_else(|| Error::UnknownAlgo {
            name: name.to_string(),
            hint: did_you_mean(name, names()),
            choices: names().join(", "),
        })
}

/// Algorithm `name`'s keys: every key it may read, with its default,
/// range, unit and meaning (`pessimist algo show`, docs/algorithms.md).
pub fn keys(name: &str) -> Result<&'static [Key]> {
    Ok(entry(name)?.keys)
}

/// Every algorithm's keys as docs/algorithms.md's "Keys" section shows
/// them: a heading and a table per algorithm.
pub fn keys_markdown() -> String {
    let sections: Vec<String> = REGISTRY
        .iter()
        .map(|e| {
            let table = if e.keys.is_empty() {
                "No keys.\n".to_string()
            } else {
                crate::params::markdown(e.keys)
            };
            format!("### `{}`\n\n{table}", e.name)
        })
        .collect();
    sections.join("\n")
}

/// Validates `params` for algorithm `name` without training data and returns
/// them with every default filled in (the canonical form run ids hash).
pub fn resolve_params(name: &str, params: &Params) -> Result<Params> {
    (entry(name)?.resolve)(params)
}

/// [`resolve_params`] for one point of a spec's grid, where a key may
/// belong to the other points: `q_init = ["zero", "random"]` with
/// `init_scale = 5` gives `init_scale` to the `random` runs only. Keys this
/// point does not use are left out of its canonical config (so they never
/// split one training into two run ids) and returned; the spec rejects a
/// key that no point uses.
pub fn resolve_grid_point(name: &str, params: &Params) -> Result<(Params, Vec<String>)> {
    let mut params = params.clone();
    let mut unused = Vec::new();
    loop {
        match resolve_params(name, &params) {
            Err(Error::ParamNotUsed { key, .. }) => {
                params.remove(&key);
                unused.push(key);
            }
            resolved => return resolved.map(|p| (p, unused)),
        }
    }
}

/// Builds algorithm `name` on `data`; errors name unknown algorithms and keys
/// with the valid choices.
pub fn build(name: &str, params: &Params, data: &TrainData) -> Result<Box<dyn Algorithm>> {
    (entry(name)?.build)(params, data)
}
