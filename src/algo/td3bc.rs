//! `td3bc`: TD3+BC (Fujimoto & Gu 2021, arXiv:2106.06860) for
//! discrete actions, tabular form.
//! The actor maximises the Q-value plus a behaviour-cloning term,
//!
//!   π = argmax_π E_{(s,a)~D}[λ f(s,·)·π(·|s) − ‖π(·|s) − e_a‖²],   λ = α / E_D|f(s,a)|,
//!
//! where π(·|s) is a point of the probability simplex (TD3's deterministic
//! action becomes a distribution, the squared distance to the dataset action
//! its one-hot e_a). Per state the objective is n(s)(λ f·π − ‖π‖² + 2 π·π̂_β − 1),
//! so the maximiser is exact and closed-form:
//!
//!   π(·|s) = Proj_simplex(π̂_β(·|s) + λ f(s,·) / 2)   (Euclidean projection,
//!   Duchi et al. 2008; one step of the full-batch problem, no step size).
//!
//! The critic evaluates the actor, one sweep on the observed pairs an
//! iteration: f(s,a) ← r + γ Σ_a' π(a'|s') f(s',a').
//!
//! α = 0 is behaviour cloning exactly (λ = 0, π = π̂_β); large α trusts
//! the critic. λ is also 0 while f is 0 on every dataset pair (nothing to
//! normalise by). Unlike BRAC's KL, the squared distance is finite off the
//! support: an unseen action keeps its `q_init` value and gets mass when
//! λ f/2 outweighs the behaviour's lead. States the data never visits use a
//! uniform π̂_β.
//!
//! Keys ([`KEYS`]): `alpha`, `q_init` (as `fqi`). Loss: the sweep's largest |ΔQ|.
//!
//! With features (Q = θᵀφ, [`super::linear::Projected`]): the critic is
//! least-squares FQE of the actor on the observed pairs (weighted by their
//! counts); the actor and λ are the closed forms above on Φθ. With one
//! action (TwoState-v0) the actor is that action and it diverges as fqi
//! does. On features that generalise across sample states
//! ([`linear::generalises`]) the actor on the data's states keeps to
//! π̂_β's support (the projection over the actions the data shows there,
//! one at nearly every sample state), so the critic's targets never read
//! an action whose value no data fits at its state: off the support the
//! actor can take an action whose weights the rare data leaves near
//! q_init there (0, against returns near −60 on MountainCar), the critic
//! bootstraps from it, and it ran away to 1e89–1e228. The critic is then
//! least-squares SARSA of the behaviour, and off the data the actor is
//! the projected one on π̂_β(·|o) from the features, a one-step
//! improvement (Brandfonbrener, Whitney, Ranganath & Bruna 2021), on
//! Q − β·u as the tilted learners' ([`Act::tilted`]): off the data the
//! squared distance lets Q reach an action no data shows near o, whose
//! weights kept 0 against returns near −80, and on Acrobot 1k the actor
//! followed it (6 against bc's 80). Its critic's fit is held
//! ([`linear::Hold::evaluation`]): on 1k transitions the plain fit of
//! even the behaviour's SARSA ran away.

use super::act::{self, Act, WIDTH_PRICE};
use super::linear::{self, Cells, Projectable};
use super::scale::value_unit;
use super::tabular::{Backup, INIT_SCALE, Q_INIT, QInit, Rule, expected};
use super::{Algorithm, Key, ParamReader, Params, TrainData};
use crate::data::EmpiricalMdp;
use crate::error::Result;
use crate::mdp::Policy;
use ndarray::{Array2, ArrayView2};
use std::sync::Arc;

pub const NAME: &str = "td3bc";

const ALPHA: Key = Key::number("alpha", 2.5, 0.0, 1e12)
    .meaning("the critic's weight against cloning, λ = α / mean|f|: 0 is bc");

/// td3bc's keys.
pub const KEYS: &[Key] = &[ALPHA, Q_INIT, INIT_SCALE];

pub struct Config {
    pub alpha: f64,
    pub q_init: QInit,
}

impl Config {
    pub fn read(params: &Params) -> Result<(Self, Params)> {
        let mut r = ParamReader::new(NAME, params);
        let alpha = r.number_of(&ALPHA)?;
        let q_init = QInit::read(&mut r)?;
        Ok((Config { alpha, q_init }, r.finish()?))
    }
}

pub fn build(params: &Params, data: &TrainData) -> Result<Box<dyn Algorithm>> {
    let (config, _) = Config::read(params)?;
    let c = &data.compiled;
    let rule = Td3Bc {
        behavior: c.behavior_estimate(),
        alpha: config.alpha,
        beta: WIDTH_PRICE * value_unit(data),
        compiled: c.clone(),
        backup: Backup::new(c, data.gamma),
        v: vec![0.0; c.n_states],
        pi: vec![0.0; c.n_actions],
        in_sample: linear::generalises(data).then(Shown::default),
    };
    linear::or_table(rule, &config.q_init.table(data), Cells::Observed, data)
}

pub struct Td3Bc {
    behavior: Policy,
    alpha: f64,
    /// The price β of the data's uncertainty off its states ([`Act::tilted`]).
    beta: f64,
    compiled: Arc<EmpiricalMdp>,
    backup: Backup,
    v: Vec<f64>,
    pi: Vec<f64>,
    /// Where the actor keeps to π̂_β's support on the data's states (the
    /// feature-space form, module doc): the buffers it does so with.
    in_sample: Option<Shown>,
}

impl Rule for Td3Bc {
    fn step(&mut self, q: &mut Array2<f64>, _iteration: u64) -> f64 {
        let act = self.act(q.view());
        for s in self.backup.read_states() {
            let f = q.row(s).to_slice().expect("row");
            let b = self.behavior.row(s);
            let b = b.to_slice().expect("row");
            actor(self.in_sample.as_mut(), act, f, b, &mut self.pi);
            self.v[s] = expected(&self.pi, f);
        }
        self.backup
            .apply(&self.v, q.as_slice_mut().expect("Q is contiguous"))
    }

    fn policy(&self, q: ArrayView2<f64>) -> Policy {
        let act = self.act(q);
        let mut shown = self.in_sample.clone();
        act::table_by(&self.behavior, q, |f, b, out| {
            actor(shown.as_mut(), act, f, b, out);
        })
    }

    fn act(&self, q: ArrayView2<f64>) -> Act {
        Act::Regularized {
            lambda: self.lambda(q),
            beta: self.beta,
        }
    }
}

impl Td3Bc {
    /// λ = α / E_D|f(s,a)| over the dataset's transitions (0 while that is 0).
    fn lambda(&self, q: ArrayView2<f64>) -> f64 {
        let c = &*self.compiled;
        let mean_abs = c
            .pairs
            .iter()
            .map(|p| f64::from(p.count) * q[[p.state as usize, p.action as usize]].abs())
            .sum::<f64>()
            / c.n_transitions.max(1) as f64;
        if mean_abs > 0.0 {
            self.alpha / mean_abs
        } else {
            0.0
        }
    }
}

impl Projectable for Td3Bc {
    const EVALUATES: bool = true;
}

/// The actions π̂_β(·|s) shows, and Q, π̂_β and π on them: buffers the
/// actor reuses from state to state.
#[derive(Debug, Clone, Default)]
struct Shown {
    actions: Vec<usize>,
    values: Vec<f64>,
    shares: Vec<f64>,
    within: Vec<f64>,
}

/// The actor's π(·|s) into `out` by `act`'s closed form, over the actions
/// π̂_β(·|s) shows if `in_sample` (the feature-space form, module doc; a
/// state the data never leaves from has π̂_β uniform, so every action).
fn actor(in_sample: Option<&mut Shown>, act: Act, f: &[f64], behavior: &[f64], out: &mut [f64]) {
    let Some(shown) = in_sample else {
        act.row(f, &[], behavior, out);
        return;
    };
    shown.actions.clear();
    shown
        .actions
        .extend((0..f.len()).filter(|&a| behavior[a] > 0.0));
    shown.values.clear();
    shown.values.extend(shown.actions.iter().map(|&a| f[a]));
    shown.shares.clear();
    shown
        .shares
        .extend(shown.actions.iter().map(|&a| behavior[a]));
    shown.within.resize(shown.actions.len(), 0.0);
    act.row(&shown.values, &[], &shown.shares, &mut shown.within);
    out.fill(0.0);
    for (&a, &p) in shown.actions.iter().zip(&shown.within) {
        out[a] = p;
    }
}
